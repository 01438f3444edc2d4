"""Migrated customers: opening lots, a granted tier until a date, and upcoming expiries.

Every value is worked out by hand in the comments. docs/lifecycle.md, "Opening balances",
states the rules.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from helpers import line, program, purchase, redemption
from rewardrules import CustomerState, HistoryError, evaluate, step
from rewardrules.cli.main import cli
from rewardrules.engine.ledger import Evaluation, ExpiryDue
from rewardrules.events import Customer
from rewardrules.histories.columns import customers_to_table, table_to_customers
from rewardrules.histories.read import read_customers
from rewardrules.program.model import Program
from rewardrules.tools.explain.explanation import explain


def when(text: str) -> datetime:
    """A UTC instant from 'YYYY-MM-DD' or 'YYYY-MM-DDTHH:MM'."""
    return datetime.fromisoformat(text if "T" in text else f"{text}T00:00").replace(tzinfo=UTC)


def club(**points: Any) -> Program:
    """1 point per 1.00; gold (500.00 in 365 days) earns double; a coffee costs 100."""
    return program(
        points={"expire_after": "12 months", **points},
        rewards=[{"id": "coffee", "name": "Coffee", "cost": 100, "value": "3.00"}],
        tiers={
            "qualify_by": "spend",
            "window": {"days": 365},
            "levels": [
                {"name": "silver", "at_least": "100.00"},
                {"name": "gold", "at_least": "500.00", "points_multiplier": 2},
            ],
        },
        rules=[{"id": "base", "kind": "points_per_spend", "points": 1, "per": "1.00"}],
    )


def lot(points: int, earned: str, expires: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"points": points, "earned_at": when(earned)}
    if expires is not None:
        found["expires_at"] = when(expires)
    return found


def migrated(customer_id: str = "c1", *lots: dict[str, Any], **fields: Any) -> Customer:
    return Customer.model_validate({"customer_id": customer_id, "opening_points": lots, **fields})


def rows(evaluation: Evaluation, customer_id: str = "c1") -> list[tuple[str, str, str, int | None]]:
    return [
        (entry.event_id, entry.rule, entry.kind, entry.points)
        for entry in evaluation.customer(customer_id).ledger
    ]


ANA = migrated(
    "c1",
    lot(80, "2025-06-01", "2026-04-01"),
    lot(50, "2025-09-01"),
    tier="gold",
    tier_until=when("2026-06-01"),
)
ANA_EVENTS = [
    purchase("p1", when("2026-03-02T12:00"), line("tea", "10.00")),
    redemption("r1", when("2026-03-03T12:00"), "coffee"),
    purchase("p2", when("2026-07-01T12:00"), line("tea", "10.00")),
]


def test_opening_lots_are_spent_oldest_first_and_the_grant_ends_at_tier_until() -> None:
    result = evaluate(club(), ANA_EVENTS, [ANA], as_of=date(2026, 7, 2))
    # p1 is at the granted gold: 10 x 2 = 20. r1 takes 80 from the first lot, 20 from the
    # second (30 left). The first lot is empty when it expires on 2026-04-01: no entry.
    # p2 comes after tier_until and the window holds 20.00: no tier, 10 points.
    assert rows(result) == [
        ("opening#1", "customers.opening_points", "opening", 80),
        ("opening#2", "customers.opening_points", "opening", 50),
        ("p1", "base", "points", 20),
        ("r1", "coffee", "redemption", -100),
        ("p2", "base", "points", 10),
    ]
    customer = result.customer("c1")
    assert (customer.points, customer.tier) == (60, None)
    # The second lot expires 12 months after 2025-09-01; p1's and p2's 12 months after them.
    assert customer.upcoming_expiry == (
        ExpiryDue(date(2026, 9, 1), 30),
        ExpiryDue(date(2027, 3, 2), 20),
        ExpiryDue(date(2027, 7, 1), 10),
    )
    assert [(change.before, change.after) for change in customer.tier_changes] == [
        (None, "gold"),
        ("gold", None),
    ]
    # Opening points count among the points issued: 80 + 50 + 20 + 10.
    assert (result.totals.points_issued, result.totals.points_outstanding) == (160, 60)
    assert customer.ledger[0].reason == (
        "opening balance: 80 points earned on 2025-06-01, expiring on 2026-04-01"
    )
    assert customer.to_dict()["upcoming_expiry"] == [
        {"date": "2026-09-01", "points": 30},
        {"date": "2027-03-02", "points": 20},
        {"date": "2027-07-01", "points": 10},
    ]


def test_the_window_above_the_granted_tier_wins() -> None:
    silver = migrated("c1", tier="silver", tier_until=when("2027-01-01"))
    events = [
        purchase("p1", when("2026-03-02T12:00"), line("tv", "600.00")),
        purchase("p2", when("2026-03-03T12:00"), line("tea", "10.00")),
    ]
    result = evaluate(club(), events, [silver])
    # p1 at silver (no multiplier): 600; then the window holds 600.00: p2 at gold, 20.
    assert rows(result) == [("p1", "base", "points", 600), ("p2", "base", "points", 20)]
    assert result.customer("c1").tier == "gold"


def test_an_opening_lot_with_its_own_expiry_expires_before_an_older_lot() -> None:
    # The older lot expires by the program's rule on 2026-01-01, the newer on its own
    # 2025-12-01: the newer goes first.
    brought = migrated("c1", lot(40, "2025-01-01"), lot(25, "2025-02-01", "2025-12-01"))
    first = evaluate(club(), [], [brought], as_of=date(2025, 12, 15))
    assert rows(first) == [
        ("opening#1", "customers.opening_points", "opening", 40),
        ("opening#2", "customers.opening_points", "opening", 25),
        ("opening#2", "customers.opening_points", "expiry", -25),
    ]
    assert first.customer("c1").ledger[-1].reason == (
        "25 points of the opening balance, earned on 2025-02-01, expired on 2025-12-01"
    )
    assert first.customer("c1").upcoming_expiry == (ExpiryDue(date(2026, 1, 1), 40),)
    later = evaluate(club(), [], [brought], as_of=date(2026, 1, 2))
    assert rows(later)[2:] == [
        ("opening#2", "customers.opening_points", "expiry", -25),
        ("opening#1", "points.expire_after", "expiry", -40),
    ]
    assert later.customer("c1").points == 0


def test_an_opening_lot_expires_even_where_the_programs_points_never_do() -> None:
    forever = program(
        rules=[{"id": "base", "kind": "points_per_spend", "points": 1, "per": "1.00"}]
    )
    brought = migrated("c1", lot(50, "2026-01-01", "2026-04-01"), lot(7, "2026-01-02"))
    events = [purchase("p1", when("2026-03-02T12:00"), line("tea", "10.00"))]
    result = evaluate(forever, events, [brought], as_of=date(2026, 5, 1))
    # p1's 10 points join the lot that never expires (7), not the one that does.
    assert rows(result) == [
        ("opening#1", "customers.opening_points", "opening", 50),
        ("opening#2", "customers.opening_points", "opening", 7),
        ("p1", "base", "points", 10),
        ("opening#1", "customers.opening_points", "expiry", -50),
    ]
    assert (result.customer("c1").points, result.customer("c1").upcoming_expiry) == (17, ())


def test_a_migrated_customer_without_events_is_reported_as_of_a_date() -> None:
    profiles = [ANA, Customer(customer_id="plain")]
    result = evaluate(club(), [], profiles, as_of=date(2026, 3, 1))
    assert [customer.customer_id for customer in result.customers] == ["c1"]
    assert (result.customer("c1").points, result.customer("c1").tier) == (130, "gold")
    # Without as_of there is no moment to report on, as for gifts at dates.
    assert evaluate(club(), [], profiles).customers == ()


def test_a_profile_names_each_mistake_and_what_to_do() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {"opening_points": [lot(5, "2025-02-01", "2025-01-01")]},
            "opening_points[0]: expires_at (2025-01-01T00:00:00+00:00) must come after "
            "earned_at (2025-02-01T00:00:00+00:00); check the two dates, or leave expires_at "
            "out for the program's own expiry",
        ),
        (
            {"opening_points": [lot(-5, "2025-02-01")]},
            "opening_points[0].points: must be at least 1 (got -5)",
        ),
        (
            {"tier_until": when("2026-01-01")},
            "tier_until is given without a tier; add the granted tier, or leave tier_until out",
        ),
        (
            {"tier": "gold"},
            "tier 'gold' is given without tier_until; add when the granted tier stops holding",
        ),
    ]
    for fields, message in cases:
        with pytest.raises(HistoryError) as raised:
            Customer.model_validate({"customer_id": "c1", **fields})
        assert [str(problem) for problem in raised.value.problems] == [message]


def test_an_unknown_tier_is_refused_with_a_suggestion() -> None:
    wrong = migrated("c1", tier="goldd", tier_until=when("2027-01-01"))
    with pytest.raises(HistoryError) as raised:
        evaluate(club(), [], [wrong])
    [problem] = raised.value.problems
    assert (problem.path, problem.code, problem.suggestion) == (
        ("customer c1", "tier"),
        "unknown-tier",
        "did you mean 'gold'?",
    )
    assert problem.message == "'goldd' is not one of the program's tiers (silver, gold)"


def test_an_opening_lot_earned_after_the_first_event_is_refused() -> None:
    late = migrated("c1", lot(5, "2026-03-05"))
    events = [purchase("p1", when("2026-03-02T12:00"), line("tea", "10.00"))]
    with pytest.raises(HistoryError) as raised:
        evaluate(club(), events, [late])
    assert [str(problem) for problem in raised.value.problems] == [
        "customer c1.opening_points[0].earned_at: is 2026-03-05T00:00:00+00:00, after the "
        "customer's first event (2026-03-02T12:00:00+00:00); an opening balance is what the "
        "customer had before their history starts: date it before, or add the points with "
        "the history's events"
    ]


def test_a_csv_customers_file_holds_lots_as_points_at_dates(tmp_path: Path) -> None:
    file = tmp_path / "customers.csv"
    file.write_text(
        "customer_id,opening_points,tier,tier_until\n"
        "c1,80@2025-06-01T00:00:00+00:00@2026-04-01T00:00:00+00:00 "
        "50@2025-09-01T00:00:00+00:00,gold,2026-06-01T00:00:00+00:00\n"
        "c2,,,\n"
    )
    assert list(read_customers(file)) == [ANA, Customer(customer_id="c2")]
    file.write_text("customer_id,opening_points\nc1,80@2025-06-01T00:00:00+00:00\nc2,80\n")
    with pytest.raises(HistoryError) as raised:
        list(read_customers(file))
    assert [str(problem) for problem in raised.value.problems] == [
        f"{file}:3:1: opening_points[0]: must be points@earned_at or "
        "points@earned_at@expires_at, lots separated by spaces, like "
        "120@2026-01-15T10:00:00+00:00@2027-01-15T00:00:00+00:00 (got '80')"
    ]


def test_a_json_customers_file_holds_lots_as_a_list(tmp_path: Path) -> None:
    file = tmp_path / "customers.json"
    document = [
        {
            "customer_id": "c1",
            "opening_points": [
                {
                    "points": 80,
                    "earned_at": "2025-06-01T00:00:00+00:00",
                    "expires_at": "2026-04-01T00:00:00+00:00",
                },
                {"points": 50, "earned_at": "2025-09-01T00:00:00+00:00"},
            ],
            "tier": "gold",
            "tier_until": "2026-06-01T00:00:00+00:00",
        }
    ]
    file.write_text(json.dumps(document))
    assert list(read_customers(file)) == [ANA]
    document[0]["tier_until"] = "2026-06-01"
    file.write_text(json.dumps(document))
    with pytest.raises(HistoryError) as raised:
        list(read_customers(file))
    assert [problem.path for problem in raised.value.problems] == [("tier_until",)]


def test_step_opens_a_new_customer_and_the_saved_state_keeps_the_grant() -> None:
    rules = club()
    state, entries = step(rules, None, ANA_EVENTS[0], ANA)
    assert [(entry.event_id, entry.points) for entry in entries] == [
        ("opening#1", 80),
        ("opening#2", 50),
        ("p1", 20),
    ]
    assert (state.tier_granted, state.tier_granted_until) == ("gold", when("2026-06-01"))
    reloaded = CustomerState.model_validate_json(state.model_dump_json())
    # Resumed without the profile: the grant is the state's (p3 at gold: 20); the opening
    # is not given again, and its first lot, untouched, expired on 2026-04-01.
    during = purchase("p3", when("2026-05-01T12:00"), line("tea", "10.00"))
    _, more = step(rules, reloaded, during)
    assert [(entry.event_id, entry.points) for entry in more] == [("opening#1", -80), ("p3", 20)]
    whole = evaluate(rules, [ANA_EVENTS[0], during], [ANA])
    resumed = evaluate(rules, [during], states=[reloaded])
    assert resumed.customer("c1").ledger == whole.customer("c1").ledger[-2:]
    assert resumed.customer("c1").state == whole.customer("c1").state


def test_the_batch_engine_evaluates_migrated_customers_as_the_reference() -> None:
    reference = evaluate(club(), ANA_EVENTS, [ANA])
    batch = evaluate(club(), ANA_EVENTS, [ANA], engine="batch")
    assert batch.to_dict() == reference.to_dict()
    assert (
        batch.customer("c1").state.model_dump_json()
        == reference.customer("c1").state.model_dump_json()
    )


def test_a_customers_table_holds_the_opening_as_a_csv_cell_does() -> None:
    table = customers_to_table([ANA, Customer(customer_id="c2")])
    assert table.column("opening_points").to_pylist() == [
        "80@2025-06-01T00:00:00+00:00@2026-04-01T00:00:00+00:00 50@2025-09-01T00:00:00+00:00",
        None,
    ]
    assert table.column("tier").to_pylist() == ["gold", None]
    assert list(table_to_customers(table)) == [ANA, Customer(customer_id="c2")]
    # A table from before migration (without the three columns) still reads.
    older = table.select(["customer_id", "joined_at", "birthday", "referred_by"])
    assert [profile.opens for profile in table_to_customers(older)] == [False, False]


def test_a_parquet_customers_file_holds_the_opening(tmp_path: Path) -> None:
    profiles = [ANA, Customer(customer_id="c2")]
    pq.write_table(customers_to_table(profiles), tmp_path / "customers.parquet")
    assert list(read_customers(tmp_path / "customers.parquet")) == profiles


def test_a_bad_lot_in_a_customers_table_is_refused_naming_its_row_and_field() -> None:
    table = customers_to_table([Customer(customer_id="c2"), ANA])
    column = table.schema.get_field_index("opening_points")
    table = table.set_column(column, "opening_points", pa.array([None, "80@2025-06-01"]))
    with pytest.raises(HistoryError) as raised:
        list(table_to_customers(table))
    # The CSV reader's own message, at the table's row.
    assert str(raised.value) == (
        "row 2: opening_points[0].earned_at: timestamp has no UTC offset; write it like "
        "2026-03-01T09:30:00+01:00 or 2026-03-01T09:30:00Z (got '2025-06-01')"
    )


def test_upcoming_expiry_is_the_same_in_both_engines() -> None:
    events = [
        purchase("p1", when("2026-01-10T12:00"), line("tea", "10.00")),
        purchase("p2", when("2026-02-20T09:00"), line("tea", "20.00")),
        purchase("p3", when("2026-02-20T18:00"), line("tea", "5.00")),
    ]
    for engine in ("reference", "batch"):
        result = evaluate(club(), events, as_of=date(2026, 3, 1), engine=engine)
        # 10 points expire 12 months after 2026-01-10; 20 + 5 after 2026-02-20.
        assert result.customer("c1").upcoming_expiry == (
            ExpiryDue(date(2027, 1, 10), 10),
            ExpiryDue(date(2027, 2, 20), 25),
        ), engine
        idle = evaluate(club(expire_on_inactivity="3 months"), events, engine=engine)
        # Without a purchase after 2026-02-20, everything goes 3 months later.
        assert idle.customer("c1").upcoming_expiry == (ExpiryDue(date(2026, 5, 20), 35),)


def test_explain_shows_each_opening_lot_and_the_upcoming_expiry() -> None:
    account = explain(club(), ANA_EVENTS, "c1", customers=[ANA], as_of=date(2026, 7, 2))
    assert [(event.event_id, event.type) for event in account.events][:3] == [
        ("opening#1", "opening"),
        ("opening#2", "opening"),
        ("p1", "purchase"),
    ]
    text = account.render_text()
    assert "Opening balance opening#1: earned on 2025-06-01, before the history" in text
    assert text.endswith(
        "Upcoming expiry\n"
        "  30 points expire on 2026-09-01\n"
        "  20 points expire on 2027-03-02\n"
        "  10 points expire on 2027-07-01"
    )
    assert account.to_dict()["upcoming_expiry"][0] == {"date": "2026-09-01", "points": 30}


def test_validate_customers_reports_every_problem_in_place(tmp_path: Path) -> None:
    rules = tmp_path / "club.yaml"
    rules.write_text(
        "program: club\nname: Club\ncurrency: USD\ntimezone: UTC\n"
        "tiers:\n  qualify_by: spend\n  window: calendar_year\n"
        "  levels:\n    - name: gold\n      at_least: 500.00\n"
        "rules:\n  - id: base\n    kind: points_per_spend\n    points: 1\n    per: 1.00\n"
    )
    good = tmp_path / "good.csv"
    good.write_text(
        "customer_id,opening_points,tier,tier_until\n"
        "c1,80@2025-06-01T00:00:00+00:00 5@2025-07-01T00:00:00+00:00,gold,"
        "2026-06-01T00:00:00+00:00\n"
        "c2,,,\n"
    )
    runner = CliRunner()
    result = runner.invoke(cli, ["validate-customers", str(good), "--program", str(rules)])
    assert (result.exit_code, result.output) == (
        0,
        f"{good}: OK (2 customers, 2 opening lots of 85 points, 1 granted tier)\n",
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,tier,tier_until\nc1,goldd,2026-06-01T00:00:00+00:00\n")
    result = runner.invoke(
        cli, ["validate-customers", str(bad), "--program", str(rules), "--format", "json"]
    )
    assert result.exit_code == 1
    [found] = json.loads(result.output)["files"]
    [problem] = found["problems"]
    assert (problem["line"], problem["column"], problem["path"]) == (2, 4, "tier")
    assert problem["suggestion"] == "did you mean 'gold'?"
