"""The checks of a saved state's purchase columns (format 6), on their own.

Every state is checked at every load, and most pass: each test here is first decided over
a whole column in C (``min``, ``max``, ``all`` over ``map``), and only a column that fails
is walked value by value to say where. A problem's path names the column and the index in
it: ``("purchases", "paid", 3)`` is the fourth line's paid amount (the line columns hold
the lines of every purchase, ``purchases.lines`` says how many each has),
``("purchases", "at", 1)`` the second purchase's instant.

:func:`shape_problems` finds columns of the wrong length, which leave the others unreadable:
the other checks of the purchases run only on a state without them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from operator import le, mul

from pydantic_core import PydanticCustomError

from rewardrules._types import FIRST_DATE, LAST_DATE
from rewardrules.engine._state_columns import PER_LINE, PER_PURCHASE, PurchaseColumns, SavedLine
from rewardrules.engine._state_format import micros
from rewardrules.errors import PathItem
from rewardrules.events import MAX_TEXT, _name
from rewardrules.text import counted

Found = Iterator[tuple[tuple[PathItem, ...], str]]

FIRST_AT = micros(datetime(FIRST_DATE.year, 1, 1, tzinfo=UTC))
END_AT = micros(datetime(LAST_DATE.year + 1, 1, 1, tzinfo=UTC))
"""The years a saved purchase's instant may be in, as written: its ``at`` plus its ``offset``
(microseconds), as for events (docs/histories.md)."""
DAY = 86_400
DAY_US = DAY * 1_000_000
_CONTROL = bytes([*range(32), 127])
"""The ASCII characters that are not printable (``str.isprintable``)."""


def shape_problems(columns: PurchaseColumns) -> Found:
    """Columns of another length than the purchases (``id``) or the lines (the sum of
    ``lines``) have, and ``set_aside`` or ``earned_on`` of a purchase not saved."""
    count = len(columns.id)
    fields = columns.__dict__
    if not (
        # The way every saved state goes, decided without a message made.
        {len(fields[name]) for name in PER_PURCHASE} <= {count}
        and {len(given) for given in columns.points.values()} <= {count}
        and {len(fields[name]) for name in PER_LINE} <= {sum(columns.lines)}
    ):
        yield from _length_problems(columns, count)
    if not columns.set_aside and not columns.earned_on:
        return
    saved = set(columns.id)
    for name, kept in (("set_aside", columns.set_aside), ("earned_on", columns.earned_on)):
        for purchase_id in kept:
            if purchase_id not in saved:
                yield (
                    ("purchases", name, purchase_id),
                    f"'{purchase_id}' is none of the saved purchases (purchases.id)",
                )


def _length_problems(columns: PurchaseColumns, count: int) -> Found:
    purchases = counted(count, "purchases")
    for name in PER_PURCHASE[1:]:
        found = len(getattr(columns, name))
        if found != count:
            yield ("purchases", name), f"has {counted(found, 'values')} for {purchases}"
    for rule, given in columns.points.items():
        if len(given) != count:
            yield (
                ("purchases", "points", rule),
                f"has {counted(len(given), 'values')} for {purchases}",
            )
    if len(columns.lines) == count:
        lines = sum(columns.lines)
        for name in PER_LINE:
            found = len(getattr(columns, name))
            if found != lines:
                yield (
                    ("purchases", name),
                    f"has {counted(found, 'values')} for {counted(lines, 'lines')} (the sum "
                    "of purchases.lines)",
                )


def value_problems(columns: PurchaseColumns, exponent: int | None) -> Found:
    """Every value of purchase columns of the right shape that no evaluation can save."""
    if not columns.id:
        return
    yield from _text_problems_of(columns)
    at, offset = columns.at, columns.offset
    # Saved instants are in order: one sort (a linear pass over them) gives both ends. The
    # bound is the events' own, the year as written (the instant at its saved offset): a
    # purchase at 1970-01-01T00:00+14:00 is 1969 in UTC. A day inside the years needs no
    # offset: one is less than a day (checked below).
    ordered = sorted(at)
    if not (ordered[0] >= FIRST_AT + DAY_US and ordered[-1] < END_AT - DAY_US):
        for index, (moment, seconds) in enumerate(zip(at, offset, strict=True)):
            if not FIRST_AT <= moment + seconds * 1_000_000 < END_AT:
                message = f"must be an instant of the years 1970 to 2099 (got {moment})"
                yield ("purchases", "at", index), message
    # Most states are written in UTC: all offsets 0, counted in C.
    if offset.count(0) != len(offset) and not (min(offset) > -DAY and max(offset) < DAY):
        for index, seconds in enumerate(offset):
            if not -DAY < seconds < DAY:
                message = f"must be a UTC offset in seconds (got {seconds})"
                yield ("purchases", "offset", index), message
    if min(columns.lines) < 1:
        for index, lines in enumerate(columns.lines):
            if lines < 1:
                message = f"must be at least 1: a purchase has a line (got {lines})"
                yield ("purchases", "lines", index), message
    for rule, given in columns.points.items():
        if min(filter(None, given), default=0) < 0:
            for index, points in enumerate(given):
                if points is not None and points < 0:
                    message = f"must not be negative (got {points})"
                    yield ("purchases", "points", rule, index), message
    yield from _line_problems(columns, exponent)
    yield from _earned_on_problems(columns)


def _line_problems(columns: PurchaseColumns, exponent: int | None) -> Found:
    quantity, price, paid = columns.quantity, columns.unit_price, columns.paid
    units, back = columns.refunded_units, columns.refunded_amount
    lines = len(quantity)
    if not quantity or (
        # A unit price is not negative when paid is not, nor above a quantity of at least 1
        # times the price: min(price) is not needed.
        min(quantity) >= 1
        and min(paid) >= 0
        and all(map(le, paid, map(mul, quantity, price)))
        and (
            # Nothing refunded, the way most saved lines are: nothing more to compare
            # (zeros counted in C, faster than truth-testing each value).
            (units.count(0) == lines and back.count(0) == lines)
            or (
                min(units) >= 0
                and min(back) >= 0
                and all(map(le, units, quantity))
                and all(map(le, back, paid))
            )
        )
    ):
        return  # the way every saved state goes, in C loops
    for index, line in enumerate(zip(*(getattr(columns, name) for name in PER_LINE))):
        yield from _one_line_problems(index, SavedLine(*line), exponent)


def _one_line_problems(index: int, line: SavedLine, exponent: int | None) -> Found:
    def show(minor: int) -> str:
        return str(money(minor, exponent))

    def at(name: str) -> tuple[PathItem, ...]:
        return ("purchases", name, index)

    if line.quantity < 1:
        yield at("quantity"), f"must be at least 1 (got {line.quantity})"
    yield from negative(at("unit_price"), line.unit_price)
    yield from negative(at("paid"), line.paid)
    yield from negative(at("refunded_units"), line.refunded_units)
    yield from negative(at("refunded_amount"), line.refunded_amount)
    gross = line.quantity * line.unit_price
    if line.paid > gross >= 0:
        yield at("paid"), f"is {show(line.paid)}, more than the line's {show(gross)}"
    if line.refunded_units > line.quantity:
        yield (
            at("refunded_units"),
            f"is {line.refunded_units}, more than the line's quantity {line.quantity}",
        )
    if line.refunded_amount > line.paid:
        yield (
            at("refunded_amount"),
            f"is {show(line.refunded_amount)}, more than the {show(line.paid)} paid for the line",
        )


def _earned_on_problems(columns: PurchaseColumns) -> Found:
    """Per grouped rule, the minor units it earned on: one per line, none negative."""
    if not columns.earned_on:
        return
    lines = dict(zip(columns.id, columns.lines, strict=True))
    for purchase_id, rules in columns.earned_on.items():
        for rule, seen in rules.items():
            path: tuple[PathItem, ...] = ("purchases", "earned_on", purchase_id, rule)
            count = lines[purchase_id]
            if len(seen) != count:
                yield path, f"has {counted(len(seen), 'values')} for {counted(count, 'lines')}"
            elif any(amount < 0 for amount in seen):
                yield path, f"must not hold a negative amount (got {list(seen)})"


def _text_problems_of(columns: PurchaseColumns) -> Found:
    stores = columns.store
    categories = columns.category
    # Stores, skus and categories repeat from purchase to purchase: each is looked at once.
    # None is left out, an empty text is not: it must be refused.
    names: set[str | None] = {*stores, *categories, *columns.sku}
    names.discard(None)
    texts: list[str] = [*columns.id, *names]  # type: ignore[list-item]  # None discarded
    if texts_plain(texts):
        return
    named: Sequence[tuple[str, Sequence[str | None]]] = (
        ("id", columns.id),
        ("store", stores),
        ("sku", columns.sku),
        ("category", categories),
    )
    for name, values in named:
        for index, text in enumerate(values):
            if text is not None:
                yield from text_problems(("purchases", name, index), text)


def negative(path: tuple[PathItem, ...], value: int | Decimal) -> Found:
    """A value that must not be negative, if it is."""
    if value < 0:
        yield path, f"must not be negative (got {value})"


def money(minor: int, exponent: int | None) -> Decimal:
    """An amount in minor units as the currency writes it (``Currency.to_decimal``)."""
    digits = tuple(int(digit) for digit in str(abs(minor)))
    return Decimal((1 if minor < 0 else 0, digits, -(exponent or 0)))


def plain(text: str) -> bool:
    """The common case of an id or name, decided without a look at each character."""
    return (
        0 < len(text) <= MAX_TEXT
        and text.isascii()
        and text.isprintable()
        and (text[0] != " " != text[-1])
    )


def texts_plain(texts: list[str]) -> bool:
    """Whether every one of ``texts`` is plain text (:func:`plain`), in C loops: joined by
    ``|``, an empty text or one with a space at an end shows next to a ``|`` or at an end
    of the whole (a ``|`` of a text itself only sends it to be looked at on its own)."""
    if not texts:
        return True
    joined = "|".join(texts)
    return (
        joined != ""
        and joined.isascii()
        # An ASCII text is printable without a control character: deleted in one C pass
        # over its bytes, where isprintable looks each character up.
        and len(joined.encode().translate(None, _CONTROL)) == len(joined)
        and joined[0] not in " |"
        and joined[-1] not in " |"
        and "||" not in joined
        and " |" not in joined
        and "| " not in joined
        and max(map(len, texts)) <= MAX_TEXT
    )


def text_problems(path: tuple[PathItem, ...], text: str) -> Found:
    """An id, sku, category or store as events allow them."""
    if plain(text):
        return
    if not text:
        yield path, "must not be empty"
        return
    try:
        _name(text)
    except (ValueError, PydanticCustomError) as error:
        message = error.message() if isinstance(error, PydanticCustomError) else str(error)
        yield path, message
