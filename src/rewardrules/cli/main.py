"""``rewardrules validate`` and ``rewardrules dry-run``; the group is :mod:`rewardrules.cli.entry`.

Rendering only: every decision is the library's. Errors the library raises about its input
are shown as ``file:line:col: message`` lines with exit status 1; bad usage exits with 2; the
other statuses are in :mod:`rewardrules.cli._exit`. No traceback reaches a user.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

from rewardrules.cli._reports import (
    FileReport,
    Format,
    format_option,
    output_option,
    rule_files,
    write_reports,
)
from rewardrules.cli._style import color_option
from rewardrules.cli._support import (
    HistoryReading,
    as_of_option,
    customers_option,
    guarded,
    history_options,
    located_events,
)
from rewardrules.cli._tables import table_look
from rewardrules.cli._workbook import write_sheet
from rewardrules.cli.dry_run_cluster import LedgerDirectory, dry_run_on_cluster, totals_json
from rewardrules.cli.dry_run_output import (
    DryRunOutput,
    EventDates,
    check_output_options,
    csv_options,
    hint_missing_customers,
    output_options,
    sheet_style,
)
from rewardrules.cli.dry_run_stream import streamed_dry_run
from rewardrules.cli.dry_run_table import render_table, totals_block
from rewardrules.cli.entry import cli, main  # noqa: F401 -- the group and main, as before
from rewardrules.engine.ledger import Evaluation
from rewardrules.errors import HistoryError, RewardRulesError
from rewardrules.evaluation.batch import UnsupportedError
from rewardrules.evaluation.fold import compile_program, evaluate
from rewardrules.events import AnyEvent, Customer
from rewardrules.histories.read import read_customers
from rewardrules.program.model import Program, gives_points
from rewardrules.rulefiles.loader import load_program
from rewardrules.tools.summary import Summary

if TYPE_CHECKING:
    from rewardrules.tools.explain.explanation import CustomerExplanation


@click.command()
@click.argument(
    "files", metavar="PROGRAM...", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@format_option
@output_option
def validate(files: Sequence[Path], output_format: Format, output_file: Path | None) -> None:
    """Check program files (a directory: its YAML files, recursively).

    Prints OK for each valid file, or every problem as file:line:col: message; exits with 1
    when any file has problems.
    """
    reports = []
    for file in rule_files(files):
        report = FileReport(file)
        try:
            program = load_program(file)
        except RewardRulesError as error:
            report.problems = list(error.problems)
        else:
            rules = len(program.rules)
            report.summary = f"{file}: OK ({program.name}, {rules} rule{'s' if rules != 1 else ''})"
        reports.append(report)
    write_reports(reports, output_format, output_file)
    if not all(report.ok for report in reports):
        raise SystemExit(1)


@click.command("dry-run")
@click.argument("program_file", metavar="PROGRAM", type=click.Path(path_type=Path))
@click.argument("history_file", metavar="HISTORY", type=click.Path(path_type=Path))
@customers_option
@as_of_option
@click.option("--customer", "customer_id", help="Show only this customer.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "csv", "xlsx"]),
    default="table",
    show_default=True,
    help=(
        "A readable table, the JSON contract of docs/json-output.md, the ledger as CSV "
        "for a spreadsheet (cells a spreadsheet would run as formulas are neutralised), or "
        "an Excel workbook of the ledger and the totals (to --output FILE.xlsx; needs the "
        "'xlsx' extra)."
    ),
)
@click.option(
    "--explain",
    is_flag=True,
    help="With --format json: add, per customer, what each rule did with each event and why.",
)
@click.option(
    "--engine",
    type=click.Choice(["reference", "batch"]),
    default="reference",
    show_default=True,
    help=(
        "The reference fold, or the batch (columnar) engine: the same results, faster on "
        "big histories; it refuses, by name, what it does not evaluate yet "
        "(docs/batch-engine.md)."
    ),
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help=(
        "Evaluate on a local Dask cluster of this many worker processes, partitioned by "
        "customer; HISTORY is then a pattern of Parquet files ('histories/*.parquet') and "
        "the totals are printed (docs/scale-out.md; needs the 'dask' extra)."
    ),
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Evaluate on the Dask cluster of this scheduler (tcp://host:8786), as --workers.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help=(
        "With --engine batch and --output or --summary: evaluate the chunks of customers in "
        "this many processes of this machine (this one and N - 1 workers); the same ledger "
        "file and summary (docs/histories.md, 'Several processes')."
    ),
)
@csv_options
@output_options
@color_option
@history_options
def dry_run(  # noqa: PLR0915 -- the command's usage checks, then its paths, in turn
    program_file: Path,
    history_file: Path,
    customers_file: Path | None,
    as_of: date | datetime | None,
    customer_id: str | None,
    output_format: str,
    explain: bool,
    reading: HistoryReading,
    engine: Literal["reference", "batch"] = "reference",
    output_file: Path | LedgerDirectory | None = None,
    summary: bool = False,
    quiet: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    jobs: int = 1,
    csv_delimiter: str | None = None,
    csv_decimal_comma: bool = False,
    color: bool | None = None,
) -> None:
    """Evaluate PROGRAM over HISTORY: every reward, why, and what the program costs."""
    style = sheet_style(output_format, csv_delimiter, csv_decimal_comma)
    if explain and output_format != "json":
        raise click.UsageError("--explain needs --format json (or use 'rewardrules explain')")
    _check_jobs(
        jobs, engine, (workers, scheduler), output_file, summary, output_format, customer_id
    )
    if workers is not None or scheduler is not None:
        _dry_run_on_cluster(
            program_file,
            str(history_file),
            customers_file,
            as_of,
            workers,
            scheduler,
            output_file,
            output_format,
            (customer_id, explain),
            engine,
            quiet,
        )
        return
    if isinstance(output_file, LedgerDirectory):
        raise click.UsageError(
            "--output DIR/ writes a partitioned ledger with --workers or --scheduler; "
            "otherwise name a .parquet, .csv or .jsonl file"
        )
    check_output_options(output_file, summary, output_format, explain)
    program = guarded(lambda: load_program(program_file))
    hint_missing_customers(program, customers_file)
    reading = reading.for_program(program)
    output = DryRunOutput(
        program,
        history_file,
        output=None if output_format == "xlsx" else output_file,  # xlsx: the workbook's
        summary=summary,
        quiet=quiet,
    )
    # A referrer's rewards come from their friends' purchases: with referral rules, one
    # customer's dry-run evaluates everybody and keeps that customer.
    everybody = customer_id is None or compile_program(program).rewards_referrers

    dates = EventDates(program)

    def events(keep_all: bool = everybody) -> Iterator[AnyEvent]:
        for event in dates.watch(reading.read(history_file)):
            if keep_all or event.customer_id == customer_id:
                yield event

    def profiles() -> list[Customer] | None:
        if customers_file is None:
            return None
        read = reading.read_customers(customers_file)
        return output.note_openings(
            [profile for profile in read if everybody or profile.customer_id == customer_id]
        )

    def run() -> Evaluation:
        try:
            evaluation = evaluate(program, output.watch(events()), profiles(), as_of, engine=engine)
        except (HistoryError, UnsupportedError) as error:
            raise located_events(error, history_file, reading, program_file) from None
        if customer_id is None or not everybody:
            return evaluation
        # The customer's own purchases, refunds and spend, as an evaluation counts them.
        own = evaluate(program, events(keep_all=False), None, as_of, engine=engine).totals
        return evaluation.only(
            customer_id,
            purchases=own.purchases,
            refunds=own.refunds,
            gross_spend=own.gross_spend,
            refunded_purchases=own.refunded_purchases,
            fully_refunded_purchases=own.fully_refunded_purchases,
        )

    if engine == "batch" and output.summarises and customer_id is None:
        # Nothing but totals is printed: the batch engine streams chunk of customers by
        # chunk, in memory bounded by a chunk (docs/histories.md, "Large histories").
        evaluation, streamed = guarded(
            lambda: streamed_dry_run(
                program, history_file, reading, profiles(), as_of, output, jobs
            )
        )
        totals_summary: Summary | None = streamed
    else:
        evaluation = guarded(lambda: output.evaluating(run))
        if customer_id is not None and not evaluation.customers:
            output.close()
            click.echo(f"{history_file}: no events of customer {customer_id!r}", err=True)
            raise SystemExit(1)
        totals_summary = guarded(lambda: output.finish(evaluation))
    if totals_summary is not None:
        if output_format == "json":
            click.echo(output.summary_json(totals_summary))
        else:
            shown = program.points.name if output.gives_points else None
            # Styles only when table_look chose colour: echo keeps them even when piped.
            click.echo(
                output.summary_text(
                    totals_summary, totals_block(evaluation, shown), table_look(color)
                ),
                color=True,
            )
        return
    explained = None
    if explain:
        explained = guarded(lambda: _explain_all(program, events(), profiles(), as_of))
    if output_format in ("csv", "xlsx"):
        write_sheet(dates, evaluation, output_format, style, output_file)
        return
    _show_evaluation(program, evaluation, output_format, explained, as_of, customer_id, color)


def _explain_all(
    program: Program,
    events: Iterator[AnyEvent],
    profiles: list[Customer] | None,
    as_of: date | datetime | None,
) -> dict[str, CustomerExplanation]:
    """``--explain``: every customer's explanation (``tools.explain``, imported for it)."""
    from rewardrules.tools.explain.explanation import explain_all  # noqa: PLC0415 -- --explain only

    return explain_all(program, events, customers=profiles, as_of=as_of)


def _show_evaluation(
    program: Program,
    evaluation: Evaluation,
    output_format: str,
    explained: Mapping[str, CustomerExplanation] | None,
    as_of: date | datetime | None,
    customer_id: str | None = None,
    color: bool | None = None,
) -> None:
    """Print a dry-run's evaluation in the chosen format, with explanations for JSON;
    ``color``: ``--color`` or ``--no-color`` (None: neither)."""
    if output_format == "json":
        from rewardrules.tools.report import coming_expiries  # noqa: PLC0415 -- JSON only

        document = evaluation.to_dict()
        coming = coming_expiries(program, evaluation, as_of)
        for customer in document["customers"] if coming else ():
            who = customer["customer_id"]
            customer["expiring"] = [
                {"month": month.month, "points": month.customers.get(who, 0)} for month in coming
            ]
        if explained is not None:
            for customer in document["customers"]:
                account = explained[customer["customer_id"]].to_dict()
                customer["explanations"] = account["events"]
                customer["next_rewards"] = account["next_rewards"]
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        look = table_look(color)
        text = render_table(program, evaluation, customer_id, look)
        click.echo(text, color=look.color or None)


def _check_jobs(
    jobs: int,
    engine: str,
    cluster: tuple[int | None, str | None],
    output: Path | LedgerDirectory | None,
    summary: bool,
    output_format: str,
    customer_id: str | None,
) -> None:
    """Refuse ``--jobs N`` (N > 1) where the dry-run does not stream chunk by chunk.

    Raises:
        click.UsageError: with a cluster, the reference engine, ``--customer``, or
            neither ``--output FILE`` nor ``--summary`` (or ``--format xlsx``).
    """
    if jobs == 1:
        return
    workers, scheduler = cluster
    if workers is not None or scheduler is not None:
        given = "--workers" if workers is not None else "--scheduler"
        raise click.UsageError(
            f"--jobs shares one machine's cores; {given} runs on a Dask cluster: give one of them"
        )
    if engine != "batch":
        raise click.UsageError(
            "--jobs evaluates chunks of customers with the batch engine; add --engine batch"
        )
    if customer_id is not None:
        raise click.UsageError("--customer evaluates one customer; it cannot go with --jobs")
    if output_format == "xlsx" or (output is None and not summary):
        raise click.UsageError(
            "--jobs streams the ledger to a file or into the summary; add --output "
            "ledger.parquet (or .csv, .jsonl) or --summary"
        )


def _dry_run_on_cluster(
    program_file: Path,
    pattern: str,
    customers_file: Path | None,
    as_of: date | datetime | None,
    workers: int | None,
    scheduler: str | None,
    output: Path | LedgerDirectory | None,
    output_format: str,
    per_customer: tuple[str | None, bool],
    engine: str,
    quiet: bool,
) -> None:
    """``dry-run --workers N`` or ``--scheduler ADDRESS``: totals from a Dask cluster."""
    if workers is not None and scheduler is not None:
        raise click.UsageError("give --workers (a local cluster) or --scheduler, not both")
    if per_customer[0] is not None or per_customer[1]:
        given = "--customer" if per_customer[0] is not None else "--explain"
        raise click.UsageError(f"{given} shows one customer's events; it cannot go with a cluster")
    if output_format in ("csv", "xlsx"):
        raise click.UsageError(
            f"--format {output_format} {'prints' if output_format == 'csv' else 'writes'} "
            "the ledger; with a cluster use --output DIR/"
        )
    if output is not None and not isinstance(output, LedgerDirectory):
        raise click.UsageError(f"with a cluster, --output names a directory: {output}/")
    program = guarded(lambda: load_program(program_file))
    customers = guarded(
        lambda: None if customers_file is None else list(read_customers(customers_file))
    )
    totals = guarded(
        lambda: dry_run_on_cluster(
            program,
            pattern,
            customers=customers,
            as_of=as_of,
            workers=workers,
            scheduler=scheduler,
            output=output,
            engine=engine,
            quiet=quiet,
        )
    )
    if output_format == "json":
        click.echo(totals_json(program, totals))
        return
    evaluation = Evaluation(program.program, program.money, program.points.name, (), totals)
    earns = any(gives_points(rule) for rule in program.rules)
    click.echo(totals_block(evaluation, program.points.name if earns else None).plain())
