"""Peak memory of reading a large JSON array with newsetl's reader, against the same records as JSONL.

    python benchmarks/json_array_memory.py                 # 300 MB, in a temporary folder
    python benchmarks/json_array_memory.py --mb 100 --gzip # smaller, gzipped files
    python benchmarks/json_array_memory.py --keep DIR      # keep the generated files in DIR

Each file is read in a fresh process by newsetl.ingest.read_file (every record is mapped, then dropped);
the process reports its peak RSS (VmHWM, Linux) and how far it rose above its RSS after imports. "json (read
whole)" reads the array as newsetl did before streaming (whole file, json.loads), for comparison.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = (
    "harbour ferry island engines repairs timetable passengers tickets winter storms council budget morning "
    "evening bridge station museum library market festival river school mayor residents plan report city "
    "officials opening closing tram line summer weekend service operator company workers union minister"
).split()


def write_corpus(folder: Path, mb: int, gzipped: bool) -> int:
    """Write array.json and lines.jsonl (the same records, ~3.5 KB each) of about `mb` MiB; return the count."""
    rng = random.Random(11)
    pool = [" ".join(rng.choices(WORDS, k=40)).capitalize() + "." for _ in range(3000)]
    opener = gzip.open if gzipped else open
    suffix = ".gz" if gzipped else ""
    n = size = 0
    with (
        opener(folder / f"array.json{suffix}", "wt", encoding="utf-8") as arr,
        opener(folder / f"lines.jsonl{suffix}", "wt", encoding="utf-8") as lines,
    ):
        arr.write("[\n")
        while size < mb << 20:
            rec = {
                "title": f"Report {n}: {' '.join(rng.choices(WORDS, k=6))}",
                "text": "\n\n".join(rng.sample(pool, 12)),
                "url": f"https://news.example/{n}",
                "source": {"id": 3, "name": "Harbour Times"},
                "published_at": 1700000000 + 60 * n,
                "authors": ["A One", "B Two"],
                "tags": ["ferry", "city"],
                "lang": "en",
                "score": round(rng.random(), 3),
            }
            line = json.dumps(rec)
            arr.write(("," if n else "") + line + "\n")
            lines.write(line + "\n")
            size += len(line) + 2
            n += 1
        arr.write("]\n")
    return n


CHILD = """
import sys, time
from pathlib import Path
from newsetl.ingest import DEFAULT_LIMITS, discover_files, read_file
import newsetl.ingest as ingest

def mib(field):  # VmHWM is this process's own peak (ru_maxrss can carry the parent's over exec)
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":")) / 1024

folder, name, whole = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
entry = next(e for e in discover_files(folder) if e.path == name)
base = mib("VmRSS")
t = time.perf_counter()
if whole:  # as before streaming: the file read whole, decoded, json.loads
    items = ingest._guarded(ingest._json_read_whole(entry, DEFAULT_LIMITS, decode_first=False))
else:
    items = read_file(entry)
n = sum(1 for _ in items)
secs = time.perf_counter() - t
print(n, f"{base:.0f}", f"{mib('VmHWM'):.0f}", f"{secs:.1f}")
"""


def measure(folder: Path, name: str, whole: bool = False) -> tuple[int, float, float, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), name, "1" if whole else "0"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]), float(out[1]), float(out[2]), float(out[3])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=300, help="size of each file in MiB (default 300)")
    ap.add_argument("--gzip", action="store_true", help="write and read .json.gz / .jsonl.gz")
    ap.add_argument("--keep", type=Path, help="write the files here and keep them")
    ap.add_argument("--no-whole", action="store_true", help="skip the read-whole comparison")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        n = write_corpus(folder, args.mb, args.gzip)
        suffix = ".gz" if args.gzip else ""
        sizes = {p.name: p.stat().st_size / 2**20 for p in folder.iterdir()}
        print(
            f"{n:,} records written in {time.perf_counter() - t:.0f} s: "
            + ", ".join(f"{k} {v:.0f} MiB" for k, v in sizes.items())
        )
        runs = [("jsonl", f"lines.jsonl{suffix}", False), ("json array (streamed)", f"array.json{suffix}", False)]
        if not args.no_whole:
            runs.append(("json array (read whole, as before)", f"array.json{suffix}", True))
        print(f"{'file':36} {'records':>9} {'RSS after imports':>18} {'peak RSS':>9} {'rise':>9} {'seconds':>8}")
        for label, name, whole in runs:
            count, base, peak, secs = measure(folder, name, whole)
            print(f"{label:36} {count:>9,} {base:>14.0f} MiB {peak:>5.0f} MiB {peak - base:>5.0f} MiB {secs:>8.1f}")


if __name__ == "__main__":
    main()
