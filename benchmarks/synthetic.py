"""Seeded synthetic histories as Arrow tables in the ``HISTORY_SCHEMA`` layout, made fast.

Everything is drawn with numpy arrays (no Python loop per row), so a history of ten million
purchases is made in tens of seconds rather than tens of minutes:

* **customers**: visit rates drawn log-normal (most customers reach silver within a year on
  the coffee club, some gold, some none), or exactly one purchase each (``one_each``);
* **purchases**: instants uniform over 2025-2026 in whole seconds; on purpose about 0.5%
  fall exactly 365 days after the same customer's previous purchase (the first instant of
  a rolling window) and about 0.2% in the same second as it (then the order goes by id);
  1-4 lines (50/30/15/5%) of distinct items of the coffee-shop menu, drawn by weight
  without replacement, quantities 1-3 (80/15/5%);
* **refunds** (``refund_share`` of the purchases, 1% by default), 1 hour to 30 days after
  the purchase: odd-numbered ones return everything, even-numbered ones some units of one
  line; every tenth partial refund is followed a few days later by a refund of the rest
  (its id is the partial refund's with a ``b``);
* **redemptions** (``redemption_share`` per purchase, none by default) of the catalogue
  reward ``free-drink``, which only ``lifecycle-program.yaml`` has.

Ids are fixed-width (``c0042``, ``p0000123``, ``r0000007``, ``r0000010b``, ``x0000001``),
so the order of ids as text is the order of their numbers. The rows are in generation
order (every purchase by id, then refunds, then redemptions), or sorted by customer, then
instant, then id with ``sorted_by_customer``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from rewardrules.histories.columns import HISTORY_SCHEMA

HISTORY_START = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
HISTORY_SECONDS = 730 * 86_400
YEAR_SECONDS = 365 * 86_400
YEAR_LATER_SHARE = 0.005
SAME_SECOND_SHARE = 0.002
REFUND_DELAY_SECONDS = (3_600, 30 * 86_400)
MICROSECONDS = 1_000_000

# sku, category, unit price in cents, how often it is picked (as in coffee_club.py)
MENU: tuple[tuple[str, str, int, int], ...] = (
    ("espresso", "coffee", 325, 30),
    ("latte", "coffee", 450, 25),
    ("cappuccino", "coffee", 425, 15),
    ("cold-brew", "coffee", 475, 10),
    ("drip", "coffee", 295, 20),
    ("house-blend-beans-12oz", "coffee", 1699, 3),
    ("croissant", "bakery", 375, 12),
    ("muffin", "bakery", 350, 10),
    ("sandwich", "food", 895, 8),
    ("club-mug", "merch", 1800, 2),
    ("tumbler", "merch", 2400, 1),
)
CATEGORIES = ("coffee", "bakery", "food", "merch")
LINES_PER_PURCHASE = ((1, 2, 3, 4), (0.50, 0.30, 0.15, 0.05))
QUANTITIES = ((1, 2, 3), (0.80, 0.15, 0.05))
REDEEMED_REWARD = "free-drink"
CHUNK = 1_000_000  # purchases per block when drawing lines (bounds the temporary arrays)

Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Rows:
    """A history as numpy columns, one entry per row, before it becomes an Arrow table.

    ``kind`` is 0 for a purchase line, 1 for a refund row, 2 for a redemption; ``number``
    is the event's number among its kind; ``rest`` marks a refund of the rest (id with
    ``b``); ``item`` is the menu index (-1 for none); ``quantity`` -1 for none; ``target``
    the refunded purchase's number (0 for none).
    """

    kind: Ints
    number: Ints
    rest: Ints
    customer: Ints
    at: Ints
    item: Ints
    quantity: Ints
    target: Ints

    def __len__(self) -> int:
        return len(self.kind)

    def take(self, order: Ints) -> Rows:
        """The rows in another order."""
        return Rows(*(getattr(self, name)[order] for name in self.__slots__))


def generate_rows(
    customers: int,
    purchases: int,
    seed: int,
    *,
    one_each: bool = False,
    refund_share: float = 0.01,
    redemption_share: float = 0.0,
) -> Rows:
    """The rows of a seeded history (see the module docstring)."""
    rng = np.random.default_rng(seed)
    if one_each:
        if purchases != customers:
            raise ValueError("one purchase each needs as many purchases as customers")
        buyer = rng.permutation(customers).astype(np.int64)
    else:
        rates = rng.lognormal(0.0, 0.8, customers)
        buyer = rng.choice(customers, size=purchases, p=rates / rates.sum()).astype(np.int64)
    at = HISTORY_START + rng.integers(0, HISTORY_SECONDS, purchases, dtype=np.int64)
    _add_edges(rng, buyer, at)

    counts = rng.choice(LINES_PER_PURCHASE[0], size=purchases, p=LINES_PER_PURCHASE[1])
    counts = counts.astype(np.int64)
    items = _distinct_items(rng, purchases)
    line_purchase = np.repeat(np.arange(purchases, dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    position = np.arange(len(line_purchase), dtype=np.int64) - starts[line_purchase]
    line_item = items[line_purchase, position].astype(np.int64)
    line_quantity = rng.choice(QUANTITIES[0], size=len(line_purchase), p=QUANTITIES[1])
    line_quantity = line_quantity.astype(np.int64)
    lines = len(line_purchase)
    purchase_rows = Rows(
        kind=np.zeros(lines, np.int64),
        number=line_purchase + 1,
        rest=np.zeros(lines, np.int64),
        customer=buyer[line_purchase],
        at=at[line_purchase],
        item=line_item,
        quantity=line_quantity,
        target=np.zeros(lines, np.int64),
    )
    parts = [purchase_rows, _refunds(rng, refund_share, buyer, at, counts, starts, purchase_rows)]
    if redemption_share > 0:
        parts.append(_redemptions(rng, redemption_share, buyer, at))
    names = Rows.__slots__
    return Rows(*(np.concatenate([getattr(part, name) for part in parts]) for name in names))


def _add_edges(rng: np.random.Generator, buyer: Ints, at: Ints) -> None:
    """Move a few purchases to 365 days after, or the same second as, the previous one."""
    order = np.lexsort((at, buyer))
    before, after = order[:-1], order[1:]
    same_customer = buyer[before] == buyer[after]
    draw = rng.random(len(after))
    previous = at[before]
    year_later = same_customer & (draw < YEAR_LATER_SHARE)
    year_later &= previous + YEAR_SECONDS < HISTORY_START + HISTORY_SECONDS
    same_second = same_customer & (draw >= YEAR_LATER_SHARE)
    same_second &= draw < YEAR_LATER_SHARE + SAME_SECOND_SHARE
    at[after[year_later]] = previous[year_later] + YEAR_SECONDS
    at[after[same_second]] = previous[same_second]


def _distinct_items(rng: np.random.Generator, purchases: int) -> npt.NDArray[np.int8]:
    """Four distinct menu items per purchase, drawn by weight without replacement.

    The Gumbel top-k trick: the k largest of log(weight) + Gumbel noise are a weighted
    sample without replacement.
    """
    log_weights = np.log(np.array([weight for *_, weight in MENU], dtype=np.float64))
    items = np.empty((purchases, 4), np.int8)
    for start in range(0, purchases, CHUNK):
        size = min(CHUNK, purchases - start)
        keys = rng.gumbel(size=(size, len(MENU))) + log_weights
        items[start : start + size] = np.argsort(-keys, axis=1)[:, :4]
    return items


def _refunds(
    rng: np.random.Generator,
    share: float,
    buyer: Ints,
    at: Ints,
    counts: Ints,
    starts: Ints,
    lines: Rows,
) -> Rows:
    purchases = len(buyer)
    total = round(purchases * share)
    picked = np.sort(rng.choice(purchases, size=total, replace=False)).astype(np.int64)
    number = np.arange(1, total + 1, dtype=np.int64)
    partial = number % 2 == 0
    chosen_line = starts[picked] + rng.integers(0, counts[picked])
    line_quantity = lines.quantity[chosen_line]
    quantity = np.where(partial, rng.integers(1, line_quantity + 1), -1)
    item = np.where(partial, lines.item[chosen_line], -1)
    low, high = REFUND_DELAY_SECONDS
    refund_at = at[picked] + rng.integers(low, high + 1, total)
    rest = partial & (number % 10 == 0) & ((counts[picked] > 1) | (quantity < line_quantity))
    rest_at = refund_at[rest] + rng.integers(low, high + 1, int(rest.sum()))
    first, second = np.zeros(total, np.int64), np.ones(int(rest.sum()), np.int64)
    return Rows(
        kind=np.ones(total + len(second), np.int64),
        number=np.concatenate([number, number[rest]]),
        rest=np.concatenate([first, second]),
        customer=np.concatenate([buyer[picked], buyer[picked[rest]]]),
        at=np.concatenate([refund_at, rest_at]),
        item=np.concatenate([item, np.full(len(second), -1, np.int64)]),
        quantity=np.concatenate([quantity, np.full(len(second), -1, np.int64)]),
        target=np.concatenate([picked + 1, picked[rest] + 1]),
    )


def _redemptions(rng: np.random.Generator, share: float, buyer: Ints, at: Ints) -> Rows:
    total = round(len(buyer) * share)
    after = rng.choice(len(buyer), size=total, replace=False).astype(np.int64)
    none = np.full(total, -1, np.int64)
    return Rows(
        kind=np.full(total, 2, np.int64),
        number=np.arange(1, total + 1, dtype=np.int64),
        rest=np.zeros(total, np.int64),
        customer=buyer[after],
        at=at[after] + rng.integers(60, 90 * 86_400, total),
        item=none,
        quantity=none,
        target=np.zeros(total, np.int64),
    )


def sort_by_customer(rows: Rows) -> Rows:
    """The rows by customer, then instant, then event id (lines of an event stay in order)."""
    # The rank of an event's id among ids as text: p... < r... < r...b < x...
    rank = rows.kind * (4 * (int(rows.number.max(initial=0)) + 1)) + 2 * rows.number + rows.rest
    return rows.take(np.lexsort((rank, rows.at, rows.customer)))


def _fixed_ids(
    prefix: bytes, numbers: Ints, width: int, suffix: npt.NDArray[np.bool_] | None = None
) -> pa.StringArray:
    """Ids such as ``p0000042`` (and ``p0000042b`` where ``suffix``), built as bytes."""
    count = len(numbers)
    chars = np.empty((count, width + 2), np.uint8)
    chars[:, 0] = prefix[0]
    rest = numbers.astype(np.uint64)
    for place in range(width, 0, -1):
        rest, digit = np.divmod(rest, np.uint64(10))
        chars[:, place] = digit + ord("0")
    chars[:, width + 1] = ord("b")
    lengths = np.full(count, width + 1, np.int64)
    if suffix is not None:
        lengths += suffix
    keep = np.arange(width + 2) < lengths[:, None]
    offsets = np.zeros(count + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] >= 2**31:
        raise ValueError("too many ids for one Arrow string array; generate fewer rows")
    buffers = [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(chars[keep])]
    return pa.Array.from_buffers(pa.string(), count, buffers)


def _codes(codes: Ints, words: tuple[str, ...]) -> pa.Array:
    """Text from small codes (-1 is null), through an Arrow dictionary."""
    indices = pa.array(codes.astype(np.int32), mask=codes < 0)
    return pa.DictionaryArray.from_arrays(indices, pa.array(words)).cast(pa.string())


def to_table(rows: Rows, customers: int, purchases: int) -> pa.Table:
    """The rows as an Arrow table with the ``HISTORY_SCHEMA`` columns."""
    width = len(str(max(purchases, int(rows.number.max(initial=1)))))
    count = len(rows)
    prefixes = np.array([ord("p"), ord("r"), ord("x")], np.uint8)[rows.kind]
    ids = _fixed_ids(b"p", rows.number, width, rows.rest.astype(np.bool_))
    # the first character is the kind's letter
    id_bytes = np.frombuffer(ids.buffers()[2], np.uint8).copy()
    id_offsets = np.frombuffer(ids.buffers()[1], np.int32)[: count + 1]
    id_bytes[id_offsets[:-1]] = prefixes
    event_id = pa.Array.from_buffers(
        pa.string(), count, [None, pa.py_buffer(id_offsets.copy()), pa.py_buffer(id_bytes)]
    )
    customer_id = _fixed_ids(b"c", rows.customer + 1, len(str(customers)))
    is_line = rows.kind == 0
    item = np.where(rows.item >= 0, rows.item, -1)
    categories = np.array([CATEGORIES.index(category) for _, category, *_ in MENU])
    category = np.where(is_line, categories[np.maximum(item, 0)], -1)
    prices = np.array([price for _, _, price, _ in MENU], np.int64)
    unscaled = np.zeros((count, 2), np.int64)  # decimal128: low and high 64-bit words
    unscaled[:, 0] = np.where(is_line, prices[np.maximum(item, 0)], 0) * 10**10
    validity = pa.array(is_line).buffers()[1]
    unit_price = pa.Array.from_buffers(
        pa.decimal128(38, 12), count, [validity, pa.py_buffer(unscaled)]
    )
    purchase_id = _fixed_ids(b"p", rows.target, width)
    purchase_id = pa.Array.from_buffers(
        pa.string(),
        count,
        [pa.array(rows.kind == 1).buffers()[1], *purchase_id.buffers()[1:]],
    )
    reward = _codes(np.where(rows.kind == 2, 0, -1), (REDEEMED_REWARD,))
    columns = {
        "event_id": event_id,
        "type": _codes(rows.kind, ("purchase", "refund", "redemption")),
        "customer_id": customer_id,
        "at": pa.array(rows.at * MICROSECONDS, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "utc_offset": pa.nulls(count, pa.int32()),
        "sku": _codes(item, tuple(sku for sku, *_ in MENU)),
        "category": _codes(category, CATEGORIES),
        "quantity": pa.array(rows.quantity, mask=rows.quantity < 0),
        "unit_price": unit_price,
        "purchase_id": purchase_id,
        "store": pa.nulls(count, pa.string()),
        "reward": reward,
        "payments": pa.nulls(count, pa.string()),
        "redemption_id": pa.nulls(count, pa.string()),
        "line": pa.nulls(count, pa.int64()),
    }
    return pa.table(columns, schema=HISTORY_SCHEMA)


def history_table(
    customers: int,
    purchases: int,
    seed: int,
    *,
    one_each: bool = False,
    sorted_by_customer: bool = False,
    refund_share: float = 0.01,
    redemption_share: float = 0.0,
) -> pa.Table:
    """A seeded history table (see the module docstring)."""
    rows = generate_rows(
        customers,
        purchases,
        seed,
        one_each=one_each,
        refund_share=refund_share,
        redemption_share=redemption_share,
    )
    if sorted_by_customer:
        rows = sort_by_customer(rows)
    return to_table(rows, customers, purchases)
