"""The ``rewardrules`` command group, which imports a command only when it runs.

``rewardrules --version`` and ``rewardrules --help`` import click and this module, nothing
of the library: each command lives in its own module (``dry-run`` and ``validate`` in
:mod:`rewardrules.cli.main`) and is imported when it is invoked or its own help is asked
for. :data:`COMMANDS` names them with their one-line summaries, which tests/test_cli.py
holds equal to the commands' own. benchmarks/cli_startup.py measures the time.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Final, NoReturn

import click

from rewardrules.cli._arrow_memory import lean_memory
from rewardrules.cli._exit import InterruptibleGroup, run
from rewardrules.cli._pandas import spare_pandas

COMMANDS: Final[dict[str, tuple[str, str, str]]] = {
    "validate": (
        "rewardrules.cli.main",
        "validate",
        "Check program files (a directory: its YAML files, recursively).",
    ),
    "validate-customers": (
        "rewardrules.cli.validate_customers",
        "validate_customers",
        "Check a customers file (CSV, JSON Lines or JSON): profiles, opening points, tiers.",
    ),
    "lint": (
        "rewardrules.cli.lint",
        "lint",
        "Warn about what is valid in PROGRAM files but probably wrong.",
    ),
    "dry-run": (
        "rewardrules.cli.main",
        "dry_run",
        "Evaluate PROGRAM over HISTORY: every reward, why, and what the program costs.",
    ),
    "explain": (
        "rewardrules.cli.explain",
        "explain_command",
        "Explain CUSTOMER's rewards in PROGRAM over HISTORY: what each rule gave, or why not.",
    ),
    "report": (
        "rewardrules.cli.report",
        "report_command",
        "What PROGRAM cost over HISTORY: per rule, month, tier and customer (docs/cost.md).",
    ),
    "compare": (
        "rewardrules.cli.compare",
        "compare_command",
        "What changing OLD to NEW would do over HISTORY: cost, rules, customers, tiers.",
    ),
    "schema": (
        "rewardrules.cli.schema",
        "schema",
        "Print the JSON Schema (draft-07) of program files, for editors and validators.",
    ),
    "sort-history": (
        "rewardrules.cli.sort_history",
        "sort_history",
        "Sort a history by customer, instant and event id, for bounded-memory runs.",
    ),
    "serve": (
        "rewardrules.cli.serve",
        "serve_command",
        "Edit, check, dry-run and save the programs of FOLDER in a web page.",
    ),
}
"""Each command: its module, the command object's name there, and its one-line summary."""


class LazyGroup(InterruptibleGroup):
    """A group that imports each command from :data:`COMMANDS` on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The commands in the order of :data:`COMMANDS`, then any added directly."""
        return [*COMMANDS, *(name for name in super().list_commands(ctx) if name not in COMMANDS)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, imported from its module the first time it is asked for."""
        found = super().get_command(ctx, cmd_name)
        if found is not None:
            return found
        if cmd_name not in COMMANDS:
            return None
        module, attribute, _summary = COMMANDS[cmd_name]
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module}.{attribute} is not a click command")
        self.add_command(command, cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands with their summaries in full, importing none of them."""
        rows = [
            (name, COMMANDS[name][2])
            if name in COMMANDS and name not in self.commands
            else (name, self.commands[name].get_short_help_str(limit=1000))
            for name in self.list_commands(ctx)
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rewardrules")
def cli() -> None:
    """Customer reward programs written in YAML, evaluated exactly."""


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Run the command line; the entry point of ``rewardrules`` and ``python -m``.

    Exits 0 on success, 1 for invalid input or output that cannot be written, 2 for bad
    usage, 130 when interrupted and 141 when the reader of the output goes away
    (:mod:`rewardrules.cli._exit`).
    """
    args = sys.argv[1:] if argv is None else argv
    lean_memory(args)
    spare_pandas(args)
    if not any(arg == "--jobs" or arg.startswith("--jobs=") for arg in args):
        run(cli, argv)
    # dry-run --jobs N: its workers import the engine while this process imports the rest.
    from rewardrules.cli._job_workers import start_early, stop_early  # noqa: PLC0415

    try:
        start_early(args)
        run(cli, argv)
    finally:
        stop_early()
