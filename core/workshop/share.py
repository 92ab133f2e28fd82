"""Setup links: a page's controls (a RunConfig, and the sample it was built on) in one URL value.

`?setup=<value>` is built by `encode_setup` and read by `decode_setup`. The value arrives from
a URL, so decoding is hostile-input handling: bounded length, bounded decompression (no zip
bomb), bounded nesting, then the same validation as an uploaded config. The config JSON that
comes out is identical to the one that went in.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from dataclasses import dataclass

from core.i18n import UserError
from core.train.runner import RunConfig

PREFIX = "1."
MAX_LINK_CHARS = 8000
MAX_JSON_BYTES = 64 * 1024


@dataclass(frozen=True)
class Setup:
    """What a link restores: the config, the built-in sample it needs (if any), the page."""

    config: RunConfig
    sample: str | None = None
    page: str = "train"


def encode_setup(setup: Setup) -> str:
    """The URL-safe value of a setup link."""
    data = {
        "config": json.loads(setup.config.to_json()),
        "sample": setup.sample,
        "page": setup.page,
    }
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    packed = base64.urlsafe_b64encode(zlib.compress(raw, 9)).rstrip(b"=").decode("ascii")
    return PREFIX + packed


def decode_setup(value: object) -> Setup:
    """The setup a link value describes; anything else is one UserError."""
    if not isinstance(value, str) or not value.startswith(PREFIX) or len(value) > MAX_LINK_CHARS:
        raise UserError("workshop.error.bad_link")
    text = value[len(PREFIX) :]
    try:
        packed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        inflater = zlib.decompressobj()
        raw = inflater.decompress(packed, MAX_JSON_BYTES)
        if inflater.unconsumed_tail or not inflater.eof:
            raise UserError("workshop.error.bad_link")
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, zlib.error, UnicodeDecodeError, RecursionError):
        raise UserError("workshop.error.bad_link") from None
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise UserError("workshop.error.bad_link")
    sample, page = data.get("sample"), data.get("page", "train")
    if sample is not None and not isinstance(sample, str):
        raise UserError("workshop.error.bad_link")
    if page not in ("train", "preprocess"):
        raise UserError("workshop.error.bad_link")
    if sample is not None:
        from core.data.loading import SAMPLES

        if sample not in SAMPLES:
            raise UserError("workshop.error.bad_link")
    try:
        config = RunConfig.from_json(json.dumps(data["config"]))
    except RecursionError:
        raise UserError("workshop.error.bad_link") from None
    return Setup(config, sample, page)
