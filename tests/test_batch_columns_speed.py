"""The batch engine's column shortcuts of the seventh session against the long way round.

Punch cards: the completed cards of every purchase free their cheapest units over columns
(``_cards._cheapest``); on any lines that must change the amounts and units exactly as
``_cards._give`` (the reference kind's loop) does purchase by purchase, or decline.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from rewardrules.evaluation.batch._cards import _cheapest, _give

_LINE = st.tuples(
    st.one_of(st.integers(-500, 5_000), st.sampled_from([0, 150, 300, 450, 1_000])),
    st.integers(0, 6),
    st.integers(0, 6),
)
"""A line: its amount not yet free, its units not yet free, its units that qualify."""


def _by_hand(plan: Any, purchases: list[list[tuple[int, int, int]]], cards: list[int]) -> Any:
    amounts, left, gave = [], [], []
    for event, (lines, count) in enumerate(zip(purchases, cards, strict=True)):
        line_amounts = [amount for amount, _, _ in lines]
        line_left = [units for _, units, _ in lines]
        if count > 0:
            given, value = _give(plan, count, [q for _, _, q in lines], line_amounts, line_left)
            if given:
                gave.append((event, given, value))
        amounts += line_amounts
        left += line_left
    return amounts, left, gave


@given(
    st.lists(st.tuples(st.lists(_LINE, max_size=4), st.integers(0, 5)), min_size=1, max_size=8),
    st.sampled_from(["free", "percent_off"]),
    st.tuples(st.integers(1, 100), st.integers(1, 7)),
)
def test_cards_over_columns_free_what_give_frees(
    drawn: list[tuple[list[tuple[int, int, int]], int]], reward: str, percent: tuple[int, int]
) -> None:
    plan = SimpleNamespace(reward=reward, percent=percent)
    purchases = [lines for lines, _ in drawn]
    cards = [count for _, count in drawn]
    sizes = [len(lines) for lines in purchases]
    frame = SimpleNamespace(line_start=np.concatenate(([0], np.cumsum(sizes))).astype(np.int64))
    flat = [line for lines in purchases for line in lines]
    amounts = np.asarray([amount for amount, _, _ in flat], dtype=np.int64)
    left = np.asarray([units for _, units, _ in flat], dtype=np.int64)
    qualifying = np.asarray([units for _, _, units in flat], dtype=np.int64)
    events = np.flatnonzero(np.asarray(cards) > 0)
    found = _cheapest(
        plan,  # type: ignore[arg-type]
        frame,  # type: ignore[arg-type]
        events,
        np.asarray(cards, dtype=np.int64)[events],
        qualifying,
        amounts,
        left,
    )
    expected_amounts, expected_left, expected = _by_hand(plan, purchases, cards)
    assert found == expected
    assert amounts.tolist() == expected_amounts
    assert left.tolist() == expected_left


def test_cards_over_columns_decline_amounts_whose_products_may_not_fit() -> None:
    plan = SimpleNamespace(reward="free", percent=(0, 1))
    frame = SimpleNamespace(line_start=np.asarray([0, 2], dtype=np.int64))
    amounts = np.asarray([2**60, 3], dtype=np.int64)
    left = np.asarray([4, 1], dtype=np.int64)
    events = np.asarray([0], dtype=np.int64)
    cards = np.asarray([1], dtype=np.int64)
    assert _cheapest(plan, frame, events, cards, left.copy(), amounts, left) is None  # type: ignore[arg-type]
    assert amounts.tolist() == [2**60, 3]
