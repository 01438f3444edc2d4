"""Refunds over columns: a short loop over the refunds, on the paid amounts of their purchases.

Refunds are few beside purchases, and each one depends on the refunds of its purchase
before it, so they run one by one, in the reference engine's order, through the reference
engine's own ``refunded_lines`` (same units, amounts and messages). What a refund changes
for tiers (a purchase counts less from the refund on) is handed to the tier windows as a
correction over the later purchases whose window holds the refunded purchase.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from rewardrules.engine.lots import Duration
from rewardrules.engine.refunds import RefundError, refunded_lines
from rewardrules.errors import HistoryError, event_error
from rewardrules.evaluation.batch._frame import Frame, Ints
from rewardrules.evaluation.batch._window import first_refused


@dataclass(frozen=True, slots=True)
class _Line:
    sku: str | None
    quantity: int


@dataclass(frozen=True, slots=True)
class _Purchase:
    """What ``refunded_lines`` reads of a purchase."""

    id: str
    lines: tuple[_Line, ...]


@dataclass(slots=True)
class _Record:
    """What ``refunded_lines`` reads of a purchase's record, kept between its refunds."""

    purchase: _Purchase
    paid: list[int]
    refunded_units: list[int]
    refunded_amount: list[int]


@dataclass(frozen=True, slots=True)
class _Refund:
    """What ``refunded_lines`` reads of a refund: its lines (None for everything left)."""

    id: str
    lines: tuple[_Line, ...] | None


@dataclass(frozen=True, slots=True)
class RefundStep:
    """One refund as applied: which purchase, units and paid amounts refunded per line so
    far (before and after it), and the paid amount it gives back."""

    event: int
    purchase: int
    units_before: tuple[int, ...]
    units_after: tuple[int, ...]
    amounts_before: tuple[int, ...]
    amounts_after: tuple[int, ...]
    given_back: int


@dataclass(slots=True)
class Refunds:
    """The refunds of a frame, in the reference engine's order, with their purchases."""

    events: list[int]
    purchases: list[int]
    requests: list[_Refund]
    unknown: tuple[int, HistoryError] | None = None
    """The first refund (by position) of a purchase the customer does not have before it,
    or that ``refunds.within`` refuses (late, or of a forgotten purchase)."""
    bought: dict[int, _Purchase] = field(default_factory=dict)
    """The refunded purchases' lines, by event."""
    lines: Ints | None = None
    """Every line of the refunded purchases (for :meth:`apply` to see what changed)."""
    line_purchase: Ints | None = None
    """The purchase of each of those lines."""
    applied_on: Ints | None = None
    """The paid amounts of those lines at the last :meth:`apply`."""
    steps: list[RefundStep] = field(default_factory=list)
    units: _Units | None = None
    """What every refund gave back in units, once :meth:`apply` has run them all."""

    @classmethod
    def of(
        cls,
        frame: Frame,
        is_refund: Any,
        is_purchase: Any,
        window: tuple[Duration, ZoneInfo] | None = None,
    ) -> Refunds:
        """Find each refund's purchase: the customer's purchase with that id before it.

        A refund without one, or one that ``window`` (``refunds.within`` and the program's
        zone) refuses, is kept as the error :meth:`apply` raises when it gets there.
        """
        found = np.flatnonzero(is_refund)
        if not len(found):
            return cls([], [], [])
        ids = frame.event_ids
        at = frame.at[found].tolist()
        order = [
            event
            for _, _, event in sorted(
                zip(at, ids[found].tolist(), found.tolist(), strict=True),
            )
        ]
        events = np.asarray(order, dtype=np.int64)
        wanted = frame.purchase_id.take(events)
        target = frame.index_of(wanted)
        valid = (
            (target >= 0)
            & is_purchase[np.maximum(target, 0)]
            & (frame.customer[np.maximum(target, 0)] == frame.customer[events])
            & (target < events)
        )
        unknown = None
        if not valid.all():
            bad = int(np.flatnonzero(~valid)[0])
            event = int(events[bad])
            customer = frame.customer_ids[int(frame.customer[event])]
            error = event_error(
                ids[event],
                f"it refunds purchase {wanted[bad].as_py()}, but customer {customer} has no "
                "such purchase before it; check the purchase id, and that the refund comes "
                "after its purchase",
                "purchase_id",
            )
            unknown = (bad, error)
        if window is not None:
            refused = first_refused(frame, events, target, valid, is_purchase, window)
            if refused is not None and (unknown is None or refused[0] <= unknown[0]):
                unknown = refused
        requests = _requests(frame, order)
        purchases = target.tolist()
        bought = _purchases(frame, sorted(set(purchases)))
        return cls(order, purchases, requests, unknown, bought)

    def refunded_purchases(self) -> dict[str, int]:
        """The totals' ``refunded_purchases`` and ``fully_refunded_purchases``: purchases
        the applied refunds gave back some of, and those with every unit given back."""
        last = {step.purchase: step.units_after for step in self.steps}
        full = sum(
            all(done == line.quantity for done, line in zip(units, self.bought[purchase].lines))
            for purchase, units in last.items()
        )
        return {"refunded_purchases": len(last), "fully_refunded_purchases": full}

    def apply(self, frame: Frame, paid: Ints) -> list[RefundStep]:
        """Run every refund on these paid amounts; return (and keep) what each did.

        Raises:
            HistoryError: a refund of a sku the purchase does not have, of more units than
                are left, or of a purchase already refunded in full.
        """
        if self.lines is None:
            chosen = np.asarray([purchase for purchase in sorted(self.bought) if purchase >= 0])
            chosen = chosen.astype(np.int64)
            sizes = frame.line_start[chosen + 1] - frame.line_start[chosen]
            self.line_purchase = np.repeat(chosen, sizes)
            within = np.arange(len(self.line_purchase)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
            self.lines = frame.line_start[self.line_purchase] + within
        seen = np.asarray(paid, dtype=np.int64)[self.lines]
        if self.applied_on is not None and np.array_equal(seen, self.applied_on):
            return self.steps  # the refunded purchases paid the same: nothing changes
        # A purchase's refunds depend on its own paid amounts alone: those of a purchase
        # that paid the same as at the last run are kept as they were.
        changed: set[int] | None = None
        previous = self.steps
        if self.applied_on is not None and len(previous) == len(self.events):
            assert self.line_purchase is not None  # noqa: S101 -- set with the lines
            changed = set(self.line_purchase[seen != self.applied_on].tolist())
        self.applied_on = seen
        if self.units is not None and changed is not None:
            self.steps = self.units.steps(paid, previous, self.purchases, changed)
            return self.steps
        records: dict[int, _Record] = {}
        steps = []
        for position, (event, purchase, request) in enumerate(
            zip(self.events, self.purchases, self.requests)
        ):
            if self.unknown is not None and self.unknown[0] == position:
                raise self.unknown[1]
            if changed is not None and purchase not in changed:
                steps.append(previous[position])
                continue
            record = records.get(purchase)
            if record is None:
                start = int(frame.line_start[purchase])
                bought = self.bought[purchase]
                count = len(bought.lines)
                amounts = paid[start : start + count].tolist()
                record = records[purchase] = _Record(bought, amounts, [0] * count, [0] * count)
            try:
                units, amounts = refunded_lines(record, request)  # type: ignore[arg-type]
            except RefundError as error:
                raise _refund_error(request.id, error) from None
            given_back = sum(amounts) - sum(record.refunded_amount)
            steps.append(
                RefundStep(
                    event,
                    purchase,
                    tuple(record.refunded_units),
                    tuple(units),
                    tuple(record.refunded_amount),
                    tuple(amounts),
                    given_back,
                )
            )
            record.refunded_units, record.refunded_amount = units, amounts
        self.steps = steps
        self.units = _Units.of(frame, steps)
        return steps


@dataclass(frozen=True, slots=True)
class _Units:
    """The units each refund gave back, line by line, flattened (one row per line of its
    purchase, the refunds in order).

    Which units a refund gives back depends on the purchase's lines and the refunds
    before it, never on the amounts paid, and neither do its errors: once every refund
    has run, the amounts of another price pass are ``refunded_amount`` over whole
    arrays.
    """

    lines: Ints
    """Each row's line in the frame."""
    quantity: Ints
    after: Ints
    """The line's units refunded after the refund."""
    previous: Ints
    """The row of the same line at the purchase's refund before (-1 for none)."""
    offsets: Ints
    """Where each refund's rows start, then the row count."""

    @classmethod
    def of(cls, frame: Frame, steps: list[RefundStep]) -> _Units:
        """Flatten the refunds as :meth:`Refunds.apply` ran them."""
        purchases = np.asarray([step.purchase for step in steps], dtype=np.int64)
        first = frame.line_start[purchases]
        sizes = frame.line_start[purchases + 1] - first
        offsets = np.zeros(len(steps) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        owner = np.repeat(np.arange(len(steps), dtype=np.int64), sizes)
        within = np.arange(int(offsets[-1]), dtype=np.int64) - offsets[owner]
        lines = first[owner] + within
        after = np.fromiter(
            (units for step in steps for units in step.units_after),
            dtype=np.int64,
            count=int(offsets[-1]),
        )
        latest: dict[int, int] = {}
        before = []
        for position, purchase in enumerate(purchases.tolist()):
            before.append(latest.get(purchase, -1))
            latest[purchase] = position
        step_before = np.asarray(before, dtype=np.int64)[owner]
        previous = np.where(step_before >= 0, offsets[np.maximum(step_before, 0)] + within, -1)
        return cls(lines, frame.quantity[lines], after, previous, offsets)

    def steps(
        self, paid: Ints, previous: list[RefundStep], purchases: list[int], changed: set[int]
    ) -> list[RefundStep]:
        """The refunds again on new paid amounts: the steps of purchases not in
        ``changed`` are kept; the others get the amounts ``refunded_lines`` gives."""
        worth = np.asarray(paid, dtype=np.int64)[self.lines]
        quantity = self.quantity
        # engine.refunds.refunded_amount, with money.divide_half_up, row by row.
        half_up = np.where(
            worth >= 0,
            (2 * worth + quantity) // (2 * quantity),
            -((-2 * worth + quantity) // (2 * quantity)),
        )
        after = np.where(self.after >= quantity, worth, np.minimum(self.after * half_up, worth))
        before = np.where(self.previous >= 0, after[np.maximum(self.previous, 0)], 0)
        back = np.add.reduceat(after - before, self.offsets[:-1]).tolist() if len(after) else []
        after_list, before_list, offsets = after.tolist(), before.tolist(), self.offsets.tolist()
        steps = []
        for position, (step, purchase) in enumerate(zip(previous, purchases)):
            if purchase not in changed:
                steps.append(step)
                continue
            start, end = offsets[position], offsets[position + 1]
            steps.append(
                RefundStep(
                    step.event,
                    purchase,
                    step.units_before,
                    step.units_after,
                    tuple(before_list[start:end]),
                    tuple(after_list[start:end]),
                    back[position],
                )
            )
        return steps


def _refund_error(refund_id: str, error: RefundError) -> HistoryError:
    return event_error(refund_id, str(error), *error.path)


def _lines_of(frame: Frame, events: list[int]) -> tuple[list[int], list[str | None], list[int]]:
    """The lines of some events in one gather: where each event's lines start among them
    (then their count), and the lines' skus and quantities."""
    chosen = np.asarray(events, dtype=np.int64)
    starts, ends = frame.line_start[chosen], frame.line_start[chosen + 1]
    sizes = ends - starts
    bounds = np.zeros(len(chosen) + 1, dtype=np.int64)
    np.cumsum(sizes, out=bounds[1:])
    lines = np.repeat(starts - bounds[:-1], sizes) + np.arange(int(bounds[-1]), dtype=np.int64)
    texts = frame.sku.texts_of
    skus = [texts[code] for code in frame.sku.codes[lines].tolist()]
    return bounds.tolist(), skus, frame.quantity[lines].tolist()


def _purchases(frame: Frame, purchases: list[int]) -> dict[int, _Purchase]:
    """What ``refunded_lines`` reads of these purchases (an unknown one, -1, has no lines:
    its refund raises before use)."""
    known = [purchase for purchase in purchases if purchase >= 0]
    found = {purchase: _Purchase("", ()) for purchase in purchases if purchase < 0}
    bounds, skus, quantities = _lines_of(frame, known)
    ids = frame.event_ids
    for place, purchase in enumerate(known):
        start, end = bounds[place], bounds[place + 1]
        lines = tuple(map(_Line, skus[start:end], quantities[start:end]))
        found[purchase] = _Purchase(ids[purchase], lines)
    return found


def _requests(frame: Frame, events: list[int]) -> list[_Refund]:
    """What ``refunded_lines`` reads of these refunds."""
    bounds, skus, quantities = _lines_of(frame, events)
    ids = frame.event_ids
    found = []
    for place, event in enumerate(events):
        start, end = bounds[place], bounds[place + 1]
        if end - start == 1 and skus[start] is None:
            found.append(_Refund(ids[event], None))
        else:
            lines = tuple(map(_Line, skus[start:end], quantities[start:end]))
            found.append(_Refund(ids[event], lines))
    return found


def emptying(frame: Frame, steps: list[RefundStep]) -> frozenset[int]:
    """The refunds (events) after which their purchase is refunded in full: it no longer
    counts as activity for ``expire_on_inactivity``."""
    quantity, line_start = frame.quantity, frame.line_start
    return frozenset(
        step.event
        for step in steps
        if list(step.units_after)
        == quantity[line_start[step.purchase] : line_start[step.purchase + 1]].tolist()
    )
