"""``final: true`` where the earning rules' stops reach back into the computation.

The run decides the price rules, the tiers and the exclusive groups' trials first
(``_compute``), then writes the earning rules' entries in running order (``_evaluate``),
each adding the purchases it stops (a final rule that gave something there) before the
next runs. An earning rule's stop reaches back when a rule of a later step was decided
before it: a group's earning member (its trial and the group's choice), a price rule of
a step after a group that sits among the price rules and has a final earning member (a
bonus that wins beside a punch card), or a referral rule whose friends' facts tell when
a referrer's membership started to a birthday with conditions written before it.

Those stops are then a guess: each run starts from the earning stops the run before
found (none at first), and the runs repeat until a run finds the stops it started from.
A stop at a purchase depends only on the customer's earlier events and, at that purchase,
on the rules of earlier steps; so once a customer's stops are right up to an event, the
next run finds that event's stop when its guess stops later than the truth, and the run
after that when it stopped earlier. Each run or two fixes at least one more event of each
customer, and the fixed point is the reference's answer (``fold._apply_purchase``): in
practice one run more than without the guess, or two.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardrules.evaluation.batch._frame import Ints
from rewardrules.evaluation.plan import ProgramPlan
from rewardrules.kinds.birthday import BirthdayPlan
from rewardrules.kinds.referral import ReferralPlan


class Unsettled(Exception):  # noqa: N818 -- a signal between the run and its loop, not an error
    """A run found other earning stops than it started from: run again from those."""


def reaches_back(plan: ProgramPlan) -> bool:
    """Whether a final earning rule runs at a step before a rule decided before the earning
    rules are written in order: a price rule, an earning member of an exclusive group, or
    a referral rule whose friends' facts a birthday at a purchase reads (when the
    referrer's membership started, for ``member_for`` and ``purchase_within``)."""
    if not plan.final_rules:
        return False
    step_of = {rule: step for step, rules in enumerate(plan.stage_rules) for rule in rules}
    earning = [rule for rule in plan.running if not rule.changes_prices]
    finals = [step_of[rule.id] for rule in earning if rule.id in plan.final_rules]
    if not finals:
        return False
    standing = any(
        isinstance(rule.plan, BirthdayPlan) and rule.plan.has_conditions for rule in earning
    )
    decided = [
        step_of[rule.id]
        for rule in plan.running
        if rule.changes_prices
        or rule.rule.exclusive_group is not None
        or (standing and isinstance(rule.plan, ReferralPlan))
    ]
    return any(step > min(finals) for step in decided)


def in_steps(
    stages: Iterable[tuple[int, Any]], step_of: dict[str, int], finals: frozenset[str]
) -> list[tuple[int, Any]]:
    """The earning stages (with their ledger positions) in the order their steps run: an
    exclusive group's members together at its first member's step, so that a final winner
    stops the rules of later steps before they are written (a stable sort: the members
    keep their order). Without a final rule the order does not matter: as given."""
    ordered = list(stages)
    if finals:
        ordered.sort(key=lambda pair: step_of.get(pair[1].plan.rule.id, len(step_of)))
    return ordered


@dataclass(slots=True)
class EarningStops:
    """The earning rules' stops one run starts from (``guess``), and those it finds."""

    guess: Ints
    """Per event, the step of the first final earning rule that gave something there in
    the run before (past the last step where none did)."""
    found: Ints
    earning: frozenset[str]
    """The earning rules' ids: their stops are found as their entries are written."""

    @classmethod
    def of(cls, plan: ProgramPlan, events: int, guess: Ints | None) -> EarningStops:
        """A run's stops, from the ones the run before found (None: no stop)."""
        none = len(plan.stage_rules)
        return cls(
            np.full(events, none, dtype=np.int64) if guess is None else guess,
            np.full(events, none, dtype=np.int64),
            frozenset(rule.id for rule in plan.running if not rule.changes_prices),
        )

    def add(self, rule_id: str, events: Ints, step: int) -> None:
        """An earning rule stopped these purchases at its step."""
        if rule_id in self.earning:
            self.found[events] = np.minimum(self.found[events], step)

    def settled(self) -> bool:
        """Whether the run found the stops it started from."""
        return bool(np.array_equal(self.found, self.guess))
