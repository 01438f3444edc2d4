"""A hunt for divergences between the engines at amount edges, run outside the suite.

Not collected by the suite (its name is not ``test_*.py``); run it by its path, with as
many examples as time allows::

    HUNT_N=2000 python -m pytest -p no:cacheprovider tests/hunts/amount_edges.py \
        -W error::RuntimeWarning --hypothesis-show-statistics

It draws the suite's programs and histories and moves them to the edges: currencies of 0
and 3 decimals (JPY, BHD: prices in yen, or with fils that land on the half), zero
prices, quantities up to 2**31 - 1, refunds of every line, of nothing left and twice,
rounding modes at .5 in each currency, and prices and program figures scaled towards and
past int64. The engines must agree (``same_results``), or the batch engine must refuse by
name at one of its bounds. Each bug it found has its own test (test_batch_points_bounds,
test_batch_group_worths).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rewardrules.evaluation.batch import UnsupportedError
from rewardrules.events import Line, Purchase, Refund, RefundLine
from rewardrules.program.model import Program
from strategies import (
    histories,
    lifecycle_histories,
    lifecycle_programs,
    limited_group_programs,
    programs,
    with_limits,
)
from test_batch_amounts import _scaled
from test_batch_engine import SUPPORTED_KINDS, SUPPORTED_PROGRAMS, same_results

HUNT = settings(
    max_examples=int(os.environ.get("HUNT_N", "300")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
DECIMALS = {"USD": 2, "JPY": 0, "BHD": 3}
QUANTITIES = st.sampled_from([0, 0, 0, 1, 2, 7, 999_999, 2**31 - 1])  # 0: as drawn
FACTORS = st.sampled_from([1, 10**12, 10**14, 10**15, 10**16, 3 * 10**16])
FIGURES = st.sampled_from([1, 10**15, 10**17, 2**61 // 7, 2**62 // 3, 10**18])


def _same_or_refused_by_name(program: Program, events: list[Any]) -> None:
    try:
        same_results(program, events)
        event("same")
    except UnsupportedError as refused:
        text = str(refused)
        assert any(
            words in text for words in ("integers allow", "integers hold", "passed the batch")
        ), text
        event("refused by a bound")


# --- the suite's histories in other currencies, with edge quantities and prices ----------


def _in_currency(program: Program, code: str) -> Program | None:
    data = program.model_dump(mode="python", exclude_none=True) | {"currency": code}
    try:
        return Program.model_validate(data)
    except ValidationError:  # a figure finer than the currency's minor unit
        return None


def _price(price: Decimal, code: str, fils: int) -> Decimal:
    if code == "JPY":
        return (price * 100).quantize(Decimal(1))
    if code == "BHD":
        return (price + Decimal(fils).scaleb(-3)).quantize(Decimal("0.001"))
    return price


@st.composite
def _edges(draw: st.DrawFn) -> tuple[str, list[int], list[int], list[bool]]:
    return (
        draw(st.sampled_from(sorted(DECIMALS))),
        draw(st.lists(st.integers(0, 9), min_size=1, max_size=8)),
        draw(st.lists(QUANTITIES, min_size=1, max_size=8)),
        draw(st.lists(st.booleans(), min_size=1, max_size=8)),
    )


def _moved(events: list[Any], edges: tuple[str, list[int], list[int], list[bool]]) -> list[Any]:
    code, fils, quantities, zeros = edges
    found: list[Any] = []
    index = 0
    for drawn in events:
        if not isinstance(drawn, Purchase):
            found.append(drawn)
            continue
        lines = []
        for line in drawn.lines:
            zero = zeros[index % len(zeros)]
            price = Decimal(0) if zero else _price(line.unit_price, code, fils[index % len(fils)])
            quantity = quantities[index % len(quantities)] or line.quantity
            index += 1
            lines.append(line.model_copy(update={"unit_price": price, "quantity": quantity}))
        found.append(drawn.model_copy(update={"lines": tuple(lines), "payments": None}))
    return found


def _check_moved(program: Program, events: list[Any], edges: Any) -> None:
    moved = _in_currency(program, edges[0])
    assume(moved is not None)
    assert moved is not None
    _same_or_refused_by_name(moved, _moved(events, edges))


@HUNT
@given(SUPPORTED_PROGRAMS, histories(refunds=True), _edges())
def test_supported_programs_at_the_edges(program: Program, events: Any, edges: Any) -> None:
    _check_moved(program, events, edges)


@HUNT
@given(SUPPORTED_PROGRAMS, histories(in_full=True), _edges())
def test_purchases_refunded_in_full_at_the_edges(program: Program, events: Any, edges: Any) -> None:
    _check_moved(program, events, edges)


@HUNT
@given(with_limits(programs(kinds=SUPPORTED_KINDS)), histories(refunds=True), _edges())
def test_limited_programs_at_the_edges(program: Program, events: Any, edges: Any) -> None:
    _check_moved(program, events, edges)


@HUNT
@given(limited_group_programs(), histories(refunds=True), _edges())
def test_groups_at_the_edges(program: Program, events: Any, edges: Any) -> None:
    _check_moved(program, events, edges)


@HUNT
@given(lifecycle_programs(reward_tiers=True), lifecycle_histories(catalogue=True), _edges())
def test_lifecycles_at_the_edges(program: Program, events: Any, edges: Any) -> None:
    _check_moved(program, events, edges)


# --- rounding at .5 in each currency ------------------------------------------------------


def _rule(draw: st.DrawFn, index: int, minor: Any) -> dict[str, Any]:
    kind = draw(st.sampled_from(["points", "percent", "amount", "card", "bonus"]))
    rule: dict[str, Any] = {"id": f"r{index}"}
    if kind == "points":
        rule |= {
            "kind": "points_per_spend",
            "points": draw(st.sampled_from([Decimal(1), Decimal("0.5"), Decimal("1.5")])),
            "per": minor(draw(st.sampled_from([1, 2, 3, 4, 7, 10, 100]))),
            "rounding": draw(st.sampled_from(["floor", "half_up", "ceil"])),
        }
        if draw(st.booleans()):
            rule["max_per_purchase"] = draw(st.integers(0, 50))
    elif kind == "percent":
        percents = ["50", "25", "12.5", "5", "33", "0.5", "100"]
        rule |= {"kind": "order_discount", "percent": Decimal(draw(st.sampled_from(percents)))}
    elif kind == "amount":
        rule |= {"kind": "order_discount", "amount": minor(draw(st.sampled_from([1, 3, 7, 150])))}
    elif kind == "card":
        rewards = ["free", {"percent_off": Decimal(50)}, {"percent_off": Decimal("12.5")}]
        rule |= {"kind": "every_nth_free", "every": 2, "reward": draw(st.sampled_from(rewards))}
    else:
        rule |= {"kind": "bonus_points", "points": draw(st.integers(1, 5))}
    if not draw(st.integers(0, 3)):
        rule["when"] = {"min_total": minor(draw(st.sampled_from([0, 1, 5, 100])))}
    if not draw(st.integers(0, 3)):
        money = kind in ("percent", "amount", "card")
        limit = {"per": "purchase", "value": minor(draw(st.sampled_from([1, 3, 50])))}
        if not money:
            limit = {"per": "day", "points": draw(st.integers(0, 9))}
        rule["limit"] = [limit]
    return rule


@st.composite
def _rounding_cases(draw: st.DrawFn) -> tuple[Program, list[Any]]:
    code = draw(st.sampled_from(sorted(DECIMALS)))

    def minor(amount: int) -> Decimal:
        return Decimal(amount).scaleb(-DECIMALS[code])

    rules = [_rule(draw, index, minor) for index in range(draw(st.integers(1, 3)))]
    program = Program.model_validate(
        {
            "program": "rounding",
            "name": "Rounding",
            "currency": code,
            "timezone": "UTC",
            "points": {"name": "points", "value": minor(1)},
            "rules": rules,
        }
    )
    start = datetime(2025, 1, 1, 10, tzinfo=UTC)
    prices = st.one_of(st.integers(0, 20), st.sampled_from([15, 25, 35, 45, 150, 10**9 + 5]))
    bought = [
        Purchase(
            id=f"p{index}",
            customer_id=draw(st.sampled_from(["x", "y"])),
            at=start + timedelta(hours=index),
            lines=tuple(
                Line(
                    sku=draw(st.sampled_from(["a", "b"])),
                    category="c",
                    quantity=draw(st.sampled_from([1, 1, 2, 3, 999_999, 2**31 - 1])),
                    unit_price=minor(draw(prices)),
                )
                for _ in range(draw(st.integers(1, 3)))
            ),
        )
        for index in range(draw(st.integers(1, 6)))
    ]
    return program, [*bought, *_refunds(draw, bought, start + timedelta(days=1))]


def _refunds(draw: st.DrawFn, bought: list[Purchase], at: datetime) -> list[Refund]:
    """No refund, one of everything, of every line named, of part of a line, or twice."""
    found = []
    for index, purchase in enumerate(bought):
        how = draw(st.sampled_from(["none", "none", "all", "each", "part", "twice"]))
        at += timedelta(minutes=2)
        whole = Refund(
            id=f"r{index}", customer_id=purchase.customer_id, at=at, purchase_id=purchase.id
        )
        if how in ("all", "twice"):
            found.append(whole)
        if how == "twice":  # nothing is left for the second
            found.append(whole.model_copy(update={"id": f"r{index}b", "at": at + timedelta(1)}))
        if how == "each":
            skus: dict[str, int] = {}
            for line in purchase.lines:
                skus[line.sku] = skus.get(line.sku, 0) + line.quantity
            lines = tuple(RefundLine(sku=sku, quantity=count) for sku, count in skus.items())
            found.append(whole.model_copy(update={"lines": lines}))
        if how == "part":
            line = purchase.lines[0]
            returned = draw(st.integers(1, min(line.quantity, 5)))
            lines = (RefundLine(sku=line.sku, quantity=returned),)
            found.append(whole.model_copy(update={"lines": lines}))
    return found


@HUNT
@given(_rounding_cases())
def test_rounding_at_the_half_in_each_currency(case: tuple[Program, list[Any]]) -> None:
    _same_or_refused_by_name(*case)


# --- prices and program figures towards and past int64 -----------------------------------


def _big_figures(program: Program, factor: int) -> Program | None:
    """The program with its points figures and its values, amounts and costs ``factor``
    times larger."""

    def walk(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {name: walk(item, name) for name, item in value.items()}
        if isinstance(value, list):
            return [walk(item, key) for item in value]
        number = isinstance(value, (int, Decimal)) and not isinstance(value, bool)
        if number and (
            key in ("value", "amount", "cost") or (key == "points" and isinstance(value, int))
        ):
            return value * factor
        return value

    try:
        return Program.model_validate(walk(program.model_dump(mode="python", exclude_none=True)))
    except ValidationError:
        return None


def _check_big(program: Program, events: list[Any], factor: int, figures: int) -> None:
    moved = _big_figures(program, figures)
    assume(moved is not None)
    assert moved is not None
    _same_or_refused_by_name(moved, _scaled(events, factor))


@HUNT
@given(SUPPORTED_PROGRAMS, histories(refunds=True, payments=True), FACTORS, FIGURES)
def test_supported_programs_past_int64(
    program: Program, events: Any, factor: int, figures: int
) -> None:
    _check_big(program, events, factor, figures)


@HUNT
@given(limited_group_programs(), histories(refunds=True), FACTORS, FIGURES)
def test_groups_past_int64(program: Program, events: Any, factor: int, figures: int) -> None:
    _check_big(program, events, factor, figures)


@HUNT
@given(lifecycle_programs(reward_tiers=True), lifecycle_histories(catalogue=True), FACTORS, FIGURES)
def test_lifecycles_past_int64(program: Program, events: Any, factor: int, figures: int) -> None:
    _check_big(program, events, factor, figures)
