"""The tier fixed point's later passes on the events whose level moved (``_tier_passes``).

A later pass reprices only the lines of the events whose level changed; every such pass
must give what a full price pass gives at the same levels (paid amounts, what each
discount took and on how many units, what each event paid, the refunds), and the
engine's results must stay the reference's. The histories are drawn so that levels still
move in late passes: a discount at one purchase moves the next one across a threshold,
and so on.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import at, line, program, purchase, refund
from rewardrules import evaluate, load_program
from rewardrules.evaluation.batch import _tier_passes
from rewardrules.evaluation.batch._rules import per_event
from rewardrules.evaluation.batch._tier_passes import DiscountPasses
from rewardrules.histories.columns import table_to_events
from rewardrules.program.model import Program
from strategies import histories
from test_batch_engine import dense_histories, same_results

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import synthetic  # from benchmarks/, put on the path above

COFFEE = Path(__file__).resolve().parent.parent / "rules" / "examples" / "coffee-club.yaml"


def _checked_repricing(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Check every repricing pass against a full pass at the same levels; return how many
    events each repriced."""
    repriced: list[int] = []
    reprice = DiscountPasses.reprice

    def checked(self: DiscountPasses, computation: Any, events: Any, lines: Any) -> Any:
        paid, given = reprice(self, computation, events, lines)
        steps = list(computation.refunds.steps)
        full_paid, full_given = computation._grouped_prices()
        assert np.array_equal(paid, full_paid)
        assert paid.dtype == np.asarray(full_paid).dtype
        assert np.array_equal(self.event_paid, per_event(computation.frame, full_paid))
        assert len(given) == len(full_given)
        for (taken, units), (full_taken, full_units) in zip(given, full_given, strict=True):
            assert np.array_equal(taken, full_taken)
            assert np.array_equal(units, full_units)
        assert computation.refunds.steps == steps
        repriced.append(len(events))
        return paid, given

    monkeypatch.setattr(DiscountPasses, "reprice", checked)
    return repriced


def test_coffee_club_levels_moving_in_late_passes_are_repriced_as_a_full_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repriced = _checked_repricing(monkeypatch)
    table = synthetic.history_table(30, 3_000, 2026, sorted_by_customer=True)
    coffee = load_program(COFFEE)
    events = list(table_to_events(table))
    assert same_results(coffee, events)
    # Levels moved after the first full pass, and again later, each repriced alone.
    assert len(repriced) >= 4
    assert 0 < repriced[-1] < repriced[0]


def test_a_level_that_moves_in_the_fourth_pass_is_repriced_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Silver from 10.00 paid (60% off), gold from 40.00 (10% off), over a lifetime. The
    # fold: p0 pays 15 (no tier); then silver all along, paying 8, 4, 6, 4, 2 and 12 (the
    # sums before: 15, 23, 27, 33, 37, 39). The gross guess makes p3 to p6 gold (sums
    # 45, 60, 70, 75 before them); each pass then finds one more of them silver.
    repriced = _checked_repricing(monkeypatch)
    rules_program = program(
        tiers={
            "qualify_by": "spend",
            "window": "lifetime",
            "levels": [
                {"name": "silver", "at_least": "10.00"},
                {"name": "gold", "at_least": "40.00"},
            ],
        },
        rules=[{"id": "off", "kind": "tiered_discount", "discounts": {"silver": 60, "gold": 10}}],
    )
    prices = ("15.00", "20.00", "10.00", "15.00", "10.00", "5.00", "30.00")
    events: list[Any] = [
        purchase(f"p{index}", at(index), line("latte", price)) for index, price in enumerate(prices)
    ]
    result = evaluate(rules_program, events, engine="batch").customers[0]
    assert repriced == [1, 1, 1, 1]
    taken = [entry.value_minor for entry in result.ledger if entry.kind == "discount"]
    assert taken == [1200, 600, 900, 600, 300, 1800]
    assert result.tier == "gold"
    assert same_results(rules_program, events)


def _discount_program(draw: st.DrawFn) -> Program:
    rules = [
        {
            "id": f"off-{index}",
            "kind": "tiered_discount",
            "discounts": {"silver": draw(st.integers(20, 80)), "gold": draw(st.integers(40, 95))},
            **({"when": {"categories": ["coffee"]}} if draw(st.booleans()) else {}),
        }
        for index in range(draw(st.integers(1, 2)))
    ]
    rules.append({"id": "earn", "kind": "points_per_spend", "points": 1, "per": "1.00"})
    # By purchases, levels do not depend on prices: settled at once, a control.
    qualify_by = draw(st.sampled_from(("spend", "spend", "spend", "purchases")))
    silver, gold = draw(
        st.sampled_from(
            (("30.00", "90.00"), ("50.00", "150.00"), ("100.00", "300.00"))
            if qualify_by == "spend"
            else ((2, 6), (1, 3))
        )
    )
    window = draw(st.sampled_from(("lifetime", "3 days", "10 days", "calendar_month")))
    return program(
        tiers={
            "qualify_by": qualify_by,
            "window": window,
            "levels": [
                {"name": "silver", "at_least": silver},
                {"name": "gold", "at_least": gold},
            ],
        },
        rules=rules,
    )


programs = st.composite(_discount_program)


@st.composite
def chains(draw: st.DrawFn) -> list[Any]:
    """Purchases hours apart, of amounts near the levels, so that a discount at one moves
    a later one across a threshold (and that one's discount a later one); some refunded
    in full."""
    events: list[Any] = []
    bought: list[tuple[str, str]] = []
    when = at(0)
    for index in range(draw(st.integers(3, 14))):
        when += timedelta(hours=draw(st.integers(1, 40)))
        customer = draw(st.sampled_from(("alice", "bob")))
        if bought and draw(st.integers(0, 5)) == 0:
            refunded, owner = bought.pop(draw(st.integers(0, len(bought) - 1)))
            events.append(refund(f"r{index}", when, refunded, customer=owner))
            continue
        lines = [
            line(
                sku, f"{draw(st.integers(100, 6000)) / 100:.2f}", draw(st.integers(1, 3)), category
            )
            for sku, category in draw(
                st.lists(
                    st.sampled_from((("latte", "coffee"), ("bun", "food"))), min_size=1, max_size=2
                )
            )
        ]
        events.append(purchase(f"p{index}", when, *lines, customer=customer))
        bought.append((f"p{index}", customer))
    return events


@settings(max_examples=80)
@given(programs(), st.one_of(chains(), histories(("alice", "bob"), 2, 12), dense_histories()))
def test_drawn_discount_programs_repricing_every_moved_event_run_identically(
    program: Program, events: list[Any]
) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        # Reprice whatever moved, however many: the shortcut on every later pass.
        monkeypatch.setattr(_tier_passes, "REPRICE_SHARE", 1)
        _checked_repricing(monkeypatch)
        assert same_results(program, events)
