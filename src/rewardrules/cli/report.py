"""``rewardrules report``: what a program costs, as a table, JSON, CSV or HTML; rendering only."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from types import ModuleType
from typing import Literal

import click
from rich.console import Console
from rich.table import Table

from rewardrules.cli._style import color_option, wants_color
from rewardrules.cli._support import (
    HistoryReading,
    as_of_option,
    customers_option,
    guarded,
    history_options,
    located_events,
)
from rewardrules.errors import HistoryError
from rewardrules.events import AnyEvent
from rewardrules.rulefiles.loader import load_program
from rewardrules.tools.report import Report, report

FORMATS = ("table", "json", "csv", "html")


output_option = click.option(
    "--output",
    "output_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to this file instead of printing (needed for --format html on a terminal).",
)

engine_option = click.option(
    "--engine",
    type=click.Choice(["reference", "batch"]),
    default="reference",
    show_default=True,
    help=(
        "The reference fold, or the batch (columnar) engine: the same report, much faster "
        "on big histories; it refuses, by name, what it does not evaluate yet."
    ),
)


@click.command("report")
@click.argument("program_file", metavar="PROGRAM", type=click.Path(path_type=Path))
@click.argument("history_file", metavar="HISTORY", type=click.Path(path_type=Path))
@customers_option
@as_of_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="A readable table, JSON, a long CSV (section,key,figure,value) or an HTML page.",
)
@output_option
@engine_option
@color_option
@history_options
def report_command(
    program_file: Path,
    history_file: Path,
    customers_file: Path | None,
    as_of: date | datetime | None,
    output_format: str,
    output_file: Path | None,
    reading: HistoryReading,
    engine: Literal["reference", "batch"] = "reference",
    color: bool | None = None,
) -> None:
    """What PROGRAM cost over HISTORY: per rule, month, tier and customer (docs/cost.md)."""
    if output_format == "html":
        html_pages()  # a missing extra is said before any work
    program = guarded(lambda: load_program(program_file))
    reading = reading.for_program(program)

    def events() -> Iterator[AnyEvent]:
        yield from reading.read(history_file)

    def run() -> Report:
        profiles = None if customers_file is None else reading.read_customers(customers_file)
        try:
            return report(program, events(), as_of=as_of, customers=profiles, engine=engine)
        except HistoryError as error:
            raise located_events(error, history_file, reading) from None

    found = guarded(run)
    coloured = wants_color(color, output_file is not None)
    emit(render_report(found, output_format, coloured), output_file, coloured)


def emit(text: str, output_file: Path | None, color: bool = False) -> None:
    """Print ``text``, or write it to ``output_file`` (UTF-8); ``color``: keep its ANSI
    colours even where click would strip them (not a terminal)."""
    if output_file is None:
        click.echo(text, nl=not text.endswith("\n"), color=color or None)
        return
    try:
        output_file.write_text(text, encoding="utf-8")
    except OSError as error:
        click.echo(f"{output_file}: cannot write: {error.strerror}", err=True)
        raise SystemExit(1) from None


def render_report(found: Report, output_format: str, color: bool = False) -> str:
    """The report in one of :data:`FORMATS`."""
    if output_format == "json":
        return json.dumps(found.to_dict(), indent=2, ensure_ascii=False)
    if output_format == "csv":
        return report_csv(found)
    if output_format == "html":
        page: str = html_pages().report_html(found)
        return page
    return report_table(found, color)


def html_pages() -> ModuleType:
    """``rewardrules.tools.report_html``, whose charts need plotly: the ``report`` extra.

    Imported on demand, so that the other formats work without it; without it, a message
    that names the extra to install (exit code 1), not a traceback.
    """
    try:
        from rewardrules.tools import report_html  # noqa: PLC0415 -- plotly, on demand
    except ImportError as error:
        if (error.name or "").split(".")[0] != "plotly":
            raise
        message = (
            "--format html draws its charts with plotly, which is not installed: "
            "pip install 'rewardrules[report]'"
        )
        raise click.ClickException(message) from None
    return report_html


def report_csv(found: Report) -> str:
    """The report's JSON flattened to rows ``section,key,figure,value``: one figure a row."""
    document = found.to_dict()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["section", "key", "figure", "value"])
    for figure in ("cost", "value_given", "liability", "breakage"):
        writer.writerow(["program", found.program, figure, document[figure]])
    for figure, value in document["points"].items():
        writer.writerow(["points", "", figure, "" if value is None else value])
    sections = (("by_rule", "rule"), ("by_month", "month"), ("by_tier", "tier"))
    for section, key in sections:
        for row in document[section]:
            for figure, value in row.items():
                if figure == key or isinstance(value, dict):
                    continue
                writer.writerow([section, row[key] or "", figure, "" if value is None else value])
    customers = document["customers"]
    writer.writerow(["customers", "", "count", customers["count"]])
    writer.writerow(["customers", "", "earning", customers["earning"]])
    for quantile, value in customers["quantiles"].items():
        writer.writerow(["customers", "", f"quantile {quantile}", value])
    for rank, customer in enumerate(customers["top"], 1):
        writer.writerow(["top", customer["customer_id"], f"rank {rank}", customer["cost"]])
    for month in document["expiry"]:
        writer.writerow(["expiry", month["month"], "points", month["points"]])
        writer.writerow(["expiry", month["month"], "value", month["value"]])
    return buffer.getvalue()


def money_text(found: Report, minor: int) -> str:
    """An amount with thousands separators and the currency code: ``1,234.50 USD``."""
    amount = found.money.to_decimal(minor)
    return f"{amount:,} {found.money.code}"


def table_console(color: bool) -> Console:
    """A console that records 100 columns of text, coloured (ANSI) or plain."""
    return Console(
        file=io.StringIO(),
        width=100,
        color_system="standard" if color else None,
        no_color=not color,
        force_terminal=color,
        record=True,
    )


def recorded_text(console: Console, color: bool) -> str:
    """What ``console`` printed, each line without trailing spaces."""
    text = console.export_text(styles=color)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def report_table(found: Report, color: bool = False) -> str:  # noqa: PLR0915 -- table after table
    """The report as rich tables, 100 columns wide: plain text, or coloured with ``color``."""
    console = table_console(color)

    def show(minor: int) -> str:
        return money_text(found, minor)

    points = found.points
    console.print(
        f"{found.name} ({found.program}) - {found.money.code}: what it costs"
        + ("" if found.as_of is None else f", as of {found.as_of.isoformat()}")
    )
    head = Table(title="Cost", title_justify="left", show_header=False)
    head.add_column("figure")
    head.add_column("value", justify="right")
    head.add_row("value given now", show(found.value_given))
    head.add_row(f"liability ({points.outstanding:,} {found.points_name})", show(points.liability))
    head.add_row("cost (value given + liability)", show(found.cost))
    head.add_row(f"breakage ({points.expired:,} expired, not a cost)", show(points.breakage))
    console.print(head)
    rules = Table(title="Per rule", title_justify="left")
    for title in ("rule", "rewards", "units", "value", found.points_name, "cost", "share"):
        rules.add_column(title, justify="left" if title == "rule" else "right")
    whole = sum(rule.cost for rule in found.rules if rule.source == "rule")
    for rule in found.rules:
        share = "" if rule.source != "rule" or not whole else f"{100 * rule.cost / whole:.1f}%"
        name = rule.rule if rule.source == "rule" else f"{rule.rule} ({rule.source})"
        rules.add_row(
            name,
            f"{rule.rewards:,}",
            f"{rule.units:,}",
            show(rule.value),
            f"{rule.points_net:,}",
            show(rule.cost),
            share,
        )
    console.print(rules)
    months = Table(title="Per month", title_justify="left")
    titles = ("month", "value given", "issued", "redeemed", "expired", "outstanding", "liability")
    for title in (*titles, "cost"):
        months.add_column(title, justify="left" if title == "month" else "right")
    for month in found.months:
        months.add_row(
            month.month,
            show(month.value_given),
            f"{month.points_issued - month.points_reversed:,}",
            f"{month.points_redeemed:,}",
            f"{month.points_expired:,}",
            f"{month.balance:,}",
            show(month.liability),
            show(month.cost),
        )
    console.print(months)
    lines = Table(
        title=f"{found.points_name.capitalize()}", title_justify="left", show_header=False
    )
    lines.add_column("figure")
    lines.add_column("value", justify="right")
    rate = "-" if points.redemption_rate is None else f"{100 * points.redemption_rate:.2f}%"
    for figure, value in (
        ("issued", f"{points.issued:,}"),
        ("taken back by refunds", f"{points.reversed:,}"),
        ("redeemed", f"{points.redeemed:,} ({show(points.redemption_value)})"),
        ("expired (breakage)", f"{points.expired:,} ({show(points.breakage)})"),
        ("written off", f"{points.written_off:,}"),
        ("pending", f"{points.pending:,}"),
        ("outstanding", f"{points.outstanding:,} ({show(points.liability)})"),
        ("redemption rate", rate),
    ):
        lines.add_row(figure, value)
    console.print(lines)
    if found.tiers:
        tiers = Table(title="Per tier", title_justify="left")
        for title in ("tier", "members", "spend", "cost"):
            tiers.add_column(title, justify="left" if title == "tier" else "right")
        for tier in found.tiers:
            tiers.add_row(
                tier.tier or "(no tier)", f"{tier.members:,}", show(tier.spend), show(tier.cost)
            )
        console.print(tiers)
    people = Table(title="Customers", title_justify="left", show_header=False)
    people.add_column("figure")
    people.add_column("value", justify="right")
    people.add_row("customers", f"{len(found.customers):,}")
    people.add_row("earned anything", f"{found.customers_earning:,}")
    for quantile, cost in found.quantiles().items():
        label = {"0": "lowest cost", "0.5": "median cost", "1": "highest cost"}.get(
            quantile, f"{quantile} quantile"
        )
        people.add_row(label, show(cost))
    console.print(people)
    top = Table(title="Top 10 customers by cost", title_justify="left")
    for title in ("customer", "cost", found.points_name, "tier"):
        top.add_column(title, justify="left" if title in ("customer", "tier") else "right")
    for customer in found.top():
        top.add_row(
            customer.customer_id, show(customer.cost), f"{customer.points:,}", customer.tier or ""
        )
    console.print(top)
    if found.expiry:
        expiry = Table(title="Expiring soon", title_justify="left")
        for title in ("month", found.points_name, "value", "customers"):
            expiry.add_column(title, justify="left" if title == "month" else "right")
        for coming in found.expiry:
            expiry.add_row(
                coming.month,
                f"{coming.points:,}",
                show(coming.value),
                f"{len(coming.customers):,}",
            )
        console.print(expiry)
    return recorded_text(console, color)
