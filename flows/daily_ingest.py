"""The daily-ingest flow: newsetl's pipeline steps as Prefect tasks (coarse: per chunk of files or part)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from newsetl import report
from newsetl import warehouse as wh
from newsetl.config import Settings
from newsetl.ledger import new_run
from newsetl.pipeline import run_steps
from newsetl.runners import WorkerPool, worker_pool
from newsetl.summary import RunSummary, broken_input


@task(cache_policy=NO_CACHE, retry_delay_seconds=2)
def _step(fn: Callable, args: tuple) -> Any:
    """One pipeline step run in the flow's process."""
    return fn(*args)


@task(cache_policy=NO_CACHE, retries=1, retry_delay_seconds=2)
def _pooled_step(pool: WorkerPool, fn: Callable, args: tuple) -> Any:
    """One per-chunk step, run on the worker process pool (the task thread only waits for it)."""
    return pool.call(fn, args)


class PrefectRunner:
    """newsetl.runners.Runner that makes every step a named Prefect task run."""

    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool
        self.logger = get_run_logger()

    def one(self, name: str, fn: Callable, *args: Any, retries: int = 0) -> Any:
        return _step.with_options(name=name, retries=retries)(fn, args)

    def many(self, name: str, fn: Callable, calls: list[tuple], labels: list[str]) -> list:
        step = _pooled_step.with_options(name=name)
        futures = [
            step.with_options(task_run_name=f"{name} {label}").submit(self.pool, fn, args)
            for args, label in zip(calls, labels, strict=True)
        ]
        return [f.result() for f in futures]

    def log(self, message: str) -> None:
        self.logger.info(message)


def _run_name() -> str:
    """ingest-<day>-<landing folder>: the day the run was scheduled for (today for a manual run)."""
    params = flow_run.parameters or {}
    landing = Path(params.get("landing") or Settings().landing).name or "landing"
    day = flow_run.scheduled_start_time or datetime.now(UTC)
    return f"ingest-{day:%Y-%m-%d}-{landing}"


class BrokenInput(RuntimeError):
    """Too much of the run's input was quarantined: the run is marked Failed (its data stays queryable).

    args: (message, RunSummary).
    """

    def __str__(self) -> str:
        return str(self.args[0])

    @property
    def summary(self) -> RunSummary:
        return self.args[1]


@task(name="publish-report", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def publish_report(summary: RunSummary, max_rows: int = 200) -> None:
    """Attach the run's summary, its quarantined rows and its validation result as artifacts."""
    root = Path(summary.warehouse)
    create_markdown_artifact(
        key="ingest-summary", markdown=report.summary_markdown(summary), description="What this run ingested"
    )
    rows = report.quarantine_rows(root, summary.run_id, max_rows)
    if rows:
        create_table_artifact(
            key="quarantine", table=rows, description=f"Quarantined rows of this run (first {max_rows})"
        )
    if summary.outlet_alerts:
        alerts = [{k: str(v) for k, v in a.items()} for a in summary.outlet_alerts]
        create_table_artifact(
            key="outlet-alerts", table=alerts, description="Outlets whose metrics jumped against their last 14 days"
        )
    validation = report.validation_rows(root, summary.run_id)
    if validation:
        create_table_artifact(key="validation", table=validation, description="Great Expectations results")


@flow(name="daily-ingest", flow_run_name=_run_name, log_prints=True)
def daily_ingest(landing: str | None = None, warehouse: str | None = None) -> RunSummary:
    """Ingest a landing folder into the warehouse; return the RunSummary (counts of every stage).

    The run ends Failed when newsetl.summary.broken_input says so (more than
    NEWSETL_MAX_QUARANTINE_SHARE of its records quarantined); what it loaded and quarantined is still
    published, so the reasons can be queried.
    """
    settings = Settings.from_env(landing=landing, warehouse=warehouse)
    ctx = new_run(settings)
    with wh.run_lock(Path(ctx.root)), worker_pool(settings.workers) as pool:
        summary = run_steps(ctx, PrefectRunner(pool))
    publish_report(summary)
    problem = broken_input(summary, settings.max_quarantine_share)
    if problem:
        raise BrokenInput(problem, summary)
    return summary
