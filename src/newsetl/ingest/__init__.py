"""Ingest: read each landing file into raw article records that keep their provenance."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath

from newsetl.ingest.decode import DecodeError, bom_encoding, decode_bytes
from newsetl.ingest.discover import FileEntry, discover_files, format_of, sha256_file
from newsetl.ingest.errors import FileChanged, FileError, Issue, TooLarge, Undecodable
from newsetl.ingest.html import parse_html
from newsetl.ingest.jsonfeed import (
    NotStreamable,
    ReadAgainDiffers,
    SafeJsonBytes,
    Utf8Text,
    parse_json,
    parse_jsonl,
    scan_json,
    stream_json,
)
from newsetl.ingest.text import parse_text

__all__ = [
    "FileChanged",
    "FileEntry",
    "FileError",
    "Issue",
    "Limits",
    "discover_files",
    "format_of",
    "read_file",
    "record_id",
    "sha256_file",
]

_SNIFF = 1 << 16


def record_id(path: str, sha256: str, record_no: int) -> str:
    """Return the stable id of record `record_no` of file version (path, sha256)."""
    return hashlib.sha256(f"{path}\0{sha256}\0{record_no}".encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Limits:
    """How much one file or record may hold once decompressed (Settings.max_*), so no input can exhaust memory.

    file_bytes bounds what is held whole: a txt or html file, a JSON file read whole, and each record of a
    streamed JSON file (an array item, a wrapper's list item, or the one object). A streamed JSON file as a
    whole has no size limit, like a JSONL file: it holds one record at a time (the compression-ratio guard
    still applies). A JSON file that cannot be streamed (not UTF-8, invalid, NaN, ...) is read whole under
    file_bytes, as before.
    """

    file_bytes: int = 1 << 30  # a file read whole (txt, html, JSON that cannot be streamed); one JSON record
    record_bytes: int = 32 << 20  # one JSONL line, in characters
    compression_ratio: float = 200.0  # decompressed / compressed, checked once past 64 MiB
    ratio_after: int = 64 << 20


DEFAULT_LIMITS = Limits()


class _Capped(io.RawIOBase):
    """Decompressed bytes of a file, raising FileError past the size cap or the compression-ratio guard."""

    def __init__(self, inner: io.BufferedIOBase, compressed: int, cap: int | None, limits: Limits) -> None:
        self._inner, self._compressed, self._cap, self._limits, self._total = inner, compressed, cap, limits, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        data = self._inner.read(len(b))
        self._total += len(data)
        if self._cap is not None and self._total > self._cap:
            raise FileError(f"more than {self._cap:,} bytes once decompressed (NEWSETL_MAX_FILE_BYTES)")
        limits = self._limits
        if self._total > limits.ratio_after and self._total > limits.compression_ratio * max(self._compressed, 1):
            raise FileError(
                f"compression ratio above {limits.compression_ratio:g} (NEWSETL_MAX_COMPRESSION_RATIO): "
                "a decompression bomb is not read"
            )
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._inner.close()
        super().close()


def _open(entry: FileEntry, limits: Limits, whole: bool) -> io.BufferedIOBase:
    """Open a file's (decompressed) bytes under the limits; `whole`: the caller reads it all at once."""
    fh = open(entry.abspath, "rb")  # noqa: SIM115 - closed by the caller's with-block
    inner = gzip.GzipFile(fileobj=fh, mode="rb") if entry.gzipped else fh
    if not entry.gzipped and not whole:
        return fh  # type: ignore[return-value]
    capped = _Capped(inner, entry.size, limits.file_bytes if whole else None, limits)  # type: ignore[arg-type]
    return io.BufferedReader(capped, buffer_size=1 << 16)  # type: ignore[return-value,type-var]


def _read_all(entry: FileEntry, limits: Limits) -> bytes:
    if not entry.gzipped and entry.size > limits.file_bytes:
        raise FileError(f"{entry.size:,} bytes, above NEWSETL_MAX_FILE_BYTES for a file read whole")
    with _open(entry, limits, whole=True) as fh:
        return fh.read()


def _guarded(gen: Iterator[dict | Issue]) -> Iterator[dict | Issue]:
    """Turn low-level read errors into one-line FileErrors."""
    try:
        yield from gen
    except EOFError as exc:
        raise FileError(f"truncated gzip: {exc}") from exc
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise FileError(f"corrupt gzip: {exc}") from exc
    except DecodeError as exc:
        raise FileError(str(exc)) from exc
    except UnicodeDecodeError as exc:
        raise FileError(
            f"undecodable {exc.encoding} text at byte {exc.start} of a stretch: the rest is not read"
        ) from exc


def read_file(entry: FileEntry, limits: Limits = DEFAULT_LIMITS) -> Iterator[dict | Issue]:
    """Yield raw records (dicts with record_no and provenance) or Issues from one landing file.

    Raises FileError when the file as a whole cannot be read; records yielded before that
    stand (a truncated JSONL file keeps its complete lines).
    """
    folder = str(PurePosixPath(entry.path).parent)
    base = {
        "source_file": entry.path,
        "file_sha256": entry.sha256,
        "format": entry.format,
        "folder": None if folder == "." else folder,
        "file_modified": datetime.fromtimestamp(entry.mtime, UTC) if entry.mtime is not None else None,
    }
    for item in _guarded(_records(entry, limits)):
        if isinstance(item, Issue):
            yield item
            continue
        no = int(item.pop("record_no", 0))
        yield base | item | {"record_no": no, "record_id": record_id(entry.path, entry.sha256, no)}
    _check_unchanged(entry)


def _check_unchanged(entry: FileEntry) -> None:
    """Raise FileChanged when the file on disk is no longer the version fingerprinted at discovery."""
    try:
        now = sha256_file(entry.abspath)
    except OSError as exc:
        raise FileChanged(f"file disappeared while being read ({exc.strerror or exc})") from exc
    if now != entry.sha256:
        raise FileChanged(
            "file changed while being read (its content hash differs from the one taken at discovery); "
            "its records were set aside and the new version will be read by the next run"
        )


def _records(entry: FileEntry, limits: Limits) -> Iterator[dict | Issue]:
    fmt = entry.format
    if fmt == "jsonl":
        yield from parse_jsonl(_jsonl_lines(entry, limits))
        return
    if fmt == "json":
        yield from _json_records(entry, limits)
        return
    data = _read_all(entry, limits)
    if not data.strip():
        raise FileError("empty file")
    if fmt == "html":
        if b"\x00" in data[:_SNIFF]:
            raise FileError("binary content (NUL bytes) in an HTML file")
        records: list[dict] = parse_html(data)
        if not records:
            raise FileError("no article text found in the HTML page")
        yield from ({**r, "record_no": 0} for r in records)
        return
    text, _enc = decode_bytes(data)
    if fmt == "txt":
        yield from ({**r, "record_no": 0} for r in parse_text(text))
    else:
        raise FileError(f"unsupported format {fmt!r}")


def _json_records(entry: FileEntry, limits: Limits) -> Iterator[dict | Issue]:
    """A JSON file streamed with ijson, one record held at a time (jsonfeed.scan_json, then stream_json);
    read whole as before when ijson would not read it exactly as json.loads does."""
    try:
        with _json_bytes(entry, limits, limits.file_bytes) as stream:
            plan = scan_json(stream)
    except NotStreamable as why:
        yield from _json_read_whole(entry, limits, decode_first=why.encoding)
        return
    with _json_bytes(entry, limits, None) as stream:
        try:
            yield from stream_json(stream, plan)
        except ReadAgainDiffers:
            _check_unchanged(entry)
            raise


@contextlib.contextmanager
def _json_bytes(entry: FileEntry, limits: Limits, cap: int | None) -> Iterator[SafeJsonBytes]:
    """The (decompressed) bytes of a JSON file for ijson, after a UTF-8 byte-order mark; `cap`: the most
    bytes one record may span."""
    with _open(entry, limits, whole=False) as fh:
        head = fh.read(4)
        enc = bom_encoding(head)
        if enc is not None and enc != "utf-8-sig":
            raise NotStreamable(f"{enc} text", encoding=True)
        yield SafeJsonBytes(fh, cap, head[3:] if enc else head)


def _json_read_whole(entry: FileEntry, limits: Limits, decode_first: bool) -> Iterator[dict | Issue]:
    """Read a JSON file whole, as before streaming: under limits.file_bytes, decoded by decode_bytes.
    Text decoded from another encoding is still streamed from the decoded text when ijson may read it."""
    data = _read_all(entry, limits)
    if not data.strip():
        raise FileError("empty file")
    text, _enc = decode_bytes(data)
    del data
    if decode_first:
        try:
            plan = scan_json(SafeJsonBytes(Utf8Text(text), limits.file_bytes))
        except NotStreamable:
            pass
        else:
            yield from stream_json(SafeJsonBytes(Utf8Text(text), None), plan)
            return
    yield from parse_json(text)


def _jsonl_lines(entry: FileEntry, limits: Limits) -> Iterator[str | TooLarge | Undecodable]:
    """Stream decoded lines (a line over limits.record_bytes is skipped as TooLarge); the encoding is
    sniffed from the first 64 KiB."""
    with _open(entry, limits, whole=False) as fh:
        head, error = _read_head(fh)
        if error is not None and b"\n" in head:
            # Damaged early (e.g. a truncated gzip): keep the complete lines read before the damage.
            complete = head[: head.rfind(b"\n") + 1]
            text, _enc = decode_bytes(complete)
            yield from text.splitlines()
            raise error
        if error is not None:
            raise error
        if not head.strip():
            raise FileError("empty file")
        enc = bom_encoding(head)
        raw = io.BufferedReader(_Prefixed(head, fh))  # type: ignore[type-var]
        if enc is not None:
            # UTF-16/32 named by a BOM: one text stream, strict (an undecodable stretch ends the file, said).
            stream = io.TextIOWrapper(raw, encoding=enc, errors="strict", newline=None)
            yield from _bounded_lines(stream, limits.record_bytes)
            return
        # Cut the sniff sample at a line end so a multi-byte character is not split.
        _text, guess = decode_bytes(head[: head.rfind(b"\n") + 1 or len(head)])
        yield from _decoded_lines(raw, guess, limits.record_bytes)


def _decoded_lines(raw: io.BufferedIOBase, guess: str, limit: int) -> Iterator[str | TooLarge | Undecodable]:
    """Yield each line decoded on its own: UTF-8 if it is valid UTF-8, else the file's guess, else the
    line's own detected encoding (which becomes the guess); a line nothing decodes is Undecodable.
    Nothing is ever replaced with U+FFFD."""
    while line := raw.readline(limit + 1):
        if len(line) > limit and not line.endswith(b"\n"):
            size = len(line)
            while (more := raw.readline(1 << 20)) and not more.endswith(b"\n"):
                size += len(more)
            yield TooLarge(size + len(more))
            continue
        for enc in ("utf-8", guess):
            try:
                yield line.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:
            try:
                text, guess = decode_bytes(line)
            except DecodeError:
                yield Undecodable(len(line))
                continue
            yield text


def _bounded_lines(stream: io.TextIOBase, limit: int) -> Iterator[str | TooLarge]:
    """Yield the lines of `stream`; a line longer than `limit` characters is read past, never held, as TooLarge."""
    while line := stream.readline(limit + 1):
        if len(line) <= limit or line.endswith("\n"):
            yield line
            continue
        size = len(line)
        while (more := stream.readline(1 << 20)) and not more.endswith("\n"):
            size += len(more)
        yield TooLarge(size + len(more))


def _read_head(fh: io.BufferedIOBase) -> tuple[bytes, BaseException | None]:
    """Read up to _SNIFF bytes in small blocks; return them and the read error that stopped it, if any."""
    head = bytearray()
    try:
        while len(head) < _SNIFF:
            block = fh.read1(8192) if hasattr(fh, "read1") else fh.read(8192)
            if not block:
                break
            head += block
    except (EOFError, OSError, zlib.error) as exc:
        return bytes(head), exc
    return bytes(head), None


class _Prefixed(io.RawIOBase):
    """A raw stream that replays `head` and then continues with `rest`."""

    def __init__(self, head: bytes, rest: io.BufferedIOBase) -> None:
        self._head, self._rest = memoryview(head), rest

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(b))
        b[: len(data)] = data
        return len(data)
