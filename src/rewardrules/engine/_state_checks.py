"""The consistency checks a saved customer state passes before the engine uses it.

A :class:`~rewardrules.engine.state.CustomerState` is the engine's own output, kept by an
application between evaluations; these checks find the states that no evaluation can have
made: points that disagree with the lots, another customer's purchase, refunded units
beyond a line's quantity, a timestamp that would let older events rewind the state...
Each check yields ``(path, message)``, the path as data (``("lots", 2, "points")``), so
that every problem of a state is reported in one go.

:func:`state_problems` needs nothing but the state; :func:`program_problems` also needs
the program's currency and whether its points wait or expire. The invariants are the
engine's (see ``lots``, ``refunds``, ``engine``): a check here that a real evaluation can
break is a bug, which ``tests/test_state_checks.py`` looks for over drawn histories.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import chain
from operator import itemgetter, le, mul
from typing import TYPE_CHECKING

from pydantic_core import PydanticCustomError

from rewardrules._types import FIRST_DATE, LAST_DATE
from rewardrules.engine._state_format import instant, micros
from rewardrules.engine.lots import OPENING
from rewardrules.engine.refunds import refunded_amount
from rewardrules.errors import PathItem
from rewardrules.events import MAX_TEXT, _name
from rewardrules.money import Currency
from rewardrules.text import counted

if TYPE_CHECKING:  # the state's validator calls these checks: import it for types only
    from rewardrules.engine.state import CustomerState, SavedLine, SavedLot, SavedPurchase

Found = Iterator[tuple[tuple[PathItem, ...], str]]

FIRST_AT = micros(datetime(FIRST_DATE.year, 1, 1, tzinfo=UTC))
END_AT = micros(datetime(LAST_DATE.year + 1, 1, 1, tzinfo=UTC))
DAY = 86_400


def state_problems(state: CustomerState, bounded: bool = False) -> Found:
    """Yield ``(path, message)`` for every inconsistency a state shows on its own.

    ``bounded``: pydantic-core has tested the saved purchases' and tier window pairs'
    numeric bounds as it read them (``engine._state_fast``), so they are not tested again.
    """
    yield from _count_problems(state)
    yield from _event_problems(state)
    yield from _time_problems(state, bounded)
    if state.purchases and (state.exponent is None or state.exponent < 0):
        yield ("exponent",), f"must be a number of decimal places (got {state.exponent!r})"
    texts, sound = _plain_and_sound(state.purchases, bounded)
    if not sound:
        for index, kept in enumerate(state.purchases):
            yield from _purchase_problems(state, index, kept, texts)
    yield from _points_problems(state)
    yield from _lot_problems(state)


def program_problems(state: CustomerState, money: Currency, merged_lots: bool) -> Found:
    """Yield the inconsistencies that show only with the program's currency and points.

    Only for a state without the problems of :func:`state_problems` (one value per line).

    ``merged_lots``: the program's points neither wait nor expire, so one lot holds the
    points of every event and no lot belongs to one purchase.
    """
    if state.purchases and state.exponent != money.exponent:
        yield (
            ("exponent",),
            f"is {state.exponent}, but the program's currency {money.code} has "
            f"{money.exponent} decimal places; a state belongs to its program",
        )
        return
    lines = list(chain.from_iterable(map(_LINES, state.purchases)))
    refunded = any(map(_REFUNDED_UNITS, lines)) or any(map(_REFUNDED_AMOUNT, lines))
    for index, kept in enumerate(state.purchases if refunded else ()):
        for position, line in enumerate(kept.lines):
            done, back = line.refunded_units, line.refunded_amount
            if not done and not back:
                continue  # nothing refunded, nothing given back: most lines of most states
            expected = refunded_amount(line.paid, line.quantity, done)
            if back != expected:
                show = money.to_decimal
                yield (
                    ("purchases", index, "lines", position, "refunded_amount"),
                    f"is {show(back)}, but {done} of {line.quantity} units refunded of "
                    f"{show(line.paid)} paid give back {show(expected)}",
                )
    if merged_lots:
        return
    by_id = {kept.id: index for index, kept in enumerate(state.purchases)}
    for index, lot in enumerate(state.lots):
        source = by_id.get(lot.source)
        if source is not None:
            earned = sum(state.purchases[source].points.values())
            if lot.points > earned:
                yield (
                    ("lots", index, "points"),
                    f"is {lot.points}, more than the {earned} its purchase "
                    f"{lot.source} earned (purchases[{source}].points)",
                )


def _negative(path: tuple[PathItem, ...], value: int | Decimal) -> Found:
    if value < 0:
        yield path, f"must not be negative (got {value})"


def _count_problems(state: CustomerState) -> Found:
    for rule, count in state.stamps.items():
        yield from _negative(("stamps", rule), count)
    for rule, year in state.birthdays.items():
        if year < 1:
            yield ("birthdays", rule), f"must be a year (got {year})"
    for rule, windows in state.gift_cards.items():
        for key, window in windows.items():
            path: tuple[PathItem, ...] = ("gift_cards", rule, key)
            yield from _negative((*path, "net_spend"), window.net_spend)
            if window.highest_spend < window.net_spend:
                yield (
                    (*path, "highest_spend"),
                    f"is {window.highest_spend}, below the net spend {window.net_spend}; "
                    "it is the highest net spend reached",
                )
    if state.forgotten_until is not None:
        return  # the forgotten purchases' units are counted too
    units = sum(line.quantity for kept in state.purchases for line in kept.lines)
    for rule, count in state.stamps.items():
        if count > units:
            yield (
                ("stamps", rule),
                f"counts {count}, but the saved purchases have only {counted(units, 'units')} "
                "in all",
            )


def _duplicates(name: str, ids: Sequence[str]) -> Found:
    if len(set(ids)) == len(ids):  # the way every saved state goes, in one C loop
        return
    seen: dict[str, int] = {}
    for index, event_id in enumerate(ids):
        if event_id in seen:
            yield (name, index), f"'{event_id}' is already {name}[{seen[event_id]}]"
        seen.setdefault(event_id, index)


def _event_problems(state: CustomerState) -> Found:
    purchase_ids = list(map(_ID, state.purchases))
    yield from (
        (("purchases", path[1], "id"), message)
        for path, message in _duplicates("purchases", purchase_ids)
    )
    yield from _duplicates("refunds", state.refunds)
    yield from _duplicates("redemptions", state.redemptions)
    yield from _duplicates("bonuses", state.bonuses)
    evaluated = set(state.redemptions)
    for index, spent in enumerate(state.spent):
        if spent.id not in evaluated or spent.id in state.cancellations:
            yield ("spent", index, "id"), f"'{spent.id}' is not an applied redemption of the state"
    for cancel, target in state.cancellations.items():
        if cancel not in evaluated or target not in evaluated:
            yield ("cancellations", cancel), f"'{cancel}' or '{target}' is not in redemptions"
    kinds = (("refunds", state.refunds), ("redemptions", state.redemptions))
    used = set(purchase_ids)
    for name, ids in kinds:
        for index, event_id in enumerate(ids):
            if event_id in used:
                yield (name, index), f"'{event_id}' is also the id of another saved event"
        used.update(ids)
    if state.forgotten_until is None and len(state.refunds) > (
        refunded := sum(
            max(line.refunded_units, 0) for kept in state.purchases for line in kept.lines
        )
    ):
        yield (
            ("refunds",),
            f"{len(state.refunds)} refunds are saved, but only {refunded} units of the saved "
            "purchases are refunded; each refund gives back at least one unit",
        )
    friends: dict[tuple[str, str], int] = {}
    facts: dict[tuple[str, str], int] = {}
    for index, kept in enumerate(state.referrals):
        path: tuple[PathItem, ...] = ("referrals", index)
        if kept.referred == state.customer_id:
            yield (*path, "referred"), "is the customer themselves; nobody refers themselves"
        if (kept.id, kept.rule) in facts:
            yield (*path, "id"), f"repeats referrals[{facts[kept.id, kept.rule]}]"
        if (kept.rule, kept.referred) in friends:
            yield (
                (*path, "referred"),
                f"'{kept.referred}' already rewarded this customer under rule '{kept.rule}' "
                f"(referrals[{friends[kept.rule, kept.referred]}])",
            )
        if kept.id in used:
            yield (*path, "id"), f"'{kept.id}' is also the id of a saved event"
        facts.setdefault((kept.id, kept.rule), index)
        friends.setdefault((kept.rule, kept.referred), index)


def _time_problems(state: CustomerState, bounded: bool = False) -> Found:
    has_events = bool(state.purchases or state.refunds or state.redemptions or state.referrals)
    last, first = state.last_event_at, state.first_event_at
    # The other way round is no problem: a state may keep the instants of events of which
    # nothing else is kept (a referrer whose only held reward was reversed in its hold).
    for name, moment in (("last_event_at", last), ("first_event_at", first)):
        if has_events and moment is None:
            yield (name,), "is missing, but the state has evaluated events"
    if first is not None and last is not None and first > last:
        yield ("first_event_at",), f"is after last_event_at ({last.isoformat()})"
    last_at = None if last is None else micros(last)
    first_at = None if first is None else micros(first)
    moments = list(map(_PURCHASE_AT, state.purchases))
    in_order = not moments or (
        all(map(le, moments, moments[1:]))
        and (last_at is None or moments[-1] <= last_at)
        and (first_at is None or moments[0] >= first_at)
    )
    previous: int | None = None
    for index, kept in enumerate(() if in_order else state.purchases):
        at = kept.at
        path: tuple[PathItem, ...] = ("purchases", index, "at")
        if last_at is not None and at > last_at and last is not None:
            yield (
                ("last_event_at",),
                (
                    f"is {last.isoformat()}, earlier than purchases[{index}] "
                    f"({_shown_at(kept)}); it is the instant of the last evaluated event"
                ),
            )
        if first_at is not None and at < first_at and first is not None:
            yield path, f"is before first_event_at ({first.isoformat()})"
        if previous is not None and at < previous:
            yield path, f"is before purchases[{index - 1}]; purchases are kept in time order"
        previous = at
    expected = instant(state.purchases[-1].at) if state.purchases else None
    if state.last_purchase_at != expected:
        shown = "missing" if state.last_purchase_at is None else state.last_purchase_at
        wanted = (
            "none, as no purchase is saved" if expected is None else _shown_at(state.purchases[-1])
        )
        if isinstance(shown, datetime):
            shown = shown.isoformat()
        yield ("last_purchase_at",), f"is {shown}, but the last saved purchase says {wanted}"
    for name, reached in state.tier_reached.items():
        if expected is None or reached > expected:
            yield (
                ("tier_reached", name),
                f"is {reached.isoformat()}, after the last saved purchase; a tier is "
                "reached at a purchase",
            )
    if state.window_tier is not None and expected is None:
        yield ("window_tier",), "names a tier, but no purchase is saved"
    if (state.tier_granted is None) != (state.tier_granted_until is None):
        yield ("tier_granted_until",), "must be given with tier_granted, and only with it"
    yield from _forgotten_problems(state, bounded)


def _forgotten_problems(state: CustomerState, bounded: bool = False) -> Found:
    """The purchases the state forgot (``refunds.within``): all older than those it keeps."""
    until = state.forgotten_until
    settled = state.settled_purchase_at
    if until is None:
        if state.tier_amounts or state.tier_window:
            name = "tier_amounts" if state.tier_amounts else "tier_window"
            yield (name,), "counts forgotten purchases, but forgotten_until is missing"
        if settled is not None:
            yield ("settled_purchase_at",), "is a forgotten purchase, but none is forgotten"
        return
    if settled is not None and settled > until:
        yield (
            ("settled_purchase_at",),
            f"is after forgotten_until ({until.isoformat()}); it is a forgotten purchase",
        )
    until_at = micros(until)
    if not state.purchases:
        yield ("forgotten_until",), "is set, but no purchase is saved; the newest is kept"
    elif state.purchases[0].at < until_at:
        yield (
            ("purchases", 0, "at"),
            f"is before forgotten_until ({until.isoformat()}); purchases are forgotten "
            "oldest first",
        )
    for key, amount in state.tier_amounts.items():
        yield from _negative(("tier_amounts", key), amount)
    window = state.tier_window
    if window:  # C loops for the way every saved state goes: in order, before, not negative
        moments = list(map(_PAIR_AT, window))
        if (
            moments[-1] <= until_at
            and all(map(le, moments, moments[1:]))
            and (bounded or min(map(_PAIR_AMOUNT, window)) >= 0)
        ):
            return
    previous: int | None = None
    for index, (at, amount) in enumerate(window):
        if at > until_at:
            yield (
                ("tier_window", index, "at"),
                f"is after forgotten_until ({until.isoformat()}); it holds forgotten "
                "purchases only",
            )
        if previous is not None and at < previous:
            yield ("tier_window", index, "at"), f"is before tier_window[{index - 1}]"
        yield from _negative(("tier_window", index, "amount"), amount)
        previous = at


def _all_plain(purchases: Sequence[SavedPurchase]) -> bool:
    """Whether every id, store, sku and category of the saved purchases is plain text, in
    one pass of C loops: most states are, and then no text is looked at one by one."""
    lines = list(chain.from_iterable(map(_LINES, purchases)))
    # Stores, skus and categories repeat from purchase to purchase: each is looked at once.
    return _texts_plain(
        [
            *map(_ID, purchases),
            *{
                *filter(None, map(_STORE, purchases)),
                *map(_SKU, lines),
                *filter(None, map(_CATEGORY, lines)),
            },
        ]
    )


def _texts_plain(texts: list[str]) -> bool:
    """Whether every one of ``texts`` is plain text (:func:`_plain`), in C loops."""
    if not texts:
        return True
    joined = "".join(texts)
    return (
        joined.isascii()
        and joined.isprintable()
        and min(map(len, texts)) > 0
        and max(map(len, texts)) <= MAX_TEXT
        and all(map(str.__eq__, texts, map(str.strip, texts)))
    )


def _plain_and_sound(
    purchases: Sequence[SavedPurchase], bounded: bool = False
) -> tuple[bool, bool]:
    """Whether every text of the saved purchases is plain (:func:`_all_plain`), and whether
    :func:`_purchase_problems` then finds nothing in any of them: the same tests decided in
    C loops over all the purchases at once, one conjunction per field (every state is
    checked at every load, and most pass). ``bounded``: the numeric bounds are known to
    hold (``state_problems``); the relations between fields are tested."""
    if not purchases:
        return True, True
    ids, moments, offsets, stores, _tiers, lines_of, points, _aside, earned_on = zip(
        *purchases, strict=True
    )
    if min(map(len, lines_of)) < 1:
        return _all_plain(purchases), False
    skus, categories, quantity, unit_price, paid, units, back = zip(
        *chain.from_iterable(lines_of), strict=True
    )
    # Stores, skus and categories repeat from purchase to purchase: each is looked at once.
    if not _texts_plain([*ids, *{*filter(None, stores), *skus, *filter(None, categories)}]):
        return False, False
    if bounded:
        return True, (
            not any(earned_on)  # the grouped rules' amounts: checked one by one
            and all(map(le, units, quantity))
            and all(map(le, back, paid))
            and all(map(le, paid, map(mul, quantity, unit_price)))
        )
    return True, (
        min(moments) >= FIRST_AT
        and max(moments) < END_AT
        and min(offsets) > -DAY
        and max(offsets) < DAY
        and not any(earned_on)  # the grouped rules' amounts: checked one by one
        and min(chain.from_iterable(map(dict.values, points)), default=0) >= 0
        and min(quantity) >= 1
        and min(unit_price) >= 0
        and min(paid) >= 0
        and min(units) >= 0
        and min(back) >= 0
        and all(map(le, units, quantity))
        and all(map(le, back, paid))
        and all(map(le, paid, map(mul, quantity, unit_price)))
    )


_ID, _STORE, _LINES = itemgetter(0), itemgetter(3), itemgetter(5)
_SKU, _CATEGORY = itemgetter(0), itemgetter(1)
_REFUNDED_UNITS, _REFUNDED_AMOUNT = itemgetter(5), itemgetter(6)
_PAIR_AT, _PAIR_AMOUNT = itemgetter(0), itemgetter(1)
_PURCHASE_AT = itemgetter(1)


def _purchase_problems(
    state: CustomerState, index: int, kept: SavedPurchase, texts_plain: bool
) -> Found:
    path: tuple[PathItem, ...] = ("purchases", index)
    if not texts_plain:
        yield from _text_problems((*path, "id"), kept.id)
    if not FIRST_AT <= kept.at < END_AT:
        yield (*path, "at"), f"must be an instant of the years 1970 to 2099 (got {kept.at})"
    if not -DAY < kept.offset < DAY:
        yield (*path, "offset"), f"must be a UTC offset in seconds (got {kept.offset})"
    if kept.store is not None and not texts_plain:
        yield from _text_problems((*path, "store"), kept.store)
    lines = kept.lines
    if not lines:
        yield (*path, "lines"), "must hold at least one line"
    # One test per line on the way most states go (every state is checked at every load).
    for position, line in enumerate(lines):
        if (
            line.quantity < 1
            or line.unit_price < 0
            or line.refunded_units < 0
            or line.refunded_amount < 0
            or line.refunded_units > line.quantity
            or line.refunded_amount > line.paid
            or not 0 <= line.paid <= line.quantity * line.unit_price
        ):
            yield from _line_problems((*path, "lines", position), line, state.exponent)
        if not texts_plain:
            yield from _text_problems((*path, "lines", position, "sku"), line.sku)
            if line.category is not None:
                yield from _text_problems((*path, "lines", position, "category"), line.category)
    for rule, points in kept.points.items():
        if points < 0:
            yield (*path, "points", rule), f"must not be negative (got {points})"
    for rule, seen in kept.earned_on.items():  # minor units a grouped rule earned on, per line
        if len(seen) != len(lines):
            message = f"has {counted(len(seen), 'values')} for {counted(len(lines), 'lines')}"
            yield (*path, "earned_on", rule), message
        elif any(amount < 0 for amount in seen):
            yield (*path, "earned_on", rule), f"must not hold a negative amount (got {list(seen)})"


def _line_problems(path: tuple[PathItem, ...], line: SavedLine, exponent: int | None) -> Found:
    def show(minor: int) -> str:
        return str(_money(minor, exponent))

    if line.quantity < 1:
        yield (*path, "quantity"), f"must be at least 1 (got {line.quantity})"
    yield from _negative((*path, "unit_price"), line.unit_price)
    yield from _negative((*path, "paid"), line.paid)
    yield from _negative((*path, "refunded_units"), line.refunded_units)
    yield from _negative((*path, "refunded_amount"), line.refunded_amount)
    gross = line.quantity * line.unit_price
    if line.paid > gross >= 0:
        yield (*path, "paid"), f"is {show(line.paid)}, more than the line's {show(gross)}"
    if line.refunded_units > line.quantity:
        yield (
            (*path, "refunded_units"),
            f"is {line.refunded_units}, more than the line's quantity {line.quantity}",
        )
    if line.refunded_amount > line.paid:
        yield (
            (*path, "refunded_amount"),
            f"is {show(line.refunded_amount)}, more than the {show(line.paid)} paid for the line",
        )


def _money(minor: int, exponent: int | None) -> Decimal:
    """An amount in minor units as the currency writes it (``Currency.to_decimal``)."""
    digits = tuple(int(digit) for digit in str(abs(minor)))
    return Decimal((1 if minor < 0 else 0, digits, -(exponent or 0)))


def _plain(text: str) -> bool:
    """The common case of an id or name, decided without a look at each character."""
    return (
        0 < len(text) <= MAX_TEXT
        and text.isascii()
        and text.isprintable()
        and (text[0] != " " != text[-1])
    )


def _text_problems(path: tuple[PathItem, ...], text: str) -> Found:
    """An id, sku, category or store as events allow them."""
    if _plain(text):
        return
    if not text:
        yield path, "must not be empty"
        return
    try:
        _name(text)
    except (ValueError, PydanticCustomError) as error:
        message = error.message() if isinstance(error, PydanticCustomError) else str(error)
        yield path, message


def _shown_at(kept: SavedPurchase) -> str:
    return instant(kept.at, kept.offset).isoformat()


def _points_problems(state: CustomerState) -> Found:
    held = sum(lot.points for lot in state.lots)
    if state.points != held - state.debt:
        if not state.lots and state.points > 0:
            yield ("lots",), f"is empty, but points is {state.points}; points are kept in lots"
        else:
            debt = f" less the debt of {state.debt}, {held - state.debt}" if state.debt else ""
            yield ("points",), f"is {state.points}, but the lots hold {held}{debt}"
    if state.debt and held:
        yield (
            ("debt",),
            f"is {state.debt}, but the lots still hold {held} points; a debt is owed only "
            "once every lot is used",
        )


def _lot_problems(state: CustomerState) -> Found:
    purchases = dict(zip(map(_ID, state.purchases), state.purchases))
    facts = {kept.id for kept in state.referrals}
    gift_rules = {*state.bonuses, *state.birthdays}
    sources: dict[str, int] = {}
    previous: SavedLot | None = None
    for index, lot in enumerate(state.lots):
        path: tuple[PathItem, ...] = ("lots", index)
        source = purchases.get(lot.source)
        if source is not None:
            if micros(lot.earned_at) != source.at:
                yield (
                    (*path, "earned_at"),
                    f"is {lot.earned_at.isoformat()}, but purchase {lot.source} was made at "
                    f"{_shown_at(source)}",
                )
        elif (
            lot.source not in facts
            and not _is_gift(lot.source, gift_rules)
            and not _is_opening(lot.source)
            and not (state.forgotten_until is not None and lot.earned_at <= state.forgotten_until)
        ):
            yield (
                (*path, "source"),
                f"'{lot.source}' is none of this customer's saved purchases, referrals or "
                "gifts; a lot holds points of the customer's own events",
            )
        # One lot per event; a friend's purchase that qualified under several referral
        # rules rewarded the referrer once per rule.
        if lot.source in sources and lot.source not in facts:
            yield (*path, "source"), f"'{lot.source}' already has lots[{sources[lot.source]}]"
        sources.setdefault(lot.source, index)
        if lot.available_at < lot.earned_at:
            yield (*path, "available_at"), "is before earned_at"
        if lot.expires_at is not None and lot.expires_at < lot.earned_at:
            yield (*path, "expires_at"), "is before earned_at"
        if previous is not None and lot.earned_at < previous.earned_at:
            yield (
                (*path, "earned_at"),
                f"is before lots[{index - 1}].earned_at; lots are kept oldest first",
            )
        previous = lot


def _is_opening(source: str) -> bool:
    """Whether ``source`` is an opening lot of a migrated customer: ``opening#<n>``."""
    number = source.removeprefix(OPENING)
    return number != source and number.isascii() and number.isdigit()


def _is_gift(source: str, gift_rules: set[str]) -> bool:
    """Whether ``source`` is the id of a gift at a date: ``<rule>@<local date>``."""
    rule, at, day = source.rpartition("@")
    if not at or rule not in gift_rules:
        return False
    try:
        date.fromisoformat(day)
    except ValueError:
        return False
    return True
