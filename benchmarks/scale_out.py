"""Scale-out throughput: the batch engine in one process, then on a Dask LocalCluster.

    python benchmarks/scale_out.py --purchases 1000000 --files 20 --workers 2

A seeded synthetic coffee-club history (``synthetic.py``) is written as ``--files``
Parquet files (customers spread over all of them). It is evaluated by the batch engine in
this process (CPU seconds), then by ``rewardrules.dask`` on a LocalCluster of ``--workers``
single-threaded processes (wall seconds), whose shuffle alone is also timed. Peak memory
is each worker's maximum resident size. The totals must agree; the load average is
printed, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))

from coffee_club import coffee_club
from synthetic import generate_rows, to_table

from rewardrules.evaluation.batch import evaluate_table


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    """Write the files, time both ways, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--purchases", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=0, help="default: purchases / 100")
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--partitions", type=int, default=0, help="default: the files")
    arguments = parser.parse_args()
    customers = arguments.customers or max(1, arguments.purchases // 100)
    program = coffee_club()
    table = to_table(
        generate_rows(customers, arguments.purchases, 7), customers, arguments.purchases
    )
    folder = Path(tempfile.mkdtemp(prefix="scale-out-"))
    size = -(-table.num_rows // arguments.files)
    for number in range(arguments.files):
        pq.write_table(table.slice(number * size, size), folder / f"part-{number:02d}.parquet")
    print(f"{arguments.purchases:,} purchases, {table.num_rows:,} rows in {arguments.files} files")

    started = time.process_time()
    one = evaluate_table(program, table)
    single = time.process_time() - started
    print(
        f"one process, batch engine: {single:.1f} CPU s, "
        f"{arguments.purchases / single:,.0f} purchases/CPU s"
    )
    expected = one.totals
    del one

    import dask.dataframe as dd  # noqa: PLC0415 -- the dask extra
    from distributed import Client, LocalCluster, wait  # noqa: PLC0415

    from rewardrules.dask import _by_customer, evaluate  # noqa: PLC0415

    partitions = arguments.partitions or arguments.files
    with (
        LocalCluster(
            n_workers=arguments.workers,
            threads_per_worker=1,
            processes=True,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        history = dd.read_parquet(
            sorted(map(str, folder.glob("*.parquet"))), dtype_backend="pyarrow"
        )
        started = time.perf_counter()
        shuffled = client.persist(_by_customer(history, partitions))
        wait(shuffled)
        shuffle = time.perf_counter() - started
        del shuffled
        started = time.perf_counter()
        result = evaluate(program, history, engine="batch", partitions=partitions)
        wall = time.perf_counter() - started
        peaks = client.run(_peak_mib)
    print(f"shuffle alone: {shuffle:.1f} s")
    print(
        f"dask, {arguments.workers} workers, {partitions} partitions: {wall:.1f} s wall, "
        f"{arguments.purchases / wall:,.0f} purchases/s, {single / wall:.2f}x one process"
    )
    shown = ", ".join(f"{peak:,.0f} MiB" for peak in peaks.values())
    print(f"peak resident memory per worker: {shown}")
    if result.totals != expected:
        raise SystemExit("the totals differ from one process's")
    print(f"load average: {', '.join(f'{load:.1f}' for load in os.getloadavg())}")


if __name__ == "__main__":
    main()
