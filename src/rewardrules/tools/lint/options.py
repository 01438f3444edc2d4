"""Warnings about rule options that are valid but change nothing where they are written.

``min_total_of`` without a ``min_total``, or ``eligible`` on a filter that lets every line
through; ``final: true`` on a rule after which nothing runs, or on one that gives at a date
rather than at a purchase. Each is one finding of ``option-has-no-effect``.
"""

from __future__ import annotations

from collections.abc import Iterator

from rewardrules.evaluation.fold import compile_program
from rewardrules.program.model import Program
from rewardrules.tools.lint.check import Finding, LintContext
from rewardrules.tools.lint.filters import filters

__all__ = ["options_without_effect"]


def options_without_effect(program: Program, context: LintContext) -> Iterator[Finding]:
    """``min_total_of`` or ``final: true`` where it changes nothing."""
    for path, when, _starts, _ends in filters(program):
        if when.min_total_of is None:
            continue
        if when.min_total is None:
            yield Finding(
                (*path, "min_total_of"),
                "min_total_of says which lines min_total adds up, but there is no min_total "
                "here, so it changes nothing",
                suggestion="add the minimum (min_total), or remove min_total_of",
            )
        elif when.min_total_of == "eligible" and _every_line(when):
            yield Finding(
                (*path, "min_total_of"),
                "min_total_of: eligible adds up the lines the filter lets through, but it "
                "names no categories, skus or exclusions, so that is every line, as with all",
                suggestion="exclude the lines the minimum leaves out (exclude_categories)",
            )
    finals = [index for index, rule in enumerate(program.rules) if rule.final]
    if not finals:
        return
    stages = compile_program(program, context.kinds).plan.stage_rules
    last = stages[-1] if stages else ()
    for index in finals:
        rule = program.rules[index]
        at_a_date = rule.parts().given_at_a_date
        if at_a_date is not None:
            yield Finding(
                ("rules", index, "final"),
                f"{at_a_date[0]}, not at a purchase, so final: true stops nothing",
                suggestion=f"remove final, or tie the rule to a purchase with {at_a_date[1]}",
            )
        elif rule.id in last:
            yield Finding(
                ("rules", index, "final"),
                "no rule runs after this one at a purchase (price rules, then earning "
                "rules, each by priority, then file order), so final: true stops nothing",
                suggestion="give the rules it should stop a higher priority number, or "
                "remove final",
            )


def _every_line(when: object) -> bool:
    return all(
        getattr(when, name) is None
        for name in ("categories", "skus", "exclude_categories", "exclude_skus")
    )
