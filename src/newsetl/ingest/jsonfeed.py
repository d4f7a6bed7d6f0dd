"""Parse JSON and JSONL feed exports into raw article records, mapping the usual field names."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from newsetl.ingest.errors import FileError, Issue, TooLarge, Undecodable

# Our field <- feed field names, first present wins.
FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "title": ("title", "headline", "name"),
    "text": (
        "text",
        "body",
        "content",
        "articleBody",
        "article_body",
        "content_text",
        "content_html",
        "description",
        "summary",
    ),
    "url": ("url", "link", "canonical_url", "permalink"),
    "outlet_meta": ("source", "site_name", "outlet", "publisher", "site", "source_name", "sitename"),
    "published_raw": (
        "published_at",
        "publish_date",
        "published",
        "date",
        "pubDate",
        "datePublished",
        "date_published",
        "created_at",
        "timestamp",
    ),
    "author": ("author", "authors", "byline", "creator"),
    "language_given": ("language", "lang", "inLanguage", "locale"),
    "keywords": ("keywords", "tags"),
    "category": ("category", "section", "categories"),
}

_SURROGATE = re.compile("[\ud800-\udfff]")

# Keys under which a wrapper object holds its list of articles.
_LIST_KEYS = ("articles", "items", "data", "entries", "results", "documents")


def _first(obj: dict, names: Iterable[str]) -> Any:
    for n in names:
        v = obj.get(n)
        if v not in (None, "", [], {}):
            return v
    return None


def clean_text(v: str) -> str:
    """Return `v` storable as UTF-8: lone surrogates (from JSON escapes like \\ud800) become their escape text."""
    if _SURROGATE.search(v) is None:
        return v
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", v)


def _as_text(v: Any) -> str | None:
    """Flatten a feed value (string, number, {name: ...}, list of those) to one string."""
    if v is None:
        return None
    if isinstance(v, str):
        return clean_text(v)
    if isinstance(v, dict):
        return _as_text(_first(v, ("name", "title", "value", "text", "@value", "url")))
    if isinstance(v, list):
        parts = [p for p in (_as_text(x) for x in v) if p]
        return ", ".join(parts) if parts else None
    return clean_text(str(v))


def _as_date(v: Any) -> str | None:
    """Dates as strings; numeric epochs (seconds or milliseconds) become ISO strings."""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, (int, float)):
        secs = v / 1000 if abs(v) > 1e11 else v
        try:
            return datetime.fromtimestamp(secs, tz=UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            return str(v)
    return _as_text(v)


def _as_list(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        sep = ";" if ";" in v else ","
        return [p.strip() for p in v.split(sep) if p.strip()]
    if isinstance(v, list):
        return [t for t in (_as_text(x) for x in v) if t]
    t = _as_text(v)
    return [t] if t else []


def map_feed_record(obj: dict) -> dict:
    """Return a raw record from one feed object, using the usual field names."""
    rec: dict[str, Any] = {"title_method": "feed"}
    for ours, names in FIELD_NAMES.items():
        v = _first(obj, names)
        if ours == "keywords":
            rec[ours] = _as_list(v)
        elif ours == "published_raw":
            rec[ours] = _as_date(v)
        else:
            rec[ours] = _as_text(v)
    if rec.get("text") and _first(obj, FIELD_NAMES["text"]) is obj.get("content_html"):
        rec["text"] = _html_text(rec["text"])
    return rec


def _html_text(fragment: str) -> str:
    """Return the text of an HTML fragment (JSON Feed content_html), one paragraph per block element."""
    import lxml.html

    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (ValueError, lxml.etree.ParserError):
        return fragment
    for block in root.iter("p", "div", "br", "li", "h1", "h2", "h3", "h4", "blockquote"):
        block.tail = "\n" + (block.tail or "")
    return "\n".join(ln.strip() for ln in root.text_content().split("\n") if ln.strip())


def _is_json_feed(value: dict) -> bool:
    """A JSON Feed (jsonfeed.org, 1.0 or 1.1) document: its items are the articles."""
    return str(value.get("version", "")).startswith("https://jsonfeed.org/version/") and isinstance(
        value.get("items"), list
    )


def _records_from_value(value: Any, raw_for: Any) -> Iterator[dict | Issue]:
    if isinstance(value, dict) and _is_json_feed(value):
        # The feed's own title names the outlet of items that do not name one; it is no article.
        outlet = _as_text(value.get("title"))
        for i, item in enumerate(value["items"]):
            if not isinstance(item, dict):
                yield Issue(i, "not_an_object", f"item {i} is {type(item).__name__}, not an object", raw_for(item))
                continue
            rec = _mapped(item, i)
            if isinstance(rec, dict) and not rec.get("outlet_meta"):
                rec["outlet_meta"] = outlet
            yield rec
        return
    if isinstance(value, dict):
        for key in _LIST_KEYS:
            if isinstance(value.get(key), list) and not _first(value, FIELD_NAMES["text"]):
                value = value[key]
                break
        else:
            yield _mapped(value, 0)
            return
    if not isinstance(value, list):
        raise FileError(f"top-level JSON is {type(value).__name__}, expected an object or an array of objects")
    for i, item in enumerate(value):
        if isinstance(item, dict):
            yield _mapped(item, i)
        else:
            yield Issue(i, "not_an_object", f"array item {i} is {type(item).__name__}, not an object", raw_for(item))


def _int(digits: str) -> int | str:
    """JSON integers: Python refuses to convert more than 4,300 digits; keep such numbers as their text."""
    return int(digits) if len(digits) <= 100 else digits


def loads(text: str) -> Any:
    """Return the parsed JSON value; raise ValueError (with a one-line message) for anything unparseable.

    Nesting deeper than Python's recursion limit raises ValueError instead of RecursionError.
    """
    try:
        return json.loads(text, parse_int=_int)
    except RecursionError:
        raise ValueError("JSON nested too deeply to parse") from None


def _raw(value: Any) -> str:
    """The record as text for a quarantine row (a prefix; never raises)."""
    try:
        return clean_text(json.dumps(value, ensure_ascii=False)[:2000])
    except (RecursionError, ValueError):
        return clean_text(repr(value)[:2000])


def _mapped(value: dict, record_no: int) -> dict | Issue:
    """map_feed_record, or an Issue when the object cannot be mapped (any error stays with its record)."""
    try:
        return map_feed_record(value) | {"record_no": record_no}
    except (RecursionError, ValueError, TypeError) as exc:
        return Issue(
            record_no, "unreadable_record", f"record {record_no}: {type(exc).__name__}: {exc}"[:300], _raw(value)
        )


def parse_json(text: str) -> Iterator[dict | Issue]:
    """Yield records (dicts with record_no) or Issues from a JSON document (object or array)."""
    try:
        value = loads(text)
    except json.JSONDecodeError as exc:
        raise FileError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except ValueError as exc:
        raise FileError(f"invalid JSON: {exc}") from exc
    yield from _records_from_value(value, _raw)


def parse_jsonl(lines: Iterable[str | TooLarge | Undecodable]) -> Iterator[dict | Issue]:
    """Yield records or Issues from JSON Lines; a malformed line is an Issue, the rest still load."""
    for i, line in enumerate(lines):
        if isinstance(line, TooLarge):
            detail = f"line {i + 1}: {line.size:,} characters, above NEWSETL_MAX_RECORD_BYTES"
            yield Issue(i, "record_too_large", detail, "")
            continue
        if isinstance(line, Undecodable):
            yield Issue(i, "undecodable", f"line {i + 1}: {line.size:,} bytes no text encoding decodes", "")
            continue
        s = line.strip()
        if not s:
            continue
        try:
            obj = loads(s)
        except json.JSONDecodeError as exc:
            yield Issue(i, "malformed_json", f"line {i + 1}: {exc.msg} at column {exc.colno}", clean_text(s[:2000]))
            continue
        except ValueError as exc:
            yield Issue(i, "malformed_json", f"line {i + 1}: {exc}", clean_text(s[:2000]))
            continue
        if not isinstance(obj, dict):
            yield Issue(
                i, "not_an_object", f"line {i + 1} is a JSON {type(obj).__name__}, not an object", clean_text(s[:2000])
            )
            continue
        yield _mapped(obj, i)
