"""Boilerplate rules: the compiled form of data/boilerplate.json (the rules live in data, not code)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Rules:
    """Compiled line rules for captions, chrome, and author/source trailers."""

    caption_patterns: tuple[re.Pattern[str], ...]
    drop_line_patterns: tuple[re.Pattern[str], ...]
    cut_from_patterns: tuple[re.Pattern[str], ...]
    author_trailer_patterns: tuple[re.Pattern[str], ...]
    source_trailer_patterns: tuple[re.Pattern[str], ...]


def load_rules(raw: dict | None = None) -> Rules:
    """Return compiled Rules from a dict shaped like data/boilerplate.json (default: that file)."""
    if raw is None:
        raw = json.loads(resources.files("newsetl").joinpath("data/boilerplate.json").read_text("utf-8"))

    def comp(key: str, flags: int = re.IGNORECASE) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p, flags) for p in raw.get(key, []))

    return Rules(
        caption_patterns=comp("caption_patterns"),
        drop_line_patterns=comp("drop_line_patterns"),
        cut_from_patterns=comp("cut_from_patterns"),
        # A "By Name" byline must be matched case-sensitively, or "by the way" lines would count.
        author_trailer_patterns=comp("author_trailer_patterns") + comp("byline_patterns_case_sensitive", 0),
        source_trailer_patterns=comp("source_trailer_patterns"),
    )


RULES = load_rules()
