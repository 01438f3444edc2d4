"""An independent oracle for the program features real programs need (issue 15).

Written from the issue text (payments, migration with opening balances and statuses,
``final``, order offers, the tier details of airline, Starbucks and Sephora terms) and
from docs/semantics.md, docs/lifecycle.md and docs/histories.md only, **not** from the
engine's code: it is a second reading of the written contract, for a differential test.

It covers a restricted family of programs, given as the plain document that is also fed
to ``Program.model_validate``:

* currency USD (cents), any time zone (local years and dates); ``points`` with
  ``value``, ``earn_on``, ``expire_after`` and ``expire_on_inactivity`` (``after`` and
  ``activity``) and ``pending_for`` written ``N days``; a catalogue of ``rewards``
  (``cost``, ``value``, ``cash``, ``tiers``, ``per_customer``);
* ``tiers`` with ``window: lifetime | calendar_year | N days``, ``qualify_by: spend |
  points``, ``keep_until``, levels with ``points_multiplier`` and ``points_never_expire``;
* migrated customers: ``opening_points`` lots (with or without ``expires_at``) and a
  granted tier (``tier``/``tier_until``) on the profile;
* rules ``order_discount`` (``percent``, ``amount`` or ``gift_item``),
  ``points_per_spend`` (``points``, ``per``, ``multipliers`` by category,
  ``when.payment_methods``, ``rounding``, ``max_per_purchase``) and ``bonus_points``;
  each with ``priority``, ``final``, ``exclusive_group`` and ``when`` holding ``min_total``,
  ``min_total_of``, ``categories``, ``exclude_categories``, ``tiers`` (and
  ``payment_methods``);
* gifts at dates: ``birthday`` (``points``, ``window``, ``days_around``, ``member_for``,
  ``purchase_within``) and ``signup_bonus`` at joining, alone or in an exclusive group;
* ``referral`` rules (``referrer`` and ``referred`` points, ``min_paid``, ``hold_for``);
* purchases with optional payments; refunds of some units of a line (a line's sku once per
  purchase) or of everything left; redemptions and their cancellations.

Money is ``Decimal`` throughout, rounded half up to the cent where it is computed.
"""

from __future__ import annotations

from calendar import isleap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from rewardrules.events import CancelRedemption, Customer, Purchase, Redemption, Refund

CENT = Decimal("0.01")
OPENING = "customers.opening_points"

Row = tuple[str, str, str, int | None, Decimal | None, int | None]
"""(event id, rule, kind, points, value, units), as tests/helpers.py compares entries."""


def half_up(amount: Decimal) -> Decimal:
    """Round half away from zero to the cent."""
    return amount.quantize(CENT, ROUND_HALF_UP)


@dataclass
class Outcome:
    """What the oracle says one customer ends with."""

    ledger: list[Row] = field(default_factory=list)
    points: int = 0
    available_points: int = 0
    tier: str | None = None
    upcoming_expiry: list[tuple[str, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Fact:
    """A friend's qualifying purchase as the referrer sees it: ``now`` (rewarded at it),
    ``held`` (rewarded at the hold's end) or ``reversed`` (a refund inside the hold)."""

    referrer: str
    at: datetime
    purchase_id: str
    rule: Mapping[str, Any]
    kind: str


def hold_of(rule: Mapping[str, Any]) -> timedelta | None:
    """A referral's ``hold_for`` (``N days``); None without one, or for 0 days."""
    hold = rule.get("hold_for")
    days = 0 if hold is None else int(str(hold).split()[0])
    return timedelta(days=days) if days else None


@dataclass
class _Lot:
    event_id: str
    points: int
    expires_at: datetime | None
    earned_at: datetime
    rule: str = "points.expire_after"
    """What the ``expiry`` entry names: the setting that expired the lot."""
    expired: bool = False
    lasting: bool = False
    """Earned at a level whose points never expire: the inactivity deadline passes it."""
    available_at: datetime | None = None
    """When a purchase's points stop waiting (``pending_for``); None: at once."""

    def available(self, now: datetime) -> bool:
        return self.available_at is None or self.available_at <= now


@dataclass
class _Bought:
    """A purchase as later refunds need it."""

    purchase: Purchase
    tier: str | None
    paid: list[Decimal]
    back: list[int]
    """Units returned so far, per line."""
    earned: dict[str, tuple[int, list[Decimal]]]
    """Per points rule that gave: (points now held, the amounts it earned on per line)."""
    bonuses: dict[str, int]
    qualified: Decimal


def _levels(program: Mapping[str, Any]) -> list[dict[str, Any]]:
    tiers = program.get("tiers")
    return list(tiers["levels"]) if tiers else []


def window_level(program: Mapping[str, Any], total: Decimal) -> str | None:
    """The highest level whose ``at_least`` the window's total reaches."""
    reached = None
    for level in _levels(program):
        if total >= Decimal(str(level["at_least"])):
            reached = level["name"]
    return reached


def birthdays(
    program: Mapping[str, Any],
    rule: Mapping[str, Any],
    profile: Customer | None,
    first: datetime | None,
    bound: datetime | None,
) -> list[tuple[datetime, int, str, Any]]:
    """A birthday rule's gift moments up to ``bound``: each year's window (the birthday
    plus or minus ``days_around``, or its month) that ends on or after the day the customer
    joined (``joined_at``, else the first event), at its first local midnight or at
    joining when they joined inside it; the id is ``rule@local date``."""
    if profile is None or profile.birthday is None or bound is None:
        return []
    joined = profile.joined_at if profile.joined_at is not None else first
    if joined is None:
        return []
    zone = ZoneInfo(str(program["timezone"]))
    month, day = profile.birthday.month, profile.birthday.day
    found = []
    for year in range(joined.astimezone(zone).year - 1, bound.astimezone(zone).year + 2):
        on = date(year, month, 28 if (month, day) == (2, 29) and not isleap(year) else day)
        if rule.get("window", "day") == "month":
            opens = on.replace(day=1)
            closes = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
        else:
            around = timedelta(days=int(rule.get("days_around", 0)))
            opens, closes = on - around, on + around
        if closes < joined.astimezone(zone).date():
            continue
        # in UTC: days are elapsed time, and an aware datetime of a zone adds wall time
        midnight = datetime.combine(opens, time(0), tzinfo=zone).astimezone(UTC)
        moment = max(midnight, joined)
        if moment > bound:
            continue
        day_of = moment.astimezone(zone).date().isoformat()
        found.append((moment, 0, f"{rule['id']}@{day_of}", rule))
    return found


def signups(
    program: Mapping[str, Any],
    rule: Mapping[str, Any],
    profile: Customer | None,
    bound: datetime | None,
) -> list[tuple[datetime, int, str, Any]]:
    """A sign-up bonus without ``min_first_purchase``: at ``joined_at``, up to ``bound``."""
    if profile is None or profile.joined_at is None or bound is None or profile.joined_at > bound:
        return []
    zone = ZoneInfo(str(program["timezone"]))
    day = profile.joined_at.astimezone(zone).date().isoformat()
    return [(profile.joined_at, 0, f"{rule['id']}@{day}", rule)]


def in_window(window: Any, at: datetime, now: datetime, zone: ZoneInfo) -> bool:
    """Whether a purchase at ``at`` counts in the window of ``now``: ``lifetime``,
    ``calendar_year`` (local years) or rolling ``N days`` (the start included)."""
    if window == "lifetime":
        return True
    if window == "calendar_year":
        return at.astimezone(zone).year == now.astimezone(zone).year
    days = int(window["days"]) if isinstance(window, Mapping) else int(str(window).split()[0])
    return now - timedelta(days=days) <= at <= now


def kept_until(keep: str | None, reached: datetime, zone: ZoneInfo) -> datetime | None:
    """The local New Year after (``end_of_year``) or the one after that."""
    if keep is None:
        return None
    years = 1 if keep == "end_of_year" else 2
    return datetime(reached.astimezone(zone).year + years, 1, 1, tzinfo=zone)


def _multiplier(program: Mapping[str, Any], tier: str | None) -> Decimal:
    for level in _levels(program):
        if level["name"] == tier:
            return Decimal(str(level.get("points_multiplier", 1)))
    return Decimal(1)


def _never_expire(program: Mapping[str, Any], tier: str | None) -> bool:
    return any(
        level["name"] == tier and level.get("points_never_expire") for level in _levels(program)
    )


def line_eligible(when: Mapping[str, Any], category: str | None) -> bool:
    """The line-level conditions: categories listed (if any), none excluded."""
    categories = when.get("categories")
    if categories is not None and category not in categories:
        return False
    return category is None or category not in when.get("exclude_categories", ())


def admitted(when: Mapping[str, Any], purchase: Purchase, tier: str | None) -> bool:
    """The purchase-level conditions: ``min_total`` over ``min_total_of`` lines, ``tiers``."""
    if "tiers" in when and tier not in when["tiers"]:
        return False
    if "min_total" not in when:
        return True
    lines = purchase.lines
    if when.get("min_total_of", "all") == "eligible":
        lines = tuple(line for line in lines if line_eligible(when, line.category))
    gross = sum((line.unit_price * line.quantity for line in lines), Decimal(0))
    return gross >= Decimal(str(when["min_total"]))


def percent_off(rule: Mapping[str, Any], purchase: Purchase, paid: list[Decimal]) -> Row | None:
    """``order_discount`` ``percent``: P% off each eligible line, half up per line."""
    when = rule.get("when", {})
    percent = Decimal(str(rule["percent"]))
    total, units = Decimal(0), 0
    for index, line in enumerate(purchase.lines):
        if not line_eligible(when, line.category):
            continue
        discount = half_up(paid[index] * percent / 100)
        if discount > 0:
            paid[index] -= discount
            total += discount
            units += line.quantity
    return (purchase.id, rule["id"], "discount", None, total, units) if total > 0 else None


def amount_off(rule: Mapping[str, Any], purchase: Purchase, paid: list[Decimal]) -> Row | None:
    """``order_discount`` ``amount``: shared by what each eligible line has left, floored
    shares first, then a cent each to the largest remainders (earlier line on a tie)."""
    when = rule.get("when", {})
    eligible = [i for i, line in enumerate(purchase.lines) if line_eligible(when, line.category)]
    left = {i: int(paid[i] / CENT) for i in eligible}
    whole = sum(left.values())
    if whole == 0:
        return None
    cents = min(int(Decimal(str(rule["amount"])) / CENT), whole)
    shares = {i: cents * left[i] // whole for i in eligible}
    spare = cents - sum(shares.values())
    by_remainder = sorted(eligible, key=lambda i: (-(cents * left[i] % whole), i))
    for i in by_remainder[:spare]:
        shares[i] += 1
    units = 0
    for i in eligible:
        if shares[i] > 0:
            paid[i] -= shares[i] * CENT
            units += purchase.lines[i].quantity
    return (purchase.id, rule["id"], "discount", None, cents * CENT, units) if cents else None


def gift_item(rule: Mapping[str, Any], purchase: Purchase) -> Row | None:
    """``order_discount`` ``gift_item``: one free item with an eligible priced line."""
    when = rule.get("when", {})
    if not any(
        line.unit_price > 0 and line_eligible(when, line.category) for line in purchase.lines
    ):
        return None
    value = Decimal(str(rule["gift_item"]["value"]))
    return (purchase.id, rule["id"], "free", None, value, 1)


def spend_bases(
    rule: Mapping[str, Any], purchase: Purchase, paid: list[Decimal]
) -> list[Decimal] | None:
    """What ``points_per_spend`` earns on, per line: the paid amount of an eligible line, or
    with ``payment_methods`` its share paid by those methods (half up per line). None when
    the purchase records no payment the rule reads."""
    when = rule.get("when", {})
    fraction = Decimal(1)
    methods = when.get("payment_methods")
    if methods is not None:
        if not purchase.payments:
            return None
        gross = sum((line.unit_price * line.quantity for line in purchase.lines), Decimal(0))
        by_methods = sum((p.amount for p in purchase.payments if p.method in methods), Decimal(0))
        if gross == 0:
            return None
        fraction = by_methods / gross
    bases = []
    for index, line in enumerate(purchase.lines):
        if not line_eligible(when, line.category):
            bases.append(Decimal(0))
        elif methods is None:
            bases.append(paid[index])
        else:
            bases.append(half_up(paid[index] * fraction))
    return bases


def spend_points(
    rule: Mapping[str, Any], purchase: Purchase, bases: Sequence[Decimal], multiplier: Decimal
) -> int:
    """sum(base x largest matching factor, or 1) x points / per x tier multiplier, rounded
    once by ``rounding`` (floor unless said), at most ``max_per_purchase``."""
    weighted = Decimal(0)
    for index, line in enumerate(purchase.lines):
        factors = [
            Decimal(str(m["factor"]))
            for m in rule.get("multipliers", ())
            if line_eligible(m.get("when", {}), line.category)
        ]
        weighted += bases[index] * (max(factors) if factors else Decimal(1))
    raw = weighted * Decimal(str(rule["points"])) / Decimal(str(rule.get("per", 1))) * multiplier
    mode = {"floor": ROUND_FLOOR, "half_up": ROUND_HALF_UP, "ceil": ROUND_CEILING}
    points = int(raw.to_integral_value(mode[rule.get("rounding", "floor")]))
    cap = rule.get("max_per_purchase")
    return points if cap is None else min(points, int(cap))


def bonus_due(rule: Mapping[str, Any], purchase: Purchase, left: Sequence[int]) -> bool:
    """A bonus holds while an eligible unit priced above zero is not returned."""
    when = rule.get("when", {})
    return any(
        left[i] > 0 and line.unit_price > 0 and line_eligible(when, line.category)
        for i, line in enumerate(purchase.lines)
    )


def remaining(amount: Decimal, quantity: int, returned: int) -> Decimal:
    """What is left of a line's amount once ``returned`` of its units are back: each unit
    takes ``amount / quantity`` half up, the last one the rest."""
    if returned >= quantity:
        return Decimal(0)
    return amount - returned * half_up(amount / quantity)


def running_order(program: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Price rules, then earning rules, each by priority, then file order."""
    rules = list(program["rules"])

    def is_price(rule: Mapping[str, Any]) -> bool:
        return rule["kind"] == "order_discount" and "gift_item" not in rule

    def key(indexed: tuple[int, dict[str, Any]]) -> tuple[int, int, int]:
        index, rule = indexed
        return (0 if is_price(rule) else 1, int(rule.get("priority", 0)), index)

    return [rule for _, rule in sorted(enumerate(rules), key=key)]


class _Customer:
    def __init__(self, program: Mapping[str, Any], profile: Customer | None) -> None:
        self.program = program
        self.profile = profile
        self.zone = ZoneInfo(str(program["timezone"]))
        self.out = Outcome()
        self.lots: list[_Lot] = []
        self.debt = 0
        inactivity = program.get("points", {}).get("expire_on_inactivity")
        self.inactivity: timedelta | None = None
        self.counts: list[str] = ["purchase"]
        if inactivity is not None:
            after = inactivity["after"] if isinstance(inactivity, Mapping) else inactivity
            self.inactivity = timedelta(days=int(str(after).split()[0]))
            if isinstance(inactivity, Mapping):
                self.counts = list(inactivity.get("activity", ["purchase"]))
        self.active: dict[str, datetime] = {}
        """What keeps points alive, by event id: its instant."""
        self.applied: datetime | None = None
        """The inactivity deadline already applied."""
        self.qualified: set[str] = set()
        self.facts: list[Fact] = []
        """Referral facts for referrers."""
        self.holds: dict[str, tuple[str, datetime, bool]] = {}
        """Per held referral rule: the qualifying purchase, the hold's end, reversed."""
        self.gift_kept: dict[str, bool] = {}
        """Per referral rule: the friend kept a gift of a reversed qualification."""
        self.spent: dict[str, tuple[str, list[tuple[_Lot, int]], Decimal, int]] = {}
        self.bought: dict[str, _Bought] = {}
        self.amounts: dict[str, list[Any]] = {}
        """Per purchase: [instant, what it counts for the tier window now]."""
        self.window_was = -1
        """The window's level (an index, -1 for none) at the previous purchase."""
        self.kept: dict[int, datetime] = {}
        """Per level reached: until when it is kept."""
        self.by_points = (
            bool(program.get("tiers")) and program["tiers"].get("qualify_by") == "points"
        )

    def window_rank(self, now: datetime) -> int:
        """The window's level at ``now`` over the purchases evaluated so far."""
        tiers = self.program.get("tiers")
        if not tiers:
            return -1
        total = sum(
            (
                amount
                for at, amount in self.amounts.values()
                if in_window(tiers["window"], at, now, self.zone)
            ),
            Decimal(0),
        )
        names = [level["name"] for level in _levels(self.program)]
        level = window_level(self.program, total)
        return -1 if level is None else names.index(level)

    def tier_now(self, now: datetime) -> str | None:
        """The window's level, raised to the levels kept at ``now`` and to a tier granted
        until after ``now``."""
        names = [level["name"] for level in _levels(self.program)]
        best = self.window_rank(now)
        for rank, until in self.kept.items():
            if now < until:
                best = max(best, rank)
        grant = self.profile
        granted = grant is not None and grant.tier is not None and grant.tier_until is not None
        if (
            granted
            and grant is not None
            and grant.tier_until is not None
            and now < grant.tier_until
        ):
            best = max(best, names.index(str(grant.tier)))
        return None if best < 0 else names[best]

    def reach(self, now: datetime) -> str | None:
        """A purchase's tier; the levels its window reaches from below are kept from now."""
        rank = self.window_rank(now)
        keep = (self.program.get("tiers") or {}).get("keep_until")
        until = kept_until(keep, now, self.zone)
        if until is not None:
            for level in range(self.window_was + 1, rank + 1):
                self.kept[level] = until
        self.window_was = rank
        return self.tier_now(now)

    def expiry_of(self, earned_at: datetime) -> datetime | None:
        """``expire_after`` (written ``N days``) after ``earned_at``; None without it."""
        after = self.program.get("points", {}).get("expire_after")
        if after is None:
            return None
        return earned_at.astimezone(UTC) + timedelta(days=int(str(after).split()[0]))

    def open(self) -> None:
        """The opening lots, oldest ``earned_at`` first, ids in the profile's order; a lot
        without ``expires_at`` expires as the program's points earned then do."""
        if self.profile is None:
            return
        numbered = list(enumerate(self.profile.opening_points, start=1))
        for number, lot in sorted(numbered, key=lambda pair: (pair[1].earned_at, pair[0])):
            event_id = f"opening#{number}"
            self.out.ledger.append(
                (event_id, "customers.opening_points", "opening", lot.points, None, None)
            )
            own = self.expiry_of(lot.earned_at)
            if lot.expires_at is None or lot.expires_at == own:
                self.lots.append(_Lot(event_id, lot.points, own, lot.earned_at))
            else:
                self.lots.append(_Lot(event_id, lot.points, lot.expires_at, lot.earned_at, OPENING))

    def deadline(self) -> datetime | None:
        """The last activity that counts plus ``expire_on_inactivity``; None without."""
        if self.inactivity is None or not self.active:
            return None
        return max(self.active.values()) + self.inactivity

    def bring_to(self, now: datetime) -> None:
        """Expire, in time order up to ``now`` (included), the lots whose own expiry has
        come, and at the inactivity deadline every lot earned by then that can expire."""
        deadline = self.deadline()
        if deadline is not None and (deadline > now or deadline == self.applied):
            deadline = None
        due = [lot for lot in self.lots if not lot.expired and lot.expires_at is not None]
        due = [lot for lot in due if lot.expires_at is not None and lot.expires_at <= now]
        steps: list[tuple[datetime, int, _Lot | None]] = [
            (lot.expires_at, 0, lot) for lot in due if lot.expires_at is not None
        ]
        if deadline is not None:
            steps.append((deadline, 1, None))
        for _, _, lot in sorted(steps, key=lambda step: (step[0], step[1])):
            if lot is not None:
                self.expire(lot, lot.rule)
            else:
                self.idle(deadline)

    def expire(self, lot: _Lot, rule: str) -> None:
        if lot.points:
            self.out.ledger.append((lot.event_id, rule, "expiry", -lot.points, None, None))
        lot.points = 0
        lot.expired = True

    def idle(self, deadline: datetime | None) -> None:
        """The inactivity deadline: every lot left earned by it expires, oldest first."""
        if deadline is None or deadline == self.applied:
            return
        self.applied = deadline
        for lot in self.lots:
            if not lot.expired and not lot.lasting and lot.earned_at <= deadline:
                # a spent lot expires too: a cancelled redemption gives it nothing back
                self.expire(lot, "points.expire_on_inactivity")

    def earn(self, event_id: str, at: datetime, points: int, lasting: bool, waits: bool) -> None:
        """A debt is paid first; the rest is a lot of its own, waiting out ``pending_for``
        when a purchase earned it."""
        repaid = min(self.debt, points)
        self.debt -= repaid
        if points - repaid:
            expires = None if lasting else self.expiry_of(at)
            pending = self.program.get("points", {}).get("pending_for")
            ready = at + timedelta(days=int(str(pending).split()[0])) if pending and waits else None
            self.lots.append(
                _Lot(event_id, points - repaid, expires, at, lasting=lasting, available_at=ready)
            )

    def take_back(self, purchase_id: str, points: int, now: datetime) -> None:
        """From the purchase's own lot, then the other available lots oldest first, then
        the pending ones oldest first, then a debt."""
        own = [lot for lot in self.lots if lot.event_id == purchase_id]
        ready = [lot for lot in self.lots if lot.available(now)]
        waiting = [lot for lot in self.lots if not lot.available(now)]
        for lot in [*own, *ready, *waiting]:
            taken = min(lot.points, points)
            lot.points -= taken
            points -= taken
        self.debt += points

    def redeem(self, redemption: Redemption) -> None:
        """Rejected for a tier not listed, past ``per_customer`` or without the points;
        otherwise spent from the oldest lots first. Its value is ``value`` less ``cash``
        (never below 0), per unit."""
        reward = next(
            item for item in self.program.get("rewards", ()) if item["id"] == redemption.reward
        )
        quantity = redemption.quantity
        cost = int(reward["cost"]) * quantity
        before = sum(q for rid, _, _, q in self.spent.values() if rid == reward["id"])
        refused = (
            ("tiers" in reward and self.tier_now(redemption.at) not in reward["tiers"])
            or ("per_customer" in reward and before + quantity > int(reward["per_customer"]))
            or sum(lot.points for lot in self.lots if lot.available(redemption.at)) - self.debt
            < cost
        )
        if refused:
            self.out.ledger.append((redemption.id, reward["id"], "rejected", None, None, None))
            return
        spent: list[tuple[_Lot, int]] = []
        wanted = cost
        for lot in self.lots:
            if not lot.available(redemption.at):
                continue
            taken = min(lot.points, wanted)
            if taken:
                lot.points -= taken
                wanted -= taken
                spent.append((lot, taken))
        unit = Decimal(str(reward["value"])) - Decimal(str(reward.get("cash", 0)))
        value = max(unit, Decimal(0)) * quantity
        self.spent[redemption.id] = (reward["id"], spent, value, quantity)
        self.out.ledger.append((redemption.id, reward["id"], "redemption", -cost, value, quantity))
        if "redemption" in self.counts:
            self.active[redemption.id] = redemption.at

    def cancel(self, cancel: CancelRedemption) -> None:
        """Points go back to their lots, except the lots expired by now; a debt first."""
        if cancel.redemption_id not in self.spent:
            return  # a rejected redemption: nothing to give back
        reward, spent, value, quantity = self.spent.pop(cancel.redemption_id)
        given = 0
        for lot, points in spent:
            if lot.expired:
                continue
            repaid = min(self.debt, points)
            self.debt -= repaid
            lot.points += points - repaid
            given += points
        self.out.ledger.append((cancel.id, reward, "redemption", given, -value, -quantity))

    def _try(
        self, rule: Mapping[str, Any], purchase: Purchase, tier: str | None, paid: list[Decimal]
    ) -> tuple[Row, list[Decimal] | None] | None:
        """What ``rule`` gives for the purchase, on (and into) ``paid``; None for nothing.
        The second item is what a points rule earned on, per line."""
        when = rule.get("when", {})
        if not admitted(when, purchase, tier):
            return None
        if rule["kind"] == "order_discount":
            if "percent" in rule:
                row = percent_off(rule, purchase, paid)
            elif "amount" in rule:
                row = amount_off(rule, purchase, paid)
            else:
                row = gift_item(rule, purchase)
            return None if row is None else (row, None)
        if rule["kind"] == "points_per_spend":
            gross = self.program.get("points", {}).get("earn_on") == "gross"
            amounts = [line.unit_price * line.quantity for line in purchase.lines]
            bases = spend_bases(rule, purchase, amounts if gross else paid)
            if bases is None:
                return None
            points = spend_points(rule, purchase, bases, _multiplier(self.program, tier))
            return (
                ((purchase.id, rule["id"], "points", points, None, None), bases) if points else None
            )
        if bonus_due(rule, purchase, [line.quantity for line in purchase.lines]):
            return (purchase.id, rule["id"], "points", int(rule["points"]), None, None), None
        return None

    def _worth(self, row: Row) -> tuple[Decimal, int]:
        value = Decimal(str(self.program.get("points", {}).get("value", 0)))
        points = row[3] or 0
        return (row[4] or Decimal(0)) + points * value, points

    def _rank(
        self, member: dict[str, Any], tried: Mapping[str, tuple[Row, Any] | None]
    ) -> tuple[Decimal, int, int, int]:
        """Worth most first (money, then points), then lower priority, then file order."""
        got = tried[member["id"]]
        assert got is not None
        money, points = self._worth(got[0])
        index = list(self.program["rules"]).index(member)
        return (-money, -points, int(member.get("priority", 0)), index)

    def refer(
        self,
        rule: Mapping[str, Any],
        purchase: Purchase,
        tier: str | None,
        paid: Sequence[Decimal],
        bought: _Bought,
    ) -> int | None:
        """A referred friend's first qualifying purchase: the ``referral`` note, the friend's
        points (taken back as a bonus is), and a fact for the referrer. None: nothing given."""
        profile = self.profile
        if profile is None or profile.referred_by is None or rule["id"] in self.qualified:
            return None
        if profile.joined_at is not None and purchase.at < profile.joined_at:
            return None  # only a purchase at or after joining qualifies
        when = rule.get("when", {})
        eligible = [
            i for i, line in enumerate(purchase.lines) if line_eligible(when, line.category)
        ]
        if not admitted(when, purchase, tier) or not any(
            purchase.lines[i].unit_price > 0 for i in eligible
        ):
            return None
        if sum((paid[i] for i in eligible), Decimal(0)) < Decimal(str(rule.get("min_paid", 0))):
            return None
        self.qualified.add(rule["id"])
        held = hold_of(rule)
        kind = "now" if held is None else "held"
        self.facts.append(Fact(profile.referred_by, purchase.at, purchase.id, rule, kind))
        if held is not None:
            self.holds[rule["id"]] = (purchase.id, purchase.at + held, False)
        self.out.ledger.append((purchase.id, rule["id"], "referral", None, None, None))
        gift = int(rule.get("referred", {}).get("points", 0))
        if self.gift_kept.get(rule["id"]):
            gift = 0  # a friend never holds two gifts
        if gift:
            self.out.ledger.append((purchase.id, rule["id"], "points", gift, None, None))
            bought.bonuses[rule["id"]] = gift
        return gift

    def reverse(self, rule: Mapping[str, Any], refund: Refund, bought: _Bought) -> None:
        """A refund inside the hold that leaves less than ``min_paid`` on the rule's lines,
        or no eligible priced unit, reverses the held referral: the friend may qualify again."""
        hold = self.holds.get(rule["id"])
        if hold is None or hold[0] != refund.purchase_id or hold[2] or refund.at >= hold[1]:
            return
        purchase = bought.purchase
        when = rule.get("when", {})
        eligible = [
            i for i, line in enumerate(purchase.lines) if line_eligible(when, line.category)
        ]
        left = sum(
            (
                remaining(bought.paid[i], purchase.lines[i].quantity, bought.back[i])
                for i in eligible
            ),
            Decimal(0),
        )
        whole = all(n >= line.quantity for line, n in zip(purchase.lines, bought.back, strict=True))
        priced = any(
            purchase.lines[i].unit_price > 0 and bought.back[i] < purchase.lines[i].quantity
            for i in eligible
        )
        if not whole and priced and left >= Decimal(str(rule.get("min_paid", 0))):
            return
        self.holds[rule["id"]] = (hold[0], hold[1], True)
        self.qualified.discard(rule["id"])
        self.gift_kept[rule["id"]] = self.gift_kept.get(rule["id"], False) or (
            rule["id"] in bought.bonuses
        )
        referrer = "" if self.profile is None else str(self.profile.referred_by)
        self.facts.append(Fact(referrer, refund.at, refund.purchase_id, rule, "reversed"))
        self.out.ledger.append((refund.id, rule["id"], "referral", None, None, -1))

    def gifts(
        self,
        members: Sequence[tuple[int, str, Mapping[str, Any]]],
        moment: datetime,
        first: datetime | None,
    ) -> None:
        """Gifts at dates due at one moment, of one exclusive group (or one rule): of those
        the customer is eligible for, the one worth most is given (points x value, then
        more points, then priority and file order); the others are set aside, used up."""
        eligible = [
            (rank, gift_id, rule)
            for rank, gift_id, rule in members
            if rule["kind"] == "signup_bonus" or self.birthday_eligible(rule, moment, first)
        ]
        if not eligible:
            return
        value = Decimal(str(self.program.get("points", {}).get("value", 0)))
        rules = list(self.program["rules"])

        def worth(member: tuple[int, str, Mapping[str, Any]]) -> tuple[Any, ...]:
            rule = member[2]
            points = int(rule["points"])
            return (-points * value, -points, int(rule.get("priority", 0)), rules.index(rule))

        winner = min(eligible, key=worth)
        for member in eligible:
            _, gift_id, rule = member
            if member is winner:
                points = int(rule["points"])
                self.out.ledger.append((gift_id, rule["id"], "points", points, None, None))
                self.earn(gift_id, moment, points, lasting=False, waits=False)
            else:
                self.out.ledger.append((gift_id, rule["id"], "set_aside", None, None, None))

    def birthday_eligible(
        self, rule: Mapping[str, Any], moment: datetime, first: datetime | None
    ) -> bool:
        """A birthday gift at its moment, if the customer is a member for ``member_for``
        (from ``joined_at``, else the first event) and bought within ``purchase_within``
        (a purchase before it, not refunded in full by then)."""
        profile = self.profile
        start = first if profile is None or profile.joined_at is None else profile.joined_at
        member_for = rule.get("member_for")
        if member_for is not None and (
            start is None or start + timedelta(days=int(str(member_for).split()[0])) > moment
        ):
            return False
        within = rule.get("purchase_within")
        if within is not None:
            days = timedelta(days=int(str(within).split()[0]))
            kept = [
                bought.purchase.at
                for bought in self.bought.values()
                if bought.purchase.at < moment
                and not all(
                    n >= line.quantity
                    for line, n in zip(bought.purchase.lines, bought.back, strict=True)
                )
            ]
            if not any(at + days >= moment for at in kept):
                return False
        return True

    def rewarded(self, at: datetime, purchase_id: str, rule: Mapping[str, Any]) -> None:
        """The referrer's reward for a friend's purchase: a lot of its own, at once."""
        points = int(rule["referrer"]["points"])
        self.out.ledger.append((purchase_id, rule["id"], "points", points, None, None))
        self.earn(purchase_id, at, points, lasting=False, waits=False)
        if "referral" in self.counts:
            self.active[f"referral {purchase_id}"] = at

    def buy(self, purchase: Purchase) -> None:
        tier = self.reach(purchase.at)
        paid = [line.unit_price * line.quantity for line in purchase.lines]
        bought = _Bought(purchase, tier, list(paid), [0] * len(paid), {}, {}, Decimal(0))
        earned = 0
        order = running_order(self.program)
        done: set[str] = set()
        for rule in order:
            if rule["id"] in done or rule["kind"] in ("birthday", "signup_bonus"):
                continue  # a birthday without requires_purchase gives at a date
            if rule["kind"] == "referral":
                gave = self.refer(rule, purchase, tier, paid, bought)
                earned += gave or 0
                if gave and rule.get("final"):
                    break  # the note alone gives the purchase nothing (semantics.md)
                continue
            group = rule.get("exclusive_group")
            members = [m for m in order if group is not None and m.get("exclusive_group") == group]
            members = members or [rule]
            done |= {m["id"] for m in members}
            tried = {m["id"]: self._try(m, purchase, tier, list(paid)) for m in members}
            giving = [m for m in members if tried[m["id"]] is not None]
            winner = min(giving, key=lambda m: self._rank(m, tried), default=None)
            for member in members:
                if member is winner:
                    got = self._try(member, purchase, tier, paid)
                    assert got is not None
                    row, bases = got
                    self.out.ledger.append(row)
                    if row[3] is not None:
                        earned += row[3]
                        if bases is not None:
                            bought.earned[member["id"]] = (row[3], bases)
                        else:
                            bought.bonuses[member["id"]] = row[3]
                elif tried[member["id"]] is not None:
                    self.out.ledger.append(
                        (purchase.id, member["id"], "set_aside", None, None, None)
                    )
            if winner is not None and winner.get("final"):
                break
        bought.paid = list(paid)
        self.earn(purchase.id, purchase.at, earned, _never_expire(self.program, tier), waits=True)
        bought.qualified = Decimal(earned) if self.by_points else sum(paid, Decimal(0))
        self.amounts[purchase.id] = [purchase.at, bought.qualified]
        self.bought[purchase.id] = bought
        if "purchase" in self.counts:
            self.active[purchase.id] = purchase.at

    def refund(self, refund: Refund) -> None:
        bought = self.bought[refund.purchase_id]
        purchase = bought.purchase
        before = [
            remaining(p, line.quantity, n)
            for p, line, n in zip(bought.paid, purchase.lines, bought.back, strict=True)
        ]
        if refund.lines is None:
            bought.back = [line.quantity for line in purchase.lines]
        else:
            for returned in refund.lines:
                index = next(i for i, line in enumerate(purchase.lines) if line.sku == returned.sku)
                bought.back[index] += returned.quantity
        left = [line.quantity - n for line, n in zip(purchase.lines, bought.back, strict=True)]
        taken = 0
        multiplier = _multiplier(self.program, bought.tier)
        for rule in running_order(self.program):
            rule_id = rule["id"]
            if rule_id in bought.earned:
                held, bases = bought.earned[rule_id]
                kept = [
                    remaining(base, line.quantity, n)
                    for base, line, n in zip(bases, purchase.lines, bought.back, strict=True)
                ]
                now = spend_points(rule, purchase, kept, multiplier)
                if now != held:
                    self.out.ledger.append((refund.id, rule_id, "points", now - held, None, None))
                    taken += held - now
                    bought.earned[rule_id] = (now, bases)
            elif rule_id in bought.bonuses and not bonus_due(rule, purchase, left):
                held = bought.bonuses.pop(rule_id)
                self.out.ledger.append((refund.id, rule_id, "points", -held, None, None))
                taken += held
            if rule["kind"] == "referral":
                self.reverse(rule, refund, bought)
        if taken:
            self.take_back(purchase.id, taken, refund.at)
        if self.by_points:
            self.amounts[purchase.id][1] -= taken
        else:
            after = [
                remaining(p, line.quantity, n)
                for p, line, n in zip(bought.paid, purchase.lines, bought.back, strict=True)
            ]
            self.amounts[purchase.id][1] -= sum(before, Decimal(0)) - sum(after, Decimal(0))
        if all(n >= line.quantity for line, n in zip(purchase.lines, bought.back, strict=True)):
            # refunded in full: no longer activity; a deadline passed since expires now
            self.active.pop(purchase.id, None)
            deadline = self.deadline()
            if deadline is not None and deadline <= refund.at:
                self.idle(deadline)

    def finish(self, end: datetime) -> None:
        self.bring_to(end)
        self.out.points = sum(lot.points for lot in self.lots) - self.debt
        ready = sum(lot.points for lot in self.lots if lot.available(end))
        self.out.available_points = ready - self.debt
        self.out.tier = self.tier_now(end)
        due: dict[str, int] = {}
        deadline = self.deadline()
        for lot in self.lots:
            if lot.points <= 0:
                continue
            when = lot.expires_at
            if deadline is not None and not lot.lasting and lot.earned_at <= deadline:
                when = deadline if when is None else min(when, deadline)
            if when is not None:
                day = when.astimezone(self.zone).date().isoformat()
                due[day] = due.get(day, 0) + lot.points
        self.out.upcoming_expiry = sorted(due.items())


def evaluate(
    program: Mapping[str, Any],
    events: Sequence[Purchase | Refund | Redemption | CancelRedemption],
    customers: Sequence[Customer] = (),
    as_of: date | datetime | None = None,
) -> dict[str, Outcome]:
    """Each customer's outcome: events in (instant, id) order, customer by customer.

    ``as_of`` is an instant (events at or before it count) or a local date (the whole day:
    what happens before the next local midnight, the tier just before it). A customer with a
    profile but no event is reported only with ``as_of`` and an opening (a lot or a granted
    tier)."""
    if isinstance(as_of, date) and not isinstance(as_of, datetime):
        zone = ZoneInfo(str(program["timezone"]))
        midnight = datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=zone)
        as_of = midnight - timedelta(microseconds=1)
    profiles = {profile.customer_id: profile for profile in customers}
    ordered = sorted(events, key=lambda event: (event.at, event.id))
    if as_of is not None:
        ordered = [event for event in ordered if event.at <= as_of]
    ids = {event.customer_id for event in ordered}
    if as_of is not None:
        ids |= {
            cid
            for cid, profile in profiles.items()
            if profile.opening_points or profile.tier is not None
        }

    def run(cid: str, facts: Sequence[Fact]) -> _Customer:
        customer = _Customer(program, profiles.get(cid))
        customer.open()
        timeline: list[tuple[datetime, int, str, Any]] = [
            (event.at, 1, event.id, event) for event in ordered if event.customer_id == cid
        ]
        mine = [fact for fact in facts if fact.referrer == cid]
        timeline += [(fact.at, 1, fact.purchase_id, fact) for fact in mine]
        # a held reward is given at the hold's end, before the events at that instant,
        # unless a refund inside the hold reversed it; up to the last event, or as_of
        reversed_ = {(f.purchase_id, f.rule["id"]) for f in mine if f.kind == "reversed"}
        bound = as_of if as_of is not None else max((item[0] for item in timeline), default=None)
        for fact in mine:
            held = hold_of(fact.rule)
            if fact.kind != "held" or held is None:
                continue
            end = fact.at + held
            if (fact.purchase_id, fact.rule["id"]) in reversed_ or bound is None or end > bound:
                continue
            timeline.append(
                (end, 0, fact.purchase_id, Fact(cid, end, fact.purchase_id, fact.rule, "now"))
            )
        first = min((item[0] for item in timeline), default=None)
        dated: dict[tuple[datetime, str], list[tuple[int, str, Mapping[str, Any]]]] = {}
        order = running_order(program)
        for rule in program["rules"]:
            due: list[tuple[datetime, int, str, Any]] = []
            if rule["kind"] == "birthday":
                due = birthdays(program, rule, profiles.get(cid), first, bound)
            elif rule["kind"] == "signup_bonus":
                due = signups(program, rule, profiles.get(cid), bound)
            for moment, _, gift_id, _ in due:
                # the gifts of one exclusive group due at one moment compete
                group = rule.get("exclusive_group") or f"rule {rule['id']}"
                dated.setdefault((moment, group), []).append((order.index(rule), gift_id, rule))
        for (moment, _), members in dated.items():
            members.sort(key=lambda member: member[0])
            timeline.append((moment, 0, f"~{members[0][0]:04d}", members))
        timeline.sort(key=lambda item: (item[0], item[1], item[2]))
        for at, _, event_id, event in timeline:
            customer.bring_to(at)
            if isinstance(event, Purchase):
                customer.buy(event)
            elif isinstance(event, Refund):
                customer.refund(event)
            elif isinstance(event, Redemption):
                customer.redeem(event)
            elif isinstance(event, CancelRedemption):
                customer.cancel(event)
            elif isinstance(event, list):
                customer.gifts(event, at, first)
            elif event.kind == "now":
                customer.rewarded(at, event_id, event.rule)
        if not timeline and as_of is None:
            return customer
        end = as_of if as_of is not None else timeline[-1][0]
        customer.finish(end)
        return customer

    # A friend's qualifying purchase reaches the referrer as the referrer's event at its
    # instant, with the purchase's id; the friends' own results do not depend on it.
    facts = [fact for cid in sorted(ids) for fact in run(cid, ()).facts]
    ids |= {fact.referrer for fact in facts}
    results = {cid: run(cid, facts).out for cid in sorted(ids)}
    if as_of is not None:  # a profile whose gifts at dates gave something by then
        for cid in sorted(set(profiles) - ids):
            out = run(cid, facts).out
            if out.ledger:
                results[cid] = out
    return dict(sorted(results.items()))
