"""Story step: the run's valid articles -> a story-index part (each article's story) and story merges.

newsetl.stories decides; this step reads the run's story inputs and the index rows inside the time
window, and writes what was decided. It runs in the flow's process: one writer assigns story ids.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from newsetl import warehouse as wh
from newsetl.history import story_window
from newsetl.ledger import RunContext
from newsetl.schema import ARTICLES, STORY_INDEX, STORY_INPUT, STORY_MERGES, conform, from_rows, with_columns
from newsetl.stories import assign_stories, terms_columns

LARGEST = 5  # stories listed in the run summary


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
    ctx: RunContext, inputs: list[str], promoted: str | None, duplicates: list[str], replaced: list[dict]
) -> StoryResult:
    """Give every article this run loads a story; write the story-index and story-merges parts.

    inputs: the validate step's story-input parts. promoted: the articles part of copies promoted by
    the copies step (their terms are made here). duplicates: the run's duplicates parts (copies count
    towards the largest stories). replaced: file versions this run supersedes.
    """
    run = _run_articles(ctx, inputs, promoted)
    res = StoryResult(articles=run.num_rows)
    if run.num_rows == 0:
        return res
    s = ctx.settings
    window = timedelta(days=s.story_window_days)
    spans = _spans(run.column("event_time"), window)
    roots, index = story_window(ctx, spans, ctx.started_at - window, replaced)
    done = assign_stories(run, index, s.story_threshold, window, roots)
    via = pa.array(done.linked_to, pa.string())
    rows = with_columns(
        run,
        {
            "story_id": pa.array(done.story_ids, pa.string()),
            "linked_to": via,
            "similarity": pa.array(done.similarity, pa.float64()),
        },
    )
    wh.write_parquet(ctx.stamp(rows, STORY_INDEX), ctx.stage.run_table("story_index"))
    if done.merges:
        wh.write_parquet(
            ctx.stamp(from_rows(done.merges, STORY_MERGES), STORY_MERGES), ctx.stage.run_table("story_merges")
        )
    history = {roots.get(x, x) for x in index.column("story_id").to_pylist()}
    touched = set(done.story_ids)
    res.new = len(touched - history)
    res.grew = len(touched & history)
    res.merged = len(done.merges)
    res.largest = _largest(index, roots, rows, duplicates, touched)
    return res


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


def _run_articles(ctx: RunContext, inputs: list[str], promoted: str | None) -> pa.Table:
    """Return the run's articles as story inputs with their event time (undated: the run's start)."""
    tables = [pq.read_table(p) for p in inputs]
    if promoted and Path(promoted).exists():
        arts = pq.read_table(promoted)
        cols = terms_columns(
            arts.column("title").to_pylist(), arts.column("text").to_pylist(), arts.column("language").to_pylist()
        )
        tables.append(conform(with_columns(conform(arts, ARTICLES), cols), STORY_INPUT))
    if not tables:
        return pa.table({}).append_column("article_id", pa.array([], pa.string()))
    run = pa.concat_tables([conform(t, STORY_INPUT) for t in tables])
    started = pa.scalar(ctx.started_at, STORY_INDEX.field("event_time").type)
    return with_columns(
        run,
        {
            "event_time": pc.coalesce(run.column("published_at"), started),
            "dated": pc.is_valid(run.column("published_at")),
            "ingested_at": pa.array([ctx.started_at] * run.num_rows, STORY_INDEX.field("ingested_at").type),
        },
    )


def _largest(
    index: pa.Table, roots: dict[str, str], run: pa.Table, duplicates: list[str], touched: set[str]
) -> list[dict]:
    """Return the run's stories with the most outlets (window history, this run and its copies counted)."""
    story_of: dict[str, str] = {}
    outlets: dict[str, set] = {}
    count: Counter[str] = Counter()
    headline: dict[str, tuple] = {}
    merged = pa.array(list(roots), pa.string()), pa.array(list(roots.values()), pa.string())
    wanted = pa.array(sorted(touched), pa.string())
    for table in (index, run):
        # Only rows of the run's stories count: picked with Arrow, so the window's other rows cost no Python.
        cols = table.select(["article_id", "story_id", "outlet_id", "title", "event_time"])
        at = pc.index_in(cols.column("story_id"), value_set=merged[0])
        sids = pc.if_else(pc.is_valid(at), pc.take(merged[1], at), cols.column("story_id"))
        cols = cols.set_column(1, "story_id", sids).filter(pc.is_in(sids, value_set=wanted))
        for r in cols.to_pylist():
            sid = r["story_id"]
            story_of[r["article_id"]] = sid
            outlets.setdefault(sid, set()).add(r["outlet_id"])
            count[sid] += 1
            key = (r["event_time"], r["title"] or "")
            if r["title"] and (sid not in headline or key < headline[sid]):
                headline[sid] = key
    for p in duplicates:
        for r in pq.read_table(p, columns=["duplicate_of", "outlet_id"]).to_pylist():
            sid = story_of.get(r["duplicate_of"])
            if sid in touched:
                outlets.setdefault(sid, set()).add(r["outlet_id"])
                count[sid] += 1
    top = sorted(touched, key=lambda s: (-len(outlets.get(s, ())), -count[s], s))[:LARGEST]
    return [
        {
            "story_id": s,
            "headline": headline.get(s, (None, ""))[1],
            "outlets": len(outlets.get(s, ())),
            "articles": count[s],
        }
        for s in top
    ]
