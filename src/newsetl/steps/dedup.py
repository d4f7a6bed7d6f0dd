"""Dedup step: every staged part -> a decisions part (kept / exact / near), against history too."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from newsetl import warehouse as wh
from newsetl.dedup import find_duplicates
from newsetl.history import dedup_history
from newsetl.ledger import RunContext


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
    history = dedup_history(ctx, run, superseded or [])
    decisions = find_duplicates(run, history, ctx.settings.near_threshold)
    part_of = run.column("part")
    res = DedupResult()
    for i, p in enumerate(parts):
        mine = decisions.filter(pc.equal(part_of, i))
        res.decisions.append(str(wh.write_parquet(mine, ctx.stage.decisions(Path(p)))))
    counts = Counter(decisions.column("status").to_pylist())
    res.kept, res.exact, res.near = counts.get("kept", 0), counts.get("exact", 0), counts.get("near", 0)
    return res
