"""Benchmark: how long ``rewardrules --version`` and ``--help`` take (issue 11: < 150 ms).

Run::

    python benchmarks/cli_startup.py              # 20 runs of each
    python benchmarks/cli_startup.py --repeat 50

Each command is run as a new process, the way a shell or a pre-commit hook runs it, through
the interpreter running this script (``python -m rewardrules``). The bare interpreter
(``python -c pass``) is measured the same way, since it is part of every command's time and
no change to rewardrules can take it away. Runs alternate between the commands, and the
best and the median wall time of each are printed, with the load average at start and end,
since the machine is shared. ``python -X importtime -m rewardrules --version`` shows where
the rest goes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "rewardrules --version": [sys.executable, "-m", "rewardrules", "--version"],
    "rewardrules --help": [sys.executable, "-m", "rewardrules", "--help"],
    "rewardrules lint --help": [sys.executable, "-m", "rewardrules", "lint", "--help"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="runs of each command")
    arguments = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(arguments.repeat):
        for name, command in COMMANDS.items():
            started = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
            times[name].append(time.perf_counter() - started)
    for name, taken in times.items():
        best, median = min(taken) * 1000, statistics.median(taken) * 1000
        print(f"{name:26} best {best:6.0f} ms   median {median:6.0f} ms")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
