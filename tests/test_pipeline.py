"""Whole pipeline on files: samples end to end, accounting, idempotent re-runs, seeds, new versions."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest

from conftest import SEED_A, SEED_B, accounting, need_shared, q
from newsetl.pipeline import InputError
from newsetl.warehouse import CATALOG_FILE, WarehouseBusy, run_lock


def test_samples_show_every_stage(samples, run, tmp_path):
    """The bundled samples exercise parse, clean, dedup, language, outlets, validation and load."""
    s = run(samples)
    wh = tmp_path / "warehouse"
    assert s.status == "completed"
    assert s.files_seen == s.files_new == 11 and s.files_failed == 0
    assert s.exact_duplicates == 2 and s.near_duplicates == 1
    assert s.parse_quarantined == 1 and s.clean_quarantined == 1 and s.validation_quarantined == 1
    assert s.articles_loaded == 15
    langs = {r[0] for r in q(wh, "SELECT DISTINCT language FROM articles")}
    assert {"en", "de", "fr", "es", "pt", "uk", "ru", "ar", "zh"} <= langs
    reasons = dict(q(wh, "SELECT reason, stage FROM quarantine"))
    assert reasons == {"malformed_json": "parse", "missing_title": "clean", "published_at_out_of_range": "validate"}
    # Boilerplate and chrome never reach the articles table.
    text = " ".join(r[0] for r in q(wh, "SELECT text FROM articles"))
    for junk in ("untitled design", "You may also like", "Advertisement", "Share this article", "Read more:"):
        assert junk not in text
    # Mojibake repaired, cp1251 decoded.
    assert q(wh, "SELECT count(*) FROM articles WHERE text LIKE '%riaprirà%'")[0][0] == 1
    assert q(wh, "SELECT count(*) FROM articles WHERE title = 'Библиотека в Риге оцифровала архив газет'")[0][0] == 1
    # Unknown outlets are kept and flagged; the sources view lists them.
    assert q(wh, "SELECT outlet_known FROM articles WHERE outlet_id = 'riverside-gazette'") == [(False,)]
    assert ("riverside-gazette", False) in q(wh, "SELECT outlet_id, known FROM sources")
    # One runs row with every stage's counts; validation results kept.
    assert q(wh, "SELECT status, records_in, articles_loaded FROM runs") == [("completed", 21, 15)]
    assert q(wh, "SELECT count(*) FROM validations WHERE NOT success")[0][0] >= 1


def test_accounting_invariant_and_rerun_adds_nothing(samples, run, tmp_path):
    """Every record read lands in exactly one table; a second run over the same folder adds nothing."""
    wh = tmp_path / "warehouse"
    first = run(samples)
    read, landed = accounting(wh)
    assert read == landed == first.records_in
    ids = q(wh, "SELECT count(*), count(DISTINCT article_id) FROM articles")[0]
    assert ids[0] == ids[1]
    before = {t: q(wh, f"SELECT count(*) FROM {t}")[0][0] for t in ("articles", "duplicates", "quarantine", "files")}
    second = run(samples)
    assert (second.files_skipped, second.files_new, second.records_in) == (11, 0, 0)
    after = {t: q(wh, f"SELECT count(*) FROM {t}")[0][0] for t in ("articles", "duplicates", "quarantine", "files")}
    assert after == before
    assert q(wh, "SELECT count(*) FROM runs")[0][0] == 2


def test_every_file_ends_in_files(samples, run, tmp_path):
    """Unsupported and unreadable files are recorded too, with a status and a reason."""
    (samples / "notes.csv").write_text("a,b\n1,2\n")
    (samples / "empty.txt").write_bytes(b"")
    (samples / "bad.json").write_text("42")
    run(samples)
    rows = {r[0]: (r[1], r[2]) for r in q(tmp_path / "warehouse", "SELECT path, status, error FROM files")}
    assert len(rows) == sum(1 for p in samples.rglob("*") if p.is_file())
    assert rows["notes.csv"][0] == "unsupported"
    assert rows["empty.txt"] == ("failed", "empty file")
    assert rows["bad.json"][0] == "failed" and "expected an object or an array" in rows["bad.json"][1]


def test_seeds_copies_and_history(tmp_path, run):
    """Seeds stay two articles; a renamed copy is exact, an edited copy near - also on a later day."""
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(need_shared(SEED_A), landing)
    shutil.copy(need_shared(SEED_B), landing)
    wh = tmp_path / "warehouse"
    s1 = run(landing)
    assert (s1.articles_loaded, s1.exact_duplicates, s1.near_duplicates) == (2, 0, 0)
    a = q(
        wh,
        "SELECT title, category, published_at, outlet_id, len(keywords), language FROM articles WHERE source_file = ?",
        SEED_A.name,
    )[0]
    assert a[0] == "Russia Exchanges Latest Fighters And Air Defense Systems For Iranian Drones - Media"
    assert (a[1], a[2].isoformat(), a[3], a[4], a[5]) == (
        "Politics",
        "2024-02-15T02:57:01+00:00",
        "ukrainian-news",
        13,
        "en",
    )
    b = q(
        wh,
        "SELECT title, author, outlet_name, published_at, language, right(text, 27) FROM articles "
        "WHERE source_file = ?",
        SEED_B.name,
    )[0]
    assert b == (
        "Russia received hundreds of drones to attack Ukraine: US",
        "Fabio Mendes",
        "CNN Brasil",
        None,
        "en",
        "processors and controllers.",
    )
    # Next day: a renamed copy and a copy with one sentence changed arrive.
    shutil.copy(SEED_A, landing / "renamed-copy.txt")
    edited = SEED_B.read_text().replace(
        "Kirby said the drone transfers constituted a violation",
        "Kirby added that the transfers of drones were a clear breach",
    )
    (landing / "edited-copy.txt").write_text(edited)
    s2 = run(landing)
    assert (s2.files_skipped, s2.articles_loaded, s2.exact_duplicates, s2.near_duplicates) == (2, 0, 1, 1)
    dups = dict(q(wh, "SELECT source_file, method FROM duplicates"))
    assert dups == {"renamed-copy.txt": "exact", "edited-copy.txt": "near"}
    read, landed = accounting(wh)
    assert read == landed == 4


def test_corrected_file_replaces_its_earlier_version(tmp_path, run):
    """Same path, new content: the new version's articles replace the old ones; the old stay traceable."""
    landing = tmp_path / "landing"
    landing.mkdir()
    recs = [
        {"title": f"Story {i}", "text": f"Story number {i} tells about the {w} market in town today."}
        for i, w in enumerate(["fish", "flower", "book"])
    ]
    f = landing / "feed.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in recs[:2]))
    first = run(landing)
    old_sha = q(tmp_path / "warehouse", "SELECT sha256 FROM files")[0][0]
    recs[0]["text"] = recs[0]["text"].replace("fish", "fresh fish")  # the correction
    f.write_text("\n".join(json.dumps(r) for r in recs))
    s = run(landing)
    assert (first.articles_loaded, s.files_new, s.records_in, s.articles_loaded, s.exact_duplicates) == (2, 1, 3, 3, 0)
    wh = tmp_path / "warehouse"
    assert q(wh, "SELECT count(*), count(DISTINCT file_sha256) FROM articles") == [(3, 1)]
    assert q(wh, "SELECT count(*) FROM articles WHERE text LIKE '%fresh fish%'")[0][0] == 1
    assert q(wh, "SELECT count(*) FROM articles_all")[0][0] == 5
    assert q(wh, "SELECT path, sha256 FROM supersessions") == [("feed.jsonl", old_sha)]
    assert q(wh, "SELECT count(*), count(DISTINCT sha256) FROM files WHERE path = 'feed.jsonl'") == [(2, 2)]
    # A third run over the same folder adds nothing; the old version is not read again.
    again = run(landing)
    assert (again.files_new, again.records_in) == (0, 0)


def test_input_errors(tmp_path, run):
    """A missing or empty landing folder is a clear error."""
    with pytest.raises(InputError, match="does not exist"):
        run(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="has no files"):
        run(tmp_path / "empty")


def test_catalog_file_opens_in_duckdb(samples, run, tmp_path):
    """warehouse/newsetl.duckdb holds the views; a read-only connection sees the data."""
    run(samples)
    con = duckdb.connect(str(tmp_path / "warehouse" / CATALOG_FILE), read_only=True)
    try:
        views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
        assert {"articles", "duplicates", "quarantine", "files", "runs", "sources"} <= views
        assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == 15
    finally:
        con.close()


def test_second_run_while_locked_exits_at_once(samples, run, tmp_path):
    """A run started while another holds the warehouse lock fails at once with a clear message."""
    wh = tmp_path / "warehouse"
    with run_lock(wh), pytest.raises(WarehouseBusy, match="another newsetl run"):
        run(samples)


def test_failed_run_leaves_nothing_visible(samples, run, tmp_path, monkeypatch):
    """An error mid-run marks the run failed and publishes none of its rows."""
    import newsetl.ledger as p

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(p, "publish_run", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        run(samples)
    wh = tmp_path / "warehouse"
    assert q(wh, "SELECT status, message FROM runs") == [("failed", "RuntimeError: disk on fire")]
    assert q(wh, "SELECT count(*) FROM articles")[0][0] == 0
    monkeypatch.undo()
    s = run(samples)
    assert s.articles_loaded == 15, "a later run loads what the failed run could not"


def test_gzipped_text_and_html(tmp_path, run):
    """Gzipped text and HTML files are read like their plain versions."""
    landing = tmp_path / "landing"
    landing.mkdir()
    body = "The harbour ferry resumes service on Saturday after six weeks of engine repairs, the operator said."
    (landing / "a.txt.gz").write_bytes(gzip.compress(f"Ferry service resumes\n\n{body}".encode()))
    html = (
        f"<html lang='en'><head><title>Ferry</title><meta property='og:site_name' content='Harbour Times'>"
        f"</head><body><article><h1>Ferry is back</h1><p>{body}</p><p>{body.replace('Saturday', 'Sunday')} "
        f"Tickets stay valid.</p></article></body></html>"
    )
    (landing / "b.html.gz").write_bytes(gzip.compress(html.encode()))
    s = run(landing)
    assert s.records_in == 2 and s.files_failed == 0
    wh = tmp_path / "warehouse"
    rows = q(wh, "SELECT format, title FROM articles UNION ALL SELECT format, title FROM duplicates ORDER BY 1")
    assert [r[0] for r in rows] == ["html", "txt"]


def test_duckdb_shell_opens_the_catalog(samples, run, tmp_path):
    """The real `duckdb` shell (PyPI duckdb-cli) reads the catalog read-only."""
    import subprocess
    import sys

    run(samples)
    shell = Path(sys.executable).with_name("duckdb")
    if not shell.exists():
        pytest.fail(f"duckdb-cli is a dependency; its shell is missing at {shell}")
    out = subprocess.run(
        [
            str(shell),
            "-readonly",
            "-csv",
            str(tmp_path / "warehouse" / CATALOG_FILE),
            "-c",
            "SELECT count(*) AS n FROM articles",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert out.split() == ["n", "15"]


def test_a_truncated_reupload_supersedes_nothing(tmp_path, run):
    """A partial (truncated) new version of a loaded file hides none of it; a later complete version replaces both."""
    import random

    from conftest import random_text

    landing = tmp_path / "landing"
    landing.mkdir()
    rng = random.Random(5)
    recs = [{"title": f"Story {i}", "text": random_text(rng)} for i in range(100)]
    feed = landing / "feed.jsonl.gz"
    feed.write_bytes(gzip.compress("\n".join(json.dumps(r) for r in recs).encode()))
    assert run(landing).articles_loaded == 100
    wh = tmp_path / "warehouse"
    full = gzip.compress("\n".join(json.dumps(r) for r in recs).encode() + b"\n")
    feed.write_bytes(full[: len(full) // 3])  # the re-upload broke off
    cut = run(landing)
    assert cut.status == "completed" and cut.files_failed == 1
    assert q(wh, "SELECT status FROM files ORDER BY run_id") == [("loaded",), ("partial",)]
    assert q(wh, "SELECT count(*) FROM supersessions")[0][0] == 0
    assert q(wh, "SELECT count(*) FROM articles")[0][0] == 100, "the complete version stays current"
    recs[0]["text"] += " Corrected."
    feed.write_bytes(gzip.compress("\n".join(json.dumps(r) for r in recs).encode()))
    fixed = run(landing)
    assert fixed.files_failed == 0
    assert q(wh, "SELECT count(*) FROM supersessions")[0][0] == 2, "the complete version replaces both"
    assert q(wh, "SELECT count(*) FROM articles")[0][0] == 100
    assert q(wh, "SELECT count(*) FROM articles WHERE text LIKE '%Corrected.'")[0][0] == 1
    read, landed = accounting(wh)
    assert read == landed


def test_a_large_run_rests_its_workers_before_dedup_and_tags_on_new_ones(samples, tmp_path, monkeypatch):
    """Past REST_BEFORE_DEDUP records the workers stop before dedup (their memory back while dedup holds
    the run's keys) and new ones tag: the run loads what it loads otherwise."""
    from conftest import NOW
    from newsetl import ledger, pipeline
    from newsetl.config import Settings
    from newsetl.runners import LocalRunner, worker_pool

    events: list[str] = []
    pids: list[set[int]] = []

    class Recording(LocalRunner):
        def one(self, name, fn, *args, retries=0):
            events.append(name)
            return super().one(name, fn, *args, retries=retries)

        def many(self, name, fn, calls, labels):
            events.append(name)
            pids.append(set(self.pool.map(os.getpid, [()] * 4)))
            return super().many(name, fn, calls, labels)

        def rest(self):
            events.append("rest")
            super().rest()

    monkeypatch.setattr(pipeline, "REST_BEFORE_DEDUP", 10)  # the samples' 21 records count as large
    settings = Settings.from_env(landing=samples, warehouse=tmp_path / "warehouse", workers=2)
    with worker_pool(2) as pool:
        summary = pipeline.run_steps(ledger.new_run(settings, NOW), Recording(pool))
    assert events.index("parse-clean") < events.index("rest") < events.index("dedup") < events.index("language-source")
    assert events.count("rest") == 2  # before dedup, and after tagging
    parse_workers, tag_workers = pids
    assert not parse_workers & tag_workers and os.getpid() not in tag_workers  # tagged on new workers
    assert (summary.articles_loaded, summary.exact_duplicates, summary.near_duplicates) == (15, 2, 1)
