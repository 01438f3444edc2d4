"""The arguments of ``evaluate``, checked before the fold: a file name says how to read it.

``evaluate(program, "history.csv")`` would otherwise iterate over the characters of the
name and fail deep in the engine with ``'str' object has no attribute 'id'``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

from pydantic import BaseModel

from rewardrules.engine.state import CustomerState
from rewardrules.events import (
    CancelRedemption,
    Customer,
    Purchase,
    Redemption,
    ReferralQualified,
    Refund,
)
from rewardrules.program.model import Program

_EVENTS = (Purchase, Refund, Redemption, CancelRedemption, ReferralQualified)


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


def check_step_arguments(
    program: object, programs: tuple[type, ...], state: object, event: object, customer: object
) -> None:
    """Refuse what ``step`` cannot take, saying what it takes; ``programs`` are its program types.

    Raises:
        TypeError: saying what to pass instead.
    """
    if not isinstance(program, programs):
        how = (
            f"load it with load_program({_name(program)})"
            if _is_path(program)
            else f"load one with load_program('rules.yaml') (got {_kind(program)})"
        )
        raise TypeError(f"step takes a Program as its first argument: {how}")
    if state is not None and not isinstance(state, CustomerState):
        how = (
            "read a saved one with CustomerState.model_validate_json(text)"
            if isinstance(state, str | bytes | dict)
            else "give None for a customer the program has not seen"
        )
        raise TypeError(
            f"step takes the customer's CustomerState, or None, as its second argument "
            f"(got {_kind(state)}): {how}"
        )
    if not isinstance(event, _EVENTS):
        if _is_path(event):
            how = f"to evaluate a file, pass read_history({_name(event)}) to evaluate"
        elif isinstance(event, Sequence | Iterator):
            how = "call step once per event, or pass them all to evaluate"
        elif isinstance(event, dict):
            how = "build it with Purchase.model_validate(...) (or Refund, Redemption)"
        else:
            how = "build one, such as Purchase(...)"
        raise TypeError(
            "step takes one event, a Purchase, Refund, Redemption, CancelRedemption or "
            f"ReferralQualified, as its third argument (got {_kind(event)}): {how}"
        )
    if customer is not None and not isinstance(customer, Customer):
        raise TypeError(
            f"step takes the customer's profile as a Customer, or None (got {_kind(customer)})"
        )


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
    name = "dict" if isinstance(value, dict) else type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"
