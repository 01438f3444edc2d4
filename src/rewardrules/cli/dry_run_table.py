"""The dry-run as a table: one block per customer, then the totals.

What ``rewardrules dry-run`` prints by default (and with ``--summary``): aligned plain
columns when piped, rich tables on a terminal (``cli._tables``). Rendering only; every
figure is the library's.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from rewardrules.cli._tables import PLAIN, Block, Look
from rewardrules.engine.ledger import CustomerResult, Evaluation, LedgerEntry
from rewardrules.evaluation.fold import compile_program
from rewardrules.program.model import Program, gives_points
from rewardrules.text import counted


def render_table(
    program: Program, evaluation: Evaluation, customer_id: str | None = None, look: Look = PLAIN
) -> str:
    """The dry-run as text: one block per customer, then the totals (of the program, or
    of the one customer ``customer_id`` when ``--customer`` chose one); aligned columns,
    or rich tables with ``look`` (``cli._tables``)."""
    money = evaluation.money
    points = program.points.name
    earns_points = any(gives_points(rule) for rule in program.rules)
    header = f"{program.name} ({program.program}) - {money.code}"
    if earns_points:
        header += f", {points}"
        if program.points.value:
            header += f" worth {program.points.value} {money.code} each"
    blocks = []
    cards = dict(compile_program(program).stamp_cards)
    for result in evaluation.customers:
        shown_points = points if earns_points else None
        blocks.append(_customer_block(result, shown_points, program.tiers is not None, cards))
    title = "Program totals" if customer_id is None else f"Totals for customer {customer_id}"
    blocks.append(totals_block(evaluation, points if earns_points else None, title))
    return look.render(header, blocks)


def _customer_block(
    result: CustomerResult, points: str | None, has_tiers: bool, cards: dict[str, int]
) -> Block:
    facts = [] if points is None else [_counted(result.points, points)]
    if points is not None and result.pending_points:
        facts[0] += f" ({_n(result.pending_points)} pending)"
    if result.available_points < 0:
        facts.append(f"owes {_n(-result.available_points)}")
    if has_tiers:
        facts.append(f"tier {result.tier}" if result.tier else "no tier")
    facts += [f"stamps {rule} {count}/{cards[rule]}" for rule, count in result.stamps.items()]
    title = f"Customer {result.customer_id}" + (f": {', '.join(facts)}" if facts else "")
    noun = points or "points"
    title += "".join(
        f"\n  {_counted(due.points, noun)} expire on {due.on.isoformat()}"
        for due in result.upcoming_expiry
    )
    rows = [("event", "rule", "reward", "reason")]
    rows += [
        (e.event_id, e.rule, _reward_text(e, points or "points"), e.reason) for e in result.ledger
    ]
    return Block(title, rows, empty="(no rewards)")


_NOTES = {"capped": "limit reached", "set_aside": "set aside", "referral": "referral"}


def _reward_text(entry: LedgerEntry, points: str) -> str:
    if entry.kind == "rejected":
        return "rejected"
    if entry.kind in _NOTES:
        return _NOTES[entry.kind]
    if entry.kind in ("points", "expiry", "written_off", "redemption", "opening"):
        sign = "+" if (entry.points or 0) >= 0 else "-"
        change = sign + _counted(abs(entry.points or 0), points)
        labels = {
            "expiry": " expired",
            "written_off": " written off",
            "redemption": " spent",
            "opening": " brought",
        }
        if entry.kind == "redemption" and (entry.units or 0) < 0:
            return change + " back"  # a cancelled redemption
        if entry.kind == "written_off" and (entry.points or 0) < 0:
            return change + " recovered"  # written off before, recovered by a cancellation
        return change + labels.get(entry.kind, "")
    value = f"{_m(entry.value)} {entry.money.code}"
    if entry.kind == "discount":
        return f"-{value} off"
    if entry.kind == "free":
        return f"{_n(entry.units or 0)} free ({value})"
    if entry.kind == "voucher":
        return f"{_several(entry.units, 'vouchers')}({value})"
    return f"{_several(entry.units, 'gift cards')}({value})"


def _several(units: int | None, noun: str) -> str:
    """'voucher ' for one, '3 vouchers ' for more."""
    if units is None or units == 1:
        return noun[:-1] + " "
    return f"{_n(units)} {noun} "


def totals_block(
    evaluation: Evaluation, points: str | None, title: str = "Program totals"
) -> Block:
    totals = evaluation.totals.to_dict()
    code = evaluation.money.code
    rows: list[tuple[str, ...]] = [
        ("customers", _n(totals["customers"])),
        ("purchases", _purchases_text(totals)),
        ("gross spend", f"{_m(totals['gross_spend'])} {code}"),
    ]
    if points is not None:
        rows.append(
            (
                f"{points} issued",
                f"{_n(totals['points_issued'])} (-{_n(totals['points_reversed'])} by refunds, "
                f"net {_n(totals['points_net'])}, cost {_m(totals['points_cost'])} {code})",
            )
        )
        if totals["redemptions"] or totals["rejected_redemptions"]:
            rows.append(
                (
                    "redemptions",
                    f"{_n(totals['redemptions'])} for {_n(totals['points_redeemed'])} {points}, "
                    f"worth {_m(totals['redemption_value'])} {code} "
                    f"({_n(totals['rejected_redemptions'])} rejected)",
                )
            )
        if totals["points_expired"]:
            rows.append((f"{points} expired", _n(totals["points_expired"])))
        if totals["points_written_off"]:
            rows.append((f"{points} written off", _n(totals["points_written_off"])))
    rows += [
        (
            "discounts",
            f"{_m(totals['discount_value'])} {code} "
            f"on {_counted(totals['discount_units'], 'units')}",
        ),
        (
            "free items",
            f"{_m(totals['free_item_value'])} {code} ({_counted(totals['free_units'], 'units')})",
        ),
        ("vouchers", f"{_n(totals['vouchers'])} worth {_m(totals['voucher_value'])} {code}"),
        ("gift cards", f"{_n(totals['gift_cards'])} worth {_m(totals['gift_card_value'])} {code}"),
    ]
    if totals["rewards_capped"] or totals["rewards_set_aside"]:
        rows.append(
            (
                "not given",
                f"{_counted(totals['rewards_capped'], 'rewards')} cut to nothing by a limit, "
                f"{_n(totals['rewards_set_aside'])} set aside by an exclusive group",
            )
        )
    if totals["referrals"]:
        rows.append(("referrals", _n(totals["referrals"])))
    if points is not None:
        rows.append(
            (
                "liability",
                f"{_m(totals['liability'])} {code} "
                f"({_n(totals['points_outstanding'])} {points} outstanding)",
            )
        )
    rows.append(
        (
            "estimated cost",
            f"{_m(totals['estimated_cost'])} {code} (value given {_m(totals['value_given'])} {code}"
            + (")" if points is None else f" + liability {_m(totals['liability'])} {code})"),
        )
    )
    if points is not None and totals["points_expired"]:
        rows.append(("breakage", f"{_m(totals['breakage'])} {code} (expired, not a cost)"))
    return Block(title, rows, header=False)


def _purchases_text(totals: Mapping[str, int]) -> str:
    """'10, 3 of them refunded: 1 in full, 2 in part (4 refunds)'. A purchase counts once
    however many refunds it had; "in full" means every unit was given back."""
    purchases, refunds = _n(totals["purchases"]), totals["refunds"]
    if not refunds:
        return f"{purchases}, none refunded"
    refunded, full = totals["refunded_purchases"], totals["fully_refunded_purchases"]
    if not refunded:  # a resumed evaluation: the refunds gave back earlier purchases
        return (
            f"{purchases}, none of them refunded ({_counted(refunds, 'refunds')} of earlier ones)"
        )
    parts = [
        f"{_n(count)} {how}"
        for count, how in ((full, "in full"), (refunded - full, "in part"))
        if count
    ]
    how = ", ".join(parts)
    return f"{purchases}, {_n(refunded)} of them refunded: {how} ({_counted(refunds, 'refunds')})"


def _n(number: int) -> str:
    """A count with thousands separators: 12,345."""
    return f"{number:,}"


def _m(amount: str | Decimal | None) -> str:
    """An amount with thousands separators and its decimal places: 1,234.50."""
    return format(Decimal(str(amount)), ",f")


def _counted(number: int, noun: str) -> str:
    return counted(number, noun, grouped=True)
