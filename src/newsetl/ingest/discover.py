"""Discover: walk a landing folder and fingerprint every file in it."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Extension (after an optional .gz) -> format name.
FORMATS = {
    ".txt": "txt",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".html": "html",
    ".htm": "html",
}


@dataclass(frozen=True, slots=True)  # slots: a run of 250,000 files holds one per file
class FileEntry:
    """One file found in the landing folder."""

    path: str  # relative to the landing folder, POSIX separators
    abspath: str
    size: int
    sha256: str
    format: str | None  # None: not a supported extension
    gzipped: bool
    error: str | None = None  # set when the file could not even be fingerprinted
    mtime: float | None = None  # modification time (seconds since the epoch)


def format_of(name: str) -> tuple[str | None, bool]:
    """Return (format, gzipped) for a file name; format is None when unsupported."""
    lower = name.lower()
    gz = lower.endswith(".gz")
    if gz:
        lower = lower[:-3]
    return FORMATS.get(os.path.splitext(lower)[1]), gz


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Return the hex SHA-256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def discover_files(landing: str | Path) -> Iterator[FileEntry]:
    """Yield a FileEntry for every regular file under `landing`, in a stable order.

    Symbolic links are never followed out of the landing folder: a link whose target lies
    outside it is reported with an error instead of being read.
    """
    root = Path(landing).resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath) / name
            rel = safe_name(full.relative_to(root).as_posix())
            fmt, gz = format_of(name)
            try:
                if full.is_symlink():
                    target = full.resolve()
                    if not target.is_relative_to(root):
                        yield FileEntry(
                            rel,
                            str(full),
                            0,
                            _hash_text(rel),
                            fmt,
                            gz,
                            "symlink_outside_landing: points to a file outside the landing folder",
                        )
                        continue
                st = full.stat()  # follows a link inside the landing folder to what it names
                if not stat.S_ISREG(st.st_mode):
                    kind = _SPECIAL.get(stat.S_IFMT(st.st_mode), "special file")
                    yield FileEntry(rel, str(full), 0, _hash_text(rel), fmt, gz, f"special_file: a {kind} is not read")
                    continue
                size = st.st_size
                digest = sha256_file(full)
            except OSError as exc:
                yield FileEntry(rel, str(full), 0, _hash_text(rel), fmt, gz, f"unreadable: {exc.strerror or exc}")
                continue
            yield FileEntry(rel, str(full), size, digest, fmt, gz, mtime=st.st_mtime)


_SPECIAL = {
    stat.S_IFIFO: "named pipe (FIFO)",
    stat.S_IFSOCK: "socket",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
    stat.S_IFDIR: "folder",
}


def safe_name(name: str) -> str:
    """Return a file name as valid UTF-8 text, losslessly: bytes that are not UTF-8 become \\xNN escapes.

    os.walk hands such bytes over as lone surrogates (surrogateescape), which Arrow cannot store.
    """
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _hash_text(text: str) -> str:
    return hashlib.sha256(("unreadable:" + text).encode()).hexdigest()
