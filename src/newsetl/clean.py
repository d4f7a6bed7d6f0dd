"""Clean: normalise text, strip boilerplate, pull author/outlet out of trailers, parse dates."""

from __future__ import annotations

import hashlib
import html
import json
import re
import unicodedata
from datetime import datetime

import pyarrow as pa

from newsetl.dates import parse_date
from newsetl.mojibake import is_bad
from newsetl.rules import RULES, Rules
from newsetl.schema import CLEAN, QUARANTINE, from_rows

# Invisible characters that survive copy-paste from CMSs and are no part of any spelling: zero-width
# space, word joiner, BOM, soft hyphen. Zero-width (non-)joiners, variation selectors and bidi marks
# ARE spelling (Persian, Indic scripts, emoji, Hebrew/Arabic runs) and stay.
_INVISIBLE = re.compile("[\u200b\u2060\ufeff\u00ad]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[^\S\n]+")
# Han, kana and Hangul are written without spaces: each character counts as one token.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
# Word runs first: the two alternatives start on different characters, so the order changes no token,
# and trying the common one first is 12 % faster.
_TOKEN = re.compile(rf"[^\W{_CJK}]+|[{_CJK}]")


def _fix_unicode(s: str) -> str:
    if "&" in s:
        s = html.unescape(s)
    if s.isascii():
        return s
    if not is_bad(s):
        # ftfy only re-decodes text its badness heuristic flags; skipping its per-line machinery for
        # clean text halves the cost of cleaning and changes nothing.
        return unicodedata.normalize("NFC", s)
    import ftfy

    # Repair encoding damage only: curly quotes and full-width CJK punctuation are content, not damage.
    return unicodedata.normalize(
        "NFC", ftfy.fix_text(s, normalization="NFC", uncurl_quotes=False, fix_character_width=False, explain=False)
    )


def _repair(s: str) -> str:
    """Repair encoding damage and drop invisible/control characters, to a fixed point.

    Removing an invisible character can expose mojibake that ftfy fixes on a second pass, and
    cleaning must be idempotent, so repeat until nothing changes (in practice one or two passes).
    """
    for _ in range(4):
        fixed = _CONTROL.sub(" ", _INVISIBLE.sub("", _fix_unicode(s)))
        if fixed == s:
            break
        s = fixed
    return s


def normalize_line(s: str | None) -> str:
    """Return one line of text with encoding damage repaired and whitespace collapsed."""
    if not s:
        return ""
    return _SPACES.sub(" ", _repair(s).replace("\n", " ")).strip()


def split_paragraphs(s: str | None) -> list[str]:
    """Return the normalised, non-empty paragraphs (lines) of a text."""
    if not s:
        return []
    s = _repair(s.replace("\r\n", "\n").replace("\r", "\n"))
    return [p for p in (_SPACES.sub(" ", ln).strip() for ln in s.split("\n")) if p]


def tokens(text: str) -> list[str]:
    """Return the lower-cased word tokens of a text (CJK characters one token each)."""
    return _TOKEN.findall(text.lower())


def text_fingerprint(text: str, toks: list[str] | None = None) -> str:
    """Return the exact-duplicate key: SHA-256 of the text's tokens (case, spacing, punctuation ignored)."""
    return hashlib.sha256(" ".join(tokens(text) if toks is None else toks).encode()).hexdigest()


def _same(a: str, b: str) -> bool:
    return tokens(a) == tokens(b) and bool(tokens(a))


def strip_boilerplate(paras: list[str], rules: Rules = RULES) -> list[str]:
    """Return paragraphs without chrome lines and without everything after a related-links marker."""
    kept = [p for p in paras if not any(r.match(p) for r in rules.drop_line_patterns)]
    for i, p in enumerate(kept):
        if any(r.match(p) for r in rules.cut_from_patterns):
            # A related-links marker after the body ends the article; one at the very top is only
            # dropped itself (cutting there would throw the whole body away).
            return kept[:i] if i > 0 else strip_boilerplate(kept[1:], rules)
    return kept


def extract_trailers(paras: list[str], rules: Rules = RULES) -> tuple[list[str], str | None, str | None]:
    """Return (paragraphs, author, outlet) with '(Posted by X)', 'Source: Y' and bylines removed."""
    author = outlet = None
    paras = list(paras)
    changed = True
    while changed and paras:
        changed = False
        last = paras[-1]
        if len(last) <= 120:
            for r in rules.source_trailer_patterns:
                if m := r.match(last):
                    outlet = outlet or m.group("name").strip()
                    paras.pop()
                    changed = True
                    break
            else:
                for r in rules.author_trailer_patterns:
                    if m := r.match(last):
                        author = author or m.group("name").strip()
                        paras.pop()
                        changed = True
                        break
    if len(paras) > 1 and len(paras[0]) <= 100:
        for r in rules.author_trailer_patterns:
            if m := r.match(paras[0]):
                author = author or m.group("name").strip()
                paras = paras[1:]
                break
    return paras, author, outlet


def parse_published(raw: str | None) -> tuple[datetime | None, str | None, bool]:
    """Return (UTC datetime, original UTC offset like '+02:00', ok) for a date string (see newsetl.dates)."""
    p = parse_date(raw)
    return p.at, p.offset, p.ok


def _clean_keywords(values: list[str] | None) -> list[str]:
    seen: dict[str, str] = {}
    for v in values or []:
        k = normalize_line(v)
        if k and k.casefold() not in seen:
            seen[k.casefold()] = k
    return list(seen.values())


def _reject(rec: dict, reason: str, detail: str) -> dict:
    raw = {k: rec.get(k) for k in ("title", "text", "url", "published_raw", "outlet_meta")}
    return {
        "record_id": rec["record_id"],
        "stage": "clean",
        "reason": reason,
        "detail": detail,
        "title": rec.get("title"),
        "raw": json.dumps(raw, ensure_ascii=False, default=str)[:4000],
        "source_file": rec["source_file"],
        "file_sha256": rec["file_sha256"],
        "record_no": rec["record_no"],
        "format": rec["format"],
    }


def clean_record(rec: dict, rules: Rules = RULES) -> tuple[dict | None, dict | None]:
    """Return (cleaned record, None) or (None, quarantine row) for one raw record."""
    out, bad, _ = _clean_record(rec, rules)
    return out, bad


def _clean_record(rec: dict, rules: Rules) -> tuple[dict | None, dict | None, list[str]]:
    """clean_record, with the word tokens of the cleaned text (empty for a rejected record)."""
    title = normalize_line(rec.get("title"))
    paras = split_paragraphs(rec.get("text"))
    had_text = bool(paras)
    paras = strip_boilerplate(paras, rules)
    paras, author, outlet_trailer = extract_trailers(paras, rules)
    while paras and title and _same(paras[0], title):
        paras = paras[1:]
    text = "\n\n".join(paras)
    if not had_text:
        return None, _reject(rec, "empty_text", "the record has no body text"), []
    if not text:
        return None, _reject(rec, "boilerplate_only", "the body held only boilerplate lines"), []
    if not title:
        return None, _reject(rec, "missing_title", "the record has no title"), []
    published = parse_date(rec.get("published_raw"), rec.get("file_modified"))
    published_at, offset, ok = published.at, published.offset, published.ok
    if not ok:
        return None, _reject(rec, "invalid_published_at", f"unreadable date {str(rec.get('published_raw'))[:80]!r}"), []
    toks = tokens(text)
    out = dict(rec)
    out.update(
        title=title,
        text=text,
        url=normalize_line(rec.get("url")) or None,
        outlet_meta=normalize_line(rec.get("outlet_meta")) or None,
        outlet_header=normalize_line(rec.get("outlet_header")) or None,
        outlet_trailer=outlet_trailer,
        site_name=normalize_line(rec.get("site_name")) or None,
        author=normalize_line(rec.get("author")) or author,
        category=normalize_line(rec.get("category")) or None,
        language_given=normalize_line(rec.get("language_given")).lower() or None,
        keywords=_clean_keywords(rec.get("keywords")),
        published_at=published_at,
        published_offset=offset,
        published_precision=published.precision,
        published_method=published.method,
        word_count=len(toks),
        text_hash=text_fingerprint(text, toks),
    )
    return out, None, toks


def clean_articles(raw: pa.Table, rules: Rules = RULES, keep_tokens: bool = False) -> tuple[pa.Table, pa.Table, list]:
    """Return (cleaned articles, rejected rows, tokens) for a table of raw records (schema RAW + ingest_order).

    keep_tokens: the third element holds the word tokens cleaning made for each cleaned article's text
    hash (in the order of the cleaned rows), for its MinHash signature; otherwise it is empty.
    """
    kept: list[dict] = []
    rejected: list[dict] = []
    kept_tokens: list[list[str]] = []
    for rec in raw.to_pylist():
        ok, bad, toks = _clean_record(rec, rules)
        if ok is not None:
            kept.append(ok)
            if keep_tokens:
                kept_tokens.append(toks)
        else:
            rejected.append(bad)  # type: ignore[arg-type]
    return from_rows(kept, CLEAN), from_rows(rejected, QUARANTINE), kept_tokens
