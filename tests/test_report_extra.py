"""``--format html`` without the ``report`` extra: a message naming it, not a traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import rewardrules.tools
from rewardrules.cli.main import cli

EXAMPLES = Path(__file__).resolve().parents[1] / "rules" / "examples"
PROGRAM = str(EXAMPLES / "coffee-club.yaml")
HISTORY = str(EXAMPLES / "coffee-club.history.csv")


@pytest.fixture
def without_plotly(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if plotly were not installed: importing it raises ImportError."""
    for name in list(sys.modules):
        if name == "plotly" or name.startswith("plotly."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.delitem(sys.modules, "rewardrules.tools.report_html", raising=False)
    # An earlier import left the module on its package too, where `from ... import` looks.
    monkeypatch.delattr(rewardrules.tools, "report_html", raising=False)
    for name in ("plotly", "plotly.graph_objects", "plotly.io"):
        monkeypatch.setitem(sys.modules, name, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "arguments",
    [
        ["report", PROGRAM, HISTORY, "--format", "html"],
        ["compare", PROGRAM, PROGRAM, HISTORY, "--format", "html"],
    ],
)
def test_html_without_the_report_extra_names_the_extra_and_exits_1(
    without_plotly: None, arguments: list[str], tmp_path: Path
) -> None:
    output = tmp_path / "page.html"
    result = CliRunner().invoke(cli, [*arguments, "--output", str(output)])
    assert result.exit_code == 1
    assert "pip install 'rewardrules[report]'" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert not output.exists()


def test_the_other_formats_work_without_the_report_extra(without_plotly: None) -> None:
    result = CliRunner().invoke(cli, ["report", PROGRAM, HISTORY, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert '"by_rule"' in result.stdout
