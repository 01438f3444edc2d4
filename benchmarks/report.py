"""Benchmark: ``report`` against the ``dry-run`` evaluation it builds on (issue 14).

Run::

    python benchmarks/report.py                      # 1,000,000 purchases, 10,000 customers
    python benchmarks/report.py --purchases 100000   # quicker
    python benchmarks/report.py --engine reference   # the reference fold (slow)

A seeded synthetic history (``synthetic.py``; 1% refunded, and with
``--program lifecycle`` redemptions on ``lifecycle-program.yaml``) is written as Parquet
to a temporary folder. Each measurement reads it and evaluates it: with the batch engine
(the default) ``dry-run`` is ``evaluate(program, read_history_table(path),
engine="batch")`` and ``report`` is ``report(program, read_history_table(path),
engine="batch")`` (the same evaluation, then the report's sums over the ledger's columns);
with ``--engine reference`` both read events with ``read_history``. They alternate,
``--repeat`` times each, and the best CPU time of each is kept; the load average is
printed at start and end, since the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from rewardrules import evaluate, load_program, read_history, report
from rewardrules.histories.columns import read_history_table

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthetic

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = {
    "coffee": ROOT / "rules" / "examples" / "coffee-club.yaml",
    "lifecycle": ROOT / "benchmarks" / "lifecycle-program.yaml",
}


def main() -> None:
    """Measure and print the ratio report / dry-run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--purchases", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--program", choices=sorted(PROGRAMS), default="coffee")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--engine", choices=("batch", "reference"), default="batch")
    arguments = parser.parse_args()
    program = load_program(PROGRAMS[arguments.program])
    print(f"load average at start: {os.getloadavg()}")
    redemptions = 0.05 if arguments.program == "lifecycle" else 0.0
    rows = synthetic.generate_rows(
        arguments.customers, arguments.purchases, arguments.seed, redemption_share=redemptions
    )
    table = synthetic.to_table(rows, arguments.customers, arguments.purchases)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.parquet"
        pq.write_table(table, path)
        best = {"dry-run": float("inf"), "report": float("inf")}
        for _ in range(arguments.repeat):
            for name in ("dry-run", "report"):
                start = time.process_time()
                history = (
                    read_history_table(path) if arguments.engine == "batch" else read_history(path)
                )
                if name == "dry-run":
                    evaluate(program, history, engine=arguments.engine)
                else:
                    report(program, history, engine=arguments.engine)
                best[name] = min(best[name], time.process_time() - start)
    print(
        f"program {arguments.program}, engine {arguments.engine}, "
        f"{arguments.purchases:,} purchases, "
        f"{arguments.customers:,} customers, {len(table):,} rows"
    )
    for name, seconds in best.items():
        print(f"{name:8} {seconds:8.2f} CPU s (best of {arguments.repeat})")
    print(f"report / dry-run: {best['report'] / best['dry-run']:.3f}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
