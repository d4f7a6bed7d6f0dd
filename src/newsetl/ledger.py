"""Run ledger: a run's context and its `runs` rows (begin, publish, fail); newsetl.history reads what earlier runs left.

The ledger is the only writer of `runs`. A run's rows in every other table become visible when
publish_run writes its `completed` row, the commit point; begin_run turns runs a crash left
`running` into `incomplete` and deletes what they published.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from newsetl import compaction, storage
from newsetl import warehouse as wh
from newsetl.config import InputError, Settings
from newsetl.faults import fault
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
    files: pa.Table,
    validation: list[list[dict]],
    superseded: list[dict] | None = None,
) -> RunSummary:
    """Publish the staged parts, then commit the run with its `runs` row; return the summary."""
    root, stage = Path(ctx.root), ctx.stage
    if files.num_rows:  # a FILES row per file the run read or could not read
        wh.write_parquet(conform(files, FILES), stage.run_table("files"))
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
