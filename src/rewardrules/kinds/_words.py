"""Small helpers for writing reasons."""

from __future__ import annotations

from decimal import Decimal


def ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 21st..."""
    if 10 <= number % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def plain_number(value: Decimal) -> str:
    """A Decimal without trailing zeros or exponent: 2.50 -> '2.5', 10 -> '10'."""
    return format(value.normalize(), "f")


def window_words(key: str) -> str:
    """How a calendar window key reads in a sentence."""
    return "in all" if key == "lifetime" else f"in {key}"
