"""Steps: the units a run is made of, each reading what earlier steps staged and returning what it wrote.

    plan_files    the landing folder -> Plan (chunks of new file versions; rows for files not read)
    parse_chunk   a chunk of files -> cleaned, fingerprinted parts + their quarantine (worker process)
    dedup_run     all cleaned parts -> one decisions part per part (kept / exact / near), history included
    tag_part      a part + its decisions -> duplicates part + tagged part (language, outlet; worker process)
    validate_part a tagged part -> articles, quarantine and dedup-index parts (Great Expectations)

Steps pass paths and counts, never big tables; every path comes from staging.StagePaths.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from newsetl import ledger
from newsetl import warehouse as wh
from newsetl.clean import clean_articles
from newsetl.copies import QUARANTINED, SUPERSEDED, CopyFixes, Lost, fix_copies
from newsetl.dedup import find_duplicates, fingerprint_texts
from newsetl.faults import fault
from newsetl.ingest import FileChanged, FileEntry, FileError, Issue, discover_files, read_file, record_id
from newsetl.language import detect_languages
from newsetl.ledger import InputError, RunContext
from newsetl.schema import (
    ARTICLES,
    DEDUP_INDEX,
    DUPLICATES,
    QUARANTINE,
    RAW,
    REPAIRS,
    STAGED,
    TAGGED,
    conform,
    from_rows,
    with_columns,
)
from newsetl.sources import default_registry, resolve_outlets
from newsetl.validate import validate_articles

# Inputs per chunk of files handed to one worker: bounded so chunks spread over the workers.
CHUNK_BYTES = 4 << 20
CHUNK_FILES = 400
UNSUPPORTED = "unsupported file type (expected .txt, .json, .jsonl, .ndjson, .html, .htm, optionally .gz)"


# ---------------------------------------------------------------- plan


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

    def superseded_by(self, file_rows: list[dict]) -> list[dict]:
        """Return supersession rows for the new versions that loaded completely.

        A version read `partial` (a truncated re-upload) or `failed` replaces nothing: it is recorded,
        its readable records go through dedup like any others, and the earlier versions stay current
        until a complete version arrives (which then supersedes them and the partial one).
        """
        return [
            {"path": r["path"], "sha256": old, "superseded_by": r["sha256"]}
            for r in file_rows
            if r["status"] == "loaded" and r["path"] in self.earlier_versions
            for old in self.earlier_versions[r["path"]]
        ]


def plan_files(ctx: RunContext, reload: dict | None = None) -> Plan:
    """Return the run's Plan: new file versions grouped in chunks; known versions skipped.

    reload: file versions (path, sha256) to read again although known (their rows sat in a damaged
    part); the plan records which were found (and writes the run's repairs rows for them).
    """
    known, loaded = ledger.file_versions(ctx)
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
            rows.append(_file_row(ctx, entry, status, 0, entry.error or UNSUPPORTED))
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


def _file_row(ctx: RunContext, entry: FileEntry, status: str, count: int, error: str | None) -> dict:
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


# ---------------------------------------------------------------- parse


@dataclass
class ChunkResult:
    """What parse_chunk read and wrote: counts, the cleaned parts, their quarantine parts, file rows."""

    records_in: int = 0
    parse_quarantined: int = 0
    clean_quarantined: int = 0
    parts: list[str] = field(default_factory=list)  # STAGED parts, in write order
    quarantine: list[str] = field(default_factory=list)  # QUARANTINE parts (parse and clean rejects)
    reasons: Counter[str] = field(default_factory=Counter)  # quarantine reason -> records
    file_rows: list[dict] = field(default_factory=list)


def parse_chunk(ctx: RunContext, chunk_no: int, chunk: list[tuple[int, FileEntry]]) -> ChunkResult:
    """Read, clean and fingerprint one chunk of files into staged parts; return what it wrote.

    Records are flushed in batches of at most settings.batch_size records or batch_bytes of text,
    so a huge file is streamed through in bounded memory.
    """
    res = ChunkResult()
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
    for index, entry in chunk:
        count = 0
        error = None
        status = "loaded"
        try:
            for item in read_file(entry):
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
        res.records_in += count
        res.file_rows.append(_file_row(ctx, entry, status, count, error))
    flush()
    if voided:
        _drop_staged_records(res, voided)
    return res


def _write_parsed(ctx: RunContext, chunk_no: int, raw: list[dict], issues: list[dict], res: ChunkResult) -> None:
    """Clean and fingerprint one batch; write its STAGED part and its quarantine part into `res`."""
    path = ctx.stage.parsed(chunk_no, len(res.parts))
    table = conform(pa.Table.from_pylist(raw, schema=RAW), RAW) if raw else RAW.empty_table()
    table = table.append_column("ingest_order", pa.array([r["_order"] for r in raw], pa.int64()))
    cleaned, rejected = clean_articles(table)
    quarantined = pa.concat_tables([from_rows(issues, QUARANTINE), rejected]) if issues else rejected
    res.parse_quarantined += len(issues)
    res.clean_quarantined += rejected.num_rows
    res.reasons.update(quarantined.column("reason").to_pylist())
    if quarantined.num_rows:
        target = ctx.stage.of_part("quarantine", path, prefix="p-")
        res.quarantine.append(str(wh.write_parquet(ctx.stamp(quarantined, QUARANTINE), target)))
    sigs, bands = fingerprint_texts(cleaned.column("text").to_pylist())
    fingerprints = {"signature": pa.array(sigs, pa.list_(pa.uint32())), "bands": pa.array(bands, pa.list_(pa.int64()))}
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


# ---------------------------------------------------------------- dedup


@dataclass
class DedupResult:
    """What dedup_run decided: counts, and one decisions part per cleaned part (same order)."""

    kept: int = 0
    exact: int = 0
    near: int = 0
    decisions: list[str] = field(default_factory=list)


_FP_COLUMNS = ["record_id", "text_hash", "published_at", "ingest_order", "signature", "bands"]


def dedup_run(ctx: RunContext, parts: list[str], superseded: list[dict] | None = None) -> DedupResult:
    """Decide kept / exact / near for every staged record, against history too; return the decisions.

    `superseded`: earlier file versions this run replaces; their articles are not history any more.
    """
    if not parts:
        return DedupResult()
    tables = []
    for i, p in enumerate(parts):
        t = pq.read_table(p, columns=_FP_COLUMNS)
        tables.append(t.append_column("part", pa.array([i] * t.num_rows, pa.int32())))
    run = pa.concat_tables(tables)
    history = ledger.dedup_history(ctx, run, superseded or [])
    decisions = find_duplicates(run, history, ctx.settings.near_threshold)
    part_of = run.column("part")
    res = DedupResult()
    for i, p in enumerate(parts):
        mine = decisions.filter(pc.equal(part_of, i))
        res.decisions.append(str(wh.write_parquet(mine, ctx.stage.decisions(Path(p)))))
    counts = Counter(decisions.column("status").to_pylist())
    res.kept, res.exact, res.near = counts.get("kept", 0), counts.get("exact", 0), counts.get("near", 0)
    return res


# ---------------------------------------------------------------- tag


@dataclass
class TagResult:
    """What tag_part wrote: the duplicates part and the tagged part (None when there was nothing)."""

    duplicates: str | None = None
    tagged: str | None = None


def _as_article_ids(table: pa.Table) -> pa.Table:
    return table.rename_columns(["article_id" if c == "record_id" else c for c in table.column_names])


def tag_part(ctx: RunContext, part: str, decisions: str) -> TagResult:
    """Split one staged part by its dedup decisions; tag the kept records with language and outlet.

    Writes the duplicates part and a tagged part (kept records: article columns plus their
    fingerprints, for validate_part). Runs in a worker process: langdetect is the slow stage.
    """
    res = TagResult()
    table = pq.read_table(part)
    verdicts = pq.read_table(decisions)
    # Decisions are written in the part's row order (list columns cannot go through an Arrow join).
    if not verdicts.column("record_id").equals(table.column("record_id")):
        raise RuntimeError(f"dedup decisions {decisions} do not match the records of {part}")
    table = with_columns(table, {c: verdicts.column(c) for c in ("status", "duplicate_of", "similarity")})
    is_kept = pc.equal(table.column("status"), "kept")
    dups = _as_article_ids(table.filter(pc.invert(is_kept)))
    if dups.num_rows:
        dups = with_columns(dups, {"method": dups.column("status")})
        target = ctx.stage.of_part("duplicates", Path(part))
        res.duplicates = str(wh.write_parquet(ctx.stamp(dups, DUPLICATES), target))
    kept = table.filter(is_kept)
    if kept.num_rows:
        res.tagged = str(wh.write_parquet(tag_records(ctx, kept), ctx.stage.tagged(Path(part))))
    return res


def tag_records(ctx: RunContext, records: pa.Table) -> pa.Table:
    """Return cleaned records (with signature and bands) as a TAGGED table: language, outlet, run columns."""
    s = ctx.settings
    records = detect_languages(records, max_chars=s.language_max_chars, min_letters=s.language_min_letters)
    records = _as_article_ids(resolve_outlets(records, default_registry()))
    columns = [*ctx.stamp(records, ARTICLES).columns, records.column("signature"), records.column("bands")]
    return pa.Table.from_arrays(columns, schema=TAGGED)


# ---------------------------------------------------------------- validate


@dataclass
class PartResult:
    """What validate_part loaded from one tagged part: counts, languages, outlets, GX results, parts written."""

    loaded: int = 0
    validation_quarantined: int = 0
    languages: dict[str, int] = field(default_factory=dict)
    outlets: dict[str, int] = field(default_factory=dict)
    validation: list[dict] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)  # quarantine reason -> records
    written: list[str] = field(default_factory=list)


def validate_part(ctx: RunContext, tagged_part: str) -> PartResult:
    """Validate one tagged part with the GX suite; write its articles, quarantine and dedup-index parts.

    Runs in the flow's process, so Great Expectations is imported once, not in every worker.
    """
    res = PartResult()
    path = Path(tagged_part)
    tagged = pq.read_table(path)
    articles = conform(tagged, ARTICLES)
    suite = ctx.settings.expectations / "articles.json"
    valid, quarantined, res.validation = validate_articles(articles, suite, ctx.started_at)
    if quarantined.num_rows:
        target = ctx.stage.of_part("quarantine", path, prefix="v-")
        res.written.append(str(wh.write_parquet(ctx.stamp(quarantined, QUARANTINE), target)))
        res.validation_quarantined = quarantined.num_rows
        res.reasons.update(quarantined.column("reason").to_pylist())
    if valid.num_rows:
        res.written.append(str(wh.write_parquet(valid, ctx.stage.of_part("articles", path))))
        index = tagged.filter(pc.is_in(tagged.column("article_id"), valid.column("article_id")))
        res.written.append(str(wh.write_parquet(conform(index, DEDUP_INDEX), ctx.stage.of_part("dedup_index", path))))
        res.loaded = valid.num_rows
        res.languages = dict(Counter(valid.column("language").to_pylist()))
        res.outlets = dict(Counter(valid.column("outlet_name").fill_null("(none)").to_pylist()))
    path.unlink()
    return res


# ---------------------------------------------------------------- copies of lost articles


def resolve_copies(
    ctx: RunContext, superseded: list[dict], duplicates: list[str], validated: list[PartResult]
) -> CopyFixes:
    """Fix the copies of articles this run loses (quarantined by validation, superseded); return the fixes.

    Writes the run's copy_fixes part and, for promoted copies, an articles and a dedup-index part.
    Costs nothing when the run loses no article that has copies.
    """
    lost = [
        Lost(i, None, QUARANTINED)
        for v in validated
        for p in v.written
        if Path(p).parent.name == "quarantine"
        for i in pq.read_table(p, columns=["record_id"]).column("record_id").to_pylist()
    ]
    lost += [Lost(a["article_id"], a["text_hash"], SUPERSEDED) for a in ledger.articles_of_versions(ctx, superseded)]
    if not lost:
        return CopyFixes()
    ids = pa.array([g.article_id for g in lost], pa.string())
    staged = [pq.read_table(p) for p in duplicates]
    orphans = pa.concat_tables(
        [conform(t.filter(pc.is_in(t.column("duplicate_of"), ids)), DUPLICATES) for t in staged]
        + [conform(ledger.copies_of(ctx, ids.to_pylist()), DUPLICATES)]
    )
    if orphans.num_rows == 0:
        return CopyFixes()
    hashes = [g.text_hash for g in lost if g.text_hash]
    survivors = ledger.articles_with_text(ctx, hashes, superseded) + [
        r
        for v in validated
        for p in v.written
        if Path(p).parent.name == "articles"
        for r in pq.read_table(p, columns=["article_id", "text_hash", "published_at"]).to_pylist()
        if r["text_hash"] in set(hashes)
    ]
    sigs, bands = fingerprint_texts(orphans.column("text").to_pylist())
    candidates = with_columns(
        orphans, {"signature": pa.array(sigs, pa.list_(pa.uint32())), "bands": pa.array(bands, pa.list_(pa.int64()))}
    )
    tagged = tag_records(ctx, candidates)
    suite = ctx.settings.expectations / "articles.json"
    valid, failed, _ = validate_articles(conform(tagged, ARTICLES), suite, ctx.started_at)
    why = dict(zip(failed.column("record_id").to_pylist(), failed.column("detail").to_pylist(), strict=True))
    fixes = fix_copies(lost, orphans.to_pylist(), survivors, set(valid.column("article_id").to_pylist()), why)
    stage = ctx.stage
    if fixes.rows:
        wh.write_parquet(fixes.table(ctx.run_id, ctx.ingest_date), stage.run_table("copy_fixes"))
    if fixes.promoted:
        promoted = pa.array(fixes.promoted, pa.string())
        wh.write_parquet(valid.filter(pc.is_in(valid.column("article_id"), promoted)), stage.run_table("articles"))
        index = tagged.filter(pc.is_in(tagged.column("article_id"), promoted))
        wh.write_parquet(conform(index, DEDUP_INDEX), stage.run_table("dedup_index"))
    return fixes
