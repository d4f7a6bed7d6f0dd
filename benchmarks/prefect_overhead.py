"""Benchmark: what Prefect adds to `newsetl run` on the bundled samples (issue 11, item 6).

    python benchmarks/prefect_overhead.py            # 5 rounds
    python benchmarks/prefect_overhead.py --rounds 9

Each round runs, as fresh processes and in rotating order, each into an empty warehouse:

- `newsetl run --no-prefect --quiet` (the plain pipeline);
- `newsetl run --quiet` with a local Prefect server already up (what a machine running `newsetl serve`
  has: the run reuses it, as `newsetl run` does whenever the server answers on NEWSETL_PREFECT_PORT);
- `newsetl run --quiet` with no server up (Prefect's local mode starts a temporary server for the run).

It prints the median wall time of each and the overheads over the plain pipeline.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _newsetl() -> list[str]:
    return [sys.executable, "-m", "newsetl.cli"]


def _timed(args: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    secs = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return secs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from newsetl_flows.serve import api_url, start_server, stop_server

    tmp = Path(tempfile.mkdtemp(prefix="newsetl-prefect-"))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSETL_"))}
    base |= {"PREFECT_HOME": str(tmp / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    up_port, down_port = _free_port(), _free_port()
    modes = {
        "no_prefect": (["--no-prefect"], base),
        "server_up": ([], base | {"NEWSETL_PREFECT_PORT": str(up_port)}),
        "temporary_server": ([], base | {"NEWSETL_PREFECT_PORT": str(down_port)}),
    }
    times: dict[str, list[float]] = {m: [] for m in modes}
    old = dict(os.environ)
    os.environ.update(base)
    server = start_server("127.0.0.1", up_port)
    os.environ.clear()
    os.environ.update(old)
    try:
        print(f"Prefect server up at {api_url('127.0.0.1', up_port)}", flush=True)
        names = list(modes)
        for r in range(args.rounds):
            for m in names[r % 3 :] + names[: r % 3]:
                extra, env = modes[m]
                wh = tmp / f"wh-{m}-{r}"
                times[m].append(_timed([*_newsetl(), "run", "--quiet", "--warehouse", str(wh), *extra], env))
                shutil.rmtree(wh, ignore_errors=True)
            print(f"round {r}: " + ", ".join(f"{m} {times[m][-1]:.1f} s" for m in names), flush=True)
    finally:
        stop_server(server)
        shutil.rmtree(tmp, ignore_errors=True)
    med = {m: statistics.median(v) for m, v in times.items()}
    # Overhead per round (runs of one round are minutes apart at most): the median of the differences.
    paired = {
        m: statistics.median(a - b for a, b in zip(v, times["no_prefect"], strict=True)) for m, v in times.items()
    }
    print(f"\nmedian of {args.rounds} rounds (machine: {os.cpu_count()} cores)")
    for m, s in med.items():
        print(f"  {m:17s} {s:6.1f} s   overhead over --no-prefect in the same round {paired[m]:+5.1f} s")
    if args.json:
        print(json.dumps({"median_s": med, "overhead_s": paired, "runs_s": times}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
