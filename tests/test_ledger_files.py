"""``rewardrules.tools.ledger_files`` and ``dry-run --output``: ledgers written, then read back.

Every test reads the file with a reader that knows nothing of rewardrules (pyarrow, the
``csv`` module, ``json``) and compares it with the in-memory ledger entry by entry.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from bonus_strategies import bonus_programs, profiles
from helpers import at, line, program, purchase
from rewardrules.cli.main import cli
from rewardrules.engine.ledger import CustomerResult, Evaluation, LedgerEntry
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import AnyEvent, Customer
from rewardrules.money import currency
from rewardrules.program.model import Program
from rewardrules.rulefiles.loader import load_program
from rewardrules.tools.export import LEDGER_COLUMNS, neutralise
from rewardrules.tools.ledger_files import LedgerFile, LedgerFileError, ledger_schema, write_ledger
from strategies import cutoffs, lifecycle_histories
from test_examples import PROGRAMS, as_of_of, customers_of, dry_run_arguments
from test_examples import history_of as example_history

Row = tuple[str, str, str, str, int | None, Decimal | None, int | None, str]


def expected_rows(evaluation: Evaluation) -> list[Row]:
    """The ledger, customer by customer, as the rows a ledger file must hold."""
    return [
        (
            entry.customer_id,
            entry.event_id,
            entry.rule,
            entry.kind,
            entry.points,
            entry.value,
            entry.units,
            entry.reason,
        )
        for entry in evaluation.entries
    ]


def read_parquet(path: Path) -> list[Row]:
    table = pq.read_table(path)
    assert table.column_names == list(LEDGER_COLUMNS)
    return [tuple(row.values()) for row in table.to_pylist()]  # type: ignore[misc]


def _number(cell: str, kind: type[int] | type[Decimal]) -> Any:
    return None if cell == "" else kind(cell)


def read_csv(path: Path) -> list[Row]:
    with path.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == list(LEDGER_COLUMNS)
    return [
        (
            customer,
            event,
            rule,
            kind,
            _number(points, int),
            _number(value, Decimal),
            _number(units, int),
            reason,
        )
        for customer, event, rule, kind, points, value, units, reason in rows[1:]
    ]


def read_jsonl(path: Path) -> list[Row]:
    rows = []
    for text in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(text)
        assert list(row) == list(LEDGER_COLUMNS)
        assert row["value"] is None or isinstance(row["value"], str)
        value = None if row["value"] is None else Decimal(row["value"])
        rows.append(
            (*[row[name] for name in LEDGER_COLUMNS[:5]], value, row["units"], row["reason"])
        )
    return rows  # type: ignore[return-value]


READERS = {".parquet": read_parquet, ".csv": read_csv, ".jsonl": read_jsonl}


def as_csv_writes(rows: list[Row]) -> list[Row]:
    """What a CSV ledger holds: text cells neutralised for spreadsheets."""
    return [
        (neutralise(c), neutralise(e), neutralise(r), neutralise(k), p, v, u, neutralise(why))
        for c, e, r, k, p, v, u, why in rows
    ]


def exact(rows: list[Row]) -> list[tuple[Any, ...]]:
    """Rows with each value as text, so that 4.5 and 4.50 differ."""
    return [(*row[:5], None if row[5] is None else str(row[5]), *row[6:]) for row in rows]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40)
@given(
    drawn=bonus_programs(),
    events=lifecycle_histories(),
    customers=profiles(),
    as_of=cutoffs(),
)
def test_each_format_holds_every_entry_of_the_ledger_in_order(
    tmp_path: Path,
    drawn: Program,
    events: list[AnyEvent],
    customers: list[Customer],
    as_of: Any,
) -> None:
    evaluation = evaluate(drawn, events, customers, as_of)
    expected = expected_rows(evaluation)
    for suffix, read in READERS.items():
        path = tmp_path / f"ledger{suffix}"
        written = write_ledger(evaluation.customers, path, evaluation.money, row_group_entries=3)
        assert written == len(expected)
        wanted = as_csv_writes(expected) if suffix == ".csv" else expected
        assert exact(read(path)) == exact(wanted)


def points_and_discount_evaluation() -> Evaluation:
    club = program(
        currency="KWD",
        rules=[
            {"id": "stars", "kind": "points_per_spend", "points": 1, "per": "1"},
            {"id": "third-cake", "kind": "every_nth_free", "every": 3},
        ],
    )
    return evaluate(
        club,
        [
            purchase("p1", at(0), line("cake", "2.505", 3)),
            purchase("p2", at(1), line("cake", "1.000")),
            purchase("q1", at(2), line("cake", "1.250", 4), customer="c2"),
        ],
    )


def test_a_parquet_value_is_an_exact_decimal_with_the_currencys_places(tmp_path: Path) -> None:
    evaluation = points_and_discount_evaluation()
    path = tmp_path / "ledger.parquet"
    write_ledger(evaluation.customers, path, evaluation.money)

    table = pq.read_table(path)
    assert table.schema.field("value").type == pa.decimal128(38, 3)
    values = [value for value in table.column("value").to_pylist() if value is not None]
    expected = [entry.value for entry in evaluation.entries if entry.value is not None]
    assert values
    assert [str(value) for value in values] == [str(value) for value in expected]
    assert table.schema == ledger_schema(currency("KWD"))


def test_parquet_row_groups_hold_at_most_the_given_number_of_entries(tmp_path: Path) -> None:
    evaluation = points_and_discount_evaluation()
    entries = len(evaluation.entries)
    path = tmp_path / "ledger.parquet"
    write_ledger(evaluation.customers, path, evaluation.money, row_group_entries=1)

    metadata = pq.ParquetFile(path).metadata
    assert entries > 1
    assert metadata.num_row_groups == entries
    assert metadata.num_rows == entries


def test_parquet_row_groups_say_their_customers_and_amounts_not_their_texts(
    tmp_path: Path,
) -> None:
    """Statistics where a reader can skip row groups by them: each row group's first and
    last customer (entries are in customer order) and its amounts' range and nulls; none
    for event ids, rules, kinds and reasons (``ledger_files.STATISTICS``)."""
    evaluation = points_and_discount_evaluation()
    path = tmp_path / "ledger.parquet"
    write_ledger(evaluation.customers, path, evaluation.money, row_group_entries=2)

    metadata = pq.ParquetFile(path).metadata
    rows = pq.read_table(path).to_pylist()
    assert metadata.num_row_groups > 1
    start = 0
    for group in range(metadata.num_row_groups):
        chunk = metadata.row_group(group)
        held = rows[start : start + chunk.num_rows]
        start += chunk.num_rows
        columns = {chunk.column(i).path_in_schema: chunk.column(i) for i in range(8)}
        assert {name for name, column in columns.items() if column.is_stats_set} == {
            "customer_id",
            "points",
            "value",
            "units",
        }
        customers = columns["customer_id"].statistics
        assert (customers.min, customers.max) == (
            min(row["customer_id"] for row in held),
            max(row["customer_id"] for row in held),
        )
        points = columns["points"].statistics
        assert points.null_count == sum(row["points"] is None for row in held)


def test_a_failure_while_writing_leaves_no_file_and_keeps_an_old_one(tmp_path: Path) -> None:
    evaluation = points_and_discount_evaluation()
    path = tmp_path / "ledger.csv"
    path.write_text("the old ledger", encoding="utf-8")

    def failing() -> Iterator[CustomerResult]:
        yield evaluation.customers[0]
        raise RuntimeError("the engine stopped")

    with pytest.raises(RuntimeError, match="the engine stopped"):
        write_ledger(failing(), path, evaluation.money)
    assert path.read_text(encoding="utf-8") == "the old ledger"
    assert sorted(item.name for item in tmp_path.iterdir()) == ["ledger.csv"]


def test_an_unknown_extension_is_refused_with_the_ones_known(tmp_path: Path) -> None:
    with pytest.raises(LedgerFileError) as raised:
        LedgerFile(tmp_path / "ledger.xlsx", currency("USD"))
    assert str(raised.value) == (
        f"cannot tell the format of the ledger file {tmp_path / 'ledger.xlsx'} from its "
        "extension; name it .parquet, .csv or .jsonl"
    )


def test_a_missing_folder_is_reported_not_raised_as_a_traceback(tmp_path: Path) -> None:
    target = tmp_path / "no-such-folder" / "ledger.parquet"
    with pytest.raises(LedgerFileError) as raised:
        LedgerFile(target, currency("USD"))
    assert raised.value.problems[0].code == "unwritable"
    assert str(raised.value).startswith(f"cannot write the ledger file {target}: ")
    assert str(raised.value).endswith("(check that its folder exists and can be written to)")


def evaluate_example(program_file: Path) -> Evaluation:
    """The example as dry-run evaluates it, read with the library's own functions."""
    from rewardrules.cli._support import parse_as_of  # noqa: PLC0415
    from rewardrules.histories.read import read_customers, read_history  # noqa: PLC0415

    customers_file = customers_of(program_file)
    written_as_of = as_of_of(program_file)
    as_of = None if written_as_of is None else parse_as_of(None, None, written_as_of)  # type: ignore[arg-type]
    return evaluate(
        load_program(program_file),
        read_history(example_history(program_file)),
        None if customers_file is None else read_customers(customers_file),
        as_of,
    )


@pytest.mark.parametrize("suffix", list(READERS))
@pytest.mark.parametrize("program_file", PROGRAMS, ids=lambda path: path.stem)
def test_dry_run_output_writes_the_examples_ledger(
    tmp_path: Path, program_file: Path, suffix: str
) -> None:
    path = tmp_path / f"ledger{suffix}"
    result = CliRunner().invoke(cli, [*dry_run_arguments(program_file), "--output", str(path)])

    assert result.exit_code == 0, result.output
    expected = expected_rows(evaluate_example(program_file))
    wanted = as_csv_writes(expected) if suffix == ".csv" else expected
    assert exact(READERS[suffix](path)) == exact(wanted)
    assert result.stdout.endswith(f"Ledger: {len(expected)} entries written to {path}\n")


def test_dry_run_output_with_json_says_where_the_ledger_went(tmp_path: Path) -> None:
    program_file = PROGRAMS[0]
    path = tmp_path / "ledger.jsonl"
    arguments = [*dry_run_arguments(program_file), "--output", str(path), "--format", "json"]
    result = CliRunner().invoke(cli, arguments)

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["ledger"] == {"file": str(path), "entries": len(read_jsonl(path))}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--output", "out.ods"],
            "Invalid value for '--output': cannot tell the format of the ledger file "
            "out.ods from its extension; name it .parquet, .csv or .jsonl",
        ),
        (
            ["--output", "out.csv", "--format", "csv"],
            "--format csv prints the ledger; with --output choose --format table or json "
            "(write a CSV ledger with --output ledger.csv)",
        ),
        (
            ["--summary", "--explain", "--format", "json"],
            "--explain shows every event; it cannot go with --summary",
        ),
    ],
)
def test_output_options_that_do_not_go_together_are_usage_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, [*dry_run_arguments(PROGRAMS[0]), *options])

    assert result.exit_code == 2
    assert result.stderr.rstrip().endswith(f"Error: {message}")
    assert list(tmp_path.iterdir()) == []


def test_the_history_is_never_overwritten_by_the_ledger(tmp_path: Path) -> None:
    history = tmp_path / "history.csv"
    program_file = next(path for path in PROGRAMS if example_history(path).suffix == ".csv")
    history.write_bytes(example_history(program_file).read_bytes())
    before = history.read_bytes()
    result = CliRunner().invoke(
        cli, ["dry-run", str(program_file), str(history), "--output", str(history)]
    )

    assert result.exit_code == 2
    assert "is the history; write the ledger to another file" in result.stderr
    assert history.read_bytes() == before


def test_a_ledger_entry_is_one_row_whatever_its_reason_holds(tmp_path: Path) -> None:
    evaluation = points_and_discount_evaluation()
    first = evaluation.customers[0]
    odd = LedgerEntry(
        "p1", first.customer_id, "stars", "points", 5, None, None, first.ledger[0].money,
        'a reason with a "quote",\na line break and =1+1',
    )  # fmt: skip
    result = CustomerResult(first.customer_id, (odd,), 5, 5, 0, None, {}, first.save)
    for suffix, read in READERS.items():
        path = tmp_path / f"odd{suffix}"
        write_ledger([result], path, evaluation.money)
        assert [row[7] for row in read(path)] == [odd.reason]


def test_a_ledger_in_a_missing_folder_is_an_input_error_not_a_traceback(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "ledger.parquet"
    result = CliRunner().invoke(cli, [*dry_run_arguments(PROGRAMS[0]), "--output", str(target)])

    assert result.exit_code == 1
    assert result.stderr.startswith(f"cannot write the ledger file {target}: ")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_history_that_fails_leaves_no_ledger_file(tmp_path: Path) -> None:
    program_file = next(path for path in PROGRAMS if example_history(path).suffix == ".csv")
    history = tmp_path / "history.csv"
    lines = example_history(program_file).read_text(encoding="utf-8").splitlines()
    history.write_text("\n".join([*lines, lines[-1].replace("T", "X", 1)]) + "\n")
    target = tmp_path / "ledger.csv"
    result = CliRunner().invoke(
        cli, ["dry-run", str(program_file), str(history), "--output", str(target)]
    )

    assert result.exit_code == 1
    assert result.stderr.startswith(f"{history}:{len(lines) + 1}:")
    assert sorted(item.name for item in tmp_path.iterdir()) == ["history.csv"]


def test_one_customers_ledger_is_written_with_customer(tmp_path: Path) -> None:
    program_file = PROGRAMS[0]
    everybody = evaluate_example(program_file)
    chosen = everybody.customers[-1].customer_id
    target = tmp_path / "one.jsonl"
    arguments = [*dry_run_arguments(program_file), "--customer", chosen, "--output", str(target)]
    result = CliRunner().invoke(cli, arguments)

    assert result.exit_code == 0, result.output
    expected = [row for row in expected_rows(everybody) if row[0] == chosen]
    assert expected
    assert exact(read_jsonl(target)) == exact(expected)
