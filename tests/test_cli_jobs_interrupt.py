"""``dry-run --jobs 2`` in a real process: Ctrl-C, success, the files and processes it leaves.

The worker process of ``--jobs 2`` is spawned (``cli.dry_run_jobs``); Ctrl-C at a terminal
reaches the main process and the worker together. Whether it comes while the worker still
imports the engine or while chunks are flowing, the command ends with status 130 and
prints nothing (no traceback of the worker's own), leaves no ledger file, no spool folder
in ``/dev/shm`` and no process behind. A run that succeeds leaves no spool folder either.
The command's entry point starts the workers as soon as it reads ``--jobs``
(``cli._job_workers``), and stops them at once when the command does not use them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import synthetic  # noqa: E402 (from benchmarks/, put on the path above)

from rewardrules.cli import _job_workers  # noqa: E402 -- after the path, as synthetic

PROGRAM = ROOT / "rules" / "examples" / "coffee-club.yaml"
SHARED_MEMORY = Path("/dev/shm")  # noqa: S108 -- where the spool folders are made

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists() or not SHARED_MEMORY.is_dir(),
    reason="Linux: /proc and /dev/shm",
)


def _history(folder: Path) -> Path:
    history = folder / "history.parquet"
    pq.write_table(synthetic.history_table(1_000, 20_000, 3, sorted_by_customer=True), history)
    return history


def _start(history: Path, ledger: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "REWARDRULES_CHUNK_ROWS": "40"}
    command = [sys.executable, "-m", "rewardrules", "dry-run", str(PROGRAM), str(history)]
    command += ["--engine", "batch", "--output", str(ledger), "--summary", "--jobs", "2"]
    return subprocess.Popen(  # noqa: S603 -- our own interpreter and arguments
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,  # its own process group, as a terminal's job
    )


def _spools(pid: int) -> list[Path]:
    return sorted(SHARED_MEMORY.glob(f"rewardrules-jobs-{pid}-*"))


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _has_run(pid: int, seconds: float) -> bool:
    """Whether a process has used that much CPU time (it is past its imports)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") >= seconds


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def _wait_for(condition: object, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while not condition() and process.poll() is None:  # type: ignore[operator]
        assert time.monotonic() < deadline
        time.sleep(0.005)


@pytest.mark.parametrize("when", ["worker importing", "chunks flowing"])
def test_ctrl_c_exits_130_and_leaves_no_file_and_no_process(tmp_path: Path, when: str) -> None:
    history = _history(tmp_path)
    ledger = tmp_path / "ledger.parquet"
    process = _start(history, ledger)
    seen: set[int] = set()

    def ready() -> bool:
        found = _children(process.pid)
        seen.update(found)
        workers = [pid for pid in found if b"spawn_main" in _command_line(pid)]
        if not workers or not _spools(process.pid):
            return False
        if when == "worker importing":
            return True
        return (tmp_path / ".ledger.parquet.partial").exists() and _has_run(workers[0], 0.9)

    _wait_for(ready, process)
    assert process.poll() is None, "the run ended before it could be interrupted"
    seen.update(_children(process.pid))
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the whole job
    out, err = process.communicate(timeout=120)
    assert (process.returncode, out, err) == (130, b"", b"")
    assert not ledger.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["history.parquet"]
    assert _spools(process.pid) == []
    assert seen  # the worker (and the resource tracker) were started
    deadline = time.monotonic() + 30
    while not all(_gone(pid) for pid in seen):
        assert time.monotonic() < deadline, "a process of --jobs outlived the command"
        time.sleep(0.05)


def test_a_run_that_succeeds_leaves_no_spool_folder(tmp_path: Path) -> None:
    history = synthetic.history_table(60, 400, 12, sorted_by_customer=True)
    path = tmp_path / "history.parquet"
    pq.write_table(history, path)
    ledger = tmp_path / "ledger.parquet"
    process = _start(path, ledger)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert b"entries written" in out
    assert ledger.exists()
    assert _spools(process.pid) == []


@pytest.mark.parametrize(
    ("args", "jobs"),
    [
        (("dry-run", "p.yaml", "h.parquet", "--jobs", "3"), 3),
        (("dry-run", "p.yaml", "h.parquet", "--jobs=2", "--summary"), 2),
        (("dry-run", "p.yaml", "h.parquet"), 1),
        (("dry-run", "p.yaml", "h.parquet", "--jobs", "two"), 1),
        (("dry-run", "p.yaml", "h.parquet", "--jobs"), 1),
        (("dry-run", "p.yaml", "h.parquet", "--jobs", "2", "--help"), 1),
        (("dry-run", "p.yaml", "h.parquet", "--jobs", "2", "--workers", "2"), 1),
        (("report", "p.yaml", "h.parquet", "--jobs", "2"), 1),
    ],
)
def test_the_workers_are_started_early_for_dry_run_jobs_only(
    args: tuple[str, ...], jobs: int
) -> None:
    assert _job_workers._jobs(args) == jobs


@pytest.mark.parametrize("case", ["few chunks", "usage error"])
def test_workers_started_early_and_not_used_are_stopped_at_once(tmp_path: Path, case: str) -> None:
    # Started before the command knows it will not use them: a history of two chunks is
    # evaluated in the main process, a usage error ends the command; either way the
    # workers are stopped (not waited for while they import) and none is left behind.
    history = tmp_path / "history.parquet"
    pq.write_table(synthetic.history_table(20, 50, 5, sorted_by_customer=True), history)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, "-m", "rewardrules", "dry-run", str(PROGRAM), str(history)]
    command += ["--summary", "--jobs", "2"]
    if case == "few chunks":
        command += ["--engine", "batch"]  # else refused: --jobs needs the batch engine
    process = subprocess.Popen(  # noqa: S603 -- our own interpreter and arguments
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    seen: set[int] = set()
    while process.poll() is None:
        seen.update(_children(process.pid))
        time.sleep(0.005)
    _, err = process.communicate()
    assert process.returncode == (0 if case == "few chunks" else 2), err
    assert seen  # the worker (and the resource tracker) were started
    assert _spools(process.pid) == []
    deadline = time.monotonic() + 30
    while not all(_gone(pid) for pid in seen):
        assert time.monotonic() < deadline, "a process of --jobs outlived the command"
        time.sleep(0.05)
