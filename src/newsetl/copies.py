"""Copies: keep every duplicate pointing at a loaded article when the article it copied is lost.

An article is lost when validation quarantines it in the run that kept it, or when a corrected file
supersedes the version it came from. Its copies then get, in this order of preference:
- `repointed` to a surviving article with the same text (the correction still carries the story);
- one of them `promoted` to an article in its place: the earliest published copy that passes
  validation (ties: first ingested, then id), the others `repointed` to it;
- `demoted` to quarantine (`copy_of_quarantined` / `copy_of_superseded`) when none of them is valid.
Published rows are never rewritten: the run writes `copy_fixes` rows and the promoted articles, and
the views apply them (warehouse.catalog_sql).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from newsetl.schema import COPY_FIXES, from_rows

QUARANTINED = "copy_of_quarantined"
SUPERSEDED = "copy_of_superseded"


@dataclass(frozen=True)
class Lost:
    """An article that is gone, and why (QUARANTINED or SUPERSEDED)."""

    article_id: str
    text_hash: str | None
    why: str


@dataclass
class CopyFixes:
    """The fixes for the copies of lost articles: rows for COPY_FIXES and the ids promoted to articles."""

    rows: list[dict] = field(default_factory=list)
    promoted: list[str] = field(default_factory=list)

    def table(self, run_id: str, ingest_date: object) -> pa.Table:
        return from_rows([r | {"run_id": run_id, "ingest_date": ingest_date} for r in self.rows], COPY_FIXES)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r["action"]] = out.get(r["action"], 0) + 1
        return out


def _best_first(copy: dict) -> tuple:
    """Sort key: earliest published, then first ingested, then id (nulls last)."""
    published: datetime | None = copy.get("published_at")
    order = copy.get("ingest_order")
    return (
        published is None,
        published.timestamp() if published else 0.0,
        order is None,
        order or 0,
        copy["article_id"],
    )


def fix_copies(
    lost: Iterable[Lost],
    orphans: Iterable[dict],
    survivors: Iterable[dict],
    valid: set[str],
    invalid_detail: dict[str, str] | None = None,
) -> CopyFixes:
    """Return the fixes for `orphans` (copies whose duplicate_of is a lost article).

    survivors: articles that stay (article_id, text_hash, published_at, ingest_order); valid: ids of
    orphans that passed validation as articles (candidates for promotion); invalid_detail: why the
    others failed, for the demoted rows.
    """
    by_lost: dict[str, list[dict]] = {}
    for o in orphans:
        by_lost.setdefault(o["duplicate_of"], []).append(o)
    same_text: dict[str, dict] = {}
    for s in sorted(survivors, key=_best_first):
        if s.get("text_hash"):
            same_text.setdefault(s["text_hash"], s)
    details = invalid_detail or {}
    fixes = CopyFixes()
    for gone in sorted(lost, key=lambda g: g.article_id):
        copies = sorted(by_lost.get(gone.article_id, []), key=_best_first)
        if not copies:
            continue
        heir = same_text.get(gone.text_hash or "")
        if heir is not None:
            fixes.rows += [_fix(c, "repointed", gone, target=heir["article_id"]) for c in copies]
            continue
        promoted = next((c for c in copies if c["article_id"] in valid), None)
        if promoted is None:
            fixes.rows += [
                _fix(c, "demoted", gone, reason=gone.why, detail=_demoted_detail(gone, details.get(c["article_id"])))
                for c in copies
            ]
            continue
        fixes.promoted.append(promoted["article_id"])
        fixes.rows.append(_fix(promoted, "promoted", gone))
        fixes.rows += [_fix(c, "repointed", gone, target=promoted["article_id"]) for c in copies if c is not promoted]
    return fixes


def _fix(copy: dict, action: str, gone: Lost, **extra: str | None) -> dict:
    return {"article_id": copy["article_id"], "action": action, "lost": gone.article_id} | extra


def _demoted_detail(gone: Lost, invalid: str | None) -> str:
    what = "was quarantined by validation" if gone.why == QUARANTINED else "was superseded by a corrected file"
    return f"the article it copied ({gone.article_id}) {what} and no copy of it is a valid article" + (
        f"; this copy: {invalid}" if invalid else ""
    )
