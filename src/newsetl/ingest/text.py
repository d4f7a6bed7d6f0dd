"""Parse plain-text article dumps: layout A (header block), layout B (caption + trailers), Title/Body."""

from __future__ import annotations

import re

from newsetl.rules import RULES

# Layout A's first line: "<Category> <ISO-8601 timestamp with offset>", e.g. "Politics 2024-02-15T04:57:01+02:00".
_HEADER = re.compile(
    r"^(?P<category>\S.{0,80}?)\s+"
    r"(?P<ts>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)\s*$"
)


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]


def _paragraphs(lines: list[str]) -> list[str]:
    """Non-empty lines; each line of these dumps is one paragraph."""
    return [ln for ln in lines if ln]


def _looks_like_keywords(line: str) -> bool:
    """A comma-separated list of short items with no sentence punctuation (layout A's tag line)."""
    items = [i.strip() for i in line.split(",")]
    if len(items) < 3 or any(not i for i in items):
        return False
    if line.rstrip().endswith((".", "!", "?", ":", '"', "\u201d")):
        return False
    return max(len(i.split()) for i in items) <= 8


def _is_caption(line: str, next_line: str | None) -> bool:
    """An image caption or CMS placeholder standing before the title (layout B's junk first line)."""
    if next_line is None:
        return False
    if any(p.search(line) for p in RULES.caption_patterns):
        return True
    # A short all-lowercase fragment with no punctuation before a real title line.
    words = line.split()
    return len(words) <= 4 and line == line.lower() and not re.search(r"[.!?:,;]", line) and next_line[:1].isupper()


def parse_text(text: str) -> list[dict]:
    """Return the one raw article record of a text dump (empty list when there is no text)."""
    paras = _paragraphs(_lines(text))
    if not paras:
        return []
    header = _HEADER.match(paras[0])
    if header and len(paras) >= 3:
        return [_parse_layout_a(paras, header)]
    if len(paras) >= 2 and _is_caption(paras[0], paras[1]):
        paras = paras[1:]
    if _is_paragraph(paras[0]):
        # No headline: the first line is already the story. Keep all of it; name it by its first sentence.
        return [{"title": first_sentence(paras[0]), "text": "\n\n".join(paras), "title_method": "first_sentence"}]
    return [{"title": paras[0], "text": "\n\n".join(paras[1:]), "title_method": "header"}]


# A sentence ends at . ! ? (or their CJK/Devanagari forms) followed by a space or the end.
_SENTENCE_END = re.compile(r"(?<=[.!?\u3002\uff01\uff1f\u0964])(?:\s+|$)")
# Headlines run to about 20 words (the longest in the scrapinghub benchmark's gold titles is 190 chars).
_HEADLINE_CHARS = 200


def _is_paragraph(line: str) -> bool:
    """True when a first line reads as body text, not a headline: long, or several sentences."""
    sentences = [x for x in _SENTENCE_END.split(line) if x.strip()]
    return len(line) > _HEADLINE_CHARS or (len(sentences) >= 2 and len(line) > 80)


def first_sentence(paragraph: str, limit: int = _HEADLINE_CHARS) -> str:
    """Return the first sentence of a paragraph, cut at a word boundary near `limit` characters."""
    sentence = _SENTENCE_END.split(paragraph, maxsplit=1)[0].strip()
    if len(sentence) <= limit:
        return sentence
    cut = sentence[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def _parse_layout_a(paras: list[str], header: re.Match[str]) -> dict:
    """Layout A: header line, outlet line, title, the title again, keyword line, body."""
    outlet, title = paras[1], paras[2]
    rest = paras[3:]
    while rest and rest[0].casefold() == title.casefold():
        rest = rest[1:]
    keywords: list[str] = []
    if rest and _looks_like_keywords(rest[0]):
        keywords = [k.strip() for k in rest[0].split(",") if k.strip()]
        rest = rest[1:]
    return {
        "category": header.group("category").strip(),
        "published_raw": header.group("ts"),
        "outlet_header": outlet,
        "title": title,
        "title_method": "header",
        "keywords": keywords,
        "text": "\n\n".join(rest),
    }
