"""Parse JSON and JSONL feed exports into raw article records, mapping the usual field names.

A JSON file is streamed record by record with ijson (see `scan_json` and `stream_json`) so that a large
array holds one record at a time, like JSONL; whatever ijson would not read exactly as `json.loads` does
is read whole by `parse_json`, as before.
"""

from __future__ import annotations

import codecs
import io
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

import ijson

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


def _layout(value: dict) -> tuple[str, str | None]:
    """How a top-level object holds its articles: ("feed", "items") for a JSON Feed, ("list", key) for a
    wrapper whose first list under _LIST_KEYS holds them (an object with article text is no wrapper), or
    ("one", None): the object is one article."""
    if _is_json_feed(value):
        return "feed", "items"
    if not _first(value, FIELD_NAMES["text"]):
        for key in _LIST_KEYS:
            if isinstance(value.get(key), list):
                return "list", key
    return "one", None


def _records_from_value(value: Any) -> Iterator[dict | Issue]:
    if isinstance(value, dict):
        layout, key = _layout(value)
        if layout == "one" or key is None:
            yield _mapped(value, 0)
            return
        # A JSON Feed's own title names the outlet of items that do not name one; it is no article.
        outlet = _as_text(value.get("title")) if layout == "feed" else None
        yield from _list_records(value[key], layout, outlet)
        return
    if not isinstance(value, list):
        raise FileError(f"top-level JSON is {type(value).__name__}, expected an object or an array of objects")
    yield from _list_records(value, "array", None)


def _list_records(items: Iterable[Any], layout: str, outlet: str | None) -> Iterator[dict | Issue]:
    """The records of a top-level array, a wrapper's list or a JSON Feed's items; a non-object is an Issue."""
    word = "item" if layout == "feed" else "array item"
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            yield Issue(i, "not_an_object", f"{word} {i} is {type(item).__name__}, not an object", _raw(item))
            continue
        rec = _mapped(item, i)
        if layout == "feed" and isinstance(rec, dict) and not rec.get("outlet_meta"):
            rec["outlet_meta"] = outlet
        yield rec


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
    yield from _records_from_value(value)


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


# --- A JSON file streamed record by record -------------------------------------------------------------
#
# json.loads holds the whole document and every object of it (a 300 MB array peaked near 700 MiB, see
# benchmarks/json_array_memory.py); ijson's C backend reads a block at a time and builds one record at a
# time. Two passes over the file: scan_json reads ijson's events only (holding nothing) to check the
# document and find its records, stream_json then yields them. Every record is exactly what json.loads
# gives: what ijson would read differently makes scan_json raise NotStreamable, and the file is read
# whole by parse_json as before (invalid JSON too, so that its error keeps its line and column and, as
# before, no record of it is kept).


def _ijson_backend() -> Any:
    """ijson's C backend (yajl2_c, in the ijson wheels) when it loads, else the best one ijson finds."""
    try:
        return ijson.get_backend("yajl2_c")
    except ImportError:
        return ijson


_IJSON = _ijson_backend()
_BLOCK = 1 << 16  # larger blocks are slower (each a fresh mmap, and out of cache for ijson)
# Deeper documents are read whole: json.loads itself gives up near 1,000 levels, ijson's item prefixes
# grow with the square of the depth.
_MAX_DEPTH = 400
_INT_TEXT_MIN, _INT_TEXT_MAX = -(10**99), 10**100  # json keeps integers of more than 100 characters as text
_SHORT_INT = 10**18  # yajl2_c reads integers into 64 bits when it makes floats (use_float)
_DIGIT_BYTES = frozenset(b"0123456789")
_SURROGATE_HINT = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPES = re.compile(  # a high + low pair, or one surrogate escape alone
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
)


def _parses(doc: bytes) -> bool:
    try:
        for _ in _IJSON.basic_parse(io.BytesIO(doc)):
            pass
    except ijson.JSONError:
        return False
    return True


# yajl2_c takes a document followed by an unterminated string ('[1] "x') as complete. A quote added after
# the document makes such a string the trailing garbage it is, and leaves a complete document complete.
# (A document ending in a backslash, which the quote would not close, is never streamed.) Should a later
# ijson behave otherwise, the checks below say so: no quote is needed, or nothing is streamed.
_END: bytes | None
if not _parses(b'[] "x'):
    _END = b""
elif _parses(b"[] ") and _parses(b'[] "') and not _parses(b'[] "x"'):
    _END = b'"'
else:
    _END = None


class NotStreamable(Exception):
    """ijson would not read this document exactly as json.loads does (or it is not valid JSON): read it whole.

    encoding: its bytes are not UTF-8 (or start with a UTF-16/32 byte-order mark) and must be decoded first.
    """

    def __init__(self, why: str, encoding: bool = False) -> None:
        super().__init__(why)
        self.encoding = encoding


class ReadAgainDiffers(FileError):
    """The second pass did not find what the first pass found: the file changed between the two."""


class ByteReader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class Utf8Text:
    """A str as a stream of UTF-8 bytes (decoded text streamed to ijson without a second copy)."""

    def __init__(self, text: str) -> None:
        self._text, self._pos = text, 0

    def read(self, size: int = -1, /) -> bytes:
        end = len(self._text) if size < 0 else self._pos + size
        chunk, self._pos = self._text[self._pos : end], min(end, len(self._text))
        return chunk.encode("utf-8", "surrogatepass")


class SafeJsonBytes:
    """The bytes of a JSON document on their way to ijson, each block checked before ijson sees it.

    NotStreamable where ijson (yajl2_c) and json.loads part ways: bytes that are not UTF-8 (decode_bytes
    would pick another encoding for the whole file), a lone surrogate escape (yajl2_c makes it '?', json.loads
    keeps it for clean_text), a vertical tab or form feed (yajl2_c skips it as whitespace, json.loads fails),
    and a run of digits near sys.get_int_max_str_digits() (yajl2_c crashes the process on a longer integer).
    FileError when more than `cap` bytes go by without `mark` moving (scan_json moves it at the end of each
    record and of each top-level value), so that stream_json never builds a record larger than that.
    """

    def __init__(self, inner: ByteReader, cap: int | None, head: bytes = b"") -> None:
        self._inner, self.cap = inner, cap
        self.pos = 0  # bytes handed to ijson
        self.mark = 0  # self.pos where the record being read began
        self._carry = head  # bytes held back: a digit run or a surrogate escape may go on in the next block
        self._context = b""  # the last bytes handed on (left context of a surrogate pair cut by a block)
        self._eof = False
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._mid_char = False
        limit = min(sys.get_int_max_str_digits() or 4300, 4300)
        self._half = (limit + 1) // 2  # every run of `limit` digits holds `half` digits from a multiple of `half`
        self._digit_run = re.compile(rb"[0-9]{%d}" % self._half)

    def read(self, size: int = -1, /) -> bytes:
        while size and not self._eof:
            out = self._next()
            if out:
                return out
        return b""

    def _next(self) -> bytes:
        block = self._inner.read(_BLOCK)
        buf = self._carry + block if self._carry else block
        if not block:
            self._eof, cut = True, len(buf)
            if _END is None or buf.endswith(b"\\"):
                raise NotStreamable("a backslash at the end" if _END is not None else "ijson takes trailing text")
        else:
            cut = max(len(buf) - 16, 0)
        if b"\x0b" in buf or b"\x0c" in buf:
            raise NotStreamable("a vertical tab or form feed in the JSON text")
        self._check_digits(buf)
        if not self._eof:
            while cut and buf[cut - 1] in _DIGIT_BYTES:
                cut -= 1
        if _SURROGATE_HINT.search(buf):
            self._check_surrogates(buf, cut)
        out, self._carry = buf[:cut], buf[cut:]
        try:
            if out and (self._mid_char or not out.isascii()):
                self._utf8.decode(out)
                self._mid_char = bool(self._utf8.getstate()[0])
            if self._eof:
                self._utf8.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise NotStreamable("not UTF-8", encoding=True) from exc
        self._context = out[-16:] if len(out) >= 16 else (self._context + out)[-16:]
        if self._eof:
            out += _END or b""
        self.pos += len(out)
        if self.cap is not None and self.pos - self.mark > self.cap:
            raise FileError(f"a JSON record of more than {self.cap:,} bytes (NEWSETL_MAX_FILE_BYTES): not read")
        return out

    def _check_digits(self, buf: bytes) -> None:
        half = self._half
        for i, byte in enumerate(buf[::half]):
            if byte in _DIGIT_BYTES and self._digit_run.match(buf, i * half):
                raise NotStreamable(f"a run of {half:,} digits or more")

    def _check_surrogates(self, buf: bytes, cut: int) -> None:
        """A lone escape starting before `cut` (later ones are looked at again with the next block)."""
        text, start = self._context + buf, len(self._context)
        for m in _SURROGATE_ESCAPES.finditer(text):
            if m.end() - m.start() == 6 and start <= m.start() < start + cut:
                raise NotStreamable("a lone surrogate escape")


@dataclass(frozen=True)
class JsonPlan:
    """Where scan_json found a document's records and how stream_json reads them."""

    layout: str  # "array", "list" (a wrapper object's list), "feed" (a JSON Feed's items) or "one" (one object)
    prefix: str  # ijson prefix of the records: "item", "<key>.item", or "" for the one object
    count: int  # records found
    numbers: str  # how ijson's numbers become json.loads's: "as_is", "use_float" or "convert" (_plain_numbers)
    outlet: str | None = None  # a JSON Feed's title


class _Numbers:
    """What the numbers seen so far need to read as json.loads reads them (ijson gives Decimals for floats)."""

    __slots__ = ("decimal", "no_float", "text")

    def __init__(self) -> None:
        self.decimal = self.no_float = self.text = False

    def see(self, number: Any) -> None:
        if type(number) is int:
            if not -_SHORT_INT < number < _SHORT_INT:
                self.no_float = True
                self.text = self.text or not _INT_TEXT_MIN < number < _INT_TEXT_MAX
        else:
            self.decimal = True
            self.no_float = self.no_float or number.adjusted() >= 308  # use_float would overflow

    @property
    def mode(self) -> str:
        """ "as_is"; "use_float": ijson's floats are json's (its strtod rounds as float() does); "convert"."""
        if self.text or (self.decimal and self.no_float):
            return "convert"
        return "use_float" if self.decimal else "as_is"


def _plain_numbers(value: Any) -> Any:
    """`value` with numbers as json.loads gives them: ijson's Decimals as floats, long integers as text (_int)."""
    kind = type(value)
    if kind is dict:
        return {k: _plain_numbers(v) for k, v in value.items()}
    if kind is list:
        return [_plain_numbers(v) for v in value]
    if kind is Decimal:
        return float(value)
    if kind is int and not _INT_TEXT_MIN < value < _INT_TEXT_MAX:
        return str(value)
    return value


def scan_json(stream: SafeJsonBytes) -> JsonPlan:
    """First pass: check a JSON document (ijson's events, nothing held) and find its records.

    NotStreamable when the document must be read whole; FileError for a record above stream.cap bytes.
    """
    events = _IJSON.basic_parse(stream)
    try:
        first = next(events, (None, None))[0]
        if first == "start_array":
            count, numbers = _scan_array(events, stream)
            return JsonPlan("array", "item", count, numbers)
        if first == "start_map":
            return _scan_object(events, stream)
        raise NotStreamable("not an object or array")  # parse_json says what it is
    except (FileError, NotStreamable):
        raise
    except (ijson.JSONError, ValueError, ArithmeticError) as exc:  # ArithmeticError: a Decimal beyond its range
        raise NotStreamable(f"ijson: {type(exc).__name__}: {exc}") from exc


def _scan_array(events: Iterator[tuple[str, Any]], stream: SafeJsonBytes) -> tuple[int, str]:
    depth, count, numbers = 1, 0, _Numbers()
    for event, value in events:
        if event == "start_map" or event == "start_array":
            depth += 1
            if depth > _MAX_DEPTH:
                raise NotStreamable("nested too deeply")
            continue
        if event == "end_map" or event == "end_array":
            depth -= 1
        elif event == "map_key":
            continue
        elif event == "number":
            numbers.see(value)
        if depth == 1:  # an item ended
            count += 1
            stream.mark = stream.pos
    return count, numbers.mode


def _scan_object(events: Iterator[tuple[str, Any]], stream: SafeJsonBytes) -> JsonPlan:
    """The top-level keys of an object: scalars kept, containers noted as empty or not (the title is kept
    whole, a JSON Feed's outlet), lists with their item counts; then _layout decides as parse_json does."""
    depth, numbers, key = 1, _Numbers(), ""
    probe: dict[str, Any] = {}  # enough of the object for _layout
    seen: Counter[str] = Counter()
    list_items: dict[str, int] = {}
    is_list, nonempty, n = False, False, 0
    title: Any = None
    for event, value in events:
        if event == "number":
            numbers.see(value)
        if depth == 1:
            if event == "map_key":
                key = value
                seen[key] += 1
            elif event == "start_map" or event == "start_array":
                depth, is_list, nonempty, n = 2, event == "start_array", False, 0
                if key == "title":
                    title = ijson.ObjectBuilder()
                    title.event(event, value)
            elif event == "end_map":
                depth = 0
            else:
                probe[key] = _plain_numbers(value)
                list_items.pop(key, None)
                stream.mark = stream.pos
            continue
        if depth == 0:
            continue
        if title is not None:
            title.event(event, value)
        if event == "start_map" or event == "start_array":
            nonempty = True
            depth += 1
            if depth > _MAX_DEPTH:
                raise NotStreamable("nested too deeply")
        elif event == "end_map" or event == "end_array":
            depth -= 1
            if depth == 1:  # the value of `key` ended
                if title is not None:
                    probe[key], title = _plain_numbers(title.value), None
                elif is_list:
                    probe[key] = [None] if nonempty else []
                else:
                    probe[key] = {"": None} if nonempty else {}
                if is_list:
                    list_items[key] = n
                else:
                    list_items.pop(key, None)
                stream.mark = stream.pos
            elif depth == 2 and is_list:
                n += 1
                stream.mark = stream.pos
        elif depth == 2:
            nonempty = True
            if is_list:
                n += 1
                stream.mark = stream.pos
    layout, list_key = _layout(probe)
    if layout == "one" or list_key is None:
        if stream.cap is not None and stream.pos > stream.cap:
            raise FileError(f"one JSON object of {stream.pos:,} bytes, above NEWSETL_MAX_FILE_BYTES for a record")
        return JsonPlan("one", "", 1, numbers.mode)
    prefix = f"{list_key}.item"
    if seen[list_key] > 1 or any(k == prefix or k.startswith(prefix + ".") for k in seen):
        raise NotStreamable(f"{list_key!r} twice, or a key that ijson would mistake for its items")
    outlet = _as_text(probe.get("title")) if layout == "feed" else None
    return JsonPlan(layout, prefix, list_items[list_key], numbers.mode, outlet)


def stream_json(stream: SafeJsonBytes, plan: JsonPlan) -> Iterator[dict | Issue]:
    """Second pass: yield the records scan_json found, one at a time (dicts with record_no, or Issues).

    The stream needs no cap: scan_json checked the size of every record. ReadAgainDiffers when the
    document is not the one scanned (the file changed in between).
    """
    values = _IJSON.items(stream, plan.prefix, use_float=plan.numbers == "use_float")
    if plan.numbers == "convert":
        values = map(_plain_numbers, values)
    read = 0

    def counted(values: Iterable[Any]) -> Iterator[Any]:
        nonlocal read
        for value in values:
            read += 1
            yield value

    try:
        if plan.layout == "one":
            for value in counted(values):
                yield from _records_from_value(value)
        else:
            yield from _list_records(counted(values), plan.layout, plan.outlet)
    except FileError:
        raise
    except (ijson.JSONError, ValueError, ArithmeticError, NotStreamable) as exc:
        raise ReadAgainDiffers(f"the JSON read differently the second time: {exc}".splitlines()[0]) from exc
    if read != plan.count:
        raise ReadAgainDiffers(f"the JSON held {read:,} records the second time, {plan.count:,} the first")
