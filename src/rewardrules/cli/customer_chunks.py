"""A history read as checked Arrow tables of whole customers, for the streaming dry-run.

A Parquet history (a file, or Parquet on standard input) is read by record batches and cut
between two customers once a chunk holds :data:`CHUNK_ROWS` rows: memory then holds one
chunk, never the history. Each chunk is checked as ``read_history_table`` checks a whole
file (the same located errors: its rows are numbered as rows of the file), and the chunks
are checked together for what one chunk cannot see: an event id used again in a later
chunk (the reader's ``split-event`` error, pointing at the first use, or its repeated id
when spelt another way) and the order.

Streaming needs the rows **sorted by customer id** (code point order; within a customer,
any order). A customer id smaller than the one before raises :class:`NotSortedError`; the
caller then reads the history whole when it has at most :data:`WHOLE_ROWS` rows, and
otherwise shows the error, which says how to sort the history.

Read whole (:func:`whole_chunks`: CSV, JSON Lines, JSON, or a Parquet history not
sorted), the history is one checked table, sorted by customer (stably: the rows of an event
stay together and in order) if it is not already, then cut into the same chunks.

Customer profiles go with the chunk of their customers (:class:`ProfilesByChunk`).

:data:`CHUNK_ROWS` and :data:`WHOLE_ROWS` can be set with the environment variables
``REWARDRULES_CHUNK_ROWS`` and ``REWARDRULES_WHOLE_ROWS`` (for tests and measurements).
"""

from __future__ import annotations

import io
import os
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute
import pyarrow.parquet as pq
from numpy.lib.stride_tricks import sliding_window_view

from rewardrules.errors import REPEATED_EVENT_ID, HistoryError, Location, Problem
from rewardrules.events import Customer
from rewardrules.histories import _table_rules
from rewardrules.histories._checked import facts_of
from rewardrules.histories._records import CsvOptions
from rewardrules.histories._table_checks import EVENT_COLUMNS, Cells, check_header, history_table
from rewardrules.program.model import Program
from rewardrules.tools.summary import month_of

CHUNK_ROWS: Final = 100_000
"""Rows per chunk (at least, unless the history ends; whole customers)."""
WHOLE_ROWS: Final = 1_000_000
"""A history not sorted by customer, of at most this many rows, is read whole."""

# pyarrow's stubs type the compute functions too narrowly for masks and numpy indexes.
pc: Any = pyarrow.compute

_KEPT = ("utc_offset", "line")  # columns of a written history table: not cells to check
_FEW_VALUES = ("type", "quantity", "unit_price")  # read as dictionaries, as read_history_table
_SORT_HINT = (
    "sort it first: rewardrules sort-history {name} sorted.parquet, or with DuckDB or polars "
    "in one line (docs/histories.md, 'Large histories')"
)


def chunk_rows() -> int:
    """Rows per chunk: :data:`CHUNK_ROWS`, or ``REWARDRULES_CHUNK_ROWS`` (at least 1)."""
    return max(_setting("REWARDRULES_CHUNK_ROWS", CHUNK_ROWS), 1)


def whole_rows() -> int:
    """The row budget of a history read whole: :data:`WHOLE_ROWS`, or ``REWARDRULES_WHOLE_ROWS``."""
    return _setting("REWARDRULES_WHOLE_ROWS", WHOLE_ROWS)


def _setting(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip().isdigit() else default


class NotSortedError(HistoryError):
    """The history is not sorted by customer id: it cannot be read chunk by chunk."""


def not_sorted(source: str, line: int, customer: str, before: str) -> NotSortedError:
    """The error of a history too large to read whole and not sorted by customer id."""
    message = (
        f"customer {customer!r} comes after customer {before!r}: the history is not sorted "
        f"by customer id, and a history of more than {whole_rows():,} rows is evaluated "
        "customer by customer, in that order"
    )
    location = Location(source, line, 1)
    hint = _SORT_HINT.format(name=source)
    return NotSortedError([Problem(message, (), location, "not-sorted", hint)])


class ParquetSource:
    """A Parquet history to read by record batches: a file, or bytes (standard input)."""

    def __init__(self, path: Path | None, data: bytes | None, name: str) -> None:
        self.name = name
        self._path = path
        self._data = data
        self.rows = self._open().metadata.num_rows

    def _open(self, columns: tuple[str, ...] = ()) -> pq.ParquetFile:
        source: Any = pa.BufferReader(self._data) if self._data is not None else self._path
        try:
            schema = pq.read_schema(source)
            few = [
                column
                for column in _FEW_VALUES
                if column in schema.names and pa.types.is_string(schema.field(column).type)
            ]
            if self._data is not None:
                source = pa.BufferReader(self._data)
            return pq.ParquetFile(
                source, read_dictionary=few or None, pre_buffer=False, buffer_size=1 << 20
            )
        except (pa.ArrowInvalid, OSError) as exc:
            raise self._unreadable(exc) from None

    def read_whole(self) -> pa.Table:
        """The whole history as one checked table, as ``read_history_table`` reads it."""
        from rewardrules.histories.columns import read_history_table  # noqa: PLC0415 -- columns imports

        source: Any = self._path if self._data is None else io.BytesIO(self._data)
        return read_history_table(source, format="parquet", source=self.name)

    def _unreadable(self, exc: Exception) -> HistoryError:
        message = f"cannot read {self.name} as Parquet: {exc}"
        return HistoryError([Problem(message, code="not-parquet")])

    def batches(self, size: int, columns: list[str] | None = None) -> Iterator[pa.Table]:
        """The file's rows, ``size`` at a time, as tables of the history's cells."""
        file = self._open()
        names = [column for column in file.schema_arrow.names if column not in _KEPT]
        if columns is None:
            check_header(names, self.name, CsvOptions())
            columns = [column for column in EVENT_COLUMNS if column in names]
        try:
            for batch in file.iter_batches(batch_size=size, columns=columns):
                yield pa.Table.from_batches([batch])
        except (pa.ArrowInvalid, OSError) as exc:
            raise self._unreadable(exc) from None

    def first_row_of(self, event_id: str, before: int) -> tuple[int, str] | None:
        """The 0-based row where ``event_id`` (composed, NFC) first appears, if before row
        ``before``, and its id as written there (which may be spelt another way)."""
        start = 0
        for table in self.batches(65_536, ["event_id"]):
            if start >= before:
                return None
            column = table["event_id"].cast(pa.string())
            found = pc.index(_table_rules.nfc(column), event_id).as_py()
            if found is not None and found >= 0 and start + found < before:
                return int(start + found), str(column[found].as_py())
            start += table.num_rows
        return None


def _boundaries(table: pa.Table) -> npt.NDArray[np.intp]:
    """Rows that start a new customer and a new event (a place to cut the table)."""
    count = table.num_rows
    if count < 2:
        return np.zeros(0, np.intp)
    cuts: Any = None
    for name in ("customer_id", "event_id"):
        column = table[name]
        if name == "customer_id" and pa.types.is_string(column.type):
            # As the checks will read them: a customer spelt two ways (NFC and NFD) is one
            # customer, never cut in two (which would evaluate each half on its own).
            column = _table_rules.nfc(column)
        differs = pc.not_equal(column.slice(1), column.slice(0, count - 1)).fill_null(True)
        cuts = differs if cuts is None else pc.and_(cuts, differs)
    flags = np.asarray(cuts.to_numpy(), np.bool_)
    return np.flatnonzero(flags) + 1


def _last_boundary(table: pa.Table) -> int | None:
    """The last row of :func:`_boundaries`, looked for in the table's last rows first
    (a customer has a few hundred rows), then in more: None when there is none."""
    count = table.num_rows
    for window in (_TAIL_ROWS, 16 * _TAIL_ROWS, count):
        start = max(0, count - window)
        cuts = _boundaries(table.slice(start))
        if len(cuts):
            return start + int(cuts[-1])
        if not start:
            return None
    return None  # pragma: no cover - the last window is the whole table


_TAIL_ROWS = 4096


class _SeenIds:
    """The event ids of earlier chunks, as 64-bit hashes in sorted runs (8 bytes an event),
    and a filter of one bit per hash prefix (about 16 bits an event, at most 32 MiB).

    Most hashes never met find their bit unset, with no search. The others are looked up in
    the runs, merged as they grow (each at least twice the next), so that a look-up searches
    a few sorted arrays and the merging costs ``n log n`` in all. A hash found again is only
    a suspicion: the caller confirms it on the ids themselves.
    """

    def __init__(self, expected: int = 0) -> None:
        width = max(_FEWEST_BITS, min(_MOST_BITS, (16 * max(expected, 1) - 1).bit_length()))
        self._shift = np.uint64(64 - width)
        self._filter = np.zeros(1 << (width - 3), np.uint8)
        self._runs: list[npt.NDArray[np.int64]] = []

    def _slots(self, hashes: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
        """Each hash's bit in the filter: its top bits, in the hashes' order (the sign bit
        flipped makes int64 order unsigned order)."""
        keys = hashes.view(np.uint64) ^ _SIGN
        return (keys >> self._shift).astype(np.intp)

    def seen(self, hashes: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Which of some hashes, **sorted**, an earlier chunk had: sorted queries walk each
        run in order (several times faster than searching it at random places)."""
        found = np.zeros(len(hashes), np.bool_)
        if not self._runs or not len(hashes):
            return found
        slots = self._slots(hashes)
        marked = (self._filter[slots >> 3] >> (slots & 7).astype(np.uint8)) & 1
        maybe = np.flatnonzero(marked)
        wanted = hashes[maybe]
        hit = np.zeros(len(wanted), np.bool_)
        for run in self._runs:
            where = np.minimum(np.searchsorted(run, wanted), len(run) - 1)
            hit |= run[where] == wanted
        found[maybe] = hit
        return found

    def add(self, hashes: npt.NDArray[np.int64]) -> None:
        """Keep some hashes, **sorted**."""
        if len(hashes):
            slots = self._slots(hashes)
            places = slots >> 3  # in order: each byte's bits are OR-ed together
            firsts = np.flatnonzero(np.diff(places, prepend=-1))
            bits = np.left_shift(np.uint8(1), (slots & 7).astype(np.uint8))
            self._filter[places[firsts]] |= np.bitwise_or.reduceat(bits, firsts)
        run = hashes
        while self._runs and len(self._runs[-1]) <= 2 * len(run):
            run = np.sort(np.concatenate((self._runs.pop(), run)), kind="mergesort")
        self._runs.append(run)


_SIGN: Final = np.uint64(1 << 63)
_FEWEST_BITS, _MOST_BITS = 16, 28  # the filter's bits, as powers of two: 8 KiB to 32 MiB


_GOLDEN: Final = np.uint64(0x9E3779B97F4A7C15)
_MIX: Final = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))
_BLOCK_BYTES: Final = 1 << 20  # bytes of text hashed at once (bounds the temporaries)


def _mixed(words: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64's finaliser: a bijection of 64-bit words in which every bit moves all."""
    z = words + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX[0]
    z = (z ^ (z >> np.uint64(27))) * _MIX[1]
    return z ^ (z >> np.uint64(31))


def text_hashes(texts: pa.Array[Any]) -> npt.NDArray[np.int64]:
    """A 64-bit hash of each text of a string column (no null), a function of its UTF-8
    bytes alone, so that an id hashes alike in every chunk: its length, then each of its
    8-byte words (the last padded with zeros), mixed in turn. Texts of one length are
    hashed together, a word position at a time, with no Python string made."""
    texts = texts.cast(pa.large_string())
    count = len(texts)
    found = np.zeros(count, np.uint64)
    _, offset_buffer, data_buffer = texts.buffers()
    if not count or offset_buffer is None:
        return found.view(np.int64)
    offsets = np.frombuffer(memoryview(offset_buffer), np.int64, count + 1, texts.offset * 8)
    data = np.zeros(0, np.uint8)
    if data_buffer is not None:
        data = np.frombuffer(memoryview(data_buffer), np.uint8)
    lengths = np.diff(offsets)
    for length in np.flatnonzero(np.bincount(lengths)).tolist():  # the lengths met, in order
        rows = np.flatnonzero(lengths == length)
        words = (length + 7) // 8
        step = max(1, _BLOCK_BYTES // max(words * 8, 1))
        # Each text's bytes, as a row of the windows of ``length`` bytes over the data.
        windows = sliding_window_view(data, length) if length else data[:0, None]
        for first in range(0, len(rows), step):
            chosen = rows[first : first + step]
            hashes = _mixed(np.full(len(chosen), length, np.uint64))
            if length:
                block = np.zeros((len(chosen), words * 8), np.uint8)
                block[:, :length] = windows[offsets[chosen]]
                packed = block.view(np.uint64)
                for word in range(words):
                    hashes = _mixed(hashes ^ packed[:, word])
            found[chosen] = hashes
    return found.view(np.int64)


def event_heads(table: pa.Table) -> tuple[Any, npt.NDArray[np.intp]]:
    """Each event's id (runs of one id) and the row it starts at, in a checked table."""
    ids = table["event_id"].combine_chunks()
    facts = facts_of(table)
    if facts is not None and facts.starts is not None:  # the checks found the runs
        return ids.take(facts.starts), facts.starts
    count = len(ids)
    starts = np.zeros(min(count, 1), np.intp)
    if count > 1:
        differs = pc.not_equal(ids.slice(1), ids.slice(0, count - 1))
        flags = np.asarray(differs.to_numpy(zero_copy_only=False), np.bool_)
        starts = np.concatenate((starts, np.flatnonzero(flags) + 1))
    return ids.take(starts), starts


class _Order:
    """The customer order seen so far, checked chunk by chunk."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.last: str | None = None

    def check(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        customers = table["customer_id"].combine_chunks()
        count = len(customers)
        first = customers[0].as_py()
        if self.last is not None and first < self.last:
            raise self._error(table, 0, first, self.last)
        if count > 1:
            down = pc.less(customers.slice(1), customers.slice(0, count - 1))
            row = pc.index(down, True).as_py()
            if row is not None and row >= 0:
                before = customers[row].as_py()
                raise self._error(table, row + 1, customers[row + 1].as_py(), before)
        self.last = customers[count - 1].as_py()

    def _error(self, table: pa.Table, row: int, customer: str, before: str) -> NotSortedError:
        line = int(table["line"][row].as_py())
        return not_sorted(self.source, line, customer, before)


def parquet_chunks(source: ParquetSource, size: int) -> Iterator[pa.Table]:
    """The checked chunks of a Parquet history sorted by customer, read batch by batch.

    Raises:
        HistoryError: the first problem of the first chunk that has one, located in the
            file; an event id used again (``split-event``, or a repeated id when spelt
            another way).
        NotSortedError: a customer id smaller than the one before.
    """
    order = _Order(source.name)
    seen = _SeenIds(source.rows)
    start = 0  # the file's row (0-based) of the first pending row
    pending: list[pa.Table] = []
    pending_rows = 0

    def checked(table: pa.Table, first: int) -> pa.Table:
        lines = np.arange(first + 1, first + table.num_rows + 1, dtype=np.int64)
        heads = _HeadHashes()
        cells = Cells(table, lines, source.name, CsvOptions(), rows=True, distinct=heads)
        result = history_table(cells)
        order.check(result)
        _check_new_ids(source, seen, result, table["event_id"], first, heads)
        return result

    for batch in source.batches(size):
        pending.append(batch)
        pending_rows += batch.num_rows
        if pending_rows < size:
            continue
        table = pa.concat_tables(pending)
        cut = _last_boundary(table)
        if cut is None:
            continue  # one customer (or event) so far: read on
        yield checked(table.slice(0, cut), start)
        start += cut
        rest = table.slice(cut)
        pending, pending_rows = [rest], rest.num_rows
    if pending_rows:
        yield checked(pa.concat_tables(pending), start)


class _HeadHashes:
    """The hashes of a chunk's event ids, made as the checks ask whether the ids differ
    (``Cells.distinct``), then kept for the look among the earlier chunks' ids."""

    def __init__(self) -> None:
        self.found: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None

    def __call__(self, ids: Any) -> bool:
        """True when no two ids are equal: their hashes, sorted, are all different (two
        equal hashes send the ids to the checks' exact look)."""
        array = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
        if array.null_count or not pa.types.is_string(array.type):
            return False
        hashes = text_hashes(array)
        ordered = np.sort(hashes)
        self.found = (hashes, ordered)
        return not bool((ordered[1:] == ordered[:-1]).any())


def _check_new_ids(
    source: ParquetSource,
    seen: _SeenIds,
    table: pa.Table,
    written: pa.ChunkedArray[Any],
    first: int,
    heads: _HeadHashes,
) -> None:
    """Refuse an event id used in an earlier chunk, as the whole-file reader words it: an id
    written as it was before comes back (``split-event``, here); an id spelt another way
    (NFC and NFD) is another event with the same id (at its first row, as the reader's
    check of composed ids and the engine say it). ``written`` is the chunk's ids as read."""
    ids, starts = event_heads(table)
    facts = facts_of(table)
    if heads.found is not None and facts is not None and facts.starts is not None:
        hashes, ordered = heads.found  # the ids the checks hashed are the table's
    else:
        hashes = text_hashes(ids)
        ordered = np.sort(hashes)
    found = seen.seen(ordered)
    suspects = np.flatnonzero(np.isin(hashes, ordered[found])) if found.any() else found[:0]
    for index in suspects.tolist():  # in row order
        event_id = ids[index].as_py()
        earlier = source.first_row_of(event_id, first)
        if earlier is None:
            continue  # two ids with one hash
        row = int(starts[index])
        earlier_row, spelt = earlier
        if spelt != written[row].as_py():
            location = Location(source.name, earlier_row + 1, 1)
            path = (f"event {event_id}",)
            raise HistoryError([Problem(REPEATED_EVENT_ID, path, location, "invalid-event")])
        message = (  # the id as written, as the reader's message has it
            f"event {spelt!r} appears again (its first rows start on row {earlier_row + 1}); "
            "the rows of one event must be adjacent, and an event id is used by one event only"
        )
        hint = "remove the rows of a re-sent export before reading"
        location = Location(source.name, int(table["line"][row].as_py()), 1)
        raise HistoryError([Problem(message, ("event_id",), location, "split-event", hint)])
    seen.add(ordered)


def whole_chunks(table: pa.Table, size: int) -> Iterator[pa.Table]:
    """The chunks of a history read whole: sorted by customer (stably) if it is not."""
    customers = table["customer_id"]
    count = table.num_rows
    if count > 1:
        down = pc.less(customers.slice(1), customers.slice(0, count - 1))
        if pc.any(down).as_py():
            order = pc.sort_indices(table, sort_keys=[("customer_id", "ascending")])
            table = table.take(order)
    cuts = _boundaries(table).tolist()
    start = 0
    index = 0
    while start < count:
        end = start + size
        while index < len(cuts) and cuts[index] < end:
            index += 1
        end = cuts[index] if index < len(cuts) else count
        yield table.slice(start, end - start)
        start = end


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_US = 86_400_000_000


def event_months(table: pa.Table, program: Program) -> dict[str, str]:
    """The month (``summary.month_of``) of each event of a checked table, by event id."""
    ids, months = event_month_columns(table, program)
    return {
        str(key): str(month) for key, month in zip(ids.to_pylist(), months.to_pylist(), strict=True)
    }


def event_month_columns(
    table: pa.Table, program: Program, days: dict[int, tuple[str, str]] | None = None
) -> tuple[pa.Array[Any], pa.Array[Any]]:
    """Each event of a checked table and its month (``summary.month_of``): two columns.

    ``month_of`` is called once at each end of every UTC day that has an event; only the
    events of a day whose two ends fall in different local months get their own call.
    ``days`` keeps each day's two months for the next tables of the same program (the
    chunks of a history, which mostly share their days).
    """
    ids, starts = event_heads(table)
    instants = table["at"].combine_chunks().take(starts).cast(pa.int64())
    at = np.asarray(instants.to_numpy(zero_copy_only=False), np.int64)
    unique_days, inverse = np.unique(at // _DAY_US, return_inverse=True)
    known = {} if days is None else days
    day = timedelta(days=1)
    for value in unique_days.tolist():
        if value not in known:
            moment = _EPOCH + int(value) * day
            last = moment + day - timedelta(microseconds=1)
            known[value] = (month_of(moment, program), month_of(last, program))
    ends = [known[value] for value in unique_days.tolist()]
    names = sorted({name for pair in ends for name in pair})
    code = {name: place for place, name in enumerate(names)}
    per_day = np.asarray([code[begin] for begin, _ in ends], dtype=np.int64)
    inverse = np.asarray(inverse, dtype=np.int64).reshape(-1)
    codes = per_day[inverse]
    for place in np.flatnonzero([begin != end for begin, end in ends]).tolist():
        rows = np.flatnonzero(inverse == place)
        turn = _month_turn(int(unique_days[place]) * _DAY_US, program)
        if turn is not None:  # the day's later rows are in its end's month
            rows = rows[at[rows] >= turn]
            codes[rows] = code[ends[place][1]]
            continue
        for row in rows.tolist():
            name = month_of(_EPOCH + timedelta(microseconds=int(at[row])), program)
            if name not in code:
                code[name] = len(names)
                names.append(name)
            codes[row] = code[name]
    return ids.cast(pa.string()), pa.array(names, pa.string()).take(codes)


def _month_turn(start: int, program: Program) -> int | None:
    """The first instant (microseconds since 1970) of a UTC day that falls in the day's
    last local month, found by bisection; None when the zone's offset changes that day
    (local time may then go back, and each event's month is found by itself)."""
    first = _EPOCH + timedelta(microseconds=start)
    last = first + timedelta(days=1, microseconds=-1)
    zone = program.zone
    if first.astimezone(zone).utcoffset() != last.astimezone(zone).utcoffset():
        return None
    month = month_of(last, program)
    low, high = start, start + _DAY_US - 1  # month_of(high) is the last month
    while low < high:
        middle = (low + high) // 2
        if month_of(_EPOCH + timedelta(microseconds=middle), program) == month:
            high = middle
        else:
            low = middle + 1
    return low


class ProfilesByChunk:
    """Customer profiles handed out with the chunks of customers they belong to.

    The chunks come in customer id order (:mod:`rewardrules.cli.customer_chunks`), and the
    evaluation lists its customers in that order too: a chunk takes the profiles whose ids
    are at most its last customer's (those of customers without events among them), so
    that every customer's ledger lands where the whole history's evaluation puts it.
    ``rest`` is what is left after the last chunk: customers with a profile and no event,
    ordered after every customer with one.
    """

    __slots__ = ("_ids", "_next", "_profiles")

    def __init__(self, profiles: Iterable[Customer]) -> None:
        self._profiles = sorted(profiles, key=attrgetter("customer_id"))
        self._ids = [profile.customer_id for profile in self._profiles]
        self._next = 0

    def up_to(self, largest: str | None) -> list[Customer]:
        """The profiles not handed out yet whose ids are at most ``largest``, a chunk's
        largest customer id (None: a chunk of no row, which takes none)."""
        if largest is None:
            return []
        end = bisect_right(self._ids, largest, lo=self._next)
        given, self._next = self._profiles[self._next : end], end
        return given

    def rest(self) -> list[Customer]:
        """The profiles no chunk took."""
        given, self._next = self._profiles[self._next :], len(self._profiles)
        return given
