"""Benchmark: the coffee-club program over a synthetic history, against hand-written loops.

Run::

    python benchmarks/coffee_club.py [--customers N] [--purchases M] [--seed S]
                                     [--repeat R] [--profile K]

The script builds the coffee-club program (the same program as the YAML example), generates
a seeded history (purchases spread over two years, about 1% of them refunded later), and
times three implementations of the same program on the same data:

* ``rewardrules.evaluation.fold.evaluate`` on the ``Purchase``/``Refund`` models;
* the int loop of ``baselines.py``: integer cents in flat lists of ints, one pass over the
  events sorted by customer, no object per event (``replay.py`` uses the same loop);
* a loop with ``Decimal`` money over plain tuples that keeps a record object per purchase,
  as the int loop here did before (docs/performance.md has both: read its figures as "a
  simple object-per-purchase loop", not as "what Python can do").

Building the models and the int loop's columns (sort, codes, cents) are timed on their own,
and preparing the ``Decimal`` loop's tuples not at all; none is part of the runs.
``evaluate`` pauses the cyclic garbage collector during its fold, so the loops run with it
paused too. The loops are written from the documented semantics, independently
of the engine, and the script checks that they agree with the engine on every customer's
points balance and final tier and on the total discount; it exits with status 1 at the
first difference.

``--profile K`` runs the engine under cProfile instead and prints the K functions with the
most time of their own (its throughput figure is then the profiler's, not the engine's).
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import os
import pstats
import random
import resource
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from itertools import accumulate
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from baselines import Columns, coffee_int_loop, columns_from_table  # beside this script

from rewardrules.engine.ledger import Evaluation
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import Line, Purchase, Refund, RefundLine
from rewardrules.histories.columns import events_to_table
from rewardrules.program.model import Program
from rewardrules.rulefiles.loader import load_program_file

T = TypeVar("T")
P = ParamSpec("P")

EXAMPLE = Path(__file__).resolve().parent.parent / "rules" / "examples" / "coffee-club.yaml"
ZONE = ZoneInfo("America/New_York")
APPRECIATION_DAY = date(2026, 3, 14)
HISTORY_START = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
HISTORY_SECONDS = 730 * 86_400
REFUND_SHARE = 0.01
REFUND_DELAY_SECONDS = (3_600, 30 * 86_400)
# Edges the cross-check should see: a visit exactly 365 days after an earlier one (the
# window's first instant counts), and a second visit in the same second (ordered by id).
YEAR_LATER_SHARE = 0.005
SAME_SECOND_SHARE = 0.002
YEAR_SECONDS = 365 * 86_400

# sku, category, unit price, how often it is picked
MENU: tuple[tuple[str, str, str, int], ...] = (
    ("espresso", "coffee", "3.25", 30),
    ("latte", "coffee", "4.50", 25),
    ("cappuccino", "coffee", "4.25", 15),
    ("cold-brew", "coffee", "4.75", 10),
    ("drip", "coffee", "2.95", 20),
    ("house-blend-beans-12oz", "coffee", "16.99", 3),
    ("croissant", "bakery", "3.75", 12),
    ("muffin", "bakery", "3.50", 10),
    ("sandwich", "food", "8.95", 8),
    ("club-mug", "merch", "18.00", 2),
    ("tumbler", "merch", "24.00", 1),
)
# choices and their cumulative weights: 50/30/15/5% of purchases have 1/2/3/4 lines
LINES_PER_PURCHASE = ((1, 2, 3, 4), (50, 80, 95, 100))
QUANTITIES = ((1, 2, 3), (80, 95, 100))


def coffee_club() -> Program:
    """The coffee-club program, as ``rules/examples/coffee-club.yaml`` writes it.

    It is written out here so that the benchmark needs no file; :func:`same_as_example`
    checks that the two still agree.
    """
    return Program.model_validate(
        {
            "program": "coffee-club",
            "name": "Coffee Club",
            "currency": "USD",
            "timezone": "America/New_York",
            "points": {"name": "stars", "value": Decimal("0.01")},
            "tiers": {
                "qualify_by": "spend",
                "window": "365 days",
                "levels": [
                    {"name": "silver", "at_least": Decimal("100.00")},
                    {
                        "name": "gold",
                        "at_least": Decimal("500.00"),
                        "points_multiplier": Decimal("1.5"),
                    },
                ],
            },
            "rules": [
                {
                    "id": "member-discount",
                    "kind": "tiered_discount",
                    "description": "5% off for Silver, 10% off for Gold",
                    "discounts": {"silver": Decimal(5), "gold": Decimal(10)},
                    "when": {"exclude_categories": ["merch"]},
                },
                {
                    "id": "stars",
                    "kind": "points_per_spend",
                    "description": "2 stars per 1.00 paid",
                    "points": Decimal(2),
                    "per": Decimal("1.00"),
                    "multipliers": [
                        {
                            "factor": Decimal(2),
                            "when": {"categories": ["coffee"]},
                            "description": "Double stars on coffee",
                        },
                        {
                            "factor": Decimal(3),
                            "when": {"dates": [APPRECIATION_DAY]},
                            "description": "Triple stars on Customer Appreciation Day",
                        },
                    ],
                },
            ],
        }
    )


def same_as_example(program: Program) -> str:
    """Whether ``program`` is still the example file's program, in words."""
    if not EXAMPLE.is_file():
        return f"{EXAMPLE} not found; the program is the one written in this script"
    if load_program_file(EXAMPLE) == program:
        return f"the program is {EXAMPLE.relative_to(EXAMPLE.parents[2])}"
    return f"WARNING: the program differs from {EXAMPLE}; update coffee_club() to match it"


# --- the synthetic history --------------------------------------------------------------


class LineSpec(NamedTuple):
    """One generated line: sku, category, quantity, unit price as text."""

    sku: str
    category: str
    quantity: int
    unit_price: str


class PurchaseSpec(NamedTuple):
    """One generated purchase, before any model is built."""

    id: str
    customer_id: str
    at: int
    lines: tuple[LineSpec, ...]


class RefundSpec(NamedTuple):
    """One generated refund: everything (``sku`` None) or ``quantity`` units of ``sku``."""

    id: str
    customer_id: str
    at: int
    purchase_id: str
    sku: str | None
    quantity: int


@dataclass(frozen=True, slots=True)
class History:
    """A generated history in plain data, in generation order (not sorted by time)."""

    purchases: list[PurchaseSpec]
    refunds: list[RefundSpec]


def generate(customers: int, purchases: int, seed: int) -> History:
    """A seeded history: a few heavy customers, many light ones, ~1% of purchases refunded."""
    rng = random.Random(seed)
    width = len(str(customers))
    customer_ids = [f"c{number:0{width}d}" for number in range(1, customers + 1)]
    # Log-normal visit rates: most customers reach silver within a year, some gold, some none.
    rates = [rng.lognormvariate(0, 0.8) for _ in customer_ids]
    buyers = rng.choices(customer_ids, weights=rates, k=purchases)
    menu = [LineSpec(sku, category, 1, price) for sku, category, price, _ in MENU]
    menu_weights = list(accumulate(weight for *_, weight in MENU))
    width = len(str(purchases))
    specs: list[PurchaseSpec] = []
    last_at: dict[str, int] = {}
    history_end = HISTORY_START + HISTORY_SECONDS
    for number, customer_id in enumerate(buyers, start=1):
        wanted = rng.choices(LINES_PER_PURCHASE[0], cum_weights=LINES_PER_PURCHASE[1])[0]
        picked: dict[str, LineSpec] = {}
        while len(picked) < wanted:
            item = rng.choices(menu, cum_weights=menu_weights)[0]
            if item.sku not in picked:
                quantity = rng.choices(QUANTITIES[0], cum_weights=QUANTITIES[1])[0]
                picked[item.sku] = item._replace(quantity=quantity)
        edge = rng.random()
        previous = last_at.get(customer_id, history_end)
        if edge < YEAR_LATER_SHARE and previous + YEAR_SECONDS < history_end:
            at = previous + YEAR_SECONDS
        elif edge < YEAR_LATER_SHARE + SAME_SECOND_SHARE and previous < history_end:
            at = previous
        else:
            at = HISTORY_START + rng.randrange(HISTORY_SECONDS)
        last_at[customer_id] = at
        specs.append(PurchaseSpec(f"p{number:0{width}d}", customer_id, at, tuple(picked.values())))
    refunds: list[RefundSpec] = []
    for number, index in enumerate(
        sorted(rng.sample(range(purchases), round(purchases * REFUND_SHARE))), start=1
    ):
        purchase = specs[index]
        at = purchase.at + rng.randint(*REFUND_DELAY_SECONDS)
        if number % 2:
            refund = RefundSpec(
                f"r{number:0{width}d}", purchase.customer_id, at, purchase.id, None, 0
            )
        else:
            line = rng.choice(purchase.lines)
            quantity = rng.randint(1, line.quantity)
            refund = RefundSpec(
                f"r{number:0{width}d}", purchase.customer_id, at, purchase.id, line.sku, quantity
            )
            if number % 10 == 0 and (len(purchase.lines) > 1 or quantity < line.quantity):
                # now and then the rest comes back too, a few days later
                rest_at = at + rng.randint(*REFUND_DELAY_SECONDS)
                rest = RefundSpec(
                    f"{refund.id}b", purchase.customer_id, rest_at, purchase.id, None, 0
                )
                refunds.append(rest)
        refunds.append(refund)
    return History(specs, refunds)


def build_events(history: History) -> list[Purchase | Refund]:
    """The history as the engine's validated models (the normal constructors)."""
    prices = {price: Decimal(price) for *_, price, _ in MENU}
    events: list[Purchase | Refund] = [
        Purchase(
            id=spec.id,
            customer_id=spec.customer_id,
            at=datetime.fromtimestamp(spec.at, UTC),
            lines=tuple(
                Line(
                    sku=line.sku,
                    category=line.category,
                    quantity=line.quantity,
                    unit_price=prices[line.unit_price],
                )
                for line in spec.lines
            ),
        )
        for spec in history.purchases
    ]
    events += [
        Refund(
            id=spec.id,
            customer_id=spec.customer_id,
            at=datetime.fromtimestamp(spec.at, UTC),
            purchase_id=spec.purchase_id,
            lines=None if spec.sku is None else (RefundLine(sku=spec.sku, quantity=spec.quantity),),
        )
        for spec in history.refunds
    ]
    return events


# --- what every implementation must find ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """Per customer: points balance and final tier; the total discount in cents."""

    points: dict[str, int]
    tiers: dict[str, str | None]
    discount_cents: int


def engine_outcome(evaluation: Evaluation) -> Outcome:
    """What the engine found."""
    return Outcome(
        points={result.customer_id: result.points for result in evaluation.customers},
        tiers={result.customer_id: result.tier for result in evaluation.customers},
        discount_cents=evaluation.totals.discount_value,
    )


def first_difference(engine: Outcome, loop: Outcome) -> tuple[str, object, object] | None:
    """The first difference of two outcomes as (what, engine's value, loop's value), or None.

    Customers are compared by id (stars, then final tier), then the total discount.
    """
    if engine.points.keys() != loop.points.keys():
        return "the customers", len(engine.points), len(loop.points)
    for customer_id in sorted(engine.points):
        if engine.points[customer_id] != loop.points[customer_id]:
            subject = f"customer {customer_id}'s stars"
            return subject, engine.points[customer_id], loop.points[customer_id]
        if engine.tiers[customer_id] != loop.tiers[customer_id]:
            subject = f"customer {customer_id}'s final tier"
            return subject, engine.tiers[customer_id], loop.tiers[customer_id]
    if engine.discount_cents != loop.discount_cents:
        return "the total discount in cents", engine.discount_cents, loop.discount_cents
    return None


# --- the hand-written loops --------------------------------------------------------------
#
# The coffee-club semantics, written out: a purchase's tier comes from the paid spend (less
# refunds) of the customer's purchases evaluated before it whose instant is at or after its
# own instant less 365 days; events are evaluated by (instant, id). Silver (100.00) and gold
# (500.00) take 5% and 10% off each line that is not merch, rounded half up to the cent per
# line. Stars: 2 per 1.00 paid, each line weighted by 3 on 2026-03-14 (local date), else by
# 2 for coffee, else 1; times 1.5 at gold; floored once per purchase. A refund gives back
# round_half_up(paid / quantity) per unit (the whole paid amount once every unit is back),
# recomputes the purchase's stars on what is left and takes back the difference, and takes
# the refunded amount off the purchase's tier spend.

WINDOW_SECONDS = 365 * 86_400
TIER_NAMES: tuple[str | None, ...] = (None, "silver", "gold")
STARS_PER_DOLLAR = 2
APPRECIATION_ORDINAL = APPRECIATION_DAY.toordinal()
ORDER = itemgetter(0, 1)


M = TypeVar("M", int, Decimal)
PlainLine = tuple[str, str, int, M]
"""sku, category, quantity, unit price (cents or Decimal)."""
PlainRefund = tuple[str, str | None, int]
"""purchase id, sku (None for everything), quantity."""
PlainEvent = tuple[int, str, str, int, tuple[PlainLine[M], ...] | None, PlainRefund | None]
"""instant (epoch seconds), id, customer id, local date ordinal, lines or None, refund or None."""


def prepare(history: History, price: Callable[[str], M]) -> list[PlainEvent[M]]:
    """The history as plain tuples, in the same (unsorted) order as the models."""
    events: list[PlainEvent[M]] = []
    prices = {text: price(text) for *_, text, _ in MENU}
    for spec in history.purchases:
        local_day = datetime.fromtimestamp(spec.at, ZONE).toordinal()
        lines = tuple(
            (line.sku, line.category, line.quantity, prices[line.unit_price]) for line in spec.lines
        )
        events.append((spec.at, spec.id, spec.customer_id, local_day, lines, None))
    for refund in history.refunds:
        plain = (refund.purchase_id, refund.sku, refund.quantity)
        events.append((refund.at, refund.id, refund.customer_id, 0, None, plain))
    return events


def units_returned(
    lines: Sequence[PlainLine[M]], units_back: list[int] | None, sku: str | None, quantity: int
) -> list[int]:
    """Units of each line refunded once this refund is counted (first matching lines first)."""
    if sku is None:
        return [line[2] for line in lines]
    units = [0] * len(lines) if units_back is None else list(units_back)
    for index, line in enumerate(lines):
        if line[0] == sku:
            take = min(quantity, line[2] - units[index])
            units[index] += take
            quantity -= take
    return units


def final_tier(customer: DecimalCustomer, gold: Decimal, silver: Decimal) -> int:
    """The tier index (0 none, 1 silver, 2 gold) just after the customer's last event."""
    start = customer.last_at - WINDOW_SECONDS
    spend = sum((record.tier_spend for record in customer.recent if record.at >= start), 0 * gold)
    return 2 if spend >= gold else 1 if spend >= silver else 0


def int_columns(events: Sequence[Purchase | Refund]) -> Columns:
    """The history as the integer columns of ``baselines.py`` (sorted, codes, cents)."""
    return columns_from_table(events_to_table(events))


def run_plain_int(columns: Columns) -> Outcome:
    """The coffee-club program in integer cents: the int loop of ``baselines.py``.

    One pass over flat lists of ints, with no object per purchase (the loop this script had
    before kept a record object per purchase, as the ``Decimal`` loop still does).
    """
    found = coffee_int_loop(columns)
    return Outcome(found.stars, found.tiers, sum(found.discounts.values()))


CENT = Decimal("0.01")
GOLD_SPEND, SILVER_SPEND = Decimal("500.00"), Decimal("100.00")
DECIMAL_PERCENT = (Decimal(0), Decimal(5), Decimal(10))
DECIMAL_STARS = (Decimal(1), Decimal(1), Decimal("1.5"))
HUNDRED = Decimal(100)
ZERO = Decimal(0)


class DecimalRecord:
    """A purchase in the Decimal loop."""

    __slots__ = (
        "at",
        "in_window",
        "lines",
        "paid",
        "stars",
        "tier",
        "tier_spend",
        "units_back",
        "weights",
    )

    def __init__(
        self,
        at: int,
        lines: tuple[PlainLine[Decimal], ...],
        paid: list[Decimal],
        weights: list[int],
        stars: int,
        tier: int,
    ) -> None:
        self.at = at
        self.lines = lines
        self.paid = paid
        self.weights = weights
        self.stars = stars
        self.tier = tier
        self.tier_spend = sum(paid, ZERO)
        self.in_window = True
        self.units_back: list[int] | None = None  # until a refund comes


class DecimalCustomer:
    """A customer in the Decimal loop."""

    __slots__ = ("last_at", "purchases", "recent", "recent_spend", "stars")

    def __init__(self) -> None:
        self.stars = 0
        self.recent: deque[DecimalRecord] = deque()
        self.recent_spend = ZERO
        self.purchases: dict[str, DecimalRecord] = {}
        self.last_at = 0


def decimal_stars(weighted: Decimal, tier: int) -> int:
    """Stars on a weighted paid amount at a tier, floored."""
    return int((weighted * STARS_PER_DOLLAR * DECIMAL_STARS[tier]).to_integral_value(ROUND_FLOOR))


def refund_decimal(customer: DecimalCustomer, refund: PlainRefund) -> None:
    """Give back the refunded units' paid amounts; take back stars and tier spend."""
    purchase_id, sku, quantity = refund
    record = customer.purchases[purchase_id]
    units = units_returned(record.lines, record.units_back, sku, quantity)
    refunded = [
        paid_amount
        if back >= line[2]
        else min(back * (paid_amount / line[2]).quantize(CENT, ROUND_HALF_UP), paid_amount)
        for paid_amount, line, back in zip(record.paid, record.lines, units)
    ]
    record.units_back = units
    if record.stars:
        weighted = sum(
            (
                (paid_amount - back_amount) * weight
                for paid_amount, back_amount, weight in zip(record.paid, refunded, record.weights)
            ),
            ZERO,
        )
        stars = decimal_stars(weighted, record.tier)
        customer.stars += stars - record.stars
        record.stars = stars
    spend_left = sum(record.paid, ZERO) - sum(refunded, ZERO)
    if record.in_window:
        customer.recent_spend += spend_left - record.tier_spend
    record.tier_spend = spend_left


def run_plain_decimal(events: Iterable[PlainEvent[Decimal]]) -> Outcome:
    """The coffee-club program with Decimal money, rounding with ``quantize``."""
    customers: dict[str, DecimalCustomer] = {}
    discount_total = ZERO
    for at, event_id, customer_id, local_day, lines, refund in sorted(events, key=ORDER):
        customer = customers.get(customer_id)
        if customer is None:
            customer = customers[customer_id] = DecimalCustomer()
        customer.last_at = at
        recent = customer.recent
        if lines is not None:
            start = at - WINDOW_SECONDS
            while recent and recent[0].at < start:
                gone = recent.popleft()
                gone.in_window = False
                customer.recent_spend -= gone.tier_spend
            spend = customer.recent_spend
            tier = 2 if spend >= GOLD_SPEND else 1 if spend >= SILVER_SPEND else 0
            percent = DECIMAL_PERCENT[tier]
            appreciation = local_day == APPRECIATION_ORDINAL
            paid: list[Decimal] = []
            weights: list[int] = []
            weighted = ZERO
            for _, category, quantity, unit_price in lines:
                amount = quantity * unit_price
                if tier and category != "merch":
                    discount = (amount * percent / HUNDRED).quantize(CENT, ROUND_HALF_UP)
                    amount -= discount
                    discount_total += discount
                weight = 3 if appreciation else 2 if category == "coffee" else 1
                paid.append(amount)
                weights.append(weight)
                weighted += amount * weight
            stars = decimal_stars(weighted, tier)
            customer.stars += stars
            record = DecimalRecord(at, lines, paid, weights, stars, tier)
            customer.purchases[event_id] = record
            recent.append(record)
            customer.recent_spend += record.tier_spend
        elif refund is not None:
            refund_decimal(customer, refund)
    return Outcome(
        points={customer_id: customer.stars for customer_id, customer in customers.items()},
        tiers={
            customer_id: TIER_NAMES[final_tier(customer, GOLD_SPEND, SILVER_SPEND)]
            for customer_id, customer in customers.items()
        },
        discount_cents=int(discount_total * 100),
    )


# --- measuring -----------------------------------------------------------------------------


class Timing(NamedTuple):
    """Seconds on the wall clock (``perf_counter``) and on the CPU (``process_time``).

    The CPU figure leaves out the time other processes took the cores; on a quiet machine
    the two agree.
    """

    wall: float
    cpu: float


def timed(run: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> tuple[T, Timing]:
    """Run once; return the result and the time it took."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run(*args, **kwargs)
    return result, Timing(time.perf_counter() - wall, time.process_time() - cpu)


def best_of(
    repeat: int, run: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> tuple[T, Timing]:
    """Run ``repeat`` times; return the last result and the fastest wall and CPU times."""
    result, best = timed(run, *args, **kwargs)
    for _ in range(repeat - 1):
        del result  # let the previous result go before the next run builds its own
        result, timing = timed(run, *args, **kwargs)
        best = Timing(min(best.wall, timing.wall), min(best.cpu, timing.cpu))
    return result, best


def collector_paused(run: Callable[P, T]) -> Callable[P, T]:
    """``run`` with the cyclic garbage collector paused, as ``evaluate`` pauses it.

    The loops keep a record per purchase, as the engine does; pausing the collector for
    them too compares the work, not how often the collector rescans the growing state.
    """

    @functools.wraps(run)
    def paused(*args: P.args, **kwargs: P.kwargs) -> T:
        collecting = gc.isenabled()
        gc.disable()
        try:
            return run(*args, **kwargs)
        finally:
            if collecting:
                gc.enable()

    return paused


def peak_mib() -> float:
    """The process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def profiled(top: int, run: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> tuple[T, Timing]:
    """Run once under cProfile; print the ``top`` functions by their own time."""
    profiler = cProfile.Profile()
    result, timing = timed(profiler.runcall, run, *args, **kwargs)
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.strip_dirs().sort_stats(pstats.SortKey.TIME).print_stats(top)
    return result, timing


def check(label: str, engine: Outcome, loop: Outcome) -> None:
    """Exit with status 1 if a loop and the engine disagree."""
    difference = first_difference(engine, loop)
    if difference is not None:
        subject, found_by_engine, found_by_loop = difference
        sys.exit(
            f"results differ: {subject} is {found_by_engine} by the engine, "
            f"{found_by_loop} by the {label}"
        )


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=10_000, help="default 10,000")
    parser.add_argument("--purchases", type=int, default=1_000_000, help="default 1,000,000")
    parser.add_argument("--seed", type=int, default=2026, help="default 2026")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="R",
        help="time each implementation R times and keep the fastest (default 1)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="K",
        help="run the engine under cProfile and print its K costliest functions",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Generate, build, run the three implementations, compare, print the figures."""
    arguments = parse_arguments(argv)
    program = coffee_club()
    history, generating = timed(generate, arguments.customers, arguments.purchases, arguments.seed)
    purchases, refunds = len(history.purchases), len(history.refunds)
    print(
        f"coffee-club: {arguments.customers:,} customers, {purchases:,} purchases, "
        f"{refunds:,} refunds, seed {arguments.seed}; Python {sys.version.split()[0]}"
    )
    print(same_as_example(program))
    print(f"generated the history in {generating.wall:.1f} s")
    events, building = timed(build_events, history)
    built_mib = peak_mib()
    print(
        f"built {len(events):,} Purchase/Refund models in {building.wall:.1f} s "
        f"({len(events) / building.wall:,.0f} events/s; not part of any run below)"
    )
    int_events, preparing = timed(int_columns, events)
    print(
        f"made the int loop's columns (events to an Arrow table, sorted by customer, codes, "
        f"cents) in {preparing.wall:.1f} s (not part of any run below)"
    )
    decimal_events = prepare(history, Decimal)
    del history

    repeat = max(1, arguments.repeat)
    load_before = os.getloadavg()[0]
    rows: list[tuple[str, Timing]] = []
    if arguments.profile:
        evaluation, timing = profiled(arguments.profile, evaluate, program, events)
        rows.append(("engine evaluate() under cProfile", timing))
    else:
        evaluation, timing = best_of(repeat, evaluate, program, events)
        rows.append(("engine evaluate()", timing))
    engine_mib = peak_mib()
    engine = engine_outcome(evaluation)
    del evaluation
    plain_int, timing = best_of(repeat, collector_paused(run_plain_int), int_events)
    rows.append(("int loop (baselines.py)", timing))
    check("int loop", engine, plain_int)
    plain_decimal, timing = best_of(repeat, collector_paused(run_plain_decimal), decimal_events)
    rows.append(("Decimal loop, object per purchase", timing))
    check("Decimal loop", engine, plain_decimal)
    load_after = os.getloadavg()[0]

    print()
    runs = "one run each" if repeat == 1 else f"fastest of {repeat} runs each"
    print(f"{runs}; 1-minute load average {load_before:.1f} before, {load_after:.1f} after")
    print(f"{'':33} {'wall s':>7} {'purchases/s':>11} {'CPU s':>7} {'purchases/CPU s':>15}")
    for label, timing in rows:
        print(
            f"{label:33} {timing.wall:7.2f} {purchases / timing.wall:11,.0f} "
            f"{timing.cpu:7.2f} {purchases / timing.cpu:15,.0f}"
        )
    engine_time, int_time, decimal_time = (timing for _, timing in rows)
    print()
    for label, baseline in (("int-loop", int_time), ("Decimal-loop", decimal_time)):
        print(
            f"engine time / {label} time: {engine_time.wall / baseline.wall:.1f}x wall, "
            f"{engine_time.cpu / baseline.cpu:.1f}x CPU"
        )
    print(
        f"peak RSS: {built_mib:,.0f} MiB with the models built, {engine_mib:,.0f} MiB after "
        f"evaluate(), {peak_mib():,.0f} MiB at the end"
    )
    stars = sum(engine.points.values())
    tiers = {name: list(engine.tiers.values()).count(name) for name in TIER_NAMES}
    print(
        f"results agree: {len(engine.points):,} balances ({stars:,} stars), final tiers "
        f"{tiers['gold']:,} gold / {tiers['silver']:,} silver / {tiers[None]:,} none, "
        f"discounts {engine.discount_cents / 100:,.2f} USD"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
