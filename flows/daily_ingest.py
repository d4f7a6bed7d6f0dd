"""The daily-ingest flow: newsetl's pipeline steps as Prefect tasks (coarse: per chunk of files or part)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from newsetl import pipeline
from newsetl import warehouse as wh
from newsetl.config import Settings


@task(cache_policy=NO_CACHE, retry_delay_seconds=2)
def _step(fn: Callable, args: tuple) -> Any:
    """One pipeline step run in the flow's process."""
    return fn(*args)


@task(cache_policy=NO_CACHE, retries=1, retry_delay_seconds=2)
def _pooled_step(pool: Executor, fn: Callable, args: tuple) -> Any:
    """One per-chunk step, run on the worker process pool (the task thread only waits for it)."""
    return pool.submit(fn, *args).result()


class PrefectRunner:
    """pipeline.Runner that makes every step a named Prefect task run."""

    def __init__(self, pool: Executor) -> None:
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
    params = flow_run.parameters or {}
    landing = Path(params.get("landing") or Settings().landing).name or "landing"
    return f"ingest-{datetime.now(UTC):%Y-%m-%d}-{landing}"


@flow(name="daily-ingest", flow_run_name=_run_name, log_prints=True)
def daily_ingest(landing: str | None = None, warehouse: str | None = None) -> dict:
    """Ingest a landing folder into the warehouse; return the run summary (counts of every stage)."""
    settings = Settings.from_env(landing=landing, warehouse=warehouse)
    ctx = pipeline.new_run(settings)
    with wh.run_lock(Path(ctx.root)), pipeline.worker_pool(settings.workers) as pool:
        summary = pipeline.run_steps(ctx, PrefectRunner(pool))
    return summary.to_dict()
