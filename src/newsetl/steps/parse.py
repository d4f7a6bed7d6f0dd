"""Parse step: a chunk of files -> cleaned, fingerprinted STAGED parts and their quarantine (worker process)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from newsetl import warehouse as wh
from newsetl.clean import clean_articles
from newsetl.dedup import fingerprint_columns, minhash_many
from newsetl.faults import fault, stall
from newsetl.ingest import FileChanged, FileEntry, FileError, Issue, Limits, read_file, record_id
from newsetl.ledger import RunContext
from newsetl.schema import (
    FILES,
    QUARANTINE,
    RAW,
    STAGED,
    conform,
    from_rows,
    with_columns,
)
from newsetl.steps.plan import file_row


@dataclass
class ChunkResult:
    """What parse_chunk read and wrote: counts, the cleaned parts, their quarantine parts, file rows."""

    records_in: int = 0
    parse_quarantined: int = 0
    clean_quarantined: int = 0
    parts: list[str] = field(default_factory=list)  # STAGED parts, in write order
    quarantine: list[str] = field(default_factory=list)  # QUARANTINE parts (parse and clean rejects)
    reasons: Counter[str] = field(default_factory=Counter)  # quarantine reason -> records
    files: pa.Table = field(default_factory=FILES.empty_table)  # a FILES row per file of the chunk


def parse_chunk(ctx: RunContext, chunk_no: int, chunk: list[tuple[int, FileEntry]]) -> ChunkResult:
    """Read, clean and fingerprint one chunk of files into staged parts; return what it wrote.

    Records are flushed in batches of at most settings.batch_size records or batch_bytes of text,
    so a huge file is streamed through in bounded memory.
    """
    s = ctx.settings
    res = ChunkResult()
    _remove_earlier_attempt(ctx, chunk_no)  # a retry or a replaced worker starts the chunk afresh
    overran = _timed_out(ctx)
    watch = _Watchdog(ctx, s.file_timeout) if multiprocessing.parent_process() is not None else None
    raw: list[dict] = []
    issues: list[dict] = []
    pending_bytes = 0
    flushed_files: set[str] = set()  # files with records already written to a staged part

    def flush() -> None:
        nonlocal pending_bytes
        if raw or issues:
            flushed_files.update(r["source_file"] for r in raw + issues)
            _write_parsed(ctx, chunk_no, raw, issues, res)
        raw.clear()
        issues.clear()
        pending_bytes = 0

    voided: set[str] = set()
    file_rows: list[dict] = []
    limits = Limits(s.max_file_bytes, s.max_record_bytes, s.max_compression_ratio)
    for index, entry in chunk:
        count = 0
        error = None
        status = "loaded"
        if (entry.path, entry.sha256) in overran:
            error = (
                f"timeout: reading took longer than {s.file_timeout} s (NEWSETL_FILE_TIMEOUT); its worker was replaced"
            )
            file_rows.append(file_row(ctx, entry, "failed", 0, error))
            continue
        if watch:
            watch.start(entry)
        try:
            stall(entry.path)
            for item in read_file(entry, limits):
                count += 1
                if isinstance(item, Issue):
                    issues.append(_issue_row(entry, item))
                else:
                    item["_order"] = (index << 32) + item["record_no"]
                    raw.append(item)
                    pending_bytes += len(item.get("text") or "") + len(item.get("title") or "")
                if len(raw) + len(issues) >= ctx.settings.batch_size or pending_bytes >= ctx.settings.batch_bytes:
                    flush()
                    fault("mid_parse")
        except FileChanged as exc:
            # Nothing read from a file that changed under us may stand: set its records aside.
            error, status, count = str(exc), "changed", 0
            raw[:] = [r for r in raw if r["source_file"] != entry.path]
            issues[:] = [r for r in issues if r["source_file"] != entry.path]
            if entry.path in flushed_files:
                voided.add(entry.path)
        except FileError as exc:
            error, status = str(exc), ("partial" if count else "failed")
        except OSError as exc:
            error, status = f"read error: {exc.strerror or exc}", ("partial" if count else "failed")
        except Exception as exc:  # noqa: BLE001 - one file must never stop the run: it becomes its status
            error = f"unexpected error while reading: {type(exc).__name__}: {exc}".splitlines()[0][:300]
            status = "partial" if count else "failed"
        if watch:
            watch.stop()
        res.records_in += count
        file_rows.append(file_row(ctx, entry, status, count, error))
    flush()
    # As Arrow, not dicts: a run of 250,000 files holds them in its process until publish.
    res.files = from_rows(file_rows, FILES)
    if voided:
        _drop_staged_records(res, voided)
    return res


def _write_parsed(ctx: RunContext, chunk_no: int, raw: list[dict], issues: list[dict], res: ChunkResult) -> None:
    """Clean and fingerprint one batch; write its STAGED part and its quarantine part into `res`."""
    path = ctx.stage.parsed(chunk_no, len(res.parts))
    table = conform(pa.Table.from_pylist(raw, schema=RAW), RAW) if raw else RAW.empty_table()
    table = table.append_column("ingest_order", pa.array([r["_order"] for r in raw], pa.int64()))
    # The MinHash signature of each cleaned text, from the tokens cleaning made for its text hash.
    cleaned, rejected, token_lists = clean_articles(table, keep_tokens=True)
    signatures = minhash_many(token_lists)
    del token_lists
    quarantined = pa.concat_tables([from_rows(issues, QUARANTINE), rejected]) if issues else rejected
    res.parse_quarantined += len(issues)
    res.clean_quarantined += rejected.num_rows
    res.reasons.update(quarantined.column("reason").to_pylist())
    if quarantined.num_rows:
        target = ctx.stage.of_part("quarantine", path, prefix="p-")
        res.quarantine.append(str(wh.write_parquet(ctx.stamp(quarantined, QUARANTINE), target)))
    fingerprints = fingerprint_columns(signatures)
    res.parts.append(str(wh.write_parquet(conform(with_columns(cleaned, fingerprints), STAGED), path)))


def _issue_row(entry: FileEntry, issue: Issue) -> dict:
    return {
        "record_id": record_id(entry.path, entry.sha256, issue.record_no),
        "stage": "parse",
        "reason": issue.reason,
        "detail": issue.detail,
        "raw": issue.raw,
        "source_file": entry.path,
        "file_sha256": entry.sha256,
        "record_no": issue.record_no,
        "format": entry.format,
    }


def _drop_staged_records(res: ChunkResult, paths: set[str]) -> None:
    """Remove the records of `paths` from this chunk's staged parts and counts."""
    files = pa.array(sorted(paths))
    quarantine = set(res.quarantine)
    for part in res.parts + res.quarantine:
        table = pq.read_table(part)
        drop = pc.is_in(table.column("source_file"), files)
        removed = table.filter(drop)
        if removed.num_rows == 0:
            continue
        if part in quarantine:
            stages = Counter(removed.column("stage").to_pylist())
            res.parse_quarantined -= stages.get("parse", 0)
            res.clean_quarantined -= stages.get("clean", 0)
            res.reasons.subtract(removed.column("reason").to_pylist())
        wh.write_parquet(table.filter(pc.invert(drop)), Path(part))


# ---------------------------------------------------------------- per-file time limit


def _timeouts_dir(ctx: RunContext) -> Path:
    return ctx.stage.dir / "timeouts"


def _timed_out(ctx: RunContext) -> set[tuple[str, str]]:
    """Return the file versions whose reading overran the time limit in this run (their worker was killed)."""
    out = set()
    for marker in _timeouts_dir(ctx).glob("*.json"):
        with contextlib.suppress(OSError, ValueError):
            d = json.loads(marker.read_text("utf-8"))
            out.add((d["path"], d["sha256"]))
    return out


def _on_broken_worker(ctx: RunContext, chunk_no: int, chunk: list[tuple[int, FileEntry]]) -> bool:
    """A dead worker is recoverable when a file of this run overran its time limit: every retry skips it.

    Any chunk may ask: a pool breaks for all its pending calls when one worker dies.
    """
    return bool(_timed_out(ctx))


class _Watchdog:
    """In a worker process: when reading one file takes longer than `limit` seconds, leave word of which
    file it was and end the worker at once (a hang in C code cannot be interrupted any other way);
    the pool replaces the worker and the chunk runs again without that file."""

    def __init__(self, ctx: RunContext, limit: float) -> None:
        self.ctx, self.limit = ctx, limit
        self.entry: FileEntry | None = None
        self.deadline = 0.0
        threading.Thread(target=self._watch, name="newsetl-file-timeout", daemon=True).start()

    def start(self, entry: FileEntry) -> None:
        self.entry, self.deadline = entry, time.monotonic() + self.limit

    def stop(self) -> None:
        self.entry = None

    def _watch(self) -> None:
        while True:
            time.sleep(min(1.0, self.limit / 4))
            entry = self.entry
            if entry is not None and time.monotonic() > self.deadline:
                folder = _timeouts_dir(self.ctx)
                folder.mkdir(parents=True, exist_ok=True)
                name = hashlib.sha256(f"{entry.path}\0{entry.sha256}".encode()).hexdigest()[:20]
                marker = {"path": entry.path, "sha256": entry.sha256}
                tmp = folder / f".{name}.{os.getpid()}.tmp"
                tmp.write_text(json.dumps(marker), "utf-8")
                os.replace(tmp, folder / f"{name}.json")
                os._exit(70)


def _remove_earlier_attempt(ctx: RunContext, chunk_no: int) -> None:
    """Delete what an earlier attempt at this chunk staged (a killed worker may have flushed some parts)."""
    first = ctx.stage.parsed(chunk_no, 0)
    prefix = first.name.rsplit("-", 1)[0]  # c00003
    for folder, pattern in (
        (first.parent, f"{prefix}-*.parquet"),
        (ctx.stage.table_dir("quarantine"), f"p-{prefix}-*.parquet"),
    ):
        for part in folder.glob(pattern):
            part.unlink(missing_ok=True)


parse_chunk.on_broken_worker = _on_broken_worker  # type: ignore[attr-defined]
