"""A progress bar on standard error for a dry-run over a large history.

Shown only when standard error is a terminal, ``--quiet`` is not given, and the history is
large: a file of at least :data:`LARGE_BYTES`, or a Parquet file of more than
:data:`LARGE_ROWS` rows. It shows the rows read (out of the rows the file has, counted
before reading: the lines of a CSV or JSON Lines file, a Parquet file's row count; a
``.json`` file has no count, so no time left), the customers written, the rate and the time
left. Otherwise every method does nothing and nothing is written to standard error.

Rows are counted as the file has them: one per purchase line, refund line (or whole refund)
and redemption in CSV and Parquet, one per event in JSON Lines and JSON.

Two lines: the rows read, then the customers. The reference engine reads the whole history
before it evaluates, so the rows fill first, the customers' line says "evaluating" while the
engine works, then counts the customers as their results are written or summed, out of
their number. The streamed batch dry-run (``--engine batch`` with ``--output`` or
``--summary``) moves both together, chunk by chunk (:meth:`Progress.chunk`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Final, TextIO

from rewardrules.events import AnyEvent, Purchase, Refund

LARGE_BYTES: Final = 8 * 1024 * 1024
"""A history file of at least this many bytes (about 100,000 CSV rows) shows progress."""
LARGE_ROWS: Final = 100_000
"""A Parquet history of more rows than this shows progress."""
_EVERY: Final = 4096
"""Rows between two updates of the bar: updating it at every row would cost more than
reading the row."""
_CHUNK: Final = 1 << 20


def is_large(path: Path) -> bool:
    """Whether a history is large enough for a progress bar (False if it cannot be read)."""
    try:
        if path.suffix.lower() == ".parquet":
            return _parquet_rows(path) > LARGE_ROWS
        return path.stat().st_size >= LARGE_BYTES
    except (OSError, ValueError):
        return False


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq  # noqa: PLC0415 -- only for a Parquet history

    return int(pq.ParquetFile(path).metadata.num_rows)


def count_rows(path: Path) -> int | None:
    """The rows a history file has, without reading its records; None for a JSON file.

    CSV: its lines less the header; JSON Lines: its lines (blank ones included, so the count
    may be a little high); Parquet: the row count of its metadata.
    """
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _parquet_rows(path)
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        return None
    lines = 0
    last = b"\n"
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    return max(lines - 1, 0) if suffix == ".csv" else lines


def _rows_of(event: AnyEvent, per_line: bool) -> int:
    if not per_line:
        return 1
    if isinstance(event, Purchase | Refund) and event.lines:
        return len(event.lines)
    return 1


class Progress:
    """Rows read and customers written, on standard error; a no-op when not shown.

    Args:
        history: the history file.
        quiet: ``--quiet`` was given.
        stream: where the bar goes (standard error).
    """

    def __init__(self, history: Path, *, quiet: bool, stream: TextIO | None = None) -> None:
        self._stream = sys.stderr if stream is None else stream
        self._shown = not quiet and _is_terminal(self._stream) and is_large(history)
        self._history = history
        self._per_line = history.suffix.lower() in (".csv", ".parquet")
        if self._shown:
            self._start()

    @property
    def shown(self) -> bool:
        """Whether a bar is on screen."""
        return self._shown

    def _start(self) -> None:
        from rich.console import Console  # noqa: PLC0415 -- rich only when a bar is shown
        from rich.progress import (  # noqa: PLC0415
            BarColumn,
            MofNCompleteColumn,
            ProgressColumn,
            SpinnerColumn,
            Task,
            TaskID,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar  # noqa: PLC0415
        from rich.text import Text  # noqa: PLC0415

        class RateColumn(ProgressColumn):
            """Rows or customers per second, from rich's running estimate."""

            def render(self, task: Task) -> Text:
                speed = task.finished_speed or task.speed
                shown = "?" if speed is None else f"{speed:,.0f}"
                return Text(f"{shown} {task.fields['unit']}/s")

        try:
            total = count_rows(self._history)
        except OSError:
            total = None
        self._bar = Bar(
            SpinnerColumn(),
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]},"),
            RateColumn(),
            TimeRemainingColumn(),
            console=Console(file=self._stream),
            transient=False,
        )
        self._rows = self._bar.add_task("reading", total=total, unit="rows")
        self._customers: TaskID | None = None
        self._done = 0
        self._streamed = False
        self._bar.start()

    def rows(self, events: Iterable[AnyEvent]) -> Iterator[AnyEvent]:
        """Pass events through, counting their rows; after the last, "evaluating" begins."""
        if not self._shown:
            yield from events
            return
        per_line = self._per_line
        rows = 0
        pending = 0
        for event in events:
            pending += _rows_of(event, per_line)
            if pending >= _EVERY:
                rows += pending
                pending = 0
                self._bar.update(self._rows, completed=rows)
            yield event
        rows += pending
        self._bar.update(self._rows, completed=rows, total=rows, description="read")
        self._customers = self._bar.add_task("evaluating", total=None, unit="customers")

    def customers(self, total: int | None) -> None:
        """The results are coming: ``total`` customers, if known, to write."""
        if self._shown:
            if self._customers is None:
                self._customers = self._bar.add_task("writing", total=total, unit="customers")
            else:
                self._bar.update(self._customers, total=total, description="writing")

    def customer_done(self) -> None:
        """One more customer's ledger written."""
        if self._shown:
            self._done += 1
            if self._done % 64 == 0 and self._customers is not None:
                self._bar.update(self._customers, completed=self._done)

    def chunk(self, rows: int, customers: int) -> None:
        """A chunk of whole customers is evaluated and written: rows read and customers
        done so far (a streamed dry-run moves both lines together)."""
        if self._shown:
            if self._customers is None:
                self._customers = self._bar.add_task("evaluating", total=None, unit="customers")
            self._streamed = True
            self._bar.update(self._rows, completed=rows)
            self._done = customers
            self._bar.update(self._customers, completed=customers)

    def close(self) -> None:
        """Show the final counts and leave the bar on screen."""
        if self._shown:
            if self._customers is not None:
                # Streamed, the customers are counted only once they are all done.
                total = self._done if self._streamed else None
                self._bar.update(
                    self._customers, completed=self._done, description="done", total=total
                )
            self._bar.stop()
            self._shown = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False
