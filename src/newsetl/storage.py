"""Storage health: a manifest of every published part (size, checksum, the file versions it holds), the
checks that find damaged or missing parts, and setting them aside so the rest of the warehouse stays readable.

Every run checks sizes and readability (cheap: a stat per part, a footer read for parts the manifest
does not list); `newsetl check` also compares every checksum.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from newsetl.schema import PARTS, TABLES, from_rows
from newsetl.staging import published_name, run_of_published

DAMAGED = "_damaged"
# Columns that name the file version a row came from, per kind of table.
_VERSION_COLUMNS = (("source_file", "file_sha256"), ("path", "sha256"))


@dataclass(frozen=True)
class Damage:
    """A published part that is missing or does not match the manifest (or cannot be read)."""

    table: str
    name: str  # relative to the warehouse root
    problem: str  # missing | size | checksum | unreadable
    run_id: str | None
    sources: tuple[tuple[str, str], ...] = ()

    def line(self) -> str:
        what = {
            "missing": "is missing",
            "size": "has another size than when it was published",
            "checksum": "does not match its checksum",
            "unreadable": "cannot be read as Parquet",
        }[self.problem]
        return f"{self.name} {what}"


@dataclass
class Health:
    """What a check found: damaged parts, and how many parts it looked at."""

    checked: int = 0
    damage: list[Damage] = field(default_factory=list)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _sources(path: Path) -> list[dict]:
    """Return the distinct file versions whose records the part at `path` holds."""
    names = set(pq.read_schema(path).names)
    for path_col, sha_col in _VERSION_COLUMNS:
        if {path_col, sha_col} <= names:
            t = pq.read_table(path, columns=[path_col, sha_col])
            pairs = t.group_by([path_col, sha_col]).aggregate([]).to_pylist()
            return [{"path": r[path_col], "sha256": r[sha_col]} for r in pairs]
    return []


def manifest(root: Path, staged: Iterable[tuple[str, Path]], run_id: str, ingest_date: date) -> pa.Table:
    """Return the PARTS rows for staged parts (table, path) as they will be published on `ingest_date`."""
    rows = []
    for table, part in staged:
        name = f"{table}/ingest_date={ingest_date.isoformat()}/{published_name(run_id, part)}"
        rows.append(
            {
                "table": table,
                "name": name,
                "size": part.stat().st_size,
                "sha256": sha256_of(part),
                "rows": pq.read_metadata(part).num_rows,
                "sources": _sources(part),
                "run_id": run_id,
                "ingest_date": ingest_date,
            }
        )
    return from_rows(rows, PARTS)


def _read_manifest(root: Path, health: Health) -> dict[str, dict]:
    """Return name -> manifest row of every readable manifest part; unreadable ones become damage."""
    listed: dict[str, dict] = {}
    for part in sorted((root / "parts").glob("ingest_date=*/*.parquet")):
        try:
            rows = pq.read_table(part).to_pylist()
        except (OSError, pa.ArrowException):
            name = part.relative_to(root).as_posix()
            health.damage.append(Damage("parts", name, "unreadable", run_of_published(part.name)))
            continue
        listed.update({r["name"]: r for r in rows})
    return listed


def check_parts(root: Path, runs: set[str], full: bool = False) -> Health:
    """Return the Health of the published parts of the committed runs `runs` (all parts on disk are looked at).

    full: compare checksums too (reads every byte); otherwise sizes and, for parts the manifest does
    not list, that the Parquet footer reads.
    """
    health = Health()
    listed = _read_manifest(root, health)
    seen: set[str] = set()
    for table in (*TABLES, "sources"):
        for part in sorted((root / table).glob("*/*.parquet")):
            name = part.relative_to(root).as_posix()
            if table == "parts" or name in seen:
                continue
            seen.add(name)
            health.checked += 1
            entry = listed.get(name)
            problem = None
            if entry is None:
                try:
                    pq.read_metadata(part)
                except (OSError, pa.ArrowException):
                    problem = "unreadable"
            elif part.stat().st_size != entry["size"]:
                problem = "size"
            elif full and sha256_of(part) != entry["sha256"]:
                problem = "checksum"
            if problem:
                health.damage.append(_damage(table, name, problem, entry, part))
    for name, entry in listed.items():
        if name not in seen and entry["run_id"] in runs:
            health.damage.append(_damage(entry["table"], name, "missing", entry, None))
    return health


def _damage(table: str, name: str, problem: str, entry: dict | None, part: Path | None) -> Damage:
    sources = tuple((s["path"], s["sha256"]) for s in (entry or {}).get("sources") or [])
    run_id = entry["run_id"] if entry else (run_of_published(part.name) if part else None)
    return Damage(table, name, problem, run_id, sources)


def set_aside(root: Path, damage: Damage) -> Path | None:
    """Move a damaged part under _damaged/ (keeping its path), where no view reads it; return where it went."""
    src = root / damage.name
    if not src.exists():
        return None
    dest = root / DAMAGED / damage.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dest)
    return dest


def is_schema_marker(damage: Damage) -> bool:
    """Return True for a table's zero-row schema file (re-created, not reloaded)."""
    return "/_empty/" in damage.name
