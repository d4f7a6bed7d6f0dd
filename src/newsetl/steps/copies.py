"""Copies step: fix the copies of the articles a run loses (newsetl.copies decides; this reads and writes)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from newsetl import history
from newsetl import warehouse as wh
from newsetl.clean import tokens
from newsetl.copies import QUARANTINED, SUPERSEDED, CopyFixes, Lost, fix_copies
from newsetl.dedup import fingerprint_columns, minhash_many
from newsetl.ledger import RunContext
from newsetl.schema import (
    ARTICLES,
    DEDUP_INDEX,
    DUPLICATES,
    conform,
    with_columns,
)
from newsetl.steps.tag import tag_records
from newsetl.steps.validate import PartResult
from newsetl.validate import validate_articles


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
    lost += [Lost(a["article_id"], a["text_hash"], SUPERSEDED) for a in history.articles_of_versions(ctx, superseded)]
    if not lost:
        return CopyFixes()
    ids = pa.array([g.article_id for g in lost], pa.string())
    # Each part is read, filtered and let go: a large run's copies are never all in memory.
    orphans = pa.concat_tables(
        [conform(_copies_in(p, ids), DUPLICATES) for p in duplicates]
        + [conform(history.copies_of(ctx, ids.to_pylist()), DUPLICATES)]
    )
    if orphans.num_rows == 0:
        return CopyFixes()
    hashes = [g.text_hash for g in lost if g.text_hash]
    survivors = history.articles_with_text(ctx, hashes, superseded) + [
        r
        for v in validated
        for p in v.written
        if Path(p).parent.name == "articles"
        for r in pq.read_table(p, columns=["article_id", "text_hash", "published_at"]).to_pylist()
        if r["text_hash"] in set(hashes)
    ]
    candidates = with_columns(
        orphans, fingerprint_columns(minhash_many([tokens(t) for t in orphans.column("text").to_pylist()]))
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


def _copies_in(part: str, ids: pa.Array) -> pa.Table:
    table = pq.read_table(part)
    return table.filter(pc.is_in(table.column("duplicate_of"), ids))
