"""Runners: how a run's steps are executed, plainly here or as Prefect tasks (flows/daily_ingest.py).

The per-chunk steps (parse, tag) are CPU-bound and run on a worker pool of spawned processes (or on a
Dask cluster: newsetl.cluster); the single-writer steps (begin, plan, dedup, validate, publish) run in
the calling process.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing import get_context
from typing import Any, Protocol


class Runner(Protocol):
    """Executes steps: `one` in this process, `many` as parallel calls of one step (labels name them)."""

    def one(self, name: str, fn: Callable, *args: Any, retries: int = 0) -> Any: ...

    def many(self, name: str, fn: Callable, calls: list[tuple], labels: list[str]) -> list: ...

    def log(self, message: str) -> None: ...

    def rest(self) -> None:
        """The per-chunk steps are done: the workers' memory may go back (they start again if needed)."""


class Pool(Protocol):
    """Where the per-chunk steps run: the WorkerPool here, or newsetl.cluster.DaskPool."""

    def call(self, fn: Callable, args: tuple) -> Any: ...

    def map(self, fn: Callable, calls: list[tuple]) -> list: ...


class LocalRunner:
    """Runs steps in this process and the per-chunk steps on `pool`."""

    def __init__(self, pool: Pool, log: Callable[[str], None] = lambda m: None) -> None:
        self.pool, self._log = pool, log

    def one(self, name: str, fn: Callable, *args: Any, retries: int = 0) -> Any:
        return fn(*args)

    def many(self, name: str, fn: Callable, calls: list[tuple], labels: list[str]) -> list:
        return self.pool.map(fn, calls)

    def log(self, message: str) -> None:
        self._log(message)

    def rest(self) -> None:
        rest_pool(self.pool)


def rest_pool(pool: Pool) -> None:
    """Stop a pool's worker processes until it is used again (WorkerPool.rest; other pools keep theirs)."""
    rest = getattr(pool, "rest", None)
    if rest is not None:
        rest()


def release_memory(collect: bool = True) -> None:
    """Hand this process's freed memory back to the system: Python's (glibc malloc_trim) and Arrow's pool.

    After a step that held a large run's keys or stories, the next steps then start from a smaller
    process instead of one whose heap kept every page it ever used. collect=False: without a garbage
    collection first (for a loop that frees Arrow buffers, where a full collection would cost the most).
    """
    import contextlib
    import ctypes
    import gc

    import pyarrow as pa

    if collect:
        gc.collect()
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


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


class WorkerPool:
    """A process pool whose broken workers can be replaced (a worker killed for overrunning a file's time limit).

    A step may say that a dead worker is recoverable: `fn.on_broken_worker(*args)` returns True when the
    step left word of why its worker died (parse: the file that overran) and a new attempt will not repeat
    it. Then the pool is replaced and the unfinished calls run again; otherwise BrokenProcessPool stands.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._lock = threading.Lock()
        self._live: Executor | None = self._new()

    @property
    def _pool(self) -> Executor:
        with self._lock:
            if self._live is None:
                self._live = self._new()
            return self._live

    def rest(self) -> None:
        """Stop the worker processes (their memory goes back); the next call starts new ones."""
        with self._lock:
            live, self._live = self._live, None
        if live is not None:
            live.shutdown(wait=True, cancel_futures=True)

    def _new(self) -> Executor:
        if self.workers <= 1:
            return _InlineExecutor()
        return ProcessPoolExecutor(
            max_workers=self.workers, mp_context=get_context("spawn"), initializer=_die_with, initargs=(os.getpid(),)
        )

    def submit(self, fn: Callable, /, *args: Any) -> Future:
        return self._pool.submit(fn, *args)

    def _replace(self, broken: Executor) -> None:
        with self._lock:
            if self._live is broken:
                self._live = self._new()
                broken.shutdown(wait=False, cancel_futures=True)

    def _recoverable(self, fn: Callable, args: tuple) -> bool:
        check = getattr(fn, "on_broken_worker", None)
        return bool(check and check(*args))

    def call(self, fn: Callable, args: tuple, attempts: int = 6) -> Any:
        """Run fn(*args) on a worker and return its result, replacing the pool when the step can recover."""
        for _ in range(attempts):
            pool = self._pool
            try:
                return pool.submit(fn, *args).result()
            except BrokenProcessPool:
                if not self._recoverable(fn, args):
                    raise
                self._replace(pool)
        raise BrokenProcessPool(f"workers kept dying after {attempts} replacements")

    def map(self, fn: Callable, calls: list[tuple], attempts: int = 6) -> list:
        """Run fn on every argument tuple in parallel; return the results in order (see `call`)."""
        results: dict[int, Any] = {}
        todo = list(range(len(calls)))
        for _ in range(attempts):
            pool = self._pool
            futures = {i: pool.submit(fn, *calls[i]) for i in todo}
            broken: list[int] = []
            for i, fut in futures.items():
                try:
                    results[i] = fut.result()
                except BrokenProcessPool:
                    broken.append(i)
            if not broken:
                return [results[i] for i in range(len(calls))]
            if not any(self._recoverable(fn, calls[i]) for i in broken):
                raise BrokenProcessPool("a worker process died")
            self._replace(pool)
            todo = broken
        raise BrokenProcessPool(f"workers kept dying after {attempts} replacements")

    def shutdown(self) -> None:
        self.rest()


@contextmanager
def worker_pool(workers: int) -> Iterator[WorkerPool]:
    """Yield the pool for the CPU-bound steps: `workers` spawned processes, or inline when 1."""
    pool = WorkerPool(workers)
    try:
        yield pool
    finally:
        pool.shutdown()
