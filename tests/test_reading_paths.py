"""Every way of reading a history gives the same result, or refuses it with the same message.

Small hostile CSV histories are drawn (repeated event ids, adjacent or not; ids, customer
ids and skus in NFC and NFD spellings of one text; the rows of one event disagreeing in
customer, time or type; refunds of a known, an unknown or another customer's purchase;
quantities and prices at their edges; empty cells), written as CSV and as Parquet (the CSV
read by Arrow with text ``at`` and ``unit_price`` cells, or every cell as text, empty ones
as "" or as null, as an export read by Arrow gives them) and evaluated by:

1. the CSV row reader, ``read_history``, and the reference engine;
2. ``read_history_table`` of the CSV file, with the batch and the reference engines;
3. ``read_history_table`` of the Parquet file, with both engines.

What is compared: that every path accepts a history or every path refuses it; for a
history accepted, each customer's id, points (all, available, pending), tier and ledger
entries (as text); for one refused, the message: the same from every path for a history of
one event; for several, the same from the CSV and the Parquet file read by the table
reader, engine by engine, and from the row and the table reader with the reference engine
when the events' ids are distinct (which of several problems comes first may differ
between the engines, and between the readers when an id is repeated; see the test).
Messages are compared as ``str(error)`` without its location (a CSV line, a Parquet row or
``<table>``, whose numbering differs between the formats, so each problem's leading
``file:line:column:`` or ``<table>:`` is cut off, and a line or row named in a message,
"repeats line 2" of a CSV file and "repeats row 1" of a Parquet one, is read as
"line/row N", before comparing).

A second test runs ``dry-run --engine batch --output ledger.parquet`` on both files, in
chunks of 1 to 3 rows and whole, and compares the two runs (see its docstring).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from unittest.mock import patch

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from rewardrules import evaluate, load_program
from rewardrules.cli.main import cli
from rewardrules.errors import HistoryError
from rewardrules.evaluation.batch import UnsupportedError
from rewardrules.histories.columns import read_history_table
from rewardrules.histories.read import read_history

PROGRAM_FILE = Path(__file__).parent.parent / "rules" / "examples" / "coffee-club.yaml"
PROGRAM = load_program(PROGRAM_FILE)
HEADER = "event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id\n"
TEXT_CELLS = pa_csv.ConvertOptions(column_types={"at": pa.string(), "unit_price": pa.string()})
ALL_TEXT = {name: pa.string() for name in HEADER.strip().split(",")}
PARQUET_CELLS = st.sampled_from(
    [
        TEXT_CELLS,  # the rest as Arrow infers them: all-empty columns of the null type
        pa_csv.ConvertOptions(column_types=ALL_TEXT),  # empty cells as ""
        pa_csv.ConvertOptions(column_types=ALL_TEXT, strings_can_be_null=True),
    ]
)
"""How Arrow read the CSV export that became the Parquet file: the written table's types."""


def spellings(text: str) -> list[str]:
    return [unicodedata.normalize("NFC", text), unicodedata.normalize("NFD", text)]


EVENT_IDS = ["p1", "p2", "p3", "p4", *spellings("p-\u00e9")]
CUSTOMERS = ["c1", "c2", *spellings("caf\u00e9")]
SKUS = ["latte", "mug", *spellings("cr\u00e8me")]
CATEGORIES = ["", "coffee", "merch"]
MOMENTS = [
    "2026-03-01T09:30:00Z",
    "2026-03-01T09:30:00+01:00",
    "2026-03-14T12:00:00Z",
    "",
]
QUANTITIES = ["1", "2", "0", "-1", "", "1000000"]
PRICES = ["4.50", "120.00", "0", "0.00", "-1.00", "0.001", "", "99999999.99"]


def mostly(ordinary: list[str], edges: list[str]) -> st.SearchStrategy[str]:
    """An ordinary cell four times in five, else one at an edge (or empty): a history with
    a single bad cell is more telling than one bad everywhere."""
    return st.sampled_from(ordinary * 4 * len(edges) + edges * len(ordinary))


@dataclass(frozen=True)
class Row:
    event_id: str
    type: str
    customer_id: str
    at: str
    sku: str
    category: str
    quantity: str
    unit_price: str
    purchase_id: str

    def csv(self) -> str:
        return ",".join(
            [
                self.event_id,
                self.type,
                self.customer_id,
                self.at,
                self.sku,
                self.category,
                self.quantity,
                self.unit_price,
                self.purchase_id,
            ]
        )


@st.composite
def events(draw: st.DrawFn) -> list[Row]:
    """One event's rows: a purchase's lines or a refund's (whole or partial), each row maybe
    disagreeing with the first in customer, time or type."""
    event_id = draw(st.sampled_from([*EVENT_IDS, "r1"]))
    kind = draw(st.sampled_from(["purchase", "purchase", "refund"]))
    customer = draw(st.sampled_from(CUSTOMERS))
    moment = draw(mostly(MOMENTS[:3], MOMENTS[3:]))
    purchase_id = ""
    if kind == "refund":
        purchase_id = draw(st.sampled_from([*EVENT_IDS, "nope"]))
    rows = []
    whole = kind == "refund" and draw(st.booleans())  # one row, sku and quantity empty
    skus = draw(st.lists(st.sampled_from(SKUS), min_size=1, max_size=1 if whole else 3))
    for sku in skus:
        row = Row(
            event_id=event_id,
            type=kind,
            customer_id=customer,
            at=moment,
            sku=sku,
            category=draw(st.sampled_from(CATEGORIES)) if kind == "purchase" else "",
            quantity=draw(mostly(QUANTITIES[:2], QUANTITIES[2:])),
            unit_price=(draw(mostly(PRICES[:2], PRICES[2:])) if kind == "purchase" else ""),
            purchase_id=purchase_id,
        )
        if whole:
            row = Row(**{**row.__dict__, "sku": "", "quantity": ""})
        disagreement = draw(st.sampled_from([None] * 12 + ["customer_id", "at", "type"]))
        if disagreement == "customer_id":
            row = Row(**{**row.__dict__, "customer_id": draw(st.sampled_from(CUSTOMERS))})
        elif disagreement == "at":
            row = Row(**{**row.__dict__, "at": draw(st.sampled_from(MOMENTS))})
        elif disagreement == "type":
            row = Row(**{**row.__dict__, "type": draw(st.sampled_from(["purchase", "refund"]))})
        rows.append(row)
    return rows


histories = st.lists(events(), min_size=1, max_size=5)

LOCATION = re.compile(r"^(?:<table>|.*?:\d+(?::\d+)?): ", re.MULTILINE)
LINE_OR_ROW = re.compile(r"\b(?:line|row) \d+\b")


DECLINED = ("declined by the batch engine",)


def outcome(run: object) -> object:
    """What a path gave: each customer's results as text, or its refusal's message."""
    try:
        evaluation = run()  # type: ignore[operator]
    except UnsupportedError:
        return DECLINED
    except HistoryError as error:
        return ("refused", LINE_OR_ROW.sub("line/row N", LOCATION.sub("", str(error))))
    return tuple(
        (
            customer.customer_id,
            customer.points,
            customer.available_points,
            customer.pending_points,
            customer.tier,
            tuple(repr(entry) for entry in customer.ledger),
        )
        for customer in evaluation.customers
    )


@given(histories, PARQUET_CELLS)
def test_every_reading_path_gives_the_same_result_or_the_same_refusal(
    drawn: list[list[Row]], cells: pa_csv.ConvertOptions
) -> None:
    rows = [row for event in drawn for row in event]
    with TemporaryDirectory() as directory:
        csv_path = Path(directory) / "h.csv"
        csv_path.write_text(HEADER + "".join(row.csv() + "\n" for row in rows), encoding="utf-8")
        parquet_path = Path(directory) / "h.parquet"
        pq.write_table(pa_csv.read_csv(csv_path, convert_options=cells), parquet_path)
        outcomes = {
            "csv rows, reference": outcome(
                lambda: evaluate(PROGRAM, list(read_history(csv_path)), engine="reference")
            ),
        }
        for name, path in (("csv", csv_path), ("parquet", parquet_path)):
            for engine in ("reference", "batch"):
                outcomes[f"{name} table, {engine}"] = outcome(
                    lambda path=path, engine=engine: evaluate(
                        PROGRAM, read_history_table(path), engine=engine
                    )
                )
    # The batch engine declines by name (UnsupportedError) an amount past its integers, such
    # as 1,000,000 mugs at 99,999,999.99: a refusal of the engine, not of the reading, which
    # the reference then evaluates; such a path is left out of the comparison.
    declined = {name for name, result in outcomes.items() if result == DECLINED}
    assert all(name.endswith("batch") for name in declined), outcomes
    compared = {name: result for name, result in outcomes.items() if name not in declined}
    first = compared["csv rows, reference"]
    # An accepted history, or a refused one of a single event: one outcome everywhere.
    if first[0] != "refused" or len(drawn) == 1:
        assert all(other == first for other in compared.values()), outcomes
        return
    # Refused, with several events: every path refuses, and the CSV and the Parquet file
    # read by the table reader give one message for each engine. Which problem comes first
    # when there are several of different kinds may differ between the engines
    # (batch-engine.md: a refund of an unknown purchase p1 and, at the same instant, a
    # purchase p2 priced 0.001 are refused by the reference for the refund and by the
    # batch engine for the price) and, when two events share an id, between the row
    # reader and the table reader (docs/histories.md: two adjacent refunds of an unknown
    # purchase with ids spelt "p-\u00e9" then "p-e\u0301" are refused by the row reader's
    # fold for the unknown purchase, met first, and by the table reader for the repeated
    # id, which it checks before evaluating anything). With distinct ids, the row reader
    # and the table reader give the reference engine the same first problem.
    assert all(other[0] == "refused" for other in compared.values()), outcomes
    for engine in ("reference", "batch"):
        pair = [compared.get(f"{name} table, {engine}") for name in ("csv", "parquet")]
        assert None in pair or pair[0] == pair[1], outcomes
    ids = [unicodedata.normalize("NFC", event[0].event_id) for event in drawn]
    if len(set(ids)) == len(ids):
        assert compared["csv table, reference"] == first, outcomes


def dry_run(history: Path, ledger: Path, chunk_rows: str) -> tuple[int, object, str, object]:
    """The batch engine's dry-run writing ``ledger``, in chunks of ``chunk_rows`` rows: its
    exit code, its summary (without the ledger file's name), its errors, and the ledger."""
    arguments = ["dry-run", str(PROGRAM_FILE), str(history), "--engine", "batch"]
    arguments += ["--output", str(ledger), "--format", "json"]
    ledger.parent.mkdir(parents=True)
    with patch.dict(os.environ, {"REWARDRULES_CHUNK_ROWS": chunk_rows}):
        result = CliRunner().invoke(cli, arguments)
    summary: object = None
    if result.exit_code == 0:
        document = json.loads(result.stdout)
        document.pop("ledger", None)
        summary = document
    errors = LINE_OR_ROW.sub("line/row N", result.stderr.replace(str(ledger.parent), "<dir>"))
    written = pq.read_table(ledger).to_pylist() if ledger.exists() else None
    return result.exit_code, summary, errors, written


@settings(max_examples=max(10, settings.default.max_examples // 4))
@given(histories, PARQUET_CELLS, st.sampled_from(["1", "2", "3"]))
def test_a_streamed_dry_run_gives_the_whole_runs_ledger_and_summary_or_refuses_too(
    drawn: list[list[Row]], cells: pa_csv.ConvertOptions, chunk_rows: str
) -> None:
    """``dry-run --engine batch --output ledger.parquet`` of the CSV and the Parquet file, in
    chunks of 1 to 3 rows and whole: the same exit code, summary and ledger rows; for a
    refused history of one event, the same message (for several, which problem comes first
    may differ between chunks and the whole file, docs/histories.md)."""
    rows = [row for event in drawn for row in event]
    with TemporaryDirectory() as directory:
        folder = Path(directory)
        csv_path = folder / "h.csv"
        csv_path.write_text(HEADER + "".join(row.csv() + "\n" for row in rows), encoding="utf-8")
        parquet_path = folder / "h.parquet"
        pq.write_table(pa_csv.read_csv(csv_path, convert_options=cells), parquet_path)
        # The Parquet chunker cuts between customers as the checks will read their ids
        # (NFC): one customer spelt "caf\u00e9" on one row and "cafe\u0301" on the next is
        # never cut into two chunks evaluated apart (it was, losing p2's Silver discount).
        for history in (csv_path, parquet_path):
            runs = folder / history.suffix.lstrip(".")
            whole = dry_run(history, runs / "whole" / "ledger.parquet", "1000000")
            streamed = dry_run(history, runs / "streamed" / "ledger.parquet", chunk_rows)
            if whole[0] == 0 or len(drawn) == 1:
                assert streamed == whole
            else:
                assert (streamed[0], streamed[3]) == (whole[0], None)


def streamed_errors(history: Path, chunk_rows: int) -> tuple[int, str]:
    """The exit code and the error text (its location included) of a streamed batch
    dry-run in chunks of ``chunk_rows`` rows."""
    with TemporaryDirectory() as directory:
        arguments = ["dry-run", str(PROGRAM_FILE), str(history), "--engine", "batch"]
        arguments += ["--output", str(Path(directory) / "ledger.parquet"), "--summary"]
        with patch.dict(os.environ, {"REWARDRULES_CHUNK_ROWS": str(chunk_rows)}):
            result = CliRunner().invoke(cli, arguments)
    return result.exit_code, result.stderr


def write_purchases(folder: Path, events: list[tuple[str, str]]) -> tuple[Path, Path]:
    """A CSV history of one-row purchases (event id, customer id), and it as Parquet."""
    csv_path = folder / "h.csv"
    rows = "".join(
        f"{event},purchase,{customer},2026-03-01T09:30:00Z,latte,,1,4.50,\n"
        for event, customer in events
    )
    csv_path.write_text(HEADER + rows, encoding="utf-8")
    parquet_path = folder / "h.parquet"
    pq.write_table(pa_csv.read_csv(csv_path, convert_options=TEXT_CELLS), parquet_path)
    return csv_path, parquet_path


NFC_ID, NFD_ID = spellings("p-\u00e9")
SAME_ID = "event p-\u00e9: another event has the same id; event ids must be unique\n"
SPLIT = (
    "event_id: event 'p1' appears again (its first rows start on {}); the rows of one "
    "event must be adjacent, and an event id is used by one event only (remove the rows of "
    "a re-sent export before reading)\n"
)


@pytest.mark.parametrize(
    ("events", "csv_error", "parquet_error"),
    [
        # One id spelt two ways (NFC, NFD), by two customers, adjacent or not: the reader's
        # "same id", at the id's first row, in every chunking. Streamed Parquet said
        # split-event when the two fell in two chunks, and a CSV history read whole then cut
        # into chunks of one or two rows was accepted, each chunk's engine seeing one event.
        ([(NFC_ID, "c1"), (NFD_ID, "c2")], "h.csv:2:1: " + SAME_ID, "h.parquet:1:1: " + SAME_ID),
        ([(NFD_ID, "c1"), (NFC_ID, "c2")], "h.csv:2:1: " + SAME_ID, "h.parquet:1:1: " + SAME_ID),
        (
            [(NFC_ID, "c1"), ("p2", "c1"), (NFD_ID, "c2")],
            "h.csv:2:1: " + SAME_ID,
            "h.parquet:1:1: " + SAME_ID,
        ),
        (
            [(NFD_ID, "c1"), ("p2", "c1"), (NFC_ID, "c2")],
            "h.csv:2:1: " + SAME_ID,
            "h.parquet:1:1: " + SAME_ID,
        ),
        (
            [("p0", "c0"), (NFC_ID, "c1"), (NFD_ID, "c2")],
            "h.csv:3:1: " + SAME_ID,
            "h.parquet:2:1: " + SAME_ID,
        ),
        # One id written alike, reused by another customer: split-event where it comes back.
        (
            [("p1", "c1"), ("p2", "c1"), ("p1", "c2")],
            "h.csv:4:1: " + SPLIT.format("line 2"),
            "h.parquet:3:1: " + SPLIT.format("row 1"),
        ),
    ],
    ids=["nfc-nfd", "nfd-nfc", "nfc-nfd apart", "nfd-nfc apart", "nfc-nfd third", "written alike"],
)
def test_a_repeated_event_id_is_refused_alike_however_the_chunks_fall(
    tmp_path: Path, events: list[tuple[str, str]], csv_error: str, parquet_error: str
) -> None:
    csv_path, parquet_path = write_purchases(tmp_path, events)
    for history, error in ((csv_path, csv_error), (parquet_path, parquet_error)):
        expected = (1, f"{tmp_path}/{error}")
        for chunk_rows in [*range(1, len(events) + 1), 1_000_000]:
            assert streamed_errors(history, chunk_rows) == expected, (history, chunk_rows)


@settings(max_examples=max(5, settings.default.max_examples // 20))
@example(events=[(NFC_ID, "c1"), (NFD_ID, "c2")])  # split-event in two chunks, was
@example(events=[(NFC_ID, "c1"), ("p2", "c1"), (NFD_ID, "c2")])  # accepted from CSV, was
@given(
    st.lists(
        st.tuples(st.sampled_from(["p1", "p2", NFC_ID, NFD_ID]), st.sampled_from(CUSTOMERS)),
        min_size=2,
        max_size=5,
    )
)
def test_a_history_with_one_repeated_id_gets_one_refusal_in_every_chunking(
    events: list[tuple[str, str]],
) -> None:
    """One-row purchases whose only problem may be one event id used by two events (as
    written, or spelt two ways), customers in any order: a streamed dry-run of the CSV and
    the Parquet file gives the whole run's exit code and message, location included, in
    chunks of every size from one row to all."""
    written = [event for event, _ in events]
    assume(all(one != other for one, other in itertools.pairwise(written)))
    ids = [unicodedata.normalize("NFC", event) for event in written]
    assume(len(ids) - len(set(ids)) <= 1)
    with TemporaryDirectory() as directory:
        for history in write_purchases(Path(directory), events):
            whole = streamed_errors(history, 1_000_000)
            for chunk_rows in range(1, len(events) + 1):
                assert streamed_errors(history, chunk_rows) == whole, (history, chunk_rows)
