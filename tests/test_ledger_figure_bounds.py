"""A ledger entry past 64-bit integers: the reference engine computes it, but a ledger's
columns (``--output``, ``--summary``, ``report``) hold int64; such an entry is refused by
name (event, rule, figure, what to do), never an internal error, and no file is left."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from rewardrules.cli.main import cli

LARGEST = 2**63 - 1

PROGRAM = """\
program: big
name: Big
currency: USD
timezone: UTC
points: {{name: points, value: "0.01"}}
rules:
  - id: pts
    kind: points_per_spend
    points: {points}
    per: 1
"""

HISTORY = """\
event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id
p1,purchase,c1,2026-01-01T10:00:00Z,a,x,1,1.00,
"""


def _files(folder: Path, points: int) -> tuple[str, str]:
    program = folder / "big.yaml"
    program.write_text(PROGRAM.format(points=points))
    history = folder / "big.csv"
    history.write_text(HISTORY)
    return str(program), str(history)


COMMANDS = [
    pytest.param(["dry-run", "{program}", "{history}", "--summary"], id="summary"),
    pytest.param(["dry-run", "{program}", "{history}", "--output", "{out}.parquet"], id="parquet"),
    pytest.param(["dry-run", "{program}", "{history}", "--output", "{out}.csv"], id="csv"),
    pytest.param(["dry-run", "{program}", "{history}", "--output", "{out}.jsonl"], id="jsonl"),
    pytest.param(["report", "{program}", "{history}"], id="report"),
]


@pytest.mark.parametrize("command", COMMANDS)
def test_points_past_int64_are_refused_by_name_and_leave_no_file(
    tmp_path: Path, command: list[str]
) -> None:
    program, history = _files(tmp_path, LARGEST + 1)
    out = str(tmp_path / "ledger")
    arguments = [part.format(program=program, history=history, out=out) for part in command]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output
    assert "event p1: rule 'pts' gives customer 'c1' a points entry of" in result.output
    assert f"{LARGEST + 1:,} points" in result.output
    assert f"at most {LARGEST:,}" in result.output
    assert "'rewardrules dry-run --format json'" in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["big.csv", "big.yaml"]


def test_the_largest_int64_points_are_written_and_read_back(tmp_path: Path) -> None:
    program, history = _files(tmp_path, LARGEST)
    out = tmp_path / "ledger.parquet"
    result = CliRunner().invoke(cli, ["dry-run", program, history, "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert pq.read_table(out).column("points").to_pylist() == [LARGEST]


def test_json_results_keep_points_past_int64_exactly(tmp_path: Path) -> None:
    program, history = _files(tmp_path, LARGEST + 1)
    result = CliRunner().invoke(cli, ["dry-run", program, history, "--format", "json"])
    assert result.exit_code == 0, result.output
    (customer,) = json.loads(result.output)["customers"]
    assert customer["points"] == LARGEST + 1
