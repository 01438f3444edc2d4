"""``refunds.within`` over columns: which refunds the reference engine refuses as late, or as
refunds of purchases its state has forgotten.

The reference forgets, after each purchase, the oldest purchases whose window has passed
(``WorkingState.forget``): it drops them from the front, oldest first, while the front's
window ends before the purchase and it is not the newest. So a purchase is forgotten at a
refund exactly when it is not the customer's latest purchase before the refund and the
windows of it and of every earlier purchase of the customer end before that latest
purchase: a running maximum of the windows' ends, compared with one instant. Days are
elapsed time (the running maximum is the window's own end); months are calendar months in
the program's zone, worked out by the reference's own ``Duration.after``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from rewardrules.engine.lots import Duration
from rewardrules.errors import HistoryError, event_error
from rewardrules.evaluation.batch._frame import Frame, Ints

_DAY_US = 86_400_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def first_refused(
    frame: Frame,
    events: Ints,
    targets: Ints,
    valid: Any,
    is_purchase: Any,
    window: tuple[Duration, ZoneInfo],
) -> tuple[int, HistoryError] | None:
    """The first refund (by position in ``events``) the window refuses, with the reference's
    error; a refund of no known purchase counts too, with the forgotten purchase's message
    once the customer has forgotten one (the reference cannot tell them apart then).

    ``targets`` are the refunded purchases' events (valid where ``valid``).
    """
    within, zone = window
    customer = frame.customer
    everywhere = np.arange(frame.events, dtype=np.int64)
    # The customer's latest purchase before each refund (-1: none).
    latest = np.maximum.accumulate(np.where(is_purchase, everywhere, -1))[events]
    latest = np.where(
        (latest >= 0) & (customer[np.maximum(latest, 0)] == customer[events]), latest, -1
    )
    # The customer's first purchase, if it comes before the refund (-1: none).
    after = np.minimum.accumulate(np.where(is_purchase, everywhere, frame.events)[::-1])[::-1]
    first = np.append(after, frame.events)[frame.customer_start[customer[events]]]
    first = np.where(first < events, first, -1)
    customers = np.isin(customer, customer[events])
    ends, reach = _window_ends(frame, is_purchase, customers, within, zone)
    latest_at = frame.at[np.maximum(latest, 0)]

    def forgotten(purchase: Ints) -> Any:
        return (purchase >= 0) & (purchase != latest) & (reach[np.maximum(purchase, 0)] < latest_at)

    target = np.maximum(targets, 0)
    lost = np.where(valid, forgotten(targets), forgotten(first))
    late = valid & ~lost & (frame.at[events] > ends[target])
    refused = np.flatnonzero(lost | late)
    if not len(refused):
        return None
    position = int(refused[0])
    event, purchase = int(events[position]), int(targets[position])
    refund_id = frame.event_ids[event]
    purchase_id = frame.purchase_id[event].as_py()
    if lost[position]:
        customer_id = frame.customer_ids[int(customer[event])]
        message = (
            f"it refunds purchase {purchase_id}, which customer {customer_id} made more than "
            f"{within.text} before it or never: the program's refunds.within is "
            f"{within.text}, and older purchases are forgotten; check the purchase id, and "
            "refund within the policy"
        )
        return position, event_error(refund_id, message, "purchase_id")
    bought = date.fromordinal(int(frame.local_date[purchase])).isoformat()
    message = (
        f"it refunds purchase {purchase_id} of {bought}, more than {within.text} before; "
        f"the program's refunds.within is {within.text}, so that purchase can no longer be "
        "refunded"
    )
    return position, event_error(refund_id, message, "at")


def _window_ends(
    frame: Frame, is_purchase: Any, customers: Any, within: Duration, zone: ZoneInfo
) -> tuple[Ints, Ints]:
    """When each purchase's window ends, and the latest such end among the customer's
    purchases up to it, in microseconds; computed for ``customers``' purchases."""
    if not within.months:
        ends = frame.at + within.days * _DAY_US
        return ends, ends  # elapsed days: the ends rise with the purchases
    ends = np.zeros(frame.events, dtype=np.int64)
    reach = np.zeros(frame.events, dtype=np.int64)
    previous, highest = -1, 0
    for event in np.flatnonzero(is_purchase & customers).tolist():
        bought = _EPOCH + timedelta(microseconds=int(frame.at[event]))
        end = (within.after(bought, zone) - _EPOCH) // _MICROSECOND
        who = int(frame.customer[event])
        highest = end if who != previous else max(highest, end)
        previous = who
        ends[event], reach[event] = end, highest
    return ends, reach
