"""Dates: a publication date string -> UTC time, its original offset, its precision, and how it was read.

Tried in order, fastest first: ISO 8601, RFC 2822 (feeds), dateutil (English and numeric forms),
then dateparser (200+ languages, relative dates; about 2 ms a date, so last). A date is never padded
with today: a month-only date is the 1st of that month at precision `month`, a year alone is
1 January at precision `year`. Relative dates ("vor 2 Stunden", "2 hours ago") resolve against the
file's modification time, and say so.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_YEAR = re.compile(r"(?<!\d)(1[89]|20)\d{2}(?!\d)")
_ISO = re.compile(r"^\d{4}(?:-\d{2}(?:-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?)?)?$")
_TIME = re.compile(r"\d{1,2}\s*[:h]\s*\d{2}|\d{1,2}\s*(?:am|pm|Uhr)\b", re.IGNORECASE)
# Two defaults that differ in every field: a field equal in both parses was in the string.
_D1, _D2 = datetime(2000, 1, 1, 0, 0, 0), datetime(2001, 2, 2, 1, 1, 1)


@dataclass(frozen=True)
class Published:
    """A decided publication date (all None when there was none, `ok` False when it could not be read)."""

    at: datetime | None = None  # UTC
    offset: str | None = None  # the original UTC offset, '+02:00'; None when the string had none
    precision: str | None = None  # second | day | month | year
    method: str | None = None  # iso | rfc2822 | dateutil | dateparser | relative_to_file_time
    ok: bool = True


def _offset(dt: datetime) -> str | None:
    if dt.tzinfo is None or dt.utcoffset() is None:
        return None
    mins = int((dt.utcoffset() or timedelta(0)).total_seconds() // 60)
    sign = "+" if mins >= 0 else "-"
    return f"{sign}{abs(mins) // 60:02d}:{abs(mins) % 60:02d}"


def _done(dt: datetime, precision: str, method: str) -> Published:
    offset = _offset(dt)
    try:
        at = dt.astimezone(UTC) if offset is not None else dt.replace(tzinfo=UTC)
    except (OverflowError, ValueError):
        return Published(ok=False)
    return Published(at, offset, precision, method)


def _iso(s: str) -> Published | None:
    if not _ISO.match(s):
        return None
    if len(s) == 4:
        return _done(datetime(int(s), 1, 1), "year", "iso")
    if len(s) == 7:
        return _done(datetime(int(s[:4]), int(s[5:7]), 1), "month", "iso")
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00") if s.endswith("Z") else s)
    except ValueError:
        return None
    return _done(dt, "day" if len(s) == 10 else "second", "iso")


def _dateutil(s: str) -> Published | None:
    from dateutil import parser as du

    try:
        a, b = du.parse(s, default=_D1), du.parse(s, default=_D2)
    except (ValueError, OverflowError):
        return None
    if a.year != b.year:
        return None  # no year in it: too little to be a publication date
    precision = "second" if a.hour == b.hour else "day" if a.day == b.day else "month" if a.month == b.month else "year"
    dt = a.replace(hour=a.hour if precision == "second" else 0)
    return _done(dt, precision, "dateutil")


_SHIFT = timedelta(days=400, hours=7, minutes=13)


def _dateparser(s: str, file_time: datetime | None) -> Published | None:
    """dateparser, run against two different 'now's: a date that moves with them is relative (it must
    move by exactly their difference), one that does not is absolute, anything else leans on today."""
    from dateparser.date import DateDataParser

    base = (file_time or datetime(2000, 6, 15, tzinfo=UTC)).astimezone(UTC).replace(tzinfo=None)
    found = []
    for now in (base, base + _SHIFT):
        settings = {"PREFER_DAY_OF_MONTH": "first", "RELATIVE_BASE": now, "RETURN_AS_TIMEZONE_AWARE": False}
        found.append(DateDataParser(settings=settings).get_date_data(s))
    a, b = found[0].date_obj, found[1].date_obj
    if a is None or b is None:
        return None
    if a.replace(tzinfo=None) != b.replace(tzinfo=None):
        if b.replace(tzinfo=None) - a.replace(tzinfo=None) != _SHIFT or file_time is None:
            return None  # "5", "Feb": it would take today's year or month to complete it
        if a.replace(tzinfo=None) > base:
            return None  # "the day after tomorrow": nothing was published after the file was written
        whole_days = (base - a.replace(tzinfo=None)) % timedelta(days=1) == timedelta(0)
        return _done(a, "day" if whole_days else "second", "relative_to_file_time")
    dt, period = a, found[0].period or "day"
    if period == "year":
        dt = dt.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    elif period == "month":
        dt = dt.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    precision = "second" if period == "time" or (period == "day" and _TIME.search(s)) else period
    return _done(dt, precision, "dateparser")


def parse_date(raw: object, file_time: datetime | None = None) -> Published:
    """Return the Published decision for one date value (None or blank: no date, ok)."""
    if raw is None or not str(raw).strip():
        return Published()
    s = str(raw).strip()
    if found := _iso(s):
        return found
    try:
        dt = email.utils.parsedate_to_datetime(s)
    except (TypeError, ValueError, IndexError):
        dt = None
    if dt is not None:
        return _done(dt, "second", "rfc2822")
    if _YEAR.search(s) and (found := _dateutil(s)):
        return found
    return _dateparser(s, file_time) or Published(ok=False)
