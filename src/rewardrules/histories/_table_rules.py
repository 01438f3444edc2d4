"""What the table reader checks besides the row readers' rules, and the column helpers.

- a column of the wrong Arrow type (a float price, a naive timestamp, a numeric id) is
  refused as a whole, naming the column and its first row;
- a row that repeats the row before it is ``duplicate-row`` (the row reader, asked first,
  words it; this is the fallback);
- cells with a hidden character or a space at either end are found here, for the row reader
  to word;
- a price with more than 12 decimals does not fit the table's ``decimal128(38, 12)``;
- timestamps written as text are parsed by Arrow (which reads exactly the ISO 8601 forms
  that Python reads, to the same instant), else one by one as the row reader does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from rewardrules._ids import is_hidden
from rewardrules.errors import HistoryError, Location, Problem
from rewardrules.histories._records import FIRST_YEAR, LAST_YEAR, RecordError, timestamp
from rewardrules.histories.columns import INSTANT

if TYPE_CHECKING:
    from rewardrules.histories._table_checks import Cells

Mask = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]
Column: TypeAlias = "pa.ChunkedArray[Any]"
"""A column of cells, whatever its Arrow type (pyarrow's stubs type columns by scalar)."""
EMPTY = pa.scalar("", pa.string())

_OFFSET = re.compile(r"([+-])([0-9]{2}):([0-9]{2})")
_MISSING = np.iinfo(np.int64).min
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def numpy_of(array: Column | pa.Array[Any]) -> npt.NDArray[Any]:
    """A column as a numpy array (a copy when Arrow's layout needs one)."""
    return np.asarray(array.to_numpy(zero_copy_only=False))


def is_text(kind: pa.DataType) -> bool:
    """Whether a column holds text (plain, large or dictionary-encoded)."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def string_array(column: Column) -> pa.Array[Any]:
    """A text column as one array of plain strings, nulls kept."""
    if not pa.types.is_string(column.type):
        column = column.cast(pa.string())
    return column.combine_chunks()


def filled(array: pa.Array[Any]) -> Column:
    """:func:`string_array`'s array in one chunk, "" for a null cell.

    When the null cells hold no bytes (as Arrow's readers write them), the array's own
    offsets and bytes are read without its validity: no copy.
    """
    if not array.null_count:
        return pa.chunked_array([array])
    offsets, _ = _buffers(array)
    valid = numpy_of(array.is_valid())
    if not np.diff(offsets)[~valid].any():
        _, offset_buffer, data_buffer = array.buffers()
        plain = pa.Array.from_buffers(
            pa.string(), len(array), [None, offset_buffer, data_buffer], 0, array.offset
        )
        return pa.chunked_array([plain])
    return pa.chunked_array([array.fill_null(EMPTY)])


def cell_text(value: object) -> str:
    """A cell as the CSV row reader would read it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "as_tuple"):  # a Decimal, written without an exponent
        return format(value, "f")
    return str(value)


@dataclass(frozen=True)
class Scan:
    """What one pass over a text column's bytes tells: enough to skip most text checks."""

    longest: int  # in bytes
    printable: bool  # every byte printable ASCII: no control, invisible or composed character
    ascii: bool


def scan(column: Column) -> Scan:
    """Look at a text column's bytes at once, without a kernel per check."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_string(array.type) or len(array) == 0:
        return Scan(0, True, True)
    offsets, data = _buffers(array)
    longest = int(np.diff(offsets).max())
    if not len(data):
        return Scan(longest, True, True)
    low, high = int(data.min()), int(data.max())  # two reductions, no mask of every byte
    return Scan(longest, low >= 0x20 and high < 0x7F, high < 0x80)


def _buffers(array: pa.Array[Any]) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.uint8]]:
    """A string array's offsets and the bytes they point into."""
    _, offset_buffer, data_buffer = array.buffers()
    assert offset_buffer is not None  # noqa: S101 -- a string array always has offsets
    offsets = np.frombuffer(memoryview(offset_buffer), np.int32)[
        array.offset : array.offset + len(array) + 1
    ]
    if data_buffer is None:
        return offsets, np.zeros(0, np.uint8)
    data = np.frombuffer(memoryview(data_buffer), np.uint8)[offsets[0] : offsets[-1]]
    return offsets - offsets[0], data


def empty(column: Column) -> Mask:
    """Which cells of a text column (strings, in one chunk, no nulls) are empty."""
    array = column.combine_chunks()
    offsets, _ = _buffers(array)
    return np.asarray(np.diff(offsets) == 0)


def surrounding_space(column: Column) -> Mask:
    """Which cells of a text column start or end with a space (refused: a padded cell)."""
    offsets, data = _buffers(column.combine_chunks())
    found = np.zeros(len(offsets) - 1, np.bool_)
    if not (data == ord(" ")).any():  # no space in any cell (one pass over the bytes)
        return found
    filled = np.flatnonzero(np.diff(offsets) > 0)
    if len(filled):
        first, last = data[offsets[filled]], data[offsets[filled + 1] - 1]
        found[filled] = (first == ord(" ")) | (last == ord(" "))
    return found


def hidden(column: Column) -> Mask:
    """Which cells hold a character that cannot be seen, as the event models tell it."""
    distinct = dictionary(column)
    refused = np.array(
        [any(is_hidden(char) for char in str(text)) for text in distinct.dictionary.to_pylist()],
        np.bool_,
    )
    return np.asarray(refused[numpy_of(distinct.indices)]) if len(refused) else refused


def surely_unique(column: Column) -> bool:
    """True when no two values of a text column are equal.

    Arrow's hash of the distinct values: measured faster here than hashing the bytes with
    numpy (1.0 million ids: 0.23-0.32 s against 0.53-0.70 s, whose temporaries are
    several times the column's bytes).
    """
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(array) < 2:
        return True
    if array.null_count or not pa.types.is_string(array.type):
        return False
    return len(pc.unique(array)) == len(array)


def nfc(column: Column) -> Column:
    """Ids in Unicode's composed form, so that an é typed two ways is one id: the column
    itself when every id is ASCII (no text at all: nulls only, or not text)."""
    if pa.types.is_large_string(column.type):  # as pandas and Spark may hand ids over
        if pc.all(pc.string_is_ascii(column)).as_py() is not False:
            return column
    elif scan(column).ascii:
        return column
    normalized: Column = pc.utf8_normalize(column, "NFC")  # type: ignore[attr-defined]  # not in pyarrow's stubs
    return normalized


def refuse_wrong_types(cells: Cells) -> None:
    """Refuse a column whose Arrow type cannot hold what it must, naming its first row.

    Raises:
        HistoryError: ``bad-column``, ``naive-timestamp`` or ``bad-amount``.
    """
    for name in cells.table.column_names:
        column = cells.table[name]
        kind = column.type
        if pa.types.is_null(kind) or is_text(kind):
            continue
        if name == "at" and pa.types.is_timestamp(kind) and kind.tz is not None:
            continue
        if name == "quantity" and pa.types.is_integer(kind):
            continue
        if name == "unit_price" and (pa.types.is_decimal(kind) or pa.types.is_integer(kind)):
            continue
        code = "bad-column"
        if name == "at":
            naive = pa.types.is_timestamp(kind)
            message = (
                f"the column is {kind}{', without a time zone' if naive else ''}; write "
                "instants as a timestamp column with a time zone (such as "
                "timestamp[us, tz=UTC]) or as text with a UTC offset, like "
                "2026-03-01T09:30:00+01:00"
            )
            code = "naive-timestamp" if naive else code
        elif name == "unit_price" and pa.types.is_floating(kind):
            message = (
                f"the column is {kind}, which cannot hold cents exactly (0.1 is not one "
                "tenth); write amounts as a decimal column, such as decimal128(38, 12), or "
                "as text, like 4.50"
            )
            code = "bad-amount"
        elif name == "quantity":
            message = f"the column is {kind}; write quantities as an integer column"
        else:
            message = f"the column is {kind}; write it as text (ids stay text: 007 is not 7)"
        valid = np.flatnonzero(numpy_of(column.is_valid()))
        row = int(valid[0]) if len(valid) else 0
        location = Location(cells.source, int(cells.lines[row]), 1)
        raise HistoryError([Problem(message, (name,), location, code)])


def text_instants(head: Column) -> tuple[Ints, npt.NDArray[np.int32], Mask]:
    """Timestamps written as text: microseconds since 1970, written offsets, refused ones."""
    count = len(head)
    try:
        cast = pc.cast(head, INSTANT)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        cast = None
    if cast is not None:
        instants = numpy_of(cast.cast(pa.int64())).astype(np.int64)
        offsets = _offsets(head)
        bad = np.zeros(count, np.bool_)
        low, high = _micros_of(FIRST_YEAR, 1, 2), _micros_of(LAST_YEAR, 12, 31)
        if count and (instants.min() < low or instants.max() >= high):
            years = numpy_of(pc.utf8_slice_codeunits(head, 0, 4)).astype(str)
            bad = (years < str(FIRST_YEAR)) | (years > str(LAST_YEAR))
        return instants, offsets, bad
    instants = np.full(count, _MISSING, np.int64)
    offsets = np.zeros(count, np.int32)
    bad = np.zeros(count, np.bool_)
    for index, text in enumerate(head.to_pylist()):
        try:
            moment = timestamp(text, ("at",))
        except RecordError:
            bad[index] = True
            continue
        instants[index] = _micros(moment)
        offsets[index] = _offset_of(moment)
    return instants, offsets, bad


def _offsets(head: Column) -> npt.NDArray[np.int32]:
    """The UTC offsets, in seconds, of timestamps Arrow has read, from their last characters.

    ``Z`` and ``+hh:mm`` are read from the bytes at once; the rare other forms that Arrow and
    Python both read (``+0100``, ``+01``) one timestamp at a time.
    """
    array = head.combine_chunks()
    offsets_of, data = _buffers(array)
    ends = offsets_of[1:]
    # Arrow read every one of them as a timestamp: each is far longer than 6 characters.
    tail = np.stack([data[ends - back] for back in range(6, 0, -1)], axis=1)
    digits = tail[:, [1, 2, 4, 5]].astype(np.int32) - ord("0")
    sign = np.where(tail[:, 0] == ord("-"), -1, 1)
    written = (
        np.isin(tail[:, 0], (ord("+"), ord("-")))
        & (tail[:, 3] == ord(":"))
        & ((digits >= 0) & (digits <= 9)).all(axis=1)
    )
    seconds = sign * (
        (digits[:, 0] * 10 + digits[:, 1]) * 3600 + (digits[:, 2] * 10 + digits[:, 3]) * 60
    )
    zulu = np.isin(tail[:, 5], (ord("Z"), ord("z")))
    offsets = np.where(written, seconds, 0).astype(np.int32)
    for row in np.flatnonzero(~written & ~zulu):  # +0100, +01: one at a time
        offsets[row] = _offset_of(datetime.fromisoformat(array[int(row)].as_py()))
    return offsets


def typed_instants(cells: Cells) -> tuple[Ints, Mask]:
    """A timestamp column with a time zone: microseconds since 1970, and refused rows.

    Raises:
        HistoryError: an instant finer than a microsecond.
    """
    column = cells.table["at"]
    try:
        instants = numpy_of(column.cast(INSTANT).cast(pa.int64())).astype(np.int64)
    except pa.ArrowInvalid:
        found = pc.not_equal(
            column.cast(pa.int64()), pc.multiply(pc.divide(column.cast(pa.int64()), 1000), 1000)
        )
        rows = np.flatnonzero(numpy_of(found.fill_null(False)))
        row = int(rows[0]) if len(rows) else 0
        message = "holds an instant finer than a microsecond; round it to microseconds"
        location = Location(cells.source, int(cells.lines[row]), 1)
        raise HistoryError([Problem(message, ("at",), location, "bad-timestamp")]) from None
    valid = numpy_of(column.is_valid())
    if column.type.tz in ("UTC", "+00:00"):  # a UTC year is a range of instants
        bad = (instants < _FIRST_INSTANT) | (instants >= _AFTER_LAST_INSTANT) | ~valid
        return instants.astype(np.int64), bad
    years = np.where(valid, numpy_of(pc.year(column)), FIRST_YEAR)
    bad = (years < FIRST_YEAR) | (years > LAST_YEAR) | ~valid
    return instants.astype(np.int64), bad


_FIRST_INSTANT = (datetime(FIRST_YEAR, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
_AFTER_LAST_INSTANT = (datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(
    microseconds=1
)
"""The first microsecond of ``FIRST_YEAR`` and of the year after ``LAST_YEAR``, in UTC."""


def too_fine(cells: Cells, row: int, text: str) -> tuple[int, Problem]:
    """A price with more than 12 decimals: the table cannot hold it, and no currency could."""
    message = f"must have at most 12 decimals, finer than any currency's minor unit (got {text!r})"
    location = Location(cells.source, int(cells.lines[row]), 1)
    return row, Problem(message, ("unit_price",), location, "bad-amount")


def repeated_rows(cells: Cells, within_runs: Mask) -> list[tuple[int, Problem]]:
    """The first row that repeats the row before it in every cell (``duplicate-row``).

    ``within_runs`` tells, for each row but the first, whether it has the event id of the
    row before it; the lines of an event differ most often by sku, so that is compared next.
    """
    table = cells.table
    if table.num_rows < 2:
        return []
    same = within_runs.copy()
    first = [name for name in ("sku", "quantity", "unit_price") if name in table.column_names]
    for name in [*first, *(name for name in table.column_names if name not in first)]:
        if not same.any():
            return []
        column = table[name]
        if pa.types.is_null(column.type):
            continue  # every cell null (a column Arrow read all empty): equal, and no kernel
        after, before = column[1:], column[:-1]
        equal = numpy_of(pc.equal(after, before).fill_null(False))
        same &= equal | (numpy_of(after.is_null()) & numpy_of(before.is_null()))
    if not same.any():
        return []
    row = int(np.flatnonzero(same)[0]) + 1
    where = "row" if cells.rows else "line"
    message = (
        f"this row repeats {where} {cells.lines[row - 1]} exactly; an export resumed with an "
        "overlap repeats its last row, and two rows are never one purchase of two units"
    )
    hint = "remove the repeated row; two units of one sku are one row with quantity 2"
    location = Location(cells.source, int(cells.lines[row]), 1)
    return [(row, Problem(message, (), location, "duplicate-row", hint))]


def as_rows(error: HistoryError, cells: Cells) -> HistoryError:
    """The row reader's error about a table's rows: it read row N as line N + 1."""
    if not cells.rows:
        return error
    problems = []
    for problem in error.problems:
        location = problem.location
        if location is not None and location.line > 1:
            location = Location(location.source, location.line - 1, location.column)
        message = re.sub(
            r"\bline (\d+)", lambda found: f"row {int(found.group(1)) - 1}", problem.message
        )
        problems.append(Problem(message, problem.path, location, problem.code, problem.suggestion))
    return HistoryError(problems)


def dictionary(column: Column | pa.Array[Any]) -> pa.DictionaryArray[Any, Any]:
    """A column dictionary-encoded in one chunk: its distinct values, and each row's index."""
    encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    return cast("pa.DictionaryArray[Any, Any]", encoded)


def positions(rows: Ints) -> pa.Int64Array:
    """Row numbers as an Arrow array, to take rows with."""
    return pa.array(rows, pa.int64())


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _offset_of(moment: datetime) -> int:
    offset = moment.utcoffset()
    return 0 if offset is None else int(offset.total_seconds())


def _micros_of(year: int, month: int, day: int) -> int:
    return _micros(datetime(year, month, day, tzinfo=UTC))
