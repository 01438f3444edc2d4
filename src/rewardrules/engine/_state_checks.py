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
The saved purchases' columns on their own are checked in ``_purchase_checks``; here, what
relates them to the rest of the state.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING

from rewardrules.engine._purchase_checks import (
    DAY,
    END_AT,
    FIRST_AT,
    Found,
    negative,
    shape_problems,
    value_problems,
)
from rewardrules.engine._state_columns import PurchaseColumns, points_of
from rewardrules.engine._state_format import instant, micros
from rewardrules.engine.lots import OPENING
from rewardrules.engine.refunds import refunded_amount
from rewardrules.errors import PathItem
from rewardrules.money import Currency
from rewardrules.text import counted

if TYPE_CHECKING:  # the state's validator calls these checks: import it for types only
    from rewardrules.engine.state import CustomerState, SavedLot

__all__ = ["DAY", "END_AT", "FIRST_AT", "program_problems", "state_problems"]


def state_problems(state: CustomerState) -> Found:
    """Yield ``(path, message)`` for every inconsistency a state shows on its own.

    Purchase columns of the wrong length are all that is said of a state that has them:
    the other checks read the purchases through them.
    """
    shape = list(shape_problems(state.purchase_columns))
    if shape:
        yield from shape
        return
    yield from _count_problems(state)
    yield from _event_problems(state)
    yield from _time_problems(state)
    columns = state.purchase_columns
    if columns.id and (state.exponent is None or state.exponent < 0):
        yield ("exponent",), f"must be a number of decimal places (got {state.exponent!r})"
    yield from value_problems(columns, state.exponent)
    yield from _points_problems(state)
    yield from _lot_problems(state)


def program_problems(
    state: CustomerState, money: Currency, merged_lots: bool, clamps: bool = False
) -> Found:
    """Yield the inconsistencies that show only with the program's currency and points.

    Only for a state without the problems of :func:`state_problems` (one value per line).

    ``merged_lots``: the program's points neither wait nor expire, so one lot holds the
    points of every event and no lot belongs to one purchase. ``clamps``: the program's
    ``negative_balance`` is ``clamp``, the only setting that writes points off.
    """
    if state.written_off and not clamps:
        yield (
            ("written_off",),
            f"holds {counted(len(state.written_off), 'write-offs')}, but the program's "
            "negative_balance is allow, which writes no points off (a refund leaves a debt "
            "instead)",
        )
    if state.purchase_columns.id and state.exponent != money.exponent:
        yield (
            ("exponent",),
            f"is {state.exponent}, but the program's currency {money.code} has "
            f"{money.exponent} decimal places; a state belongs to its program",
        )
        return
    columns = state.purchase_columns
    units, back, paid = columns.refunded_units, columns.refunded_amount, columns.paid
    if any(units) or any(back):
        for index, (done, given_back) in enumerate(zip(units, back, strict=True)):
            if not done and not given_back:
                continue  # nothing refunded, nothing given back: most lines of most states
            quantity = columns.quantity[index]
            expected = refunded_amount(paid[index], quantity, done)
            if given_back != expected:
                show = money.to_decimal
                yield (
                    ("purchases", "refunded_amount", index),
                    f"is {show(given_back)}, but {done} of {quantity} units refunded of "
                    f"{show(paid[index])} paid give back {show(expected)}",
                )
    if merged_lots:
        return
    # A cancellation gives points back to the lots they were taken from, also to the lot of
    # a purchase that a refund has since made earn less (the refund took from the other
    # lots while that one was spent): once a state has a cancellation (it forgets none),
    # only the lots of purchases nothing was refunded of keep the bound.
    refunded = _refunded_purchases(columns) if state.cancellations else set()
    by_id = {purchase_id: index for index, purchase_id in enumerate(columns.id)}
    for index, lot in enumerate(state.lots):
        source = by_id.get(lot.source)
        if source is not None and source not in refunded:
            earned = sum(points_of(columns, source).values())
            if lot.points > earned:
                yield (
                    ("lots", index, "points"),
                    f"is {lot.points}, more than the {earned} its purchase "
                    f"{lot.source} earned (purchases.points, purchase {source})",
                )


def _refunded_purchases(columns: PurchaseColumns) -> set[int]:
    """The saved purchases (by index) with a refunded unit."""
    refunded: set[int] = set()
    end = 0
    for purchase, count in enumerate(columns.lines):
        start, end = end, end + count
        if any(columns.refunded_units[start:end]):
            refunded.add(purchase)
    return refunded


def _count_problems(state: CustomerState) -> Found:
    for rule, count in state.stamps.items():
        yield from negative(("stamps", rule), count)
    for rule, year in state.birthdays.items():
        if year < 1:
            yield ("birthdays", rule), f"must be a year (got {year})"
    for rule, windows in state.gift_cards.items():
        for key, window in windows.items():
            path: tuple[PathItem, ...] = ("gift_cards", rule, key)
            yield from negative((*path, "net_spend"), window.net_spend)
            if window.highest_spend < window.net_spend:
                yield (
                    (*path, "highest_spend"),
                    f"is {window.highest_spend}, below the net spend {window.net_spend}; "
                    "it is the highest net spend reached",
                )
    if state.forgotten_until is not None:
        return  # the forgotten purchases' units are counted too
    units = sum(state.purchase_columns.quantity)
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
            yield (*name.split("."), index), f"'{event_id}' is already {name}[{seen[event_id]}]"
        seen.setdefault(event_id, index)


def _event_problems(state: CustomerState) -> Found:
    columns = state.purchase_columns
    purchase_ids = columns.id
    yield from _duplicates("purchases.id", purchase_ids)
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
    if state.written_off:
        outstanding = {spent.id for spent in state.spent}
        refunds = set(state.refunds)
        for index, found in enumerate(state.written_off):
            if found.refund not in refunds:
                yield (
                    ("written_off", index, "refund"),
                    f"'{found.refund}' is not in refunds; points are written off by a refund",
                )
            for position, redemption in enumerate(found.redemptions):
                if redemption not in outstanding:
                    yield (
                        ("written_off", index, "redemptions", position),
                        f"'{redemption}' is not an applied redemption of the state (spent); "
                        "only cancelling one recovers written-off points",
                    )
    kinds = (("refunds", state.refunds), ("redemptions", state.redemptions))
    used = set(purchase_ids)
    for name, ids in kinds:
        for index, event_id in enumerate(ids):
            if event_id in used:
                yield (name, index), f"'{event_id}' is also the id of another saved event"
        used.update(ids)
    if state.forgotten_until is None and len(state.refunds) > (
        refunded := sum(units for units in columns.refunded_units if units > 0)
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


def _time_problems(state: CustomerState) -> Found:
    columns = state.purchase_columns
    moments, offsets = columns.at, columns.offset
    has_events = bool(moments or state.refunds or state.redemptions or state.referrals)
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
    in_order = not moments or (
        # For integers, sorted is a linear pass over ones in order, faster than pairs.
        sorted(moments) == list(moments)
        and (last_at is None or moments[-1] <= last_at)
        and (first_at is None or moments[0] >= first_at)
    )
    previous: int | None = None
    for index, at in enumerate(() if in_order else moments):
        path: tuple[PathItem, ...] = ("purchases", "at", index)
        if last_at is not None and at > last_at and last is not None:
            yield (
                ("last_event_at",),
                (
                    f"is {last.isoformat()}, earlier than purchases.at[{index}] "
                    f"({_shown_at(at, offsets[index])}); it is the instant of the last "
                    "evaluated event"
                ),
            )
        if first_at is not None and at < first_at and first is not None:
            yield path, f"is before first_event_at ({first.isoformat()})"
        if previous is not None and at < previous:
            yield path, f"is before purchases.at[{index - 1}]; purchases are kept in time order"
        previous = at
    expected = instant(moments[-1]) if moments else None
    if state.last_purchase_at != expected:
        shown = "missing" if state.last_purchase_at is None else state.last_purchase_at
        wanted = (
            "none, as no purchase is saved"
            if expected is None
            else _shown_at(moments[-1], offsets[-1])
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
    yield from _forgotten_problems(state)


def _forgotten_problems(state: CustomerState) -> Found:
    """The purchases the state forgot (``refunds.within``): all older than those it keeps."""
    until = state.forgotten_until
    settled = state.settled_purchase_at
    window = state.window_columns
    if until is None:
        if state.tier_amounts or window.at or window.amount:
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
    moments = state.purchase_columns.at
    if not moments:
        yield ("forgotten_until",), "is set, but no purchase is saved; the newest is kept"
    elif moments[0] < until_at:
        yield (
            ("purchases", "at", 0),
            f"is before forgotten_until ({until.isoformat()}); purchases are forgotten "
            "oldest first",
        )
    for key, amount in state.tier_amounts.items():
        yield from negative(("tier_amounts", key), amount)
    yield from _window_problems(window.at, window.amount, until, until_at)


def _window_problems(
    moments: Sequence[int], amounts: Sequence[int], until: datetime, until_at: int
) -> Found:
    """The rolling window's forgotten purchases: one amount per instant, in order, none
    after ``forgotten_until`` (``until_at`` in microseconds), none negative."""
    if len(amounts) != len(moments):
        yield (
            ("tier_window", "amount"),
            f"has {counted(len(amounts), 'values')} for {counted(len(moments), 'instants')} "
            "(tier_window.at)",
        )
        return
    # C loops for the way every saved state goes: in order, before, not negative.
    if not moments or (
        moments[-1] <= until_at and sorted(moments) == list(moments) and min(amounts) >= 0
    ):
        return
    previous: int | None = None
    for index, (at, amount) in enumerate(zip(moments, amounts, strict=True)):
        if at > until_at:
            yield (
                ("tier_window", "at", index),
                f"is after forgotten_until ({until.isoformat()}); it holds forgotten "
                "purchases only",
            )
        if previous is not None and at < previous:
            yield ("tier_window", "at", index), f"is before tier_window.at[{index - 1}]"
        yield from negative(("tier_window", "amount", index), amount)
        previous = at


def _shown_at(at: int, offset: int) -> str:
    return instant(at, offset).isoformat()


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
    columns = state.purchase_columns
    purchases = dict(zip(columns.id, range(len(columns.id))))
    facts = {kept.id for kept in state.referrals}
    gift_rules = {*state.bonuses, *state.birthdays}
    sources: dict[str, int] = {}
    previous: SavedLot | None = None
    for index, lot in enumerate(state.lots):
        path: tuple[PathItem, ...] = ("lots", index)
        source = purchases.get(lot.source)
        if source is not None:
            if micros(lot.earned_at) != columns.at[source]:
                yield (
                    (*path, "earned_at"),
                    f"is {lot.earned_at.isoformat()}, but purchase {lot.source} was made at "
                    f"{_shown_at(columns.at[source], columns.offset[source])}",
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
        # The opening lots come first, oldest first, before every lot the evaluation
        # adds: a gift dated at a joining before an opening lot's date follows them.
        if (
            previous is not None
            and lot.earned_at < previous.earned_at
            and not (_is_opening(previous.source) and not _is_opening(lot.source))
        ):
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
