"""The batch engine's shortcuts against the long way round.

Refunds: after the first price pass the batch engine works out the refunds' amounts over
whole arrays from the units it kept (``_refunds._Units``); on any paid amounts that must
equal running every refund again through ``refunded_lines``. Memory: the engine turns
numpy's huge-page advice off while it runs (``_memory``) and must leave numpy's own
setting as it found it. Order: a history already sorted by customer and instant skips the
sort, and must come out in (customer, instant, id) order all the same.
"""

from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import at, line, program, purchase, refund
from rewardrules.evaluation.batch import _memory, evaluate_table
from rewardrules.evaluation.batch._frame import Frame, _evaluation_order, read_frame
from rewardrules.evaluation.batch._refunds import Refunds
from rewardrules.evaluation.batch._rules import DiscountColumns
from rewardrules.evaluation.plan import ProgramPlan
from rewardrules.events import AnyEvent
from rewardrules.histories.columns import events_to_table
from rewardrules.money import currency

HISTORY: list[AnyEvent] = [
    purchase("p1", at(0), line("latte", "4.50", 3), line("bun", "2.25", 2), line("latte", "4.50")),
    purchase("p2", at(1), line("tea", "3.10", 7)),
    purchase("p3", at(1), line("bun", "0.00", 2), customer="c2"),
    refund("r1", at(2), "p1", ("latte", 2)),
    refund("r2", at(2, hours=1), "p2", ("tea", 3)),
    refund("r3", at(3), "p1", ("latte", 2), ("bun", 1)),
    refund("r4", at(3), "p3", ("bun", 1), customer="c2"),
    refund("r5", at(4), "p2"),
    refund("r6", at(5), "p1"),
]


def _frame() -> tuple[Frame, Refunds]:
    frame = read_frame(events_to_table(HISTORY), currency("USD"), ZoneInfo("UTC"), "<history>")
    purchases, refunds = frame.flags_of("purchase"), frame.flags_of("refund")
    return frame, Refunds.of(frame, refunds, purchases)


@given(st.data())
def test_refunds_on_new_paid_amounts_are_those_of_a_fresh_run(data: st.DataObject) -> None:
    frame, kept = _frame()
    kept.apply(frame, np.zeros(len(frame.line_event), dtype=np.int64))
    for _ in range(data.draw(st.integers(1, 3))):
        paid = np.asarray(
            data.draw(
                st.lists(
                    st.integers(0, 10**6),
                    min_size=len(frame.line_event),
                    max_size=len(frame.line_event),
                )
            ),
            dtype=np.int64,
        )
        fresh = Refunds.of(frame, frame.flags_of("refund"), frame.flags_of("purchase"))
        assert kept.apply(frame, paid) == fresh.apply(frame, paid)


def test_refunds_of_unchanged_purchases_keep_their_steps() -> None:
    frame, kept = _frame()
    paid = frame.gross.copy()
    first = kept.apply(frame, paid)
    paid[frame.line_start[1]] += 1  # a line of the customer's second event (p2)
    second = kept.apply(frame, paid)
    assert [a is b for a, b in zip(first, second, strict=True)] == [
        step.purchase != 1 for step in first
    ]


def test_numpy_huge_page_setting_is_left_as_found() -> None:
    switch = _memory._SWITCH
    if switch is None:
        pytest.skip("this numpy has no huge-page switch")
    club = program(rules=[{"id": "stars", "kind": "points_per_spend", "points": 1, "per": "1.00"}])
    table = events_to_table(HISTORY)
    original = switch(True)
    try:
        for setting in (True, False):
            switch(setting)
            evaluate_table(club, table)
            assert switch(setting) is setting
    finally:
        switch(original)


def test_huge_pages_stay_off_until_the_last_evaluation_ends() -> None:
    switch = _memory._SWITCH
    if switch is None:
        pytest.skip("this numpy has no huge-page switch")
    original = switch(True)
    try:
        with _memory.small_pages():
            with _memory.small_pages():
                assert switch(False) is False
            assert switch(False) is False  # the outer evaluation still runs
        assert switch(True) is True
    finally:
        switch(original)


@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4)), max_size=12).flatmap(
        lambda keys: st.tuples(st.just(keys), st.permutations(range(len(keys))))
    ),
    st.booleans(),
)
def test_evaluation_order_is_customer_instant_id(
    drawn: tuple[list[tuple[int, int]], list[int]], presorted: bool
) -> None:
    keys, names = drawn
    if presorted:  # the shortcut for histories already sorted by customer and instant
        keys = sorted(keys)
    customer = np.asarray([key[0] for key in keys], dtype=np.int64)
    instant = np.asarray([key[1] for key in keys], dtype=np.int64)
    ids = [f"e{name}" for name in names]
    order = _evaluation_order(customer, instant, pa.array(ids, pa.string()))
    expected = sorted(range(len(keys)), key=lambda row: (*keys[row], ids[row]))
    assert order.tolist() == expected


@given(
    st.lists(st.sampled_from("abcdefgh"), unique=True, max_size=8),
    st.lists(st.one_of(st.none(), st.sampled_from("abcdefghij")), max_size=12),
)
def test_index_of_finds_each_wanted_id_as_index_in_does(
    ids: list[str], wanted: list[str | None]
) -> None:
    # Frame.index_of looks the (unique) event ids up among the few wanted, not the wanted
    # among every event id; the answer must be index_in's, nulls and unknown ids -1.
    frame, _ = _frame()
    frame = replace(frame, event_ids=np.asarray(ids, dtype=object), id_column=None)
    asked = pa.array(wanted, pa.string())
    expected = pc.index_in(asked, value_set=pa.array(ids, pa.string())).fill_null(-1)
    assert frame.index_of(asked).tolist() == expected.to_pylist()
    with_column = replace(frame, id_column=pa.array(ids, pa.string()))
    assert with_column.index_of(asked).tolist() == expected.to_pylist()


def test_refunds_find_their_purchases_and_lines_as_the_reference_reads_them() -> None:
    # In the reference's order (instant, then id), each with its purchase; the lines as
    # ``refunded_lines`` reads them (gathered for every refund at once).
    frame, refunds = _frame()
    ids = frame.event_ids.tolist()
    assert [ids[event] for event in refunds.events] == ["r1", "r2", "r3", "r4", "r5", "r6"]
    assert [ids[purchase] for purchase in refunds.purchases] == ["p1", "p2", "p1", "p3", "p2", "p1"]
    assert [(line.sku, line.quantity) for line in refunds.bought[0].lines] == [
        ("latte", 3),
        ("bun", 2),
        ("latte", 1),
    ]
    requests = {request.id: request.lines for request in refunds.requests}
    assert requests["r5"] is None
    assert [(line.sku, line.quantity) for line in requests["r3"] or ()] == [
        ("latte", 2),
        ("bun", 1),
    ]


@given(
    st.lists(st.integers(-1, 1), min_size=9, max_size=9),  # one per event
    st.lists(st.one_of(st.integers(0, 10**6), st.integers(2**50, 2**53)), min_size=12, max_size=12),
    st.lists(st.booleans(), min_size=12, max_size=12),  # one per line
)
def test_a_tiered_discount_on_the_discounted_lines_only_is_the_whole_columns(
    tier: list[int], amounts: list[int], purchase_lines: list[bool]
) -> None:
    # DiscountColumns.apply rounds only the lines that get a discount; the long way round
    # rounds every line and keeps the flagged ones. Amounts near 2**53 take Python integers.
    club = program(
        tiers={"qualify_by": "spend", "window": "365 days", "levels": [
            {"name": "silver", "at_least": "100.00"}, {"name": "gold", "at_least": "500.00"}
        ]},
        rules=[{
            "id": "off", "kind": "tiered_discount", "discounts": {"silver": 5, "gold": "12.345"},
            "when": {"exclude_categories": ["merch"]},
        }],
    )  # fmt: skip
    plan = ProgramPlan.compile(club)
    frame, _ = _frame()
    assert plan.tiers is not None
    stage = DiscountColumns.of(plan.price_rules[0], frame, plan.tiers)
    tiers = np.asarray(tier, dtype=np.int64)
    paid = np.asarray(amounts, dtype=np.int64)
    lines = np.asarray(purchase_lines, dtype=np.bool_)
    found, taken = stage.apply(frame, tiers, paid, lines)

    line_tier = tiers[frame.line_event]
    flags = stage.scope.line_flags(tiers, frame) & stage.present[line_tier] & lines & (paid > 0)
    exact = paid.astype(object)
    numerator, scale = stage.numerators[line_tier], 100 * stage.denominators[line_tier]
    rounded = (2 * exact * numerator + scale) // (2 * scale)
    expected = np.where(flags, rounded, 0)
    assert taken.tolist() == expected.tolist()
    assert found.tolist() == (exact - expected).tolist()
