"""Self-healing storage: every published part is in a checksummed manifest; damage is found, set aside and reloaded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import q
from newsetl.cli import main
from newsetl.config import SAMPLES, Settings
from newsetl.pipeline import run_pipeline

RECORD_TABLES = ("articles", "duplicates", "quarantine", "dedup_index", "files")


def _placement(wh: Path) -> dict[str, set]:
    """Where every record is (table -> {(source_file, record_no)}) plus the file rows."""
    out = {t: set(q(wh, f"SELECT source_file, record_no FROM {t}")) for t in ("articles", "duplicates", "quarantine")}
    return out | {"files": set(q(wh, "SELECT path, sha256, status FROM files"))}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, Path, dict]:
    """The samples loaded once: (landing, warehouse, placement)."""
    base = tmp_path_factory.mktemp("ref")
    shutil.copytree(SAMPLES, base / "landing")
    run_pipeline(Settings.from_env(landing=base / "landing", warehouse=base / "wh", workers=1))
    return base / "landing", base / "wh", _placement(base / "wh")


@pytest.fixture
def copy(reference, tmp_path) -> tuple[Path, Path, dict]:
    landing, wh, placement = reference
    shutil.copytree(landing, tmp_path / "landing")
    shutil.copytree(wh, tmp_path / "wh", symlinks=True)
    return tmp_path / "landing", tmp_path / "wh", placement


def _rerun(landing: Path, wh: Path):
    return run_pipeline(Settings.from_env(landing=landing, warehouse=wh, workers=1))


def _damage(part: Path, how: str) -> None:
    data = part.read_bytes()
    if how == "truncate":
        part.write_bytes(data[: len(data) // 2])
    elif how == "garbage":
        part.write_bytes(b"not parquet at all " * 10)
    elif how == "delete":
        part.unlink()
    elif how == "flip":  # same size, bytes changed in the middle: only the checksum sees it
        mid = len(data) // 2
        part.write_bytes(data[:mid] + bytes(b ^ 0xFF for b in data[mid : mid + 16]) + data[mid + 16 :])


def _part_of(wh: Path, table: str) -> Path:
    return sorted((wh / table).glob("ingest_date=*/*.parquet"))[0]


def test_check_passes_on_a_healthy_warehouse(copy, capsys):
    """Every part of a fresh warehouse is in the manifest and matches it."""
    _, wh, _ = copy
    assert main(["check", "--warehouse", str(wh)]) == 0
    out = capsys.readouterr().out
    assert "every part is readable and matches" in out
    listed = q(wh, "SELECT count(*), count(DISTINCT name) FROM parts")[0]
    assert listed[0] == listed[1] > 5


@pytest.mark.parametrize("table", RECORD_TABLES)
@pytest.mark.parametrize("how", ["truncate", "garbage", "delete"])
def test_a_run_sets_damage_aside_and_reloads_its_files(copy, table, how, capsys):
    """A damaged or missing part: check names it, other tables still answer, the next run restores every record."""
    landing, wh, placement = copy
    part = _part_of(wh, table)
    name = part.relative_to(wh).as_posix()
    _damage(part, how)
    assert main(["check", "--warehouse", str(wh)]) == 1
    assert name in capsys.readouterr().out
    untouched = "runs" if table != "files" else "validations"
    assert q(wh, f"SELECT count(*) FROM {untouched}")[0][0] >= 1, "undamaged tables keep answering"
    s = _rerun(landing, wh)
    assert s.status == "completed"
    assert any(name in w for w in s.warnings), s.warnings
    assert not (wh / name).exists() or how == "delete"
    assert _placement(wh) == placement, "every record is back where it was, none doubled"
    assert q(wh, "SELECT count(*) = count(DISTINCT article_id) FROM articles") == [(True,)]
    assert q(wh, "SELECT DISTINCT outcome FROM repairs") == [("reloaded",)]
    assert main(["check", "--warehouse", str(wh)]) == 0
    again = _rerun(landing, wh)
    assert (again.records_in, again.warnings) == (0, []), "a repair is done once"


def test_same_size_damage_is_found_by_check_and_repaired(copy, capsys):
    """Bytes changed in place (same size): `check` finds it by checksum, `check --repair` sets it aside, the run reloads."""
    landing, wh, placement = copy
    part = _part_of(wh, "articles")
    _damage(part, "flip")
    assert main(["check", "--warehouse", str(wh)]) == 1
    assert "does not match its checksum" in capsys.readouterr().out
    assert main(["check", "--repair", "--warehouse", str(wh)]) == 1
    assert not part.exists()
    _rerun(landing, wh)
    assert _placement(wh) == placement


def test_a_damaged_end_row_is_restored(copy):
    """The `completed` row of a run is damaged: the next run restores it instead of deleting the run's data."""
    landing, wh, placement = copy
    end = next((wh / "runs").glob("ingest_date=*/*-end.parquet"))
    _damage(end, "garbage")
    s = _rerun(landing, wh)
    assert s.status == "completed" and s.records_in == 0
    assert _placement(wh) == placement
    assert ("restored",) in q(wh, "SELECT outcome FROM repairs")


def test_files_gone_from_the_landing_folder_are_reported_lost(copy):
    """The files a damaged part held were archived: the run says they are lost and keeps everything else."""
    landing, wh, placement = copy
    part = _part_of(wh, "articles")
    held = {r[0] for r in q(wh, f"SELECT DISTINCT source_file FROM read_parquet('{part}')")}
    for name in held:
        (landing / name).unlink()
    _damage(part, "truncate")
    s = _rerun(landing, wh)
    assert s.status == "completed"
    assert {r[0] for r in q(wh, "SELECT DISTINCT path FROM repairs WHERE outcome = 'lost'")} == held
    kept = _placement(wh)
    assert kept["duplicates"] == placement["duplicates"] and kept["files"] == placement["files"]
    assert kept["articles"] == {r for r in placement["articles"] if r[0] not in held}


_HOW = st.sampled_from(["truncate", "garbage", "delete"])


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(tables=st.lists(st.sampled_from(RECORD_TABLES), min_size=1, max_size=3, unique=True), how=_HOW)
def test_any_damage_to_record_parts_heals_to_the_same_warehouse(reference, tmp_path_factory, tables, how):
    """Damage to any combination of record tables: one run later the warehouse holds exactly what it held."""
    landing0, wh0, placement = reference
    base = tmp_path_factory.mktemp("heal")
    shutil.copytree(landing0, base / "landing")
    shutil.copytree(wh0, base / "wh", symlinks=True)
    for table in tables:
        _damage(_part_of(base / "wh", table), how)
    _rerun(base / "landing", base / "wh")
    assert _placement(base / "wh") == placement


def test_a_manifest_without_some_columns_reads_and_damage_keeps_its_file_versions(tmp_path):
    """Manifests are read without their file versions (only a damaged part's are read): a manifest written
    without a column newer newsetl added still reads, and a missing part still names the files it held."""
    from datetime import date

    import pyarrow as pa
    import pyarrow.parquet as pq

    from newsetl import storage

    folder = tmp_path / "parts" / "ingest_date=2026-11-01"
    folder.mkdir(parents=True)
    name = "articles/ingest_date=2026-11-01/r1-0.parquet"
    versions = [{"path": "a.jsonl", "sha256": "ab" * 32}, {"path": "b.txt", "sha256": "cd" * 32}]
    old = pa.table(  # no `rows` column, as an older manifest
        {
            "table": ["articles"],
            "name": [name],
            "size": [10],
            "sha256": ["00" * 32],
            "sources": [versions],
            "run_id": ["r1"],
            "ingest_date": [date(2026, 11, 1)],
        }
    )
    pq.write_table(old, folder / "r1-manifest.parquet")
    health = storage.Health()
    listed = storage.read_manifest(tmp_path, health, sources=False)
    assert not health.damage and set(listed) == {name} and "sources" not in listed[name]
    checked = storage.check_parts(tmp_path, {"r1"})
    missing = [d for d in checked.damage if d.name == name]
    assert [d.problem for d in missing] == ["missing"]
    assert sorted(missing[0].sources) == [("a.jsonl", "ab" * 32, "r1"), ("b.txt", "cd" * 32, "r1")]


def test_a_manifest_lists_each_parts_distinct_file_versions(tmp_path):
    """Each staged part's manifest row names the distinct (path, sha256) of its rows, a part of a table
    without file-version columns none; the manifest reads back as the rows it was built from."""
    from datetime import date

    import pyarrow as pa
    import pyarrow.parquet as pq

    from newsetl import storage

    a, b = ("a.jsonl", "ab" * 32), ("b.txt", "cd" * 32)
    parts = {
        "p0.parquet": ("articles", [a, a, b, (None, None)]),
        "p1.parquet": ("articles", []),
        "p2.parquet": ("duplicates", [b, b]),
    }
    staged = []
    for name, (table, rows) in parts.items():
        path = tmp_path / name
        cols = {"source_file": [r[0] for r in rows], "file_sha256": [r[1] for r in rows]}
        pq.write_table(
            pa.table(cols, schema=pa.schema([("source_file", pa.string()), ("file_sha256", pa.string())])), path
        )
        staged.append((table, path))
    pq.write_table(pa.table({"run_id": ["r1"]}), tmp_path / "runs.parquet")
    staged.append(("runs", tmp_path / "runs.parquet"))
    got = storage.manifest(tmp_path, staged, "r1", date(2026, 11, 1))
    assert got.schema == storage.PARTS
    rows = got.to_pylist()
    assert [r["rows"] for r in rows] == [4, 0, 2, 1]
    as_set = [{(v["path"], v["sha256"]) for v in r["sources"]} for r in rows]
    assert as_set == [{a, b, (None, None)}, set(), {b}, set()]
    assert [len(r["sources"]) for r in rows] == [3, 0, 1, 0]  # distinct pairs, and a list (not null) for every part
    pq.write_table(got, tmp_path / "m.parquet")
    assert pq.read_table(tmp_path / "m.parquet").to_pylist() == rows
