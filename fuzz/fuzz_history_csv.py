"""Fuzz the CSV history reader: any bytes give events or a HistoryError, nothing else.

The events read are also evaluated; ``fuzz/_history_harness.py`` says how.

    python fuzz/fuzz_history_csv.py -max_total_time=300
    python fuzz/fuzz_history_csv.py --replay
"""

from __future__ import annotations

from _fuzzing import instrumented, main

with instrumented(__name__):
    from _history_harness import history_harness

TARGET = "history_csv"
TestOneInput = history_harness("csv")

if __name__ == "__main__":
    main(TARGET, TestOneInput)
