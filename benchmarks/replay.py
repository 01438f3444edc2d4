"""Benchmark for issue 12: replaying big histories, side by side, with honest baselines.

Run::

    python benchmarks/replay.py            # full: 1M purchases, 1M customers, 10M as Parquet
    python benchmarks/replay.py --quick    # a tenth of that: a few minutes
    python benchmarks/replay.py --purchases 300000 --seed 7 --only a step

Scenarios (seeded histories from ``synthetic.py``, written as Parquet to a temporary
folder, each read back by the process that measures it):

* ``a``: 10,000 customers, N purchases (default 1,000,000), 1% refunded, coffee club;
* ``a-lifecycle``: the same purchases with redemptions, on ``lifecycle-program.yaml``
  (lots, pending points, expiry, a monthly limit, an exclusive group);
* ``b``: N customers with one purchase each, coffee club;
* ``c``: 10 x N purchases of N / 10 customers, sorted by customer, coffee club;
* ``step``: load a saved state (JSON), ``step`` one purchase, save it, after 10, 1,000
  and 10,000 purchases of history, with and without ``refunds.within``; with the program
  compiled once and compiled by each call, beside ``json.loads`` + ``json.dumps`` of the
  same state text (median CPU time).

Implementations, each in its own process so that peak memory does not mix (the peak of
each is that process's ``ru_maxrss`` from ``os.wait4``; it includes the Parquet table it
read, whose size is printed too):

* ``reference``: ``rewardrules.evaluate`` on the models, on a subset of customers (about
  100,000 purchases; 20,000 with ``--quick``): it runs at tens of thousands a second;
* ``batch``: ``rewardrules.evaluation.batch.evaluate_table`` from the Arrow table, when the batch
  engine is installed ("batch engine: not available" otherwise);
* ``int-loop``: the hand-written integer loop of ``baselines.py`` (of
  ``lifecycle_baseline.py`` for the lifecycle program), over the table's integer columns;
  making those columns (sort, codes, cents, local dates) is timed apart as ``prepare``;
* ``numpy``: the coffee club vectorised by hand (``numpy_baseline.py``), the upper
  reference (none for the lifecycle program).

Times are CPU seconds (``time.process_time``) and wall seconds of the evaluation alone.
Ratios compare purchases per CPU second with the int loop's. The figures are printed only
if every implementation agrees: the int loop with the reference engine on each customer of
the subset (points balance, available points, final tier, money given), and the numpy
baseline and the batch engine with the int loop on every customer (through a digest); the
batch engine also with the reference on the subset.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from baselines import (  # beside this script (its folder is on sys.path)
    Outcome,
    coffee_int_loop,
    columns_from_table,
    first_difference,
    reference_outcome,
)
from lifecycle_baseline import lifecycle_int_loop, local_columns
from numpy_baseline import coffee_numpy
from synthetic import history_table

from rewardrules import CustomerState, compile_program, evaluate, load_program, step
from rewardrules.histories.columns import table_to_events
from rewardrules.program.model import Program

HERE = Path(__file__).resolve().parent
PROGRAMS = {
    "coffee-club": HERE.parent / "rules" / "examples" / "coffee-club.yaml",
    "lifecycle": HERE / "lifecycle-program.yaml",
}
REDEMPTION_SHARE = 0.02
STEP_HISTORIES = (10, 1_000, 10_000)
STEP_YEARS = 4
STEP_WINDOW = "90 days"  # refunds.within for the second step run
STEP_EVERY = timedelta(days=2)  # 10,000 purchases then span 55 years, within the bounds
IMPLEMENTATIONS = ("reference", "batch", "int-loop", "numpy")


@dataclass(frozen=True, slots=True)
class Scenario:
    """A history to replay and the program to replay it with."""

    name: str
    title: str
    program: str
    customers: int
    purchases: int
    one_each: bool = False
    sorted_by_customer: bool = False
    redemption_share: float = 0.0


def scenarios(purchases: int) -> list[Scenario]:
    """The scenarios at a size (``purchases`` is scenario a's)."""
    return [
        Scenario("a", "10,000 customers, refunds", "coffee-club", 10_000, purchases),
        Scenario(
            "a-lifecycle",
            "the same, lifecycle program",
            "lifecycle",
            10_000,
            purchases,
            redemption_share=REDEMPTION_SHARE,
        ),
        Scenario(
            "b", "one purchase per customer", "coffee-club", purchases, purchases, one_each=True
        ),
        Scenario(
            "c",
            "sorted by customer, Parquet",
            "coffee-club",
            max(1, purchases // 10),
            10 * purchases,
            sorted_by_customer=True,
        ),
    ]


# --- measuring, in the child process --------------------------------------------------


def batch_engine() -> Callable[..., Any] | None:
    """``rewardrules.evaluation.batch.evaluate_table`` if the batch engine is installed."""
    try:
        module = importlib.import_module("rewardrules.evaluation.batch")
    except ImportError:
        return None
    found = getattr(module, "evaluate_table", None)
    return found if callable(found) else None


def batch_refusal(program: Any) -> str | None:
    """Why the batch engine refuses the program (features it does not evaluate yet), if so."""
    try:
        module = importlib.import_module("rewardrules.evaluation.batch")
    except ImportError:
        return None
    features = module.unsupported(program) if hasattr(module, "unsupported") else []
    return "; ".join(features) if features else None


def table_reader() -> Callable[..., pa.Table] | None:
    """``rewardrules.read_history_table`` (checks column-wise) if it is installed."""
    for name in ("rewardrules", "rewardrules.histories.columns"):
        found = getattr(importlib.import_module(name), "read_history_table", None)
        if callable(found):
            return found  # type: ignore[no-any-return]
    return None


def clock() -> tuple[float, float]:
    """Wall and CPU seconds now."""
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> dict[str, float]:
    """Wall and CPU seconds since ``start``."""
    wall, cpu = clock()
    return {"wall": wall - start[0], "cpu": cpu - start[1]}


def peak_mib() -> float:
    """This process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def outcome_json(outcome: Outcome, subset_last: str) -> dict[str, Any]:
    """The subset's outcome in full, and a digest of the whole."""
    lines = "\n".join(
        f"{customer} {outcome.stars[customer]} {outcome.tiers[customer]} "
        f"{outcome.discounts[customer]} {outcome.available[customer]}"
        for customer in sorted(outcome.stars)
    )
    subset = {key for key in outcome.stars if key <= subset_last}
    part = outcome.only(subset)
    return {
        "digest": hashlib.sha256(lines.encode()).hexdigest(),
        "customers": len(outcome.stars),
        "subset": {
            "stars": part.stars,
            "tiers": part.tiers,
            "discounts": part.discounts,
            "available": part.available,
        },
    }


def measure(job: dict[str, Any]) -> dict[str, Any]:
    """Read the job's Parquet file, run one implementation, report figures and results."""
    program = load_program(PROGRAMS[job["program"]])
    implementation, subset_last = job["implementation"], job["subset_last"]
    start = clock()
    table = pq.read_table(job["path"])
    report: dict[str, Any] = {"read": since(start), "table_mib": table.nbytes / 2**20}
    reader = table_reader()
    if reader is not None and implementation == "batch":
        start = clock()
        table = reader(job["path"])
        report["read_checked"] = since(start)
    report["input_peak_mib"] = peak_mib()
    if implementation == "reference":
        table = table.filter(pc.less_equal(table["customer_id"], subset_last))
        report["purchases"] = count_purchases(table)
        start = clock()
        events = list(table_to_events(table))
        report["prepare"] = since(start)
        del table
        start = clock()
        evaluation = evaluate(program, events)
        report["run"] = since(start)
        report["outcome"] = outcome_json(reference_outcome(evaluation), subset_last)
    elif implementation == "batch":
        evaluate_table, refusal = batch_engine(), batch_refusal(program)
        if evaluate_table is None or refusal:
            return {"unavailable": refusal or "batch engine: not available"}
        report["purchases"] = count_purchases(table)
        report.update(measure_batch(evaluate_table, program, table, subset_last))
    else:
        report["purchases"] = count_purchases(table)
        start = clock()
        columns = columns_from_table(table)
        local = local_columns(columns.at) if job["program"] == "lifecycle" else None
        report["prepare"] = since(start)
        del table
        start = clock()
        if local is not None:
            outcome = lifecycle_int_loop(columns, local)
        elif implementation == "int-loop":
            outcome = coffee_int_loop(columns)
        else:
            run = coffee_numpy(columns)
            outcome, report["passes"] = run.outcome, run.passes
        report["run"] = since(start)
        report["outcome"] = outcome_json(outcome, subset_last)
    report["peak_mib"] = peak_mib()
    return report


def measure_batch(
    evaluate_table: Callable[..., Any], program: Program, table: pa.Table, subset_last: str
) -> dict[str, Any]:
    """The batch engine's run, then reading its results, timed apart: it builds ledger
    entries when they are read, and the outcome (balances, tiers, money given) reads them."""
    start = clock()
    evaluation = evaluate_table(program, table)
    report: dict[str, Any] = {"run": since(start)}
    start = clock()
    outcome = reference_outcome(evaluation)
    report["read_results"] = since(start)
    report["outcome"] = outcome_json(outcome, subset_last)
    return report


def count_purchases(table: pa.Table) -> int:
    """How many purchases (not lines) a history table has."""
    purchases = table.filter(pc.equal(table["type"], "purchase"))["event_id"]
    return len(pc.unique(purchases))


def _median_seconds(call: Callable[[], object], longest: bool) -> float:
    """The median CPU time of ``call`` (``time.process_time``: the machine is shared, and
    wall time counts the other processes' turns): at least 5 runs (3 for the longest
    history) and as many as fit in about 0.3 s, so that a step of microseconds is not one
    timer tick."""
    timings: list[float] = []
    spent = 0.0
    while len(timings) < (3 if longest else 5) or (spent < 0.3 and len(timings) < 2_000):
        start = time.process_time()
        call()
        timings.append(time.process_time() - start)
        spent += timings[-1]
    return statistics.median(timings)


def measure_step(program: Program, seed: int, every: timedelta | None) -> dict[str, Any]:
    """Load a saved state, step one purchase, save: after several lengths of history.

    The purchases come ``every`` so long (a ``refunds.within`` window then holds as many
    whatever the history's length), or with None are spread evenly over ``STEP_YEARS``
    years (the window then holds a share of the history). Each is timed with the program
    compiled once (``rewardrules.compile_program``, then ``step`` on the compiled program,
    as an application keeping its compiled program does) and with ``step`` on the program,
    which compiles it at each call;
    ``json`` is ``json.loads`` and ``json.dumps`` of the same state text, the floor any
    load and save of it stands on.
    """
    figures: dict[str, Any] = {}
    longest = max(STEP_HISTORIES)
    table = history_table(1, longest + 1, seed, refund_share=0.0)
    events = sorted(table_to_events(table), key=lambda event: (event.at, event.id))
    first = events[0].at
    compiled = compile_program(program)
    for length in STEP_HISTORIES:
        gap = every or timedelta(days=365 * STEP_YEARS) / length
        spread = [
            event.model_copy(update={"at": first + gap * index})
            for index, event in enumerate(events[: length + 1])
        ]
        history, purchase = spread[:length], spread[length]
        text = evaluate(program, history).customers[0].state.model_dump_json()
        is_longest = length == longest

        def compiled_once(text: str = text, purchase: Any = purchase) -> None:
            state = CustomerState.model_validate_json(text)
            saved, _entries = step(compiled, state, purchase)
            saved.model_dump_json()

        def compiling(text: str = text, purchase: Any = purchase) -> None:
            state = CustomerState.model_validate_json(text)
            saved, _entries = step(program, state, purchase)
            saved.model_dump_json()

        def plain_json(text: str = text) -> None:
            json.dumps(json.loads(text), separators=(",", ":"))

        kept = CustomerState.model_validate_json(text)
        figures[str(length)] = {
            "seconds": _median_seconds(compiled_once, is_longest),
            "seconds_compiling": _median_seconds(compiling, is_longest),
            "seconds_json": _median_seconds(plain_json, False),
            "state_bytes": len(text.encode()),
            "saved_purchases": len(kept.purchases),
            "window_pairs": len(kept.tier_window),
        }
    return figures


def child(argument: str) -> int:
    """The measuring process: one job, figures as one JSON line on standard output."""
    job = json.loads(argument)
    if job["implementation"] == "step":
        program = load_program(PROGRAMS["coffee-club"])
        windowed = program.model_copy(
            update={"refunds": program.refunds.model_copy(update={"within": STEP_WINDOW})}
        )
        report = {
            "step": measure_step(program, job["seed"], None),
            "step_window": measure_step(windowed, job["seed"], None),
            "step_every": measure_step(program, job["seed"], STEP_EVERY),
            "step_window_every": measure_step(windowed, job["seed"], STEP_EVERY),
        }
        report["peak_mib"] = peak_mib()
        report["load"] = ", ".join(f"{figure:.2f}" for figure in os.getloadavg())
    else:
        report = measure(job)
    print(json.dumps(report))
    return 0


# --- the parent process --------------------------------------------------------------


def run_child(job: dict[str, Any]) -> dict[str, Any]:
    """Run one job in a new process; its report, with the process's own peak RSS."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(job)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # noqa: S603
    output = process.stdout.read() if process.stdout is not None else ""
    # os.wait4 gives this child's own rusage; RUSAGE_CHILDREN would be the largest child's
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"the {job['implementation']} run of {job.get('scenario')} failed")
    report: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    report["process_peak_mib"] = usage.ru_maxrss / 1024
    return report


def subset_last_customer(table: pa.Table, wanted: int) -> tuple[str, int]:
    """The last customer id of the fewest first customers (by id) with ``wanted`` purchases,
    and how many purchases those customers have."""
    purchases = table.filter(pc.equal(table["type"], "purchase"))
    firsts = purchases.group_by("event_id", use_threads=False).aggregate([("customer_id", "first")])
    customers = np.sort(firsts["customer_id_first"].to_numpy(zero_copy_only=False))
    if len(customers) == 0:
        return "", 0
    last = customers[min(wanted, len(customers)) - 1]
    return str(last), int(np.searchsorted(customers, last, side="right"))


@dataclass
class Row:
    """One line of the results table."""

    scenario: str
    implementation: str
    purchases: int
    wall: float
    cpu: float
    peak_mib: float
    note: str = ""

    @property
    def rate(self) -> float:
        """Purchases per CPU second."""
        return self.purchases / self.cpu if self.cpu > 0 else float("inf")


def check(scenario: Scenario, reports: dict[str, dict[str, Any]]) -> list[str]:
    """Every disagreement between the implementations of a scenario, in words."""
    problems = []
    outcomes = {name: report["outcome"] for name, report in reports.items() if "outcome" in report}

    def subset(name: str) -> Outcome:
        part = outcomes[name]["subset"]
        return Outcome(part["stars"], part["tiers"], part["discounts"], part["available"])

    reference = subset("reference")
    for name in outcomes:
        if name == "reference":
            continue
        difference = first_difference(reference, subset(name))
        if difference is not None:
            problems.append(f"{scenario.name}: {name} against the reference: {difference}")
    if "int-loop" in outcomes:
        for name in ("numpy", "batch"):
            if name in outcomes and outcomes[name]["digest"] != outcomes["int-loop"]["digest"]:
                counts = outcomes[name]["customers"], outcomes["int-loop"]["customers"]
                problems.append(
                    f"{scenario.name}: {name} and the int loop differ on some customer "
                    f"(of {counts[0]:,} and {counts[1]:,})"
                )
    return problems


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--purchases",
        type=int,
        default=1_000_000,
        help="scenario a's purchases; b has as many customers, c ten times as many "
        "purchases (default 1,000,000)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="100,000 purchases and a 20,000-purchase subset"
    )
    parser.add_argument(
        "--reference-purchases",
        type=int,
        default=None,
        help="purchases in the subset the reference engine replays (default 100,000)",
    )
    parser.add_argument("--seed", type=int, default=2026, help="default 2026")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["a", "a-lifecycle", "b", "c", "step"],
        help="run only these scenarios",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.quick:
        arguments.purchases = 100_000
    if arguments.reference_purchases is None:
        arguments.reference_purchases = 20_000 if arguments.quick else 100_000
    return arguments


@dataclass
class Measured:
    """What one scenario gave: table rows, a note on its history, disagreements."""

    rows: list[Row]
    note: str
    problems: list[str]
    batch_missing: bool = False
    refusals: list[str] = field(default_factory=list)
    """Why the batch engine refused this scenario's program, when it did."""


def run_scenario(scenario: Scenario, arguments: argparse.Namespace, folder: Path) -> Measured:
    """Generate the scenario's history as Parquet, then measure each implementation."""
    start = clock()
    table = history_table(
        scenario.customers,
        scenario.purchases,
        arguments.seed,
        one_each=scenario.one_each,
        sorted_by_customer=scenario.sorted_by_customer,
        redemption_share=scenario.redemption_share,
    )
    made = since(start)
    path = folder / f"{scenario.name}.parquet"
    start = clock()
    pq.write_table(table, path)
    written = since(start)
    subset_last, subset_purchases = subset_last_customer(table, arguments.reference_purchases)
    measured = Measured(
        [],
        f"{scenario.name}: {scenario.purchases:,} purchases, {table.num_rows:,} rows; "
        f"generated in {made['wall']:.1f} s, Parquet written in {written['wall']:.1f} s "
        f"({path.stat().st_size / 2**20:,.0f} MiB); the reference replays the "
        f"customers up to {subset_last} ({subset_purchases:,} purchases)",
        [],
    )
    del table
    implementations = (
        ("reference", "batch", "int-loop") if scenario.program == "lifecycle" else IMPLEMENTATIONS
    )
    reports: dict[str, dict[str, Any]] = {}
    for implementation in implementations:
        print(f"{scenario.name}: {implementation}...", file=sys.stderr, flush=True)
        job = {
            "scenario": scenario.name,
            "implementation": implementation,
            "program": scenario.program,
            "path": str(path),
            "subset_last": subset_last,
        }
        report = run_child(job)
        if "unavailable" in report:
            if report["unavailable"] == "batch engine: not available":
                measured.batch_missing = True
            else:  # the engine is there but refuses this program: say what it refuses
                refused = report["unavailable"]
                measured.refusals.append(
                    f"{scenario.name}: the batch engine does not evaluate {refused} yet"
                )
            continue
        reports[implementation] = report
        note = ""
        if "prepare" in report:
            what = "models" if implementation == "reference" else "columns"
            note = f"{what} {report['prepare']['cpu']:.2f} CPU s"
        if "passes" in report:
            passes = report["passes"]
            note += f", {passes} pass{'es' if passes != 1 else ''}"
        if "read_checked" in report:
            note = f"read_history_table {report['read_checked']['cpu']:.2f} CPU s"
        if "read_results" in report:
            note += f", reading the results {report['read_results']['cpu']:.2f} CPU s"
        note += (
            f"; read {report['table_mib']:,.0f} MiB of Arrow, "
            f"{report['input_peak_mib']:,.0f} MiB peak after reading"
        )
        measured.rows.append(
            Row(
                scenario.name,
                implementation,
                report["purchases"],
                report["run"]["wall"],
                report["run"]["cpu"],
                report["process_peak_mib"],
                note,
            )
        )
    measured.problems = check(scenario, reports)
    return measured


def main(argv: Sequence[str] | None = None) -> int:
    """Generate, measure each implementation in its own process, check, then print."""
    arguments = parse_arguments(argv)
    if arguments.child is not None:
        return child(arguments.child)
    began = time.perf_counter()
    load_start = os.getloadavg()
    wanted = set(arguments.only or ["a", "a-lifecycle", "b", "c", "step"])
    results: list[Measured] = []
    step_report = None
    with tempfile.TemporaryDirectory(prefix="rewardrules-replay-") as folder:
        for scenario in scenarios(arguments.purchases):
            if scenario.name in wanted:
                results.append(run_scenario(scenario, arguments, Path(folder)))
    if "step" in wanted:
        print("step...", file=sys.stderr, flush=True)
        step_report = run_child({"implementation": "step", "seed": arguments.seed})
    load_end = os.getloadavg()
    elapsed = time.perf_counter() - began

    problems = [problem for result in results for problem in result.problems]
    if problems:
        print("results differ; no figures are printed:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print_figures(
        [row for result in results for row in result.rows],
        [result.note for result in results]
        + [refusal for result in results for refusal in result.refusals],
        step_report,
        any(result.batch_missing for result in results),
        load_start,
        load_end,
        elapsed,
    )
    return 0


def print_figures(
    rows: list[Row],
    notes: list[str],
    step_report: dict[str, Any] | None,
    batch_missing: bool,
    load_start: tuple[float, float, float],
    load_end: tuple[float, float, float],
    elapsed: float,
) -> None:
    """The results, after every check passed."""
    print(
        f"replay benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; Python "
        f"{platform.python_version()}, numpy {np.__version__}, pyarrow {pa.__version__}; "
        f"{os.cpu_count()} CPUs"
    )
    print(f"load average (1, 5, 15 min) at start: {', '.join(f'{x:.2f}' for x in load_start)}")
    for note in notes:
        print(f"  {note}")
    if batch_missing:
        print("batch engine: not available")
    print()
    header = (
        f"| {'scenario':11} | {'implementation':14} | {'purchases':>10} | {'wall s':>7} | "
        f"{'CPU s':>7} | {'purchases/CPU s':>15} | {'vs int loop':>11} | {'peak MiB':>8} | notes |"
    )
    print(header)
    print("|" + "|".join("-" * (len(cell)) for cell in header.split("|")[1:-1]) + "|")
    loops = {row.scenario: row for row in rows if row.implementation == "int-loop"}
    for row in rows:
        loop = loops.get(row.scenario)
        ratio = f"{row.rate / loop.rate:.3f}x" if loop is not None else "-"
        print(
            f"| {row.scenario:11} | {row.implementation:14} | {row.purchases:10,} | "
            f"{row.wall:7.2f} | {row.cpu:7.2f} | {row.rate:15,.0f} | {ratio:>11} | "
            f"{row.peak_mib:8,.0f} | {row.note} |"
        )
    print()
    print(
        "results agree: the int loops with the reference engine on every customer of each "
        "subset (points, available points, final tier, money given); numpy and the batch "
        "engine (when present) with the int loop on every customer; the batch engine with "
        "the reference on each subset"
    )
    if step_report is not None:
        print()
        print(
            "step: load a saved state (JSON), one purchase, save; median CPU time; program "
            "compiled once / compiled by each step call; json.loads + json.dumps of the same "
            "text"
        )
        print(f"load average (1, 5, 15 min) after step: {step_report['load']}")
        runs = (
            ("step", f"over {STEP_YEARS} years, without refunds.within"),
            ("step_window", f"over {STEP_YEARS} years, refunds.within {STEP_WINDOW}"),
            ("step_every", f"one every {STEP_EVERY.days} days, without refunds.within"),
            (
                "step_window_every",
                f"one every {STEP_EVERY.days} days, refunds.within {STEP_WINDOW}",
            ),
        )
        for key, title in runs:
            print(f" {title}:")
            for length, figures in step_report[key].items():
                print(
                    f"  after {int(length):6,} purchases: "
                    f"{figures['seconds'] * 1e6:12,.0f} us / "
                    f"{figures['seconds_compiling'] * 1e6:12,.0f} us "
                    f"(json {figures['seconds_json'] * 1e6:9,.0f} us), "
                    f"state {figures['state_bytes']:11,} bytes, "
                    f"{figures['saved_purchases']:6,} purchases and "
                    f"{figures['window_pairs']:5,} window pairs kept"
                )
    print()
    print(f"load average (1, 5, 15 min) at end: {', '.join(f'{x:.2f}' for x in load_end)}")
    print(f"the whole run took {elapsed / 60:.1f} min")


if __name__ == "__main__":
    sys.exit(main())
