"""The oracles' drawn programs and histories, written to files and run the other ways.

tests/test_oracle_lifecycle.py and tests/test_oracle_real.py check the whole in-process
evaluation, both engines, against independent oracles. Here a few of the same drawn cases
are written to a program file, a Parquet history sorted by customer and a Parquet
customers file, and run through ``dry-run --engine batch --output ledger.parquet
--summary`` with tiny chunks (one to three rows, ``REWARDRULES_CHUNK_ROWS``) on two
processes (``--jobs 2``, every chunk sent to the worker). The ledger file read back must
hold ``evaluate``'s entries of either engine, value for value as text, and the summary
must be the whole-file reference dry-run's.

A referral rule with a customers file that names friends makes the streamed run read the
history twice in the main process (``referral_passes``): the friends' facts first, then
the chunks, each given the facts of the referrers it covers. The lifecycle cases are
therefore run twice, once as drawn (customers file, referrals across customers, in two
passes when drawn with a referral rule and friends) and once without the referral rules,
chunked on the worker, each chunk with its customers' profiles (gifts at dates to
customers without events among them); the migrated customers (opening lots, granted tiers)
are read from the file. The core cases are chunked on the worker whenever they have more
than two chunks of rows.
Last, a few migrated cases on a one-worker Dask cluster (``rewardrules.dask``). These
tests start real processes: few examples.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from distributed import Client, LocalCluster
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oracle import core_strategies
from rewardrules import Customer, evaluate
from rewardrules.cli import dry_run_jobs
from rewardrules.cli.main import cli
from rewardrules.events import AnyEvent
from rewardrules.histories.columns import customers_to_table, events_to_table
from rewardrules.program.model import Program
from rewardrules.rulefiles.dump import dump_program
from test_ledger_files import exact, expected_rows, read_parquet
from test_oracle_lifecycle import lifecycle_histories, lifecycle_specs
from test_oracle_real import ENGINES, family_histories, family_programs
from test_scale_out import _on_dask, _one_machine

FEW = settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CHUNKS = st.sampled_from(("1", "2", "3"))


def run(*arguments: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(argument) for argument in arguments])
    return result.exit_code, result.stdout, result.stderr


def without_file(document: str) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads(document)
    summary.pop("ledger", None)
    return summary


def streamed_agrees(
    folder: Path,
    program: Program,
    events: list[AnyEvent],
    customers: list[Customer],
    as_of: date | datetime | None,
    chunk: str,
) -> int:
    """The streamed run on two processes writes ``evaluate``'s ledger and prints the whole
    history's summary; the number of chunks it sent to the worker."""
    folder.mkdir(exist_ok=True)
    rules = folder / "program.yaml"
    rules.write_text(dump_program(program), encoding="utf-8")
    table = events_to_table(events)
    history = folder / "history.parquet"
    pq.write_table(
        table.take(pc.sort_indices(table, sort_keys=[("customer_id", "ascending")])), history
    )
    more: list[str | Path] = []
    if customers:
        profiles = folder / "customers.parquet"
        pq.write_table(customers_to_table(customers), profiles)
        more += ["--customers", profiles]
    if as_of is not None:
        more += ["--as-of", as_of.isoformat()]
    expected = exact(expected_rows(evaluate(program, events, customers, as_of)))
    batch = evaluate(program, events, customers, as_of, engine="batch")
    assert exact(expected_rows(batch)) == expected
    whole = run("dry-run", rules, history, *more, "--summary", "--format", "json")
    assert whole[0] == 0, whole[2]
    ledger = folder / "ledger.parquet"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REWARDRULES_CHUNK_ROWS", chunk)
        patch.setattr(dry_run_jobs, "MAIN_EVALUATES", False)  # every chunk on the worker
        sent: list[int] = []
        submit = dry_run_jobs.ChunkPool.submit

        def counted(
            pool: dry_run_jobs.ChunkPool, table: pa.Table, size: int, profiles: Any = None
        ) -> Any:
            sent.append(table.num_rows)
            return submit(pool, table, size, profiles)

        patch.setattr(dry_run_jobs.ChunkPool, "submit", counted)
        streamed = run(
            "dry-run", rules, history, *more, "--engine", "batch", "--output", ledger,
            "--summary", "--format", "json", "--jobs", "2", "--quiet",
        )  # fmt: skip
    assert streamed[0] == 0, streamed[2]
    assert exact(read_parquet(ledger)) == expected
    assert without_file(streamed[1]) == without_file(whole[1])
    return len(sent)


def chunked(
    program: Program, events: list[AnyEvent], customers: list[Customer], chunk: str
) -> bool:
    """Whether the streamed run sends this history's chunks to the worker: no referral
    rule with friends in the customers file, more than two chunks of rows
    (``dry_run_stream``)."""
    refers = any(rule.kind == "referral" for rule in program.rules)
    friends = any(customer.referred_by is not None for customer in customers)
    return not (refers and friends) and events_to_table(events).num_rows > 2 * int(chunk)


def distinct_rows(events: list[AnyEvent]) -> bool:
    """A history file refuses a row that repeats another exactly (two equal lines of one
    purchase): such a history is not written to a file."""
    table = events_to_table(events)
    rows = [tuple(sorted(row.items(), key=lambda item: item[0])) for row in table.to_pylist()]
    return len(set(map(repr, rows))) == len(rows)


@FEW
@given(case=core_strategies.cases(), chunk=CHUNKS)
def test_core_cases_streamed_on_two_processes(
    tmp_path_factory: pytest.TempPathFactory,
    case: tuple[Program, list[AnyEvent], date | datetime | None],
    chunk: str,
) -> None:
    program, events, as_of = case
    if distinct_rows(events):
        folder = tmp_path_factory.mktemp("core")
        sent = streamed_agrees(folder, program, events, [], as_of, chunk)
        assert (sent > 0) == chunked(program, events, [], chunk)


@FEW
@given(spec=lifecycle_specs(), drawn=lifecycle_histories(), chunk=CHUNKS)
def test_lifecycles_with_customers_streamed_on_two_processes(
    tmp_path_factory: pytest.TempPathFactory,
    spec: dict[str, Any],
    drawn: tuple[list[AnyEvent], list[Customer], Any],
    chunk: str,
) -> None:
    events, customers, as_of = drawn
    if distinct_rows(events):
        folder = tmp_path_factory.mktemp("lifecycle")
        program = Program.model_validate(spec)
        sent = streamed_agrees(folder, program, events, customers, as_of, chunk)
        assert (sent > 0) == chunked(program, events, customers, chunk)
        # Without the referral rules: in chunks on the worker, with their profiles.
        rules = [rule for rule in spec["rules"] if rule["kind"] != "referral"]
        plain = Program.model_validate({**spec, "rules": rules})
        sent = streamed_agrees(folder / "plain", plain, events, customers, as_of, chunk)
        assert (sent > 0) == chunked(plain, events, customers, chunk)


@FEW
@given(data=st.data(), chunk=CHUNKS)
def test_migrated_customers_streamed_on_two_processes(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, chunk: str
) -> None:
    document = data.draw(family_programs(), label="program")
    tiers = [level["name"] for level in document.get("tiers", {}).get("levels", [])]
    events, customers, as_of = data.draw(family_histories(tiers), label="history")
    folder = tmp_path_factory.mktemp("migrated")
    streamed_agrees(folder, Program.model_validate(document), events, customers, as_of, chunk)


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Client]:
    """One worker process: the partitions still leave the test's process, and the cluster
    starts in a few seconds on a loaded machine."""
    with (
        LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@settings(FEW, max_examples=2)
@given(data=st.data(), partitions=st.integers(2, 3), engine=st.sampled_from(ENGINES))
def test_migrated_customers_on_dask(
    dask_client: Client, data: st.DataObject, partitions: int, engine: str
) -> None:
    # Referrers, friends and migrated customers spread over partitions: the ledger, the
    # customers' results and the totals of one machine.
    document = data.draw(family_programs(), label="program")
    tiers = [level["name"] for level in document.get("tiers", {}).get("levels", [])]
    events, customers, as_of = data.draw(family_histories(tiers), label="history")
    program = Program.model_validate(document)
    expected = _one_machine(program, events, customers or None, as_of)
    got = _on_dask(program, events, customers or None, as_of, partitions, engine)
    assert got == expected
