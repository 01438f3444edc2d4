"""The batch engine's results read from columns: the same fields, entries and ledger files.

A batch result works its fields out when they are read (``rewardrules.evaluation.batch._results``)
and
a Parquet ledger is written from its columns without entry objects; both must give exactly
what the reference engine's results give.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings

from rewardrules.engine.ledger import CustomerResult, Evaluation
from rewardrules.evaluation import batch
from rewardrules.evaluation.batch._results import _FIELDS, BatchCustomerResult
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import AnyEvent, Customer
from rewardrules.histories.columns import events_to_table
from rewardrules.histories.read import read_customers, read_history
from rewardrules.program.model import Program
from rewardrules.rulefiles.loader import load_program
from rewardrules.tools.ledger_files import write_ledger
from strategies import histories, programs

EXAMPLES = Path(__file__).resolve().parent.parent / "rules" / "examples"


def _example(path: Path) -> tuple[Program, list[AnyEvent], list[Customer] | None, Any]:
    history = next(EXAMPLES.glob(f"{path.stem}.history.*"))
    customers_file = next(EXAMPLES.glob(f"{path.stem}.customers.*"), None)
    as_of_file = path.with_name(f"{path.stem}.as-of")
    as_of: date | datetime | None = None
    if as_of_file.is_file():
        text = as_of_file.read_text(encoding="utf-8").strip()
        as_of = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    customers = None if customers_file is None else list(read_customers(customers_file))
    return load_program(path), list(read_history(history)), customers, as_of


def _migrates(path: Path) -> bool:
    """Whether an example's customers start from an opening (the batch engine refuses it)."""
    customers_file = next(EXAMPLES.glob(f"{path.stem}.customers.*"), None)
    return customers_file is not None and any(
        profile.opens for profile in read_customers(customers_file)
    )


def _has_events(events: list[AnyEvent], customer_id: str) -> bool:
    return any(event.customer_id == customer_id for event in events)


RUNNABLE = [
    path
    for path in sorted(EXAMPLES.glob("*.yaml"))
    if not batch.unsupported(load_program(path)) and not _migrates(path)
]


def _rows(path: Path) -> list[dict[str, Any]]:
    return pq.read_table(path).to_pylist()


def _entry_rows(evaluation: Evaluation) -> list[dict[str, Any]]:
    return [
        {
            "customer_id": entry.customer_id,
            "event_id": entry.event_id,
            "rule": entry.rule,
            "kind": entry.kind,
            "points": entry.points,
            "value": entry.value,
            "units": entry.units,
            "reason": entry.reason,
        }
        for entry in evaluation.entries
    ]


def test_every_field_of_a_customer_result_is_read_from_the_columns() -> None:
    names = [field.name for field in dataclasses.fields(CustomerResult)]
    assert sorted(_FIELDS) == sorted(names)


def test_some_examples_run_in_the_batch_engine() -> None:
    assert len(RUNNABLE) >= 3


@pytest.mark.parametrize("example", RUNNABLE, ids=lambda path: path.stem)
def test_a_batch_result_reads_as_the_reference_result(example: Path) -> None:
    program, events, customers, as_of = _example(example)
    reference = evaluate(program, events, customers, as_of)
    found = evaluate(program, events, customers, as_of, engine="batch")
    assert [result.customer_id for result in found.customers] == [
        result.customer_id for result in reference.customers
    ]
    for mine, theirs in zip(found.customers, reference.customers, strict=True):
        # A customer known only from a profile (a gift up to as_of) is built by the walk.
        assert isinstance(mine, BatchCustomerResult) or not _has_events(events, mine.customer_id)
        for name in ("points", "available_points", "pending_points", "tier", "next_tier"):
            assert getattr(mine, name) == getattr(theirs, name)
        assert dict(mine.stamps) == dict(theirs.stamps)
        assert mine.tier_changes == theirs.tier_changes
        assert [entry.to_dict() for entry in mine.ledger] == [
            entry.to_dict() for entry in theirs.ledger
        ]
        assert [entry.customer_id for entry in mine.ledger] == [
            entry.customer_id for entry in theirs.ledger
        ]
        assert mine.ledger is mine.ledger  # built once, then kept
        if isinstance(mine, BatchCustomerResult):
            assert mine.ledger_rows() is None  # built: a ledger file writes the entries


@pytest.mark.parametrize("example", RUNNABLE, ids=lambda path: path.stem)
@pytest.mark.parametrize("group", [1, 3, 65_536])
def test_a_parquet_ledger_from_columns_holds_the_reference_entries(
    example: Path, group: int, tmp_path: Path
) -> None:
    program, events, customers, as_of = _example(example)
    reference = evaluate(program, events, customers, as_of)
    found = evaluate(program, events, customers, as_of, engine="batch")
    assert all(
        result.ledger_rows() is not None
        for result in found.customers
        if isinstance(result, BatchCustomerResult)
    )
    assert any(isinstance(result, BatchCustomerResult) for result in found.customers)
    path = tmp_path / "ledger.parquet"
    count = write_ledger(found.customers, path, found.money, row_group_entries=group)
    expected = _entry_rows(reference)
    assert count == len(expected)
    assert _rows(path) == expected
    metadata = pq.ParquetFile(path).metadata
    if all(isinstance(result, BatchCustomerResult) for result in found.customers):
        assert metadata.num_row_groups == max(1, -(-len(expected) // group))
    else:  # a result the walk built (a profile only) breaks the run of columns
        sizes = [metadata.row_group(index).num_rows for index in range(metadata.num_row_groups)]
        assert max(sizes) <= group


def test_a_ledger_file_mixes_built_and_columnar_results_in_order(tmp_path: Path) -> None:
    program, events, customers, as_of = _example(EXAMPLES / "coffee-club.yaml")
    found = evaluate(program, events, customers, as_of, engine="batch")
    for result in found.customers[::2]:
        assert result.ledger is not None  # built now: written from its entries
    path = tmp_path / "ledger.parquet"
    write_ledger(found.customers, path, found.money, row_group_entries=2)
    assert _rows(path) == _entry_rows(evaluate(program, events, customers, as_of))


def test_a_batch_result_replaced_keeps_what_it_was_given() -> None:
    program, events, customers, as_of = _example(EXAMPLES / "coffee-club.yaml")
    result = evaluate(program, events, customers, as_of, engine="batch").customers[0]
    changed = dataclasses.replace(result, points=result.points + 1)
    assert changed.points == result.points + 1
    assert changed.ledger == result.ledger
    assert changed == dataclasses.replace(result, points=result.points + 1)
    assert changed != result


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=programs(), events=histories())
def test_drawn_ledgers_written_from_columns_hold_the_reference_entries(
    program: Program, events: list[AnyEvent], tmp_path_factory: pytest.TempPathFactory
) -> None:
    if batch.unsupported(program):
        return
    try:
        reference = evaluate(program, events)
    except ValueError:  # a history the engines refuse: test_batch_engine covers it
        return
    found = batch.evaluate_table(program, events_to_table(events))
    path = tmp_path_factory.mktemp("ledger") / "ledger.parquet"
    write_ledger(found.customers, path, found.money, row_group_entries=4)
    assert _rows(path) == _entry_rows(reference)
