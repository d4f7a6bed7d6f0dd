"""Ingest: read each landing file into raw article records that keep their provenance."""

from __future__ import annotations

import gzip
import hashlib
import io
import zlib
from collections.abc import Iterator
from pathlib import PurePosixPath

from newsetl.ingest.decode import DecodeError, bom_encoding, decode_bytes
from newsetl.ingest.discover import FileEntry, discover_files, format_of, sha256_file
from newsetl.ingest.errors import FileChanged, FileError, Issue
from newsetl.ingest.html import parse_html
from newsetl.ingest.jsonfeed import parse_json, parse_jsonl
from newsetl.ingest.text import parse_text

__all__ = [
    "FileChanged",
    "FileEntry",
    "FileError",
    "Issue",
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


def _open(entry: FileEntry) -> io.BufferedIOBase:
    fh = open(entry.abspath, "rb")  # noqa: SIM115 - closed by the caller's with-block
    return gzip.GzipFile(fileobj=fh, mode="rb") if entry.gzipped else fh  # type: ignore[return-value]


def _read_all(entry: FileEntry) -> bytes:
    with _open(entry) as fh:
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


def read_file(entry: FileEntry) -> Iterator[dict | Issue]:
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
    }
    for item in _guarded(_records(entry)):
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


def _records(entry: FileEntry) -> Iterator[dict | Issue]:
    fmt = entry.format
    if fmt == "jsonl":
        yield from parse_jsonl(_jsonl_lines(entry))
        return
    data = _read_all(entry)
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
    if fmt == "json":
        yield from parse_json(text)
    elif fmt == "txt":
        yield from ({**r, "record_no": 0} for r in parse_text(text))
    else:
        raise FileError(f"unsupported format {fmt!r}")


def _jsonl_lines(entry: FileEntry) -> Iterator[str]:
    """Stream decoded lines; the encoding is sniffed from the first 64 KiB."""
    with _open(entry) as fh:
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
        if enc is None:
            # Cut the sniff sample at a line end so a multi-byte character is not split.
            _text, enc = decode_bytes(head[: head.rfind(b"\n") + 1 or len(head)])
        raw = io.BufferedReader(_Prefixed(head, fh))  # type: ignore[type-var]
        stream = io.TextIOWrapper(raw, encoding=enc, errors="replace", newline=None)
        yield from stream


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
