"""Run ledger: a run's context, its `runs` rows (begin, publish, fail) and what earlier runs left.

The ledger is the only writer of `runs`. A run's rows in every other table become visible when
publish_run writes its `completed` row, the commit point; begin_run turns runs a crash left
`running` into `incomplete` and deletes what they published.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from newsetl import compaction, storage
from newsetl import warehouse as wh
from newsetl.config import InputError, Settings
from newsetl.faults import fault
from newsetl.health import TRAILING_DAYS, alerts_sql, outlet_daily_select
from newsetl.schema import FILES, REPAIRS, RUNS, SUPERSESSIONS, VALIDATIONS, conform, from_rows, with_columns
from newsetl.sources import default_registry
from newsetl.staging import StagePaths, new_run_id, published_name, run_of_published
from newsetl.summary import RunSummary
from newsetl.validate import summarize_results


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
    def stage(self) -> StagePaths:
        return StagePaths(Path(self.root), self.run_id)

    def stamp(self, table: pa.Table, schema: pa.Schema) -> pa.Table:
        """Return `table` with this run's run_id and ingest_date filled in, cast to `schema`."""
        n = table.num_rows
        run_cols = {
            "run_id": pa.array([self.run_id] * n, pa.string()),
            "ingest_date": pa.array([self.ingest_date] * n, pa.date32()),
        }
        return conform(with_columns(table, run_cols), schema)


def clock() -> datetime:
    """Return the wall-clock time rows are stamped with (informational: visibility never depends on it)."""
    return datetime.now(UTC)


def new_run(settings: Settings, now: datetime | None = None) -> RunContext:
    """Return the context of a new run over settings.landing into settings.warehouse."""
    landing = Path(settings.landing)
    if not landing.exists():
        raise InputError(f"landing folder {landing} does not exist")
    if not landing.is_dir():
        raise InputError(f"landing path {landing} is not a folder")
    land, root = landing.resolve(), wh.check_root(Path(settings.warehouse))
    if root == land or root.is_relative_to(land) or land.is_relative_to(root):
        raise InputError(
            f"the landing folder {land} and the warehouse {root} may not contain each other "
            "(a run would read its own output): put them side by side"
        )
    now = now or clock()
    return RunContext(new_run_id(now), now, str(land), str(root), settings)


@dataclass
class Begun:
    """What begin_run found: runs a crash left unfinished, and damaged parts (set aside; versions to reload)."""

    dead: list[str]
    # (path, sha256) -> the damaged parts that held rows of that file version: (hidden_run, part, table, problem)
    reload: dict[tuple[str, str], list[tuple[str, str, str, str]]]
    repaired: list[str]  # one line per damaged part, for the run summary


def begin_run(ctx: RunContext) -> Begun:
    """Prepare the warehouse, set damaged parts aside, record the run as running; return what was found.

    Must be called under warehouse.run_lock: any run still marked running then is dead.
    """
    root = Path(ctx.root)
    wh.init_warehouse(root)
    wh.remove_staging(root)
    wh.remove_temp_files(root)
    compaction.remove_leftovers(root, ctx.settings.compact_grace_seconds)
    reload, repaired = _heal_storage(ctx)
    with wh.views(root, only=("runs",)) as con:
        dead = [r[0] for r in con.execute("SELECT run_id FROM runs WHERE status = 'running'").fetchall()]
        unfinished = {r[0] for r in con.execute("SELECT run_id FROM runs WHERE status <> 'completed'").fetchall()}
    for run_id in dead:
        row = {"run_id": run_id, "status": "incomplete", "message": f"found unfinished by run {ctx.run_id}"}
        _write_run_row(ctx, row | {"updated_at": ctx.started_at}, "incomplete")
    wh.remove_parts_of(root, unfinished)
    row = {"run_id": ctx.run_id, "status": "running", "started_at": ctx.started_at, "landing": ctx.landing}
    _write_run_row(ctx, row | {"updated_at": ctx.started_at}, "start")
    return Begun(dead, reload, repaired)


def _heal_storage(ctx: RunContext) -> tuple[dict, list[str]]:
    """Find damaged or missing parts (sizes and footers, not checksums), set them aside, restore what can be.

    Returns the file versions to read again and one line per damaged part. Views cannot be trusted
    before this ran (one damaged part makes a whole view fail), so it reads the runs and repairs
    parts one by one.
    """
    root = Path(ctx.root)
    committed, handled = committed_and_repaired(root)
    health = storage.check_parts(root, committed)
    reload: dict[tuple[str, str], list[tuple[str, str, str, str]]] = {}
    rows: list[dict] = []
    for d in health.damage:
        if d.name in handled:
            continue
        storage.set_aside(root, d)
        outcome = "set_aside"
        if storage.is_schema_marker(d):
            outcome = "recreated"
        elif d.table == "runs" and d.name.endswith("-end.parquet") and d.run_id and _published_anything(root, d.run_id):
            # Parts are published only just before the end row: the run had committed.
            row = {"run_id": d.run_id, "status": "completed", "message": "end row restored after damage (counts lost)"}
            _write_run_row(ctx, row | {"updated_at": ctx.started_at}, f"restored-{ctx.run_id}")
            outcome = "restored"
        elif d.table == "runs" and d.sources:
            # A compacted part of committed runs' state rows: each of them had committed.
            for _, _, run_id in d.sources:
                row = {
                    "run_id": run_id or "",
                    "status": "completed",
                    "message": "end row restored after damage (counts lost)",
                }
                _write_run_row(ctx, row | {"updated_at": ctx.started_at}, f"restored-{ctx.run_id}")
            outcome = "restored"
        elif d.sources:
            for path, sha, run_id in d.sources:
                reload.setdefault((path or "", sha or ""), []).append((run_id or "", d.name, d.table, d.problem))
            continue
        elif d.table in wh.RELOADABLE:
            outcome = "lost"  # a part no manifest lists: which files it held is unknown
        rows.append({"damaged_part": d.name, "table": d.table, "problem": d.problem, "outcome": outcome})
    wh.init_warehouse(root)  # re-creates a schema file set aside
    if rows:
        stamped = [r | {"run_id": ctx.run_id, "ingest_date": ctx.ingest_date} for r in rows]
        wh.write_parquet(from_rows(stamped, REPAIRS), ctx.stage.table_dir("repairs") / "found.parquet")
    lines = [f"{d.line()}: set aside" for d in health.damage if d.name not in handled]
    return reload, lines


def committed_and_repaired(root: Path) -> tuple[set[str], set[str]]:
    """Return the ids of committed runs and the damaged parts they already handled (reads parts one by one,
    so a damaged part cannot hide the others)."""
    statuses: dict[str, set[str]] = {}
    for part in (root / "runs").glob("ingest_date=*/*.parquet"):
        with contextlib.suppress(OSError, pa.ArrowException):
            for r in pq.read_table(part, columns=["run_id", "status"]).to_pylist():
                statuses.setdefault(r["run_id"], set()).add(r["status"])
    committed = {run for run, states in statuses.items() if "completed" in states}
    handled: set[str] = set()
    for part in (root / "repairs").glob("ingest_date=*/*.parquet"):
        with contextlib.suppress(OSError, pa.ArrowException):
            t = pq.read_table(part, columns=["damaged_part", "run_id"])
            handled.update(r["damaged_part"] for r in t.to_pylist() if r["run_id"] in committed)
    return committed, handled


def _published_anything(root: Path, run_id: str) -> bool:
    return run_id in storage.read_compactions(root).runs or any(
        run_of_published(p.name) == run_id
        for table in wh.RUN_TABLES
        for p in (root / table).glob("ingest_date=*/*.parquet")
    )


def repair_rows(ctx: RunContext, reload: dict, found: set[tuple[str, str]]) -> list[dict]:
    """Return REPAIRS rows for the versions to reload: `reloaded` when found in the landing folder, else `lost`."""
    return [
        {
            "damaged_part": part,
            "table": table,
            "problem": problem,
            "outcome": "reloaded" if version in found else "lost",
            "path": version[0],
            "sha256": version[1],
            "hidden_run": hidden if version in found else None,
            "run_id": ctx.run_id,
            "ingest_date": ctx.ingest_date,
        }
        for version, holders in sorted(reload.items())
        for hidden, part, table, problem in holders
    ]


def publish_run(
    ctx: RunContext,
    summary: RunSummary,
    file_rows: list[dict],
    validation: list[list[dict]],
    superseded: list[dict] | None = None,
) -> RunSummary:
    """Publish the staged parts, then commit the run with its `runs` row; return the summary."""
    root, stage = Path(ctx.root), ctx.stage
    if file_rows:
        wh.write_parquet(from_rows(file_rows, FILES), stage.run_table("files"))
    if superseded:
        rows = [r | {"run_id": ctx.run_id, "ingest_date": ctx.ingest_date} for r in superseded]
        wh.write_parquet(from_rows(rows, SUPERSESSIONS), stage.run_table("supersessions"))
    if validation:
        results = ctx.stamp(summarize_results(validation, ctx.run_id), VALIDATIONS)
        wh.write_parquet(results, stage.run_table("validations"))
    manifest = stage.run_table("parts")
    if not manifest.exists():  # a retried publish keeps the manifest of the first try
        staged = [(t, p) for t in wh.RUN_TABLES if t != "parts" for p in sorted(stage.table_dir(t).glob("*.parquet"))]
        if staged:
            wh.write_parquet(storage.manifest(root, staged, ctx.run_id, ctx.ingest_date), manifest)
    wh.write_parquet(default_registry().to_table(), root / "sources" / "registry" / "sources.parquet")
    wh.publish_staged(stage, ctx.ingest_date, after_each=lambda: fault("mid_publish"))
    fault("before_commit")
    summary.status = "completed"
    _write_run_row(ctx, _run_row(ctx, summary), "end")  # the commit point
    fault("after_commit")
    wh.remove_staging(root, ctx.run_id)
    warning = wh.ensure_catalog(root)
    if warning:
        summary.warnings.append(warning)
    return summary


def fail_run(ctx: RunContext, summary: RunSummary, message: str) -> RunSummary:
    """Record the run as failed (its staged parts are discarded, nothing becomes visible).

    A run that already wrote its `completed` row stays completed: its data is published.
    """
    if summary.status == "completed":
        summary.warnings.append(f"error after the run was committed: {message}")
        return summary
    summary.status, summary.message = "failed", message
    wh.remove_staging(Path(ctx.root), ctx.run_id)
    _write_run_row(ctx, _run_row(ctx, summary), "end")
    return summary


def _write_run_row(ctx: RunContext, row: dict, tag: str) -> None:
    table = from_rows([{"ingest_date": ctx.ingest_date} | row], RUNS)
    part = wh.partition_dir(Path(ctx.root), "runs", ctx.ingest_date) / published_name(row["run_id"], f"{tag}.parquet")
    wh.write_parquet(table, part)


def _run_row(ctx: RunContext, s: RunSummary) -> dict:
    row = {k: v for k, v in s.to_dict().items() if k in RUNS.names}
    row.update(
        run_id=ctx.run_id,
        started_at=ctx.started_at,
        updated_at=clock(),
        landing=ctx.landing,
        stage_seconds=json.dumps(s.stage_seconds),
    )
    return row


# ---------------------------------------------------------------- what earlier runs left


def file_versions(ctx: RunContext) -> tuple[set[tuple[str, str]], dict[str, list[str]]]:
    """Return the (path, sha256) versions already seen, and path -> current loaded versions."""
    with wh.views(Path(ctx.root), only=("files",)) as con:
        # A file that changed while being read was not loaded: its next version is read normally.
        known = set(con.execute("SELECT path, sha256 FROM files WHERE status <> 'changed'").fetchall())
        loaded: dict[str, list[str]] = {}
        for path, sha in con.execute(
            "SELECT path, sha256 FROM files WHERE status IN ('loaded', 'partial') "
            "AND NOT EXISTS (SELECT 1 FROM supersessions s WHERE s.path = files.path AND s.sha256 = files.sha256)"
        ).fetchall():
            loaded.setdefault(path, []).append(sha)
    return known, loaded


def dedup_history(ctx: RunContext, run_fp: pa.Table, replaced: list[dict], batch_rows: int = 65536) -> pa.Table:
    """Return the dedup-index rows of current articles that share a text hash or a band key with `run_fp`.

    run_fp: text_hash, bands of this run's records. replaced: file versions (path, sha256) this run
    supersedes; their articles are not history any more. Two steps, so the cost of a day follows the day:
    1. the keys (article_id, text_hash, bands) of the index's live parts are read with pyarrow in batches
       and only the rows that can match are kept (memory stays one batch; no signature is decoded);
    2. those rows are read whole, and the ones of superseded or replaced file versions dropped.
    Reading whole rows through the `dedup_index` view instead made DuckDB materialise the whole index for
    its anti-joins: 0.9-2.5 s at 200,000 articles (benchmarks/RESULTS.md); pyarrow reads the keys of
    200,000 articles in about 0.1 s where a DuckDB query hands them over in 0.25 s.
    """
    import pyarrow.dataset as ds

    from newsetl.dedup import history_candidates
    from newsetl.schema import DEDUP_INDEX

    run_keys = run_fp.select(["text_hash", "bands"])
    keys = pa.schema([DEDUP_INDEX.field(c) for c in ("article_id", "text_hash", "bands")])
    with wh.views(Path(ctx.root), only=("dedup_index_all",)) as con:
        parts = wh.live_parts(con, Path(ctx.root), "dedup_index")
        hits = []
        for batch in ds.dataset(parts, schema=keys, format="parquet").to_batches(batch_size=batch_rows):
            rows = pa.Table.from_batches([batch])
            hits += rows.column("article_id").take(history_candidates(run_keys, rows)).chunks
        con.register("hits", pa.table({"article_id": pa.chunked_array(hits, pa.string())}))
        con.register("replaced", _versions_table(replaced))
        # The same rule as the dedup_index view (not of a superseded version), applied to the hits only.
        return wh.retry_vanished(
            lambda: con.execute(
                "WITH t AS MATERIALIZED (SELECT article_id, text_hash, published_at, signature, bands, source_file, file_sha256 "
                "FROM dedup_index_all WHERE article_id IN (SELECT article_id FROM hits)) "
                f"SELECT article_id, text_hash, published_at, signature, bands FROM t WHERE {wh.CURRENT_VERSION} "
                "AND NOT EXISTS (SELECT 1 FROM replaced r WHERE r.path = t.source_file AND r.sha256 = t.file_sha256)"
            ).to_arrow_table()
        )


def _versions_table(versions: list[dict]) -> pa.Table:
    return pa.table(
        {"path": [v["path"] for v in versions], "sha256": [v["sha256"] for v in versions]},
        schema=pa.schema([("path", pa.string()), ("sha256", pa.string())]),
    )


def articles_of_versions(ctx: RunContext, versions: list[dict]) -> list[dict]:
    """Return article_id, text_hash of the current articles read from file versions (path, sha256)."""
    if not versions:
        return []
    with wh.views(Path(ctx.root)) as con:
        con.register("v", _versions_table(versions))
        return (
            con.execute(
                "SELECT article_id, text_hash FROM articles a JOIN v ON v.path = a.source_file AND v.sha256 = a.file_sha256"
            )
            .to_arrow_table()
            .to_pylist()
        )


def copies_of(ctx: RunContext, article_ids: list[str]) -> pa.Table:
    """Return the visible `duplicates` rows (duplicate_of as the views resolve it) that copy `article_ids`."""
    with wh.views(Path(ctx.root)) as con:
        con.register("ids", pa.table({"id": pa.array(article_ids, pa.string())}))
        return con.execute("SELECT * FROM duplicates WHERE duplicate_of IN (SELECT id FROM ids)").to_arrow_table()


def articles_with_text(ctx: RunContext, text_hashes: list[str], excluding: list[dict]) -> list[dict]:
    """Return current articles with one of `text_hashes`, other than those of the file versions `excluding`."""
    if not text_hashes:
        return []
    with wh.views(Path(ctx.root)) as con:
        con.register("h", pa.table({"text_hash": pa.array(text_hashes, pa.string())}))
        con.register("x", _versions_table(excluding))
        return (
            con.execute(
                "SELECT article_id, text_hash, published_at, NULL::BIGINT AS ingest_order FROM articles a "
                "WHERE text_hash IN (SELECT text_hash FROM h) "
                "AND NOT EXISTS (SELECT 1 FROM x WHERE x.path = a.source_file AND x.sha256 = a.file_sha256)"
            )
            .to_arrow_table()
            .to_pylist()
        )


def story_window(
    ctx: RunContext, spans: list[tuple[datetime, datetime]], arrived_since: datetime, replaced: list[dict]
) -> tuple[dict[str, str], pa.Table]:
    """Return the merged stories ({story id: the story it reads as now}, chains resolved) and the story-index
    rows of current articles with an event time in one of `spans` ([start, end] pairs) or loaded since
    `arrived_since` (undated articles are compared by when they arrived).

    Reads the index's small columns only (never a text); rows of file versions this run replaces are
    not history any more. Its cost follows the window, not the warehouse's age.
    """
    only = ("story_index_all", "story_index", "story_merges", "story_roots")
    within = " OR ".join(["event_time BETWEEN ? AND ?"] * len(spans) + ["ingested_at >= ?"])
    with wh.views(Path(ctx.root), only=only) as con:
        con.register("x", _versions_table(replaced))
        roots = dict(con.execute("SELECT story_id, root FROM story_roots").fetchall())
        return roots, con.execute(
            "SELECT article_id, story_id, event_time, dated, ingested_at, title, outlet_id, terms, counts "
            f"FROM story_index s WHERE ({within}) "
            "AND NOT EXISTS (SELECT 1 FROM x WHERE x.path = s.source_file AND x.sha256 = s.file_sha256)",
            [*(t for span in spans for t in span), arrived_since],
        ).to_arrow_table()


# The views outlet_alerts_of_day reads, with the views they read (warehouse.connect binds only these).
_OUTLET_DAILY_READS = ("articles_all", "duplicates_all", "quarantine_all", "copy_fixes", "quarantine")


def outlet_daily_of(since: date, until: date) -> str:
    """Return the outlet_daily rows of ingest days since..until as a relation over _OUTLET_DAILY_READS.

    The same rows as the outlet_daily view: current articles without the `articles` view's story join,
    copies without the `duplicates` view's repointing (it changes only duplicate_of, never read here).
    Both joins read every article: at 200,000 articles they cost the run about 0.7 s.
    """
    days = f"ingest_date BETWEEN DATE '{since.isoformat()}' AND DATE '{until.isoformat()}'"
    articles = f"(SELECT * FROM articles_all t WHERE {wh.CURRENT_VERSION})"
    return f"({outlet_daily_select(articles, f'(SELECT * FROM duplicates_all d WHERE {wh.COPY_KEPT})', days)})"


def outlet_alerts_of_day(ctx: RunContext) -> list[dict]:
    """Return the outlet alerts of the run's ingest day (reads only the trailing window's rows)."""
    daily = outlet_daily_of(ctx.ingest_date - timedelta(days=TRAILING_DAYS), ctx.ingest_date)
    with wh.views(Path(ctx.root), only=_OUTLET_DAILY_READS) as con:
        cur = con.execute(
            f"SELECT * FROM ({alerts_sql(daily)}) WHERE day = ? ORDER BY outlet_id, metric", [ctx.ingest_date]
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
