"""Compaction: the small Parquet parts of each table and month rewritten into few large ones, atomically for readers.

Every run adds a few small parts per table (<table>/ingest_date=<day>/<run_id>-<part>.parquet), so a
year of daily runs would make every query open thousands of files. Compaction merges the small live
parts of a table's month (its day partitions and what earlier compactions made of them) into parts of
at most TARGET_BYTES, written to <table>/ingest_date=<YYYY-MM>/<compaction_id>-compacted-<n>.parquet.
Rows are copied unchanged: each keeps its run_id and ingest_date (the views read both from the files,
never from folder names), so runs, repairs, supersessions and copy fixes apply to them as before.

How a reader never sees a row twice, or not at all
--------------------------------------------------
A compaction's *record* (compactions/ingest_date=<day>/<id>-record.parquet, renamed into place in one
step) is its commit point. Every view reads a table's parts through the records
(warehouse._live_scan): a part a record retires is hidden, and a compacted part is hidden until a
record adds it. A compaction therefore

1. writes its compacted parts (temporary name, fsync, rename): no record names them, no view reads them;
2. writes its record: from that moment every view reads the compacted parts instead of the parts they
   replace, which stay where they are;
3. deletes the replaced parts only `grace` seconds later (NEWSETL_COMPACT_GRACE_SECONDS, one hour by
   default), at a later compaction or run start.

DuckDB lists a query's files when it binds the query and opens them again when it executes it. The
views list the records before the table's parts (the records come first in the FROM clause; DuckDB
binds left to right, tests/test_compact.py checks it), so a query that lists the new record lists the
table after step 1 and finds the compacted parts, and a query that listed the records before step 2
reads the replaced parts, which exist until the grace period ends. Either way each row is read once
(a query must finish within the grace period). The cost for readers is a hash join of file names
against the record rows, not a comparison of rows.

Deleting a file can still fail a query that listed it an instant before and opens it after (DuckDB has no
"skip missing files"; no ordering of renames avoids it: a path a listing returns is a path the next
listing returns). It fails, never answers wrong, and only in the instant of a deletion (a compaction or
a run start deletes what was replaced more than `grace` seconds earlier): newsetl's own readers
(`newsetl query`, warehouse.connect) run such a statement again (warehouse.retry_vanished); a plain
DuckDB connection reports `No such file or directory`, and is right when run again.

Other ways considered: a marker column in the new parts that every view dedupes on (a window over every
row of every scan: about twice the time of the join above on a count over 800,000 rows, and no row of a
`SELECT *` comes out before every row is read), or a file listing the live parts that the views read
(that is what the records are, kept as a log of changes; it needs the same listing order to be safe).

What else stays true
--------------------
- Only parts of completed runs (and of committed compactions) are merged, never a running, failed or
  incomplete run's; the warehouse lock is held throughout, so no run publishes meanwhile.
- A compacted part is named after no run (staging.compaction_of), so crash cleanup (remove_parts_of)
  never mistakes it for a dead run's part.
- The record lists every compacted part as the manifest lists a run's (size, SHA-256, rows, and each file
  version it holds with the run that loaded it): `newsetl check` verifies it, a damaged one is set aside
  and its file versions reloaded like any part (a damaged compacted `runs` part: its runs' `completed`
  rows are restored); retired parts are not missing once deleted. Each input part is checked against
  its manifest checksum first: damage is never copied under a fresh checksum.
- Each record repeats the rows of the records before it (and retires them), so there are few record
  files; every record is written twice, so one damaged record file loses nothing.
- A crash leaves compacted parts no record names (hidden; the next compaction or run start deletes
  them), or a committed record whose replaced parts wait for their deletion: every view answers the same.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from newsetl import storage
from newsetl import warehouse as wh
from newsetl.faults import fault
from newsetl.runners import release_memory
from newsetl.schema import COMPACTIONS, from_rows, struct_lists
from newsetl.staging import compacted_name, compaction_of, new_run_id, run_of_published

# Tables compacted: every table whose parts are published per run.
COMPACTED_TABLES = (*wh.RUN_TABLES, "runs")
# A part at least this big is left alone; a compacted part holds at most about TARGET_BYTES of parts.
SMALL_BYTES = 64 << 20
TARGET_BYTES = 256 << 20
# After a run, small parts are merged by size tier (size-tiered compaction, as Cassandra's STCS): parts
# under TIER_BYTES form the first tier, then each tier holds parts up to TIER_RATIO times bigger. A tier
# is merged when it holds more than min_parts parts, so a byte is rewritten about log(month / day) times
# in a month instead of once per compaction of the whole month (the day's cost follows the day).
TIER_BYTES = 4 << 20
TIER_RATIO = 8
# The columns of a compacted part's `sources` (COMPACTIONS): a file version and the run that loaded it.
_SOURCE_KEYS = ("path", "sha256", "run_id")
# Rows buffered before a row group is written (DuckDB reads row groups in parallel).
_ROW_GROUP_ROWS = 122_880
_ROW_GROUP_BYTES = 32 << 20  # what a merge holds before writing (1,000,000 articles: the same stage peak as 64 MiB)


class CompactionError(RuntimeError):
    """The warehouse cannot be compacted now (a damaged record, a catalog that cannot be refreshed)."""


@dataclass
class Compacted:
    """What a compaction did."""

    compaction_id: str | None = None
    groups: int = 0  # (table, month) groups rewritten (after a run: (table, month, size tier))
    parts_in: int = 0
    parts_out: int = 0
    rows: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    removed: int = 0  # parts deleted: replaced ones past their grace period, and dead compactions' parts
    skipped: list[str] = field(default_factory=list)  # parts left out: they do not match the manifest
    seconds: float = 0.0
    error: str | None = None

    def line(self) -> str:
        """Return one line for people."""
        if self.error:
            return f"compaction: not done ({self.error})"
        done = (
            f"compaction: {self.parts_in} parts -> {self.parts_out} in {self.groups} table-months, {self.rows} rows"
            if self.compaction_id
            else "compaction: nothing to compact"
        )
        extra = f"; {self.removed} replaced parts deleted" if self.removed else ""
        if self.skipped:
            extra += f"; {len(self.skipped)} damaged parts left for `newsetl check`: {', '.join(self.skipped[:3])}"
        return f"{done}{extra} ({self.seconds:.2f} s)"


@dataclass
class _Group:
    table: str
    month: str  # YYYY-MM
    parts: list[Path]


def size_tier(size: int) -> int:
    """Return the tier of a part of `size` bytes: 0 under TIER_BYTES, then one per TIER_RATIO times bigger."""
    tier, bound = 0, TIER_BYTES
    while size >= bound:
        tier, bound = tier + 1, bound * TIER_RATIO
    return tier


def compact_warehouse(
    root: Path,
    min_parts: int = 1,
    grace: float = 3600.0,
    months: Iterable[str] | None = None,
    tables: Iterable[str] | None = None,
    now: datetime | None = None,
    tiered: bool = False,
) -> Compacted:
    """Compact every (table, month) holding more than `min_parts` small live parts; return what was done.

    The caller holds warehouse.run_lock. months (YYYY-MM), tables: only these (None: all). grace: seconds
    the replaced parts stay on disk (0: deleted at once, for a warehouse nobody is reading). tiered: merge
    only the parts of a size tier holding more than `min_parts` (size_tier), not all of a month's small parts.
    """
    t0 = time.perf_counter()
    root = wh.check_root(root)
    now = now or datetime.now(UTC)
    wh.init_warehouse(root)
    wh.remove_temp_files(root)
    result = Compacted(removed=remove_leftovers(root, grace, now))
    state = storage.read_compactions(root)
    if state.unreadable:
        names = ", ".join(p.relative_to(root).as_posix() for p in state.unreadable)
        raise CompactionError(
            f"compaction record {names} cannot be read: `newsetl check --repair` or the next run sets it aside"
        )
    chosen = [t for t in COMPACTED_TABLES if tables is None or t in set(tables)]
    groups = _groups(root, state, _completed_runs(root), min_parts, chosen, set(months) if months else None, tiered)
    if not groups:
        result.seconds = time.perf_counter() - t0
        return result
    warning = wh.ensure_catalog(root)  # the catalog file's views must read the records before any exists
    if warning:
        raise CompactionError(warning)
    listed = _manifest(root, state)
    cid = new_run_id(now)
    added: list[dict] = []
    retired: list[dict] = []
    for group in groups:
        before = len(added)
        for batch in _batches(group.parts):
            out = root / group.table / f"ingest_date={group.month}" / compacted_name(cid, len(added))
            merged = _merge(root, group.table, batch, out, listed, result.skipped)
            if merged is None:
                continue
            entry, inputs = merged
            added.append(entry)
            retired.extend(inputs)
            result.parts_in += len(inputs)
            result.bytes_in += sum(r["size"] for r in inputs)
            result.bytes_out += entry["size"]
            result.rows += entry["rows"]
            fault("mid_compact")
        result.groups += int(len(added) > before)
    if added:
        fault("before_compact_commit")
        _commit(root, cid, now, added, retired, state)
        fault("after_compact_commit")
        result.compaction_id, result.parts_out = cid, len(added)
        if grace == 0:
            result.removed += remove_leftovers(root, 0, now)
    result.seconds = time.perf_counter() - t0
    return result


def compact_after_run(root: str, day: date, min_parts: int, grace: float) -> Compacted:
    """Compact the month a run wrote to where a size tier holds more than `min_parts` small parts (0: never).

    Called under the run's lock once the run has committed: an error is reported, not raised (the run's
    data is published whatever happens here), and a compaction cut short leaves nothing visible.
    """
    if not min_parts:
        return Compacted()
    try:
        return compact_warehouse(Path(root), min_parts, grace, months=[day.isoformat()[:7]], tiered=True)
    except (CompactionError, OSError, pa.ArrowException) as exc:
        return Compacted(error=str(exc).splitlines()[0])


def remove_leftovers(root: Path, grace: float, now: datetime | None = None) -> int:
    """Delete parts no view reads any more; return how many.

    Those are the parts of compactions that never committed, and parts that committed compactions
    replaced more than `grace` seconds ago. Nothing is deleted while a record cannot be read (what it
    says is unknown). The caller holds the warehouse lock.
    """
    state = storage.read_compactions(root)
    if state.unreadable:
        return 0
    now = now or datetime.now(UTC)
    removed = 0
    emptied: set[Path] = set()
    for table in COMPACTED_TABLES:
        for part in (root / table).glob("ingest_date=*/*.parquet"):
            if compaction_of(part.name) and part.relative_to(root).as_posix() not in state.added:
                part.unlink(missing_ok=True)
                removed += 1
                emptied.add(part.parent)
    for name, retired_at in sorted(state.retired.items()):
        part = root / name
        if (now - retired_at).total_seconds() >= grace and part.exists():
            part.unlink()
            removed += 1
            emptied.add(part.parent)
            fault("mid_retire")
    for folder in emptied:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return removed


def _completed_runs(root: Path) -> set[str]:
    """Return the ids of runs with a `completed` row (read file by file, like the ledger's heal)."""
    done: set[str] = set()
    for part in (root / "runs").glob("ingest_date=*/*.parquet"):
        try:
            rows = pq.read_table(part, columns=["run_id", "status"]).to_pylist()
        except (OSError, pa.ArrowException):
            continue
        done.update(r["run_id"] for r in rows if r["status"] == "completed")
    return done


def _groups(
    root: Path,
    state: storage.Compactions,
    completed: set[str],
    min_parts: int,
    tables: list[str],
    months: set[str] | None,
    tiered: bool = False,
) -> list[_Group]:
    """Return the (table, month) groups with more than `min_parts` small live parts of committed runs
    (tiered: the (table, month, size tier) groups)."""
    groups = []
    for table in tables:
        by_group: dict[tuple[str, int], list[Path]] = {}  # (month, size tier or 0) -> parts
        # Folder names sort a month's own folder (ingest_date=2026-11) before its days: rows stay in time order.
        for folder in sorted((root / table).glob("ingest_date=*")):
            month = folder.name.split("=", 1)[1][:7]
            if months is not None and month not in months:
                continue
            for part in sorted(folder.glob("*.parquet")):
                if state.hidden(part.relative_to(root).as_posix(), part.name):
                    continue
                if compaction_of(part.name) is None and run_of_published(part.name) not in completed:
                    continue  # a running, failed or incomplete run's part: never merged
                size = part.stat().st_size
                if size >= SMALL_BYTES:
                    continue
                by_group.setdefault((month, size_tier(size) if tiered else 0), []).append(part)
        groups += [_Group(table, m, parts) for (m, _), parts in sorted(by_group.items()) if len(parts) > min_parts]
    return groups


def _batches(parts: list[Path]) -> list[list[Path]]:
    """Return the parts split into runs of about TARGET_BYTES (batches of one part are left as they are)."""
    batches: list[list[Path]] = [[]]
    size = 0
    for part in parts:
        n = part.stat().st_size
        if batches[-1] and size + n > TARGET_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(part)
        size += n
    return [b for b in batches if len(b) > 1]


def _manifest(root: Path, state: storage.Compactions) -> dict[str, dict]:
    """Return name -> manifest entry of every listed part (runs' manifests and compactions' added parts)."""
    listed = storage.read_manifest(root, storage.Health(), sources=False)  # sizes and checksums are enough here
    listed.update(state.added)
    return listed


def _read_checked(root: Path, part: Path, listed: dict[str, dict]) -> tuple[pa.Table, int, str] | None:
    """Return (table, size, sha256) of a part, or None when it does not match its manifest entry or does not read."""
    try:
        data = part.read_bytes()
        entry = listed.get(part.relative_to(root).as_posix())
        sha = hashlib.sha256(data).hexdigest()
        if entry is not None and (len(data) != entry["size"] or sha != entry["sha256"]):
            return None
        return pq.read_table(pa.BufferReader(data)), len(data), sha
    except (OSError, pa.ArrowException):
        return None


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Return `table` with the columns of `schema` (missing ones null), cast to its types."""
    cols = [
        table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(cols, schema=schema)


def _sources(table_name: str, table: pa.Table) -> pa.Table | None:
    """Return the distinct (path, sha256, run_id) of the file versions whose rows `table` holds (runs: the run ids).

    An Arrow table, not Python tuples: a run of 1,000,000 articles holds 251,726 file versions per table,
    kept until the record is written (about 100 bytes each in Arrow, several times that as tuples).
    """
    names = set(table.column_names)
    if table_name == "runs":
        runs = pc.unique(table.column("run_id").combine_chunks()).cast(pa.string())
        nulls = pa.nulls(len(runs), pa.string())
        return pa.table({"path": nulls, "sha256": nulls, "run_id": runs})
    for path_col, sha_col in storage.VERSION_COLUMNS:
        if {path_col, sha_col, "run_id"} <= names:
            keys = table.select([path_col, sha_col, "run_id"]).group_by([path_col, sha_col, "run_id"]).aggregate([])
            return pa.table(
                {
                    "path": keys.column(path_col).cast(pa.string()),
                    "sha256": keys.column(sha_col).cast(pa.string()),
                    "run_id": keys.column("run_id").cast(pa.string()),
                }
            )
    return None


def _distinct_sources(found: list[pa.Table]) -> pa.Table:
    """Return the distinct rows of the `_sources` tables, sorted (nulls first) so a record is reproducible."""
    if not found:
        return pa.table({k: pa.array([], pa.string()) for k in _SOURCE_KEYS})
    keys = pa.concat_tables(found).group_by(list(_SOURCE_KEYS)).aggregate([]).select(list(_SOURCE_KEYS))
    order = pc.sort_indices(keys, sort_keys=[(k, "ascending", "at_start") for k in _SOURCE_KEYS])
    return keys.take(order)


def _merge(
    root: Path, table_name: str, parts: list[Path], out: Path, listed: dict[str, dict], skipped: list[str]
) -> tuple[dict, list[dict]] | None:
    """Write the rows of `parts` to `out` atomically; return (its record row, the retired parts' rows).

    Parts that do not match their manifest entry are left out (named in `skipped`); None when fewer than
    two parts remain or their schemas cannot be merged.
    """
    schemas = []
    for part in parts:
        try:
            schemas.append(pq.read_schema(part).remove_metadata())
        except (OSError, pa.ArrowException):
            schemas.append(None)
    good = [(p, s) for p, s in zip(parts, schemas, strict=True) if s is not None]
    skipped += [p.relative_to(root).as_posix() for p, s in zip(parts, schemas, strict=True) if s is None]
    if len(good) < 2:
        return None
    try:
        schema = pa.unify_schemas([s for _, s in good], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    inputs: list[dict] = []
    found: list[pa.Table] = []
    rows = 0
    buffer: list[pa.Table] = []
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for part, _ in good:
            read = _read_checked(root, part, listed)
            if read is None:
                skipped.append(part.relative_to(root).as_posix())
                continue
            table, size, sha = read
            table = _conform(table, schema)
            buffer.append(table)
            if sum(t.num_rows for t in buffer) >= _ROW_GROUP_ROWS or sum(t.nbytes for t in buffer) >= _ROW_GROUP_BYTES:
                writer.write_table(pa.concat_tables(buffer))
                buffer = []
            held = _sources(table_name, table)
            if held is not None:
                found.append(held)
            rows += table.num_rows
            # Arrow's allocator keeps what reading a part used: handed back after each part, a merge of
            # 16 parts (129 MiB) peaked at +143 MiB over the process instead of +208 MiB.
            release_memory(collect=False)
            name = part.relative_to(root).as_posix()
            inputs.append(
                {
                    "table": table_name,
                    "name": name,
                    "role": "retired",
                    "size": size,
                    "sha256": sha,
                    "rows": table.num_rows,
                }
                | {"run_id": run_of_published(part.name)}
            )
        if buffer:
            writer.write_table(pa.concat_tables(buffer))
    if len(inputs) < 2:
        tmp.unlink(missing_ok=True)
        return None
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    entry = {
        "table": table_name,
        "name": out.relative_to(root).as_posix(),
        "role": "added",
        "size": tmp.stat().st_size,
        "sha256": storage.sha256_of(tmp),
        "rows": rows,
        "sources": _distinct_sources(found),  # an Arrow table until the record is written (_commit)
    }
    os.replace(tmp, out)
    return entry, inputs


def _added_rows(added: list[dict], stamp: dict) -> pa.Table:
    """Return the record rows of the added parts, their `sources` column built from their Arrow tables."""
    table = from_rows([{k: v for k, v in r.items() if k != "sources"} | stamp for r in added], COMPACTIONS)
    if not added:
        return table
    field = COMPACTIONS.field("sources")
    return table.set_column(
        table.schema.get_field_index("sources"), field, struct_lists([r["sources"] for r in added], field)
    )


def _commit(
    root: Path, cid: str, now: datetime, added: list[dict], retired: list[dict], state: storage.Compactions
) -> None:
    """Write the compaction's record (the commit point), then its copy.

    The record repeats the rows of every earlier record and retires their files (their own rows about
    record files already deleted are dropped), so the records never pile up.
    """
    day = now.date()
    carried = [
        r
        for r in state.rows
        if not (r["table"] == "compactions" and r["role"] == "retired" and not (root / r["name"]).exists())
    ]
    earlier = [
        {"table": "compactions", "name": p.relative_to(root).as_posix(), "role": "retired", "size": p.stat().st_size}
        for p in state.records
    ]
    stamp = {"compaction_id": cid, "committed_at": now, "ingest_date": day}
    record = pa.concat_tables(
        [
            from_rows(carried, COMPACTIONS),
            _added_rows(added, stamp),
            from_rows([r | stamp for r in retired + earlier], COMPACTIONS),
        ]
    )
    folder = wh.partition_dir(root, "compactions", day)
    wh.write_parquet(record, folder / f"{cid}-record.parquet")  # the commit point
    fault("mid_compact_commit")
    wh.write_parquet(record, folder / f"{cid}-record-copy.parquet")
