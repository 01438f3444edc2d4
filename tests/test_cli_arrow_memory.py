"""``rewardrules dry-run`` has Arrow allocate from jemalloc, and only that command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rewardrules.cli._arrow_memory import POOL_VARIABLE

_PROBE = """
import sys
from rewardrules.cli._arrow_memory import lean_memory
lean_memory(sys.argv[1:])
import pyarrow as pa
pa.array([1, 2, 3])
print(pa.default_memory_pool().backend_name)
"""


def _probe(*args: str, pool: str | None = None) -> str:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    env.pop(POOL_VARIABLE, None)
    if pool is not None:
        env[POOL_VARIABLE] = pool
    done = subprocess.run(  # noqa: S603 -- our own interpreter and arguments
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, env=env, check=True
    )
    assert done.stderr == ""  # no warning about a pool Arrow lacks
    return done.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="jemalloc: Linux wheels")
@pytest.mark.parametrize(
    ("args", "pool"),
    [
        (("dry-run", "p.yaml", "h.parquet", "--summary", "--jobs", "2"), "jemalloc"),
        (("report", "p.yaml", "h.parquet"), "mimalloc"),
        ((), "mimalloc"),
    ],
)
def test_dry_run_allocates_from_jemalloc(args: tuple[str, ...], pool: str) -> None:
    assert _probe(*args) == pool


def test_a_pool_chosen_in_the_environment_is_kept() -> None:
    assert _probe("dry-run", "p.yaml", "h.parquet", pool="system") == "system"
