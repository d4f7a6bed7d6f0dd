"""Parse JSON and JSONL feed exports into raw article records, mapping the usual field names."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from newsetl.ingest.errors import FileError, Issue

# Our field <- feed field names, first present wins.
FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "title": ("title", "headline", "name"),
    "text": ("text", "body", "content", "articleBody", "article_body", "description", "summary"),
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

# Keys under which a wrapper object holds its list of articles.
_LIST_KEYS = ("articles", "items", "data", "entries", "results", "documents")


def _first(obj: dict, names: Iterable[str]) -> Any:
    for n in names:
        v = obj.get(n)
        if v not in (None, "", [], {}):
            return v
    return None


def _as_text(v: Any) -> str | None:
    """Flatten a feed value (string, number, {name: ...}, list of those) to one string."""
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, dict):
        return _as_text(_first(v, ("name", "title", "value", "text", "@value", "url")))
    if isinstance(v, list):
        parts = [p for p in (_as_text(x) for x in v) if p]
        return ", ".join(parts) if parts else None
    return str(v)


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
    rec: dict[str, Any] = {}
    for ours, names in FIELD_NAMES.items():
        v = _first(obj, names)
        if ours == "keywords":
            rec[ours] = _as_list(v)
        elif ours == "published_raw":
            rec[ours] = _as_date(v)
        else:
            rec[ours] = _as_text(v)
    return rec


def _records_from_value(value: Any, raw_for: Any) -> Iterator[dict | Issue]:
    if isinstance(value, dict):
        for key in _LIST_KEYS:
            if isinstance(value.get(key), list) and not _first(value, FIELD_NAMES["text"]):
                value = value[key]
                break
        else:
            yield map_feed_record(value) | {"record_no": 0}
            return
    if not isinstance(value, list):
        raise FileError(f"top-level JSON is {type(value).__name__}, expected an object or an array of objects")
    for i, item in enumerate(value):
        if isinstance(item, dict):
            yield map_feed_record(item) | {"record_no": i}
        else:
            yield Issue(i, "not_an_object", f"array item {i} is {type(item).__name__}, not an object", raw_for(item))


def parse_json(text: str) -> Iterator[dict | Issue]:
    """Yield records (dicts with record_no) or Issues from a JSON document (object or array)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    yield from _records_from_value(value, lambda x: json.dumps(x, ensure_ascii=False)[:2000])


def parse_jsonl(lines: Iterable[str]) -> Iterator[dict | Issue]:
    """Yield records or Issues from JSON Lines; a malformed line is an Issue, the rest still load."""
    for i, line in enumerate(lines):
        s = line.strip()
        if not s:
            continue
        try:
            obj = json.loads(s)
        except json.JSONDecodeError as exc:
            yield Issue(i, "malformed_json", f"line {i + 1}: {exc.msg} at column {exc.colno}", s[:2000])
            continue
        if not isinstance(obj, dict):
            yield Issue(i, "not_an_object", f"line {i + 1} is a JSON {type(obj).__name__}, not an object", s[:2000])
            continue
        yield map_feed_record(obj) | {"record_no": i}
