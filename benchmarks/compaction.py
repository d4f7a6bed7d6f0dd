"""Compaction benchmark: files and query times on a warehouse of many small daily runs, before and after.

    python benchmarks/compaction.py --runs 60 --articles 40

Builds a warehouse from `--runs` daily runs (one a day, generated JSONL articles with a few copies of
earlier ones and a broken line, automatic compaction off), then times typical queries through the
views (in-memory, as `newsetl query` runs them, and through the catalog file), compacts with
`newsetl compact --grace 0`, and times them again. Also times the run of one more day on a copy of
each warehouse, the cost the next daily run pays for the history it reads.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

QUERIES = {
    "count articles": "SELECT count(*) FROM articles",
    "articles per outlet": "SELECT outlet_name, count(*) FROM articles GROUP BY 1 ORDER BY 2 DESC",
    "duplicates join articles": (
        "SELECT a.outlet_name, count(*) FROM duplicates d JOIN articles a ON a.article_id = d.duplicate_of GROUP BY 1"
    ),
}
WORDS = (
    "harbour ferry island engines repairs timetable passengers tickets winter storms council budget morning "
    "evening bridge station museum library market festival river school mayor residents plan report city "
    "officials opening closing tram line summer weekend service operator company workers union minister"
).split()
OUTLETS = ["Harbour Times", "Evening Post", "The Ferry", "River Daily", "Tram Gazette"]
START = datetime(2026, 6, 1, 8, tzinfo=UTC)


def _text(rng: random.Random) -> str:
    return " ".join(" ".join(rng.choices(WORDS, k=12)).capitalize() + "." for _ in range(8))


def _day(landing: Path, day: int, n: int, rng: random.Random, earlier: list[dict]) -> None:
    when = START + timedelta(days=day)
    rows = [
        {
            "title": f"Day {day} story {i}",
            "text": _text(rng),
            "source": OUTLETS[i % len(OUTLETS)],
            "lang": "en",
            "published_at": (when - timedelta(minutes=i)).isoformat(),
        }
        for i in range(n)
    ]
    copies = [
        r | {"title": r["title"] + " (again)", "source": "Wire copy"} for r in rng.sample(earlier, min(2, len(earlier)))
    ]
    lines = [json.dumps(r) for r in rows + copies] + ["{broken"]
    (landing / f"day-{day:03d}.jsonl").write_text("\n".join(lines))
    earlier += rows


def build(root: Path, runs: int, articles: int) -> tuple[Path, Path]:
    from newsetl.config import Settings
    from newsetl.pipeline import run_pipeline

    landing, wh = root / "landing", root / "warehouse"
    landing.mkdir(parents=True)
    rng, earlier = random.Random(1), []
    t = time.perf_counter()
    for day in range(runs):
        _day(landing, day, articles, rng, earlier)
        s = run_pipeline(
            Settings.from_env(landing=landing, warehouse=wh, workers=1, compact_min_parts=0),
            now=START + timedelta(days=day, hours=4),
        )
        assert s.status == "completed", s.message
        if day % 10 == 9:
            print(f"  built {day + 1} runs in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return landing, wh


def _files(wh: Path) -> int:
    """Return the number of published parts (the schema and registry files, one per table, not counted)."""
    return sum(1 for _ in wh.glob("*/ingest_date=*/*.parquet"))


def _median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def measure(wh: Path, repeat: int) -> dict[str, float]:
    """Return median seconds per query: through newsetl's in-memory views (connect included) and the catalog file."""
    import duckdb

    from newsetl.query import run_query

    out = {}
    for name, sql in QUERIES.items():
        out[f"{name} (newsetl query)"] = _median(lambda sql=sql: run_query(wh, sql), repeat)
        with duckdb.connect(str(wh / "newsetl.duckdb"), read_only=True) as con:
            out[f"{name} (catalog file)"] = _median(lambda sql=sql, con=con: con.execute(sql).fetchall(), repeat)
    return out


def next_run_seconds(landing: Path, wh: Path, day: int, articles: int) -> float:
    """Return the seconds one more daily run takes on a copy of `wh` (the copy is removed)."""
    from newsetl.config import Settings
    from newsetl.pipeline import run_pipeline

    with tempfile.TemporaryDirectory(prefix="newsetl-bench-") as tmp:
        lcopy, wcopy = Path(tmp) / "landing", Path(tmp) / "warehouse"
        shutil.copytree(landing, lcopy)
        shutil.copytree(wh, wcopy, symlinks=True)
        _day(lcopy, day, articles, random.Random(day), [])
        t = time.perf_counter()
        run_pipeline(
            Settings.from_env(landing=lcopy, warehouse=wcopy, workers=1, compact_min_parts=0),
            now=START + timedelta(days=day, hours=4),
        )
        return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--articles", type=int, default=40, help="new articles per run")
    ap.add_argument("--repeat", type=int, default=5, help="times each query runs (the median is shown)")
    ap.add_argument("--keep", type=Path, help="build the warehouse here and keep it (default: a temporary folder)")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="newsetl-compaction-"))
    try:
        t = time.perf_counter()
        landing, wh = build(root, args.runs, args.articles)
        build_s = time.perf_counter() - t
        before_files, before = _files(wh), measure(wh, args.repeat)
        run_before = next_run_seconds(landing, wh, args.runs, args.articles)
        t = time.perf_counter()
        cmd = [sys.executable, "-m", "newsetl.cli", "compact", "--grace", "0", "--warehouse", str(wh)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
        compact_s = time.perf_counter() - t
        after_files, after = _files(wh), measure(wh, args.repeat)
        run_after = next_run_seconds(landing, wh, args.runs, args.articles)
        print(f"{args.runs} daily runs of {args.articles} articles (+2 copies, 1 broken line) built in {build_s:.0f} s")
        print(f"`newsetl compact --grace 0`: {compact_s:.1f} s (process start included): {done}")
        print(f"\n| | before | after |\n|---|---:|---:|\n| published parts (files) | {before_files} | {after_files} |")
        for key in before:
            print(f"| {key} | {before[key] * 1000:.0f} ms | {after[key] * 1000:.0f} ms |")
        print(f"| one more daily run | {run_before:.1f} s | {run_after:.1f} s |")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
