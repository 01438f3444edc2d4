"""Work proportional to the input, never to the values in it (docs/semantics.md).

Every numeric field of a program and of a history is set to its largest valid value (30
digits in a rule file, 18-digit quantities, 24-character prices, durations of 100 years,
dates in 2099) and ``dry-run`` runs in a subprocess that may use 512 MiB of address space
and must end within the timeout. One entry per rule and event carries a count, so the
run is as short as one over small numbers; the numbers it prints are checked against
integer arithmetic written here.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

MEMORY = 512 * 1024 * 1024
SECONDS = 30  # a few seconds of work; the rest is slack for a machine shared with others

LARGEST = 10**30 - 1
"""The largest whole number a rule file can hold: 30 digits."""
LARGEST_MINOR = 10**32 - 1
"""The largest amount a rule file can hold, 999...9.99 (30 digits, then 2), in cents."""
QUANTITY = 10**18 - 1
"""The largest quantity a history can hold: 18 digits."""
PRICE = 10**23 - 1
"""The largest price a history can hold, 999999999999999999999.99 (24 characters), in cents."""

NINES = "9" * 30
GIFTS_PROGRAM = f"""\
program: biggest
name: Biggest values
currency: USD
timezone: Pacific/Kiritimati
points:
  value: {NINES}.99
  pending_for: 36500 days
  expire_after: 100 years
  expire_round_up_to: year
  expire_on_inactivity: 1200 months
tiers:
  qualify_by: spend
  window: 36500 days
  keep_for: 5218 weeks
  levels:
    - {{name: base, at_least: 0}}
    - {{name: top, at_least: {NINES}.99, points_multiplier: {NINES}}}
rules:
  - id: cards
    kind: partner_gift_card
    partner: Cinema
    value: {NINES}.99
    every_spend: 0.01
    limit: {{per: lifetime, rewards: {NINES}}}
  - id: vouchers
    kind: every_nth_free
    every: 2
    reward: {{voucher: {{sku: cone, value: {NINES}.99}}}}
  - id: stars
    kind: points_per_spend
    points: {NINES}
    per: 0.01
    multipliers: [{{factor: {NINES}, when: {{skus: [cone]}}}}]
    max_per_purchase: {NINES}
  - id: bonus
    kind: bonus_points
    points: {NINES}
  - id: birthday
    kind: birthday
    points: {NINES}
    days_around: 180
rewards:
  - {{id: moon, name: The moon, cost: {NINES}, value: {NINES}.99}}
"""
GIFTS_HISTORY = f"""\
event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id,store,reward
p1,purchase,c1,2099-12-30T10:00:00Z,cone,,{QUANTITY},999999999999999999999.99,,,
r1,refund,c1,2099-12-30T11:00:00Z,cone,,{QUANTITY // 2},,p1,,
x1,redemption,c1,2099-12-30T12:00:00Z,,,,,,,moon
"""
CUSTOMERS = """\
customer_id,joined_at,birthday,referred_by
c1,2099-01-01T00:00:00Z,12-31,
"""
PRICES_PROGRAM = f"""\
program: biggest-prices
name: Biggest price rules
currency: USD
timezone: UTC
tiers:
  qualify_by: purchases
  window: 36500 days
  levels:
    - {{name: base, at_least: 0}}
rules:
  - id: free-cones
    kind: every_nth_free
    every: 2
    when: {{skus: [cone]}}
    limit: {{per: purchase, value: 1.00}}
  - id: cakes
    kind: every_nth_free
    every: 2
    when: {{skus: [cake]}}
    reward: {{percent_off: 100}}
  - id: members
    kind: tiered_discount
    discounts: {{base: 100}}
    when: {{skus: [tea]}}
  - id: stars
    kind: points_per_spend
    points: {NINES}
    per: 0.01
"""
PRICES_HISTORY = f"""\
event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id,store
p1,purchase,c1,2099-12-31T23:00:00Z,cone,,{QUANTITY},0.01,,
p1,purchase,c1,2099-12-31T23:00:00Z,cake,,{QUANTITY},999999999999999999999.99,,
p1,purchase,c1,2099-12-31T23:00:00Z,tea,,{QUANTITY},999999999999999999999.99,,
r1,refund,c1,2099-12-31T23:30:00Z,cone,,{QUANTITY // 2},,p1,
"""


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def dry_run(tmp_path: Path, program: str, history: str, *options: str) -> dict[str, Any]:
    """Run ``dry-run --format json`` in a subprocess with capped memory and time."""
    (tmp_path / "program.yaml").write_text(program, encoding="utf-8")
    (tmp_path / "history.csv").write_text(history, encoding="utf-8")
    command = [sys.executable, "-m", "rewardrules", "dry-run", "--format", "json", *options]
    done = subprocess.run(  # noqa: S603 -- our own interpreter and module
        [*command, "program.yaml", "history.csv"],
        capture_output=True,
        text=True,
        timeout=SECONDS,
        preexec_fn=_cap_memory,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def cents(minor: int) -> str:
    """Minor units as the JSON output writes an amount."""
    return f"{minor // 100}.{minor % 100:02d}"


def rows(result: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The only customer's ledger as (event, rule, kind, points, value, units)."""
    (customer,) = result["customers"]
    return [
        (e["event_id"], e["rule"], e["kind"], e["points"], e["value"], e["units"])
        for e in customer["ledger"]
    ]


def test_the_largest_gifts_end_quickly_as_one_entry_each(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    result = dry_run(tmp_path, GIFTS_PROGRAM, GIFTS_HISTORY, "--customers", "customers.csv")

    gross = QUANTITY * PRICE
    assert gross > LARGEST  # one card per cent: more cards than the limit lets through
    assert rows(result) == [
        # joined inside the window around 2098-12-31 (+/- 180 days): a gift at joining;
        # the window around 2099-12-31 opens on 2099-07-04
        ("birthday@2099-01-01", "birthday", "points", LARGEST, None, None),
        ("birthday@2099-07-04", "birthday", "points", LARGEST, None, None),
        ("p1", "cards", "gift_card", None, cents(LARGEST * LARGEST_MINOR), LARGEST),
        ("p1", "vouchers", "voucher", None, cents(QUANTITY // 2 * LARGEST_MINOR), QUANTITY // 2),
        ("p1", "stars", "points", LARGEST, None, None),  # at most max_per_purchase
        ("p1", "bonus", "points", LARGEST, None, None),
        # the refund leaves far more than the cap's worth: nothing to take back
        ("x1", "moon", "redemption", -LARGEST, cents(LARGEST_MINOR), 1),
    ]
    totals = result["totals"]
    assert totals["gross_spend"] == cents(gross)
    assert totals["gift_cards"] == LARGEST
    assert totals["vouchers"] == QUANTITY // 2
    assert totals["points_net"] == 4 * LARGEST
    assert result["customers"][0]["points"] == 3 * LARGEST


def test_the_largest_price_rules_end_quickly_and_a_value_limit_cuts_exactly(
    tmp_path: Path,
) -> None:
    result = dry_run(tmp_path, PRICES_PROGRAM, PRICES_HISTORY)

    cards = QUANTITY // 2  # every 2 units complete a card
    free_cones = 100  # 1.00 of 0.01 cones: the limit, found without counting down
    cakes_off = PRICE * cards  # 100% off half of the cakes
    cones_paid = QUANTITY - free_cones
    paid = cones_paid + (QUANTITY * PRICE - cakes_off)  # the tea is all discounted
    earned = paid * LARGEST  # per 0.01 is per cent
    # The refund returns half the cones at their paid amount per unit, rounded: 1 cent.
    share = (2 * cones_paid + QUANTITY) // (2 * QUANTITY)
    left = paid - cards * share
    assert rows(result) == [
        ("p1", "free-cones", "free", None, cents(free_cones), free_cones),
        ("p1", "cakes", "discount", None, cents(cakes_off), cards),
        ("p1", "members", "discount", None, cents(QUANTITY * PRICE), QUANTITY),
        ("p1", "stars", "points", earned, None, None),
        ("r1", "stars", "points", left * LARGEST - earned, None, None),
    ]
    assert result["totals"]["free_units"] == free_cones
