"""The saved state's format: its version, how older versions are brought up to date, and
the digest that tells a state changed after it was saved.

A saved state carries ``format`` (the version of its shape) and ``digest`` (a hash of its
content as rewardrules writes it in JSON, added by every dump). Loading reads the version
first: a newer one is refused, an older one goes through :data:`UPGRADES` one version at a
time, so that a later change of the shape adds one function there. The digest is checked
after the content is validated. The rules are in docs/api.md, "Saved states".

Any change of the saved shape, even a key added with a default, needs a new format and an
upgrade step: it changes what a dump writes, and so the digest of every state saved before
it; and an older rewardrules then refuses the new states as "saved by a newer rewardrules"
rather than for an unknown key. ``tests/test_state_checks.py`` holds the keys of format 1
to catch a change made without one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from rewardrules.engine._state_columns import ColumnsBuilder, SavedLine, SavedPurchase
from rewardrules.errors import HistoryError, PathItem, Problem

FORMAT = 7
"""The version of the saved shape this rewardrules writes and reads.

Format 2 adds what a state keeps of the purchases it forgot under ``refunds.within``:
``forgotten_until``, ``tier_amounts`` and ``tier_window``. Format 3 saves each purchase as
an array of what a refund needs, its amounts in whole minor units (``exponent`` says how
many decimal places), its instant in microseconds; and ``tier_window`` as ``[at, amount]``
pairs of integers. Format 4 adds ``settled_active_at`` (the last activity for
``expire_on_inactivity`` that can no longer be undone), ``lasting`` on lots (earned at a
level whose points never expire), a migrated customer's granted tier (``tier_granted``
and ``tier_granted_until``), ``spent`` (per applied redemption not cancelled, the points
it took from each lot, which a ``cancel_redemption`` gives back) and ``cancellations``.
Format 5 adds ``settled_purchase_at``, the latest forgotten purchase not refunded in full
(a birthday rule's ``purchase_within``), and the referral holds (a rule's ``hold_for``):
``held_until`` on a referrer's ``referrals`` (the reward not given yet) and, for a
referred friend, ``referral_holds``.
Format 6 saves the purchases and ``tier_window`` as columns, one array per field
(``engine._state_columns``): the same content, which loads and dumps without a Python
object per purchase and per line.
Format 7 adds ``written_off``: under ``negative_balance: clamp``, the points refunds wrote
off that cancelling a redemption applied before them may still recover (the refund, the
points, the redemptions).
"""

UNVERSIONED = 1
"""The format a state saved before ``format`` existed is read as: the shape is the same."""


def _from_1(content: dict[str, Any]) -> dict[str, Any]:
    """Format 1 to 2: a state of format 1 kept every purchase, so it forgot none."""
    return {**content, "forgotten_until": None, "tier_amounts": {}, "tier_window": []}


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_OFFSETS: dict[int, timezone] = {}


def micros(moment: datetime) -> int:
    """An aware instant as microseconds since 1970-01-01 UTC, as format 3 saves it."""
    return (moment - EPOCH) // _MICROSECOND


def offset_seconds(moment: datetime) -> int:
    """The UTC offset an instant was written with, in whole seconds."""
    offset = moment.utcoffset()
    return 0 if offset is None else offset // timedelta(seconds=1)


def instant(at: int, offset: int = 0) -> datetime:
    """The instant of a saved ``at`` (microseconds), at the UTC ``offset`` it was written with."""
    zone = _OFFSETS.get(offset)
    if zone is None:
        zone = _OFFSETS[offset] = UTC if offset == 0 else timezone(timedelta(seconds=offset))
    return (EPOCH + timedelta(microseconds=at)).astimezone(zone)


class _OldShapeError(ValueError):
    """A value of an older state that is not what that format saved; ``path`` says where."""

    def __init__(self, message: str, *path: str | int) -> None:
        super().__init__(message)
        self.path = path


def _moment(value: object, *path: str | int) -> datetime:
    if isinstance(value, str):
        with suppress(ValueError):
            value = datetime.fromisoformat(value)
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise _OldShapeError(f"must be an instant with a UTC offset (got {value!r})", *path)
    return value


def _amount(value: object, *path: str | int) -> Decimal:
    try:
        if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
            raise InvalidOperation
        amount = Decimal(value)
    except InvalidOperation:
        raise _OldShapeError(f"must be an amount of money (got {value!r})", *path) from None
    if not amount.is_finite():
        raise _OldShapeError(f"must be an amount of money (got {value!r})", *path)
    return amount


def _places(amount: Decimal) -> int:
    exponent = amount.as_tuple().exponent
    return max(-exponent, 0) if isinstance(exponent, int) else 0


def _minor(amount: Decimal, exponent: int, *path: str | int) -> int:
    numerator, denominator = amount.as_integer_ratio()
    scaled, remainder = divmod(numerator * 10**exponent, denominator)
    if remainder:  # not reached: the exponent is the most places of the paid amounts
        raise _OldShapeError(f"has more than {exponent} decimal places (got {amount})", *path)
    return int(scaled)


def _from_2(content: dict[str, Any]) -> dict[str, Any]:
    """Format 2 to 3: each purchase as the array of what a refund needs, in integers.

    Format 2 wrote paid and refunded amounts with exactly the currency's decimal places
    (``Currency.to_decimal``): their most decimal places become ``exponent``, so the
    amounts in minor units are the same numbers ``earned_on`` and the tier amounts already
    were. A purchase of another customer, which format 3 cannot hold, is refused here.
    """
    customer = content.get("customer_id")
    try:
        return _upgrade_2(content, customer)
    except _OldShapeError as error:
        raise bad_state(
            customer if isinstance(customer, str) else None,
            [(error.path, f"{error} (in a state of format 2, upgraded as it is loaded)")],
        ) from None
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise bad_state(
            customer if isinstance(customer, str) else None,
            [(("purchases",), f"is not what format 2 saved ({error!r})")],
        ) from None


def _upgrade_2(content: dict[str, Any], customer: object) -> dict[str, Any]:
    kept = content.get("purchases") or []
    window = content.get("tier_window") or []
    if not isinstance(kept, (list, tuple)) or not isinstance(window, (list, tuple)):
        raise _OldShapeError("must be a list", "purchases" if kept else "tier_window")
    amounts = [
        [
            _amount(value, "purchases", index, name, position)
            for position, value in enumerate(old[name])
        ]
        for index, old in enumerate(kept)
        for name in ("paid", "refunded_amount")
    ]
    exponent = max((_places(value) for row in amounts for value in row), default=0)
    purchases = []
    for index, old in enumerate(kept):
        purchase = old["purchase"]
        path = ("purchases", index, "purchase")
        if purchase.get("customer_id") != customer:
            raise _OldShapeError(
                f"is '{purchase.get('customer_id')}': a purchase of another customer in the "
                f"state of '{customer}'",
                *path,
                "customer_id",
            )
        at = _moment(purchase["at"], *path, "at")
        lines = []
        paid, back = amounts[2 * index], amounts[2 * index + 1]
        units = old["refunded_units"]
        if not len(paid) == len(back) == len(units) == len(purchase["lines"]):
            raise _OldShapeError("has not one value per line", "purchases", index)
        for position, line in enumerate(purchase["lines"]):
            price = _amount(line["unit_price"], *path, "lines", position, "unit_price")
            lines.append(
                [
                    line["sku"],
                    line.get("category"),
                    line["quantity"],
                    _minor(price, exponent, *path, "lines", position, "unit_price"),
                    _minor(paid[position], exponent, "purchases", index, "paid", position),
                    units[position],
                    _minor(back[position], exponent, "purchases", index, "refunded_amount"),
                ]
            )
        purchases.append(
            [
                purchase["id"],
                micros(at),
                offset_seconds(at),
                purchase.get("store"),
                old["tier"],
                lines,
                old["points"],
                old.get("set_aside", []),
                old.get("earned_on", {}),
            ]
        )
    pairs = []
    for index, pair in enumerate(window):
        at = _moment(pair["at"], "tier_window", index, "at")
        pairs.append([micros(at), pair["amount"]])
    return {
        **content,
        "exponent": exponent if purchases else None,
        "purchases": purchases,
        "tier_window": pairs,
    }


def _from_3(content: dict[str, Any]) -> dict[str, Any]:
    """Format 3 to 4: no settled activity, no lasting lot, never granted a tier, and no
    redemption that can be cancelled (which lots its points came from was not kept) nor
    any cancelled. A format 3 state counted inactivity from its last purchase; format 4
    counts from the last kept purchase not refunded in full (after the settled activity,
    none here), which is that purchase unless it was refunded in full."""
    return {
        **content,
        "tier_granted": None,
        "tier_granted_until": None,
        "spent": [],
        "cancellations": {},
    }


def _from_4(content: dict[str, Any]) -> dict[str, Any]:
    """Format 4 to 5. A format 4 state did not note which of its forgotten purchases were
    refunded in full, so the latest it forgot (``forgotten_until``) is taken to count, as
    all but a rare few do; a state that forgot none has none. No rule held a referral, so
    every reward of ``referrals`` was given and no friend's purchase is held."""
    referrals = content.get("referrals", [])
    if isinstance(referrals, list):
        referrals = [
            {**kept, "held_until": None} if isinstance(kept, dict) else kept for kept in referrals
        ]
    return {
        **content,
        "settled_purchase_at": content.get("forgotten_until"),
        "referrals": referrals,
        "referral_holds": [],
    }


def _from_5(content: dict[str, Any]) -> dict[str, Any]:
    """Format 5 to 6: the purchase arrays and the ``[at, amount]`` pairs of ``tier_window``
    as columns, the same content. What is not of format 5's shape is refused here, where
    the purchase or pair is still there to name; the values are checked as format 6's."""
    customer = content.get("customer_id")
    rows = content.get("purchases", [])
    pairs = content.get("tier_window", [])
    builder = ColumnsBuilder()
    path: tuple[str | int, ...] = ("purchases",)
    try:
        if not isinstance(rows, list) or not isinstance(pairs, list):
            raise TypeError("not a list")
        for index, values in enumerate(rows):
            path = ("purchases", index)
            row = SavedPurchase(*values)
            lines = tuple(SavedLine(*line) for line in row.lines)
            builder.add_row(
                row._replace(lines=lines, points=dict(row.points), earned_on=dict(row.earned_on))
            )
        window: dict[str, list[Any]] = {"at": [], "amount": []}
        for index, (at, amount) in enumerate(pairs):
            path = ("tier_window", index)
            window["at"].append(at)
            window["amount"].append(amount)
    except (AttributeError, TypeError, ValueError) as error:
        raise bad_state(
            customer if isinstance(customer, str) else None,
            [(path, f"is not what format 5 saved ({error})")],
        ) from None
    return {**content, "purchases": dict(builder.build()), "tier_window": window}


def _from_6(content: dict[str, Any]) -> dict[str, Any]:
    """Format 6 to 7: no point written off waits to be recovered. Before format 7 a
    cancellation never recovered points written off, so those a format 6 state had written
    off stay written off, as they did then."""
    return {**content, "written_off": []}


UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    1: _from_1,
    2: _from_2,
    3: _from_3,
    4: _from_4,
    5: _from_5,
    6: _from_6,
}
"""Per format ``n``, the function that turns a state of format ``n`` into format ``n + 1``."""

WHAT_TO_DO = (
    "use the state exactly as rewardrules saved it, or rebuild it by evaluating the "
    "customer's history"
)


def bad_state(
    customer: str | None,
    problems: Iterable[tuple[tuple[PathItem, ...], str]],
    suggestion: str | None = WHAT_TO_DO,
) -> HistoryError:
    """A ``bad-state`` error with one problem per ``(path, message)``."""
    whose = "saved state" if customer is None else f"state of {customer}"
    return HistoryError(
        Problem(message=message, path=(whose, *path), code="bad-state", suggestion=suggestion)
        for path, message in problems
    )


class FormatError(ValueError):
    """A ``format`` this rewardrules cannot read, with what to do about it."""

    def __init__(self, message: str, suggestion: str | None) -> None:
        super().__init__(message)
        self.suggestion = suggestion


class OlderFormatError(ValueError):
    """A state of an older format: it is read again through :func:`upgrade`."""


def check_format(version: object) -> int:
    """The format version of a saved state, if this rewardrules reads it as it is.

    Raises:
        FormatError: not a version number, or a newer format.
        OlderFormatError: an older format, which :func:`upgrade` brings up to date.
    """
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        message = f"must be a format version, a whole number from 1 (got {version!r})"
        raise FormatError(message, WHAT_TO_DO)
    if version > FORMAT:
        message = (
            f"is {version}: the state was saved by a newer rewardrules, and this one reads "
            f"formats up to {FORMAT}"
        )
        raise FormatError(message, "upgrade rewardrules to use it")
    if version < FORMAT:
        raise OlderFormatError(version)
    return version


def upgrade(data: Mapping[str, Any]) -> dict[str, Any]:
    """A state of an older format brought to :data:`FORMAT`, one version at a time."""
    content = dict(data)
    # The digest hashes the content as the older rewardrules wrote it, which this one cannot
    # write again: an upgraded state is checked for consistency only.
    content.pop("digest", None)
    version = content.get("format", UNVERSIONED)
    while version < FORMAT:
        content = UPGRADES[version](content)
        version += 1
        content["format"] = version
    return content


def needs_upgrade(error: ValidationError) -> bool:
    """Whether pydantic refused a state only for being of an older format (to upgrade)."""
    return any(
        isinstance(detail.get("ctx", {}).get("error"), OlderFormatError)
        for detail in error.errors(include_url=False)
    )


def digest_of(content: str | bytes | memoryview, end: bytes = b"") -> str:
    """A hash of a state's content written as JSON (without its digest), as text or as
    its UTF-8 bytes; ``end`` follows them (to hash a part of a text without a copy)."""
    found = hashlib.sha256(content.encode() if isinstance(content, str) else content)
    if end:
        found.update(end)
    return found.hexdigest()[:32]


_DIGEST_END = ',"digest":"' + "0" * 32 + '"}'


def digest_as_read(json_data: str | bytes | bytearray) -> str | None:
    """The digest of a state's text as read, if it ends with its digest as a dump writes it."""
    end = len(_DIGEST_END)
    if isinstance(json_data, str):
        if json_data[-end:-34] == _DIGEST_END[:-34] and json_data.endswith('"}'):
            # The text before the digest, as UTF-8, hashed without a copy of it.
            tail = len(json_data[-end:].encode())
            return digest_of(memoryview(json_data.encode())[:-tail], b"}")
        return None
    if bytes(json_data[-end:-34]) == _DIGEST_END[:-34].encode() and json_data.endswith(b'"}'):
        return digest_of(bytes(json_data[:-end]).decode() + "}")
    return None
