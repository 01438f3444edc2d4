"""The batch engine weighs an exclusive group's members exactly, however large their
worth: a member's trial money (vouchers or gift cards times their value) past int64 is
held in Python integers. It wrapped around silently before, and the wrong member won.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from rewardrules import evaluate
from rewardrules.program.model import Program
from test_batch_amounts import _purchase
from test_batch_engine import same_results

# Two of these are 2 * 9223372036854775800 minor units: past int64 (wrapped to -16).
VALUE = Decimal(92233720368547758)


def _grouped(member: dict[str, Any]) -> Program:
    """``member`` in an exclusive group with a star a dollar (a star is worth 0.01)."""
    stars = {"id": "stars", "kind": "points_per_spend", "points": 1, "per": Decimal("1.00")}
    return Program.model_validate(
        {
            "program": "worths",
            "name": "Worths",
            "currency": "USD",
            "timezone": "UTC",
            "points": {"name": "stars", "value": Decimal("0.01")},
            "rules": [
                {"id": "cinema", **member, "exclusive_group": "deal"},
                {**stars, "exclusive_group": "deal"},
            ],
        }
    )


GIFT_CARDS = {"kind": "partner_gift_card", "partner": "cinema", "value": VALUE}
VOUCHERS = {"kind": "every_nth_free", "every": 2}


@pytest.mark.parametrize(
    ("member", "quantity", "price"),
    [
        ({**GIFT_CARDS, "every_spend": Decimal("5.00")}, 1, "10.00"),  # two gift cards
        ({**VOUCHERS, "reward": {"voucher": {"sku": "cone", "value": VALUE}}}, 4, "1.00"),
    ],
    ids=["gift-cards", "vouchers"],
)
def test_rewards_worth_more_than_int64_in_all_win_their_group(
    member: dict[str, Any], quantity: int, price: str
) -> None:
    program = _grouped(member)
    events = [_purchase("p1", price, quantity=quantity, sku="cone")]
    assert same_results(program, events)
    ledger = evaluate(program, events, engine="batch").customers[0].ledger
    assert [(entry.rule, entry.kind, entry.value_minor) for entry in ledger] == [
        ("cinema", ledger[0].kind, 2 * 9223372036854775800),
        ("stars", "set_aside", None),
    ]


# --- worths of more than 28 digits: exact in the reference too ----------------------------


def _stars_then_cinema(card_value: str, point_value: int) -> Program:
    """Stars first in the file (a tie of money goes to the member with more points)."""
    return Program.model_validate(
        {
            "program": "long-worths",
            "name": "Long worths",
            "currency": "USD",
            "timezone": "UTC",
            "points": {"name": "stars", "value": Decimal(point_value)},
            "rules": [
                {
                    "id": "stars",
                    "kind": "points_per_spend",
                    "points": 1,
                    "per": Decimal("1.00"),
                    "exclusive_group": "deal",
                },
                {
                    **GIFT_CARDS,
                    "id": "cinema",
                    "value": Decimal(card_value),
                    "every_spend": Decimal("1000000.00"),
                    "exclusive_group": "deal",
                },
            ],
        }
    )


def test_a_worth_of_more_than_28_digits_is_weighed_exactly() -> None:
    # The gift card is worth 0.01 more than the million stars at 10**20 each (29 digits):
    # the reference rounded both to 28 digits, found a tie and gave the stars.
    program = _stars_then_cinema("100000000000000000000000000.01", 10**20)
    events = [_purchase("p1", "1000000.00")]
    assert same_results(program, events)
    ledger = evaluate(program, events).customers[0].ledger
    assert [(entry.rule, entry.kind) for entry in ledger] == [
        ("stars", "set_aside"),
        ("cinema", "gift_card"),
    ]
    assert ledger[0].reason.startswith(
        "set aside: exclusive group 'deal' went to 'cinema', worth "
        "100000000000000000000000000.01 USD against 100000000000000000000000000.00 USD "
        "(1000000 stars)"
    )


def test_a_worth_of_more_than_28_digits_is_written_in_the_set_aside_reason() -> None:
    # Two million-dollar gift cards worth 10**27 each: the reason's 30-digit worth failed
    # to round to the cent (decimal.InvalidOperation) in both engines.
    program = _stars_then_cinema(str(10**27), 1)
    events = [_purchase("p1", "2000000.00")]
    assert same_results(program, events)
    reason = evaluate(program, events).customers[0].ledger[0].reason
    assert reason.startswith(
        f"set aside: exclusive group 'deal' went to 'cinema', worth {2 * 10**27}.00 USD "
        "against 2000000.00 USD (2000000 stars)"
    )


@pytest.mark.parametrize("value", ["92233720368547758.08", "150000000000000000.00"])
def test_a_gift_item_worth_more_than_int64_wins_its_group(value: str) -> None:
    # 2**63 minor units and more: the trial's int64 column wrapped it around to a negative
    # worth, and the star won.
    program = _grouped({"kind": "order_discount", "gift_item": {"sku": "tote", "value": value}})
    events = [_purchase("p1", "10.00")]
    assert same_results(program, events)
    ledger = evaluate(program, events, engine="batch").customers[0].ledger
    assert [(entry.rule, entry.kind) for entry in ledger] == [
        ("cinema", "free"),
        ("stars", "set_aside"),
    ]
