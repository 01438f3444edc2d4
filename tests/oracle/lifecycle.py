"""An independent oracle for the points lifecycle and program policies (issues 3 and 18).

Written from the issue texts (issue 3, "Points lifecycle and program policies", and issue
18, "Pin down five lifecycle choices") and from docs/lifecycle.md and docs/semantics.md
alone, never from the engine's code. It reads a program as the plain dict a rule file
holds and events as the public event models, and computes each customer's ledger and
balances with plain Python: Decimal money on the edges, integer minor units and whole
points inside.

Its scope is the family it checks, on programs drawn within it:

* `points_per_spend` (no multipliers, no tiers, `rounding: floor`, a `per` amount) and
  `bonus_points` (optionally `once_per_customer`, optionally `when: {skus: [...]}`), on
  purchases without price rules (so paid = gross);
* lots, `pending_for`, `expire_after` with `expire_round_up_to`, `expire_on_inactivity`
  (a bare duration: purchases not refunded in full count), `negative_balance`;
* the catalogue (`cost`, `value`, `cash`, `available`, `per_customer`), redemptions with a
  quantity, cancellations;
* refunds, whole or by lines, with debts and write-offs, and cancellations that recover
  write-offs;
* per-rule `limit` on points or rewards, per purchase, day, week, month, year or lifetime;
* `exclusive_group` of rules that give points;
* gifts at dates: `signup_bonus` at joining and `birthday` without `requires_purchase`;
* `as_of` as a date or an instant.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

Entry = tuple[str, str, str, int | None, int | None, int | None]
"""(event_id, rule, kind, points, value in minor units, units), as the ledger shows them."""

MINOR = 100  # the programs drawn here are in a currency of two decimals


def minor(amount: Decimal | str | int) -> int:
    scaled = Decimal(amount) * MINOR
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} is finer than the minor unit")
    return int(scaled)


# --- durations -------------------------------------------------------------------------


def parse_duration(text: str) -> tuple[int, str]:
    count, unit = text.split()
    unit = unit.rstrip("s")
    return int(count), unit


def add_duration(at: datetime, text: str, zone: ZoneInfo) -> datetime:
    """Days and weeks are exact 24-hour spans; months and years local calendar months."""
    count, unit = parse_duration(text)
    if unit == "day":
        return (at.astimezone(UTC) + timedelta(days=count)).astimezone(UTC)
    if unit == "week":
        return (at.astimezone(UTC) + timedelta(weeks=count)).astimezone(UTC)
    months = count if unit == "month" else count * 12
    local = at.astimezone(zone)
    index = local.year * 12 + local.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    moved = datetime.combine(date(year, month, day), local.time(), tzinfo=zone)
    return moved.astimezone(UTC)


def round_up(at: datetime, period: str, zone: ZoneInfo) -> datetime:
    """The first instant of the local period after the one ``at`` falls in."""
    local = at.astimezone(zone).date()
    if period == "month":
        index = local.year * 12 + local.month
    elif period == "quarter":
        index = local.year * 12 + (local.month - 1) // 3 * 3 + 3
    else:
        index = (local.year + 1) * 12
    year, month = divmod(index, 12)
    return midnight(date(year, month + 1, 1), zone)


def midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


# --- the customer's points -------------------------------------------------------------


@dataclass
class Lot:
    event_id: str
    earned_at: datetime
    available_at: datetime
    expires_at: datetime | None
    points: int
    expired: bool = False


@dataclass
class Bought:
    """A purchase as the oracle remembers it."""

    id: str
    at: datetime
    lines: list[tuple[str, int, int]]  # sku, quantity, unit price in minor units
    refunded: list[int]  # units refunded per line
    lot: Lot
    given: dict[str, int]  # points each rule gave at the purchase
    now: dict[str, int]  # points each rule still holds
    periods: dict[str, dict[int, object]]  # rule -> limit index -> period key of the purchase


@dataclass
class Redeemed:
    reward: str
    quantity: int
    value: int
    spent: list[tuple[Lot, int]]
    cancelled: bool = False
    place: int = 0  # where its entry is in the ledger: what came before it and after


@dataclass
class Customer:
    lots: list[Lot] = field(default_factory=list)
    debt: int = 0
    # clamp: [refund id, points not recovered, place of the refund's written_off entry]
    written_off: list[list[Any]] = field(default_factory=list)
    purchases: dict[str, Bought] = field(default_factory=dict)
    redemptions: dict[str, Redeemed] = field(default_factory=dict)
    redeemed_units: dict[str, int] = field(default_factory=dict)
    limits: dict[tuple[str, int], tuple[object, int, int]] = field(default_factory=dict)
    once_used: set[str] = field(default_factory=set)
    gifts_given: set[tuple[str, object]] = field(default_factory=set)
    ledger: list[Entry] = field(default_factory=list)
    now: datetime = datetime(1970, 1, 1, tzinfo=UTC)
    first: datetime | None = None
    holds: dict[str, tuple[str, datetime, str]] = field(default_factory=dict)
    gift_kept: set[str] = field(default_factory=set)
    held: list[tuple[datetime, str, str]] = field(default_factory=list)  # end, purchase, rule
    year: int = 0
    seen: bool = False
    profile: Any = None
    redeemed_at: list[datetime] = field(default_factory=list)
    referred_at: list[datetime] = field(default_factory=list)


class Oracle:
    """One program; ``run(events, customers, as_of)`` gives each customer's results."""

    def __init__(self, program: dict[str, Any]) -> None:
        self.program = program
        self.zone = ZoneInfo(program.get("timezone", "UTC"))
        self.points = program.get("points") or {}
        self.point_value = Decimal(str(self.points.get("value", 0)))
        self.rewards = {reward["id"]: reward for reward in program.get("rewards", [])}
        rules = list(program.get("rules", []))
        ordered = sorted(enumerate(rules), key=lambda pair: (pair[1].get("priority", 0), pair[0]))
        self.purchase_rules = [(index, rule) for index, rule in ordered if not self.dated(rule)]
        self.dated_rules = [(index, rule) for index, rule in ordered if self.dated(rule)]
        self.facts: list[tuple[str, str, dict[str, Any]]] = []
        self.reversals: list[tuple[str, str, dict[str, Any]]] = []
        inactivity = self.points.get("expire_on_inactivity")
        self.activity: tuple[str, ...] = ("purchase",)
        if isinstance(inactivity, dict):
            self.activity = tuple(inactivity.get("activity", ["purchase"]))
            self.points = {**self.points, "expire_on_inactivity": inactivity["after"]}

    @staticmethod
    def dated(rule: dict[str, Any]) -> bool:
        """A gift given at a date rather than at a purchase."""
        if rule["kind"] == "signup_bonus":
            return rule.get("min_first_purchase") is None
        return rule["kind"] == "birthday" and not rule.get("requires_purchase")

    # -- time ---------------------------------------------------------------------------

    def local_date(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    def expiry_of(self, earned: datetime) -> datetime | None:
        after = self.points.get("expire_after")
        if after is None:
            return None
        moment = add_duration(earned, after, self.zone)
        period = self.points.get("expire_round_up_to")
        return round_up(moment, period, self.zone) if period else moment

    def available_of(self, earned: datetime) -> datetime:
        pending = self.points.get("pending_for")
        return earned if pending is None else add_duration(earned, pending, self.zone)

    # -- balances ------------------------------------------------------------------------

    def deadline(self, who: Customer) -> datetime | None:
        after = self.points.get("expire_on_inactivity")
        if after is None:
            return None
        active: list[datetime] = []
        if "purchase" in self.activity:
            active = [
                bought.at
                for bought in who.purchases.values()
                if any(done < line[1] for done, line in zip(bought.refunded, bought.lines))
            ]
        if "redemption" in self.activity:
            active += who.redeemed_at
        if "referral" in self.activity:
            active += who.referred_at
        if not active:
            return None
        return add_duration(max(active), after, self.zone)

    def bring_up(self, who: Customer, reached: Any) -> None:
        """Expire what has come due (``reached(instant)`` says whether it has), in time order."""
        due: list[tuple[datetime, int, int, Lot | None]] = []
        for order, lot in enumerate(who.lots):
            if lot.expires_at is not None and not lot.expired and reached(lot.expires_at):
                due.append((lot.expires_at, 0, order, lot))
        deadline = self.deadline(who)
        if deadline is not None and reached(deadline):
            due.append((deadline, 1, 0, None))
        for moment, which, _, lot in sorted(due, key=lambda item: item[:3]):
            if lot is not None:
                if not lot.expired:
                    self.expire(who, lot, "points.expire_after")
                continue
            for each in who.lots:
                if each.earned_at <= moment and not each.expired:
                    self.expire(who, each, "points.expire_on_inactivity")
            del which

    def upcoming(self, who: Customer) -> list[tuple[date, int]]:
        """Points left that will expire if nothing spends them, per local date of expiry."""
        deadline = self.deadline(who)
        by_day: dict[date, int] = {}
        for lot in who.lots:
            if lot.points <= 0 or lot.expired:
                continue
            moment = lot.expires_at
            if deadline is not None and lot.earned_at <= deadline:
                moment = deadline if moment is None else min(moment, deadline)
            if moment is not None:
                day = self.local_date(moment)
                by_day[day] = by_day.get(day, 0) + lot.points
        return sorted(by_day.items())

    def expire(self, who: Customer, lot: Lot, setting: str) -> None:
        lot.expired = True
        if lot.points > 0:
            who.ledger.append((lot.event_id, setting, "expiry", -lot.points, None, None))
            lot.points = 0

    def available(self, who: Customer, reached: Any) -> int:
        return sum(lot.points for lot in who.lots if reached(lot.available_at)) - who.debt

    def pending(self, who: Customer, reached: Any) -> int:
        return sum(lot.points for lot in who.lots if not reached(lot.available_at))

    def new_lot(self, who: Customer, event_id: str, at: datetime, points: int, wait: bool) -> Lot:
        paid = min(who.debt, points)
        who.debt -= paid
        lot = Lot(
            event_id,
            at,
            self.available_of(at) if wait else at,
            self.expiry_of(at),
            points - paid,
        )
        # When nothing waits or expires every lot is alike; keeping one per earning changes
        # no result the oracle compares.
        who.lots.append(lot)
        return lot

    def take_back(self, who: Customer, own: Lot, points: int, at: datetime) -> int:
        """Take points back: the purchase's lot, available lots, pending lots, then a debt.

        Returns what ``clamp`` writes off (one ``written_off`` entry per refund, after its
        points entries)."""
        order = [own]
        order += [lot for lot in who.lots if lot is not own and lot.available_at <= at]
        order += [lot for lot in who.lots if lot is not own and lot.available_at > at]
        for lot in order:
            taken = min(lot.points, points)
            lot.points -= taken
            points -= taken
        if points and self.points.get("negative_balance", "allow") == "allow":
            who.debt += points
            return 0
        return points

    # -- limits --------------------------------------------------------------------------

    def limits_of(self, rule: dict[str, Any]) -> list[dict[str, Any]]:
        limit = rule.get("limit")
        if limit is None:
            return []
        return list(limit) if isinstance(limit, list) else [limit]

    def period(self, per: str, day: date, event_id: str) -> object:
        if per == "purchase":
            return ("purchase", event_id)
        if per == "day":
            return day
        if per == "week":
            return day.isocalendar()[:2]
        if per == "month":
            return (day.year, day.month)
        if per == "year":
            return day.year
        return "lifetime"

    def cut(
        self,
        who: Customer,
        rule: dict[str, Any],
        amount: int,
        day: date,
        event_id: str,
        whole: bool = False,
    ) -> int:
        """What a rule's limits let it give of ``amount`` (> 0): points are cut, a voucher
        (``whole``, its value in minor units) is given whole or not at all."""
        for index, limit in enumerate(self.limits_of(rule)):
            key = self.period(limit["per"], day, event_id)
            period, used_amount, used_rewards = who.limits.get((rule["id"], index), (key, 0, 0))
            if period != key:
                used_amount = used_rewards = 0
            if "points" in limit:
                amount = min(amount, limit["points"] - used_amount)
            if "value" in limit and amount > minor(Decimal(str(limit["value"]))) - used_amount:
                amount = 0
            if "rewards" in limit and used_rewards >= limit["rewards"]:
                amount = 0
        del whole  # a voucher's value either fits whole or is cut to 0 above
        return max(amount, 0)

    def count(
        self, who: Customer, rule: dict[str, Any], points: int, day: date, event_id: str
    ) -> dict[int, object]:
        keys: dict[int, object] = {}
        for index, limit in enumerate(self.limits_of(rule)):
            key = self.period(limit["per"], day, event_id)
            keys[index] = key
            if points <= 0:
                continue
            period, used_points, used_rewards = who.limits.get((rule["id"], index), (key, 0, 0))
            if period != key:
                used_points = used_rewards = 0
            who.limits[(rule["id"], index)] = (key, used_points + points, used_rewards + 1)
        return keys

    # -- rules on a purchase -------------------------------------------------------------

    def eligible(self, rule: dict[str, Any], sku: str) -> bool:
        skus = (rule.get("when") or {}).get("skus")
        return skus is None or sku in skus

    def dates_admit(self, rule: dict[str, Any], day: date) -> bool:
        starts, ends = rule.get("starts"), rule.get("ends")
        weekdays = (rule.get("when") or {}).get("weekdays")
        if weekdays is not None and calendar.day_name[day.weekday()].lower() not in weekdays:
            return False
        return (starts is None or day >= starts) and (ends is None or day <= ends)

    def rule_points(
        self, who: Customer | None, rule: dict[str, Any], lines: list[tuple[str, int, int]]
    ) -> int:
        """What a rule earns on lines (sku, quantity, unit price), before limits."""
        if rule["kind"] == "points_per_spend":
            paid = sum(q * price for sku, q, price in lines if self.eligible(rule, sku))
            per = minor(Decimal(str(rule.get("per", "1"))))
            rate = Fraction(Decimal(str(rule["points"])))
            return int(Fraction(paid) * rate / per // 1)
        if rule["kind"] == "referral":  # the friend's gift, as a refund recomputes it
            if "points" not in (rule.get("referred") or {}):
                return 0
            if any(q > 0 and price > 0 and self.eligible(rule, sku) for sku, q, price in lines):
                return int(rule["referred"]["points"])
            return 0
        if who is not None and rule.get("once_per_customer") and rule["id"] in who.once_used:
            return 0
        if who is not None and rule["kind"] in ("signup_bonus", "birthday"):
            return self.gift_at_purchase(who, rule, lines)
        if any(q > 0 and price > 0 and self.eligible(rule, sku) for sku, q, price in lines):
            return int(rule["points"])
        return 0

    def eligible_for(self, who: Customer, rule: dict[str, Any], moment: datetime) -> bool:
        """A birthday's ``member_for`` and ``purchase_within``, judged at ``moment`` on the
        events before it (semantics.md, "Birthday eligibility")."""
        member_for = rule.get("member_for")
        if member_for is not None:
            joined = who.profile.joined_at if who.profile is not None else None
            start = joined.astimezone(UTC) if joined is not None else who.first
            if start is None or add_duration(start, member_for, self.zone) > moment:
                return False
        within = rule.get("purchase_within")
        if within is not None:
            kept = [
                bought.at
                for bought in who.purchases.values()
                if bought.at < moment
                and any(done < line[1] for done, line in zip(bought.refunded, bought.lines))
            ]
            if not any(add_duration(at, within, self.zone) >= moment for at in kept):
                return False
        return True

    def gift_at_purchase(
        self, who: Customer, rule: dict[str, Any], lines: list[tuple[str, int, int]]
    ) -> int:
        """A sign-up bonus with ``min_first_purchase``, a birthday with ``requires_purchase``."""
        profile, at = who.profile, who.now
        if profile is None or not any(
            q > 0 and price > 0 and self.eligible(rule, sku) for sku, q, price in lines
        ):
            return 0
        joined = profile.joined_at
        if rule["kind"] == "signup_bonus":
            if joined is None or rule["id"] in who.once_used or at < joined.astimezone(UTC):
                return 0
            paid = sum(q * price for sku, q, price in lines if self.eligible(rule, sku))
            if paid < minor(Decimal(str(rule["min_first_purchase"]))):
                return 0
            return int(rule["points"])
        if profile.birthday is None or (joined is not None and at < joined.astimezone(UTC)):
            return 0
        day = self.local_date(at)
        for year in (day.year - 1, day.year, day.year + 1):
            first, last = self.birthday_window(rule, profile.birthday, year)
            if first <= day <= last:
                who.year = year
                if (rule["id"], year) in who.gifts_given or not self.eligible_for(who, rule, at):
                    return 0
                return int(rule["points"])
        return 0

    def friend(
        self,
        who: Customer,
        event: Any,
        rule: dict[str, Any],
        lines: list[tuple[str, int, int]],
        given: dict[str, int],
    ) -> None:
        """A referred friend's first qualifying purchase: a note, the friend's gift, a fact."""
        profile = who.profile
        if profile is None or profile.referred_by is None or rule["id"] in who.once_used:
            return
        if profile.joined_at is not None and who.now < profile.joined_at.astimezone(UTC):
            return
        if not self.dates_admit(rule, self.local_date(who.now)):
            return
        if not any(q > 0 and price > 0 and self.eligible(rule, sku) for sku, q, price in lines):
            return
        paid = sum(q * price for sku, q, price in lines if self.eligible(rule, sku))
        if paid < minor(Decimal(str(rule.get("min_paid", "0")))):
            return
        who.once_used.add(rule["id"])
        who.ledger.append((event.id, rule["id"], "referral", None, None, None))
        friend_gift = (rule.get("referred") or {}).get("points")
        hold = rule.get("hold_for")
        if hold is not None and parse_duration(hold)[0] > 0:
            end = add_duration(who.now, hold, self.zone)
            who.holds[rule["id"]] = (event.id, end, profile.referred_by)
        if friend_gift is not None and rule["id"] not in who.gift_kept:
            who.ledger.append((event.id, rule["id"], "points", int(friend_gift), None, None))
            given[rule["id"]] = int(friend_gift)
        self.facts.append((profile.referred_by, event.id, rule))

    def purchase(self, who: Customer, event: Any) -> None:
        at = event.at.astimezone(UTC)
        who.now = at
        day = self.local_date(at)
        lines = [(line.sku, line.quantity, minor(line.unit_price)) for line in event.lines]
        given: dict[str, int] = {}
        periods: dict[str, dict[int, object]] = {}
        done: set[str] = set()
        for _, rule in self.purchase_rules:
            if rule["id"] in done:
                continue
            if rule["kind"] == "referral":
                self.friend(who, event, rule, lines, given)
                continue
            group = rule.get("exclusive_group")
            members = [rule]
            if group is not None:
                members = [r for _, r in self.purchase_rules if r.get("exclusive_group") == group]
            done.update(r["id"] for r in members)
            tried = []
            for position, member in enumerate(members):
                raw = self.rule_points(who, member, lines) if self.dates_admit(member, day) else 0
                kept = self.cut(who, member, raw, day, event.id) if raw > 0 else 0
                tried.append((member, raw, kept, position))
            competing = [item for item in tried if item[2] > 0]
            winner = None
            if len(competing) > 1:
                winner = max(
                    competing,
                    key=lambda item: (
                        item[2] * self.point_value,
                        item[2],
                        -item[0].get("priority", 0),
                        -item[3],
                    ),
                )
            for member, raw, kept, _ in tried:
                if winner is not None and member is not winner[0] and kept > 0:
                    who.ledger.append((event.id, member["id"], "set_aside", None, None, None))
                    continue
                if raw <= 0:
                    continue
                if kept <= 0:
                    who.ledger.append((event.id, member["id"], "capped", None, None, None))
                else:
                    who.ledger.append((event.id, member["id"], "points", kept, None, None))
                if member["kind"] in ("bonus_points", "signup_bonus"):
                    who.once_used.add(member["id"])
                if member["kind"] == "birthday":
                    self.rule_points(who, member, lines)  # finds the window's year
                    who.gifts_given.add((member["id"], who.year))
                given[member["id"]] = kept
                periods[member["id"]] = self.count(who, member, kept, day, event.id)
        lot = self.new_lot(who, event.id, at, sum(given.values()), wait=True)
        who.purchases[event.id] = Bought(
            event.id, at, lines, [0] * len(lines), lot, given, dict(given), periods
        )

    def refund(self, who: Customer, event: Any) -> None:
        at = event.at.astimezone(UTC)
        bought = who.purchases[event.purchase_id]
        if not event.lines:
            bought.refunded = [line[1] for line in bought.lines]
        else:
            for back in event.lines:
                units = back.quantity
                for index, (sku, quantity, _) in enumerate(bought.lines):
                    if sku != back.sku or units == 0:
                        continue
                    taken = min(units, quantity - bought.refunded[index])
                    bought.refunded[index] += taken
                    units -= taken
                if units:
                    raise ValueError(f"refund {event.id} returns more than was bought")
        left = [
            (sku, quantity - done, price)
            for (sku, quantity, price), done in zip(bought.lines, bought.refunded)
        ]
        written_off = 0
        for _, rule in self.purchase_rules:
            held = bought.now.get(rule["id"], 0)
            if held <= 0:
                continue
            still = min(self.rule_points(None, rule, left), bought.given[rule["id"]])
            taken = held - still
            if taken <= 0:
                continue
            bought.now[rule["id"]] = still
            who.ledger.append((event.id, rule["id"], "points", -taken, None, None))
            written_off += self.take_back(who, bought.lot, taken, at)
            for index, key in bought.periods.get(rule["id"], {}).items():
                usage = who.limits.get((rule["id"], index))
                if (
                    usage is not None
                    and usage[0] == key
                    and "points" in self.limits_of(rule)[index]
                ):
                    who.limits[(rule["id"], index)] = (key, usage[1] - taken, usage[2])
        if written_off:
            who.written_off.append([event.id, written_off, len(who.ledger)])
            who.ledger.append(
                (event.id, "points.negative_balance", "written_off", written_off, None, None)
            )
        for _, rule in self.purchase_rules:
            hold = who.holds.get(rule["id"])
            if hold is None or hold[0] != event.purchase_id or at >= hold[1]:
                continue
            paid = sum(q * price for sku, q, price in left if self.eligible(rule, sku))
            priced = any(q > 0 and price > 0 and self.eligible(rule, sku) for sku, q, price in left)
            if priced and paid >= minor(Decimal(str(rule.get("min_paid", "0")))):
                continue
            # Reversed within the hold: the referrer never gets it; the friend may qualify again.
            del who.holds[rule["id"]]
            who.once_used.discard(rule["id"])
            if bought.now.get(rule["id"], 0) > 0:
                who.gift_kept.add(rule["id"])
            who.ledger.append((event.id, rule["id"], "referral", None, None, -1))
            self.reversals.append((hold[2], event.purchase_id, rule))

    # -- the catalogue -------------------------------------------------------------------

    def redeem(self, who: Customer, event: Any) -> None:
        at = event.at.astimezone(UTC)
        reward = self.rewards.get(event.reward)
        quantity = event.quantity or 1
        rejected = (event.id, event.reward, "rejected", None, None, None)
        if reward is None:
            who.ledger.append(rejected)
            return
        day = self.local_date(at)
        window = reward.get("available")
        if window is not None and not (window["starts"] <= day <= window["ends"]):
            who.ledger.append(rejected)
            return
        if reward.get("tiers") is not None and self.tier(who) not in reward["tiers"]:
            who.ledger.append(rejected)
            return
        cap = reward.get("per_customer")
        if cap is not None and who.redeemed_units.get(reward["id"], 0) + quantity > cap:
            who.ledger.append(rejected)
            return
        cost = reward["cost"] * quantity

        def reached(moment: datetime) -> bool:
            return moment <= at

        if self.available(who, reached) < cost:
            who.ledger.append(rejected)
            return
        spent: list[tuple[Lot, int]] = []
        owed = cost
        for lot in who.lots:
            if owed == 0:
                break
            if lot.available_at <= at and lot.points > 0:
                taken = min(lot.points, owed)
                lot.points -= taken
                owed -= taken
                spent.append((lot, taken))
        cash = minor(Decimal(str(reward.get("cash", 0))))
        value = max(minor(Decimal(str(reward["value"]))) - cash, 0) * quantity
        who.redemptions[event.id] = Redeemed(
            reward["id"], quantity, value, spent, place=len(who.ledger)
        )
        who.redeemed_at.append(at)
        who.redeemed_units[reward["id"]] = who.redeemed_units.get(reward["id"], 0) + quantity
        who.ledger.append((event.id, reward["id"], "redemption", -cost, value, quantity))

    def tier(self, who: Customer) -> str | None:
        """The tier of a program whose tiers count purchases (not refunded in full), ever."""
        tiers = self.program.get("tiers")
        if tiers is None:
            return None
        if (tiers["qualify_by"], tiers["window"]) != ("purchases", "lifetime"):
            raise ValueError("the oracle counts tiers by purchases, over a lifetime, only")
        count = sum(
            1
            for bought in who.purchases.values()
            if any(done < line[1] for done, line in zip(bought.refunded, bought.lines))
        )
        reached = [level["name"] for level in tiers["levels"] if count >= level["at_least"]]
        return reached[-1] if reached else None

    def cancel(self, who: Customer, event: Any) -> None:
        redeemed = who.redemptions.get(event.redemption_id)
        if redeemed is None:
            return  # a rejected redemption: nothing back, no entry
        redeemed.cancelled = True
        back = 0
        recovered: list[tuple[str, int]] = []
        for lot, taken in redeemed.spent:
            if lot.expired:
                continue
            paid = min(who.debt, taken)
            who.debt -= paid
            # clamp (lifecycle.md): the points back first recover what refunds made after
            # the redemption wrote off and no cancellation recovered, oldest refund first
            for written in who.written_off:
                if written[2] > redeemed.place and written[1] and taken - paid:
                    part = min(written[1], taken - paid)
                    written[1] -= part
                    paid += part
                    recovered.append((written[0], part))
            lot.points += taken - paid
            back += taken
        who.redeemed_units[redeemed.reward] -= redeemed.quantity
        who.ledger.append(
            (event.id, redeemed.reward, "redemption", back, -redeemed.value, -redeemed.quantity)
        )
        by_refund: dict[str, int] = {}
        for refund_id, part in recovered:
            by_refund[refund_id] = by_refund.get(refund_id, 0) + part
        for part in by_refund.values():  # one entry per refund, oldest first
            who.ledger.append(
                (event.id, "points.negative_balance", "written_off", -part, None, None)
            )

    # -- gifts at dates ------------------------------------------------------------------

    def gifts_due(self, profile: Any, first_event: datetime | None, until: date) -> list[Any]:
        """(moment, running position, rule, key) of every dated gift up to the local ``until``."""
        due: list[Any] = []
        if profile is None:
            return due
        joined = profile.joined_at
        for position, (_, rule) in enumerate(self.dated_rules):
            if rule["kind"] == "signup_bonus":
                if rule.get("min_first_purchase") is not None or joined is None:
                    continue
                if self.dates_admit(rule, self.local_date(joined)):
                    due.append((joined.astimezone(UTC), position, rule, "signup"))
                continue
            if rule.get("requires_purchase") or profile.birthday is None:
                continue
            start = joined if joined is not None else first_event
            if start is None:
                continue
            start_day = self.local_date(start)
            for year in range(start_day.year - 1, until.year + 2):
                first, last = self.birthday_window(rule, profile.birthday, year)
                if last < start_day:
                    continue
                moment = midnight(first, self.zone)
                # Without joined_at the first event stands for joining, in this too.
                moment = max(moment, start.astimezone(UTC))
                if self.dates_admit(rule, self.local_date(moment)):
                    due.append((moment, position, rule, year))
        due.sort(key=lambda item: (item[0], item[1]))
        return due

    def birthday_window(self, rule: dict[str, Any], birthday: Any, year: int) -> tuple[date, date]:
        month, day = self.month_day(birthday)
        if rule.get("window", "day") == "month":
            return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
        if month == 2 and day == 29 and not calendar.isleap(year):
            day = 28
        centre = date(year, month, day)
        around = timedelta(days=rule.get("days_around", 0))
        return centre - around, centre + around

    @staticmethod
    def month_day(birthday: Any) -> tuple[int, int]:
        if hasattr(birthday, "month"):
            return birthday.month, birthday.day
        text = str(birthday).lstrip("-")
        month, day = text.split("-")
        return int(month), int(day)

    @staticmethod
    def reward_of(spec: dict[str, Any]) -> tuple[str, int]:
        """("points", n) or ("voucher", value in minor units) of a gift's settings."""
        if "voucher" in spec:
            return "voucher", minor(Decimal(str(spec["voucher"]["value"])))
        return "points", int(spec["points"])

    def worth(self, kind: str, amount: int) -> tuple[Decimal, int]:
        """A gift's worth to the customer, and its points to break a tie of money."""
        if kind == "voucher":
            return Decimal(amount) / MINOR, 0
        return amount * self.point_value, amount

    def hand_out(
        self,
        who: Customer,
        event_id: str,
        moment: datetime,
        rule: dict[str, Any],
        spec: dict[str, Any],
        kept: int | None = None,
    ) -> None:
        """Give a gift (points as a lot available at once, or a voucher) within its limits."""
        day = self.local_date(moment)
        kind, amount = self.reward_of(spec)
        if kept is None:
            kept = self.cut(who, rule, amount, day, event_id, whole=kind == "voucher")
        if kept <= 0:
            who.ledger.append((event_id, rule["id"], "capped", None, None, None))
            return
        if kind == "voucher":
            who.ledger.append((event_id, rule["id"], "voucher", None, kept, 1))
        else:
            who.ledger.append((event_id, rule["id"], "points", kept, None, None))
        self.count(who, rule, kept, day, event_id)
        if kind == "points":
            self.new_lot(who, event_id, moment, kept, wait=False)

    def give(self, who: Customer, moment: datetime, rule: dict[str, Any], key: object) -> None:
        who.gifts_given.add((rule["id"], key))
        event_id = f"{rule['id']}@{self.local_date(moment).isoformat()}"
        self.hand_out(who, event_id, moment, rule, rule)

    def give_gifts(self, who: Customer, due: list[Any], reached: Any) -> None:
        for index, (moment, _, rule, key) in enumerate(due):
            if (rule["id"], key) in who.gifts_given or not reached(moment):
                continue
            self.bring_up(who, lambda instant, moment=moment: instant <= moment)
            group = rule.get("exclusive_group")
            if not self.eligible_for(who, rule, moment):
                who.gifts_given.add((rule["id"], key))  # nothing that year
                continue
            if group is None:
                self.give(who, moment, rule, key)
                continue
            # The gifts of the group due at this moment compete; the best is given.
            members = []
            for when, _, other, other_key in due[index:]:
                if (
                    when != moment
                    or other.get("exclusive_group") != group
                    or (other["id"], other_key) in who.gifts_given
                ):
                    continue
                if self.eligible_for(who, other, moment):
                    members.append((other, other_key))
                else:
                    who.gifts_given.add((other["id"], other_key))
            day = self.local_date(moment)
            tried = []
            for position, (member, member_key) in enumerate(members):
                gift_id = f"{member['id']}@{day.isoformat()}"
                kind, amount = self.reward_of(member)
                kept = self.cut(who, member, amount, day, gift_id, whole=kind == "voucher")
                tried.append((member, member_key, kept, position, self.worth(kind, kept)))
            competing = [item for item in tried if item[2] > 0]
            winner = None
            if len(competing) > 1:
                winner = max(
                    competing,
                    key=lambda item: (*item[4], -item[0].get("priority", 0), -item[3]),
                )
            for member, member_key, kept, _, _ in tried:
                if winner is not None and member is not winner[0] and kept > 0:
                    who.gifts_given.add((member["id"], member_key))
                    gift_id = f"{member['id']}@{day.isoformat()}"
                    who.ledger.append((gift_id, member["id"], "set_aside", None, None, None))
                else:
                    self.give(who, moment, member, member_key)

    # -- the fold ------------------------------------------------------------------------

    def reward_referrer(
        self, who: Customer, purchase_id: str, at: datetime, rule: dict[str, Any]
    ) -> None:
        """The referrer's reward for a friend's qualifying purchase: a lot available at once,
        or held until the hold's end."""
        hold = rule.get("hold_for")
        if hold is not None and parse_duration(hold)[0] > 0:
            who.held.append((add_duration(at, hold, self.zone), purchase_id, rule["id"]))
            return
        self.hand_out(who, purchase_id, at, rule, rule["referrer"])
        who.referred_at.append(at)  # activity, whatever it gave

    def release(self, who: Customer, reached: Any) -> None:
        """Held referral rewards whose hold has ended, in time order."""
        rules = {rule["id"]: rule for _, rule in self.purchase_rules}
        for end, purchase_id, rule_id in sorted(who.held):
            if not reached(end):
                continue
            who.held.remove((end, purchase_id, rule_id))
            self.bring_up(who, lambda instant, end=end: instant <= end)
            self.hand_out(who, purchase_id, end, rules[rule_id], rules[rule_id]["referrer"])
            who.referred_at.append(end)

    def run(
        self,
        events: list[Any],
        profiles: list[Any] | None = None,
        as_of: date | datetime | None = None,
    ) -> dict[str, dict[str, Any]]:
        if isinstance(as_of, datetime):
            bound = as_of.astimezone(UTC)

            def within(moment: datetime) -> bool:
                return moment <= bound

            last_day = self.local_date(bound)
        elif isinstance(as_of, date):
            end = midnight(as_of + timedelta(days=1), self.zone)

            def within(moment: datetime) -> bool:
                return moment < end

            last_day = as_of
        else:

            def within(moment: datetime) -> bool:
                return True

            last_day = None
        ordered = sorted(
            (event for event in events if within(event.at.astimezone(UTC))),
            key=lambda event: (event.at.astimezone(UTC), event.id),
        )
        by_profile = {profile.customer_id: profile for profile in profiles or []}
        people: dict[str, Customer] = {}
        firsts: dict[str, datetime] = {}
        lasts: dict[str, datetime] = {}
        horizon = last_day or max(
            (self.local_date(event.at) for event in ordered), default=date(2000, 1, 1)
        )
        plans: dict[str, list[Any]] = {}

        def arrive(cid: str, at: datetime) -> Customer:
            """A customer's event (or referral fact) at ``at``: gifts and expiry up to it."""
            firsts.setdefault(cid, at)
            lasts[cid] = at
            people.setdefault(cid, Customer()).first = firsts[cid]
            if cid not in plans:
                plans[cid] = self.gifts_due(by_profile.get(cid), firsts[cid], horizon)
            who = people.setdefault(cid, Customer())
            who.seen = True
            who.profile = by_profile.get(cid)

            def upto(moment: datetime) -> bool:
                return moment <= at

            self.release(who, upto)
            self.give_gifts(who, plans[cid], upto)
            self.bring_up(who, upto)
            return who

        for event in ordered:
            at = event.at.astimezone(UTC)
            who = arrive(event.customer_id, at)
            kind = type(event).__name__
            if kind == "Purchase":
                self.purchase(who, event)
            elif kind == "Refund":
                self.refund(who, event)
            elif kind == "Redemption":
                self.redeem(who, event)
            elif kind == "CancelRedemption":
                self.cancel(who, event)
            else:
                raise ValueError(f"the oracle does not know {kind}")
            for referrer, purchase_id, rule in self.facts:
                self.reward_referrer(arrive(referrer, at), purchase_id, at, rule)
            self.facts.clear()
            for referrer, purchase_id, rule in self.reversals:
                them = arrive(referrer, at)
                them.held = [held for held in them.held if held[1:] != (purchase_id, rule["id"])]
            self.reversals.clear()
        for cid, profile in by_profile.items():
            if cid not in plans:
                plans[cid] = self.gifts_due(profile, None, horizon)
        results: dict[str, dict[str, Any]] = {}
        for cid in sorted(set(plans) | set(people)):
            who = people.setdefault(cid, Customer())
            if as_of is None:
                if cid not in lasts:
                    continue
                last = lasts[cid]

                def end_reached(moment: datetime, last: datetime = last) -> bool:
                    return moment <= last

            else:
                end_reached = within
                who.profile = by_profile.get(cid)
                self.release(who, within)
                self.give_gifts(who, plans[cid], within)
            self.bring_up(who, end_reached)
            if not who.seen and not who.ledger:
                continue
            available = self.available(who, end_reached)
            pending = self.pending(who, end_reached)
            results[cid] = {
                "ledger": who.ledger,
                "points": available + pending,
                "available": available,
                "pending": pending,
                "upcoming": self.upcoming(who),
            }
        return results


def engine_view(evaluation: Any) -> dict[str, dict[str, Any]]:
    """The same view of an engine's ``Evaluation``."""
    view: dict[str, dict[str, Any]] = {}
    for result in evaluation.customers:
        view[result.customer_id] = {
            "ledger": [
                (e.event_id, e.rule, e.kind, e.points, e.value_minor, e.units)
                for e in result.ledger
            ],
            "points": result.points,
            "available": result.available_points,
            "pending": result.pending_points,
            "upcoming": [(due.on, due.points) for due in result.upcoming_expiry],
        }
    return view


def half_up(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def totals(view: dict[str, dict[str, Any]]) -> dict[str, int]:
    """The lifecycle totals of docs/json-output.md, added up from the customers' ledgers."""
    sums = dict.fromkeys(
        (
            "customers",
            "points_issued",
            "points_reversed",
            "vouchers",
            "voucher_value",
            "redemptions",
            "points_redeemed",
            "redemption_value",
            "rejected_redemptions",
            "points_expired",
            "points_written_off",
            "rewards_capped",
            "rewards_set_aside",
            "referrals",
        ),
        0,
    )
    for result in view.values():
        sums["customers"] += 1
        for _, _, kind, points, value, units in result["ledger"]:
            if kind == "points" and points is not None:
                sums["points_issued" if points > 0 else "points_reversed"] += abs(points)
            elif kind == "voucher":
                sums["vouchers"] += units or 0
                sums["voucher_value"] += value or 0
            elif kind == "redemption":
                sums["redemptions"] += 1 if (units or 0) > 0 else -1
                sums["points_redeemed"] -= points or 0
                sums["redemption_value"] += value or 0
            elif kind == "rejected":
                sums["rejected_redemptions"] += 1
            elif kind == "expiry":
                sums["points_expired"] -= points or 0
            elif kind == "written_off":
                sums["points_written_off"] += points or 0
            elif kind == "capped":
                sums["rewards_capped"] += 1
            elif kind == "set_aside":
                sums["rewards_set_aside"] += 1
            elif kind == "referral":
                sums["referrals"] += -1 if units == -1 else 1  # a reversed hold: minus one
    return sums


def engine_totals(evaluation: Any) -> dict[str, int]:
    """The same totals as the engine reports them."""
    return {name: getattr(evaluation.totals, name) for name in totals({})}
