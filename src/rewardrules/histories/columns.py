"""Histories as Apache Arrow tables: the column layout, and the way between events and rows.

A history table has one row per purchase line, per refund line (or one row for a refund of
everything that is left), per redemption (its ``quantity`` the units redeemed) and per
cancellation of a redemption (its ``redemption_id`` the redemption it cancels). The rows of
one event are adjacent, and the table keeps the order of the file it came from. ``line``
says where a row came from (the line of a CSV or JSON Lines file, the element of a JSON
file, the row of a Parquet file), so that an error about a row can point at it.

Amounts are ``decimal128(38, 12)``: exact, in currency units, as written; the engine turns
them into whole minor units of the program's currency and refuses a finer amount there.

A purchase's payments are the optional text column ``payments``, written as a CSV file
writes them (``method:amount`` pairs separated by spaces, amounts with a decimal point), on
every row of the purchase; null where none are recorded (docs/histories.md#payments).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from rewardrules._model_errors import ModelInputError
from rewardrules.errors import (
    REPEATED_EVENT_ID,
    HistoryError,
    Location,
    Problem,
    event_error,
    format_path,
)
from rewardrules.events import (
    AnyEvent,
    CancelRedemption,
    Customer,
    Line,
    Payment,
    Purchase,
    Redemption,
    Refund,
    RefundLine,
)

__all__ = [
    "CUSTOMERS_SCHEMA",
    "HISTORY_SCHEMA",
    "customers_to_table",
    "events_to_table",
    "read_customers_table",
    "read_history_table",
    "table_to_customers",
    "table_to_events",
]

AMOUNT = pa.decimal128(38, 12)
"""An exact amount in currency units: 26 digits before the point, 12 after."""
INSTANT = pa.timestamp("us", tz="UTC")

_HISTORY_FIELDS: list[pa.Field[Any]] = [
    pa.field("event_id", pa.string(), nullable=False),
    pa.field("type", pa.string(), nullable=False),
    pa.field("customer_id", pa.string(), nullable=False),
    pa.field("at", INSTANT, nullable=False),
    pa.field("utc_offset", pa.int32()),
    pa.field("sku", pa.string()),
    pa.field("category", pa.string()),
    pa.field("quantity", pa.int64()),
    pa.field("unit_price", AMOUNT),
    pa.field("purchase_id", pa.string()),
    pa.field("store", pa.string()),
    pa.field("reward", pa.string()),
    pa.field("payments", pa.string()),
    pa.field("redemption_id", pa.string()),
    pa.field("line", pa.int64()),
]
HISTORY_SCHEMA = pa.schema(_HISTORY_FIELDS)
"""The columns of a history table, in order (docs/histories.md)."""

_CUSTOMER_FIELDS: list[pa.Field[Any]] = [
    pa.field("customer_id", pa.string(), nullable=False),
    pa.field("joined_at", INSTANT),
    pa.field("birthday", pa.string()),
    pa.field("referred_by", pa.string()),
    # A migrated customer's opening (docs/histories.md, "Migrated customers"): the lots as
    # a CSV cell writes them, so that every instant keeps the offset it was written with.
    pa.field("opening_points", pa.string()),
    pa.field("tier", pa.string()),
    pa.field("tier_until", INSTANT),
]
CUSTOMERS_SCHEMA = pa.schema(_CUSTOMER_FIELDS)
"""The columns of a customers table: one row per profile. A table without the last three
(``opening_points``, ``tier``, ``tier_until``: older tables) reads as one whose cells there
are empty."""


def _instant(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _offset(moment: datetime) -> int | None:
    offset = moment.utcoffset()
    return None if offset is None else int(offset.total_seconds())


def _written(instant: datetime, offset: int | None) -> datetime:
    """The instant at the UTC offset it was written with (UTC when none was kept)."""
    if not offset:
        return instant
    return instant.astimezone(timezone(timedelta(seconds=offset)))


def payments_text(payments: Iterable[Payment]) -> str:
    """A purchase's payments as the ``payments`` column holds them: ``method:amount`` pairs
    separated by spaces, each amount as written (``stored_value:9.00 cash:6.00``)."""
    return " ".join(f"{payment.method}:{payment.amount:f}" for payment in payments)


def events_to_table(events: Iterable[AnyEvent], *, drop_payments: bool = False) -> pa.Table:
    """The rows of purchases, refunds, redemptions and cancellations, in the order given.

    A purchase's payments fill the ``payments`` column on each of its rows; with
    ``drop_payments`` they are left out (for a program that earns by no payment method,
    which never reads them).

    The rows of one event are told apart from the next event's by the id changing, so two
    events with one id, one after the other, would read back as one event: they are refused
    here, with the error the engines give for any repeated id.

    Raises:
        ValueError: a referral fact, which is not a row of a history table.
        HistoryError: an event with the id of the event before it.
    """
    columns: dict[str, list[Any]] = {name: [] for name in HISTORY_SCHEMA.names}

    def row(event: AnyEvent, **cells: Any) -> None:
        columns["event_id"].append(event.id)
        columns["type"].append(event.type)
        columns["customer_id"].append(event.customer_id)
        columns["at"].append(_instant(event.at))
        columns["utc_offset"].append(_offset(event.at))
        for name in ("sku", "category", "quantity", "unit_price", "purchase_id", "store"):
            columns[name].append(cells.get(name))
        columns["reward"].append(cells.get("reward"))
        columns["payments"].append(cells.get("payments"))
        columns["redemption_id"].append(cells.get("redemption_id"))
        columns["line"].append(None)

    previous_id = None
    for event in events:
        if event.id == previous_id:
            raise event_error(event.id, REPEATED_EVENT_ID)
        previous_id = event.id
        if isinstance(event, Purchase):
            paid = (
                None if event.payments is None or drop_payments else payments_text(event.payments)
            )
            for line in event.lines:
                row(
                    event,
                    sku=line.sku,
                    category=line.category,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    store=event.store,
                    payments=paid,
                )
        elif isinstance(event, Refund):
            if event.lines is None:
                row(event, purchase_id=event.purchase_id)
            for refund_line in event.lines or ():
                row(
                    event,
                    sku=refund_line.sku,
                    quantity=refund_line.quantity,
                    purchase_id=event.purchase_id,
                )
        elif isinstance(event, Redemption):
            # One unit is the default: its cell stays empty, as a CSV file writes it.
            quantity = None if event.quantity == 1 else event.quantity
            row(event, reward=event.reward, quantity=quantity)
        elif isinstance(event, CancelRedemption):
            row(event, redemption_id=event.redemption_id)
        else:
            raise ValueError(
                f"event {event.id}: a referral fact is not a row of a history table; "
                "pass it to evaluate or step as an event"
            )
    return pa.table(columns, schema=HISTORY_SCHEMA)


def _where(source: str, line: int | None, index: int) -> tuple[Location | None, str]:
    if line is None:
        return None, f"row {index + 1}"
    return Location(source, line, 1), f"line {line}"


def _row_error(
    source: str, line: int | None, index: int, error: ModelInputError | str
) -> HistoryError:
    location, where = _where(source, line, index)
    if isinstance(error, str):
        messages = [error]
    else:  # what the event models raise: problems with a field path, in plain words
        messages = [f"{format_path(item.path) or 'row'}: {item.message}" for item in error.problems]
    problems = [
        Problem(
            message=message if location is not None else f"{where}: {message}",
            location=location,
            code="invalid-event",
        )
        for message in messages
    ]
    return HistoryError(problems)


def table_to_events(table: pa.Table, source: str = "<table>") -> Iterator[AnyEvent]:
    """The events of a history table, one per run of adjacent rows with one event id.

    Raises:
        HistoryError: a row cannot be read as part of an event; the problem names the
            source and the row's line (or its position in the table).
    """
    optional = {"line", "utc_offset", "store", "reward", "payments", "redemption_id"}
    names = table.schema.names
    missing = [name for name in HISTORY_SCHEMA.names if name not in optional and name not in names]
    if missing:
        raise HistoryError(
            [
                Problem(
                    message=f"{source}: the table has no column {', '.join(missing)}; "
                    f"a history table has the columns {', '.join(HISTORY_SCHEMA.names)}",
                    code="missing-column",
                )
            ]
        )
    rows = _typed(table, source).to_pylist()
    index = 0
    while index < len(rows):
        first = rows[index]
        end = index + 1
        while (
            end < len(rows)
            and rows[end]["event_id"] == first["event_id"]
            and (rows[end]["type"] == first["type"])
        ):
            end += 1
        yield _event(rows[index:end], source, index)
        index = end


def _typed(table: pa.Table, source: str) -> pa.Table:
    """The table's history columns in the history table's types (a text ``at`` or
    ``unit_price`` cast as the batch engine casts it), refused by name if one cannot be."""
    columns = {}
    for field in HISTORY_SCHEMA:
        if field.name in table.schema.names:
            column = table.column(field.name)
            if column.type != field.type:
                column = cast_column(column, field.name, field.type, source)
            columns[field.name] = column
    return pa.table(columns)


def cast_column(column: Any, name: str, kind: pa.DataType, source: str) -> Any:
    """A column of a history table handed in with another type, cast to the history table's
    (text instants and prices as an export read by Arrow gives them); refused, naming the
    column, when a cell cannot be.

    Raises:
        HistoryError: ``invalid-column``, with Arrow's reason.
    """
    try:
        return column.cast(kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        message = (
            f"{source}: column {name!r} does not have the history table's type ({kind}) "
            f"and cannot be read as it: {error}"
        )
        raise HistoryError([Problem(message=message, code="invalid-column")]) from None


def _event(rows: list[dict[str, Any]], source: str, index: int) -> AnyEvent:
    first = rows[0]
    kind = first["type"]
    line = first.get("line")
    at = _written(first["at"], first.get("utc_offset"))
    try:
        if kind == "purchase":
            return Purchase(
                id=first["event_id"],
                customer_id=first["customer_id"],
                at=at,
                store=first.get("store"),
                payments=_payments(first.get("payments")),
                lines=tuple(
                    Line(
                        sku=row["sku"],
                        category=row["category"],
                        quantity=row["quantity"],
                        unit_price=written_amount(row["unit_price"]),
                    )
                    for row in rows
                ),
            )
        if kind == "refund":
            whole = len(rows) == 1 and first["sku"] is None
            return Refund(
                id=first["event_id"],
                customer_id=first["customer_id"],
                at=at,
                purchase_id=first["purchase_id"],
                lines=None
                if whole
                else tuple(RefundLine(sku=row["sku"], quantity=row["quantity"]) for row in rows),
            )
        if kind in ("redemption", "cancel_redemption") and len(rows) > 1:
            return_error = f"a {kind} is one row; two adjacent rows have its id"
            raise _row_error(source, rows[1].get("line"), index + 1, return_error)
        if kind == "redemption":
            return Redemption(
                id=first["event_id"],
                customer_id=first["customer_id"],
                at=at,
                reward=first.get("reward"),
                quantity=1 if first["quantity"] is None else first["quantity"],
            )
        if kind == "cancel_redemption":
            return CancelRedemption(
                id=first["event_id"],
                customer_id=first["customer_id"],
                at=at,
                redemption_id=first.get("redemption_id"),
            )
    except ModelInputError as error:
        raise _row_error(source, line, index, error) from None
    message = (
        f"type: must be 'purchase', 'refund', 'redemption' or 'cancel_redemption' (got {kind!r})"
    )
    raise _row_error(source, line, index, message)


def _payments(text: str | None) -> list[dict[str, str]] | None:
    """A ``payments`` cell as the event model reads it (the model checks each pair)."""
    if text is None:
        return None
    pairs = [pair.rpartition(":") for pair in text.split()]
    return [{"method": method, "amount": written} for method, _, written in pairs]


def written_amount(value: Decimal | None) -> Decimal | None:
    """An Arrow decimal with its scale's trailing zeros dropped back to the written form."""
    if value is None:
        return None
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral() else normal


def customers_to_table(customers: Iterable[Customer]) -> pa.Table:
    """One row per customer profile; a migrated customer's opening lots in one cell, as a
    CSV customers file writes them (``points@earned_at[@expires_at]``, space-separated)."""
    columns: dict[str, list[Any]] = {name: [] for name in CUSTOMERS_SCHEMA.names}
    for profile in customers:
        columns["customer_id"].append(profile.customer_id)
        joined = profile.joined_at
        columns["joined_at"].append(None if joined is None else _instant(joined))
        columns["birthday"].append(None if profile.birthday is None else str(profile.birthday))
        columns["referred_by"].append(profile.referred_by)
        columns["opening_points"].append(_lots_cell(profile) if profile.opening_points else None)
        columns["tier"].append(profile.tier)
        until = profile.tier_until
        columns["tier_until"].append(None if until is None else _instant(until))
    return pa.table(columns, schema=CUSTOMERS_SCHEMA)


def _lots_cell(profile: Customer) -> str:
    """A profile's opening lots as a CSV cell (``_json.opening_lots`` reads it back)."""
    return " ".join(
        f"{lot.points}@{lot.earned_at.isoformat()}"
        + ("" if lot.expires_at is None else f"@{lot.expires_at.isoformat()}")
        for lot in profile.opening_points
    )


def table_to_customers(table: pa.Table, source: str = "<table>") -> Iterator[Customer]:
    """The profiles of a customers table (its columns as ``CUSTOMERS_SCHEMA``'s; the
    migrated customers' three may be absent).

    Raises:
        HistoryError: a row is not a valid profile; the problem names the row and field.
    """
    from rewardrules.histories._json import customer_from_object  # noqa: PLC0415 -- a cycle
    from rewardrules.histories._records import RecordError  # noqa: PLC0415 -- likewise

    for index, row in enumerate(table.to_pylist()):
        cells = {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in row.items()
            if value is not None and key in CUSTOMERS_SCHEMA.names
        }
        try:
            yield customer_from_object(cells)
        except RecordError as error:
            message = f"{format_path(error.path) or 'row'}: {error.message}"
            raise _row_error(source, None, index, message) from None
        except ModelInputError as error:
            raise _row_error(source, None, index, error) from None


# The readers check cells against the schema above, so they import this module. They are
# re-exported here when first asked for, so that either module may be imported first.
if TYPE_CHECKING:
    from rewardrules.histories._table_read import read_customers_table, read_history_table


def __getattr__(name: str) -> Any:
    if name in ("read_customers_table", "read_history_table"):
        from rewardrules.histories import _table_read  # noqa: PLC0415 -- it imports this module

        return getattr(_table_read, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
