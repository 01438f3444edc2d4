"""An independent oracle for what a program costs and what a change would do (issue 14).

Written from the issue text (issue 14, "What a program costs and what a change would do:
``rewardrules report``, ``rewardrules compare``, and an HTML report with charts"; issue 12's
``dry-run --summary``: "totals per rule, per tier and per month") and from docs/cost.md and
docs/json-output.md, NOT from ``rewardrules.tools`` (report, compare, summary) nor the CLI:
it is a second implementation of the report's figures to compare with theirs.

Its input is what the report builds on: the program, the history, and the evaluation's JSON
contract (``Evaluation.to_dict()``: every customer's ledger entries, points, pending points,
tier and tier changes), which other oracles check. From those alone it computes the
report's own figures: cost per rule and per month, value given, the points (issued,
reversed, redeemed, expired, written off, pending, outstanding), liability, breakage, the
redemption rate, per-tier members, spend and cost, the tier mix, the customers' costs with
their nearest-rank quantiles and top 10, and ``compare``'s differences; and the summary's
groups per rule, tier and month.

Money is exact: integer minor units; points are valued at ``points.value`` and rounded half
up to the minor unit once, where the figure is shown.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from rewardrules.events import Purchase
from rewardrules.program.model import Program

MINOR_UNITS = {"USD": 2, "EUR": 2, "GBP": 2, "CAD": 2, "AUD": 2, "JPY": 0, "KWD": 3}
QUANTILES = ("0", "0.25", "0.5", "0.75", "0.9", "0.99", "1")
TOP = 10
GIVING_KINDS = ("discount", "free", "voucher", "gift_card")


# --- money ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Money:
    currency: str
    point_value: Decimal

    @property
    def places(self) -> int:
        return MINOR_UNITS[self.currency]

    def minor(self, amount: str | Decimal | None) -> int:
        """A money string of the JSON contract, in minor units."""
        if amount is None:
            return 0
        return int(Decimal(amount).scaleb(self.places))

    def worth(self, points: int) -> int:
        """Points valued at ``points.value``, half up (away from zero) to the minor unit."""
        exact = (Decimal(points) * self.point_value).scaleb(self.places)
        return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def show(self, minor: int) -> str:
        """Minor units as the contract's money string."""
        return f"{Decimal(minor).scaleb(-self.places):.{self.places}f}"


def money_of(program: Program) -> Money:
    value = program.points.value if program.points is not None else None
    return Money(program.currency, Decimal(value) if value is not None else Decimal(0))


def ratio(part: int, whole: int) -> str | None:
    """A share or a rate, to 4 decimals half up; none over nothing (or a negative whole)."""
    if whole <= 0:
        return None
    exact = Decimal(part) / Decimal(whole)
    return str(exact.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


# --- sums over ledger entries ---------------------------------------------------------------


@dataclass
class Sums:
    """The figures of a group of ledger entries (docs/json-output.md's totals)."""

    entries: int = 0
    rewards: int = 0
    units: int = 0
    value_given: int = 0
    points_issued: int = 0
    points_reversed: int = 0
    points_redeemed: int = 0
    redemption_value: int = 0
    points_expired: int = 0
    points_written_off: int = 0
    discount_value: int = 0
    discount_units: int = 0
    free_item_value: int = 0
    free_units: int = 0
    vouchers: int = 0
    gift_cards: int = 0
    redemptions: int = 0
    rejected_redemptions: int = 0
    rewards_capped: int = 0
    rewards_set_aside: int = 0
    referrals: int = 0
    voucher_value: int = 0
    gift_card_value: int = 0

    @property
    def points_net(self) -> int:
        return self.points_issued - self.points_reversed

    @property
    def balance(self) -> int:
        """The change these entries make to the points customers hold."""
        return (
            self.points_net - self.points_redeemed - self.points_expired + self.points_written_off
        )

    def add(self, entry: dict[str, Any], money: Money) -> None:
        kind, points = entry["kind"], entry["points"] or 0
        value, units = money.minor(entry["value"]), entry["units"] or 0
        self.entries += 1
        if kind == "opening":  # a migrated lot: points held, not a reward given
            self.points_issued += points
        elif kind == "points":
            if points > 0:
                self.points_issued += points
                self.rewards += 1
            else:
                self.points_reversed -= points
        elif kind in GIVING_KINDS:
            self.rewards += 1
            self.units += units
            self.value_given += value
            name = {
                "discount": "discount_value",
                "free": "free_item_value",
                "voucher": "voucher_value",
                "gift_card": "gift_card_value",
            }[kind]
            setattr(self, name, getattr(self, name) + value)
            counted = {
                "discount": "discount_units",
                "free": "free_units",
                "voucher": "vouchers",
                "gift_card": "gift_cards",
            }[kind]
            setattr(self, counted, getattr(self, counted) + units)
        elif kind == "redemption":
            # Applied less cancelled: a cancellation's entry has negative units.
            self.redemptions += 1 if units > 0 else -1
            self.points_redeemed -= points
            self.redemption_value += value
            self.value_given += value
            if points < 0:
                self.rewards += 1
        elif kind == "expiry":
            self.points_expired -= points
        elif kind == "written_off":
            self.points_written_off += points
        elif kind == "rejected":
            self.rejected_redemptions += 1
        elif kind == "capped":
            self.rewards_capped += 1
        elif kind == "set_aside":
            self.rewards_set_aside += 1
        elif kind == "referral":
            # A friend's qualifying purchase; units -1: a refund reversed it within its hold.
            self.referrals += -1 if units == -1 else 1


# --- the report -----------------------------------------------------------------------------


def _local_month(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).strftime("%Y-%m")


@dataclass
class History:
    """What the report needs of the history: each event's local month, the purchases."""

    program: Program
    events: list[Any]
    as_of: date | datetime | None = None
    openings: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.zone = ZoneInfo(self.program.timezone)
        self.month_of: dict[str, str] = {}
        for event in self.events:
            self.month_of.setdefault(event.id, _local_month(event.at, self.zone))

    def cutoff(self) -> datetime | None:
        """The last instant the evaluation covers."""
        if self.as_of is None:
            return None
        if isinstance(self.as_of, datetime):
            return self.as_of
        midnight = datetime.combine(self.as_of + timedelta(days=1), time(), self.zone)
        return midnight - timedelta(microseconds=1)

    def evaluated(self, instant: datetime) -> bool:
        cutoff = self.cutoff()
        return cutoff is None or instant <= cutoff

    def entry_month(self, entry: dict[str, Any], customer: str) -> str | None:
        event_id: str = entry["event_id"]
        if event_id in self.month_of:
            return self.month_of[event_id]
        if (customer, event_id) in self.openings:
            return _local_month(self.openings[(customer, event_id)], self.zone)
        if "@" in event_id:
            return event_id.rsplit("@", 1)[1][:7]
        return None

    def spend(self, customer: str, money: Money) -> int:
        total = 0
        for event in self.events:
            if (
                isinstance(event, Purchase)
                and event.customer_id == customer
                and self.evaluated(event.at)
            ):
                total += sum(
                    money.minor(Decimal(line.quantity) * Decimal(line.unit_price))
                    for line in event.lines
                )
        return total


def rule_rows(program: Program, evaluation: dict[str, Any], money: Money) -> list[dict[str, Any]]:
    """Per rule: every program rule in order, then catalogue rewards, then points settings."""
    groups: dict[tuple[str, str], Sums] = defaultdict(Sums)
    for customer in evaluation["customers"]:
        for entry in customer["ledger"]:
            kind = entry["kind"]
            source = (
                "catalogue"
                if kind in ("redemption", "rejected")
                else "points"
                if kind in ("expiry", "written_off", "opening")
                else "rule"
            )
            groups[(source, entry["rule"])].add(entry, money)
    keys = [("rule", rule.id) for rule in program.rules]
    for source in ("catalogue", "points"):
        keys += sorted(key for key in groups if key[0] == source)
    rows = []
    for source, rule in keys:
        sums = groups[(source, rule)]
        if source != "rule" and sums.entries == 0:
            continue
        rows.append(
            {
                "rule": rule,
                "source": source,
                "sums": sums,
                "rewards": sums.rewards,
                "units": sums.units,
                "value": money.show(sums.value_given),
                "points_issued": sums.points_issued,
                "points_net": sums.points_net,
                "cost": sums.value_given + money.worth(sums.points_net),
            }
        )
    whole = sum(row["cost"] for row in rows if row["source"] == "rule")
    for row in rows:
        row["share"] = ratio(row["cost"], whole) if row["source"] == "rule" else None
    return rows


def customer_costs(evaluation: dict[str, Any], money: Money) -> list[dict[str, Any]]:
    """Each customer's value given, points, tier and cost (value given + points valued)."""
    found = []
    for customer in evaluation["customers"]:
        sums = Sums()
        for entry in customer["ledger"]:
            sums.add(entry, money)
        found.append(
            {
                "customer_id": customer["customer_id"],
                "value_given": sums.value_given,
                "points": customer["points"],
                "pending": customer["pending_points"],
                "tier": customer["tier"],
                "earned": sums.rewards > 0,
                "cost": sums.value_given + money.worth(customer["points"]),
            }
        )
    return found


def nearest_rank(values: list[int]) -> dict[str, int]:
    """The quantiles of docs/cost.md: rank ceil(q x n) of the sorted values, 1 for q = 0."""
    ordered = sorted(values)
    if not ordered:
        return {}
    found = {}
    for name in QUANTILES:
        q = Decimal(name)
        rank = max(1, int((q * len(ordered)).to_integral_value(rounding="ROUND_CEILING")))
        found[name] = ordered[rank - 1]
    return found


def month_rows(history: History, evaluation: dict[str, Any], money: Money) -> list[dict[str, Any]]:
    """Per month, oldest first: figures, running balance, liability and the month's cost."""
    groups: dict[str, Sums] = defaultdict(Sums)
    by_rule: dict[str, dict[str, Sums]] = defaultdict(lambda: defaultdict(Sums))
    rule_ids = {rule.id for rule in history.program.rules}
    for customer in evaluation["customers"]:
        for entry in customer["ledger"]:
            month = history.entry_month(entry, customer["customer_id"])
            assert month is not None, entry
            groups[month].add(entry, money)
            if entry["rule"] in rule_ids and entry["kind"] not in (
                "redemption",
                "rejected",
                "expiry",
                "written_off",
            ):
                by_rule[month][entry["rule"]].add(entry, money)
    rows, balance, liability = [], 0, 0
    for month in sorted(groups):
        sums = groups[month]
        balance += sums.balance
        now = money.worth(balance)
        rows.append(
            {
                "month": month,
                "rewards": sums.rewards,
                "units": sums.units,
                "value_given": money.show(sums.value_given),
                "points_issued": sums.points_issued,
                "points_reversed": sums.points_reversed,
                "points_redeemed": sums.points_redeemed,
                "redemption_value": money.show(sums.redemption_value),
                "points_expired": sums.points_expired,
                "breakage": money.show(money.worth(sums.points_expired)),
                "points_written_off": sums.points_written_off,
                "points_outstanding": balance,
                "liability": money.show(now),
                "cost": money.show(sums.value_given + now - liability),
                "rule_costs": {
                    rule: rule_sums.value_given + money.worth(rule_sums.points_net)
                    for rule, rule_sums in by_rule[month].items()
                },
            }
        )
        liability = now
    return rows


def tier_rows(
    program: Program, history: History, people: list[dict[str, Any]], money: Money
) -> list[dict[str, Any]]:
    """Customers by their tier at ``as_of``: below every level first, then each level."""
    if program.tiers is None:
        return []
    names: list[str | None] = [None, *(level.name for level in program.tiers.levels)]
    rows = []
    for name in names:
        members = [person for person in people if person["tier"] == name]
        rows.append(
            {
                "tier": name,
                "members": len(members),
                "spend": money.show(
                    sum(history.spend(person["customer_id"], money) for person in members)
                ),
                "cost": money.show(sum(person["cost"] for person in members)),
            }
        )
    return rows


def tier_mix(
    program: Program, history: History, evaluation: dict[str, Any], months: list[str]
) -> list[dict[str, Any]]:
    """At the end of each month, each customer whose first event is in or before it, by the
    tier of their last tier change up to then.

    The months: the report's months and each customer's first month (docs/cost.md).
    """
    if program.tiers is None:
        return []
    names: list[str | None] = [None, *(level.name for level in program.tiers.levels)]
    first: dict[str, str] = {}
    for event in history.events:
        if history.evaluated(event.at):
            month = _local_month(event.at, history.zone)
            first[event.customer_id] = min(first.get(event.customer_id, month), month)
    rows = []
    for month in sorted({*months, *first.values()}):
        counts = dict.fromkeys(names, 0)
        for customer in evaluation["customers"]:
            start = first.get(customer["customer_id"])
            if start is None or start > month:
                continue
            tier = None
            for change in customer["tier_changes"]:
                if _local_month(datetime.fromisoformat(change["at"]), history.zone) <= month:
                    tier = change["to"]
            counts[tier] += 1
        rows.append({"month": month, "members": [[name, counts[name]] for name in names]})
    return rows


def report_instant(history: History) -> datetime:
    """``as_of`` (a date: the local midnight after it), or the history's last event."""
    if isinstance(history.as_of, datetime):
        return history.as_of
    if isinstance(history.as_of, date):
        return datetime.combine(history.as_of + timedelta(days=1), time(), history.zone)
    return max(event.at for event in history.events)


def expiry_months(
    program: Program, history: History, evaluation: dict[str, Any], money: Money
) -> tuple[list[dict[str, Any]], bool]:
    """Points due to expire in the month of the report's instant and the two after, in
    total and per customer, read from each customer's ``upcoming_expiry`` (per local date).

    Also whether the figures are certain: an expiry dated on the report instant's own local
    date may fall before or after that instant, which a date does not tell.
    """
    settings = program.points
    if settings is None or (
        settings.expire_after is None and settings.expire_on_inactivity is None
    ):
        return [], True
    instant = report_instant(history).astimezone(history.zone)
    year, month = instant.year, instant.month
    months = []
    for _ in range(3):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    due: dict[str, dict[str, int]] = {name: {} for name in months}
    certain = True
    for customer in evaluation["customers"]:
        for expiry in customer["upcoming_expiry"]:
            day = date.fromisoformat(expiry["date"])
            if day == instant.date():
                certain = False
            if day <= instant.date() or expiry["date"][:7] not in due:
                continue
            found = due[expiry["date"][:7]]
            who = customer["customer_id"]
            found[who] = found.get(who, 0) + expiry["points"]
    rows = []
    for name in months:
        points = sum(due[name].values())
        rows.append(
            {
                "month": name,
                "points": points,
                "value": money.show(money.worth(points)),
                "customers": {who: due[name][who] for who in sorted(due[name]) if due[name][who]},
            }
        )
    return rows, certain


def report(
    program: Program,
    events: list[Any],
    evaluation: dict[str, Any],
    as_of: date | datetime | None = None,
    openings: dict[tuple[str, str], datetime] | None = None,
) -> dict[str, Any]:
    """The report's figures, in the shape of ``Report.to_dict()`` where the docs name it."""
    money = money_of(program)
    history = History(program, events, as_of, openings or {})
    total = Sums()
    for customer in evaluation["customers"]:
        for entry in customer["ledger"]:
            total.add(entry, money)
    people = customer_costs(evaluation, money)
    outstanding = sum(person["points"] for person in people)
    assert (
        outstanding == total.balance
    )  # docs: issued - reversed - redeemed - expired + written off
    liability = money.worth(outstanding)
    rules = rule_rows(program, evaluation, money)
    costs = [person["cost"] for person in people]
    months = month_rows(history, evaluation, money)
    expiry, certain = expiry_months(program, history, evaluation, money)
    for month in months:  # its share of the program's cost: the months add up to it
        month["share"] = ratio(money.minor(month["cost"]), total.value_given + liability)
    ranked = sorted(people, key=lambda person: (-person["cost"], person["customer_id"]))
    return {
        "program": program.program,
        "currency": program.currency,
        "cost": money.show(total.value_given + liability),
        "value_given": money.show(total.value_given),
        "liability": money.show(liability),
        "breakage": money.show(money.worth(total.points_expired)),
        "by_rule": [
            {key: value for key, value in row.items() if key != "sums"}
            | {"cost": money.show(row["cost"])}
            for row in rules
        ],
        "by_month": months,
        "tier_mix": tier_mix(program, history, evaluation, [month["month"] for month in months]),
        "points": {
            "issued": total.points_issued,
            "reversed": total.points_reversed,
            "redeemed": total.points_redeemed,
            "redemption_value": money.show(total.redemption_value),
            "expired": total.points_expired,
            "breakage": money.show(money.worth(total.points_expired)),
            "written_off": total.points_written_off,
            "pending": sum(person["pending"] for person in people),
            "outstanding": outstanding,
            "liability": money.show(liability),
            "redemption_rate": ratio(total.points_redeemed, total.points_net)
            if total.points_net > 0
            else None,
        },
        "by_tier": tier_rows(program, history, people, money),
        "customers": {
            "count": len(people),
            "earning": sum(1 for person in people if person["earned"]),
            "quantiles": {name: money.show(v) for name, v in nearest_rank(costs).items()},
            "top": [
                {"customer_id": person["customer_id"], "cost": money.show(person["cost"])}
                for person in ranked[:TOP]
            ],
        },
        "expiry": expiry,
        "expiring": {
            person["customer_id"]: [
                {"month": row["month"], "points": row["customers"].get(person["customer_id"], 0)}
                for row in expiry
            ]
            for person in people
        }
        if expiry
        else None,
        "_expiry_certain": certain,
        "_people": people,
        "_rules": rules,
    }


# --- compare --------------------------------------------------------------------------------


def compare(old: dict[str, Any], new: dict[str, Any], money: Money) -> dict[str, Any]:
    """What a change does, shaped as ``Comparison.to_dict()``: every figure is the new
    report's less the old one's, a row only one report has counting 0 in the other.

    ``old`` and ``new`` are this module's reports of the two programs over one history.
    """

    def row(
        key: str, was: Any, now: Any, status: str = "both", show: bool = True
    ) -> dict[str, Any]:
        shown = money.show if show else (lambda amount: amount)
        return {
            "key": key,
            "status": status,
            "old": shown(was),
            "new": shown(now),
            "change": shown(now - was),
        }

    def figures(found: dict[str, Any]) -> dict[str, tuple[int, bool]]:
        points = found["points"]
        return {
            "cost": (money.minor(found["cost"]), True),
            "value_given": (money.minor(found["value_given"]), True),
            "liability": (money.minor(found["liability"]), True),
            "breakage": (money.minor(found["breakage"]), True),
            "points_issued": (points["issued"], False),
            "points_redeemed": (points["redeemed"], False),
            "points_expired": (points["expired"], False),
            "points_outstanding": (points["outstanding"], False),
            "customers_earning": (found["customers"]["earning"], False),
        }

    was_figures, now_figures = figures(old), figures(new)
    program = [
        row(key, was_figures[key][0], now_figures[key][0], show=was_figures[key][1])
        for key in was_figures
    ]

    def keyed(found: dict[str, Any]) -> dict[str, tuple[int, int]]:
        return {
            (rule["rule"] if rule["source"] == "rule" else f"{rule['source']}:{rule['rule']}"): (
                rule["cost"],
                rule["rewards"],
            )
            for rule in found["_rules"]
        }

    before, after = keyed(old), keyed(new)
    by_rule, rewards = [], []
    # Rows in NEW's order, then the rules only OLD has (docs/cost.md).
    for key in [*after, *(key for key in before if key not in after)]:
        status = (
            "both" if key in before and key in after else "added" if key in after else "removed"
        )
        was, now = before.get(key, (0, 0)), after.get(key, (0, 0))
        by_rule.append(row(key, was[0], now[0], status))
        rewards.append(row(key, was[1], now[1], status, show=False))
    months_before = {month["month"]: money.minor(month["cost"]) for month in old["by_month"]}
    months_after = {month["month"]: money.minor(month["cost"]) for month in new["by_month"]}
    by_month = [
        row(
            month,
            months_before.get(month, 0),
            months_after.get(month, 0),
            "both"
            if month in months_before and month in months_after
            else "added"
            if month in months_after
            else "removed",
        )
        for month in sorted(months_before.keys() | months_after.keys())
    ]
    people_before = {person["customer_id"]: person for person in old["_people"]}
    people_after = {person["customer_id"]: person for person in new["_people"]}
    changes = {}
    for who in sorted(people_before.keys() | people_after.keys()):
        was = people_before[who]["cost"] if who in people_before else 0
        now = people_after[who]["cost"] if who in people_after else 0
        status = (
            "both"
            if who in people_before and who in people_after
            else "added"
            if who in people_after
            else "removed"
        )
        changes[who] = row(who, was, now, status)
    delta = {
        who: now - was
        for who, (was, now) in (
            (
                who,
                (
                    people_before[who]["cost"] if who in people_before else 0,
                    people_after[who]["cost"] if who in people_after else 0,
                ),
            )
            for who in changes
        )
    }
    gaining = sorted((who for who in changes if delta[who] > 0), key=lambda who: (-delta[who], who))
    losing = sorted((who for who in changes if delta[who] < 0), key=lambda who: (delta[who], who))
    matrix: dict[tuple[str | None, str | None], int] = defaultdict(int)
    for who in changes:
        was_tier = people_before[who]["tier"] if who in people_before else None
        now_tier = people_after[who]["tier"] if who in people_after else None
        matrix[(was_tier, now_tier)] += 1
    rule_rewards = {found["key"]: found for found in rewards}
    return {
        "program": program,
        "by_rule": by_rule,
        "rewards": rewards,
        "appearing": [
            key for key, found in rule_rewards.items() if found["old"] == 0 < found["new"]
        ],
        "disappearing": [
            key for key, found in rule_rewards.items() if found["new"] == 0 < found["old"]
        ],
        "by_month": by_month,
        "customers": {
            "gaining": len(gaining),
            "losing": len(losing),
            "unchanged": sum(1 for change in delta.values() if change == 0),
            "quantiles": {
                name: money.show(value)
                for name, value in nearest_rank(list(delta.values())).items()
            },
            "top_gaining": [changes[who] for who in gaining[:TOP]],
            "top_losing": [changes[who] for who in losing[:TOP]],
        },
        "tiers": dict(matrix),
    }


# --- dry-run --summary ----------------------------------------------------------------------


def summary_groups(
    program: Program, history: History, evaluation: dict[str, Any], money: Money
) -> dict[str, list[dict[str, Any]]]:
    """``dry-run --summary``'s groups per rule, tier and month, a few figures each."""

    def figures(sums: Sums) -> dict[str, Any]:
        return {
            "entries": sums.entries,
            "points_issued": sums.points_issued,
            "points_reversed": sums.points_reversed,
            "points_net": sums.points_net,
            "points_cost": money.show(money.worth(sums.points_net)),
            "discount_value": money.show(sums.discount_value),
            "discount_units": sums.discount_units,
            "free_item_value": money.show(sums.free_item_value),
            "free_units": sums.free_units,
            "vouchers": sums.vouchers,
            "voucher_value": money.show(sums.voucher_value),
            "gift_cards": sums.gift_cards,
            "gift_card_value": money.show(sums.gift_card_value),
            "redemptions": sums.redemptions,
            "rejected_redemptions": sums.rejected_redemptions,
            "rewards_capped": sums.rewards_capped,
            "rewards_set_aside": sums.rewards_set_aside,
            "referrals": sums.referrals,
            "points_outstanding": sums.balance,
            "liability": money.show(money.worth(sums.balance)),
            "breakage": money.show(money.worth(sums.points_expired)),
            "points_redeemed": sums.points_redeemed,
            "redemption_value": money.show(sums.redemption_value),
            "points_expired": sums.points_expired,
            "points_written_off": sums.points_written_off,
            "value_given": money.show(sums.value_given),
            "estimated_cost": money.show(sums.value_given + money.worth(sums.balance)),
        }

    rules = [
        {"rule": row["rule"], "source": row["source"], **figures(row["sums"])}
        for row in rule_rows(program, evaluation, money)
    ]
    tiers = []
    if program.tiers is not None:
        for name in [None, *(level.name for level in program.tiers.levels)]:
            sums, members = Sums(), 0
            for customer in evaluation["customers"]:
                if customer["tier"] == name:
                    members += 1
                    for entry in customer["ledger"]:
                        sums.add(entry, money)
            tiers.append({"tier": name, "customers": members, **figures(sums)})
    months: dict[str, Sums] = defaultdict(Sums)
    for customer in evaluation["customers"]:
        for entry in customer["ledger"]:
            month = history.entry_month(entry, customer["customer_id"])
            assert month is not None
            months[month].add(entry, money)
    total = Sums()
    for customer in evaluation["customers"]:
        for entry in customer["ledger"]:
            total.add(entry, money)
    return {
        "totals": {key: value for key, value in figures(total).items() if key != "entries"},
        "by_rule": rules,
        "by_tier": tiers,
        "by_month": [{"month": month, **figures(months[month])} for month in sorted(months)],
    }
