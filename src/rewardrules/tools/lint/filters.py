"""What the lint warnings know about filters: where they are, what they name, when none matches.

:func:`never_matches` and :func:`outside_rule` give a :data:`Reason` (the field below
``when`` to point at, and the words); :mod:`rewardrules.tools.lint.warnings` turns it into a
warning.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from typing import Literal

from rewardrules.errors import PathItem
from rewardrules.program.model import (
    WEEKDAYS,
    AnyRule,
    Filter,
    Program,
    VoucherSpec,
)
from rewardrules.text import either

Path = tuple[PathItem, ...]

Reason = tuple[Path, str]
"""Why a filter can match nothing: the field to point at (below ``when``) and the words."""


def filters(program: Program) -> Iterator[tuple[Path, Filter, date | None, date | None]]:
    """Every filter with the path of its ``when`` and the dates of its rule."""
    for index, rule in enumerate(program.rules):
        yield ("rules", index, "when"), rule.when, rule.starts, rule.ends
        for nested in rule.parts().filters:
            yield ("rules", index, *nested.path), nested.when, rule.starts, rule.ends


def never_matches(when: Filter, starts: date | None, ends: date | None) -> Reason | None:
    for name in ("stores", "weekdays", "dates", "tiers"):
        if getattr(when, name) == ():
            return (name,), f"`{name}` is an empty list, which no purchase matches"
    if when.categories is not None or when.skus is not None:
        categories, skus = set(when.categories or ()), set(when.skus or ())
        if not categories and not skus:
            name = "categories" if when.categories is not None else "skus"
            return (name,), f"`{name}` is an empty list, which no line matches"
        if categories <= set(when.exclude_categories or ()) and skus <= set(
            when.exclude_skus or ()
        ):
            name = "exclude_categories" if categories else "exclude_skus"
            return (name,), "every category and sku it names is also excluded"
    if when.dates:
        problems = [date_problem(day, starts, ends, when.weekdays) for day in when.dates]
        if all(problems):
            weekdays = either(when.weekdays or ())
            outside = f"outside the rule's starts/ends ({_window(starts, ends)})"
            if all(_in_window(day, starts, ends) for day in when.dates):
                why = f"none of the dates in `dates` is a {weekdays}"
            elif not any(_in_window(day, starts, ends) for day in when.dates):
                why = f"every date in `dates` is {outside}"
            else:
                why = f"every date in `dates` is {outside} or not a {weekdays}"
            return ("dates",), why
    elif when.weekdays and starts is not None and ends is not None and (ends - starts).days < 6:
        days = [starts + timedelta(days=offset) for offset in range((ends - starts).days + 1)]
        if not any(_on_weekdays(day, when.weekdays) for day in days):
            return ("weekdays",), (
                f"it runs {_window(starts, ends)}, and none of those days is a "
                f"{either(when.weekdays)}"
            )
    return None


def outside_rule(rule_when: Filter, when: Filter) -> Reason | None:
    """Why a multiplier's filter matches nothing inside its rule's filter, if it does not."""
    for name in ("stores", "tiers", "weekdays", "dates"):
        own, rules = getattr(when, name), getattr(rule_when, name)
        if own and rules and not set(own) & set(rules):
            return (name,), (
                f"it asks for {name} {_listed(own)}, but the rule looks only at {_listed(rules)}"
            )
    if when.dates and not any(_on_weekdays(day, rule_when.weekdays) for day in when.dates):
        return ("dates",), (
            f"none of its dates is a {either(rule_when.weekdays or ())}, the rule's only weekdays"
        )
    if rule_when.dates and not any(_on_weekdays(day, when.weekdays) for day in rule_when.dates):
        return ("weekdays",), (
            f"none of the rule's dates ({_listed(rule_when.dates)}) is a "
            f"{either(when.weekdays or ())}"
        )
    return _outside_rule_lines(rule_when, when)


def _outside_rule_lines(rule_when: Filter, when: Filter) -> Reason | None:
    """A line can have any category with any sku, so only like can be compared with like."""
    if when.categories is None and when.skus is None:
        return None
    only_categories = (rule_when.skus is None and rule_when.categories) or None
    only_skus = (rule_when.categories is None and rule_when.skus) or None
    excluded_categories = set(rule_when.exclude_categories or ())
    excluded_skus = set(rule_when.exclude_skus or ())
    live = [
        category
        for category in when.categories or ()
        if category not in excluded_categories
        and (not only_categories or category in only_categories)
    ] + [
        sku
        for sku in when.skus or ()
        if sku not in excluded_skus and (not only_skus or sku in only_skus)
    ]
    if live:
        return None
    scope = []
    if rule_when.categories is not None or rule_when.skus is not None:
        scope.append(f"counts only {_named(rule_when.categories, rule_when.skus)}")
    if excluded_categories or excluded_skus:
        scope.append(f"excludes {_named(rule_when.exclude_categories, rule_when.exclude_skus)}")
    return ("categories" if when.categories else "skus",), (
        f"it asks for {_named(when.categories, when.skus)}, but the rule {' and '.join(scope)}"
    )


def named_values(program: Program, kind: Literal["category", "sku"]) -> list[tuple[Path, str]]:
    """Every category (or sku) the filters name, or a voucher gives, with its path."""
    fields = (
        ("categories", "exclude_categories") if kind == "category" else ("skus", "exclude_skus")
    )
    named: list[tuple[Path, str]] = []
    for path, when, _starts, _ends in filters(program):
        for name in fields:
            named += [
                ((*path, name, at), value) for at, value in enumerate(getattr(when, name) or ())
            ]
    if kind == "sku":
        for index, rule in enumerate(program.rules):
            named += [((*path, "sku"), voucher.sku) for path, voucher in vouchers(index, rule)]
    return named


def vouchers(index: int, rule: AnyRule) -> Iterator[tuple[Path, VoucherSpec]]:
    """Every voucher a rule gives, with the path of its ``voucher``."""
    for path, voucher in rule.parts().vouchers:
        yield ("rules", index, *path), voucher


def filter_key(when: Filter) -> tuple[object, ...]:
    """A filter as a value in which the order of its lists does not count."""
    return tuple(
        frozenset(value) if isinstance(value, tuple) else value
        for value in (getattr(when, name) for name in Filter.model_fields)
    )


def overlap(
    starts: date | None, ends: date | None, other_starts: date | None, other_ends: date | None
) -> bool:
    return (starts or date.min) <= (other_ends or date.max) and (other_starts or date.min) <= (
        ends or date.max
    )


def _in_window(day: date, starts: date | None, ends: date | None) -> bool:
    return (starts is None or starts <= day) and (ends is None or day <= ends)


def _on_weekdays(day: date, weekdays: Iterable[str] | None) -> bool:
    return weekdays is None or WEEKDAYS[day.weekday()] in weekdays


def date_problem(
    day: date, starts: date | None, ends: date | None, weekdays: tuple[str, ...] | None
) -> str | None:
    if not _in_window(day, starts, ends):
        return f"{day} is outside the rule's starts/ends ({_window(starts, ends)})"
    if not _on_weekdays(day, weekdays):
        return f"{day} is a {WEEKDAYS[day.weekday()]}, not a {either(weekdays or ())}"
    return None


def _window(starts: date | None, ends: date | None) -> str:
    if starts is not None and ends is not None:
        return f"from {starts} to {ends}"
    return f"from {starts}" if starts is not None else f"until {ends}"


def _listed(values: Iterable[object]) -> str:
    return ", ".join(str(value) for value in values)


def _named(categories: tuple[str, ...] | None, skus: tuple[str, ...] | None) -> str:
    parts = []
    if categories:
        parts.append(f"categories {_listed(categories)}")
    if skus:
        parts.append(f"skus {_listed(skus)}")
    return " and ".join(parts)
