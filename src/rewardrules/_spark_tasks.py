"""What runs in Spark's Python workers for :mod:`rewardrules.spark`: pyarrow only.

A partition's rows in, put back in input order (or read from its Parquet files), evaluated
in parts of whole customers, and out as a few rows of packed Arrow IPC cells, its totals,
the ranges of customer ids it held, its error, or (shuffled) the customers it should not
hold: ids written other than composed (NFC) that Spark's ``crc32``, reading the id as
written, sent to another partition than :func:`rewardrules.tools.scale.partition_of` gives.
:mod:`rewardrules.spark` builds the Spark plan around these functions.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any, Final, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pa_fs
import pyarrow.parquet as pq

from rewardrules.errors import RewardRulesError
from rewardrules.histories._table_rules import nfc
from rewardrules.histories.columns import CUSTOMERS_SCHEMA
from rewardrules.money import Currency
from rewardrules.tools.ledger_files import ledger_schema
from rewardrules.tools.scale import (
    FACTS_SCHEMA,
    ORDER,
    PART,
    RESULTS_SCHEMA,
    Engine,
    evaluate_partition,
    history_rows,
    partition_of,
    remote_facts,
)

_WHAT: Final = "_what"
"""Which input a row is: a history row, a profile, or a routed referral fact."""
_HISTORY, _PROFILE, _FACT = 0, 1, 2
_FILE, _BLOCK = "_file", "_block"
"""A history row's input file (its place among the sorted files) and the start of its split."""
_TABLE: Final = "_table"
"""Which output a row is: ledger rows, customers, a partition's totals, its error, (in
place) the range of customer ids it held, or (shuffled) the customers placed elsewhere
than their composed id's partition."""
_LEDGER, _CUSTOMER, _TOTALS, _ERROR, _RANGE = "ledger", "customer", "totals", "error", "range"
_MOVED: Final = "moved"


_PACKED: Final = "packed"
"""An Arrow IPC stream of at most ``_PACKED_ROWS`` ledger rows or customers."""
_PACKED_ROWS: Final = 65_536
# A cell stays far below the 2 GiB of a binary value; LZ4 keeps the cached cells small.
_IPC: Final = pa.ipc.IpcWriteOptions(compression="lz4")
_CHUNK_ROWS: Final = 1_000_000
"""In place, an input partition of more history rows is evaluated in parts of whole
customers of about this many rows: one partition of many rows costs more per row."""


_OUTPUT_FIELDS: list[pa.Field[Any]] = [
    pa.field(_TABLE, pa.string()),
    pa.field(_PACKED, pa.binary()),
    pa.field("figures", pa.string()),
    pa.field("error", pa.binary()),
]
_OUTPUT: Final = pa.schema(_OUTPUT_FIELDS)
"""A partition's output rows: packed ledger rows or customers, its figures, or its error."""


def _nullable(schema: pa.Schema) -> pa.Schema:
    return pa.schema([field.with_nullable(True) for field in schema])


def _packed(table: pa.Table) -> list[bytes]:
    """A table as Arrow IPC streams of at most ``_PACKED_ROWS`` rows each."""
    cells = []
    for start in range(0, table.num_rows, _PACKED_ROWS):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema, options=_IPC) as writer:
            writer.write_table(table.slice(start, _PACKED_ROWS))
        cells.append(sink.getvalue().to_pybytes())
    return cells


def _unpacked(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The rows packed in the cells of ``batches`` (``mapInArrow``, on the workers)."""
    for batch in batches:
        for cell in batch.column(0):
            yield from pa.ipc.open_stream(cell.as_buffer())


def _facts_schema() -> pa.Schema:
    return FACTS_SCHEMA.append(pa.field(PART, pa.int64()))


def _split(
    key: tuple[Any, ...], table: pa.Table
) -> tuple[int, pa.Table, pa.Table | None, pa.Table | None]:
    """A group's rows: its partition (the key's second part), history rows, profiles and
    routed facts."""
    part = int(key[1].as_py())
    what = table[_WHAT]
    history = _in_order(table.filter(pc.equal(what, pa.scalar(_HISTORY, pa.int32()))))
    profiles = facts = None
    # The columns are there only when profiles (or routed facts) were united with the rows.
    if "joined_at" in table.schema.names:
        profiles = table.filter(pc.equal(what, pa.scalar(_PROFILE, pa.int32())))
        profiles = profiles.select(CUSTOMERS_SCHEMA.names)
    if "referred" in table.schema.names:
        facts = table.filter(pc.equal(what, pa.scalar(_FACT, pa.int32())))
        facts = facts.select(FACTS_SCHEMA.names)
    return part, history, profiles, facts


def _in_order(history: pa.Table) -> pa.Table:
    """History rows back in input order (file, split, row), numbered so that
    ``history_rows`` keeps it."""
    if not history.num_rows:
        return history
    history = history.sort_by([(_FILE, "ascending"), (_BLOCK, "ascending"), (ORDER, "ascending")])
    return history.set_column(
        history.schema.get_field_index(ORDER), ORDER, pa.array(range(history.num_rows), pa.int64())
    )


def _misplaced(part: int, partitions: int, *tables: pa.Table | None) -> dict[str, int]:
    """The customer ids of a shuffled partition's rows that belong to another partition,
    with that partition: Spark places a row by the CRC-32 of its id as written, the
    engines read the id composed (NFC), and ``partition_of`` places it composed. Only ids
    that NFC changes can be misplaced; ids all ASCII cost one vectorised check."""
    moved: dict[str, int] = {}
    for table in tables:
        if table is None or not table.num_rows:
            continue
        ids = table["customer_id"]
        composed = nfc(ids)
        if composed is ids:
            continue
        written = cast("list[str]", pc.unique(ids.filter(pc.not_equal(composed, ids))).to_pylist())
        for customer, where in zip(written, partition_of(written, partitions), strict=True):
            if where != part:
                moved[customer] = where
    return moved


def _spans(history: pa.Table) -> list[tuple[str | None, str | None, bool]]:
    """The lowest and highest customer id (composed, NFC, as the engines read it) of each
    input file's rows in a partition, and whether a row has none."""
    if history.num_rows:
        history = history.set_column(
            history.schema.get_field_index("customer_id"),
            "customer_id",
            nfc(history["customer_id"]),
        )
    spans = history.group_by(_FILE).aggregate(
        [("customer_id", "min"), ("customer_id", "max"), ("customer_id", "count", _NULLS)]
    )
    return list(
        zip(
            spans["customer_id_min"].to_pylist(),
            spans["customer_id_max"].to_pylist(),
            [bool(count) for count in spans["customer_id_count"].to_pylist()],
            strict=True,
        )
    )


_NULLS: Final = pc.CountOptions(mode="only_null")


def _disjoint(spans: Iterable[tuple[int, str | None, str | None, bool]]) -> bool:
    """Whether no customer id can be in two partitions: spans ``(partition, lowest,
    highest, a row without an id)`` of different partitions never overlap.

    Sorted by their lowest id, the spans that overlap (directly or through others) form
    runs; a run holding two partitions has two of them overlapping."""
    found = []
    for part, low, high, missing in spans:
        if missing:
            return False
        if low is not None and high is not None:
            found.append((low, high, part))
    found.sort()
    top: str | None = None
    run_part = -1
    for low, high, part in found:
        if top is not None and low <= top:
            if part != run_part:
                return False
            top = max(top, high)
        else:
            top, run_part = high, part
    return bool(found)


def _read(uri: str, columns: list[str] | None = None) -> pa.Table:
    """A Parquet file of a URI Spark listed, read with pyarrow."""
    filesystem, path = pa_fs.FileSystem.from_uri(uri)
    return pq.read_table(path, filesystem=filesystem, columns=columns)


def _file_span(uri: str) -> tuple[str | None, str | None, bool, int]:
    """A file's lowest and highest customer id (composed, NFC, as the engines read it:
    files holding one customer spelt two ways overlap), whether a row has none, and its
    rows."""
    ids = _read(uri, ["customer_id"])["customer_id"]
    span = pc.min_max(nfc(ids))
    return span["min"].as_py(), span["max"].as_py(), ids.null_count > 0, len(ids)


def _chunks(history: pa.Table) -> Iterator[pa.Table]:
    """A partition's history rows in parts of whole customers, about ``_CHUNK_ROWS`` rows
    each, every part in input order."""
    count = -(-history.num_rows // _CHUNK_ROWS)
    if count <= 1:
        yield history
        return
    # Customers (composed ids: one customer spelt two ways is one) numbered by first
    # appearance, dealt round the parts.
    encoded = pc.dictionary_encode(nfc(history["customer_id"]).combine_chunks())
    numbers = cast("pa.DictionaryArray[Any, Any]", encoded).indices
    which = pc.cast(numbers, pa.int64()).to_numpy(zero_copy_only=False) % count
    for part in range(count):
        yield history.filter(pa.array(which == part))


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    columns = [
        table[field.name].cast(field.type)
        if field.name in table.schema.names
        else pa.nulls(table.num_rows, field.type)
        for field in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


class _Partition:
    """The functions Spark runs per group: plain data in, so that they pickle small."""

    def __init__(
        self,
        text: str,
        partitions: int,
        as_of: date | datetime | None,
        engine: Engine,
        money: Currency,
    ) -> None:
        self.text, self.partitions, self.as_of, self.engine = text, partitions, as_of, engine
        self.money = money

    def facts(self, key: tuple[Any, ...], table: pa.Table) -> pa.Table:
        """Pass one for a group: the facts to route to other partitions."""
        part, history, profiles, _ = _split(key, table)
        if _misplaced(part, self.partitions, history, profiles):
            # The second pass finds them again and tells the driver, which places them
            # by their composed id and runs again.
            return _conform(_facts_schema().empty_table(), _facts_schema())
        try:
            found = remote_facts(
                self.text, part, self.partitions, history, profiles, self.as_of, self.engine
            )
        except RewardRulesError:
            # The second pass evaluates the same events, meets the same error and carries
            # it to the driver; here it would become a Java exception.
            found = _facts_schema().empty_table()
        return _conform(found, _facts_schema())

    def evaluate(self, key: tuple[Any, ...], table: pa.Table) -> pa.Table:
        """Pass two for a group: its ledger rows, customers and figures, or its error."""
        part, history, profiles, facts = _split(key, table)
        moved = _misplaced(part, self.partitions, history, profiles)
        if moved:
            # Evaluated here, those customers would be dropped (their results belong to
            # another partition) or split: the driver places them and runs again.
            rows = {_TABLE: [_MOVED], "figures": [json.dumps(moved, sort_keys=True)]}
            return _conform(pa.table(rows), _OUTPUT)
        try:
            ledger, results, figures = evaluate_partition(
                self.text, part, self.partitions, history, profiles, facts, self.as_of, self.engine
            )
        except RewardRulesError as error:
            # Spark would turn it into a Java exception holding a traceback's text; it is
            # carried as a row instead and raised as itself on the driver.
            failed = {_TABLE: [_ERROR], "error": [pickle.dumps(error)]}
            return _conform(pa.table(failed), _OUTPUT)
        return self._output(ledger, results, figures)

    def _output(self, ledger: pa.Table, results: pa.Table, figures: dict[str, int]) -> pa.Table:
        ledger_cells = _packed(_conform(ledger, _nullable(ledger_schema(self.money))))
        results_cells = _packed(_conform(results, _nullable(RESULTS_SCHEMA)))
        return pa.table(
            {
                _TABLE: [_LEDGER] * len(ledger_cells)
                + [_CUSTOMER] * len(results_cells)
                + [_TOTALS],
                _PACKED: [*ledger_cells, *results_cells, None],
                "figures": [None] * (len(ledger_cells) + len(results_cells))
                + [json.dumps(figures)],
                "error": pa.nulls(len(ledger_cells) + len(results_cells) + 1, pa.binary()),
            },
            schema=_OUTPUT,
        )

    def files(
        self, batches: Iterable[pa.RecordBatch], groups: list[list[str]]
    ) -> Iterator[pa.RecordBatch]:
        """Groups of Parquet files of whole customers, read here with pyarrow, each group's
        files in name order (``mapInArrow`` over the groups' numbers)."""
        for batch in batches:
            for number in cast("list[int]", batch.column(0).to_pylist()):
                tables = [history_rows(_read(uri)) for uri in groups[number]]
                history = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
                del tables
                yield from self._chunked(history)

    def _chunked(self, history: pa.Table) -> Iterator[pa.RecordBatch]:
        """History rows of whole customers, in input order, evaluated in parts."""
        for chunk in _chunks(history):
            try:
                ledger, results, figures = evaluate_partition(
                    self.text, 0, 1, chunk, None, None, self.as_of, self.engine
                )
            except RewardRulesError as error:
                failed = {_TABLE: [_ERROR], "error": [pickle.dumps(error)]}
                yield from _conform(pa.table(failed), _OUTPUT).to_batches()
                return
            yield from self._output(ledger, results, figures).to_batches()

    def in_place(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """A whole input partition, whose customers live nowhere else (``mapInArrow``):
        the range of customer ids it held, then its parts' outputs, or an error."""
        found = list(batches)
        if not found:
            return
        history = _in_order(pa.Table.from_batches(found))
        del found
        # The driver checks these ranges against other partitions': the evaluation
        # stands only if this very run saw no customer in two partitions.
        yield from _conform(
            pa.table({_TABLE: [_RANGE], "figures": [json.dumps(_spans(history))]}), _OUTPUT
        ).to_batches()
        yield from self._chunked(history)
