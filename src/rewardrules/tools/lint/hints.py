"""Warnings about the whole program that a first-time author is likely to need.

- ``percent-as-fraction``: a percent between 0 and 1 (``friend: 0.15``) is valid, but it is
  almost always a fraction written where a percent was meant: 15% written as 0.15.
- ``points-without-value``: points are given but ``points.value`` is not written, so every
  cost report counts the points at 0.

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
