"""How close a customer is to each next reward, in plain words: the end of an account.

One sentence for the tiers, the balance once, then one per rule in the order of the file,
as of the account's last instant and local date; a limit with nothing left in the period of
the next reward's first possible date adds "limit reached (...)".
"""

from __future__ import annotations

from datetime import date, datetime

from rewardrules.engine.kind import Now
from rewardrules.engine.tiers import calendar_key
from rewardrules.engine.working_state import WorkingState
from rewardrules.evaluation.plan import ProgramPlan
from rewardrules.program.model import gives_points
from rewardrules.text import counted, in_window

__all__ = ["next_rewards"]


def next_rewards(
    plan: ProgramPlan, state: WorkingState, instant: datetime, local_date: date
) -> list[str]:
    """One sentence per rule (the tiers first, if any) on how close its next reward is."""
    texts = []
    tier_index = None
    if plan.tiers is not None:
        amount = state.tiers.amount_at(plan.tiers, instant, local_date)
        window_index = plan.tiers.level_for(amount)
        # The tier that applies may be a level kept by tiers.keep_for, above the window's.
        applied = state.tiers.report(plan.tiers, plan.money, instant, local_date, instant)[0]
        tier_index = window_index if applied is None else plan.tiers.index_of(applied)
        texts.append(_next_tier(plan, amount, window_index, tier_index, local_date))
    compiled = {rule.id: rule for rule in (*plan.running, *plan.dated)}
    now = Now(instant, local_date, tier_index, plan.tiers)
    balance_shown = False
    for rule in plan.program.rules:
        if gives_points(rule) and not balance_shown:
            texts.append(f"balance: {counted(state.points, plan.program.points.name)}")
            balance_shown = True
        # A rule whose next reward the balance says (None) has nothing to say when over.
        text, day = compiled[rule.id].next_reward(state, now)
        if text is not None and rule.ends is not None and rule.ends < local_date:
            texts.append(f"{rule.id}: it ended {rule.ends}")
            continue
        reached = None if day is None else _limit_reached(plan, state, rule.id, day)
        if reached is not None:
            text = reached if text is None else f"{text}; {reached}"
        if text is not None:
            texts.append(f"{rule.id}: {text}")
    return texts


def _limit_reached(
    plan: ProgramPlan, state: WorkingState, rule_id: str, local_date: date
) -> str | None:
    """'limit reached (at most 1 reward a calendar year)' when a limit of the rule has
    nothing left in the period of ``local_date`` (a limit per purchase starts again at
    each)."""
    limits = plan.limits.get(rule_id)
    if limits is None:
        return None
    allowance = limits.allowance(state.limit_usage, local_date)
    left = {"points": allowance.points, "rewards": allowance.rewards, "value": allowance.value}
    for measure, limit in allowance.binding.items():
        if left[measure] == 0 and limit.per != "purchase":
            return f"limit reached ({limit.words(plan.money, plan.program.points.name)})"
    return None


def _next_tier(
    plan: ProgramPlan, amount: int, index: int | None, applied: int | None, local_date: date
) -> str:
    tiers = plan.tiers
    assert tiers is not None  # noqa: S101 -- called only for a program with tiers
    now = "no tier yet" if applied is None else f"tier {tiers.names[applied]}"
    if applied != index:
        now += " (kept)"
    following = 0 if index is None else index + 1
    if following == len(tiers.names):
        return f"{now}: the highest tier"
    needed = tiers.thresholds[following] - amount
    if tiers.by_spend:
        more = f"{plan.money.format(needed)} more spend"
    elif tiers.by_points:
        number, _, noun = counted(needed, plan.program.points.name).partition(" ")
        more = f"{number} more {noun} earned"
    else:
        more = f"{needed} more {'purchase' if needed == 1 else 'purchases'}"
    if tiers.span is not None:
        window = f" within {tiers.span.days} days"
    else:
        window = in_window(calendar_key(tiers.window, local_date))
    return f"{now}: {more}{window} to reach {tiers.names[following]}"
