"""JSON and JSONL feeds: field names, wrappers, malformed lines, non-objects; JSON files streamed with ijson."""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import VOCAB
from newsetl.ingest import DEFAULT_LIMITS, FileChanged, FileEntry, FileError, Issue, Limits, discover_files, read_file
from newsetl.ingest.decode import DecodeError, decode_bytes
from newsetl.ingest.jsonfeed import map_feed_record, parse_json, parse_jsonl


def test_usual_field_names_are_mapped():
    """headline/articleBody/link/site_name/pubDate/authors/lang/tags/section map onto our fields."""
    rec = map_feed_record(
        {
            "headline": "H",
            "articleBody": "B",
            "link": "https://x.example/a",
            "site_name": "X News",
            "pubDate": "Tue, 03 Jun 2025 10:00:00 +0200",
            "authors": [{"name": "A One"}, "B Two"],
            "lang": "de",
            "tags": ["a", "b"],
            "section": "World",
        }
    )
    assert rec == {
        "title": "H",
        "text": "B",
        "url": "https://x.example/a",
        "outlet_meta": "X News",
        "published_raw": "Tue, 03 Jun 2025 10:00:00 +0200",
        "author": "A One, B Two",
        "language_given": "de",
        "keywords": ["a", "b"],
        "category": "World",
        "title_method": "feed",
    }


def test_nested_source_and_epoch_dates():
    """A source object gives its name; a numeric epoch (ms) becomes an ISO date."""
    rec = map_feed_record({"title": "t", "text": "x", "source": {"id": 3, "name": "Wire"}, "date": 1700000000000})
    assert rec["outlet_meta"] == "Wire"
    assert rec["published_raw"].startswith("2023-11-14T22:13:20")


def test_json_array_object_and_wrapper():
    """A JSON file may hold an array, one object, or an object wrapping a list."""
    assert len(list(parse_json('[{"title": "a", "text": "b"}, {"title": "c", "text": "d"}]'))) == 2
    assert len(list(parse_json('{"title": "a", "text": "b"}'))) == 1
    assert len(list(parse_json('{"items": [{"title": "a", "text": "b"}]}'))) == 1


def test_json_scalar_is_a_file_error():
    """Top-level JSON that is not an object or array fails the file with one line."""
    with pytest.raises(FileError, match="expected an object or an array"):
        list(parse_json("42"))


def test_array_item_that_is_not_an_object_is_an_issue():
    """A non-object item is reported; the other items still load."""
    items = list(parse_json('[{"title": "a", "text": "b"}, 7]'))
    assert isinstance(items[1], Issue) and items[1].reason == "not_an_object"
    assert items[0]["title"] == "a"


def test_malformed_jsonl_line_is_quarantined_and_others_load():
    """One broken line becomes an Issue with its line number; the rest parse."""
    items = list(parse_jsonl(['{"title": "a", "text": "b"}', '{"title": "broken', "", '{"title": "c", "text": "d"}']))
    issues = [i for i in items if isinstance(i, Issue)]
    assert len(issues) == 1 and issues[0].reason == "malformed_json" and "line 2" in issues[0].detail
    assert [i["title"] for i in items if not isinstance(i, Issue)] == ["a", "c"]


def test_gzipped_jsonl_streams_with_provenance(tmp_path):
    """A .jsonl.gz file is read line by line; records carry file, hash and record number."""
    lines = [json.dumps({"title": f"t{i}", "text": "body"}) for i in range(3)]
    (tmp_path / "f.jsonl.gz").write_bytes(gzip.compress("\n".join(lines).encode()))
    entry = next(discover_files(tmp_path))
    recs = list(read_file(entry))
    assert [r["record_no"] for r in recs] == [0, 1, 2]
    assert all(r["source_file"] == "f.jsonl.gz" and r["file_sha256"] == entry.sha256 for r in recs)
    assert len({r["record_id"] for r in recs}) == 3


def test_truncated_gzip_is_a_file_error_after_good_lines(tmp_path):
    """A gzip cut short raises FileError; lines read before the cut were yielded."""
    import random

    rng = random.Random(1)
    body = lambda: " ".join(rng.choice(["ferry", "harbour", "fares", "winter", "storm", "price"]) for _ in range(60))  # noqa: E731
    data = gzip.compress("\n".join(json.dumps({"title": f"t{i}", "text": body()}) for i in range(3000)).encode())
    (tmp_path / "f.jsonl.gz").write_bytes(data[: len(data) // 2])
    got = []
    with pytest.raises(FileError, match="truncated gzip|corrupt gzip"):
        for r in read_file(next(discover_files(tmp_path))):
            got.append(r)
    assert got, "complete lines before the cut are kept"


# --- JSON files streamed with ijson (issue 11: memory flat in size) ---------------------------------------

_PROVENANCE = ("source_file", "file_sha256", "format", "folder", "file_modified", "record_id")


def _landing(tmp: Path, name: str, data: bytes) -> FileEntry:
    path = tmp / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return next(e for e in discover_files(tmp) if e.path == name)


def _plain(items: list) -> list:
    """Records without provenance and Issues as tuples, for comparing two readings of the same records."""
    return [
        (i.record_no, i.reason, i.detail, i.raw)
        if isinstance(i, Issue)
        else {k: v for k, v in i.items() if k not in _PROVENANCE}
        for i in items
    ]


def _as_before(data: bytes) -> tuple[list, str | None]:
    """What newsetl read from a JSON file before streaming: decode_bytes, json.loads, parse_json."""
    if not data.strip():
        return [], "empty file"
    try:
        return _plain(list(parse_json(decode_bytes(data)[0]))), None
    except (FileError, DecodeError) as exc:
        return [], str(exc)


def _read(entry: FileEntry, limits: Limits = DEFAULT_LIMITS) -> tuple[list, str | None]:
    got: list = []
    try:
        for item in read_file(entry, limits):
            got.append(item)
    except FileError as exc:
        return _plain(got), str(exc)
    return _plain(got), None


def _whole_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the JSON files read whole (not streamed) from now on."""
    import newsetl.ingest as ingest

    calls: list[int] = []
    real = ingest.parse_json
    monkeypatch.setattr(ingest, "parse_json", lambda text: (calls.append(1), real(text))[1])
    return calls


def _article(i: int, rng: random.Random) -> dict:
    return {
        "title": f"Report {i}",
        "text": "\n\n".join(" ".join(rng.choices(VOCAB, k=40)) for _ in range(6)),
        "url": f"https://news.example/{i}",
        "source": {"id": 3, "name": "Harbour Times"},
        "published_at": 1700000000 + i,
        "authors": ["A One", "B Two"],
        "score": rng.random(),
    }


def _write_array(path: Path, target: int) -> int:
    """Write a JSON array of about `target` bytes, one article a line; return the record count."""
    rng = random.Random(3)
    n = size = 0
    with path.open("w") as fh:
        fh.write("[\n")
        while size < target:
            line = ("," if n else "") + json.dumps(_article(n, rng)) + "\n"
            fh.write(line)
            size += len(line)
            n += 1
        fh.write("]\n")
    return n


_PEAK_CHILD = """
import sys
from pathlib import Path
from newsetl.ingest import discover_files, read_file

def kib(field):  # this process's own memory (ru_maxrss would carry over the parent's peak across exec)
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":"))

entry = next(discover_files(Path(sys.argv[1])))
base = kib("VmRSS")
n = sum(1 for _ in read_file(entry))
print(n, (kib("VmHWM") - base) * 1024)
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_large_array_streams_in_flat_memory(tmp_path):
    """An 80 MB JSON array is read record by record: the reading process grows by far less than the file."""
    landing = tmp_path / "landing"
    landing.mkdir()
    count = _write_array(landing / "big.json", 80 << 20)
    size = (landing / "big.json").stat().st_size
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK_CHILD, str(landing)], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    records, rise = map(int, proc.stdout.split())
    print(f"{size / 2**20:.0f} MiB array, {records} records: peak RSS rose {rise / 2**20:.1f} MiB")
    assert records == count
    assert rise < min(size // 8, 48 << 20), f"peak RSS rose {rise / 2**20:.0f} MiB for a {size / 2**20:.0f} MiB file"


def test_array_streams_without_holding_the_file(tmp_path, monkeypatch):
    """An 8 MB array: Python's peak allocation while reading it is a sliver of the file, and of a whole read."""
    import itertools
    import tracemalloc

    count = _write_array(tmp_path / "a.json", 8 << 20)
    size = (tmp_path / "a.json").stat().st_size
    whole = _whole_reads(monkeypatch)
    entry = next(discover_files(tmp_path))

    def peak_of(records) -> int:
        tracemalloc.start()
        try:
            # Up to the last record: read_file's closing hash check reads 1 MiB blocks, whatever the format.
            assert sum(1 for _ in itertools.islice(records, count)) == count
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    streamed = peak_of(read_file(entry))
    assert not whole
    as_before = peak_of(parse_json(decode_bytes((tmp_path / "a.json").read_bytes())[0]))
    assert streamed < size // 16 and streamed * 20 < as_before, (streamed, as_before, size)


# Feed-like objects: the usual field names, with values of every JSON type (and strings ijson reads otherwise).
_strings = st.text(max_size=30) | st.sampled_from(["\ud800", "a\udc00b", "\U0001f600", "\x0c", "NaN", "1" * 30])
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**120), max_value=10**120)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _strings
)
_values = st.recursive(
    _scalars, lambda v: st.lists(v, max_size=3) | st.dictionaries(_strings, v, max_size=3), max_leaves=8
)
_keys = st.sampled_from(
    ["title", "headline", "text", "body", "content_html", "url", "source", "date", "published_at", "authors"]
    + ["tags", "lang", "section", "extra"]
)
_records = st.lists(st.dictionaries(_keys, _values, max_size=8) | _scalars, max_size=8)


@settings(max_examples=150, deadline=None)
@given(
    records=_records,
    layout=st.sampled_from(["array", "articles", "feed"]),
    ensure_ascii=st.booleans(),
    indent=st.sampled_from([None, 1]),
    gz=st.booleans(),
)
def test_array_reads_as_the_same_records_as_jsonl(records, layout, ensure_ascii, indent, gz):
    """A JSON array (or wrapper, or JSON Feed) yields exactly what newsetl read from it before streaming,
    and an array what JSONL of the same records yields."""
    suffix = ".gz" if gz else ""
    doc: object = records
    if layout == "articles":
        doc = {"status": "ok", "articles": records, "total": len(records)}
    elif layout == "feed":
        doc = {"version": "https://jsonfeed.org/version/1.1", "items": records, "title": {"name": "Outlet"}}
    array = json.dumps(doc, ensure_ascii=ensure_ascii, indent=indent).encode("utf-8", "surrogatepass")
    with tempfile.TemporaryDirectory() as tmp:
        got, error = _read(_landing(Path(tmp), f"a.json{suffix}", array))
        assert (got, error) == _as_before(array)
        # (Not UTF-8, a lone surrogate written raw: JSONL is decoded line by line, a JSON file as a whole.)
        if records and layout == "array" and array.decode("utf-8", "replace").encode() == array:
            lines = "\n".join(json.dumps(r, ensure_ascii=ensure_ascii) for r in records)
            jsonl, _ = _read(_landing(Path(tmp), f"b.jsonl{suffix}", lines.encode("utf-8", "surrogatepass")))
            for a, b in zip(got, jsonl, strict=True):
                # An Issue's detail and raw text differ by format (JSONL: "line 1" and the line as written).
                assert a == b or (isinstance(a, tuple) and a[:2] == b[:2])


def test_wrapper_object_streams_its_list_as_before(tmp_path, monkeypatch):
    """{"status": ..., "articles": [...]}: the articles are the records, streamed, numbered from 0."""
    rng = random.Random(5)
    doc = {
        "status": "ok",
        "totalResults": 3,
        "articles": [_article(i, rng) for i in range(3)] + [7],
        "meta": {"page": 1},
    }
    data = json.dumps(doc).encode()
    whole = _whole_reads(monkeypatch)
    got, error = _read(_landing(tmp_path, "w.json", data))
    assert not whole and error is None
    assert (got, error) == _as_before(data)
    assert [r["title"] for r in got[:3]] == ["Report 0", "Report 1", "Report 2"]
    assert got[3] == (3, "not_an_object", "array item 3 is int, not an object", "7")


@pytest.mark.parametrize(
    "doc",
    [
        {"articles": [{"title": "a", "text": "b"}], "body": "its own text: one article, no wrapper"},
        {"data": [{"title": "a", "text": "b"}], "articles": [{"title": "c", "text": "d"}]},  # articles first
        {"items": [{"title": "a", "text": "b"}, 3], "title": "Outlet", "version": "https://jsonfeed.org/version/1.1"},
        {"title": "one article", "text": "x", "date": 1700000000000, "score": 1.5},
        {},
    ],
)
def test_objects_read_as_before(tmp_path, monkeypatch, doc):
    """Wrappers, JSON Feeds (title after the items) and single articles: streamed, same records as before."""
    data = json.dumps(doc).encode()
    whole = _whole_reads(monkeypatch)
    assert _read(_landing(tmp_path, "o.json", data)) == _as_before(data)
    assert not whole


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_array_fails_as_before(tmp_path, gz):
    """A JSON array cut short fails the file with one line (its position, as before) and keeps no record."""
    rng = random.Random(6)
    data = json.dumps([_article(i, rng) for i in range(50)]).encode()
    if gz:
        packed = gzip.compress(data)
        (tmp_path / "t.json.gz").write_bytes(packed[: len(packed) // 2])
        entry = next(discover_files(tmp_path))
    else:
        entry = _landing(tmp_path, "t.json", data[: len(data) // 2])
    got, error = _read(entry)
    assert got == [] and error is not None and "\n" not in error
    if gz:
        assert error.startswith(("truncated gzip", "corrupt gzip"))
    else:
        assert (got, error) == _as_before(data[: len(data) // 2])
        assert error.startswith("invalid JSON at line 1 column ")


@pytest.mark.parametrize(
    "text",
    [
        '[{"title": "lone \\ud800 surrogate", "text": "b"}, {"title": "c", "text": "d"}]',  # yajl2_c would say "?"
        '[{"title": "a", "text": "b", "score": NaN}, {"title": "c", "text": "-Infinity"}]',  # json.loads reads NaN
        '[{"title": "a",\x0c"text": "b"}]',  # form feed: yajl2_c skips it, json.loads fails
        '[{"title": "a", "text": "b", "n": ' + "7" * 5000 + "}]",  # yajl2_c crashes on an int this long
        '[{"title": "a", "text": "b", "x": 1e99999999999999999999, "y": -0e-99999999999999999999}]',  # no Decimal
        '[{"title": "a", "text": "b", "x": ' + "[" * 600 + "]" * 600 + "}]",  # ijson's memory grows with depth^2
        '{"articles": [{"title": "a", "text": "b"}], "articles": [{"title": "c", "text": "d"}]}',  # last one wins
        '{"title": "unterminated"',
        "[{}] trailing",
        '[{"title": "a", "text": "b"}] "unterminated',  # yajl2_c takes the document as complete
        '{"title": "a", "text": "b"}"',
        '[{"title": "a", "text": "b"}] "\\',
        "42",
        "  \n",
    ],
)
def test_what_ijson_would_read_otherwise_is_read_whole(tmp_path, text):
    """Documents ijson would read differently from json.loads (or not at all) are read whole, as before."""
    data = text.encode("utf-8", "surrogatepass")
    assert _read(_landing(tmp_path, "x.json", data)) == _as_before(data)


@pytest.mark.parametrize("enc", ["utf-8-sig", "utf-16", "cp1252", "cp1251"])
def test_other_encodings_stream_from_the_decoded_text(tmp_path, enc):
    """Not UTF-8: decoded by decode_bytes as before, then streamed from the text; same records."""
    recs = [
        {"title": "Festival à Nantes", "text": "La ville de Nantes accueillera un festival consacré aux fleuves."},
        {"title": "Библиотека", "text": "Национальная библиотека в Риге завершила оцифровку собрания газет."},
    ]
    if enc == "cp1252":
        recs = recs[:1]
    if enc == "cp1251":
        recs = recs[1:]
    data = json.dumps(recs, ensure_ascii=False).encode(enc)
    got, error = _read(_landing(tmp_path, "e.json", data))
    assert error is None and (got, error) == _as_before(data)
    assert [r["title"] for r in got] == [r["title"] for r in recs]


def test_streamed_file_may_exceed_the_whole_file_limit_but_not_a_record(tmp_path):
    """NEWSETL_MAX_FILE_BYTES bounds one record of a streamed file, not the file; a larger record fails it."""
    rng = random.Random(8)
    small = Limits(file_bytes=200_000)
    data = json.dumps([_article(i, rng) for i in range(300)]).encode()
    assert len(data) > 3 * small.file_bytes
    got, error = _read(_landing(tmp_path, "many.json", data), small)
    assert error is None and len(got) == 300
    big = json.dumps([_article(0, rng), {"title": "huge", "text": "word " * 100_000}]).encode()
    got, error = _read(_landing(tmp_path, "huge.json", big), small)
    assert got == [] and error is not None and "NEWSETL_MAX_FILE_BYTES" in error


def test_file_changed_between_the_two_passes_is_set_aside(tmp_path, monkeypatch):
    """The file is scanned, then streamed: if it changed in between, its records are set aside (FileChanged)."""
    import newsetl.ingest as ingest

    rng = random.Random(9)
    path = tmp_path / "c.json"
    entry = _landing(tmp_path, "c.json", json.dumps([_article(i, rng) for i in range(5)]).encode())
    real = ingest.scan_json

    def scan_then_change(stream):
        plan = real(stream)
        path.write_text(json.dumps([_article(i, rng) for i in range(3)]))
        return plan

    monkeypatch.setattr(ingest, "scan_json", scan_then_change)
    with pytest.raises(FileChanged):
        list(read_file(entry))
