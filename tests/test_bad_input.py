"""Bad input: every case ends with the good records loaded, the bad ones explained, and the run going on."""

from __future__ import annotations

import codecs
import gzip
import json
import os
import random
from pathlib import Path

import pytest

from conftest import accounting, q, random_text

GOOD = (
    "The harbour ferry between the old town and the island resumes service on Saturday after six weeks of "
    "repairs to its engines and landing stages, the operator said on Thursday."
)


def good(i: int, **kw) -> dict:
    """A valid record whose text shares no 5-word window with the others (so none is a duplicate)."""
    rng = random.Random(i)
    text = random_text(rng, sentences=6)
    return {"title": f"Ferry story {i}", "text": text, "source": "Harbour Times"} | kw


def write(root: Path, rel: str, data: bytes | str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


RU = "Национальная библиотека в Риге завершила оцифровку крупного собрания газет прошлого века."
FR = "La ville de Nantes accueillera au printemps prochain un festival consacré aux musiques des fleuves."


@pytest.fixture
def bad_landing(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    write(root, "empty.txt", b"")
    write(root, "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" * 50)
    write(root, "invalid-utf8.txt", "Überschrift\n\n".encode() + b"Ein Text mit kaputten Bytes \xff\xfe\xfa hier. " * 5)
    write(root, "cp1251.txt", f"Библиотека оцифровала газеты\n\n{RU}".encode("cp1251"))
    write(root, "latin1.txt", f"Festival à Nantes\n\n{FR}".encode("latin-1"))
    write(root, "utf16.txt", codecs.BOM_UTF16_LE + f"Festival à Nantes\n\n{FR} Deux.".encode("utf-16-le"))
    write(root, "utf16.jsonl", "\n".join(json.dumps(good(i), ensure_ascii=False) for i in (90, 91)).encode("utf-16"))
    full = gzip.compress("\n".join(json.dumps(good(i)) for i in range(100, 400)).encode())
    write(root, "truncated.jsonl.gz", full[: len(full) * 2 // 3])
    write(root, "scalar.json", "42")
    write(root, "string.json", '"just a string"')
    write(root, "broken.json", '{"title": "unterminated"')
    lines = [json.dumps(good(1)), "{not json", json.dumps(good(2)), "[1, 2]", json.dumps(good(3)), '{"title": "cut']
    write(root, "feed.jsonl", "\n".join(lines))
    records = [
        good(10, title=""),  # no title
        good(11, text=""),  # no body
        good(12, text="Advertisement\n\nShare this article\n\nMost read"),  # only boilerplate
        good(13, published_at="the day after tomorrow"),  # garbage date
        good(14, published_at="2999-01-01T00:00:00Z"),  # future
        good(15, published_at="1989-12-31T23:00:00Z"),  # before 1990
        good(16, published_at="2025-05-05T10:00:00+03:00"),  # fine
    ]
    write(root, "cases.json", json.dumps(records))
    write(root, "with spaces/März Überblick – 2025 (final).txt", f"Überblick März\n\n{GOOD} Sonderausgabe.")
    outside = root.parent / "outside.txt"
    outside.write_text(f"Secret outside\n\n{GOOD}")
    os.symlink(outside, root / "link-outside.txt")
    os.symlink(root / "latin1.txt", root / "link-inside.txt")  # inside the landing folder: read
    return root


def test_bad_inputs_are_explained_and_good_records_load(bad_landing, run, tmp_path):
    """Each bad case gets a files status or a quarantine reason; every good record loads."""
    s = run(bad_landing)
    wh = tmp_path / "warehouse"
    files = {r[0]: (r[1], r[2], r[3]) for r in q(wh, "SELECT path, status, error, record_count FROM files")}
    assert files["empty.txt"][:2] == ("failed", "empty file")
    assert files["image.txt"][0] == "failed" and "binary" in files["image.txt"][1]
    assert files["truncated.jsonl.gz"][0] == "partial" and "gzip" in files["truncated.jsonl.gz"][1]
    assert files["truncated.jsonl.gz"][2] > 0
    for name in ("scalar.json", "string.json"):
        assert files[name][0] == "failed" and "expected an object or an array" in files[name][1]
    assert files["broken.json"][0] == "failed" and "invalid JSON" in files["broken.json"][1]
    assert files["link-outside.txt"][0] == "failed" and "outside the landing folder" in files["link-outside.txt"][1]
    for name in (
        "invalid-utf8.txt",
        "cp1251.txt",
        "latin1.txt",
        "utf16.txt",
        "utf16.jsonl",
        "feed.jsonl",
        "cases.json",
        "with spaces/März Überblick – 2025 (final).txt",
        "link-inside.txt",
    ):
        assert files[name][0] == "loaded", (name, files[name])
    assert len(files) == sum(1 for p in bad_landing.rglob("*") if p.is_file() or p.is_symlink())

    reasons = {(r[0], r[1]): r[2] for r in q(wh, "SELECT source_file, reason, count(*) FROM quarantine GROUP BY ALL")}
    assert reasons[("feed.jsonl", "malformed_json")] == 2
    assert reasons[("feed.jsonl", "not_an_object")] == 1
    assert reasons[("cases.json", "missing_title")] == 1
    assert reasons[("cases.json", "empty_text")] == 1
    assert reasons[("cases.json", "boilerplate_only")] == 1
    assert reasons[("cases.json", "invalid_published_at")] == 1
    assert reasons[("cases.json", "published_at_out_of_range")] == 2

    titles = {r[0] for r in q(wh, "SELECT title FROM articles UNION ALL SELECT title FROM duplicates")}
    assert {"Библиотека оцифровала газеты", "Festival à Nantes", "Überblick März", "Ferry story 16"} <= titles
    assert {"Ferry story 1", "Ferry story 2", "Ferry story 3", "Ferry story 90", "Ferry story 91"} <= titles
    assert "Secret outside" not in titles
    assert q(wh, "SELECT count(*) FROM articles WHERE text LIKE '%kaputten Bytes%'")[0][0] == 1
    # Accounting: every record read is in exactly one table.
    assert accounting(wh) == (s.records_in, s.records_in)
    # Everything readable was read and nothing is left for a re-run.
    again = run(bad_landing)
    assert (again.files_new, again.records_in) == (0, 0)


def test_file_that_changes_while_read_is_set_aside(tmp_path, run, monkeypatch):
    """A file appended to during the read: its records are set aside, the next run reads the new version."""
    import newsetl.steps.parse as p

    landing = tmp_path / "landing"
    landing.mkdir()
    growing = landing / "growing.jsonl"
    growing.write_text("\n".join(json.dumps(good(i)) for i in range(5)) + "\n")
    (landing / "steady.jsonl").write_text(json.dumps(good(99)) + "\n")
    real = p.read_file

    def read_and_append(entry, *limits):
        for n, item in enumerate(real(entry, *limits)):
            if entry.path == "growing.jsonl" and n == 1:
                with growing.open("a") as fh:  # the scraper writes more while we read
                    fh.write(json.dumps(good(5)) + "\n")
            yield item

    monkeypatch.setattr(p, "read_file", read_and_append)
    s = run(landing, batch_size=2)  # small batches: some records were already staged when the change shows
    wh = tmp_path / "warehouse"
    status = dict(q(wh, "SELECT path, status FROM files"))
    assert status == {"growing.jsonl": "changed", "steady.jsonl": "loaded"}
    assert (s.records_in, s.articles_loaded) == (1, 1)
    assert q(wh, "SELECT count(*) FROM articles_all WHERE source_file = 'growing.jsonl'")[0][0] == 0
    monkeypatch.setattr(p, "read_file", real)
    s2 = run(landing)
    assert (s2.files_new, s2.articles_loaded) == (1, 6)
    assert q(wh, "SELECT status FROM files WHERE path = 'growing.jsonl' ORDER BY run_id") == [("changed",), ("loaded",)]
