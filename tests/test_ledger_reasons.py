"""A columnar ledger writes each distinct reason once (``batch._ledger``): the texts must be
byte-identical to ``LedgerEntry.reason`` entry by entry, whatever the entries share."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from rewardrules.engine.ledger import (
    _ReasonFormatter,
    _template_pieces,
    format_reason,
    format_reasons,
)
from rewardrules.evaluation.batch._ledger import EntryPart, row_keys
from rewardrules.money import currency

EUR = currency("EUR")


def _each_reason(part: EntryPart, chosen: list[int]) -> list[str]:
    return [part.entry(index, "e", "c", EUR).reason for index in chosen]


def _shared_reasons(part: EntryPart, chosen: list[int]) -> list[str]:
    codes, texts = part.reasons(np.asarray(chosen, dtype=np.int64), EUR)
    return [texts[code] for code in codes.tolist()]


ARGUMENTS = st.sampled_from(
    [1, True, 0, False, "1", None, Decimal("1"), Decimal("1.0"), 0.0, -0.0, 250, -250]
)


@given(
    arguments=st.lists(st.tuples(ARGUMENTS, st.integers(-300, 300)), min_size=1, max_size=30),
    data=st.data(),
)
def test_equal_looking_arguments_keep_their_own_text(
    arguments: list[tuple[Any, int]], data: st.DataObject
) -> None:
    # True == 1 and Decimal("1.0") == Decimal("1"), but they are written differently.
    part = EntryPart(
        np.arange(len(arguments)), "r", "points", None, None, None, "{0} and {1:money}", arguments
    )
    chosen = data.draw(st.lists(st.integers(0, len(arguments) - 1), max_size=60))
    assert _shared_reasons(part, chosen) == _each_reason(part, chosen)


def test_a_reason_repeated_is_written_once() -> None:
    calls: list[int] = []

    def template(money: Any, amount: int) -> str:
        calls.append(amount)
        return money.format(amount)

    part = EntryPart(np.arange(6), "r", "points", None, None, None, template, [(5,), (7,)] * 3)
    codes, texts = part.reasons(np.arange(6, dtype=np.int64), EUR)
    assert texts == [EUR.format(5), EUR.format(7)]
    assert codes.tolist() == [0, 1, 0, 1, 0, 1]
    assert calls == [5, 7]


@given(
    data=st.data(),
    rows=st.lists(
        st.tuples(st.integers(-3, 3), st.lists(st.tuples(st.integers(-2, 2), st.integers(0, 2)))),
        min_size=1,
        max_size=20,
    ),
)
def test_row_keys_are_equal_exactly_when_the_rows_are(
    rows: list[tuple[int, list[tuple[int, int]]]], data: st.DataObject
) -> None:
    heads = np.asarray([head for head, _lines in rows], dtype=np.int64)
    counts = [len(lines) for _head, lines in rows]
    starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    ends = starts + np.asarray(counts, dtype=np.int64)
    first = np.asarray([a for _h, lines in rows for a, _b in lines], dtype=np.int64)
    second = np.asarray([b for _h, lines in rows for _a, b in lines], dtype=object)
    keys = row_keys((heads,), starts, ends, (first, second)).to_pylist()
    for left in range(len(rows)):
        for right in range(len(rows)):
            assert (keys[left] == keys[right]) == (rows[left] == rows[right])


@given(
    rows=st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1), st.integers(-3, 3)), max_size=20),
)
def test_row_keys_of_heads_alone_are_those_of_rows_without_lines(
    rows: list[tuple[int, int]],
) -> None:
    """Heads alone take a shortcut (every key as long): the same keys, byte for byte, as
    rows whose lines are none, which a memo of keys met may compare them with."""
    first = np.asarray([a for a, _b in rows], dtype=np.int64)
    second = np.asarray([b for _a, b in rows], dtype=object)
    none = np.zeros(len(rows), dtype=np.int64)
    alone = row_keys((first, second), none, none, ())
    general = row_keys((first, second), none, none, (np.zeros(1, dtype=np.int64),))
    assert alone.type == general.type
    assert alone.to_pylist() == general.to_pylist()


def test_row_keys_refuse_what_is_not_an_integer() -> None:
    starts, ends = np.asarray([0]), np.asarray([1])
    for column in (np.asarray([1.5]), np.asarray([Decimal(1)], dtype=object)):
        try:
            row_keys((), starts, ends, (column,))
        except TypeError:
            continue
        raise AssertionError(f"{column!r} was taken as integers")


LITERALS = st.text(alphabet="ab {}:%()", max_size=6).map(
    lambda text: text.replace("{", "{{").replace("}", "}}")
)
FIELDS = st.sampled_from(["{0}", "{1}", "{2:money}", "{0:>4}", "{1!r}", "{}", "{x}", "{0[0]}"])


@given(
    pieces=st.lists(st.tuples(LITERALS, FIELDS), max_size=5),
    tail=LITERALS,
    arguments=st.tuples(
        st.sampled_from([1, "x", None, Decimal("1.50"), True, -7]),
        st.sampled_from(["ab", 0, Decimal("-0.0")]),
        st.integers(-(10**20), 10**20),
    ),
)
def test_a_template_is_filled_as_the_formatter_fills_it(
    pieces: list[tuple[str, str]], tail: str, arguments: tuple[Any, ...]
) -> None:
    """``format_reason`` reads a template once and fills it without ``string.Formatter``'s
    calls per field: the text is the formatter's, byte for byte, or the same error."""
    template = "".join(literal + field for literal, field in pieces) + tail

    def formatted(call: Any) -> tuple[str, Any]:
        try:
            return "text", call()
        except (IndexError, KeyError, TypeError, ValueError) as error:
            return "error", type(error)

    expected = formatted(lambda: _ReasonFormatter(EUR).format(template, *arguments))
    assert formatted(lambda: format_reason(EUR, template, arguments)) == expected


@given(
    pieces=st.lists(st.tuples(LITERALS, FIELDS), max_size=5),
    tail=LITERALS,
    rows=st.lists(
        st.tuples(
            st.sampled_from([1, "x", None, Decimal("1.50"), True, -7]),
            st.sampled_from(["ab", 0, Decimal("-0.0")]),
            st.integers(-(10**20), 10**20),
        ),
        max_size=6,
    ),
)
def test_many_rows_are_filled_as_each_alone(
    pieces: list[tuple[str, str]], tail: str, rows: list[tuple[Any, ...]]
) -> None:
    """``format_reasons`` fills a template field by field for many argument rows: each
    text is ``format_reason``'s of its row, or the error is of the same kind."""
    template = "".join(literal + field for literal, field in pieces) + tail
    try:
        expected: Any = [format_reason(EUR, template, row) for row in rows]
    except (IndexError, KeyError, TypeError, ValueError) as error:
        expected = type(error)
    try:
        found: Any = format_reasons(EUR, template, rows)
    except (IndexError, KeyError, TypeError, ValueError) as error:
        found = type(error)
    assert found == expected


def test_a_template_without_fields_is_its_text_for_every_row() -> None:
    assert format_reasons(EUR, "a {{b}}", [(), (1,)]) == ["a {b}", "a {b}"]
    assert format_reasons(EUR, "{0:money}", []) == []


def test_every_reason_template_of_the_kinds_is_read_once() -> None:
    """The kinds' templates are all of the simple form, so none falls back to the formatter."""
    from rewardrules.kinds import order_discount, points_per_spend, tiered_discount  # noqa: PLC0415

    templates = [
        points_per_spend.REFUND_REASON,
        tiered_discount.DISCOUNT_REASON,
        order_discount.PERCENT_REASON,
        order_discount.AMOUNT_REASON,
        order_discount.GIFT_REASON,
    ]
    assert all(_template_pieces(template) is not None for template in templates)


@given(
    values=st.lists(st.integers(-3, 6), max_size=30),
    known=st.lists(st.integers(-3, 6), max_size=5),
)
def test_the_distinct_weights_of_points_lines_are_numpys_unique(
    values: list[int], known: list[int]
) -> None:
    """The boosted weights of a rule's lines are looked for among its multipliers' weights
    first (one pass each), and sorted out only when some are none of them."""
    from rewardrules.evaluation.batch._evaluate import _distinct  # noqa: PLC0415

    array = np.asarray(values, dtype=np.int64)
    assert _distinct(array, iter(known)) == np.unique(array).tolist()
