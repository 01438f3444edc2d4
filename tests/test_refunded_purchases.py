"""Totals count refunded purchases, not only refunds: "7, 2 of them refunded: 1 in full,
1 in part (3 refunds)" (issue 16). A purchase counts once however many refunds it had;
"in full" means every unit of every line was given back."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from helpers import at, line, program, purchase, refund, run
from rewardrules.cli.main import cli, render_table
from rewardrules.events import Purchase, Refund

EARN = program(
    points={"value": "0.01"},
    rules=[{"id": "earn", "kind": "points_per_spend", "points": 1, "per": "1.00"}],
)

# p1: two refunds that together give back everything; p2: one unit of two; p3: none;
# p4 (ann): a whole refund without lines.
HISTORY = (
    purchase("p1", at(0), line("tea", "4.00", 2)),
    purchase("p2", at(1), line("tea", "4.00"), line("pot", "20.00")),
    purchase("p3", at(2), line("tea", "4.00")),
    purchase("p4", at(3), line("pot", "20.00"), customer="ann"),
    refund("r1", at(4), "p1", ("tea", 1)),
    refund("r2", at(5), "p2", ("pot", 1)),
    refund("r3", at(6), "p1", ("tea", 1)),
    refund("r4", at(7), "p4", customer="ann"),
)


@pytest.mark.parametrize("engine", ["reference", "batch"])
def test_a_purchase_counts_once_and_in_full_only_when_nothing_is_left(engine: str) -> None:
    totals = run(EARN, *HISTORY, engine=engine).totals
    assert (totals.purchases, totals.refunds) == (4, 4)
    assert (totals.refunded_purchases, totals.fully_refunded_purchases) == (3, 2)
    document = totals.to_dict()
    assert (document["refunded_purchases"], document["fully_refunded_purchases"]) == (3, 2)


def test_the_table_says_how_many_purchases_were_refunded_and_how() -> None:
    text = render_table(EARN, run(EARN, *HISTORY))
    assert "\n  purchases       4, 3 of them refunded: 2 in full, 1 in part (4 refunds)\n" in text


def test_a_history_without_refunds_says_none_refunded() -> None:
    text = render_table(EARN, run(EARN, *HISTORY[:4]))
    assert "\n  purchases       4, none refunded\n" in text


def test_only_purchases_refunded_in_part_leave_out_in_full() -> None:
    text = render_table(EARN, run(EARN, *HISTORY[:4], HISTORY[5]))
    assert "\n  purchases       4, 1 of them refunded: 1 in part (1 refund)\n" in text


def test_a_refund_of_a_purchase_of_a_saved_state_is_no_purchase_of_these() -> None:
    first = run(EARN, HISTORY[0])
    resumed = run(EARN, refund("r1", at(4), "p1", ("tea", 1)), states=[first.customers[0].state])
    totals = resumed.totals
    assert (totals.purchases, totals.refunds, totals.refunded_purchases) == (0, 1, 0)
    text = render_table(EARN, resumed)
    assert "\n  purchases       0, none of them refunded (1 refund of earlier ones)\n" in text


def test_one_customers_totals_count_their_own_refunded_purchases(tmp_path: Path) -> None:
    program_file, history_file = tmp_path / "tea.yaml", tmp_path / "tea.csv"
    program_file.write_text(
        "program: tea-club\nname: Tea Club\ncurrency: USD\ntimezone: UTC\n"
        "rules:\n  - id: earn\n    kind: points_per_spend\n    points: 1\n    per: 1.00\n",
        encoding="utf-8",
    )
    history_file.write_text(
        "event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id\n"
        "p1,purchase,tom,2026-03-02T09:00:00+00:00,tea,tea,2,10.00,\n"
        "p2,purchase,ann,2026-03-02T10:00:00+00:00,tea,tea,1,7.00,\n"
        "r1,refund,tom,2026-03-03T09:00:00+00:00,tea,,1,,p1\n"
        "r2,refund,ann,2026-03-03T10:00:00+00:00,,,,,p2\n",
        encoding="utf-8",
    )
    arguments = ["dry-run", str(program_file), str(history_file), "--customer", "tom"]
    for engine in ("reference", "batch"):
        result = CliRunner().invoke(cli, [*arguments, "--engine", engine])
        assert result.exit_code == 0, result.output
        assert "\n  purchases       1, 1 of them refunded: 1 in part (1 refund)\n" in result.output


@st.composite
def _histories(draw: st.DrawFn) -> list[Purchase | Refund]:
    """Purchases of 1 to 3 units of one line, each refunded unit by unit some times."""
    events: list[Purchase | Refund] = []
    for number in range(draw(st.integers(1, 4))):
        units = draw(st.integers(1, 3))
        events.append(purchase(f"p{number}", at(number), line("tea", "3.00", units)))
        for step in range(draw(st.integers(0, units))):
            events.append(
                refund(f"r{number}-{step}", at(10 + number, minutes=step), f"p{number}", ("tea", 1))
            )
    return events


@given(_histories())
def test_the_counts_follow_the_refunded_units_in_both_engines(
    events: list[Purchase | Refund],
) -> None:
    refunded: dict[str, int] = {}
    for event in events:
        if isinstance(event, Refund):
            refunded[event.purchase_id] = refunded.get(event.purchase_id, 0) + 1
    bought = {event.id: event.lines[0].quantity for event in events if isinstance(event, Purchase)}
    full = sum(1 for purchase_id, count in refunded.items() if count == bought[purchase_id])
    for engine in ("reference", "batch"):
        totals = run(EARN, *events, engine=engine).totals
        assert totals.refunded_purchases == len(refunded)
        assert totals.fully_refunded_purchases == full
