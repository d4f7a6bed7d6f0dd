"""JSON and JSONL feeds: field names, wrappers, malformed lines, non-objects."""

from __future__ import annotations

import gzip
import json

import pytest

from newsetl.ingest import FileError, Issue, discover_files, read_file
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
