"""Validate step: a tagged part -> articles, quarantine, dedup-index and story-input parts (Great Expectations)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

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
    story_input: str | None = None  # the valid articles' story terms, for the story step


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
        res.story_input = str(wh.write_parquet(conform(index, STORY_INPUT), ctx.stage.story_input(path)))
        res.loaded = valid.num_rows
        res.languages = dict(Counter(valid.column("language").to_pylist()))
        res.outlets = dict(Counter(valid.column("outlet_name").fill_null("(none)").to_pylist()))
    path.unlink()
    return res
