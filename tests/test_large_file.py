"""A very large landing file (>= 200 MB) is streamed: the run completes and memory stays bounded."""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import VOCAB, accounting, q

pytestmark = pytest.mark.slow

TARGET_BYTES = 200 * 2**20


def _write_big_jsonl(path: Path) -> int:
    """Write >= 200 MB of JSONL: ~50 KB articles built from a pool of paragraphs; return the record count."""
    rng = random.Random(5)
    pool = [" ".join(rng.choices(VOCAB, k=160)).capitalize() + "." for _ in range(3000)]
    n = size = 0
    with path.open("w") as fh:
        while size < TARGET_BYTES:
            body = "\n\n".join(rng.sample(pool, 48))
            line = json.dumps(
                {
                    "title": f"Long report {n}",
                    "text": body,
                    "source": "Harbour Times",
                    "lang": "en",
                    "published_at": "2026-11-20T06:00:00Z",
                }
            )
            fh.write(line + "\n")
            size += len(line) + 1
            n += 1
        fh.write('{"title": "the last line was cut off by the scraper", "text": "abc\n')
    return n + 1


def test_200mb_file_streams_in_bounded_memory(tmp_path):
    """A 200 MB JSONL file loads in full in batches; the biggest process stays far below the file size x 3."""
    landing = tmp_path / "landing"
    landing.mkdir()
    records = _write_big_jsonl(landing / "huge.jsonl")
    size = (landing / "huge.jsonl").stat().st_size
    assert size >= TARGET_BYTES
    wh = tmp_path / "warehouse"
    proc = subprocess.run(
        [sys.executable, "-m", "newsetl.cli", "run", "--no-prefect", "--quiet", str(landing), "--warehouse", str(wh)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"file {size / 2**20:.0f} MiB, {records} records; peak RSS of the largest process {peak_mib:.0f} MiB")
    assert q(wh, "SELECT status, record_count FROM files") == [("loaded", records)]
    assert q(wh, "SELECT count(*) FROM articles")[0][0] == records - 1
    assert q(wh, "SELECT reason FROM quarantine") == [("malformed_json",)]
    assert accounting(wh) == (records, records)
    assert peak_mib < 1024, f"peak RSS {peak_mib:.0f} MiB for a {size / 2**20:.0f} MiB file"
