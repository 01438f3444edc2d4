"""The command's exit statuses, each from a real process: 0, 1, 2, 130 and 141.

Each test starts ``python -m rewardrules`` the way a shell would, with its standard streams
set up for the case (a closed pipe, a full disk, a closed descriptor), because that is where
Click's defaults differ from what scripts expect.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = ROOT / "rules" / "examples" / "bakery-rewards.yaml"
COMMAND = (sys.executable, "-m", "rewardrules")

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="POSIX pipes, descriptors and signals"
)


def start(*arguments: str | Path, **streams: object) -> subprocess.Popen[bytes]:
    options: dict[str, object] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    options.update(streams)
    return subprocess.Popen(  # noqa: S603 -- our own interpreter and arguments
        [*COMMAND, *map(str, arguments)],
        **options,  # type: ignore[call-overload]
    )


def finish(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    _, err = process.communicate(timeout=600)
    return process.returncode, (err or b"").decode("utf-8")


def test_success_is_0_and_invalid_input_is_1_and_bad_usage_is_2(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(PROGRAM.read_text(encoding="utf-8").replace("USD", "usd"), "utf-8")
    assert finish(start("validate", PROGRAM))[0] == 0
    assert finish(start("validate", broken))[0] == 1
    code, err = finish(start("validate", "--no-such-option", PROGRAM))
    assert (code, err.splitlines()[-1]) == (2, "Error: No such option '--no-such-option'.")


def test_a_reader_that_goes_away_ends_the_command_quietly_with_141() -> None:
    # The pipe's reading end is closed before the command starts: its first write fails.
    reading, writing = os.pipe()
    os.close(reading)
    try:
        process = start("validate", *[PROGRAM] * 20, stdout=writing)
    finally:
        os.close(writing)
    assert finish(process) == (141, "")


def test_a_reader_of_standard_error_that_goes_away_ends_the_command_with_141(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("program: [", encoding="utf-8")
    reading, writing = os.pipe()
    os.close(reading)
    try:
        process = start("validate", broken, stderr=writing)
    finally:
        os.close(writing)
    out, _ = process.communicate(timeout=600)
    assert (process.returncode, out) == (141, b"")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_says_the_output_cannot_be_written_and_exits_1() -> None:
    with Path("/dev/full").open("wb") as full:
        process = start("validate", PROGRAM, stdout=full)
        assert finish(process) == (
            1,
            "cannot write the output: no space left on device\n",
        )


def test_output_that_cannot_be_written_at_all_exits_1(tmp_path: Path) -> None:
    read_only = tmp_path / "read-only.txt"
    read_only.write_text("", encoding="utf-8")
    with read_only.open("rb") as descriptor:
        process = start("validate", PROGRAM, stdout=descriptor)
        assert finish(process) == (1, "cannot write the output: bad file descriptor\n")


def test_a_closed_standard_output_exits_1_and_says_so() -> None:
    process = subprocess.Popen(  # noqa: S603 -- our own interpreter and arguments
        ["/bin/sh", "-c", 'exec "$@" >&-', "sh", *COMMAND, "validate", str(PROGRAM)],
        stderr=subprocess.PIPE,
    )
    assert finish(process) == (1, "cannot write the output: standard output is closed\n")


def _opened(pid: int, path: Path) -> bool:
    try:
        links = [os.readlink(entry) for entry in Path(f"/proc/{pid}/fd").iterdir()]
    except OSError:
        return False
    return str(path) in links


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_ctrl_c_during_a_dry_run_exits_130_and_prints_nothing(tmp_path: Path) -> None:
    history = tmp_path / "big.csv"
    rows = ["event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id"]
    rows += [
        f"e{i},purchase,c{i % 300},2026-01-{1 + i // 2000:02d}T10:{i % 60:02d}:00-06:00,"
        "loaf,bread,1,8.50,"
        for i in range(40_000)
    ]
    history.write_text("\n".join(rows) + "\n", encoding="utf-8")
    process = start("dry-run", PROGRAM, history)
    # Interrupt once the history is being read: the command is past its imports and busy.
    while not _opened(process.pid, history) and process.poll() is None:
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=600)
    assert (process.returncode, out, err) == (130, b"", b"")


IGNORED_CTRL_C = """
import gc, sys
import click
from rewardrules.cli._exit import InterruptibleGroup, run

class Finaliser:
    def __del__(self):  # where Python ignores an exception: Ctrl-C landing in a finaliser
        raise KeyboardInterrupt

@click.group(cls=InterruptibleGroup)
def group():
    pass

@group.command()
def busy():
    Finaliser()
    gc.collect()
    click.echo("results that must not be written")

run(group, ["busy"])
"""


def test_ctrl_c_that_python_ignores_in_a_finaliser_still_exits_130_and_prints_nothing() -> None:
    # A Ctrl-C whose KeyboardInterrupt is raised in a finaliser (the garbage collector's,
    # under load) is printed by Python as "Exception ignored in ..." and the command went
    # on to print its results and exit 0; it must end as any Ctrl-C does.
    process = subprocess.run(  # noqa: S603 -- our own interpreter and code
        [sys.executable, "-c", IGNORED_CTRL_C], capture_output=True, timeout=120, check=False
    )
    assert (process.returncode, process.stdout, process.stderr) == (130, b"", b"")
