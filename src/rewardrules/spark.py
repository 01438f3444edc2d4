"""A program over a Spark DataFrame, partitioned by customer: ``pip install 'rewardrules[spark]'``.

>>> from rewardrules.spark import evaluate  # doctest: +SKIP
>>> result = evaluate(program, spark.read.parquet("histories/"))  # doctest: +SKIP

Input of whole customers is evaluated where it lies, without a shuffle, when there are no
profiles and no referral rules (which need routing between partitions):

- a plain Parquet read (``spark.read.parquet(...)``, no filter, projection or partition
  columns) whose files fall into groups of overlapping customer-id ranges, none holding
  more than a quarter of the files, is read by the workers themselves with pyarrow, one
  task per group, each group's files in name order: one small job first reads each file's
  ``customer_id`` column for the ranges. The JVM never converts the rows;
- otherwise, when no customer id lies in two of the frame's own partitions (one small job
  reads the ``customer_id`` column, per partition and file), each partition is evaluated
  as it is (``mapInArrow``), put back in input order; the ranges seen by that very run
  are checked again, and the run is dropped and the rows shuffled if they overlap.

Partitions of more than ``_CHUNK_ROWS`` rows are evaluated in parts of whole customers.

Otherwise every row gets its customer's partition, ``pmod(crc32(customer_id), n)`` (the
number :func:`rewardrules.tools.scale.partition_of` gives in Python for an id written
composed, NFC, as every ASCII id is), and
``groupBy(partition).applyInArrow`` runs the engine once per partition of customers (one
call per customer would compile the program once per customer). The rows are first
repartitioned on a key chosen so that Spark's hash puts partition *k* in task *k*: one
partition of customers per task, none empty, none doubled. History rows, profiles and
routed referral facts travel in one frame, told apart by a column. The program reaches the
workers as its YAML text. A partition's ledger and customers leave the worker as Arrow IPC
streams in a few binary cells, which are cached; the ledger and customers frames unpack
them (``mapInArrow``), so the JVM never converts the rows when only the totals are read.
Every output column's type is declared. What runs in the workers (pyarrow only) is in
:mod:`rewardrules._spark_tasks`.

Spark's ``crc32`` reads an id as written, the engines and ``partition_of`` read it composed:
an id written otherwise (``cafe`` and a combining accent) may land in another partition
than its customer's. Each worker checks its rows' ids before evaluating (one vectorised
check when they are all ASCII) and reports any such customer with its partition instead
of results; the driver then drops the run and runs again with those ids placed by a
broadcast join (at most ``_MOVED_MAX`` of them; more are refused by name). In place, the
ranges of ids are of composed ids.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, cast

import pyarrow as pa
import pyarrow.fs as pa_fs

from rewardrules._spark_tasks import (
    _BLOCK,
    _CUSTOMER,
    _ERROR,
    _FACT,
    _FILE,
    _HISTORY,
    _LEDGER,
    _MOVED,
    _OUTPUT,
    _PACKED,
    _PROFILE,
    _RANGE,
    _TABLE,
    _TOTALS,
    _WHAT,
    _disjoint,
    _facts_schema,
    _file_span,
    _Partition,
    _unpacked,
)
from rewardrules.engine.ledger import Totals
from rewardrules.errors import Problem, RewardRulesError
from rewardrules.events import Customer
from rewardrules.histories.columns import CUSTOMERS_SCHEMA, HISTORY_SCHEMA, customers_to_table
from rewardrules.program.model import Program
from rewardrules.tools.ledger_files import ledger_schema
from rewardrules.tools.scale import (
    FACTS_SCHEMA,
    ORDER,
    PART,
    RESULTS_SCHEMA,
    MissingExtraError,
    add_totals,
    check_engine,
    has_referrals,
    program_text,
    refuse_early,
)

try:
    from pyspark.sql import Column, DataFrame, functions
    from pyspark.sql import types as spark_types
except ImportError as missing:  # pragma: no cover - the extra's absence is tested in a subprocess
    raise MissingExtraError("spark", missing.name or "pyspark") from None

__all__ = ["SparkEvaluation", "evaluate"]

_KEY: Final = "_key"
"""The shuffle key: a number whose Spark hash, modulo the partitions, is the partition."""
_MOVED_MAX: Final = 1_000_000
"""The most customer ids written other than composed (NFC), and sent by Spark's ``crc32``
to another partition than their customer's, that a run places by a broadcast join."""


@dataclass(frozen=True, slots=True)
class SparkEvaluation:
    """What a scaled-out evaluation returns.

    Attributes:
        ledger: the ledger rows (``value`` is ``decimal(38, places)``).
        customers: one row per customer (``rewardrules.tools.scale.RESULTS_SCHEMA``).
        totals: the program's totals, computed.
        shuffled: whether the rows were shuffled by customer; ``False`` when each of the
            input's partitions held whole customers and was evaluated in place.
    """

    ledger: DataFrame
    customers: DataFrame
    totals: Totals
    shuffled: bool = True


def _spark_type(arrow: pa.DataType) -> spark_types.DataType:
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow):
        return spark_types.StringType()
    if pa.types.is_int64(arrow):
        return spark_types.LongType()
    if pa.types.is_int32(arrow):
        return spark_types.IntegerType()
    if pa.types.is_timestamp(arrow):
        return spark_types.TimestampType()
    if pa.types.is_binary(arrow):
        return spark_types.BinaryType()
    if isinstance(arrow, pa.Decimal128Type):
        return spark_types.DecimalType(arrow.precision, arrow.scale)
    raise TypeError(f"no Spark type for {arrow}")  # pragma: no cover - the schemas above


def _struct(schema: pa.Schema) -> spark_types.StructType:
    """The declared Spark schema of an Arrow schema (every column nullable, as Spark reads)."""
    return spark_types.StructType(
        [spark_types.StructField(field.name, _spark_type(field.type), True) for field in schema]
    )


def _input_schema() -> pa.Schema:
    fields = list(HISTORY_SCHEMA)
    fields += [field for field in CUSTOMERS_SCHEMA if field.name not in HISTORY_SCHEMA.names]
    fields += [field for field in FACTS_SCHEMA if field.name not in {f.name for f in fields}]
    fields += [pa.field(PART, pa.int64()), pa.field(_WHAT, pa.int32())]
    return pa.schema([field.with_nullable(True) for field in fields])


def _part_of(column: Column, partitions: int) -> Column:
    """The Spark twin of ``partition_of`` for ids written composed (NFC): CRC-32 of the
    UTF-8 id, modulo the partitions."""
    return functions.pmod(functions.crc32(column.cast("binary")), functions.lit(partitions))


def _moved_to(united: DataFrame, moved: dict[str, int]) -> DataFrame:
    """The rows with the ids of ``moved`` (written other than composed, whose composed id
    ``partition_of`` places elsewhere than Spark's crc32) in their partition: a left join
    with a broadcast table of them. (A literal map in the plan took 75 s to plan 10,000.)"""
    if not moved:
        return united
    table = pa.table(
        {
            "_moved_id": pa.array(list(moved), pa.string()),
            "_moved_part": pa.array(list(moved.values()), pa.int64()),
        }
    )
    found = functions.broadcast(united.sparkSession.createDataFrame(table))
    joined = united.join(found, united["customer_id"] == found["_moved_id"], "left")
    return joined.withColumn(
        PART, functions.coalesce(functions.col("_moved_part"), functions.col(PART))
    ).drop("_moved_id", "_moved_part")


def _history_rows(df: DataFrame, partitions: int | None) -> DataFrame:
    """The history's rows with their input order; with a partition of ``partitions`` each
    and their kind, to be united with other inputs and shuffled."""
    missing = [name for name in ("event_id", "type", "customer_id", "at") if name not in df.columns]
    if missing:
        raise RewardRulesError(
            [
                Problem(
                    message=f"the history has no column {', '.join(missing)}; a history has "
                    f"the columns {', '.join(HISTORY_SCHEMA.names)}",
                    code="missing-column",
                )
            ]
        )
    # The rows' input order, as one machine reads it: files in name order, then rows in
    # each file. Spark packs files into its partitions largest first, so the id alone would
    # put a later file's rows before an earlier one's (an event whose lines straddle two
    # files would come apart); the file's place and the split's start come first.
    files = sorted(df.inputFiles())
    where = (
        functions.array_position(
            functions.array(*[functions.lit(name) for name in files]), functions.input_file_name()
        )
        if files
        else functions.lit(0)
    )
    placed = (
        []
        if partitions is None
        else [
            _part_of(functions.col("customer_id"), partitions).alias(PART),
            functions.lit(_HISTORY).alias(_WHAT),
        ]
    )
    return df.select(
        *[name for name in HISTORY_SCHEMA.names if name in df.columns],
        functions.monotonically_increasing_id().alias(ORDER),
        where.cast("long").alias(_FILE),
        functions.input_file_block_start().alias(_BLOCK),
        *placed,
    )


def _profile_rows(df: DataFrame, customers: Any, partitions: int) -> DataFrame:
    if not isinstance(customers, DataFrame):
        table = customers if isinstance(customers, pa.Table) else None
        if table is None:
            table = customers_to_table(list[Customer](customers))
        customers = df.sparkSession.createDataFrame(table, schema=_struct(CUSTOMERS_SCHEMA))
    present = set(customers.columns)
    selected: DataFrame = customers.select(
        # A profiles DataFrame from before migration lacks opening_points, tier and
        # tier_until: read as empty cells.
        *(
            field.name
            if field.name in present
            else functions.lit(None).cast(_spark_type(field.type)).alias(field.name)
            for field in CUSTOMERS_SCHEMA
        ),
        _part_of(functions.col("customer_id"), partitions).alias(PART),
        functions.lit(_PROFILE).alias(_WHAT),
    )
    return selected


def _union(frames: Iterable[DataFrame]) -> DataFrame:
    frames = list(frames)
    united = frames[0]
    for frame in frames[1:]:
        united = united.unionByName(frame, allowMissingColumns=True)
    return united


def evaluate(
    program: Program,
    df: DataFrame,
    *,
    as_of: date | datetime | None = None,
    customers: DataFrame | pa.Table | Iterable[Customer] | None = None,
    engine: str = "batch",
    partitions: int | None = None,
) -> SparkEvaluation:
    """Evaluate a program over a Spark DataFrame of history rows, partitioned by customer.

    The output is cached: the ledger and customers frames read it without running the
    engine again. Arguments as :func:`rewardrules.dask.evaluate`; ``partitions`` defaults
    to ``spark.sql.shuffle.partitions`` and counts only when the rows are shuffled (input
    of whole customers is evaluated in its own files or partitions: the module's text).

    Raises:
        HistoryError: an event cannot be applied (raised here, as itself).
        UnsupportedError: the batch engine does not evaluate something the program uses.
    """
    checked = check_engine(engine)
    refuse_early(program, checked)
    text = program_text(program)
    if customers is None and not has_referrals(program):
        run = _Partition(text, 1, as_of, checked, program.money)
        files = _parquet_files(df)
        groups = None if files is None else _file_groups(df.sparkSession, files)
        if groups is not None:
            return _from_files(program, df.sparkSession, groups, run)
        if _whole_customers(df):
            in_place = _in_place(program, df, run)
            if in_place is not None:
                return in_place
    session = df.sparkSession
    count = partitions or int(str(session.conf.get("spark.sql.shuffle.partitions")))
    if customers is not None and not isinstance(customers, DataFrame | pa.Table):
        customers = customers_to_table(list[Customer](customers))  # read once, maybe twice
    keys = _placement_keys(session, count)
    run = _Partition(text, count, as_of, checked, program.money)
    moved: dict[str, int] = {}
    # Run again, at most once, when a worker found ids that Spark's crc32 (of the id as
    # written) sent to another partition than their composed id's.
    for _ in range(2):
        evaluated, figures, found = _shuffled(program, df, customers, run, keys, moved)
        if not found:
            return SparkEvaluation(
                ledger=_unpack(evaluated, _LEDGER, ledger_schema(program.money)),
                customers=_unpack(evaluated, _CUSTOMER, RESULTS_SCHEMA),
                totals=add_totals(program, figures),
            )
        if len(moved) + len(found) > _MOVED_MAX:
            raise _misplaced_error(
                sorted(found), f"more than the {_MOVED_MAX} such ids a run places itself"
            )
        moved.update(found)
    raise _misplaced_error(sorted(found), "and placing them by their composed id did not hold")


def _misplaced_error(customers: list[str], why: str) -> RewardRulesError:
    """The refusal of customer ids written other than composed that could not be placed."""
    named = ", ".join(repr(customer) for customer in customers[:5])
    more = f" and {len(customers) - 5} more" if len(customers) > 5 else ""
    return RewardRulesError(
        [
            Problem(
                message=f"customer id {named}{more} is written other than composed (NFC): "
                "Spark places a row by the CRC-32 of its id as written, the engines read the "
                f"id composed, and its customer belongs to another partition, {why}",
                code="customer-id-not-composed",
                suggestion="compose the ids before handing the frame to Spark: in Python, "
                "unicodedata.normalize('NFC', customer_id) before createDataFrame, or write "
                "the history again with `rewardrules sort-history` (it writes composed ids)",
            )
        ]
    )


def _shuffled(
    program: Program,
    df: DataFrame,
    customers: Any,
    run: _Partition,
    keys: list[int],
    moved: dict[str, int],
) -> tuple[DataFrame, list[dict[str, int]], dict[str, int]]:
    """One shuffled run: its cached output and figures, or (the output dropped) the ids
    its workers found in another partition than their customer's."""
    count = run.partitions
    frames = [_history_rows(df, count)]
    if customers is not None:
        frames.append(_profile_rows(df, customers, count))
    united = _moved_to(_union(frames), moved)

    # Functions of (key, data) with resolvable hints: applyInArrow reads its mode from them.
    def facts_of(key: tuple[Any, ...], table: pa.Table) -> pa.Table:
        return run.facts(key, table)

    def evaluated_of(key: tuple[Any, ...], table: pa.Table) -> pa.Table:
        return run.evaluate(key, table)

    if has_referrals(program):
        facts = _placed(united, keys).applyInArrow(facts_of, _struct(_facts_schema()))
        routed = facts.withColumn(_WHAT, functions.lit(_FACT))
        united = _union([united, routed])
    evaluated = _placed(united, keys).applyInArrow(evaluated_of, _struct(_OUTPUT)).cache()
    figures, _, found = _collected(evaluated)
    if found:
        evaluated.unpersist()
    return evaluated, figures, found


def _collected(
    evaluated: DataFrame,
) -> tuple[list[dict[str, int]], list[tuple[int, str | None, str | None, bool]], dict[str, int]]:
    """The partitions' figures, (in place) the spans of customer ids they held and
    (shuffled) the customers they found placed elsewhere than by their composed id, or
    their error raised (the cache dropped)."""
    kept = evaluated.filter(functions.col(_TABLE).isin(_TOTALS, _ERROR, _RANGE, _MOVED)).select(
        _TABLE, "figures", "error"
    )
    figures, spans, errors, moved = [], [], [], {}
    for number, row in enumerate(kept.collect()):
        if row[_TABLE] == _ERROR:
            errors.append(row["error"])
        elif row[_TABLE] == _RANGE:
            spans += [(number, *span) for span in json.loads(row["figures"])]
        elif row[_TABLE] == _MOVED:
            moved.update(json.loads(row["figures"]))
        else:
            figures.append(json.loads(row["figures"]))
    # An error of a run dropped (overlapping ranges, misplaced customers) may come of a
    # customer split between partitions: the next run says.
    if errors and not moved and not (spans and not _disjoint(spans)):
        evaluated.unpersist()
        raise pickle.loads(errors[0])  # noqa: S301 -- our own workers' error
    return figures, spans, moved


def _parquet_files(df: DataFrame) -> list[str] | None:
    """The Parquet files a frame reads, in name order, when it is a plain read of them
    (no filter, projection or partition columns) that pyarrow can read too."""
    if any(name not in df.columns for name in ("event_id", "type", "customer_id", "at")):
        return None  # the frame's own path names the missing column
    try:
        plan = df._jdf.queryExecution().analyzed()
        relation = plan.relation()
        plain = (
            plan.getClass().getSimpleName() == "LogicalRelation"
            and relation.fileFormat().toString() == "Parquet"
            and relation.partitionSchema().isEmpty()
        )
        files = sorted(df.inputFiles()) if plain else []
        for uri in files[:1]:
            pa_fs.FileSystem.from_uri(uri)
    except Exception:  # not a plain read of files that pyarrow reads, or no JVM (Connect)
        return None
    return files or None


def _file_groups(session: Any, files: list[str]) -> list[list[str]] | None:
    """The files in groups of whole customers: files whose ranges of customer ids overlap
    (directly or through others) go together, in name order. ``None`` when the groups
    would not spread the work (a group of more than a quarter of several files) or a row
    has no customer id: the frame's rows are then evaluated through Spark.

    One job reads the ``customer_id`` column of each file, on the workers."""

    def spans_of(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            numbers = cast("list[int]", batch.column(0).to_pylist())
            found = [_file_span(files[number]) for number in numbers]
            yield pa.record_batch(
                [
                    pa.array(numbers, pa.int64()),
                    pa.array([span[0] for span in found], pa.string()),
                    pa.array([span[1] for span in found], pa.string()),
                    pa.array([span[2] for span in found], pa.bool_()),
                    pa.array([span[3] for span in found], pa.int64()),
                ],
                names=["file", "low", "high", "missing", "rows"],
            )

    tasks = min(len(files), session.sparkContext.defaultParallelism * 4)
    rows = (
        session.range(0, len(files), 1, tasks)
        .mapInArrow(spans_of, "file long, low string, high string, missing boolean, rows long")
        .collect()
    )
    if any(row["missing"] for row in rows):
        return None
    spans = sorted((row["low"], row["high"], row["file"]) for row in rows if row["low"] is not None)
    groups: list[list[int]] = []
    top: str | None = None
    for low, high, number in spans:
        if top is not None and low <= top:
            groups[-1].append(number)
            top = max(top, high)
        else:
            groups.append([number])
            top = high
    if not groups or (len(files) > 1 and max(map(len, groups)) > max(1, len(files) // 4)):
        return None
    # The largest groups first: the tasks start in this order, so the last to finish are
    # small ones and no core waits long for another.
    sizes = {row["file"]: row["rows"] for row in rows}
    groups.sort(key=lambda group: -sum(sizes[number] for number in group))
    return [[files[number] for number in sorted(group)] for group in groups]


def _from_files(
    program: Program, session: Any, groups: list[list[str]], run: _Partition
) -> SparkEvaluation:
    """Each group of files read and evaluated by one task, with pyarrow: Spark schedules
    the tasks and keeps the output, and never converts the rows."""

    def files_of(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return run.files(batches, groups)

    numbers = session.range(0, len(groups), 1, len(groups))
    evaluated = numbers.mapInArrow(files_of, _struct(_OUTPUT)).cache()
    figures, _, _ = _collected(evaluated)
    return SparkEvaluation(
        ledger=_unpack(evaluated, _LEDGER, ledger_schema(program.money)),
        customers=_unpack(evaluated, _CUSTOMER, RESULTS_SCHEMA),
        totals=add_totals(program, figures),
        shuffled=False,
    )


def _whole_customers(df: DataFrame) -> bool:
    """Whether each of the frame's own partitions holds whole customers: the ranges of
    customer ids of each partition's files (or parts of files) never overlap another
    partition's, and every row has an id. One small job that reads only ``customer_id``."""
    if "customer_id" not in df.columns:
        return False
    ids = functions.col("customer_id")
    spans = (
        df.select(
            functions.spark_partition_id().alias("part"),
            functions.input_file_name().alias("file"),
            ids,
        )
        .groupBy("part", "file")
        .agg(
            functions.min(ids).alias("low"),
            functions.max(ids).alias("high"),
            functions.max(ids.isNull()).alias("missing"),
        )
    )
    return _disjoint(
        (row["part"], row["low"], row["high"], bool(row["missing"])) for row in spans.collect()
    )


def _in_place(program: Program, df: DataFrame, run: _Partition) -> SparkEvaluation | None:
    """Each input partition evaluated where it is (``mapInArrow``), no shuffle; ``None``
    (the output dropped) if the partitions this run read did not hold whole customers."""

    def in_place_of(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return run.in_place(batches)

    evaluated = _history_rows(df, None).mapInArrow(in_place_of, _struct(_OUTPUT)).cache()
    figures, spans, _ = _collected(evaluated)
    if spans and not _disjoint(spans):
        evaluated.unpersist()
        return None
    return SparkEvaluation(
        ledger=_unpack(evaluated, _LEDGER, ledger_schema(program.money)),
        customers=_unpack(evaluated, _CUSTOMER, RESULTS_SCHEMA),
        totals=add_totals(program, figures),
        shuffled=False,
    )


def _placement_keys(session: Any, partitions: int) -> list[int]:
    """For each partition *k*, a number that Spark's hash partitioning sends to task *k*.

    Grouped by the partition number itself, Spark would hash the numbers ``0..n-1`` into
    ``n`` tasks: some tasks would get two or three partitions and others none, and with a
    few cores the slowest task sets the time. One small job finds, among ``0..64n``, a
    number per task (``pmod(hash(x), n)``, the expression of Spark's hash partitioning).
    """
    candidates = session.range(0, 64 * partitions).select(
        functions.col("id"),
        functions.pmod(functions.hash(functions.col("id")), functions.lit(partitions)).alias(
            "task"
        ),
    )
    first = {
        int(row["task"]): int(row["id"])
        for row in candidates.groupBy("task").agg(functions.min("id").alias("id")).collect()
    }
    # A task that no candidate reaches (not expected: e**-64 per task) shares a neighbour's.
    return [first.get(part, part) for part in range(partitions)]


def _placed(frame: DataFrame, keys: list[int]) -> Any:
    """The rows repartitioned so that task *k* holds partition *k*, grouped by partition."""
    key = functions.element_at(
        functions.array(*[functions.lit(number) for number in keys]),
        (functions.col(PART) + 1).cast("int"),
    ).cast("long")
    with_key = frame.withColumn(_KEY, key)
    return with_key.repartition(len(keys), _KEY).groupBy(_KEY, PART)


def _unpack(evaluated: DataFrame, table: str, schema: pa.Schema) -> DataFrame:
    """The rows of one output table, unpacked from the cached cells."""
    cells = evaluated.filter(functions.col(_TABLE) == table).select(_PACKED)
    unpacked: DataFrame = cells.mapInArrow(_unpacked, _struct(schema))
    return unpacked
