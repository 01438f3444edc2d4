"""An independent oracle for punch cards, gift cards and per-rule limits among issue 15's
features: order offers, payment methods, ``earn_on``, ``final`` and exclusive groups.

Written from docs/semantics.md (punch cards, gift cards, order offers, payments, ``final``,
refunds), docs/lifecycle.md (limits, exclusive groups) and docs/reference.md only, **not**
from the engine's code. tests/oracle/core.py draws punch and gift cards without limits,
groups or ``final``; tests/oracle/lifecycle.py draws limits on points rules only; real.py
draws neither card. This module checks them together.

The family of programs, given as the plain document ``Program.model_validate`` reads:

* currency USD, any time zone (limits count by local dates); ``points.value`` and
  ``points.earn_on``; tiers by lifetime spend or points with a ``points_multiplier`` and
  ``tiered_discount`` rules; no expiry, waiting, catalogue or gifts at dates;
* ``every_nth_free`` (``items`` or ``visits``; ``free``, ``percent_off`` below 100 or a
  ``voucher``), ``partner_gift_card`` (any ``window``, ``max_per_window``),
  ``order_discount`` (``percent`` below 100, ``amount`` or ``gift_item``),
  ``points_per_spend`` (``points`` per 1.00, floor, ``when.payment_methods``) and
  ``bonus_points`` (``once_per_customer``);
* each with ``priority``, ``final``, ``exclusive_group``, ``when`` (``categories``,
  ``exclude_categories``, ``min_total`` of all or eligible lines, ``tiers``) and
  ``limit``: a list of ``{per, points | rewards | value}``;
* purchases (a sku once per purchase, optional payments) and refunds, whole or by lines.

Money is integer cents inside; ratios are exact :class:`fractions.Fraction`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from rewardrules.events import Purchase, Refund

Row = tuple[str, str, str, int | None, Decimal | None, int | None]
"""(event id, rule, kind, points, value, units), as tests/helpers.py compares entries."""

PRICE_KINDS = ("every_nth_free", "order_discount")


def cents(amount: Any) -> int:
    return int(Decimal(str(amount)) * 100)


def money(amount: int) -> Decimal:
    return Decimal(amount) / 100


def half_up(value: Fraction) -> int:
    """Half away from zero, to a whole number (values here are never negative)."""
    whole = value.numerator // value.denominator
    return whole + 1 if value - whole >= Fraction(1, 2) else whole


def remaining(amount: int, quantity: int, returned: int) -> int:
    """What is left of a line's amount once ``returned`` units are back: each unit gives
    back ``amount / quantity`` half up, at most what the line has left; the last the rest."""
    if returned >= quantity:
        return 0
    return max(0, amount - returned * half_up(Fraction(amount, quantity)))


def spend_points(rule: Mapping[str, Any], bases: Sequence[int], multiplier: Fraction) -> int:
    """``points`` per 1.00 of the bases, times the tier's multiplier, floored once."""
    raw = Fraction(sum(bases) * int(rule["points"]), 100) * multiplier
    return raw.numerator // raw.denominator


def is_price_rule(rule: Mapping[str, Any]) -> bool:
    """Punch cards that free or discount units and order offers that take money off."""
    if rule["kind"] == "every_nth_free":
        return not isinstance(rule.get("reward"), Mapping) or "voucher" not in rule["reward"]
    if rule["kind"] == "tiered_discount":
        return True
    return rule["kind"] == "order_discount" and "gift_item" not in rule


def running_order(program: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Price rules, then earning rules, each by priority, then file order."""
    indexed = list(enumerate(program["rules"]))
    indexed.sort(
        key=lambda pair: (not is_price_rule(pair[1]), int(pair[1].get("priority", 0)), pair[0])
    )
    return [rule for _, rule in indexed]


def eligible(rule: Mapping[str, Any], category: str | None) -> bool:
    """The line-level conditions: a listed category (if any are listed), none excluded."""
    when = rule.get("when", {})
    categories = when.get("categories")
    if categories is not None and category not in categories:
        return False
    return category is None or category not in when.get("exclude_categories", ())


def admitted(rule: Mapping[str, Any], purchase: Purchase, tier: str | None) -> bool:
    """``tiers`` (the purchase's tier is listed) and ``min_total``: the gross total before
    any reward of every line, or with ``min_total_of: eligible`` of the eligible lines."""
    when = rule.get("when", {})
    if "tiers" in when and tier not in when["tiers"]:
        return False
    minimum = when.get("min_total")
    lines = purchase.lines
    if when.get("min_total_of", "all") == "eligible":
        lines = tuple(line for line in lines if eligible(rule, line.category))
    gross = sum(cents(line.unit_price) * line.quantity for line in lines)
    return minimum is None or gross >= cents(minimum)


def period(per: str, day: date) -> Any:
    """The period of a local date a limit counts in (None: each purchase on its own)."""
    return {
        "purchase": None,
        "day": day,
        "week": day.isocalendar()[:2],
        "month": (day.year, day.month),
        "year": day.year,
        "lifetime": 0,
    }[per]


def window_of(window: str, day: date) -> Any:
    return {
        "lifetime": 0,
        "calendar_year": day.year,
        "calendar_quarter": (day.year, (day.month - 1) // 3),
        "calendar_month": (day.year, day.month),
    }[window]


def limits_of(rule: Mapping[str, Any]) -> list[dict[str, Any]]:
    limit = rule.get("limit", [])
    return [limit] if isinstance(limit, Mapping) else list(limit)


@dataclass
class Given:
    """What one rule gives for a purchase (before it is applied): its row, or a capped note."""

    row: Row
    points: int = 0
    value: int = 0
    rewards: int = 0
    """What its limits count."""
    capped: bool = False
    discounts: dict[int, int] = field(default_factory=dict)
    """Per line: money taken off; ``freed``: per line, units made free."""
    freed: dict[int, int] = field(default_factory=dict)
    bases: list[int] | None = None
    """What a points rule earned on, per line, and the points before limits."""
    uncut: int = 0
    stamps: int = 0
    """Punch cards: the units or visits counted; gift cards: the spend counted, per line."""
    spend: list[int] | None = None
    cards: int = 0
    """Gift cards: the window's cards reached."""
    used_once: bool = False

    @property
    def gives(self) -> bool:
        return not self.capped


@dataclass
class _Bought:
    purchase: Purchase
    day: date
    back: list[int]
    tier: str | None
    paid: list[int] = field(default_factory=list)
    points: dict[str, tuple[int, int, list[int]]] = field(default_factory=dict)
    """Per points rule: (points held, points given, what it earned on per line)."""
    bonuses: dict[str, int] = field(default_factory=dict)
    counted: dict[str, list[int]] = field(default_factory=dict)
    """Per punch card that ran: its qualifying units per line; per gift card: spend per line."""


class Customer:
    def __init__(self, program: Mapping[str, Any]) -> None:
        self.program = program
        self.zone = ZoneInfo(str(program["timezone"]))
        self.ledger: list[Row] = []
        self.counts: dict[str, int] = {}
        self.used: dict[tuple[str, int], tuple[Any, int]] = {}
        """Per (rule, limit): the period it last counted in and what it counted there."""
        self.net: dict[tuple[str, Any], int] = {}
        self.highest: dict[tuple[str, Any], int] = {}
        self.issued: dict[tuple[str, Any], int] = {}
        self.once: set[str] = set()
        self.bought: dict[str, _Bought] = {}
        self.tier_spend: dict[str, int] = {}
        """Per purchase: what it counts toward the tiers (lifetime), less refunds: the paid
        amount, or with ``qualify_by: points`` the points it was given (after limits)."""
        self.by_points = (program.get("tiers") or {}).get("qualify_by") == "points"

    # --- limits ---------------------------------------------------------------------

    def left(self, rule: Mapping[str, Any], day: date) -> dict[str, int | None]:
        """Per measure, what the rule's limits leave now (None: no limit of it)."""
        out: dict[str, int | None] = {"points": None, "rewards": None, "value": None}
        for index, limit in enumerate(limits_of(rule)):
            measure = next(m for m in ("points", "rewards", "value") if m in limit)
            cap = cents(limit[measure]) if measure == "value" else int(limit[measure])
            key = period(limit["per"], day)
            was, count = self.used.get((rule["id"], index), (None, 0))
            room = cap - count if key is not None and was == key else cap
            current = out[measure]
            out[measure] = room if current is None else min(current, room)
        return out

    def count(self, rule: Mapping[str, Any], day: date, given: Given) -> None:
        for index, limit in enumerate(limits_of(rule)):
            measure = next(m for m in ("points", "rewards", "value") if m in limit)
            amount = {"points": given.points, "rewards": given.rewards, "value": given.value}
            key = period(limit["per"], day)
            was, counted = self.used.get((rule["id"], index), (None, 0))
            counted = counted if key is not None and was == key else 0
            self.used[(rule["id"], index)] = (key, counted + amount[measure])

    def give_back(self, rule: Mapping[str, Any], day: date, points: int) -> None:
        """Points a refund took back return to the purchase's period, if still current."""
        for index, limit in enumerate(limits_of(rule)):
            if "points" not in limit:
                continue
            key = period(limit["per"], day)
            was, counted = self.used.get((rule["id"], index), (None, 0))
            if key is not None and was == key:
                self.used[(rule["id"], index)] = (key, max(0, counted - points))

    def tier(self) -> str | None:
        """The highest level the purchases so far reach (the one that crosses is not yet at it)."""
        total = sum(self.tier_spend.values())
        reached = None
        for level in (self.program.get("tiers") or {}).get("levels", ()):
            if total >= (int(level["at_least"]) if self.by_points else cents(level["at_least"])):
                reached = level["name"]
        return reached

    def multiplier(self, tier: str | None) -> Fraction:
        for level in (self.program.get("tiers") or {}).get("levels", ()):
            if level["name"] == tier:
                return Fraction(Decimal(str(level.get("points_multiplier", 1))))
        return Fraction(1)

    # --- one rule at a purchase -----------------------------------------------------

    def run(
        self,
        rule: Mapping[str, Any],
        purchase: Purchase,
        bought: _Bought,
        paid: Sequence[int],
        freed: Sequence[int],
    ) -> Given | None:
        """What the rule would give now, on these amounts, within its limits; None when
        it does not look at the purchase at all (not admitted)."""
        if not admitted(rule, purchase, bought.tier):
            return None
        day = bought.day
        left = self.left(rule, day)
        kind = rule["kind"]
        if kind == "every_nth_free":
            return self.punch(rule, purchase, paid, freed, left)
        if kind == "partner_gift_card":
            return self.gift_cards(rule, purchase, day, paid, left)
        if kind == "order_discount":
            return self.offer(rule, purchase, paid, freed, left)
        if kind == "points_per_spend":
            return self.spend(rule, purchase, paid, self.multiplier(bought.tier), left)
        if kind == "tiered_discount":
            percent = rule["discounts"].get(bought.tier)
            if percent is None:
                return None
            return self.percent(rule, purchase, Fraction(Decimal(str(percent))), paid, freed, left)
        return self.bonus(rule, purchase, left)

    def _points(
        self, rule: Mapping[str, Any], event: str, points: int, left: dict[str, int | None]
    ) -> Given:
        given = points if left["rewards"] is None or left["rewards"] > 0 else 0
        if left["points"] is not None:
            given = min(given, left["points"])
        if given == 0:
            return Given((event, rule["id"], "capped", None, None, None), capped=True, uncut=points)
        row = (event, rule["id"], "points", given, None, None)
        return Given(row, points=given, rewards=1, uncut=points)

    def spend(
        self,
        rule: Mapping[str, Any],
        purchase: Purchase,
        paid: Sequence[int],
        multiplier: Fraction,
        left: dict[str, int | None],
    ) -> Given | None:
        gross_basis = self.program.get("points", {}).get("earn_on") == "gross"
        amounts = [cents(line.unit_price) * line.quantity for line in purchase.lines]
        basis = amounts if gross_basis else list(paid)
        methods = rule.get("when", {}).get("payment_methods")
        fraction = Fraction(1)
        if methods is not None:
            gross = sum(amounts)
            if not purchase.payments or gross == 0:
                return None
            by = sum(cents(p.amount) for p in purchase.payments if p.method in methods)
            fraction = Fraction(by, gross)
        bases = [
            half_up(basis[i] * fraction) if eligible(rule, line.category) else 0
            for i, line in enumerate(purchase.lines)
        ]
        points = spend_points(rule, bases, multiplier)
        if points == 0:
            return None
        given = self._points(rule, purchase.id, points, left)
        given.bases = bases
        return given

    def bonus(
        self, rule: Mapping[str, Any], purchase: Purchase, left: dict[str, int | None]
    ) -> Given | None:
        if rule.get("once_per_customer") and rule["id"] in self.once:
            return None
        if not any(
            cents(line.unit_price) > 0 and eligible(rule, line.category) for line in purchase.lines
        ):
            return None
        given = self._points(rule, purchase.id, int(rule["points"]), left)
        given.used_once = bool(rule.get("once_per_customer"))
        return given

    def punch(
        self,
        rule: Mapping[str, Any],
        purchase: Purchase,
        paid: Sequence[int],
        freed: Sequence[int],
        left: dict[str, int | None],
    ) -> Given | None:
        qualifying = [
            line.quantity if cents(line.unit_price) > 0 and eligible(rule, line.category) else 0
            for line in purchase.lines
        ]
        if not any(qualifying):
            return None
        every = int(rule["every"])
        added = sum(qualifying) if rule.get("counts", "items") == "items" else 1
        before = self.counts.get(rule["id"], 0)
        cards = (before + added) // every - before // every
        reward = rule.get("reward", "free")
        quiet = Given(("", "", "", None, None, None), stamps=added, spend=qualifying)
        quiet.capped = True  # gives nothing: not an entry at all
        if cards == 0:
            quiet.row = ("", rule["id"], "", None, None, None)
            return quiet
        if isinstance(reward, Mapping) and "voucher" in reward:
            each = cents(reward["voucher"]["value"])
            given = self.whole_items(rule, purchase.id, "voucher", cards, each, left)
        else:
            given = self.free_units(rule, purchase, paid, freed, qualifying, cards, left)
        given.stamps, given.spend = added, qualifying
        return given

    def whole_items(
        self,
        rule: Mapping[str, Any],
        event: str,
        kind: str,
        wanted: int,
        each: int,
        left: dict[str, int | None],
    ) -> Given:
        """Vouchers and gift cards: whole or not at all, as many as fit."""
        count = wanted if left["rewards"] is None else min(wanted, left["rewards"])
        if left["value"] is not None and each > 0:
            count = min(count, left["value"] // each)
        if count == 0:
            return Given((event, rule["id"], "capped", None, None, None), capped=True)
        row = (event, rule["id"], kind, None, money(count * each), count)
        return Given(row, value=count * each, rewards=count)

    def free_units(
        self,
        rule: Mapping[str, Any],
        purchase: Purchase,
        paid: Sequence[int],
        freed: Sequence[int],
        qualifying: Sequence[int],
        cards: int,
        left: dict[str, int | None],
    ) -> Given:
        """The cheapest qualifying units not yet free (a line's amount spread over its units
        not yet free; ties to the earlier line), at most the rewards left; under a value
        limit each line's units one fewer at a time until they fit, then the next line."""
        reward = rule.get("reward", "free")
        percent = None if reward == "free" else Fraction(Decimal(str(reward["percent_off"])))
        open_units = {
            i: purchase.lines[i].quantity - freed[i]
            for i in range(len(purchase.lines))
            if qualifying[i] and purchase.lines[i].quantity - freed[i] > 0
        }
        if not open_units:  # every qualifying unit is free already: nothing to give
            return Given(("", rule["id"], "", None, None, None), capped=True)
        cheapest = sorted(open_units, key=lambda i: (Fraction(paid[i], open_units[i]), i))
        wanted = cards if left["rewards"] is None else min(cards, left["rewards"])

        def worth(i: int, units: int) -> int:
            whole = (
                paid[i]
                if units == open_units[i]
                else half_up(Fraction(paid[i] * units, open_units[i]))
            )
            if percent is None:
                return whole
            return half_up(Fraction(paid[i] * units, open_units[i]) * percent / 100)

        room = left["value"]
        taken: dict[int, int] = {}
        for i in cheapest:
            units = min(wanted, open_units[i])
            if room is not None:
                while units > 0 and worth(i, units) > room:
                    units -= 1
            if units:
                taken[i] = units
                wanted -= units
                if room is not None:
                    room -= worth(i, units)
            if wanted == 0:
                break
        units = sum(taken.values())
        if units == 0:
            return Given((purchase.id, rule["id"], "capped", None, None, None), capped=True)
        discounts = {i: worth(i, n) for i, n in taken.items()}
        kind = "free" if percent is None else "discount"
        value = sum(discounts.values())
        row = (purchase.id, rule["id"], kind, None, money(value), units)
        return Given(
            row,
            value=value,
            rewards=units,
            discounts=discounts,
            freed=dict(taken) if percent is None else {},
        )

    def gift_cards(
        self,
        rule: Mapping[str, Any],
        purchase: Purchase,
        day: date,
        paid: Sequence[int],
        left: dict[str, int | None],
    ) -> Given | None:
        spend = [
            paid[i] if eligible(rule, line.category) else 0 for i, line in enumerate(purchase.lines)
        ]
        key = (rule["id"], window_of(rule.get("window", "lifetime"), day))
        net = self.net.get(key, 0) + sum(spend)
        highest = max(self.highest.get(key, 0), net)
        reached = highest // cents(rule["every_spend"])
        if "max_per_window" in rule:
            reached = min(reached, int(rule["max_per_window"]))
        new = reached - self.issued.get(key, 0)
        if new <= 0:
            quiet = Given(("", rule["id"], "", None, None, None), capped=True, spend=spend)
            quiet.cards = self.issued.get(key, 0)
            return quiet
        given = self.whole_items(rule, purchase.id, "gift_card", new, cents(rule["value"]), left)
        given.spend, given.cards = spend, reached
        return given

    def offer(
        self,
        rule: Mapping[str, Any],
        purchase: Purchase,
        paid: Sequence[int],
        freed: Sequence[int],
        left: dict[str, int | None],
    ) -> Given | None:
        """An order offer; its units are those of the discounted lines not already free."""
        lines = [i for i, line in enumerate(purchase.lines) if eligible(rule, line.category)]
        if "gift_item" in rule:
            if not any(cents(purchase.lines[i].unit_price) > 0 for i in lines):
                return None
            return self.whole_items(
                rule, purchase.id, "free", 1, cents(rule["gift_item"]["value"]), left
            )
        if "percent" in rule:
            percent = Fraction(Decimal(str(rule["percent"])))
            return self.percent(rule, purchase, percent, paid, freed, left)
        whole = sum(paid[i] for i in lines)
        if whole == 0:
            return None
        amount = min(cents(rule["amount"]), whole)
        shares = {i: amount * paid[i] // whole for i in lines}
        spare = amount - sum(shares.values())
        for i in sorted(lines, key=lambda i: (-(amount * paid[i] % whole), i))[:spare]:
            shares[i] += 1
        return self.cut_shares(rule, purchase, shares, freed, left)

    def percent(
        self,
        rule: Mapping[str, Any],
        purchase: Purchase,
        percent: Fraction,
        paid: Sequence[int],
        freed: Sequence[int],
        left: dict[str, int | None],
    ) -> Given | None:
        """P% off each eligible line, half up per line (an order offer, a tier discount)."""
        lines = [i for i, line in enumerate(purchase.lines) if eligible(rule, line.category)]
        shares = {i: half_up(paid[i] * percent / 100) for i in lines}
        return self.cut_shares(rule, purchase, shares, freed, left)

    def cut_shares(
        self,
        rule: Mapping[str, Any],
        purchase: Purchase,
        shares: dict[int, int],
        freed: Sequence[int],
        left: dict[str, int | None],
    ) -> Given | None:
        """A discount within the limits: nothing without a reward left; under a value
        limit, line by line in line order, each at most what is left."""
        if sum(shares.values()) == 0:
            return None
        if left["rewards"] is not None and left["rewards"] <= 0:
            shares = {}
        room = left["value"]
        if room is not None:
            for i in sorted(shares):
                shares[i] = min(shares[i], room)
                room -= shares[i]
        shares = {i: v for i, v in shares.items() if v > 0}
        if not shares:
            return Given((purchase.id, rule["id"], "capped", None, None, None), capped=True)
        value = sum(shares.values())
        units = sum(purchase.lines[i].quantity - freed[i] for i in shares)
        row = (purchase.id, rule["id"], "discount", None, money(value), units)
        return Given(row, value=value, rewards=1, discounts=shares)

    # --- events ---------------------------------------------------------------------

    def apply(
        self,
        rule: Mapping[str, Any],
        given: Given,
        bought: _Bought,
        paid: list[int],
        freed: list[int],
    ) -> None:
        """The rule runs for real: its entry, its bookkeeping, its limits, the amounts."""
        rule_id = rule["id"]
        if given.row[2]:
            self.ledger.append(given.row)
        kind = rule["kind"]
        if kind == "every_nth_free":
            self.counts[rule_id] = self.counts.get(rule_id, 0) + given.stamps
            bought.counted[rule_id] = list(given.spend or [])
        elif kind == "partner_gift_card":
            key = (rule_id, window_of(rule.get("window", "lifetime"), bought.day))
            self.net[key] = self.net.get(key, 0) + sum(given.spend or [])
            self.highest[key] = max(self.highest.get(key, 0), self.net[key])
            self.issued[key] = max(self.issued.get(key, 0), given.cards)
            bought.counted[rule_id] = list(given.spend or [])
        if given.used_once:
            self.once.add(rule_id)
        if not given.capped:
            self.count(rule, bought.day, given)
            for i, amount in given.discounts.items():
                paid[i] -= amount
            for i, units in given.freed.items():
                freed[i] += units
            if given.row[3] is not None:
                if given.bases is not None:
                    bought.points[rule_id] = (given.points, given.points, given.bases)
                else:
                    bought.bonuses[rule_id] = given.points

    def worth(self, given: Given) -> tuple[Fraction, int]:
        value = Fraction(Decimal(str(self.program.get("points", {}).get("value", 0))))
        return Fraction(given.value, 100) + given.points * value, given.points

    def rank(
        self, member: Mapping[str, Any], given: Given | None, rules: list[Any]
    ) -> tuple[Any, ...]:
        """Worth most first (money, then points), then lower priority, then file order."""
        assert given is not None
        money_worth, points = self.worth(given)
        return (-money_worth, -points, int(member.get("priority", 0)), rules.index(member))

    def buy(self, purchase: Purchase) -> None:
        day = purchase.at.astimezone(self.zone).date()
        bought = _Bought(purchase, day, [0] * len(purchase.lines), self.tier())
        self.bought[purchase.id] = bought
        paid = [cents(line.unit_price) * line.quantity for line in purchase.lines]
        freed = [0] * len(purchase.lines)
        order = running_order(self.program)
        rules = list(self.program["rules"])
        done: set[str] = set()
        for rule in order:
            if rule["id"] in done:
                continue
            group = rule.get("exclusive_group")
            members = [
                m for m in order if group is not None and m.get("exclusive_group") == group
            ] or [rule]
            done |= {m["id"] for m in members}
            # each member on the same amounts and state, as they are at the group's place
            tried = {m["id"]: self.run(m, purchase, bought, paid, freed) for m in members}
            giving = [m for m in members if (t := tried[m["id"]]) is not None and t.gives]

            ranked = sorted(giving, key=lambda m: self.rank(m, tried[m["id"]], rules))
            winner = ranked[0] if ranked else None
            for member in members:
                given = tried[member["id"]]
                if given is None:
                    continue
                if member is winner:
                    self.apply(member, given, bought, paid, freed)
                elif not given.gives:
                    # runs as usual, on the basket less the winner's discount (lifecycle.md);
                    # a member that gave nothing at the group's place gives nothing there
                    again = self.run(member, purchase, bought, paid, freed)
                    if again is not None:  # None: a discount of nothing there, not even capped
                        self.apply(member, given if again.gives else again, bought, paid, freed)
                else:
                    self.ledger.append((purchase.id, member["id"], "set_aside", None, None, None))
            if winner is not None and winner.get("final"):
                break
        bought.paid = list(paid)
        given = sum(p[0] for p in bought.points.values()) + sum(bought.bonuses.values())
        self.tier_spend[purchase.id] = given if self.by_points else sum(paid)

    def taken(self, purchase_id: str, points: int) -> None:
        """Status points: what a refund takes back no longer counts toward the tiers."""
        if self.by_points:
            self.tier_spend[purchase_id] -= points

    def refund(self, refund: Refund) -> None:
        bought = self.bought[refund.purchase_id]
        purchase = bought.purchase
        was = list(bought.back)
        if refund.lines is None:
            bought.back = [line.quantity for line in purchase.lines]
        else:
            for returned in refund.lines:
                index = next(i for i, line in enumerate(purchase.lines) if line.sku == returned.sku)
                bought.back[index] += returned.quantity
        lines = purchase.lines
        if not self.by_points:
            self.tier_spend[purchase.id] -= sum(
                remaining(p, line.quantity, w) - remaining(p, line.quantity, b)
                for p, line, w, b in zip(bought.paid, lines, was, bought.back, strict=True)
            )
        for rule in running_order(self.program):
            rule_id = rule["id"]
            if rule_id in bought.points:
                held, given, bases = bought.points[rule_id]
                kept = [
                    remaining(b, line.quantity, n)
                    for b, line, n in zip(bases, purchase.lines, bought.back, strict=True)
                ]
                now = min(spend_points(rule, kept, self.multiplier(bought.tier)), given)
                if now < held:
                    self.ledger.append((refund.id, rule_id, "points", now - held, None, None))
                    self.give_back(rule, bought.day, held - now)
                    self.taken(purchase.id, held - now)
                    bought.points[rule_id] = (now, given, bases)
            elif rule_id in bought.bonuses:
                still = any(
                    n < line.quantity
                    and cents(line.unit_price) > 0
                    and eligible(rule, line.category)
                    for line, n in zip(purchase.lines, bought.back, strict=True)
                )
                if not still:
                    held = bought.bonuses.pop(rule_id)
                    self.ledger.append((refund.id, rule_id, "points", -held, None, None))
                    self.give_back(rule, bought.day, held)
                    self.taken(purchase.id, held)
            elif rule_id in bought.counted and rule["kind"] == "every_nth_free":
                qualifying = bought.counted[rule_id]
                if rule.get("counts", "items") == "items":
                    gone = sum(
                        min(q, b) - min(q, w)
                        for q, b, w in zip(qualifying, bought.back, was, strict=True)
                    )
                else:
                    lines = [i for i, q in enumerate(qualifying) if q]
                    before = all(was[i] >= qualifying[i] for i in lines)
                    after = all(bought.back[i] >= qualifying[i] for i in lines)
                    gone = 1 if after and not before else 0
                count = self.counts.get(rule_id, 0)
                every = int(rule["every"])
                self.counts[rule_id] = max(count - gone, count // every * every)
            elif rule_id in bought.counted:
                spend = bought.counted[rule_id]
                gone = sum(
                    remaining(s, line.quantity, w) - remaining(s, line.quantity, b)
                    for s, line, w, b in zip(spend, purchase.lines, was, bought.back, strict=True)
                )
                key = (rule_id, window_of(rule.get("window", "lifetime"), bought.day))
                self.net[key] = self.net.get(key, 0) - gone


@dataclass
class Outcome:
    ledger: list[Row]
    points: int
    stamps: dict[str, int]


def evaluate(program: Mapping[str, Any], events: Sequence[Purchase | Refund]) -> dict[str, Outcome]:
    """Each customer's ledger, points and stamps; events in (instant, id) order."""
    out: dict[str, Outcome] = {}
    for cid in sorted({event.customer_id for event in events}):
        customer = Customer(program)
        for event in sorted(
            (e for e in events if e.customer_id == cid), key=lambda e: (e.at, e.id)
        ):
            if isinstance(event, Purchase):
                customer.buy(event)
            else:
                customer.refund(event)
        points = sum(row[3] or 0 for row in customer.ledger if row[2] == "points")
        stamps = {
            rule["id"]: customer.counts.get(rule["id"], 0) % int(rule["every"])
            for rule in program["rules"]
            if rule["kind"] == "every_nth_free"
        }
        out[cid] = Outcome(customer.ledger, points, stamps)
    return out
