"""Warnings for programs that are valid but probably wrong: what ``rewardrules lint`` reports.

Each warning is one small pure function of the program and a :class:`LintContext` that
yields :class:`Finding` values (a document path, a message, maybe a suggestion), and
:data:`CHECKS` maps every warning's code to its function. :func:`lint_program` runs them
all and turns each finding into a :class:`~rewardrules.errors.Problem` located with the
program's source map. ``docs/lint.md`` describes every warning and how to fix the file.
The checks about what rules give (vouchers, limits, exclusive groups) are in
:mod:`rewardrules.tools.lint.rewards`; the rest are here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from typing import Literal

from rewardrules.engine.kind import KindTable
from rewardrules.errors import PathItem, Problem, closest
from rewardrules.events import AnyEvent
from rewardrules.kinds.table import KINDS
from rewardrules.program.model import Program
from rewardrules.rulefiles.loader import ProgramSourceMap
from rewardrules.text import plain_number
from rewardrules.tools.lint.check import Check, Finding, LintContext, SeenInHistory
from rewardrules.tools.lint.filters import (
    Path,
    date_problem,
    filters,
    named_values,
    never_matches,
    outside_rule,
)
from rewardrules.tools.lint.hints import (
    cash_covering_value,
    percents_written_as_fractions,
    points_without_value,
)
from rewardrules.tools.lint.lifecycle import (
    inactivity_without_purchases,
    never_expire_without_expiry,
    status_kept_in_lifetime,
)
from rewardrules.tools.lint.options import options_without_effect
from rewardrules.tools.lint.rewards import (
    duplicate_rewards,
    limits_per_purchase_on_a_gift,
    lonely_exclusive_groups,
    worthless_rewards,
)

__all__ = [
    "CHECKS",
    "Check",
    "Finding",
    "LintContext",
    "Path",
    "SeenInHistory",
    "birthday_conditions",
    "discounts_fall_as_tiers_rise",
    "discounts_over_minimum",
    "duplicate_rewards",
    "everything_free",
    "limits_per_purchase_on_a_gift",
    "lint_program",
    "lonely_exclusive_groups",
    "multipliers_fall_as_tiers_rise",
    "multipliers_never_matching",
    "options_without_effect",
    "rules_ended",
    "rules_never_applying",
    "unknown_categories",
    "unknown_skus",
    "unreachable_dates",
    "worthless_rewards",
]


def lint_program(
    program: Program,
    source_map: ProgramSourceMap | None,
    *,
    history_events: Iterable[AnyEvent] | SeenInHistory | None = None,
    as_of: date | datetime | None = None,
    kinds: KindTable = KINDS,
) -> list[Problem]:
    """Every warning about a program, ordered by line and column.

    Args:
        program: the program, as :func:`~rewardrules.rulefiles.loader.load_program_with_map` read
        it.
        source_map: where its values sit (from the same call); without one, the warnings
            name their document path but no line.
        history_events: a history (or what :meth:`SeenInHistory.from_events` made of one)
            to check the categories and skus the filters name against.
        as_of: report rules that are over by this local date; a timestamp (with a UTC
            offset) stands for its local date in the program's time zone.
        kinds: the kind table, whose ``lint`` checks run for each rule of its kind.

    Returns:
        One :class:`~rewardrules.errors.Problem` per warning; its ``code`` is the key of
        :data:`CHECKS` that found it.

    Raises:
        ValueError: ``as_of`` is a timestamp without a UTC offset.
        UnknownKindError: a rule's kind is not in ``kinds``.
    """
    if isinstance(history_events, SeenInHistory) or history_events is None:
        history = history_events
    else:
        history = SeenInHistory.from_events(history_events)
    for spec in kinds.values():
        stray = sorted(set(spec.lint_codes) - set(CHECKS))
        if stray:  # a check filed under a code no warning has would never run
            raise ValueError(
                f"the kind {spec.model.__name__} has lint checks under {', '.join(stray)}, "
                f"which no warning has; file them under one of: {', '.join(CHECKS)}"
            )
    context = LintContext(_local_date(as_of, program), history, kinds)
    warnings: list[Problem] = []
    for code, check in CHECKS.items():
        for finding in check(program, context):
            if source_map is None:
                warning = Problem(finding.message, finding.path, None, code, finding.suggestion)
            else:
                warning = source_map.problem(
                    finding.message,
                    _as_written(finding.path, source_map),
                    at=finding.at,
                    code=code,
                    suggestion=finding.suggestion,
                )
            warnings.append(warning)
    return sorted(warnings, key=_order)


def _as_written(path: Path, source_map: ProgramSourceMap) -> Path:
    """The path without the ``[0]`` of a single ``limit`` mapping, which a file may write."""
    written = source_map.entries.entries
    kept: list[PathItem] = []
    for item in path:
        if isinstance(item, int) and (*kept, item) not in written and tuple(kept) in written:
            continue
        kept.append(item)
    return tuple(kept)


def _order(problem: Problem) -> tuple[int, int]:
    location = problem.location
    return (location.line, location.column) if location is not None else (0, 0)


def _local_date(as_of: date | datetime | None, program: Program) -> date | None:
    if not isinstance(as_of, datetime):
        return as_of
    if as_of.tzinfo is None:
        raise ValueError(f"as_of {as_of.isoformat()} has no UTC offset; give one, or a date")
    return as_of.astimezone(program.zone).date()


# --- the warnings ----------------------------------------------------------------------


def discounts_fall_as_tiers_rise(program: Program, context: LintContext) -> Iterator[Finding]:
    """A tiered_discount that gives a higher tier less than a lower one, or nothing.

    A tier left out is not reported when another tiered_discount gives it a discount: a
    program may write one rule per tier.
    """
    yield from context.kind_findings("tiers-discount-falls", program)


def multipliers_fall_as_tiers_rise(program: Program, context: LintContext) -> Iterator[Finding]:
    """A tier level whose points_multiplier is lower than the level's below it."""
    if program.tiers is None:
        return
    levels = program.tiers.levels
    for index in range(1, len(levels)):
        level, lower = levels[index], levels[index - 1]
        if level.points_multiplier < lower.points_multiplier:
            yield Finding(
                ("tiers", "levels", index, "points_multiplier"),
                f"'{level.name}' earns {plain_number(level.points_multiplier)}x "
                f"{program.points.name}, less than the {plain_number(lower.points_multiplier)}x "
                f"of '{lower.name}' below it; multipliers usually rise with the tier",
            )


def everything_free(program: Program, context: LintContext) -> Iterator[Finding]:
    """A discount of 100%: what it covers is given away."""
    yield from context.kind_findings("discount-100", program)


def discounts_over_minimum(program: Program, context: LintContext) -> Iterator[Finding]:
    """An order offer's amount of at least its minimum spend: some purchases are free."""
    yield from context.kind_findings("discount-over-minimum", program)


def referral_holds(program: Program, context: LintContext) -> Iterator[Finding]:
    """A referral's hold_for of no time, over a year, or longer than refunds.within."""
    yield from context.kind_findings("referral-hold", program)


def rules_never_applying(program: Program, context: LintContext) -> Iterator[Finding]:
    """A rule whose own filter and dates leave no purchase or no line it could reward."""
    for index, rule in enumerate(program.rules):
        reason = never_matches(rule.when, rule.starts, rule.ends)
        if reason is None:  # then its kind may know why it cannot apply
            yield from context.rule_findings("rule-never-applies", index, rule, program)
        else:
            where, why = reason
            yield Finding(("rules", index, "when", *where), f"the rule can never apply: {why}")


def unreachable_dates(program: Program, context: LintContext) -> Iterator[Finding]:
    """A date in ``dates`` outside the rule's starts/ends or on none of its weekdays."""
    for path, when, starts, ends in filters(program):
        days = when.dates or ()
        problems = [date_problem(day, starts, ends, when.weekdays) for day in days]
        if all(problems):
            continue  # no date can match: the whole rule or multiplier is reported
        for position, problem in enumerate(problems):
            if problem is not None:
                yield Finding((*path, "dates", position), f"{problem}; this date never applies")


def rules_ended(program: Program, context: LintContext) -> Iterator[Finding]:
    """A rule that is over by ``as_of``: it ended, or its last date has passed."""
    as_of = context.as_of
    if as_of is None:
        return
    for index, rule in enumerate(program.rules):
        if rule.ends is not None and rule.ends < as_of:
            yield Finding(
                ("rules", index, "ends"),
                f"the rule ended on {rule.ends}, before {as_of}; it will never apply again",
                suggestion="remove the rule if it is over",
            )
        elif rule.when.dates and max(rule.when.dates) < as_of:
            yield Finding(
                ("rules", index, "when", "dates"),
                f"the last of the rule's dates is {max(rule.when.dates)}, before {as_of}; "
                "it will never apply again",
                suggestion="remove the rule if it is over",
            )


def birthday_conditions(program: Program, context: LintContext) -> Iterator[Finding]:
    """A birthday's member_for or purchase_within that is probably wrong: 0 days (asks
    nothing, or is never met), or a member_for of years where days were meant."""
    yield from context.kind_findings("birthday-condition", program)


def unknown_categories(program: Program, context: LintContext) -> Iterator[Finding]:
    """A filter naming a category that no purchase of the history has."""
    if context.history is not None:
        yield from _unseen(program, "category", context.history.categories)


def unknown_skus(program: Program, context: LintContext) -> Iterator[Finding]:
    """A filter (or a voucher) naming a sku that no purchase of the history has."""
    if context.history is not None:
        yield from _unseen(program, "sku", context.history.skus)


def multipliers_never_matching(program: Program, context: LintContext) -> Iterator[Finding]:
    """A multiplier whose filter can match no line that its rule's own filter covers."""
    for index, rule in enumerate(program.rules):
        if never_matches(rule.when, rule.starts, rule.ends):
            continue  # a rule that never applies is reported as such
        for nested in rule.parts().filters:
            when = nested.when
            reason = never_matches(when, rule.starts, rule.ends) or outside_rule(rule.when, when)
            if reason is not None:
                where, why = reason
                yield Finding(
                    ("rules", index, *nested.path, *where),
                    f"the {nested.owner} can never apply: {why}",
                )


CHECKS: Mapping[str, Check] = {
    "tiers-discount-falls": discounts_fall_as_tiers_rise,
    "tiers-multiplier-falls": multipliers_fall_as_tiers_rise,
    "discount-100": everything_free,
    "discount-over-minimum": discounts_over_minimum,
    "rule-never-applies": rules_never_applying,
    "date-never-applies": unreachable_dates,
    "rule-ended": rules_ended,
    "unknown-category": unknown_categories,
    "unknown-sku": unknown_skus,
    "duplicate-reward": duplicate_rewards,
    "worthless-reward": worthless_rewards,
    "multiplier-never-applies": multipliers_never_matching,
    "exclusive-group-alone": lonely_exclusive_groups,
    "limit-per-purchase": limits_per_purchase_on_a_gift,
    "percent-as-fraction": percents_written_as_fractions,
    "points-without-value": points_without_value,
    "option-has-no-effect": options_without_effect,
    "inactivity-without-purchases": inactivity_without_purchases,
    "never-expire-without-expiry": never_expire_without_expiry,
    "status-kept-in-lifetime": status_kept_in_lifetime,
    "cash-covers-value": cash_covering_value,
    "birthday-condition": birthday_conditions,
    "referral-hold": referral_holds,
}
"""Every warning, by its code: the code a warning carries is its key here."""


def _unseen(
    program: Program, kind: Literal["category", "sku"], seen: frozenset[str]
) -> Iterator[Finding]:
    for path, value in named_values(program, kind):
        if value not in seen:
            close = closest(value, sorted(seen))
            yield Finding(
                path,
                f"no purchase in the history has the {kind} '{value}'",
                suggestion=f"did you mean '{close[0]}'?" if close else None,
            )
