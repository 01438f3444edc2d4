"""``rewardrules.tools.summary`` and ``dry-run --summary``: totals per rule, per tier and per
month."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from bonus_strategies import bonus_programs, profiles
from helpers import line, program, purchase, refund
from rewardrules.cli.main import cli
from rewardrules.engine.ledger import Evaluation, LedgerEntry, Totals, total
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import AnyEvent, Customer
from rewardrules.program.model import Program
from rewardrules.tools.summary import Summary, SummaryBuilder, _months_of_days, month_of
from strategies import cutoffs, lifecycle_histories
from test_examples import PROGRAMS, dry_run_arguments

LIFECYCLE = {"redemption": "catalogue", "rejected": "catalogue"}
SETTINGS = {"expiry": "points", "written_off": "points", "opening": "points"}


def summarise(drawn: Program, events: Iterable[AnyEvent], evaluation: Evaluation) -> Summary:
    builder = SummaryBuilder(drawn)
    list(builder.watch(events))
    for result in evaluation.customers:
        builder.add(result)
    return builder.finish(evaluation.totals)


def oracle(drawn: Program, entries: Iterable[LedgerEntry], customers: int = 0) -> Totals:
    """The program totals' figures over some entries, as ``total`` adds them up."""
    return total(
        entries,
        money=drawn.money,
        point_value=drawn.points.value,
        customers=customers,
        purchases=0,
        refunds=0,
        gross_spend=0,
    )


def source_of(entry: LedgerEntry) -> str:
    return LIFECYCLE.get(entry.kind) or SETTINGS.get(entry.kind) or "rule"


def expected_month(drawn: Program, events: list[AnyEvent], entry: LedgerEntry) -> str | None:
    """The month of the event an entry names, found by a search of the history."""
    for event in events:
        if event.id == entry.event_id:
            return event.at.astimezone(drawn.zone).strftime("%Y-%m")
    rule, _, day = entry.event_id.partition("@")
    return day[:7] if day and any(r.id == rule for r in drawn.rules) else None


@given(
    drawn=bonus_programs(),
    events=lifecycle_histories(catalogue=True),
    customers=profiles(),
    as_of=cutoffs(),
)
def test_each_group_has_the_program_totals_figures_over_its_own_entries(
    drawn: Program, events: list[AnyEvent], customers: list[Customer], as_of: Any
) -> None:
    evaluation = evaluate(drawn, events, customers, as_of)
    summary = summarise(drawn, events, evaluation)
    entries = evaluation.entries

    for group in summary.by_rule:
        mine = [e for e in entries if e.rule == group.key and source_of(e) == group.source]
        assert group.totals == oracle(drawn, mine)
        assert group.entries == len(mine)
    assert [g.key for g in summary.by_rule][: len(drawn.rules)] == [r.id for r in drawn.rules]
    assert sum(group.entries for group in summary.by_rule) == len(entries)

    if drawn.tiers is None:
        assert summary.by_tier == ()
    else:
        assert [group.key for group in summary.by_tier] == [None, *drawn.tiers.level_names()]
    for group in summary.by_tier:
        results = [result for result in evaluation.customers if result.tier == group.key]
        mine = [entry for result in results for entry in result.ledger]
        assert group.totals == oracle(drawn, mine, customers=len(results))

    months = [group.key for group in summary.by_month]
    assert months == sorted(months, key=lambda month: (month is None, month or ""))
    for group in summary.by_month:
        mine = [e for e in entries if expected_month(drawn, events, e) == group.key]
        assert group.totals == oracle(drawn, mine)
    assert sum(group.entries for group in summary.by_month) == len(entries)
    assert summary.totals == evaluation.totals


def test_a_month_is_the_programs_local_month_of_the_event() -> None:
    eastern = timezone(timedelta(hours=-5))
    # 23:30 on 31 March in New York (summer time, UTC-4), 03:30 on 1 April in UTC.
    late = datetime(2026, 3, 31, 22, 30, tzinfo=eastern)
    stars = [{"id": "stars", "kind": "points_per_spend", "points": 1, "per": "1"}]
    events = [
        purchase("p1", late, line("tea", "10.00")),
        refund("r1", late + timedelta(days=1), "p1"),
    ]

    in_new_york = program(timezone="America/New_York", rules=stars)
    in_utc = program(timezone="UTC", rules=stars)

    assert month_of(late, in_new_york) == "2026-03"
    assert month_of(late, in_utc) == "2026-04"
    by_month = summarise(in_new_york, events, evaluate(in_new_york, events)).by_month
    assert [(g.key, g.totals.points_issued, g.totals.points_reversed) for g in by_month] == [
        ("2026-03", 10, 0),
        ("2026-04", 0, 10),
    ]


def summary_json(program_file: Path) -> dict[str, Any]:
    arguments = [*dry_run_arguments(program_file), "--summary", "--format", "json"]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


@pytest.mark.parametrize("program_file", PROGRAMS, ids=lambda path: path.stem)
def test_the_json_summary_adds_up_the_examples_golden_ledger(program_file: Path) -> None:
    golden = json.loads(program_file.with_name(f"{program_file.stem}.expected.json").read_text())
    entries = [entry for customer in golden["customers"] for entry in customer["ledger"]]
    summary = summary_json(program_file)

    assert summary["program"] == golden["program"]
    assert summary["totals"] == golden["totals"]
    for group in summary["by_rule"]:
        assert group["entries"] == sum(1 for entry in entries if in_group(entry, group))
        issued = ("points", "opening")  # an opening lot counts among the points issued
        points = [e["points"] for e in entries if in_group(e, group) and e["kind"] in issued]
        assert group["points_issued"] == sum(p for p in points if p > 0)
        assert group["points_reversed"] == -sum(p for p in points if p < 0)
    for group in summary["by_tier"]:
        customers = [c for c in golden["customers"] if c["tier"] == group["tier"]]
        assert group["customers"] == len(customers)
        assert group["entries"] == sum(len(c["ledger"]) for c in customers)
    assert sum(group["entries"] for group in summary["by_month"]) == len(entries)


def in_group(entry: dict[str, Any], group: dict[str, Any]) -> bool:
    """Whether a golden ledger entry belongs to a per-rule group of the summary."""
    source = LIFECYCLE.get(entry["kind"]) or SETTINGS.get(entry["kind"]) or "rule"
    return bool(entry["rule"] == group["rule"] and source == group["source"])


def test_a_gift_given_at_a_date_counts_in_the_month_of_its_date() -> None:
    pet_shop = next(path for path in PROGRAMS if path.stem == "pet-shop")
    golden = json.loads(pet_shop.with_name("pet-shop.expected.json").read_text())
    gifts = [
        entry
        for customer in golden["customers"]
        for entry in customer["ledger"]
        if entry["event_id"].startswith("birthday-paws@")
    ]
    by_month = {group["month"]: group for group in summary_json(pet_shop)["by_month"]}

    assert gifts
    assert None not in by_month
    for gift in gifts:
        month = gift["event_id"].partition("@")[2][:7]
        assert by_month[month]["points_issued"] >= gift["points"]


def test_a_group_in_json_has_the_totals_figures_but_the_counts_of_events() -> None:
    stars = [{"id": "stars", "kind": "points_per_spend", "points": 1, "per": "1"}]
    club = program(rules=stars, tiers=None)
    events = [purchase("p1", datetime(2026, 3, 2, tzinfo=UTC), line("tea", "3.00"))]
    document = summarise(club, events, evaluate(club, events)).to_dict()

    [rule] = document["by_rule"]
    counts = {"customers", "purchases", "refunds", "gross_spend"}
    counts |= {"refunded_purchases", "fully_refunded_purchases"}
    totals_keys = set(document["totals"]) - counts
    assert set(rule) == {"rule", "source", "entries"} | totals_keys
    assert (rule["rule"], rule["source"], rule["entries"], rule["points_net"]) == (
        "stars",
        "rule",
        1,
        3,
    )
    assert document["by_tier"] == []
    [month] = document["by_month"]
    assert set(month) == {"month", "entries"} | totals_keys
    assert month["month"] == "2026-03"


@given(
    first=st.integers(1, 3_000_000),
    offsets=st.lists(st.integers(0, 40_000) | st.integers(0, 400), min_size=0, max_size=50),
)
def test_the_months_of_dates_are_numpys_unique_months(first: int, offsets: list[int]) -> None:
    # Counted over the span of days (or sorted, for a long span of few dates): the months
    # in order and each date's index among them, as np.unique gives them.
    dates = np.asarray([first + offset for offset in offsets], dtype=np.int64)
    epoch = datetime(1970, 1, 1, tzinfo=UTC).toordinal()
    months = (dates - epoch).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    distinct, inverse = np.unique(months, return_inverse=True)
    found, index = _months_of_days(dates)
    assert found.tolist() == distinct.tolist()
    assert index.tolist() == inverse.reshape(-1).tolist()
