"""Where each purchase's rolling tier window starts (``_tiers.window_starts``).

The batch engine finds, for every event, its customer's first event at or after
``at - span`` with binary searches over instants shifted per customer. The shifted instants
must stay in int64, so the customers are searched in groups that fit; however the groups
fall, each answer must be the one a search of the customer's own instants gives, and the
engine's results the reference's.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import at, line, program, purchase
from rewardrules.evaluation.batch import _tiers
from test_batch_engine import same_results

_DAY = 86_400_000_000  # microseconds


@st.composite
def _customers(draw: st.DrawFn) -> tuple[list[list[int]], int]:
    """Sorted instants per customer (some repeated, some before 1970), and a span."""
    histories = [
        sorted(
            draw(
                st.lists(
                    st.integers(-_DAY, 40 * _DAY) if draw(st.booleans()) else st.integers(0, 5),
                    min_size=1,
                    max_size=8,
                )
            )
        )
        for _ in range(draw(st.integers(1, 12)))
    ]
    return histories, draw(st.sampled_from((0, 1, _DAY, 3 * _DAY, 365 * _DAY)))


def _columns(histories: list[list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    customer = np.array(
        [index for index, history in enumerate(histories) for _ in history], dtype=np.int64
    )
    start = np.concatenate(([0], np.cumsum([len(history) for history in histories])))
    instants = np.array([instant for history in histories for instant in history], np.int64)
    return customer, start.astype(np.int64), instants


@given(_customers(), st.integers(1, 4))
def test_each_event_s_window_starts_where_its_customer_s_own_search_says(
    drawn: tuple[list[list[int]], int], per_group: int
) -> None:
    histories, span = drawn
    customer, start, instants = _columns(histories)
    widest = max(history[-1] - history[0] + span + 1 for history in histories)
    expected = []
    for index, history in enumerate(histories):
        offset = int(start[index])
        expected += [offset + bisect_left(history, instant - span) for instant in history]
    with pytest.MonkeyPatch.context() as patch:
        # Room for ``per_group`` of the widest customers: groups of 1 to 4 customers.
        patch.setattr(_tiers, "_ROOM", widest * per_group)
        found = _tiers.window_starts(customer, start, instants, span)
    assert found.tolist() == expected


def test_a_group_holds_as_many_customers_as_the_room_allows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Three customers of one event each, a span of 10: each is 11 wide. A room of 22 holds
    # two of them, so the searches are [c0, c1] and [c2]; the third's answer is its own
    # index 2 (offset 2 + 0), not the first group's.
    searched: list[int] = []
    real = np.searchsorted

    def counting(haystack: np.ndarray, *args: object, **options: object) -> np.ndarray:
        searched.append(len(haystack))
        return real(haystack, *args, **options)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(_tiers, "_ROOM", 22)
    monkeypatch.setattr(_tiers.np, "searchsorted", counting)
    customer, start, instants = _columns([[5], [5], [5]])
    assert _tiers.window_starts(customer, start, instants, 10).tolist() == [0, 1, 2]
    assert searched == [2, 1]


def test_the_engines_agree_when_the_customers_are_searched_in_groups(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A rolling 30-day window and three customers buying every 9 days, interleaved: from
    # the third purchase on, the 24.00 or more of the window makes a customer silver. A
    # room for one customer at a time makes every customer a group of its own.
    tiered = program(
        tiers={
            "qualify_by": "spend",
            "window": "30 days",
            "levels": [{"name": "silver", "at_least": "20.00"}],
        },
        rules=[
            {
                "id": "silver-off",
                "kind": "tiered_discount",
                "discounts": {"silver": 10},
            }
        ],
    )
    events = [
        purchase(
            f"p{index}",
            at(0) + timedelta(days=3 * index),
            line("latte", "12.00", 1, "coffee"),
            customer=f"c{index % 3}",
        )
        for index in range(15)
    ]
    monkeypatch.setattr(_tiers, "_ROOM", 1)
    assert same_results(tiered, events)
