"""Hand-written baselines for the coffee club, over integer columns of a history table.

The coffee club (``rules/examples/coffee-club.yaml``) written out by hand from the
documented semantics (docs/semantics.md) and not from the engine's code:
:func:`coffee_int_loop` is one Python loop over plain ints in lists, one pass over the
events sorted by customer, then instant, then id. No object per event: the state of a
purchase lives in flat lists indexed by event and line, the state of a customer in local
variables. ``numpy_baseline.py`` vectorises the same program.

It reads :class:`Columns`, which :func:`columns_from_table` makes from an Arrow table in
the ``HISTORY_SCHEMA`` layout (sort, codes, cents). :func:`reference_outcome` reads the
same figures from the reference engine's :class:`~rewardrules.engine.ledger.Evaluation`, and
:func:`first_difference` compares two outcomes customer by customer.

The semantics, as the loops implement them: events are evaluated per customer by (instant,
id). A purchase's tier comes from the paid spend, less refunds evaluated before it, of the
customer's purchases evaluated before it whose instant is at or after its own instant less
365 days. Silver (100.00) and gold (500.00) take 5% and 10% off each line that is not merch,
rounded half up to the cent per line. Stars: 2 per 1.00 paid, each line weighted by 3 on
2026-03-14 (local date in New York), else by 2 for coffee, else 1; times 1.5 at gold;
floored once per purchase. A refund returns units (first matching lines first; everything
for a refund without lines); a line gives back round_half_up(paid / quantity) per unit,
and its whole paid amount once every unit is back. The purchase's stars are recomputed on
what is left (at its own tier) and the difference is taken back; its tier spend is what is
left. The final tier is the tier just after the customer's last event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from rewardrules.engine.ledger import Evaluation

Ints = npt.NDArray[np.int64]

ZONE = ZoneInfo("America/New_York")
APPRECIATION_DAY = date(2026, 3, 14)
MICROSECONDS = 1_000_000
WINDOW = 365 * 86_400 * MICROSECONDS
SILVER_CENTS, GOLD_CENTS = 10_000, 50_000
PERCENT_BY_TIER = (0, 5, 10)
TIER_NAMES: tuple[str | None, ...] = (None, "silver", "gold")
PURCHASE, REFUND, REDEMPTION = 0, 1, 2
OTHER, COFFEE, MERCH = 0, 1, 2
UNSCALE = 10**10  # decimal128(38, 12) holds cents times 10**10


def _local_day_bounds(day: date) -> tuple[int, int]:
    """The UTC microseconds where a local date in New York starts and the next one starts."""
    start = datetime(day.year, day.month, day.day, tzinfo=ZONE)
    end = datetime.combine(day + timedelta(days=1), start.timetz())
    return int(start.timestamp()) * MICROSECONDS, int(end.timestamp()) * MICROSECONDS


APPRECIATION_START, APPRECIATION_END = _local_day_bounds(APPRECIATION_DAY)


@dataclass(frozen=True, slots=True)
class Columns:
    """A history as integer columns: rows sorted by customer, then instant, then event id.

    Per event (``E`` of them): its customer's code, its instant in UTC microseconds, its
    kind (purchase, refund, redemption), whether it falls on the appreciation day (local
    date), the event index of the purchase a refund refunds (-1 otherwise), and ``first``,
    the index of its first row (``first[E]`` is the number of rows). Per row: the sku's
    code (-1 for none), the quantity (0 for none), quantity x unit price in cents, and the
    category class (other, coffee, merch). ``customers`` gives each code's id.
    """

    customers: list[str]
    customer: Ints
    at: Ints
    kind: Ints
    appreciation: Ints
    target: Ints
    first: Ints
    sku: Ints
    quantity: Ints
    gross: Ints
    category: Ints

    @property
    def purchases(self) -> int:
        """How many purchases there are."""
        return int(np.count_nonzero(self.kind == PURCHASE))


def _flat(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _cents(prices: pa.Array) -> Ints:
    """``decimal128(38, 12)`` amounts in whole cents (0 where null); exact or an error."""
    words = np.frombuffer(prices.buffers()[1], np.int64)
    words = words[2 * prices.offset : 2 * (prices.offset + len(prices))].reshape(-1, 2)
    valid = prices.is_valid().to_numpy(zero_copy_only=False)
    low, high = np.where(valid, words[:, 0], 0), np.where(valid, words[:, 1], 0)
    if (high != 0).any() or (low < 0).any() or (low % UNSCALE != 0).any():
        raise ValueError("a unit price is negative, huge or finer than a cent")
    return low // UNSCALE


def _mask(condition: pa.Array) -> npt.NDArray[np.bool_]:
    """A boolean Arrow array as a numpy mask, null counting as false."""
    return np.asarray(pc.fill_null(condition, False).to_numpy(zero_copy_only=False), np.bool_)


def _changes(values: pa.Array) -> npt.NDArray[np.bool_]:
    """Where a row's value differs from the row before (the first row counts as a change)."""
    count = len(values)
    changed = np.ones(count, np.bool_)
    if count > 1:
        differs = pc.not_equal(values.slice(1), values.slice(0, count - 1))
        changed[1:] = differs.to_numpy(zero_copy_only=False)
    return changed


def _event_order(customer: Ints, at: Ints, event_id: pa.Array, starts: Ints) -> Ints:
    """The events by (customer, instant, id): numpy on the integers, ids only for ties."""
    order = np.lexsort((at, customer))
    ranked_customer, ranked_at = customer[order], at[order]
    tied = (ranked_customer[1:] == ranked_customer[:-1]) & (ranked_at[1:] == ranked_at[:-1])
    positions = np.flatnonzero(tied).tolist()
    index = 0
    while index < len(positions):  # a run of events at one instant: order them by id
        begin = end = positions[index]
        while index + 1 < len(positions) and positions[index + 1] == end + 1:
            index += 1
            end += 1
        run = order[begin : end + 2]
        ids = event_id.take(pa.array(starts[run])).to_pylist()
        order[begin : end + 2] = run[sorted(range(len(run)), key=ids.__getitem__)]
        index += 1
    return order


def columns_from_table(table: pa.Table) -> Columns:
    """The integer columns of a history table in the ``HISTORY_SCHEMA`` layout.

    Rows of one event are adjacent (the layout says so); events are sorted by customer,
    instant and id, and the rows of an event keep their order.
    """
    event_id, customer_id = _flat(table["event_id"]), _flat(table["customer_id"])
    row_count = len(event_id)
    starts = np.flatnonzero(_changes(event_id) | _changes(customer_id))
    counts = np.diff(np.append(starts, row_count))
    encoded = pc.dictionary_encode(customer_id)
    by_text = pc.sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(len(by_text), np.int64)
    rank[by_text] = np.arange(len(by_text))
    customers = encoded.dictionary.take(pa.array(by_text)).to_pylist()
    customer_of_row = rank[encoded.indices.to_numpy(zero_copy_only=False)]
    at_of_row = pc.cast(_flat(table["at"]), pa.int64()).to_numpy(zero_copy_only=False)

    order = _event_order(customer_of_row[starts], at_of_row[starts], event_id, starts)
    starts, counts = starts[order], counts[order]
    first = np.zeros(len(starts) + 1, np.int64)
    np.cumsum(counts, out=first[1:])
    rows = np.repeat(starts - first[:-1], counts) + np.arange(row_count)
    customer, at = customer_of_row[starts], at_of_row[starts]

    type_ = _flat(table["type"]).take(pa.array(starts))
    kind = np.full(len(starts), -1, np.int64)
    for code, word in ((PURCHASE, "purchase"), (REFUND, "refund"), (REDEMPTION, "redemption")):
        kind[_mask(pc.equal(type_, word))] = code
    if (kind < 0).any():
        raise ValueError("an event's type is not purchase, refund or redemption")
    appreciation = ((at >= APPRECIATION_START) & (at < APPRECIATION_END)).astype(np.int64)

    skus = pc.dictionary_encode(_flat(table["sku"]))
    sku = skus.indices.to_numpy(zero_copy_only=False)
    sku = np.where(_mask(skus.is_valid()), sku, -1).astype(np.int64)[rows]
    quantity = pc.fill_null(_flat(table["quantity"]), 0).to_numpy().astype(np.int64)
    gross = (quantity * _cents(_flat(table["unit_price"])))[rows]
    categories = _flat(table["category"])
    category = np.zeros(row_count, np.int64)
    category[_mask(pc.equal(categories, "coffee"))] = COFFEE
    category[_mask(pc.equal(categories, "merch"))] = MERCH

    purchase_events = np.flatnonzero(kind == PURCHASE)
    refund_events = np.flatnonzero(kind == REFUND)
    purchase_ids = event_id.take(pa.array(starts[purchase_events]))
    refunded = _flat(table["purchase_id"]).take(pa.array(starts[refund_events]))
    found = pc.index_in(refunded, value_set=purchase_ids)
    if found.null_count:
        raise ValueError("a refund refunds a purchase that is not in the history")
    target = np.full(len(starts), -1, np.int64)
    target[refund_events] = purchase_events[found.to_numpy(zero_copy_only=False)]
    if (customer[target[refund_events]] != customer[refund_events]).any():
        raise ValueError("a refund refunds another customer's purchase")
    return Columns(
        customers=customers,
        customer=customer,
        at=at,
        kind=kind,
        appreciation=appreciation,
        target=target,
        first=first,
        sku=sku,
        quantity=quantity[rows],
        gross=gross,
        category=category[rows],
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    """Per customer id: points balance, final tier (None for none), money given in cents
    (discounts and free units), and the points available at the last event."""

    stars: dict[str, int]
    tiers: dict[str, str | None]
    discounts: dict[str, int]
    available: dict[str, int]

    def only(self, customers: set[str]) -> Outcome:
        """The outcome of some customers."""
        return Outcome(
            *(
                {key: value for key, value in part.items() if key in customers}
                for part in (self.stars, self.tiers, self.discounts, self.available)
            )
        )


def outcome_of(
    customers: list[str], stars: list[int], tiers: list[int], discounts: list[int]
) -> Outcome:
    """An outcome from per-customer lists, in the order of ``customers``."""
    balances = dict(zip(customers, stars))
    return Outcome(
        balances,
        {customer: TIER_NAMES[tier] for customer, tier in zip(customers, tiers)},
        dict(zip(customers, discounts)),
        balances,  # the coffee club's points neither wait nor expire: all are available
    )


def reference_outcome(evaluation: Evaluation) -> Outcome:
    """What the reference engine found, in the same terms."""
    return Outcome(
        {result.customer_id: result.points for result in evaluation.customers},
        {result.customer_id: result.tier for result in evaluation.customers},
        {
            result.customer_id: sum(
                entry.value_minor or 0
                for entry in result.ledger
                if entry.kind in ("discount", "free")
            )
            for result in evaluation.customers
        },
        {result.customer_id: result.available_points for result in evaluation.customers},
    )


def first_difference(expected: Outcome, found: Outcome) -> str | None:
    """The first difference of two outcomes, in words, or None when they agree."""
    if expected.stars.keys() != found.stars.keys():
        return f"the customers differ: {len(expected.stars):,} against {len(found.stars):,}"
    for customer in sorted(expected.stars):
        for what, mine, theirs in (
            ("stars", expected.stars, found.stars),
            ("final tier", expected.tiers, found.tiers),
            ("money given in cents", expected.discounts, found.discounts),
            ("available points", expected.available, found.available),
        ):
            if mine[customer] != theirs[customer]:
                found_here, found_there = mine[customer], theirs[customer]
                return f"customer {customer}'s {what}: {found_here!r} against {found_there!r}"
    return None


def coffee_int_loop(columns: Columns) -> Outcome:  # noqa: PLR0915 (one hot loop, on purpose)
    """The coffee club as one loop over plain ints (see the module docstring).

    One outer loop per customer (their events are one slice), so the inner loop never
    asks whose event it is; a line's weight and whether it can be discounted are tuple
    lookups by category; a purchase without a tier skips the discount arithmetic.
    """
    at_of = columns.at.tolist()
    kind_of = columns.kind.tolist()
    appreciation_of = columns.appreciation.tolist()
    target_of = columns.target.tolist()
    first_of = columns.first.tolist()
    sku_of = columns.sku.tolist()
    quantity_of = columns.quantity.tolist()
    gross_of = columns.gross.tolist()
    category_of = columns.category.tolist()
    events, rows = len(kind_of), len(sku_of)
    changes = np.flatnonzero(np.diff(columns.customer)) + 1
    bounds = [0, *changes.tolist(), events] if events else [0]
    codes = columns.customer[bounds[:-1]].tolist()
    weight_by = (1, 2, 1)  # by category: other, coffee, merch
    discounted_by = (True, True, False)

    paid = [0] * rows  # per purchase line: what was paid
    units_back = [0] * rows  # per purchase line: units refunded so far
    spend = [0] * events  # per purchase: paid, less refunds, for the tier window
    stars_of = [0] * events  # per purchase: the stars it holds
    tier_of = [0] * events  # per purchase: its tier
    customers = len(columns.customers)
    balances, tiers, discounts = [0] * customers, [0] * customers, [0] * customers

    for index, current in enumerate(codes):
        begin, stop = bounds[index], bounds[index + 1]
        lo, window, stars, discount = begin, 0, 0, 0
        for event in range(begin, stop):
            if kind_of[event] == PURCHASE:
                start = at_of[event] - WINDOW
                while at_of[lo] < start:
                    window -= spend[lo]
                    lo += 1
                weighted = total = 0
                row, end = first_of[event], first_of[event + 1]
                if window < SILVER_CENTS:
                    tier = 0
                    if appreciation_of[event]:
                        total = sum(gross_of[row:end])
                        weighted = 3 * total
                        paid[row:end] = gross_of[row:end]
                    else:
                        while row < end:
                            amount = paid[row] = gross_of[row]
                            total += amount
                            weighted += amount * weight_by[category_of[row]]
                            row += 1
                    earned = weighted // 50
                else:
                    tier = 2 if window >= GOLD_CENTS else 1
                    percent = 10 if tier == 2 else 5
                    appreciation = appreciation_of[event]
                    while row < end:
                        amount = gross_of[row]
                        category = category_of[row]
                        if discounted_by[category]:
                            off = (amount * percent + 50) // 100
                            amount -= off
                            discount += off
                        paid[row] = amount
                        total += amount
                        weighted += amount * (3 if appreciation else weight_by[category])
                        row += 1
                    earned = weighted * 3 // 100 if tier == 2 else weighted // 50
                stars += earned
                stars_of[event], tier_of[event], spend[event] = earned, tier, total
                window += total
            elif kind_of[event] == REFUND:
                purchase = target_of[event]
                lines = range(first_of[purchase], first_of[purchase + 1])
                for row in range(first_of[event], first_of[event + 1]):
                    sku, wanted = sku_of[row], quantity_of[row]
                    for line in lines:
                        if sku < 0:
                            units_back[line] = quantity_of[line]
                        elif sku_of[line] == sku and wanted:
                            take = min(wanted, quantity_of[line] - units_back[line])
                            units_back[line] += take
                            wanted -= take
                appreciation = appreciation_of[purchase]
                weighted = left = 0
                for line in lines:
                    amount, units, back = paid[line], quantity_of[line], units_back[line]
                    if back < units:
                        amount -= min(back * ((2 * amount + units) // (2 * units)), amount)
                    else:
                        amount = 0
                    left += amount
                    weighted += amount * (3 if appreciation else weight_by[category_of[line]])
                earned = weighted * 3 // 100 if tier_of[purchase] == 2 else weighted // 50
                stars += earned - stars_of[purchase]
                stars_of[purchase] = earned
                if purchase >= lo:
                    window += left - spend[purchase]
                spend[purchase] = left
        # the final tier: the window just after the customer's last event
        start = at_of[stop - 1] - WINDOW
        while at_of[lo] < start:
            window -= spend[lo]
            lo += 1
        balances[current], discounts[current] = stars, discount
        tiers[current] = 2 if window >= GOLD_CENTS else 1 if window >= SILVER_CENTS else 0
    return outcome_of(columns.customers, balances, tiers, discounts)
