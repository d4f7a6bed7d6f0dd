"""The Great Expectations gate: good rows pass, bad rows are quarantined with the failed expectations."""

from __future__ import annotations

from datetime import UTC, datetime

from conftest import NOW
from newsetl.config import EXPECTATIONS
from newsetl.schema import ARTICLES, conform, from_rows
from newsetl.validate import summarize_results, validate_articles

SUITE = EXPECTATIONS / "articles.json"


def article(i: int, **kw) -> dict:
    return {
        "article_id": f"a{i}",
        "title": f"A sound title {i}",
        "text": "A body long enough to pass the length rule. " * 2,
        "language": "en",
        "language_confidence": 0.99,
        "language_method": "detected",
        "outlet_id": "x",
        "url": "https://news.example/a",
        "published_at": datetime(2025, 1, 1, tzinfo=UTC),
        "source_file": "f",
        "file_sha256": "s",
        "record_no": i,
        "format": "json",
    } | kw


def test_good_rows_pass_and_bad_rows_are_quarantined():
    """Future and pre-1990 dates, malformed URLs, bad language codes and short texts fail; the rest load."""
    rows = [
        article(0),
        article(1, published_at=datetime(2031, 1, 1, tzinfo=UTC)),
        article(2, published_at=datetime(1989, 12, 31, tzinfo=UTC)),
        article(3, url="htp:/broken"),
        article(4, language="EN-us"),
        article(5, text="too short"),
        article(6, url=None, published_at=None, language="und", language_confidence=None, language_method="too_short"),
    ]
    table = conform(from_rows(rows, ARTICLES), ARTICLES)
    valid, quarantined, summary = validate_articles(table, SUITE, NOW)
    assert valid.column("article_id").to_pylist() == ["a0", "a6"]
    reasons = dict(
        zip(quarantined.column("record_id").to_pylist(), quarantined.column("reason").to_pylist(), strict=True)
    )
    assert reasons == {
        "a1": "published_at_out_of_range",
        "a2": "published_at_out_of_range",
        "a3": "malformed_url",
        "a4": "language_not_iso_639_1",
        "a5": "text_length_out_of_range",
    }
    assert all(q == "validate" for q in quarantined.column("stage").to_pylist())
    per = {(r["expectation"], r["column"]): r for r in summary}
    assert per[("expect_column_values_to_match_regex", "url")]["unexpected_count"] == 1
    merged = summarize_results([summary, summary], "run1").to_pylist()
    assert sum(r["unexpected_count"] for r in merged) == 2 * sum(r["unexpected_count"] or 0 for r in summary)
