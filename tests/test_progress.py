"""The dry-run's progress bar: on a terminal for a large history, and nowhere else.

The command runs in a child process whose standard error is a pseudo-terminal (the ``pty``
module) or a pipe. A large history would make a slow test, so the child lowers
``LARGE_BYTES`` before it runs the command; one test keeps the real threshold to show that a
small history shows nothing even on a terminal.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from rewardrules.cli._progress import count_rows, is_large
from test_examples import EXAMPLES

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")

PROGRAM = EXAMPLES / "coffee-club.yaml"
HISTORY = EXAMPLES / "coffee-club.history.csv"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")

CHILD = """\
import sys
import rewardrules.cli._progress as progress
if sys.argv[1] == "small-threshold":
    progress.LARGE_BYTES = 1
from rewardrules.cli.main import main
main(sys.argv[2:])
"""


def run_child(
    *arguments: str, threshold: str = "small-threshold", terminal: bool
) -> tuple[int, str, str]:
    """Run the command; return its exit status, standard output and standard error."""
    import pty  # noqa: PLC0415 -- POSIX only; the module is skipped elsewhere

    command = [sys.executable, "-c", CHILD, threshold, *arguments]
    environment = {**os.environ, "TERM": "xterm", "COLUMNS": "160"}
    environment.pop("NO_COLOR", None)
    if not terminal:
        done = subprocess.run(  # noqa: S603 -- our own interpreter and arguments
            command, capture_output=True, env=environment, check=False
        )
        return done.returncode, done.stdout.decode(), done.stderr.decode()
    leader, follower = pty.openpty()
    # Standard output goes to a file: a full pipe would stop the child while the terminal
    # is being read.
    with (
        tempfile.TemporaryFile() as output,
        subprocess.Popen(  # noqa: S603 -- our own interpreter and arguments
            command, stdout=output, stderr=follower, env=environment
        ) as child,
    ):
        os.close(follower)
        shown = bytearray()
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal: Linux reports EIO
                break
            if not chunk:
                break
            shown += chunk
        status = child.wait()
        output.seek(0)
        stdout = output.read().decode()
    os.close(leader)
    return status, stdout, ANSI.sub("", shown.decode(errors="replace"))


def dry_run(*options: str) -> list[str]:
    return ["dry-run", str(PROGRAM), str(HISTORY), *options]


def test_a_large_history_on_a_terminal_shows_rows_customers_rate_and_time_left() -> None:
    rows = count_rows(HISTORY)
    status, stdout, stderr = run_child(*dry_run("--summary"), terminal=True)

    assert status == 0, stderr
    assert "Program totals" in stdout
    assert rows is not None
    assert rows > 0
    assert re.search(rf"\b{rows}/{rows}\s+rows,", stderr)
    assert re.search(r"\b3/3\s+customers,", stderr)
    assert "rows/s" in stderr
    assert "customers/s" in stderr
    assert "done" in stderr


def test_the_streamed_batch_run_moves_rows_and_customers_together() -> None:
    rows = count_rows(HISTORY)
    options = ("--summary", "--engine", "batch")
    status, stdout, stderr = run_child(*dry_run(*options), terminal=True)

    assert status == 0, stderr
    assert "Program totals" in stdout
    assert re.search(rf"\b{rows}/{rows}\s+rows,", stderr)
    assert re.search(r"done\s.*\b3/3\s+customers,", stderr)


def test_the_bar_is_shown_for_the_ordinary_table_too() -> None:
    status, stdout, stderr = run_child(*dry_run(), terminal=True)

    assert status == 0, stderr
    assert "Customer" in stdout
    assert "rows/s" in stderr
    assert "done" in stderr


def test_quiet_shows_nothing_on_the_terminal() -> None:
    status, stdout, stderr = run_child(*dry_run("--summary", "--quiet"), terminal=True)

    assert status == 0
    assert "Program totals" in stdout
    assert stderr == ""


def test_a_pipe_gets_nothing() -> None:
    status, stdout, stderr = run_child(*dry_run("--summary"), terminal=False)

    assert status == 0
    assert "Program totals" in stdout
    assert stderr == ""


def test_a_small_history_shows_nothing_even_on_a_terminal() -> None:
    assert not is_large(HISTORY)
    status, _, stderr = run_child(*dry_run(), threshold="real-threshold", terminal=True)

    assert status == 0
    assert stderr == ""


def test_an_error_takes_the_bar_down_before_the_message(tmp_path: Path) -> None:
    broken = tmp_path / "history.csv"
    lines = HISTORY.read_text(encoding="utf-8").splitlines()
    broken.write_text("\n".join([*lines, lines[-1].replace("T", "X", 1)]) + "\n")
    status, _, stderr = run_child("dry-run", str(PROGRAM), str(broken), terminal=True)

    assert status == 1
    message = stderr.strip().splitlines()[-1]
    assert message.startswith(f"{broken}:{len(lines) + 1}:")


def test_rows_are_counted_as_the_file_has_them(tmp_path: Path) -> None:
    csv_file = tmp_path / "h.csv"
    csv_file.write_text("event_id,type\np1,purchase\np1,purchase\np2,purchase")
    jsonl_file = tmp_path / "h.jsonl"
    jsonl_file.write_text('{"id": 1}\n{"id": 2}\n')
    json_file = tmp_path / "h.json"
    json_file.write_text("[]")

    assert count_rows(csv_file) == 3
    assert count_rows(jsonl_file) == 2
    assert count_rows(json_file) is None
