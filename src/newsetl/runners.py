"""Runners: how a run's steps are executed, plainly here or as Prefect tasks (flows/daily_ingest.py).

The per-chunk steps (parse, tag) are CPU-bound and run on a worker pool of spawned processes; the
single-writer steps (begin, plan, dedup, validate, publish) run in the calling process.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from typing import Any, Protocol


class Runner(Protocol):
    """Executes steps: `one` in this process, `many` as parallel calls of one step (labels name them)."""

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


class _InlineExecutor(Executor):
    """Runs submitted calls at once in this process (workers = 1, and tests)."""

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:  # type: ignore[override]
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            fut.set_exception(exc)
        return fut


def _die_with(parent: int, interval: float = 0.2) -> None:
    """Worker initializer: exit at once when the run's process is gone, however it ended (SIGKILL included).

    A watchdog thread, not PR_SET_PDEATHSIG: that signal follows the parent *thread* that spawned the
    worker, and under Prefect the pool is fed from task threads that come and go.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)  # orphaned: nothing of this run may be written any more

    threading.Thread(target=watch, name="newsetl-die-with-run", daemon=True).start()


@contextmanager
def worker_pool(workers: int) -> Iterator[Executor]:
    """Yield an executor for the CPU-bound steps: `workers` spawned processes, or inline when 1."""
    if workers <= 1:
        yield _InlineExecutor()
        return
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=get_context("spawn"), initializer=_die_with, initargs=(os.getpid(),)
    )
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
