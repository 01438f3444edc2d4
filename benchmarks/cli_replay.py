"""Benchmark for issue 12: the command line end to end, Parquet in and a Parquet ledger out.

Run::

    python benchmarks/cli_replay.py                 # 1M purchases (a), 1M customers (b)
    python benchmarks/cli_replay.py --quick         # a tenth of that
    python benchmarks/cli_replay.py --only a c      # c: 10 x N purchases, N / 10 customers

Scenarios (seeded histories from ``synthetic.py``, as ``replay.py`` draws them, written as
Parquet **sorted by customer**, the order a history must have to stream):

* ``a``: 10,000 customers, N purchases (default 1,000,000), 1% refunded, coffee club;
* ``b``: N customers with one purchase each, coffee club;
* ``c``: 10 x N purchases of N / 10 customers, coffee club (the CLI only: the whole-file
  script would not fit in memory).

Implementations, each in its own process (peak memory is that process's ``ru_maxrss``
from ``os.wait4``, through a small launcher: see ``LAUNCHER``, or for a process tree the
most its processes held together, sampled: see ``measure``):

* ``cli-stream``: ``rewardrules dry-run coffee-club.yaml H.parquet --engine batch
  --output ledger.parquet --summary --quiet``: the history read by record batches and
  evaluated in chunks of whole customers, the ledger written as it goes and the summary
  totalled from its columns (docs/histories.md);
* ``cli-serial``: the same command with ``REWARDRULES_THREADS=0``: reading, evaluating
  and writing one after the other in one thread, as before the reading ahead and writing
  behind in threads (docs/performance.md, "Overlapping reading and writing in one
  process"); its ledger file must be ``cli-stream``'s, byte for byte;
* ``cli-jobs``: the same command with ``--jobs 2``: the main process reads, checks and
  writes, one worker process (and the main one, when the worker has three chunks)
  evaluates the chunks (docs/histories.md, "Several processes"); its ledger file must
  equal ``cli-stream``'s;
* ``whole``: what a script did before: ``read_history_table`` of the whole file,
  ``batch.evaluate_table`` over it, then ``write_ledger`` of every customer;
* ``evaluate``: the batch engine's evaluation only, from the table already read (the CPU
  seconds of ``evaluate_table`` alone, measured inside the child; its peak memory is the
  whole child's). Skipped for ``c`` (the whole table would not fit);
* ``int-loop``: the hand-written integer loop of ``baselines.py`` (``replay.py``'s
  baseline) over the same file: the CPU seconds of ``coffee_int_loop`` alone, as
  ``replay.py`` times it (reading the file and making its columns are in the notes).
  Skipped for ``c``.

Rates are purchases per wall second and per CPU second (user and system, of the process
and every process it started, workers included), start to end of the process (Python's
start and imports included). "vs whole" compares a row's purchases per CPU second with
the whole-file script's, "vs evaluate" with the evaluation alone in the same run: how
much of the engine's rate the command keeps end to end; "vs int loop" with the int
loop's. Figures are printed only if the ledger files are equal, row for row, and the
command's ledger gives every customer the int loop's points and money given (discounts
and free items)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from baselines import coffee_int_loop, columns_from_table  # beside this script
from synthetic import history_table

HERE = Path(__file__).resolve().parent
PROGRAM = HERE.parent / "rules" / "examples" / "coffee-club.yaml"
TARGET_RATE = 500_000  # issue 12: CLI end to end, Parquet in and out, purchases a second
JOBS = 2  # cli-jobs: dry-run --jobs 2, the machine's two cores


@dataclass(frozen=True, slots=True)
class Run:
    """One implementation's process on one scenario."""

    scenario: str
    implementation: str
    purchases: int
    wall: float
    cpu: float
    peak_mib: float

    @property
    def rate(self) -> float:
        """Purchases per CPU second."""
        return self.purchases / self.cpu


def whole(history: str, ledger: str) -> int:
    """The whole-file way, in a child process: read, evaluate, write."""
    from rewardrules import load_program  # noqa: PLC0415 -- in the child only
    from rewardrules.evaluation.batch import evaluate_table  # noqa: PLC0415
    from rewardrules.histories.columns import read_history_table  # noqa: PLC0415
    from rewardrules.tools.ledger_files import write_ledger  # noqa: PLC0415

    program = load_program(PROGRAM)
    table = read_history_table(history)
    evaluation = evaluate_table(program, table, source=history)
    write_ledger(evaluation.customers, ledger, evaluation.money)
    return 0


def evaluate_only(history: str) -> int:
    """The batch engine's evaluation alone, in a child process: prints its CPU seconds."""
    from rewardrules import load_program  # noqa: PLC0415 -- in the child only
    from rewardrules.evaluation.batch import evaluate_table  # noqa: PLC0415
    from rewardrules.histories.columns import read_history_table  # noqa: PLC0415

    program = load_program(PROGRAM)
    table = read_history_table(history)
    start = time.process_time()
    evaluate_table(program, table, source=history)
    print(json.dumps({"cpu": time.process_time() - start}))
    return 0


def int_loop(history: str) -> int:
    """The int loop, in a child process: prints its CPU seconds and what it found."""
    start = time.process_time()
    columns = columns_from_table(pq.read_table(history))
    prepare = time.process_time() - start
    start = time.process_time()
    outcome = coffee_int_loop(columns)
    cpu = time.process_time() - start
    print(json.dumps({"cpu": cpu, "prepare": prepare, **outcome_sums(outcome)}))
    return 0


def outcome_sums(outcome: Any) -> dict[str, dict[str, int]]:
    """Per customer, the points and the money given (minor units) of an int-loop outcome."""
    return {"points": dict(outcome.stars), "given": dict(outcome.discounts)}


def ledger_sums(path: Path) -> dict[str, dict[str, int]]:
    """Per customer, the points and the money given (discounts and free items, minor units)
    of a Parquet ledger, as the int loop counts them."""
    table = pq.read_table(path, columns=["customer_id", "kind", "points", "value"])
    points = table.group_by("customer_id").aggregate([("points", "sum")])
    given = table.filter(pc.is_in(table["kind"], pa.array(["discount", "free"])))
    from rewardrules.tools.ledger_sums import minor_units  # noqa: PLC0415 -- as the children

    minor = pa.array(minor_units(given["value"]), pa.int64())
    given = pa.table({"customer_id": given["customer_id"], "minor": minor})
    money = given.group_by("customer_id").aggregate([("minor", "sum")])
    return {
        "points": dict(
            zip(points["customer_id"].to_pylist(), points["points_sum"].to_pylist(), strict=True)
        ),
        "given": dict(
            zip(money["customer_id"].to_pylist(), money["minor_sum"].to_pylist(), strict=True)
        ),
    }


def disagreement(found: dict[str, dict[str, int]], loop: dict[str, dict[str, int]]) -> str | None:
    """The first customer whose points or money given differ, if any."""
    for figure in ("points", "given"):
        mine, theirs = found[figure], loop[figure]
        for customer in sorted(set(mine) | set(theirs)):
            if (mine.get(customer) or 0) != (theirs.get(customer) or 0):
                found_there = theirs.get(customer)
                return (
                    f"{figure} of {customer}: ledger {mine.get(customer)}, int loop {found_there}"
                )
    return None


LAUNCHER = """
import ctypes, os, resource, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
while True:  # descendants left behind (a forkserver and what it reaps) come back here
    try:
        os.wait4(-1, 0)
    except ChildProcessError:
        break
tree = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as out:
    out.write(f"{tree.ru_utime + tree.ru_stime} {usage.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status))
"""
"""Runs a command and writes the CPU seconds of its whole process tree and its peak KiB.
Linux keeps, as a process's ``ru_maxrss``, the peak of the memory it replaced at ``exec``:
a child started straight from this script (which holds the generated history) would
report this script's peak. The launcher's own memory is a bare interpreter's, so its
child's peak is its own. The launcher is a child subreaper: a descendant orphaned when the
command exits (``--jobs``' forkserver, which reaps the worker processes) is waited for
here, so the CPU seconds (``RUSAGE_CHILDREN`` once every descendant is reaped) are the
whole tree's, workers included."""

_SAMPLE_SECONDS = 0.05


def tree_rss(root: int) -> int:
    """The resident KiB of a process and all its descendants now (Linux ``/proc``)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
    tree, grown = {root}, True
    while grown:
        found = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= found
        grown = bool(found)
    total = 0
    for pid in tree - {root}:  # not the launcher's own bare interpreter
        try:
            with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total


def measure(
    command: list[str], output: Path | None = None, env: dict[str, str] | None = None
) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (the process tree's) and peak MiB of a child process (its
    output to a file). The peak is the larger of the command's own ``ru_maxrss`` and the
    most that its process tree held at once, sampled every 50 ms (the sum of every
    process's resident memory: the main process and ``--jobs``' workers together)."""
    start = time.perf_counter()
    with tempfile.NamedTemporaryFile("r", suffix=".usage") as usage_file:
        launched = [sys.executable, "-S", "-c", LAUNCHER, usage_file.name, *command]
        tree_peak = 0
        with (output or Path(os.devnull)).open("w") as stream:
            child = subprocess.Popen(launched, stdout=stream, env=env)  # noqa: S603
            while child.poll() is None:
                tree_peak = max(tree_peak, tree_rss(child.pid))
                time.sleep(_SAMPLE_SECONDS)
            status = child.returncode
        wall = time.perf_counter() - start
        if status != 0:
            sys.exit(f"failed: {' '.join(command)}")
        cpu, peak = usage_file.read().split()
    return wall, float(cpu), max(int(peak), tree_peak) / 1024


def scenario_table(name: str, purchases: int, seed: int) -> pa.Table:
    """The scenario's history, sorted by customer."""
    if name == "a":
        return history_table(10_000, purchases, seed, sorted_by_customer=True)
    if name == "b":
        return history_table(purchases, purchases, seed, one_each=True, sorted_by_customer=True)
    return history_table(max(1, purchases // 10), 10 * purchases, seed, sorted_by_customer=True)


def command_of(
    implementation: str, history: Path, ledger: Path, folder: Path
) -> tuple[list[str], Path | None]:
    """The command of an implementation, and the file it prints its figures to (if any)."""
    script = [sys.executable, str(Path(__file__).resolve()), "--child"]
    if implementation in ("cli-stream", "cli-serial", "cli-jobs"):
        command = [sys.executable, "-m", "rewardrules", "dry-run", str(PROGRAM)]
        command += [str(history), "--engine", "batch", "--output", str(ledger)]
        command += ["--summary", "--quiet"]
        if implementation == "cli-jobs":
            command += ["--jobs", str(JOBS)]
        return command, None
    if implementation == "whole":
        return [*script, json.dumps({"history": str(history), "ledger": str(ledger)})], None
    job = {"history": str(history), "loop": implementation == "int-loop"}
    return [*script, json.dumps(job)], folder / "child.json"


def jobs_note(name: str, streamed: pa.Table, ledgers: dict[str, Path]) -> str:
    """Check that the ``--jobs`` ledger is the one-process ledger; say how equal."""
    if not streamed.equals(pq.read_table(ledgers["cli-jobs"])):
        sys.exit(f"{name}: the --jobs {JOBS} ledger differs from the one-process ledger")
    same = ledgers["cli-stream"].read_bytes() == ledgers["cli-jobs"].read_bytes()
    return f"; --jobs {JOBS} ledger {'the same bytes' if same else 'equal row for row'}"


def run_scenario(name: str, purchases: int, seed: int, folder: Path) -> tuple[list[Run], str]:
    """Write the scenario's Parquet history, run both ways, check the ledgers agree."""
    table = scenario_table(name, purchases, seed)
    count = len(pc.unique(table.filter(pc.equal(table["type"], "purchase"))["event_id"]))
    history = folder / f"{name}.parquet"
    pq.write_table(table, history)
    note = f"{name}: {count:,} purchases, {table.num_rows:,} rows, sorted by customer"
    del table
    runs = []
    ledgers = {}
    # At 10 x N the whole-file script would need several times the machine's memory.
    implementations = ("cli-stream", "cli-serial", "cli-jobs")
    if name != "c":
        implementations += ("whole", "evaluate", "int-loop")
    loop: dict[str, Any] = {}
    for implementation in implementations:
        print(f"{name}: {implementation}...", file=sys.stderr, flush=True)
        ledger = folder / f"{name}-{implementation}.parquet"
        command, printed = command_of(implementation, history, ledger, folder)
        if implementation in ("cli-stream", "cli-serial", "cli-jobs", "whole"):
            ledgers[implementation] = ledger
        env = {**os.environ, "REWARDRULES_THREADS": "0"} if implementation == "cli-serial" else None
        wall, cpu, peak = measure(command, printed, env)
        if printed is not None:
            child = json.loads(printed.read_text())
            cpu = float(child["cpu"])
            if implementation == "int-loop":
                loop = child
                note += f"; the int loop's columns took {child['prepare']:.2f} CPU s"
        runs.append(Run(name, implementation, count, wall, cpu, peak))
    streamed = pq.read_table(ledgers["cli-stream"])
    if ledgers["cli-serial"].read_bytes() != ledgers["cli-stream"].read_bytes():
        sys.exit(f"{name}: the one-thread ledger differs from the threads' ledger")
    note += jobs_note(name, streamed, ledgers)
    if "whole" in ledgers:
        if not streamed.equals(pq.read_table(ledgers["whole"])):
            sys.exit(f"{name}: the streamed ledger differs from the whole-file ledger")
        note += f"; ledger {streamed.num_rows:,} entries, equal both ways"
    else:
        note += f"; ledger {streamed.num_rows:,} entries (not run whole)"
    if loop:
        differs = disagreement(ledger_sums(ledgers["cli-stream"]), loop)
        if differs is not None:
            sys.exit(f"{name}: the command's ledger and the int loop differ: {differs}")
        note += "; every customer's points and money given agree with the int loop"
    for ledger in ledgers.values():
        ledger.unlink()
    history.unlink()
    return runs, note


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line's arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--purchases", type=int, default=1_000_000, help="N; default 1,000,000")
    parser.add_argument("--quick", action="store_true", help="N / 10")
    parser.add_argument("--seed", type=int, default=2026, help="default 2026")
    parser.add_argument("--only", nargs="+", choices=("a", "b", "c"), help="default: a b")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure each scenario, then print the table."""
    arguments = parse_arguments(argv)
    if arguments.child is not None:
        job: dict[str, Any] = json.loads(arguments.child)
        if job.get("loop"):
            return int_loop(job["history"])
        if "ledger" not in job:
            return evaluate_only(job["history"])
        return whole(job["history"], job["ledger"])
    purchases = arguments.purchases // 10 if arguments.quick else arguments.purchases
    load_start = os.getloadavg()
    runs: list[Run] = []
    notes = []
    with tempfile.TemporaryDirectory(prefix="rewardrules-cli-replay-") as folder:
        for name in arguments.only or ["a", "b"]:
            found, note = run_scenario(name, purchases, arguments.seed, Path(folder))
            runs += found
            notes.append(note)
    load_end = os.getloadavg()
    print(
        f"CLI end to end, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; Python "
        f"{platform.python_version()}, numpy {np.__version__}, pyarrow {pa.__version__}; "
        f"{os.cpu_count()} CPUs"
    )
    print(f"load average (1, 5, 15 min) at start: {', '.join(f'{x:.2f}' for x in load_start)}")
    for note in notes:
        print(f"  {note}")
    print()
    print(
        "| scenario | implementation | purchases | wall s | CPU s | purchases/wall s "
        "| purchases/CPU s | vs whole | vs evaluate | vs int loop | vs target | peak MiB |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    wholes = {run.scenario: run for run in runs if run.implementation == "whole"}
    engines = {run.scenario: run for run in runs if run.implementation == "evaluate"}
    loops = {run.scenario: run for run in runs if run.implementation == "int-loop"}
    for run in runs:
        base = wholes.get(run.scenario)
        engine = engines.get(run.scenario)
        loop = loops.get(run.scenario)
        ratio = f"{run.rate / base.rate:.2f}x" if base is not None else "-"
        kept = f"{run.rate / engine.rate:.2f}x" if engine is not None else "-"
        against = f"{run.rate / loop.rate:.3f}x" if loop is not None else "-"
        inside = run.implementation in ("evaluate", "int-loop")  # timed inside the child
        wall = "-" if inside else f"{run.wall:.2f}"
        per_wall = "-" if inside else f"{run.purchases / run.wall:,.0f}"
        print(
            f"| {run.scenario} | {run.implementation} | {run.purchases:,} | {wall} | "
            f"{run.cpu:.2f} | {per_wall} | {run.rate:,.0f} | {ratio} | {kept} | {against} | "
            f"{run.rate / TARGET_RATE:.2f}x | {run.peak_mib:,.0f} |"
        )
    print()
    print(f"load average (1, 5, 15 min) at end: {', '.join(f'{x:.2f}' for x in load_end)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
