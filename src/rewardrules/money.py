"""Exact money: currencies, minor units, and the rounding rules the engine uses.

Inside the engine every amount is an ``int`` of the currency's minor unit (cents for USD,
yen for JPY, fils for KWD). Decimal appears only at the edges: when a program or a history
is read, and when results are shown. Integer arithmetic is exact and several times faster
than Decimal, and rounding happens only where the documented semantics say so, through the
two functions below.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Final

# ISO 4217 active codes whose minor unit is not 2 decimal places. Every other active code
# in ``_ISO_4217_CODES`` has two.
_MINOR_UNIT_EXCEPTIONS: Final[dict[str, int]] = {
    # no minor unit
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0,
    "XPF": 0,
    # three decimal places
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    # four decimal places (units of account)
    "CLF": 4, "UYW": 4,
}  # fmt: skip

_ISO_4217_CODES: Final[frozenset[str]] = frozenset(
    # One string split once at import: a table of 164 codes reads better this way. Checked
    # against the iso4217 package by tests/test_money.py.
    """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF
    BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF
    CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR
    FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS
    INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT
    LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR
    MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP
    PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE
    SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
    UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XCG
    XOF XPF YER ZAR ZMW ZWG
    """.split()  # noqa: SIM905
)


_PLAIN_DECIMALS: Final = 6
"""Decimal places up to which a Decimal of the currency's exponent is written without an
exponent whatever its digits (``str(Decimal)`` switches below an adjusted exponent of -6)."""


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 currency and the size of its minor unit.

    Attributes:
        code: the three-letter code, e.g. ``"USD"``.
        exponent: decimal places of the minor unit (2 for USD, 0 for JPY, 3 for KWD).
    """

    code: str
    exponent: int

    @property
    def minor_per_major(self) -> int:
        """How many minor units make one major unit (100 for USD)."""
        return int(10**self.exponent)

    def to_minor(self, amount: Decimal) -> int:
        """Convert an exact amount to minor units; raise if it is finer than the minor unit.

        Raises:
            ValueError: the amount has more decimal places than the currency allows.
        """
        # Exact whatever the number of digits: Decimal arithmetic (scaleb too) rounds to
        # the context's 28 digits, and a program may write 30 before and 30 after the point.
        numerator, denominator = amount.as_integer_ratio()
        scaled, remainder = divmod(numerator * self.minor_per_major, denominator)
        if remainder:
            raise ValueError(
                f"{amount} has more decimal places than {self.code} allows ({self.exponent})"
            )
        return scaled

    def to_decimal(self, minor: int) -> Decimal:
        """Convert minor units back to a Decimal with exactly the currency's decimal places.

        Built from its digits, so no context precision rounds a very large amount.
        """
        digits = tuple(int(digit) for digit in str(abs(minor)))
        return Decimal((1 if minor < 0 else 0, digits, -self.exponent))

    def format(self, minor: int) -> str:
        """Show an amount as text, e.g. ``"4.50 USD"``: ``to_decimal``'s text, written from
        the integer (reasons show amounts by the hundred thousand)."""
        minor = int(minor)
        exponent = self.exponent
        if exponent == 0:
            return f"{minor} {self.code}"
        if exponent > _PLAIN_DECIMALS:  # pragma: no cover - no ISO 4217 currency has so many
            return f"{self.to_decimal(minor)} {self.code}"
        whole, part = divmod(-minor if minor < 0 else minor, 10**exponent)
        sign = "-" if minor < 0 else ""
        return f"{sign}{whole}.{part:0{exponent}d} {self.code}"


def is_known_currency(code: str) -> bool:
    """Tell whether ``code`` is an active ISO 4217 currency code."""
    return code in _ISO_4217_CODES


class CurrencyCodeError(ValueError):
    """A ``currency`` that is not an active ISO 4217 code, with a likely fix.

    Attributes:
        code: the stable problem code, ``unknown-currency``.
        suggestion: the code to write instead, as "did you mean ...?", when one is clear.
    """

    code = "unknown-currency"

    def __init__(self, message: str, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.suggestion = suggestion


_SYMBOLS: Final[dict[str, tuple[str, ...]]] = {
    "€": ("EUR",), "£": ("GBP",), "₹": ("INR",), "₩": ("KRW",), "₽": ("RUB",),
    "₺": ("TRY",), "₪": ("ILS",), "₫": ("VND",), "₱": ("PHP",), "฿": ("THB",),
    "₴": ("UAH",), "₸": ("KZT",), "₦": ("NGN",), "₡": ("CRC",), "₲": ("PYG",),
    "₵": ("GHS",), "₭": ("LAK",), "₮": ("MNT",), "zł": ("PLN",), "R$": ("BRL",),
    "US$": ("USD",), "A$": ("AUD",), "C$": ("CAD",), "CA$": ("CAD",), "NZ$": ("NZD",),
    "HK$": ("HKD",), "S$": ("SGD",), "MX$": ("MXN",), "NT$": ("TWD",),
    "$": ("USD", "CAD", "AUD", "NZD", "MXN", "SGD", "HKD"),
    "¥": ("JPY", "CNY"), "￥": ("JPY", "CNY"), "元": ("CNY",), "円": ("JPY",),
    "kr": ("SEK", "NOK", "DKK", "ISK"), "fr": ("CHF",),
    "euro": ("EUR",), "euros": ("EUR",), "pound": ("GBP",), "pounds": ("GBP",),
    "sterling": ("GBP",), "yen": ("JPY",), "yuan": ("CNY",), "renminbi": ("CNY",),
    "rmb": ("CNY",), "dollar": ("USD", "CAD", "AUD"), "dollars": ("USD", "CAD", "AUD"),
    "franc": ("CHF",), "francs": ("CHF",), "rupee": ("INR", "PKR", "LKR", "NPR"),
    "rupees": ("INR", "PKR", "LKR", "NPR"), "nis": ("ILS",), "ukp": ("GBP",),
}  # fmt: skip
"""Symbols and names people write for a currency, case-folded, to the codes they may mean."""

_REPLACED: Final[dict[str, str]] = {
    "HRK": "EUR", "LTL": "EUR", "LVL": "EUR", "EEK": "EUR", "SKK": "EUR", "CYP": "EUR",
    "MTL": "EUR", "SIT": "EUR", "DEM": "EUR", "FRF": "EUR", "ITL": "EUR", "ESP": "EUR",
    "NLG": "EUR", "BEF": "EUR", "ATS": "EUR", "PTE": "EUR", "FIM": "EUR", "IEP": "EUR",
    "GRD": "EUR", "VEF": "VES", "MRO": "MRU", "STD": "STN", "BYR": "BYN", "SLL": "SLE",
    "ZWL": "ZWG", "CUC": "CUP",
    # withdrawn from ISO 4217 on 2026-01-01
    "ANG": "XCG", "BGN": "EUR",
}  # fmt: skip
"""Codes withdrawn from ISO 4217 this century, to the code that replaced them.

tests/test_money.py checks this table and ``_ISO_4217_CODES`` against the ``iso4217``
package: a code it lists as withdrawn is refused here, with its successor."""


def currency(code: str) -> Currency:
    """Look up an ISO 4217 currency by its code.

    Raises:
        CurrencyCodeError: the code is not an active ISO 4217 code (a ``ValueError``).
    """
    if code not in _ISO_4217_CODES:
        raise _unknown_currency(code)
    return Currency(code, _MINOR_UNIT_EXCEPTIONS.get(code, 2))


def _unknown_currency(code: str) -> CurrencyCodeError:
    message = f"'{code}' is not an ISO 4217 currency code (for example USD, EUR, JPY)"
    written = code.strip()
    upper = written.upper()
    if upper in _REPLACED:
        message = f"'{code}' is no longer in use; {_REPLACED[upper]} replaced it"
        return CurrencyCodeError(message, f"did you mean '{_REPLACED[upper]}'?")
    if upper in _ISO_4217_CODES:
        return CurrencyCodeError(message, f"did you mean '{upper}'?")
    meant = _SYMBOLS.get(written.casefold(), ())
    if len(meant) > 1:
        message = f"'{code}' stands for several currencies; write the ISO 4217 code of yours"
        codes = f"{', '.join(meant[:-1])} or {meant[-1]}"
        return CurrencyCodeError(message, f"did you mean {codes}?")
    return CurrencyCodeError(message, f"did you mean '{meant[0]}'?" if meant else None)


def decimal_places(value: Decimal) -> int:
    """Count the decimal places written in ``value`` (``Decimal("1.50")`` has 2)."""
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def as_fraction(value: Decimal) -> tuple[int, int]:
    """Write a finite Decimal as an exact ``(numerator, denominator)`` pair of integers."""
    fraction = Fraction(value)
    return fraction.numerator, fraction.denominator


def divide_half_up(numerator: int, denominator: int) -> int:
    """Divide and round half away from zero; ``denominator`` must be positive."""
    if numerator >= 0:
        return (2 * numerator + denominator) // (2 * denominator)
    return -((-2 * numerator + denominator) // (2 * denominator))


def divide_floor(numerator: int, denominator: int) -> int:
    """Divide and round toward negative infinity; ``denominator`` must be positive."""
    return numerator // denominator


def divide_ceil(numerator: int, denominator: int) -> int:
    """Divide and round toward positive infinity; ``denominator`` must be positive."""
    return -(-numerator // denominator)
