"""Plan step: which file versions of the landing folder a run reads, in chunks, and which it skips."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from newsetl import history, ledger
from newsetl import warehouse as wh
from newsetl.ingest import FileEntry, discover_files
from newsetl.ledger import InputError, RunContext
from newsetl.schema import (
    REPAIRS,
    from_rows,
)

# Inputs per chunk of files handed to one worker: bounded so chunks spread over the workers.
CHUNK_BYTES = 4 << 20
CHUNK_FILES = 400
UNSUPPORTED = "unsupported file type (expected .txt, .json, .jsonl, .ndjson, .html, .htm, optionally .gz)"


@dataclass
class Plan:
    """The files of a run: chunks to read, and what was skipped or could not be read."""

    chunks: list[list[tuple[int, FileEntry]]]
    files_seen: int
    files_skipped: int
    file_rows: list[dict]  # rows for files that will not be read (unsupported, unreadable)
    # path -> sha256s of its earlier loaded versions, for paths that arrived with new content
    earlier_versions: dict[str, list[str]] = field(default_factory=dict)
    # file versions read again because a part holding their rows was damaged (ledger.Begun.reload)
    reloaded: list[dict] = field(default_factory=list)

    def superseded_by(self, files: pa.Table) -> list[dict]:
        """Return supersession rows for the new versions that loaded completely.

        A version read `partial` (a truncated re-upload) or `failed` replaces nothing: it is recorded,
        its readable records go through dedup like any others, and the earlier versions stay current
        until a complete version arrives (which then supersedes them and the partial one).
        """
        if not self.earlier_versions or not files.num_rows:
            return []
        loaded = pc.and_(
            pc.equal(files.column("status"), "loaded"),
            pc.is_in(files.column("path"), pa.array(list(self.earlier_versions), pa.string())),
        )
        return [
            {"path": r["path"], "sha256": old, "superseded_by": r["sha256"]}
            for r in files.filter(loaded).select(["path", "sha256"]).to_pylist()
            for old in self.earlier_versions[r["path"]]
        ]


def plan_files(ctx: RunContext, reload: dict | None = None) -> Plan:
    """Return the run's Plan: new file versions grouped in chunks; known versions skipped.

    reload: file versions (path, sha256) to read again although known (their rows sat in a damaged
    part); the plan records which were found (and writes the run's repairs rows for them).
    """
    known, loaded = history.file_versions(ctx)
    reload = reload or {}
    found: set[tuple[str, str]] = set()
    earlier: dict[str, list[str]] = {}
    chunks: list[list[tuple[int, FileEntry]]] = []
    current: list[tuple[int, FileEntry]] = []
    size = seen = skipped = 0
    rows: list[dict] = []
    for index, entry in enumerate(discover_files(ctx.landing)):
        seen += 1
        if (entry.path, entry.sha256) in reload:
            found.add((entry.path, entry.sha256))
        elif (entry.path, entry.sha256) in known:
            skipped += 1
            continue
        if entry.error or entry.format is None:
            status = "failed" if entry.error else "unsupported"
            rows.append(file_row(ctx, entry, status, 0, entry.error or UNSUPPORTED))
            continue
        olds = [sha for sha in loaded.get(entry.path, []) if sha != entry.sha256]  # a reloaded version is not its own
        if olds:
            earlier[entry.path] = olds
        current.append((index, entry))
        size += entry.size
        if size >= CHUNK_BYTES or len(current) >= CHUNK_FILES:
            chunks.append(current)
            current, size = [], 0
    if current:
        chunks.append(current)
    if seen == 0:
        raise InputError(f"landing folder {ctx.landing} has no files")
    if reload:
        repairs = ledger.repair_rows(ctx, reload, found)
        wh.write_parquet(from_rows(repairs, REPAIRS), ctx.stage.table_dir("repairs") / "reloads.parquet")
    reloaded = [{"path": p, "sha256": h} for p, h in sorted(found)]
    return Plan(chunks, seen, skipped, rows, earlier, reloaded)


def file_row(ctx: RunContext, entry: FileEntry, status: str, count: int, error: str | None) -> dict:
    return {
        "path": entry.path,
        "sha256": entry.sha256,
        "size": entry.size,
        "format": entry.format,
        "status": status,
        "record_count": count,
        "error": error,
        "first_run_id": ctx.run_id,
        "run_id": ctx.run_id,
        "ingest_date": ctx.ingest_date,
    }
