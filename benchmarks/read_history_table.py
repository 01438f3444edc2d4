"""How fast ``read_history_table`` reads a large history: CSV, Parquet of text, typed Parquet.

Writes a seeded history (purchases of one to three lines at three UTC offsets, 3% whole
refunds) as CSV into a folder, reads it into a table once to write the two Parquet files,
then times ``read_history_table`` on each file and prints rows per second of wall and of
CPU time (CPU time counts every thread; on a busy machine wall time shows the wait), with
the load average. It checks that the three tables agree.

    python benchmarks/read_history_table.py                       # 1,000,000 rows
    python benchmarks/read_history_table.py --rows 100000 --folder /tmp/h --repeat 3
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from rewardrules.histories.columns import read_history_table

SKUS = [("latte", "coffee", "4.50"), ("bagel", "food", "2.25"), ("beans", "coffee", "12.00")]
OFFSETS = ["Z", "+01:00", "-05:00"]
HEADER = "event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id,store\n"


def write_csv(path: Path, rows: int, seed: int) -> None:
    """A history of about ``rows`` rows; every event id and line of a purchase distinct."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    purchases: list[tuple[str, str]] = []
    written = 0
    number = 0
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        while written < rows:
            number += 1
            at = (start + timedelta(seconds=number * 7)).strftime("%Y-%m-%dT%H:%M:%S")
            at += rng.choice(OFFSETS)
            if purchases and rng.random() < 0.03:
                purchase, customer = purchases[rng.randrange(len(purchases))]
                out.write(f"r{number},refund,{customer},{at},,,,,{purchase},\n")
                written += 1
                continue
            customer, store = f"c{rng.randrange(10_000)}", f"store{rng.randrange(20)}"
            for sku, category, price in rng.sample(SKUS, rng.choice((1, 1, 2, 3))):
                quantity = rng.randint(1, 3)
                out.write(
                    f"p{number},purchase,{customer},{at},{sku},{category},{quantity},{price},,"
                    f"{store}\n"
                )
                written += 1
            purchases.append((f"p{number}", customer))


def timed(path: Path, repeat: int) -> tuple[pa.Table, float, float]:
    """The table, and the fastest wall and CPU times of ``repeat`` reads."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        table = read_history_table(path)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return table, min(walls), min(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--repeat", type=int, default=1, help="keep the fastest of R reads")
    default = Path(tempfile.gettempdir()) / "rewardrules-read"
    parser.add_argument("--folder", type=Path, default=default)
    options = parser.parse_args()
    options.folder.mkdir(parents=True, exist_ok=True)
    csv_path = options.folder / f"history-{options.rows}.csv"
    if not csv_path.exists():
        write_csv(csv_path, options.rows, options.seed)
    table = read_history_table(csv_path)
    text_path, typed_path = options.folder / "text.parquet", options.folder / "typed.parquet"
    text_columns = {name: pa.string() for name in HEADER.strip().split(",")}
    raw = pa_csv.read_csv(
        csv_path, convert_options=pa_csv.ConvertOptions(column_types=text_columns)
    )
    pq.write_table(raw, text_path)
    pq.write_table(table.drop_columns(["line", "utc_offset"]), typed_path)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    tables = []
    for path in (csv_path, text_path, typed_path):
        read, wall, cpu = timed(path, options.repeat)
        tables.append(read)
        print(
            f"{path.name:>24}: {read.num_rows:,} rows  "
            f"wall {wall:5.2f} s ({read.num_rows / wall:>12,.0f}/s)  "
            f"cpu {cpu:5.2f} s ({read.num_rows / cpu:>12,.0f}/s)"
        )
    columns = ["event_id", "customer_id", "at", "sku", "quantity", "unit_price", "purchase_id"]
    agree = all(t.select(columns).equals(tables[0].select(columns)) for t in tables)
    print("tables agree" if agree else "TABLES DIFFER")
    if not agree:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
