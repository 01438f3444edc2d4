"""A saved state's tiers: what keeps a level, and what forgotten purchases still count.

For ``keep_for`` and ``keep_until``, the window level at the last purchase and when each
level was last reached; for purchases ``refunds.within`` forgot, what they still count in
the tier window read next (by calendar key, or as dated amounts for a rolling span).
"""

from __future__ import annotations

from datetime import date, datetime

from rewardrules.engine._state_columns import TierAmount
from rewardrules.engine._state_format import micros
from rewardrules.engine.lots import elapsed
from rewardrules.engine.tiers import calendar_key
from rewardrules.evaluation.batch._state_inputs import StateColumns


def retention(columns: StateColumns, bought: list[int]) -> tuple[str | None, dict[str, datetime]]:
    """For ``keep_for`` and ``keep_until``: the window level at the last purchase, and
    when each level was last reached (``TierCounter.level_before``)."""
    tiers = columns.plan.tiers
    if tiers is None or not tiers.holds or not bought:
        return None, {}
    window = columns.window_tier
    reached: dict[int, int] = {}
    previous = -1
    for event in bought:
        level = int(window[event])
        for index in range(previous + 1, level + 1):
            reached[index] = event
        previous = level
    names = tiers.names
    moment = columns.moment
    window_name = None if previous < 0 else names[previous]
    return window_name, {names[index]: moment(reached[index]) for index in sorted(reached)}


def forgotten_tiers(
    columns: StateColumns, forgotten: list[int], now: datetime
) -> tuple[dict[str, int], tuple[TierAmount, ...]]:
    """What the forgotten purchases still count in the tier window read next
    (``engine._state_save._forgotten_tiers``)."""
    tiers, amounts = columns.plan.tiers, columns.tier_amounts
    if tiers is None or amounts is None or not forgotten:
        return {}, ()
    local_date = columns.frame.local_date
    if tiers.span is None:
        key = calendar_key(tiers.window, now.astimezone(tiers.zone).date())
        amount = sum(
            int(amounts[event])
            for event in forgotten
            if calendar_key(tiers.window, date.fromordinal(int(local_date[event]))) == key
        )
        return ({key: amount} if amount else {}), ()
    start = micros(elapsed(now, -tiers.span))
    at = columns.frame.at
    return {}, tuple(
        TierAmount(int(at[event]), int(amounts[event]))
        for event in forgotten
        if start <= int(at[event])
    )
