"""Story step: the run's valid articles -> a story-index part (each article's story) and story merges.

newsetl.stories decides; this step reads the run's story inputs and the index rows inside the time
window, and writes what was decided. It runs in the flow's process: one writer assigns story ids.

A run's articles are first written in rank order (event time, then article id) by an external sort,
then compared BLOCK_ROWS at a time with their window: a backfill
of 1,000,000 articles holds a block and its window, never the whole run (measured in
benchmarks/RESULTS.md). A daily run is one block and reads its window once.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from newsetl import warehouse as wh
from newsetl.history import story_roots, story_window, story_window_batches
from newsetl.ledger import RunContext
from newsetl.schema import ARTICLES, STORY_INDEX, STORY_INPUT, STORY_MERGES, conform, from_rows, with_columns
from newsetl.stories import Assigner, Vocabulary, _chunk, _dated, _seconds, blocks, founding, terms_columns

LARGEST = 5  # stories listed in the run summary
BLOCK_ROWS = 16384  # run articles compared at once (and run articles read at once to compare them with)
LARGEST_MEMORY = "256MB"  # DuckDB's memory limit while it counts the largest stories


@dataclass
class StoryResult:
    """What assign_run_stories decided: counts and the day's largest stories (by outlets)."""

    articles: int = 0
    new: int = 0  # stories this run started
    grew: int = 0  # earlier stories this run's articles joined
    merged: int = 0  # published stories found to be one with another
    largest: list[dict] = field(default_factory=list)  # story_id, headline, outlets, articles

    def as_dict(self) -> dict:
        return {"new": self.new, "grew": self.grew, "merged": self.merged, "largest": self.largest}


def assign_run_stories(
    ctx: RunContext,
    inputs: list[str],
    promoted: str | None,
    duplicates: list[str],
    replaced: list[dict],
    block_rows: int | None = None,
) -> StoryResult:
    """Give every article this run loads a story; write the story-index and story-merges parts.

    inputs: the validate step's story-input parts. promoted: the articles part of copies promoted by
    the copies step (their terms are made here). duplicates: the run's duplicates parts (copies count
    towards the largest stories). replaced: file versions this run supersedes. block_rows: articles
    compared at once (BLOCK_ROWS); any size gives the same stories.
    """
    work = ctx.stage.dir / "stories-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        return _assign(ctx, inputs, promoted, duplicates, replaced, block_rows or BLOCK_ROWS, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _assign(
    ctx: RunContext,
    inputs: list[str],
    promoted: str | None,
    duplicates: list[str],
    replaced: list[dict],
    size: int,
    work: Path,
) -> StoryResult:
    ranked = _Ranked(_rank_run(ctx, inputs, promoted, work))
    n = ranked.rows
    res = StoryResult(articles=n)
    if n == 0:
        return res
    s = ctx.settings
    window = timedelta(days=s.story_window_days)
    since = ctx.started_at - window
    head = ranked.read(0, n, ["event_time", "dated"])
    times, dated = _seconds(_chunk(head, "event_time")), _dated(head)
    roots = story_roots(ctx)
    spans = _spans(head.column("event_time"), window)
    if n <= size:  # one block: the window is read once, whole
        whole = story_window(ctx, spans, since, replaced)
        vocab = Vocabulary.of([_chunk(whole, "terms"), _chunk(ranked.read(0, n, ["terms"]), "terms")])
        founded = founding(whole, roots)
    else:  # a pass over the window and the run for the vocabulary, then a read of each block's window
        whole = None
        founded = {}
        vocab = Vocabulary.of(_terms(ctx, spans, since, replaced, ranked, roots, founded))
    assigner = Assigner(vocab, s.story_threshold, window, roots, founded, n)
    seen: list[pa.Table] = []  # the window rows read (small columns), for the largest stories
    seen_ids: set[str] = set()
    links = work / "links.parquet"
    with pq.ParquetWriter(links, pa.schema([("linked_to", pa.string()), ("similarity", pa.float64())])) as out:
        for lo, hi in blocks(n, size):
            rows = ranked.read(lo, hi)
            index = (
                whole
                if whole is not None
                else story_window(ctx, _spans(rows.column("event_time"), window), since, replaced)
            )
            pieces = ((a, ranked.read(a, b)) for a, b in assigner.columns(lo, hi, times, dated, size))
            via, sim = assigner.block(lo, rows, index, pieces)
            out.write_table(
                pa.table({"linked_to": pa.array(via, pa.string()), "similarity": pa.array(sim, pa.float64())})
            )
            fresh = pc.invert(pc.is_in(index.column("article_id"), pa.array(list(seen_ids), pa.string())))
            new = index.filter(fresh).select(["article_id", "story_id", "outlet_id", "title", "event_time"])
            seen_ids.update(new.column("article_id").to_pylist())
            seen.append(new)
    part = ctx.stage.run_table("story_index")
    touched = _write_index(ctx, ranked, pq.ParquetFile(links), assigner, size, part)
    if assigner.merges:
        wh.write_parquet(
            ctx.stamp(from_rows(assigner.merges, STORY_MERGES), STORY_MERGES), ctx.stage.run_table("story_merges")
        )
    history = assigner.published
    res.new = len(touched - history)
    res.grew = len(touched & history)
    res.merged = len(assigner.merges)
    res.largest = _largest(part, pa.concat_tables(seen), roots, duplicates, work)
    return res


def _terms(
    ctx: RunContext,
    spans: list[tuple[datetime, datetime]],
    since: datetime,
    replaced: list[dict],
    ranked: _Ranked,
    roots: dict[str, str],
    founded: dict[str, float],
) -> Iterator[pa.Array]:
    """Yield the term lists of the window's rows and the run's, a batch at a time; fill `founded` on the way."""
    for batch in story_window_batches(ctx, spans, since, replaced):
        table = pa.Table.from_batches([batch])
        for story, t in founding(table, roots).items():
            founded[story] = min(t, founded.get(story, t))
        yield _chunk(table, "terms")
    for lo, hi in blocks(ranked.rows, BLOCK_ROWS):
        yield _chunk(ranked.read(lo, hi, ["terms"]), "terms")


def _write_index(
    ctx: RunContext, ranked: _Ranked, links: pq.ParquetFile, assigner: Assigner, size: int, part: Path
) -> set[str]:
    """Write the story-index part (the run's articles with their final stories); return those stories."""
    touched: set[str] = set()
    tmp = part.with_name(f".{part.name}.tmp")
    part.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(tmp, STORY_INDEX, compression="zstd") as out:
        for k, (lo, hi) in enumerate(blocks(ranked.rows, size)):
            stories = [assigner.story_of(r) for r in range(lo, hi)]
            touched.update(stories)
            got = links.read_row_group(k)
            rows = with_columns(
                ranked.read(lo, hi),
                {
                    "story_id": pa.array(stories, pa.string()),
                    "linked_to": got.column("linked_to"),
                    "similarity": got.column("similarity"),
                },
            )
            out.write_table(ctx.stamp(rows, STORY_INDEX))
    wh.commit_file(tmp, part)
    return touched


class _Ranked:
    """The run's story inputs in rank order, in a Parquet file of row groups: read by rank ranges."""

    def __init__(self, path: Path | None) -> None:
        self.file = pq.ParquetFile(path) if path else None
        sizes = [self.file.metadata.row_group(g).num_rows for g in range(self.file.num_row_groups)] if self.file else []
        self.starts = np.cumsum([0, *sizes])
        self.rows = int(self.starts[-1])

    def read(self, lo: int, hi: int, columns: list[str] | None = None) -> pa.Table:
        assert self.file is not None
        first = int(np.searchsorted(self.starts, lo, side="right")) - 1
        last = int(np.searchsorted(self.starts, hi, side="left"))
        table = self.file.read_row_groups(range(first, max(first + 1, last)), columns=columns)
        return table.slice(lo - int(self.starts[first]), hi - lo)


def _rank_run(ctx: RunContext, inputs: list[str], promoted: str | None, work: Path) -> Path | None:
    """Write the run's articles as story inputs with their event time (undated: the run's start), in
    rank order (event time, then article id), BLOCK_ROWS to a row group; return the file (None: none).

    An external sort in three passes, each holding little: the sort keys of every article (8 bytes and
    an id each), then one input part at a time, dealt to one spill file per BLOCK_ROWS ranks, then one
    spill file at a time, put in order. DuckDB's ORDER BY of the same rows (their term lists) peaked
    at about 500 MB under a 256 MB limit at 90,000 articles, and failed under 64 MB.
    """
    files = list(inputs)
    if promoted and Path(promoted).exists():
        arts = pq.read_table(promoted)
        cols = terms_columns(
            arts.column("title").to_pylist(), arts.column("text").to_pylist(), arts.column("language").to_pylist()
        )
        pq.write_table(conform(with_columns(conform(arts, ARTICLES), cols), STORY_INPUT), work / "promoted.parquet")
        files.append(str(work / "promoted.parquet"))
    started = pa.scalar(ctx.started_at, STORY_INDEX.field("event_time").type)
    keys = [_with_event_time(pq.read_table(f, columns=["article_id", "published_at"]), started) for f in files]
    sizes = [k.num_rows for k in keys]
    n = sum(sizes)
    if n == 0:
        return None
    table = pa.concat_tables([k.select(["event_time", "article_id"]) for k in keys])
    del keys
    rank = np.empty(n, dtype=np.int64)
    rank[pc.sort_indices(table, [("event_time", "ascending"), ("article_id", "ascending")]).to_numpy()] = np.arange(n)
    del table
    schema = pa.schema(list(STORY_INPUT) + [STORY_INDEX.field(c) for c in ("event_time", "dated", "ingested_at")])
    spill_schema = schema.append(pa.field("rank", pa.int64()))
    buckets = -(-n // BLOCK_ROWS)
    sinks: dict[int, pa.ipc.RecordBatchStreamWriter] = {}
    try:
        offset = 0
        for f, size in zip(files, sizes, strict=True):
            mine = rank[offset : offset + size]
            offset += size
            rows = _with_event_time(conform(pq.read_table(f), STORY_INPUT), started)
            rows = conform(rows, schema).append_column("rank", pa.array(mine))
            which = mine // BLOCK_ROWS
            for b in np.unique(which).tolist():
                if b not in sinks:
                    sinks[b] = pa.ipc.new_stream(str(work / f"bucket-{b:06d}.arrow"), spill_schema)
                sinks[b].write_table(rows.filter(pa.array(which == b)))
    finally:
        for sink in sinks.values():
            sink.close()
    out = work / "ranked.parquet"
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        for b in range(buckets):
            path = work / f"bucket-{b:06d}.arrow"
            with pa.memory_map(str(path)) as source:
                bucket = pa.ipc.open_stream(source).read_all()
            writer.write_table(bucket.take(pc.sort_indices(bucket.column("rank"))).drop_columns(["rank"]))
            del bucket
            path.unlink()
    return out


def _with_event_time(table: pa.Table, started: pa.Scalar) -> pa.Table:
    """The table with event_time (published_at, or the run's start), dated and ingested_at (the run's start)."""
    published = table.column("published_at").cast(started.type)
    return with_columns(
        table,
        {
            "event_time": pc.coalesce(published, started),
            "dated": pc.is_valid(published),
            "ingested_at": pa.nulls(table.num_rows, started.type).fill_null(started),
        },
    )


def _spans(times: pa.ChunkedArray, window: timedelta) -> list[tuple[datetime, datetime]]:
    """Return the time spans within `window` of some event time, merged: one per stretch of days.

    A run whose articles are dated today and a few in an older year reads two short spans of the index,
    not every day in between.
    """
    days = sorted(d for d in pc.unique(pc.floor_temporal(times, unit="day")).to_pylist() if d is not None)
    spans: list[tuple[datetime, datetime]] = []
    for d in days:
        lo, hi = d - window, d + timedelta(days=1) + window
        if spans and lo <= spans[-1][1]:
            spans[-1] = (spans[-1][0], hi)
        else:
            spans.append((lo, hi))
    return spans


def _largest(part: Path, history: pa.Table, roots: dict[str, str], duplicates: list[str], work: Path) -> list[dict]:
    """Return the run's stories with the most outlets (window history, this run and its copies counted).

    In DuckDB over the written part, in two queries: the first ranks every story with plain counts
    (they spill to disk past the limit), the second finds the headlines of the LARGEST stories only.
    One query with a distinct count and an ordered first() per story ran out of memory at 1,000,000
    stories under 256 MB even with spilling (those aggregates hold per-story state that does not spill).
    """
    con = duckdb.connect(
        config={
            "memory_limit": LARGEST_MEMORY,
            "temp_directory": str(work / "spill"),
            "preserve_insertion_order": False,
        }
    )
    try:
        con.register("h", history)
        con.register("m", pa.table({"story_id": list(roots), "root": list(roots.values())}, schema=_ROOTS))
        con.execute(
            "CREATE TEMP VIEW hist AS SELECT h.article_id, coalesce(m.root, h.story_id) AS story_id, h.outlet_id, "
            "h.title, h.event_time FROM h LEFT JOIN m ON m.story_id = h.story_id"
        )
        dups = (
            "SELECT duplicate_of, outlet_id FROM read_parquet($dups)"
            if duplicates
            else "SELECT NULL::VARCHAR AS duplicate_of, NULL::VARCHAR AS outlet_id WHERE false"
        )
        top = con.execute(
            f"""
            WITH run AS (SELECT article_id, story_id, outlet_id FROM read_parquet($part)),
            arts AS (SELECT * FROM run UNION ALL
                     SELECT article_id, story_id, outlet_id FROM hist WHERE story_id IN (SELECT story_id FROM run)
                       AND article_id NOT IN (SELECT article_id FROM run)),
            counted AS (SELECT story_id, outlet_id FROM arts UNION ALL
                        SELECT a.story_id, d.outlet_id FROM ({dups}) d JOIN arts a ON a.article_id = d.duplicate_of),
            pairs AS (SELECT story_id, count(*) AS n FROM counted GROUP BY story_id, coalesce(outlet_id, chr(0)))
            SELECT story_id, count(*) AS outlets, sum(n)::BIGINT AS articles FROM pairs
            GROUP BY story_id ORDER BY outlets DESC, articles DESC, story_id LIMIT {LARGEST}
            """,
            {"part": str(part), **({"dups": duplicates} if duplicates else {})},
        ).fetchall()
        if not top:
            return []
        titles = dict(
            con.execute(
                """
                WITH top AS (SELECT unnest($ids::VARCHAR[]) AS story_id),
                run AS (SELECT article_id, story_id, title, event_time FROM read_parquet($part)
                        WHERE story_id IN (SELECT story_id FROM top)),
                old AS (SELECT article_id, story_id, title, event_time FROM hist WHERE story_id IN (SELECT story_id FROM top)),
                arts AS (SELECT * FROM run UNION ALL
                         SELECT * FROM old WHERE article_id NOT IN (
                           SELECT article_id FROM read_parquet($part) WHERE article_id IN (SELECT article_id FROM old)))
                SELECT story_id, first(title ORDER BY event_time, title) FROM arts WHERE title <> '' GROUP BY story_id
                """,
                {"part": str(part), "ids": [s for s, _, _ in top]},
            ).fetchall()
        )
    finally:
        con.close()
    return [{"story_id": s, "headline": titles.get(s, ""), "outlets": o, "articles": a} for s, o, a in top]


_ROOTS = pa.schema([("story_id", pa.string()), ("root", pa.string())])
