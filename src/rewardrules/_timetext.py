"""Dates and times written in forms Python reads differently from what the writer meant.

``datetime.fromisoformat`` takes an ISO week date (``2026-W09``) silently as that week's
Monday, and refuses a leap second (``23:59:60``) as "second must be in 0..59". The command
line and the history readers use these two checks to say what is wrong and what to write.
"""

from __future__ import annotations

import re

_WEEK_DATE = re.compile(r"\s*[+-]?\d{4}-?W\d", re.IGNORECASE)
_LEAP_SECOND = re.compile(r"[T ]\s*(\d{2}):?(\d{2}):?60(?!\d)", re.IGNORECASE)


def is_week_date(text: str) -> bool:
    """Tell whether ``text`` starts with an ISO week date (``2026-W09``, ``2026W091``)."""
    return _WEEK_DATE.match(text) is not None


def leap_second_fix(text: str) -> str | None:
    """For a timestamp at second 60 (``23:59:60``), the time to write instead (``23:59:59``)."""
    found = _LEAP_SECOND.search(text)
    if found is None:
        return None
    hours, minutes = found.groups()
    return f"{hours}:{minutes}:59"


LEAP_SECONDS = "leap seconds are not supported; use {fix}"
"""The message for a leap second, with the time to write in its place."""
