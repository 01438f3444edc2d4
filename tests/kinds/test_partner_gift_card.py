"""``partner_gift_card``: a partner's card per threshold of paid spend in a window."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from helpers import at, ledger, line, program, purchase, reasons, refund, run

CARD = ("gift_card", None, Decimal("10.00"), 1)


def cinema(**fields: Any) -> dict[str, Any]:
    """A 10.00 Cinema card per 100.00 spent, lifetime, unless told otherwise."""
    return {
        "kind": "partner_gift_card",
        "id": "cinema",
        "partner": "Cinema",
        "value": "10.00",
        "every_spend": "100.00",
        **fields,
    }


def cards(evaluation: Any) -> list[str]:
    """The event id of each gift card issued, in order."""
    return [row[0] for row in ledger(evaluation) if row[2] == "gift_card"]


def test_spend_exactly_at_the_threshold_earns_a_card() -> None:
    evaluation = run(program(rules=[cinema()]), purchase("p1", at(), line("tv", "100.00")))
    assert ledger(evaluation) == [("p1", "cinema", *CARD)]
    assert reasons(evaluation) == [
        "1st Cinema gift card: 100.00 USD spent in all, one card per 100.00 USD (10.00 USD)"
    ]


def test_one_cent_below_the_threshold_earns_nothing() -> None:
    evaluation = run(program(rules=[cinema()]), purchase("p1", at(), line("tv", "99.99")))
    assert ledger(evaluation) == []


def test_spend_adds_up_across_purchases() -> None:
    evaluation = run(
        program(rules=[cinema()]),
        purchase("p1", at(), line("a", "60.00")),
        purchase("p2", at(1), line("b", "40.00")),
    )
    # 60.00 + 40.00 = 100.00 on p2
    assert ledger(evaluation) == [("p2", "cinema", *CARD)]


def test_one_purchase_can_earn_several_cards_in_one_entry_with_their_count() -> None:
    evaluation = run(program(rules=[cinema()]), purchase("p1", at(), line("tv", "250.00")))
    # 250.00 // 100.00 = 2 cards of 10.00
    assert ledger(evaluation) == [("p1", "cinema", "gift_card", None, Decimal("20.00"), 2)]
    assert reasons(evaluation) == [
        "2 Cinema gift cards of 10.00 USD (1st to 2nd): 250.00 USD spent in all, one card per "
        "100.00 USD (20.00 USD)"
    ]
    assert evaluation.totals.gift_cards == 2
    assert evaluation.totals.gift_card_value == 2000


def test_cards_after_earlier_ones_are_numbered_on_from_them() -> None:
    evaluation = run(
        program(rules=[cinema()]),
        purchase("p1", at(), line("tv", "150.00")),
        purchase("p2", at(1), line("tv", "360.00")),
    )
    # 150.00: 1 card; 510.00: 5 cards, so p2 gives the 2nd to the 5th
    assert ledger(evaluation) == [
        ("p1", "cinema", *CARD),
        ("p2", "cinema", "gift_card", None, Decimal("40.00"), 4),
    ]
    assert reasons(evaluation)[1] == (
        "4 Cinema gift cards of 10.00 USD (2nd to 5th): 510.00 USD spent in all, one card per "
        "100.00 USD (40.00 USD)"
    )


def test_only_paid_spend_on_covered_lines_qualifies() -> None:
    rules_program = program(
        rules=[
            {"kind": "every_nth_free", "id": "bogo", "every": 2, "when": {"skus": ["cake"]}},
            cinema(when={"exclude_categories": ["gift-cards"]}),
        ]
    )
    evaluation = run(
        rules_program,
        purchase(
            "p1",
            at(),
            line("cake", "20.00", quantity=2),
            line("tv", "79.99"),
            line("voucher", "50.00", category="gift-cards"),
        ),
    )
    # paid: cake 40.00 - 20.00 free = 20.00, tv 79.99 -> 99.99; the gift-card line is excluded
    assert cards(evaluation) == []


def test_max_per_window_caps_the_cards_of_a_window() -> None:
    rules_program = program(rules=[cinema(window="calendar_year", max_per_window=2)])
    evaluation = run(
        rules_program,
        purchase("p1", datetime(2026, 3, 1, 12, tzinfo=UTC), line("tv", "500.00")),
        purchase("p2", datetime(2026, 6, 1, 12, tzinfo=UTC), line("tv", "100.00")),
        purchase("p3", datetime(2027, 1, 5, 12, tzinfo=UTC), line("tv", "100.00")),
    )
    # 2026: 500.00 would be 5 cards, at most 2; 600.00 still 2. 2027 is a new window: 1
    assert ledger(evaluation) == [
        ("p1", "cinema", "gift_card", None, Decimal("20.00"), 2),
        ("p3", "cinema", *CARD),
    ]


def test_the_window_follows_the_purchases_local_date() -> None:
    rules_program = program(timezone="America/New_York", rules=[cinema(window="calendar_quarter")])
    evaluation = run(
        rules_program,
        purchase("p1", datetime(2026, 3, 31, 12, tzinfo=UTC), line("a", "60.00")),
        # 1 April 03:30 UTC is 31 March 23:30 in New York (EDT, UTC-4): still Q1 locally
        purchase("p2", datetime(2026, 4, 1, 3, 30, tzinfo=UTC), line("b", "40.00")),
    )
    assert cards(evaluation) == ["p2"]


def test_a_new_calendar_quarter_starts_at_local_midnight() -> None:
    rules_program = program(timezone="America/New_York", rules=[cinema(window="calendar_quarter")])
    evaluation = run(
        rules_program,
        purchase("p1", datetime(2026, 3, 31, 12, tzinfo=UTC), line("a", "60.00")),
        # 1 April 04:00 UTC is 1 April 00:00 in New York: Q2, a fresh window
        purchase("p2", datetime(2026, 4, 1, 4, 0, tzinfo=UTC), line("b", "40.00")),
    )
    assert cards(evaluation) == []


def test_calendar_month_windows_are_separate() -> None:
    evaluation = run(
        program(rules=[cinema(window="calendar_month")]),
        purchase("p1", datetime(2026, 1, 31, 12, tzinfo=UTC), line("a", "60.00")),
        purchase("p2", datetime(2026, 2, 1, 12, tzinfo=UTC), line("b", "60.00")),
        purchase("p3", datetime(2026, 2, 2, 12, tzinfo=UTC), line("c", "40.00")),
    )
    # January 60.00; February 60.00 + 40.00 = 100.00 on p3
    assert cards(evaluation) == ["p3"]


def test_a_refund_lowers_net_spend_but_never_revokes_a_card() -> None:
    evaluation = run(
        program(rules=[cinema()]),
        purchase("p1", at(), line("chair", "50.00", quantity=2)),
        refund("r1", at(1), "p1", ("chair", 1)),
    )
    assert ledger(evaluation) == [("p1", "cinema", *CARD)]


def test_spending_back_up_to_a_rewarded_threshold_issues_nothing() -> None:
    evaluation = run(
        program(rules=[cinema()]),
        purchase("p1", at(), line("chair", "50.00", quantity=2)),
        refund("r1", at(1), "p1", ("chair", 1)),
        purchase("p2", at(2), line("desk", "50.00")),
        purchase("p3", at(3), line("lamp", "99.99")),
        purchase("p4", at(4), line("bulb", "0.01")),
    )
    # p1: 100.00, card 1 (highest 100.00); r1: net 50.00
    # p2: net 100.00, not above the highest: nothing
    # p3: net 199.99; p4: net 200.00 -> 2 cards due, 1 issued: card 2
    assert cards(evaluation) == ["p1", "p4"]


def test_a_refund_lowers_the_spend_of_the_original_purchases_window() -> None:
    evaluation = run(
        program(rules=[cinema(window="calendar_year")]),
        purchase("p0", datetime(2025, 12, 30, 12, tzinfo=UTC), line("chair", "30.00", quantity=3)),
        purchase("p1", datetime(2026, 1, 2, 12, tzinfo=UTC), line("desk", "90.00")),
        refund("r1", datetime(2026, 1, 3, 12, tzinfo=UTC), "p0", ("chair", 1)),
        purchase("p2", datetime(2026, 1, 4, 12, tzinfo=UTC), line("lamp", "10.00")),
    )
    # r1 takes 30.00 off 2025 (90.00 -> 60.00), not off 2026, which reaches 100.00 on p2
    assert cards(evaluation) == ["p2"]


def test_a_refunded_purchase_lowers_spend_toward_the_next_card() -> None:
    evaluation = run(
        program(rules=[cinema()]),
        purchase("p1", at(), line("chair", "40.00", quantity=2)),
        refund("r1", at(1), "p1", ("chair", 1)),
        purchase("p2", at(2), line("desk", "20.00")),
    )
    # 80.00 - 40.00 + 20.00 = 60.00: no card
    assert cards(evaluation) == []


def test_the_rules_filter_decides_which_purchases_count() -> None:
    evaluation = run(
        program(rules=[cinema(when={"stores": ["mall"]})]),
        purchase("p1", at(), line("a", "60.00"), store="mall"),
        purchase("p2", at(1), line("b", "60.00"), store="airport"),
        purchase("p3", at(2), line("c", "40.00"), store="mall"),
    )
    assert cards(evaluation) == ["p3"]
