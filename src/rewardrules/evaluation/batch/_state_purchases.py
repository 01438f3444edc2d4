"""A saved state's purchases: which are kept, and the kept ones as saved columns.

``refunds.within`` forgets a customer's older purchases (never the newest); this module
says which are kept and which forgotten, when the latest forgotten one not refunded in
full was made, and writes the kept ones as ``_state_save.saved_row`` does (lines, paid amounts,
their last refund's units and amounts, each rule's points net of refunds, the shares a
rule earned on where not what was paid, the rules set aside or stopped at each), read
straight from the frame's columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import cast

import numpy as np

from rewardrules.engine._state_columns import SavedLine, SavedPurchase
from rewardrules.evaluation.batch._refunds import RefundStep
from rewardrules.evaluation.batch._state_inputs import StateColumns
from rewardrules.evaluation.batch._state_rules import ran_at


def forget(columns: StateColumns, bought: list[int], now: datetime) -> tuple[list[int], list[int]]:
    """The purchases kept and forgotten (``refunds.within``), oldest first.

    The reference forgets from the front after every purchase and at the end, never
    the newest; since the instant only grows, that is one pass at the last event.
    """
    plan = columns.plan
    within = plan.refunds_within
    if within is None:
        return bought, []
    moment = columns.moment
    count = 0
    while count < len(bought) - 1 and within.after(moment(bought[count]), plan.zone) < now:
        count += 1
    return bought[count:], bought[:count]


def settled_purchase(
    columns: StateColumns, last: Mapping[int, RefundStep], forgotten: list[int]
) -> datetime | None:
    """When the latest forgotten purchase not refunded in full was made (``forget``):
    a forgotten purchase can no longer be refunded, so its last refund is its final."""
    frame = columns.frame
    for event in reversed(forgotten):
        step = last.get(event)
        start, end = int(frame.line_start[event]), int(frame.line_start[event + 1])
        if step is None or list(step.units_after) != frame.quantity[start:end].tolist():
            return columns.moment(event)
    return None


def saved_purchases(
    columns: StateColumns,
    running: Mapping[str, int],
    last: Mapping[int, RefundStep],
    kept: list[int],
) -> tuple[SavedPurchase, ...]:
    """The kept purchases as ``_state_save.saved_row`` writes them: integers read straight
    from the frame's columns (minor units, microseconds, offset seconds), each column
    read once for the customer's kept purchases."""
    if not kept:
        return ()
    frame = columns.frame
    names = () if columns.plan.tiers is None else columns.plan.tiers.names
    chosen = np.asarray(kept, dtype=np.int64)
    ats = frame.at[chosen].tolist()
    offsets = frame.utc_offset[chosen].tolist()
    tiers = columns.tier[chosen].tolist()
    stores = frame.store.take(chosen).to_pylist()
    given = [
        (rule.rule_id, rule.given[chosen].tolist(), rule.net)
        for rule in sorted(columns.rule_points, key=lambda rule: running[rule.rule_id])
    ]
    shares = [
        (
            rule.rule_id,
            (rule.given if rule.wanted is None else rule.wanted)[chosen].tolist(),
            rule.earned_on,
        )
        for rule in columns.rule_points
        if rule.earned_on is not None
    ]
    # A gift card beside its group's price member keeps what it saw wherever it ran.
    shares += [
        (cards.rule_id, ran_at(columns, cards.rule_id, chosen), cards.earned_on)
        for cards in columns.gift_cards
        if cards.earned_on is not None
    ]
    shares.sort(key=lambda share: running[share[0]])
    # The lines of the kept purchases: one run of rows, from the first to the last.
    first, end = int(frame.line_start[kept[0]]), int(frame.line_start[kept[-1] + 1])
    starts = (frame.line_start[chosen] - first).tolist()
    ends = (frame.line_start[chosen + 1] - first).tolist()
    skus = frame.sku.texts(first, end)
    categories = frame.category.texts(first, end)
    quantities = frame.quantity[first:end].tolist()
    prices = frame.unit_price[first:end].tolist()
    paid = np.asarray(columns.paid[first:end], dtype=np.int64).tolist()
    ids = frame.event_ids
    stopped, stages = columns.stopped, columns.plan.stage_rules

    aside = sorted(columns.aside, key=lambda member: running[member[0]])

    def stopped_at(event: int) -> tuple[str, ...]:
        """The rules an exclusive group set aside at a purchase (in running order), then
        those a final rule stopped there: the rules of the later steps."""
        found = tuple(rule for rule, flags in aside if flags[event])
        if stopped is None:
            return found
        return found + tuple(rule for stage in stages[int(stopped[event]) + 1 :] for rule in stage)

    rows = []
    for place, event in enumerate(kept):
        start, stop = starts[place], ends[place]
        step = last.get(event)
        count = stop - start
        units = (0,) * count if step is None else step.units_after
        amounts = (0,) * count if step is None else step.amounts_after
        points: dict[str, int] = {}
        for rule_id, gave, net in given:
            if gave[place]:
                points[rule_id] = net.get(event, gave[place])
        index = tiers[place]
        earned: dict[str, tuple[int, ...]] = {}
        for rule_id, gave, on in shares:
            if gave[place]:  # the shares it earned on (before a limit), when not paid
                seen = tuple(int(share) for share in on[first + start : first + stop])
                if list(seen) != paid[start:stop]:
                    earned[rule_id] = seen
        lines = tuple(
            SavedLine(cast("str", sku), category, quantity, price, line_paid, done, back)
            for sku, category, quantity, price, line_paid, done, back in zip(
                skus[start:stop],  # a purchase line's sku: the frame refused a missing one
                categories[start:stop],
                quantities[start:stop],
                prices[start:stop],
                paid[start:stop],
                units,
                amounts,
                strict=True,
            )
        )
        rows.append(
            SavedPurchase(
                str(ids[event]),
                ats[place],
                offsets[place],
                stores[place],
                None if index < 0 else names[index],
                lines,
                points,
                stopped_at(event),
                earned,
            )
        )
    return tuple(rows)
