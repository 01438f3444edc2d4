"""Benchmark: the streamed dry-run of programs that read customer profiles.

Run::

    python benchmarks/profiles_stream.py            # 1,000,000 purchases of 10,000 customers
    python benchmarks/profiles_stream.py --quick    # a tenth of that

A birthday, sign-up or referral program given a customers file is streamed chunk of
customers by chunk, each chunk with its customers' profiles, a referral program in two
passes (docs/histories.md, "What streams, and what happens otherwise"). This script measures
what that costs against the plain stream of the same history in the same run:

* ``plain``: the coffee club, no customers file (the baseline: streaming at all);
* ``profiles``: the coffee club with a ``birthday`` and a ``signup_bonus`` rule, and a
  customers file of every customer of the history (birthdays spread over the year) and a
  fifth more customers without events;
* ``referrals``: the same with a ``referral`` rule and a fifth of the customers named as
  friends of others (two passes);
* ``one piece``: ``profiles`` evaluated as before the streaming of profiles, in one chunk
  (``REWARDRULES_CHUNK_ROWS`` above the history's rows): the memory the stream saves.

Each is ``rewardrules dry-run PROGRAM H.parquet --customers C.csv --engine batch --output
ledger.parquet --summary --quiet`` in a child process (``cli_replay.measure``: wall and CPU
seconds of its process tree, peak resident memory). ``profiles`` and ``one piece`` must
write the same ledger file, byte for byte, or no figure is printed.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml
from cli_replay import measure  # beside this script
from synthetic import history_table

HERE = Path(__file__).resolve().parent
COFFEE_CLUB = HERE.parent / "rules" / "examples" / "coffee-club.yaml"
GIFTS = [
    {"id": "birthday-treat", "kind": "birthday", "points": 50},
    {"id": "welcome", "kind": "signup_bonus", "points": 100},
]
REFERRAL = {
    "id": "bring-a-friend",
    "kind": "referral",
    "referrer": {"points": 500},
    "referred": {"points": 250},
    "min_paid": "5.00",
}


def write_program(folder: Path, name: str, rules: list[dict[str, object]]) -> Path:
    """The coffee club with ``rules`` added, as a rule file."""
    document = yaml.safe_load(COFFEE_CLUB.read_text(encoding="utf-8"))
    document["rules"] = [*document["rules"], *rules]
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def write_customers(folder: Path, ids: list[str], friends: bool) -> Path:
    """A customers file: every id of the history and a fifth more without events; with
    ``friends``, every fifth customer referred by another."""
    path = folder / ("friends.csv" if friends else "customers.csv")
    extra = [f"zz-{number:06d}" for number in range(len(ids) // 5)]
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["customer_id", "joined_at", "birthday", "referred_by"])
        for place, customer in enumerate([*ids, *extra]):
            referrer = ""
            if friends and place % 5 == 0 and place < len(ids):
                referrer = ids[(place * 7_919 + 1) % len(ids)]
                referrer = "" if referrer == customer else referrer
            birthday = f"{place % 12 + 1:02d}-{place % 28 + 1:02d}"
            writer.writerow([customer, "2024-01-01T09:00:00+00:00", birthday, referrer])
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Measure the four runs and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--purchases", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="a tenth of the purchases")
    parser.add_argument("--seed", type=int, default=2026)
    arguments = parser.parse_args(argv)
    purchases = arguments.purchases // 10 if arguments.quick else arguments.purchases
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="rewardrules-profiles-") as name:
        folder = Path(name)
        table = history_table(10_000, purchases, arguments.seed, sorted_by_customer=True)
        history = folder / "history.parquet"
        pq.write_table(table, history)
        rows = table.num_rows
        ids = sorted(str(each) for each in pc.unique(table["customer_id"]).to_pylist())
        del table
        customers = write_customers(folder, ids, friends=False)
        friends = write_customers(folder, ids, friends=True)
        gifts = write_program(folder, "gifts", GIFTS)
        referrals = write_program(folder, "referrals", [*GIFTS, REFERRAL])
        runs = [
            ("plain", COFFEE_CLUB, None, {}),
            ("profiles", gifts, customers, {}),
            ("referrals", referrals, friends, {}),
            ("one piece", gifts, customers, {"REWARDRULES_CHUNK_ROWS": str(rows + 1)}),
        ]
        figures = []
        ledgers = {}
        for label, program, given, setting in runs:
            ledger = folder / f"{label.replace(' ', '-')}.parquet"
            command = [sys.executable, "-m", "rewardrules", "dry-run", str(program)]
            command += [str(history), "--engine", "batch", "--output", str(ledger)]
            command += ["--summary", "--quiet", "--as-of", "2026-12-31"]
            if given is not None:
                command += ["--customers", str(given)]
            environment = {**os.environ, **setting}
            print(f"{label}...", file=sys.stderr, flush=True)
            figures.append((label, *measure(command, env=environment)))
            ledgers[label] = ledger.read_bytes()
        if ledgers["profiles"] != ledgers["one piece"]:
            sys.exit("the streamed ledger differs from the one-piece ledger")
    load_end = os.getloadavg()
    print(f"profiles streamed, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} CPUs")
    print(f"load average (1, 5, 15 min) at start: {', '.join(f'{x:.2f}' for x in load_start)}")
    print(f"  {purchases:,} purchases ({rows:,} rows) of 10,000 customers, Parquet sorted")
    print("  'profiles' and 'one piece' wrote the same ledger file, byte for byte")
    print()
    print("| run | wall s | CPU s | purchases/CPU s | CPU vs plain | peak MiB | memory vs plain |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    base = figures[0]
    for label, wall, cpu, peak in figures:
        print(
            f"| {label} | {wall:.2f} | {cpu:.2f} | {purchases / cpu:,.0f} | "
            f"{cpu / base[2]:.2f}x | {peak:,.0f} | {peak / base[3]:.2f}x |"
        )
    print()
    print(f"load average (1, 5, 15 min) at end: {', '.join(f'{x:.2f}' for x in load_end)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
