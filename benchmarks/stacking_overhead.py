"""What limits, an exclusive group and gifts from profiles cost the engine.

Times ``evaluate`` on the coffee-club history of ``coffee_club.py`` in one run: the
coffee-club program as it is (the baseline), then with each of these added on its own,
then with all three:

- limits: a daily limit of 400 stars and a monthly one of 3,000 on the stars rule;
- an exclusive group: the member discount against a weekend bonus of 40 stars;
- gifts: a birthday gift (100 stars in the birthday month) and a sign-up bonus (50 stars)
  for every customer, from profiles drawn with the same seed.

Every run gets the same profiles. It prints each timing and its ratio to the baseline,
and what the additions did (entries cut by a limit, rules set aside, gifts given), and
checks two things on every run: that the limits were never exceeded in any day or month,
and that each customer's ledger adds up to their balance.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from coffee_club import (  # the benchmark beside this one (its folder is on sys.path)
    Timing,
    best_of,
    build_events,
    coffee_club,
    generate,
    timed,
)

from rewardrules import Customer, Program, Refund, evaluate
from rewardrules.engine.ledger import POINTS_KINDS, Evaluation
from rewardrules.engine.limits import period_key

DAILY_STARS, MONTHLY_STARS = 400, 3_000


LIMITS = "limits on the stars rule"
GROUP = "an exclusive group"
GIFTS = "birthday and sign-up gifts"
ADDITIONS = (LIMITS, GROUP, GIFTS)


def stacked(program: Program, additions: Sequence[str] = ADDITIONS) -> Program:
    """The coffee club with some of: limits, an exclusive group, birthday and sign-up gifts."""
    document = program.model_dump(mode="python", exclude_defaults=True)
    document["rules"] = list(document["rules"])
    for rule in document["rules"]:
        if rule["id"] == "stars" and LIMITS in additions:
            rule["limit"] = [
                {"per": "day", "points": DAILY_STARS},
                {"per": "month", "points": MONTHLY_STARS},
            ]
        if rule["id"] == "member-discount" and GROUP in additions:
            rule["exclusive_group"] = "offers"
    if GROUP in additions:
        document["rules"].append(
            {
                "id": "weekend-bonus",
                "kind": "bonus_points",
                "points": 40,
                "when": {"weekdays": ["saturday", "sunday"]},
                "exclusive_group": "offers",
            }
        )
    if GIFTS in additions:
        document["rules"] += [
            {"id": "birthday", "kind": "birthday", "points": 100, "window": "month"},
            {"id": "welcome", "kind": "signup_bonus", "points": 50},
        ]
    return Program.model_validate(document)


def profiles(customer_ids: Sequence[str], seed: int) -> list[Customer]:
    """A birthday and a joining date in 2024 for every customer."""
    draw = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        Customer(
            customer_id=customer,
            joined_at=start + timedelta(minutes=draw.randrange(366 * 24 * 60)),
            birthday=f"{draw.randint(1, 12):02d}-{draw.randint(1, 28):02d}",
        )
        for customer in customer_ids
    ]


def check(
    program: Program,
    evaluation: Evaluation,
    moments: dict[str, datetime],
    refunded: dict[str, str],
) -> None:
    """Exit 1 when a limit was exceeded or a ledger does not add up.

    ``refunded`` maps a refund's id to its purchase's: points a refund takes back in the
    period of their purchase are given back to that period's allowance (docs/lifecycle.md,
    "Refunds and limits"), so a period's count is what was given less what came back.
    """
    limited = bool(program.rule("stars").limit)
    for result in evaluation.customers:
        total = sum(entry.points or 0 for entry in result.ledger if entry.kind in POINTS_KINDS)
        if total != result.points:
            sys.exit(f"customer {result.customer_id}: ledger {total} != balance {result.points}")
        if not limited:
            continue
        given: dict[tuple[str, str], int] = defaultdict(int)
        for entry in result.ledger:
            points = entry.points or 0
            if entry.rule != "stars" or entry.kind != "points" or not points:
                continue
            bought = moments[refunded.get(entry.event_id, entry.event_id)]
            local = bought.astimezone(program.zone).date()
            now = moments[entry.event_id].astimezone(program.zone).date()
            for per in ("day", "month"):
                period = period_key(per, local)
                if points > 0 or period_key(per, now) == period:
                    given[(per, period)] += points
        for (per, period), points in given.items():
            most = DAILY_STARS if per == "day" else MONTHLY_STARS
            if points > most:
                sys.exit(f"customer {result.customer_id}: {points} stars in {period} > {most}")


def summary(evaluation: Evaluation) -> dict[str, int]:
    """What the additions did: stars entries cut by a limit, rules set aside, gifts given."""
    entries = evaluation.entries
    return {
        "cut": sum("limit reached" in e.reason for e in entries if e.rule == "stars"),
        "set_aside": sum(entry.kind == "set_aside" for entry in entries),
        "gifts": sum("@" in entry.event_id for entry in entries),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Generate, build, run both programs, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--purchases", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--repeat", type=int, default=1)
    arguments = parser.parse_args(argv)

    base = coffee_club()
    history, _ = timed(generate, arguments.customers, arguments.purchases, arguments.seed)
    events = build_events(history)
    customer_ids = sorted({event.customer_id for event in events})
    customers = profiles(customer_ids, arguments.seed)
    purchases = len(history.purchases)
    print(
        f"{arguments.customers:,} customers, {purchases:,} purchases, "
        f"{len(history.refunds):,} refunds, seed {arguments.seed}"
    )
    del history

    repeat = max(1, arguments.repeat)
    moments = {event.id: event.at for event in events}
    refunded = {event.id: event.purchase_id for event in events if isinstance(event, Refund)}
    variants: list[tuple[str, Sequence[str]]] = [
        ("coffee club (baseline)", ()),
        *((f"+ {addition}", (addition,)) for addition in ADDITIONS),
        ("+ all three", ADDITIONS),
    ]
    rows: list[tuple[str, Timing]] = []
    counts: dict[str, int] = {}
    # The first evaluation grows the heap, which the later ones reuse: an untimed warm-up
    # keeps that cost off the baseline (it made the baseline look slower than a program
    # with more rules).
    evaluate(base, events, customers)
    gc.collect()
    for label, additions in variants:
        program = stacked(base, additions)
        evaluation, timing = best_of(repeat, evaluate, program, events, customers)
        check(program, evaluation, moments, refunded)
        rows.append((label, timing))
        counts = summary(evaluation)
        # Each run starts from the same heap: no earlier result kept alive, nothing to collect.
        del evaluation
        gc.collect()
    baseline = rows[0][1]

    print(f"{'':36} {'wall s':>7} {'CPU s':>7} {'purchases/CPU s':>15} {'x baseline':>10}")
    for label, row in rows:
        print(
            f"{label:36} {row.wall:7.2f} {row.cpu:7.2f} {purchases / row.cpu:15,.0f} "
            f"{row.cpu / baseline.cpu:9.2f}x"
        )
    print(
        f"with all three: stars entries cut or capped by a limit: {counts['cut']:,}; "
        f"set aside by the group: {counts['set_aside']:,}; gifts at dates: {counts['gifts']:,}"
    )
    print("limits held and every ledger adds up")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
