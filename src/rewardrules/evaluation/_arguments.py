"""The arguments of ``evaluate``, checked before the fold: a file name says how to read it.

``evaluate(program, "history.csv")`` would otherwise iterate over the characters of the
name and fail deep in the engine with ``'str' object has no attribute 'id'``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from pydantic import BaseModel

from rewardrules.events import Customer, Purchase, Redemption, ReferralQualified, Refund
from rewardrules.program.model import Program

_EVENTS = (Purchase, Refund, Redemption, ReferralQualified)


def check_evaluate_arguments(program: object, events: object, customers: object) -> None:
    """Refuse a file name, a dict or a lone event where ``evaluate`` takes models.

    Only what is cheap is looked at: the first item of a list or tuple, never an iterator,
    which would be consumed.

    Raises:
        TypeError: saying what to call instead (``load_program``, ``read_history``...).
    """
    if not isinstance(program, Program):
        how = (
            f"load it with load_program({_name(program)})"
            if _is_path(program)
            else f"load one with load_program('rules.yaml') (got {_kind(program)})"
        )
        raise TypeError(f"evaluate takes a Program as its first argument: {how}")
    _check_items("events", events, _EVENTS, "read_history", "history.csv")
    if customers is not None:
        _check_items("customers", customers, (Customer,), "read_customers", "customers.csv")


def _check_items(
    what: str, items: object, models: tuple[type[BaseModel], ...], reader: str, example: str
) -> None:
    if _is_path(items):
        raise TypeError(
            f"evaluate takes the {what} themselves, not a file name: "
            f"read them with {reader}({_name(items)})"
        )
    if isinstance(items, models):
        raise TypeError(f"evaluate takes a list of {what}, not one: write [{what[:-1]}]")
    if not isinstance(items, Sequence) or not items:
        return
    first = items[0]
    if not isinstance(first, models):
        names = [model.__name__ for model in models]
        names_shown = ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]
        hint = (
            f"build them with {models[0].__name__}.model_validate(...), "
            f"or read a file with {reader}('{example}')"
        )
        raise TypeError(
            f"{what} must be {names_shown} objects (the first is {_kind(first)}): {hint}"
        )


def _is_path(value: object) -> bool:
    return isinstance(value, str | bytes | os.PathLike)


def _name(value: object) -> str:
    return repr(os.fsdecode(value)) if isinstance(value, str | bytes | os.PathLike) else ""


def _kind(value: object) -> str:
    return "a dict" if isinstance(value, dict) else f"a {type(value).__name__}"
