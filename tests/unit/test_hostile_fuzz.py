"""A time-bounded fuzz run of each parser entry point: whatever the bytes, the answer is a table
or a UserError (a clear message), never another exception.

Each entry point gets FUZZ_SECONDS of examples (hypothesis stops early once the budget is spent),
drawn from random text in the format's own alphabet and from valid files with bytes flipped,
cut or repeated, so the parsers' error paths are reached rather than the first magic-number
check. The seed is fixed (derandomize) so a failure reproduces.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
import zipfile

import pandas as pd
import pytest
from hostile_cases import _parquet, _small_xlsx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import limits
from core.compliance.evidence import read_backup
from core.data.loading import load_bytes
from core.deploy.bundle import read_bundle
from core.i18n import UserError
from core.prep.preprocessing import PreprocessSpec, default_spec
from core.train.runner import RunConfig, default_config

FUZZ_SECONDS = 3.0
FUZZ = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

_FRAME = pd.DataFrame({"x": [1.5, 2.0, None], "city": ["Paris", "北京", "=1+1"], "y": [0, 1, 0]})
SEEDS = {
    ".csv": _FRAME.to_csv(index=False).encode(),
    ".json": _FRAME.to_json(orient="records").encode(),
    ".jsonl": _FRAME.to_json(orient="records", lines=True).encode(),
    ".xlsx": _small_xlsx(),
    ".parquet": _parquet(__import__("pyarrow").Table.from_pandas(_FRAME)),
}
TEXT = st.text(alphabet=st.sampled_from('{}[]",:\\ \n\r\t01aé北;|=-+.eE'), max_size=400)


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    """`seed` with a few bytes replaced, a slice cut out, or a slice repeated."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, 6))):
        if not data:
            break
        kind = draw(st.sampled_from(["flip", "cut", "repeat", "truncate"]))
        start = draw(st.integers(0, len(data) - 1))
        end = min(len(data), start + draw(st.integers(1, 64)))
        if kind == "flip":
            data[start] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[start:end]
        elif kind == "repeat":
            data[start:start] = data[start:end] * draw(st.integers(1, 50))
        else:
            del data[start:]
    return bytes(data)


class Budget:
    def __init__(self) -> None:
        self.end = time.monotonic() + FUZZ_SECONDS
        self.runs = 0

    def spent(self) -> bool:
        self.runs += 1
        return time.monotonic() > self.end


def only_user_errors(parse, data) -> None:
    try:
        parse(data)
    except UserError as error:
        assert error.text("en") and error.text("zh")


@pytest.mark.parametrize("extension", list(SEEDS))
def test_load_bytes_answers_any_bytes_with_a_table_or_a_message(extension):
    budget = Budget()
    inputs = st.one_of(mutated(SEEDS[extension]), TEXT.map(str.encode), st.binary(max_size=300))

    @FUZZ
    @given(inputs)
    def run(data):
        if not budget.spent():
            only_user_errors(lambda d: load_bytes(d, f"fuzz{extension}"), data)

    run()
    assert budget.runs > 20


PLAN = default_spec(_FRAME, "y").to_json().encode()
CONFIG = default_config(_FRAME, "y").to_json().encode()
BACKUP = json.dumps(
    {
        "format": "modeldesk.session_backup",
        "version": 1,
        "checklist": {},
        "audit": {"events": [{"index": 0, "time": "t", "kind": "upload", "details": {},
                              "previous": "", "hash": ""}]},
    }
).encode()  # fmt: skip
DOCUMENTS = {
    "limits.loads": (limits.loads, PLAN, (ValueError,)),
    "plan": (PreprocessSpec.from_json, PLAN, ()),
    "config": (RunConfig.from_json, CONFIG, ()),
    "backup": (read_backup, BACKUP, ()),
}


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_document_parsers_answer_any_text_with_a_value_or_a_message(name):
    parse, seed, allowed = DOCUMENTS[name]
    budget = Budget()

    @FUZZ
    @given(st.one_of(mutated(seed), TEXT.map(str.encode)))
    def run(data):
        if budget.spent():
            return
        # limits.loads leaves the parser's own ValueError to its caller, as json does.
        with contextlib.suppress(*allowed):
            only_user_errors(parse, data)

    run()
    assert budget.runs > 20


def test_read_bundle_answers_any_zip_with_a_bundle_or_a_message(tmp_path):
    members = {"bundle.json": b'{"format": "modeldesk.bundle", "version": 1}',
               "schema.json": b'{"columns": []}', "history.csv": b"epoch\n1\n"}  # fmt: skip
    budget = Budget()

    @FUZZ
    @given(st.dictionaries(st.sampled_from(list(members)), TEXT.map(str.encode), max_size=3),
           st.booleans())  # fmt: skip
    def run(contents, as_zip):
        if budget.spent():
            return
        path = tmp_path / "fuzz.zip"
        if as_zip:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                for member, default in members.items():
                    archive.writestr(member, contents.get(member, default))
            path.write_bytes(buffer.getvalue())
        else:
            path.write_bytes(b"".join(contents.values()))
        only_user_errors(read_bundle, path)

    run()
    assert budget.runs > 20
