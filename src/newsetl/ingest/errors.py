"""What a reader reports besides records: a record it could not read (Issue), or a file it could not read."""

from __future__ import annotations


class Issue:
    """A record that could not be read: its number, a reason code and a human detail."""

    __slots__ = ("record_no", "reason", "detail", "raw")

    def __init__(self, record_no: int, reason: str, detail: str, raw: str) -> None:
        self.record_no, self.reason, self.detail, self.raw = record_no, reason, detail, raw


class FileError(ValueError):
    """The whole file is unreadable as its format (one line for the files table)."""


class FileChanged(FileError):
    """The file changed between discovery and the end of reading: none of its records may be kept."""


class TooLarge:
    """A JSONL line longer than the record limit: read past, never held; it becomes an Issue."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size


class Undecodable:
    """A JSONL line no encoding decodes: it becomes an Issue (`undecodable`), never U+FFFD text."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size
