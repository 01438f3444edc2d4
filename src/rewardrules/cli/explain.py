"""``rewardrules explain``: one customer's rewards, purchase by purchase, in plain words.

Rendering only; the account is :func:`rewardrules.tools.explain.explanation.explain`'s.
``--customers`` reads
the profiles as ``dry-run`` does (the birthday, sign-up and referral rules need them). Errors
are shown like ``dry-run`` shows them (exit 1), bad usage exits with 2.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import click

from rewardrules.cli._support import (
    HistoryReading,
    as_of_option,
    customers_option,
    guarded,
    history_options,
    located_events,
)
from rewardrules.errors import HistoryError
from rewardrules.rulefiles.loader import load_program
from rewardrules.tools.explain.explanation import CustomerExplanation, explain


@click.command("explain")
@click.argument("program_file", metavar="PROGRAM", type=click.Path(path_type=Path))
@click.argument("history_file", metavar="HISTORY", type=click.Path(path_type=Path))
@click.option("--customer", "customer_id", required=True, help="The customer to explain.")
@customers_option
@click.option(
    "--event",
    "event_id",
    help="Explain only this event (a purchase, refund, redemption, gift or referral).",
)
@as_of_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="The plain-words account, or the same as JSON.",
)
@history_options
def explain_command(
    program_file: Path,
    history_file: Path,
    customer_id: str,
    customers_file: Path | None,
    event_id: str | None,
    as_of: date | datetime | None,
    output_format: str,
    reading: HistoryReading,
) -> None:
    """Explain CUSTOMER's rewards in PROGRAM over HISTORY: what each rule gave, or why not."""
    program = guarded(lambda: load_program(program_file))
    reading = reading.for_program(program)

    def run() -> CustomerExplanation:
        profiles = None if customers_file is None else list(reading.read_customers(customers_file))
        try:
            return explain(
                program,
                reading.read(history_file),
                customer_id,
                customers=profiles,
                event_id=event_id,
                as_of=as_of,
            )
        except HistoryError as error:
            raise located_events(error, history_file, reading) from None

    explanation = guarded(run)
    if output_format == "json":
        click.echo(json.dumps(explanation.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(explanation.render_text())
