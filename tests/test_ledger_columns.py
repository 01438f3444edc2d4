"""A ledger kept as columns end to end: written, totalled and summarised with no entry made.

The batch engine's results are written through ``ledger_sums.ledger_pieces`` and
``LedgerFile.write_table``, read back with readers that know nothing of rewardrules
(pyarrow, ``csv``, ``json``), and compared with the **reference** engine's ledger; the
column-wise totals and summary are compared with the entry-by-entry ones.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rewardrules.cli.main import cli
from rewardrules.engine.ledger import ENTRY_SUMS, EntryKind, Evaluation, total
from rewardrules.evaluation.batch import UnsupportedError
from rewardrules.evaluation.batch import unsupported as batch_unsupported
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import AnyEvent
from rewardrules.histories.read import read_history
from rewardrules.money import currency
from rewardrules.program.model import Program
from rewardrules.rulefiles.loader import load_program
from rewardrules.tools._ledger_text import csv_text, json_lines_text
from rewardrules.tools.export import LEDGER_COLUMNS, ledger_row
from rewardrules.tools.ledger_files import LedgerFile, ledger_schema, write_ledger
from rewardrules.tools.ledger_sums import (
    FIGURES,
    coded_figures,
    entry_figures,
    grouped_figures,
    ledger_pieces,
    minor_units,
)
from rewardrules.tools.summary import SummaryBuilder, entry_months
from strategies import cutoffs, histories, lifecycle_histories, lifecycle_programs, programs
from test_batch_engine import SUPPORTED_KINDS
from test_examples import EXAMPLES, PROGRAMS, dry_run_arguments, history_of
from test_ledger_files import READERS, as_csv_writes, evaluate_example, exact, expected_rows

DRAWN_PROGRAMS = st.one_of(programs(kinds=SUPPORTED_KINDS, points_tiers=True), lifecycle_programs())
DRAWN_HISTORIES = st.one_of(histories(refunds=True, payments=True), lifecycle_histories())


def both_engines(
    program: Program, events: list[AnyEvent], as_of: date | datetime | None
) -> tuple[Evaluation, Evaluation]:
    """The reference's evaluation and the batch engine's; a refusal discards the draw."""
    reference = evaluate(program, events, None, as_of)
    try:
        columnar = evaluate(program, events, None, as_of, engine="batch")
    except UnsupportedError:
        assume(False)
        raise  # pragma: no cover - assume(False) does not return
    return reference, columnar


def write_columns(evaluation: Evaluation, path: Path, size: int) -> int:
    """Write a ledger as dry-run does: tables of the results' columns, no entry made."""
    with LedgerFile(path, evaluation.money) as ledger:
        for piece in ledger_pieces(evaluation.customers, evaluation.money, size):
            ledger.write_table(piece.table)
    return ledger.entries


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(
    program=DRAWN_PROGRAMS,
    events=DRAWN_HISTORIES,
    as_of=cutoffs(),
    size=st.integers(1, 5),
)
def test_a_columnar_ledger_read_back_is_the_reference_engines_ledger(
    tmp_path: Path,
    program: Program,
    events: list[AnyEvent],
    as_of: date | datetime | None,
    size: int,
) -> None:
    reference, columnar = both_engines(program, events, as_of)
    expected = expected_rows(reference)
    for suffix, read in READERS.items():
        path = tmp_path / f"ledger{suffix}"
        assert write_columns(columnar, path, size) == len(expected)
        wanted = as_csv_writes(expected) if suffix == ".csv" else expected
        assert exact(read(path)) == exact(wanted)
        if suffix != ".parquet":
            entry_by_entry = tmp_path / f"reference{suffix}"
            write_ledger(reference.customers, entry_by_entry, reference.money)
            assert path.read_bytes() == entry_by_entry.read_bytes()


@settings(max_examples=60)
@given(program=DRAWN_PROGRAMS, events=DRAWN_HISTORIES, as_of=cutoffs(), size=st.integers(1, 4))
def test_column_sums_are_the_totals_and_the_summary_of_the_reference_ledger(
    program: Program, events: list[AnyEvent], as_of: date | datetime | None, size: int
) -> None:
    reference, columnar = both_engines(program, events, as_of)
    pieces = list(ledger_pieces(columnar.customers, columnar.money, size))
    assert all(piece.table.num_rows <= size for piece in pieces)
    tables = [piece.table for piece in pieces] or [ledger_schema(columnar.money).empty_table()]
    table = pa.concat_tables(tables)
    everything = pa.nulls(table.num_rows, pa.string())
    found = dict.fromkeys(FIGURES, 0)
    for _, sums in grouped_figures(entry_figures(table), {"all": everything}):
        found = sums
    counts = dict.fromkeys(("customers", "purchases", "refunds", "gross_spend"), 0)
    figures = total(reference.entries, money=reference.money, point_value=Decimal(1), **counts)
    assert {name: found[name] for name in ENTRY_SUMS} == {
        name: getattr(figures, name) for name in ENTRY_SUMS
    }
    assert found["entries"] == len(reference.entries)

    # The summary from columns is the summary counted entry by entry.
    by_entry = SummaryBuilder(program)
    for _ in by_entry.watch(events):  # notes each event's month
        pass
    for result in reference.customers:
        by_entry.add(result)
    by_column = SummaryBuilder(program)
    months = by_entry.known_months()
    for piece in pieces:
        by_column.add_piece(piece, entry_months(piece.table["event_id"], months, program))
    assert by_column.finish(reference.totals) == by_entry.finish(reference.totals)
    assert by_column.month_rules() == by_entry.month_rules()

    # And from the batch engine's integer columns: months from the events' local dates,
    # no text read but the ids of entries that name no event of the evaluation.
    assert all(piece.codes is not None for piece in pieces if piece.table.num_rows)
    by_codes = SummaryBuilder(program)
    for piece in pieces:
        by_codes.count_piece(piece, lambda: pytest.fail("the months were asked for"))
    assert by_codes.finish(reference.totals) == by_entry.finish(reference.totals)
    assert by_codes.month_rules() == by_entry.month_rules()


KINDS = list(get_args(EntryKind))
AMOUNTS = st.one_of(st.none(), st.integers(-5, 5), st.integers(-(2**62), 2**62))


@settings(max_examples=200)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(KINDS), AMOUNTS, AMOUNTS, AMOUNTS, st.integers(0, 2), st.integers(0, 1)
        ),
        max_size=30,
    )
)
def test_figures_summed_from_integer_columns_are_the_figures_summed_entry_by_entry(
    rows: list[tuple[str, int | None, int | None, int | None, int, int]],
) -> None:
    # Amounts up to 2**62 on purpose: their sums no longer fit in int64.
    money = currency("USD")
    table = pa.table(
        {
            "kind": pa.array([row[0] for row in rows], pa.string()),
            "points": pa.array([row[1] for row in rows], pa.int64()),
            "value": pa.array(
                [None if row[2] is None else Decimal(row[2]).scaleb(-2) for row in rows],
                ledger_schema(money).field("value").type,
            ),
            "units": pa.array([row[3] for row in rows], pa.int64()),
        }
    )
    keys = {"a": pa.array([row[4] for row in rows]), "b": pa.array([row[5] for row in rows])}
    expected = {(a, b): sums for (a, b), sums in grouped_figures(entry_figures(table), keys)}

    kinds = np.asarray([KINDS.index(row[0]) for row in rows], dtype=np.int64)
    amounts = tuple(
        np.asarray([row[place] or 0 for row in rows], dtype=np.int64) for place in (1, 2, 3)
    )
    columns = [np.asarray([row[place] for row in rows], dtype=np.int64) for place in (4, 5)]
    found: dict[tuple[int, ...], dict[str, int]] = {}
    given: dict[tuple[int, ...], list[int]] = {}
    for key, kind, sums, summed in coded_figures(kinds, KINDS, amounts, columns, [3, 2]):
        assert kind in KINDS
        group = found.setdefault(key, dict.fromkeys(FIGURES, 0))
        for name, value in sums.items():
            group[name] += value
        mine = given.setdefault(key, [0, 0, 0])
        for place, value in enumerate(summed):
            mine[place] += value
    assert found == expected
    for (a, b), mine in given.items():
        chosen = [row for row in rows if (row[4], row[5]) == (a, b)]
        assert mine == [sum(row[place] or 0 for row in chosen) for place in (1, 2, 3)]


_PROFILE_KINDS = frozenset({"birthday", "signup_bonus", "referral"})


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(
    program=DRAWN_PROGRAMS,
    events=DRAWN_HISTORIES,
    as_of=cutoffs(),
    per_chunk=st.integers(1, 3),
    size=st.integers(1, 5),
)
def test_reasons_kept_across_chunks_of_customers_are_each_entrys_own(
    tmp_path: Path,
    program: Program,
    events: list[AnyEvent],
    as_of: date | datetime | None,
    per_chunk: int,
    size: int,
) -> None:
    # As a streamed dry-run does: customers evaluated a few at a time, every chunk's
    # ledger written with one memo of reasons (a text written for one chunk serves the
    # next); the file read back is the reference engine's ledger, entry for entry.
    assume(not any(rule.kind in _PROFILE_KINDS for rule in program.rules))
    reference, _ = both_engines(program, events, as_of)
    customers = sorted({event.customer_id for event in events})
    path = tmp_path / "ledger.parquet"
    memo: dict[Any, Any] = {}
    with LedgerFile(path, program.money) as ledger:
        for first in range(0, len(customers), per_chunk):
            chosen = set(customers[first : first + per_chunk])
            chunk = [event for event in events if event.customer_id in chosen]
            columnar = evaluate(program, chunk, None, as_of, engine="batch")
            for piece in ledger_pieces(columnar.customers, columnar.money, size, memo):
                ledger.write_table(piece.table)
    assert exact(READERS[".parquet"](path)) == exact(expected_rows(reference))


def test_each_customer_is_counted_once_however_the_ledger_is_cut() -> None:
    program = EXAMPLES / "coffee-club.yaml"
    columnar = evaluate(load_program(program), read_history(history_of(program)), engine="batch")
    assert len(columnar.customers) >= 3
    for size in (1, 2, 3, 1000):
        pieces = list(ledger_pieces(columnar.customers, columnar.money, size))
        tiers = [tier for piece in pieces for tier in piece.customer_tiers.to_pylist()]
        assert tiers == [result.tier for result in columnar.customers]
        per_entry = [tier for piece in pieces for tier in piece.tiers.to_pylist()]
        assert per_entry == [result.tier for result in columnar.customers for _ in result.ledger]


# The examples the batch engine evaluates: the others use an option it refuses by name
# (pet-shop, airline-status, card-rewards, ...), or migrated-bookshop, whose customers
# file opens balances and grants tiers.
BATCH_EXAMPLES = [
    path
    for path in PROGRAMS
    if path.stem != "migrated-bookshop" and not batch_unsupported(load_program(path))
]


@pytest.mark.parametrize("suffix", list(READERS))
@pytest.mark.parametrize("program_file", BATCH_EXAMPLES, ids=lambda path: path.stem)
def test_the_batch_engines_dry_run_output_is_the_reference_ledger_of_each_example(
    tmp_path: Path, program_file: Path, suffix: str
) -> None:
    path = tmp_path / f"ledger{suffix}"
    arguments = [*dry_run_arguments(program_file), "--engine", "batch", "--output", str(path)]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 0, result.output
    expected = expected_rows(evaluate_example(program_file))
    wanted = as_csv_writes(expected) if suffix == ".csv" else expected
    assert exact(READERS[suffix](path)) == exact(wanted)
    assert result.stdout.endswith(f"Ledger: {len(expected)} entries written to {path}\n")


# --- text, column by column --------------------------------------------------------------

CELLS = st.text(
    alphabet=st.sampled_from(
        [
            "a",
            "Z",
            " ",
            ",",
            '"',
            "'",
            "=",
            "+",
            "-",
            "@",
            "\\",
            "\t",
            "\r",
            "\n",
            "\b",
            "\f",
            "\x00",
            "\x1f",
            "\x7f",
            "é",
            "€",
            "\u2028",
            "😀",
            "{",
            "}",
            ":",
        ]
    ),
    max_size=8,
)
AMOUNTS = st.one_of(st.none(), st.integers(-(10**12), 10**12))


@given(
    st.lists(
        st.tuples(CELLS, CELLS, CELLS, CELLS, AMOUNTS, AMOUNTS, AMOUNTS, CELLS),
        max_size=12,
    ),
    st.sampled_from(["JPY", "USD", "BHD"]),
)
def test_csv_and_json_lines_made_from_columns_are_the_entry_writers_bytes(
    rows: list[tuple[Any, ...]], code: str
) -> None:
    money = currency(code)
    names = LEDGER_COLUMNS
    columns = {name: [row[place] for row in rows] for place, name in enumerate(names)}
    minor = columns["value"]
    columns["value"] = [None if value is None else money.to_decimal(value) for value in minor]
    schema = ledger_schema(money)
    table = pa.Table.from_pydict(columns, schema=schema)
    typed = [(*row[:5], columns["value"][index], *row[6:]) for index, row in enumerate(rows)]

    stream = io.StringIO(newline="")
    entries = [_Entry(*row) for row in typed]
    csv.writer(stream, lineterminator="\r\n").writerows(ledger_row(e) for e in entries)  # type: ignore[arg-type]
    assert csv_text(table) == stream.getvalue()

    lines = "".join(
        json.dumps(
            {
                **dict(zip(names, row, strict=True)),
                "value": None if row[5] is None else str(row[5]),
            },
            ensure_ascii=False,
        )
        + "\n"
        for row in typed
    )
    assert json_lines_text(table) == lines
    assert minor_units(table["value"]).tolist() == [value or 0 for value in minor]


class _Entry:
    """What ``ledger_row`` reads of an entry."""

    def __init__(self, *row: Any) -> None:
        for name, value in zip(LEDGER_COLUMNS, row, strict=True):
            setattr(self, name, value)
