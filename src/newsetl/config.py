"""Settings: one typed object, built from defaults and NEWSETL_* environment variables, checked on creation."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Shipped inside the package (in a checkout, data/expectations and data/samples link to the top-level
# expectations/ and samples/landing/ they are built from), so an installed newsetl runs from any folder.
DATA = Path(__file__).resolve().parent / "data"
SAMPLES = DATA / "samples"
EXPECTATIONS = DATA / "expectations"


class SettingsError(ValueError):
    """A setting out of its allowed range or of the wrong type; the message names its variable."""


class InputError(ValueError):
    """The landing folder cannot be ingested (missing, not a folder, empty, nested with the warehouse)."""


class ClusterError(RuntimeError):
    """The Dask cluster cannot run the steps (unreachable, no workers, folders not shared, another newsetl)."""


def _range(lo: float | None = None, hi: float | None = None, lo_open: bool = False) -> dict:
    return {"range": (lo, hi, lo_open)}


@dataclass(frozen=True)
class Settings:
    """Everything a run can be tuned by. Read by cli.py and flows/ only."""

    landing: Path = SAMPLES
    warehouse: Path = Path("warehouse")
    # Records per batch handed between stages (bounds memory).
    batch_size: int = field(default=2000, metadata=_range(1))
    # ...and at most this many bytes of text per batch (huge articles must not blow memory up).
    batch_bytes: int = field(default=32 << 20, metadata=_range(1 << 10))
    # Input limits, so that no file or record can exhaust memory: bytes of a file read whole once
    # decompressed (txt, json, html), characters of one JSONL line, and decompressed / compressed size.
    max_file_bytes: int = field(default=1 << 30, metadata=_range(1 << 10))
    max_record_bytes: int = field(default=32 << 20, metadata=_range(1 << 10))
    max_compression_ratio: float = field(default=200.0, metadata=_range(1))
    # Seconds one file may take to read; a worker that overruns is replaced and the file is `failed: timeout`
    # (with workers = 1 files are read in the run's own process, which is never killed: no limit there).
    file_timeout: int = field(default=600, metadata=_range(1))
    # Worker processes for the CPU-bound stages (parse, clean, language).
    workers: int = field(default=max(1, min(2, os.cpu_count() or 1)), metadata=_range(1, 512))
    # Near-duplicate threshold on the estimated Jaccard similarity of 5-word shingles.
    near_threshold: float = field(default=0.7, metadata=_range(0, 1, lo_open=True))
    # Stories: an article joins the story of its most similar earlier article (cosine of TF-IDF story terms
    # at least story_threshold) published within story_window_days of it; otherwise it starts a story.
    story_threshold: float = field(default=0.28, metadata=_range(0, 1, lo_open=True))
    story_window_days: float = field(default=14.0, metadata=_range(0, 366, lo_open=True))
    # Characters of text langdetect looks at (its cost grows with length; news leads suffice). On 2,828 real
    # articles (benchmarks/lang_agreement.py) 600 give stock full-text langdetect's label on 99.68 % of them,
    # 1,000 on 99.79 %, for a quarter less detection time.
    language_max_chars: int = field(default=600, metadata=_range(1))
    # Fewer letters than this and the language is `und` (or the feed's language).
    language_min_letters: int = field(default=20, metadata=_range(0))
    # Maximum share of records quarantined before a run is failed (newsetl.summary.broken_input).
    max_quarantine_share: float = field(default=0.5, metadata=_range(0, 1))
    # Compaction (newsetl.compaction): after a run, a table's month whose small parts number more than
    # this is rewritten into few large parts (0: never after a run; `newsetl compact` still works).
    compact_min_parts: int = field(default=8, metadata=_range(0))
    # Seconds the parts a compaction replaced stay on disk (hidden) for queries that listed them before it.
    compact_grace_seconds: float = field(default=3600.0, metadata=_range(0))
    expectations: Path = EXPECTATIONS
    # The daily schedule (`newsetl serve`): cron expression and its time zone.
    cron: str = "0 6 * * *"
    timezone: str = "UTC"
    # A daily-ingest flow run that takes longer than this is stopped and marked Failed (TimedOut).
    flow_timeout: int = field(default=6 * 3600, metadata=_range(1))
    # `newsetl serve`: POST to this URL when a run fails or crashes, and when no run completed for
    # notify_stale_seconds (Prefect automations on the local server). Empty: no notifications.
    notify_url: str = ""
    notify_stale_seconds: int = field(default=26 * 3600, metadata=_range(10))
    # Where the local Prefect server listens (UI and API).
    prefect_host: str = "127.0.0.1"
    prefect_port: int = field(default=4200, metadata=_range(1, 65535))
    # Where the per-chunk steps run: "" (the worker pool of this machine), "local" (a Dask LocalCluster of
    # `workers` processes started for the run) or a Dask scheduler address such as tcp://10.0.0.5:8786.
    cluster: str = ""

    def __post_init__(self) -> None:
        for f in fields(self):
            if "range" not in f.metadata:
                continue
            lo, hi, lo_open = f.metadata["range"]
            value = getattr(self, f.name)
            too_low = lo is not None and (value <= lo if lo_open else value < lo)
            if too_low or (hi is not None and value > hi):
                raise SettingsError(f"{_env(f.name)} must be {_describe(f.metadata['range'])} (got {value})")
        if self.notify_url and not self.notify_url.startswith(("http://", "https://")):
            raise SettingsError(f"NEWSETL_NOTIFY_URL must be an http:// or https:// URL (got {self.notify_url!r})")
        if self.cluster and self.cluster != "local" and not _SCHEDULER.fullmatch(self.cluster):
            raise SettingsError(
                "NEWSETL_CLUSTER must be `local` or a Dask scheduler address such as tcp://10.0.0.5:8786 "
                f"(got {self.cluster!r})"
            )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"NEWSETL_TIMEZONE must be an IANA time zone such as Europe/Kyiv (got {self.timezone!r})"
            ) from None

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Return settings from defaults, then NEWSETL_<FIELD> variables, then `overrides`.

        Raises SettingsError (one line naming the variable and what it accepts) for a bad value.
        """
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = os.environ.get(_env(f.name))
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f.name, raw, type(f.default))
        values.update({k: v for k, v in overrides.items() if v is not None})
        for key in ("landing", "warehouse", "expectations"):
            if key in values:
                values[key] = Path(str(values[key]))
        return replace(cls(), **values)  # type: ignore[arg-type]


# A Dask scheduler address: [protocol://]host:port (Dask reads a bare host:port as tcp://).
_SCHEDULER = re.compile(r"(?:[a-z][a-z0-9+.-]*://)?(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}")


def _env(name: str) -> str:
    return f"NEWSETL_{name.upper()}"


def _describe(spec: tuple) -> str:
    lo, hi, lo_open = spec
    if hi is None:
        return f"{'above' if lo_open else 'at least'} {lo}"
    return f"{'above' if lo_open else 'from'} {lo} {'and at most' if lo_open else 'to'} {hi}"


def _parse(name: str, raw: str, kind: type) -> object:
    if kind is Path or issubclass(kind, Path):
        return Path(raw)
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{_env(name)} must be a whole number (got {raw!r})") from None
    if kind is float:
        try:
            return float(raw)
        except ValueError:
            raise SettingsError(f"{_env(name)} must be a number (got {raw!r})") from None
    return raw
