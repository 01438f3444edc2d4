"""Lint checks about what rules give: rewards, duplicates, limits and exclusive groups.

A reward worth nothing, two rules giving the same reward, a limit per purchase on a fixed
gift, an exclusive group of one rule. Each check has the shape of
:data:`~rewardrules.tools.lint.check.Check`; :data:`rewardrules.tools.lint.warnings.CHECKS` gives
each its code.
"""

from __future__ import annotations

from collections.abc import Iterator

from rewardrules.engine.limits import LimitPlan
from rewardrules.errors import closest
from rewardrules.program.model import (
    Program,
    rewards_a_purchase,
)
from rewardrules.tools.lint.check import Finding, LintContext
from rewardrules.tools.lint.filters import filter_key, overlap, vouchers


def duplicate_rewards(program: Program, context: LintContext) -> Iterator[Finding]:
    """Two rules of the same kind with the same filter, in force on the same days.

    Two rules of one exclusive group are not reported: the group gives only one of them;
    nor are two that give at different moments (a birthday gift when the window opens and
    one at a purchase in it, a sign-up bonus at joining and one at the first purchase).
    """
    for index, rule in enumerate(program.rules):
        for earlier, other in enumerate(program.rules[:index]):
            if (
                other.kind == rule.kind
                and filter_key(other.when) == filter_key(rule.when)
                and overlap(other.starts, other.ends, rule.starts, rule.ends)
                and rewards_a_purchase(other) == rewards_a_purchase(rule)
                and (rule.exclusive_group is None or rule.exclusive_group != other.exclusive_group)
            ):
                yield Finding(
                    ("rules", index, "when"),
                    f"this rule rewards the same purchases in the same way as rules[{earlier}] "
                    f"('{other.id}'): both are {rule.kind} with the same filter, so a purchase "
                    "gets both rewards",
                    suggestion="merge them into one rule, or give them different filters or dates",
                )
                break


def worthless_rewards(program: Program, context: LintContext) -> Iterator[Finding]:
    """A reward that gives the customer nothing: a factor of 1, a cap or limit of 0, a 0 voucher."""
    for index, rule in enumerate(program.rules):
        for path, voucher in vouchers(index, rule):
            if voucher.value == 0:
                yield Finding(
                    (*path, "value"),
                    f"the voucher is worth 0 {program.currency}: the customer gets nothing of "
                    "value and the cost report counts nothing",
                    suggestion=f"give it the price of '{voucher.sku}'",
                )
        plan = LimitPlan.compile(rule.id, rule.limit, program.money, program.points.name)
        for position, limit in enumerate(plan.limits):
            if limit.most == 0:
                yield Finding(
                    ("rules", index, "limit", position),
                    f"{limit.words(program.money, program.points.name)}: the rule never gives "
                    "anything",
                )
        yield from context.rule_findings("worthless-reward", index, rule, program)


def lonely_exclusive_groups(program: Program, context: LintContext) -> Iterator[Finding]:
    """An exclusive group of one rule: nothing competes with it, so the group does nothing.

    The usual cause is a group name misspelt on one of the rules that should compete.
    """
    members: dict[str, list[int]] = {}
    for index, rule in enumerate(program.rules):
        if rule.exclusive_group is not None:
            members.setdefault(rule.exclusive_group, []).append(index)
    for group, indexes in members.items():
        if len(indexes) == 1:
            others = sorted(name for name in members if name != group)
            close = closest(group, others)
            yield Finding(
                ("rules", indexes[0], "exclusive_group"),
                f"the exclusive group '{group}' holds only this rule, so it has no effect",
                suggestion=(
                    f"did you mean '{close[0]}'?"
                    if close
                    else "give the rules that must not add up the same group, or remove it"
                ),
            )


def limits_per_purchase_on_a_gift(program: Program, context: LintContext) -> Iterator[Finding]:
    """A limit ``per: purchase`` on a rule that gives one fixed gift at a time.

    Such a limit either never binds or only makes each gift smaller (a limit of 0 is a
    ``worthless-reward``); it never limits how often the gift is given.
    """
    for index, rule in enumerate(program.rules):
        if not context.kind(rule).gives_fixed_gifts:
            continue
        for position, limit in enumerate(rule.limit):
            if limit.per == "purchase" and (limit.points or limit.rewards or limit.value):
                yield Finding(
                    ("rules", index, "limit", position, "per"),
                    f"'{rule.id}' gives one fixed gift at a time, so a limit per purchase "
                    "never limits how often it is given; it can only make the gift smaller",
                    suggestion=(
                        "to limit how often, use per: day, week, month, year or lifetime; "
                        "to give less, make the gift smaller"
                    ),
                )
