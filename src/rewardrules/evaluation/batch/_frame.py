"""A history table read once into integer columns, sorted as the engine evaluates it.

Events are runs of adjacent rows with one id and type (as ``columns.table_to_events``
reads them); an event's instant, customer and store are those of its first row. Events are
sorted by (customer, instant, id) and lines keep their order inside an event, so every
customer's events are one contiguous, time-ordered slice: the reference fold's (instant,
id) order, seen customer by customer.

Money becomes int64 minor units straight from the decimal128 buffer (a price finer than the
minor unit is refused with the reference engine's message), instants int64 microseconds,
and local dates day ordinals in the program's zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute
from pydantic_core import PydanticCustomError

from rewardrules._ids import check_text
from rewardrules.errors import (
    REPEATED_EVENT_ID,
    HistoryError,
    Location,
    Problem,
    event_error,
)
from rewardrules.evaluation.batch._amounts import (
    LARGEST_LINE,
    first_sum_too_large,
    line_refusal,
    lines_too_large,
    minor_units,
    sum_refusal,
    too_large_problem,
)

# Re-exported: the engine's modules import it from here (its home breaks a cycle with _amounts).
from rewardrules.evaluation.batch._unsupported import UnsupportedError as UnsupportedError  # noqa: PLC0414
from rewardrules.events import MAX_TEXT, Payment
from rewardrules.histories._checked import TYPES, facts_of
from rewardrules.histories.columns import cast_column, written_amount
from rewardrules.money import Currency

# pyarrow's stubs type the compute functions and ``take`` too narrowly for numpy
# indexes and masks: the batch engine handles its Arrow columns as Any.
Column = Any
pc: Any = pyarrow.compute

Ints = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]

AMOUNT = pa.decimal128(38, 12)
_EPOCH_ORDINAL = datetime(1970, 1, 1, tzinfo=UTC).toordinal()
_DAY_US = 86_400_000_000
_BUCKET_US = 21_600_000_000  # 6 hours: no zone has changed its offset twice within one


@dataclass(frozen=True, slots=True)
class Codes:
    """A text column as codes into its distinct values (-1 for nothing)."""

    codes: Ints
    values: Column
    texts_of: list[str | None]
    """The distinct values as Python text, then None (for code -1)."""

    @classmethod
    def encode(cls, column: Column, rows: Ints) -> Codes:
        """Encode a column (hashing each distinct text once), then pick ``rows``."""
        encoded = pc.dictionary_encode(column)
        indices = _numbers(encoded.indices, fill=-1)
        dictionary = encoded.dictionary
        return cls(indices[rows], dictionary, [*dictionary.to_pylist(), None])

    def is_in(self, members: frozenset[str]) -> Flags:
        """Whether each value is one of ``members`` (never for nothing)."""
        found = pc.is_in(self.values, value_set=pa.array(sorted(members), pa.string()))
        flags = np.asarray(found.fill_null(False).to_numpy(zero_copy_only=False), dtype=np.bool_)
        return np.append(flags, False)[self.codes]

    def texts(self, start: int, end: int) -> list[str | None]:
        """The values of rows ``start`` to ``end``."""
        texts = self.texts_of
        return [texts[code] for code in self.codes[start:end].tolist()]


@dataclass(frozen=True, slots=True)
class Frame:
    """A history in integer columns: events in evaluation order, and their lines.

    Event columns have one value per event; line columns one per purchase line, in event
    order; ``line_start[e]:line_start[e + 1]`` are event ``e``'s lines.
    """

    event_ids: npt.NDArray[np.object_]
    """Each event's id, as Python text (ledger entries hold them)."""
    customer_ids: list[str]
    """The customers, in id order; ``customer_start[c]`` is customer ``c``'s first event."""
    customer_start: Ints
    customer: Ints
    at: Ints
    utc_offset: Ints
    local_date: Ints
    weekday: Ints
    store: Column
    kind: Column
    purchase_id: Column
    """The purchase a refund refunds (null for other events)."""
    reward: Column
    """The catalogue reward a redemption asks for (null for other events)."""
    payments: Column
    """A purchase's payments as the table writes them (null for none, and other events)."""
    redemption_id: Column
    """The redemption a cancellation cancels (null for other events)."""
    units: Ints
    """The units a redemption asks for (its quantity, 1 when not given; 0 for other events)."""
    gross_total: Ints
    line_start: Ints
    line_event: Ints
    quantity: Ints
    unit_price: Ints
    gross: Ints
    sku: Codes
    category: Codes
    id_column: Column = None
    """``event_ids`` as an Arrow string array (what :meth:`index_of` searches)."""

    @property
    def events(self) -> int:
        """How many events."""
        return len(self.at)

    def index_of(self, wanted: Column) -> Ints:
        """The event of each id in ``wanted`` (an Arrow string array), -1 for an id no
        event has (or null): ``pc.index_in(wanted, value_set=ids)``, since ids are unique.

        The events' ids are looked up among the few wanted (hashing those), rather than
        the wanted among every event's id.
        """
        ids = self.id_column
        if ids is None:
            ids = pa.array(self.event_ids, pa.string())
        distinct = pc.unique(wanted.drop_null()) if wanted.null_count else pc.unique(wanted)
        hit = np.asarray(
            pc.index_in(ids, value_set=distinct).fill_null(-1).to_numpy(zero_copy_only=False),
            dtype=np.int64,
        )
        events = np.flatnonzero(hit >= 0)
        event_of = np.full(len(distinct), -1, dtype=np.int64)
        event_of[hit[events]] = events
        found = pc.index_in(wanted, value_set=distinct).fill_null(-1)
        place: Ints = np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)
        event_of = np.append(event_of, -1)  # the place -1 (null) finds the last: none
        return np.asarray(event_of[place], dtype=np.int64)

    def flags_of(self, kind: str) -> Flags:
        """Which events are of a type: 'purchase', 'refund', 'redemption' or
        'cancel_redemption'."""
        found = pc.equal(self.kind, kind).fill_null(False)
        return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.bool_)


def _numbers(array: Column, fill: int = 0) -> Ints:
    values = pc.fill_null(array, fill) if array.null_count else array
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.int64)


def _column(table: pa.Table, name: str, kind: Any, source: str) -> Column:
    if name not in table.schema.names:
        return pa.nulls(table.num_rows, kind)
    chunked = table.column(name)
    column = chunked.chunk(0) if chunked.num_chunks == 1 else chunked.combine_chunks()
    return column if column.type == kind else cast_column(column, name, kind, source)


def _where(lines: Column, row: int, source: str) -> tuple[Location | None, str]:
    line = lines[row].as_py()
    if line is None:
        return None, f"row {row + 1}"
    return Location(source, int(line), 1), f"line {line}"


def _row_problem(lines: Column, row: int, source: str, message: str) -> HistoryError:
    location, where = _where(lines, row, source)
    text = message if location is not None else f"{where}: {message}"
    return HistoryError([Problem(message=text, location=location, code="invalid-event")])


_TEXTS = (
    "event_id", "customer_id", "sku", "category", "store", "purchase_id", "reward",
    "redemption_id",
)  # fmt: skip


def _check_rows(table: pa.Table, rows: dict[str, Column], source: str) -> None:
    """The checks the event models make, column-wise, on what the batch engine reads.

    Skipped for a table ``history_table`` returned (``histories._checked``): it refuses
    each of these cases, so a check added here must be one it makes too."""
    names = table.schema.names
    missing = [name for name in ("event_id", "type", "customer_id", "at") if name not in names]
    if missing:
        message = f"{source}: the table has no column {', '.join(missing)}"
        raise HistoryError([Problem(message=message, code="missing-column")])
    purchase = pc.equal(rows["type"], "purchase").fill_null(False)
    refund = pc.equal(rows["type"], "refund").fill_null(False)
    redemption = pc.equal(rows["type"], "redemption").fill_null(False)
    cancel = pc.equal(rows["type"], "cancel_redemption").fill_null(False)
    checks: list[tuple[Column, str]] = [
        (pc.is_null(rows["event_id"]), "event_id: must be an id (got nothing)"),
        (pc.is_null(rows["customer_id"]), "customer_id: must be an id (got nothing)"),
        (pc.is_null(rows["at"]), "at: must be an instant (got nothing)"),
        (
            pc.and_(purchase, pc.or_(pc.is_null(rows["sku"]), pc.equal(rows["sku"], ""))),
            "sku: a purchase line needs a sku",
        ),
        (
            pc.and_(purchase, pc.less(rows["quantity"], 1).fill_null(True)),
            "quantity: a purchase line needs a whole quantity of at least 1",
        ),
        (
            pc.and_(purchase, pc.less(rows["unit_price"], Decimal(0)).fill_null(True)),
            "unit_price: a purchase line needs a unit price of at least 0",
        ),
        (
            pc.and_(
                pc.and_(refund, pc.is_valid(rows["sku"])),
                pc.less(rows["quantity"], 1).fill_null(True),
            ),
            "quantity: a refund line needs a whole quantity of at least 1",
        ),
        (
            pc.and_(refund, pc.is_null(rows["purchase_id"])),
            "purchase_id: a refund needs the id of the purchase it refunds",
        ),
        (
            pc.and_(redemption, pc.is_null(rows["reward"])),
            "reward: a redemption needs the id of a catalogue reward",
        ),
        (
            pc.and_(redemption, pc.less(rows["quantity"], 1).fill_null(False)),
            "quantity: a redemption's quantity must be a whole number of at least 1",
        ),
        (
            pc.and_(cancel, pc.is_null(rows["redemption_id"])),
            "redemption_id: a cancel_redemption needs the id of the redemption it cancels",
        ),
        (
            pc.invert(pc.is_in(rows["type"], pa.array(list(_TYPES)))).fill_null(True),
            "type: must be 'purchase', 'refund', 'redemption' or 'cancel_redemption'",
        ),
    ]
    for flags, message in checks:
        if pc.any(flags).as_py():
            row = pc.index(flags, True).as_py()
            raise _row_problem(rows["line"], row, source, message)


_TYPES = ("purchase", "refund", "redemption", "cancel_redemption")

_PLAIN = r"^[!-~](?:[ -~]{0,254}[!-~])?$"
"""Printable ASCII, at most 256 characters, without a space at either end: text the event
models keep as it is (RE2 syntax)."""
_CONTROL_TEXT = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_UNIQUE_TEXTS = frozenset({"event_id", "purchase_id"})
"""Columns whose values rarely repeat: checked value by value, not per distinct value."""


def _surely_plain(column: Column) -> bool:
    """True when every value is plain (see ``_PLAIN``), told from the bytes at once: each
    one printable ASCII, 1 to 256 long, with no space at either end (nulls pass)."""
    if column.null_count:
        column = column.drop_null()
    if not len(column):
        return True
    if not pa.types.is_string(column.type):
        return False
    _, offset_buffer, data_buffer = column.buffers()
    offsets = np.frombuffer(offset_buffer, dtype=np.int32)[
        column.offset : column.offset + len(column) + 1
    ]
    lengths = np.diff(offsets)
    if data_buffer is None or lengths.min() < 1 or lengths.max() > MAX_TEXT:
        return False
    data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
    if int(data.min()) < ord(" ") or int(data.max()) > ord("~"):  # two reductions, no mask
        return False
    if not (data == ord(" ")).any():  # no space at all, so none at either end
        return True
    starts = offsets[:-1] - offsets[0]
    return not ((data[starts] == ord(" ")) | (data[starts + lengths - 1] == ord(" "))).any()


def _unusual_rows(column: Column, repeats: bool) -> Ints:
    """The rows whose text is not plain (see ``_PLAIN``), checked on the distinct values
    of a column whose values repeat."""
    if _surely_plain(column):
        return np.zeros(0, dtype=np.int64)
    if repeats:
        distinct = pc.unique(column)
        odd = distinct.filter(pc.invert(pc.match_substring_regex(distinct, _PLAIN)))
        if not len(odd):
            return np.zeros(0, dtype=np.int64)
        flags = pc.is_in(column, value_set=odd)
    else:
        flags = pc.invert(pc.match_substring_regex(column, _PLAIN))
    flags = pc.and_(pc.is_valid(column), flags.fill_null(False))
    return np.flatnonzero(np.asarray(flags.to_numpy(zero_copy_only=False), dtype=bool))


def _respelled(
    rows: dict[str, Column], source: str, plain: frozenset[str] = frozenset()
) -> dict[str, Column]:
    """Text as the event models keep it. Plain text is kept as it is (the columns in
    ``plain`` are known to be); the few other values are refused when empty, too long or
    holding a control character, and otherwise go through the models' own check (hidden
    characters and surrounding spaces refused, then NFC)."""
    for name in _TEXTS:
        if name in plain:
            continue
        column = rows[name]
        found = _unusual_rows(column, name not in _UNIQUE_TEXTS)
        if not len(found):
            continue
        values = column.to_pylist()
        for row in found.tolist():
            value = values[row]
            problem = None
            if value == "":
                problem = "must not be empty"
            elif len(value) > MAX_TEXT:
                problem = f"must be at most {MAX_TEXT} characters"
            elif _CONTROL_TEXT.search(value):
                problem = "must not hold a control character"
            else:
                try:
                    values[row] = check_text(value)
                except PydanticCustomError as error:
                    problem = str(error)
            if problem is not None:
                raise _row_problem(rows["line"], row, source, f"{name}: {problem}")
        rows[name] = pa.array(values, pa.string())
    return rows


def check_payments(rows: dict[str, Column], bounds: Ints, source: str, money: Currency) -> None:
    """The checks the event models make of payments: only on purchases, the same on each
    row of one, pairs of a method and an amount, adding up to the lines' gross total."""
    texts = rows["payments"].to_pylist()
    kinds = rows["type"].to_pylist()
    prices: list[Any] | None = None
    quantities: list[Any] | None = None
    read: dict[str, Decimal | str] = {}
    for start, end in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        text = texts[start]
        for row in range(start, end):
            if texts[row] is not None and kinds[row] != "purchase":
                message = (
                    f"payments: must be empty for a {kinds[row]}; only a purchase records "
                    "its payments"
                )
                raise _row_problem(rows["line"], row, source, message)
            if texts[row] != text:
                message = (
                    "payments: the rows of one purchase must have the same payments "
                    f"(got {texts[row]!r} after {text!r})"
                )
                raise _row_problem(rows["line"], row, source, message)
        if text is None:
            continue
        paid = read.get(text)
        if paid is None:
            paid = read[text] = _paid(text)
        if isinstance(paid, str):
            raise _row_problem(rows["line"], start, source, f"payments: {paid}")
        if prices is None or quantities is None:
            prices, quantities = rows["unit_price"].to_pylist(), rows["quantity"].to_pylist()
        total = sum((prices[row] * quantities[row] for row in range(start, end)), Decimal(0))
        if paid != total:
            message = (
                f"payments: add up to {paid}, but the lines' gross total (quantity x unit "
                f"price, before any reward) is {_shown(total, money)}; the payments must add "
                "up to it"
            )
            raise _row_problem(rows["line"], start, source, message)


def _paid(text: str) -> Decimal | str:
    """What a payments text adds up to, or what the event model says is wrong with it."""
    payments = []
    for pair in text.split():
        method, colon, written = pair.rpartition(":")
        if not colon or not method or not written:
            return f"must be method:amount pairs separated by spaces (got {pair!r})"
        try:
            payments.append(Payment(method=method, amount=written))
        except ValueError as error:
            return str(error)
    if not payments:
        return "must be method:amount pairs separated by spaces (got nothing)"
    return sum((payment.amount for payment in payments), Decimal(0))


def _shown(amount: Decimal, money: Currency) -> Decimal:
    """A decimal from the table's 12 decimals, shown to the currency's minor unit (or to
    its own last digit when finer)."""
    minor = amount.quantize(Decimal(1).scaleb(-money.exponent))
    return minor if minor == amount else amount.normalize()


def _offsets(at: Ints, zone: ZoneInfo) -> Ints:
    """Each instant's UTC offset in the zone, in microseconds.

    The offset is sampled every 6 hours through each UTC day that has an instant;
    where two samples of a day differ, the exact instant of the change is found by
    bisection (between days, where there is no instant, any point will do). Offsets are
    then a look-up by instant. (A zone that changed its offset twice within 6 hours
    would be missed; the time zone database has none.) Each day's samples are kept
    (:func:`_day_offsets`), and the look-up of each span of days (:func:`_span_offsets`):
    the chunks of a streamed history cover the same days.
    """
    if len(at) == 0:
        return np.zeros(0, dtype=np.int64)
    days = at // _DAY_US
    low, high = int(days.min()), int(days.max())
    if high - low >= _LONGEST_SPAN:
        changes, values = _offsets_of_days(zone, np.unique(days).tolist())
    else:
        present = np.zeros(high - low + 1, dtype=np.bool_)  # the days present: no sort
        present[days - low] = True
        if len(present) <= 2 * np.count_nonzero(present) + 64:
            # Few days absent: every day of the span, kept for the chunks to come (the
            # offsets of the days present are the same, whatever other days are sampled).
            changes, values = _span_offsets(zone, low, high)
        else:
            changes, values = _offsets_of_days(zone, (np.flatnonzero(present) + low).tolist())
    return values[np.searchsorted(changes, at, side="right") - 1]


_LONGEST_SPAN = 1 << 17  # days (358 years): longer, the days are sorted, not marked


@lru_cache(maxsize=64)
def _span_offsets(zone: ZoneInfo, low: int, high: int) -> tuple[Ints, Ints]:
    """:func:`_offsets_of_days` of every day from ``low`` to ``high``: the chunks of a
    streamed history mostly span the same days."""
    return _offsets_of_days(zone, list(range(low, high + 1)))


def _offsets_of_days(zone: ZoneInfo, days: list[int]) -> tuple[Ints, Ints]:
    """The instants (µs) where each offset starts and the offsets, through some days in
    order; the first instant is the smallest int64 (the first day's offset, before it)."""
    changes: list[int] = []
    values: list[int] = []
    for day in days:
        for instant, offset in _day_offsets(day, zone):
            if not values or values[-1] != offset:
                changes.append(instant)
                values.append(offset)
    changes[0] = int(np.iinfo(np.int64).min)
    found = np.asarray(changes, dtype=np.int64), np.asarray(values, dtype=np.int64)
    for array in found:
        array.setflags(write=False)  # kept by the cache
    return found


@lru_cache(maxsize=1 << 16)
def _day_offsets(day: int, zone: ZoneInfo) -> tuple[tuple[int, int], ...]:
    """The UTC offset at the start of a UTC day (µs since the epoch), then each change
    within the day: (the first instant at the new offset, the offset), in order."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    start = day * _DAY_US
    previous = _offset_us(epoch + timedelta(microseconds=start), zone)
    found = [(start, previous)]
    for index in range(1, _DAY_US // _BUCKET_US + 1):
        high = start + index * _BUCKET_US
        offset = _offset_us(epoch + timedelta(microseconds=high), zone)
        if offset != previous:
            low = high - _BUCKET_US
            while high - low > 1:  # the first instant at the new offset is in (low, high]
                middle = (low + high) // 2
                if _offset_us(epoch + timedelta(microseconds=middle), zone) == offset:
                    high = middle
                else:
                    low = middle
            found.append((high, offset))
            previous = offset
    return tuple(found)


def _offset_us(moment: datetime, zone: ZoneInfo) -> int:
    offset = moment.astimezone(zone).utcoffset()
    assert offset is not None  # noqa: S101 -- a ZoneInfo always has an offset
    return offset // timedelta(microseconds=1)


def local_dates(at: Ints, zone: ZoneInfo) -> Ints:
    """The local date of each instant in the zone, as a proleptic Gregorian ordinal."""
    return (at + _offsets(at, zone)) // _DAY_US + _EPOCH_ORDINAL


def _runs(event_ids: Column, kinds: Column) -> Ints:
    """Where each run of adjacent rows with one id and type starts, then the row count."""
    count = len(event_ids)
    if count == 0:
        return np.zeros(1, dtype=np.int64)
    same_id = pc.equal(event_ids.slice(1), event_ids.slice(0, count - 1))
    same_kind = pc.equal(kinds.slice(1), kinds.slice(0, count - 1))
    same = np.asarray(pc.and_(same_id, same_kind).to_numpy(zero_copy_only=False), dtype=bool)
    starts = np.flatnonzero(~same) + 1
    return np.concatenate(([0], starts, [count])).astype(np.int64)


def _ranks(values: Column) -> tuple[Ints, Column]:
    """Each value's rank among the distinct values in code point order, and those values."""
    encoded = pc.dictionary_encode(values)
    dictionary = encoded.dictionary
    order = np.asarray(pc.sort_indices(dictionary).to_numpy(), dtype=np.int64)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    indices = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    return rank[indices], dictionary.take(pa.array(order))


def read_frame(
    table: pa.Table,
    money: Currency,
    zone: ZoneInfo,
    source: str,
    until: tuple[int, bool] | None = None,
) -> Frame:
    """Read, check and sort a history table; with ``until`` (an instant in microseconds,
    and whether it is included) only the rows up to it.

    Raises:
        HistoryError: a row the reference engine would refuse: a missing id, customer or
            instant, a purchase line without sku, quantity or price, a price finer than
            the minor unit, or two events with one id.
    """
    types = {
        "event_id": pa.string(),
        "type": pa.string(),
        "customer_id": pa.string(),
        "at": pa.timestamp("us", tz="UTC"),
        "utc_offset": pa.int32(),
        "sku": pa.string(),
        "category": pa.string(),
        "quantity": pa.int64(),
        "unit_price": AMOUNT,
        "store": pa.string(),
        "purchase_id": pa.string(),
        "reward": pa.string(),
        "payments": pa.string(),
        "redemption_id": pa.string(),
        "line": pa.int64(),
    }
    rows = {name: _column(table, name, kind, source) for name, kind in types.items()}
    # A table ``history_table`` returned has passed the row checks and more; its facts
    # say where its events start (ids known distinct) and which text is plain.
    facts = facts_of(table)
    if source == "<table>" and facts is not None and facts.source is not None:
        source = facts.source  # a table read from a file names it: its lines are the file's
    if facts is None:
        _check_rows(table, rows, source)
    ids = rows["event_id"]
    rows = _respelled(rows, source, frozenset() if facts is None else facts.plain)
    known = None
    if facts is not None and facts.starts is not None and rows["event_id"] is ids:
        known = np.append(facts.starts, np.int64(len(ids)))
    # The rows of an event are those with its id as read: two events in a row whose ids NFC
    # makes one stay two events, and are refused below as any repeated id is.
    if rows["payments"].null_count < len(rows["payments"]):
        bounds = _runs(ids, rows["type"]) if known is None else known
        check_payments(rows, bounds, source, money)
    if until is not None:
        instant, inclusive = until
        at = _numbers(rows["at"].cast(pa.int64()))
        kept = pa.array((at < instant) | (inclusive & (at == instant)))
        rows = {name: column.filter(kept) for name, column in rows.items()}
        ids = ids.filter(kept)
        known = None
    bounds = _runs(ids, rows["type"]) if known is None else known
    heads = pa.array(bounds[:-1])
    head_ids = rows["event_id"].take(heads)
    at = _numbers(rows["at"].take(heads).cast(pa.int64()))
    if known is None and len(pc.unique(head_ids)) < len(head_ids):
        _refuse_repeated_id(head_ids, at)
    customer_rank, customer_ids = _ranks(rows["customer_id"].take(heads))
    order = _evaluation_order(customer_rank, at, head_ids)
    row_types = None if known is None or facts is None else facts.types
    return _frame(
        rows,
        bounds,
        order,
        customer_rank[order],
        at[order],
        customer_ids,
        (money, zone, row_types),
        source,
    )


def _refuse_repeated_id(head_ids: Column, at: Ints) -> None:
    """Raise the error about the first repeated event id the reference meets: it folds the
    events by (instant, id) and refuses the first whose id an earlier one had, so the id
    named is the one whose second event comes first in that order (not the first repeated
    id in id order, which named ``a`` where the reference names ``b`` of events ``b``,
    ``a``, ``b``, ``a``)."""
    pairs = pa.table({"id": head_ids, "at": pa.array(at, pa.int64())})
    order = pc.sort_indices(pairs, sort_keys=[("id", "ascending"), ("at", "ascending")])
    ids = head_ids.take(order)
    instants = at[np.asarray(order.to_numpy(zero_copy_only=False), dtype=np.intp)]
    equal = pc.equal(ids.slice(1), ids.slice(0, len(ids) - 1))
    same = np.asarray(equal.to_numpy(zero_copy_only=False), dtype=np.bool_)
    # Each id's second event, sorted by id then instant: its first repeat.
    seconds = np.flatnonzero(same & ~np.concatenate(([False], same[:-1]))) + 1
    place = int(seconds[np.argmin(instants[seconds])])  # the earliest; a tie, the least id
    raise event_error(ids[place].as_py(), REPEATED_EVENT_ID)


def _evaluation_order(customer_rank: Ints, at: Ints, head_ids: Column) -> Ints:
    """The events in (customer, instant, id) order.

    Ids order only events of one customer at one instant: those few runs are sorted by id
    after one sort by (customer, instant).
    """
    # A history sorted by customer and instant (as the docs ask for big ones) is already
    # in that order; the stable sort would give it back unchanged, at several times the
    # cost of seeing so.
    steps = np.diff(customer_rank)
    if (steps >= 0).all() and not ((steps == 0) & (np.diff(at) < 0)).any():
        order = np.arange(len(at), dtype=np.int64)
    else:
        order = _by_customer_and_instant(customer_rank, at)
    if len(order) < 2:
        return order
    ranked, instants = customer_rank[order], at[order]
    tied = (ranked[1:] == ranked[:-1]) & (instants[1:] == instants[:-1])
    if not tied.any():
        return order
    edges = np.flatnonzero(np.diff(np.concatenate(([False], tied, [False])).astype(np.int8)))
    starts, ends = edges[::2], edges[1::2] + 1
    runs = np.concatenate([order[start:end] for start, end in zip(starts, ends)])
    ids = head_ids.take(pa.array(runs)).to_pylist()  # one take for every tied event
    offset = 0
    for start, end in zip(starts.tolist(), ends.tolist()):
        size = end - start
        mine = ids[offset : offset + size]
        order[start:end] = order[start:end][sorted(range(size), key=mine.__getitem__)]
        offset += size
    return order


def _by_customer_and_instant(customer_rank: Ints, at: Ints) -> Ints:
    """``np.lexsort((at, customer_rank))``: one stable sort of a single int64 key when the
    customers times the span of instants fit in one (about twice as fast)."""
    low, high = int(at.min()), int(at.max())
    customers = int(customer_rank.max()) + 1 if len(customer_rank) else 0
    if customers * (high - low + 1) >= 2**62 or int(customer_rank.min()) < 0:
        return np.lexsort((at, customer_rank))
    key = customer_rank.astype(np.int64) * (high - low + 1) + (at - low)
    return np.argsort(key, kind="stable")


def _frame(
    rows: dict[str, Column],
    bounds: Ints,
    order: Ints,
    customer_rank: Ints,
    at: Ints,
    customer_ids: Column,
    settings: tuple[Currency, ZoneInfo, npt.NDArray[np.int8] | None],
    source: str,
) -> Frame:
    money, zone, types = settings  # each row's type code (histories._checked), if known
    starts, ends = bounds[:-1][order], bounds[1:][order]
    sizes = ends - starts
    line_start = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    line_event = np.repeat(np.arange(len(order), dtype=np.int64), sizes)
    row_of_line = starts[line_event] + (np.arange(len(line_event)) - line_start[line_event])
    heads = pa.array(starts)
    local = local_dates(at, zone)
    minor, too_fine, too_large = minor_units(rows["unit_price"], money)
    if types is None:
        purchase_rows = np.asarray(
            pc.equal(rows["type"], "purchase").to_numpy(zero_copy_only=False), dtype=bool
        )
    else:
        purchase_rows = types == TYPES.index("purchase")
    too_fine &= purchase_rows
    too_large &= purchase_rows
    if too_fine.any():
        _too_fine(rows, row_of_line, line_event, line_start, too_fine, at, money, heads)
    quantity = _numbers(rows["quantity"])[row_of_line]
    # A redemption's row is a line of no sku: its quantity is the units it redeems.
    if types is None:
        redeemed = np.asarray(
            pc.equal(rows["type"].take(heads), "redemption").to_numpy(zero_copy_only=False),
            dtype=bool,
        )
    else:
        redeemed = types[starts] == TYPES.index("redemption")
    units = np.where(redeemed, np.maximum(quantity[line_start[:-1]], 1), 0)
    quantity = np.where(redeemed[line_event], 0, quantity)
    unit_price = minor[row_of_line]
    too_large_lines = lines_too_large(unit_price, quantity, too_large[row_of_line])
    if too_large_lines.any():
        lines = np.flatnonzero(too_large_lines)
        line = int(lines[np.argmin(row_of_line[lines])])  # the first in the table
        _too_large_line(rows, line, row_of_line, line_start[line_event[line]], source, money)
    gross = unit_price * quantity
    gross_total = np.add.reduceat(gross, line_start[:-1]) if len(gross) else line_start[:-1]
    gross_total = np.where(sizes > 0, gross_total, 0)
    sums = [("unit_price", gross_total)]
    if float(quantity.sum(dtype=np.float64)) >= 2.0**61:  # the purchases' units, when many
        bought = np.where(purchase_rows[row_of_line], quantity, 0).astype(object)  # exact
        sums.append(("quantity", np.add.reduceat(bought, line_start[:-1])))
    for column, values in sums:
        event = first_sum_too_large(values)
        if event is not None:
            total = int(values[: event + 1].astype(object).sum())
            _too_large_sum(rows, int(starts[event]), total, column, source)
    customer_start = np.searchsorted(customer_rank, np.arange(len(customer_ids) + 1))
    id_column = rows["event_id"].take(heads)
    return Frame(
        event_ids=id_column.to_numpy(zero_copy_only=False),
        customer_ids=customer_ids.to_pylist(),
        customer_start=customer_start.astype(np.int64),
        customer=customer_rank,
        at=at,
        utc_offset=_numbers(rows["utc_offset"].take(heads)),
        local_date=local,
        weekday=(local - 1) % 7,
        store=rows["store"].take(heads),
        kind=rows["type"].take(heads),
        purchase_id=rows["purchase_id"].take(heads),
        reward=rows["reward"].take(heads),
        payments=rows["payments"].take(heads),
        redemption_id=rows["redemption_id"].take(heads),
        units=units.astype(np.int64),
        gross_total=np.asarray(gross_total, dtype=np.int64),
        line_start=line_start,
        line_event=line_event,
        quantity=quantity,
        unit_price=unit_price,
        gross=gross,
        sku=Codes.encode(rows["sku"], row_of_line),
        category=Codes.encode(rows["category"], row_of_line),
        id_column=id_column,
    )


def _too_large_line(
    rows: dict[str, Column], line: int, row_of_line: Ints, first: int, source: str, money: Currency
) -> None:
    """Refuse a purchase line whose gross amount is beyond the batch engine's bound."""
    row = int(row_of_line[line])
    price: Any = rows["unit_price"][row].as_py()
    quantity = int(rows["quantity"][row].as_py())
    numerator, denominator = price.as_integer_ratio()  # exact, whatever its digits
    minor = numerator * money.minor_per_major // denominator
    column = "unit_price" if minor > LARGEST_LINE else "quantity"
    event_id = rows["event_id"][row].as_py()
    path = (f"event {event_id}", "lines", int(line - first), column)
    what = line_refusal(price, quantity, minor * quantity, money)
    raise UnsupportedError([too_large_problem(_place(rows, row, source), path, what)])


def _too_large_sum(rows: dict[str, Column], row: int, total: int, column: str, source: str) -> None:
    """Refuse a history whose purchases add up beyond the batch engine's bound."""
    path = (f"event {rows['event_id'][row].as_py()}", "lines", 0, column)
    problem = too_large_problem(_place(rows, row, source), path, sum_refusal(total, column))
    raise UnsupportedError([problem])


def _place(rows: dict[str, Column], row: int, source: str) -> tuple[Location | None, str]:
    """A row's location in its file (when the table says its line) and the source."""
    location, _ = _where(rows["line"], row, source)
    return location, source


def _too_fine(
    rows: dict[str, Column],
    row_of_line: Ints,
    line_event: Ints,
    line_start: Ints,
    too_fine: Flags,
    at: Ints,
    money: Currency,
    heads: Column,
) -> None:
    """Raise the reference engine's error for the first price too fine, in its order:
    the earliest event by (instant, id), its first such line."""
    lines = np.flatnonzero(too_fine[row_of_line])
    events = sorted(
        {int(line_event[line]) for line in lines.tolist()},
        key=lambda event: (int(at[event]), rows["event_id"][heads[event].as_py()].as_py()),
    )
    event = events[0]
    first = int(lines[line_event[lines] == event][0])
    row = int(row_of_line[first])
    price: Any = rows["unit_price"][row].as_py()
    shown = written_amount(price)
    sku = rows["sku"][row].as_py()
    message = (
        f"the unit price {shown} of sku {sku} is finer than {money.code} allows "
        f"({money.exponent} decimal places); prices must be whole minor units"
    )
    event_id = rows["event_id"][heads[event].as_py()].as_py()
    raise event_error(event_id, message, "lines", first - int(line_start[event]), "unit_price")
