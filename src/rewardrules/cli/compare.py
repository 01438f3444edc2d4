"""``rewardrules compare``: two programs over one history, side by side; rendering only."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from pathlib import Path
from typing import Literal

import click
from rich.table import Table
from rich.text import Text

from rewardrules.cli._style import color_option, wants_color
from rewardrules.cli._support import (
    HistoryReading,
    as_of_option,
    customers_option,
    guarded,
    history_options,
    located_events,
)
from rewardrules.cli.report import (
    FORMATS,
    emit,
    engine_option,
    html_pages,
    output_option,
    recorded_text,
    table_console,
)
from rewardrules.errors import HistoryError
from rewardrules.rulefiles.loader import load_program
from rewardrules.tools.compare import MONEY_FIGURES, Comparison, Difference, compare


@click.command("compare")
@click.argument("old_file", metavar="OLD", type=click.Path(path_type=Path))
@click.argument("new_file", metavar="NEW", type=click.Path(path_type=Path))
@click.argument("history_file", metavar="HISTORY", type=click.Path(path_type=Path))
@customers_option
@as_of_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="A readable table, JSON, a long CSV (section,key,status,old,new,change) or HTML.",
)
@output_option
@engine_option
@color_option
@history_options
def compare_command(
    old_file: Path,
    new_file: Path,
    history_file: Path,
    customers_file: Path | None,
    as_of: date | datetime | None,
    output_format: str,
    output_file: Path | None,
    reading: HistoryReading,
    engine: Literal["reference", "batch"] = "reference",
    color: bool | None = None,
) -> None:
    """What changing OLD to NEW would do over HISTORY: cost, rules, customers, tiers."""
    if output_format == "html":
        html_pages()  # a missing extra is said before any work
    old = guarded(lambda: load_program(old_file))
    new = guarded(lambda: load_program(new_file))
    reading = reading.for_program(new)
    if old.currency != new.currency:
        message = f"OLD is in {old.currency} and NEW in {new.currency}: compare one currency"
        raise click.UsageError(message)

    def run() -> Comparison:
        profiles = None if customers_file is None else reading.read_customers(customers_file)
        try:
            events = list(reading.read(history_file))
            return compare(old, new, events, as_of=as_of, customers=profiles, engine=engine)
        except HistoryError as error:
            raise located_events(error, history_file, reading) from None

    found = guarded(run)
    if output_format == "json":
        emit(json.dumps(found.to_dict(), indent=2, ensure_ascii=False), output_file)
    elif output_format == "csv":
        emit(comparison_csv(found), output_file)
    elif output_format == "html":
        emit(html_pages().compare_html(found), output_file)
    else:
        coloured = wants_color(color, output_file is not None)
        emit(comparison_table(found, coloured), output_file, coloured)


def comparison_csv(found: Comparison) -> str:
    """One row per figure: ``section,key,status,old,new,change``."""
    document = found.to_dict()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["section", "key", "status", "old", "new", "change"])
    for section in ("program", "by_rule", "rewards", "by_month"):
        for row in document[section]:
            writer.writerow(
                [section, row["key"], row["status"], row["old"], row["new"], row["change"]]
            )
    for row in document["tiers"]:
        writer.writerow(
            ["tiers", f"{row['old'] or ''} -> {row['new'] or ''}", "", "", "", row["customers"]]
        )
    return buffer.getvalue()


def comparison_table(found: Comparison, color: bool = False) -> str:
    """The comparison as rich tables, 100 columns wide: plain text, or coloured with
    ``color`` (decreases in red)."""
    console = table_console(color)
    money = found.new.money

    def amount(minor: int, sign: bool = False) -> str:
        shown = money.to_decimal(minor)
        return f"{shown:+,}" if sign else f"{shown:,}"

    def change(text: str, value: int) -> Text:
        return Text(text, style="red" if value < 0 else "")

    def rows(title: str, differences: tuple[Difference, ...], is_money: bool) -> Table:
        table = Table(title=f"{title} ({money.code})" if is_money else title, title_justify="left")
        for column in ("", "old", "new", "change"):
            table.add_column(column, justify="left" if not column else "right")
        for row in differences:
            name = row.key if row.status == "both" else f"{row.key} ({row.status})"
            if not is_money and row.key in MONEY_FIGURES:
                name = f"{name} ({money.code})"
            if is_money or row.key in MONEY_FIGURES:
                shown = change(amount(row.change, True), row.change)
                table.add_row(name, amount(row.old), amount(row.new), shown)
            else:
                shown = change(f"{row.change:+,}", row.change)
                table.add_row(name, f"{row.old:,}", f"{row.new:,}", shown)
        return table

    console.print(
        f"{found.old.name} ({found.old.program}) -> {found.new.name} ({found.new.program})"
    )
    console.print(rows("Program", found.program, is_money=False))
    console.print(rows("Cost per rule", found.rules, is_money=True))
    console.print(rows("Rewards per rule", found.rewards, is_money=False))
    if found.appearing() or found.disappearing():
        console.print(
            "Rewards appearing: "
            + (", ".join(found.appearing()) or "none")
            + "; disappearing: "
            + (", ".join(found.disappearing()) or "none")
        )
    console.print(rows("Cost per month", found.months, is_money=True))
    console.print(
        f"Customers: {len(found.gaining):,} gain, {len(found.losing):,} lose, "
        f"{found.unchanged:,} unchanged"
    )
    quantiles = found.change_quantiles()
    if quantiles:
        spread = Table(
            title=f"Change of cost per customer, by quantile ({money.code})", title_justify="left"
        )
        for key in quantiles:
            spread.add_column(f"q{key}", justify="right")
        spread.add_row(*(change(amount(value, True), value) for value in quantiles.values()))
        console.print(spread)
    if found.gaining:
        console.print(rows("Top 10 gaining", found.gaining[:10], is_money=True))
    if found.losing:
        console.print(rows("Top 10 losing", found.losing[:10], is_money=True))
    if any(old is not None or new is not None for old, new in found.tiers):
        matrix = Table(title="Tier migration (old -> new)", title_justify="left")
        matrix.add_column("old \\ new")
        new_tiers = sorted({new for _, new in found.tiers}, key=str)
        for tier in new_tiers:
            matrix.add_column(tier or "(no tier)", justify="right")
        for old_tier in sorted({old for old, _ in found.tiers}, key=str):
            matrix.add_row(
                old_tier or "(no tier)",
                *(f"{found.tiers.get((old_tier, tier), 0):,}" for tier in new_tiers),
            )
        console.print(matrix)
    return recorded_text(console, color)
