"""The batch engine's integer points accounts (``batch/_lots.py``) at their edges.

Each history puts an event exactly on a boundary the integer lots compute for themselves
(when a lot becomes available, when it expires, a cutoff at that instant) and asserts the
batch engine's results are the reference engine's, entry for entry.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from helpers import line, purchase, redemption, refund
from rewardrules.evaluation.fold import evaluate
from rewardrules.program.model import Program
from rewardrules.tools.ledger_files import LedgerFile
from rewardrules.tools.ledger_sums import ledger_pieces
from strategies import make_program
from test_batch_engine import same_results
from test_ledger_files import READERS, exact, expected_rows
from test_report_columns import same_reports

NEW_YORK = ZoneInfo("America/New_York")
POINTS_RULE = {"id": "points", "kind": "points_per_spend", "points": 10, "per": "1.00"}
REWARD = {"id": "drink", "name": "A drink", "cost": 100, "value": "4.00"}


def lifecycle(**points: Any) -> Program:
    """Ten points per 1.00, a 100-point reward, in New York, with these points settings."""
    return make_program(
        [POINTS_RULE],
        timezone="America/New_York",
        points={"name": "points", "value": "0.01", **points},
        rewards=[REWARD],
    )


def local(year: int, month: int, day: int, hour: int = 0) -> datetime:
    """A New York wall-clock instant, in UTC."""
    return datetime(year, month, day, hour, tzinfo=NEW_YORK).astimezone(UTC)


@pytest.mark.parametrize("nudge", [-1, 0, 1])
def test_a_redemption_at_the_instant_a_rounded_up_lot_expires_finds_it_gone(nudge: int) -> None:
    # Earned 15 January: six months on is 15 July, rounded up to 1 August, local midnight.
    program = lifecycle(expire_after="6 months", expire_round_up_to="month")
    expiry = local(2026, 8, 1) + timedelta(microseconds=nudge)
    events = [
        purchase("p1", local(2026, 1, 15, 9), line("mug", "12.00")),
        purchase("p2", local(2026, 7, 31, 23), line("tea", "3.00")),
        redemption("r1", expiry, "drink"),
        redemption("r2", expiry, "drink"),
    ]
    assert same_results(program, events)


@pytest.mark.parametrize("wait", ["14 days", "1 month"])
def test_a_redemption_at_the_instant_points_become_available_can_spend_them(wait: str) -> None:
    program = lifecycle(pending_for=wait, expire_after="30 days")
    bought = local(2026, 1, 31, 20)
    ready = bought + timedelta(days=14) if wait == "14 days" else local(2026, 2, 28, 20)
    events = [
        purchase("p1", bought, line("mug", "12.00")),
        redemption("r0", ready - timedelta(microseconds=1), "drink"),
        redemption("r1", ready, "drink"),
        purchase("p2", ready, line("tea", "3.00")),
        redemption("r2", bought + timedelta(days=30), "drink"),
    ]
    assert same_results(program, events)


@pytest.mark.parametrize("clamp", ["allow", "clamp"])
def test_a_refund_in_two_parts_at_one_instant_takes_its_own_lot_then_the_oldest(
    clamp: str,
) -> None:
    program = lifecycle(pending_for="3 days", expire_after="2 months", negative_balance=clamp)
    bought = local(2026, 3, 1, 10)
    events = [
        purchase("p1", bought, line("mug", "6.00", 2), line("tea", "3.00")),
        purchase("p2", bought, line("cake", "5.00")),
        redemption("r1", bought + timedelta(days=3), "drink"),
        refund("f1", bought + timedelta(days=3), "p1", ("mug", 1)),
        refund("f2", bought + timedelta(days=3), "p1", ("mug", 1), ("tea", 1)),
        purchase("p3", bought + timedelta(days=4), line("mug", "20.00")),
        redemption("r2", bought + timedelta(days=90), "drink"),
    ]
    assert same_results(program, events)


@pytest.mark.parametrize(
    "as_of",
    [date(2026, 7, 31), date(2026, 8, 1), local(2026, 8, 1), local(2026, 8, 1) - timedelta(0, 1)],
)
def test_a_cutoff_at_an_expiry_expires_exactly_what_the_reference_expires(
    as_of: date | datetime,
) -> None:
    program = lifecycle(pending_for="14 days", expire_after="6 months", expire_round_up_to="month")
    events = [
        purchase("p1", local(2026, 1, 15, 9), line("mug", "12.00")),
        purchase("p2", local(2026, 1, 31, 23), line("tea", "3.00")),
        redemption("r1", local(2026, 2, 20), "drink"),
    ]
    assert same_results(program, events, None, as_of)


def test_without_a_clock_one_lot_holds_every_point_for_a_customer_who_redeems() -> None:
    program = lifecycle(negative_balance="clamp")
    bought = local(2026, 3, 1, 10)
    events = [
        purchase("p1", bought, line("mug", "6.00")),
        purchase("p2", bought + timedelta(hours=1), line("mug", "6.00")),
        redemption("r1", bought + timedelta(hours=2), "drink"),
        refund("f1", bought + timedelta(hours=3), "p1"),
        refund("f2", bought + timedelta(hours=3), "p2"),
        redemption("r2", bought + timedelta(hours=3), "missing"),
    ]
    assert same_results(program, events)


def test_expiries_kept_as_columns_name_the_purchase_and_are_written_like_the_references(
    tmp_path: Path,
) -> None:
    # The integer accounts keep expiries as columns (``_lots.Expiries``): each entry is
    # placed before a later event (or at the as_of cutoff) but carries the id of the
    # purchase that earned the lot; its reason, its row in a Parquet ledger, the totals
    # and the report's months must all be the reference's.
    program = lifecycle(expire_after="1 month", expire_round_up_to="month")
    events = [
        purchase("p1", local(2026, 1, 15, 9), line("mug", "12.00")),
        purchase("p2", local(2026, 1, 20, 9), line("tea", "3.00"), customer="c2"),
        purchase("p3", local(2026, 2, 3, 9), line("tea", "4.00")),
        purchase("p4", local(2026, 4, 2, 9), line("cake", "5.00")),  # after p1's, p3's ends
        refund("f1", local(2026, 4, 2, 10), "p4"),
    ]
    for as_of in (None, date(2026, 6, 30)):
        assert same_results(program, events, as_of=as_of)
        reference = evaluate(program, events, None, as_of)
        columnar = evaluate(program, events, None, as_of, engine="batch")
        expired = [entry for entry in columnar.entries if entry.kind == "expiry"]
        assert {entry.event_id for entry in expired} == (
            {"p1", "p3"} if as_of is None else {"p1", "p2", "p3"}
        )
        assert columnar.totals.points_expired == reference.totals.points_expired > 0
        path = tmp_path / "ledger.parquet"
        with LedgerFile(path, columnar.money) as ledger:
            for piece in ledger_pieces(columnar.customers, columnar.money, 2):
                ledger.write_table(piece.table)
        assert exact(READERS[".parquet"](path)) == exact(expected_rows(reference))
        assert same_reports(program, events, as_of)
