"""``rewardrules sort-history``: customer, instant, event id; the rows of an event together."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from rewardrules.cli.main import cli
from rewardrules.cli.sort_history import is_sorted, sort_history_table
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import AnyEvent
from rewardrules.histories.columns import HISTORY_SCHEMA, events_to_table, table_to_events
from rewardrules.histories.read import read_history
from rewardrules.rulefiles.loader import load_program
from strategies import lifecycle_histories
from test_examples import EXAMPLES


def engine_order(events: list[AnyEvent]) -> list[AnyEvent]:
    """The order sort-history promises, worked out on the events themselves."""
    return sorted(events, key=lambda event: (event.customer_id, event.at, event.id))


@given(events=lifecycle_histories(catalogue=True), shuffle=st.randoms(use_true_random=False))
def test_sorting_orders_events_by_customer_instant_and_id_and_keeps_each_event_whole(
    events: list[AnyEvent], shuffle: random.Random
) -> None:
    shuffle.shuffle(events)
    table = events_to_table(events)

    ordered = sort_history_table(table)

    assert list(table_to_events(ordered)) == engine_order(events)
    assert ordered.num_rows == table.num_rows
    assert is_sorted(ordered)
    assert is_sorted(table) == (list(table_to_events(table)) == engine_order(events))


def shuffled_history(tmp_path: Path, name: str) -> tuple[Path, list[AnyEvent]]:
    """An example's history with its events shuffled, written as JSON Lines."""
    events = list(read_history(next(EXAMPLES.glob(f"{name}.history.*"))))
    random.Random(7).shuffle(events)  # noqa: S311 -- a fixed shuffle, not a secret
    path = tmp_path / "shuffled.jsonl"
    path.write_text(
        "".join(event.model_dump_json(exclude_none=True) + "\n" for event in events),
        encoding="utf-8",
    )
    return path, events


def read_back(path: Path) -> list[AnyEvent]:
    if path.suffix == ".parquet":
        return list(table_to_events(pq.read_table(path), source=str(path)))
    return list(read_history(path))


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
@pytest.mark.parametrize("name", ["coffee-club", "pharmacy", "card-rewards", "gift-shop"])
def test_the_sorted_file_reads_back_in_order_and_evaluates_the_same(
    tmp_path: Path, name: str, suffix: str
) -> None:
    history, events = shuffled_history(tmp_path, name)
    out = tmp_path / f"sorted{suffix}"

    result = CliRunner().invoke(cli, ["sort-history", str(history), str(out)])

    assert result.exit_code == 0, result.output
    rows = events_to_table(events).num_rows
    assert result.stdout == (
        f"{out}: {rows} rows of {history} sorted by customer, instant and event id\n"
    )
    written = read_back(out)
    assert written == engine_order(events)
    program = load_program(EXAMPLES / f"{name}.yaml")
    assert evaluate(program, written).to_dict() == evaluate(program, events).to_dict()


def test_a_parquet_history_has_the_history_columns_and_numbers_its_own_rows(
    tmp_path: Path,
) -> None:
    history, _ = shuffled_history(tmp_path, "coffee-club")
    out = tmp_path / "sorted.parquet"
    CliRunner().invoke(cli, ["sort-history", str(history), str(out)])

    table = pq.read_table(out)
    assert table.schema == HISTORY_SCHEMA
    assert table.column("line").to_pylist() == list(range(1, table.num_rows + 1))


def test_a_sorted_history_is_said_to_be_sorted_already(tmp_path: Path) -> None:
    history = EXAMPLES / "coffee-club.history.csv"
    out = tmp_path / "again.csv"
    result = CliRunner().invoke(cli, ["sort-history", str(history), str(out)])

    assert result.exit_code == 0
    assert result.stdout.endswith("(it was already in that order)\n")
    assert list(read_history(out)) == list(read_history(history))


def test_a_bad_row_is_reported_with_its_place_and_nothing_is_written(tmp_path: Path) -> None:
    history = tmp_path / "h.csv"
    history.write_text(
        "event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id\n"
        "p1,purchase,c1,2026-03-01T09:30:00,latte,,1,4.50,\n",
        encoding="utf-8",
    )
    out = tmp_path / "sorted.parquet"
    result = CliRunner().invoke(cli, ["sort-history", str(history), str(out)])

    assert result.exit_code == 1
    assert result.stderr.startswith(f"{history}:2:")
    assert "no UTC offset" in result.stderr
    assert not out.exists()


def test_an_unknown_output_extension_is_a_usage_error(tmp_path: Path) -> None:
    out = tmp_path / "sorted.xlsx"
    result = CliRunner().invoke(
        cli, ["sort-history", str(EXAMPLES / "coffee-club.history.csv"), str(out)]
    )

    assert result.exit_code == 2
    assert result.stderr.rstrip().endswith(
        f"Error: Invalid value for 'OUT': cannot tell the format of {out} from its "
        "extension; name it .csv, .jsonl or .parquet"
    )


def test_a_parquet_history_is_sorted_too(tmp_path: Path) -> None:
    _, events = shuffled_history(tmp_path, "pharmacy")
    shuffled = tmp_path / "shuffled.parquet"
    pq.write_table(events_to_table(events), shuffled)
    out = tmp_path / "sorted.csv"

    result = CliRunner().invoke(cli, ["sort-history", str(shuffled), str(out)])

    assert result.exit_code == 0, result.output
    assert read_back(out) == engine_order(events)
