"""Warnings about the whole program that a first-time author is likely to need.

- ``percent-as-fraction``: a percent between 0 and 1 (``friend: 0.15``) is valid, but it is
  almost always a fraction written where a percent was meant: 15% written as 0.15.
- ``points-without-value``: points are given but ``points.value`` is not written, so every
  cost report counts the points at 0.
- ``cash-covers-value``: a catalogue reward's ``cash`` is at least its ``value``, so the
  reward costs the business nothing: most likely the two were swapped.

The first reads each kind's own part (its spec's ``lint``, under this code); the second looks
at the program as a whole. ``docs/lint.md`` describes them.
"""

from __future__ import annotations

from collections.abc import Iterator

from rewardrules.program.model import Program, gives_points
from rewardrules.tools.lint.check import Finding, LintContext
from rewardrules.tools.lint.filters import Path


def percents_written_as_fractions(program: Program, context: LintContext) -> Iterator[Finding]:
    """A percent above 0 and below 1: most likely a fraction (0.15) meant as a percent (15).

    Each kind with a percent says where it is, in its spec's ``lint``.
    """
    yield from context.kind_findings("percent-as-fraction", program)


def points_without_value(program: Program, context: LintContext) -> Iterator[Finding]:
    """Points are given, but what one costs is not written: reports count them at 0."""
    if "value" in program.points.model_fields_set:
        return
    first = next((i for i, rule in enumerate(program.rules) if gives_points(rule)), None)
    if first is None:
        return
    name = program.points.name
    path: Path = ("points",) if "points" in program.model_fields_set else ("rules", first)
    message = (
        f"points.value is not written, so the {name} given count as costing nothing "
        "in the totals and reports"
    )
    hint = "write what one costs the business, such as 'value: 0.01' under points"
    yield Finding(path, message, hint, at="key")


def cash_covering_value(program: Program, context: LintContext) -> Iterator[Finding]:
    """A points-plus-cash reward whose cash is at least its value: it costs nothing."""
    code = program.currency
    for index, reward in enumerate(program.rewards):
        if reward.cash is not None and reward.cash >= reward.value:
            yield Finding(
                ("rewards", index, "cash"),
                f"the customer pays {reward.cash} {code} in cash for '{reward.id}', at least "
                f"its value of {reward.value} {code}: the reward costs the business nothing, "
                f"and its {program.points.name} buy nothing",
                "check that cash and value are not swapped; value is the whole reward's cost",
            )
