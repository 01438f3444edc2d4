"""The checks that involve several fields or several rules of a program.

Tier names a rule mentions, money finer than the currency, dates in the wrong order, limits
that measure what a rule does not give, groups whose rules cannot compete: each check yields
``(path, message)``. :class:`~rewardrules.program.model.Program` runs :func:`semantic_problems`
after validation, and the loader runs it itself so that each problem points at its own line.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from rewardrules.errors import PathItem
from rewardrules.money import currency, decimal_places
from rewardrules.program._rule_base import Filter, RuleParts
from rewardrules.program._rule_kinds import AnyRule, gives_points, rewards_a_purchase
from rewardrules.text import escaped

if TYPE_CHECKING:  # the program's validator calls these checks: import it for types only
    from rewardrules.program.model import Program, Tiers

IndexedRules = Sequence[tuple[int, AnyRule]]
"""Rules with their position in the file (a partly valid file keeps only the valid ones)."""


def _money_fields(
    tiers: Tiers | None, rules: IndexedRules
) -> Iterator[tuple[tuple[PathItem, ...], Decimal]]:
    if tiers is not None and tiers.qualify_by == "spend":
        for index, level in enumerate(tiers.levels):
            yield ("tiers", "levels", index, "at_least"), level.at_least
    for index, rule in rules:
        base: tuple[PathItem, ...] = ("rules", index)
        if rule.when.min_total is not None:
            yield (*base, "when", "min_total"), rule.when.min_total
        parts = rule.parts()
        for path, amount in parts.amounts:
            yield (*base, *path), amount
        for nested in parts.filters:
            if nested.when.min_total is not None:
                yield (*base, *nested.path, "min_total"), nested.when.min_total
        for path, voucher in parts.vouchers:
            yield (*base, *path, "value"), voucher.value
        for position, limit in enumerate(rule.limit):
            if limit.value is not None:
                yield (*base, "limit", position, "value"), limit.value


def _filters(rules: IndexedRules) -> Iterator[tuple[tuple[PathItem, ...], Filter]]:
    for index, rule in rules:
        yield ("rules", index, "when"), rule.when
        for nested in rule.parts().filters:
            yield ("rules", index, *nested.path), nested.when


def semantic_problems(program: Program) -> Iterator[tuple[tuple[PathItem, ...], str]]:
    """Yield ``(path, message)`` for every cross-field mistake in a program."""
    yield from semantic_problems_of_parts(
        program.currency, program.tiers, list(enumerate(program.rules))
    )
    yield from _lifecycle_problems(program)
    yield from _group_problems(program)


def _group_problems(program: Program) -> Iterator[tuple[tuple[PathItem, ...], str]]:
    groups: dict[str, list[int]] = {}
    for index, rule in enumerate(program.rules):
        if rule.exclusive_group is not None:
            groups.setdefault(rule.exclusive_group, []).append(index)
    yield from _gifts_at_dates_with_purchase_rules(program, groups)
    if program.points.value != 0:
        return
    for group, members in groups.items():
        kinds = {gives_points(program.rules[index]) for index in members}
        if kinds == {True, False}:
            yield (
                ("rules", members[-1], "exclusive_group"),
                f"the exclusive group '{group}' mixes rules that give points with rules that "
                "give money, but points.value is 0, so their worth cannot be compared; set "
                "points.value (what one point costs the business)",
            )


def _gifts_at_dates_with_purchase_rules(
    program: Program, groups: dict[str, list[int]]
) -> Iterator[tuple[tuple[PathItem, ...], str]]:
    """A group is either of rules that reward a purchase or of gifts given at dates: the
    two never fall due together, so such a group would never choose."""
    for group, members in groups.items():
        dated = [index for index in members if program.rules[index].parts().given_at_a_date]
        if not dated or len(dated) == len(members):
            continue
        gift = program.rules[dated[0]]
        other = program.rules[next(index for index in members if index not in dated)]
        when, needs = gift.parts().given_at_a_date or ("", "")
        yield (
            ("rules", max(members), "exclusive_group"),
            f"the exclusive group '{group}' mixes '{gift.id}' ({when}) with '{other.id}', "
            "which rewards a purchase: they never fall due together, so they never compete; "
            f"put them in separate groups, or set {needs} on '{gift.id}'",
        )


def _rule_shape_problems(index: int, rule: AnyRule) -> Iterator[tuple[tuple[PathItem, ...], str]]:
    base: tuple[PathItem, ...] = ("rules", index)
    points_rule = gives_points(rule)
    for position, limit in enumerate(rule.limit):
        if limit.points is not None and not points_rule:
            yield (
                (*base, "limit", position, "points"),
                f"the rule '{rule.id}' gives no points; limit its rewards or value instead",
            )
        if limit.value is not None and points_rule:
            yield (
                (*base, "limit", position, "value"),
                f"the rule '{rule.id}' gives points; limit its points or rewards instead",
            )
    parts = rule.parts()
    if (
        rule.exclusive_group is not None
        and not rewards_a_purchase(rule)
        and parts.given_at_a_date is None
    ):
        yield (*base, "exclusive_group"), _not_competing(rule.kind, parts)
    if parts.given_at_a_date is not None and not rule.when.is_empty:
        gift, needs = parts.given_at_a_date
        yield (
            (*base, "when"),
            f"{gift}, not at a purchase, so there is no purchase for 'when' to filter; "
            f"remove 'when' or set {needs}",
        )
    for path, message in parts.problems:
        yield (*base, *path), message


def _not_competing(kind: str, parts: RuleParts) -> str:
    """Why a rule that rewards no purchase and gives at no date cannot be in an exclusive
    group, and the fix."""
    rewards = parts.rewards_instead or "something other than a purchase"
    return (
        f"a {kind} rule rewards {rewards}, not the purchase in hand, so it cannot be in "
        "an exclusive group; remove exclusive_group"
    )


def _lifecycle_problems(program: Program) -> Iterator[tuple[tuple[PathItem, ...], str]]:
    points = program.points
    if points.expire_round_up_to is not None and points.expire_after is None:
        yield (
            ("points", "expire_round_up_to"),
            "expire_round_up_to rounds the expiry that expire_after sets; set expire_after too",
        )
    money = currency(program.currency)
    seen: dict[str, int] = {}
    for index, reward in enumerate(program.rewards):
        if reward.id in seen:
            yield (
                ("rewards", index, "id"),
                f"the reward id '{reward.id}' is already used by rewards[{seen[reward.id]}]",
            )
        seen.setdefault(reward.id, index)
        if decimal_places(reward.value) > money.exponent:
            yield (
                ("rewards", index, "value"),
                f"{reward.value} has more decimal places than {money.code} has "
                f"({money.exponent}); write it in whole {money.code} minor units",
            )
        if reward.cash is not None and decimal_places(reward.cash) > money.exponent:
            yield (
                ("rewards", index, "cash"),
                f"{reward.cash} has more decimal places than {money.code} has "
                f"({money.exponent}); write it in whole {money.code} minor units",
            )
        tier_names = () if program.tiers is None else program.tiers.level_names()
        for position, name in enumerate(reward.tiers or ()):
            if name not in tier_names:
                yield ("rewards", index, "tiers", position), _unknown_tier(name, tier_names)
        window = reward.available
        if window and window.starts and window.ends and window.ends < window.starts:
            yield (
                ("rewards", index, "available", "ends"),
                f"the reward stops being available ({window.ends}) before it starts "
                f"({window.starts})",
            )


def _payment_method_problems(
    index: int, rule: AnyRule
) -> Iterator[tuple[tuple[PathItem, ...], str]]:
    """``payment_methods`` only on a points_per_spend rule's own ``when`` (the share of a line
    paid by a method is an amount to earn points on; nothing else has such a share)."""
    base: tuple[PathItem, ...] = ("rules", index)
    if rule.when.payment_methods is not None and rule.kind != "points_per_spend":
        yield (
            (*base, "when", "payment_methods"),
            f"payment_methods is for points_per_spend rules; a {rule.kind} rule cannot "
            "give to a share of a line: remove it, or earn by payment method with a "
            "points_per_spend rule",
        )
    for nested in rule.parts().filters:
        if nested.when.payment_methods is not None:
            yield (
                (*base, *nested.path, "payment_methods"),
                f"payment_methods goes on the rule's own `when`, not on a {nested.owner}'s: "
                "write a second points_per_spend rule for that payment method instead",
            )


def semantic_problems_of_parts(
    currency_code: str | None,
    tiers: Tiers | None,
    rules: IndexedRules,
    *,
    tiers_known: bool = True,
) -> Iterator[tuple[tuple[PathItem, ...], str]]:
    """The cross-field checks on the parts of a program that are valid on their own.

    The loader uses this when a file has other errors too, so that every problem is
    reported in one run. ``currency_code`` None (not a valid currency) skips the money
    checks; ``tiers_known`` False (the tiers themselves are invalid) skips the checks of
    tier names.
    """
    seen: dict[str, int] = {}
    for index, rule in rules:
        if rule.id in seen:
            yield (
                ("rules", index, "id"),
                f"the rule id '{rule.id}' is already used by rules[{seen[rule.id]}]; "
                "give every rule its own id",
            )
        else:
            seen[rule.id] = index
        if rule.starts is not None and rule.ends is not None and rule.ends < rule.starts:
            yield (
                ("rules", index, "ends"),
                f"the rule ends ({rule.ends}) before it starts ({rule.starts})",
            )
        yield from _rule_shape_problems(index, rule)
        yield from _payment_method_problems(index, rule)
    if currency_code is not None:
        money = currency(currency_code)
        for path, amount in _money_fields(tiers, rules):
            if decimal_places(amount) > money.exponent:
                yield (
                    path,
                    f"{amount} has more decimal places than {money.code} has "
                    f"({money.exponent}); write it in whole {money.code} minor units",
                )
    tier_names: tuple[str, ...] = ()
    if tiers is not None:
        tier_names = tiers.level_names()
        yield from _tier_problems(tiers)
    if not tiers_known:
        return
    for path, rule_filter in _filters(rules):
        for position, name in enumerate(rule_filter.tiers or ()):
            if name not in tier_names:
                yield (*path, "tiers", position), _unknown_tier(name, tier_names)
    for index, rule in rules:
        for path, name in rule.parts().tiers:
            if name not in tier_names:
                yield ("rules", index, *path), _unknown_tier(name, tier_names)


def _tier_problems(tiers: Tiers) -> Iterator[tuple[tuple[PathItem, ...], str]]:
    names: set[str] = set()
    if tiers.keep_for is not None and tiers.keep_until is not None:
        yield (
            ("tiers", "keep_until"),
            f"keep_until ({tiers.keep_until}) and keep_for ({tiers.keep_for}) both say how "
            "long a level is kept; keep one of them",
        )
    for index, level in enumerate(tiers.levels):
        if level.name in names:
            yield ("tiers", "levels", index, "name"), f"the tier '{level.name}' is defined twice"
        names.add(level.name)
        if tiers.qualify_by != "spend" and level.at_least != level.at_least.to_integral_value():
            counted = "purchases" if tiers.qualify_by == "purchases" else "points"
            yield (
                ("tiers", "levels", index, "at_least"),
                f"a number of {counted} must be a whole number (got {level.at_least})",
            )
        if index > 0 and level.at_least <= tiers.levels[index - 1].at_least:
            yield (
                ("tiers", "levels", index, "at_least"),
                f"levels must rise: '{level.name}' needs {level.at_least}, which is not more "
                f"than the {tiers.levels[index - 1].at_least} of "
                f"'{tiers.levels[index - 1].name}' below it",
            )


def _unknown_tier(name: str, known: tuple[str, ...]) -> str:
    # Escaped: a tier named with a look-alike letter (a Cyrillic o in 'gold') must not read as
    # the valid name it imitates.
    shown = escaped(name, ascii_only=not name.isascii())
    if not known:
        return f"the tier '{shown}' is named, but the program defines no tiers"
    return f"there is no tier '{shown}'; the tiers are: {', '.join(known)}"
