"""Benchmark: does a daily run cost what the day costs, whatever the history? (issue 11, item 3)

    python benchmarks/history.py                                # 2,000 new articles over 0, 40,000 and 200,000
    python benchmarks/history.py --history 0 10000 --day 1000   # a quick look

For each history size H the script builds a warehouse of H generated articles the way a deployment
grows one: daily runs of `--per-run` articles (each dated the day after the previous, so runs fill
months and the automatic compaction of each month does its work), published over the same span of
days. Then the same day of `--day` new articles is loaded into a copy of each warehouse, in `--repeat`
rounds that take every size in turn, each run in a fresh process (`run_pipeline` without Prefect, as
`newsetl run --no-prefect` does), and the script prints the median wall time per history size, its
ratio to the empty warehouse's, and the median seconds of each stage. `--keep DIR` keeps what it
built; `--keep DIR --reuse` measures again on it without building.

The day holds exact copies and near copies (a sentence added) of history articles, chosen from the
whole history (the oldest day too): every one must come back as a duplicate of a history article.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402  (benchmarks/bench.py: the article generator)

START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)


def _dated(a: dict, day: datetime, rng: random.Random) -> dict:
    when = day + timedelta(hours=rng.randint(0, 17), minutes=rng.randint(0, 59))
    return a | {"published_at": when.strftime("%Y-%m-%dT%H:%M:00+00:00")}


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    keep = ("title", "text", "url", "source", "published_at", "language")
    path.write_text("\n".join(json.dumps({k: r[k] for k in keep}, ensure_ascii=False) for r in rows) + "\n")


def build_history(
    wh: Path, work: Path, total: int, per_run: int, per_day: int, seed: int
) -> tuple[list[dict], datetime]:
    """Load `total` articles in daily runs of `per_run`; return a sample of them (for copies) and the next day."""
    from newsetl.config import Settings
    from newsetl.pipeline import run_pipeline

    rng = random.Random(seed)
    stories = bench.Stories()
    sample: list[dict] = []
    day, made, run_no = START, 0, 0
    while made < total:
        n = min(per_run, total - made)
        landing = work / f"history-{run_no:04d}"
        rows = []
        for i in range(n):
            a = _dated(bench.article(rng, made + i, stories), day + timedelta(days=i // per_day), rng)
            rows.append(a)
            if len(sample) < 2000:
                sample.append(a)
            elif rng.random() < 2000 / (made + i + 1):
                sample[rng.randrange(2000)] = a  # a uniform sample of the whole history
        _write_jsonl(landing / f"feed-{run_no:04d}.jsonl", rows)  # a new name: the same name is a new version
        ran_on = day + timedelta(days=(n - 1) // per_day, hours=20)
        t = time.perf_counter()
        s = run_pipeline(Settings.from_env(landing=landing, warehouse=wh), now=ran_on)
        print(f"  history run {run_no}: {s.articles_loaded} loaded in {time.perf_counter() - t:.1f} s", flush=True)
        shutil.rmtree(landing)
        made += n
        run_no += 1
        day += timedelta(days=(n - 1) // per_day + 1)
    return sample, day


def make_day(landing: Path, n: int, copies_of: list[dict], day: datetime, seed: int) -> dict:
    """Write the day's landing (bench.py's format mix); return how many exact and near copies of history it holds."""
    rng = random.Random(seed)
    stories = bench.Stories()
    rows: list[dict] = []
    exact = near = 0
    for i in range(n):
        r = rng.random()
        if copies_of and r < 0.05:
            a = dict(rng.choice(copies_of)) | {"url": f"https://copies.example/exact/{i}", "source": "Copy Desk"}
            exact += 1
        elif copies_of and r < 0.10:
            a = bench.near_copy(rng, rng.choice(copies_of))
            a = _dated(a, day, rng) | {"url": f"https://copies.example/near/{i}"}
            near += 1
        else:
            a = _dated(bench.article(rng, 10_000_000 + i, stories), day, rng)
        rows.append(a)
    _write_jsonl(landing / "day" / "feed.jsonl", rows[: n // 2])
    for i, a in enumerate(rows[n // 2 :]):
        sub = landing / "day" / ("text" if i % 3 else "pages")
        sub.mkdir(parents=True, exist_ok=True)
        if i % 3:
            (sub / f"a{i:05d}.txt").write_text(bench.as_text(a, i % 3))
        else:
            (sub / f"p{i:05d}.html").write_text(bench.as_html(a))
    return {"exact": exact, "near": near}


def day_run(landing: Path, wh: Path, now: datetime) -> dict:
    """Run the day into `wh` in a fresh process; return wall seconds, stage seconds and copies of history caught."""
    code = (
        "import json, sys, time; t = time.perf_counter()\n"
        "from datetime import datetime\n"
        "from newsetl.config import Settings\n"
        "from newsetl.pipeline import run_pipeline\n"
        f"s = run_pipeline(Settings.from_env(landing={str(landing)!r}, warehouse={str(wh)!r}), "
        f"now=datetime.fromisoformat({now.isoformat()!r}))\n"
        "print(json.dumps({'run_id': s.run_id, 'in_process_s': time.perf_counter() - t, "
        "'stages': s.stage_seconds, 'loaded': s.articles_loaded}))\n"
    )
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t
    res = json.loads(out.stdout.strip().splitlines()[-1])
    from newsetl.warehouse import connect

    con = connect(wh, reports=False)
    try:
        caught = con.execute(
            "SELECT d.method, count(*) FROM duplicates d JOIN articles a ON a.article_id = d.duplicate_of "
            "WHERE d.run_id = ? AND a.run_id <> ? GROUP BY 1",
            [res["run_id"], res["run_id"]],
        ).fetchall()
    finally:
        con.close()
    return res | {"wall_s": wall, "history_copies_caught": dict(caught)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--history", type=int, nargs="+", default=[0, 40000, 200000])
    ap.add_argument("--day", type=int, default=2000, help="new articles in the measured run")
    ap.add_argument("--per-run", type=int, default=10000, help="articles per history run")
    ap.add_argument("--per-day", type=int, default=2000, help="history articles published per day")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, default=None, help="build under this folder and keep it")
    ap.add_argument("--reuse", action="store_true", help="with --keep: reuse warehouses an earlier --keep run built")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="newsetl-history-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict[int, dict] = {}
    try:
        for h in sorted(args.history):
            base, landing, made = work / f"wh-{h}", work / f"day-{h}", work / f"day-{h}.json"
            if args.reuse and made.exists():
                print(f"history {h:,}: reusing {base}", flush=True)
                results[h] = json.loads(made.read_text()) | {"runs": []}
                continue
            print(f"history {h:,}:", flush=True)
            shutil.rmtree(base, ignore_errors=True)
            shutil.rmtree(landing, ignore_errors=True)
            t = time.perf_counter()
            sample, day = build_history(base, work, h, args.per_run, args.per_day, seed=11)
            build_s = time.perf_counter() - t
            base.mkdir(parents=True, exist_ok=True)
            planted = make_day(landing, args.day, sample, day, seed=23)
            results[h] = {
                "history": h,
                "build_s": build_s,
                "planted": planted,
                "now": (day + timedelta(hours=20)).isoformat(),
            }
            made.write_text(json.dumps(results[h]))
            results[h]["runs"] = []
        # Rounds over every size in turn: a machine that slows down for a while slows every size alike.
        for r in range(args.repeat):
            for h, res in results.items():
                wh = work / f"wh-{h}-try{r}"
                shutil.rmtree(wh, ignore_errors=True)
                shutil.copytree(work / f"wh-{h}", wh)
                os.sync()  # the copy's writeback is set-up, not part of the measured run
                res["runs"].append(day_run(work / f"day-{h}", wh, datetime.fromisoformat(res["now"])))
                shutil.rmtree(wh)
                print(
                    f"  round {r}, history {h:,}: {res['runs'][-1]['wall_s']:.1f} s, copies of history caught "
                    f"{res['runs'][-1]['history_copies_caught']} of {res['planted']}",
                    flush=True,
                )
        for res in results.values():
            res["wall_s"] = statistics.median(x["wall_s"] for x in res["runs"])
            res["in_process_s"] = statistics.median(x["in_process_s"] for x in res["runs"])
            res["stages"] = {
                k: statistics.median(x["stages"].get(k, 0.0) for x in res["runs"]) for k in res["runs"][0]["stages"]
            }
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    base_s = results[min(results)]["wall_s"]
    print(f"\n{'history':>9} {'day run (median)':>17} {'in process':>11} {'ratio':>6}  copies of history caught")
    for h, r in results.items():
        last = r["runs"][-1]
        print(
            f"{h:>9,} {r['wall_s']:>15.1f} s {r['in_process_s']:>9.1f} s {r['wall_s'] / base_s:>5.2f}x  "
            f"{last['history_copies_caught']} of {r['planted']}"
        )
    print("\nstage medians (s):")
    for h, r in results.items():
        print(f"{h:>9,}  " + "  ".join(f"{k} {v:.2f}" for k, v in r["stages"].items()))
    if args.json:
        print(json.dumps(results, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
