"""Dry-run's text tables: aligned columns when piped, rich tables on a terminal.

A dry-run's text is a heading and blocks (one per customer, then the totals), each a title
and rows. Piped or written to a file they are aligned columns, the form the golden files
and scripts read; on a terminal (or with ``--color``) they are drawn as rich tables as
wide as the terminal, long reasons wrapped, and coloured unless ``NO_COLOR`` or
``--no-color`` says otherwise (``cli._style``): bold titles and headings, points taken
back in red, points earned in green.
"""

from __future__ import annotations

import io
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rewardrules.cli._style import Terminal, wants_color

if TYPE_CHECKING:  # rich is imported when a rich table is drawn, not by every command
    from rich.table import Table
    from rich.text import Text


@dataclass(frozen=True)
class Block:
    """A titled table: ``rows`` of cells, the first naming the columns when ``header``;
    ``empty`` is shown under the title when there are no rows; with ``figures``, the
    columns after the first are figures, aligned right."""

    title: str
    rows: Sequence[Sequence[str]]
    header: bool = True
    empty: str = ""
    figures: bool = False

    @property
    def body(self) -> Sequence[Sequence[str]]:
        """The rows below the header."""
        return self.rows[1:] if self.header else self.rows

    def plain(self) -> str:
        """The block as aligned columns, two spaces in: the piped form."""
        if not self.body:
            return self.title + (f"\n  {self.empty}" if self.empty else "")
        aligned = figure_columns(self.rows) if self.figures else columns(self.rows)
        return f"{self.title}\n{aligned}"

    def __str__(self) -> str:
        return self.plain()


@dataclass(frozen=True)
class Look:
    """How the tables are drawn: ``rich`` tables or aligned columns, ``color`` or not,
    ``width`` columns wide (rich only)."""

    rich: bool = False
    color: bool = False
    width: int = 100

    def render(self, heading: str, blocks: Sequence[Block]) -> str:
        """The heading and the blocks, a blank line between each."""
        if not self.rich:
            return "\n\n".join([heading, *(block.plain() for block in blocks)])
        from rich.console import Console  # noqa: PLC0415 -- on a terminal only
        from rich.text import Text  # noqa: PLC0415

        console = Console(
            file=io.StringIO(),
            width=self.width,
            color_system="standard" if self.color else None,
            no_color=not self.color,
            force_terminal=self.color,
            highlight=False,
            record=True,
        )
        console.print(Text(heading, style="bold"))
        for block in blocks:
            console.print()
            console.print(self._table(block))
        text = console.export_text(styles=self.color)
        return "\n".join(line.rstrip() for line in text.splitlines())

    def _table(self, block: Block) -> Table | Text:
        from rich import box  # noqa: PLC0415 -- as in render
        from rich.table import Table  # noqa: PLC0415
        from rich.text import Text  # noqa: PLC0415

        if not block.body:
            return Text(block.plain(), style="bold" if not block.empty else "")
        table = Table(
            title=Text(block.title, style="bold"),
            title_justify="left",
            show_header=block.header,
            header_style="bold",
            box=box.SIMPLE_HEAD if block.header else None,
            show_edge=False,
            padding=(0, 1),
        )
        for place, name in enumerate(block.rows[0]):
            right = block.figures and place > 0
            header = name if block.header else ""
            table.add_column(header, justify="right" if right else "left", overflow="fold")
        for row in block.body:
            table.add_row(*(self._cell(text) for text in row))
        return table

    def _cell(self, text: str) -> Text:
        """A cell as text, never markup: a reason may hold ``[``."""
        from rich.text import Text  # noqa: PLC0415 -- as in render

        if self.color:
            for start, style in (("-", "red"), ("+", "green")):
                if text.startswith(start) and len(text) > 1 and not text[1].isspace():
                    return Text(text, style=style)
        return Text(text)


PLAIN = Look()
"""Aligned columns, no colour: the piped form."""


def table_look(
    flag: bool | None, stream: Terminal | None = None, environment: Mapping[str, str] | None = None
) -> Look:
    """Rich tables on a terminal or with ``--color``; coloured as ``cli._style`` says."""
    shown: Terminal = sys.stdout if stream is None else stream
    color = wants_color(flag, False, shown, environment)
    if not (color or shown.isatty()):
        return PLAIN
    return Look(rich=True, color=color, width=shutil.get_terminal_size((100, 24)).columns)


def figure_columns(rows: Sequence[Sequence[str]]) -> str:
    """A left-aligned first column, then right-aligned figures, two spaces apart."""
    widths = [max(len(row[index]) for row in rows) for index in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
        lines.append(("  " + "  ".join(cells)).rstrip())
    return "\n".join(lines)


def columns(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns, two spaces apart; the last one is not padded."""
    widths = [max(len(row[index]) for row in rows) for index in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)]
        lines.append(("  " + "  ".join([*cells, row[-1]])).rstrip())
    return "\n".join(lines)
