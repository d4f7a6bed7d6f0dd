"""newsetl query is read-only and sandboxed: no statement can write, forge, install, or read outside the warehouse."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsetl.cli import main
from newsetl.config import Settings
from newsetl.pipeline import run_pipeline
from newsetl.query import QueryRefused, run_query


@pytest.fixture(scope="module")
def wh(tmp_path_factory) -> Path:
    """A warehouse of the samples, and a neighbour folder whose name starts like it."""
    import shutil

    from newsetl.config import SAMPLES

    base = tmp_path_factory.mktemp("q")
    shutil.copytree(SAMPLES, base / "landing")
    run_pipeline(Settings.from_env(landing=base / "landing", warehouse=base / "wh", workers=1))
    for other in (base / "wh2", base / "secret"):
        other.mkdir()
        duckdb.sql(f"COPY (SELECT 'secret' AS s) TO '{other / 'x.parquet'}' (FORMAT parquet)")
    (base / "secret" / "notes.txt").write_text("secret")
    return base / "wh"


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


def _refused(wh: Path, sql: str, capsys) -> str:
    assert main(["query", sql, "--warehouse", str(wh)]) == 2, sql
    err = capsys.readouterr().err.strip()
    assert err.startswith("newsetl: error:") and "\n" not in err, err
    return err


ESCAPES = [
    "COPY (SELECT 1) TO '{part}'",
    "COPY (SELECT 1) TO '{base}/elsewhere.csv'",
    "COPY articles TO '{wh}/articles/ingest_date=2026-01-01/forged.parquet' (FORMAT parquet)",
    "EXPORT DATABASE '{base}/export'",
    "ATTACH '{wh}/newsetl.duckdb' AS cat",
    "ATTACH '{wh}/newsetl.duckdb' AS cat; DROP VIEW cat.articles",
    "DETACH memory",
    "INSTALL httpfs",
    "LOAD httpfs",
    "FORCE INSTALL json",
    "SET enable_external_access = true",
    "SET allowed_directories = ['/']",
    "RESET enable_external_access",
    "PRAGMA threads = 1",
    "PRAGMA enable_profiling",
    "USE memory",
    "CREATE TABLE t AS SELECT 1",
    "CREATE VIEW articles2 AS SELECT * FROM articles",
    "CREATE OR REPLACE VIEW articles AS SELECT * FROM articles LIMIT 0",
    "CREATE MACRO m(x) AS x",
    "CREATE SECRET s (TYPE s3)",
    "DROP VIEW articles",
    "INSERT INTO articles SELECT * FROM articles",
    "DELETE FROM articles",
    "UPDATE articles SET title = 'forged'",
    "ALTER VIEW articles RENAME TO gone",
    "CALL pragma_version()",
    "CHECKPOINT",
    "SELECT 1; DROP VIEW articles",
    "EXPLAIN ANALYZE COPY (SELECT 1) TO '{base}/explained.csv'",
    "PIVOT articles ON language",
    "SELECT * FROM query('COPY (SELECT 1) TO ''{base}/q.csv''')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_blob('{base}/secret/notes.txt')",
    "SELECT * FROM read_parquet('{base}/secret/x.parquet')",
    "SELECT * FROM read_parquet('{base}/wh2/x.parquet')",
    "SELECT * FROM read_parquet('{wh}/../secret/x.parquet')",
    "SELECT * FROM '{base}/secret/x.parquet'",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM parquet_metadata('{base}/secret/x.parquet')",
    "SELECT * FROM sniff_csv('/etc/passwd')",
    "SELECT * FROM read_json('/proc/self/environ')",
    "SELECT * FROM 'https://example.invalid/x.csv'",
]


@pytest.mark.parametrize("template", ESCAPES)
def test_escapes_are_refused_and_change_nothing(wh, template, capsys):
    """Every write, forge, install, settings change or outside read: exit 2, one line, warehouse byte-identical."""
    base = wh.parent
    part = next((wh / "articles").glob("ingest_date=*/*.parquet"))
    before = _digest(wh)
    _refused(wh, template.format(wh=wh, base=base, part=part), capsys)
    assert _digest(wh) == before
    for name in ("elsewhere.csv", "explained.csv", "q.csv", "export"):
        assert not (base / name).exists(), name
    assert run_query(wh, "SELECT count(*) FROM articles")[1] == [(15,)]


def test_the_catalog_file_keeps_its_views(wh, capsys):
    """After every refused ATTACH/DROP, `duckdb -readonly` users still see articles."""
    _refused(wh, f"ATTACH '{wh}/newsetl.duckdb' AS cat; DROP VIEW cat.articles", capsys)
    con = duckdb.connect(str(wh / "newsetl.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (15,)
    finally:
        con.close()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM articles",
        "WITH a AS (SELECT * FROM articles) SELECT count(*) FROM a",
        "FROM articles SELECT count(*)",
        "DESCRIBE articles",
        "SHOW TABLES",
        "SUMMARIZE SELECT word_count FROM articles",
        "EXPLAIN SELECT * FROM articles",
        "PRAGMA show_tables",
        "SELECT count(*) FROM read_parquet('{wh}/articles/*/*.parquet')",
        "SELECT count(*) FROM glob('{wh}/**')",
        "SELECT 1; SELECT count(*) FROM duplicates",
    ],
)
def test_reads_still_work(wh, sql):
    """Reads of the warehouse, its views and its own files run as before."""
    columns, rows = run_query(wh, sql.format(wh=wh))
    assert columns and rows


_SEGMENT = st.sampled_from(["..", ".", "secret", "wh2", "wh", "etc", "x.parquet", "notes.txt", "passwd", "*", "**"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segments=st.lists(_SEGMENT, min_size=1, max_size=5), fn=st.sampled_from(["read_text", "read_blob", "glob"]))
def test_no_path_outside_the_warehouse_is_readable(wh, segments, fn):
    """Any path built from `..`, neighbours and globs reads nothing that is not under the warehouse."""
    path = "/".join([str(wh), *segments])
    try:
        columns, rows = run_query(wh, f"SELECT * FROM {fn}('{path}')")
    except QueryRefused:
        return
    root = str(wh.resolve()) + "/"
    for row in rows:
        name = row[0]
        assert str(Path(name).resolve()).startswith(root) or Path(name).resolve() == wh.resolve(), (path, name)
