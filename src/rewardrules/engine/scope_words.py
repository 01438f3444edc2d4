"""Which condition of a rule's dates and ``when`` filter a purchase fails, in plain words.

Every kind checks its dates and filter before anything else; the conditions are read one at
a time in the order docs/explain.md lists them, and the engine's own check
(:meth:`rewardrules.engine.scope.Scope.admits`) decides, so the words never contradict the ledger.
"""

from __future__ import annotations

from collections.abc import Sequence

from rewardrules.engine.kind import KindPlan
from rewardrules.engine.scope import PurchaseContext
from rewardrules.program.model import Filter

__all__ = ["one_of", "scope_refusal"]


def scope_refusal(rule: KindPlan, context: PurchaseContext) -> str | None:
    """The first condition of the rule's dates and filter that the purchase fails."""
    scope, when, money = rule.scope, rule.rule.when, rule.money
    local_date, purchase = context.local_date, context.purchase
    if scope.starts is not None and local_date < scope.starts:
        return f"outside its dates (it starts {scope.starts})"
    if scope.ends is not None and local_date > scope.ends:
        return f"outside its dates (it ended {scope.ends})"
    if scope.min_total is not None and scope.total_of(context) < scope.min_total:
        if scope.min_total_eligible and not scope.every_line:
            return (
                f"its eligible lines total {money.format(scope.total_of(context))}, below "
                f"the minimum {money.format(scope.min_total)} (min_total_of: eligible)"
            )
        return (
            f"the purchase total {money.format(context.gross_total)} is below the minimum "
            f"{money.format(scope.min_total)}"
        )
    if when.stores is not None and purchase.store not in when.stores:
        if purchase.store is None:
            return f"made in no store, it needs {one_of(when.stores)}"
        return f"made in store {purchase.store}, not one of {', '.join(when.stores)}"
    if scope.weekdays is not None and context.weekday not in scope.weekdays:
        return f"not on a listed weekday ({', '.join(when.weekdays or ())})"
    if when.dates is not None and local_date not in when.dates:
        return f"not on one of its dates ({', '.join(str(day) for day in when.dates)})"
    if when.tiers is not None and context.tier not in when.tiers:
        if context.tier is None:
            return f"no tier yet, it needs {one_of(when.tiers)}"
        return f"tier {context.tier} is not one of {', '.join(when.tiers)}"
    if when.payment_methods is not None:
        payments = context.purchase.payments
        if payments is None:
            return f"the purchase records no payments, it needs {one_of(when.payment_methods)}"
        if not any(payment.method in when.payment_methods for payment in payments):
            paid = ", ".join(dict.fromkeys(payment.method for payment in payments))
            return f"paid by {paid}, not {one_of(when.payment_methods)}"
    if not scope.admits(context):  # the engine's own check decides; the words above explain
        return "the purchase does not pass its filter"
    matching = [scope.matches_line(line) for line in purchase.lines]
    if not any(matching):
        return f"no line of the purchase matches ({_line_filter_words(when)})"
    if not any(price for price, match in zip(context.unit_prices, matching) if match):
        return "the matching lines cost nothing (zero-priced lines never count)"
    return None


def one_of(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"one of {', '.join(names)}"


def _line_filter_words(when: Filter) -> str:
    included = []
    if when.categories is not None:
        included.append(f"categories {', '.join(when.categories)}")
    if when.skus is not None:
        included.append(f"skus {', '.join(when.skus)}")
    parts = [" or ".join(included)] if included else []
    if when.exclude_categories:
        parts.append(f"not categories {', '.join(when.exclude_categories)}")
    if when.exclude_skus:
        parts.append(f"not skus {', '.join(when.exclude_skus)}")
    return ", ".join(parts)
