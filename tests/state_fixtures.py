"""Histories whose saved states of older formats are kept in tests/data/states/.

Each case is a program, the events before the state was saved, and the events after.
``python tests/state_fixtures.py OUT_DIR`` writes ``format-<n>-<case>.json`` with whichever
rewardrules is importable: run it with an older rewardrules (``git archive <commit> src``)
to make the fixtures of that format. The format 2 files were written by the code of
commit 42705c6; format 1 files are format 2's without the keys format 2 added, which is how
format 1 saved those histories (none of them forgets a purchase). The format 3 files were
written by the code of commit cd81066, the format 4 files by that of a6049d7, the
format 6 files by that of dc86ca8.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

from helpers import at, line, program, purchase, refund
from rewardrules import evaluate
from rewardrules.events import AnyEvent, ReferralQualified
from rewardrules.program.model import Program

STARS = {"kind": "points_per_spend", "id": "stars", "points": "1"}
CARD = {"kind": "every_nth_free", "id": "card", "every": 4, "when": {"categories": ["coffee"]}}
INDIA = timezone(timedelta(hours=5, minutes=30))


def _refunds() -> tuple[Program, list[AnyEvent], list[AnyEvent]]:
    rules = program(rules=[STARS, CARD])
    before: list[AnyEvent] = [
        purchase("p1", at(0), line("latte", "3.50", 3, "coffee"), line("bun", "2.25")),
        purchase("p2", at(1).astimezone(INDIA), line("latte", "3.50", 2, "coffee"), store="s1"),
        refund("r1", at(2), "p1", ("latte", 1)),
        purchase("p3", at(3), line("mug", "12.00")),
    ]
    after: list[AnyEvent] = [
        refund("r2", at(4), "p1", ("latte", 2)),
        refund("r3", at(5), "p2"),
        purchase("p4", at(6), line("latte", "3.50", 4, "coffee")),
    ]
    return rules, before, after


def _window() -> tuple[Program, list[AnyEvent], list[AnyEvent]]:
    tiers = {
        "qualify_by": "spend",
        "window": {"days": 30},
        "levels": [
            {"name": "silver", "at_least": "0.00"},
            {"name": "gold", "at_least": "20.00", "points_multiplier": "2"},
        ],
    }
    rules = program(rules=[STARS, CARD], tiers=tiers, refunds={"within": "10 days"})
    before: list[AnyEvent] = [
        purchase(
            f"p{day:02d}",
            at(day).astimezone(INDIA) if day % 9 == 0 else at(day),
            line("latte", "3.50", 1 + day % 3, "coffee"),
            line("bun", "1.75"),
        )
        for day in range(0, 40, 3)
    ]
    before.append(refund("r1", at(40), "p39", ("latte", 1)))
    after: list[AnyEvent] = [
        refund("r2", at(41), "p33", ("bun", 1)),
        purchase("p45", at(45), line("latte", "3.50", 2, "coffee")),
        refund("r3", at(46), "p39"),
        purchase("p60", at(60), line("bun", "1.75")),
    ]
    return rules, before, after


def _calendar() -> tuple[Program, list[AnyEvent], list[AnyEvent]]:
    tiers = {
        "qualify_by": "purchases",
        "window": "calendar_month",
        "levels": [{"name": "regular", "at_least": 0}, {"name": "fan", "at_least": 3}],
    }
    rules = program(rules=[STARS], tiers=tiers, refunds={"within": "7 days"})
    before: list[AnyEvent] = [
        purchase(f"p{day:02d}", at(day), line("latte", "3.50")) for day in range(0, 30, 2)
    ]
    after: list[AnyEvent] = [
        refund("r1", at(30), "p28"),
        purchase("p31", at(31), line("latte", "3.50")),
    ]
    return rules, before, after


def _group() -> tuple[Program, list[AnyEvent], list[AnyEvent]]:
    earn = {"id": "earn", "kind": "points_per_spend", "points": 1, "per": "1.00"}
    silver = {
        "qualify_by": "purchases",
        "window": "lifetime",
        "levels": [{"name": "silver", "at_least": 0}],
    }
    rules = program(
        rules=[
            {**CARD, "every": 10, "priority": 1, "exclusive_group": "g", "when": {}},
            {**earn, "priority": 1, "exclusive_group": "g"},
            {
                "id": "half-off",
                "kind": "tiered_discount",
                "discounts": {"silver": 50},
                "priority": 2,
            },
        ],
        tiers=silver,
        points={"value": "0.01"},
    )
    before: list[AnyEvent] = [purchase("p1", at(0), line("shoes", "40.00"), line("belt", "20.00"))]
    after: list[AnyEvent] = [refund("r1", at(1), "p1", ("belt", 1))]
    return rules, before, after


def _inactivity() -> tuple[Program, list[AnyEvent], list[AnyEvent]]:
    # The last purchase is refunded in full before the save: from format 4 the deadline
    # counts from p1 (30 days: at(30)), not from p2 (at(50)), and the expiry says so.
    rules = program(rules=[STARS], points={"expire_on_inactivity": "30 days"})
    before: list[AnyEvent] = [
        purchase("p1", at(0), line("latte", "10.00")),
        purchase("p2", at(20), line("mug", "5.00")),
        refund("r1", at(21), "p2"),
    ]
    after: list[AnyEvent] = [purchase("p3", at(55), line("latte", "3.50"))]
    return rules, before, after


def _referral() -> tuple[Program, list[AnyEvent], list[AnyEvent]]:
    # c1 was rewarded for referring c2 (a supplied fact): from format 5 a referral may be
    # held, and a state of format 4 holds none.
    friend = {"kind": "referral", "id": "friend", "referrer": {"points": 50}}
    rules = program(rules=[STARS, friend])
    fact = ReferralQualified(id="f1", customer_id="c1", at=at(1), referred="c2", rule="friend")
    before: list[AnyEvent] = [purchase("p1", at(0), line("latte", "10.00")), fact]
    after: list[AnyEvent] = [purchase("p2", at(5), line("mug", "5.00"))]
    return rules, before, after


CASES: dict[str, Any] = {
    "refunds": _refunds,
    "window": _window,
    "calendar": _calendar,
    "group": _group,
    "inactivity": _inactivity,
    "referral": _referral,
}
"""Per case, a function giving (program, events before the save, events after)."""


def main(folder: str) -> None:
    """Write the state each case saves, as the importable rewardrules writes it."""
    for name, case in CASES.items():
        rules, before, _ = case()
        state = evaluate(rules, before).customer("c1").state
        data = json.loads(state.model_dump_json())
        Path(folder, f"format-{data['format']}-{name}.json").write_text(
            json.dumps(data, indent=1) + "\n"
        )


if __name__ == "__main__":
    main(sys.argv[1])
