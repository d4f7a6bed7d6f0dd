"""Cleaning: unicode repair, whitespace, boilerplate, trailers, repeated titles, dates, idempotence."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsetl.clean import (
    clean_record,
    normalize_line,
    parse_published,
    split_paragraphs,
    strip_boilerplate,
    text_fingerprint,
)


def rec(**kw) -> dict:
    return {"record_id": "r1", "source_file": "f.json", "file_sha256": "s", "record_no": 0, "format": "json"} | kw


def test_mojibake_is_repaired():
    """UTF-8 read as Latin-1 ('Ã¨') is repaired."""
    assert normalize_line("Il museo riaprirÃ  a dicembre, Ã¨ chiuso") == "Il museo riaprirà a dicembre, è chiuso"


def test_whitespace_and_invisibles_are_normalised():
    """Runs of spaces, tabs, zero-width characters and CRLF collapse; paragraphs stay."""
    assert split_paragraphs("  One\u200b  two\t three \r\n\r\n\r\nFour  ") == ["One two three", "Four"]


def test_full_width_cjk_punctuation_is_kept():
    """Full-width punctuation is content, not damage."""
    assert normalize_line("据报道，铁路（新线）。") == "据报道，铁路（新线）。"


def test_boilerplate_lines_and_related_links_are_removed():
    """Chrome lines go; everything after a related-links marker goes."""
    paras = [
        "Advertisement",
        "Real first paragraph.",
        "Read more: other story",
        "Real second.",
        "Share this article",
        "Most read",
        "Weather warning",
    ]
    assert strip_boilerplate(paras) == ["Real first paragraph.", "Real second."]


def test_repeated_title_is_removed_from_body():
    """A body that starts with its title loses that line (case and punctuation ignored)."""
    out, _ = clean_record(rec(title="Ferry fares rise", text="Ferry Fares Rise!\n\nThe company raised fares."))
    assert out["text"] == "The company raised fares."


def test_byline_becomes_author():
    """A 'By Name' first line is the author, not body text."""
    out, _ = clean_record(rec(title="T", text="By Jane Doe\n\nThe body of the story is here."))
    assert out["author"] == "Jane Doe" and out["text"] == "The body of the story is here."


def test_feed_author_wins_over_trailer():
    """An explicit author field is kept; the trailer is still removed from the text."""
    out, _ = clean_record(rec(title="T", text="Body text here.\n\n(Posted by Someone Else)", author="Feed Author"))
    assert out["author"] == "Feed Author" and "Posted by" not in out["text"]


def test_rejects_carry_reasons():
    """No body, only boilerplate, no title, unreadable date: each is a quarantine row with a reason."""
    cases = {
        "empty_text": rec(title="T", text="  "),
        "boilerplate_only": rec(title="T", text="Advertisement\n\nShare this article"),
        "missing_title": rec(title="", text="Some body text."),
        "invalid_published_at": rec(title="T", text="Body.", published_raw="yesterday-ish"),
    }
    for reason, r in cases.items():
        ok, bad = clean_record(r)
        assert ok is None and bad["reason"] == reason and bad["stage"] == "clean", reason


def test_dates_are_utc_with_original_offset():
    """ISO with offset, RFC 2822, Z, and naive dates."""
    assert parse_published("2024-02-15T04:57:01+02:00") == (datetime(2024, 2, 15, 2, 57, 1, tzinfo=UTC), "+02:00", True)
    assert parse_published("Thu, 19 Nov 2026 10:05:00 +0100")[0] == datetime(2026, 11, 19, 9, 5, tzinfo=UTC)
    assert parse_published("2026-11-18T12:00:00Z")[1] == "+00:00"
    assert parse_published("2026-11-15") == (datetime(2026, 11, 15, tzinfo=UTC), None, True)
    assert parse_published("March 3, 2025 5pm")[0] == datetime(2025, 3, 3, 17, tzinfo=UTC)
    assert parse_published("not a date") == (None, None, False)
    assert parse_published("5") == (None, None, False), "a bare number is not silently a day of this month"


def test_keywords_and_word_count():
    """Keywords are de-duplicated case-insensitively; CJK characters count as words."""
    out, _ = clean_record(rec(title="T", text="据报道 two words", keywords=["Iran", "iran", " war "]))
    assert out["keywords"] == ["Iran", "war"]
    assert out["word_count"] == 5


def test_fingerprint_ignores_case_spacing_punctuation():
    """Exact-duplicate key: the same words give the same hash."""
    assert text_fingerprint("Hello,  World!\n\nAgain") == text_fingerprint("hello world again")
    assert text_fingerprint("hello world") != text_fingerprint("hello there world")


texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400)


@settings(max_examples=200, deadline=None)
@given(title=texts, body=texts)
def test_cleaning_is_idempotent(title, body):
    """Cleaning a cleaned record changes nothing."""
    once, bad = clean_record(rec(title=title, text=body))
    if once is None:
        return
    twice, bad2 = clean_record(rec(title=once["title"], text=once["text"]))
    assert bad2 is None
    assert (twice["title"], twice["text"]) == (once["title"], once["text"])


@pytest.mark.parametrize(
    ("raw", "utc", "offset", "precision", "method"),
    [
        ("2026-11-20T07:30:00+01:00", datetime(2026, 11, 20, 6, 30, tzinfo=UTC), "+01:00", "second", "iso"),
        ("21 ноября 2026", datetime(2026, 11, 21, tzinfo=UTC), None, "day", "dateparser"),
        ("21 novembre 2026 à 10h15", datetime(2026, 11, 21, 10, 15, tzinfo=UTC), None, "second", "dateparser"),
        ("2026年11月21日", datetime(2026, 11, 21, tzinfo=UTC), None, "day", "dateparser"),
        ("21. November 2026, 10:15 Uhr", datetime(2026, 11, 21, 10, 15, tzinfo=UTC), None, "second", "dateparser"),
        ("Feb 2019", datetime(2019, 2, 1, tzinfo=UTC), None, "month", "dateutil"),
        ("2019", datetime(2019, 1, 1, tzinfo=UTC), None, "year", "iso"),
        ("2019-02", datetime(2019, 2, 1, tzinfo=UTC), None, "month", "iso"),
        ("vor 2 Stunden", datetime(2026, 11, 21, 10, 0, tzinfo=UTC), None, "second", "relative_to_file_time"),
        ("2 hours ago", datetime(2026, 11, 21, 10, 0, tzinfo=UTC), None, "second", "relative_to_file_time"),
        ("il y a 3 jours", datetime(2026, 11, 18, 12, 0, tzinfo=UTC), None, "day", "relative_to_file_time"),
    ],
)
def test_dates_keep_time_offset_and_precision(raw, utc, offset, precision, method):
    """Dates in many languages: time and offset kept, partial dates never padded with today, relative ones placed."""
    from newsetl.dates import parse_date

    file_time = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    got = parse_date(raw, file_time)
    assert (got.at, got.offset, got.precision, got.method, got.ok) == (utc, offset, precision, method, True)


def test_incomplete_and_relative_dates_without_a_reference_are_refused():
    """'5' or 'Feb' would need today's month or year; a relative date needs the file's time."""
    from newsetl.dates import parse_date

    for raw in ("5", "Feb", "Monday", "the day after tomorrow", "in 3 hours"):
        assert not parse_date(raw, datetime(2026, 11, 21, tzinfo=UTC)).ok, raw
    assert not parse_date("2 hours ago").ok


def test_html_states_its_own_publication_time():
    """article:published_time, JSON-LD datePublished and <time datetime> keep their time and offset."""
    from newsetl.ingest.html import published_in_page

    head = b'<meta property="article:published_time" content="2026-11-20T07:30:00+01:00">'
    assert published_in_page(b"<html><head>" + head + b"</head></html>") == "2026-11-20T07:30:00+01:00"
    ld = b'<script type="application/ld+json">{"@type":"NewsArticle","datePublished":"2026-11-19T22:05:00-05:00"}</script>'
    assert published_in_page(ld) == "2026-11-19T22:05:00-05:00"
    assert published_in_page(b'<p><time datetime="2026-11-18T09:00:00Z">yesterday</time></p>') == "2026-11-18T09:00:00Z"
    assert published_in_page(b"<p>no date here</p>") is None


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("ab Zé_9-.\n\t") + ["中", "ひ", "한", "ー", "ß", "İ", "ﬁ", "١"]), max_size=80)
)
def test_tokens_are_cjk_characters_and_word_runs(text):
    """Each Han/kana/Hangul character is a token, other word characters form runs (the order of the alternatives
    in the token regex changes nothing)."""
    import re

    from newsetl.clean import _CJK, tokens

    assert tokens(text) == re.findall(rf"[{_CJK}]|[^\W{_CJK}]+", text.lower())
