"""A program over a Dask DataFrame, partitioned by customer: ``pip install 'rewardrules[dask]'``.

>>> from rewardrules.dask import evaluate  # doctest: +SKIP
>>> result = evaluate(program, dd.read_parquet("histories/*.parquet"))  # doctest: +SKIP
>>> result.totals.points_issued, result.ledger.head()  # doctest: +SKIP

The history's rows are shuffled so that each partition holds whole customers (partition
``crc32(customer_id) % n``), then the engine runs once per partition. Input that is already
partitioned by customer (its partitions hold disjoint ranges of customer ids, which one
read of the ``customer_id`` column checks) is evaluated where it lies, without the shuffle.
The program reaches the workers as its YAML text. With referral rules, a first pass
collects the facts of friends whose referrer lives in another partition and routes them
there (docs/scale-out.md).
The results equal ``rewardrules.evaluate`` on one machine, entry for entry.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rewardrules.engine.ledger import Totals
from rewardrules.errors import Problem, RewardRulesError
from rewardrules.events import Customer
from rewardrules.histories._table_rules import nfc
from rewardrules.histories.columns import HISTORY_SCHEMA, customers_to_table
from rewardrules.program.model import Program
from rewardrules.tools.ledger_files import ledger_schema
from rewardrules.tools.scale import (
    FACTS_SCHEMA,
    ORDER,
    PART,
    RESULTS_SCHEMA,
    CustomerRanges,
    Engine,
    MissingExtraError,
    Placement,
    add_totals,
    check_engine,
    customer_ranges,
    evaluate_partition,
    has_referrals,
    partition_of,
    program_text,
    refuse_early,
    remote_facts,
)

try:
    import dask
    import dask.dataframe as dd
    import pandas as pd
    from dask.base import compute, persist
    from dask.delayed import Delayed, delayed
except ImportError as missing:  # pragma: no cover - the extra's absence is tested in a subprocess
    raise MissingExtraError("dask", missing.name or "dask") from None

__all__ = [
    "WORKER_MALLOC",
    "DaskEvaluation",
    "LayoutWarning",
    "PartitionTasks",
    "evaluate",
    "ledger_file_name",
    "worker_environ",
]

WORKER_MALLOC = {
    "MALLOC_TRIM_THRESHOLD_": str(256 * 2**20),
    "MALLOC_MMAP_THRESHOLD_": str(32 * 2**20),
}
"""glibc's allocator settings for the workers of a cluster this package starts.

distributed's nannies start workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (to hand
memory back to the system early). Setting it fixes glibc's mmap threshold at 128 KiB, so
every column the batch engine makes above that is fresh pages from the kernel, zeroed at
first touch: on 10,000,000 purchases, 5.6 million page faults and 18 CPU s of system time
per worker. With these settings arrays up to 32 MiB are reused from the heap, and up to
256 MiB of free memory is kept before it is trimmed (docs/scale-out.md)."""


def worker_environ() -> dict[str, Any]:
    """distributed's ``nanny.pre-spawn-environ`` with :data:`WORKER_MALLOC` over it: use
    it as ``dask.config.set({"distributed.nanny.pre-spawn-environ": worker_environ()})``
    around starting a cluster's workers."""
    found = dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {}
    return {**found, **WORKER_MALLOC}


_REQUIRED = ("event_id", "type", "customer_id", "at")


@dataclass(frozen=True, slots=True)
class DaskEvaluation:
    """What a scaled-out evaluation returns.

    Attributes:
        ledger: the ledger rows (``customer_id, event_id, rule, kind, points, value, units,
            reason``; ``value`` is ``decimal128(38, places)``), each partition in customer
            order and each customer's entries in the order they happened.
        customers: one row per customer (``rewardrules.tools.scale.RESULTS_SCHEMA``).
        totals: the program's totals, computed.
    """

    ledger: dd.DataFrame
    customers: dd.DataFrame
    totals: Totals
    shuffled: bool = True
    """False when the input was already partitioned by customer and evaluated in place."""


@dataclass(frozen=True, slots=True)
class PartitionTasks:
    """The lazy per-partition evaluations, and whether the history is shuffled first.

    Each task gives (ledger, customers, totals' figures); with a ``ledger_folder`` given to
    :func:`partition_tasks`, each writes its ledger there instead and gives the figures
    alone (:attr:`writes`)."""

    tasks: list[Delayed]
    shuffled: bool
    writes: bool = False

    def figures(self) -> list[Delayed]:
        """Each partition's totals' figures: computing them holds no ledger in memory."""
        if self.writes:
            return list(self.tasks)
        return [cast(Any, task)[2] for task in self.tasks]


class LayoutWarning(UserWarning):
    """``partitioned_by_customer=True`` was given, but a customer's rows span partitions."""


def _pandas(schema: pa.Schema) -> pd.DataFrame:
    """An empty frame with a schema's Arrow types: the meta Dask checks partitions against."""
    return schema.empty_table().to_pandas(types_mapper=pd.ArrowDtype)


def _frame(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas(types_mapper=pd.ArrowDtype)


def _keyed(frame: pd.DataFrame, partitions: Placement, partition_info: Any = None) -> pd.DataFrame:
    """Add each row's partition and its place in the input (partition number, then row)."""
    number = 0 if partition_info is None else int(partition_info["number"])
    keyed = frame.copy()
    ids = [str(value) for value in frame["customer_id"].tolist()]
    keyed[PART] = pd.array(partition_of(ids, partitions), dtype="int64")
    keyed[ORDER] = pd.array([(number << 32) + row for row in range(len(frame))], dtype="int64")
    return keyed


def _by_customer(
    frame: dd.DataFrame, partitions: int, placement: Placement | None = None
) -> list[Delayed]:
    """The frame's rows in ``partitions`` parts, part *k* holding the customers of partition
    *k* (placed by ``placement``, by default ``crc32(customer_id) % partitions``)."""
    if PART not in frame.columns:
        meta = frame._meta.assign(
            **{PART: pd.Series(dtype="int64"), ORDER: pd.Series(dtype="int64")}
        )
        where = partitions if placement is None else placement
        frame = frame.map_partitions(_keyed, where, meta=meta)
    divisions = [*range(partitions), partitions - 1]
    shuffled = frame.set_index(PART, divisions=divisions)
    parts: list[Delayed] = shuffled.to_delayed()
    return parts


def _range_of(ids: pd.Series) -> pd.DataFrame:
    """A partition's lowest and highest customer id (composed, NFC, as ``partition_of``
    places them), and whether a row has none."""
    column = nfc(pa.array(ids))
    found = pc.min_max(column)
    return pd.DataFrame(
        {
            "low": pd.array([found["min"].as_py()], dtype="object"),
            "high": pd.array([found["max"].as_py()], dtype="object"),
            "missing": [column.null_count > 0],
        }
    )


def customer_layout(history: dd.DataFrame) -> CustomerRanges | tuple[int, int]:
    """Whether the history's partitions hold disjoint ranges of customer ids.

    Reads only the ``customer_id`` column of each partition. Dask's tuning would merge the
    partitions of a one-column read of Parquet into fewer; it is turned off here, so that
    the ranges are those of the very partitions :func:`partition_tasks` evaluates.

    Returns:
        The ranges (:class:`~rewardrules.tools.scale.CustomerRanges`), or two partitions
        whose ranges overlap (see :func:`~rewardrules.tools.scale.customer_ranges`).
    """
    meta = pd.DataFrame(
        {
            "low": pd.Series(dtype="object"),
            "high": pd.Series(dtype="object"),
            "missing": pd.Series(dtype="bool"),
        }
    )
    with dask.config.set({"optimization.tune.active": False}):
        parts = history["customer_id"].map_partitions(_range_of, meta=meta).to_delayed()
    found = compute(*parts)
    rows = [
        (frame["low"].iloc[0], frame["high"].iloc[0], bool(frame["missing"].iloc[0]))
        for frame in found
    ]
    return customer_ranges(rows)


def _in_place(history: dd.DataFrame) -> list[Delayed]:
    """The history's own partitions, as :func:`customer_layout` saw them (no tuning)."""
    with dask.config.set({"optimization.tune.active": False}):
        parts: list[Delayed] = history.to_delayed()
    return parts


def _table(frame: pd.DataFrame | None) -> pa.Table | None:
    if frame is None:
        return None
    return pa.Table.from_pandas(frame, preserve_index=False)


def _facts_task(
    text: str,
    part: int,
    partitions: Placement,
    history: pd.DataFrame,
    customers: pd.DataFrame | None,
    as_of: date | datetime | None,
    engine: Engine,
) -> pd.DataFrame:
    table = _table(history)
    assert table is not None  # noqa: S101 -- a partition is a frame
    found = remote_facts(text, part, partitions, table, _table(customers), as_of, engine)
    return _frame(found)


def _evaluated(
    text: str,
    part: int,
    partitions: Placement,
    history: pd.DataFrame,
    customers: pd.DataFrame | None,
    facts: pd.DataFrame | None,
    as_of: date | datetime | None,
    engine: Engine,
) -> tuple[pa.Table, pa.Table, dict[str, int]]:
    """A partition's frames evaluated: its ledger, results and totals' figures, in Arrow."""
    table = _table(history)
    assert table is not None  # noqa: S101 -- a partition is a frame
    return evaluate_partition(
        text, part, partitions, table, _table(customers), _table(facts), as_of, engine
    )


def _evaluate_task(
    text: str,
    part: int,
    partitions: Placement,
    history: pd.DataFrame,
    customers: pd.DataFrame | None,
    facts: pd.DataFrame | None,
    as_of: date | datetime | None,
    engine: Engine,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    ledger, results, figures = _evaluated(
        text, part, partitions, history, customers, facts, as_of, engine
    )
    return _frame(ledger), _frame(results), figures


def ledger_file_name(part: int) -> str:
    """The name of partition ``part``'s ledger file in a ledger folder."""
    return f"part.{part}.parquet"


def _write_task(
    text: str,
    part: int,
    partitions: Placement,
    history: pd.DataFrame,
    customers: pd.DataFrame | None,
    facts: pd.DataFrame | None,
    as_of: date | datetime | None,
    engine: Engine,
    folder: str,
) -> dict[str, int]:
    """Evaluate a partition, write its ledger to ``folder``, give its totals' figures.

    The file is written under a temporary name (a dot file) and renamed: a worker lost
    mid-write leaves at most a dot file, and the recomputed partition writes the whole
    file again. Nothing of the ledger stays in the worker's memory.
    """
    ledger, _results, figures = _evaluated(
        text, part, partitions, history, customers, facts, as_of, engine
    )
    name = ledger_file_name(part)
    temporary = os.path.join(folder, f".{name}.{uuid.uuid4().hex}.tmp")
    pq.write_table(ledger, temporary)
    os.replace(temporary, os.path.join(folder, name))
    return figures


def _check_columns(frame: dd.DataFrame, what: str, names: Sequence[str]) -> None:
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise RewardRulesError(
            [
                Problem(
                    message=f"the {what} has no column {', '.join(missing)}; a {what} has "
                    f"the columns {', '.join(HISTORY_SCHEMA.names)}",
                    code="missing-column",
                )
            ]
        )


def _customers_frame(customers: Any) -> dd.DataFrame:
    if isinstance(customers, dd.DataFrame):
        return customers
    if not isinstance(customers, pa.Table):
        customers = customers_to_table(list[Customer](customers))
    frame = customers.to_pandas(types_mapper=pd.ArrowDtype)
    return dd.from_pandas(frame, npartitions=1)


def _placement(
    history: dd.DataFrame, partitions: int | None, partitioned_by_customer: bool | None
) -> CustomerRanges | None:
    """The input's own placement when it may be evaluated without a shuffle, else None."""
    if partitioned_by_customer is False:
        return None
    if partitions is not None and partitions != history.npartitions:
        return None  # the caller asked for another number of partitions
    layout = customer_layout(history)
    if isinstance(layout, CustomerRanges):
        return layout
    if partitioned_by_customer:
        first, second = layout
        where = (
            f"partition {first} has a row without a customer id"
            if first == second
            else f"the customer ids of partitions {first} and {second} overlap"
        )
        warnings.warn(
            f"partitioned_by_customer=True, but {where}; the history is shuffled by customer",
            LayoutWarning,
            stacklevel=4,
        )
    return None


def partition_tasks(
    program: Program,
    history: dd.DataFrame,
    *,
    as_of: date | datetime | None = None,
    customers: dd.DataFrame | pa.Table | Iterable[Customer] | None = None,
    engine: str = "batch",
    partitions: int | None = None,
    partitioned_by_customer: bool | None = None,
    ledger_folder: str | None = None,
) -> PartitionTasks:
    """The lazy per-partition evaluations: each gives (ledger, customers, totals' figures).

    :func:`evaluate` runs them; the command line persists them itself to show progress.
    With ``ledger_folder`` (an existing folder the workers can write to), each task
    writes its partition's ledger there as ``part.K.parquet`` (:func:`ledger_file_name`)
    and gives only its figures, so that a worker holds one partition's ledger at a time.
    Other arguments as :func:`evaluate`.
    """
    checked = check_engine(engine)
    refuse_early(program, checked)
    _check_columns(history, "history", _REQUIRED)
    wanted = partitions or None
    if wanted is not None and wanted < 1:
        raise ValueError(f"partitions must be at least 1 (got {wanted})")
    text = program_text(program)
    ranges = _placement(history, wanted, partitioned_by_customer)
    placement: Placement
    if ranges is None:
        count = wanted or history.npartitions
        placement = count
        events = _by_customer(history, count)
    else:
        events = _in_place(history)
        count = len(events)
        placement = ranges
    profiles: Sequence[Delayed | None] = [None] * count
    if customers is not None:
        profiles = _by_customer(_customers_frame(customers), count, placement)
    facts: Sequence[Delayed | None] = [None] * count
    if has_referrals(program):
        found = [
            delayed(_facts_task, pure=True)(
                text, k, placement, events[k], profiles[k], as_of, checked
            )
            for k in range(count)
        ]
        meta = _pandas(FACTS_SCHEMA.append(pa.field(PART, pa.int64(), nullable=False)))
        facts = _by_customer(dd.from_delayed(found, meta=meta, verify_meta=False), count)
    if ledger_folder is not None:
        writes = [
            delayed(_write_task, pure=False)(
                text, k, placement, events[k], profiles[k], facts[k], as_of, checked, ledger_folder
            )
            for k in range(count)
        ]
        return PartitionTasks(tasks=writes, shuffled=ranges is None, writes=True)
    tasks = [
        delayed(_evaluate_task, pure=True, nout=3)(
            text, k, placement, events[k], profiles[k], facts[k], as_of, checked
        )
        for k in range(count)
    ]
    return PartitionTasks(tasks=tasks, shuffled=ranges is None)


def read_histories(files: Sequence[str]) -> dd.DataFrame:
    """Parquet history files as one frame, Arrow types kept (no float for a missing int)."""
    return dd.read_parquet(list(files), dtype_backend="pyarrow")


def results_of(
    program: Program, tasks: Sequence[Delayed], *, shuffled: bool = True
) -> DaskEvaluation:
    """The evaluation of computed (or persisted) partition tasks."""
    figures = compute(*[cast(Any, task)[2] for task in tasks])
    ledger = dd.from_delayed(
        [cast(Any, task)[0] for task in tasks],
        meta=_pandas(ledger_schema(program.money)),
        verify_meta=False,
    )
    results = dd.from_delayed(
        [cast(Any, task)[1] for task in tasks], meta=_pandas(RESULTS_SCHEMA), verify_meta=False
    )
    return DaskEvaluation(
        ledger=ledger,
        customers=results,
        totals=add_totals(program, figures),
        shuffled=shuffled,
    )


def evaluate(
    program: Program,
    ddf: dd.DataFrame,
    *,
    as_of: date | datetime | None = None,
    customers: dd.DataFrame | pa.Table | Iterable[Customer] | None = None,
    engine: str = "batch",
    partitions: int | None = None,
    partitioned_by_customer: bool | None = None,
) -> DaskEvaluation:
    """Evaluate a program over a Dask DataFrame of history rows, partitioned by customer.

    The partitions run once (persisted on the cluster, or computed in this process without
    one); the ledger and customers frames read those results lazily.

    Args:
        program: the program.
        ddf: history rows in the columns of ``rewardrules.histories.columns.HISTORY_SCHEMA``.
        as_of: ignore events after this date (the whole local day) or instant.
        customers: customer profiles: a Dask DataFrame or pyarrow Table in the columns of
            ``CUSTOMERS_SCHEMA``, or ``Customer`` objects.
        engine: ``"batch"`` (the columnar engine; it refuses what it does not evaluate yet,
            with its own error) or ``"reference"`` (every kind).
        partitions: how many customer partitions (default: the frame's partitions).
        partitioned_by_customer: ``None`` (the default) reads the ``customer_id`` column
            once and, when the frame's partitions hold disjoint ranges of customer ids,
            evaluates them where they are, without the shuffle; ``True`` does the same and
            warns (:class:`LayoutWarning`) when the check fails; ``False`` shuffles without
            checking. A given ``partitions`` other than the frame's always shuffles.

    Raises:
        HistoryError: an event cannot be applied (raised when the partitions run).
        UnsupportedError: the batch engine does not evaluate something the program uses.
    """
    planned = partition_tasks(
        program,
        ddf,
        as_of=as_of,
        customers=customers,
        engine=engine,
        partitions=partitions,
        partitioned_by_customer=partitioned_by_customer,
    )
    persisted: list[Delayed] = list(persist(*planned.tasks))
    return results_of(program, persisted, shuffled=planned.shuffled)
