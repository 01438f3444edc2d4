"""An independent oracle for the core rule semantics (issue 2).

Written from the issue texts (issue 2, "Core: the YAML rule format v1 ...", and issue 9's
"one entry per rule and event") and from docs/semantics.md, NOT from the engine's code: it
is a second implementation to compare ``rewardrules.evaluate`` with, on both engines.

Scope: ``points_per_spend`` (multipliers, rounding, ``max_per_purchase``, a tier's
``points_multiplier``), ``every_nth_free`` (``free``, ``percent_off``, ``voucher``; items
or visits), ``partner_gift_card``, ``tiered_discount``, ``tiers`` (spend or purchases;
lifetime, calendar and rolling windows), ``when`` filters, ``starts``/``ends``,
``priority``, and refunds (whole or by line). Anything else in a program (limits, groups,
``final``, the points lifecycle, bonuses, payments, ``earn_on: gross``, retention of
levels, ``as_of``) is outside it: :func:`in_scope` says whether a program is.

Money is exact: amounts are integer minor units, ratios are :class:`fractions.Fraction`,
and every computed amount is rounded half up to the minor unit where it is computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from rewardrules.events import Purchase, Refund
from rewardrules.program.model import Program

# ISO 4217 minor units of the currencies the tests use.
MINOR_UNITS = {"USD": 2, "EUR": 2, "GBP": 2, "CAD": 2, "AUD": 2, "JPY": 0, "KWD": 3}
WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
CORE_KINDS = ("points_per_spend", "every_nth_free", "partner_gift_card", "tiered_discount")


def half_up(value: Fraction) -> int:
    """Round half away from zero to a whole number."""
    sign = -1 if value < 0 else 1
    magnitude = abs(value)
    whole = magnitude.numerator // magnitude.denominator
    if magnitude - whole >= Fraction(1, 2):
        whole += 1
    return sign * whole


def floor(value: Fraction) -> int:
    return value.numerator // value.denominator


def ceil(value: Fraction) -> int:
    return -((-value.numerator) // value.denominator)


ROUNDINGS = {"floor": floor, "half_up": half_up, "ceil": ceil}


def in_scope(program: Program) -> bool:
    """Whether the program uses only what this oracle knows."""
    if program.tiers is not None:
        tiers = program.tiers
        if tiers.qualify_by not in ("spend", "purchases"):
            return False
        if tiers.keep_for is not None or tiers.keep_until is not None:
            return False
    if getattr(program.points, "earn_on", "paid") != "paid":
        return False
    for rule in program.rules:
        if rule.kind not in CORE_KINDS:
            return False
        if rule.limit or rule.exclusive_group is not None or rule.final:
            return False
        if rule.when.payment_methods is not None:
            return False
    return True


# --- the history ------------------------------------------------------------------------


@dataclass
class LineState:
    sku: str
    category: str | None
    quantity: int
    unit_price: int  # minor units
    amount: int  # what price rules left (minor units)
    free_units: int = 0  # units made free by a price rule
    refunded_units: int = 0
    refunded_amount: int = 0

    @property
    def gross(self) -> int:
        return self.quantity * self.unit_price


@dataclass
class PurchaseRecord:
    id: str
    at: datetime
    local: date
    lines: list[LineState]
    tier: str | None
    # per points rule: per-line factor (None = line not eligible)
    points_factors: dict[str, list[Fraction | None]] = field(default_factory=dict)
    points_given: dict[str, int] = field(default_factory=dict)
    # per punch card: per-line qualifying (bool), and whether the purchase was a visit
    punch_lines: dict[str, list[bool]] = field(default_factory=dict)
    # per gift-card rule: the lines it counted
    gift_lines: dict[str, list[bool]] = field(default_factory=dict)

    @property
    def paid(self) -> int:
        return sum(line.amount for line in self.lines)

    def refunded(self) -> int:
        return sum(line.refunded_amount for line in self.lines)

    def fully_refunded(self) -> bool:
        return all(line.refunded_units == line.quantity for line in self.lines)


@dataclass(frozen=True)
class Entry:
    event_id: str
    rule: str
    kind: str
    points: int | None
    value: Decimal | None
    units: int | None


@dataclass
class Customer:
    purchases: dict[str, PurchaseRecord] = field(default_factory=dict)
    order: list[PurchaseRecord] = field(default_factory=list)
    ledger: list[Entry] = field(default_factory=list)
    points: int = 0
    stamps: dict[str, int] = field(default_factory=dict)
    # gift cards: rule -> window key -> [net spend, highest]
    gift_windows: dict[str, dict[Any, list[int]]] = field(default_factory=dict)
    gift_cards: dict[str, dict[Any, int]] = field(default_factory=dict)


@dataclass
class Result:
    ledger: list[Entry]
    points: int
    tier: str | None
    stamps: dict[str, int]


class Oracle:
    def __init__(self, program: Program) -> None:
        assert in_scope(program), "program outside the core oracle's scope"
        self.program = program
        self.zone = ZoneInfo(program.timezone)
        self.exponent = MINOR_UNITS[program.currency]
        self.scale = 10**self.exponent
        rules = list(program.rules)
        price = [
            r
            for r in rules
            if r.kind == "tiered_discount"
            or (r.kind == "every_nth_free" and not hasattr(r.reward, "voucher"))
        ]
        earning = [r for r in rules if r not in price]
        # sorted() is stable: ties keep file order.
        self.price_rules = sorted(price, key=lambda r: r.priority)
        self.earning_rules = sorted(earning, key=lambda r: r.priority)

    # --- helpers ---

    def minor(self, amount: Decimal) -> int:
        value = amount * self.scale
        assert value == value.to_integral_value()
        return int(value)

    def money(self, minor: int) -> Decimal:
        return Decimal(minor).scaleb(-self.exponent)

    def local_date(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    # --- filters ---

    def line_matches(self, when: Any, line: LineState) -> bool:
        if when.categories is not None or when.skus is not None:
            in_category = when.categories is not None and line.category in when.categories
            in_skus = when.skus is not None and line.sku in when.skus
            if not (in_category or in_skus):
                return False
        if when.exclude_categories is not None and line.category in when.exclude_categories:
            return False
        return not (when.exclude_skus is not None and line.sku in when.exclude_skus)

    def purchase_passes(
        self,
        rule_or_none: Any,
        when: Any,
        purchase: Purchase,
        lines: list[LineState],
        local: date,
        tier: str | None,
    ) -> bool:
        if rule_or_none is not None:
            if rule_or_none.starts is not None and local < rule_or_none.starts:
                return False
            if rule_or_none.ends is not None and local > rule_or_none.ends:
                return False
        if when.min_total is not None:
            if when.min_total_of == "eligible":
                total = sum(ln.gross for ln in lines if self.line_matches(when, ln))
            else:
                total = sum(ln.gross for ln in lines)
            if total < self.minor(when.min_total):
                return False
        if when.stores is not None and (
            purchase.store is None or purchase.store not in when.stores
        ):
            return False
        if when.weekdays is not None and WEEKDAY_NAMES[local.weekday()] not in when.weekdays:
            return False
        if when.dates is not None and local not in when.dates:
            return False
        return not (when.tiers is not None and (tier is None or tier not in when.tiers))

    def eligible(
        self, rule: Any, purchase: Purchase, lines: list[LineState], local: date, tier: str | None
    ) -> list[bool]:
        if not self.purchase_passes(rule, rule.when, purchase, lines, local, tier):
            return [False] * len(lines)
        return [self.line_matches(rule.when, ln) for ln in lines]

    # --- tiers ---

    def in_window(self, record: PurchaseRecord, at: datetime, local: date) -> bool:
        window = self.program.tiers.window
        if window == "lifetime":
            return True
        if window == "calendar_year":
            return record.local.year == local.year
        if window == "calendar_quarter":
            return (record.local.year, (record.local.month - 1) // 3) == (
                local.year,
                (local.month - 1) // 3,
            )
        if window == "calendar_month":
            return (record.local.year, record.local.month) == (local.year, local.month)
        # N x 24 hours of elapsed time, start included (not N local calendar days).
        return record.at.astimezone(UTC) >= at.astimezone(UTC) - timedelta(days=window.days)

    def tier_at(self, customer: Customer, at: datetime, closed: bool = True) -> str | None:
        """The tier from the customer's purchases so far (all evaluated before now).

        ``closed=False``: ``at`` is the end of an as_of date, a midnight not itself in it.
        """
        tiers = self.program.tiers
        if tiers is None:
            return None
        local = self.local_date(at if closed else at - timedelta(microseconds=1))
        records = [r for r in customer.order if self.in_window(r, at, local)]
        if tiers.qualify_by == "spend":
            amount: Decimal = self.money(sum(r.paid - r.refunded() for r in records))
        else:
            amount = Decimal(sum(1 for r in records if not r.fully_refunded()))
        level = None
        for candidate in tiers.levels:
            if amount >= candidate.at_least:
                level = candidate.name
        return level

    def tier_multiplier(self, tier: str | None) -> Fraction:
        if tier is None or self.program.tiers is None:
            return Fraction(1)
        for level in self.program.tiers.levels:
            if level.name == tier:
                return Fraction(level.points_multiplier)
        raise AssertionError(tier)

    # --- the fold ---

    def run(
        self, events: list[Purchase | Refund], as_of: date | datetime | None = None
    ) -> dict[str, Result]:
        """Each customer's result; ``as_of`` a local date (its whole day) or an instant."""
        bound: datetime | None = None
        if isinstance(as_of, datetime):
            bound = as_of
        elif as_of is not None:
            # the whole local day: events before the next local midnight
            bound = datetime.combine(as_of + timedelta(days=1), datetime.min.time(), self.zone)
        ordered = sorted(events, key=lambda e: (e.at, e.id))
        if isinstance(as_of, datetime):
            ordered = [e for e in ordered if e.at <= as_of]
        elif bound is not None:
            ordered = [e for e in ordered if e.at < bound]
        customers: dict[str, Customer] = {}
        last_at: dict[str, datetime] = {}
        for event in ordered:
            customer = customers.setdefault(event.customer_id, Customer())
            last_at[event.customer_id] = event.at
            if isinstance(event, Purchase):
                self.purchase(customer, event)
            else:
                self.refund(customer, event)
        self.totals = self.count_totals(customers, ordered)
        results = {}
        for customer_id, customer in customers.items():
            stamps = {}
            for rule in self.program.rules:
                if rule.kind == "every_nth_free":
                    stamps[rule.id] = customer.stamps.get(rule.id, 0) % rule.every
            results[customer_id] = Result(
                ledger=customer.ledger,
                points=customer.points,
                # as of as_of, else just after the customer's last event
                tier=self.tier_at(
                    customer,
                    bound or last_at[customer_id],
                    closed=bound is None or isinstance(as_of, datetime),
                ),
                stamps=stamps,
            )
        return results

    def count_totals(
        self, customers: dict[str, Customer], ordered: list[Purchase | Refund]
    ) -> dict[str, Any]:
        """Program totals as the JSON contract shows them (docs/semantics.md, cost.md)."""
        entries = [e for c in customers.values() for e in c.ledger]
        purchases = [r for c in customers.values() for r in c.order]

        def value(kind: str) -> int:
            return sum(self.minor(e.value) for e in entries if e.kind == kind and e.value)

        def units(kind: str) -> int:
            return sum(e.units or 0 for e in entries if e.kind == kind)

        issued = sum(e.points for e in entries if e.points and e.points > 0)
        reversed_ = -sum(e.points for e in entries if e.points and e.points < 0)
        point_value = Fraction(self.program.points.value) if self.program.points else Fraction(0)
        net = issued - reversed_
        given = value("discount") + value("free") + value("voucher") + value("gift_card")
        cost = given + half_up(net * point_value * self.scale)
        show = self.money
        return {
            "customers": len(customers),
            "purchases": len(purchases),
            "refunds": sum(1 for e in ordered if isinstance(e, Refund)),
            "refunded_purchases": sum(
                1 for r in purchases if any(ln.refunded_units for ln in r.lines)
            ),
            "fully_refunded_purchases": sum(1 for r in purchases if r.fully_refunded()),
            "gross_spend": str(show(sum(ln.gross for r in purchases for ln in r.lines))),
            "points_issued": issued,
            "points_reversed": reversed_,
            "points_net": net,
            "discount_value": str(show(value("discount"))),
            "discount_units": units("discount"),
            "free_item_value": str(show(value("free"))),
            "free_units": units("free"),
            "vouchers": units("voucher"),
            "voucher_value": str(show(value("voucher"))),
            "gift_cards": units("gift_card"),
            "gift_card_value": str(show(value("gift_card"))),
            "estimated_cost": str(show(cost)),
        }

    def purchase(self, customer: Customer, purchase: Purchase) -> None:
        local = self.local_date(purchase.at)
        tier = self.tier_at(customer, purchase.at)
        lines = [
            LineState(
                sku=ln.sku,
                category=ln.category,
                quantity=ln.quantity,
                unit_price=self.minor(ln.unit_price),
                amount=ln.quantity * self.minor(ln.unit_price),
            )
            for ln in purchase.lines
        ]
        record = PurchaseRecord(purchase.id, purchase.at, local, lines, tier)
        entries: list[Entry] = []
        for rule in self.price_rules:
            ok = self.eligible(rule, purchase, lines, local, tier)
            if rule.kind == "tiered_discount":
                entries += self.tiered_discount(rule, purchase.id, lines, ok, tier)
            else:
                entries += self.punch_card(customer, rule, purchase.id, record, ok)
        for rule in self.earning_rules:
            ok = self.eligible(rule, purchase, lines, local, tier)
            if rule.kind == "points_per_spend":
                entries += self.points_per_spend(rule, purchase, record, ok, local, tier)
            elif rule.kind == "every_nth_free":
                entries += self.punch_card(customer, rule, purchase.id, record, ok)
            else:
                entries += self.gift_card(customer, rule, purchase.id, record, ok)
        customer.purchases[purchase.id] = record
        customer.order.append(record)
        for entry in entries:
            if entry.points:
                customer.points += entry.points
        customer.ledger += entries

    # --- kinds ---

    def tiered_discount(
        self, rule: Any, event_id: str, lines: list[LineState], ok: list[bool], tier: str | None
    ) -> list[Entry]:
        if tier is None or tier not in rule.discounts:
            return []
        percent = Fraction(rule.discounts[tier])
        value = units = 0
        for line, eligible in zip(lines, ok, strict=True):
            if not eligible:
                continue
            off = half_up(line.amount * percent / 100)
            if off:
                line.amount -= off
                value += off
                units += line.quantity - line.free_units
        if not value:
            return []
        return [Entry(event_id, rule.id, "discount", None, self.money(value), units)]

    def qualifying(self, lines: list[LineState], ok: list[bool]) -> list[bool]:
        return [e and ln.unit_price > 0 for ln, e in zip(lines, ok, strict=True)]

    def punch_card(
        self, customer: Customer, rule: Any, event_id: str, record: PurchaseRecord, ok: list[bool]
    ) -> list[Entry]:
        lines = record.lines
        qualifying = self.qualifying(lines, ok)
        record.punch_lines[rule.id] = qualifying
        if rule.counts == "items":
            units = sum(ln.quantity for ln, q in zip(lines, qualifying, strict=True) if q)
        else:
            units = 1 if any(qualifying) else 0
        before = customer.stamps.get(rule.id, 0)
        after = before + units
        customer.stamps[rule.id] = after
        k = after // rule.every - before // rule.every
        if not k:
            return []
        reward = rule.reward
        if hasattr(reward, "voucher"):
            spec = reward.voucher
            return [
                Entry(event_id, rule.id, "voucher", None, self.money(k * self.minor(spec.value)), k)
            ]
        # The k cheapest qualifying units not yet made free, priced by what is left.
        candidates = [
            (Fraction(ln.amount, ln.quantity - ln.free_units), i)
            for i, (ln, q) in enumerate(zip(lines, qualifying, strict=True))
            if q and ln.quantity - ln.free_units > 0
        ]
        candidates.sort()
        chosen: dict[int, int] = {}
        left = k
        for _, i in candidates:
            if not left:
                break
            take = min(left, lines[i].quantity - lines[i].free_units)
            chosen[i] = take
            left -= take
        value = units_done = 0
        for i in sorted(chosen):
            line, j = lines[i], chosen[i]
            remaining = line.quantity - line.free_units
            if reward == "free":
                # The whole amount for the last unit, else amount x j / u half up.
                share = (
                    line.amount if j == remaining else half_up(Fraction(line.amount * j, remaining))
                )
                line.amount -= share
                line.free_units += j
                value += share
            else:
                # One rounding per line (issue 2: "computed and rounded per line").
                exact = Fraction(line.amount * j, remaining)
                off = half_up(exact * Fraction(reward.percent_off) / 100)
                line.amount -= off
                value += off
            units_done += j
        if not units_done:
            return []
        kind = "free" if reward == "free" else "discount"
        return [Entry(event_id, rule.id, kind, None, self.money(value), units_done)]

    def points_value(
        self, rule: Any, amounts: list[int], factors: list[Fraction | None], tier: str | None
    ) -> int:
        weighted = sum(
            (Fraction(a) * f for a, f in zip(amounts, factors, strict=True) if f is not None),
            Fraction(0),
        )
        exact = (
            weighted
            / self.scale
            * Fraction(rule.points)
            / Fraction(rule.per)
            * self.tier_multiplier(tier)
        )
        points = ROUNDINGS[rule.rounding](exact)
        if rule.max_per_purchase is not None:
            points = min(points, rule.max_per_purchase)
        return points

    def points_per_spend(
        self,
        rule: Any,
        purchase: Purchase,
        record: PurchaseRecord,
        ok: list[bool],
        local: date,
        tier: str | None,
    ) -> list[Entry]:
        factors: list[Fraction | None] = []
        for line, eligible in zip(record.lines, ok, strict=True):
            if not eligible:
                factors.append(None)
                continue
            factor = Fraction(1)
            matched = [
                Fraction(m.factor)
                for m in rule.multipliers
                if self.purchase_passes(None, m.when, purchase, record.lines, local, tier)
                and self.line_matches(m.when, line)
            ]
            if matched:
                factor = max(matched)
            factors.append(factor)
        record.points_factors[rule.id] = factors
        points = self.points_value(rule, [ln.amount for ln in record.lines], factors, tier)
        record.points_given[rule.id] = points
        if not points:
            return []
        return [Entry(purchase.id, rule.id, "points", points, None, None)]

    def gift_window(self, rule: Any, local: date) -> Any:
        if rule.window == "lifetime":
            return "lifetime"
        if rule.window == "calendar_year":
            return (local.year,)
        if rule.window == "calendar_quarter":
            return (local.year, (local.month - 1) // 3)
        return (local.year, local.month)

    def gift_card(
        self, customer: Customer, rule: Any, event_id: str, record: PurchaseRecord, ok: list[bool]
    ) -> list[Entry]:
        record.gift_lines[rule.id] = ok
        spend = sum(ln.amount for ln, e in zip(record.lines, ok, strict=True) if e)
        key = self.gift_window(rule, record.local)
        window = customer.gift_windows.setdefault(rule.id, {}).setdefault(key, [0, 0])
        window[0] += spend
        window[1] = max(window[1], window[0])
        cards = window[1] // self.minor(rule.every_spend)
        if rule.max_per_window is not None:
            cards = min(cards, rule.max_per_window)
        given = customer.gift_cards.setdefault(rule.id, {}).get(key, 0)
        new = cards - given
        if new <= 0:
            return []
        customer.gift_cards[rule.id][key] = cards
        value = self.money(new * self.minor(rule.value))
        return [Entry(event_id, rule.id, "gift_card", None, value, new)]

    # --- refunds ---

    def refund(self, customer: Customer, refund: Refund) -> None:
        record = customer.purchases[refund.purchase_id]
        lines = record.lines
        # units refunded per line now
        now = [0] * len(lines)
        if refund.lines is None:
            for i, line in enumerate(lines):
                now[i] = line.quantity - line.refunded_units
        else:
            for back in refund.lines:
                wanted = back.quantity
                for i, line in enumerate(lines):
                    if line.sku != back.sku or not wanted:
                        continue
                    take = min(wanted, line.quantity - line.refunded_units - now[i])
                    now[i] += take
                    wanted -= take
                assert wanted == 0, "refund of more units than are left"
        before_units = [ln.refunded_units for ln in lines]
        amounts_back = [0] * len(lines)
        for i, line in enumerate(lines):
            j = now[i]
            if not j:
                continue
            if line.refunded_units + j == line.quantity:
                back_amount = line.amount - line.refunded_amount
            else:
                # Never more than the line has left: per-unit shares rounded up can add up
                # to more than was paid (10 units paid 0.15: 0.02 each); docs/semantics.md.
                back_amount = min(
                    j * half_up(Fraction(line.amount, line.quantity)),
                    line.amount - line.refunded_amount,
                )
            amounts_back[i] = back_amount
            line.refunded_units += j
            line.refunded_amount += back_amount
        entries: list[Entry] = []
        for rule in self.price_rules + self.earning_rules:
            if rule.kind == "points_per_spend" and rule.id in record.points_factors:
                left = [ln.amount - ln.refunded_amount for ln in lines]
                points = self.points_value(rule, left, record.points_factors[rule.id], record.tier)
                taken = record.points_given[rule.id] - points
                if taken:
                    record.points_given[rule.id] = points
                    entries.append(Entry(refund.id, rule.id, "points", -taken, None, None))
                    customer.points -= taken
            elif rule.kind == "every_nth_free" and rule.id in record.punch_lines:
                qualifying = record.punch_lines[rule.id]
                if rule.counts == "items":
                    gone = sum(n for n, q in zip(now, qualifying, strict=True) if q)
                else:
                    was_visit = any(
                        q and before_units[i] < lines[i].quantity for i, q in enumerate(qualifying)
                    )
                    still = any(
                        q and lines[i].refunded_units < lines[i].quantity
                        for i, q in enumerate(qualifying)
                    )
                    gone = 1 if was_visit and not still else 0
                count = customer.stamps.get(rule.id, 0)
                floor_count = count // rule.every * rule.every
                customer.stamps[rule.id] = max(count - gone, floor_count)
            elif rule.kind == "partner_gift_card" and rule.id in record.gift_lines:
                counted = record.gift_lines[rule.id]
                drop = sum(a for a, c in zip(amounts_back, counted, strict=True) if c)
                key = self.gift_window(rule, record.local)
                customer.gift_windows[rule.id][key][0] -= drop
        customer.ledger += entries
