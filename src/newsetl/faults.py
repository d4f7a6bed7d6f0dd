"""Crash-test fault points: the places where a test may SIGKILL a run, named in run order."""

from __future__ import annotations

import os
import signal

# Every point `fault` is called with, in the order a run reaches them (tests/test_crash.py kills at each).
POINTS = (
    "after_begin",
    "after_discover",
    "mid_parse",
    "after_parse",
    "after_dedup",
    "after_tag",
    "after_validate",
    "mid_publish",
    "before_commit",
    "after_commit",
)
# ...and the points of a compaction (newsetl.compaction), in order (tests/test_compact.py kills at each).
COMPACT_POINTS = (
    "mid_compact",
    "before_compact_commit",
    "mid_compact_commit",
    "after_compact_commit",
    "mid_retire",
)
ENV = "NEWSETL_FAULT_AT"


def fault(point: str) -> None:
    """SIGKILL this process at `point` when NEWSETL_FAULT_AT names it (a no-op otherwise)."""
    if point not in POINTS and point not in COMPACT_POINTS:
        raise ValueError(f"unknown fault point {point!r}")
    if os.environ.get(ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


STALL_ENV = "NEWSETL_STALL_ON"


def stall(name: str) -> None:
    """Hang for an hour when NEWSETL_STALL_ON names this landing file (tests of the per-file time limit)."""
    if os.environ.get(STALL_ENV) == name:
        import time

        time.sleep(3600)
