"""The batch engine on exclusive groups' limited members and members beside price rules.

A limited points or price member competes with what its limits leave and counts only
where it wins (refunds give points back to its limits); a points or gift card member
beside a price member earns on the group's basket, before a later price rule lowers the
amounts again, and its refunds remember those amounts. The reference engine is the
oracle: every case compares both engines' whole results.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from hypothesis import given, settings

from rewardrules.evaluation import batch
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import AnyEvent
from rewardrules.program.model import Program
from strategies import cutoffs, histories, limited_group_programs
from test_batch_engine import same_results

GROUP = {"exclusive_group": "deal", "priority": 1}
CENT_POINTS = {"name": "stars", "value": Decimal("0.01")}


def _ledger(program: Program, events: list[AnyEvent]) -> list[tuple[Any, ...]]:
    """The batch engine's ledger (after checking it is the reference's)."""
    assert batch.unsupported(program) == []
    assert same_results(program, events)
    (customer,) = evaluate(program, events, engine="batch").customers
    return [
        (entry.event_id, entry.rule, entry.kind, entry.points, entry.value)
        for entry in customer.ledger
    ]


@settings(max_examples=150)
@given(limited_group_programs(), histories(refunds=True, payments=True), cutoffs())
def test_drawn_groups_of_limited_members_and_members_beside_prices_run_identically(
    program: Program, events: list[AnyEvent], as_of: date | datetime | None
) -> None:
    assert batch.unsupported(program) == []
    assert same_results(program, events, None, as_of)
