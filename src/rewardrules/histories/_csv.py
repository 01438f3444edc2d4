"""Reading CSV histories and customer profiles, row by row.

A CSV history has one row per purchase line (or refund line); the adjacent rows with one
``event_id`` make one event. A redemption (its ``quantity`` the units redeemed, 1 when empty)
and a cancellation of a redemption (its ``redemption_id`` the redemption cancelled) are
single rows. A row whose cells are those of
the row before it is refused (``duplicate-row``): it is an overlap of a resumed export far
more often than a second unit, which is written as quantity 2. Error lines count physical lines,
so a quoted cell holding a line break does not shift them. ``docs/histories.md`` describes
the columns.

A referral (:class:`~rewardrules.events.ReferralQualified`) has no columns: a row of type
``referral`` is refused, saying so. ``evaluate`` finds referrals itself in the friend's
purchases; a referral is supplied only to evaluate a referrer without the friend's history,
which is rare enough that two columns used by no other row would cost every export more than
they give. Such a referral is written in a JSON or JSON Lines history.
"""

from __future__ import annotations

import csv
import functools
import operator
import unicodedata
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING

from rewardrules._ids import shown_apart
from rewardrules._model_errors import CURRENCY_HINT, ModelInputError
from rewardrules._wording import required
from rewardrules.errors import HistoryError, Location, Problem, closest
from rewardrules.events import AnyEvent, CancelRedemption, Purchase, Redemption, Refund
from rewardrules.histories._records import (
    CSV_MODELS,
    CSV_TYPES_HELP,
    MAX_DIGITS,
    REFERRAL_IN_CSV,
    REFERRAL_IN_CSV_HINT,
    CsvOptions,
    RecordError,
    amount,
    history_error,
    issues,
    located,
    timestamp,
    whole,
)

if TYPE_CHECKING:
    from _csv import Reader

_EVENT_COLUMNS = (
    "event_id", "type", "customer_id", "at", "sku", "category", "quantity", "unit_price",
    "purchase_id",
)  # fmt: skip
_OPTIONAL_EVENT_COLUMNS = ("store", "reward", "payments", "redemption_id")
_HEAD_COLUMNS = (
    "type", "customer_id", "at", "purchase_id", "store", "reward", "payments", "redemption_id",
)  # one per event  # fmt: skip
_PAYMENTS_HINT = (
    "write each payment as method:amount, separated by spaces, e.g. "
    "'stored_value:9.00 cash:6.00'; repeat the cell on every row of the purchase"
)
# A redemption's row holds its id, type, customer, time, reward and quantity (optional), a
# cancellation's its redemption_id instead of the last two; these cells stay empty.
_NOT_REDEMPTION_COLUMNS = ("sku", "category", "unit_price")
_NOT_CANCEL_COLUMNS = ("sku", "category", "quantity", "unit_price")
_SINGLE_ROWS = {Redemption: "redemption", CancelRedemption: "cancel_redemption"}
_CUSTOMER_COLUMNS = (
    "customer_id",
    "joined_at",
    "birthday",
    "referred_by",
    "opening_points",
    "tier",
    "tier_until",
)
_OVERLAP_HINT = "if an export was resumed with an overlap, delete the repeated row"
_TWO_UNITS_HINT = (
    "a row is one line of an event, so a repeat is not read as a second unit: for two "
    f"units, write quantity 2 on one row; {_OVERLAP_HINT}"
)


def read_events(stream: Iterable[str], source: str, options: CsvOptions) -> Iterator[AnyEvent]:
    """The events of a CSV history, each built once its last row is read."""
    columns, rows = _csv_table(
        stream, source, options, _EVENT_COLUMNS, _OPTIONAL_EVENT_COLUMNS, _TWO_UNITS_HINT
    )
    cells = operator.itemgetter(*(columns[name] for name in _EVENT_COLUMNS))
    store, reward = columns.get("store"), columns.get("reward")
    payments, cancelled = columns.get("payments"), columns.get("redemption_id")
    seen: dict[str, int] = {}
    event: _CsvEvent | None = None
    line = 1
    try:
        for line, row in rows:
            event_id, kind, customer, at, sku, category, quantity, price, purchase = cells(row)
            head = (
                kind,
                customer,
                at,
                purchase,
                "" if store is None else row[store],
                "" if reward is None else row[reward],
                "" if payments is None else row[payments],
                "" if cancelled is None else row[cancelled],
            )
            if event is None or event_id != event.id:
                if event is not None:
                    yield event.build()
                if (first := seen.setdefault(event_id, line)) != line:
                    message = (
                        f"event {event_id!r} appears again (its first rows start on line "
                        f"{first}); the rows of one event must be adjacent, and an event id "
                        "is used by one event only"
                    )
                    hint = "remove the rows of a re-sent export before reading"
                    raise RecordError(("event_id",), message, "split-event", None, hint)
                event = _CsvEvent(source, line, event_id, head, options.decimal_comma)
                if event.model is Redemption and reward is None:
                    message = f"{required('reward')}; the header has no 'reward' column"
                    hint = "add a 'reward' column holding the catalogue reward's id"
                    raise RecordError(("reward",), message, "missing-field", None, hint)
                if event.model is CancelRedemption and cancelled is None:
                    message = (
                        f"{required('redemption_id')}; the header has no 'redemption_id' column"
                    )
                    hint = "add a 'redemption_id' column holding the id of the redemption cancelled"
                    raise RecordError(("redemption_id",), message, "missing-field", None, hint)
            event.add(line, head, sku, category, quantity, price)
        if event is not None:
            yield event.build()
    except RecordError as exc:
        raise located(exc, source, line) from None


def customer_rows(
    stream: Iterable[str], source: str, options: CsvOptions
) -> Iterator[tuple[int, dict[str, str]]]:
    """Check the header now; then each profile row as (line, its non-empty cells by column)."""
    required, optional = _CUSTOMER_COLUMNS[:1], _CUSTOMER_COLUMNS[1:]
    columns, rows = _csv_table(stream, source, options, required, optional, _OVERLAP_HINT)
    return ((line, {k: row[i] for k, i in columns.items() if row[i]}) for line, row in rows)


def find_event(
    stream: Iterable[str], event_id: str, delimiter: str = ","
) -> tuple[int, int] | None:
    """The line and column of the first row of an event; None if absent or not valid CSV."""
    reader = csv.reader(stream, delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None or "event_id" not in header:
            return None
        column = header.index("event_id")
        previous = reader.line_num
        for row in reader:
            line, previous = previous + 1, reader.line_num  # as the reader counts lines
            if len(row) > column and unicodedata.normalize("NFC", row[column]) == event_id:
                return line, 1
    except csv.Error:
        return None
    return None


def _csv_table(
    stream: Iterable[str],
    source: str,
    options: CsvOptions,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    repeat_hint: str,
) -> tuple[dict[str, int], Iterator[tuple[int, list[str]]]]:
    """Check the header; return the column of each name, and the rows with their line."""
    # strict: a quote left open is an error, not a cell that swallows the rest of the file
    reader = csv.reader(stream, delimiter=options.delimiter, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise _csv_error(source, exc, 1) from None
    if header is None:
        message = f"the file is empty; its first line must be the header {','.join(required)}"
        raise history_error(source, 1, (), message, "missing-header")
    known, at = required + optional, Location(source, 1, 1)
    _check_delimiter(header, known, options.delimiter, at)
    columns: dict[str, int] = {}
    problems: list[Problem] = []
    for index, name in enumerate(header):
        if name in columns:
            problems.append(Problem(f"column {name!r} appears twice", (), at, "duplicate-column"))
        elif not name.strip():
            message = f"column {index + 1} of the header has no name"
            hint = "name it, or delete the column if it is empty"
            problems.append(Problem(message, (), at, "missing-column-name", hint))
        elif name not in known:
            close = closest(name, known)
            hint = f"did you mean {close[0]!r}?" if close else f"the columns are {', '.join(known)}"
            hint = f"remove the spaces around {name.strip()!r}" if name.strip() in known else hint
            hint = CURRENCY_HINT if name.strip().lower() == "currency" else hint
            message = (
                f"unknown column {name!r}" if name.isprintable() else f"unknown column {name!a}"
            )
            problems.append(Problem(message, (), at, "unknown-column", hint))
        columns.setdefault(name, index)
    problems += [
        Problem(f"the header has no {name!r} column", (), at, "missing-column")
        for name in required
        if name not in columns
    ]
    if problems:
        raise HistoryError(problems)
    return columns, _csv_rows(reader, source, len(header), repeat_hint)


def _check_delimiter(
    header: list[str], known: tuple[str, ...], delimiter: str, at: Location
) -> None:
    """Refuse a header written with another separator than the one the file is read with."""
    if len(header) != 1:
        return
    for other in ";,\t|":
        if other != delimiter and len(set(header[0].split(other)) & set(known)) >= 2:
            shown = "a tab" if other == "\t" else repr(other)
            message = f"the header is separated by {shown}, not {delimiter!r}"
            if other == ",":
                hint = "read it with delimiter=',' (on the command line: --delimiter ',')"
            else:
                hint = (
                    "re-export it as comma-separated with a point in amounts (4.50), "
                    f"or read it with delimiter={other!r} (and decimal_comma=True if amounts "
                    f"are written 4,50; on the command line: --delimiter {other!r} "
                    "--decimal-comma)"
                )
            raise HistoryError([Problem(message, (), at, "wrong-delimiter", hint)])


def _csv_error(source: str, exc: csv.Error, line: int) -> HistoryError:
    """A CSV syntax error in plain words, at the first line of the row it is in."""
    text = str(exc)
    if text == "unexpected end of data":
        message = "a quote opened in this row is never closed"
        hint, code = (
            "was the file cut short? a quote inside a cell is written twice",
            "unclosed-quote",
        )
    elif text.startswith("field larger than field limit"):
        message = f"a cell is longer than {csv.field_size_limit()} characters"
        hint, code = "is a quote left open?", "too-long"
    else:
        message = f"not valid CSV: {text}"
        hint, code = 'a quote inside a quoted cell is written twice: ""', "not-csv"
    return history_error(source, line, (), message, code, 1, hint)


def _csv_rows(
    reader: Reader, source: str, width: int, repeat_hint: str
) -> Iterator[tuple[int, list[str]]]:
    """The non-blank rows with their line; a row that repeats the one before it is refused."""
    previous = reader.line_num
    last: list[str] = []
    last_line = 0
    try:
        for row in reader:
            line, previous = previous + 1, reader.line_num  # a quoted cell may span lines
            if not row:
                continue
            if row == last:
                message = f"this row repeats line {last_line} exactly"
                raise history_error(source, line, (), message, "duplicate-row", 1, repeat_hint)
            last, last_line = row, line
            if len(row) != width:
                message = f"this row has {len(row)} cells but the header has {width} columns"
                delimiter = reader.dialect.delimiter
                hint = (
                    f"put a cell that holds {delimiter!r} in double quotes"
                    if len(row) > width
                    else None
                )
                raise history_error(source, line, (), message, "bad-row", 1, hint)
            yield line, row
    except csv.Error as exc:
        raise _csv_error(source, exc, previous + 1) from None


def _nfc(cells: tuple[str, ...]) -> tuple[str, ...]:
    """The cells in one spelling: rows that differ only in it are of one event."""
    return tuple(unicodedata.normalize("NFC", cell) for cell in cells)


@functools.lru_cache(maxsize=4096)  # prices repeat; a Decimal is immutable
def _csv_amount(text: str, decimal_comma: bool) -> Decimal:
    return amount(text, ("unit_price",), decimal_comma)


def payment_pairs(text: str, decimal_comma: bool) -> list[dict[str, object]]:
    """A ``payments`` cell: ``method:amount`` pairs separated by spaces, in order."""
    pairs: list[dict[str, object]] = []
    for position, pair in enumerate(text.split()):
        method, colon, written = pair.rpartition(":")
        if not colon or not method or not written:
            message = f"must be method:amount pairs separated by spaces (got {pair!r})"
            raise RecordError(("payments",), message, "bad-payments", None, _PAYMENTS_HINT)
        paid = amount(written, ("payments", position, "amount"), decimal_comma)
        pairs.append({"method": method, "amount": paid})
    return pairs


class _CsvEvent:
    """The adjacent rows of one event of a CSV history, gathered until its id changes."""

    __slots__ = (
        "data", "decimal_comma", "head", "id", "line", "line_numbers", "lines", "model", "source",
        "whole",
    )  # fmt: skip

    def __init__(
        self, source: str, line: int, event_id: str, head: tuple[str, ...], decimal_comma: bool
    ) -> None:
        kind, customer_id, at, purchase_id, store, reward, payments, cancelled = head
        model = CSV_MODELS.get(kind)
        if kind == "referral":
            raise RecordError(
                ("type",), REFERRAL_IN_CSV, "unknown-type", None, REFERRAL_IN_CSV_HINT
            )
        if model is None:
            message = f"must be {CSV_TYPES_HELP} (got {kind!r})"
            raise RecordError(("type",), message, "unknown-type")
        if model is not Refund and purchase_id:
            message = f"must be empty for a {kind}; only a refund names a purchase"
            raise RecordError(("purchase_id",), message, "not-empty")
        if model is not Purchase and store:
            raise RecordError(("store",), f"must be empty for a {kind}", "not-empty")
        if model is not Purchase and payments:
            message = f"must be empty for a {kind}; only a purchase records its payments"
            raise RecordError(("payments",), message, "not-empty")
        if model is not Redemption and reward:
            message = f"must be empty for a {kind}; only a redemption names a reward"
            raise RecordError(("reward",), message, "not-empty")
        if model is not CancelRedemption and cancelled:
            message = f"must be empty for a {kind}; only a cancel_redemption names a redemption"
            raise RecordError(("redemption_id",), message, "not-empty")
        self.source, self.line, self.id, self.head, self.model = source, line, event_id, head, model
        self.decimal_comma = decimal_comma
        self.data: dict[str, object] = {"type": kind}  # an empty cell is an absent field
        if event_id:
            self.data["id"] = event_id
        if customer_id:
            self.data["customer_id"] = customer_id
        if at:
            self.data["at"] = timestamp(at, ("at",))
        if purchase_id:
            self.data["purchase_id"] = purchase_id
        if store:
            self.data["store"] = store
        if reward:
            self.data["reward"] = reward
        if payments:
            self.data["payments"] = payment_pairs(payments, decimal_comma)
        if cancelled:
            self.data["redemption_id"] = cancelled
        self.lines: list[dict[str, object]] = []
        self.line_numbers: list[int] = []
        self.whole = False

    def add(
        self, line: int, head: tuple[str, ...], sku: str, category: str, quantity: str, price: str
    ) -> None:
        """Add one row: its event cells must agree with the first row's; it adds a line."""
        if self.model is Redemption or self.model is CancelRedemption:
            self._add_single_row(line, sku, category, quantity, price)
            return
        if head != self.head and _nfc(head) != _nfc(self.head):
            name, here, there = next(
                d for d in zip(_HEAD_COLUMNS, _nfc(head), _nfc(self.head), strict=True)
                if d[1] != d[2]
            )  # fmt: skip
            here, there = shown_apart(here, there)
            message = (
                f"is {here} here but {there} on line {self.line}, the first row of event "
                f"{self.id!r}; the rows of one event must agree"
            )
            raise RecordError((name,), message, "inconsistent-event")
        if self.model is Refund:
            if category or price:
                column = "category" if category else "unit_price"
                raise RecordError((column,), "must be empty for a refund", "not-empty")
            everything = not (sku or quantity)
            if self.whole or (everything and self.lines):
                message = (
                    "a refund row with empty sku and quantity returns the whole purchase, "
                    "so it must be the only row of its event"
                )
                raise RecordError(("sku",), message, "whole-refund")
            if everything:
                self.whole = True
                return
        item: dict[str, object] = {"sku": sku} if sku else {}
        if category:
            item["category"] = category
        if quantity:  # the fast path first: a million rows are mostly plain digits
            is_plain = len(quantity) <= MAX_DIGITS and quantity.isdigit() and quantity.isascii()
            item["quantity"] = int(quantity) if is_plain else whole(quantity, ("quantity",))
        if price:
            item["unit_price"] = _csv_amount(price, self.decimal_comma)
        self.lines.append(item)
        self.line_numbers.append(line)

    def _add_single_row(
        self, line: int, sku: str, category: str, quantity: str, price: str
    ) -> None:
        """A redemption or cancellation is its first row alone: the line cells stay empty
        (but a redemption's quantity), no second row."""
        kind = _SINGLE_ROWS[self.model]
        if self.line_numbers:
            message = (
                f"event {self.id!r} appears twice (first on line {self.line}); a {kind} is one row"
            )
            hint = "remove the rows of a re-sent export before reading"
            raise RecordError(("event_id",), message, "duplicate-id", None, hint)
        names: tuple[str, ...]
        cells: tuple[str, ...]
        if self.model is Redemption:
            names, cells = _NOT_REDEMPTION_COLUMNS, (sku, category, price)
        else:
            names, cells = _NOT_CANCEL_COLUMNS, (sku, category, quantity, price)
        for column, cell in zip(names, cells, strict=True):
            if cell:
                message = f"must be empty for a {kind}; only a purchase or refund has lines"
                if column == "quantity":
                    message = f"must be empty for a {kind}; only its redemption has a quantity"
                raise RecordError((column,), message, "not-empty")
        if self.model is Redemption and quantity:
            self.data["quantity"] = whole(quantity, ("quantity",))
        self.line_numbers.append(line)

    def build(self) -> AnyEvent:
        """Validate the gathered event; problems point at the row and name the column."""
        if self.model not in _SINGLE_ROWS and not self.whole:
            self.data["lines"] = self.lines
        try:
            return self.model.model_validate(self.data)
        except ModelInputError as exc:
            problems = []
            for path, message, suggestion, code in issues(exc):
                in_line = len(path) > 1 and path[0] == "lines" and isinstance(path[1], int)
                line = self.line_numbers[int(path[1])] if in_line else self.line
                column = ("event_id" if path[-1] == "id" else path[-1],) if path else ()
                location = Location(self.source, line, 1)
                problems.append(Problem(message, column, location, code, suggestion))
            raise HistoryError(problems) from None
