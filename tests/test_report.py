"""``rewardrules.tools.report`` and ``rewardrules report``: what a program costs (docs/cost.md)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import rewardrules
from helpers import line, program, purchase, redemption
from rewardrules import report
from rewardrules.cli.main import cli
from rewardrules.events import AnyEvent, Customer, OpeningLot
from rewardrules.program.model import Program
from rewardrules.tools.report import Report, points_money
from rewardrules.tools.summary import SummaryBuilder, month_of
from strategies import cutoffs, lifecycle_histories, lifecycle_programs
from test_examples import PROGRAMS, dry_run_arguments

EXAMPLES = Path(__file__).parent.parent / "rules" / "examples"


def points_club(**points: object) -> Program:
    """1 point per whole dollar, each worth 0.10 USD."""
    return program(
        points={"value": "0.10", **points},
        rules=[{"id": "earn", "kind": "points_per_spend", "points": 1, "per": "1.00"}],
    )


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T12:00:00+00:00")


def check_adds_up(found: Report) -> None:
    """The identities docs/cost.md states between a report's figures."""
    worth = found.point_value
    assert found.cost == found.value_given + found.points.liability
    outstanding = sum(customer.points for customer in found.customers)
    assert found.points.outstanding == outstanding
    assert found.points.liability == points_money(outstanding, worth, found.money)
    assert found.points.breakage == points_money(found.points.expired, worth, found.money)
    assert sum(rule.value for rule in found.rules) == found.value_given
    assert sum(customer.value_given for customer in found.customers) == found.value_given
    assert sum(rule.points_issued for rule in found.rules) == found.points.issued
    dated = all(group.key is not None for group in found.summary.by_month)
    if dated and found.months:
        assert sum(month.value_given for month in found.months) == found.value_given
        assert found.months[-1].balance == outstanding
        assert sum(month.cost for month in found.months) == found.cost
    costs = sorted(customer.cost for customer in found.customers)
    quantiles = list(found.quantiles().values())
    assert quantiles == sorted(quantiles)
    assert all(value in costs for value in quantiles)
    if costs:
        assert quantiles[0] == costs[0]
        assert quantiles[-1] == costs[-1]
    top = found.top()
    assert [customer.cost for customer in top] == sorted(costs, reverse=True)[: len(top)]
    for month in found.expiry:
        assert month.points == sum(month.customers.values())
        points = {customer.customer_id: customer.points for customer in found.customers}
        assert all(0 < due <= points[who] for who, due in month.customers.items())
    if found.tiers:
        assert sum(tier.members for tier in found.tiers) == len(found.customers)
        assert sum(tier.cost for tier in found.tiers) == sum(costs)


@given(lifecycle_programs(), lifecycle_histories(), cutoffs())
def test_every_report_adds_up(
    drawn: Program, events: list[AnyEvent], as_of: date | datetime | None
) -> None:
    check_adds_up(report(drawn, events, as_of=as_of))


@pytest.mark.parametrize("example", PROGRAMS, ids=lambda path: path.stem)
def test_every_example_reports_in_every_format(example: Path) -> None:
    arguments = ["report", *dry_run_arguments(example)[1:]]
    runner = CliRunner()
    document = json.loads(runner.invoke(cli, [*arguments, "--format", "json"]).output)
    dry_run = json.loads(
        runner.invoke(cli, [*dry_run_arguments(example), "--format", "json"]).output
    )
    assert document["totals"] == dry_run["totals"]
    balance = sum(customer["points"] for customer in dry_run["customers"])
    assert document["points"]["outstanding"] == balance
    rows = list(csv.reader(io.StringIO(runner.invoke(cli, [*arguments, "--format", "csv"]).output)))
    assert rows[0] == ["section", "key", "figure", "value"]
    assert ["program", document["program"], "cost", document["cost"]] in rows
    table = runner.invoke(cli, arguments)
    assert table.exit_code == 0
    assert f"{Decimal(document['cost']):,} {document['currency']}" in table.output


@pytest.mark.parametrize("example", PROGRAMS, ids=lambda path: path.stem)
def test_every_example_reports_as_one_offline_html_page(example: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    arguments = ["report", *dry_run_arguments(example)[1:], "--format", "html"]
    result = CliRunner().invoke(cli, [*arguments, "--output", str(page)])
    assert result.exit_code == 0, result.output
    text = page.read_text(encoding="utf-8")
    assert text.count("<html") == 1
    assert 'src="http' not in text  # plotly.js is inlined: the page opens offline


def test_coffee_club_costs_its_discounts_and_its_outstanding_stars() -> None:
    found = report(EXAMPLES / "coffee-club.yaml", EXAMPLES / "coffee-club.history.csv")
    # docs/json-output.md's summary of this example: 16.48 USD of discounts, 2688 stars
    # net at 0.01 USD, none redeemed or expired: all of them are still owed.
    assert found.money.to_decimal(found.value_given) == Decimal("16.48")
    assert found.points.outstanding == 2688
    assert found.money.to_decimal(found.points.liability) == Decimal("26.88")
    assert found.money.to_decimal(found.cost) == Decimal("43.36")
    shares = found.to_dict()["by_rule"]
    assert [(rule["rule"], rule["share"]) for rule in shares] == [
        ("member-discount", "0.3801"),  # 16.48 / 43.36
        ("stars", "0.6199"),  # 26.88 / 43.36
    ]


def test_expired_points_are_breakage_and_no_cost() -> None:
    club = points_club(expire_after="1 month")
    events = [
        purchase("p1", at("2026-01-10"), line("a", "30.00"), customer="ann"),
        purchase("p2", at("2026-03-10"), line("a", "50.00"), customer="ann"),
    ]
    found = report(club, events)
    # p1's 30 points expired on 2026-02-10, before p2; p2's 50 are still there.
    assert found.points.expired == 30
    assert found.money.to_decimal(found.points.breakage) == Decimal("3.00")
    assert found.points.outstanding == 50
    assert found.money.to_decimal(found.cost) == Decimal("5.00")
    # Without as_of the report stands at the last event: p2's 50 points expire on
    # 2026-04-10, in the second of the three months from March.
    assert [(month.month, month.points) for month in found.expiry] == [
        ("2026-03", 0),
        ("2026-04", 50),
        ("2026-05", 0),
    ]
    assert found.expiry[1].customers == {"ann": 50}


def test_as_of_a_date_moves_the_coming_expiries_and_the_liability() -> None:
    club = points_club(expire_after="2 months")
    events = [
        purchase("p1", at("2026-01-10"), line("a", "20.00"), customer="ann"),
        purchase("p2", at("2026-02-20"), line("a", "40.00"), customer="bob"),
    ]
    found = report(club, events, as_of=date(2026, 3, 31))
    # ann's 20 expired on 2026-03-10; bob's 40 expire on 2026-04-20.
    assert found.points.outstanding == 40
    assert found.points.expired == 20
    assert [(month.month, month.points) for month in found.expiry] == [
        ("2026-04", 40),
        ("2026-05", 0),
        ("2026-06", 0),
    ]


def test_quantiles_are_nearest_rank_over_every_customer() -> None:
    club = points_club()
    spends = {"a": "10.00", "b": "20.00", "c": "30.00", "d": "40.00"}
    events = [
        purchase(f"p-{who}", at("2026-01-10"), line("x", spend), customer=who)
        for who, spend in spends.items()
    ]
    found = report(club, events)
    shown = {key: str(found.money.to_decimal(value)) for key, value in found.quantiles().items()}
    # Costs 1.00, 2.00, 3.00, 4.00: rank ceil(q x 4).
    assert shown == {
        "0": "1.00",
        "0.25": "1.00",
        "0.5": "2.00",
        "0.75": "3.00",
        "0.9": "4.00",
        "0.99": "4.00",
        "1": "4.00",
    }
    assert [customer.customer_id for customer in found.top()] == ["d", "c", "b", "a"]


def test_a_bad_history_is_located_and_exits_1(tmp_path: Path) -> None:
    history = tmp_path / "history.csv"
    history.write_text(
        "event_id,type,customer_id,at,sku,quantity,unit_price\np1,purchase,c1,nope,a,1,1.00\n"
    )
    result = CliRunner().invoke(cli, ["report", str(EXAMPLES / "coffee-club.yaml"), str(history)])
    assert result.exit_code == 1
    assert str(history) in result.output
    assert "Traceback" not in result.output


def test_output_writes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    arguments = ["report", *dry_run_arguments(EXAMPLES / "coffee-club.yaml")[1:]]
    result = CliRunner().invoke(cli, [*arguments, "--format", "json", "--output", str(target)])
    assert result.exit_code == 0
    assert result.output == ""
    assert json.loads(target.read_text())["cost"] == "43.36"


def test_report_is_exported() -> None:
    assert "report" in rewardrules.__all__
    assert "Report" in rewardrules.__all__
    assert rewardrules.report is report
    assert isinstance(report(points_club(), []), Report)


def test_dry_run_json_lists_each_customers_coming_expiries() -> None:
    arguments = [
        "dry-run",
        str(EXAMPLES / "bakery-rewards.yaml"),
        str(EXAMPLES / "bakery-rewards.history.csv"),
        "--format",
        "json",
        "--as-of",
        "2026-03-15",
    ]
    document = json.loads(CliRunner().invoke(cli, arguments).output)
    expiring = {customer["customer_id"]: customer["expiring"] for customer in document["customers"]}
    # ben's 26 crumbs of 3 February expire 2 months later rounded up to the month: at
    # 2026-05-01 00:00, in the third month from March. ada has none left.
    assert expiring == {
        "ada": [{"month": m, "points": 0} for m in ("2026-03", "2026-04", "2026-05")],
        "ben": [
            {"month": "2026-03", "points": 0},
            {"month": "2026-04", "points": 0},
            {"month": "2026-05", "points": 26},
        ],
    }


def test_dry_run_json_has_no_expiries_without_expiry_settings() -> None:
    arguments = [
        "dry-run",
        *dry_run_arguments(EXAMPLES / "coffee-club.yaml")[1:],
        "--format",
        "json",
    ]
    document = json.loads(CliRunner().invoke(cli, arguments).output)
    assert all("expiring" not in customer for customer in document["customers"])


@given(lifecycle_programs(), lifecycle_histories())
def test_the_summary_notes_each_events_local_month(drawn: Program, events: list[AnyEvent]) -> None:
    builder = SummaryBuilder(drawn)
    seen = list(builder.watch(events))
    assert seen == events
    months = {event.id: month_of(event.at, drawn) for event in events}
    assert {event.id: builder._months[event.id] for event in events} == months


def test_a_migrated_customers_opening_lots_belong_to_the_months_they_were_earned_in() -> None:
    """rules/examples/migrated-bookshop, as of 2026-06-30. Worked by hand from its customers
    file: noah brings 40 points earned 2025-02-15 that expire 2026-02-15; maya 120 earned
    2025-04-10 (100 of them redeemed on 2026-04-02, the other 20 expire on 2026-04-10) and 60
    earned 2025-11-20 that expire on 2026-05-31. Each expiry goes to the month its points
    were earned in, as a purchase's does, so the months add up to the totals."""
    name = EXAMPLES / "migrated-bookshop"
    found = report(
        EXAMPLES / "migrated-bookshop.yaml",
        name.with_suffix(".history.csv"),
        customers=rewardrules.read_customers(name.with_suffix(".customers.csv")),
        as_of=date(2026, 6, 30),
    )
    opening = [
        (month.month, month.points_issued, month.points_expired, month.balance, month.cost)
        for month in found.months[:3]
    ]
    assert opening == [
        ("2025-02", 40, 40, 0, 0),
        ("2025-04", 120, 20, 100, 500),  # the 100 left are worth 5.00 USD at 0.05
        ("2025-11", 60, 60, 100, 0),
    ]
    assert [month.month for month in found.months[3:]] == ["2026-03", "2026-04", "2026-05"]
    assert sum(month.points_issued for month in found.months) == found.points.issued == 712
    assert sum(month.points_expired for month in found.months) == found.points.expired == 120
    assert all(group.key is not None for group in found.summary.by_month)
    check_adds_up(found)


OPENING_RULES: Program = program(
    points={"value": "0.05", "expire_after": "6 months"},
    rewards=[{"id": "mug", "name": "Mug", "cost": 40, "value": "2.00"}],
    rules=[{"id": "earn", "kind": "points_per_spend", "points": 1, "per": "1.00"}],
)


@given(
    lots=st.lists(
        st.tuples(st.integers(1, 90), st.integers(-400, 0), st.none() | st.integers(1, 400)),
        min_size=1,
        max_size=4,
    ),
    buys=st.lists(st.tuples(st.booleans(), st.integers(0, 300), st.integers(1, 80)), max_size=6),
    as_of=st.none() | st.integers(0, 500).map(lambda day: date(2026, 1, 1) + timedelta(days=day)),
)
def test_the_months_of_a_report_with_opening_balances_add_up(
    lots: list[tuple[int, int, int | None]],
    buys: list[tuple[bool, int, int]],
    as_of: date | None,
) -> None:
    """Opening lots earned up to a year before the history, with and without their own expiry,
    spent by redemptions: every entry has a month, and the months add up to the totals."""
    start = datetime(2026, 1, 1, 9, tzinfo=UTC)
    opening = tuple(
        OpeningLot(
            points=points,
            earned_at=start + timedelta(days=day),
            expires_at=None if lasts is None else start + timedelta(days=day + lasts),
        )
        for points, day, lasts in lots
    )
    events: list[AnyEvent] = [
        purchase(f"p{n}", start + timedelta(days=day), line("tea", f"{amount}.00"))
        if buys_tea
        else redemption(f"r{n}", start + timedelta(days=day), "mug")
        for n, (buys_tea, day, amount) in enumerate(buys)
    ]
    profiles = [Customer(customer_id="c1", opening_points=opening), Customer(customer_id="c2")]
    found = report(OPENING_RULES, events, customers=profiles, as_of=as_of)
    assert all(group.key is not None for group in found.summary.by_month)
    assert sum(month.points_issued for month in found.months) == found.points.issued
    assert sum(month.points_expired for month in found.months) == found.points.expired
    assert sum(month.points_redeemed for month in found.months) == found.points.redeemed
    check_adds_up(found)


def test_dry_run_summary_puts_opening_lots_in_the_report_s_months() -> None:
    """``dry-run --summary`` groups a migrated customer's opening entries by the month their
    lot was earned in, as the report does: no month is unknown, and the two agree."""
    name = EXAMPLES / "migrated-bookshop"
    arguments = [
        "dry-run",
        str(EXAMPLES / "migrated-bookshop.yaml"),
        str(name.with_suffix(".history.csv")),
        "--customers",
        str(name.with_suffix(".customers.csv")),
        "--as-of",
        "2026-06-30",
        "--summary",
        "--format",
        "json",
    ]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 0, result.output
    months = json.loads(result.stdout)["by_month"]
    assert [(m["month"], m["points_issued"], m["points_expired"]) for m in months[:3]] == [
        ("2025-02", 40, 40),
        ("2025-04", 120, 20),
        ("2025-11", 60, 60),
    ]
    found = report(
        EXAMPLES / "migrated-bookshop.yaml",
        name.with_suffix(".history.csv"),
        customers=rewardrules.read_customers(name.with_suffix(".customers.csv")),
        as_of=date(2026, 6, 30),
    )
    assert [m["month"] for m in months] == [month.month for month in found.months]
    assert [m["points_net"] for m in months] == [
        month.points_issued - month.points_reversed for month in found.months
    ]
