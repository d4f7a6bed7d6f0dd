"""The daily-ingest flow: newsetl's pipeline steps as Prefect tasks (coarse: per chunk of files or part)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from newsetl import report
from newsetl import warehouse as wh
from newsetl.config import Settings
from newsetl.ledger import RunContext, new_run
from newsetl.pipeline import run_steps
from newsetl.runners import Pool, rest_pool, worker_pool
from newsetl.summary import RunSummary, broken_input

if TYPE_CHECKING:
    from prefect_dask import DaskTaskRunner


@task(cache_policy=NO_CACHE, retry_delay_seconds=2)
def _step(fn: Callable, args: tuple) -> Any:
    """One pipeline step run in the flow's process."""
    return fn(*args)


@task(cache_policy=NO_CACHE, retries=1, retry_delay_seconds=2)
def _pooled_step(pool: Pool, fn: Callable, args: tuple) -> Any:
    """One per-chunk step, run on the worker process pool (the task thread only waits for it)."""
    return pool.call(fn, args)


@task(cache_policy=NO_CACHE, retries=1, retry_delay_seconds=2)
def _cluster_step(fn: Callable, args: tuple) -> Any:
    """One per-chunk step, run on a Dask worker as a task run of its own (DaskTaskRunner).

    Workers unpickle it (and the flow) by module name: deploy the flow by its module path,
    newsetl_flows.daily_ingest, which imports wherever newsetl is installed.
    """
    return fn(*args)


class PrefectRunner:
    """newsetl.runners.Runner that makes every step a named Prefect task run.

    The per-chunk steps run on `pool` from task threads of this process, or, given a DaskTaskRunner, as
    task runs on its Dask workers, which report to `api_url` (this flow run's Prefect API) once `ready()`
    returns (the workers' warm-up is over).
    """

    def __init__(
        self,
        pool: Pool,
        dask: DaskTaskRunner | None = None,
        api_url: str | None = None,
        ready: Callable[[], None] = lambda: None,
    ) -> None:
        self.pool, self.dask, self.api_url, self.ready = pool, dask, api_url, ready
        self.logger = get_run_logger()

    def one(self, name: str, fn: Callable, *args: Any, retries: int = 0) -> Any:
        return _step.with_options(name=name, retries=retries)(fn, args)

    def many(self, name: str, fn: Callable, calls: list[tuple], labels: list[str]) -> list:
        if self.dask is not None:
            return self._on_dask(name, fn, calls, labels)
        step = _pooled_step.with_options(name=name)
        futures = [
            step.with_options(task_run_name=f"{name} {label}").submit(self.pool, fn, args)
            for args, label in zip(calls, labels, strict=True)
        ]
        return [f.result() for f in futures]

    def _on_dask(self, name: str, fn: Callable, calls: list[tuple], labels: list[str]) -> list:
        from prefect.settings import PREFECT_API_URL, temporary_settings

        assert self.dask is not None
        self.ready()
        step = _cluster_step.with_options(name=name)
        # Each task carries this process's Prefect settings to its worker: with the API URL in them (a
        # temporary server's too) the worker reports there instead of starting a temporary server of its own.
        with temporary_settings({PREFECT_API_URL: self.api_url}):
            futures = [
                self.dask.submit(step.with_options(task_run_name=f"{name} {label}"), {"fn": fn, "args": args})
                for args, label in zip(calls, labels, strict=True)
            ]
        return [f.result() for f in futures]

    def log(self, message: str) -> None:
        self.logger.info(message)

    def rest(self) -> None:
        rest_pool(self.pool)


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


@contextmanager
def _runner(ctx: RunContext) -> Iterator[PrefectRunner]:
    """Yield the run's PrefectRunner: the worker pool of this machine, or Dask when settings.cluster is set."""
    if not ctx.settings.cluster:
        with worker_pool(ctx.settings.workers) as pool:
            yield PrefectRunner(pool)
        return
    from prefect.context import FlowRunContext
    from prefect_dask import DaskTaskRunner

    from newsetl.cluster import CONNECT_TIMEOUT, LOCAL, DaskPool, cluster_target, ready_workers, warm_workers
    from newsetl.config import ClusterError

    run_context = FlowRunContext.get()
    assert run_context is not None and run_context.client is not None
    api_url = str(run_context.client.api_url).rstrip("/")
    logger = get_run_logger()
    # Workers of a LocalCluster get the API URL in their environment too (Prefect's log shipping reads it there).
    with cluster_target(ctx.settings, env={"PREFECT_API_URL": api_url}) as target:
        if ctx.settings.cluster == LOCAL:
            dask = DaskTaskRunner(cluster=target)
        else:
            dask = DaskTaskRunner(address=str(target), client_kwargs={"timeout": CONNECT_TIMEOUT})
        with dask:
            try:
                client = dask.client
            except (OSError, TimeoutError) as exc:
                raise ClusterError(f"cannot reach the Dask scheduler at {target}: {exc}") from None
            workers = ready_workers(client, ctx, api_url)
            logger.info(workers.line())
            if not workers.unreachable:
                pool = DaskPool(client, warm_workers(client, ("prefect.task_engine",)))
                yield PrefectRunner(pool, dask, api_url, ready=pool.ready)
                return
            logger.warning(
                f"{len(workers.unreachable)} Dask worker(s) cannot reach this flow's Prefect API at {api_url} "
                f"({', '.join(workers.unreachable[:3])}): the per-chunk steps run as plain Dask tasks, each waited "
                "for by a task run in this process. Give the flow a PREFECT_API_URL the workers can reach."
            )
            yield PrefectRunner(DaskPool(client, warm_workers(client)))


@flow(name="daily-ingest", flow_run_name=_run_name, log_prints=True)
def daily_ingest(landing: str | None = None, warehouse: str | None = None, cluster: str | None = None) -> RunSummary:
    """Ingest a landing folder into the warehouse; return the RunSummary (counts of every stage).

    `cluster` (default NEWSETL_CLUSTER): "local" or a Dask scheduler address runs the per-chunk steps as
    task runs on Dask workers (prefect-dask); empty, on this machine's worker pool.

    The run ends Failed when newsetl.summary.broken_input says so (more than
    NEWSETL_MAX_QUARANTINE_SHARE of its records quarantined); what it loaded and quarantined is still
    published, so the reasons can be queried.
    """
    settings = Settings.from_env(landing=landing, warehouse=warehouse, cluster=cluster)
    ctx = new_run(settings)
    with wh.run_lock(Path(ctx.root)), _runner(ctx) as runner:
        summary = run_steps(ctx, runner)
    publish_report(summary)
    problem = broken_input(summary, settings.max_quarantine_share)
    if problem:
        raise BrokenInput(problem, summary)
    return summary
