"""Benchmark `newsetl run` with and without `--cluster local`: wall time, stage seconds, same warehouse.

    python benchmarks/cluster_bench.py                    # the bundled samples, 2 rounds
    python benchmarks/cluster_bench.py --articles 4000    # bench.py's generated corpus of 4,000 articles

Each round runs `newsetl run --quiet` as a fresh process (what a user or a scheduler starts), once on
this machine's worker pool and once with `--cluster local` (a LocalCluster of NEWSETL_WORKERS
processes started and stopped by the run), in alternating order, each into an empty warehouse. All runs
report to one Prefect server started here, so no run pays for a temporary server. CPU seconds are the
run process's and its workers' (the LocalCluster's workers are its children), a figure that moves less
than wall time on a shared machine. The warehouses of every run are compared view by view (run ids and
run start times aside) and must be identical.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(landing: Path, wh: Path, cluster: str | None, env: dict[str, str]) -> dict:
    cmd = [sys.executable, "-m", "newsetl.cli", "run", "--quiet", str(landing), "--warehouse", str(wh)]
    if cluster:
        cmd += ["--cluster", cluster]
    t, cpu = time.perf_counter(), _children_cpu()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    wall, cpu = time.perf_counter() - t, _children_cpu() - cpu
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    from newsetl.warehouse import connect

    con = connect(wh)
    try:
        records, seconds = con.execute("SELECT records_in, stage_seconds FROM runs").fetchone()
    finally:
        con.close()
    stages = json.loads(seconds) if isinstance(seconds, str) else seconds
    return {"wall": wall, "cpu": cpu, "records": records, "stages": stages}


def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes, theirs included (the run's workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=0, help="generate this many articles (default: the samples)")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()

    from newsetl.config import SAMPLES
    from newsetl_flows.serve import api_url, prefect_env, start_server, stop_server
    from test_cluster import snapshot

    base = Path(tempfile.mkdtemp(prefix="newsetl-cluster-bench-"))
    os.environ["PREFECT_HOME"] = str(base / "prefect")
    port = _free_port()
    server = start_server("127.0.0.1", port)
    env = os.environ | prefect_env(api_url("127.0.0.1", port))
    try:
        if args.articles:
            from bench import generate

            landing = base / "landing"
            generate(landing, args.articles)
        else:
            landing = SAMPLES
        size = sum(p.stat().st_size for p in landing.rglob("*") if p.is_file())
        print(f"corpus: {landing} ({size / 1e6:.1f} MB), workers {env.get('NEWSETL_WORKERS', 'default')}")
        results: dict[str, list[dict]] = {"pool": [], "cluster local": []}
        first = None
        for i in range(args.rounds):
            order = ["pool", "cluster local"] if i % 2 == 0 else ["cluster local", "pool"]
            for mode in order:
                wh = base / f"wh-{i}-{mode.replace(' ', '-')}"
                r = _run(landing, wh, "local" if mode != "pool" else None, env)
                results[mode].append(r)
                stages = ", ".join(f"{k} {v:.2f}" for k, v in r["stages"].items())
                print(
                    f"round {i + 1} {mode:13s} {r['wall']:7.1f} s wall, {r['cpu']:7.1f} s CPU, "
                    f"{r['records']} records; {stages}"
                )
                shot = snapshot(wh)
                first = first or shot
                assert shot == first, f"the warehouse of round {i + 1} ({mode}) differs from the first run's"
        print(f"\nevery run's warehouse identical (view by view) over {2 * args.rounds} runs")
        for mode, rs in results.items():
            walls, cpus = [r["wall"] for r in rs], [r["cpu"] for r in rs]
            per_stage = {k: statistics.median(r["stages"][k] for r in rs) for k in rs[0]["stages"]}
            n = rs[0]["records"]
            print(
                f"{mode:13s} median {statistics.median(walls):6.1f} s wall ({n / statistics.median(walls):.0f} "
                f"articles/s), {statistics.median(cpus):6.1f} s CPU; parse_clean {per_stage['parse_clean']:.2f} s, language_source "
                f"{per_stage['language_source']:.2f} s"
            )
    finally:
        stop_server(server)
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
