"""Dask clusters for the per-chunk steps: the LocalCluster a run starts, the checks every worker must pass.

`NEWSETL_CLUSTER` / `--cluster` sends parse_chunk and tag_part to Dask workers; every other step stays in
the run's own process (it holds the warehouse lock and is the one writer). Steps take a RunContext and
paths and return small dataclasses, so they travel as they are; what they read and write is on disk,
so every worker must see the landing folder and the warehouse (staging included) at the same paths:
`ready_workers` checks that, and the newsetl and Python versions, before the run begins.

No Prefect here: flows/daily_ingest.py submits the steps as Prefect tasks through prefect-dask's
DaskTaskRunner; `DaskPool` runs them as plain Dask tasks (the plain pipeline, and the flow when the
workers cannot reach its Prefect API).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
from distributed import Client, Future, LocalCluster

import newsetl
from newsetl.config import ClusterError, Settings
from newsetl.ledger import RunContext

LOCAL = "local"
CONNECT_TIMEOUT = 30.0  # seconds to reach a scheduler
WORKER_WAIT = 60.0  # seconds to wait for a first worker to join a scheduler
WARM_WAIT = 120.0  # seconds the first step waits for the workers' warm-up at most
CHECK_FILE = ".cluster-check-"  # a file the run writes in the warehouse and every worker must read back


def local_cluster_options(workers: int, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return LocalCluster keyword arguments: `workers` single-threaded processes, loopback only, no fixed ports.

    One thread per process: the steps are CPU-bound Python (the GIL). The dashboard is given port 0: with
    dashboard_address=None Dask still takes 8787, and a second run on the machine would collide.
    """
    return {
        "n_workers": workers,
        "threads_per_worker": 1,
        "processes": True,
        "host": "127.0.0.1",
        "scheduler_port": 0,
        "dashboard_address": "127.0.0.1:0",
        "silence_logs": logging.WARNING,
        "env": dict(env or {}),
    }


@contextmanager
def cluster_target(settings: Settings, env: Mapping[str, str] | None = None) -> Iterator[LocalCluster | str]:
    """Yield what a Dask client connects to: a LocalCluster started for the run (closed after it), or the address.

    `env`: variables set in the LocalCluster's worker processes (the flow gives them its Prefect API URL).
    """
    # Dask's INFO lines (every worker and client registering, closing) would drown the run's own log.
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(max(level, logging.WARNING))
    nanny = logging.getLogger("distributed.nanny")
    nanny.addFilter(_slow_exit)
    try:
        if settings.cluster == LOCAL:
            # Dask's nannies give workers MALLOC_TRIM_THRESHOLD_=65536 (return freed memory to the system at
            # once); parsing allocates and frees a lot, and took a quarter to a third more CPU with it here.
            with (
                dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}),
                LocalCluster(**local_cluster_options(settings.workers, env)) as cluster,
            ):
                yield cluster
        else:
            yield settings.cluster
    finally:
        nanny.removeFilter(_slow_exit)
        quiet.setLevel(level)


def _slow_exit(record: logging.LogRecord) -> bool:
    """Drop the nanny's "Worker process still alive after 4.0 seconds, killing" as a LocalCluster stops.

    A worker that has loaded pyarrow, langdetect and Prefect can take seconds to finalise its interpreter
    (in C, after its last task); everything it wrote is on disk by then, so being killed costs nothing.
    """
    return not str(record.msg).startswith("Worker process still alive after")


def connect(target: LocalCluster | str) -> Client:
    """Return a Dask client of `target`; ClusterError when its scheduler does not answer."""
    try:
        return Client(target, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {target}: {exc}") from None


@dataclass
class Workers:
    """The workers a run will use, checked: their addresses and hosts, and which cannot reach the Prefect API."""

    addresses: list[str]
    hosts: list[str]
    api_url: str | None = None
    unreachable: list[str] = field(default_factory=list)  # workers whose request to api_url failed

    def line(self) -> str:
        hosts = sorted(set(self.hosts))
        return f"dask: {len(self.addresses)} workers on {len(hosts)} host(s) ({', '.join(hosts[:5])})"


def ready_workers(client: Client, ctx: RunContext, api_url: str | None = None, wait: float = WORKER_WAIT) -> Workers:
    """Return the cluster's workers once each is checked for this run; raise ClusterError naming what is wrong.

    Every worker must run this newsetl and Python version and see the landing folder and the warehouse:
    a file written into the warehouse here must read back there. With `api_url`, each worker also tries
    the Prefect API (its health check). (The workers of a LocalCluster end with this process, however it
    ends: Dask's worker processes exit when their parent does.)
    """
    try:
        client.wait_for_workers(1, timeout=wait)
    except TimeoutError:
        address = client.scheduler.address if client.scheduler else "?"
        raise ClusterError(
            f"no Dask worker joined the scheduler {address} within {wait:.0f} s: start some with `dask worker {address}`"
        ) from None
    token = secrets.token_hex(8)
    probe = Path(ctx.root) / f"{CHECK_FILE}{token}"
    probe.write_text(token, "utf-8")
    try:
        reports = client.run(check_worker, ctx.landing, str(probe), token, api_url)
    except Exception as exc:  # noqa: BLE001 - a worker without newsetl cannot even unpickle the check
        raise ClusterError(
            f"the Dask workers could not run newsetl's check ({type(exc).__name__}: {exc}); "
            f"every worker needs newsetl {newsetl.__version__} installed"
        ) from None
    finally:
        probe.unlink(missing_ok=True)
    return judge_workers(reports, ctx.landing, ctx.root, api_url)


def check_worker(landing: str, probe: str, token: str, api_url: str | None) -> dict[str, Any]:
    """On a worker: its host, newsetl and Python versions, what it sees of the run's folders, the API's answer."""
    import socket

    try:
        shared = Path(probe).read_text("utf-8") == token
    except OSError:
        shared = False
    return {
        "host": socket.gethostname(),
        "newsetl": newsetl.__version__,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "landing": os.path.isdir(landing) and os.access(landing, os.R_OK | os.X_OK),
        "shared": shared,
        "writable": os.access(Path(probe).parent, os.W_OK | os.X_OK),
        "api": None if api_url is None else reachable(api_url),
    }


def reachable(api_url: str, timeout: float = 3.0) -> bool:
    """Return True when a Prefect API answers its health check at `api_url`."""
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout) as resp:  # noqa: S310
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def judge_workers(reports: Mapping[str, Mapping[str, Any]], landing: str, root: str, api_url: str | None) -> Workers:
    """Return the Workers the reports describe; raise ClusterError listing every worker that cannot run the steps."""
    here = {"newsetl": newsetl.__version__, "python": f"{sys.version_info.major}.{sys.version_info.minor}"}
    problems: list[str] = []
    for address, r in sorted(reports.items()):
        who = f"worker {address} ({r.get('host', '?')})"
        for key, name in (("newsetl", "newsetl"), ("python", "Python")):
            if r.get(key) != here[key]:
                problems.append(f"{who} runs {name} {r.get(key)}, this run {here[key]}")
        if not r.get("landing"):
            problems.append(f"{who} cannot read the landing folder {landing}")
        if not r.get("shared"):
            problems.append(f"{who} does not see this run's warehouse {root} (a file written there did not reach it)")
        elif not r.get("writable"):
            problems.append(f"{who} cannot write into the warehouse {root}")
    if not reports:
        problems.append("the cluster has no workers")
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ClusterError(
            "; ".join(problems[:3]) + more + ". Every worker needs the same newsetl and Python, and the landing "
            "folder and the warehouse on a shared filesystem at the same paths"
        )
    unreachable = [a for a, r in sorted(reports.items()) if api_url is not None and not r.get("api")]
    return Workers(sorted(reports), [str(r.get("host")) for _, r in sorted(reports.items())], api_url, unreachable)


def warm_workers(client: Client, modules: tuple[str, ...] = ()) -> list[Future]:
    """Start loading what the steps need on every worker (one task each); return the tasks' futures.

    A cold worker takes seconds to import pyarrow, trafilatura and langdetect's profiles (and Prefect's task
    engine for `modules`); warming every worker at once, while the run begins and plans, saves paying it in
    the first chunk each worker gets. Hand the futures to DaskPool: it waits for them before the first step
    (and keeps them: Dask cancels released tasks).
    """
    return [
        client.submit(warm_worker, modules, workers=[address], allow_other_workers=True, pure=False)
        for address in sorted(client.scheduler_info(n_workers=-1)["workers"])
    ]


def warm_worker(modules: tuple[str, ...] = ()) -> None:
    """On a worker: import the steps (and `modules`) and load langdetect's profiles."""
    import importlib

    import newsetl.steps  # noqa: F401 - the import is the point
    from newsetl.langid import profiles

    for name in modules:
        importlib.import_module(name)
    profiles()


class DaskPool:
    """The worker pool's interface over a Dask client: each call a plain Dask task (no Prefect on the workers).

    A worker that dies mid-task (killed, or ended by parse's per-file time limit) is replaced by its nanny
    and Dask runs the task again elsewhere; a chunk starts afresh and skips a file that overran its limit.
    """

    def __init__(self, client: Client, warming: list[Future] | None = None) -> None:
        self.client = client
        self._warming = list(warming or [])

    def ready(self, timeout: float = WARM_WAIT) -> None:
        """Wait (once, at most `timeout` seconds) for the workers' warm-up (warm_workers) to end, however it ends.

        A task unpickled on a worker while its warm-up imports the same modules in another thread can
        trip Python's import-lock deadlock detection, so no step is sent before the warm-up is over.
        """
        deadline = time.monotonic() + timeout
        for future in self._warming:
            # A failed warm-up fails again in the step, which reports it; one that never ends is let go.
            with contextlib.suppress(Exception):
                future.exception(timeout=max(0.1, deadline - time.monotonic()))
        self._warming = []  # released: Dask cancels what did not start

    def call(self, fn: Callable, args: tuple) -> Any:
        """Run fn(*args) on a worker and return its result."""
        self.ready()
        return self.client.submit(fn, *args, pure=False).result()

    def map(self, fn: Callable, calls: list[tuple]) -> list:
        """Run fn on every argument tuple on the cluster; return the results in order."""
        self.ready()
        return list(self.client.gather([self.client.submit(fn, *args, pure=False) for args in calls]))


@contextmanager
def dask_pool(ctx: RunContext, log: Callable[[str], None] = lambda m: None) -> Iterator[DaskPool]:
    """Yield a DaskPool on ctx.settings.cluster (a LocalCluster started for the run, or a scheduler), its workers checked."""
    with cluster_target(ctx.settings) as target, connect(target) as client:
        log(ready_workers(client, ctx).line())
        yield DaskPool(client, warm_workers(client))
