"""Two runs at once: the second exits at once with a clear message; the warehouse stays consistent."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time

import pytest

from conftest import accounting, q, random_text

pytestmark = pytest.mark.slow


def test_second_run_exits_at_once_while_the_first_completes(tmp_path):
    """While one run holds the warehouse, another exits with status 3 and a one-line message."""
    rng = random.Random(3)
    landing = tmp_path / "landing"
    landing.mkdir()
    for f in range(6):
        with (landing / f"feed-{f}.jsonl").open("w") as fh:
            for i in range(250):
                text = random_text(rng, sentences=10)
                fh.write(json.dumps({"title": f"S {f}-{i}", "text": text, "lang": "en", "source": "Harbour Times"}))
                fh.write("\n")
    wh = tmp_path / "warehouse"
    cmd = [sys.executable, "-m", "newsetl.cli", "run", "--no-prefect", "--quiet", str(landing), "--warehouse", str(wh)]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Wait until the first run has taken the lock (its `running` row is written under it).
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(wh.glob("runs/ingest_date=*/*-start.parquet")):
        time.sleep(0.2)
    started = time.monotonic()
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert second.returncode == 3, second.stderr
    err = second.stderr.strip()
    assert "another newsetl run" in err and "\n" not in err
    assert time.monotonic() - started < 30, "the second run must not wait for the first"
    out, errs = first.communicate(timeout=600)
    assert first.returncode == 0, errs[-2000:]
    assert q(wh, "SELECT status, records_in FROM runs") == [("completed", 1500)]
    assert accounting(wh) == (1500, 1500)
