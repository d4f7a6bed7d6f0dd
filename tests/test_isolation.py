"""No single file or record stops a run: each becomes its file's status or its record's quarantine row."""

from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import accounting, q, random_text
from newsetl.config import Settings
from newsetl.pipeline import run_pipeline


def good(i: int, **kw: object) -> dict:
    return {
        "title": f"Good story {i}",
        "text": random_text(random.Random(i), sentences=6),
        "source": "Harbour Times",
    } | kw


def _bomb(path: Path, line_bytes: int) -> None:
    """A gzip file holding one JSONL line of `line_bytes` zeros (about a thousandth of that on disk)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container
    with path.open("wb") as fh:
        fh.write(comp.compress(b'{"title": "bomb", "text": "'))
        block = b"0" * (1 << 20)
        for _ in range(line_bytes >> 20):
            fh.write(comp.compress(block))
        fh.write(comp.compress(b'"}\n'))
        fh.write(comp.flush())


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """A landing folder with one of each input that used to stop every run, and good files around them."""
    root = tmp_path / "landing"
    root.mkdir()
    (root / "good.jsonl").write_text("\n".join(json.dumps(good(i)) for i in range(3)))
    os.mkfifo(root / "pipe.jsonl")  # a named pipe: opening it would block forever
    _bomb(root / "bomb.jsonl.gz", 80 << 20)
    _bomb(root / "bomb.json.gz", 80 << 20)
    (root / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    lines = [
        json.dumps(good(10)),
        '{"title": "Lone surrogate \\ud800 here", "text": ' + json.dumps(good(11)["text"]) + "}",
        '{"title": "Huge number", "text": ' + json.dumps(good(12)["text"]) + ', "views": ' + "9" * 5000 + "}",
        json.dumps(good(13, url="http://[broken/x")),
        "[" * 50_000 + "]" * 50_000,
        json.dumps(good(14)),
    ]
    (root / "records.jsonl").write_text("\n".join(lines))
    name = os.path.join(os.fsencode(root), b"caf\xe9-latin1-name.jsonl")  # not valid UTF-8
    with open(name, "wb") as fh:
        fh.write(json.dumps(good(20)).encode())
    return root


@pytest.mark.slow
def test_hostile_inputs_never_stop_a_run(hostile, tmp_path):
    """FIFO, gzip bombs, deep nesting, lone surrogates, huge numbers, broken URLs, non-UTF-8 names: the run completes."""
    wh = tmp_path / "wh"
    env = os.environ | {"NEWSETL_WORKERS": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "newsetl.cli", "run", "--no-prefect", "--quiet", str(hostile), "--warehouse", str(wh)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,  # a FIFO opened for reading would hang here forever
    )
    assert out.returncode in (0, 4), out.stderr[-3000:]
    files = {r[0]: (r[1], r[2]) for r in q(wh, "SELECT path, status, error FROM files")}
    assert files["pipe.jsonl"][0] == "failed" and "named pipe" in files["pipe.jsonl"][1]
    for bomb in ("bomb.jsonl.gz", "bomb.json.gz"):
        assert files[bomb][0] in ("failed", "partial") and "decompression bomb" in files[bomb][1], files[bomb]
    assert files["deep.json"][0] == "failed" and "nested too deeply" in files["deep.json"][1]
    assert files["caf\\xe9-latin1-name.jsonl"][0] == "loaded", "the name is kept, escaped"
    titles = {r[0] for r in q(wh, "SELECT title FROM articles")}
    assert {"Good story 0", "Good story 1", "Good story 2", "Good story 10", "Good story 14"} <= titles
    assert "Good story 20" in titles and "Huge number" in titles
    assert "Lone surrogate \\ud800 here" in titles, "a lone surrogate is kept as its escape"
    reasons = dict(q(wh, "SELECT reason, count(*) FROM quarantine WHERE source_file = 'records.jsonl' GROUP BY 1"))
    assert reasons == {"malformed_json": 1, "malformed_url": 1}, reasons  # the deep line; the broken URL
    read, landed = accounting(wh)
    assert read == landed
    again = subprocess.run(
        [sys.executable, "-m", "newsetl.cli", "run", "--no-prefect", "--quiet", str(hostile), "--warehouse", str(wh)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert "0 new" in again.stdout


def test_a_jsonl_line_over_the_record_limit_is_quarantined(tmp_path, run):
    """One line above NEWSETL_MAX_RECORD_BYTES is read past (never held) and quarantined; its neighbours load."""
    landing = tmp_path / "landing"
    landing.mkdir()
    big = json.dumps(good(1, text="word " * 400_000))  # about 2 MB
    (landing / "feed.jsonl").write_text("\n".join([json.dumps(good(0)), big, json.dumps(good(2))]))
    s = run(landing, max_record_bytes=1 << 20)
    wh = tmp_path / "warehouse"
    assert s.articles_loaded == 2
    assert q(wh, "SELECT reason, record_no FROM quarantine") == [("record_too_large", 1)]


# Raw JSON fragments Python's json module and Arrow trip over (json.dumps cannot even write some of them).
_HOSTILE = ["9" * 5000, "[" * 50_000 + "]" * 50_000, '"\\ud800 lone"', '"\\udfff"', "-" + "1" * 4400, "1e999999"]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["title", "text", "url", "source", "published_at", "lang", "keywords", "author", "items", "x"]
            )
            | st.text(max_size=5),
            children,
            max_size=5,
        )
    ),
    max_leaves=12,
)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    values=st.lists(_JSON, min_size=1, max_size=6),
    as_file=_JSON,
    hostile=st.lists(st.tuples(st.sampled_from(_HOSTILE), st.sampled_from(["title", "text", "x", "published_at"]))),
)
def test_any_json_values_complete_and_account(tmp_path_factory, values, as_file, hostile):
    """Arbitrary JSON values (and fragments json.dumps cannot write) as JSONL and JSON: the run completes and accounts."""
    base = tmp_path_factory.mktemp("anyjson")
    landing = base / "landing"
    landing.mkdir()
    raw = [
        f'{{"title": "Hostile {i}", "text": "Some text about the harbour.", "{k}": {v}}}'
        for i, (v, k) in enumerate(hostile)
    ]
    (landing / "lines.jsonl").write_text("\n".join([json.dumps(v) for v in values] + raw))
    (landing / "doc.json").write_text(json.dumps(as_file))
    (landing / "good.jsonl").write_text(json.dumps(good(1)))
    s = run_pipeline(Settings.from_env(landing=landing, warehouse=base / "wh", workers=1))
    assert s.status == "completed"
    read, landed = accounting(base / "wh")
    assert read == landed == s.records_in
    assert {r[0] for r in q(base / "wh", "SELECT path FROM files")} == {"lines.jsonl", "doc.json", "good.jsonl"}
    assert "Good story 1" in {
        r[0] for r in q(base / "wh", "SELECT title FROM articles UNION ALL SELECT title FROM duplicates")
    }


_NAME = st.binary(min_size=1, max_size=12).filter(
    lambda b: b"/" not in b and b"\x00" not in b and b not in (b".", b"..")
)


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    names=st.lists(_NAME, min_size=1, max_size=5, unique=True), suffix=st.sampled_from([".jsonl", ".txt", ".json", ""])
)
def test_any_file_names_complete_and_account(tmp_path_factory, names, suffix):
    """Arbitrary bytes as file names (non-UTF-8 included): every file gets one files row and its record loads."""
    base = tmp_path_factory.mktemp("anyname")
    landing = base / "landing"
    landing.mkdir()
    for i, name in enumerate(names):
        body = json.dumps(good(100 + i)) if suffix != ".txt" else f"Good story {100 + i}\n\n{good(100 + i)['text']}"
        with open(os.path.join(os.fsencode(landing), name + suffix.encode()), "wb") as fh:
            fh.write(body.encode())
    s = run_pipeline(Settings.from_env(landing=landing, warehouse=base / "wh", workers=1))
    assert s.status == "completed"
    assert q(base / "wh", "SELECT count(*), count(DISTINCT path) FROM files") == [(len(names), len(names))]
    read, landed = accounting(base / "wh")
    assert read == landed


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.binary(max_size=3000), suffix=st.sampled_from([".txt", ".json", ".jsonl", ".html"]), gz=st.booleans())
def test_any_bytes_complete_and_account(tmp_path_factory, data, suffix, gz):
    """Arbitrary bytes under any supported name: the run completes; the file has a row; nothing is lost."""
    base = tmp_path_factory.mktemp("anybytes")
    landing = base / "landing"
    landing.mkdir()
    (landing / f"x{suffix}{'.gz' if gz else ''}").write_bytes(gzip.compress(data) if gz else data)
    (landing / "good.jsonl").write_text(json.dumps(good(1)))
    s = run_pipeline(Settings.from_env(landing=landing, warehouse=base / "wh", workers=1))
    assert s.status == "completed"
    assert q(base / "wh", "SELECT count(*) FROM files")[0][0] == 2
    read, landed = accounting(base / "wh")
    assert read == landed


@pytest.mark.slow
def test_a_file_that_hangs_is_failed_timeout_and_the_run_goes_on(tmp_path):
    """A file whose reading overruns NEWSETL_FILE_TIMEOUT: its worker is replaced, the file is `failed: timeout`,
    every other file of the run (same chunk included) loads, and nothing is doubled."""
    landing = tmp_path / "landing"
    landing.mkdir()
    for name in ("a.jsonl", "hangs.jsonl", "c.jsonl"):
        (landing / name).write_text("\n".join(json.dumps(good(hash(name) % 1000 + i)) for i in range(3)))
    wh = tmp_path / "wh"
    env = os.environ | {"NEWSETL_WORKERS": "2", "NEWSETL_FILE_TIMEOUT": "3", "NEWSETL_STALL_ON": "hangs.jsonl"}
    out = subprocess.run(
        [sys.executable, "-m", "newsetl.cli", "run", "--no-prefect", "--quiet", str(landing), "--warehouse", str(wh)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    files = {r[0]: (r[1], r[2]) for r in q(wh, "SELECT path, status, error FROM files")}
    assert files["hangs.jsonl"][0] == "failed" and files["hangs.jsonl"][1].startswith("timeout:"), files
    assert files["a.jsonl"][0] == files["c.jsonl"][0] == "loaded"
    assert q(wh, "SELECT count(*), count(DISTINCT article_id) FROM articles") == [(6, 6)]
    read, landed = accounting(wh)
    assert read == landed == 6
