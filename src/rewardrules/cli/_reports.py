"""What ``validate`` and ``lint`` found, in the formats tools read: text, JSON, GitHub, SARIF.

Both commands collect one :class:`FileReport` per rule file, then :func:`render` writes them
all at once in the chosen format. ``text`` is for people (``file:line:col: message`` and the
line with a caret); ``json`` is the contract of docs/rule-files.md; ``github`` is GitHub
Actions' workflow commands, which annotate the lines of a pull request; ``sarif`` is SARIF
2.1.0, which code-scanning services read. Rendering only: nothing here decides a finding.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import click

from rewardrules.errors import Problem

Format = Literal["text", "json", "github", "sarif"]

FORMATS: Final = ("text", "json", "github", "sarif")

RULE_FILE_SUFFIXES: Final = (".yaml", ".yml")
"""What a directory given to ``validate`` or ``lint`` is searched for, recursively."""

format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help=(
        "text for people; json (docs/rule-files.md), github (workflow commands that annotate "
        "a pull request) or sarif (SARIF 2.1.0, for code scanning) for tools."
    ),
)

output_option = click.option(
    "-o",
    "--output",
    "output_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the report to this file instead of standard output.",
)


@dataclass(slots=True)
class FileReport:
    """What one command found in one file.

    Attributes:
        file: the file as it was named.
        problems: why the file cannot be loaded (it is not ``ok``).
        warnings: lint's warnings about a file that loads.
        summary: the text form's closing line for the file (``OK (...)``, ``2 warnings``).
    """

    file: Path
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    summary: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the file loads."""
        return not self.problems


def rule_files(paths: Iterable[Path]) -> list[Path]:
    """The files named, with each directory replaced by its ``*.yaml`` files, recursively.

    Files in a directory come in sorted order; hidden directories (``.git``) are skipped.

    Raises:
        click.UsageError: a directory holds no rule file.
    """
    found: list[Path] = []
    for path in paths:
        if not path.is_dir():
            found.append(path)
            continue
        inside = sorted(
            candidate
            for candidate in path.rglob("*")
            if candidate.suffix in RULE_FILE_SUFFIXES
            and candidate.is_file()
            and not any(part.startswith(".") for part in candidate.relative_to(path).parts)
        )
        if not inside:
            raise click.UsageError(f"{path}: the directory holds no *.yaml or *.yml file")
        found.extend(inside)
    return found


def write_reports(
    reports: Sequence[FileReport], output_format: Format, output_file: Path | None
) -> None:
    """Write the reports in a format: to ``output_file``, or else to standard output.

    The text form on a terminal shows what stops a file from loading on standard error,
    like every other command; everything else, and every machine format, goes to standard
    output (or all of it to ``output_file``).
    """
    if output_format == "text" and output_file is None:
        for found in reports:
            if found.problems:
                click.echo("\n".join(problem.with_caret() for problem in found.problems), err=True)
            click.echo(render([dataclasses.replace(found, problems=[])], "text"), nl=False)
        return
    emit(render(reports, output_format), output_file)


def render(reports: Sequence[FileReport], output_format: Format) -> str:
    """All the reports in one format, ending with a line break (empty when there is nothing)."""
    if output_format == "json":
        return json.dumps({"files": [_json(report) for report in reports]}, indent=2) + "\n"
    if output_format == "sarif":
        return json.dumps(_sarif(reports), indent=2) + "\n"
    lines = []
    for report in reports:
        if output_format == "github":
            lines += [_github("error", report.file, problem) for problem in report.problems]
            lines += [_github("warning", report.file, warning) for warning in report.warnings]
            continue
        lines += [problem.with_caret() for problem in report.problems]
        lines += [_warning_text(warning) for warning in report.warnings]
        if report.summary is not None:
            lines.append(report.summary)
    return "".join(f"{line}\n" for line in lines)


def emit(text: str, output_file: Path | None) -> None:
    """Write a rendered report to standard output, or to ``output_file``."""
    if output_file is None:
        click.echo(text, nl=False)
        return
    try:
        output_file.write_text(text, encoding="utf-8")
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise click.FileError(str(output_file), hint=reason) from None


def _warning_text(warning: Problem) -> str:
    """``file:line:col: path: warning: message (suggestion)``, then the line with a caret."""
    return dataclasses.replace(warning, message=f"warning: {warning.message}").with_caret()


def _json(report: FileReport) -> dict[str, Any]:
    document: dict[str, Any] = {
        "file": str(report.file),
        "ok": report.ok,
        "problems": [_located_json(report.file, problem) for problem in report.problems],
    }
    if report.warnings:
        document["warnings"] = [_located_json(report.file, warning) for warning in report.warnings]
    return document


def _located_json(file: Path, problem: Problem) -> dict[str, Any]:
    data = problem.to_dict()
    data["file"] = data["file"] or str(file)
    return data


def _message(problem: Problem) -> str:
    """The message with its path and suggestion, as the text form says it without a place."""
    where = problem.to_dict()["path"]
    text = f"{where}: {problem.message}" if where else problem.message
    return f"{text} ({problem.suggestion})" if problem.suggestion else text


def _github(level: str, file: Path, problem: Problem) -> str:
    """A GitHub Actions workflow command: ``::error file=F,line=L,col=C,title=T::message``."""
    location = problem.location
    properties = {"file": location.source if location else str(file)}
    if location is not None:
        properties |= {"line": str(location.line), "col": str(location.column)}
    properties["title"] = f"rewardrules {problem.code}"
    shown = ",".join(f"{name}={_escape(value, True)}" for name, value in properties.items())
    return f"::{level} {shown}::{_escape(_message(problem), False)}"


def _escape(text: str, is_property: bool) -> str:
    """Escape as GitHub's toolkit does: ``%``, line breaks, and in properties ``:`` and ``,``."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if is_property:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


SARIF_SCHEMA: Final = "https://json.schemastore.org/sarif-2.1.0.json"


def _uri(file: str | Path) -> str:
    """A relative path as SARIF wants it (``rules/a.yaml``), an absolute one as ``file://``."""
    path = Path(file)
    return path.as_uri() if path.is_absolute() else path.as_posix()


def _sarif(reports: Sequence[FileReport]) -> dict[str, Any]:
    results = []
    codes: list[str] = []
    for report in reports:
        found = [("error", problem) for problem in report.problems]
        found += [("warning", warning) for warning in report.warnings]
        for level, problem in found:
            if problem.code not in codes:
                codes.append(problem.code)
            location = problem.location
            physical: dict[str, Any] = {
                "artifactLocation": {"uri": _uri(location.source if location else report.file)}
            }
            if location is not None:
                physical["region"] = {"startLine": location.line, "startColumn": location.column}
            results.append(
                {
                    "ruleId": problem.code,
                    "ruleIndex": codes.index(problem.code),
                    "level": level,
                    "message": {"text": _message(problem)},
                    "locations": [{"physicalLocation": physical}],
                }
            )
    driver = {
        "name": "rewardrules",
        "version": importlib.metadata.version("rewardrules"),
        "rules": [{"id": code} for code in codes],
    }
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": results}],
    }
