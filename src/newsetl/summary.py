"""Run summary: what one run did, typed, and the policy that judges a run (exit codes, broken input).

Every way of running (the plain runner, the Prefect flow, `newsetl run`) judges a run with the same
functions here and turns the answer into an exit code or a flow state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Exit codes of `newsetl` (documented in the README).
EXIT_OK = 0  # the run completed (or the command did what it was asked)
EXIT_FAILED = 1  # the run failed: nothing it staged was published; the next run reads its files again
EXIT_USAGE = 2  # a user error: a bad argument, a missing folder, a bad query
EXIT_BUSY = 3  # another run holds the warehouse lock; nothing was done
EXIT_BROKEN_INPUT = 4  # the run completed and published, but too much of its input was quarantined
EXIT_INTERRUPTED = 130  # Ctrl-C


@dataclass
class RunSummary:
    """What a run did: the counts of every stage (the `runs` row) plus breakdowns for people."""

    run_id: str
    status: str  # running | completed | failed
    landing: str
    warehouse: str
    files_seen: int = 0
    files_new: int = 0
    files_skipped: int = 0
    files_failed: int = 0
    records_in: int = 0
    parse_quarantined: int = 0
    clean_quarantined: int = 0
    exact_duplicates: int = 0
    near_duplicates: int = 0
    validation_quarantined: int = 0
    articles_loaded: int = 0
    validation_success: bool = True
    stage_seconds: dict[str, float] = field(default_factory=dict)
    languages: dict[str, int] = field(default_factory=dict)
    outlets: dict[str, int] = field(default_factory=dict)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    # Copies of articles this run lost (newsetl.copies): promoted / repointed / demoted -> count.
    copy_fixes: dict[str, int] = field(default_factory=dict)
    # Stories (steps.stories): new, grew, merged counts and `largest`, the day's largest stories by outlets.
    stories: dict[str, Any] = field(default_factory=dict)
    # The day's outlet_alerts rows (an outlet's metric jumped against its trailing two weeks).
    outlet_alerts: list[dict[str, Any]] = field(default_factory=list)
    message: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def quarantined(self) -> int:
        """Records quarantined by any stage."""
        return self.parse_quarantined + self.clean_quarantined + self.validation_quarantined

    @property
    def quarantine_share(self) -> float:
        """Share of the run's records that were quarantined (0 when nothing was read)."""
        return self.quarantined / self.records_in if self.records_in else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_POLICY_NAME = "NEWSETL_MAX_QUARANTINE_SHARE"


def broken_input(summary: RunSummary, max_share: float) -> str | None:
    """Return why a completed run's input counts as broken (quarantine share above `max_share`), or None."""
    share = summary.quarantine_share
    if share <= max_share:
        return None
    reasons = ", ".join(f"{k} {v}" for k, v in list(summary.quarantine_reasons.items())[:3])
    return (
        f"{share:.0%} of {summary.records_in} records were quarantined, above the limit of {max_share:.0%}"
        f" ({_POLICY_NAME}); top reasons: {reasons or 'n/a'}"
    )


def is_broken_input(message: str | None) -> bool:
    """Return True when `message` (a flow run's state message) is broken_input's verdict."""
    return bool(message) and _POLICY_NAME in str(message)


def exit_code(summary: RunSummary, max_share: float) -> int:
    """Return the exit code a finished run gets: EXIT_OK, EXIT_BROKEN_INPUT or EXIT_FAILED."""
    if summary.status != "completed":
        return EXIT_FAILED
    return EXIT_BROKEN_INPUT if broken_input(summary, max_share) else EXIT_OK
