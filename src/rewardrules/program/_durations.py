"""Durations as a rule file writes them ('30 days', '6 months'): the type the program's
settings and the rule kinds share (``refunds.within``, ``expire_on_inactivity.after``, a
birthday's ``member_for``)."""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import AfterValidator, Field

from rewardrules._types import OutOfRangeError

DURATION_PATTERN = r"^[0-9]{1,5} (day|days|week|weeks|month|months|year|years)$"

MOST_OF_UNIT: Final = {"day": 36_500, "week": 5_218, "month": 1_200, "year": 100}
"""The longest duration of each unit: 100 years, so that an event of 2099 plus a duration
stays a date (docs/rule-files.md)."""
MOST_DAYS: Final = MOST_OF_UNIT["day"]


def _bounded_duration(text: str) -> str:
    count, unit = text.split(" ")
    unit = unit.removesuffix("s")
    most = MOST_OF_UNIT[unit]
    if int(count) > most:
        longest = "100 years" if unit == "year" else f"{most} {unit}s (100 years)"
        raise OutOfRangeError(f"must be at most {longest} (got '{text}')")
    return text


Duration = Annotated[
    str,
    Field(
        pattern=DURATION_PATTERN,
        description=(
            "A length of time: 'N days', 'N weeks', 'N months' or 'N years', at most 100 "
            "years (36500 days, 5218 weeks, 1200 months)."
        ),
        examples=["6 months"],
    ),
    AfterValidator(_bounded_duration),
]
"""A duration as written, at most 100 years: months and years are calendar months in the
program's zone."""
