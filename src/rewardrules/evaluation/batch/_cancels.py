"""Cancellations of redemptions over columns: which redemption each one cancels.

A ``cancel_redemption`` names an earlier redemption of its customer; the reference engine
refuses one that names anything else (an unknown id, a purchase, another customer's
redemption, a later one, itself) or a redemption already cancelled, at the cancellation,
with the field ``redemption_id``. Here every cancellation is matched with its redemption
at once, and the first one the reference would refuse, in its order (instant, then id), is
refused with its message, before anything is computed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from rewardrules.errors import event_error
from rewardrules.evaluation.batch._frame import Flags, Frame, pc


def cancelled_redemptions(frame: Frame, cancels: Flags, redemptions: Flags) -> dict[int, int]:
    """Per cancellation (event), the redemption (event) it cancels.

    Raises:
        HistoryError: the first cancellation, by (instant, id), that names no earlier
            redemption of its customer, or a redemption already cancelled; the reference
            engine's message.
    """
    found = np.flatnonzero(cancels)
    if not len(found):
        return {}
    ids, at = frame.event_ids, frame.at
    order = sorted(found.tolist(), key=lambda event: (int(at[event]), ids[event]))
    events = np.asarray(order, dtype=np.int64)
    wanted = frame.redemption_id.take(pa.array(events))
    where = pc.index_in(wanted, value_set=pa.array(ids, pa.string()))
    target = np.asarray(where.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    known = np.maximum(target, 0)
    valid = (
        (target >= 0)
        & redemptions[known]
        & (frame.customer[known] == frame.customer[events])
        & (target < events)  # a customer's events are in the reference's order
    )
    matched: dict[int, int] = {}
    by_redemption: dict[int, int] = {}
    for position, (event, redemption) in enumerate(zip(order, target.tolist())):
        named = wanted[position].as_py()
        if not valid[position]:
            customer = frame.customer_ids[int(frame.customer[event])]
            message = (
                f"it cancels redemption {named}, which customer {customer} has not made "
                "before it; check the redemption id"
            )
            raise event_error(ids[event], message, "redemption_id")
        earlier = by_redemption.setdefault(redemption, event)
        if earlier != event:
            message = f"redemption {named} was already cancelled by {ids[earlier]}; cancel it once"
            raise event_error(ids[event], message, "redemption_id")
        matched[event] = redemption
    return matched


@dataclass(frozen=True, slots=True)
class Catalogue:
    """What the accounts read of the catalogue events besides their flags."""

    cancels: Mapping[int, int] = field(default_factory=dict)
    """Per cancellation (event), the redemption (event) it cancels."""
    tiers: Mapping[int, str | None] = field(default_factory=dict)
    """Per redemption of a reward kept for some tiers (event), the customer's tier then."""
    saved_cancels: Mapping[int, str] = field(default_factory=dict)
    """Per cancellation (event) of a redemption a saved state holds, that redemption's id
    (``_resume``)."""

    def cancelled(self, event: int, ids: Any) -> str | None:
        """The id of the redemption a cancellation (event) cancels; None for another event."""
        found = self.cancels.get(event)
        if found is not None:
            return str(ids[found])
        return self.saved_cancels.get(event)
