"""History: what earlier runs loaded, as a run's steps read it (file versions, dedup and story index
rows, articles and copies of replaced versions, the outlet alerts of the day).

Every read binds only the views it needs (warehouse.views(only=...)): binding all of them costs about
0.6 s at 200,000 articles. Rows of file versions a run replaces are not history for that run.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from newsetl import warehouse as wh
from newsetl.health import TRAILING_DAYS, alerts_sql, outlet_daily_select
from newsetl.ledger import RunContext

if TYPE_CHECKING:
    from newsetl.dedup import Keys


def file_versions(ctx: RunContext) -> tuple[set[tuple[str, str]], dict[str, list[str]]]:
    """Return the (path, sha256) versions already seen, and path -> current loaded versions."""
    with wh.views(Path(ctx.root), only=("files",)) as con:
        # A file that changed while being read was not loaded: its next version is read normally.
        known = set(con.execute("SELECT path, sha256 FROM files WHERE status <> 'changed'").fetchall())
        loaded: dict[str, list[str]] = {}
        for path, sha in con.execute(
            "SELECT path, sha256 FROM files f ANTI JOIN supersessions s ON s.path = f.path AND s.sha256 = f.sha256 "
            "WHERE status IN ('loaded', 'partial')"
        ).fetchall():
            loaded.setdefault(path, []).append(sha)
    return known, loaded


def dedup_history(ctx: RunContext, run: Keys, replaced: list[dict], batch_rows: int = 65536) -> pa.Table:
    """Return the dedup-index rows of current articles that share a text hash or a band key with `run`.

    run: the dedup keys of this run's records. replaced: file versions (path, sha256) this run
    supersedes; their articles are not history any more. Two steps, so the cost of a day follows the day:
    1. the keys (article_id, text_hash, bands) of the index's live parts are read with pyarrow in batches
       and only the rows that can match are kept (memory stays one batch; no signature is decoded);
    2. those rows are read whole, and the ones of superseded or replaced file versions dropped.
    Reading whole rows through the `dedup_index` view instead made DuckDB materialise the whole index for
    its anti-joins: 0.9-2.5 s at 200,000 articles (benchmarks/RESULTS.md); pyarrow reads the keys of
    200,000 articles in about 0.1 s where a DuckDB query hands them over in 0.25 s.
    """
    import pyarrow.dataset as ds

    from newsetl.dedup import history_candidates
    from newsetl.schema import DEDUP_INDEX

    keys = pa.schema([DEDUP_INDEX.field(c) for c in ("article_id", "text_hash", "bands")])
    with wh.views(Path(ctx.root), only=("dedup_index_all",)) as con:
        parts = wh.live_parts(con, Path(ctx.root), "dedup_index")
        hits = []
        for batch in ds.dataset(parts, schema=keys, format="parquet").to_batches(batch_size=batch_rows):
            rows = pa.Table.from_batches([batch])
            hits += rows.column("article_id").take(history_candidates(run, rows)).chunks
        con.register("hits", pa.table({"article_id": pa.chunked_array(hits, pa.string())}))
        con.register("replaced", _versions_table(replaced))
        # The same rule as the dedup_index view (not of a superseded version), applied to the hits only.
        return wh.retry_vanished(
            lambda: con.execute(
                "WITH t AS MATERIALIZED (SELECT article_id, text_hash, published_at, signature, bands, source_file, file_sha256 "
                "FROM dedup_index_all WHERE article_id IN (SELECT article_id FROM hits)) "
                f"SELECT article_id, text_hash, published_at, signature, bands FROM t {wh.NOT_SUPERSEDED} "
                + wh.without_versions("replaced", "t", "r")
            ).to_arrow_table()
        )


def _versions_table(versions: list[dict]) -> pa.Table:
    return pa.table(
        {"path": [v["path"] for v in versions], "sha256": [v["sha256"] for v in versions]},
        schema=pa.schema([("path", pa.string()), ("sha256", pa.string())]),
    )


def articles_of_versions(ctx: RunContext, versions: list[dict]) -> list[dict]:
    """Return article_id, text_hash of the current articles read from file versions (path, sha256)."""
    if not versions:
        return []
    with wh.views(Path(ctx.root)) as con:
        con.register("v", _versions_table(versions))
        return (
            con.execute(
                "SELECT article_id, text_hash FROM articles a JOIN v ON v.path = a.source_file AND v.sha256 = a.file_sha256"
            )
            .to_arrow_table()
            .to_pylist()
        )


def copies_of(ctx: RunContext, article_ids: list[str]) -> pa.Table:
    """Return the visible `duplicates` rows (duplicate_of as the views resolve it) that copy `article_ids`."""
    with wh.views(Path(ctx.root)) as con:
        con.register("ids", pa.table({"id": pa.array(article_ids, pa.string())}))
        return con.execute("SELECT * FROM duplicates WHERE duplicate_of IN (SELECT id FROM ids)").to_arrow_table()


def articles_with_text(ctx: RunContext, text_hashes: list[str], excluding: list[dict]) -> list[dict]:
    """Return current articles with one of `text_hashes`, other than those of the file versions `excluding`."""
    if not text_hashes:
        return []
    with wh.views(Path(ctx.root)) as con:
        con.register("h", pa.table({"text_hash": pa.array(text_hashes, pa.string())}))
        con.register("x", _versions_table(excluding))
        return (
            con.execute(
                "SELECT article_id, text_hash, published_at, NULL::BIGINT AS ingest_order FROM articles a "
                f"{wh.without_versions('x', 'a', 'x')} WHERE text_hash IN (SELECT text_hash FROM h)"
            )
            .to_arrow_table()
            .to_pylist()
        )


_STORY_VIEWS = ("story_index_all", "story_index", "story_merges", "story_roots")
_WINDOW_COLUMNS = "article_id, story_id, event_time, dated, ingested_at, title, outlet_id, terms, counts"


def story_roots(ctx: RunContext) -> dict[str, str]:
    """Return {story id: the story it reads as now} for every merged story (chains resolved)."""
    with wh.views(Path(ctx.root), only=_STORY_VIEWS) as con:
        return dict(con.execute("SELECT story_id, root FROM story_roots").fetchall())


def story_window(
    ctx: RunContext, spans: list[tuple[datetime, datetime]], arrived_since: datetime, replaced: list[dict]
) -> pa.Table:
    """Return the story-index rows of current articles with an event time in one of `spans` ([start, end]
    pairs) or loaded since `arrived_since` (undated articles are compared by when they arrived).

    Reads the index's small columns only (never a text); rows of file versions this run replaces are
    not history any more. Its cost follows the window, not the warehouse's age.
    """
    with wh.views(Path(ctx.root), only=_STORY_VIEWS) as con:
        return _window_query(con, spans, arrived_since, replaced).to_arrow_table()


def story_window_batches(
    ctx: RunContext,
    spans: list[tuple[datetime, datetime]],
    arrived_since: datetime,
    replaced: list[dict],
    batch_rows: int = 65536,
) -> Iterator[pa.RecordBatch]:
    """The rows of story_window, a batch at a time (a large run's window is read without holding it)."""
    with wh.views(Path(ctx.root), only=_STORY_VIEWS) as con:
        yield from _window_query(con, spans, arrived_since, replaced).fetch_record_batch(batch_rows)


def _window_query(
    con: duckdb.DuckDBPyConnection,
    spans: list[tuple[datetime, datetime]],
    arrived_since: datetime,
    replaced: list[dict],
) -> duckdb.DuckDBPyConnection:
    within = " OR ".join(["event_time BETWEEN ? AND ?"] * len(spans) + ["ingested_at >= ?"])
    con.register("x", _versions_table(replaced))
    return con.execute(
        f"SELECT {_WINDOW_COLUMNS} FROM story_index s {wh.without_versions('x', 's', 'x')} WHERE ({within})",
        [*(t for span in spans for t in span), arrived_since],
    )


# The views outlet_alerts_of_day reads, with the views they read (warehouse.connect binds only these).
_OUTLET_DAILY_READS = ("articles_all", "duplicates_all", "quarantine_all", "copy_fixes", "quarantine")


def outlet_daily_of(since: date, until: date) -> str:
    """Return the outlet_daily rows of ingest days since..until as a relation over _OUTLET_DAILY_READS.

    The same rows as the outlet_daily view: current articles without the `articles` view's story join,
    copies without the `duplicates` view's repointing (it changes only duplicate_of, never read here).
    Both joins read every article: at 200,000 articles they cost the run about 0.7 s.
    """
    days = f"ingest_date BETWEEN DATE '{since.isoformat()}' AND DATE '{until.isoformat()}'"
    articles = f"(SELECT * FROM articles_all t {wh.NOT_SUPERSEDED})"
    return f"({outlet_daily_select(articles, f'(SELECT * FROM duplicates_all d WHERE {wh.COPY_KEPT})', days)})"


def outlet_alerts_of_day(ctx: RunContext) -> list[dict]:
    """Return the outlet alerts of the run's ingest day (reads only the trailing window's rows)."""
    daily = outlet_daily_of(ctx.ingest_date - timedelta(days=TRAILING_DAYS), ctx.ingest_date)
    with wh.views(Path(ctx.root), only=_OUTLET_DAILY_READS) as con:
        cur = con.execute(
            f"SELECT * FROM ({alerts_sql(daily)}) WHERE day = ? ORDER BY outlet_id, metric", [ctx.ingest_date]
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
