"""A saved state's points account: the customer's account replayed on the run's columns.

The rules' points are columns already; what depends on order is the account's lots
(earned, available, expiring, taken back, redeemed, cancelled), so this module replays
the customer's events through ``rewardrules.engine.lots``, as ``_accounts.run_accounts``
does but without its entries, from the saved account when resuming and after a migrated
customer's opening lots.
"""

from __future__ import annotations

from collections.abc import Iterable

from rewardrules.engine import lots
from rewardrules.evaluation.batch._accounts import lasting_purchases
from rewardrules.evaluation.batch._opening import open_lots
from rewardrules.evaluation.batch._refunds import emptying
from rewardrules.evaluation.batch._state_inputs import StateColumns


def replay_account(
    columns: StateColumns, customer: int, events: Iterable[int]
) -> lots.PointsAccount:
    """The customer's points account, replayed on the points the rules computed (as
    ``_accounts.run_accounts`` does, without its entries)."""
    frame, policy = columns.frame, columns.plan.points
    purchases, refunds, _ = columns.flags
    catalogue = columns.catalogue
    customer_id = frame.customer_ids[customer]
    ids = frame.event_ids
    emptied = emptying(frame, columns.steps) if policy.inactivity else frozenset()
    if columns.emptied is not None:
        emptied = columns.emptied
    lasting = lasting_purchases(policy, columns.plan.tiers, columns.tier, purchases)
    account = (None if columns.seeds is None else columns.seeds(customer)) or lots.PointsAccount()
    profile = columns.openings.get(customer)
    if profile is not None:
        open_lots(columns.plan, account, profile)
    for event in events:
        at = columns.moment(event)
        if policy.has_clock or account.dated:
            lots.advance(policy, account, customer_id, at)
        if purchases[event]:
            earned = int(columns.points[event])
            lots.earn(policy, account, ids[event], at, earned, lasting=event in lasting)
            lots.bought(policy, account, ids[event], at)
        elif refunds[event]:
            back = -int(columns.points[event])
            purchase_id = frame.purchase_id[event].as_py()
            if back:
                lots.take_back(policy, account, customer_id, ids[event], purchase_id, at, back)
            if event in emptied:
                lots.refunded_in_full(policy, account, customer_id, purchase_id, at)
        elif (target := catalogue.cancelled(event, ids)) is not None:
            lots.cancel_redemption(policy, account, customer_id, ids[event], target)
        else:
            reward = frame.reward[event].as_py()
            units, tier = int(frame.units[event]), catalogue.tiers.get(event)
            lots.redeem(policy, account, customer_id, ids[event], reward, at, units, tier)
    if columns.cutoff is not None:
        instant, inclusive = columns.cutoff
        lots.advance(policy, account, customer_id, instant, inclusive)
    return account
