"""``dry-run --output FILE``, ``--summary`` and the progress bar: the streaming side of dry-run.

The command keeps its own reading and evaluating; this module wraps the events it reads
(for the progress bar and the month of each event), then takes the evaluation's ledger as
Arrow tables (``tools.ledger_sums.ledger_pieces``: the batch engine's straight from its
columns, no entry made): each is written to ``--output`` and totalled into the summary
column by column as it comes. Standard output then shows the summary (text or JSON)
instead of the ledger.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, Final, TypeVar

import click
import pyarrow as pa

from rewardrules.cli._overlap import WriteBehind, threads_on
from rewardrules.cli._progress import Progress
from rewardrules.cli._tables import PLAIN, Block, Look
from rewardrules.cli._workbook import check_workbook_options, is_workbook
from rewardrules.cli.customer_chunks import chunk_rows, event_month_columns
from rewardrules.cli.dry_run_cluster import LedgerDirectory
from rewardrules.engine.ledger import Evaluation, Totals
from rewardrules.events import AnyEvent, Customer, ReferralQualified
from rewardrules.program.model import Program, gives_points
from rewardrules.tools.export import SheetStyle, sheet_csv
from rewardrules.tools.ledger_files import (
    ROW_GROUP_ENTRIES,
    LedgerFile,
    LedgerFileError,
    ledger_file_format,
)
from rewardrules.tools.ledger_sums import ledger_pieces
from rewardrules.tools.summary import Group, Summary, SummaryBuilder

_Result = TypeVar("_Result")
_Command = TypeVar("_Command", bound=Callable[..., None])


def _ledger_path(
    _context: click.Context, _parameter: click.Parameter, value: str | None
) -> Path | LedgerDirectory | None:
    """Read ``--output``: a path whose extension is a ledger file format, or ``DIR/``."""
    if value is None:
        return None
    if value.endswith(("/", os.sep)) or Path(value).is_dir():
        return LedgerDirectory(Path(value))
    if is_workbook(Path(value)):
        return Path(value)  # for --format xlsx (cli._workbook)
    try:
        ledger_file_format(value)
    except LedgerFileError as error:
        raise click.BadParameter(error.problems[0].message) from None
    return Path(value)


_OUTPUT_OPTIONS = (
    click.option(
        "--output",
        "output_file",
        type=click.Path(),
        callback=_ledger_path,
        help=(
            "Write the ledger to this file as it is produced (.parquet, .csv or .jsonl) and "
            "print the summary instead of the ledger; with --workers or --scheduler, DIR/ "
            "for one Parquet file per partition; with --format xlsx, the workbook (.xlsx)."
        ),
    ),
    click.option(
        "--summary",
        is_flag=True,
        help="Print only totals per rule, per tier and per month (docs/json-output.md).",
    ),
    click.option(
        "--quiet",
        is_flag=True,
        help="No progress bar on standard error (shown only on a terminal, for large histories).",
    ),
)


def _csv_delimiter(
    _context: click.Context, _parameter: click.Parameter, value: str | None
) -> str | None:
    if value is not None and (len(value) != 1 or value in '"\r\n'):
        raise click.BadParameter(f"give one character, such as ';' (got {value!r})")
    return value


_CSV_OPTIONS = (
    click.option(
        "--csv-delimiter",
        callback=_csv_delimiter,
        help="With --format csv: the character between cells (default ',', or ';' with "
        "--csv-decimal-comma).",
    ),
    click.option(
        "--csv-decimal-comma",
        is_flag=True,
        help="With --format csv: write amounts 4,50 (cells separated by ';' unless "
        "--csv-delimiter says otherwise).",
    ),
)


def csv_options(command: _Command) -> _Command:
    """Add --csv-delimiter and --csv-decimal-comma (passed as csv_delimiter, csv_decimal_comma)."""
    for option in reversed(_CSV_OPTIONS):
        command = option(command)
    return command


def sheet_style(output_format: str, delimiter: str | None, decimal_comma: bool) -> SheetStyle:
    """The style of ``--format csv`` from its options.

    Raises:
        click.UsageError: an option of the CSV output without ``--format csv``.
    """
    if output_format != "csv" and (delimiter is not None or decimal_comma):
        given = "--csv-delimiter" if delimiter is not None else "--csv-decimal-comma"
        raise click.UsageError(
            f"{given} shapes the ledger of --format csv; add --format csv "
            "(the history's own separator is --delimiter)"
        )
    if delimiter is None:
        delimiter = ";" if decimal_comma else ","
    return SheetStyle(delimiter, decimal_comma)


class EventDates:
    """The local date of each event read, in the program's time zone, for ``--format csv``."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.dates: dict[str, str] = {}

    def watch(self, events: Iterable[AnyEvent]) -> Iterator[AnyEvent]:
        """Pass the events through, noting each one's local date."""
        zone = self.program.zone
        for event in events:
            self.dates[event.id] = event.at.astimezone(zone).date().isoformat()
            yield event

    def xlsx(self, evaluation: Evaluation) -> bytes:
        """The ledger and the totals as ``--format xlsx`` writes them (``tools.export_xlsx``)."""
        from rewardrules.tools.export_xlsx import sheet_xlsx  # noqa: PLC0415 -- xlsx only

        return sheet_xlsx(
            evaluation,
            dates=self.dates,
            rule_ids=frozenset(rule.id for rule in self.program.rules),
            point_value=self.program.points.value,
        )

    def csv(self, evaluation: Evaluation, style: SheetStyle) -> str:
        """The ledger as ``--format csv`` prints it (``tools.export.sheet_csv``)."""
        return sheet_csv(
            evaluation,
            dates=self.dates,
            rule_ids=frozenset(rule.id for rule in self.program.rules),
            point_value=self.program.points.value,
            style=style,
        )


_PROFILE_HINTS: Final = {
    "birthday": "a birthday rule; give --customers FILE with birthdays, "
    "or no birthday gifts are given",
    "signup_bonus": "a sign-up rule; give --customers FILE with joined_at dates, "
    "or no sign-up bonuses are given",
    "referral": "a referral rule; give --customers FILE with referred_by, "
    "or no referral rewards are given",
}
"""The kinds that read customer profiles, and what a dry-run without them says."""


def profile_hints(program: Program) -> list[str]:
    """One line for each kind of the program's rules that needs ``--customers``, in the
    order of the rules, each kind once."""
    kinds = dict.fromkeys(rule.kind for rule in program.rules if rule.kind in _PROFILE_HINTS)
    return [f"hint: the program has {_PROFILE_HINTS[kind]}" for kind in kinds]


def hint_missing_customers(program: Program, customers: Path | None) -> None:
    """Say on standard error, without ``--customers``, which rules give nothing without it."""
    if customers is None:
        for hint in profile_hints(program):
            click.echo(hint, err=True)


def output_options(command: _Command) -> _Command:
    """Add --output FILE, --summary and --quiet (passed as output_file, summary, quiet)."""
    for option in reversed(_OUTPUT_OPTIONS):
        command = option(command)
    return command


def check_output_options(
    output: Path | None, summary: bool, output_format: str, explain: bool
) -> None:
    """Refuse the combinations that make no sense, before any file is read.

    Raises:
        click.UsageError: ``--explain`` or ``--format csv`` with ``--output`` or ``--summary``;
            what ``cli._workbook.check_workbook_options`` refuses.
    """
    check_workbook_options(output, summary, output_format)
    if (output is None and not summary) or output_format == "xlsx":
        return
    given = "--output" if output is not None else "--summary"
    if explain:
        raise click.UsageError(f"--explain shows every event; it cannot go with {given}")
    if output_format == "csv":
        raise click.UsageError(
            f"--format csv prints the ledger; with {given} choose --format table or json "
            "(write a CSV ledger with --output ledger.csv)"
        )


class DryRunOutput:
    """What dry-run does besides printing: the progress bar, the ledger file, the summary.

    Args:
        program: the program evaluated.
        history: the history file (its size decides the progress bar).
        output: ``--output``: where the ledger goes, or None.
        summary: ``--summary`` was given (``--output`` implies it).
        quiet: ``--quiet``: no progress bar.

    Raises:
        click.BadParameter: the output file is the history.
    """

    def __init__(
        self, program: Program, history: Path, *, output: Path | None, summary: bool, quiet: bool
    ) -> None:
        self.program = program
        self.output = output
        self.summarises = summary or output is not None
        self.entries = 0
        if output is not None and _same_file(output, history):
            raise click.BadParameter(
                f"{output} is the history; write the ledger to another file",
                param_hint="'--output'",
            )
        self._builder = SummaryBuilder(program) if self.summarises else None
        self._customers: list[Customer] = []
        self._facts: list[ReferralQualified] = []
        self._progress = Progress(history, quiet=quiet)

    def note_openings(self, customers: list[Customer]) -> list[Customer]:
        """Note the profiles read, and give them back: their opening lots' entries go to the
        months the lots were earned in (tools/summary.py, :func:`opening_months`)."""
        self._customers = customers
        if self._builder is not None:
            self._builder.note_openings(customers)
        return customers

    def note_referral_facts(self, facts: list[ReferralQualified]) -> None:
        """Note the referral facts supplied to the chunks of :meth:`stream` (a friend's
        in another chunk): their referrers' entries go to their months in the summary."""
        self._facts = facts

    @property
    def gives_points(self) -> bool:
        """Whether a rule of the program gives points (the points columns are shown)."""
        return any(gives_points(rule) for rule in self.program.rules)

    def watch(self, events: Iterable[AnyEvent]) -> Iterator[AnyEvent]:
        """The events being evaluated, counted for the bar and noted for the months."""
        watched = self._progress.rows(events)
        return iter(self._builder.watch(watched) if self._builder is not None else watched)

    def evaluating(self, action: Callable[[], _Result]) -> _Result:
        """Run the evaluation; the bar is taken down if it fails, before the error shows."""
        try:
            return action()
        except BaseException:
            self._progress.close()
            raise

    def finish(self, evaluation: Evaluation) -> Summary | None:
        """Write the ledger (with ``--output``) piece by piece; the summary, if any."""
        builder = self._builder
        if builder is None and self.output is None:
            self._progress.close()
            return None
        with self._progress as progress:
            progress.customers(len(evaluation.customers))
            months = None if builder is None else builder.known_months
            self._write(evaluation, builder, months, progress.customer_done)
        return None if builder is None else builder.finish(evaluation.totals)

    def _write(
        self,
        evaluation: Evaluation,
        builder: SummaryBuilder | None,
        months: Callable[[], tuple[pa.Array[Any], pa.Array[Any]]] | None,
        done: Callable[[], None] | None = None,
        ledger: LedgerFile | None = None,
        size: int = ROW_GROUP_ENTRIES,
        reasons: dict[Any, Any] | None = None,
    ) -> None:
        """Write and count an evaluation's ledger as columns (``ledger_sums.ledger_pieces``):
        no entry is made for the batch engine's results. A ledger file of the caller's is
        written to and left open; else one is opened for ``--output`` and closed. ``size``:
        entries per table; ``reasons``: the batch engine's reasons already written (for
        evaluations of this program), so that each distinct reason is written once;
        ``months`` gives the events' months (``SummaryBuilder.known_months``) when a piece
        needs them (one without the batch engine's integer columns)."""
        output = self.output
        owned = ledger is None and output is not None
        if owned and output is not None:
            ledger = LedgerFile(output, evaluation.money)
        try:
            if reasons is None:
                reasons = {}
            for piece in ledger_pieces(evaluation.customers, evaluation.money, size, reasons):
                if ledger is not None:
                    ledger.write_table(piece.table)
                if builder is not None and months is not None:
                    builder.count_piece(piece, months)
                if done is not None:
                    for _ in range(len(piece.customer_tiers)):
                        done()
        except BaseException:
            if ledger is not None:
                ledger.discard()
            raise
        if owned and ledger is not None:
            ledger.close()
            self.entries = ledger.entries

    def stream(self, chunks: Iterable[tuple[pa.Table, Evaluation]]) -> tuple[Evaluation, Summary]:
        """Write and count the evaluations of chunks of whole customers, one chunk at a time.

        Each chunk's ledger goes to ``--output`` and into the summary before the next chunk
        is evaluated; only the totals are kept. On an error the ledger file is discarded.

        Returns:
            The evaluation with no customers and the totals of all chunks, and the summary.
        """
        program = self.program
        builder = SummaryBuilder(program)
        builder.note_openings(self._customers)
        builder.note_referral_facts(self._facts)
        output = self.output
        ledger = None if output is None else LedgerFile(output, self.program.money)
        first: Evaluation | None = None
        sums: dict[str, Any] = {}
        counts = [0, 0]  # rows and customers written
        days: dict[int, tuple[str, str]] = {}  # the months of each day, across chunks
        reasons: dict[Any, Any] = {}  # the reasons written, across chunks
        size = piece_entries()

        def write(chunk: tuple[pa.Table, Evaluation]) -> None:
            table, evaluation = chunk
            months = _once(partial(event_month_columns, table, program, days))
            self._write(evaluation, builder, months, None, ledger, size, reasons)
            counts[0] += table.num_rows
            counts[1] += len(evaluation.customers)
            self._progress.chunk(counts[0], counts[1])

        # The ledger of a chunk is written in a thread while the next one is evaluated.
        writer = WriteBehind(write, threaded=threads_on())
        try:
            for table, evaluation in chunks:
                if first is None:
                    first = evaluation
                for name in _SUMMED:
                    sums[name] = sums.get(name, 0) + getattr(evaluation.totals, name)
                writer.put((table, evaluation))
                del table, evaluation  # the writer's now: not held while the next is evaluated
            writer.finish()
        except BaseException as error:
            instead = writer.stop(error)  # an earlier chunk's write error comes first
            if ledger is not None:
                ledger.discard()
            self._progress.close()
            if instead is not None:
                raise instead from None
            raise
        if ledger is not None:
            ledger.close()
            self.entries = ledger.entries
        self._progress.close()
        if first is None:  # pragma: no cover - the chunks always hold one evaluation
            raise ValueError("no evaluation to stream")
        totals = dataclasses.replace(first.totals, **sums)
        return dataclasses.replace(first, customers=(), totals=totals), builder.finish(totals)

    @property
    def progress(self) -> Progress:
        """The progress bar (``dry-run --jobs`` moves it chunk by chunk, as :meth:`stream`)."""
        return self._progress

    def close(self) -> None:
        """Take the progress bar down (before anything is printed)."""
        self._progress.close()

    def summary_json(self, summary: Summary) -> str:
        """The summary as JSON text; with ``--output``, where the ledger went."""
        document = summary.to_dict()
        if self.output is not None:
            document["ledger"] = {"file": str(self.output), "entries": self.entries}
        return json.dumps(document, indent=2, ensure_ascii=False)

    def summary_text(self, summary: Summary, totals_block: Block, look: Look = PLAIN) -> str:
        """The summary's tables, then the program totals block: aligned columns, or rich
        tables with ``look`` (``cli._tables``)."""
        program = self.program
        points = self.gives_points
        code = program.money.code
        header = f"{program.name} ({program.program}) - {code}: summary"
        blocks = [Block("Per rule", _table("rule", summary.by_rule, points, code), figures=True)]
        if summary.by_tier:
            tiers = _table("tier", summary.by_tier, points, code)
            blocks.append(Block("Per tier", tiers, figures=True))
        months = _table("month", summary.by_month, points, code)
        blocks += [Block("Per month", months, figures=True), totals_block]
        if self.output is not None:
            blocks.append(Block(f"Ledger: {self.entries} entries written to {self.output}", []))
        return look.render(header, blocks)


_SUMMED = tuple(
    field.name for field in dataclasses.fields(Totals) if field.name not in ("money", "point_value")
)
"""The totals' counts and sums, added up over chunks."""


def summed_totals(chunks: Iterable[Totals]) -> Totals:
    """The totals of the chunks of one history: each count and sum added up (the currency
    and the point value are the first chunk's, the program's)."""
    first: Totals | None = None
    sums: dict[str, Any] = {}
    for totals in chunks:
        first = first or totals
        for name in _SUMMED:
            sums[name] = sums.get(name, 0) + getattr(totals, name)
    if first is None:
        raise ValueError("no totals to add up")
    return dataclasses.replace(first, **sums)


def _once(make: Callable[[], _Result]) -> Callable[[], _Result]:
    """``make``, called the first time only (the events' months, only if a piece needs
    them: the batch engine's pieces carry their events' dates)."""
    made: list[_Result] = []

    def once() -> _Result:
        if not made:
            made.append(make())
        return made[0]

    return once


def piece_entries() -> int:
    """Entries per table of a streamed chunk: a chunk's ledger (a little more than one
    entry a row on the examples) in one table, so that its reasons are formatted once."""
    return max(ROW_GROUP_ENTRIES, 2 * chunk_rows())


def _same_file(one: Path, other: Path) -> bool:
    try:
        return one.resolve() == other.resolve()
    except OSError:
        return False


def _table(name: str, groups: Sequence[Group], points: bool, code: str) -> list[list[str]]:
    head = [name] + (["customers"] if name == "tier" else []) + ["entries"]
    if points:
        head += ["points net", "redeemed", "expired"]
    head += [f"value given ({code})", f"cost ({code})"]
    rows: list[list[str]] = [head]
    for group in groups:
        totals = group.totals
        money = totals.money.to_decimal
        key = group.key
        if key is None:
            key = "(no tier)" if name == "tier" else "(unknown)"
        elif group.source == "catalogue":
            key += " (redemptions)"
        row = [key] + ([f"{totals.customers:,}"] if name == "tier" else []) + [f"{group.entries:,}"]
        if points:
            row += [f"{totals.points_net:,}", f"{totals.points_redeemed:,}"]
            row.append(f"{totals.points_expired:,}")
        row += [_money(money(totals.value_given)), _money(money(totals.estimated_cost))]
        rows.append(row)
    return rows


def _money(value: Decimal) -> str:
    """An amount with thousands separators: 1,234.50."""
    return format(value, ",f")
