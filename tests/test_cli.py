"""The CLI: help, query formats, stats, one-line errors, and the Prefect import boundary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from newsetl.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def warehouse(samples, run, tmp_path) -> Path:
    run(samples)
    return tmp_path / "warehouse"


def test_query_formats(warehouse, capsys):
    """query prints a table, CSV or JSON."""
    sql = "SELECT language, count(*) AS n FROM articles WHERE language IN ('de', 'fr') GROUP BY 1 ORDER BY 1"
    assert main(["query", sql, "--warehouse", str(warehouse)]) == 0
    out = capsys.readouterr().out
    assert "language" in out and "(2 rows)" in out
    main(["--warehouse", str(warehouse), "query", sql, "--format", "csv"])
    assert capsys.readouterr().out.splitlines() == ["language,n", "de,2", "fr,2"]
    main(["query", sql, "--format", "json", "--warehouse", str(warehouse)])
    assert json.loads(capsys.readouterr().out) == [{"language": "de", "n": 2}, {"language": "fr", "n": 2}]


def test_stats(warehouse, capsys):
    """stats shows table sizes, runs, languages and quarantine reasons."""
    assert main(["stats", "--warehouse", str(warehouse)]) == 0
    out = capsys.readouterr().out
    for part in ("== tables", "articles", "== runs", "completed", "== languages", "== quarantine", "malformed_json"):
        assert part in out


def test_errors_are_one_line(warehouse, tmp_path, capsys):
    """A bad query, a missing warehouse or landing folder: exit 2 and one line on stderr."""
    cases = [
        ["query", "SELECT nope FROM articles", "--warehouse", str(warehouse)],
        ["query", "SELECT 1", "--warehouse", str(tmp_path / "missing")],
        ["run", str(tmp_path / "missing"), "--warehouse", str(warehouse)],
    ]
    (tmp_path / "empty").mkdir()
    cases.append(["run", str(tmp_path / "empty"), "--warehouse", str(warehouse)])
    for argv in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("newsetl: error:") and "\n" not in err, err


def test_rebuild_catalog(warehouse, capsys):
    """The catalog file can be rebuilt from the Parquet files alone."""
    (warehouse / "newsetl.duckdb").unlink()
    assert main(["rebuild-catalog", "--warehouse", str(warehouse)]) == 0
    import duckdb

    con = duckdb.connect(str(warehouse / "newsetl.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == 15
    con.close()


def test_every_command_has_help_with_an_example_and_is_in_the_readme():
    """Each subcommand documents itself with an example and appears in the README."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    readme = (ROOT / "README.md").read_text()
    for name, sp in sub.choices.items():
        assert "example" in sp.format_help(), name
        assert f"newsetl {name}" in readme, f"README does not show `newsetl {name}`"


def test_help_is_fast_and_library_never_imports_prefect():
    """`newsetl --help` and the whole library import without Prefect or GX."""
    code = (
        "import sys, newsetl.cli, newsetl.pipeline, newsetl.steps, newsetl.ledger, newsetl.warehouse; "
        "newsetl.cli.build_parser().format_help(); "
        "print(sorted(m for m in ('prefect', 'great_expectations') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_no_module_in_src_imports_prefect():
    """The library never imports Prefect (cli.py imports the flow inside its run command)."""
    for path in (ROOT / "src" / "newsetl").rglob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import prefect", "from prefect")):
                pytest.fail(f"{path.name} imports prefect: {stripped}")
    cli = (ROOT / "src" / "newsetl" / "cli.py").read_text()
    assert "from newsetl_flows.daily_ingest import" in cli and "daily_ingest" in cli


def test_readme_sql_examples_run(warehouse):
    """Every statement in the README's SQL examples runs on a warehouse of the samples."""
    import re

    from conftest import q

    blocks = re.findall(r"```sql\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    code = [re.sub(r"^\s*--.*$", "", b, flags=re.M) for b in blocks]  # drop comment lines
    statements = [s.strip() for b in code for s in b.split(";") if s.strip()]
    assert len(statements) >= 6
    for sql in statements:
        q(warehouse, sql)  # raises on any error


def test_query_help_lists_every_view(tmp_path):
    """`newsetl query --help` names every view the catalog defines, one line each."""
    from newsetl.warehouse import connect

    con = connect(tmp_path / "wh")
    try:
        views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    finally:
        con.close()
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    help_text = sub.choices["query"].format_help()
    listed = {line.split()[0] for line in help_text.splitlines() if line.startswith("  ") and len(line.split()) > 1}
    assert views and views <= listed, views - listed


def test_quiet_run_prints_only_the_summary(samples, tmp_path):
    """`newsetl run --no-prefect --quiet`: the summary on stdout, nothing else on either stream."""
    out = subprocess.run(
        [sys.executable, "-m", "newsetl.cli", "run", "--no-prefect", "--quiet", str(samples)],
        cwd=tmp_path,
        env=os.environ | {"NEWSETL_WORKERS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stderr == ""
    lines = out.stdout.splitlines()
    assert lines[0].startswith("run ") and lines[0].endswith(": completed")
    assert all(line.startswith("  ") for line in lines[1:]), lines
    assert (tmp_path / "warehouse" / "newsetl.duckdb").exists()


def test_no_prefect_run_applies_the_broken_input_policy(tmp_path, capsys, monkeypatch):
    """Input the flow marks Failed exits 4 without Prefect too, with the share and reasons on one line."""
    from newsetl.summary import EXIT_BROKEN_INPUT

    landing = tmp_path / "landing"
    landing.mkdir()
    good = {"title": "A proper title", "text": "The ferry resumes its winter timetable on Monday, the operator said."}
    (landing / "feed.jsonl").write_text("\n".join([json.dumps(good)] + ["{broken"] * 3))
    monkeypatch.setenv("NEWSETL_WORKERS", "1")
    code = main(["run", "--no-prefect", str(landing), "--warehouse", str(tmp_path / "wh")])
    assert code == EXIT_BROKEN_INPUT
    captured = capsys.readouterr()
    assert "run failed: 75% of 4 records were quarantined" in captured.err and "malformed_json 3" in captured.err
    assert ": completed" in captured.out.splitlines()[0], "what loaded is published and the summary says so"
