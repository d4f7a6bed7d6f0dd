"""A warehouse folder can be copied, moved and restored, and may have any characters in its path."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsetl import warehouse as wh
from newsetl.cli import main
from newsetl.schema import FILES, RUNS, from_rows

DUCKDB_SHELL = Path(sys.executable).with_name("duckdb")


def _count_with_shell(catalog: Path, cwd: Path) -> int:
    out = subprocess.run(
        [str(DUCKDB_SHELL), "-readonly", "-csv", str(catalog), "-c", "SELECT count(*) AS n FROM articles"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return int(out.stdout.split()[1])


def _count_with_python(catalog: Path) -> int:
    con = duckdb.connect(str(catalog), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM articles").fetchone()[0]
    finally:
        con.close()


def test_backup_and_restore_follow_the_readme(samples, run, tmp_path):
    """The README's procedure: copy the folder; the copy's catalog reads the copy, from any folder, original gone."""
    original = tmp_path / "warehouse"
    run(samples, original)
    backup = tmp_path / "backups" / "warehouse-2026-11-21"
    backup.parent.mkdir()
    shutil.copytree(original, backup, symlinks=True)  # `cp -a warehouse backups/warehouse-2026-11-21`
    # The original moves on (a new file loads) and then is lost.
    (samples / "feeds" / "late.jsonl").write_text(
        json.dumps({"title": "A late story", "text": "The night ferry ran late because of fog over the harbour."})
    )
    run(samples, original)
    assert _count_with_python(original / wh.CATALOG_FILE) == 16
    assert _count_with_python(backup / wh.CATALOG_FILE) == 15, "the copy reads its own files"
    shutil.rmtree(original)
    assert _count_with_shell(backup / wh.CATALOG_FILE, cwd=Path("/")) == 15
    assert _count_with_python(backup / wh.CATALOG_FILE) == 15
    # Restore: put the copy back in place and carry on; the next run loads only what the copy lacks.
    shutil.copytree(backup, original, symlinks=True)
    s = run(samples, original)
    assert (s.records_in, s.articles_loaded) == (1, 1)
    assert _count_with_shell(original / wh.CATALOG_FILE, cwd=tmp_path) == 16


def test_a_catalog_opened_with_another_temp_directory_says_so(samples, run, tmp_path):
    """The one setting the portable views depend on: changed, they fail with a clear message, never read elsewhere."""
    run(samples, tmp_path / "warehouse")
    con = duckdb.connect(
        str(tmp_path / "warehouse" / wh.CATALOG_FILE), read_only=True, config={"temp_directory": "/tmp"}
    )
    try:
        with pytest.raises(duckdb.Error, match="cannot tell which folder it is in"):
            con.execute("SELECT count(*) FROM articles").fetchall()
    finally:
        con.close()


def _fake_run(root: Path, tag: str) -> None:
    """Publish one completed run with one loaded file named after `tag` (no pipeline: cheap per example)."""
    run_id = "20261121T120000000000Z-abcdef"
    day = date(2026, 11, 21)
    now = datetime(2026, 11, 21, 12, tzinfo=UTC)
    wh.init_warehouse(root)
    files = [{"path": tag, "sha256": "0" * 64, "status": "loaded", "run_id": run_id, "ingest_date": day}]
    wh.write_parquet(from_rows(files, FILES), wh.partition_dir(root, "files", day) / f"{run_id}-files.parquet")
    runs = [{"run_id": run_id, "status": "completed", "updated_at": now, "ingest_date": day}]
    wh.write_parquet(from_rows(runs, RUNS), wh.partition_dir(root, "runs", day) / f"{run_id}-end.parquet")


_NAME = st.text(alphabet="ab1*?[]{}!'\" ,;-_.éж", min_size=1, max_size=8).filter(
    lambda n: n not in (".", "..") and "/" not in n
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_NAME)
def test_any_warehouse_name_reads_only_its_own_files(tmp_path_factory, name):
    """Glob characters, quotes and spaces in the warehouse path: views read that folder, never a neighbour."""
    base = tmp_path_factory.mktemp("names")
    target = base / name
    decoy = base / (name.translate(str.maketrans("*?[]", "xxxx")) + "x")  # what an unescaped glob could reach
    for root, tag in ((target, "mine"), (decoy, "neighbour"), (base / "1", "one"), (base / "a", "a")):
        if not root.exists():
            _fake_run(root, tag)
    with wh.views(target) as con:
        assert con.execute("SELECT path FROM files").fetchall() == [("mine",)]
    assert wh.ensure_catalog(target) is None
    con = duckdb.connect(str(target / wh.CATALOG_FILE), read_only=True)
    try:
        assert con.execute("SELECT path FROM files").fetchall() == [("mine",)]
    finally:
        con.close()


def test_a_warehouse_path_with_a_backslash_is_refused_in_one_line(samples, tmp_path, capsys):
    """DuckDB reads a backslash as a separator: such a warehouse is refused before anything is written."""
    target = tmp_path / "back\\slash"
    assert main(["run", "--no-prefect", str(samples), "--warehouse", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert "backslash" in err and "\n" not in err
    assert not target.exists()
