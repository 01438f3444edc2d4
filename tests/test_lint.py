"""``rewardrules lint``: each warning at its exact line and column, clean examples, exit codes.

The cases are data: one program (the lines after the four header lines, so the first row is
line 5) and the exact warnings it gets, as ``line:column: path: message (suggestion)``
with their codes. Every code of :data:`rewardrules.tools.lint.warnings.CHECKS` has at least one
case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from rewardrules.cli.lint import lint
from rewardrules.errors import RuleFileError
from rewardrules.events import Line, Purchase
from rewardrules.histories.read import read_history
from rewardrules.rulefiles.loader import load_program, load_program_with_map, loads_program
from rewardrules.tools.lint.warnings import CHECKS, SeenInHistory, lint_program

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "rules" / "examples").glob("*.yaml"))

HEADER = ("program: club", "name: Club", "currency: USD", "timezone: America/New_York")


def lines(*rows: str) -> str:
    """A program: the header (lines 1-4), then one row per line from line 5."""
    return "".join(f"{row}\n" for row in (*HEADER, *rows))


def purchase(*lines_: tuple[str, str | None]) -> Purchase:
    """A purchase of one unit of each (sku, category)."""
    return Purchase(
        id="p1",
        customer_id="c1",
        at=datetime(2026, 3, 2, 12, tzinfo=UTC),
        lines=tuple(
            Line(sku=sku, category=category, quantity=1, unit_price=Decimal("2.00"))
            for sku, category in lines_
        ),
    )


HISTORY = [purchase(("latte", "coffee"), ("croissant", "bakery"), ("mug", "merch"))]


ASKED_ONLY = "points-without-value"
"""Most cases give points without a value, being about something else: that warning is
checked where a case expects it, and left out of the others."""


def warnings_of(
    text: str, keep: frozenset[str] = frozenset(), **options: Any
) -> list[tuple[str, str]]:
    """``(code, "line:column: path: message (suggestion)")`` for each warning of a program."""
    program, source_map = load_program_with_map("<text>", text=text)
    return [
        (warning.code, str(warning).removeprefix("<text>:"))
        for warning in lint_program(program, source_map, **options)
        if warning.code != ASKED_ONLY or warning.code in keep
    ]


TIERS = (
    "tiers:",
    "  qualify_by: spend",
    "  window: lifetime",
    "  levels:",
    "    - {name: silver, at_least: 100}",
    "    - {name: gold, at_least: 500}",
    "rules:",
)
"""Lines 5-11: two tiers, then the rules from line 12."""


@dataclass(frozen=True)
class Case:
    name: str
    rows: tuple[str, ...]
    expected: list[tuple[str, str]]
    options: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case(
        "an option that changes nothing: min_total_of alone, final on the last rule",
        (
            "points: {name: stars, value: 0.01}",
            "rules:",
            "  - id: stars",
            "    kind: points_per_spend",
            "    points: 1",
            "    final: true",
            "    when: {min_total_of: eligible, categories: [coffee]}",
        ),
        [
            (
                "option-has-no-effect",
                "10:12: rules[0].final: no rule runs after this one at a purchase (price "
                "rules, then earning rules, each by priority, then file order), so final: true "
                "stops nothing (give the rules it should stop a higher priority number, or "
                "remove final)",
            ),
            (
                "option-has-no-effect",
                "11:26: rules[0].when.min_total_of: min_total_of says which lines min_total "
                "adds up, but there is no min_total here, so it changes nothing (add the "
                "minimum (min_total), or remove min_total_of)",
            ),
        ],
    ),
    Case(
        "final on a birthday gift given when its window opens",
        (
            "points: {name: stars, value: 0.01}",
            "rules:",
            "  - id: cake",
            "    kind: birthday",
            "    points: 50",
            "    final: true",
            "  - id: stars",
            "    kind: points_per_spend",
            "    points: 1",
            "    when: {exclude_categories: [delivery], min_total: 20, min_total_of: eligible}",
        ),
        [
            (
                "option-has-no-effect",
                "10:12: rules[0].final: this birthday gift is given when its window opens, not "
                "at a purchase, so final: true stops nothing (remove final, or tie the rule to "
                "a purchase with requires_purchase: true)",
            ),
        ],
    ),
    Case(
        "a higher tier with a smaller discount",
        (
            *TIERS,
            "  - id: member",
            "    kind: tiered_discount",
            "    discounts: {silver: 10, gold: 5}",
        ),
        [
            (
                "tiers-discount-falls",
                "14:35: rules[0].discounts.gold: 'gold' gets 5% off, less than the 10% of "
                "'silver' below it; discounts usually rise with the tier",
            )
        ],
    ),
    Case(
        "a tier between two discounted tiers gets nothing",
        (
            "tiers:",
            "  qualify_by: spend",
            "  window: lifetime",
            "  levels:",
            "    - {name: bronze, at_least: 0}",
            "    - {name: silver, at_least: 100}",
            "    - {name: gold, at_least: 500}",
            "rules:",
            "  - id: member",
            "    kind: tiered_discount",
            "    discounts: {bronze: 5, gold: 10}",
        ),
        [
            (
                "tiers-discount-falls",
                "15:5: rules[0].discounts: 'silver' gets no discount, but 'bronze' below it gets "
                "5%: a customer who moves up loses the discount (give 'silver' a discount too)",
            )
        ],
    ),
    Case(
        "a higher tier with a smaller points multiplier",
        (
            "tiers:",
            "  qualify_by: purchases",
            "  window: lifetime",
            "  levels:",
            "    - name: silver",
            "      at_least: 2",
            "      points_multiplier: 1.5",
            "    - name: gold",
            "      at_least: 4",
            "      points_multiplier: 1.25",
        ),
        [
            (
                "tiers-multiplier-falls",
                "14:26: tiers.levels[1].points_multiplier: 'gold' earns 1.25x points, less than "
                "the 1.5x of 'silver' below it; multipliers usually rise with the tier",
            )
        ],
    ),
    Case(
        "a higher tier that leaves out its multiplier is pointed at its level",
        (
            "points: {name: stars}",
            "tiers:",
            "  qualify_by: purchases",
            "  window: lifetime",
            "  levels:",
            "    - {name: silver, at_least: 2, points_multiplier: 2}",
            "    - name: gold",
            "      at_least: 4",
        ),
        [
            (
                "tiers-multiplier-falls",
                "11:7: tiers.levels[1].points_multiplier: 'gold' earns 1x stars, less than the "
                "2x of 'silver' below it; multipliers usually rise with the tier",
            )
        ],
    ),
    Case(
        "a tier discount of 100 percent",
        (*TIERS, "  - id: member", "    kind: tiered_discount", "    discounts: {gold: 100}"),
        [
            (
                "discount-100",
                "14:23: rules[0].discounts.gold: 'gold' gets 100% off: every line the rule "
                "covers is free for 'gold' customers",
            )
        ],
    ),
    Case(
        "a punch card with 100 percent off",
        (
            "rules:",
            "  - id: punch",
            "    kind: every_nth_free",
            "    every: 5",
            "    reward: {percent_off: 100}",
        ),
        [
            (
                "discount-100",
                "9:27: rules[0].reward.percent_off: 100% off gives the rewarded units away "
                "(if they are meant to be free, write `reward: free`)",
            )
        ],
    ),
    Case(
        "an order offer's amount with no minimum spend",
        ("rules:", "  - id: five-off", "    kind: order_discount", '    amount: "5.00"'),
        [
            (
                "discount-over-minimum",
                "8:13: rules[0].amount: 5.00 USD off with no minimum spend: a purchase whose "
                "lines come to 5.00 USD or less is free (set when.min_total above 5.00)",
            )
        ],
    ),
    Case(
        "an order offer's amount above its minimum spend",
        (
            "rules:",
            "  - id: five-off",
            "    kind: order_discount",
            '    amount: "5.00"',
            '    when: {min_total: "4.00"}',
        ),
        [
            (
                "discount-over-minimum",
                "8:13: rules[0].amount: 5.00 USD off with a minimum spend of 4.00: a purchase "
                "whose lines come to 5.00 USD or less is free (set when.min_total above 5.00)",
            )
        ],
    ),
    Case(
        "an order offer of 100 percent",
        ("rules:", "  - {id: all-off, kind: order_discount, percent: 100}"),
        [
            (
                "discount-100",
                "6:50: rules[0].percent: 100% off: every line the rule covers is free",
            )
        ],
    ),
    Case(
        "dates all outside starts and ends",
        (
            "rules:",
            "  - id: spring",
            "    kind: points_per_spend",
            "    points: 1",
            "    starts: 2026-04-01",
            "    ends: 2026-04-30",
            "    when:",
            "      dates: [2026-03-14]",
        ),
        [
            (
                "rule-never-applies",
                "12:14: rules[0].when.dates: the rule can never apply: every date in `dates` is "
                "outside the rule's starts/ends (from 2026-04-01 to 2026-04-30)",
            )
        ],
    ),
    Case(
        "dates none of which is on the weekdays",
        (
            "rules:",
            "  - id: mondays",
            "    kind: points_per_spend",
            "    points: 1",
            "    when:",
            "      weekdays: [monday, Tuesday]",
            "      dates: [2026-03-14, 2026-03-21]",
        ),
        [
            (
                "rule-never-applies",
                "11:14: rules[0].when.dates: the rule can never apply: none of the dates in "
                "`dates` is a monday or tuesday",
            )
        ],
    ),
    Case(
        "dates each either outside the rule or on another weekday",
        (
            "rules:",
            "  - id: weekend",
            "    kind: points_per_spend",
            "    points: 1",
            "    starts: 2026-03-10",
            "    when:",
            "      weekdays: [sunday]",
            "      dates: [2026-03-01, 2026-03-14]",
        ),
        [
            (
                "rule-never-applies",
                "12:14: rules[0].when.dates: the rule can never apply: every date in `dates` is "
                "outside the rule's starts/ends (from 2026-03-10) or not a sunday",
            )
        ],
    ),
    Case(
        "a short run with none of the weekdays",
        (
            "rules:",
            "  - id: weekend",
            "    kind: points_per_spend",
            "    points: 1",
            "    starts: 2026-03-02",
            "    ends: 2026-03-03",
            "    when:",
            "      weekdays: [saturday, sunday]",
        ),
        [
            (
                "rule-never-applies",
                "12:17: rules[0].when.weekdays: the rule can never apply: it runs from "
                "2026-03-02 to 2026-03-03, and none of those days is a saturday or sunday",
            )
        ],
    ),
    Case(
        "an empty list of categories",
        (
            "rules:",
            "  - id: stars",
            "    kind: points_per_spend",
            "    points: 1",
            "    when: {categories: []}",
        ),
        [
            (
                "rule-never-applies",
                "9:24: rules[0].when.categories: the rule can never apply: `categories` is an "
                "empty list, which no line matches",
            )
        ],
    ),
    Case(
        "an empty list of stores",
        (
            "rules:",
            "  - id: stars",
            "    kind: points_per_spend",
            "    points: 1",
            "    when:",
            "      stores: []",
        ),
        [
            (
                "rule-never-applies",
                "10:15: rules[0].when.stores: the rule can never apply: `stores` is an empty "
                "list, which no purchase matches",
            )
        ],
    ),
    Case(
        "every category named is also excluded",
        (
            "rules:",
            "  - id: stars",
            "    kind: points_per_spend",
            "    points: 1",
            "    when:",
            "      categories: [coffee]",
            "      exclude_categories: [coffee, merch]",
        ),
        [
            (
                "rule-never-applies",
                "11:27: rules[0].when.exclude_categories: the rule can never apply: every "
                "category and sku it names is also excluded",
            )
        ],
    ),
    Case(
        "a tiered discount looking only at tiers it gives nothing",
        (
            *TIERS,
            "  - id: member",
            "    kind: tiered_discount",
            "    discounts: {gold: 10}",
            "    when: {tiers: [silver]}",
        ),
        [
            (
                "rule-never-applies",
                "15:19: rules[0].when.tiers: the rule can never apply: it looks only at silver "
                "customers, and its discounts are for gold",
            )
        ],
    ),
    Case(
        "one date outside the rule, one on another weekday, one fine",
        (
            "rules:",
            "  - id: spring",
            "    kind: points_per_spend",
            "    points: 1",
            "    starts: 2026-04-01",
            "    when:",
            "      weekdays: [saturday]",
            "      dates: [2026-03-14, 2026-04-04, 2026-04-05]",
        ),
        [
            (
                "date-never-applies",
                "12:15: rules[0].when.dates[0]: 2026-03-14 is outside the rule's starts/ends "
                "(from 2026-04-01); this date never applies",
            ),
            (
                "date-never-applies",
                "12:39: rules[0].when.dates[2]: 2026-04-05 is a sunday, not a saturday; this "
                "date never applies",
            ),
        ],
    ),
    Case(
        "a rule that ended before the as-of date",
        (
            "rules:",
            "  - id: winter",
            "    kind: points_per_spend",
            "    points: 1",
            "    ends: 2026-02-28",
        ),
        [
            (
                "rule-ended",
                "9:11: rules[0].ends: the rule ended on 2026-02-28, before 2026-03-01; it will "
                "never apply again (remove the rule if it is over)",
            )
        ],
        {"as_of": date(2026, 3, 1)},
    ),
    Case(
        "a rule whose last date is before the as-of timestamp's local date",
        (
            "rules:",
            "  - id: pi-day",
            "    kind: points_per_spend",
            "    points: 3",
            "    when: {dates: [2026-03-14]}",
        ),
        [
            (
                "rule-ended",
                "9:19: rules[0].when.dates: the last of the rule's dates is 2026-03-14, before "
                "2026-03-15; it will never apply again (remove the rule if it is over)",
            )
        ],
        # 04:30 UTC on the 16th is still the 15th in New York.
        {"as_of": datetime(2026, 3, 16, 3, 30, tzinfo=UTC)},
    ),
    Case(
        "categories no purchase of the history has",
        (
            "rules:",
            "  - id: stars",
            "    kind: points_per_spend",
            "    points: 1",
            "    when: {categories: [cofee, bakery], exclude_categories: [toys]}",
        ),
        [
            (
                "unknown-category",
                "9:25: rules[0].when.categories[0]: no purchase in the history has the category "
                "'cofee' (did you mean 'coffee'?)",
            ),
            (
                "unknown-category",
                "9:62: rules[0].when.exclude_categories[0]: no purchase in the history has the "
                "category 'toys'",
            ),
        ],
        {"history_events": HISTORY},
    ),
    Case(
        "skus no purchase of the history has, in a multiplier and a voucher",
        (
            "rules:",
            "  - id: stars",
            "    kind: points_per_spend",
            "    points: 1",
            "    multipliers:",
            "      - factor: 2",
            "        when: {skus: [Latte]}",
            "  - id: card",
            "    kind: every_nth_free",
            "    every: 10",
            "    reward: {voucher: {sku: croisant, value: 2.00}}",
        ),
        [
            (
                "unknown-sku",
                "11:23: rules[0].multipliers[0].when.skus[0]: no purchase in the history has the "
                "sku 'Latte' (did you mean 'latte'?)",
            ),
            (
                "unknown-sku",
                "15:29: rules[1].reward.voucher.sku: no purchase in the history has the sku "
                "'croisant' (did you mean 'croissant'?)",
            ),
        ],
        {"history_events": SeenInHistory.from_events(HISTORY)},
    ),
    Case(
        "two rules of one kind with the same filter",
        (
            "rules:",
            "  - id: stars",
            "    kind: points_per_spend",
            "    points: 1",
            "    when: {categories: [coffee, tea]}",
            "  - id: more-stars",
            "    kind: points_per_spend",
            "    points: 2",
            "    when: {categories: [tea, coffee]}",
        ),
        [
            (
                "duplicate-reward",
                "13:11: rules[1].when: this rule rewards the same purchases in the same way as "
                "rules[0] ('stars'): both are points_per_spend with the same filter, so a "
                "purchase gets both rewards (merge them into one rule, or give them different "
                "filters or dates)",
            )
        ],
    ),
    Case(
        "two rules of one kind without filters point at the second rule",
        (
            "rules:",
            "  - {id: five, kind: every_nth_free, every: 5}",
            "  - {id: ten, kind: every_nth_free, every: 10}",
        ),
        [
            (
                "duplicate-reward",
                "7:5: rules[1].when: this rule rewards the same purchases in the same way as "
                "rules[0] ('five'): both are every_nth_free with the same filter, so a purchase "
                "gets both rewards (merge them into one rule, or give them different filters "
                "or dates)",
            )
        ],
    ),
    Case(
        "a multiplier of 1 and a cap of 0 points",
        (
            "rules:",
            "  - id: stars",
            "    kind: points_per_spend",
            "    points: 1",
            "    max_per_purchase: 0",
            "    multipliers:",
            "      - factor: 1.00",
            "        when: {categories: [coffee]}",
        ),
        [
            (
                "worthless-reward",
                "9:23: rules[0].max_per_purchase: at most 0 points per purchase: the rule never "
                "gives any",
            ),
            (
                "worthless-reward",
                "11:17: rules[0].multipliers[0].factor: a factor of 1 changes nothing: the lines "
                "it matches earn the same without it",
            ),
        ],
    ),
    Case(
        "a voucher worth nothing",
        (
            "rules:",
            "  - id: card",
            "    kind: every_nth_free",
            "    every: 10",
            "    reward:",
            "      voucher: {sku: sticker, value: 0}",
        ),
        [
            (
                "worthless-reward",
                "10:38: rules[0].reward.voucher.value: the voucher is worth 0 USD: the customer "
                "gets nothing of value and the cost report counts nothing (give it the price "
                "of 'sticker')",
            )
        ],
    ),
    Case(
        "a multiplier on a category the rule does not count",
        (
            "rules:",
            "  - id: food-stars",
            "    kind: points_per_spend",
            "    points: 1",
            "    when: {categories: [food]}",
            "    multipliers:",
            "      - factor: 2",
            "        when: {categories: [coffee]}",
        ),
        [
            (
                "multiplier-never-applies",
                "12:28: rules[0].multipliers[0].when.categories: the multiplier can never apply: "
                "it asks for categories coffee, but the rule counts only categories food",
            )
        ],
    ),
    Case(
        "a multiplier on a category the rule excludes",
        (
            "rules:",
            "  - id: stars",
            "    kind: points_per_spend",
            "    points: 1",
            "    when: {exclude_categories: [merch]}",
            "    multipliers:",
            "      - factor: 2",
            "        when: {categories: [merch]}",
        ),
        [
            (
                "multiplier-never-applies",
                "12:28: rules[0].multipliers[0].when.categories: the multiplier can never apply: "
                "it asks for categories merch, but the rule excludes categories merch",
            )
        ],
    ),
    Case(
        "a multiplier on a date outside the rule",
        (
            "rules:",
            "  - id: stars",
            "    kind: points_per_spend",
            "    points: 1",
            "    ends: 2026-03-01",
            "    multipliers:",
            "      - factor: 3",
            "        when: {dates: [2026-03-14]}",
        ),
        [
            (
                "multiplier-never-applies",
                "12:23: rules[0].multipliers[0].when.dates: the multiplier can never apply: every "
                "date in `dates` is outside the rule's starts/ends (until 2026-03-01)",
            )
        ],
    ),
    Case(
        "a multiplier in stores the rule does not look at",
        (
            "rules:",
            "  - id: stars",
            "    kind: points_per_spend",
            "    points: 1",
            "    when: {stores: [s1, s2]}",
            "    multipliers:",
            "      - factor: 3",
            "        when: {stores: [s3]}",
        ),
        [
            (
                "multiplier-never-applies",
                "12:24: rules[0].multipliers[0].when.stores: the multiplier can never apply: it "
                "asks for stores s3, but the rule looks only at s1, s2",
            )
        ],
    ),
    Case(
        "a multiplier on dates that are not the rule's weekdays",
        (
            "rules:",
            "  - id: stars",
            "    kind: points_per_spend",
            "    points: 1",
            "    when: {weekdays: [monday]}",
            "    multipliers:",
            "      - factor: 3",
            "        when: {dates: [2026-03-14]}",
        ),
        [
            (
                "multiplier-never-applies",
                "12:23: rules[0].multipliers[0].when.dates: the multiplier can never apply: none "
                "of its dates is a monday, the rule's only weekdays",
            )
        ],
    ),
    Case(
        "an exclusive group misspelt on one of its rules",
        (
            "rules:",
            "  - {id: weekend-stars, kind: points_per_spend, points: 2, exclusive_group: weekend}",
            "  - {id: weekend-bonus, kind: bonus_points, points: 50, exclusive_group: weekends}",
        ),
        [
            (
                "exclusive-group-alone",
                "6:77: rules[0].exclusive_group: the exclusive group 'weekend' holds only this "
                "rule, so it has no effect (did you mean 'weekends'?)",
            ),
            (
                "exclusive-group-alone",
                "7:74: rules[1].exclusive_group: the exclusive group 'weekends' holds only this "
                "rule, so it has no effect (did you mean 'weekend'?)",
            ),
        ],
    ),
    Case(
        "an exclusive group of one rule",
        (
            "rules:",
            "  - id: stars",
            "    kind: points_per_spend",
            "    points: 1",
            "    exclusive_group: promotions",
        ),
        [
            (
                "exclusive-group-alone",
                "9:22: rules[0].exclusive_group: the exclusive group 'promotions' holds only this "
                "rule, so it has no effect (give the rules that must not add up the same group, "
                "or remove it)",
            )
        ],
    ),
    Case(
        "a limit per purchase on a birthday gift",
        (
            "rules:",
            "  - id: birthday-treat",
            "    kind: birthday",
            "    points: 100",
            "    limit: {per: purchase, points: 50}",
        ),
        [
            (
                "limit-per-purchase",
                "9:18: rules[0].limit.per: 'birthday-treat' gives one fixed gift at a time, so a "
                "limit per purchase never limits how often it is given; it can only make the "
                "gift smaller (to limit how often, use per: day, week, month, year or lifetime; "
                "to give less, make the gift smaller)",
            )
        ],
    ),
    Case(
        "a limit per purchase in a list, on a referral",
        (
            "rules:",
            "  - id: bring-a-friend",
            "    kind: referral",
            "    referrer: {points: 500}",
            "    limit:",
            "      - {per: year, rewards: 5}",
            "      - {per: purchase, rewards: 1}",
        ),
        [
            (
                "limit-per-purchase",
                "11:15: rules[0].limit[1].per: 'bring-a-friend' gives one fixed gift at a time, "
                "so a limit per purchase never limits how often it is given; it can only make "
                "the gift smaller (to limit how often, use per: day, week, month, year or "
                "lifetime; to give less, make the gift smaller)",
            )
        ],
    ),
    Case(
        "a limit of nothing",
        (
            "rules:",
            "  - id: tenth-coffee-free",
            "    kind: every_nth_free",
            "    every: 10",
            "    limit: {per: month, value: 0}",
        ),
        [
            (
                "worthless-reward",
                "9:12: rules[0].limit: at most 0.00 USD a month: the rule never gives anything",
            )
        ],
    ),
    Case(
        "a referral voucher worth nothing",
        (
            "rules:",
            "  - id: bring-a-friend",
            "    kind: referral",
            "    referrer: {points: 500}",
            "    referred: {voucher: {sku: latte, value: 0}}",
        ),
        [
            (
                "worthless-reward",
                "9:45: rules[0].referred.voucher.value: the voucher is worth 0 USD: the customer "
                "gets nothing of value and the cost report counts nothing (give it the price of "
                "'latte')",
            )
        ],
    ),
    Case(
        "a birthday voucher for a sku no purchase has",
        (
            "rules:",
            "  - id: birthday-treat",
            "    kind: birthday",
            "    voucher: {sku: cake-slice, value: 3.50}",
        ),
        [
            (
                "unknown-sku",
                "8:20: rules[0].voucher.sku: no purchase in the history has the sku 'cake-slice'",
            )
        ],
        {"history_events": HISTORY},
    ),
    Case(
        "a discount by tier written as a fraction",
        (*TIERS, "  - {id: members, kind: tiered_discount, discounts: {silver: 0.15, gold: 20}}"),
        [
            (
                "percent-as-fraction",
                "12:62: rules[0].discounts.silver: 0.15 means 0.15%; did you mean 15? "
                "(write 15 for 15% off)",
            )
        ],
    ),
    Case(
        "a punch card's percent off written as a fraction",
        (
            "rules:",
            "  - {id: punch, kind: every_nth_free, every: 5, reward: {percent_off: 0.5}}",
        ),
        [
            (
                "percent-as-fraction",
                "6:71: rules[0].reward.percent_off: 0.5 means 0.5%; did you mean 50? "
                "(write 50 for 50% off)",
            )
        ],
    ),
    Case(
        "points given with no points section",
        ("rules:", "  - {id: stars, kind: points_per_spend, points: 1}"),
        [
            (
                "points-without-value",
                "6:5: rules[0]: points.value is not written, so the points given count as "
                "costing nothing in the totals and reports (write what one costs the "
                "business, such as 'value: 0.01' under points)",
            )
        ],
    ),
    Case(
        "points named but given no value",
        ("points: {name: stars}", "rules:", "  - {id: stars, kind: points_per_spend, points: 1}"),
        [
            (
                "points-without-value",
                "5:1: points: points.value is not written, so the stars given count as "
                "costing nothing in the totals and reports (write what one costs the "
                "business, such as 'value: 0.01' under points)",
            )
        ],
    ),
    Case(
        "inactivity that purchases do not end",
        (
            "points:",
            "  expire_on_inactivity: {after: 12 months, activity: [redemption]}",
            "rules: []",
        ),
        [
            (
                "inactivity-without-purchases",
                "6:54: points.expire_on_inactivity.activity: only redemption keeps points "
                "alive: a customer who keeps buying but does not redeem loses every point "
                "after 12 months (add 'purchase' to the activity list)",
            )
        ],
    ),
    Case(
        "a level whose points never expire where none do",
        (
            "tiers:",
            "  qualify_by: spend",
            "  window: calendar_year",
            "  levels:",
            "    - {name: gold, at_least: 500, points_never_expire: true}",
            "rules: []",
        ),
        [
            (
                "never-expire-without-expiry",
                "9:56: tiers.levels[0].points_never_expire: 'gold' keeps its points from "
                "expiring, but the program has neither points.expire_after nor "
                "points.expire_on_inactivity: no point expires (write the expiry the other "
                "levels have, or leave points_never_expire out)",
            )
        ],
    ),
    Case(
        "status kept in a window that never drops it",
        (
            "tiers:",
            "  qualify_by: spend",
            "  window: lifetime",
            "  keep_until: end_of_next_year",
            "  levels: [{name: gold, at_least: 500}]",
            "rules: []",
        ),
        [
            (
                "status-kept-in-lifetime",
                "8:15: tiers.keep_until: keep_until keeps a level the window would drop, but "
                "a lifetime window never drops one (leave keep_until out, or count in a "
                "calendar or rolling window)",
            )
        ],
    ),
    Case(
        "a points-plus-cash reward whose cash covers its value",
        ("rewards:", "  - {id: mug, name: Mug, cost: 200, value: 3.00, cash: 8.00}"),
        [
            (
                "cash-covers-value",
                "6:56: rewards[0].cash: the customer pays 8.00 USD in cash for 'mug', at least "
                "its value of 3.00 USD: the reward costs the business nothing, and its points "
                "buy nothing (check that cash and value are not swapped; value is the whole "
                "reward's cost)",
            )
        ],
    ),
    Case(
        "a birthday that asks nothing of members and a purchase no one can make",
        (
            "rules:",
            "  - id: treat",
            "    kind: birthday",
            "    points: 100",
            "    member_for: 0 days",
            "    purchase_within: 0 days",
        ),
        [
            (
                "birthday-condition",
                "9:17: rules[0].member_for: every member has been one for 0 days: member_for "
                "asks nothing (leave member_for out, or write how long a customer must have "
                "been a member, e.g. 30 days)",
            ),
            (
                "birthday-condition",
                "10:22: rules[0].purchase_within: no purchase can be made in the 0 days "
                "before the gift: this birthday gift is never given (write the time a "
                "customer must have bought in, e.g. 365 days, or leave purchase_within out)",
            ),
        ],
    ),
    Case(
        "a birthday for members of 30 years",
        ("rules:", "  - {id: treat, kind: birthday, points: 100, member_for: 30 years}"),
        [
            (
                "birthday-condition",
                "6:58: rules[0].member_for: only members of more than 5 years (30 years) get "
                "this gift; a birthday's member_for is usually days (30 days) (check the "
                "unit: did you mean '30 days'?)",
            )
        ],
    ),
    Case(
        "a referral held longer than refunds.within lets any refund come",
        (
            "points: {name: stars, value: 0.01}",
            "refunds: {within: 14 days}",
            "rules:",
            "  - {id: friend, kind: referral, referrer: {points: 500}, hold_for: 30 days}",
        ),
        [
            (
                "referral-hold",
                "8:69: rules[0].hold_for: a hold of 30 days outlasts refunds.within (14 days): "
                "no refund can come after 14 days, so the reward waits longer than any refund "
                "could reverse it (hold for 14 days or less)",
            )
        ],
    ),
    Case(
        "a referral held for no time",
        (
            "points: {name: stars, value: 0.01}",
            "rules:",
            "  - {id: friend, kind: referral, referrer: {points: 500}, hold_for: 0 days}",
        ),
        [
            (
                "referral-hold",
                "7:69: rules[0].hold_for: a hold of 0 days gives the referrer's reward at the "
                "friend's purchase: no refund can reverse it (leave hold_for out, or hold for "
                "the return window, say 30 days)",
            )
        ],
    ),
    Case(
        "a referral held for more than a year, and longer than refunds.within",
        (
            "points: {name: stars, value: 0.01}",
            "refunds: {within: 12 months}",
            "rules:",
            "  - {id: friend, kind: referral, referrer: {points: 500}, hold_for: 13 months}",
        ),
        [
            (
                "referral-hold",
                "8:69: rules[0].hold_for: a hold of 13 months: the referrer waits more than a "
                "year for the reward (hold for the return window of the friend's purchase, say "
                "30 days)",
            ),
            (
                "referral-hold",
                "8:69: rules[0].hold_for: a hold of 13 months outlasts refunds.within (12 "
                "months): no refund can come after 12 months, so the reward waits longer than "
                "any refund could reverse it (hold for 12 months or less)",
            ),
        ],
    ),
]

CLEAN = [
    pytest.param(
        (
            "refunds: {within: 1 month}",
            "rules:",
            "  - {id: friend, kind: referral, referrer: {points: 5}, hold_for: 28 days}",
        ),
        id="a referral held 28 days, which no month is shorter than",
    ),
    pytest.param(
        (
            "refunds: {within: 12 months}",
            "rules:",
            "  - {id: friend, kind: referral, referrer: {points: 5}, hold_for: 1 year}",
        ),
        id="a referral held a year, as long as refunds.within and no longer than a year",
    ),
    pytest.param(
        (
            "rules:",
            "  - id: birthday-treat",
            "    kind: birthday",
            "    points: 100",
            "    member_for: 30 days",
            "    purchase_within: 12 months",
        ),
        id="a Starbucks-like birthday: members of 30 days who bought in the last year",
    ),
    pytest.param(
        (
            "rules:",
            "  - {id: stars, kind: points_per_spend, points: 1, exclusive_group: promotions}",
            "  - {id: stars-2026, kind: points_per_spend, points: 2, exclusive_group: promotions}",
        ),
        id="two rules of one kind and filter in one exclusive group, which gives one of them",
    ),
    pytest.param(
        (
            "rules:",
            "  - id: birthday-treat",
            "    kind: birthday",
            "    points: 100",
            "    limit: {per: year, rewards: 1}",
            "  - id: stars",
            "    kind: points_per_spend",
            "    points: 1",
            "    limit: [{per: purchase, points: 200}, {per: month, points: 1000}]",
        ),
        id="limits that limit how often, and how much a purchase earns",
    ),
    pytest.param(
        (
            "rules:",
            "  - {id: winter, kind: points_per_spend, points: 1, ends: 2026-02-28}",
            "  - {id: spring, kind: points_per_spend, points: 2, starts: 2026-03-01}",
        ),
        id="rules of one kind and filter on different dates",
    ),
    pytest.param(
        (
            "rules:",
            "  - id: food-stars",
            "    kind: points_per_spend",
            "    points: 1",
            "    when: {categories: [food]}",
            "    multipliers:",
            "      - {factor: 2, when: {skus: [latte]}}",
        ),
        id="a multiplier on a sku, which may be of the rule's category",
    ),
    pytest.param(
        (
            *TIERS,
            "  - {id: silver-food, kind: tiered_discount, discounts: {silver: 5},"
            " when: {categories: [food]}}",
            "  - {id: gold-all, kind: tiered_discount, discounts: {gold: 10}}",
        ),
        id="one tiered discount per tier",
    ),
    pytest.param(
        (
            *TIERS,
            "  - {id: member, kind: tiered_discount, discounts: {gold: 10}}",
            "  - {id: stars, kind: points_per_spend, points: 1, ends: 2026-12-31}",
        ),
        id="a discount for the top tier only, a rule still running",
    ),
    pytest.param(
        (
            "rules:",
            "  - id: five-off",
            "    kind: order_discount",
            '    amount: "5.00"',
            '    when: {min_total: "30.00"}',
        ),
        id="an order offer's amount below its minimum spend",
    ),
]


@pytest.mark.parametrize("case", [pytest.param(case, id=case.name) for case in CASES])
def test_each_warning_points_at_its_line_and_column(case: Case) -> None:
    keep = frozenset(code for code, _ in case.expected)
    assert warnings_of(lines(*case.rows), keep, **case.options) == case.expected


@pytest.mark.parametrize("rows", CLEAN)
def test_valid_intent_gives_no_warning(rows: tuple[str, ...]) -> None:
    assert warnings_of(lines(*rows), as_of=date(2026, 1, 1)) == []


def test_every_warning_has_a_case_and_a_section_in_the_docs() -> None:
    assert {code for case in CASES for code, _ in case.expected} == set(CHECKS)
    documented = re.findall(r"^## `([a-z0-9-]+)`$", (ROOT / "docs" / "lint.md").read_text(), re.M)
    assert documented == list(CHECKS)


DOCS = (ROOT / "docs" / "lint.md").read_text(encoding="utf-8")
DOC_SECTIONS = dict(re.findall(r"^## `([a-z0-9-]+)`$\n(.*?)(?=^## |\Z)", DOCS, re.M | re.S))
DOC_HISTORY = [purchase(("latte", "coffee"), ("croissant", "bakery"))]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", text, re.M | re.S)


@pytest.mark.parametrize("code", list(CHECKS))
def test_the_docs_example_of_each_warning_gets_exactly_that_warning(code: str) -> None:
    (example,) = blocks(DOC_SECTIONS[code], "yaml")
    found = warnings_of(
        example, frozenset({code}), history_events=DOC_HISTORY, as_of=date(2026, 3, 1)
    )
    assert found
    assert {found_code for found_code, _ in found} == {code}


def test_the_docs_show_the_output_of_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (shown,) = blocks(DOCS, "text")
    (example,) = blocks(DOC_SECTIONS["tiers-discount-falls"], "yaml")
    monkeypatch.chdir(tmp_path)
    Path("rules").mkdir()
    Path("rules/club.yaml").write_text(example, encoding="utf-8")
    assert run("rules/club.yaml") == (0, shown, "")


def test_the_docs_python_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    (code,) = blocks(DOCS, "python")
    monkeypatch.chdir(ROOT)
    exec(compile(code, "docs/lint.md", "exec"), {})  # noqa: S102 - our own documentation


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_every_example_lints_clean_with_its_own_history(path: Path) -> None:
    program, source_map = load_program_with_map(path)
    (history,) = path.parent.glob(f"{path.stem}.history.*")
    seen = SeenInHistory.from_events(read_history(history))
    assert lint_program(program, source_map, history_events=seen, as_of=date(2026, 1, 1)) == []


def test_without_a_source_map_warnings_name_their_path_only() -> None:
    program = loads_program(
        lines(
            "rules:", "  - {id: punch, kind: every_nth_free, every: 5, reward: {percent_off: 100}}"
        )
    )
    (warning,) = lint_program(program, None)
    assert (warning.location, warning.path, warning.code) == (
        None,
        ("rules", 0, "reward", "percent_off"),
        "discount-100",
    )


def test_a_naive_as_of_timestamp_is_refused() -> None:
    program = loads_program(lines("rules: []"))
    with pytest.raises(ValueError, match="has no UTC offset"):
        lint_program(program, None, as_of=datetime(2026, 3, 1))


def test_loading_with_a_map_reads_the_same_program_and_the_same_errors(tmp_path: Path) -> None:
    for path in EXAMPLES:
        assert load_program_with_map(path)[0] == load_program(path)
        assert load_program_with_map(str(path))[1].text.name == str(path)
    text = lines("rules:", "  - {id: punch, kind: every_nth_free, every: 1}")
    with pytest.raises(RuleFileError) as mapped:
        load_program_with_map("<text>", text=text)
    with pytest.raises(RuleFileError) as plain:
        loads_program(text)
    assert mapped.value.problems == plain.value.problems
    missing = tmp_path / "missing.yaml"
    with pytest.raises(RuleFileError, match="there is no such file"):
        load_program_with_map(missing)


# --- the command ------------------------------------------------------------------------

WARNED = lines(
    "rules:",
    "  - id: punch",
    "    kind: every_nth_free",
    "    every: 5",
    "    reward: {percent_off: 100}",
    "    when: {categories: [ice-cram]}",
)


def run(*arguments: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(lint, [str(argument) for argument in arguments])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def clean(tmp_path: Path) -> Path:
    path = tmp_path / "clean.yaml"
    path.write_text(lines("rules: []"), encoding="utf-8")
    return path


@pytest.fixture
def warned(tmp_path: Path) -> Path:
    path = tmp_path / "warned.yaml"
    path.write_text(WARNED, encoding="utf-8")
    return path


@pytest.fixture
def history(tmp_path: Path) -> Path:
    path = tmp_path / "history.csv"
    path.write_text(
        "event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id\n"
        "p1,purchase,c1,2026-05-01T15:00:00-05:00,cone,ice-cream,2,3.00,\n",
        encoding="utf-8",
    )
    return path


def test_a_clean_file_is_ok(clean: Path) -> None:
    assert run(clean) == (0, f"{clean}: OK, no warnings\n", "")


def test_warnings_are_shown_with_the_line_and_a_caret_and_exit_0(
    warned: Path, history: Path
) -> None:
    code, out, err = run(warned, "--history", history)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"{warned}:9:27: rules[0].reward.percent_off: warning: 100% off gives the rewarded "
        "units away (if they are meant to be free, write `reward: free`)",
        "        reward: {percent_off: 100}",
        "                              ^",
        f"{warned}:10:25: rules[0].when.categories[0]: warning: no purchase in the history has "
        "the category 'ice-cram' (did you mean 'ice-cream'?)",
        "        when: {categories: [ice-cram]}",
        "                            ^",
        f"{warned}: 2 warnings",
    ]


def test_strict_exits_1_when_there_are_warnings(clean: Path, warned: Path) -> None:
    assert run("--strict", clean)[0] == 0
    code, out, _ = run("--strict", clean, warned)
    assert code == 1
    assert out.splitlines()[0] == f"{clean}: OK, no warnings"
    assert out.splitlines()[-1] == f"{warned}: 1 warning"


def test_a_file_that_does_not_load_is_shown_like_validate_and_exits_1(
    tmp_path: Path, clean: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        lines("rules:", "  - {id: punch, kind: every_nth_free, every: 1}"), encoding="utf-8"
    )
    code, out, err = run(broken, clean)
    assert code == 1
    assert out == f"{clean}: OK, no warnings\n"
    assert err.splitlines() == [
        f"{broken}:6:46: rules[0].every: must be at least 2 (got 1)",
        "      - {id: punch, kind: every_nth_free, every: 1}",
        " " * (4 + 45) + "^",
    ]


def test_as_of_reports_rules_that_are_over(tmp_path: Path) -> None:
    ended = tmp_path / "ended.yaml"
    ended.write_text(
        lines(
            "points: {value: 0.01}",
            "rules:",
            "  - {id: winter, kind: points_per_spend, points: 1, ends: 2026-02-28}",
        ),
        encoding="utf-8",
    )
    assert run(ended, "--as-of", "2026-02-28")[1] == f"{ended}: OK, no warnings\n"
    code, out, _ = run(ended, "--as-of", "2026-03-01")
    assert code == 0
    assert out.splitlines()[0] == (
        f"{ended}:7:59: rules[0].ends: warning: the rule ended on 2026-02-28, before "
        "2026-03-01; it will never apply again (remove the rule if it is over)"
    )


def test_a_history_that_cannot_be_read_exits_1(clean: Path, tmp_path: Path) -> None:
    code, out, err = run(clean, "--history", tmp_path / "nowhere.csv")
    assert (code, out) == (1, "")
    assert err == f"cannot read {tmp_path / 'nowhere.csv'}: there is no such file\n"


def test_bad_usage_exits_2(clean: Path) -> None:
    code, _, err = run(clean, "--as-of", "March")
    assert code == 2
    assert "'March' is not a date written YYYY-MM-DD" in err
    assert run()[0] == 2


def test_the_command_is_part_of_rewardrules() -> None:
    from rewardrules.cli.main import cli  # noqa: PLC0415 - the group, as the script runs it

    assert cli.get_command(click.Context(cli), "lint") is lint
