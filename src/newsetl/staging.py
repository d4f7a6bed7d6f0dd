"""Run ids and staging paths: every name one step writes and another reads is made (and parsed) here.

A run stages its parts under <warehouse>/_staging/<run_id>/<table>/<part>.parquet; publishing
moves each part to <warehouse>/<table>/ingest_date=<day>/<run_id>-<part>.parquet, so the run that
wrote a published part can be read back from its name. Compaction (compaction.py) writes
<table>/ingest_date=<YYYY-MM>/<compaction_id>-compacted-<n>.parquet: parts that hold rows of many runs,
named after no run, so nothing that reads a run id from a part name (crash cleanup) mistakes them for one.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

STAGING = "_staging"
# <UTC start, microseconds>Z-<6 hex>: sorts in start order, unique across concurrent starts.
_RUN_ID = re.compile(r"\d{8}T\d{6}(?:\d{6})?Z-[0-9a-f]{6}")  # older runs: no microseconds
# The marker of a compacted part's name (the views hide such a part until its compaction is committed).
COMPACTED = "-compacted-"
_COMPACTED = re.compile(rf"^({_RUN_ID.pattern}){COMPACTED}\d+\.parquet$")
_PUBLISHED = re.compile(rf"^({_RUN_ID.pattern})-(?!compacted-).+\.parquet$")


def new_run_id(started_at: datetime) -> str:
    """Return a new run id for a run started at `started_at` (UTC)."""
    return f"{started_at:%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}"


def is_run_id(value: str) -> bool:
    """Return True when `value` is a run id made by new_run_id."""
    return _RUN_ID.fullmatch(value) is not None


def published_name(run_id: str, part: Path | str) -> str:
    """Return the file name a run's part (a staged path, or a bare name like `end.parquet`) gets in its table."""
    return f"{run_id}-{Path(part).name}"


def run_of_published(name: str) -> str | None:
    """Return the run id a published part's file name starts with (None for other files, compacted parts included)."""
    m = _PUBLISHED.match(name)
    return m.group(1) if m else None


def compacted_name(compaction_id: str, n: int) -> str:
    """Return the file name of the n-th part a compaction writes (unique within the compaction)."""
    return f"{compaction_id}{COMPACTED}{n:04d}.parquet"


def compaction_of(name: str) -> str | None:
    """Return the compaction id a compacted part's file name starts with (None for other files)."""
    m = _COMPACTED.match(name)
    return m.group(1) if m else None


def staging_root(root: Path) -> Path:
    """Return the folder that holds every run's staging folder."""
    return root / STAGING


@dataclass(frozen=True)
class StagePaths:
    """The staging folder of one run and the name of every part its steps write."""

    root: Path  # the warehouse root
    run_id: str

    @property
    def dir(self) -> Path:
        return staging_root(self.root) / self.run_id

    def table_dir(self, table: str) -> Path:
        """Return the folder of a published table's staged parts (publishing moves them all)."""
        return self.dir / table

    def parsed(self, chunk_no: int, n: int) -> Path:
        """Return the n-th cleaned part of chunk `chunk_no` (its stem names every later part)."""
        return self.dir / "clean" / f"c{chunk_no:05d}-{n:04d}.parquet"

    def decisions(self, part: Path) -> Path:
        """Return the dedup decisions of a cleaned part."""
        return self.dir / "decisions" / part.name

    def tagged(self, part: Path) -> Path:
        """Return the tagged (language, outlet) kept records of a cleaned part."""
        return self.dir / "tagged" / part.name

    def story_input(self, part: Path) -> Path:
        """Return the valid articles of a cleaned part as the story step reads them."""
        return self.dir / "story_input" / part.name

    def of_part(self, table: str, part: Path, prefix: str = "") -> Path:
        """Return the `table` part made from cleaned part `part` (a prefix tells steps apart)."""
        return self.table_dir(table) / f"{prefix}{part.name}"

    def run_table(self, table: str) -> Path:
        """Return the one part of a table written once per run (files, supersessions, validations)."""
        return self.table_dir(table) / f"{table}.parquet"
