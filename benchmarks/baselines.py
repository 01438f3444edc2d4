"""Hand-written baselines for the coffee club, over integer columns of a history table.

The coffee club (``rules/examples/coffee-club.yaml``) written out by hand, twice, from the
documented semantics (docs/semantics.md) and not from the engine's code:

* :func:`coffee_int_loop`: one Python loop over plain ints in lists, one pass over the
  events sorted by customer, then instant, then id. No object per event: the state of a
  purchase lives in flat lists indexed by event and line, the state of a customer in local
  variables;
* :func:`coffee_numpy`: the same program vectorised with numpy, the upper reference. Lines
  are priced per tier in whole arrays; the tiers come from rolling-window sums (cumulative
  sums and binary searches) iterated to a fixed point; refunds are differences over index
  ranges.

Both read :class:`Columns`, which :func:`columns_from_table` makes from an Arrow table in
the ``HISTORY_SCHEMA`` layout (sort, codes, cents). :func:`reference_outcome` reads the
same figures from the reference engine's :class:`~rewardrules.ledger.Evaluation`, and
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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from rewardrules.ledger import Evaluation

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


def _outcome(
    customers: list[str], stars: list[int], tiers: list[int], discounts: list[int]
) -> Outcome:
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
    """The coffee club as one loop over plain ints (see the module docstring)."""
    customer_of = columns.customer.tolist()
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

    paid = [0] * rows  # per purchase line: what was paid
    units_back = [0] * rows  # per purchase line: units refunded so far
    spend = [0] * events  # per purchase: paid, less refunds, for the tier window
    stars_of = [0] * events  # per purchase: the stars it holds
    tier_of = [0] * events  # per purchase: its tier
    customers = len(columns.customers)
    balances, tiers, discounts = [0] * customers, [0] * customers, [0] * customers

    current, lo, window, stars, discount = -1, 0, 0, 0, 0
    for event in range(events + 1):
        customer = customer_of[event] if event < events else -2
        if customer != current:
            if current >= 0:  # the customer's last event was event - 1: their final tier
                start = at_of[event - 1] - WINDOW
                while at_of[lo] < start:
                    window -= spend[lo]
                    lo += 1
                balances[current], discounts[current] = stars, discount
                tiers[current] = 2 if window >= GOLD_CENTS else 1 if window >= SILVER_CENTS else 0
            if event == events:
                break
            current, lo, window, stars, discount = customer, event, 0, 0, 0
        kind = kind_of[event]
        if kind == PURCHASE:
            start = at_of[event] - WINDOW
            while at_of[lo] < start:
                window -= spend[lo]
                lo += 1
            tier = 2 if window >= GOLD_CENTS else 1 if window >= SILVER_CENTS else 0
            percent = PERCENT_BY_TIER[tier]
            appreciation = appreciation_of[event]
            weighted = total = 0
            for row in range(first_of[event], first_of[event + 1]):
                amount = gross_of[row]
                category = category_of[row]
                if percent and category != MERCH:
                    off = (amount * percent + 50) // 100
                    amount -= off
                    discount += off
                paid[row] = amount
                total += amount
                weighted += amount * (3 if appreciation else 2 if category == COFFEE else 1)
            earned = weighted * 3 // 100 if tier == 2 else weighted // 50
            stars += earned
            stars_of[event], tier_of[event], spend[event] = earned, tier, total
            window += total
        elif kind == REFUND:
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
                category = category_of[line]
                weighted += amount * (3 if appreciation else 2 if category == COFFEE else 1)
            earned = weighted * 3 // 100 if tier_of[purchase] == 2 else weighted // 50
            stars += earned - stars_of[purchase]
            stars_of[purchase] = earned
            if purchase >= lo:
                window += left - spend[purchase]
            spend[purchase] = left
    return _outcome(columns.customers, balances, tiers, discounts)


def _segment_sums(values: Ints, starts: Ints) -> Ints:
    """Sums of ``values`` over the segments that begin at ``starts`` (none empty)."""
    if len(values) == 0:
        return np.zeros(0, np.int64)
    return np.add.reduceat(values, starts).astype(np.int64)


@dataclass(frozen=True, slots=True)
class NumpyRun:
    """The numpy baseline's outcome and how many fixed-point passes it took."""

    outcome: Outcome
    passes: int


def _returned(units: Ints, paid: Ints, quantity: Ints) -> Ints:
    """What ``units`` returned units of lines give back: round_half_up(paid / quantity) each,
    and the whole paid amount once every unit is back."""
    whole = np.maximum(quantity, 1)
    share = np.minimum(units * ((2 * paid + whole) // (2 * whole)), paid)
    return np.where(units >= whole, paid, share)


def _by_tier(tier: Ints, values: list[Ints]) -> Ints:
    """Per element, the value of its tier (0, 1, 2): arithmetic, cheaper than a gather."""
    none, silver, gold = values
    return none + (silver - none) * (tier >= 1) + (gold - silver) * (tier == 2)


def _window_key(customer: Ints, at: Ints) -> tuple[Ints, Callable[[Ints, Ints], Ints]]:
    """A key sorted like (customer, instant), and how to make the key of any instant.

    customer x span + instant when that fits in 64 bits (in seconds when every instant is
    a whole second); otherwise the instant's rank among all instants.
    """
    unit = MICROSECONDS if len(at) and not (at % MICROSECONDS).any() else 1
    low = (int(at.min(initial=0)) - WINDOW - 1) // unit * unit
    span = (int(at.max(initial=0)) + WINDOW + 2 - low) // unit + 1
    if span * (int(customer.max(initial=0)) + 1) < 2**62:

        def shift(customer: Ints, at: Ints) -> Ints:
            # ceil((at - low) / unit): exact for whole units, and never merges two
            # instants that differ by a whole unit
            return customer * span - ((low - at) // unit)

        return shift(customer, at), shift
    instants = np.sort(at)
    ranks = len(instants) + 1

    def rank(customer: Ints, at: Ints) -> Ints:
        return customer * ranks + np.searchsorted(instants, at)

    return rank(customer, at), rank


def _level(spend: Ints) -> Ints:
    return (spend >= SILVER_CENTS).astype(np.int64) + (spend >= GOLD_CENTS)


def coffee_numpy(columns: Columns) -> NumpyRun:  # noqa: PLR0915 (one pipeline, in order)
    """The coffee club with numpy arrays (see the module docstring).

    A purchase's tier depends only on earlier purchases, so iterating "price every line at
    the tiers found so far, then find the tiers from the window sums" from all-none reaches
    the one fixed point, and stops there. Assumes, like the generator, that the skus of a
    purchase are distinct (a refund line matches one line).
    """
    c = columns
    events = len(c.kind)
    first = c.first[:-1]
    row_event = np.repeat(np.arange(events, dtype=np.int64), np.diff(c.first))
    is_purchase = c.kind == PURCHASE
    is_line = is_purchase[row_event]
    weight = np.where(c.appreciation[row_event] == 1, 3, np.where(c.category == COFFEE, 2, 1))
    discountable = is_line & (c.category != MERCH)

    # rolling windows: (customer, instant) as one sortable integer key
    key, shift = _window_key(c.customer, c.at)
    lo = np.searchsorted(key, shift(c.customer, c.at - WINDOW))

    # refunds: which purchase line each refund row touches, in time order per line
    refund_rows = np.flatnonzero(c.kind[row_event] == REFUND)
    touched_line, touched_event, touched_units = _refund_touches(c, row_event, refund_rows)
    order = np.lexsort((touched_event, touched_line))
    touched_line, touched_event = touched_line[order], touched_event[order]
    touched_units = touched_units[order]
    new_line = np.ones(len(touched_line), np.bool_)
    new_line[1:] = touched_line[1:] != touched_line[:-1]
    cumulative = np.cumsum(touched_units)
    segment = np.maximum.accumulate(np.where(new_line, np.arange(len(touched_line)), 0))
    cumulative = cumulative - (cumulative[segment] - touched_units[segment])
    units_after = np.minimum(cumulative, c.quantity[touched_line])
    units_before = np.where(new_line, 0, np.roll(units_after, 1))
    refunded_purchase = row_event[touched_line]
    # a refund takes spend off the purchases evaluated after it whose window still holds
    # the refunded purchase: event indexes (refund, end), end the first at > purchase + 365 d
    window_end = np.searchsorted(
        key, shift(c.customer[refunded_purchase], c.at[refunded_purchase] + WINDOW + 1)
    )

    # each line's discount and paid amount at each tier; each event's and refund's total
    off_by_tier = [np.where(discountable, (c.gross * p + 50) // 100, 0) for p in PERCENT_BY_TIER]
    paid_by_tier = [np.where(is_line, c.gross - off, 0) for off in off_by_tier]
    event_paid = [_segment_sums(paid, first) for paid in paid_by_tier]
    line_units = c.quantity[touched_line]
    taken_by_tier = [
        _returned(units_after, paid[touched_line], line_units)
        - _returned(units_before, paid[touched_line], line_units)
        for paid in paid_by_tier
    ]
    applies = window_end > touched_event + 1
    starts_taking, stops_taking = touched_event[applies] + 1, window_end[applies]

    tier = np.zeros(events, np.int64)
    passes = 0
    while True:
        passes += 1
        cumulative_paid = np.zeros(events + 1, np.int64)
        np.cumsum(_by_tier(tier, event_paid), out=cumulative_paid[1:])
        taken = _by_tier(tier[refunded_purchase], taken_by_tier)[applies]
        change = np.zeros(events + 1, np.int64)
        np.add.at(change, starts_taking, -taken)
        np.add.at(change, stops_taking, taken)
        before = cumulative_paid[:-1] - cumulative_paid[lo] + np.cumsum(change[:-1])
        found = np.where(is_purchase, _level(before), 0)
        if np.array_equal(found, tier):
            break
        tier = found
    off = _by_tier(tier[row_event], off_by_tier)
    paid = _by_tier(tier[row_event], paid_by_tier)

    # what is left of each line after every refund, and the stars on it
    last_of_line = np.append(new_line[1:], True)[: len(new_line)]
    final_line = touched_line[last_of_line]
    left = paid.copy()
    left[final_line] -= _returned(
        units_after[last_of_line], paid[final_line], c.quantity[final_line]
    )
    weighted = _segment_sums(left * weight, first)
    earned = np.where(tier == 2, weighted * 3 // 100, weighted // 50)
    earned = np.where(is_purchase, earned, 0)

    customer_first = np.flatnonzero(np.diff(c.customer, prepend=-1) != 0)
    stars = _segment_sums(earned, customer_first)
    discounts = _segment_sums(_segment_sums(off, first), customer_first)
    last = np.append(customer_first[1:], events) - 1
    cumulative_left = np.zeros(events + 1, np.int64)
    np.cumsum(_segment_sums(left, first), out=cumulative_left[1:])
    final = cumulative_left[last + 1] - cumulative_left[lo[last]]
    outcome = _outcome(c.customers, stars.tolist(), _level(final).tolist(), discounts.tolist())
    return NumpyRun(outcome, passes)


def _refund_touches(c: Columns, row_event: Ints, refund_rows: Ints) -> tuple[Ints, Ints, Ints]:
    """(purchase line, refund event, units asked) for every line each refund row touches."""
    purchase = c.target[row_event[refund_rows]]
    whole = c.sku[refund_rows] < 0
    # a refund of everything touches every line of its purchase, asking for all its units
    whole_rows = refund_rows[whole]
    counts = np.diff(c.first)[c.target[row_event[whole_rows]]]
    whole_event = np.repeat(row_event[whole_rows], counts)
    whole_start = np.repeat(c.first[c.target[row_event[whole_rows]]], counts)
    whole_line = (
        whole_start + np.arange(len(whole_start)) - np.repeat(np.cumsum(counts) - counts, counts)
    )
    # a refund line touches the line of its purchase with the same sku
    part_rows = refund_rows[~whole]
    part_purchase = purchase[~whole]
    counts = np.diff(c.first)[part_purchase]
    candidate = (
        np.repeat(c.first[part_purchase], counts)
        + np.arange(int(counts.sum()))
        - (np.repeat(np.cumsum(counts) - counts, counts))
    )
    owner = np.repeat(np.arange(len(part_rows)), counts)
    match = c.sku[candidate] == c.sku[part_rows][owner]
    part_line, part_owner = candidate[match], owner[match]
    if len(np.unique(part_owner)) != len(part_owner):
        raise ValueError("a purchase has two lines of one sku; the numpy baseline assumes not")
    lines = np.concatenate([whole_line, part_line])
    events = np.concatenate([whole_event, row_event[part_rows][part_owner]])
    units = np.concatenate([c.quantity[whole_line], c.quantity[part_rows][part_owner]])
    return lines.astype(np.int64), events.astype(np.int64), units.astype(np.int64)
