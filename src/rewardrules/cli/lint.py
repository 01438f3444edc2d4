"""``rewardrules lint``: print the warnings of :mod:`rewardrules.tools.lint.warnings`; rendering
only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import click

from rewardrules.cli._reports import (
    FileReport,
    Format,
    format_option,
    output_option,
    rule_files,
    write_reports,
)
from rewardrules.cli._support import HistoryReading, history_options, refuse_misread_time
from rewardrules.errors import RewardRulesError
from rewardrules.rulefiles.loader import load_program_with_map
from rewardrules.text import counted
from rewardrules.tools.lint.warnings import SeenInHistory, lint_program


def _parse_date(
    _context: click.Context, _parameter: click.Parameter, value: str | None
) -> date | None:
    if value is None:
        return None
    refuse_misread_time(value, "a date as YYYY-MM-DD (2026-03-31)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date written YYYY-MM-DD") from None


@click.command()
@click.argument(
    "files", metavar="PROGRAM...", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@click.option(
    "--history",
    "history_file",
    type=click.Path(path_type=Path),
    help="A history (CSV, JSON Lines or JSON): warn about categories and skus it never shows.",
)
@click.option(
    "--as-of",
    callback=_parse_date,
    metavar="DATE",
    help="Warn about rules that are over by this date (YYYY-MM-DD).",
)
@click.option("--strict", is_flag=True, help="Exit with status 1 when there are warnings.")
@format_option
@output_option
@history_options
def lint(
    files: Sequence[Path],
    history_file: Path | None,
    as_of: date | None,
    strict: bool,
    output_format: Format,
    output_file: Path | None,
    reading: HistoryReading,
) -> None:
    """Warn about what is valid in PROGRAM files but probably wrong.

    A directory stands for its YAML files, recursively. Prints each warning as
    file:line:col: path: warning: message, and "OK, no warnings" for a clean file. Exits
    with 1 for a file that cannot be loaded, and with --strict when there are warnings.
    """
    history = None
    if history_file is not None:
        try:
            # Only the categories and skus are read: local times may be read in any zone.
            history = SeenInHistory.from_events(reading.in_zone("UTC").read(history_file))
        except RewardRulesError as error:
            click.echo(error.render(), err=True)
            raise SystemExit(error.exit_code) from None
    reports = []
    for file in rule_files(files):
        report = FileReport(file)
        reports.append(report)
        try:
            program, source_map = load_program_with_map(file)
        except RewardRulesError as error:
            report.problems = list(error.problems)
            continue
        report.warnings = lint_program(program, source_map, history_events=history, as_of=as_of)
        report.summary = f"{file}: " + (
            counted(len(report.warnings), "warnings") if report.warnings else "OK, no warnings"
        )
    write_reports(reports, output_format, output_file)
    failed = not all(report.ok for report in reports)
    if failed or (strict and any(report.warnings for report in reports)):
        raise SystemExit(1)
