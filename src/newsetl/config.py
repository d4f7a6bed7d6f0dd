"""Settings: one typed object, built from defaults and NEWSETL_* environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

# Shipped inside the package (in a checkout, data/expectations and data/samples link to the top-level
# expectations/ and samples/landing/ they are built from), so an installed newsetl runs from any folder.
DATA = Path(__file__).resolve().parent / "data"
SAMPLES = DATA / "samples"
EXPECTATIONS = DATA / "expectations"


@dataclass(frozen=True)
class Settings:
    """Everything a run can be tuned by. Read by cli.py and flows/ only."""

    landing: Path = SAMPLES
    warehouse: Path = Path("warehouse")
    # Records per batch handed between stages (bounds memory).
    batch_size: int = 2000
    # ...and at most this many bytes of text per batch (huge articles must not blow memory up).
    batch_bytes: int = 32 << 20
    # Worker processes for the CPU-bound stages (parse, clean, language).
    workers: int = max(1, min(2, os.cpu_count() or 1))
    # Near-duplicate threshold on the estimated Jaccard similarity of 5-word shingles.
    near_threshold: float = 0.7
    # Characters of text langdetect looks at (its cost grows with length; news leads suffice).
    language_max_chars: int = 1000
    # Fewer letters than this and the language is `und` (or the feed's language).
    language_min_letters: int = 20
    # Maximum share of records quarantined before a run is failed (issue 3 uses it).
    max_quarantine_share: float = 0.5
    expectations: Path = EXPECTATIONS
    # The daily schedule (`newsetl serve`): cron expression and its time zone.
    cron: str = "0 6 * * *"
    timezone: str = "UTC"
    # Where the local Prefect server listens (UI and API).
    prefect_host: str = "127.0.0.1"
    prefect_port: int = 4200

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Return settings from defaults, then NEWSETL_<FIELD> variables, then `overrides`."""
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = os.environ.get(f"NEWSETL_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            default = getattr(cls, f.name)
            values[f.name] = Path(raw) if isinstance(default, Path) else type(default)(raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        for key in ("landing", "warehouse", "expectations"):
            if key in values:
                values[key] = Path(str(values[key]))
        return replace(cls(), **values)  # type: ignore[arg-type]
