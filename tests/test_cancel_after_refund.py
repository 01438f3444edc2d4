"""A cancelled redemption after a refund that took points back (docs/lifecycle.md,
"Cancelling a redemption"): the points go back to the lots they came from, under
``negative_balance: clamp`` they first recover what refunds after the redemption wrote
off, and the state saved after it resumes (docs/api.md, "Saved states").

Every program here earns 2 points per 5.00 paid, rounded down (12.00: 4.8, so 4; 4.00:
1.6, so 1) and sells a pin for 2 points; histories start at ``BASE``, Monday 2 March 2026
at noon UTC, one event a day.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from helpers import at, line, program, purchase, refund
from rewardrules import CustomerState, HistoryError, evaluate, explain, step
from rewardrules.cli.main import render_table
from rewardrules.engine.ledger import Evaluation
from rewardrules.events import AnyEvent, CancelRedemption, Redemption
from rewardrules.program.model import Program
from rewardrules.tools.report import report

ENGINES = ("reference", "batch")
EARN = {"id": "earn", "kind": "points_per_spend", "points": 2, "per": "5.00"}
PIN = {"id": "pin", "name": "Pin", "cost": 2, "value": "1.00"}


def club(policy: str, expire: bool = True) -> Program:
    points = {"value": "0.01", "negative_balance": policy}
    if expire:
        points["expire_after"] = "365 days"
    return program(points=points, rules=[EARN], rewards=[PIN])


def buy(id: str, day: int, units: int, price: str) -> AnyEvent:
    return purchase(id, at(day), line("a", price, units))


def redeem(id: str, day: int, pins: int) -> Redemption:
    return Redemption(id=id, customer_id="c1", at=at(day), reward="pin", quantity=pins)


def cancel(id: str, day: int, redemption_id: str) -> CancelRedemption:
    return CancelRedemption(id=id, customer_id="c1", at=at(day), redemption_id=redemption_id)


def entries(found: Evaluation) -> list[tuple[str, str, int | None]]:
    return [(entry.event_id, entry.kind, entry.points) for entry in found.customer("c1").ledger]


def lots(state: CustomerState) -> list[tuple[str, int]]:
    return [(lot.source, lot.points) for lot in state.lots]


def write_offs(state: CustomerState) -> list[tuple[str, int, tuple[str, ...]]]:
    return [(found.refund, found.points, found.redemptions) for found in state.written_off]


def through_json(state: CustomerState) -> CustomerState:
    return CustomerState.model_validate_json(state.model_dump_json())


SPLIT = [
    buy("A", 0, 3, "4.00"),  # 12.00: 4 points
    buy("B", 1, 5, "5.00"),  # 25.00: 10 points
    redeem("R", 2, 2),  # 2 pins x 2 = 4 points, from A's lot (oldest): A 0, B 10
    refund("F", at(3), "A", ("a", 2)),  # 4.00 left: A earns 1, 3 taken back
    cancel("C", 4, "R"),
]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_cancellation_gives_back_to_the_spent_lot_what_a_refund_took_from_another(
    engine: str,
) -> None:
    # A earns 4, B 10; R takes A's 4; F takes 3 back (A earns 1 on the 4.00 left), and
    # with A's lot empty takes them from B: B 10 - 3 = 7. C gives R's 4 back to A's lot: A 4, B 7,
    # 4 + 7 = 11 points (4 + 10 - 4 - 3 + 4 = 11), though A's purchase now earns 1.
    found = evaluate(club("allow"), SPLIT, engine=engine)
    assert entries(found) == [
        ("A", "points", 4),
        ("B", "points", 10),
        ("R", "redemption", -4),
        ("F", "points", -3),
        ("C", "redemption", 4),
    ]
    customer = found.customer("c1")
    assert (customer.points, customer.available_points) == (11, 11)
    state = customer.state
    assert lots(state) == [("A", 4), ("B", 7)]
    # Before, the state was refused on resume: lots[0].points is 4, more than the 1 A earns.
    resumed = evaluate(club("allow"), [], states={"c1": through_json(state)}, engine=engine)
    assert resumed.customer("c1").points == 11
    # A step from it: P earns 2 (5.00), so 11 + 2 = 13.
    after, given = step(club("allow"), through_json(state), buy("P", 5, 1, "5.00"))
    assert [(entry.kind, entry.points) for entry in given] == [("points", 2)]
    assert (after.points, lots(after)) == (13, [("A", 4), ("B", 7), ("P", 2)])


def test_the_lot_bound_still_holds_for_a_purchase_nothing_was_refunded_of() -> None:
    # The state above with B's lot raised from 7 to 11 (and points to 15): B was never
    # refunded and earned 10, so no history can leave 11 in its lot, cancellation or not.
    state = evaluate(club("allow"), SPLIT).customer("c1").state
    data: dict[str, Any] = json.loads(state.model_dump_json())
    del data["digest"]
    data["lots"][1]["points"] = 11
    data["points"] = 15
    changed = CustomerState.model_validate(data)
    with pytest.raises(HistoryError) as raised:
        evaluate(club("allow"), [], states={"c1": changed})
    assert [str(problem) for problem in raised.value.problems] == [
        "state of c1.lots[1].points: is 11, more than the 10 its purchase B earned "
        "(purchases.points, purchase 1) (use the state exactly as rewardrules saved it, or "
        "rebuild it by evaluating the customer's history)"
    ]


ONE_LOT = [
    buy("A", 0, 3, "4.00"),  # 12.00: 4 points
    redeem("R", 1, 2),  # -4: 0 left
    refund("F", at(2), "A", ("a", 2)),  # -3 (1 now instead of 4), nothing left to take
    cancel("C", 3, "R"),
]


@pytest.mark.parametrize("expire", [True, False], ids=["lots expire", "one lot"])
@pytest.mark.parametrize("engine", ENGINES)
def test_under_clamp_a_cancellation_recovers_the_points_written_off_after_it(
    engine: str, expire: bool
) -> None:
    # A 4, R -4 (balance 0), F -3 with nothing to take: 3 written off (+3), balance 0.
    # C gives R's 4 back: 3 recover the write-off (-3), 1 stays in A's lot: 1 point, as
    # under allow (debt 3, paid by the 4 given back). 4 - 4 - 3 + 3 + 4 - 3 = 1.
    # Before, the customer kept all 4 (the write-off was never recovered).
    found = evaluate(club("clamp", expire), ONE_LOT, engine=engine)
    assert entries(found) == [
        ("A", "points", 4),
        ("R", "redemption", -4),
        ("F", "points", -3),
        ("F", "written_off", 3),
        ("C", "redemption", 4),
        ("C", "written_off", -3),
    ]
    ledger = found.customer("c1").ledger
    assert ledger[4].reason == (
        "cancelled redemption R of 2 x Pin: 4 points back; 3 of them recovered points written off"
    )
    assert ledger[5].rule == "points.negative_balance"
    assert ledger[5].reason == (
        "3 points written off at refund F recovered: cancelled redemption R gave them back"
    )
    assert found.customer("c1").points == 1
    assert found.totals.points_written_off == 0  # 3 - 3
    assert found.totals.points_redeemed == 0  # 4 - 4
    state = found.customer("c1").state
    assert (lots(state), state.written_off) == ([("A", 1)], ())
    allowed = evaluate(club("allow", expire), ONE_LOT, engine=engine).customer("c1")
    assert allowed.points == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_a_write_off_larger_than_a_cancellation_is_recovered_in_parts(engine: str) -> None:
    # A: 25.00 -> 10 points. R1: 1 pin (-2), R2: 4 pins (-8): 0 left. F returns all of A:
    # -10, nothing to take, 10 written off, recoverable by cancelling R1 or R2.
    first = [
        buy("A", 0, 5, "5.00"),
        redeem("R1", 1, 1),
        redeem("R2", 2, 4),
        refund("F", at(3), "A"),
        cancel("C1", 4, "R1"),  # +2, all of them recover 2 of the 10: 8 still open
    ]
    found = evaluate(club("clamp"), first, engine=engine)
    assert entries(found)[-3:] == [
        ("F", "written_off", 10),
        ("C1", "redemption", 2),
        ("C1", "written_off", -2),
    ]
    state = found.customer("c1").state
    assert (state.points, write_offs(state)) == (0, [("F", 8, ("R2",))])
    assert found.totals.points_written_off == 8  # 10 - 2
    # From the saved state (through JSON), C2 gives R2's 8 back: they recover the other 8.
    after, given = step(club("clamp"), through_json(state), cancel("C2", 5, "R2"))
    assert [(entry.kind, entry.points) for entry in given] == [
        ("redemption", 8),
        ("written_off", -8),
    ]
    assert (after.points, after.written_off) == (0, ())
    whole = evaluate(club("clamp"), [*first, cancel("C2", 5, "R2")], engine=engine)
    assert whole.totals.points_written_off == 0  # 10 - 2 - 8: A was returned whole
    assert whole.customer("c1").state == after


@pytest.mark.parametrize("engine", ENGINES)
def test_under_clamp_new_earnings_do_not_recover_points_written_off(engine: str) -> None:
    # ONE_LOT up to F: 0 points, 3 written off, recoverable by cancelling R. P: 25.00 ->
    # 10 points, all kept (under allow they would pay a debt of 3 first: 7).
    history = [*ONE_LOT[:3], buy("P", 3, 5, "5.00")]
    found = evaluate(club("clamp"), history, engine=engine)
    assert entries(found)[-1] == ("P", "points", 10)
    state = found.customer("c1").state
    assert (state.points, lots(state), write_offs(state)) == (
        10,
        [("A", 0), ("P", 10)],
        [("F", 3, ("R",))],
    )
    assert evaluate(club("allow"), history, engine=engine).customer("c1").points == 7
    # C then gives R's 4 back to A's lot: 3 recover the write-off, 1 stays: 10 + 1 = 11.
    later = evaluate(club("clamp"), [*history, cancel("C", 4, "R")], engine=engine)
    assert entries(later)[-2:] == [("C", "redemption", 4), ("C", "written_off", -3)]
    assert lots(later.customer("c1").state) == [("A", 1), ("P", 10)]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_redemption_after_a_write_off_gives_back_every_point_it_took(engine: str) -> None:
    # ONE_LOT up to F (3 written off, after R), then P earns 10; R2 spends 2 pins (-4, from
    # P: 6 left) and C2 cancels it: all 4 back to P (the write-off came before R2): 10.
    history = [
        *ONE_LOT[:3],
        buy("P", 3, 5, "5.00"),
        redeem("R2", 4, 2),
        cancel("C2", 5, "R2"),
    ]
    found = evaluate(club("clamp"), history, engine=engine)
    assert entries(found)[-2:] == [("R2", "redemption", -4), ("C2", "redemption", 4)]
    state = found.customer("c1").state
    assert (state.points, write_offs(state)) == (10, [("F", 3, ("R",))])


def test_a_write_off_no_cancellation_can_recover_is_not_kept() -> None:
    # A earns 4 on day 0, which expire 365 days later; F returns 2 of A's 3 units on day
    # 400: the lot expired (-4), so the 3 taken back are written off. No redemption came
    # before F, so no cancellation can ever recover them: the state keeps nothing.
    history = [buy("A", 0, 3, "4.00"), refund("F", at(400), "A", ("a", 2))]
    found = evaluate(club("clamp"), history)
    assert entries(found) == [
        ("A", "points", 4),
        ("A", "expiry", -4),
        ("F", "points", -3),
        ("F", "written_off", 3),
    ]
    assert found.customer("c1").state.written_off == ()
    assert found.totals.points_written_off == 3


def test_a_state_that_writes_off_under_allow_is_refused() -> None:
    state = evaluate(club("clamp"), ONE_LOT[:3]).customer("c1").state
    assert write_offs(state) == [("F", 3, ("R",))]
    with pytest.raises(HistoryError) as raised:
        evaluate(club("allow"), [], states={"c1": state})
    assert [str(problem) for problem in raised.value.problems] == [
        "state of c1.written_off: holds 1 write-off, but the program's negative_balance is "
        "allow, which writes no points off (a refund leaves a debt instead) (use the state "
        "exactly as rewardrules saved it, or rebuild it by evaluating the customer's history)"
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "refund",
            "G",
            "state of c1.written_off[0].refund: 'G' is not in refunds; points are written "
            "off by a refund",
        ),
        (
            "redemptions",
            ["Q"],
            "state of c1.written_off[0].redemptions[0]: 'Q' is not an applied redemption of "
            "the state (spent); only cancelling one recovers written-off points",
        ),
    ],
)
def test_a_write_off_of_no_refund_or_redemption_of_the_state_is_refused(
    field: str, value: Any, message: str
) -> None:
    state = evaluate(club("clamp"), ONE_LOT[:3]).customer("c1").state
    data: dict[str, Any] = json.loads(state.model_dump_json())
    del data["digest"]
    data["written_off"][0][field] = value
    with pytest.raises(HistoryError) as raised:
        CustomerState.model_validate(data)
    assert [str(problem).split(" (use the state")[0] for problem in raised.value.problems] == [
        message
    ]


@pytest.mark.parametrize(("points", "redemptions"), [(0, ["R"]), (3, [])])
def test_a_write_off_of_no_points_or_of_no_redemption_is_refused(
    points: int, redemptions: list[str]
) -> None:
    state = evaluate(club("clamp"), ONE_LOT[:3]).customer("c1").state
    data: dict[str, Any] = json.loads(state.model_dump_json())
    del data["digest"]
    data["written_off"][0].update(points=points, redemptions=redemptions)
    with pytest.raises(HistoryError) as raised:
        CustomerState.model_validate(data)
    assert raised.value.problems[0].path[:3] == ("state of c1", "written_off", 0)


def test_a_format_6_state_keeps_its_write_offs_written_off() -> None:
    # The state after F (3 written off, recoverable by cancelling R), as format 6 saved it:
    # without written_off. It is upgraded with nothing to recover, so C gives all 4 back
    # to A's lot, as before format 7: 4 points, and A's lot holds more than A earns (1),
    # which the state with a cancellation accepts.
    state = evaluate(club("clamp"), ONE_LOT[:3]).customer("c1").state
    data: dict[str, Any] = json.loads(state.model_dump_json())
    for key in ("digest", "written_off"):
        del data[key]
    data["format"] = 6
    old = CustomerState.model_validate(data)
    assert (old.format, old.written_off) == (7, ())
    after, given = step(club("clamp"), old, ONE_LOT[3])
    assert [(entry.kind, entry.points) for entry in given] == [("redemption", 4)]
    assert (after.points, lots(after)) == (4, [("A", 4)])
    evaluate(club("clamp"), [], states={"c1": after})  # resumes


# ONE_LOT with the cancellation a month later: the write-off in March, its recovery in April.
ACROSS_MONTHS = [*ONE_LOT[:3], cancel("C", 31, "R")]


@pytest.mark.parametrize("engine", ENGINES)
def test_the_report_counts_a_recovery_against_the_points_written_off(engine: str) -> None:
    # March: 4 issued, 3 reversed, 4 redeemed, 3 written off: 4 - 3 - 4 + 3 = 0 outstanding.
    # April: C gives 4 back (-4 redeemed) and recovers 3 (-3 written off): 0 + 4 - 3 = 1.
    found = report(club("clamp"), ACROSS_MONTHS, engine=engine).to_dict()
    assert [
        (month["month"], month["points_written_off"], month["points_outstanding"])
        for month in found["by_month"]
    ] == [("2026-03", 3, 0), ("2026-04", -3, 1)]
    assert (found["points"]["written_off"], found["points"]["outstanding"]) == (0, 1)
    assert found["totals"]["points_written_off"] == 0


def test_explain_and_the_dry_run_say_the_points_were_recovered() -> None:
    found = evaluate(club("clamp"), ONE_LOT)
    table = render_table(club("clamp"), found)
    assert "C      points.negative_balance  -3 points recovered" in table
    text = explain(club("clamp"), ONE_LOT, "c1").render_text()
    assert (
        "  points.negative_balance  recovered  3 points written off at refund F recovered: "
        "cancelled redemption R gave them back"
    ) in text
