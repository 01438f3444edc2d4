"""Scale-out throughput: one process, a Dask LocalCluster and Spark local[N], same files.

    python benchmarks/scale_out.py --purchases 10000000 --files 20 --workers 2
    python benchmarks/scale_out.py --purchases 200000 --no-spark      # a quick look

A seeded synthetic coffee-club history (``synthetic.py``) is written as ``--files``
Parquet files. ``--layout customer-ranges`` (the default) sorts the rows by customer, then
instant, then id (as ``rewardrules sort-history`` writes them) and cuts them into files of
about equal size at customer boundaries: each file holds a range of customer ids, the way
an export partitioned by customer is laid out. ``--layout row-slices`` cuts the rows in
generation order (by purchase id) into equal slices, so every customer is spread over
the files and the shuffle is needed. Then, in this order:

- **one process**: this process reads the files with pyarrow and runs
  ``tools.scale.evaluate_partition`` on all of them as one partition: exactly the work a
  worker does for its part (the batch engine, the ledger as Arrow columns, the totals);
- **the layout check alone** (``rewardrules.dask.customer_layout``: one read of the
  ``customer_id`` column) on a LocalCluster of ``--workers`` single-threaded processes;
- **the shuffle alone** on that cluster, forced whatever the layout: what a layout that
  is not partitioned by customer costs on top;
- **Dask**: ``rewardrules.dask.evaluate`` on that cluster (read, check, shuffle if the
  check fails, evaluate), with each worker's peak resident memory during it;
- **Spark**: ``rewardrules.spark.evaluate`` on ``local[--workers]`` (read, check the
  layout, evaluate in place or shuffle by ``groupBy`` and evaluate, collect the totals),
  when Java and pyspark are there; then, timed apart, one read of its ledger (a count:
  the packed rows unpacked and converted).

``--only dask``, ``--only spark`` or ``--only clusters`` (both) runs the clusters alone,
after the files one by one (whose totals are then the ones to equal); the one-process
run of every row is skipped.

Every run's program totals must equal one process's, or the script exits 1. Speeds are
wall-clock ratios against one process (which runs alone, so its wall time is its CPU
time on an idle machine). The load average is printed at the start and the end: on a
shared machine a cluster of N workers only helps as far as N cores are free. The
projection to a billion purchases on 100 cores is arithmetic on the measured rates, and
labelled as such.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import logging
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))

from coffee_club import coffee_club
from synthetic import generate_rows, sort_by_customer, to_table

from rewardrules.tools.scale import add_totals, evaluate_partition, history_rows, program_text


def _peak_mib() -> float:
    # VmHWM, which _reset_peak clears: ru_maxrss survives exec, so a worker started from
    # this script would report this script's own peak.
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load() -> str:
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())


def _write_files(purchases: int, customers: int, files: int, folder: Path, layout: str) -> int:
    rows = generate_rows(customers, purchases, 7)
    if layout == "customer-ranges":
        rows = sort_by_customer(rows)
    table = to_table(rows, customers, purchases)
    del rows
    size = -(-table.num_rows // files)
    cuts = [min(number * size, table.num_rows) for number in range(1, files)]
    if layout == "customer-ranges":
        # Each cut moves on to the next customer's first row: no customer in two files.
        cuts = [_next_customer(table["customer_id"], cut) for cut in cuts]
    bounds = [0, *cuts, table.num_rows]
    for number, (start, stop) in enumerate(itertools.pairwise(bounds)):
        piece = table.slice(start, stop - start)
        pq.write_table(piece, folder / f"part-{number:02d}.parquet")
    return int(table.num_rows)


def _next_customer(ids: pa.ChunkedArray, row: int) -> int:
    """The first row, from ``row`` on, where a customer's rows begin (or the end)."""
    while 0 < row < len(ids) and ids[row].as_py() == ids[row - 1].as_py():
        row += 1
    return row


def _one_process(text: str, folder: Path) -> tuple[float, float, dict[str, int]]:
    wall, cpu = time.perf_counter(), time.process_time()
    table = history_rows(pq.read_table(folder))
    _ledger, _results, figures = evaluate_partition(text, 0, 1, table, None, None, None, "batch")
    return time.perf_counter() - wall, time.process_time() - cpu, figures


def _file_by_file(text: str, folder: Path) -> tuple[float, float, int, list[dict[str, int]]]:
    """Wall and CPU seconds for one process to evaluate the files one after another, each
    as one partition, the ledger entries made and each file's figures: a fair serial
    baseline, since one partition of every row costs more per purchase than the same rows
    in parts (docs/scale-out.md).

    Each file is one partition of one (``0, 1``): every customer in it is kept, ledger
    and results made, as a cluster's worker does for its partition of customer ranges. (As
    partition ``number`` of ``len(files)`` it would keep only the customers whose CRC-32
    lands there, about one in ``len(files)``, and skip the others' ledger rows.)"""
    wall, cpu = time.perf_counter(), time.process_time()
    entries = 0
    figures = []
    for file in sorted(folder.glob("*.parquet")):
        table = history_rows(pq.read_table(file))
        ledger, _results, found = evaluate_partition(text, 0, 1, table, None, None, None, "batch")
        entries += ledger.num_rows
        figures.append(found)
        del table, ledger
    return time.perf_counter() - wall, time.process_time() - cpu, entries, figures


def _file_by_file_apart(text: str, folder: Path) -> tuple[float, float, int, list[dict[str, int]]]:
    """:func:`_file_by_file` in a fresh process started with the workers' allocator
    settings (``rewardrules.dask.WORKER_MALLOC``): glibc reads them when a process starts,
    and a serial process with distributed's or glibc's defaults, or one whose heap an
    earlier run grew, would differ from the workers in its page faults alone (from
    35.2 to 44.4 s here at 10,000,000 purchases)."""
    import multiprocessing  # noqa: PLC0415

    from rewardrules.dask import WORKER_MALLOC  # noqa: PLC0415

    saved = {name: os.environ.get(name) for name in WORKER_MALLOC}
    os.environ.update(WORKER_MALLOC)
    try:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            return pool.apply(_file_by_file, (text, folder))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _on_dask(program: object, folder: Path, workers: int, partitions: int) -> dict[str, object]:
    import dask  # noqa: PLC0415
    import dask.dataframe as dd  # noqa: PLC0415 -- the dask extra
    from distributed import Client, LocalCluster, wait  # noqa: PLC0415

    from rewardrules.dask import (  # noqa: PLC0415
        _by_customer,
        customer_layout,
        evaluate,
        partition_tasks,
        worker_environ,
    )
    from rewardrules.tools.scale import add_totals  # noqa: PLC0415

    files = sorted(map(str, folder.glob("*.parquet")))
    with (
        # As the CLI starts its cluster: glibc's allocator left to reuse the columns'
        # memory (rewardrules.dask.WORKER_MALLOC).
        dask.config.set({"distributed.nanny.pre-spawn-environ": worker_environ()}),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        history = dd.read_parquet(files, dtype_backend="pyarrow")
        started = time.perf_counter()
        layout = customer_layout(history)
        check = time.perf_counter() - started
        started = time.perf_counter()
        shuffled = client.persist(_by_customer(history, partitions))
        wait(shuffled)
        shuffle = time.perf_counter() - started
        del shuffled
        client.run(_reset_peak)
        started = time.perf_counter()
        result = evaluate(program, history, engine="batch", partitions=partitions)  # type: ignore[arg-type]
        wall = time.perf_counter() - started
        result_totals, shuffled = result.totals, result.shuffled
        peaks = list(client.run(_peak_mib).values())
        entries = len(result.ledger)  # after the figures: reads the persisted partitions
        del result
        # As `dry-run --workers N --output DIR/` runs: each partition writes its ledger.
        # Fresh workers (same settings), warmed by a layout check: a worker's heap keeps
        # what the run above freed, which would be counted in this run's peak.
        client.restart()
        customer_layout(history)
        client.run(_reset_peak)
        with tempfile.TemporaryDirectory(prefix="scale-out-ledger-") as ledger:
            started = time.perf_counter()
            planned = partition_tasks(program, history, engine="batch", ledger_folder=ledger)  # type: ignore[arg-type]
            written = add_totals(program, client.compute(planned.figures(), sync=True))  # type: ignore[arg-type]
            writing = time.perf_counter() - started
            written_entries = pq.ParquetDataset(ledger).read(columns=["points"]).num_rows
        writing_peaks = list(client.run(_peak_mib).values())
    if written != result_totals:
        raise SystemExit("dask's totals differ when the partitions write their ledger")
    return {
        "writing": writing,
        "writing_peaks": writing_peaks,
        "written_entries": written_entries,
        "entries": entries,
        "wall": wall,
        "check": check,
        "partitioned": not isinstance(layout, tuple),
        "shuffle": shuffle,
        "shuffled": shuffled,
        "peaks": peaks,
        "totals": result_totals,
    }


def _reset_peak() -> None:
    # Linux: writing 5 to clear_refs resets the peak resident size the kernel reports.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _on_spark(program: object, folder: Path, workers: int, partitions: int) -> dict[str, object]:
    from pyspark.sql import SparkSession  # noqa: PLC0415 -- the spark extra

    import rewardrules.spark as scale_spark  # noqa: PLC0415
    from rewardrules.dask import WORKER_MALLOC  # noqa: PLC0415

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    for name, value in WORKER_MALLOC.items():
        # Spark's Python workers get the executors' environment: the same allocator as
        # Dask's workers (docs/scale-out.md, "The workers' allocator").
        builder = builder.config(f"spark.executorEnv.{name}", value)
    session = (
        builder.master(f"local[{workers}]")
        .appName("rewardrules-scale-out")
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.default.parallelism", str(workers))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.driver.memory", "4g")
        .config("spark.driver.extraJavaOptions", "-Dlog4j2.level=ERROR")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        frame = session.read.parquet(str(folder))
        started = time.perf_counter()
        result = scale_spark.evaluate(program, frame, partitions=partitions)  # type: ignore[arg-type]
        wall = time.perf_counter() - started
        # The ledger leaves the workers packed: reading it unpacks and converts its rows.
        started = time.perf_counter()
        rows = result.ledger.count()
        return {
            "wall": wall,
            "totals": result.totals,
            "ledger": time.perf_counter() - started,
            "rows": rows,
            "shuffled": result.shuffled,
        }
    finally:
        session.stop()


def _spark_step(
    program: object,
    folder: Path,
    arguments: argparse.Namespace,
    partitions: int,
    walls: tuple[float | None, float, float | None],
    expected: object,
) -> None:
    """The Spark run, when asked for and Java is there."""
    if arguments.no_spark:
        print("spark: skipped (--no-spark)")
    elif shutil.which("java") is None:
        print("spark: skipped, no Java runtime")
    else:
        spark = _on_spark(program, folder, arguments.workers, partitions)
        _print_spark(spark, arguments, walls, expected)


def _print_spark(
    spark: dict[str, object],
    arguments: argparse.Namespace,
    walls: tuple[float | None, float, float | None],
    expected: object,
) -> None:
    """Print the Spark figures against one process, the files one by one and Dask."""
    one, serial, dask_wall = walls
    spark_wall = float(spark["wall"])  # type: ignore[arg-type]
    ratios = [f"{serial / spark_wall:.2f}x one process file by file"]
    if one is not None:
        ratios.insert(0, f"{one / spark_wall:.2f}x one process")
    if dask_wall is not None:
        ratios.append(f"{dask_wall / spark_wall:.2f}x dask")
    steps = "read, shuffle, evaluate" if spark["shuffled"] else "read, check, evaluate in place"
    print(
        f"spark local[{arguments.workers}]: {spark_wall:.1f} s wall ({steps}), "
        f"{arguments.purchases / spark_wall:,.0f} purchases/s, {', '.join(ratios)}"
    )
    print(
        f"spark ledger read afterwards (count of {spark['rows']:,} rows, "
        f"not part of the figure above): {spark['ledger']:.1f} s wall"
    )
    if spark["totals"] != expected:
        raise SystemExit("spark's totals differ from one process's")


def _print_dask(
    dask: dict[str, object], purchases: int, workers: int, wall: float | None, serial: float
) -> float:
    """Print the Dask figures; the cluster's wall seconds."""
    partitioned = "partitioned by customer" if dask["partitioned"] else "not partitioned"
    print(f"dask layout check alone: {dask['check']:.1f} s wall ({partitioned})")
    print(f"dask shuffle alone: {dask['shuffle']:.1f} s wall")
    dask_wall = float(dask["wall"])  # type: ignore[arg-type]
    steps = "read, check, shuffle, evaluate" if dask["shuffled"] else "read, check, evaluate"
    print(
        f"dask, {workers} workers: {dask_wall:.1f} s wall "
        f"({steps}), {purchases / dask_wall:,.0f} purchases/s"
        + ("" if wall is None else f", {wall / dask_wall:.2f}x one process")
    )
    peaks = ", ".join(f"{peak:,.0f}" for peak in dask["peaks"])  # type: ignore[attr-defined]
    print(f"dask peak resident memory per worker (MiB): {peaks}")
    writing = float(dask["writing"])  # type: ignore[arg-type]
    peaks = ", ".join(f"{peak:,.0f}" for peak in dask["writing_peaks"])  # type: ignore[attr-defined]
    print(
        f"dask, {workers} workers, each partition writing its ledger (dry-run --output DIR/): "
        f"{writing:.1f} s wall, {dask['written_entries']:,} entries written, "
        f"{serial / writing:.2f}x one process file by file; peak resident memory per worker "
        f"(MiB): {peaks}"
    )
    return dask_wall


def _arguments() -> argparse.Namespace:
    """The command line's options."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--purchases", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=0, help="default: purchases / 100")
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--partitions", type=int, default=0, help="default: the files")
    parser.add_argument(
        "--layout",
        choices=("customer-ranges", "row-slices"),
        default="customer-ranges",
        help="files of customer id ranges (default), or slices of the rows in purchase order",
    )
    parser.add_argument("--no-spark", action="store_true", help="skip the Spark run")
    parser.add_argument(
        "--only",
        choices=("dask", "spark", "clusters"),
        help=(
            "run only this cluster (or both: clusters), after the files one by one (whose "
            "totals are then the ones to equal); the one-process run of every row is skipped"
        ),
    )
    parser.add_argument(
        "--data",
        type=Path,
        help=(
            "keep the Parquet files in this folder, and reuse them when it already holds "
            "files written with the same options (a timed run then starts at once)"
        ),
    )
    parser.add_argument(
        "--write-only", action="store_true", help="with --data: write the files and stop"
    )
    return parser.parse_args()


def main() -> None:
    """Write the files, time every way, check the totals, print the figures."""
    arguments = _arguments()
    customers = arguments.customers or max(1, arguments.purchases // 100)
    partitions = arguments.partitions or arguments.files
    program = coffee_club()
    text = program_text(program)
    kept = arguments.data
    folder = kept or Path(tempfile.mkdtemp(prefix="scale-out-"))
    try:
        print(f"load average at the start: {_load()}", flush=True)
        rows = _kept_files(
            arguments.purchases, customers, arguments.files, folder, arguments.layout, kept
        )
        if arguments.write_only:
            print(f"{rows:,} rows written to {folder}")
            return
        print(
            f"{arguments.purchases:,} purchases of {customers:,} customers, {rows:,} rows "
            f"in {arguments.files} Parquet files ({arguments.layout}); {partitions} partitions"
        )

        only = arguments.only
        wall = per_core = expected = None
        if only is None:
            _reset_peak()
            wall, cpu, figures = _one_process(text, folder)
            expected = add_totals(program, [figures])
            per_core = arguments.purchases / cpu
            print(
                f"one process: {wall:.1f} s wall, {cpu:.1f} CPU s, "
                f"{arguments.purchases / wall:,.0f} purchases/s ({per_core:,.0f} per CPU s), "
                f"peak {_peak_mib():,.0f} MiB"
            )

        serial, serial_cpu, entries, serial_figures = _file_by_file_apart(text, folder)
        expected = expected or add_totals(program, serial_figures)
        print(
            f"one process, file by file: {serial:.1f} s wall, {serial_cpu:.1f} CPU s, "
            f"{entries:,} ledger entries (each file one partition, one after another: the "
            "workers' own work, done serially)"
        )

        dask_wall = None
        if only != "spark":
            dask = _on_dask(program, folder, arguments.workers, partitions)
            dask_wall = _print_dask(dask, arguments.purchases, arguments.workers, wall, serial)
            print(f"dask vs one process file by file: {serial / dask_wall:.2f}x")
            if dask["entries"] != entries and arguments.layout == "customer-ranges":
                raise SystemExit(f"dask made {dask['entries']:,} ledger entries, not {entries:,}")
            if dask["totals"] != expected:
                raise SystemExit("dask's totals differ from one process's")

        if only != "dask":
            _spark_step(program, folder, arguments, partitions, (wall, serial, dask_wall), expected)

        if wall is not None and per_core is not None and dask_wall is not None:
            billion, cores = 1_000_000_000, 100
            efficiency = (wall / dask_wall) / arguments.workers
            ideal = billion / (per_core * cores)
            print(
                f"projection, not a measurement: 1,000,000,000 purchases on {cores} cores at "
                f"{per_core:,.0f} purchases per CPU s: {ideal / 60:,.1f} min if perfectly "
                f"parallel; {ideal / efficiency / 60:,.1f} min at the {efficiency:.0%} "
                f"efficiency per worker measured here"
            )
        print("totals: equal in every run")
        print(f"load average at the end: {_load()}")
    finally:
        if kept is None:
            shutil.rmtree(folder, ignore_errors=True)


def _kept_files(
    purchases: int, customers: int, files: int, folder: Path, layout: str, kept: Path | None
) -> int:
    """The rows of the files in ``folder``: written now, or (``--data``) reused when the
    folder's manifest says they were written with the same options."""
    wanted = {"purchases": purchases, "customers": customers, "files": files, "layout": layout}
    manifest = folder / "_manifest.json"  # Spark skips names starting with _
    if kept is not None and manifest.is_file():
        found = json.loads(manifest.read_text())
        if {key: found.get(key) for key in wanted} == wanted:
            print(f"reusing the files in {folder}", flush=True)
            return int(found["rows"])
        raise SystemExit(f"{folder} holds files written with other options: {found}")
    if kept is not None:
        folder.mkdir(parents=True, exist_ok=True)
    rows = _write_files(purchases, customers, files, folder, layout)
    if kept is not None:
        manifest.write_text(json.dumps({**wanted, "rows": rows}))
    return rows


if __name__ == "__main__":
    main()
