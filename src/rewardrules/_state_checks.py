"""The consistency checks a saved customer state passes before the engine uses it.

A :class:`~rewardrules.state.CustomerState` is the engine's own output, kept by an
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
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from rewardrules.errors import PathItem
from rewardrules.kinds._words import counted
from rewardrules.money import Currency
from rewardrules.refunds import refunded_amount

if TYPE_CHECKING:  # the state's validator calls these checks: import it for types only
    from rewardrules.state import CustomerState, SavedLot, SavedPurchase

Found = Iterator[tuple[tuple[PathItem, ...], str]]


def state_problems(state: CustomerState) -> Found:
    """Yield ``(path, message)`` for every inconsistency a state shows on its own."""
    yield from _count_problems(state)
    yield from _event_problems(state)
    yield from _time_problems(state)
    for index, kept in enumerate(state.purchases):
        yield from _purchase_problems(state.customer_id, index, kept)
    yield from _points_problems(state)
    yield from _lot_problems(state)


def program_problems(state: CustomerState, money: Currency, merged_lots: bool) -> Found:
    """Yield the inconsistencies that show only with the program's currency and points.

    Only for a state without the problems of :func:`state_problems` (one value per line).

    ``merged_lots``: the program's points neither wait nor expire, so one lot holds the
    points of every event and no lot belongs to one purchase.
    """
    for index, kept in enumerate(state.purchases):
        lines = kept.purchase.lines
        for position, (line, paid, done, back) in enumerate(
            zip(lines, kept.paid, kept.refunded_units, kept.refunded_amount, strict=True)
        ):
            if not done and not back:
                continue  # nothing refunded, nothing given back: most lines of most states
            try:
                expected = refunded_amount(money.to_minor(paid), line.quantity, done)
                given_back = money.to_minor(back)
            except ValueError:
                continue  # an amount finer than the currency: restore says so
            if given_back != expected:
                yield (
                    ("purchases", index, "refunded_amount", position),
                    f"is {back}, but {done} of {line.quantity} units refunded of "
                    f"{paid} paid give back {money.to_decimal(expected)}",
                )
    if merged_lots:
        return
    by_id = {kept.purchase.id: kept for kept in state.purchases}
    for index, lot in enumerate(state.lots):
        source = by_id.get(lot.source)
        if source is not None and lot.points > sum(source.points.values()):
            yield (
                ("lots", index, "points"),
                f"is {lot.points}, more than the {sum(source.points.values())} its purchase "
                f"{lot.source} earned (purchases[{state.purchases.index(source)}].points)",
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
    units = sum(line.quantity for kept in state.purchases for line in kept.purchase.lines)
    for rule, count in state.stamps.items():
        if count > units:
            yield (
                ("stamps", rule),
                f"counts {count}, but the saved purchases have only {counted(units, 'units')} "
                "in all",
            )


def _duplicates(name: str, ids: Sequence[str]) -> Found:
    seen: dict[str, int] = {}
    for index, event_id in enumerate(ids):
        if event_id in seen:
            yield (name, index), f"'{event_id}' is already {name}[{seen[event_id]}]"
        seen.setdefault(event_id, index)


def _event_problems(state: CustomerState) -> Found:
    purchase_ids = [kept.purchase.id for kept in state.purchases]
    yield from (
        (("purchases", path[1], "purchase", "id"), message)
        for path, message in _duplicates("purchases", purchase_ids)
    )
    yield from _duplicates("refunds", state.refunds)
    yield from _duplicates("redemptions", state.redemptions)
    yield from _duplicates("bonuses", state.bonuses)
    kinds = (("refunds", state.refunds), ("redemptions", state.redemptions))
    used = set(purchase_ids)
    for name, ids in kinds:
        for index, event_id in enumerate(ids):
            if event_id in used:
                yield (name, index), f"'{event_id}' is also the id of another saved event"
        used.update(ids)
    if len(state.refunds) > (
        refunded := sum(max(units, 0) for kept in state.purchases for units in kept.refunded_units)
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
    has_events = bool(state.purchases or state.refunds or state.redemptions or state.referrals)
    last, first = state.last_event_at, state.first_event_at
    for name, moment in (("last_event_at", last), ("first_event_at", first)):
        if has_events and moment is None:
            yield (name,), "is missing, but the state has evaluated events"
        elif not has_events and moment is not None:
            yield (name,), f"is {moment.isoformat()}, but the state has no evaluated event"
    if first is not None and last is not None and first > last:
        yield ("first_event_at",), f"is after last_event_at ({last.isoformat()})"
    previous: datetime | None = None
    for index, kept in enumerate(state.purchases):
        at = kept.purchase.at
        path: tuple[PathItem, ...] = ("purchases", index, "purchase", "at")
        if last is not None and at > last:
            yield (
                ("last_event_at",),
                (
                    f"is {last.isoformat()}, earlier than purchases[{index}] "
                    f"({at.isoformat()}); it is the instant of the last evaluated event"
                ),
            )
        if first is not None and at < first:
            yield path, f"is before first_event_at ({first.isoformat()})"
        if previous is not None and at < previous:
            yield path, f"is before purchases[{index - 1}]; purchases are kept in time order"
        previous = at
    expected = state.purchases[-1].purchase.at if state.purchases else None
    if state.last_purchase_at != expected:
        shown = "missing" if state.last_purchase_at is None else state.last_purchase_at
        wanted = "none, as no purchase is saved" if expected is None else expected.isoformat()
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


def _purchase_problems(customer_id: str, index: int, kept: SavedPurchase) -> Found:
    path: tuple[PathItem, ...] = ("purchases", index)
    purchase = kept.purchase
    if purchase.customer_id != customer_id:
        yield (
            (*path, "purchase", "customer_id"),
            f"is '{purchase.customer_id}': a purchase of another customer in the state of "
            f"'{customer_id}'",
        )
    lines, paid, units, back = purchase.lines, kept.paid, kept.refunded_units, kept.refunded_amount
    for name, values in (("paid", paid), ("refunded_units", units), ("refunded_amount", back)):
        if len(values) != len(lines):
            yield (
                (*path, name),
                f"has {counted(len(values), 'values')} for {counted(len(lines), 'lines')}",
            )
            return
    # One test per line on the way most states go (every state is checked at every load).
    for position, line in enumerate(lines):
        line_paid, done, line_back = paid[position], units[position], back[position]
        if (
            done < 0
            or line_back < 0
            or done > line.quantity
            or line_back > line_paid
            or not 0 <= line_paid <= line.gross
        ):
            yield from _line_problems((*path,), position, line.gross, line.quantity, kept)
    for rule, points in kept.points.items():
        if points < 0:
            yield (*path, "points", rule), f"must not be negative (got {points})"
    for rule, seen in kept.earned_on.items():  # minor units a grouped rule earned on, per line
        if len(seen) != len(lines):
            message = f"has {counted(len(seen), 'values')} for {counted(len(lines), 'lines')}"
            yield (*path, "earned_on", rule), message
        elif any(amount < 0 for amount in seen):
            yield (*path, "earned_on", rule), f"must not hold a negative amount (got {seen})"


def _line_problems(
    path: tuple[PathItem, ...], position: int, gross: Decimal, quantity: int, kept: SavedPurchase
) -> Found:
    paid, done = kept.paid[position], kept.refunded_units[position]
    back = kept.refunded_amount[position]
    yield from _negative((*path, "paid", position), paid)
    yield from _negative((*path, "refunded_units", position), done)
    yield from _negative((*path, "refunded_amount", position), back)
    if paid > gross:
        yield (*path, "paid", position), f"is {paid}, more than the line's {gross}"
    if done > quantity:
        yield (
            (*path, "refunded_units", position),
            f"is {done}, more than the line's quantity {quantity}",
        )
    if back > paid:
        yield (
            (*path, "refunded_amount", position),
            f"is {back}, more than the {paid} paid for the line",
        )


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
    purchases = {kept.purchase.id: kept.purchase.at for kept in state.purchases}
    facts = {kept.id for kept in state.referrals}
    gift_rules = {*state.bonuses, *state.birthdays}
    sources: dict[str, int] = {}
    previous: SavedLot | None = None
    for index, lot in enumerate(state.lots):
        path: tuple[PathItem, ...] = ("lots", index)
        if lot.source in purchases:
            if lot.earned_at != purchases[lot.source]:
                yield (
                    (*path, "earned_at"),
                    f"is {lot.earned_at.isoformat()}, but purchase {lot.source} was made at "
                    f"{purchases[lot.source].isoformat()}",
                )
        elif lot.source not in facts and not _is_gift(lot.source, gift_rules):
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
