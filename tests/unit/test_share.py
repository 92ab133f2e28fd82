"""Setup links: the config JSON survives the URL unchanged; a link is hostile input."""

import base64
import json
import zlib
from dataclasses import replace

import pytest

from core.data.loading import load_sample
from core.i18n import UserError
from core.train.runner import default_config
from core.workshop.share import MAX_LINK_CHARS, Setup, decode_setup, encode_setup


@pytest.mark.parametrize(
    ("sample", "target"), [("iris", "species"), ("breast_cancer", "diagnosis")]
)
def test_a_setup_link_restores_the_same_config_json(sample, target):
    config = default_config(load_sample(sample).frame, target, seed=7)
    config = replace(config, train=replace(config.train, learning_rate=0.03, epochs=77))
    link = encode_setup(Setup(config, sample, "train"))
    assert len(link) < 2000  # fits a chat message and any browser's URL limit
    back = decode_setup(link)
    assert back.config.to_json() == config.to_json()
    assert (back.sample, back.page) == (sample, "train")


def _pack(data: bytes) -> str:
    return "1." + base64.urlsafe_b64encode(zlib.compress(data)).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "value",
    [
        None,
        42,
        "",
        "2.abc",
        "1.!!!not base64!!!",
        "1." + "A" * (MAX_LINK_CHARS + 1),
        "1." + base64.urlsafe_b64encode(b"not zlib").decode(),
        _pack(b"\0" * 10_000_000),  # a zip bomb: 10 MB of zeros in a few KB
        _pack(b"[" * 50_000),
        _pack(b'{"config": {"format": "modeldesk.run_config"}}'),
        _pack(json.dumps({"config": {}, "sample": "../../etc/passwd"}).encode()),
        _pack(json.dumps({"config": {}, "page": "<script>"}).encode()),
        _pack(b"\xff\xfe"),
    ],
)
def test_a_hostile_link_is_one_clear_error(value):
    with pytest.raises(UserError) as refused:
        decode_setup(value)
    assert refused.value.message.key in {
        "workshop.error.bad_link",
        "runner.error.config_not_config",
        "runner.error.config_missing",
        "runner.error.config_version",
    }
