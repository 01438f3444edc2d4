"""``rewardrules dry-run`` spares its process pandas' import, and only that one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

_PROBE = """
import sys
from rewardrules.cli._pandas import spare_pandas
spare_pandas(sys.argv[1:])
import pyarrow as pa
pa.array([1]); pa.scalar("")
print("pandas" in sys.modules)
import pandas
assert type(pa.table({"a": [1]}).to_pandas()).__name__ == "DataFrame"
assert pa.Table.from_pandas(pandas.DataFrame({"a": [1]})).num_rows == 1
assert pa.array(pandas.Series([1, 2])).type == pa.int64()
"""


def _probe(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    done = subprocess.run(  # noqa: S603 -- our own interpreter and arguments
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


@pytest.mark.parametrize(
    ("args", "imported"),
    [
        (("dry-run", "p.yaml", "h.parquet", "--summary"), "False"),
        (("dry-run", "p.yaml", "h.parquet", "--workers", "2"), "True"),
        (("dry-run", "p.yaml", "h.parquet", "--scheduler=tcp://host:8786"), "True"),
        (("report", "p.yaml", "h.parquet"), "True"),
        ((), "True"),
    ],
)
def test_pandas_spared_for_dry_run_only_and_still_usable(
    args: tuple[str, ...], imported: str
) -> None:
    assert _probe(*args) == imported
