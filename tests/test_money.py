"""Money: currencies' minor units, exact conversion, and half-up rounding."""

from __future__ import annotations

import re
from decimal import Decimal

import iso4217
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import at, ledger, line, program, purchase, run
from rewardrules.errors import HistoryError
from rewardrules.money import (
    _ISO_4217_CODES,
    _REPLACED,
    CurrencyCodeError,
    currency,
    decimal_places,
    divide_ceil,
    divide_floor,
    divide_half_up,
)
from rewardrules.program.model import Program

# --- minor units ------------------------------------------------------------------------


def test_us_dollars_have_cents() -> None:
    usd = currency("USD")
    assert (usd.code, usd.exponent, usd.minor_per_major) == ("USD", 2, 100)


def test_yen_have_no_minor_unit() -> None:
    jpy = currency("JPY")
    assert (jpy.exponent, jpy.minor_per_major) == (0, 1)


def test_kuwaiti_dinars_have_three_decimal_places() -> None:
    kwd = currency("KWD")
    assert (kwd.exponent, kwd.minor_per_major) == (3, 1000)


def test_an_unknown_currency_code_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^'XYZ' is not an ISO 4217 currency code \("):
        currency("XYZ")


# --- to_minor / to_decimal --------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "amount", "minor"),
    [
        ("USD", "4.50", 450),
        ("USD", "4.5", 450),
        ("USD", "4.500", 450),  # trailing zeros are still exact cents
        ("USD", "0", 0),
        ("JPY", "450", 450),
        ("JPY", "450.0", 450),
        ("KWD", "1.250", 1250),
        ("KWD", "0.005", 5),
    ],
)
def test_an_exact_amount_becomes_whole_minor_units(code: str, amount: str, minor: int) -> None:
    assert currency(code).to_minor(Decimal(amount)) == minor


@pytest.mark.parametrize(
    ("code", "amount", "message"),
    [
        ("USD", "0.125", "0.125 has more decimal places than USD allows (2)"),
        ("JPY", "100.5", "100.5 has more decimal places than JPY allows (0)"),
        ("KWD", "1.2345", "1.2345 has more decimal places than KWD allows (3)"),
    ],
)
def test_an_amount_finer_than_the_minor_unit_is_refused(
    code: str, amount: str, message: str
) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        currency(code).to_minor(Decimal(amount))


@pytest.mark.parametrize(
    ("code", "minor", "shown"),
    [("USD", 450, "4.50"), ("USD", -5, "-0.05"), ("JPY", 450, "450"), ("KWD", 1250, "1.250")],
)
def test_minor_units_show_with_exactly_the_currencys_places(
    code: str, minor: int, shown: str
) -> None:
    assert str(currency(code).to_decimal(minor)) == shown


def test_an_amount_is_formatted_with_its_code() -> None:
    assert currency("USD").format(450) == "4.50 USD"


@given(
    code=st.sampled_from(["USD", "JPY", "KWD", "CLF"]),
    minor=st.integers(-(10**40), 10**40) | st.integers(-20_000, 20_000),
)
def test_an_amount_is_formatted_as_its_decimal_reads(code: str, minor: int) -> None:
    # format writes the text from the integer; it must be to_decimal's, byte for byte.
    money = currency(code)
    assert money.format(minor) == f"{money.to_decimal(minor)} {code}"


def test_decimal_places_counts_the_written_places() -> None:
    assert [decimal_places(Decimal(text)) for text in ("1.50", "1", "0.125", "1E+2")] == [
        2,
        0,
        3,
        0,
    ]


# --- rounding ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "rounded"),
    [
        (5, 2, 3),  # 2.5 -> 3: a half goes up
        (-5, 2, -3),  # -2.5 -> -3: a half goes away from zero, not toward +infinity
        (1, 2, 1),  # 0.5 -> 1
        (-1, 2, -1),  # -0.5 -> -1
        (3, 2, 2),  # 1.5 -> 2
        (-3, 2, -2),  # -1.5 -> -2
        (1, 3, 0),  # 0.33 -> 0
        (-1, 3, 0),  # -0.33 -> 0
        (2, 3, 1),  # 0.67 -> 1
        (-2, 3, -1),  # -0.67 -> -1
        (6, 3, 2),  # exact
        (-6, 3, -2),  # exact
        (0, 7, 0),
    ],
)
def test_half_up_rounds_halves_away_from_zero(
    numerator: int, denominator: int, rounded: int
) -> None:
    assert divide_half_up(numerator, denominator) == rounded


def test_floor_and_ceil_round_toward_the_infinities() -> None:
    # 7/2 = 3.5 and -7/2 = -3.5
    assert (divide_floor(7, 2), divide_floor(-7, 2)) == (3, -4)
    assert (divide_ceil(7, 2), divide_ceil(-7, 2)) == (4, -3)


# --- the engine in each currency --------------------------------------------------------


def _half_off_every_second(currency_code: str) -> Program:
    return program(
        currency=currency_code,
        rules=[{"kind": "every_nth_free", "id": "half", "every": 2, "reward": {"percent_off": 50}}],
    )


def test_a_computed_yen_amount_is_rounded_half_up_to_whole_yen() -> None:
    evaluation = run(
        _half_off_every_second("JPY"), purchase("p1", at(), line("mochi", "155", quantity=2))
    )
    # 50% of one 155-yen unit = 77.5 -> 78 yen
    assert ledger(evaluation) == [("p1", "half", "discount", None, Decimal("78"), 1)]


def test_a_computed_dinar_amount_is_rounded_half_up_to_whole_fils() -> None:
    evaluation = run(
        _half_off_every_second("KWD"), purchase("p1", at(), line("tea", "0.155", quantity=2))
    )
    # 50% of 0.155 KWD = 0.0775 -> 0.078
    assert ledger(evaluation) == [("p1", "half", "discount", None, Decimal("0.078"), 1)]


def test_a_cent_amount_exactly_half_way_is_rounded_up() -> None:
    evaluation = run(
        _half_off_every_second("USD"), purchase("p1", at(), line("cone", "0.05", quantity=2))
    )
    # 50% of 0.05 = 0.025 -> 0.03
    assert ledger(evaluation) == [("p1", "half", "discount", None, Decimal("0.03"), 1)]


def test_yen_points_are_counted_per_whole_yen() -> None:
    yen_program = program(
        currency="JPY",
        rules=[{"kind": "points_per_spend", "id": "stars", "points": "1", "per": "100"}],
    )
    evaluation = run(yen_program, purchase("p1", at(), line("bento", "1299")))
    # 1299 / 100 = 12.99 -> 12 (floor)
    assert ledger(evaluation) == [("p1", "stars", "points", 12, None, None)]


def test_a_dinar_price_with_three_places_is_exact() -> None:
    dinar_program = program(
        currency="KWD", rules=[{"kind": "points_per_spend", "id": "stars", "points": "1"}]
    )
    evaluation = run(dinar_program, purchase("p1", at(), line("tea", "2.999", quantity=2)))
    # 2 x 2.999 = 5.998 KWD -> 5 points
    assert evaluation.customer("c1").points == 5
    assert evaluation.totals.gross_spend == 5998


@pytest.mark.parametrize(("code", "price"), [("USD", "0.125"), ("JPY", "100.5"), ("KWD", "1.2345")])
def test_a_price_finer_than_the_currency_is_an_error_naming_the_event(
    code: str, price: str
) -> None:
    any_program = program(currency=code)
    with pytest.raises(HistoryError) as caught:
        run(any_program, purchase("p1", at(), line("cone", price)))
    (problem,) = caught.value.problems
    assert problem.path == ("event p1", "lines", 0, "unit_price")
    assert problem.message.startswith(f"the unit price {price} of sku cone is finer than {code}")


# --- the table against the iso4217 package ----------------------------------------------

UNITS_OF_ACCOUNT = {"XAD"}
"""Active codes with a minor unit that nothing is priced in: the Arab Monetary Fund's
accounting dinar (XDR and the metals have no minor unit in ISO 4217, so are left out too)."""


def _published() -> dict[str, int]:
    """ISO 4217's active codes that have a minor unit, to their decimal places."""
    return {
        entry.code: entry.exponent
        for entry in iso4217.Currency
        if entry.exponent is not None and entry.code not in UNITS_OF_ACCOUNT
    }


def test_the_currency_table_is_iso_4217_as_published() -> None:
    assert sorted(_ISO_4217_CODES) == sorted(_published())


def test_every_currency_has_the_published_decimal_places() -> None:
    published = _published()
    differ = [
        (code, currency(code).exponent, published[code])
        for code in sorted(_ISO_4217_CODES)
        if currency(code).exponent != published[code]
    ]
    assert differ == []


def test_every_withdrawn_code_is_gone_and_its_successor_is_active() -> None:
    published = _published()
    assert [code for code in _REPLACED if code in published] == []
    assert [successor for successor in _REPLACED.values() if successor not in published] == []


@pytest.mark.parametrize(
    ("withdrawn", "successor"), [("ANG", "XCG"), ("BGN", "EUR"), ("HRK", "EUR")]
)
def test_a_withdrawn_code_is_refused_naming_its_successor(withdrawn: str, successor: str) -> None:
    with pytest.raises(CurrencyCodeError) as caught:
        currency(withdrawn)
    assert (str(caught.value), caught.value.suggestion) == (
        f"'{withdrawn}' is no longer in use; {successor} replaced it",
        f"did you mean '{successor}'?",
    )
