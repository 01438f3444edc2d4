"""dry-run's text on a terminal: rich tables, coloured unless NO_COLOR or ``--no-color``;
piped, the aligned columns of the golden files (issue 16)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from rewardrules.cli._tables import PLAIN, Block, Look, table_look
from rewardrules.cli.main import cli, render_table
from rewardrules.evaluation.fold import evaluate
from rewardrules.histories.read import read_history
from rewardrules.rulefiles.loader import load_program

EXAMPLES = Path(__file__).resolve().parent.parent / "rules" / "examples"
AIRLINE = [
    "dry-run",
    str(EXAMPLES / "airline-miles.yaml"),
    str(EXAMPLES / "airline-miles.history.json"),
]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
GAP = re.compile(r"\s{2,}")


class Stream:
    def __init__(self, terminal: bool) -> None:
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


TERMINAL, PIPE = Stream(terminal=True), Stream(terminal=False)


def cells(text: str) -> list[list[str]]:
    """Each non-blank line as its cells (runs of two or more spaces apart), no rule lines."""
    lines = [line.strip() for line in text.splitlines()]
    return [GAP.split(line) for line in lines if line and set(line) != {"─"}]


def test_piped_output_is_the_golden_aligned_columns_with_or_without_no_color() -> None:
    golden = (EXAMPLES / "airline-miles.expected.txt").read_text(encoding="utf-8")
    for options in ([], ["--no-color"]):
        result = CliRunner().invoke(cli, [*AIRLINE, *options])
        assert result.exit_code == 0
        assert result.output == golden


def test_color_draws_rich_tables_bold_headings_and_red_take_backs() -> None:
    result = CliRunner().invoke(cli, [*AIRLINE, "--color"])
    assert result.exit_code == 0
    assert "\x1b[1m" in result.output  # bold titles and column headings
    assert "\x1b[31m-4,034 miles\x1b[0m" in result.output  # mia's refund of bk-1004
    assert "\x1b[32m+1,445 miles\x1b[0m" in result.output  # her first fare
    assert "─" in result.output  # the heading's rule: a rich table, not aligned columns


def test_the_rich_tables_hold_the_same_cells_as_the_piped_text() -> None:
    program = load_program(EXAMPLES / "airline-miles.yaml")
    evaluation = evaluate(program, read_history(EXAMPLES / "airline-miles.history.json"))
    plain = render_table(program, evaluation)
    wide = render_table(program, evaluation, look=Look(rich=True, width=300))
    assert "\x1b[" not in wide
    assert cells(wide) == cells(plain)
    assert wide != plain


def test_a_terminal_gets_rich_tables_coloured_unless_no_color_says_otherwise() -> None:
    coloured = table_look(None, TERMINAL, {})
    assert (coloured.rich, coloured.color) == (True, True)
    no_color = table_look(None, TERMINAL, {"NO_COLOR": "1"})
    assert (no_color.rich, no_color.color) == (True, False)
    flag_off = table_look(False, TERMINAL, {})
    assert (flag_off.rich, flag_off.color) == (True, False)


def test_a_pipe_gets_the_plain_columns_unless_color_is_asked() -> None:
    assert table_look(None, PIPE, {}) is PLAIN
    assert table_look(False, PIPE, {}) is PLAIN
    forced = table_look(True, PIPE, {"NO_COLOR": "1"})
    assert (forced.rich, forced.color) == (True, True)


@pytest.mark.parametrize("color", [True, False])
def test_a_cell_is_text_never_rich_markup(color: bool) -> None:
    block = Block("Customer [bold]x[/bold]", [("event", "reason"), ("p1", "[red]10 of [b]20[/b]")])
    text = Look(rich=True, color=color, width=80).render("Club", [block])
    shown = ANSI.sub("", text)
    assert "Customer [bold]x[/bold]" in shown
    assert "[red]10 of [b]20[/b]" in shown


def test_a_customer_without_rewards_says_so_in_both_forms() -> None:
    block = Block(
        "Customer eli: stamps card 1/6",
        [("event", "rule", "reward", "reason")],
        empty="(no rewards)",
    )
    assert block.plain() == "Customer eli: stamps card 1/6\n  (no rewards)"
    rich = Look(rich=True, width=80).render("Club", [block])
    assert rich == "Club\n\nCustomer eli: stamps card 1/6\n  (no rewards)"


def test_the_summary_is_drawn_as_rich_tables_with_the_same_cells() -> None:
    runner = CliRunner()
    plain = runner.invoke(cli, [*AIRLINE, "--summary"])
    coloured = runner.invoke(cli, [*AIRLINE, "--summary", "--color"], env={"COLUMNS": "300"})
    assert (plain.exit_code, coloured.exit_code) == (0, 0)
    assert "\x1b[" not in plain.output
    assert "─" not in plain.output
    assert "\x1b[1mPer rule" in coloured.output
    assert cells(ANSI.sub("", coloured.output)) == cells(plain.output)
