"""Every value that validates evaluates: the documented bounds, at their edges.

Durations are at most 100 years, rolling tier windows at most 36500 days, the dates a
program names and ``as_of`` are from 1970 to 2099 like the events (docs/rule-files.md,
docs/histories.md). A value at a bound validates and then evaluates without an error; one
past it is refused when the program (or ``as_of``) is read, never by an ``OverflowError``
in the middle of a run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from helpers import line, program, purchase
from rewardrules.engine.state import CustomerState
from rewardrules.errors import HistoryError, RuleFileError
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import Customer, Purchase
from rewardrules.program.model import Program
from rewardrules.rulefiles.loader import load_program_text
from strategies import EDGE_AS_OF, edge_histories, edge_programs, in_bounds


@given(drawn=edge_programs(), history=edge_histories(), as_of=st.sampled_from((None, *EDGE_AS_OF)))
def test_a_program_that_validates_at_the_edges_of_its_bounds_evaluates(
    drawn: tuple[dict[str, Any], bool],
    history: tuple[list[Any], list[dict[str, Any]]],
    as_of: date | datetime | None,
) -> None:
    document, within = drawn
    try:
        rules = Program.model_validate(document)
    except ValidationError:
        assert not within, "a value within its bounds was refused"
        return
    assert within, "a value past its bound validated"
    events, profiles = history
    customers = [Customer.model_validate(profile) for profile in profiles]
    if as_of is not None and not in_bounds(as_of):
        with pytest.raises(ValueError, match="as_of must be in the years 1970 to 2099"):
            evaluate(rules, events, customers, as_of)
        return

    evaluation = evaluate(rules, events, customers, as_of)

    # Everything a run hands back can be shown and saved, and a saved state loads back.
    assert evaluation.to_dict()["program"] == "edges"
    for result in evaluation.customers:
        assert result.state.customer_id == result.customer_id
        assert all(entry.reason for entry in result.ledger)
        assert CustomerState.model_validate_json(result.state.model_dump_json()) is not None


BOUNDS = (
    ("points:\n  expire_after: 101 years", "must be at most 100 years (got '101 years')"),
    (
        "points:\n  pending_for: 36501 days",
        "must be at most 36500 days (100 years) (got '36501 days')",
    ),
    (
        "points:\n  expire_on_inactivity: 5219 weeks",
        "must be at most 5218 weeks (100 years) (got '5219 weeks')",
    ),
    (
        "tiers:\n  qualify_by: spend\n  window: 36501 days\n  keep_for: 1201 months\n"
        "  levels: [{name: a, at_least: 0}]",
        "must be one of: lifetime, calendar_year, calendar_quarter, calendar_month, a rolling "
        "window of 1 to 36500 days (100 years) such as '365 days' or {days: 365} "
        "(got '36501 days')",
    ),
    (
        "rules:\n  - {id: r, kind: bonus_points, points: 1, ends: 2100-01-01}",
        "must be a date from 1970-01-01 to 2099-12-31, the years of events (got 2100-01-01)",
    ),
    (
        "rewards:\n  - {id: r, name: R, cost: 1, value: 1, available: {starts: 1969-12-31}}",
        "must be a date from 1970-01-01 to 2099-12-31, the years of events (got 1969-12-31)",
    ),
)


@pytest.mark.parametrize(("part", "message"), BOUNDS, ids=[case[1][:40] for case in BOUNDS])
def test_a_value_past_its_bound_is_a_located_error(part: str, message: str) -> None:
    text = "program: p\nname: P\ncurrency: USD\ntimezone: UTC\n" + part + "\n"

    with pytest.raises(RuleFileError) as raised:
        load_program_text(text, "p.yaml")

    problems = raised.value.problems
    assert message in [problem.message for problem in problems]
    (located,) = [problem for problem in problems if problem.message == message]
    assert located.location is not None
    assert located.location.source == "p.yaml"
    assert located.location.line >= 5
    assert located.code in ("out-of-range", "not-allowed")


def test_a_keep_for_past_its_bound_names_its_line_and_column() -> None:
    text = (
        "program: p\nname: P\ncurrency: USD\ntimezone: UTC\ntiers:\n  qualify_by: spend\n"
        "  window: lifetime\n  keep_for: 1201 months\n  levels: [{name: a, at_least: 0}]\n"
    )

    with pytest.raises(RuleFileError) as raised:
        load_program_text(text, "p.yaml")

    assert [str(problem) for problem in raised.value.problems] == [
        "p.yaml:8:13: tiers.keep_for: must be at most 1200 months (100 years) (got '1201 months')"
    ]


def test_an_event_built_in_python_is_held_to_the_years_of_history_files() -> None:
    with pytest.raises(HistoryError, match="must be in the years 1970 to 2099, as written"):
        Purchase(
            id="p1",
            customer_id="c1",
            at=datetime.fromisoformat("9999-12-31T23:00:00+00:00"),
            lines=(line("a", "1.00"),),
        )


@pytest.mark.parametrize(
    "written",
    [
        "1970-01-01T00:00:00+14:00",  # 1969-12-31 10:00 UTC
        "2099-12-31T23:59:59-12:00",  # 2100-01-01 11:59:59 UTC
    ],
)
def test_a_state_saved_at_an_end_of_the_years_as_written_resumes(written: str) -> None:
    # The year as written bounds events (docs/histories.md); the state that a purchase at
    # such an instant leaves was refused when loaded ("purchases.at[0]: must be an instant
    # of the years 1970 to 2099"), as its UTC year is 1969 or 2100.
    rules = program(
        timezone="Pacific/Kiritimati",
        rules=[{"id": "earn", "kind": "points_per_spend", "points": 1}],
    )
    first = datetime.fromisoformat(written)
    events = [purchase("p1", first, line("a", "3.00"))]
    if first.year == 1970:
        events.append(purchase("p2", first + timedelta(seconds=1), line("a", "2.00")))

    saved = evaluate(rules, events[:1]).customer("c1").state
    loaded = CustomerState.model_validate_json(saved.model_dump_json())
    for engine in ("reference", "batch"):
        resumed = evaluate(rules, events[1:], states={"c1": loaded}, engine=engine)
        # 3 points at p1, and 2 more at p2 when there is one (1970)
        assert resumed.customer("c1").points == 3 + 2 * (len(events) - 1)


def test_the_longest_durations_from_the_last_instant_evaluate() -> None:
    rules = program(
        timezone="Pacific/Kiritimati",
        points={
            "pending_for": "36500 days",
            "expire_after": "100 years",
            "expire_round_up_to": "year",
            "expire_on_inactivity": "1200 months",
        },
        rules=[{"id": "earn", "kind": "points_per_spend", "points": 1}],
    )
    last = datetime.fromisoformat("2099-12-31T23:59:59-12:00")

    evaluation = evaluate(rules, [purchase("p1", last, line("a", "3.00"))])

    result = evaluation.customer("c1")
    assert (result.points, result.pending_points, result.available_points) == (3, 3, 0)
    (lot,) = result.state.lots
    assert lot.expires_at is not None
    # 2100-01-01 11:59:59 UTC is 2100-01-02 in Kiritimati; 100 years on, rounded up to
    # the end of the year: the first instant of 2201 there.
    assert lot.expires_at == datetime(2201, 1, 1, tzinfo=rules.zone)
    assert lot.available_at == last + timedelta(days=36_500)


CLUB = """\
program: club
name: Club
currency: USD
timezone: Pacific/Kiritimati
points:
  expire_after: 100 years
rules:
  - {id: earn, kind: points_per_spend, points: 1}
"""
RUN = (sys.executable, "-m", "rewardrules")
ONE_PURCHASE = """\
event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id,store
p1,purchase,c1,2099-12-31T23:00:00-12:00,cone,,1,3.00,,
"""


@pytest.mark.parametrize("command", ["dry-run", "explain"])
@pytest.mark.parametrize(
    "as_of",
    [
        "9999-12-31",
        "1969-12-31",
        "2100-01-01T00:00:00+00:00",
        "0001-01-01T00:00:00+23:59",
        "9999-12-31T23:00:00-23:59",
    ],
)
def test_an_as_of_outside_the_years_of_events_is_a_usage_error(
    tmp_path: Path, command: str, as_of: str
) -> None:
    (tmp_path / "club.yaml").write_text(CLUB, encoding="utf-8")
    (tmp_path / "history.csv").write_text(ONE_PURCHASE, encoding="utf-8")
    customer = ["--customer", "c1"] if command == "explain" else []

    done = subprocess.run(  # noqa: S603 -- our own interpreter and module
        [*RUN, command, "club.yaml", "history.csv", *customer, "--as-of", as_of],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )

    assert done.returncode == 2
    assert done.stderr.endswith(
        f"Error: Invalid value for '--as-of': '{as_of}' is outside the years 1970 to 2099, "
        "which events and programs are in\n"
    )
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "as_of", ["2099-12-31", "2099-12-31T23:59:59-23:59", "1970-01-01T00:00:00+23:59"]
)
def test_an_as_of_at_the_ends_of_the_years_evaluates(tmp_path: Path, as_of: str) -> None:
    (tmp_path / "club.yaml").write_text(CLUB, encoding="utf-8")
    (tmp_path / "history.csv").write_text(ONE_PURCHASE, encoding="utf-8")

    done = subprocess.run(  # noqa: S603 -- our own interpreter and module
        [*RUN, "dry-run", "club.yaml", "history.csv", "--format", "json", "--as-of", as_of],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )

    assert done.returncode == 0, done.stderr
    # The purchase is at 2100-01-01 11:00 UTC: only an as-of at or after it counts it.
    points = [customer["points"] for customer in json.loads(done.stdout)["customers"]]
    assert points == ([3] if as_of == "2099-12-31T23:59:59-23:59" else [])
