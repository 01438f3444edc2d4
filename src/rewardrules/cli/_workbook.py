"""``dry-run --format xlsx``: where the workbook goes, and the combinations refused.

The workbook is written to ``--output FILE.xlsx``, or to standard output when that is not a
terminal (``> results.xlsx``); bytes are never sent to a terminal. ``tools.export_xlsx``
builds it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

import click

from rewardrules.cli._support import guarded
from rewardrules.tools.export import SheetStyle

if TYPE_CHECKING:
    from rewardrules.cli.dry_run_output import EventDates
    from rewardrules.engine.ledger import Evaluation

WORKBOOK_SUFFIX: Final = ".xlsx"


def is_workbook(output: object) -> bool:
    """Whether ``--output`` names an Excel workbook (``.xlsx``)."""
    return isinstance(output, Path) and output.suffix.lower() == WORKBOOK_SUFFIX


def check_workbook_options(output: object, summary: bool, output_format: str) -> None:
    """Refuse what cannot make a workbook, before any file is read.

    Raises:
        click.UsageError: ``--output FILE.xlsx`` without ``--format xlsx``; ``--format
            xlsx`` with ``--summary``, with another ``--output``, or with neither
            ``--output`` nor a redirect (a terminal).
    """
    if output_format != "xlsx":
        if is_workbook(output):
            raise click.UsageError(
                f"{output} is a workbook: add --format xlsx (or name a .parquet, .csv or "
                ".jsonl ledger file)"
            )
        return
    if summary:
        raise click.UsageError(
            "--format xlsx writes the ledger and the totals; it cannot go with --summary"
        )
    if output is not None and not is_workbook(output):
        raise click.UsageError(f"--format xlsx writes a workbook: name it FILE.xlsx (got {output})")
    if output is None and stdout_is_terminal():
        raise click.UsageError(
            "--format xlsx writes a workbook, not text: give --output results.xlsx "
            "(or redirect: > results.xlsx)"
        )


def stdout_is_terminal() -> bool:
    """Whether standard output is a terminal, where a workbook's bytes make no sense."""
    return sys.stdout.isatty()


def write_sheet(
    dates: EventDates,
    evaluation: Evaluation,
    output_format: str,
    style: SheetStyle,
    output: object,
) -> None:
    """Print ``--format csv``, or write ``--format xlsx`` to ``--output`` or standard output."""
    if output_format == "csv":
        click.echo(dates.csv(evaluation, style), nl=False)
        return
    workbook = guarded(lambda: dates.xlsx(evaluation))
    if isinstance(output, Path):
        try:
            output.write_bytes(workbook)
        except OSError as error:
            click.echo(f"{output}: cannot write the workbook: {error.strerror}", err=True)
            raise SystemExit(1) from None
        return
    sys.stdout.flush()
    sys.stdout.buffer.write(workbook)
    sys.stdout.buffer.flush()
