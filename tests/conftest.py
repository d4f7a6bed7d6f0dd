"""Shared fixtures: paths to ../shared (skipped when absent), sample landing copies, a pipeline runner."""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsetl.config import SAMPLES, Settings
from newsetl.pipeline import RunSummary, run_pipeline

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SEEDS = SHARED / "seeds"
REALDATA = SHARED / "realdata"
SEED_A = SEEDS / "000_71bbef30b09de4c0.txt"
SEED_B = SEEDS / "003_096dbf1ecc82378d.txt"


def need_shared(path: Path) -> Path:
    """Return `path`, or skip the test when ../shared (or that file) is not beside the checkout."""
    if not path.exists():
        pytest.skip(f"{path} is not available (../shared is only beside CI and developer checkouts)")
    return path


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    """A private copy of the project's sample landing folder."""
    dest = tmp_path / "landing"
    shutil.copytree(SAMPLES, dest)
    return dest


@pytest.fixture
def run(tmp_path: Path) -> Callable[..., RunSummary]:
    """Run the plain pipeline (inline, one process) into tmp_path/warehouse."""

    def _run(
        landing: Path, warehouse: Path | None = None, now: datetime | None = None, **overrides: object
    ) -> RunSummary:
        settings = Settings.from_env(
            landing=landing, warehouse=warehouse or tmp_path / "warehouse", **({"workers": 1} | overrides)
        )
        return run_pipeline(settings, now=now)

    return _run


NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def q(wh: Path, sql: str, *params: object) -> list[tuple]:
    """Run SQL on the warehouse views (in-memory DuckDB, no file lock) and return all rows."""
    from newsetl.warehouse import connect

    con = connect(wh)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def accounting(wh: Path) -> tuple[int, int]:
    """Return (records read by completed runs, records in articles_all + duplicates + quarantine)."""
    read = q(wh, "SELECT coalesce(sum(records_in), 0) FROM runs WHERE status = 'completed'")[0][0]
    landed = q(
        wh,
        "SELECT (SELECT count(*) FROM articles_all) + (SELECT count(*) FROM duplicates)"
        " + (SELECT count(*) FROM quarantine)",
    )[0][0]
    return read, landed


VOCAB = (
    "harbour ferry island engines repairs timetable passengers tickets winter storms council budget morning "
    "evening bridge station museum library market festival river school mayor residents plan report city "
    "officials opening closing tram line summer weekend service operator company workers union minister"
).split()


def random_text(rng: random.Random, sentences: int = 8, words: int = 12) -> str:
    """Made-up English text from VOCAB; two such texts share no 5-word window in practice (not duplicates)."""
    return " ".join(" ".join(rng.choices(VOCAB, k=words)).capitalize() + "." for _ in range(sentences))
