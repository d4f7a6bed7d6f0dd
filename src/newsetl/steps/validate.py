"""Validate step: a tagged part -> articles, quarantine, dedup-index and story-input parts (Great Expectations)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from newsetl import warehouse as wh
from newsetl.ledger import RunContext
from newsetl.schema import (
    ARTICLES,
    DEDUP_INDEX,
    QUARANTINE,
    STORY_INPUT,
    conform,
)
from newsetl.validate import validate_articles

# Rows validated in one GX run: its fixed cost (about 0.1 s) spread over enough rows, memory bounded.
VALIDATE_ROWS = 8000


@dataclass
class PartResult:
    """What validate_parts loaded from a batch of tagged parts: counts, languages, outlets, GX results, parts written."""

    loaded: int = 0
    validation_quarantined: int = 0
    languages: dict[str, int] = field(default_factory=dict)
    outlets: dict[str, int] = field(default_factory=dict)
    validation: list[dict] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)  # quarantine reason -> records
    written: list[str] = field(default_factory=list)
    story_input: str | None = None  # the valid articles' story terms, for the story step


def validate_parts(ctx: RunContext, tagged_parts: list[str]) -> PartResult:
    """Validate tagged parts with the GX suite in one batch; write its articles, quarantine and dedup-index parts.

    Runs in the flow's process, so Great Expectations is imported once, not in every worker. One GX run
    costs about 0.1 s whatever its size up to thousands of rows, so the pipeline hands over several parts
    at once (VALIDATE_ROWS rows, settings.batch_bytes bytes); the parts written are named after the first.
    """
    res = PartResult()
    paths = [Path(p) for p in tagged_parts]
    tagged = pa.concat_tables([pq.read_table(p) for p in paths], promote_options="permissive")
    path = paths[0]
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
        res.story_input = str(wh.write_parquet(conform(index, STORY_INPUT), ctx.stage.story_input(path)))
        res.loaded = valid.num_rows
        res.languages = dict(Counter(valid.column("language").to_pylist()))
        res.outlets = dict(Counter(valid.column("outlet_name").fill_null("(none)").to_pylist()))
    for p in paths:
        p.unlink()
    return res


def batches_of(parts: list[str], sizes: list[tuple[int, int]], limit: tuple[int, int]) -> list[list[str]]:
    """Return the parts in order, grouped into batches of at most `limit` (rows, bytes); a bigger part alone.

    sizes: (rows, bytes in memory) of each part. Bytes bound the memory of a batch as batch_bytes bounds a
    parsed part's: a few parts of very long articles are not validated together.
    """
    out: list[list[str]] = []
    rows = size = 0
    for part, (n, b) in zip(parts, sizes, strict=True):
        if not out or rows + n > limit[0] or size + b > limit[1]:
            out.append([])
            rows = size = 0
        out[-1].append(part)
        rows, size = rows + n, size + b
    return out
