"""Text dumps: layout A, layout B, plain Title/Body, and the two real seeds."""

from __future__ import annotations

from conftest import SEED_A, SEED_B, need_shared
from newsetl.clean import clean_record
from newsetl.ingest import discover_files, read_file
from newsetl.ingest.text import parse_text

LAYOUT_A = """World 2025-03-01T10:00:00+01:00
Harbour Times
Ferry Fares Rise For The First Time In Ten Years

Ferry Fares Rise For The First Time In Ten Years

ferries, prices, transport, harbour

The ferry company raised its fares by five percent on Saturday.

Passengers said the increase was expected after a difficult winter."""

LAYOUT_B = """untitled design

Ferry fares rise for the first time in ten years

The ferry company raised its fares by five percent on Saturday, the first increase in a decade.

Passengers said the increase was expected.

(Posted by Maria Lopes)

Source: Harbour Times

You may also like

Most popular"""


def _clean(text: str) -> dict:
    rec = parse_text(text)[0] | {
        "record_id": "r",
        "source_file": "f",
        "file_sha256": "s",
        "record_no": 0,
        "format": "txt",
    }
    out, bad = clean_record(rec)
    assert bad is None, bad
    return out


def test_layout_a_header_fields_are_extracted():
    """Layout A gives category, timestamp, outlet line, one title, the keywords and the body."""
    rec = parse_text(LAYOUT_A)[0]
    assert rec["category"] == "World"
    assert rec["published_raw"] == "2025-03-01T10:00:00+01:00"
    assert rec["outlet_header"] == "Harbour Times"
    assert rec["title"] == "Ferry Fares Rise For The First Time In Ten Years"
    assert rec["keywords"] == ["ferries", "prices", "transport", "harbour"]
    assert rec["text"].startswith("The ferry company raised")
    assert "Ferry Fares Rise" not in rec["text"]


def test_layout_b_caption_trailers_and_chrome_are_removed():
    """Layout B loses its caption line and chrome; the trailers become author and outlet."""
    out = _clean(LAYOUT_B)
    assert out["title"] == "Ferry fares rise for the first time in ten years"
    assert out["author"] == "Maria Lopes"
    assert out["outlet_trailer"] == "Harbour Times"
    for junk in ("untitled design", "You may also like", "Most popular", "Posted by", "Source:"):
        assert junk not in out["text"]
    assert out["text"].endswith("the increase was expected.")


def test_plain_title_body():
    """A plain dump is its first line as title and the rest as body."""
    rec = parse_text("A short title\n\nFirst paragraph.\nSecond paragraph.")[0]
    assert rec == {"title": "A short title", "text": "First paragraph.\n\nSecond paragraph.", "title_method": "header"}


def test_capitalised_first_line_is_a_title_not_a_caption():
    """Only a caption-like first line is dropped, never a real title."""
    rec = parse_text("Markets fall\n\nShares fell sharply on Monday.")[0]
    assert rec["title"] == "Markets fall"


def test_empty_text_gives_no_record():
    """Whitespace only: nothing to parse."""
    assert parse_text(" \n\n \n") == []


def _seed(path):
    entry = next(e for e in discover_files(path.parent) if e.path == path.name)
    rec = next(iter(read_file(entry)))
    out, bad = clean_record(rec)
    assert bad is None
    return out


def test_seed_layout_a_loads_exactly():
    """Seed 000 (layout A): category, UTC date, outlet line, single title, 13 keywords, body start."""
    out = _seed(need_shared(SEED_A))
    assert out["category"] == "Politics"
    assert out["published_at"].isoformat() == "2024-02-15T02:57:01+00:00"
    assert out["published_offset"] == "+02:00"
    assert out["outlet_header"] == "Ukrainian news"
    assert out["title"] == "Russia Exchanges Latest Fighters And Air Defense Systems For Iranian Drones - Media"
    assert out["title"] not in out["text"]
    assert len(out["keywords"]) == 13
    assert out["text"].startswith('Russia provides "unprecedented" support')


def test_seed_layout_b_loads_exactly():
    """Seed 003 (layout B): title, author and outlet from trailers, no chrome, body end, no date."""
    out = _seed(need_shared(SEED_B))
    assert out["title"] == "Russia received hundreds of drones to attack Ukraine: US"
    for junk in ("untitled design", "You may also like", "Most popular"):
        assert junk not in out["text"] and junk not in out["title"]
    assert out["author"] == "Fabio Mendes"
    assert out["outlet_trailer"] == "CNN Brasil"
    assert out["text"].endswith("processors and controllers.")
    assert out["published_at"] is None
    assert "\u201c" in out["text"], "curly quotes are content and must survive cleaning"


PARAGRAPH = (
    "The city council approved on Thursday a plan to extend the northern tram line by four kilometres. "
    "Construction is expected to start in the spring and to last about eighteen months, officials said."
)


def test_a_first_line_that_is_a_paragraph_is_no_headline():
    """No headline: the whole text loads, the title is its first sentence, title_method says so."""
    [rec] = parse_text(f"{PARAGRAPH}\n\nA second paragraph follows here with more detail on the works.")
    assert rec["title_method"] == "first_sentence"
    assert (
        rec["title"]
        == "The city council approved on Thursday a plan to extend the northern tram line by four kilometres."
    )
    assert rec["text"].startswith(PARAGRAPH) and rec["text"].endswith("on the works.")
    [single] = parse_text(PARAGRAPH)  # one paragraph and nothing else: an article, not empty_text
    assert single["text"] == PARAGRAPH and single["title_method"] == "first_sentence"
    cleaned, rejected = clean_record(single)
    assert rejected is None and cleaned["title"] and cleaned["text"] == PARAGRAPH


def test_a_headline_stays_a_headline():
    """A short first line, even with a period, is the title (title_method = header)."""
    [rec] = parse_text("Tram line to grow by four kilometres.\n\n" + PARAGRAPH)
    assert (rec["title"], rec["title_method"]) == ("Tram line to grow by four kilometres.", "header")
    assert rec["text"] == PARAGRAPH


def test_json_feed_1_1_loads_its_items():
    """A JSON Feed document: its items are the articles; the feed's title is the outlet hint, not an article."""
    import json

    from newsetl.ingest.jsonfeed import parse_json

    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Harbour Times",
        "description": "News from the harbour",
        "home_page_url": "https://harbour.example/",
        "items": [
            {
                "id": "1",
                "url": "https://harbour.example/1",
                "title": "Ferry back",
                "content_html": "<p>The ferry is back.</p><p>Tickets stay valid.</p>",
                "date_published": "2026-11-20T07:30:00+01:00",
                "authors": [{"name": "Ana Lima"}],
            },
            {"id": "2", "title": "Bridge closed", "content_text": "The bridge closes on Monday.", "tags": ["roads"]},
        ],
    }
    recs = list(parse_json(json.dumps(feed)))
    assert [r["title"] for r in recs] == ["Ferry back", "Bridge closed"]
    assert recs[0]["text"] == "The ferry is back.\nTickets stay valid."
    assert recs[1]["text"] == "The bridge closes on Monday."
    assert {r["outlet_meta"] for r in recs} == {"Harbour Times"}
    assert recs[0]["author"] == "Ana Lima" and recs[0]["published_raw"] == "2026-11-20T07:30:00+01:00"
    assert {r["title_method"] for r in recs} == {"feed"}
