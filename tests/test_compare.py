"""``rewardrules.tools.compare`` and ``rewardrules compare``: every number is new less old."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings

from rewardrules import compare, read_customers, read_history, report
from rewardrules.cli.main import cli
from rewardrules.events import AnyEvent
from rewardrules.program.model import Program
from rewardrules.rulefiles.loader import load_program
from rewardrules.tools.compare import Comparison, program_figures
from rewardrules.tools.report import Report
from strategies import cutoffs, lifecycle_histories, lifecycle_programs
from test_examples import PROGRAMS, as_of_of, customers_of, dry_run_arguments, history_of

EXAMPLES = Path(__file__).parent.parent / "rules" / "examples"


def check_the_law(found: Comparison, old: Report, new: Report) -> None:
    """Every number of the comparison is the new report's number less the old one's."""
    old_figures, new_figures = program_figures(old), program_figures(new)
    for row in found.program:
        assert (row.old, row.new) == (old_figures[row.key], new_figures[row.key])
    assert sum(row.change for row in found.program if row.key == "cost") == new.cost - old.cost

    def keyed(found_report: Report) -> dict[str, tuple[int, int]]:
        return {
            (rule.rule if rule.source == "rule" else f"{rule.source}:{rule.rule}"): (
                rule.cost,
                rule.rewards,
            )
            for rule in found_report.rules
        }

    old_rules, new_rules = keyed(old), keyed(new)
    assert {row.key for row in found.rules} == old_rules.keys() | new_rules.keys()
    for row, rewards in zip(found.rules, found.rewards, strict=True):
        assert row.key == rewards.key
        assert row.old == old_rules.get(row.key, (0, 0))[0]
        assert row.new == new_rules.get(row.key, (0, 0))[0]
        assert (
            rewards.change == new_rules.get(row.key, (0, 0))[1] - old_rules.get(row.key, (0, 0))[1]
        )
        assert row.status == (
            "both"
            if row.key in old_rules and row.key in new_rules
            else "added"
            if row.key in new_rules
            else "removed"
        )
    old_months = {month.month: month.cost for month in old.months}
    new_months = {month.month: month.cost for month in new.months}
    for row in found.months:
        assert row.change == new_months.get(row.key, 0) - old_months.get(row.key, 0)
    old_people = {customer.customer_id: customer for customer in old.customers}
    new_people = {customer.customer_id: customer for customer in new.customers}
    assert {row.key for row in found.customers} == old_people.keys() | new_people.keys()
    for row in found.customers:
        before = old_people[row.key].cost if row.key in old_people else 0
        after = new_people[row.key].cost if row.key in new_people else 0
        assert row.change == after - before
    assert sum(row.change for row in found.customers) == sum(
        customer.cost for customer in new.customers
    ) - sum(customer.cost for customer in old.customers)
    assert len(found.gaining) + len(found.losing) + found.unchanged == len(found.customers)
    assert all(row.change > 0 for row in found.gaining)
    assert all(row.change < 0 for row in found.losing)
    # The tier matrix's rows are the old report's tiers, its columns the new one's.
    for tier in {old_tier for old_tier, _ in found.tiers}:
        row_total = sum(count for (old_tier, _), count in found.tiers.items() if old_tier == tier)
        members = sum(
            1
            for key in found.customers
            if (old_people[key.key].tier if key.key in old_people else None) == tier
        )
        assert row_total == members
    for tier in {new_tier for _, new_tier in found.tiers}:
        column_total = sum(
            count for (_, new_tier), count in found.tiers.items() if new_tier == tier
        )
        members = sum(
            1
            for key in found.customers
            if (new_people[key.key].tier if key.key in new_people else None) == tier
        )
        assert column_total == members


@settings(max_examples=40)
@given(lifecycle_programs(), lifecycle_programs(), lifecycle_histories(), cutoffs())
def test_every_number_of_a_compare_is_the_difference_of_two_reports(
    old: Program, new: Program, events: list[AnyEvent], as_of: date | datetime | None
) -> None:
    found = compare(old, new, events, as_of=as_of)
    check_the_law(found, report(old, events, as_of=as_of), report(new, events, as_of=as_of))


def example_pairs() -> list[tuple[Path, Path]]:
    """Each example against itself, and against each other example of its currency (over
    the second one's history) that has every tier the second one's customers are granted
    (a migrated customer's tier the program lacks is refused)."""
    loaded = {program: load_program(program) for program in PROGRAMS}

    def fits(old: Path, new: Path) -> bool:
        profiles = customers_of(new)
        granted = {p.tier for p in read_customers(profiles) if p.tier} if profiles else set()
        tiers = loaded[old].tiers
        return granted <= set(() if tiers is None else tiers.level_names())

    return [(program, program) for program in PROGRAMS] + [
        (old, new)
        for old in PROGRAMS
        for new in PROGRAMS
        if old != new and loaded[old].currency == loaded[new].currency and fits(old, new)
    ]


@pytest.mark.parametrize(
    ("old", "new"), example_pairs(), ids=lambda path: path.stem if isinstance(path, Path) else ""
)
def test_the_law_holds_on_every_example(old: Path, new: Path) -> None:
    history = history_of(new)
    as_of_text = as_of_of(new)
    as_of = None if as_of_text is None else date.fromisoformat(as_of_text)
    profiles_file = customers_of(new)
    events = list(read_history(history))
    profiles = None if profiles_file is None else list(read_customers(profiles_file))
    old_program, new_program = load_program(old), load_program(new)
    found = compare(old_program, new_program, events, as_of=as_of, customers=profiles)
    check_the_law(
        found,
        report(old_program, events, as_of=as_of, customers=profiles),
        report(new_program, events, as_of=as_of, customers=profiles),
    )
    if old == new:
        assert all(row.change == 0 for row in (*found.program, *found.rules, *found.customers))
        assert found.unchanged == len(found.customers)
        assert all(old_tier == new_tier for old_tier, new_tier in found.tiers)


def test_doubling_the_point_value_doubles_the_liability_and_nothing_else() -> None:
    old = load_program(EXAMPLES / "coffee-club.yaml")
    new = old.model_copy(
        update={"points": old.points.model_copy(update={"value": Decimal("0.02")})}
    )
    found = compare(old, new, EXAMPLES / "coffee-club.history.csv")
    changes = {row.key: row.change for row in found.program}
    # 2688 stars outstanding, each 0.01 USD dearer; the discounts do not move.
    assert changes["liability"] == 2688
    assert changes["cost"] == 2688
    assert changes["value_given"] == 0
    assert {row.key: row.change for row in found.rules} == {"member-discount": 0, "stars": 2688}
    assert len(found.gaining) == 3
    assert found.losing == ()


@pytest.mark.parametrize("output_format", ["table", "json", "csv"])
def test_the_command_compares_in_every_format(output_format: str, tmp_path: Path) -> None:
    program = EXAMPLES / "coffee-club.yaml"
    dearer = tmp_path / "dearer.yaml"
    dearer.write_text(program.read_text().replace("value: 0.01", "value: 0.02"))
    arguments = ["compare", str(program), str(dearer), str(EXAMPLES / "coffee-club.history.csv")]
    result = CliRunner().invoke(cli, [*arguments, "--format", output_format])
    assert result.exit_code == 0, result.output
    if output_format == "json":
        document = json.loads(result.output)
        cost = next(row for row in document["program"] if row["key"] == "cost")
        assert cost == {
            "key": "cost",
            "status": "both",
            "old": "43.36",
            "new": "70.24",
            "change": "26.88",
        }
    elif output_format == "csv":
        rows = list(csv.reader(io.StringIO(result.output)))
        assert ["program", "cost", "both", "43.36", "70.24", "26.88"] in rows
    else:
        assert "3 gain, 0 lose, 0 unchanged" in result.output


def test_programs_in_two_currencies_are_refused(tmp_path: Path) -> None:
    program = EXAMPLES / "coffee-club.yaml"
    euros = tmp_path / "euros.yaml"
    euros.write_text(program.read_text().replace("currency: USD", "currency: EUR"))
    arguments = ["compare", str(program), str(euros), str(EXAMPLES / "coffee-club.history.csv")]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 2
    assert "USD" in result.output
    assert "EUR" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("example", PROGRAMS, ids=lambda path: path.stem)
def test_every_example_compares_with_itself_in_every_format(example: Path, tmp_path: Path) -> None:
    arguments = ["compare", str(example), *dry_run_arguments(example)[1:]]
    runner = CliRunner()
    document = json.loads(runner.invoke(cli, [*arguments, "--format", "json"]).output)
    assert {row["change"] for row in document["program"]} <= {"0", "0.00", 0, "0.000", "0.0"}
    assert document["customers"]["gaining"] == document["customers"]["losing"] == 0
    rows = list(csv.reader(io.StringIO(runner.invoke(cli, [*arguments, "--format", "csv"]).output)))
    assert rows[0] == ["section", "key", "status", "old", "new", "change"]
    assert len(rows) > 1
    table = runner.invoke(cli, arguments)
    assert table.exit_code == 0
    assert "0 gain, 0 lose" in table.output
    page = tmp_path / "compare.html"
    result = runner.invoke(cli, [*arguments, "--format", "html", "--output", str(page)])
    assert result.exit_code == 0
    text = page.read_text(encoding="utf-8")
    assert text.count("<html") == 1
    assert 'src="http' not in text  # plotly.js is inlined: the page opens offline
