"""The benchmarks' hand-written baselines compute exactly what the reference engine does.

The coffee club (the int loop of ``baselines.py``, ``numpy_baseline.py``) and
``lifecycle-program.yaml`` (``lifecycle_baseline.py``: lots, expiry, a limit, an exclusive
group, redemptions).

benchmarks/replay.py refuses to print figures when a baseline disagrees with the engine,
but only on the sizes it runs; these tests keep the baselines honest on small seeded
histories in every shape the benchmark draws (many purchases per customer with refunds,
one purchase per customer, sorted by customer), so that a change to the engine's
semantics or to a baseline shows up here first. Nothing is timed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardrules import Program, evaluate, load_program
from rewardrules.histories.columns import table_to_events

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import baselines  # noqa: E402 (from benchmarks/, put on the path above)
import lifecycle_baseline  # noqa: E402
import numpy_baseline  # noqa: E402
import synthetic  # noqa: E402

COFFEE_CLUB = load_program(ROOT / "rules" / "examples" / "coffee-club.yaml")
LIFECYCLE = load_program(ROOT / "benchmarks" / "lifecycle-program.yaml")


def reference(table: object, program: Program = COFFEE_CLUB) -> baselines.Outcome:
    """What the reference engine finds on a history table."""
    events = list(table_to_events(table))  # type: ignore[arg-type]
    return baselines.reference_outcome(evaluate(program, events))


# Each example replays a few hundred purchases through the reference engine: fewer examples
# than the profile's, drawn over seeds and shapes.
@settings(max_examples=25)
@given(
    seed=st.integers(0, 2**32 - 1),
    customers=st.integers(1, 30),
    purchases=st.integers(1, 300),
    sorted_by_customer=st.booleans(),
)
def test_the_int_loop_and_numpy_agree_with_the_engine(
    seed: int, customers: int, purchases: int, sorted_by_customer: bool
) -> None:
    table = synthetic.history_table(
        customers, purchases, seed, sorted_by_customer=sorted_by_customer, refund_share=0.05
    )
    expected = reference(table)
    columns = baselines.columns_from_table(table)
    assert baselines.first_difference(expected, baselines.coffee_int_loop(columns)) is None
    assert (
        baselines.first_difference(expected, numpy_baseline.coffee_numpy(columns).outcome) is None
    )


@settings(max_examples=25)
@given(
    seed=st.integers(0, 2**32 - 1),
    customers=st.integers(1, 8),
    purchases=st.integers(1, 400),
    refund_share=st.sampled_from([0.0, 0.05, 0.2]),
    redemption_share=st.sampled_from([0.0, 0.1, 0.3]),
)
def test_the_lifecycle_int_loop_agrees_with_the_engine(
    seed: int, customers: int, purchases: int, refund_share: float, redemption_share: float
) -> None:
    table = synthetic.history_table(
        customers,
        purchases,
        seed,
        refund_share=refund_share,
        redemption_share=redemption_share,
    )
    expected = reference(table, LIFECYCLE)
    columns = baselines.columns_from_table(table)
    local = lifecycle_baseline.local_columns(columns.at)
    found = lifecycle_baseline.lifecycle_int_loop(columns, local)
    assert baselines.first_difference(expected, found) is None


def test_the_lifecycle_history_uses_every_feature_of_the_program() -> None:
    """Lots expire, the limit caps, the group sets the bonus aside, redemptions are made
    and rejected, refunds take points back: the loop is checked on all of it."""
    table = synthetic.history_table(30, 3000, 11, refund_share=0.05, redemption_share=0.05)
    events = list(table_to_events(table))
    evaluation = evaluate(LIFECYCLE, events)
    kinds = {entry.kind for result in evaluation.customers for entry in result.ledger}
    assert {"expiry", "capped", "set_aside", "free", "redemption", "rejected"} <= kinds
    assert any(
        entry.kind == "points" and entry.points is not None and entry.points < 0
        for result in evaluation.customers
        for entry in result.ledger
    )
    columns = baselines.columns_from_table(table)
    found = lifecycle_baseline.lifecycle_int_loop(
        columns, lifecycle_baseline.local_columns(columns.at)
    )
    assert baselines.first_difference(baselines.reference_outcome(evaluation), found) is None


def test_one_purchase_each_agrees_with_the_engine() -> None:
    table = synthetic.history_table(300, 300, 7, one_each=True)
    expected = reference(table)
    columns = baselines.columns_from_table(table)
    assert baselines.first_difference(expected, baselines.coffee_int_loop(columns)) is None
    assert (
        baselines.first_difference(expected, numpy_baseline.coffee_numpy(columns).outcome) is None
    )


def test_a_long_history_reaches_every_tier_and_the_window_edges() -> None:
    """The seeded history the tests above draw from exercises what the baselines must get
    right: both tiers, refunds of both kinds, and purchases exactly 365 days apart."""
    table = synthetic.history_table(40, 6000, 2026)
    expected = reference(table)
    assert {"silver", "gold"} <= set(expected.tiers.values())
    refunds = table.filter(pc.equal(table["type"], "refund"))
    assert 0 < refunds["sku"].null_count < len(refunds)
    columns = baselines.columns_from_table(table)
    assert baselines.first_difference(expected, baselines.coffee_int_loop(columns)) is None
    purchases = columns.kind == baselines.PURCHASE
    visits = set(zip(columns.customer[purchases].tolist(), columns.at[purchases].tolist()))
    assert any((customer, at - baselines.WINDOW) in visits for customer, at in visits)
    assert len(visits) < int(purchases.sum())  # two purchases of a customer in one second


def test_a_wrong_baseline_is_caught() -> None:
    """The comparison the benchmark relies on finds a single star of difference."""
    table = synthetic.history_table(5, 200, 3)
    found = baselines.coffee_int_loop(baselines.columns_from_table(table))
    customer = sorted(found.stars)[0]
    wrong = baselines.Outcome(
        {**found.stars, customer: found.stars[customer] + 1},
        found.tiers,
        found.discounts,
        found.available,
    )
    assert baselines.first_difference(reference(table), wrong) == (
        f"customer {customer}'s stars: {found.stars[customer]} against {found.stars[customer] + 1}"
    )


@pytest.mark.parametrize("refund_share", [0.0, 0.3])
def test_the_generator_is_seeded(refund_share: float) -> None:
    first = synthetic.history_table(10, 100, 5, refund_share=refund_share)
    again = synthetic.history_table(10, 100, 5, refund_share=refund_share)
    other = synthetic.history_table(10, 100, 6, refund_share=refund_share)
    assert first.equals(again)
    assert not first.equals(other)
