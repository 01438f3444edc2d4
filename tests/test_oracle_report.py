"""``report``, ``compare`` and ``dry-run --summary`` against an independent oracle.

``tests/oracle/report.py`` computes the report's figures from issue 14's text and
docs/cost.md, docs/json-output.md alone, reading only the evaluation's JSON contract; here
its figures are held equal to ``report(...).to_dict()`` (both engines), to the CLI's
``--format json`` of ``report``, ``compare`` and ``dry-run --summary``, on hand-worked
programs (a café, a retailer with tiers), on every example, and on hypothesis draws.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import rewardrules
from helpers import line, program, purchase, redemption, refund
from oracle import report as oracle
from rewardrules import compare, read_customers, read_history, report
from rewardrules.cli.main import cli
from rewardrules.evaluation.batch import UnsupportedError
from rewardrules.events import AnyEvent, Customer, OpeningLot
from rewardrules.program.model import Program
from rewardrules.rulefiles.loader import load_program
from strategies import (
    cutoffs,
    final_group_programs,
    held_referral_cases,
    histories,
    lifecycle_histories,
    lifecycle_programs,
    options,
    profiles_near,
    programs,
)
from strategies.values import CUSTOMERS
from test_examples import PROGRAMS, as_of_of, customers_of, dry_run_arguments, history_of

ROOT = Path(__file__).parent.parent
Cutoff = date | datetime | None


def _opening_months(customers: list[Customer] | None) -> dict[tuple[str, str], datetime]:
    """Each migrated customer's opening lot (``opening#N``) and when it was earned."""
    found = {}
    for customer in customers or ():
        for number, lot in enumerate(customer.opening_points or (), 1):
            found[(customer.customer_id, f"opening#{number}")] = lot.earned_at
    return found


def expected(
    drawn: Program,
    events: list[AnyEvent],
    as_of: Cutoff = None,
    customers: list[Customer] | None = None,
) -> dict[str, Any]:
    """The oracle's report, from the reference engine's evaluation (its JSON contract)."""
    evaluation = rewardrules.evaluate(drawn, events, as_of=as_of, customers=customers)
    return oracle.report(drawn, events, evaluation.to_dict(), as_of, _opening_months(customers))


def assert_same_report(mine: dict[str, Any], real: dict[str, Any]) -> None:
    """Every figure the oracle computes equals the real report's, field by field."""
    for key in ("program", "currency", "cost", "value_given", "liability", "breakage"):
        assert real[key] == mine[key], key
    assert real["by_rule"] == mine["by_rule"]
    months = [
        {key: value for key, value in month.items() if key != "rule_costs"}
        for month in mine["by_month"]
    ]
    assert [
        {key: value for key, value in month.items() if key != "by_rule"}
        for month in real["by_month"]
    ] == months
    for month, found in zip(mine["by_month"], real["by_month"], strict=True):
        costs = {rule: Decimal(cost) for rule, cost in found["by_rule"].items()}
        rule_costs = {
            rule: Decimal(cost).scaleb(-oracle.MINOR_UNITS[mine["currency"]])
            for rule, cost in month["rule_costs"].items()
        }
        assert costs == rule_costs, month["month"]
    assert real["points"] == mine["points"]
    assert real["by_tier"] == mine["by_tier"]
    assert real["tier_mix"] == mine["tier_mix"]
    assert real["customers"] == mine["customers"]
    if mine["_expiry_certain"]:
        assert real["expiry"] == mine["expiry"]


def csv_rows(mine: dict[str, Any]) -> list[list[str]]:
    """The oracle's figures as ``report --format csv`` rows (``section,key,figure,value``;
    a missing value, such as ``share`` of a catalogue row, is an empty cell)."""

    def cell(value: object) -> str:
        return "" if value is None else str(value)

    rows = [
        ["program", mine["program"], key, mine[key]]
        for key in ("cost", "value_given", "liability", "breakage")
    ]
    rows += [["points", "", key, cell(value)] for key, value in mine["points"].items()]
    for rule in mine["by_rule"]:
        rows += [
            ["by_rule", rule["rule"], key, cell(value)]
            for key, value in rule.items()
            if key not in ("rule", "sums")
        ]
    for tier in mine["by_tier"]:
        rows += [
            ["by_tier", cell(tier["tier"]), key, cell(tier[key])]
            for key in ("members", "spend", "cost")
        ]
    people = mine["customers"]
    rows += [["customers", "", "count", str(people["count"])]]
    rows += [["customers", "", "earning", str(people["earning"])]]
    rows += [["customers", "", f"quantile {q}", value] for q, value in people["quantiles"].items()]
    rows += [
        ["top", found["customer_id"], f"rank {rank}", found["cost"]]
        for rank, found in enumerate(people["top"], 1)
    ]
    if mine["_expiry_certain"]:
        for month in mine["expiry"]:
            rows += [
                ["expiry", month["month"], key, str(month[key])] for key in ("points", "value")
            ]
    return rows


def assert_batch_reports_the_same(
    mine: dict[str, Any],
    drawn: Program,
    events: list[AnyEvent],
    as_of: Cutoff,
    customers: list[Customer] | None = None,
) -> None:
    """The batch engine's report, where it runs the program, is the oracle's too."""
    try:
        batch = report(drawn, events, as_of=as_of, customers=customers, engine="batch")
    except UnsupportedError:
        return
    assert_same_report(mine, batch.to_dict())
    assert_same_summary(drawn, events, as_of, customers, batch.summary.to_dict())


def assert_same_comparison(mine: dict[str, Any], real: dict[str, Any]) -> None:
    for key in ("program", "by_rule", "rewards", "appearing", "disappearing", "by_month"):
        assert real[key] == mine[key], key
    assert real["customers"] == mine["customers"]
    assert {(row["old"], row["new"]): row["customers"] for row in real["tiers"]} == mine["tiers"]


def _example(path: Path) -> tuple[Program, list[AnyEvent], Cutoff, list[Customer] | None]:
    events = list(read_history(history_of(path)))
    customers_path = customers_of(path)
    customers = list(read_customers(customers_path)) if customers_path else None
    text = as_of_of(path)
    as_of: Cutoff = None
    if text is not None:
        as_of = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    return load_program(path), events, as_of, customers


# --- hand-worked programs --------------------------------------------------------------


def cafe() -> tuple[Program, list[AnyEvent]]:
    """Bean There: every 5th coffee free, 2 beans per 1.00 paid (a bean is worth 0.05),
    a muffin for 40 beans (worth 2.50 to the café)."""
    drawn = program(
        program="bean-there",
        name="Bean There",
        timezone="Europe/London",
        points={"name": "beans", "value": "0.05"},
        rewards=[{"id": "free-muffin", "name": "Free muffin", "cost": 40, "value": "2.50"}],
        rules=[
            {
                "id": "stamp-card",
                "kind": "every_nth_free",
                "every": 5,
                "counts": "items",
                "when": {"categories": ["coffee"]},
                "reward": "free",
            },
            {"id": "beans", "kind": "points_per_spend", "points": 2, "per": "1.00"},
        ],
    )
    events: list[AnyEvent] = [
        # amy: coffees 1-3, 9.00 paid: 18 beans.
        purchase("p1", datetime.fromisoformat("2026-01-10T09:00:00+00:00"),
                 line("flat-white", "3.00", 3, "coffee"), customer="amy"),
        # coffees 4-6: the 5th is free (3.00), 6.00 paid: 12 beans.
        purchase("p2", datetime.fromisoformat("2026-01-20T09:00:00+00:00"),
                 line("flat-white", "3.00", 3, "coffee"), customer="amy"),
        # coffees 7-10 and a muffin: the 10th is free (3.20); 2.60 + 3 x 3.20 = 12.20
        # paid: 24.4, 24 beans.
        purchase("p3", datetime.fromisoformat("2026-02-03T09:00:00+00:00"),
                 line("muffin", "2.60", 1, "food"), line("latte", "3.20", 4, "coffee"),
                 customer="amy"),
        # bo: two coffees, 12 beans; one is returned the next day: 6 beans back.
        purchase("p4", datetime.fromisoformat("2026-02-14T09:00:00+00:00"),
                 line("flat-white", "3.00", 2, "coffee"), customer="bo"),
        refund("r1", datetime.fromisoformat("2026-02-15T09:00:00+00:00"), "p4",
               ("flat-white", 1), customer="bo"),
        # amy spends 40 of her 54 beans on a muffin.
        redemption("x1", datetime.fromisoformat("2026-02-20T09:00:00+00:00"), "free-muffin",
                   customer="amy"),
        # cy: a tea, 4 beans.
        purchase("p5", datetime.fromisoformat("2026-03-01T09:00:00+00:00"),
                 line("tea", "2.00", 1, "tea"), customer="cy"),
    ]  # fmt: skip
    return drawn, events


def test_a_cafe_costs_its_free_coffees_its_muffin_and_its_outstanding_beans() -> None:
    drawn, events = cafe()
    found = report(drawn, events).to_dict()
    # Value given: free coffees 3.00 + 3.20 = 6.20, the muffin 2.50: 8.70.
    # Beans: 18 + 12 + 24 + 12 + 4 = 70 issued, 6 back by the refund, 40 redeemed:
    # 24 outstanding, worth 24 x 0.05 = 1.20. Cost 8.70 + 1.20 = 9.90; nothing expired.
    assert (found["value_given"], found["liability"], found["cost"]) == ("8.70", "1.20", "9.90")
    assert found["breakage"] == "0.00"
    # Redemption rate: 40 / (70 - 6) = 0.625.
    assert found["points"]["redemption_rate"] == "0.6250"
    # Per rule: the stamp card 2 free coffees (6.20); beans 5 rewards, net 64 = 3.20; the
    # catalogue row the muffin's 2.50, with no share. Shares of 6.20 + 3.20 = 9.40:
    # 6.20 / 9.40 = 0.65957 -> 0.6596; 3.20 / 9.40 = 0.34043 -> 0.3404.
    assert [
        tuple(
            row[key] for key in ("rule", "rewards", "units", "value", "points_net", "cost", "share")
        )
        for row in found["by_rule"]
    ] == [
        ("stamp-card", 2, 2, "6.20", 0, "6.20", "0.6596"),
        ("beans", 5, 0, "0.00", 64, "3.20", "0.3404"),
        ("free-muffin", 1, 0, "2.50", 0, "2.50", None),
    ]
    # Per month (Europe/London): January 3.00 given, 30 beans held (1.50): 4.50;
    # February 3.20 + 2.50 given, balance 30 + 24 + 12 - 6 - 40 = 20 (1.00): 5.70 - 0.50
    # = 5.20; March 4 beans, balance 24 (1.20): 0.20. 4.50 + 5.20 + 0.20 = 9.90.
    assert [
        (month["month"], month["value_given"], month["points_outstanding"], month["cost"])
        for month in found["by_month"]
    ] == [
        ("2026-01", "3.00", 30, "4.50"),
        ("2026-02", "5.70", 20, "5.20"),
        ("2026-03", "0.00", 24, "0.20"),
    ]
    # Issue 14's per month "the same" as per rule: units (one free coffee in January, one
    # in February) and the share of the program's cost: 4.50 / 9.90 = 0.45454 -> 0.4545,
    # 5.20 / 9.90 = 0.52525 -> 0.5253, 0.20 / 9.90 = 0.0202.
    assert [(month["units"], month["share"]) for month in found["by_month"]] == [
        (1, "0.4545"),
        (1, "0.5253"),
        (0, "0.0202"),
    ]
    # Customers: amy 8.70 + 14 beans (0.70) = 9.40, bo 6 beans 0.30, cy 4 beans 0.20.
    # Nearest rank of [0.20, 0.30, 9.40]: q0.25 -> rank 1, q0.5 -> rank 2, q0.75 -> 3.
    assert found["customers"]["quantiles"] == {
        "0": "0.20", "0.25": "0.20", "0.5": "0.30", "0.75": "9.40",
        "0.9": "9.40", "0.99": "9.40", "1": "9.40",
    }  # fmt: skip
    assert found["customers"]["top"][0] == {"customer_id": "amy", "cost": "9.40"}
    assert_same_report(expected(drawn, events), found)


def test_a_cancelled_redemption_is_no_reward_given() -> None:
    """Regression: a cancellation's entry (points given back) counted as one more reward,
    so a catalogue reward redeemed once and cancelled showed 2 rewards given."""
    drawn, events = cafe()
    cancel = rewardrules.events.CancelRedemption(
        id="u1",
        customer_id="amy",
        at=datetime.fromisoformat("2026-02-21T09:00:00+00:00"),
        redemption_id="x1",
    )
    events = [*events[:6], cancel, events[6]]
    found = report(drawn, events)
    muffin = next(rule for rule in found.rules if rule.source == "catalogue")
    # x1 gave the muffin (2.50) and u1 took it back (-2.50): one reward given, value 0.
    assert (muffin.rewards, muffin.value) == (1, 0)
    assert found.summary.by_rule[-1].key == "free-muffin"
    assert_same_report(expected(drawn, events), found.to_dict())


def test_a_cafes_points_expire_after_three_months_as_breakage_not_cost() -> None:
    """1 point per 1.00, worth 0.10, expiring 3 months after they were earned."""
    drawn = program(
        timezone="Europe/London",
        points={"value": "0.10", "expire_after": "3 months"},
        rules=[{"id": "earn", "kind": "points_per_spend", "points": 1, "per": "1.00"}],
    )
    events: list[AnyEvent] = [
        # amy: 20 points due 2026-04-15, then 10 due 2026-05-10; bo: 5 due 2026-06-05.
        purchase("p1", datetime.fromisoformat("2026-01-15T10:00:00+00:00"),
                 line("beans", "20.00"), customer="amy"),
        purchase("p2", datetime.fromisoformat("2026-02-10T10:00:00+00:00"),
                 line("beans", "10.00"), customer="amy"),
        purchase("p3", datetime.fromisoformat("2026-03-05T10:00:00+00:00"),
                 line("beans", "5.00"), customer="bo"),
    ]  # fmt: skip
    # As of 31 March: the report's instant is the midnight after it, so the months are
    # April, May and June: 20 (2.00), 10 (1.00) and 5 (0.50). Nothing expired yet: the
    # 35 points outstanding are the liability, 3.50.
    march = report(drawn, events, as_of=date(2026, 3, 31)).to_dict()
    assert (march["cost"], march["liability"], march["breakage"]) == ("3.50", "3.50", "0.00")
    assert march["expiry"] == [
        {"month": "2026-04", "points": 20, "value": "2.00", "customers": {"amy": 20}},
        {"month": "2026-05", "points": 10, "value": "1.00", "customers": {"amy": 10}},
        {"month": "2026-06", "points": 5, "value": "0.50", "customers": {"bo": 5}},
    ]
    assert_same_report(expected(drawn, events, date(2026, 3, 31)), march)
    # As of 20 April: amy's 20 points expired on the 15th: breakage 2.00, not a cost; the
    # liability is 15 points, 1.50, and so is the cost. April has nothing left to expire.
    april = report(drawn, events, as_of=date(2026, 4, 20)).to_dict()
    assert (april["cost"], april["liability"], april["breakage"]) == ("1.50", "1.50", "2.00")
    assert [(month["month"], month["points"]) for month in april["expiry"]] == [
        ("2026-04", 0),
        ("2026-05", 10),
        ("2026-06", 5),
    ]
    # The expiry belongs to January, the month the points were earned: January's cost is
    # its 20 points (2.00) less their expiry (-2.00) = 0.00.
    assert [(month["month"], month["cost"]) for month in april["by_month"]] == [
        ("2026-01", "0.00"),
        ("2026-02", "1.00"),
        ("2026-03", "0.50"),
    ]
    assert_same_report(expected(drawn, events, date(2026, 4, 20)), april)
    # docs/cost.md's deviation: January's balance counts its points' later expiry (0
    # outstanding as of April), though amy held 20 at the end of January, which a report
    # as of that day shows.
    assert [month["points_outstanding"] for month in april["by_month"]] == [0, 10, 15]
    january = report(drawn, events, as_of=date(2026, 1, 31)).to_dict()
    assert [(month["month"], month["points_outstanding"]) for month in january["by_month"]] == [
        ("2026-01", 20)
    ]


def retailer() -> tuple[Program, list[AnyEvent]]:
    """Northwind: silver from 200.00 paid (5% off), gold from 500.00 (10% off); 1 point
    per 1.00 paid, worth 0.01 EUR."""
    drawn = program(
        program="northwind",
        name="Northwind",
        currency="EUR",
        timezone="Europe/Berlin",
        points={"value": "0.01"},
        tiers={
            "qualify_by": "spend",
            "window": "lifetime",
            "levels": [
                {"name": "silver", "at_least": "200.00"},
                {"name": "gold", "at_least": "500.00"},
            ],
        },
        rules=[
            {"id": "member-discount", "kind": "tiered_discount",
             "discounts": {"silver": 5, "gold": 10}},
            {"id": "points", "kind": "points_per_spend", "points": 1, "per": "1.00"},
        ],
    )  # fmt: skip
    events: list[AnyEvent] = [
        # dana: 250.00 below every level (250 points); then silver: 100.00 less 5.00 (95
        # points), 200.00 less 10.00 (190 points); 535.00 paid in all: gold at the end.
        purchase("d1", datetime.fromisoformat("2026-04-05T10:00:00+00:00"),
                 line("tent", "250.00"), customer="dana"),
        purchase("d2", datetime.fromisoformat("2026-05-10T10:00:00+00:00"),
                 line("boots", "100.00"), customer="dana"),
        purchase("d3", datetime.fromisoformat("2026-06-01T10:00:00+00:00"),
                 line("jacket", "200.00"), customer="dana"),
        # eli: 120.00, 120 points, no tier.
        purchase("e1", datetime.fromisoformat("2026-05-20T10:00:00+00:00"),
                 line("pack", "120.00"), customer="eli"),
        # fay: 300.00, 300 points, silver at the end.
        purchase("f1", datetime.fromisoformat("2026-04-15T10:00:00+00:00"),
                 line("stove", "300.00"), customer="fay"),
    ]  # fmt: skip
    return drawn, events


def test_a_retailer_with_tiers_costs_its_discounts_and_points_per_tier() -> None:
    drawn, events = retailer()
    found = report(drawn, events).to_dict()
    # Discounts 5.00 + 10.00 = 15.00 on 2 units; points 250 + 95 + 190 + 120 + 300 = 955
    # (9.55). Cost 15.00 + 9.55 = 24.55.
    assert (found["value_given"], found["liability"], found["cost"]) == ("15.00", "9.55", "24.55")
    assert found["points"]["redemption_rate"] == "0.0000"
    # Per tier at the end: eli (120.00 spent, 1.20), fay silver (300.00, 3.00), dana gold
    # (550.00 gross, 15.00 + 535 points = 20.35).
    assert found["by_tier"] == [
        {"tier": None, "members": 1, "spend": "120.00", "cost": "1.20"},
        {"tier": "silver", "members": 1, "spend": "300.00", "cost": "3.00"},
        {"tier": "gold", "members": 1, "spend": "550.00", "cost": "20.35"},
    ]
    assert_same_report(expected(drawn, events), found)


def test_compare_a_retailer_with_a_richer_gold_tier() -> None:
    drawn, events = retailer()
    document = drawn.model_dump(mode="json", exclude_none=True)
    document["rules"][0]["discounts"] = {"silver": 5, "gold": 15}
    document["tiers"]["levels"][1]["at_least"] = "300.00"
    richer = Program.model_validate(document)
    found = compare(drawn, richer, events).to_dict()
    # With gold from 300.00, dana is gold at d3 (345.00 paid before it): 15% of 200.00 =
    # 30.00 off instead of 10.00, 170 points instead of 190: +20.00 - 0.20 = +19.80. fay
    # (300.00 paid) is now gold, with nothing more given: cost unchanged.
    cost = found["program"][0]
    assert (cost["old"], cost["new"], cost["change"]) == ("24.55", "44.35", "19.80")
    assert found["customers"]["top_gaining"] == [
        {"key": "dana", "status": "both", "old": "20.35", "new": "40.15", "change": "19.80"}
    ]
    assert {(row["old"], row["new"]): row["customers"] for row in found["tiers"]} == {
        (None, None): 1, ("silver", "gold"): 1, ("gold", "gold"): 1,
    }  # fmt: skip
    money = oracle.money_of(drawn)
    mine = oracle.compare(expected(drawn, events), expected(richer, events), money)
    assert_same_comparison(mine, found)


# --- the examples, through the API and the command line -------------------------------


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda path: path.stem)
def test_every_example_reports_as_the_oracle_says(path: Path, tmp_path: Path) -> None:
    drawn, events, as_of, customers = _example(path)
    mine = expected(drawn, events, as_of, customers)
    assert_same_report(mine, report(drawn, events, as_of=as_of, customers=customers).to_dict())
    try:
        batch = report(drawn, events, as_of=as_of, customers=customers, engine="batch")
    except UnsupportedError:
        supported = False
    else:
        supported = True
        assert_same_report(mine, batch.to_dict())
    runner = CliRunner()
    arguments = ["report", *dry_run_arguments(path)[1:], "--format", "json"]
    result = runner.invoke(cli, arguments)
    assert result.exit_code == 0, result.output
    assert_same_report(mine, json.loads(result.output))
    table = runner.invoke(cli, [*arguments[:-2], "--format", "csv"])
    assert table.exit_code == 0, table.output
    written = list(csv.reader(io.StringIO(table.output)))
    assert [row for row in csv_rows(mine) if row not in written] == []
    dry_run = runner.invoke(cli, [*dry_run_arguments(path), "--format", "json"])
    assert dry_run.exit_code == 0, dry_run.output
    expiring = {
        customer["customer_id"]: customer["expiring"]
        for customer in json.loads(dry_run.output)["customers"]
        if "expiring" in customer
    }
    assert expiring == (mine["expiring"] or {})
    summary = runner.invoke(cli, [*dry_run_arguments(path), "--summary", "--format", "json"])
    assert summary.exit_code == 0, summary.output
    assert_same_summary(drawn, events, as_of, customers, json.loads(summary.output))
    if supported:
        # The streamed summary (batch engine, ledger written as it goes) adds its chunks' sums.
        streamed = runner.invoke(
            cli,
            [*dry_run_arguments(path), "--engine", "batch", "--summary", "--format", "json",
             "--output", str(tmp_path / "ledger.parquet")],
        )  # fmt: skip
        assert streamed.exit_code == 0, streamed.output
        assert_same_summary(drawn, events, as_of, customers, json.loads(streamed.output))


def assert_same_summary(
    drawn: Program,
    events: list[AnyEvent],
    as_of: Cutoff,
    customers: list[Customer] | None,
    real: dict[str, Any],
) -> None:
    """``dry-run --summary``'s groups per rule, tier and month, as the oracle adds them."""
    evaluation = rewardrules.evaluate(drawn, events, as_of=as_of, customers=customers).to_dict()
    history = oracle.History(drawn, events, as_of, _opening_months(customers))
    mine = oracle.summary_groups(drawn, history, evaluation, oracle.money_of(drawn))
    assert {key: real["totals"][key] for key in mine["totals"]} == mine["totals"]
    for name, key in (("by_rule", "rule"), ("by_tier", "tier"), ("by_month", "month")):
        found = real[name]
        assert [group[key] for group in found] == [group[key] for group in mine[name]], name
        for group, ours in zip(found, mine[name], strict=True):
            assert {field: group[field] for field in ours} == ours, (name, group[key])


def test_compare_the_worked_coffee_card_as_the_oracle_says() -> None:
    folder = ROOT / "rules" / "compare"
    old, new = (load_program(folder / f"coffee-card-{nth}.yaml") for nth in ("12th", "10th"))
    events = list(read_history(folder / "coffee-card.history.csv"))
    mine = oracle.compare(expected(old, events), expected(new, events), oracle.money_of(old))
    result = CliRunner().invoke(
        cli,
        ["compare", str(folder / "coffee-card-12th.yaml"), str(folder / "coffee-card-10th.yaml"),
         str(folder / "coffee-card.history.csv"), "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert_same_comparison(mine, json.loads(result.output))
    assert_same_comparison(mine, compare(old, new, events).to_dict())


# --- drawn programs and histories ------------------------------------------------------


@settings(max_examples=60)
@given(lifecycle_programs(), lifecycle_histories(catalogue=True), cutoffs())
def test_drawn_reports_are_the_oracles(
    drawn: Program, events: list[AnyEvent], as_of: Cutoff
) -> None:
    mine = expected(drawn, events, as_of)
    assert_same_report(mine, report(drawn, events, as_of=as_of).to_dict())
    try:
        batch = report(drawn, events, as_of=as_of, engine="batch")
    except UnsupportedError:
        return
    assert_same_report(mine, batch.to_dict())


@settings(max_examples=30)
@given(lifecycle_programs(), lifecycle_programs(), lifecycle_histories(), cutoffs())
def test_drawn_comparisons_are_the_oracles(
    old: Program, new: Program, events: list[AnyEvent], as_of: Cutoff
) -> None:
    mine = oracle.compare(
        expected(old, events, as_of), expected(new, events, as_of), oracle.money_of(old)
    )
    assert_same_comparison(mine, compare(old, new, events, as_of=as_of).to_dict())
    try:
        batch = compare(old, new, events, as_of=as_of, engine="batch")
    except UnsupportedError:
        return
    assert_same_comparison(mine, batch.to_dict())


@settings(max_examples=30)
@given(lifecycle_programs(), lifecycle_histories(catalogue=True), cutoffs())
def test_drawn_summaries_are_the_oracles(
    drawn: Program, events: list[AnyEvent], as_of: Cutoff
) -> None:
    summary = report(drawn, events, as_of=as_of).summary.to_dict()
    assert_same_summary(drawn, events, as_of, None, summary)


@st.composite
def opening_profiles(draw: st.DrawFn) -> list[Customer]:
    """Migrated customers: each of the drawn histories' customers with 0 to 2 opening lots
    earned in 2023, before every drawn event, some with their own expiry."""
    found = []
    for who in CUSTOMERS:
        lots = []
        for _ in range(draw(st.integers(0, 2))):
            earned = datetime(2023, 1, 1, tzinfo=UTC) + timedelta(
                days=draw(st.integers(0, 360)), hours=draw(st.integers(0, 23))
            )
            expires = None
            if draw(st.booleans()):
                expires = earned + timedelta(days=draw(st.integers(20, 900)))
            lots.append(
                OpeningLot(points=draw(st.integers(1, 300)), earned_at=earned, expires_at=expires)
            )
        if lots:
            found.append(Customer(customer_id=who, opening_points=tuple(lots)))
    return found


@settings(max_examples=30)
@given(lifecycle_programs(), lifecycle_histories(catalogue=True), opening_profiles(), cutoffs())
def test_drawn_reports_with_opening_balances_are_the_oracles(
    drawn: Program, events: list[AnyEvent], customers: list[Customer], as_of: Cutoff
) -> None:
    mine = expected(drawn, events, as_of, customers)
    found = report(drawn, events, as_of=as_of, customers=customers)
    assert_same_report(mine, found.to_dict())
    history = oracle.History(drawn, events, as_of, _opening_months(customers))
    evaluation = rewardrules.evaluate(drawn, events, as_of=as_of, customers=customers).to_dict()
    summary = oracle.summary_groups(drawn, history, evaluation, oracle.money_of(drawn))
    assert [group["month"] for group in found.summary.to_dict()["by_month"]] == [
        group["month"] for group in summary["by_month"]
    ]


@settings(max_examples=25)
@given(final_group_programs(), histories(("alice", "bob"), 2, 12), cutoffs(), st.data())
def test_drawn_reports_of_groups_limits_and_gifts_at_dates_are_the_oracles(
    drawn: Program, events: list[AnyEvent], as_of: Cutoff, data: st.DataObject
) -> None:
    """Exclusive groups (set-aside entries), limits (capped), final rules, sign-up and
    birthday gifts given at a date (event ``RULE@YYYY-MM-DD``)."""
    customers = data.draw(profiles_near(events, drawn.timezone))
    mine = expected(drawn, events, as_of, customers)
    found = report(drawn, events, as_of=as_of, customers=customers)
    assert_same_report(mine, found.to_dict())
    assert_same_summary(drawn, events, as_of, customers, found.summary.to_dict())
    assert_batch_reports_the_same(mine, drawn, events, as_of, customers)


@settings(max_examples=25)
@given(held_referral_cases(), cutoffs())
def test_drawn_reports_of_referrals_are_the_oracles(
    case: tuple[Program, list[AnyEvent], list[Customer]], as_of: Cutoff
) -> None:
    """Referrers rewarded for a friend's purchase, held, reversed by refunds in the hold."""
    drawn, events, customers = case
    mine = expected(drawn, events, as_of, customers)
    found = report(drawn, events, as_of=as_of, customers=customers)
    assert_same_report(mine, found.to_dict())
    assert_same_summary(drawn, events, as_of, customers, found.summary.to_dict())
    assert_batch_reports_the_same(mine, drawn, events, as_of, customers)


@settings(max_examples=25)
@given(lifecycle_programs(), lifecycle_histories(catalogue=True), cutoffs())
def test_drawn_reports_in_a_three_decimal_currency_are_the_oracles(
    drawn: Program, events: list[AnyEvent], as_of: Cutoff
) -> None:
    """The same draws in Kuwaiti dinars (3 decimals): points valued and rounded to a fils."""
    document = drawn.model_dump(mode="json", exclude_none=True)
    document["currency"] = "KWD"
    dinars = Program.model_validate(document)
    mine = expected(dinars, events, as_of)
    assert_same_report(mine, report(dinars, events, as_of=as_of).to_dict())


def _html_table(page: str, title: str) -> list[list[str]]:
    """The ``data-sort`` cells (exact: minor units, counts, ids) of the table after ``title``."""
    start = page.index(f"<h2>{title}</h2>")
    table = page[page.index("<tbody>", start) : page.index("</tbody>", start)]
    return [
        re.findall(r'data-sort="([^"]*)"', row) for row in table.split("<tr>") if "data-sort" in row
    ]


@pytest.mark.parametrize("name", ["coffee-club", "gift-shop", "migrated-bookshop"])
def test_the_html_tables_hold_the_oracles_figures(name: str, tmp_path: Path) -> None:
    path = ROOT / "rules" / "examples" / f"{name}.yaml"
    drawn, events, as_of, customers = _example(path)
    mine = expected(drawn, events, as_of, customers)
    page = tmp_path / "report.html"
    arguments = ["report", *dry_run_arguments(path)[1:], "--format", "html"]
    result = CliRunner().invoke(cli, [*arguments, "--output", str(page)])
    assert result.exit_code == 0, result.output
    text = page.read_text(encoding="utf-8")
    minor = oracle.money_of(drawn).minor
    assert _html_table(text, "Per rule") == [
        [
            rule["rule"],
            str(rule["rewards"]),
            str(rule["units"]),
            str(minor(rule["value"])),
            str(rule["points_net"]),
            str(minor(rule["cost"])),
        ]
        for rule in mine["by_rule"]
    ]
    assert _html_table(text, "Per tier") == [
        [
            tier["tier"] or "",
            str(tier["members"]),
            str(minor(tier["spend"])),
            str(minor(tier["cost"])),
        ]
        for tier in mine["by_tier"]
    ]
    people = {person["customer_id"]: person for person in mine["_people"]}
    assert [row[:2] for row in _html_table(text, "Top 10 customers by cost")] == [
        [top["customer_id"], str(people[top["customer_id"]]["cost"])]
        for top in mine["customers"]["top"]
    ]


@settings(max_examples=30)
@given(
    programs(rule_options=options(every_nth_free={"rewards": ("voucher", "free")})),
    histories(),
    cutoffs(),
)
def test_drawn_reports_of_every_kind_are_the_oracles(
    drawn: Program, events: list[AnyEvent], as_of: Cutoff
) -> None:
    """Every rule kind (vouchers, gift cards, order and tiered discounts, punch cards,
    points), with limits, groups and final rules, and the summary of each."""
    mine = expected(drawn, events, as_of)
    found = report(drawn, events, as_of=as_of)
    assert_same_report(mine, found.to_dict())
    assert_same_summary(drawn, events, as_of, None, found.summary.to_dict())
    assert_batch_reports_the_same(mine, drawn, events, as_of)


@settings(max_examples=20)
@given(
    final_group_programs(),
    final_group_programs(),
    histories(("alice", "bob"), 2, 12),
    cutoffs(),
    st.data(),
)
def test_drawn_comparisons_of_gifts_and_groups_are_the_oracles(
    old: Program, new: Program, events: list[AnyEvent], as_of: Cutoff, data: st.DataObject
) -> None:
    """Customers only one program rewards (a profile's gift at a date): added or removed."""
    customers = data.draw(profiles_near(events, old.timezone))
    mine = oracle.compare(
        expected(old, events, as_of, customers),
        expected(new, events, as_of, customers),
        oracle.money_of(old),
    )
    found = compare(old, new, events, as_of=as_of, customers=customers)
    assert_same_comparison(mine, found.to_dict())
