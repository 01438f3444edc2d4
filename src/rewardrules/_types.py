"""Field types shared by the program and event models."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator, Field


def _reject_float(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError(f"expected an amount, not a yes/no value (got {value})")
    if isinstance(value, float):
        raise ValueError(
            f"money must be given exactly, as text or Decimal, never as a float (got {value!r})"
        )
    return value


def _reject_bool_and_float_for_whole(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError(f"expected a whole number, not a yes/no value (got {value})")
    if isinstance(value, float):
        raise ValueError(f"expected a whole number (got {value!r})")
    return value


def _require_date_text(value: object) -> object:
    if isinstance(value, date | str):
        return value
    raise ValueError(f"expected a date written YYYY-MM-DD (got {value!r})")


ExactDecimal = Annotated[Decimal, BeforeValidator(_reject_float)]
"""A Decimal that refuses floats (and booleans) so no amount ever passes through binary."""

WholeNumber = Annotated[int, BeforeValidator(_reject_bool_and_float_for_whole)]
"""An int that refuses booleans and floats."""

LocalDate = Annotated[date, BeforeValidator(_require_date_text)]
"""A calendar date in the program's time zone, written YYYY-MM-DD."""

Slug = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$",
        min_length=1,
        max_length=100,
        description="Lowercase letters, digits, '-' and '_', e.g. 'coffee-stars'.",
    ),
]
"""An identifier a marketer can type and a URL can hold."""

Text = Annotated[str, Field(min_length=1)]
"""Non-empty text."""
