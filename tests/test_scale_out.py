"""Scale-out on real engines: a Dask LocalCluster of two worker processes, and Spark local[2].

Each evaluation is compared with ``evaluate`` on one machine: every ledger row (reasons
included), every customer's result and the totals. The clusters start once per session.
Hypothesis draws few examples here (each is a distributed run); the ``scale`` profile
(HYPOTHESIS_PROFILE=scale) draws many more.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import dask.dataframe as dd
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from distributed import Client, LocalCluster
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import rewardrules.dask as scale_dask
from bonus_strategies import bonus_programs, profiles
from rewardrules import evaluate, load_program, read_customers, read_history
from rewardrules.cli.dry_run_cluster import _client
from rewardrules.cli.main import cli
from rewardrules.errors import HistoryError, RewardRulesError
from rewardrules.evaluation.batch import UnsupportedError
from rewardrules.events import AnyEvent, Customer, Line, OpeningLot, Purchase, Refund
from rewardrules.histories.columns import (
    customers_to_table,
    events_to_table,
    table_to_customers,
    table_to_events,
)
from rewardrules.program.model import Program
from rewardrules.rulefiles.loader import load_program_text
from rewardrules.tools.scale import (
    ORDER,
    PART,
    CustomerRanges,
    add_totals,
    customer_ranges,
    ledger_table,
    partition_of,
    program_text,
    results_table,
)
from strategies import cutoffs, lifecycle_histories

EXAMPLES = Path(__file__).parent.parent / "rules" / "examples"
HEAVY = os.environ.get("HYPOTHESIS_PROFILE") == "scale"
DRAWN = 200 if HEAVY else 6
DRAWN_ON_SPARK = 200 if HEAVY else 3  # each Spark run is two jobs of Python workers


# --- the engines ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            # A free port: None means distributed's default 8787, and a test run beside
            # another cluster (another checkout's tests, a notebook) failed to start.
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    if shutil.which("java") is None:
        pytest.skip("no Java runtime: Spark cannot start (.ci/run installs one as root)")
    from pyspark.sql import SparkSession  # noqa: PLC0415 -- only when Java is there

    # The workers must be this interpreter, which has rewardrules (not the first python3).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

    session = (
        SparkSession.builder.master("local[2]")
        .appName("rewardrules-tests")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.driver.extraJavaOptions", "-Dlog4j2.level=ERROR")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


# --- what one machine gives, and what the clusters give ----------------------------------


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows in customer order, each customer's in the order they came (a stable sort)."""
    return sorted(table.to_pylist(), key=lambda row: row["customer_id"])


def _one_machine(
    program: Program,
    events: list[AnyEvent],
    customers: list[Customer] | None,
    as_of: date | datetime | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    evaluation = evaluate(program, events, customers, as_of)
    return (
        _rows(ledger_table(evaluation.customers, evaluation.money)),
        _rows(results_table(evaluation.customers)),
        evaluation.totals.to_dict(),
    )


def _on_dask(
    program: Program,
    events: list[AnyEvent],
    customers: list[Customer] | None,
    as_of: date | datetime | None,
    partitions: int,
    engine: str = "reference",
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    table = events_to_table(events)
    frame = table.to_pandas(types_mapper=pd.ArrowDtype)
    ddf = dd.from_pandas(frame, npartitions=max(1, min(3, len(frame))), sort=False)
    result = scale_dask.evaluate(
        program, ddf, as_of=as_of, customers=customers, engine=engine, partitions=partitions
    )
    ledger = pa.Table.from_pandas(result.ledger.compute(), preserve_index=False)
    customers_table = pa.Table.from_pandas(result.customers.compute(), preserve_index=False)
    return _rows(ledger), _rows(customers_table), result.totals.to_dict()


def _on_spark(
    spark: Any,
    program: Program,
    events: list[AnyEvent],
    customers: list[Customer] | None,
    as_of: date | datetime | None,
    partitions: int,
    engine: str = "reference",
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    import rewardrules.spark as scale_spark  # noqa: PLC0415 -- with the session

    frame = spark.createDataFrame(events_to_table(events))
    result = scale_spark.evaluate(
        program, frame, as_of=as_of, customers=customers, engine=engine, partitions=partitions
    )
    return (
        _rows(result.ledger.toArrow()),
        _rows(result.customers.toArrow()),
        result.totals.to_dict(),
    )


def _example(name: str) -> tuple[Program, list[AnyEvent], list[Customer] | None, date | None]:
    program = load_program(EXAMPLES / f"{name}.yaml")
    history = next(EXAMPLES.glob(f"{name}.history.*"))
    events = list(read_history(history))
    profiles_file = EXAMPLES / f"{name}.customers.csv"
    customers = list(read_customers(profiles_file)) if profiles_file.exists() else None
    as_of_file = EXAMPLES / f"{name}.as-of"
    as_of = date.fromisoformat(as_of_file.read_text().strip()) if as_of_file.exists() else None
    return program, events, customers, as_of


EXAMPLE_NAMES = sorted(path.name.removesuffix(".yaml") for path in EXAMPLES.glob("*.yaml"))


def test_payments_reach_the_partitions_in_the_history_table() -> None:
    _, events, _, _ = _example("card-rewards")
    table = events_to_table(events)
    # p-101 is two lines paid by stored value and cash: each row holds the payments
    assert table["payments"].to_pylist()[:2] == ["stored_value:9.00 cash:6.00"] * 2


# --- Dask -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_example_on_dask_equals_one_machine(dask_client: Client, name: str) -> None:
    program, events, customers, as_of = _example(name)
    expected = _one_machine(program, events, customers, as_of)
    assert _on_dask(program, events, customers, as_of, partitions=3) == expected


@pytest.mark.parametrize("partitions", [1, 3])
def test_payment_methods_on_dask_with_the_batch_engine_equal_one_machine(
    dask_client: Client, partitions: int
) -> None:
    program, events, customers, as_of = _example("card-rewards")
    assert any(rule.when.payment_methods for rule in program.rules)
    expected = _one_machine(program, events, customers, as_of)
    on_dask = _on_dask(program, events, customers, as_of, partitions, engine="batch")
    assert on_dask == expected


def _purchase(event_id: str, customer: str, day: int, price: str) -> Purchase:
    return Purchase(
        id=event_id,
        customer_id=customer,
        at=datetime(2026, 3, day, 12, tzinfo=UTC),
        lines=(Line(sku="food", category="food", quantity=1, unit_price=Decimal(price)),),
    )


REFERRALS = """\
program: friends
name: Friends
currency: GBP
timezone: Europe/London
points:
  name: paws
rules:
  - id: paws
    kind: points_per_spend
    points: 1
    per: 1.00
  - id: refer
    kind: referral
    referrer:
      points: 300
    referred:
      points: 100
    min_paid: 20.00
    limit:
      per: year
      rewards: 1
"""


def _apart(partitions: int) -> tuple[str, str, str]:
    """A referrer and two friends, the referrer in another partition than both friends."""
    names = [f"member-{number}" for number in range(100)]
    parts = partition_of(names, partitions)
    referrer = names[0]
    friends = [name for name, part in zip(names, parts) if part != parts[0]]
    return referrer, friends[0], friends[1]


def _referral_case() -> tuple[Program, list[AnyEvent], list[Customer], str, str, str]:
    program = load_program_text(REFERRALS)
    referrer, friend, other = _apart(2)
    events: list[AnyEvent] = [
        _purchase("r-1", referrer, 1, "5.00"),
        _purchase("f-1", friend, 2, "25.00"),
        _purchase("o-1", other, 3, "30.00"),  # the yearly limit leaves nothing: capped
        Refund(
            id="f-2", customer_id=friend, at=datetime(2026, 3, 4, tzinfo=UTC), purchase_id="f-1"
        ),
    ]
    customers = [
        Customer(customer_id=friend, referred_by=referrer),
        Customer(customer_id=other, referred_by=referrer),
    ]
    return program, events, customers, referrer, friend, other


def test_a_referrer_in_another_partition_than_the_friends_gets_the_same_rewards(
    dask_client: Client,
) -> None:
    program, events, customers, referrer, friend, other = _referral_case()
    assert len(set(partition_of([referrer, friend, other], 2))) == 2
    assert partition_of([friend], 2) == partition_of([other], 2)
    expected = _one_machine(program, events, customers, None)
    ledger, results, totals = _on_dask(program, events, customers, None, partitions=2)
    assert (ledger, results, totals) == expected
    referrer_rows = [
        (row["event_id"], row["kind"], row["points"])
        for row in ledger
        if row["customer_id"] == referrer
    ]
    assert referrer_rows == [("r-1", "points", 5), ("f-1", "points", 300), ("o-1", "capped", None)]


def _held_case() -> tuple[Program, list[AnyEvent], list[Customer], str, str, str]:
    """The referral case held 14 days: the friend's refund on 4 March reverses f-1, the
    other friend's o-1 of 3 March is given on 17 March (as of 31 March)."""
    _, events, customers, referrer, friend, other = _referral_case()
    held = REFERRALS.replace("    limit:\n      per: year\n      rewards: 1\n", "")
    return (
        load_program_text(held + "    hold_for: 14 days\n"),
        events,
        customers,
        referrer,
        friend,
        other,
    )


@pytest.mark.parametrize("engine", ["reference", "batch"])
def test_a_held_referral_and_its_reversal_reach_a_referrer_in_another_partition(
    dask_client: Client, engine: str
) -> None:
    program, events, customers, referrer, _, _ = _held_case()
    as_of = date(2026, 3, 31)
    expected = _one_machine(program, events, customers, as_of)
    ledger, results, totals = _on_dask(program, events, customers, as_of, 2, engine)
    assert (ledger, results, totals) == expected
    referrer_rows = [
        (row["event_id"], row["kind"], row["points"])
        for row in ledger
        if row["customer_id"] == referrer
    ]
    # f-1 was refunded in full within its hold: nothing for it; o-1's 300 at its hold's end.
    assert referrer_rows == [("r-1", "points", 5), ("o-1", "points", 300)]


def test_a_referrer_without_events_or_profile_is_a_customer_of_their_own_partition(
    dask_client: Client,
) -> None:
    program, events, customers, referrer, _, _ = _referral_case()
    events = [event for event in events if event.customer_id != referrer]
    expected = _one_machine(program, events, customers, None)
    assert _on_dask(program, events, customers, None, partitions=2) == expected
    assert referrer in [row["customer_id"] for row in expected[1]]


@pytest.mark.parametrize("engine", ["reference", "batch"])
def test_a_migrated_referrer_without_events_is_opened_in_their_own_partition(
    dask_client: Client, engine: str
) -> None:
    """The friends' facts reach the referrer's partition as supplied ones: the opening comes
    before the first of them there, as one machine opens it before the first derived one."""
    program, events, customers, referrer, _, _ = _referral_case()
    events = [event for event in events if event.customer_id != referrer]
    lot = OpeningLot(points=70, earned_at=datetime(2025, 1, 1, tzinfo=UTC))
    customers = [*customers, Customer(customer_id=referrer, opening_points=(lot,))]
    expected = _one_machine(program, events, customers, None)
    assert _on_dask(program, events, customers, None, 2, engine) == expected
    referrer_rows = [
        (row["event_id"], row["kind"], row["points"])
        for row in expected[0]
        if row["customer_id"] == referrer
    ]
    assert referrer_rows[:2] == [("opening#1", "opening", 70), ("f-1", "points", 300)]


def test_the_batch_engine_on_dask_limits_a_referrer_as_one_machine_does(
    dask_client: Client,
) -> None:
    program, events, customers, _, _, _ = _referral_case()
    expected = _one_machine(program, events, customers, None)
    assert _on_dask(program, events, customers, None, partitions=2, engine="batch") == expected


def test_the_batch_engine_refuses_on_dask_what_it_refuses_on_one_machine(
    dask_client: Client,
) -> None:
    program, events, customers, _, _, _ = _referral_case()
    # An amount beyond the batch engine's integers (2**61 minor units on one line): refused
    # whatever the program uses, and not a feature any change to the engine takes away.
    events = [*events, _purchase("huge", events[0].customer_id, 5, "100000000000000000.00")]
    with pytest.raises(UnsupportedError) as one:
        evaluate(program, events, customers, engine="batch")
    with pytest.raises(UnsupportedError) as scaled:
        _on_dask(program, events, customers, None, partitions=2, engine="batch")
    assert "event huge.lines[0].unit_price: the line's gross amount" in str(one.value)
    assert scaled.value.problems == one.value.problems


@pytest.mark.parametrize("name", ["coffee-club", "meal-kit"])
def test_the_batch_engine_on_dask_equals_one_machine(dask_client: Client, name: str) -> None:
    # meal-kit holds its referral rewards, and reverses one at a refund within the hold.
    program, events, customers, as_of = _example(name)
    expected = _one_machine(program, events, customers, as_of)
    assert _on_dask(program, events, customers, as_of, 2, engine="batch") == expected


def _migrated_case() -> tuple[Program, list[AnyEvent], list[Customer], date | None]:
    """migrated-bookshop, with migrated customers without events in every partition."""
    program, events, customers, as_of = _example("migrated-bookshop")
    assert customers is not None
    ana = next(profile for profile in customers if profile.opening_points)
    extra = [ana.model_copy(update={"customer_id": f"moved-{number}"}) for number in range(6)]
    assert len(set(partition_of([profile.customer_id for profile in extra], 3))) == 3
    return program, events, [*customers, *extra], as_of


@pytest.mark.parametrize("engine", ["reference", "batch"])
def test_a_migrated_customers_table_on_dask_equals_one_machine(
    dask_client: Client, engine: str
) -> None:
    program, events, customers, as_of = _migrated_case()
    expected = _one_machine(program, events, customers, as_of)
    # The customers go to the cluster as a table, whose cells carry the opening.
    table = customers_to_table(customers)
    assert list(table_to_customers(table)) == customers
    frame = events_to_table(events).to_pandas(types_mapper=pd.ArrowDtype)
    result = scale_dask.evaluate(
        program,
        dd.from_pandas(frame, npartitions=2, sort=False),
        as_of=as_of,
        customers=table,
        engine=engine,
        partitions=3,
    )
    ledger = pa.Table.from_pandas(result.ledger.compute(), preserve_index=False)
    results = pa.Table.from_pandas(result.customers.compute(), preserve_index=False)
    assert (_rows(ledger), _rows(results), result.totals.to_dict()) == expected
    moved = [row for row in expected[1] if row["customer_id"].startswith("moved-")]
    assert len(moved) == 6  # reported as of the date, though they have no event


def test_an_error_in_a_partition_reaches_the_caller_as_itself(dask_client: Client) -> None:
    program = load_program_text(REFERRALS)
    events: list[AnyEvent] = [
        _purchase("p-1", "amy", 1, "5.00"),
        Refund(
            id="p-2", customer_id="amy", at=datetime(2026, 3, 2, tzinfo=UTC), purchase_id="nope"
        ),
    ]
    with pytest.raises(HistoryError) as one:
        evaluate(program, events)
    with pytest.raises(HistoryError) as scaled:
        _on_dask(program, events, None, None, partitions=2)
    assert scaled.value.problems == one.value.problems


def test_a_worker_killed_during_a_run_changes_nothing(dask_client: Client) -> None:
    program, events, customers, as_of = _example("pet-shop")
    expected = _one_machine(program, events, customers, as_of)
    table = events_to_table(events)
    history = dd.from_pandas(table.to_pandas(types_mapper=pd.ArrowDtype), npartitions=2)
    tasks = scale_dask.partition_tasks(
        program, history, as_of=as_of, customers=customers, engine="reference", partitions=4
    )
    persisted = dask_client.persist(tasks.tasks)
    victim = next(iter(dask_client.run(os.getpid).values()))
    os.kill(victim, signal.SIGKILL)  # its partitions, done or not, are computed again
    result = scale_dask.results_of(program, persisted)
    ledger = pa.Table.from_pandas(result.ledger.compute(), preserve_index=False)
    found = pa.Table.from_pandas(result.customers.compute(), preserve_index=False)
    assert (_rows(ledger), _rows(found), result.totals.to_dict()) == expected
    assert victim not in dask_client.run(os.getpid).values()


def test_partitions_that_write_their_ledger_survive_a_killed_worker(
    dask_client: Client, tmp_path: Path
) -> None:
    # The command line's --output DIR/: each task writes its partition's ledger and gives
    # only its figures. A worker killed mid-run is replaced; its partitions are written
    # again, whole, under the same names.
    program, events, customers, as_of = _example("pet-shop")
    expected = _one_machine(program, events, customers, as_of)
    table = events_to_table(events)
    history = dd.from_pandas(table.to_pandas(types_mapper=pd.ArrowDtype), npartitions=2)
    tasks = scale_dask.partition_tasks(
        program, history, as_of=as_of, customers=customers, engine="reference",
        partitions=4, ledger_folder=str(tmp_path),
    )  # fmt: skip
    persisted = dask_client.persist(tasks.figures())
    victim = next(iter(dask_client.run(os.getpid).values()))
    os.kill(victim, signal.SIGKILL)
    figures = dask_client.compute(persisted, sync=True)
    files = [tmp_path / scale_dask.ledger_file_name(part) for part in range(4)]
    ledger = pa.concat_tables([pq.read_table(file) for file in files])
    assert (_rows(ledger), add_totals(program, figures).to_dict()) == (
        expected[0],
        expected[2],
    )
    assert sorted(path.name for path in tmp_path.iterdir() if not path.name.startswith(".")) == [
        file.name for file in files
    ]


@settings(max_examples=DRAWN)
@given(
    program=bonus_programs(),
    events=lifecycle_histories(catalogue=True),
    customers=profiles(),
    as_of=cutoffs(),
    partitions=st.integers(1, 8),
)
def test_drawn_histories_on_dask_equal_one_machine(
    dask_client: Client,
    program: Program,
    events: list[AnyEvent],
    customers: list[Customer],
    as_of: date | datetime | None,
    partitions: int,
) -> None:
    try:
        expected = _one_machine(program, events, customers, as_of)
    except RewardRulesError as error:
        with pytest.raises(type(error)):
            _on_dask(program, events, customers, as_of, partitions)
        return
    assert _on_dask(program, events, customers, as_of, partitions) == expected


# --- input already partitioned by customer ------------------------------------------------


def _by_customer_rows(events: list[AnyEvent]) -> pa.Table:
    """The history's rows sorted by customer; each customer's rows keep their order."""
    table = events_to_table(events)
    order = sorted(range(table.num_rows), key=table["customer_id"].to_pylist().__getitem__)
    return table.take(pa.array(order, pa.int64()))


def _in_files(table: pa.Table, cuts: list[int], folder: Path) -> dd.DataFrame:
    """The rows as Parquet files cut before the given rows, read back as Dask reads them."""
    bounds = [0, *cuts, table.num_rows]
    for number, (start, stop) in enumerate(itertools.pairwise(bounds)):
        pq.write_table(table.slice(start, stop - start), folder / f"part-{number:02d}.parquet")
    return scale_dask.read_histories(sorted(str(path) for path in folder.glob("*.parquet")))


def _customer_starts(table: pa.Table) -> list[int]:
    """The rows where a customer's rows begin, the first customer's left out."""
    ids = table["customer_id"].to_pylist()
    return [row for row in range(1, len(ids)) if ids[row] != ids[row - 1]]


def _inside_a_customer(table: pa.Table) -> list[int]:
    """The rows that are not a customer's first: a cut there splits the customer."""
    ids = table["customer_id"].to_pylist()
    return [row for row in range(1, len(ids)) if ids[row] == ids[row - 1]]


def _results_of(result: scale_dask.DaskEvaluation) -> tuple[Any, Any, Any]:
    ledger = pa.Table.from_pandas(result.ledger.compute(), preserve_index=False)
    found = pa.Table.from_pandas(result.customers.compute(), preserve_index=False)
    return _rows(ledger), _rows(found), result.totals.to_dict()


CAFE_NFC, CAFE_NFD = "caf\u00e9", "cafe\u0301"


def _cafe_history(customers: list[str]) -> pa.Table:
    """One-line purchases of a punch card's customers, their ids written as given."""
    count = len(customers)
    events = [
        Purchase(
            id=f"p{number}",
            customer_id="c1",
            at=datetime(2026, 3, 2 + number, 9, 0, tzinfo=UTC),
            lines=(Line(sku="latte", quantity=1, unit_price=Decimal("4.50")),),
        )
        for number in range(count)
    ]
    table = events_to_table(events)
    return table.set_column(2, "customer_id", pa.array(customers, pa.string()))


@pytest.mark.parametrize("in_files", [False, True])
@pytest.mark.parametrize(
    "customers",
    [[CAFE_NFC, CAFE_NFD], [CAFE_NFD, CAFE_NFD], [CAFE_NFD, "zoe", CAFE_NFC]],
    ids=["spelt two ways", "decomposed", "two ways apart"],
)
def test_a_customer_id_spelt_two_ways_is_one_customer_on_dask(
    dask_client: Client, customers: list[str], in_files: bool, tmp_path: Path
) -> None:
    """The engines read ``caf\u00e9`` and ``cafe\u0301`` as one customer. Dask placed
    rows by the CRC-32 of the id as written (two partitions for one customer: no free
    coffee, earned over both purchases) and kept a partition's results by the CRC-32 of
    the composed id (a customer written decomposed only was dropped from the results);
    in files, the ranges of ids as written did not overlap, so the customer was evaluated
    in two places."""
    program = load_program_text(
        "program: cafe\nname: Cafe\ncurrency: EUR\ntimezone: UTC\nrules:\n"
        "  - {id: card, kind: every_nth_free, every: 2, counts: items, reward: free}\n"
    )
    assert len(set(partition_of([CAFE_NFC, CAFE_NFD], 8))) == 1
    table = _cafe_history(customers)
    expected = _one_machine(program, list(table_to_events(table)), None, None)
    if in_files:  # one file per row: the ranges are read, and must overlap
        history = _in_files(table, list(range(1, table.num_rows)), tmp_path)
        result = scale_dask.evaluate(program, history, engine="reference")
    else:
        frame = dd.from_pandas(table.to_pandas(types_mapper=pd.ArrowDtype), npartitions=1)
        result = scale_dask.evaluate(program, frame, engine="batch", partitions=8)
    assert _results_of(result) == expected
    assert expected[2]["free_units"] == 1  # two purchases of one customer: one free


def test_ranges_of_customer_ids_that_do_not_overlap_place_every_customer() -> None:
    ranges = customer_ranges(
        [("m", "p", False), (None, None, False), ("a", "c", False), ("q", "q", False)]
    )
    assert ranges == CustomerRanges(highs=("c", "p", "q"), parts=(2, 0, 3))
    assert partition_of(["a", "b", "c", "n", "q"], ranges) == [2, 2, 2, 0, 3]
    # Ids in no range have no rows anywhere: the next range up, or the last partition.
    assert partition_of(["0", "d", "pa", "z"], ranges) == [2, 0, 3, 3]


@pytest.mark.parametrize(
    ("ranges", "overlapping"),
    [
        ([("a", "c", False), ("c", "d", False)], (0, 1)),  # a customer in both
        ([("m", "z", False), ("b", "c", False), ("a", "n", False)], (1, 2)),  # b-c in a-n
        ([("a", "c", False), ("d", "e", True)], (1, 1)),  # a row without a customer id
        ([(None, None, False)], (0, 0)),  # no rows at all
    ],
)
def test_ranges_that_overlap_name_two_partitions_to_shuffle(
    ranges: list[tuple[str | None, str | None, bool]], overlapping: tuple[int, int]
) -> None:
    assert customer_ranges(ranges) == overlapping


@settings(max_examples=DRAWN)
@given(
    program=bonus_programs(),
    events=lifecycle_histories(catalogue=True),
    customers=profiles(),
    as_of=cutoffs(),
    files=st.integers(1, 8),
    data=st.data(),
)
def test_files_partitioned_by_customer_are_not_shuffled_and_equal_one_machine(
    dask_client: Client,
    program: Program,
    events: list[AnyEvent],
    customers: list[Customer],
    as_of: date | datetime | None,
    files: int,
    data: st.DataObject,
) -> None:
    table = _by_customer_rows(events)
    starts = _customer_starts(table)
    cuts = sorted(data.draw(st.sets(st.sampled_from(starts), max_size=files - 1)) if starts else [])
    in_order = list(table_to_events(table))
    try:
        expected = _one_machine(program, in_order, customers, as_of)
    except RewardRulesError as error:
        expected = None
        failure = error
    with tempfile.TemporaryDirectory() as folder:
        history = _in_files(table, cuts, Path(folder))
        if expected is None:
            with pytest.raises(type(failure)):
                scale_dask.evaluate(
                    program, history, as_of=as_of, customers=customers, engine="reference"
                )
            return
        result = scale_dask.evaluate(
            program, history, as_of=as_of, customers=customers, engine="reference"
        )
        assert _results_of(result) == expected
    assert result.shuffled == (table.num_rows == 0)


@settings(max_examples=DRAWN)
@given(
    program=bonus_programs(),
    events=lifecycle_histories(catalogue=True),
    customers=profiles(),
    as_of=cutoffs(),
    files=st.integers(1, 7),
    data=st.data(),
)
def test_a_customer_split_across_two_files_is_shuffled_and_equals_one_machine(
    dask_client: Client,
    program: Program,
    events: list[AnyEvent],
    customers: list[Customer],
    as_of: date | datetime | None,
    files: int,
    data: st.DataObject,
) -> None:
    table = _by_customer_rows(events)
    inside = _inside_a_customer(table)
    assume(inside)
    split = data.draw(st.sampled_from(inside))
    others = data.draw(st.sets(st.sampled_from(_customer_starts(table) or [split]), max_size=files))
    cuts = sorted({split, *others})
    in_order = list(table_to_events(table))
    try:
        expected = _one_machine(program, in_order, customers, as_of)
    except RewardRulesError as error:
        expected = None
        failure = error
    with tempfile.TemporaryDirectory() as folder:
        history = _in_files(table, cuts, Path(folder))
        if expected is None:
            with pytest.raises(type(failure)):
                scale_dask.evaluate(
                    program, history, as_of=as_of, customers=customers, engine="reference"
                )
            return
        result = scale_dask.evaluate(
            program, history, as_of=as_of, customers=customers, engine="reference"
        )
        assert _results_of(result) == expected
    assert result.shuffled


def _referral_files(folder: Path, *, with_referrer: bool) -> tuple[Any, ...]:
    """The referral case in two files cut between the first two customers (by id).

    The referrer's id is the lowest: with their purchase, they are alone in the first file;
    without it, they live in the first file's partition and only one friend is there.
    """
    program, events, customers, referrer, _, _ = _referral_case()
    if not with_referrer:
        events = [event for event in events if event.customer_id != referrer]
    table = _by_customer_rows(events)
    history = _in_files(table, _customer_starts(table)[:1], folder)
    expected = _one_machine(program, list(table_to_events(table)), customers, None)
    return program, history, customers, expected, referrer


@pytest.mark.parametrize("with_referrer", [True, False])
def test_a_referrer_in_another_file_than_the_friends_gets_the_same_rewards_unshuffled(
    dask_client: Client, tmp_path: Path, with_referrer: bool
) -> None:
    program, history, customers, expected, referrer = _referral_files(
        tmp_path, with_referrer=with_referrer
    )
    ranges = scale_dask.customer_layout(history)
    assert isinstance(ranges, CustomerRanges)
    result = scale_dask.evaluate(program, history, customers=customers, engine="reference")
    assert (result.shuffled, _results_of(result)) == (False, expected)
    referrer_points = [row["points"] for row in expected[0] if row["customer_id"] == referrer]
    assert referrer_points == ([5, 300, None] if with_referrer else [300, None])


def test_partitioned_by_customer_is_checked_and_a_split_customer_is_shuffled_with_a_warning(
    dask_client: Client, tmp_path: Path
) -> None:
    program, events, customers, as_of = _example("coffee-club")
    table = _by_customer_rows(events)
    history = _in_files(table, [_inside_a_customer(table)[0]], tmp_path)
    expected = _one_machine(program, list(table_to_events(table)), customers, as_of)
    with pytest.warns(
        scale_dask.LayoutWarning, match="the customer ids of partitions 0 and 1 overlap"
    ):
        result = scale_dask.evaluate(
            program, history, as_of=as_of, customers=customers, partitioned_by_customer=True
        )
    assert (result.shuffled, _results_of(result)) == (True, expected)


def test_partitioned_by_customer_false_shuffles_without_checking(
    dask_client: Client, tmp_path: Path
) -> None:
    program, events, customers, as_of = _example("coffee-club")
    table = _by_customer_rows(events)
    history = _in_files(table, _customer_starts(table)[:2], tmp_path)
    assert isinstance(scale_dask.customer_layout(history), CustomerRanges)
    expected = _one_machine(program, list(table_to_events(table)), customers, as_of)
    result = scale_dask.evaluate(
        program, history, as_of=as_of, customers=customers, partitioned_by_customer=False
    )
    assert (result.shuffled, _results_of(result)) == (True, expected)


# --- Spark ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["coffee-club", "pet-shop", "migrated-bookshop", "gift-shop"])
def test_examples_on_spark_equal_one_machine(spark: Any, name: str) -> None:
    program, events, customers, as_of = _example(name)
    expected = _one_machine(program, events, customers, as_of)
    assert _on_spark(spark, program, events, customers, as_of, partitions=3) == expected


def test_files_are_read_in_name_order_on_spark_though_spark_packs_them_by_size(
    spark: Any, tmp_path: Path
) -> None:
    # The coffee club's history, cut inside a purchase of several lines: the first file is
    # small and the second large, so Spark, which packs the largest file first, reads the
    # second first. One machine reads the files in name order, and so must Spark.
    import rewardrules.spark as scale_spark  # noqa: PLC0415 -- with the session

    program, events, customers, as_of = _example("coffee-club")
    table = events_to_table(events)
    ids = table["event_id"].to_pylist()
    cut = next(
        row for row in range(1, len(ids)) if ids[row] == ids[row - 1] and row < len(ids) // 4
    )
    pq.write_table(table.slice(0, cut), tmp_path / "part-0.parquet")
    pq.write_table(table.slice(cut), tmp_path / "part-1.parquet")
    assert (tmp_path / "part-0.parquet").stat().st_size < (
        tmp_path / "part-1.parquet"
    ).stat().st_size
    frame = spark.read.parquet(str(tmp_path))
    result = scale_spark.evaluate(
        program, frame, as_of=as_of, customers=customers, engine="reference", partitions=2
    )
    found = (
        _rows(result.ledger.toArrow()),
        _rows(result.customers.toArrow()),
        result.totals.to_dict(),
    )
    assert found == _one_machine(program, events, customers, as_of)


def test_a_referrer_in_another_partition_gets_the_same_rewards_on_spark(spark: Any) -> None:
    program, events, customers, referrer, _, _ = _referral_case()
    expected = _one_machine(program, events, customers, None)
    ledger, results, totals = _on_spark(spark, program, events, customers, None, partitions=2)
    assert (ledger, results, totals) == expected
    assert [row["points"] for row in ledger if row["customer_id"] == referrer] == [5, 300, None]


@pytest.mark.parametrize("engine", ["reference", "batch"])
def test_a_held_referral_and_its_reversal_reach_a_referrer_in_another_partition_on_spark(
    spark: Any, engine: str
) -> None:
    program, events, customers, _, _, _ = _held_case()
    as_of = date(2026, 3, 31)
    expected = _one_machine(program, events, customers, as_of)
    assert _on_spark(spark, program, events, customers, as_of, 2, engine) == expected


def test_an_error_in_a_spark_partition_reaches_the_caller_as_itself(spark: Any) -> None:
    program = load_program_text(REFERRALS)
    events: list[AnyEvent] = [
        _purchase("p-1", "amy", 1, "5.00"),
        Refund(
            id="p-2", customer_id="amy", at=datetime(2026, 3, 2, tzinfo=UTC), purchase_id="nope"
        ),
    ]
    with pytest.raises(HistoryError) as one:
        evaluate(program, events)
    with pytest.raises(HistoryError) as scaled:
        _on_spark(spark, program, events, None, None, partitions=2)
    assert scaled.value.problems == one.value.problems


def test_each_spark_task_holds_exactly_its_own_partition_of_customers(spark: Any) -> None:
    # Grouped by the partition number itself, Spark's hash would put two or three
    # partitions in some tasks and none in others; the placement key sends partition k to
    # task k, for every count of partitions.
    from pyspark.sql import functions  # noqa: PLC0415 -- with the session

    from rewardrules.spark import _placed, _placement_keys  # noqa: PLC0415

    def task_of(key: tuple[Any, ...], table: pa.Table) -> pa.Table:
        from pyspark import TaskContext  # noqa: PLC0415 -- in the Spark worker

        context = TaskContext.get()
        task = -1 if context is None else context.partitionId()
        return pa.table({"part": [key[1].as_py()], "task": pa.array([task], pa.int32())})

    for partitions in (1, 2, 3, 7, 20):
        parts = spark.range(0, 200).select((functions.col("id") % partitions).alias(PART))
        keys = _placement_keys(spark, partitions)
        placed = _placed(parts, keys).applyInArrow(task_of, "part long, task int")
        found = {(row["part"], row["task"]) for row in placed.collect()}
        assert found == {(part, part) for part in range(partitions)}


CAFE_PROGRAM = (
    "program: cafe\nname: Cafe\ncurrency: EUR\ntimezone: UTC\nrules:\n"
    "  - {id: card, kind: every_nth_free, every: 2, counts: items, reward: free}\n"
)


@pytest.mark.parametrize(
    "customers",
    [[CAFE_NFD, CAFE_NFD], [CAFE_NFC, CAFE_NFD], [CAFE_NFD, "zoe", CAFE_NFC]],
    ids=["decomposed", "spelt two ways", "two ways apart"],
)
def test_a_customer_id_written_decomposed_is_placed_composed_on_spark(
    spark: Any, customers: list[str]
) -> None:
    """Spark's crc32 reads the id as written: ``cafe\u0301`` went to partition 2 of 4 and
    its results, kept by the composed id's partition (1), were dropped everywhere; spelt
    both ways, the customer was evaluated in two partitions (no free coffee). The workers
    report such ids and the run is made again with them placed by their composed id."""
    import rewardrules.spark as scale_spark  # noqa: PLC0415 -- with the session

    assert partition_of([CAFE_NFC], 4) == [1]
    assert zlib.crc32(CAFE_NFD.encode()) % 4 == 2  # Spark's placement of the id as written
    program = load_program_text(CAFE_PROGRAM)
    table = _cafe_history(customers)
    expected = _one_machine(program, list(table_to_events(table)), [], None)
    # Profiles (none) force the shuffle: the frame's partitions might hold whole customers.
    result = scale_spark.evaluate(
        program, spark.createDataFrame(table), customers=[], engine="batch", partitions=4
    )
    found = (
        _rows(result.ledger.toArrow()),
        _rows(result.customers.toArrow()),
        result.totals.to_dict(),
    )
    assert found == expected
    assert expected[2]["free_units"] == 1
    assert [row["customer_id"] for row in expected[1]] == sorted(
        {CAFE_NFC, *customers} - {CAFE_NFD}
    )


@pytest.mark.parametrize("engine", ["reference", "batch"])
def test_a_referrer_written_decomposed_gets_the_same_rewards_on_spark(
    spark: Any, engine: str
) -> None:
    """The referrer's history rows and profile are written decomposed (Spark's crc32:
    partition 2 of 4, where ``eve`` lives), the composed id lives in 1 and the friend in
    0: the friend's fact reaches the referrer's composed partition, and so do its rows."""
    import rewardrules.spark as scale_spark  # noqa: PLC0415 -- with the session

    program = load_program_text(REFERRALS)
    assert partition_of(["bob", "eve"], 4) == [0, 2]
    events: list[AnyEvent] = [
        _purchase("r-1", CAFE_NFC, 1, "5.00"),
        _purchase("f-1", "bob", 2, "25.00"),
        _purchase("e-1", "eve", 3, "30.00"),
        _purchase("r-2", CAFE_NFC, 5, "7.00"),
    ]
    customers = [Customer(customer_id="bob", referred_by=CAFE_NFC), Customer(customer_id=CAFE_NFC)]
    expected = _one_machine(program, events, customers, None)
    table = events_to_table(events)
    written = [
        CAFE_NFD if customer == CAFE_NFC else customer
        for customer in table["customer_id"].to_pylist()
    ]
    table = table.set_column(2, "customer_id", pa.array(written, pa.string()))
    profiles = customers_to_table(customers)
    profile_ids = [
        CAFE_NFD if customer == CAFE_NFC else customer
        for customer in profiles["customer_id"].to_pylist()
    ]
    profiles = profiles.set_column(
        profiles.schema.get_field_index("customer_id"),
        "customer_id",
        pa.array(profile_ids, pa.string()),
    )
    result = scale_spark.evaluate(
        program, spark.createDataFrame(table), customers=profiles, engine=engine, partitions=4
    )
    found = (
        _rows(result.ledger.toArrow()),
        _rows(result.customers.toArrow()),
        result.totals.to_dict(),
    )
    assert found == expected
    assert [row["points"] for row in expected[0] if row["customer_id"] == CAFE_NFC] == [5, 300, 7]


def test_too_many_ids_written_decomposed_are_refused_by_name_on_spark(
    spark: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rewardrules.spark as scale_spark  # noqa: PLC0415 -- with the session

    monkeypatch.setattr(scale_spark, "_MOVED_MAX", 0)
    program = load_program_text(CAFE_PROGRAM)
    frame = spark.createDataFrame(_cafe_history([CAFE_NFD, "zoe"]))
    with pytest.raises(RewardRulesError) as refused:
        scale_spark.evaluate(program, frame, customers=[], partitions=4)
    (problem,) = refused.value.problems
    assert problem.code == "customer-id-not-composed"
    assert repr(CAFE_NFD) in problem.message
    assert "more than the 0 such ids a run places itself" in problem.message
    assert "unicodedata.normalize('NFC', customer_id)" in str(problem.suggestion)


@pytest.mark.parametrize("plain", [True, False], ids=["read-by-workers", "rows-through-spark"])
@pytest.mark.parametrize(
    "customers",
    [[CAFE_NFC, CAFE_NFD], [CAFE_NFD, "zoe", CAFE_NFC]],
    ids=["spelt two ways", "two ways apart"],
)
def test_files_of_one_customer_spelt_two_ways_overlap_on_spark(
    spark: Any, customers: list[str], plain: bool, tmp_path: Path
) -> None:
    """One file per row: as written, the files' ranges of ids did not overlap and the
    customer was evaluated in place twice, each half without its free coffee. The ranges
    are of composed ids: they overlap, and the rows are shuffled."""
    program = load_program_text(CAFE_PROGRAM)
    table = _cafe_history(customers)
    for number in range(table.num_rows):
        pq.write_table(table.slice(number, 1), tmp_path / f"part-{number}.parquet")
    found, shuffled = _on_spark_files(
        spark, program, tmp_path, None, file_per_partition=True, plain=plain, engine="batch"
    )
    assert found == _one_machine(program, list(table_to_events(table)), None, None)
    assert found[2]["free_units"] == 1
    assert shuffled


def test_spark_workers_find_ids_written_decomposed_placed_elsewhere() -> None:
    from rewardrules._spark_tasks import _chunks, _misplaced  # noqa: PLC0415 -- pyspark-free

    ids = pa.table({"customer_id": [CAFE_NFD, CAFE_NFC, "zoe", None, CAFE_NFD]})
    assert _misplaced(2, 4, ids, None) == {CAFE_NFD: 1}
    assert _misplaced(1, 4, ids) == {}  # placed by the map: stays
    assert _misplaced(0, 4, pa.table({"customer_id": ["zoe", "amy"]})) == {}
    # In parts of whole customers, one customer spelt two ways is in one part.
    history = pa.table({"customer_id": [CAFE_NFD, "amy", "zoe", CAFE_NFC]})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("rewardrules._spark_tasks._CHUNK_ROWS", 1)
        parts = [chunk["customer_id"].to_pylist() for chunk in _chunks(history)]
    assert [CAFE_NFD, CAFE_NFC] in parts


def _customer_files(table: pa.Table, folder: Path, files: int, layout: str) -> None:
    """The rows as Parquet files: ranges of customers (sorted by customer, a stable sort,
    cut between two customers) or slices of the rows in their order."""
    if layout == "customer-ranges":
        table = table.sort_by([("customer_id", "ascending")])
    ids = table["customer_id"].to_pylist()
    size = -(-len(ids) // files)
    cuts = [0]
    for number in range(1, files):
        cut = max(number * size, cuts[-1])
        while layout == "customer-ranges" and 0 < cut < len(ids) and ids[cut] == ids[cut - 1]:
            cut += 1
        cuts.append(min(cut, len(ids)))
    cuts.append(len(ids))
    for number, (start, stop) in enumerate(itertools.pairwise(cuts)):
        pq.write_table(table.slice(start, stop - start), folder / f"part-{number}.parquet")


def _on_spark_files(
    spark: Any,
    program: Program,
    folder: Path,
    as_of: date | datetime | None,
    *,
    file_per_partition: bool,
    plain: bool = True,
    engine: str = "reference",
) -> tuple[tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]], bool]:
    """Spark's evaluation of the files in ``folder``, and whether it shuffled. With
    ``file_per_partition``, each file is an input partition of its own (a file's opening
    costs as much as the largest partition); otherwise Spark packs the small files into
    one. ``plain``: the frame is the read itself, which the workers may read with pyarrow;
    otherwise a projection of it, whose rows come through Spark."""
    import rewardrules.spark as scale_spark  # noqa: PLC0415 -- with the session

    opening = "spark.sql.files.openCostInBytes"
    before = spark.conf.get(opening)
    spark.conf.set(opening, str(2**40) if file_per_partition else before)
    # Packed: a split of at least all the files' bytes and opening costs. By default a
    # split is their sum over the default parallelism (2 here), which leaves two small
    # files in two partitions.
    spark.conf.set("spark.sql.files.minPartitionNum", "1")
    try:
        frame = spark.read.parquet(str(folder))
        if not plain:
            frame = frame.select(*frame.columns)
        assert (scale_spark._parquet_files(frame) is not None) == plain
        result = scale_spark.evaluate(program, frame, as_of=as_of, engine=engine, partitions=2)
        found = (
            _rows(result.ledger.toArrow()),
            _rows(result.customers.toArrow()),
            result.totals.to_dict(),
        )
    finally:
        spark.conf.set(opening, before)
        spark.conf.unset("spark.sql.files.minPartitionNum")
    return found, result.shuffled


@pytest.mark.parametrize("plain", [True, False], ids=["read-by-workers", "rows-through-spark"])
@pytest.mark.parametrize("name", ["airline-miles", "card-rewards", "coffee-club", "gift-shop"])
def test_files_of_customer_ranges_are_evaluated_in_place_on_spark(
    spark: Any, name: str, plain: bool, tmp_path: Path
) -> None:
    # Each file its own partition, each holding a range of customers: no shuffle, and
    # the same ledger, results and totals as one machine, whether the workers read the
    # files themselves or get the rows of each input partition from Spark.
    program, events, _, as_of = _example(name)
    _customer_files(events_to_table(events), tmp_path, 3, "customer-ranges")
    found, shuffled = _on_spark_files(
        spark, program, tmp_path, as_of, file_per_partition=True, plain=plain
    )
    assert found == _one_machine(program, events, None, as_of)
    assert not shuffled


@pytest.mark.parametrize("plain", [True, False], ids=["read-by-workers", "rows-through-spark"])
def test_files_whose_customers_overlap_are_shuffled_on_spark(
    spark: Any, plain: bool, tmp_path: Path
) -> None:
    program, events, _, as_of = _example("coffee-club")
    _customer_files(events_to_table(events), tmp_path, 3, "row-slices")
    found, shuffled = _on_spark_files(
        spark, program, tmp_path, as_of, file_per_partition=True, plain=plain
    )
    assert found == _one_machine(program, events, None, as_of)
    assert shuffled


def test_files_of_overlapping_customers_in_one_partition_are_evaluated_there_in_name_order(
    spark: Any, tmp_path: Path
) -> None:
    # Small files, which Spark packs into one partition, the largest first: every
    # customer is in that partition, read back in the files' name order.
    program, events, _, as_of = _example("coffee-club")
    table = events_to_table(events)
    ids = table["event_id"].to_pylist()
    cut = next(
        row for row in range(1, len(ids)) if ids[row] == ids[row - 1] and row < len(ids) // 4
    )
    pq.write_table(table.slice(0, cut), tmp_path / "part-0.parquet")
    pq.write_table(table.slice(cut), tmp_path / "part-1.parquet")
    found, shuffled = _on_spark_files(spark, program, tmp_path, as_of, file_per_partition=False)
    assert found == _one_machine(program, events, None, as_of)
    assert not shuffled


def test_spans_of_customers_are_disjoint_only_across_partitions() -> None:
    spark_module = pytest.importorskip("rewardrules._spark_tasks")
    disjoint = spark_module._disjoint
    # One partition's files may overlap each other; two partitions' may not, even
    # through a third span, nor touch at one id.
    assert disjoint([(0, "a", "c", False), (1, "d", "f", False), (0, "g", "h", False)])
    assert disjoint([(0, "a", "e", False), (0, "b", "k", False), (0, "f", "g", False)])
    assert not disjoint([(0, "a", "c", False), (1, "c", "f", False)])
    assert not disjoint([(0, "a", "e", False), (0, "b", "k", False), (1, "f", "g", False)])
    assert not disjoint([(0, "a", "c", False), (1, "d", "f", True)])  # a row without an id
    assert disjoint([(0, "a", "c", False), (1, None, None, False)])  # an empty partition
    assert not disjoint([])


def _in_place_output(
    spark_module: Any, run: Any, table: pa.Table, program: Program
) -> tuple[tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]], int]:
    """What a worker gives for one input partition in place, unpacked, and in how many
    parts it evaluated it."""
    out = pa.Table.from_batches(list(run.in_place(table.to_batches(max_chunksize=7))))

    def rows(kind: str) -> list[dict[str, Any]]:
        cells = out.filter(pc.equal(out["_table"], kind)).select(["packed"])
        return _rows(pa.Table.from_batches(list(spark_module._unpacked(cells.to_batches()))))

    totals = out.filter(pc.equal(out["_table"], "totals"))["figures"].to_pylist()
    figures = [json.loads(cell) for cell in totals]
    found = (rows("ledger"), rows("customer"), add_totals(program, figures).to_dict())
    return found, len(totals)


def test_a_partition_in_parts_of_whole_customers_gives_the_same_output(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An input partition of more than _CHUNK_ROWS rows is evaluated in parts, each
    # customer whole in one: the same ledger, results and totals as one machine.
    spark_module = pytest.importorskip("rewardrules._spark_tasks")
    program, events, _, as_of = _example("coffee-club")
    table = events_to_table(events)
    rows = len(table)
    table = table.append_column(ORDER, pa.array(range(rows), pa.int64()))
    table = table.append_column("_file", pa.array([1] * rows, pa.int64()))
    table = table.append_column("_block", pa.array([0] * rows, pa.int64()))
    run = spark_module._Partition(program_text(program), 1, as_of, "reference", program.money)
    expected = _one_machine(program, events, None, as_of)
    assert _in_place_output(spark_module, run, table, program) == (expected, 1)
    monkeypatch.setattr(spark_module, "_CHUNK_ROWS", 10)
    found, parts = _in_place_output(spark_module, run, table, program)
    assert found == expected
    assert parts == -(-rows // 10) > 1


def test_packed_cells_unpack_to_the_same_rows_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    spark_module = pytest.importorskip("rewardrules._spark_tasks")
    monkeypatch.setattr(spark_module, "_PACKED_ROWS", 2)
    table = pa.table({"customer_id": ["a", "b", "c", "d", "e"], "points": [1, None, 3, 4, 5]})
    cells = spark_module._packed(table)
    assert len(cells) == 3  # 2 + 2 + 1 rows
    batch = pa.record_batch([pa.array(cells, pa.binary())], names=["packed"])
    assert pa.Table.from_batches(list(spark_module._unpacked([batch]))) == table


@settings(max_examples=DRAWN_ON_SPARK)
@given(
    program=bonus_programs(),
    events=lifecycle_histories(catalogue=True),
    customers=profiles(),
    as_of=cutoffs(),
    partitions=st.integers(1, 8),
)
def test_drawn_histories_on_spark_equal_one_machine(
    spark: Any,
    program: Program,
    events: list[AnyEvent],
    customers: list[Customer],
    as_of: date | datetime | None,
    partitions: int,
) -> None:
    try:
        expected = _one_machine(program, events, customers, as_of)
    except RewardRulesError as error:
        with pytest.raises(type(error)):
            _on_spark(spark, program, events, customers, as_of, partitions)
        return
    assert _on_spark(spark, program, events, customers, as_of, partitions) == expected


@settings(max_examples=DRAWN_ON_SPARK)
@given(
    program=bonus_programs(),
    events=lifecycle_histories(catalogue=True),
    as_of=cutoffs(),
    files=st.integers(1, 4),
    plain=st.booleans(),
)
def test_drawn_histories_in_files_of_customer_ranges_on_spark_equal_one_machine(
    spark: Any,
    program: Program,
    events: list[AnyEvent],
    as_of: date | datetime | None,
    files: int,
    plain: bool,
) -> None:
    # No profiles: read in place (by the workers, or as Spark's rows) unless the program
    # rewards referrers, or the files overlap.
    with tempfile.TemporaryDirectory() as folder:
        _customer_files(events_to_table(events), Path(folder), files, "customer-ranges")
        try:
            expected = _one_machine(program, events, None, as_of)
        except RewardRulesError as error:
            with pytest.raises(type(error)):
                _on_spark_files(
                    spark, program, Path(folder), as_of, file_per_partition=True, plain=plain
                )
            return
        found, _ = _on_spark_files(
            spark, program, Path(folder), as_of, file_per_partition=True, plain=plain
        )
    assert found == expected


# --- the extras -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "extra", "missing"), [("dask", "dask", "dask"), ("spark", "spark", "pyspark")]
)
def test_a_missing_extra_is_named_with_the_install_command(
    module: str, extra: str, missing: str
) -> None:
    # A subprocess whose import system cannot find the extra's package.
    code = (
        "import sys\n"
        f"sys.modules[{missing!r}] = None\n"
        "try:\n"
        f"    import rewardrules.{module}\n"
        "except ImportError as error:\n"
        "    print(type(error).__name__, error)\n"
    )
    done = subprocess.run(  # noqa: S603 -- this interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout == (
        f"MissingExtraError {missing} is not installed; install rewardrules with the "
        f"'{extra}' extra: pip install 'rewardrules[{extra}]'\n"
    )


# --- the command line -------------------------------------------------------------------


def _dry_run(*arguments: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["dry-run", *(str(argument) for argument in arguments)])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def parquet_histories(tmp_path: Path) -> Path:
    """The pet shop's history in two Parquet files, cut in the middle of the customers."""
    table = events_to_table(read_history(EXAMPLES / "pet-shop.history.jsonl"))
    half = table.num_rows // 2
    folder = tmp_path / "histories"
    folder.mkdir()
    pq.write_table(table.slice(0, half), folder / "a.parquet")
    pq.write_table(table.slice(half), folder / "b.parquet")
    return folder


PET_SHOP = (EXAMPLES / "pet-shop.yaml", "--customers", EXAMPLES / "pet-shop.customers.csv")


def test_dry_run_on_a_scheduler_prints_the_totals_and_writes_the_ledger(
    dask_client: Client, parquet_histories: Path, tmp_path: Path
) -> None:
    scheduler = dask_client.scheduler.address
    ledger = tmp_path / "ledger"
    pattern = parquet_histories / "*.parquet"
    code, out, err = _dry_run(
        *PET_SHOP[:1], pattern, *PET_SHOP[1:], "--as-of", "2026-04-30",
        "--scheduler", scheduler, "--format", "json", "--output", f"{ledger}/",
    )  # fmt: skip
    assert (code, err.splitlines()[0].startswith("dashboard: ")) == (0, True)
    one = evaluate(
        load_program(EXAMPLES / "pet-shop.yaml"),
        list(read_history(EXAMPLES / "pet-shop.history.jsonl")),
        list(read_customers(EXAMPLES / "pet-shop.customers.csv")),
        date(2026, 4, 30),
    )
    assert json.loads(out) == {"program": "pet-shop", "totals": one.totals.to_dict()}
    written = pq.read_table(ledger)
    assert written.schema.field("value").type == pa.decimal128(38, 2)
    assert _rows(written.select(ledger_table(one.customers, one.money).schema.names)) == _rows(
        ledger_table(one.customers, one.money)
    )
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []


def test_dry_run_says_when_the_files_are_partitioned_by_customer(
    dask_client: Client, tmp_path: Path
) -> None:
    events = list(read_history(EXAMPLES / "pet-shop.history.jsonl"))
    table = _by_customer_rows(events)
    _in_files(table, _customer_starts(table)[:1], tmp_path)
    arguments = (EXAMPLES / "pet-shop.yaml", tmp_path / "*.parquet", *PET_SHOP[1:])
    code, out, err = _dry_run(*arguments, "--scheduler", dask_client.scheduler.address)
    _, expected, _ = _dry_run(*arguments[:1], EXAMPLES / "pet-shop.history.jsonl", *PET_SHOP[1:])
    assert code == 0
    assert err.splitlines()[1] == "the files are partitioned by customer: no shuffle"
    assert out == expected[expected.index("Program totals") :]


def test_dry_run_with_workers_starts_a_local_cluster(parquet_histories: Path) -> None:
    pattern = parquet_histories / "*.parquet"
    code, out, _ = _dry_run(EXAMPLES / "pet-shop.yaml", pattern, "--workers", 2, "--quiet")
    _, expected, _ = _dry_run(EXAMPLES / "pet-shop.yaml", EXAMPLES / "pet-shop.history.jsonl")
    assert code == 0
    assert out == expected[expected.index("Program totals") :]


def _allocator_environ() -> tuple[str | None, str | None, str | None]:
    names = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "OMP_NUM_THREADS")
    first, second, third = (os.environ.get(name) for name in names)
    return first, second, third


def test_the_clis_local_cluster_starts_workers_with_the_allocator_left_to_reuse_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # distributed's default MALLOC_TRIM_THRESHOLD_=65536 fixes glibc's mmap threshold at
    # 128 KiB: every column is fresh pages (docs/scale-out.md). The CLI's workers get
    # WORKER_MALLOC instead, and distributed's other settings are kept. A variable set in
    # the process's own environment wins over both (distributed's rule); an earlier
    # cluster of this test session leaks its nanny's into it, which a fresh `rewardrules`
    # process does not have.
    for name in scale_dask.WORKER_MALLOC:
        monkeypatch.delenv(name, raising=False)
    with _client(2, None) as client:
        found = set(client.run(_allocator_environ).values())
    assert found == {
        (str(256 * 2**20), str(32 * 2**20), "1"),
    }
    assert scale_dask.worker_environ()["MALLOC_MMAP_THRESHOLD_"] == str(32 * 2**20)


def test_a_pattern_that_matches_nothing_is_one_line(tmp_path: Path) -> None:
    pattern = tmp_path / "*.parquet"
    assert _dry_run(EXAMPLES / "pet-shop.yaml", pattern, "--workers", 2) == (
        1,
        "",
        f"{pattern}: no history file matches; check the pattern, and quote it so that the "
        "shell does not expand it\n",
    )


def test_a_history_that_is_not_parquet_is_one_line() -> None:
    history = EXAMPLES / "pet-shop.history.jsonl"
    assert _dry_run(EXAMPLES / "pet-shop.yaml", history, "--workers", 2) == (
        1,
        "",
        f"{history}: --workers and --scheduler read Parquet histories; write this one as "
        "Parquet (rewardrules sort-history IN OUT.parquet)\n",
    )


def test_an_unreachable_scheduler_is_one_line(parquet_histories: Path) -> None:
    pattern = parquet_histories / "*.parquet"
    code, out, err = _dry_run(
        EXAMPLES / "pet-shop.yaml", pattern, "--scheduler", "tcp://127.0.0.1:1"
    )
    assert (code, out) == (1, "")
    assert err.startswith("cannot reach the Dask scheduler at tcp://127.0.0.1:1 (")
    assert err.endswith("); check the address and that the scheduler is running\n")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ("--workers", "2", "--scheduler", "tcp://h:8786"),
            "give --workers (a local cluster) or --scheduler, not both",
        ),
        (
            ("--workers", "2", "--customer", "amy"),
            "--customer shows one customer's events; it cannot go with a cluster",
        ),
        (
            ("--workers", "2", "--format", "csv"),
            "--format csv prints the ledger; with a cluster use --output DIR/",
        ),
        (
            ("--workers", "2", "--output", "l.csv"),
            "with a cluster, --output names a directory: l.csv/",
        ),
        (
            ("--output", "ledger/"),
            "--output DIR/ writes a partitioned ledger with --workers or --scheduler; "
            "otherwise name a .parquet, .csv or .jsonl file",
        ),
    ],
)
def test_options_that_do_not_go_with_a_cluster_are_usage_errors(
    arguments: tuple[str, ...], message: str
) -> None:
    code, out, err = _dry_run(EXAMPLES / "pet-shop.yaml", "histories/*.parquet", *arguments)
    assert (code, out, err.splitlines()[-1]) == (2, "", f"Error: {message}")
