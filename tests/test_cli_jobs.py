"""``dry-run --engine batch --jobs N``: the streamed dry-run on N processes.

``--jobs 3`` (the main process and two workers) must write what ``--jobs 1`` writes: the
same ledger file (read back row for row, and the same bytes), the same summary on
standard output, the same error and exit status for a bad record, in the same order.
Each test sets the chunk size small (``REWARDRULES_CHUNK_ROWS``) so that several chunks
are in flight at once. These tests start real processes: they are few and their
histories small.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, settings
from hypothesis import given as drawn
from hypothesis import strategies as st

from helpers import PROFILE_ONLY, profiles_around
from rewardrules.cli import _chunk_worker, dry_run_jobs
from rewardrules.cli._chunk_worker import ChunkDone, carry
from rewardrules.cli.dry_run_jobs import IN_FLIGHT_PER_JOB, ChunkPool, stream_on_jobs
from rewardrules.cli.dry_run_output import DryRunOutput
from rewardrules.cli.main import cli
from rewardrules.errors import HistoryError, Problem, RewardRulesError
from rewardrules.evaluation.batch import evaluate_table, unsupported
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import Event
from rewardrules.histories._checked import CheckedFacts, facts_of
from rewardrules.histories.columns import HISTORY_SCHEMA, events_to_table, read_history_table
from rewardrules.histories.read import read_history
from rewardrules.program.model import Program
from rewardrules.rulefiles.dump import dump_program
from rewardrules.rulefiles.loader import load_program
from rewardrules.tools.summary import SummaryBuilder
from strategies.histories import histories
from strategies.lifecycle import cutoffs, lifecycle_histories, lifecycle_programs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import synthetic  # noqa: E402 (from benchmarks/, put on the path above)

EXAMPLES = ROOT / "rules" / "examples"
COFFEE_CLUB = EXAMPLES / "coffee-club.yaml"
BATCH = ("--engine", "batch")


@pytest.fixture(autouse=True)
def workers_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every chunk goes to a worker: the main process does not evaluate the first chunks
    while the workers start (it would do all of a small history)."""
    monkeypatch.setattr(dry_run_jobs, "MAIN_EVALUATES", False)


def run(*arguments: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(argument) for argument in arguments])
    return result.exit_code, result.stdout, result.stderr


def run_on_stdin(data: bytes, *arguments: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(argument) for argument in arguments], input=data)
    return result.exit_code, result.stdout, result.stderr


def synthetic_table() -> pa.Table:
    return synthetic.history_table(60, 400, 12, sorted_by_customer=True)


ROWS = synthetic_table().num_rows


def synthetic_history(folder: Path, suffix: str = ".parquet") -> Path:
    """60 customers, 400 purchases (some of several lines), refunds: seeded, sorted by
    customer, written in the format of ``suffix`` (by ``sort-history`` for text)."""
    table = synthetic_table()
    parquet = folder / "history.parquet"
    pq.write_table(table, parquet)
    if suffix == ".parquet":
        return parquet
    written = folder / f"history{suffix}"
    assert run("sort-history", parquet, written)[0] == 0
    parquet.unlink()
    return written


def ledger_of(path: Path) -> Any:
    """A ledger file read back: Parquet's rows, or the text."""
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    return path.read_text(encoding="utf-8")


def both_ways(
    program: Path, history: Path, folder: Path, suffix: str, *more: str | Path
) -> tuple[tuple[int, str, str], tuple[int, str, str], Path, Path]:
    """``dry-run`` with ``--jobs 1`` and ``--jobs 3``, each to its own ledger file; the
    second run's output names the first run's file, to compare them as text."""
    one, two = folder / f"one{suffix}", folder / f"two{suffix}"
    first = run("dry-run", program, history, *BATCH, "--output", one, *more)
    second = run("dry-run", program, history, *BATCH, "--output", two, "--jobs", "3", *more)
    return first, (second[0], second[1].replace(str(two), str(one)), second[2]), one, two


@pytest.mark.parametrize("history_suffix", [".parquet", ".csv", ".jsonl"])
@pytest.mark.parametrize("ledger_suffix", [".parquet", ".csv", ".jsonl"])
def test_two_jobs_write_the_one_process_ledger_and_summary(
    tmp_path: Path, history_suffix: str, ledger_suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = synthetic_history(tmp_path, history_suffix)
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", "37")  # 19 chunks, 4 in flight
    sent = []
    submit = ChunkPool.submit

    def counted(pool: ChunkPool, chunk: pa.Table, size: int, profiles: Any = None) -> Any:
        sent.append(chunk.num_rows)
        return submit(pool, chunk, size, profiles)

    monkeypatch.setattr(ChunkPool, "submit", counted)
    first, second, one, two = both_ways(
        COFFEE_CLUB, history, tmp_path, ledger_suffix, "--format", "json"
    )
    assert len(sent) > 2 * IN_FLIGHT_PER_JOB  # the chunks went to the workers
    assert sum(sent) == ROWS  # every row once
    assert first[0] == 0
    assert second == first
    assert ledger_of(two) == ledger_of(one)
    assert two.read_bytes() == one.read_bytes()
    assert json.loads(first[1])["ledger"]["entries"] > 400


@pytest.mark.parametrize("example", ["airline-miles", "pharmacy", "car-wash"])
def test_the_summary_of_an_example_is_the_same_on_two_jobs(
    example: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = EXAMPLES / f"{example}.yaml"
    [given] = EXAMPLES.glob(f"{example}.history.*")
    history = tmp_path / "sorted.parquet"
    assert run("sort-history", given, history)[0] == 0
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", "2")
    first, second, one, two = both_ways(program, history, tmp_path, ".jsonl", "--summary")
    assert first[0] == 0
    assert second == first  # the text summary: per rule, per tier, per month, totals
    assert ledger_of(two) == ledger_of(one)


def sorted_table(events: list[Event]) -> pa.Table:
    """A drawn history as a table sorted by customer id (stably: events keep their order)."""
    table = events_to_table(events)
    return table.take(pc.sort_indices(table, sort_keys=[("customer_id", "ascending")]))


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@drawn(
    events=histories(refunds=True, max_purchases=10),
    chunk=st.integers(1, 6),
    main_evaluates=st.booleans(),
)
def test_a_drawn_history_gives_the_same_files_on_two_jobs(
    tmp_path_factory: pytest.TempPathFactory, events: list[Event], chunk: int, main_evaluates: bool
) -> None:
    # Also with the main process evaluating the chunks it reads while the workers start.
    folder = tmp_path_factory.mktemp("drawn")
    history = folder / "history.parquet"
    pq.write_table(sorted_table(events), history)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REWARDRULES_CHUNK_ROWS", str(chunk))
        patch.setattr(dry_run_jobs, "MAIN_EVALUATES", main_evaluates)
        first, second, one, two = both_ways(
            COFFEE_CLUB, history, folder, ".parquet", "--format", "json"
        )
    assert first[0] == 0
    assert second == first
    assert ledger_of(two) == ledger_of(one)


def late_row(history: Path) -> int:
    """A purchase row (0-based) of the last customer: in the last chunk."""
    types = pq.read_table(history, columns=["type"])["type"].to_pylist()
    return max(index for index, kind in enumerate(types) if kind == "purchase")


def rewritten(history: Path, change: Any) -> None:
    table = pq.read_table(history)
    rows = table.to_pylist()
    change(rows)
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), history)


@pytest.mark.parametrize("bad", ["reading", "engine"])
def test_a_bad_record_in_a_late_chunk_is_the_one_process_error(
    tmp_path: Path, bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = synthetic_history(tmp_path)
    row = late_row(history)
    if bad == "reading":  # found by the main process, chunks before it still in flight

        def change(rows: list[dict[str, Any]]) -> None:
            rows[row]["quantity"] = 0

    else:  # found by a worker: a refund of a purchase that does not exist

        def change(rows: list[dict[str, Any]]) -> None:
            refunds = [index for index, found in enumerate(rows) if found["type"] == "refund"]
            rows[refunds[-1]]["purchase_id"] = "p-none"

    rewritten(history, change)
    kept = tmp_path / "kept.csv"
    kept.write_text("an older ledger\n")
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", "5")
    one = run("dry-run", COFFEE_CLUB, history, *BATCH, "--output", kept, "--summary")
    two = run("dry-run", COFFEE_CLUB, history, *BATCH, "--output", kept, "--jobs", "2")
    assert one[0] == 1
    assert one[2].startswith(f"{history}:")
    assert two == one
    assert kept.read_text() == "an older ledger\n"  # no partial file, the old one kept
    assert sorted(path.name for path in tmp_path.iterdir()) == ["history.parquet", "kept.csv"]


def test_the_first_error_in_input_order_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An engine error in a chunk (found by a worker) and a reading error a few chunks
    # later (found by the main process, which reads ahead): one process shows the first.
    history = synthetic_history(tmp_path)
    row = late_row(history)

    def change(rows: list[dict[str, Any]]) -> None:
        rows[row]["quantity"] = 0
        last = rows[row]["customer_id"]
        refunds = [
            index
            for index, found in enumerate(rows)
            if found["type"] == "refund" and found["customer_id"] != last
        ]
        rows[refunds[-1]]["purchase_id"] = "p-none"  # a few chunks before the bad row

    rewritten(history, change)
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", "3")
    one = run("dry-run", COFFEE_CLUB, history, *BATCH, "--summary")
    two = run("dry-run", COFFEE_CLUB, history, *BATCH, "--summary", "--jobs", "2")
    assert one[0] == 1
    assert "p-none" in one[2]
    assert two == one


def test_profiles_and_an_empty_history_give_the_one_process_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A referral rule makes the history one piece (evaluated in the main process); a
    # history of no row is no chunk: both still give --jobs 1's files and totals.
    program = EXAMPLES / "pet-shop.yaml"
    history = tmp_path / "sorted.parquet"
    assert run("sort-history", EXAMPLES / "pet-shop.history.jsonl", history)[0] == 0
    profiles = ("--customers", EXAMPLES / "pet-shop.customers.csv")
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", "1")
    first, second, one, two = both_ways(program, history, tmp_path, ".csv", *profiles)
    assert first[0] == 0
    assert second == first
    assert ledger_of(two) == ledger_of(one)
    empty = tmp_path / "empty.parquet"
    pq.write_table(pq.read_table(history).slice(0, 0), empty)
    text = tmp_path / "empty.csv"  # read whole: no chunk, the empty table on a worker
    assert run("sort-history", empty, text)[0] == 0
    for given in (empty, text):
        first, second, one, two = both_ways(COFFEE_CLUB, given, tmp_path, ".parquet", "--summary")
        assert (first[0], pq.read_table(one).num_rows) == (0, 0)
        assert second == first
        assert ledger_of(two) == ledger_of(one)


def test_profiles_go_to_the_workers_with_their_customers_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Signup bonuses and --customers, no referral rule: each chunk goes to a worker with
    # its customers' profiles, those of customers without events after the last chunk's
    # with an empty chunk; the files and totals are --jobs 1's.
    program = EXAMPLES / "bookshop-offers.yaml"
    history = tmp_path / "sorted.parquet"
    assert run("sort-history", EXAMPLES / "bookshop-offers.history.csv", history)[0] == 0
    profiles = ("--customers", profiles_around(tmp_path, EXAMPLES), "--as-of", "2026-12-31")
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", "1")  # ana's chunk and ben's: 9 rows
    sent: list[tuple[int, list[str]]] = []
    submit = ChunkPool.submit

    def recorded(pool: ChunkPool, chunk: pa.Table, size: int, given: Any = None) -> Any:
        sent.append((chunk.num_rows, [profile.customer_id for profile in given or ()]))
        return submit(pool, chunk, size, given)

    monkeypatch.setattr(ChunkPool, "submit", recorded)
    first, second, one, two = both_ways(program, history, tmp_path, ".jsonl", *profiles)
    assert first[0] == 0
    assert second == first
    assert ledger_of(two) == ledger_of(one)
    assert all(f'"customer_id": "{name}"' in ledger_of(one) for name in PROFILE_ONLY)
    assert [given for _, given in sent] == [["aaa", "ana"], ["anz", "ben"], ["bob", "zzz"]]
    assert [rows for rows, _ in sent][2] == 0  # the customers after ben's, on no row


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--engine", "batch", "--workers", "2", "--summary"), "--workers runs on a Dask"),
        (("--summary",), "add --engine batch"),
        (("--engine", "batch"), "add --output ledger.parquet"),
        (("--engine", "batch", "--summary", "--customer", "c1"), "--customer evaluates one"),
    ],
)
def test_jobs_where_nothing_streams_is_a_usage_error(
    tmp_path: Path, arguments: tuple[str, ...], message: str
) -> None:
    history = tmp_path / "history.parquet"  # never read: refused first
    code, out, err = run("dry-run", COFFEE_CLUB, history, "--jobs", "2", *arguments)
    assert (code, out) == (2, "")
    assert message in err


class _LaterFuture(Future[ChunkDone]):
    """A chunk's future that is evaluated only when its result is asked for: as if the
    workers were slow, every chunk read stays in flight until its turn to be written."""

    def __init__(self, pool: _SlowPool, place: int, done: ChunkDone) -> None:
        super().__init__()
        self._pool, self._place, self._done = pool, place, done

    def result(self, timeout: float | None = None) -> ChunkDone:
        if not self.done():
            self._pool.taken.append(self._place)
            self.set_result(self._done)
        return super().result(timeout)


class _SlowPool:
    """A stand-in for ``ChunkPool``: records what is sent, fails the chunk ``failing``."""

    def __init__(self, workers: int, failing: int | None, evaluation: Any) -> None:
        self.workers = workers
        self.here: list[int] = []
        self.failing = failing
        self.evaluation = evaluation
        self.sent: list[int] = []
        self.taken: list[int] = []
        self.most_in_flight = 0
        self.broken = False
        self.ready = True

    def submit(self, chunk: pa.Table, size: int, profiles: Any = None) -> Future[ChunkDone]:
        place = len(self.sent)
        self.sent.append(place)
        self.most_in_flight = max(self.most_in_flight, len(self.sent) - len(self.taken))
        if place == self.failing and self.broken:
            lost: Future[ChunkDone] = Future()
            lost.set_exception(BrokenProcessPool("a process in the pool was terminated"))
            return lost
        if place == self.failing:
            error = HistoryError([Problem(f"chunk {place} is bad", code="invalid-event")])
            return _LaterFuture(self, place, ChunkDone(error=error))
        return _LaterFuture(self, place, ChunkDone(evaluation=self.evaluation, rows=1))


def _here(pool: _SlowPool, chunk: pa.Table, size: int, profiles: Any = None) -> Future[ChunkDone]:
    place = len(pool.sent)
    pool.sent.append(place)
    pool.here.append(place)
    pool.taken.append(place)  # evaluated at once: never in flight
    done: Future[ChunkDone] = Future()
    done.set_result(ChunkDone(evaluation=pool.evaluation, rows=1))
    return done


def chunks_then(count: int, error: Exception | None) -> Iterator[pa.Table]:
    for _ in range(count):
        yield HISTORY_SCHEMA.empty_table()
    if error is not None:
        raise error


@pytest.mark.parametrize("workers", [1, 3])
def test_a_reading_error_waits_for_the_chunks_before_it_and_theirs_wins(
    tmp_path: Path, workers: int
) -> None:
    program = load_program(COFFEE_CLUB)
    evaluation = evaluate_table(program, HISTORY_SCHEMA.empty_table())
    late = HistoryError([Problem("chunk 9 cannot be read", code="invalid-event")])

    def stream(failing: int | None) -> tuple[_SlowPool, Exception]:
        pool = _SlowPool(workers, failing, evaluation)
        output = DryRunOutput(
            program, tmp_path / "h.parquet", output=None, summary=True, quiet=True
        )
        with pytest.raises(HistoryError) as raised:
            stream_on_jobs(output, cast(ChunkPool, pool), chunks_then(9, late), 10, lambda e: e)
        assert pool.most_in_flight <= IN_FLIGHT_PER_JOB * (workers + 1)
        return pool, raised.value

    pool, error = stream(failing=8)  # read just before the bad chunk: still in flight
    assert str(error) == "chunk 8 is bad"
    assert pool.taken == list(range(9))  # in input order, every chunk before it
    pool, error = stream(failing=None)
    assert error is late
    assert pool.taken == list(range(9))


def test_a_worker_that_died_is_a_clear_error_and_leaves_no_ledger(tmp_path: Path) -> None:
    program = load_program(COFFEE_CLUB)
    pool = _SlowPool(2, 3, evaluate_table(program, HISTORY_SCHEMA.empty_table()))
    pool.broken = True
    ledger = tmp_path / "ledger.parquet"
    output = DryRunOutput(program, tmp_path / "h.parquet", output=ledger, summary=True, quiet=True)
    with pytest.raises(RewardRulesError) as raised:
        stream_on_jobs(output, cast(ChunkPool, pool), chunks_then(9, None), 10, lambda e: e)
    [problem] = raised.value.problems
    assert problem.code == "worker-lost"
    assert problem.message.startswith("a worker process of --jobs stopped before it finished")
    assert list(tmp_path.iterdir()) == []  # no ledger, no partial file


def test_the_main_process_evaluates_what_the_workers_have_no_room_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One worker that never finishes before it is asked: it holds two chunks, the main
    # process evaluates every other one, and all are written in input order.
    monkeypatch.setattr(dry_run_jobs, "MAIN_EVALUATES", True)
    monkeypatch.setattr(_SlowPool, "evaluate_here", _here, raising=False)
    program = load_program(COFFEE_CLUB)
    pool = _SlowPool(1, None, evaluate_table(program, HISTORY_SCHEMA.empty_table()))
    output = DryRunOutput(program, tmp_path / "h.parquet", output=None, summary=True, quiet=True)
    evaluation, _ = stream_on_jobs(
        output, cast(ChunkPool, pool), chunks_then(12, None), 10, lambda e: e
    )
    assert evaluation.customers == ()
    assert pool.most_in_flight <= IN_FLIGHT_PER_JOB
    assert 0 < len(pool.here) < 12  # both evaluated
    assert sorted(pool.taken) == list(range(12))  # each once


@pytest.mark.parametrize("example", ["airline-miles", "coffee-club"])
def test_summaries_counted_apart_and_added_are_the_summary_counted_at_once(
    example: str,
) -> None:
    # What a worker counts (SummaryBuilder.counted), added to the main process's builder
    # (add_counted), gives the summary of one builder that counted everything.
    program = load_program(EXAMPLES / f"{example}.yaml")
    [history] = EXAMPLES.glob(f"{example}.history.*")
    events = list(read_history(history))
    evaluation = evaluate(program, events, engine="batch")
    results = evaluation.customers
    assert len(results) > 1
    months = SummaryBuilder(program)
    list(months.watch(events))
    known = months.known_months()
    whole = SummaryBuilder(program)
    whole.add_results(results, known)
    main, apart = SummaryBuilder(program), SummaryBuilder(program)
    main.add_results(results[:1], known)
    apart.add_results(results[1:], known)
    main.add_counted(apart.counted())
    assert main.finish(evaluation.totals) == whole.finish(evaluation.totals)
    assert main.month_rules() == whole.month_rules()


@pytest.mark.parametrize("spool", ["none", "folder"])
@pytest.mark.parametrize("bad", [False, True])
def test_the_spool_folder_is_removed_and_the_pipe_serves_without_one(
    tmp_path: Path, spool: str, bad: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chunks and ledgers go through spool files (or, without a folder, through the pool's
    # pipe): the same files either way, and no spool left behind, after a failure too.
    history = synthetic_history(tmp_path)
    if bad:
        row = late_row(history)

        def change(rows: list[dict[str, Any]]) -> None:
            rows[row]["quantity"] = 0

        rewritten(history, change)
    folder = tmp_path / "spool"

    def made() -> str | None:
        if spool == "none":
            return None
        folder.mkdir()
        return str(folder)

    sent: list[Any] = []

    def carried(table: pa.Table, folder: str | None) -> Any:
        sent.append(carry(table, folder))
        return sent[-1]

    monkeypatch.setattr(dry_run_jobs, "spool_folder", made)
    monkeypatch.setattr(dry_run_jobs, "carry", carried)
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", "50")
    first, second, one, two = both_ways(COFFEE_CLUB, history, tmp_path, ".parquet")
    assert sent
    assert {type(given) for given in sent} == ({bytes} if spool == "none" else {str})
    assert first[0] == (1 if bad else 0)
    assert second == first
    assert not folder.exists()
    if not bad:
        assert two.read_bytes() == one.read_bytes()


@pytest.mark.parametrize("given", ["unsorted", "stdin"])
def test_an_unsorted_history_and_standard_input_give_the_one_process_files(
    tmp_path: Path, given: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Unsorted: the workers start on the first chunks, the order breaks, the history is
    # read whole and its chunks go to the same pool. Standard input: Parquet streamed.
    table = synthetic.history_table(60, 400, 12, sorted_by_customer=given == "stdin")
    history = tmp_path / "history.parquet"
    pq.write_table(table, history)
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", "40")
    arguments = ("--summary", "--format", "json", *BATCH)
    if given == "unsorted":
        first, second, one, two = both_ways(COFFEE_CLUB, history, tmp_path, ".jsonl", *arguments)
        assert ledger_of(two) == ledger_of(one)
    else:
        first, second = (
            run_on_stdin(history.read_bytes(), "dry-run", COFFEE_CLUB, "-", *arguments, *jobs)
            for jobs in ((), ("--jobs", "3"))
        )
    assert first[0] == 0
    assert second == first


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@drawn(
    program=lifecycle_programs(reward_tiers=True),
    events=lifecycle_histories(catalogue=True),
    as_of=cutoffs(),
    chunk=st.integers(1, 4),
)
def test_a_drawn_program_and_history_give_the_same_files_and_summary_on_three_jobs(
    tmp_path_factory: pytest.TempPathFactory,
    program: Program,
    events: list[Any],
    as_of: date | datetime | None,
    chunk: int,
) -> None:
    # Tiers, expiry, the catalogue's redemptions and cancellations, --as-of: every figure
    # of the summary (per rule, tier and month) added up from the workers' sums.
    assume(not unsupported(program))
    folder = tmp_path_factory.mktemp("drawn-program")
    rules = folder / "program.yaml"
    rules.write_text(dump_program(program), encoding="utf-8")
    history = folder / "history.parquet"
    pq.write_table(sorted_table(events), history)
    cutoff = () if as_of is None else ("--as-of", as_of.isoformat())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REWARDRULES_CHUNK_ROWS", str(chunk))
        first, second, one, two = both_ways(
            rules, history, folder, ".jsonl", "--format", "json", *cutoff
        )
    assert first[0] == 0, first[2]
    assert second == first
    assert ledger_of(two) == ledger_of(one)


def test_a_chunk_sent_to_a_worker_takes_what_its_checks_found_and_gives_the_same_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The main process checked the chunk (``history_table``): its facts go with it, so the
    worker's engine reads the table it unpacks without checking and searching it again;
    the ledger is the one it makes from a table without facts."""
    history = tmp_path / "history.parquet"
    pq.write_table(synthetic.history_table(30, 200, 5, sorted_by_customer=True), history)
    table = read_history_table(history)
    facts = facts_of(table)
    assert facts is not None
    assert facts.starts is not None
    setup = _chunk_worker.Setup("test-facts", load_program(COFFEE_CLUB), None, str(history), None)
    given: list[CheckedFacts | None] = []
    here = _chunk_worker.evaluate_here

    def spied(worker: Any, unpacked: pa.Table, size: int, profiles: Any = None) -> ChunkDone:
        given.append(facts_of(unpacked))
        return here(worker, unpacked, size, profiles)

    monkeypatch.setattr(_chunk_worker, "evaluate_here", spied)
    with_facts = _chunk_worker.evaluate_chunk(setup, carry(table, None), 64, facts)
    without = _chunk_worker.evaluate_chunk(setup, carry(table, None), 64)
    assert given[0] is facts
    assert given[1:] == [None]
    assert isinstance(with_facts.ledger, bytes)
    assert isinstance(without.ledger, bytes)
    assert with_facts.ledger == without.ledger
    assert with_facts.entries == without.entries > 0
