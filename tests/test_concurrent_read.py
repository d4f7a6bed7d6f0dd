"""SQL access while a run writes: readers in another process see no errors and no half-published run."""

from __future__ import annotations

import ast
import json
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import random_text

pytestmark = pytest.mark.slow


def _landing(path: Path, n: int, seed: int) -> Path:
    rng = random.Random(seed)
    path.mkdir(parents=True)
    for f in range(n // 250):
        with (path / f"feed-{seed}-{f}.jsonl").open("w") as fh:
            for i in range(250):
                text = random_text(rng, sentences=12, words=14)
                fh.write(
                    json.dumps(
                        {"title": f"Story {seed}-{f}-{i}", "text": text, "lang": "en", "source": "Harbour Times"}
                    )
                    + "\n"
                )
    return path


READER = textwrap.dedent("""
    import sys, time, duckdb
    from pathlib import Path
    from newsetl.warehouse import connect
    wh, stop = Path(sys.argv[1]), Path(sys.argv[2])
    seen, errors, reads = set(), [], 0
    while not stop.exists():
        for kind in ("memory", "catalog"):
            try:
                con = connect(wh) if kind == "memory" else duckdb.connect(str(wh / "newsetl.duckdb"), read_only=True)
                try:
                    n = con.execute("SELECT count(*) FROM articles").fetchone()[0]
                    d = con.execute("SELECT count(*) FROM duplicates").fetchone()[0]
                    seen.add((n, d))
                    reads += 1
                finally:
                    con.close()
            except Exception as exc:
                errors.append(f"{kind}: {type(exc).__name__}: {exc}".splitlines()[0])
        time.sleep(0.05)
    print(reads, len(errors), sorted(seen), errors[:5], sep="\\n")
""")


def test_queries_from_another_process_while_a_run_writes(tmp_path, run):
    """A second process queries (in-memory views and the catalog file, read-only) during a run: no errors."""
    wh = tmp_path / "warehouse"
    first = run(_landing(tmp_path / "day1", 500, 1), wh)
    before = (first.articles_loaded, first.exact_duplicates + first.near_duplicates)
    day2 = _landing(tmp_path / "day2", 3000, 2)
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(wh), str(stop)], stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)
    writer = subprocess.run(
        [sys.executable, "-m", "newsetl.cli", "run", "--no-prefect", "--quiet", str(day2), "--warehouse", str(wh)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    time.sleep(1.0)
    stop.touch()
    out, _ = reader.communicate(timeout=120)
    assert writer.returncode == 0, writer.stderr[-2000:]
    reads, n_errors, seen, errors = out.strip().splitlines()
    assert int(n_errors) == 0, errors
    assert int(reads) >= 10
    from newsetl.warehouse import connect

    con = connect(wh)
    final = con.execute("SELECT count(*) FROM articles").fetchone()[0]
    con.close()
    assert final > before[0]
    counts = {pair[0] for pair in ast.literal_eval(seen)}  # (articles, duplicates) pairs the reader saw
    # Atomic publish: a reader sees the warehouse before the run or after it, never in between.
    assert counts == {before[0], final}, counts
