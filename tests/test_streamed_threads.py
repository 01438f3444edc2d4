"""The one-process streamed dry-run's two threads: the next chunk read, the last one written.

``dry-run --engine batch --output`` reads the next chunk in one thread and writes the last
chunk's ledger in another while it evaluates (:mod:`rewardrules.cli._overlap`);
``REWARDRULES_THREADS=0`` runs all three in turn, as before. Every test runs the command
both ways, on many chunks, and asks for the same files, summary, progress, messages and
exit codes; and that no thread and no partial ledger outlives a run, whatever ends it.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from rewardrules.cli import _overlap, chunk_company, dry_run_stream
from rewardrules.cli._overlap import ReadAhead, WriteBehind
from rewardrules.cli._progress import Progress
from rewardrules.errors import HistoryError, Problem
from rewardrules.tools import ledger_files
from test_cli_jobs_interrupt import _has_run, _history, _wait_for
from test_streamed_dry_run import (
    COFFEE_CLUB,
    ROOT,
    late_row,
    ledger_text,
    run,
    synthetic_history,
    with_rows,
    write_history,
)

MODES = ("threads", "one thread")


def helper_threads() -> list[str]:
    """The names of the run's threads still alive."""
    return [
        thread.name for thread in threading.enumerate() if thread.name.startswith("rewardrules-")
    ]


def run_as(mode: str, monkeypatch: pytest.MonkeyPatch, *arguments: Any) -> tuple[int, str, str]:
    """The command, with its threads or without; none left behind either way."""
    with monkeypatch.context() as patch:
        patch.setenv("REWARDRULES_THREADS", "1" if mode == "threads" else "0")
        found = run(*arguments)
    assert helper_threads() == []
    return found


@pytest.fixture
def history(tmp_path: Path) -> Path:
    return write_history(tmp_path, synthetic_history())


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the threads started, in order."""
    names: list[str] = []
    start = _overlap._started

    def counted(name: str, body: Any) -> threading.Thread:
        names.append(name)
        return start(name, body)

    monkeypatch.setattr(_overlap, "_started", counted)
    return names


@pytest.mark.parametrize("chunk", ["1", "7", "100"])
@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
@pytest.mark.parametrize("output_format", ["json", "table"])
def test_the_threads_write_the_files_summary_and_progress_of_one_thread(
    history: Path,
    tmp_path: Path,
    chunk: str,
    suffix: str,
    output_format: str,
    started: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", chunk)
    moves: dict[str, list[tuple[int, int]]] = {mode: [] for mode in MODES}
    mode = MODES[0]
    chunk_moved = Progress.chunk

    def noted(progress: Progress, rows: int, customers: int) -> None:
        moves[mode].append((rows, customers))
        chunk_moved(progress, rows, customers)

    monkeypatch.setattr(Progress, "chunk", noted)
    found = {}
    for mode in MODES:
        ledger = tmp_path / mode / f"ledger{suffix}"
        ledger.parent.mkdir()
        arguments = ("--output", ledger, "--format", output_format, "--engine", "batch")
        code, out, err = run_as(mode, monkeypatch, "dry-run", COFFEE_CLUB, history, *arguments)
        assert (code, err) == (0, "")
        found[mode] = (out.replace(str(ledger), "LEDGER"), ledger.read_bytes())
        if mode == MODES[0]:
            assert started == ["rewardrules-read-ahead", "rewardrules-write-behind"]
        else:
            assert len(started) == 2  # none more
    assert found["threads"] == found["one thread"]
    assert moves["threads"] == moves["one thread"]
    assert len(moves["threads"]) > (10 if chunk != "100" else 3)
    ledger = tmp_path / "threads" / f"ledger{suffix}"
    whole = tmp_path / f"whole{suffix}"
    assert run("dry-run", COFFEE_CLUB, history, "--output", whole)[0] == 0  # the reference
    assert ledger_text(ledger) == ledger_text(whole)


def test_a_history_read_whole_and_standard_input_give_the_same_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not sorted by customer: read whole, then cut. On standard input: streamed from bytes.
    unsorted = write_history(tmp_path, synthetic_history(sorted_by_customer=False), "u.parquet")
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", "5")
    for source in (unsorted, "-"):
        found = []
        for mode in MODES:
            ledger = tmp_path / f"{mode}.parquet"
            arguments = ("dry-run", COFFEE_CLUB, source, "--output", ledger, "--engine", "batch")
            with monkeypatch.context() as patch:
                patch.setenv("REWARDRULES_THREADS", "1" if mode == "threads" else "0")
                stdin = unsorted.read_bytes() if source == "-" else None
                code, out, err = run(*arguments, stdin=stdin)
            assert (code, err) == (0, "")
            assert helper_threads() == []
            found.append((out.replace(str(ledger), "LEDGER"), ledger.read_bytes()))
        assert found[0] == found[1]


# Errors: the message, exit code and files of one thread; no thread, no partial file left.


def bad_history(tmp_path: Path) -> tuple[Path, int]:
    """A history whose last customer's last purchase has quantity 0; that row (0-based)."""
    table = synthetic_history()
    row = late_row(table)

    def bad_quantity(rows: list[dict[str, Any]]) -> None:
        rows[row]["quantity"] = 0

    return write_history(tmp_path, with_rows(table, bad_quantity)), row


def both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, history: Path, suffix: str = ".parquet"
) -> tuple[int, str, str]:
    """The command both ways: the same result and no file but the history's."""
    results = []
    for mode in MODES:
        ledger = tmp_path / f"ledger{suffix}"
        arguments = ("dry-run", COFFEE_CLUB, history, "--output", ledger, "--engine", "batch")
        results.append(run_as(mode, monkeypatch, *arguments))
        assert sorted(path.name for path in tmp_path.iterdir()) == [history.name]
    assert results[0] == results[1]
    return results[0]


@pytest.mark.parametrize("chunk", ["1", "4", "50"])
def test_a_bad_row_in_a_late_chunk_is_the_same_located_error(
    tmp_path: Path, chunk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    history, row = bad_history(tmp_path)
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", chunk)
    code, out, err = both_ways(tmp_path, monkeypatch, history)
    assert (code, out) == (1, "")
    assert err.startswith(f"{history}:{row + 1}:")


def test_an_engine_error_in_a_late_chunk_is_the_same_located_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = synthetic_history()
    refunds = [index for index, kind in enumerate(table["type"].to_pylist()) if kind == "refund"]
    row = refunds[-1]

    def unknown(rows: list[dict[str, Any]]) -> None:
        rows[row]["purchase_id"] = "p-none"

    history = write_history(tmp_path, with_rows(table, unknown))
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", "3")
    code, out, err = both_ways(tmp_path, monkeypatch, history, ".csv")
    assert (code, out) == (1, "")
    assert f"{history}:{row + 1}:" in err


def failing_writes(monkeypatch: pytest.MonkeyPatch, fails_at: int, after: float = 0) -> None:
    """Make each format's writer raise an OSError on its ``fails_at``-th table (1-based)
    of each run, ``after`` seconds late."""
    calls = [0]

    def add_table(sink: Any, table: pa.Table) -> None:
        calls[0] += 1
        if calls[0] == fails_at:
            calls[0] = 0  # the next run fails again
            time.sleep(after)
            raise OSError(28, "No space left on device")
        original[type(sink)](sink, table)

    sinks = (ledger_files._ParquetSink, ledger_files._CsvSink, ledger_files._JsonLinesSink)
    original = {sink: sink.add_table for sink in sinks}
    for sink in sinks:
        monkeypatch.setattr(sink, "add_table", add_table)
    return calls


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_a_write_that_fails_is_the_same_message_and_leaves_no_partial_file(
    history: Path, tmp_path: Path, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", "7")
    failing_writes(monkeypatch, 3)
    code, out, err = both_ways(tmp_path, monkeypatch, history, suffix)
    ledger = tmp_path / f"ledger{suffix}"
    assert (code, out) == (1, "")
    assert err == (
        f"cannot write the ledger file {ledger}: No space left on device (check "
        "that its folder exists and can be written to)\n"
    )


def test_a_write_error_of_an_earlier_chunk_wins_over_a_bad_row_of_a_later_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two chunks: the second has a bad row, the first chunk's ledger fails to be written,
    # slowly. One thread never reads the second chunk; the threads read it while the
    # first is written, and must still show the write's error.
    history, row = bad_history(tmp_path)
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", str(row // 2))
    failing_writes(monkeypatch, 1, after=0.3)
    code, out, err = both_ways(tmp_path, monkeypatch, history, ".csv")
    assert (code, out) == (1, "")
    assert err.startswith("cannot write the ledger file")


def test_an_output_folder_that_disappears_is_the_same_message(
    history: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "out"
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", "7")
    evaluate = chunk_company.evaluate_table
    calls = [0]

    def then_remove(*arguments: Any, **options: Any) -> Any:
        calls[0] += 1
        if calls[0] == 5:
            for path in folder.iterdir():
                path.unlink()
            folder.rmdir()
        return evaluate(*arguments, **options)

    monkeypatch.setattr(chunk_company, "evaluate_table", then_remove)
    results = []
    for mode in MODES:
        folder.mkdir()
        calls[0] = 0
        ledger = folder / "ledger.parquet"
        arguments = ("dry-run", COFFEE_CLUB, history, "--output", ledger, "--engine", "batch")
        results.append(run_as(mode, monkeypatch, *arguments))
        assert not folder.exists()
    assert results[0] == results[1]
    code, out, err = results[0]
    assert (code, out) == (1, "")
    assert f"cannot write the ledger file {folder / 'ledger.parquet'}" in err


def test_ctrl_c_during_the_evaluation_stops_both_threads_and_removes_the_ledger(
    history: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", "7")
    evaluate = chunk_company.evaluate_table
    calls = [0]

    def interrupted(*arguments: Any, **options: Any) -> Any:
        calls[0] += 1
        if calls[0] == 6:
            raise KeyboardInterrupt
        return evaluate(*arguments, **options)

    monkeypatch.setattr(chunk_company, "evaluate_table", interrupted)
    results = []
    for mode in MODES:
        calls[0] = 0
        ledger = tmp_path / "ledger.parquet"
        arguments = ("dry-run", COFFEE_CLUB, history, "--output", ledger, "--engine", "batch")
        results.append(run_as(mode, monkeypatch, *arguments))
        assert sorted(path.name for path in tmp_path.iterdir()) == [history.name]
    assert results[0] == results[1]


def test_ctrl_c_while_the_reader_is_reading_waits_for_it_and_closes_its_chunks(
    history: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The reader is slow and the evaluation is interrupted: the run ends only once the
    # reader has stopped, and the chunks' generator is closed (in the reader's thread).
    chunks = dry_run_stream.parquet_chunks
    closed: list[str] = []

    def slow(*arguments: Any) -> Iterator[pa.Table]:
        try:
            for chunk in chunks(*arguments):
                time.sleep(0.02)
                yield chunk
        finally:
            closed.append(threading.current_thread().name)

    evaluate = chunk_company.evaluate_table
    calls = [0]

    def interrupted(*arguments: Any, **options: Any) -> Any:
        calls[0] += 1
        if calls[0] == 3:
            raise KeyboardInterrupt
        return evaluate(*arguments, **options)

    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", "7")
    monkeypatch.setattr(dry_run_stream, "parquet_chunks", slow)
    monkeypatch.setattr(chunk_company, "evaluate_table", interrupted)
    ledger = tmp_path / "ledger.parquet"
    arguments = ("dry-run", COFFEE_CLUB, history, "--output", ledger, "--engine", "batch")
    code, out, _ = run_as("threads", monkeypatch, *arguments)
    assert (code, out) == (1, "")  # in process: click's runner reports the interruption
    assert closed == ["rewardrules-read-ahead"]
    assert sorted(path.name for path in tmp_path.iterdir()) == [history.name]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="Linux: /proc")
def test_ctrl_c_in_a_real_process_exits_130_and_leaves_nothing(tmp_path: Path) -> None:
    history = _history(tmp_path)
    ledger = tmp_path / "ledger.parquet"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "REWARDRULES_CHUNK_ROWS": "40"}
    env["REWARDRULES_THREADS"] = "1"
    command = [sys.executable, "-m", "rewardrules", "dry-run", str(COFFEE_CLUB), str(history)]
    command += ["--engine", "batch", "--output", str(ledger), "--summary"]
    process = subprocess.Popen(  # noqa: S603 -- our own interpreter and arguments
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True
    )

    def flowing() -> bool:
        partial = (tmp_path / ".ledger.parquet.partial").exists()
        return partial and _has_run(process.pid, 1.2)

    _wait_for(flowing, process)
    assert process.poll() is None, "the run ended before it could be interrupted"
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert (process.returncode, out, err) == (130, b"", b"")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["history.parquet"]


# The two classes on their own: order, bounds, errors.


def test_read_ahead_gives_the_items_in_order_then_the_error_where_it_came() -> None:
    def items() -> Iterator[int]:
        for item in range(50):
            time.sleep(random.random() / 1000)  # noqa: S311 -- timing, not secrets
            yield item
        raise HistoryError([Problem("the end")])

    taken: list[int] = []

    def take(ahead: ReadAhead[int]) -> None:
        for item in ahead:
            taken.append(item)
            time.sleep(random.random() / 1000)  # noqa: S311

    with ReadAhead(items()) as ahead, pytest.raises(HistoryError, match="the end"):
        take(ahead)
    assert taken == list(range(50))
    assert helper_threads() == []


def test_read_ahead_reads_at_most_one_item_ahead_of_the_one_taken() -> None:
    begun: list[int] = []

    def items() -> Iterator[int]:
        for item in range(10):
            begun.append(item)
            yield item

    with ReadAhead(items()) as ahead:
        for item in ahead:
            time.sleep(0.01)  # time for the reader to run as far as it may
            # One taken (this one), one waiting, one being made and held back.
            assert len(begun) <= item + 3
    assert begun == list(range(10))


def test_write_behind_works_in_the_order_given_and_holds_one_waiting() -> None:
    done: list[int] = []
    gate = threading.Event()

    def work(item: int) -> None:
        gate.wait()
        done.append(item)

    writer = WriteBehind(work)
    writer.put(0)  # taken at once, waits at the gate
    time.sleep(0.01)
    writer.put(1)  # waits in the channel
    third = threading.Thread(target=writer.put, args=(2,))
    third.start()
    third.join(0.1)
    assert third.is_alive()  # no room for a third
    gate.set()
    third.join()
    for item in range(3, 40):
        writer.put(item)
    writer.finish()
    assert done == list(range(40))
    assert helper_threads() == []


def test_write_behind_raises_its_error_at_the_next_hand_over_and_keeps_it_first() -> None:
    def work(item: int) -> None:
        if item == 2:
            raise HistoryError([Problem("cannot write")])

    writer = WriteBehind(work)

    def give() -> None:
        for item in range(100):
            writer.put(item)

    with pytest.raises(HistoryError, match="cannot write"):
        give()
    assert helper_threads() == []
    # After an error of the giver's, the writer's own earlier error is the one to show.
    writer = WriteBehind(work)
    for item in range(3):
        writer.put(item)
    mine = ValueError("later")
    instead = writer.stop(mine)
    assert isinstance(instead, HistoryError)
    assert helper_threads() == []


def test_write_behind_stopped_by_ctrl_c_drops_what_waits() -> None:
    done: list[int] = []
    gate = threading.Event()

    def work(item: int) -> None:
        gate.wait()
        done.append(item)

    writer = WriteBehind(work)
    writer.put(0)
    time.sleep(0.01)
    writer.put(1)
    threading.Timer(0.05, gate.set).start()
    assert writer.stop(KeyboardInterrupt()) is None
    assert done == [0]  # the one at work is finished, the one waiting dropped
    assert helper_threads() == []
    assert gate.is_set()


def test_the_threads_are_used_where_there_are_two_cores_unless_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REWARDRULES_THREADS", raising=False)
    for cores, told, expected in [
        ({0, 1}, None, True),
        ({3}, None, False),
        ({3}, "1", True),
        ({0, 1}, "0", False),
    ]:
        monkeypatch.setattr(os, "sched_getaffinity", lambda _pid, cores=cores: cores)
        if told is not None:
            monkeypatch.setenv("REWARDRULES_THREADS", told)
        assert _overlap.threads_on() is expected


def test_without_threads_both_run_in_the_calling_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REWARDRULES_THREADS", "0")
    assert not _overlap.threads_on()
    names: list[str] = []
    writer: WriteBehind[int] = WriteBehind(
        lambda item: names.append(threading.current_thread().name), threaded=False
    )

    def items() -> Iterator[int]:
        names.append(threading.current_thread().name)
        yield 1

    with ReadAhead(items(), threaded=False) as ahead:
        for item in ahead:
            writer.put(item)
    writer.finish()
    assert names == [threading.current_thread().name] * 2


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signal masks")
def test_the_threads_block_ctrl_c_and_the_main_thread_does_not() -> None:
    masks: list[set[int]] = []

    def items() -> Iterator[int]:
        masks.append(set(signal.pthread_sigmask(signal.SIG_BLOCK, set())))
        yield 1

    with ReadAhead(items()) as ahead:
        assert list(ahead) == [1]
    writer: WriteBehind[int] = WriteBehind(
        lambda _item: masks.append(set(signal.pthread_sigmask(signal.SIG_BLOCK, set())))
    )
    writer.put(1)
    writer.finish()
    assert [signal.SIGINT in mask for mask in masks] == [True, True]
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, set())
