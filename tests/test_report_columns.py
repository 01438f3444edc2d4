"""The report's columnar sums (``tools/_report_columns``): the batch engine's report, read
from its ledger columns, is the reference engine's report, figure for figure."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import batch_refuses, line, purchase
from helpers import program as make_program
from rewardrules import evaluate, load_program, read_history
from rewardrules.cli.main import cli
from rewardrules.evaluation.batch import UnsupportedError, unsupported
from rewardrules.events import AnyEvent, Customer
from rewardrules.program.model import Program
from rewardrules.tools._report_columns import batch_ledger, entries_as_columns, month_codes
from rewardrules.tools.report import report
from rewardrules.tools.summary import month_of
from strategies import (
    ZONES,
    cutoffs,
    histories,
    lifecycle_histories,
    lifecycle_programs,
    options,
    programs,
)
from test_batch_engine import SUPPORTED_KINDS

EXAMPLES = Path(__file__).parent.parent / "rules" / "examples"
BATCH_EXAMPLES = [
    path for path in sorted(EXAMPLES.glob("*.yaml")) if not unsupported(load_program(path))
]


def _history(path: Path) -> Path:
    return next(EXAMPLES.glob(f"{path.stem}.history.*"))


def same_reports(
    program: Program, events: list[AnyEvent], as_of: date | datetime | None = None
) -> bool:
    """Assert both engines report the same; False when the batch engine refuses."""
    try:
        batch = report(program, events, as_of=as_of, engine="batch")
    except UnsupportedError:
        return False
    assert batch.to_dict() == report(program, events, as_of=as_of).to_dict()
    assert batch.summary == report(program, events, as_of=as_of).summary
    return True


@pytest.mark.parametrize("path", BATCH_EXAMPLES, ids=[path.stem for path in BATCH_EXAMPLES])
def test_the_batch_report_of_an_example_is_the_reference_report(path: Path) -> None:
    program = load_program(path)
    events = list(read_history(_history(path)))
    assert same_reports(program, events)


@pytest.mark.parametrize("path", BATCH_EXAMPLES, ids=[path.stem for path in BATCH_EXAMPLES])
def test_the_batch_report_reads_the_ledger_columns_without_making_entries(path: Path) -> None:
    program = load_program(path)
    evaluation = evaluate(program, list(read_history(_history(path))), engine="batch")
    ledger = batch_ledger(evaluation.customers)
    assert ledger is not None
    columns = entries_as_columns(evaluation.customers, lambda _: None, program.zone, ledger)
    # Still columns: no customer's entries were built to read them.
    assert batch_ledger(evaluation.customers) is not None
    entries = [entry for result in evaluation.customers for entry in result.ledger]
    assert len(columns.kind) == len(entries)
    assert sorted(int(points) for points in columns.points) == sorted(
        entry.points or 0 for entry in entries
    )


def test_a_report_from_a_history_file_with_the_batch_engine_reads_it_as_a_table() -> None:
    path = EXAMPLES / "coffee-club.yaml"
    expected = report(path, _history(path)).to_dict()
    assert report(path, _history(path), engine="batch").to_dict() == expected


@settings(max_examples=60)
@given(
    programs(
        kinds=SUPPORTED_KINDS,
        rule_options=options(points_per_spend={"caps": True}),
        points_tiers=True,
    ),
    histories(refunds=True, payments=True),
    cutoffs(),
)
def test_drawn_programs_report_alike_on_both_engines(
    program: Program, events: list[AnyEvent], as_of: date | datetime | None
) -> None:
    same_reports(program, events, as_of)


@settings(max_examples=60)
@given(lifecycle_programs(), lifecycle_histories(), cutoffs())
def test_drawn_points_lifecycles_report_alike_on_both_engines(
    program: Program, events: list[AnyEvent], as_of: date | datetime | None
) -> None:
    same_reports(program, events, as_of)


_TIMES = st.integers(
    min_value=int(datetime(1971, 1, 1, tzinfo=UTC).timestamp()) * 10**6,
    max_value=int(datetime(2098, 12, 1, tzinfo=UTC).timestamp()) * 10**6,
)


@given(st.sampled_from(ZONES), st.lists(_TIMES, min_size=1, max_size=30), st.data())
def test_month_codes_are_the_local_months_of_the_instants(
    zone_name: str, times: list[int], data: Any
) -> None:
    zone = ZoneInfo(zone_name)
    # Instants near a month's local midnight, where a zone's offset matters most.
    local = datetime.fromtimestamp(times[0] / 10**6, zone).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    near = int(local.timestamp()) * 10**6
    times.append(near + data.draw(st.integers(-2, 2)))
    codes, names = month_codes(np.asarray(times, dtype=np.int64), zone)
    program = _zoned(zone_name)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for moment, code in zip(times, codes.tolist(), strict=True):
        assert names[code] == month_of(epoch + timedelta(microseconds=moment), program)
    assert names == sorted(names)


def _zoned(zone_name: str) -> Program:
    return make_program(timezone=zone_name)


@pytest.mark.parametrize("command", ["report", "compare"])
def test_the_command_line_reports_alike_with_either_engine(command: str) -> None:
    path = EXAMPLES / "coffee-club.yaml"
    programs = [str(path)] if command == "report" else [str(path), str(path)]
    arguments = [command, *programs, str(_history(path)), "--format", "json"]
    runner = CliRunner()
    reference = runner.invoke(cli, arguments)
    batch = runner.invoke(cli, [*arguments, "--engine", "batch"])
    assert (reference.exit_code, batch.exit_code) == (0, 0)
    assert batch.output == reference.output


def test_the_command_line_names_what_the_batch_engine_refuses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batch_refuses(monkeypatch, "rule 'birthday-treat': a feature refused for this test")
    example = EXAMPLES / "pet-shop.yaml"
    arguments = ["report", str(example), str(_history(example)), "--engine", "batch"]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 1
    assert "the batch engine does not evaluate rule 'birthday-treat'" in result.output
    assert "Traceback" not in result.output


def test_a_gift_at_a_purchase_in_a_group_reports_alike_on_both_engines(tmp_path: Path) -> None:
    example = EXAMPLES / "pet-shop.yaml"
    # The pet shop, its birthday treat (a gift at a purchase) put in the shop's group.
    path = tmp_path / "pet-shop.yaml"
    path.write_text(
        example.read_text(encoding="utf-8").replace(
            "    requires_purchase: true\n",
            "    requires_purchase: true\n    exclusive_group: in-store-offers\n",
        ),
        encoding="utf-8",
    )
    profiles = EXAMPLES / "pet-shop.customers.csv"
    arguments = ["report", str(path), str(_history(example)), "--format", "json"]
    arguments += ["--customers", str(profiles)]
    reference = CliRunner().invoke(cli, arguments)
    batch = CliRunner().invoke(cli, [*arguments, "--engine", "batch"])
    assert (reference.exit_code, batch.exit_code) == (0, 0)
    assert batch.output == reference.output


def test_gifts_at_dates_for_profiles_report_alike_on_both_engines() -> None:
    club = make_program(
        points={"value": "0.01"},
        rules=[
            {"id": "earn", "kind": "points_per_spend", "points": 1, "per": "1.00"},
            {"id": "birthday", "kind": "birthday", "points": 50},
        ],
    )
    bought = purchase(
        "p1", datetime(2026, 3, 2, 9, tzinfo=UTC), line("tea", "10.00"), customer="tom"
    )
    profiles = [
        Customer(customer_id="tom", birthday="03-05"),
        Customer(customer_id="ann", birthday="03-10"),
    ]
    as_of = date(2026, 4, 1)
    batch = report(club, [bought], customers=profiles, as_of=as_of, engine="batch")
    assert batch.to_dict() == report(club, [bought], customers=profiles, as_of=as_of).to_dict()
    # tom: 10 points for 10.00 and 50 on his birthday, at 0.01 USD each
    assert batch.cost == 60
