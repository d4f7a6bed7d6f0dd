"""Crash safety: SIGKILL the ingest process at many points, re-run, and find the warehouse exactly right."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import accounting, q, random_text

pytestmark = pytest.mark.slow

# Where newsetl.faults.fault can kill the process, in run order.
KILL_POINTS = [
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
]
SETTINGS = {"NEWSETL_WORKERS": "1", "NEWSETL_BATCH_SIZE": "40"}


def _day2(root: Path, samples: Path) -> Path:
    """Day two: new stories, copies of day one's, and a few broken lines, in several files."""
    rng = random.Random(2)
    root.mkdir()
    earlier = [
        json.loads(ln)
        for ln in (samples / "feeds" / "wire-2026-11-20.jsonl").read_text().splitlines()
        if ln.startswith("{") and ln.endswith("}")
    ]
    for f in range(4):
        lines = []
        for i in range(60):
            text = random_text(rng)
            lines.append(
                json.dumps(
                    {
                        "title": f"Day two {f}-{i}",
                        "text": text,
                        "source": "Harbour Times",
                        "lang": "en",
                        "published_at": "2026-11-21T08:00:00Z",
                    }
                )
            )
        lines.append(json.dumps(earlier[f % len(earlier)], ensure_ascii=False))  # a copy of day one
        lines.append("{broken")
        (root / f"day2-{f}.jsonl").write_text("\n".join(lines))
    return root


def _state(wh: Path) -> dict[str, set]:
    """Where every record is: {table: {(source_file, record_no)}} over the visible warehouse."""
    return {
        t: set(q(wh, f"SELECT source_file, record_no FROM {t}")) for t in ("articles_all", "duplicates", "quarantine")
    } | {"files": set(q(wh, "SELECT path, sha256, status FROM files"))}


def _run_cli(landing: Path, wh: Path, fault: str | None, **settings: str) -> subprocess.CompletedProcess:
    env = os.environ | SETTINGS | settings
    env.pop("NEWSETL_FAULT_AT", None)
    if fault:
        env["NEWSETL_FAULT_AT"] = fault
    return subprocess.run(
        [sys.executable, "-m", "newsetl.cli", "run", "--no-prefect", "--quiet", str(landing), "--warehouse", str(wh)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_kill_at_every_point_then_rerun(samples, tmp_path, run, monkeypatch):
    """After a SIGKILL anywhere, readers see the last complete state; a re-run lands exactly the reference."""
    for k, v in SETTINGS.items():
        monkeypatch.setenv(k, v)
    day2 = _day2(tmp_path / "day2", samples)
    base, ref = tmp_path / "base", tmp_path / "ref"
    run(samples, base)
    before = _state(base)
    shutil.copytree(base, ref)
    run(day2, ref)
    expected = _state(ref)
    assert len(expected["articles_all"]) > len(before["articles_all"])
    assert len(expected["duplicates"]) > len(before["duplicates"])

    checked = 0
    for point in KILL_POINTS:
        wh = tmp_path / f"wh-{point}"
        shutil.copytree(base, wh)
        killed = _run_cli(day2, wh, point)
        assert killed.returncode == -9, (point, killed.returncode, killed.stderr[-2000:])
        # Readers see the state before the run, or (killed after the commit) the state after it.
        assert _state(wh) == (expected if point == "after_commit" else before), point
        statuses = dict(q(wh, "SELECT run_id, status FROM runs"))
        assert sorted(statuses.values()) == (["completed"] * 2 if point == "after_commit" else ["completed", "running"])

        again = run(day2, wh)
        assert again.status == "completed"
        got = _state(wh)
        assert got == expected, point
        read, landed = accounting(wh)
        assert read == landed == sum(len(v) for k, v in got.items() if k != "files"), point
        assert q(
            wh, "SELECT count(*) = count(DISTINCT article_id), count(*) = count(DISTINCT text_hash) FROM articles"
        ) == [(True, True)], point
        final = sorted(dict(q(wh, "SELECT run_id, status FROM runs")).values())
        assert final == (["completed"] * 3 if point == "after_commit" else ["completed", "completed", "incomplete"])
        leftovers = [p for p in wh.rglob("*") if p.name.endswith(".tmp") or "_staging" in p.parts[len(wh.parts) :][:1]]
        assert not [p for p in leftovers if p.is_file()], leftovers
        checked += landed
    print(f"kill points: {len(KILL_POINTS)}; records checked after re-runs: {checked}")


def test_killed_worker_fails_the_run_cleanly(samples, tmp_path):
    """A worker process SIGKILLed mid-parse fails the run (recorded `failed`); nothing becomes visible."""
    wh = tmp_path / "wh"
    two_workers = {"NEWSETL_WORKERS": "2", "NEWSETL_BATCH_SIZE": "5"}
    proc = _run_cli(samples, wh, "mid_parse", **two_workers)
    assert proc.returncode == 1, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("newsetl: error: a worker process died") and "nothing was published" in last
    assert q(wh, "SELECT status FROM runs") == [("failed",)]
    assert q(wh, "SELECT count(*) FROM articles_all")[0][0] == 0
    again = _run_cli(samples, wh, None, **two_workers)
    assert again.returncode == 0, again.stderr[-2000:]
    assert q(wh, "SELECT count(*) FROM articles")[0][0] == 15


def test_fault_points_are_the_library_s():
    """The kill points tested above are every fault point the library has, in run order."""
    from newsetl.faults import POINTS

    assert tuple(KILL_POINTS) == POINTS


def test_workers_die_with_a_killed_run_and_write_nothing_after(tmp_path):
    """SIGKILL of `newsetl run` mid-parse: its worker processes exit within seconds and touch nothing afterwards."""
    import signal
    import time

    import psutil

    rng = random.Random(7)
    landing = tmp_path / "landing"
    landing.mkdir()
    for f in range(24):
        rows = [json.dumps({"title": f"Story {f}-{i}", "text": random_text(rng, sentences=10)}) for i in range(250)]
        (landing / f"feed-{f}.jsonl").write_text("\n".join(rows))
    wh = tmp_path / "wh"
    env = os.environ | {"NEWSETL_WORKERS": "2", "NEWSETL_BATCH_SIZE": "100"}
    env.pop("NEWSETL_FAULT_AT", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsetl.cli", "run", "--no-prefect", "--quiet", str(landing), "--warehouse", str(wh)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 120
    workers: list[psutil.Process] = []
    while time.monotonic() < deadline:
        workers = [c for c in parent.children(recursive=True) if "multiprocessing" in " ".join(c.cmdline())]
        if len(workers) >= 2 and list((wh / "_staging").glob("*/clean/*.parquet")):
            break
        time.sleep(0.05)
    assert len(workers) >= 2, "the run never started its workers mid-parse"
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, f"workers outlived their run: {[p.pid for p in alive]}"

    def snapshot() -> dict[str, tuple[int, int]]:
        return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in wh.rglob("*") if p.is_file()}

    before = snapshot()
    time.sleep(2)
    assert snapshot() == before, "something wrote into the warehouse after its run was killed"
    again = _run_cli(landing, wh, None, NEWSETL_WORKERS="2")
    assert again.returncode == 0, again.stderr[-2000:]
    assert q(wh, "SELECT count(*) FROM articles")[0][0] == 24 * 250
