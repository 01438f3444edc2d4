"""``rewardrules validate-customers``: check a customers file on its own.

Every bad profile is reported, located in the file (``file:line:col: path: message``),
in the formats ``validate`` writes (text, json, github, sarif). With ``--program``, the
tiers the profiles grant are checked against the program's. Rendering only: the checks
are the readers' and :mod:`rewardrules.evaluation._opening`'s.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import click

from rewardrules.cli._reports import FileReport, Format, format_option, output_option, write_reports
from rewardrules.cli._support import HistoryReading
from rewardrules.errors import Location, Problem, RewardRulesError
from rewardrules.evaluation._opening import opening_problems
from rewardrules.evaluation.fold import check_profiles
from rewardrules.events import Customer
from rewardrules.rulefiles.loader import load_program


@click.command("validate-customers")
@click.argument("customers_file", metavar="FILE", type=click.Path(path_type=Path))
@click.option(
    "--program",
    "program_file",
    type=click.Path(path_type=Path),
    help="Also check the granted tiers against this program's tiers.",
)
@format_option
@output_option
def validate_customers(
    customers_file: Path, program_file: Path | None, output_format: Format, output_file: Path | None
) -> None:
    """Check a customers file (CSV, JSON Lines or JSON): profiles, opening points, tiers.

    Prints OK with what the file holds, or every problem as file:line:col: message; exits
    with 1 when the file (or the program) has problems.
    """
    reports: list[FileReport] = []
    tier_names: Sequence[str] | None = None
    if program_file is not None:
        program_report = FileReport(program_file)
        try:
            program = load_program(program_file)
        except RewardRulesError as error:
            program_report.problems = list(error.problems)
            reports.append(program_report)
        else:
            tier_names = () if program.tiers is None else program.tiers.level_names()
    report = FileReport(customers_file)
    try:
        profiles = list(HistoryReading().read_customers(customers_file))
        check_profiles(profiles)
    except RewardRulesError as error:
        report.problems = list(error.problems)
    else:
        if tier_names is not None:
            names = tier_names or None
            report.problems = [
                _located(customers_file, problem)
                for profile in profiles
                for problem in opening_problems(profile, names)
            ]
        if not report.problems:
            report.summary = f"{customers_file}: OK ({_summary(profiles)})"
    reports.append(report)
    write_reports(reports, output_format, output_file)
    if not all(found.ok for found in reports):
        raise SystemExit(1)


def _summary(profiles: list[Customer]) -> str:
    lots = sum(len(profile.opening_points) for profile in profiles)
    points = sum(lot.points for profile in profiles for lot in profile.opening_points)
    granted = sum(profile.tier is not None for profile in profiles)
    customers = f"{len(profiles)} customer{'s' if len(profiles) != 1 else ''}"
    return (
        f"{customers}, {lots} opening lot{'s' if lots != 1 else ''} of {points} points, "
        f"{granted} granted tier{'s' if granted != 1 else ''}"
    )


def _located(path: Path, problem: Problem) -> Problem:
    """A problem about ``customer <id>``'s field, at the field's place in the file."""
    head = problem.path[0] if problem.path else None
    if not isinstance(head, str) or not head.startswith("customer "):
        return problem
    customer_id = head.removeprefix("customer ")
    field = str(problem.path[1]) if len(problem.path) > 1 else "customer_id"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return problem
    found = (
        _in_csv(text, customer_id, field)
        if path.suffix.lower() == ".csv"
        else _in_json(text, customer_id, field)
    )
    if found is None:
        return problem
    line, column = found
    source_line = text.splitlines()[line - 1]
    return dataclasses.replace(
        problem,
        path=problem.path[1:],
        location=Location(str(path), line, column),
        source_line=source_line,
    )


def _in_csv(text: str, customer_id: str, field: str) -> tuple[int, int] | None:
    """The line and column of a customer's cell in a CSV customers file."""
    lines = text.splitlines()
    if not lines:
        return None
    delimiter = max(",;\t|", key=lines[0].count)
    header = next(csv.reader([lines[0]], delimiter=delimiter))
    if "customer_id" not in header:
        return None
    key = header.index("customer_id")
    cell = header.index(field) if field in header else key
    for number, line in enumerate(lines[1:], start=2):
        row = next(csv.reader([line], delimiter=delimiter), [])
        if len(row) > max(key, cell) and row[key] == customer_id:
            column = sum(len(value) + 1 for value in row[:cell]) + 1
            return number, column
    return None


def _in_json(text: str, customer_id: str, field: str) -> tuple[int, int] | None:
    """The line and column of a customer's field in a JSON or JSON Lines customers file."""
    lines = text.splitlines()
    wanted = json.dumps(customer_id, ensure_ascii=False)
    start = next(
        (index for index, line in enumerate(lines) if '"customer_id"' in line and wanted in line),
        None,
    )
    if start is None:
        return None
    key = f'"{field}"'
    for index in range(start, min(start + 50, len(lines))):
        column = lines[index].find(key)
        if column >= 0:
            return index + 1, column + 1
    return start + 1, lines[start].find('"customer_id"') + 1
