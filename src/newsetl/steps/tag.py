"""Tag step: a staged part and its decisions -> a duplicates part and a tagged part (language, outlet)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from newsetl import warehouse as wh
from newsetl.language import detect_languages
from newsetl.ledger import RunContext
from newsetl.schema import (
    DUPLICATES,
    TAGGED,
    with_columns,
)
from newsetl.sources import default_registry, resolve_outlets
from newsetl.stories import terms_columns, wire_credit


@dataclass
class TagResult:
    """What tag_part wrote: the duplicates part and the tagged part (None when there was nothing)."""

    duplicates: str | None = None
    tagged: str | None = None
    rows: int = 0  # records in the tagged part
    nbytes: int = 0  # its size in memory


def _as_article_ids(table: pa.Table) -> pa.Table:
    return table.rename_columns(["article_id" if c == "record_id" else c for c in table.column_names])


def tag_part(ctx: RunContext, part: str, decisions: str) -> TagResult:
    """Split one staged part by its dedup decisions; tag the kept records with language and outlet.

    Writes the duplicates part and a tagged part (kept records: article columns plus their
    fingerprints, for validate_parts). Runs in a worker process: langdetect is the slow stage.
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
        dups = resolve_outlets(dups, default_registry())
        wire = pa.array([wire_credit(t) for t in dups.column("text").to_pylist()], pa.string())
        dups = with_columns(dups, {"method": dups.column("status"), "wire": wire})
        target = ctx.stage.of_part("duplicates", Path(part))
        res.duplicates = str(wh.write_parquet(ctx.stamp(dups, DUPLICATES), target))
    kept = table.filter(is_kept)
    if kept.num_rows:
        tagged = tag_records(ctx, kept)
        res.tagged = str(wh.write_parquet(tagged, ctx.stage.tagged(Path(part))))
        res.rows, res.nbytes = tagged.num_rows, tagged.nbytes
    return res


def tag_records(ctx: RunContext, records: pa.Table) -> pa.Table:
    """Return cleaned records (with signature and bands) as a TAGGED table: language, outlet, run columns."""
    s = ctx.settings
    records = detect_languages(records, max_chars=s.language_max_chars, min_letters=s.language_min_letters)
    records = _as_article_ids(resolve_outlets(records, default_registry()))
    texts = records.column("text").to_pylist()
    story = terms_columns(records.column("title").to_pylist(), texts, records.column("language").to_pylist())
    records = with_columns(records, {"wire": pa.array([wire_credit(t) for t in texts], pa.string()), **story})
    return ctx.stamp(records, TAGGED)
