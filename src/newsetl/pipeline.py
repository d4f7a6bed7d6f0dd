"""Pipeline: composes the stages into one run over a landing folder, without Prefect.

A run is a sequence of steps that pass small values (paths, counts), never big tables:
    begin_run -> plan_files -> parse_chunk (per chunk of files, in worker processes)
    -> dedup_run -> tag_part (per staged part, in worker processes) -> validate_part -> publish_run
`run_pipeline` chains them; flows/daily_ingest.py wires the same steps as Prefect tasks.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from newsetl import warehouse as wh
from newsetl.clean import clean_articles
from newsetl.config import Settings
from newsetl.dedup import find_duplicates, fingerprint_texts
from newsetl.ingest import FileChanged, FileEntry, FileError, Issue, discover_files, read_file
from newsetl.language import detect_languages
from newsetl.schema import (
    ARTICLES,
    DEDUP_INDEX,
    DUPLICATES,
    FILES,
    QUARANTINE,
    RAW,
    RUNS,
    SUPERSESSIONS,
    VALIDATIONS,
    conform,
    from_rows,
    with_columns,
)
from newsetl.sources import Registry, load_registry, resolve_outlets
from newsetl.validate import summarize_results, validate_articles

# Inputs per chunk of files handed to one worker: bounded so chunks spread over the workers.
CHUNK_BYTES = 4 << 20
CHUNK_FILES = 400
# A tagged part: article columns plus the fingerprints the dedup index keeps.
TAGGED = pa.schema(list(ARTICLES) + [DEDUP_INDEX.field("signature"), DEDUP_INDEX.field("bands")])


class InputError(ValueError):
    """The landing folder cannot be ingested (missing, not a folder, empty)."""


@dataclass(frozen=True)
class RunContext:
    """What every step of one run needs; small and picklable (sent to worker processes)."""

    run_id: str
    started_at: datetime
    landing: str
    root: str
    settings: Settings

    @property
    def ingest_date(self) -> date:
        return self.started_at.date()

    @property
    def stage(self) -> Path:
        return wh.staging_dir(Path(self.root), self.run_id)


@dataclass
class Plan:
    """The files of a run: chunks to read, and what was skipped or could not be read."""

    chunks: list[list[tuple[int, FileEntry]]]
    files_seen: int
    files_skipped: int
    file_rows: list[dict]  # rows for files that will not be read (unsupported, unreadable)
    # path -> sha256s of its earlier loaded versions, for paths that arrived with new content
    earlier_versions: dict[str, list[str]] = field(default_factory=dict)

    def superseded_by(self, file_rows: list[dict]) -> list[dict]:
        """Return supersession rows for the new versions that loaded (a broken correction replaces nothing)."""
        return [
            {"path": r["path"], "sha256": old, "superseded_by": r["sha256"]}
            for r in file_rows
            if r["status"] in ("loaded", "partial") and r["path"] in self.earlier_versions
            for old in self.earlier_versions[r["path"]]
        ]


@dataclass
class ChunkResult:
    records_in: int = 0
    parse_quarantined: int = 0
    clean_quarantined: int = 0
    parts: list[str] = field(default_factory=list)
    file_rows: list[dict] = field(default_factory=list)


@dataclass
class PartResult:
    """What validate_part loaded from one part: counts, languages, outlets, GX results."""

    loaded: int = 0
    validation_quarantined: int = 0
    languages: dict[str, int] = field(default_factory=dict)
    outlets: dict[str, int] = field(default_factory=dict)
    validation: list[dict] = field(default_factory=list)


@dataclass
class RunSummary:
    """What a run did: the counts of every stage (the `runs` row) plus breakdowns."""

    run_id: str
    status: str
    landing: str
    warehouse: str
    files_seen: int = 0
    files_new: int = 0
    files_skipped: int = 0
    files_failed: int = 0
    records_in: int = 0
    parse_quarantined: int = 0
    clean_quarantined: int = 0
    exact_duplicates: int = 0
    near_duplicates: int = 0
    validation_quarantined: int = 0
    articles_loaded: int = 0
    validation_success: bool = True
    stage_seconds: dict[str, float] = field(default_factory=dict)
    languages: dict[str, int] = field(default_factory=dict)
    outlets: dict[str, int] = field(default_factory=dict)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    message: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def quarantined(self) -> int:
        return self.parse_quarantined + self.clean_quarantined + self.validation_quarantined

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- steps


def new_run(settings: Settings, now: datetime | None = None) -> RunContext:
    """Return the context of a new run over settings.landing into settings.warehouse."""
    landing = Path(settings.landing)
    if not landing.exists():
        raise InputError(f"landing folder {landing} does not exist")
    if not landing.is_dir():
        raise InputError(f"landing path {landing} is not a folder")
    now = now or datetime.now(UTC)
    run_id = f"{now:%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}"  # sorts in start order
    return RunContext(run_id, now, str(landing.resolve()), str(Path(settings.warehouse).resolve()), settings)


def begin_run(ctx: RunContext) -> list[str]:
    """Prepare the warehouse and record the run as running; return ids of earlier runs found incomplete.

    Must be called under warehouse.run_lock: any run still marked running then is dead.
    """
    root = Path(ctx.root)
    wh.init_warehouse(root)
    wh.remove_staging(root)
    wh.remove_temp_files(root)
    with wh_connect(root) as con:
        dead = [r[0] for r in con.execute("SELECT run_id FROM runs WHERE status = 'running'").fetchall()]
        unfinished = {r[0] for r in con.execute("SELECT run_id FROM runs WHERE status <> 'completed'").fetchall()}
    for run_id in dead:
        _write_run_row(
            root,
            {
                "run_id": run_id,
                "status": "incomplete",
                "updated_at": ctx.started_at,
                "message": f"found unfinished by run {ctx.run_id}",
            },
            ctx.ingest_date,
            "incomplete",
        )
    wh.remove_parts_of(root, unfinished)
    _write_run_row(
        root,
        {
            "run_id": ctx.run_id,
            "status": "running",
            "started_at": ctx.started_at,
            "updated_at": ctx.started_at,
            "landing": ctx.landing,
        },
        ctx.ingest_date,
        "start",
    )
    return dead


@contextmanager
def wh_connect(root: Path) -> Iterator[Any]:
    con = wh.connect(root)
    try:
        yield con
    finally:
        con.close()


def _write_run_row(root: Path, row: dict, ingest_date: date, tag: str) -> None:
    row = {"ingest_date": ingest_date} | row
    wh.write_parquet(
        from_rows([row], RUNS), wh.partition_dir(root, "runs", ingest_date) / f"{row['run_id']}-{tag}.parquet"
    )


def plan_files(ctx: RunContext) -> Plan:
    """Return the run's Plan: new file versions grouped in chunks; known versions skipped."""
    root = Path(ctx.root)
    with wh_connect(root) as con:
        # A file that changed while being read was not loaded: its next version is read normally.
        known = set(con.execute("SELECT path, sha256 FROM files WHERE status <> 'changed'").fetchall())
        loaded: dict[str, list[str]] = {}
        for path, sha in con.execute(
            "SELECT path, sha256 FROM files WHERE status IN ('loaded', 'partial') "
            "AND NOT EXISTS (SELECT 1 FROM supersessions s WHERE s.path = files.path AND s.sha256 = files.sha256)"
        ).fetchall():
            loaded.setdefault(path, []).append(sha)
    earlier: dict[str, list[str]] = {}
    chunks: list[list[tuple[int, FileEntry]]] = []
    current: list[tuple[int, FileEntry]] = []
    size = seen = skipped = 0
    rows: list[dict] = []
    for index, entry in enumerate(discover_files(ctx.landing)):
        seen += 1
        if (entry.path, entry.sha256) in known:
            skipped += 1
            continue
        if entry.error or entry.format is None:
            status = "failed" if entry.error else "unsupported"
            error = (
                entry.error
                or "unsupported file type (expected .txt, .json, .jsonl, .ndjson, .html, .htm, optionally .gz)"
            )
            rows.append(_file_row(ctx, entry, status, 0, error))
            continue
        if entry.path in loaded:
            earlier[entry.path] = loaded[entry.path]
        current.append((index, entry))
        size += entry.size
        if size >= CHUNK_BYTES or len(current) >= CHUNK_FILES:
            chunks.append(current)
            current, size = [], 0
    if current:
        chunks.append(current)
    if seen == 0:
        raise InputError(f"landing folder {ctx.landing} has no files")
    return Plan(chunks, seen, skipped, rows, earlier)


def _file_row(ctx: RunContext, entry: FileEntry, status: str, count: int, error: str | None) -> dict:
    return {
        "path": entry.path,
        "sha256": entry.sha256,
        "size": entry.size,
        "format": entry.format,
        "status": status,
        "record_count": count,
        "error": error,
        "first_run_id": ctx.run_id,
        "run_id": ctx.run_id,
        "ingest_date": ctx.ingest_date,
    }


def _issue_row(entry: FileEntry, issue: Issue) -> dict:
    from newsetl.ingest import record_id

    return {
        "record_id": record_id(entry.path, entry.sha256, issue.record_no),
        "stage": "parse",
        "reason": issue.reason,
        "detail": issue.detail,
        "raw": issue.raw,
        "source_file": entry.path,
        "file_sha256": entry.sha256,
        "record_no": issue.record_no,
        "format": entry.format,
    }


def parse_chunk(ctx: RunContext, chunk_no: int, chunk: list[tuple[int, FileEntry]]) -> ChunkResult:
    """Read, clean and fingerprint one chunk of files into staged parts; return its counts.

    Records are flushed in batches of at most settings.batch_size records or batch_bytes of text,
    so a huge file is streamed through in bounded memory.
    """
    res = ChunkResult()
    raw: list[dict] = []
    issues: list[dict] = []
    pending_bytes = 0
    flushed_files: set[str] = set()  # files with records already written to a staged part

    def flush() -> None:
        nonlocal pending_bytes
        if not raw and not issues:
            return
        stem = f"c{chunk_no:05d}-{len(res.parts):04d}"
        flushed_files.update(r["source_file"] for r in raw)
        flushed_files.update(r["source_file"] for r in issues)
        table = conform(pa.Table.from_pylist(raw, schema=RAW), RAW) if raw else RAW.empty_table()
        table = table.append_column("ingest_order", pa.array([r["_order"] for r in raw], pa.int64()))
        cleaned, rejected = clean_articles(table)
        quarantined = pa.concat_tables([from_rows(issues, QUARANTINE), rejected]) if issues else rejected
        res.parse_quarantined += len(issues)
        res.clean_quarantined += rejected.num_rows
        if quarantined.num_rows:
            wh.write_parquet(
                _stamp(conform(quarantined, QUARANTINE), ctx, QUARANTINE),
                ctx.stage / "quarantine" / f"p-{stem}.parquet",
            )
        sigs, bands = fingerprint_texts(cleaned.column("text").to_pylist())
        cleaned = cleaned.append_column("signature", pa.array(sigs, pa.list_(pa.uint32())))
        cleaned = cleaned.append_column("bands", pa.array(bands, pa.list_(pa.int64())))
        path = ctx.stage / "clean" / f"{stem}.parquet"
        wh.write_parquet(cleaned, path)
        res.parts.append(str(path))
        raw.clear()
        issues.clear()
        pending_bytes = 0

    voided: set[str] = set()
    for index, entry in chunk:
        count = 0
        error = None
        status = "loaded"
        try:
            for item in read_file(entry):
                count += 1
                if isinstance(item, Issue):
                    issues.append(_issue_row(entry, item))
                else:
                    item["_order"] = (index << 32) + item["record_no"]
                    raw.append(item)
                    pending_bytes += len(item.get("text") or "") + len(item.get("title") or "")
                if len(raw) + len(issues) >= ctx.settings.batch_size or pending_bytes >= ctx.settings.batch_bytes:
                    flush()
                    _fault("mid_parse")
        except FileChanged as exc:
            # Nothing read from a file that changed under us may stand: set its records aside.
            error, status, count = str(exc), "changed", 0
            raw[:] = [r for r in raw if r["source_file"] != entry.path]
            issues[:] = [r for r in issues if r["source_file"] != entry.path]
            if entry.path in flushed_files:
                voided.add(entry.path)
        except FileError as exc:
            error, status = str(exc), ("partial" if count else "failed")
        except OSError as exc:
            error, status = f"read error: {exc.strerror or exc}", ("partial" if count else "failed")
        res.records_in += count
        res.file_rows.append(_file_row(ctx, entry, status, count, error))
    flush()
    if voided:
        _drop_staged_records(ctx, res, voided)
    return res


def _drop_staged_records(ctx: RunContext, res: ChunkResult, paths: set[str]) -> None:
    """Remove the records of `paths` from this chunk's staged parts and counts."""
    files = pa.array(sorted(paths))
    clean_parts = [Path(p) for p in res.parts]
    quarantine_parts = [ctx.stage / "quarantine" / f"p-{p.name}" for p in clean_parts]
    for part in clean_parts + [q for q in quarantine_parts if q.exists()]:
        table = pq.read_table(part)
        drop = pc.is_in(table.column("source_file"), files)
        removed = table.filter(drop)
        if removed.num_rows == 0:
            continue
        if part.parent.name == "quarantine":
            stages = Counter(removed.column("stage").to_pylist())
            res.parse_quarantined -= stages.get("parse", 0)
            res.clean_quarantined -= stages.get("clean", 0)
        wh.write_parquet(table.filter(pc.invert(drop)), part)


def _fault(point: str) -> None:
    """Crash-test hook: SIGKILL this process at `point` when NEWSETL_FAULT_AT names it."""
    if os.environ.get("NEWSETL_FAULT_AT") == point:
        os.kill(os.getpid(), signal.SIGKILL)


def _stamp(table: pa.Table, ctx: RunContext, schema: pa.Schema) -> pa.Table:
    """Return `table` with run_id and ingest_date filled in, cast to `schema`."""
    n = table.num_rows
    table = with_columns(
        table,
        {
            "run_id": pa.array([ctx.run_id] * n, pa.string()),
            "ingest_date": pa.array([ctx.ingest_date] * n, pa.date32()),
        },
    )
    return conform(table, schema)


_FP_COLUMNS = ["record_id", "text_hash", "published_at", "ingest_order", "signature", "bands"]


def dedup_run(ctx: RunContext, parts: list[str], superseded: list[dict] | None = None) -> dict[str, int]:
    """Decide kept / exact / near for every staged record, against history too; return the counts.

    `superseded`: earlier file versions this run replaces; their articles are not history any more.
    """
    if not parts:
        return {"kept": 0, "exact": 0, "near": 0}
    tables = []
    for i, p in enumerate(parts):
        t = pq.read_table(p, columns=_FP_COLUMNS)
        tables.append(t.append_column("part", pa.array([i] * t.num_rows, pa.int32())))
    run = pa.concat_tables(tables)
    with wh_connect(Path(ctx.root)) as con:
        con.register("run_fp", run.select(["text_hash", "bands"]))
        old = superseded or []
        con.register(
            "replaced",
            pa.table(
                {"path": [r["path"] for r in old], "sha256": [r["sha256"] for r in old]},
                schema=pa.schema([("path", pa.string()), ("sha256", pa.string())]),
            ),
        )
        con.execute(
            "CREATE TEMP VIEW history AS SELECT * FROM dedup_index d WHERE NOT EXISTS "
            "(SELECT 1 FROM replaced r WHERE r.path = d.source_file AND r.sha256 = d.file_sha256)"
        )
        history = con.execute(
            """
            WITH rk AS (SELECT DISTINCT b, k FROM (SELECT unnest(range(len(bands))) AS b, unnest(bands) AS k FROM run_fp)),
                 hk AS (SELECT article_id, unnest(range(len(bands))) AS b, unnest(bands) AS k FROM history),
                 hits AS (SELECT article_id FROM hk JOIN rk USING (b, k)
                          UNION SELECT article_id FROM history WHERE text_hash IN (SELECT text_hash FROM run_fp))
            SELECT article_id, text_hash, published_at, signature, bands FROM history
            WHERE article_id IN (SELECT article_id FROM hits)
            """
        ).to_arrow_table()
    decisions = find_duplicates(run, history, ctx.settings.near_threshold)
    decisions = decisions.append_column("part", run.column("part"))
    for i, p in enumerate(parts):
        mine = decisions.filter(pc.equal(decisions.column("part"), i)).drop_columns(["part"])
        wh.write_parquet(mine, Path(p).with_suffix(".decisions.parquet"))
    status = decisions.column("status").to_pylist()
    counts = Counter(status)
    return {"kept": counts.get("kept", 0), "exact": counts.get("exact", 0), "near": counts.get("near", 0)}


def _as_article_ids(table: pa.Table) -> pa.Table:
    return table.rename_columns(["article_id" if c == "record_id" else c for c in table.column_names])


def tag_part(ctx: RunContext, part: str) -> None:
    """Split one staged part by the dedup decisions; tag the kept records with language and outlet.

    Writes the duplicates part and a `tagged` part (kept records, article columns plus their
    fingerprints) for validate_part. Runs in a worker process: langdetect is the slow stage.
    """
    stem = Path(part).stem
    table = pq.read_table(part)
    decisions = pq.read_table(Path(part).with_suffix(".decisions.parquet"))
    # Decisions are written in the part's row order (list columns cannot go through an Arrow join).
    if not decisions.column("record_id").equals(table.column("record_id")):
        raise RuntimeError(f"dedup decisions of {part} do not match its records")
    table = with_columns(table, {c: decisions.column(c) for c in ("status", "duplicate_of", "similarity")})
    is_kept = pc.equal(table.column("status"), "kept")
    dups = _as_article_ids(table.filter(pc.invert(is_kept)))
    if dups.num_rows:
        dups = with_columns(dups, {"method": dups.column("status")})
        wh.write_parquet(_stamp(dups, ctx, DUPLICATES), ctx.stage / "duplicates" / f"{stem}.parquet")
    kept = table.filter(is_kept)
    if kept.num_rows:
        s = ctx.settings
        kept = detect_languages(kept, max_chars=s.language_max_chars, min_letters=s.language_min_letters)
        kept = _as_article_ids(resolve_outlets(kept, _registry()))
        tagged = pa.Table.from_arrays(
            [*_stamp(kept, ctx, ARTICLES).columns, kept.column("signature"), kept.column("bands")], schema=TAGGED
        )
        wh.write_parquet(tagged, ctx.stage / "tagged" / f"{stem}.parquet")


def validate_part(ctx: RunContext, part: str) -> PartResult:
    """Validate one tagged part with the GX suite; write its articles, quarantine and dedup-index parts.

    Runs in the flow's process, so Great Expectations is imported once, not in every worker.
    """
    res = PartResult()
    stem = Path(part).stem
    path = ctx.stage / "tagged" / f"{stem}.parquet"
    if not path.exists():
        return res
    tagged = pq.read_table(path)
    articles = conform(tagged, ARTICLES)
    valid, quarantined, res.validation = validate_articles(
        articles, ctx.settings.expectations / "articles.json", ctx.started_at
    )
    if quarantined.num_rows:
        wh.write_parquet(_stamp(quarantined, ctx, QUARANTINE), ctx.stage / "quarantine" / f"v-{stem}.parquet")
        res.validation_quarantined = quarantined.num_rows
    if valid.num_rows:
        wh.write_parquet(valid, ctx.stage / "articles" / f"{stem}.parquet")
        index = tagged.filter(pc.is_in(tagged.column("article_id"), valid.column("article_id")))
        wh.write_parquet(conform(index, DEDUP_INDEX), ctx.stage / "dedup_index" / f"{stem}.parquet")
        res.loaded = valid.num_rows
        res.languages = dict(Counter(valid.column("language").to_pylist()))
        res.outlets = dict(Counter(valid.column("outlet_name").fill_null("(none)").to_pylist()))
    path.unlink()
    return res


@lru_cache(maxsize=1)
def _registry() -> Registry:
    """The outlet registry, loaded once per process."""
    return load_registry()


def publish_run(
    ctx: RunContext,
    summary: RunSummary,
    file_rows: list[dict],
    validation: list[list[dict]],
    superseded: list[dict] | None = None,
) -> RunSummary:
    """Publish the staged parts, then commit the run with its `runs` row; return the summary."""
    root = Path(ctx.root)
    if file_rows:
        wh.write_parquet(from_rows(file_rows, FILES), ctx.stage / "files" / "files.parquet")
    if superseded:
        rows = [r | {"run_id": ctx.run_id, "ingest_date": ctx.ingest_date} for r in superseded]
        wh.write_parquet(from_rows(rows, SUPERSESSIONS), ctx.stage / "supersessions" / "supersessions.parquet")
    if validation:
        wh.write_parquet(
            _stamp(summarize_results(validation, ctx.run_id), ctx, VALIDATIONS),
            ctx.stage / "validations" / "validations.parquet",
        )
    wh.write_parquet(_registry().to_table(), root / "sources" / "registry" / "sources.parquet")
    wh.publish_staged(root, ctx.run_id, ctx.ingest_date, after_each=lambda: _fault("mid_publish"))
    _fault("before_commit")
    summary.status = "completed"
    _write_run_row(root, _run_row(ctx, summary), ctx.ingest_date, "end")  # the commit point
    _fault("after_commit")
    wh.remove_staging(root, ctx.run_id)
    warning = wh.ensure_catalog(root)
    if warning:
        summary.warnings.append(warning)
    return summary


def fail_run(ctx: RunContext, summary: RunSummary, message: str) -> RunSummary:
    """Record the run as failed (its staged parts are discarded, nothing becomes visible)."""
    root = Path(ctx.root)
    summary.status, summary.message = "failed", message
    wh.remove_staging(root, ctx.run_id)
    _write_run_row(root, _run_row(ctx, summary), ctx.ingest_date, "end")
    return summary


def _run_row(ctx: RunContext, s: RunSummary) -> dict:
    row = {k: v for k, v in s.to_dict().items() if k in RUNS.names}
    row.update(
        run_id=ctx.run_id,
        started_at=ctx.started_at,
        updated_at=datetime.now(UTC),
        landing=ctx.landing,
        stage_seconds=json.dumps(s.stage_seconds),
    )
    return row


# ---------------------------------------------------------------- parallel map


class _InlineExecutor(Executor):
    """Runs submitted calls at once in this process (workers = 1, and tests)."""

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:  # type: ignore[override]
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            fut.set_exception(exc)
        return fut


@contextmanager
def worker_pool(workers: int) -> Iterator[Executor]:
    """Yield an executor for the CPU-bound steps: `workers` spawned processes, or inline when 1."""
    if workers <= 1:
        yield _InlineExecutor()
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------- whole run


class Runner(Protocol):
    """How steps are executed: plainly (LocalRunner) or as Prefect tasks (flows/daily_ingest.py)."""

    def one(self, name: str, fn: Callable, *args: Any, retries: int = 0) -> Any: ...

    def many(self, name: str, fn: Callable, calls: list[tuple], labels: list[str]) -> list: ...

    def log(self, message: str) -> None: ...


class LocalRunner:
    """Runs steps in this process and the per-chunk steps on `pool`."""

    def __init__(self, pool: Executor, log: Callable[[str], None] = lambda m: None) -> None:
        self.pool, self._log = pool, log

    def one(self, name: str, fn: Callable, *args: Any, retries: int = 0) -> Any:
        return fn(*args)

    def many(self, name: str, fn: Callable, calls: list[tuple], labels: list[str]) -> list:
        return [f.result() for f in [self.pool.submit(fn, *args) for args in calls]]

    def log(self, message: str) -> None:
        self._log(message)


def run_pipeline(
    settings: Settings, now: datetime | None = None, log: Callable[[str], None] = lambda m: None
) -> RunSummary:
    """Run every stage over settings.landing into settings.warehouse; return the RunSummary."""
    ctx = new_run(settings, now)
    with wh.run_lock(Path(ctx.root)), worker_pool(settings.workers) as pool:
        return run_steps(ctx, LocalRunner(pool, log))


def run_steps(ctx: RunContext, runner: Runner) -> RunSummary:
    """Run one whole run (the caller holds the warehouse lock); return its summary.

    On any error the run is recorded as failed, nothing it staged becomes visible, and the
    error is raised again.
    """
    runner.one("begin-run", begin_run, ctx, retries=2)
    _fault("after_begin")
    summary = RunSummary(ctx.run_id, "running", ctx.landing, ctx.root)
    try:
        t = time.perf_counter()
        plan: Plan = runner.one("discover-files", plan_files, ctx, retries=2)
        _fault("after_discover")
        summary.stage_seconds["discover"] = round(time.perf_counter() - t, 3)
        runner.log(
            f"discover: {plan.files_seen} files seen, {plan.files_skipped} already loaded, "
            f"{sum(len(c) for c in plan.chunks)} to read in {len(plan.chunks)} chunks"
        )

        t = time.perf_counter()
        chunks: list[ChunkResult] = runner.many(
            "parse-clean",
            parse_chunk,
            [(ctx, i, c) for i, c in enumerate(plan.chunks)],
            [f"chunk-{i:04d}" for i in range(len(plan.chunks))],
        )
        summary.stage_seconds["parse_clean"] = round(time.perf_counter() - t, 3)
        apply_plan(summary, plan, chunks)
        _fault("after_parse")
        file_rows = [r for c in chunks for r in c.file_rows] + plan.file_rows
        superseded = plan.superseded_by(file_rows)
        runner.log(
            f"parse+clean: {summary.records_in} records in, {summary.parse_quarantined} unparseable, "
            f"{summary.clean_quarantined} rejected by cleaning"
        )

        t = time.perf_counter()
        parts = [p for c in chunks for p in c.parts]
        counts = runner.one("dedup", dedup_run, ctx, parts, superseded)
        _fault("after_dedup")
        summary.stage_seconds["dedup"] = round(time.perf_counter() - t, 3)
        summary.exact_duplicates, summary.near_duplicates = counts["exact"], counts["near"]
        runner.log(f"dedup: {counts['kept']} unique, {counts['exact']} exact and {counts['near']} near duplicates")

        t = time.perf_counter()
        labels = [Path(p).stem for p in parts]
        runner.many("language-source", tag_part, [(ctx, p) for p in parts], labels)
        _fault("after_tag")
        summary.stage_seconds["language_source"] = round(time.perf_counter() - t, 3)

        t = time.perf_counter()
        enriched: list[PartResult] = [
            runner.one(f"validate {label}", validate_part, ctx, p) for p, label in zip(parts, labels, strict=True)
        ]
        summary.stage_seconds["validate"] = round(time.perf_counter() - t, 3)
        apply_enrich(summary, enriched)
        runner.log(
            f"language+source+validate: {summary.articles_loaded} articles pass, "
            f"{summary.validation_quarantined} quarantined; languages {summary.languages}"
        )

        t = time.perf_counter()
        _fault("after_validate")
        validation = [e.validation for e in enriched if e.validation]
        summary = runner.one("publish", publish_run, ctx, summary, file_rows, validation, superseded, retries=2)
        summary.stage_seconds["publish"] = round(time.perf_counter() - t, 3)
        finish_summary(ctx, summary)
        runner.log(f"published run {ctx.run_id}: {summary.articles_loaded} articles loaded")
        return summary
    except BaseException as exc:
        fail_run(ctx, summary, f"{type(exc).__name__}: {exc}")
        raise


def apply_plan(summary: RunSummary, plan: Plan, chunks: list[ChunkResult]) -> None:
    """Fold the discover and parse results into the summary."""
    rows = [r for c in chunks for r in c.file_rows] + plan.file_rows
    summary.files_seen, summary.files_skipped = plan.files_seen, plan.files_skipped
    summary.files_new = len(rows)
    summary.files_failed = sum(1 for r in rows if r["status"] != "loaded")
    summary.records_in = sum(c.records_in for c in chunks)
    summary.parse_quarantined = sum(c.parse_quarantined for c in chunks)
    summary.clean_quarantined = sum(c.clean_quarantined for c in chunks)


def apply_enrich(summary: RunSummary, enriched: list[PartResult]) -> None:
    """Fold the per-part enrich results into the summary."""
    langs: Counter = Counter()
    outlets: Counter = Counter()
    for e in enriched:
        summary.articles_loaded += e.loaded
        summary.validation_quarantined += e.validation_quarantined
        langs.update(e.languages)
        outlets.update(e.outlets)
        summary.validation_success = summary.validation_success and all(r["success"] for r in e.validation)
    summary.languages = dict(langs.most_common())
    summary.outlets = dict(outlets.most_common())


def finish_summary(ctx: RunContext, summary: RunSummary) -> None:
    """Add the quarantine reasons of the run (read back from the published table)."""
    with wh_connect(Path(ctx.root)) as con:
        summary.quarantine_reasons = dict(
            con.execute(
                "SELECT reason, count(*) FROM quarantine WHERE run_id = ? GROUP BY reason ORDER BY 2 DESC", [ctx.run_id]
            ).fetchall()
        )


def main() -> None:  # pragma: no cover - `python -m newsetl.pipeline [LANDING] [WAREHOUSE]`
    import sys

    args = sys.argv[1:]
    settings = Settings.from_env(landing=args[0] if args else None, warehouse=args[1] if len(args) > 1 else None)
    summary = run_pipeline(settings, log=print)
    print(json.dumps(summary.to_dict(), indent=2, default=str))


if __name__ == "__main__":  # pragma: no cover
    main()
