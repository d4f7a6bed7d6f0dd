"""Storage health: a manifest of every published part (size, checksum, the file versions it holds), the
checks that find damaged or missing parts, and setting them aside so the rest of the warehouse stays readable.

Every run checks sizes and readability (cheap: a stat per part, a footer read for parts the manifest
does not list); `newsetl check` also compares every checksum.

Compaction (compaction.py) adds to the manifest through its records (`compactions`): the parts it
wrote, listed like a run's parts, and the parts it retired, which are no longer checked and are not
missing once deleted.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from newsetl.schema import PARTS, TABLES, from_rows, struct_lists
from newsetl.staging import compaction_of, published_name, run_of_published

DAMAGED = "_damaged"
# Columns that name the file version a row came from, per kind of table.
VERSION_COLUMNS = (("source_file", "file_sha256"), ("path", "sha256"))


@dataclass(frozen=True)
class Damage:
    """A published part that is missing or does not match the manifest (or cannot be read)."""

    table: str
    name: str  # relative to the warehouse root
    problem: str  # missing | size | checksum | unreadable
    run_id: str | None
    # (path, sha256, run that loaded the rows): the file versions it held. A compacted part holds rows of
    # many runs; a compacted `runs` part lists its committed runs with path and sha256 None.
    sources: tuple[tuple[str | None, str | None, str | None], ...] = ()

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


def _sources(path: Path) -> pa.Table:
    """Return the distinct file versions (path, sha256) whose records the part at `path` holds."""
    names = set(pq.read_schema(path).names)
    for path_col, sha_col in VERSION_COLUMNS:
        if {path_col, sha_col} <= names:
            t = pq.read_table(path, columns=[path_col, sha_col]).group_by([path_col, sha_col]).aggregate([])
            return pa.table(
                {"path": t.column(path_col).cast(pa.string()), "sha256": t.column(sha_col).cast(pa.string())}
            )
    return pa.table({"path": pa.array([], pa.string()), "sha256": pa.array([], pa.string())})


def manifest(root: Path, staged: Iterable[tuple[str, Path]], run_id: str, ingest_date: date) -> pa.Table:
    """Return the PARTS rows for staged parts (table, path) as they will be published on `ingest_date`.

    The file versions of each part stay Arrow tables until they become the `sources` column: a run of
    1,000,000 articles lists about 1.5 million (part, file version) pairs, several hundred MB as dicts.
    """
    rows, sources = [], []
    for table, part in staged:
        name = f"{table}/ingest_date={ingest_date.isoformat()}/{published_name(run_id, part)}"
        rows.append(
            {
                "table": table,
                "name": name,
                "size": part.stat().st_size,
                "sha256": sha256_of(part),
                "rows": pq.read_metadata(part).num_rows,
                "run_id": run_id,
                "ingest_date": ingest_date,
            }
        )
        sources.append(_sources(part))
    out = from_rows(rows, PARTS)
    if not rows:
        return out
    col = PARTS.field("sources")
    return out.set_column(PARTS.get_field_index("sources"), col, struct_lists(sources, col))


@dataclass
class Compactions:
    """What the compaction records on disk say: the parts compactions added and retired."""

    added: dict[str, dict] = field(default_factory=dict)  # name -> record row (a manifest entry)
    retired: dict[str, datetime] = field(default_factory=dict)  # name -> when it was first retired
    runs: set[str] = field(default_factory=set)  # runs that published a retired part
    records: list[Path] = field(default_factory=list)  # the record files read
    rows: list[dict] = field(default_factory=list)  # every row, duplicates dropped
    unreadable: list[Path] = field(default_factory=list)

    def hidden(self, name: str, file: str) -> bool:
        """Return True for a part no view reads: retired, or written by a compaction that never committed."""
        return name in self.retired or (compaction_of(file) is not None and name not in self.added)


def read_compactions(root: Path) -> Compactions:
    """Return the state of every compaction record on disk (read file by file: one damaged record hides no other)."""
    state = Compactions()
    seen: set[tuple] = set()
    for record in sorted((root / "compactions").glob("ingest_date=*/*.parquet")):
        try:
            rows = pq.read_table(record).to_pylist()
        except (OSError, pa.ArrowException):
            state.unreadable.append(record)
            continue
        state.records.append(record)
        for r in rows:
            key = (r["compaction_id"], r["name"], r["role"])
            if key in seen:  # a record repeats the rows of the records before it
                continue
            seen.add(key)
            state.rows.append(r)
            if r["role"] == "added":
                state.added[r["name"]] = r
            elif r["role"] == "retired":
                first = state.retired.get(r["name"])
                state.retired[r["name"]] = r["committed_at"] if first is None else min(first, r["committed_at"])
                if r["run_id"]:
                    state.runs.add(r["run_id"])
    return state


def read_manifest(root: Path, health: Health, sources: bool = True) -> dict[str, dict]:
    """Return name -> manifest row of every readable manifest part; unreadable ones become damage.

    sources=False: rows without their file versions (`manifest_sources` reads those of a few parts). A
    year of manifests lists every file version loaded; as Python objects those cost far more than the rest.
    """
    listed: dict[str, dict] = {}
    for part in sorted((root / "parts").glob("ingest_date=*/*.parquet")):
        try:
            # The part's own columns (a manifest written by an older newsetl may lack some of PARTS').
            columns = None if sources else [n for n in pq.read_schema(part).names if n != "sources"]
            rows = pq.read_table(part, columns=columns).to_pylist()
        except (OSError, pa.ArrowException):
            name = part.relative_to(root).as_posix()
            health.damage.append(Damage("parts", name, "unreadable", run_of_published(part.name)))
            continue
        listed.update({r["name"]: r for r in rows})
    return listed


def manifest_sources(root: Path, names: set[str]) -> dict[str, list[dict]]:
    """Return name -> the file versions the manifest lists for each of the parts `names` (unreadable manifests skipped)."""
    found: dict[str, list[dict]] = {}
    wanted = pa.array(sorted(names), pa.string())
    for part in sorted((root / "parts").glob("ingest_date=*/*.parquet")):
        try:
            rows = pq.read_table(part, columns=["name", "sources"])
        except (OSError, pa.ArrowException):
            continue
        picked = rows.filter(pc.is_in(rows.column("name"), value_set=wanted)).to_pylist()
        found.update({r["name"]: r["sources"] or [] for r in picked})
    return found


def check_parts(root: Path, runs: set[str], full: bool = False) -> Health:
    """Return the Health of the published parts of the committed runs `runs` (all parts on disk are looked at).

    full: compare checksums too (reads every byte); otherwise sizes and, for parts the manifest does
    not list, that the Parquet footer reads.
    """
    health = Health()
    listed = read_manifest(root, health, sources=False)  # a damaged part's file versions are read below
    compacted = read_compactions(root)
    for record in compacted.unreadable:
        health.damage.append(Damage("compactions", record.relative_to(root).as_posix(), "unreadable", None))
    listed.update(compacted.added)
    seen: set[str] = set()
    found: list[tuple[str, str, str, dict | None, Path | None]] = []  # (table, name, problem, entry, part)
    for table in (*TABLES, "sources"):
        for part in sorted((root / table).glob("*/*.parquet")):
            name = part.relative_to(root).as_posix()
            # Manifests and records are read above; retired parts and a dead compaction's parts are
            # read by no view (and deleted by the next compaction).
            if table == "compactions" or (table == "parts" and name not in compacted.added) or name in seen:
                continue
            if compacted.hidden(name, part.name):
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
                found.append((table, name, problem, entry, part))
    for name, entry in listed.items():
        if name in seen or name in compacted.retired:
            continue
        if name in compacted.added or entry["run_id"] in runs:
            found.append((entry["table"], name, "missing", entry, None))
    unread = {name for _, name, _, entry, _ in found if entry is not None and "sources" not in entry}
    versions = manifest_sources(root, unread) if unread else {}
    for kind, name, problem, entry, at in found:
        if entry is not None and "sources" not in entry:
            entry = entry | {"sources": versions.get(name, [])}
        health.damage.append(_damage(kind, name, problem, entry, at))
    return health


def _damage(table: str, name: str, problem: str, entry: dict | None, part: Path | None) -> Damage:
    run_id = (entry.get("run_id") if entry else None) or (run_of_published(part.name) if part else None)
    if entry and "compaction_id" in entry:  # a compacted part: named after no run
        run_id = None
    sources = tuple((s["path"], s["sha256"], s.get("run_id") or run_id) for s in (entry or {}).get("sources") or [])
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
