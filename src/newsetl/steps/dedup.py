"""Dedup step: every staged part -> a decisions part (kept / exact / near), against history too."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from newsetl import warehouse as wh
from newsetl.dedup import NUM_PERM, Keys, _matrix, decide
from newsetl.history import dedup_history
from newsetl.ledger import RunContext


@dataclass
class DedupResult:
    """What dedup_run decided: counts, and one decisions part per cleaned part (same order)."""

    kept: int = 0
    exact: int = 0
    near: int = 0
    decisions: list[str] = field(default_factory=list)


_KEYS = ["text_hash", "published_at", "ingest_order", "bands"]


def dedup_run(ctx: RunContext, parts: list[str], superseded: list[dict] | None = None) -> DedupResult:
    """Decide kept / exact / near for every staged record, against history too; return the decisions.

    `superseded`: earlier file versions this run replaces; their articles are not history any more.
    The run's keys are read part by part into numpy (dedup.Keys: about 200 bytes a record, 160 of them
    band keys); signatures are read for the records that share a band key with another only, and ids
    for the records others copy. At 1,000,000 records that holds about 250 MB.
    """
    if not parts:
        return DedupResult()
    sizes = [pq.ParquetFile(p).metadata.num_rows for p in parts]
    starts = np.cumsum([0, *sizes])
    keys = Keys.empty(int(starts[-1]))
    for i, p in enumerate(parts):
        keys.put(int(starts[i]), pq.read_table(p, columns=_KEYS))
    history = dedup_history(ctx, keys, superseded or [])

    def signatures(rows: np.ndarray) -> np.ndarray:
        sig = _rows_of(parts, starts, "signature", rows)
        return _matrix(pa.chunked_array([sig], sig.type), np.uint32, NUM_PERM)

    found = decide(
        keys,
        Keys.of(history),
        _matrix(history.column("signature"), np.uint32, NUM_PERM),
        ctx.settings.near_threshold,
        signatures,
    )
    del keys
    names = found.names(history.column("article_id"), _rows_of(parts, starts, "record_id", found.referenced))
    res = DedupResult()
    for i, p in enumerate(parts):
        ids = pq.read_table(p, columns=["record_id"]).column("record_id")
        mine = found.table(int(starts[i]), ids, names)
        res.decisions.append(str(wh.write_parquet(mine, ctx.stage.decisions(Path(p)))))
    res.kept, res.exact, res.near = (int(c) for c in np.bincount(found.status, minlength=3))
    return res


def _rows_of(parts: list[str], starts: np.ndarray, column: str, rows: np.ndarray) -> pa.Array:
    """Return a column's values at run rows `rows` (ascending; row r is in the part whose range holds it)."""
    part_of = np.searchsorted(starts, rows, side="right") - 1
    got = []
    for i in np.unique(part_of).tolist():
        col = pq.read_table(parts[i], columns=[column]).column(column)
        got.append(col.take(pa.array(rows[part_of == i] - starts[i])).combine_chunks())
    if not got:
        return pa.array([], pq.read_schema(parts[0]).field(column).type)
    return pa.concat_arrays(got)
