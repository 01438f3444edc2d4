"""``rewardrules sort-history IN OUT``: a history in the order that streams customer by customer.

The rows are sorted by customer id, then instant, then event id (ids and customer ids
compared as text, code point by code point), and the rows of one event stay adjacent and in
the order they were written. The output's format is told by its extension: ``.csv``,
``.jsonl`` (or ``.ndjson``) or ``.parquet`` (the columns of
:data:`rewardrules.histories.columns.HISTORY_SCHEMA`, ``line`` numbering the rows of the new file).

The whole history is held in memory while it is sorted (docs/histories.md says how to sort
a larger one with DuckDB). It is read with :func:`rewardrules.histories.columns.read_history_table`,
so every check of the readers applies.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final, Literal

import click
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rewardrules.cli._support import HistoryReading, guarded, history_options
from rewardrules.events import AnyEvent, CancelRedemption, Purchase, Redemption, Refund
from rewardrules.histories.columns import HISTORY_SCHEMA, payments_text, table_to_events

__all__ = ["SORT_KEYS", "is_sorted", "sort_history_table", "write_history"]

SORT_KEYS: Final = ("customer_id", "at", "event_id")
"""The order the engine streams in: customer, then instant, then event id."""

OutputFormat = Literal["csv", "jsonl", "parquet"]
_OUTPUT_FORMATS: Final[dict[str, OutputFormat]] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}
_CSV_COLUMNS: Final = (
    "event_id",
    "type",
    "customer_id",
    "at",
    "sku",
    "category",
    "quantity",
    "unit_price",
    "purchase_id",
    "store",
    "reward",
    "redemption_id",
)


def _order(table: pa.Table) -> pa.Array[Any]:
    """The row indices of the sorted table; the row number breaks ties, so the rows of
    one event (same customer, instant and id) keep their order."""
    numbered = table.select(list(SORT_KEYS)).append_column(
        "row", pa.array(range(table.num_rows), pa.int64())
    )
    keys: list[tuple[str, Literal["ascending"]]] = [
        (name, "ascending") for name in (*SORT_KEYS, "row")
    ]
    return pc.sort_indices(numbered, sort_keys=keys)


def sort_history_table(table: pa.Table) -> pa.Table:
    """A history table sorted by customer, instant and event id, events' rows kept together."""
    return table.take(_order(table))


def is_sorted(table: pa.Table) -> bool:
    """Whether a history table is already in :data:`SORT_KEYS` order."""
    return _is_identity(_order(table))


def _is_identity(order: pa.Array[Any]) -> bool:
    return bool(order.equals(pa.array(range(len(order)), order.type)))


def _output_format(path: Path) -> OutputFormat:
    found = _OUTPUT_FORMATS.get(path.suffix.lower())
    if found is None:
        raise click.BadParameter(
            f"cannot tell the format of {path} from its extension; "
            "name it .csv, .jsonl or .parquet",
            param_hint="'OUT'",
        )
    return found


def write_history(table: pa.Table, path: str | os.PathLike[str]) -> None:
    """Write a history table as CSV, JSON Lines or Parquet, told by the extension.

    CSV and JSON Lines are written as docs/histories.md describes them (timestamps with the
    offset they were written with, amounts as exact decimals); Parquet keeps the table's
    columns and numbers ``line`` as the rows of the new file. The file is written under a
    temporary name and moved into place at the end.

    Raises:
        click.BadParameter: the extension is not one of those.
        OSError: the file cannot be written.
    """
    target = Path(path)
    fmt = _output_format(target)
    partial = target.with_name(f".{target.name}.partial")
    try:
        if fmt == "parquet":
            lines = pa.array(range(1, table.num_rows + 1), pa.int64())
            renumbered = table.set_column(table.schema.get_field_index("line"), "line", lines)
            pq.write_table(renumbered.cast(HISTORY_SCHEMA), partial)
        else:
            events = table_to_events(table, source=str(target))
            with partial.open("w", encoding="utf-8", newline="") as stream:
                if fmt == "csv":
                    paid = "payments" in table.column_names
                    _write_csv(events, stream, paid and table["payments"].null_count < len(table))
                else:
                    for event in events:
                        stream.write(event.model_dump_json(exclude_none=True))
                        stream.write("\n")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def _write_csv(events: Iterable[AnyEvent], stream: object, payments: bool = False) -> None:
    """The events as CSV rows; with ``payments``, a ``payments`` column too."""
    writer = csv.writer(stream, lineterminator="\n")  # type: ignore[arg-type]
    writer.writerow((*_CSV_COLUMNS, "payments") if payments else _CSV_COLUMNS)
    more: tuple[str | None, ...] = (None,) if payments else ()
    for event in events:
        first = (event.id, event.type, event.customer_id, event.at.isoformat())
        if isinstance(event, Purchase):
            paid = more
            if payments and event.payments is not None:
                paid = (payments_text(event.payments),)
            for line in event.lines:
                price = format(line.unit_price, "f")
                bought = (line.sku, line.category, line.quantity, price, None, event.store)
                writer.writerow((*first, *bought, None, None, *paid))
        elif isinstance(event, Refund):
            for returned in event.lines or (None,):
                sku = None if returned is None else returned.sku
                quantity = None if returned is None else returned.quantity
                returned_cells = (sku, None, quantity, None, event.purchase_id, None, None, None)
                writer.writerow((*first, *returned_cells, *more))
        elif isinstance(event, Redemption):
            units = None if event.quantity == 1 else event.quantity
            redeemed = (None, None, units, None, None, None, event.reward, None)
            writer.writerow((*first, *redeemed, *more))
        elif isinstance(event, CancelRedemption):
            writer.writerow((*first, *(None,) * 7, event.redemption_id, *more))


@click.command("sort-history")
@click.argument("in_file", metavar="IN", type=click.Path(path_type=Path))
@click.argument("out_file", metavar="OUT", type=click.Path(dir_okay=False, path_type=Path))
@history_options
def sort_history(in_file: Path, out_file: Path, reading: HistoryReading) -> None:
    """Sort a history by customer, instant and event id, for bounded-memory runs.

    Reads IN (CSV, JSON Lines, JSON, Parquet, or - for standard input) and writes OUT as
    .csv, .jsonl or .parquet; the rows of one event stay together and in order. The whole
    history is held in memory: for a file larger than memory, see docs/histories.md (DuckDB
    sorts on disk).
    """
    _output_format(out_file)

    def read() -> pa.Table:
        return reading.read_table(in_file)

    table = guarded(read)
    order = _order(table)
    already = _is_identity(order)
    try:
        write_history(table if already else table.take(order), out_file)
    except OSError as error:
        click.echo(f"cannot write {out_file}: {error.strerror or error}", err=True)
        raise SystemExit(1) from None
    note = " (it was already in that order)" if already else ""
    click.echo(
        f"{out_file}: {table.num_rows} rows of {in_file} sorted by customer, instant and "
        f"event id{note}"
    )
