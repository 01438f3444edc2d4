"""Colour in a terminal for ``report`` and ``compare`` tables: NO_COLOR, ``--color`` and
``--no-color`` (https://no-color.org)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from rewardrules.cli._style import wants_color
from rewardrules.cli.main import cli

ROOT = Path(__file__).parent.parent
CARDS = ROOT / "rules" / "compare"
COMPARE = [
    "compare",
    str(CARDS / "coffee-card-12th.yaml"),
    str(CARDS / "coffee-card-10th.yaml"),
    str(CARDS / "coffee-card.history.csv"),
]
REPORT = ["report", str(CARDS / "coffee-card-12th.yaml"), str(CARDS / "coffee-card.history.csv")]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Stream:
    def __init__(self, terminal: bool) -> None:
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


@pytest.mark.parametrize("arguments", [COMPARE, REPORT], ids=["compare", "report"])
def test_color_keeps_the_text_and_adds_only_styles(arguments: list[str]) -> None:
    runner = CliRunner()
    plain = runner.invoke(cli, [*arguments, "--no-color"])
    coloured = runner.invoke(cli, [*arguments, "--color"])
    assert (plain.exit_code, coloured.exit_code) == (0, 0)
    assert "\x1b[" not in plain.output
    assert "\x1b[1m" in coloured.output  # bold headers
    stripped = ANSI.sub("", coloured.output)
    assert [line.rstrip() for line in stripped.splitlines()] == plain.output.splitlines()


def test_a_decrease_is_red_in_colour() -> None:
    result = CliRunner().invoke(cli, [*COMPARE, "--color"])
    assert "\x1b[31m -1.80\x1b[0m" in result.output  # March: the free coffees came sooner
    assert "\x1b[31m +6.80" not in result.output


def test_without_a_terminal_the_tables_are_plain_by_default() -> None:
    result = CliRunner().invoke(cli, COMPARE)
    assert "\x1b[" not in result.output


def test_a_file_is_plain_unless_color_is_asked(tmp_path: Path) -> None:
    plain, coloured = tmp_path / "plain.txt", tmp_path / "coloured.txt"
    CliRunner().invoke(cli, [*COMPARE, "--output", str(plain)])
    CliRunner().invoke(cli, [*COMPARE, "--output", str(coloured), "--color"])
    assert "\x1b[" not in plain.read_text(encoding="utf-8")
    assert "\x1b[31m" in coloured.read_text(encoding="utf-8")


def test_a_terminal_gets_colour_unless_no_color_is_set() -> None:
    terminal = Stream(terminal=True)
    assert wants_color(None, to_file=False, stream=terminal, environment={}) is True
    assert wants_color(None, to_file=False, stream=terminal, environment={"NO_COLOR": ""}) is True
    assert wants_color(None, to_file=False, stream=terminal, environment={"NO_COLOR": "1"}) is False
    assert wants_color(None, to_file=True, stream=terminal, environment={}) is False
    assert wants_color(None, to_file=False, stream=Stream(terminal=False), environment={}) is False


def test_the_flags_decide_over_the_terminal_and_no_color() -> None:
    pipe = Stream(terminal=False)
    assert wants_color(True, to_file=True, stream=pipe, environment={"NO_COLOR": "1"}) is True
    assert wants_color(False, to_file=False, stream=Stream(terminal=True), environment={}) is False
