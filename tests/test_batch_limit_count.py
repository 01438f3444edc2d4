"""The batch engine's count of a rule's limits: a rule with one limit over periods (the
common case) is counted with the usage in two locals (``LimitColumns._run_one``), any other
through the general loop; both must give the reference engine's results, entry for entry,
on refunds that give points back to the month's allowance and on long histories where the
limit binds often."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import line, purchase, refund
from rewardrules.evaluation.batch._limits import LimitColumns
from rewardrules.events import AnyEvent
from rewardrules.program.model import Program
from strategies import make_program
from test_batch_engine import same_results
from test_batch_purchase_runs import REWARDS, SETTINGS, START, long_history


def limited(*limits: dict[str, Any], **points: Any) -> Program:
    """Ten points per 1.00 under these limits, two rewards, with these points settings."""
    rule = {"id": "points", "kind": "points_per_spend", "points": 10, "per": "1.00"}
    rule["limit"] = limits[0] if len(limits) == 1 else list(limits)
    return make_program(
        [rule],
        timezone="America/New_York",
        points={"name": "points", "value": "0.01", **points},
        rewards=REWARDS,
    )


MONTH = {"per": "month", "points": 900}


@pytest.fixture
def paths(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Which count each limited rule went through: ``one`` or ``general``."""
    taken: list[str] = []
    general, one = LimitColumns.run, LimitColumns._run_one

    def run(self: LimitColumns, *arguments: Any, **keywords: Any) -> Any:
        taken.append("general")
        return general(self, *arguments, **keywords)

    def run_one(self: LimitColumns, *arguments: Any) -> Any:
        taken[-1] = "one"
        return one(self, *arguments)

    monkeypatch.setattr(LimitColumns, "run", run)
    monkeypatch.setattr(LimitColumns, "_run_one", run_one)
    return taken


def test_a_refund_gives_its_points_back_to_the_months_allowance(paths: list[str]) -> None:
    # At most 900 points a month. In November p1 (50.00) earns 500 and p2 (30.00) 300:
    # 800 counted; p3 (20.00) wants 200, 100 are left: 100 given (900 counted). Refunding
    # p2 in full takes its 300 back and gives them back to November: 600 counted; p4
    # (40.00) wants 400, 300 are left: 300 given. December starts again: p5 (10.00) earns
    # 100 whole. Balance 500 + 300 + 100 - 300 + 300 + 100 = 1,000.
    day = timedelta(days=1)
    history: list[AnyEvent] = [
        purchase("p1", START, line("mug", "50.00")),
        purchase("p2", START + day, line("mug", "30.00")),
        purchase("p3", START + 2 * day, line("mug", "20.00")),
        refund("f1", START + 3 * day, "p2"),
        purchase("p4", START + 4 * day, line("mug", "40.00")),
        purchase("p5", START + 30 * day, line("mug", "10.00")),
    ]
    program = limited(MONTH)
    assert same_results(program, history)
    assert "one" in paths
    result = _evaluate(program, history)
    assert result.customer("c1").state.points == 1_000
    given = {entry.event_id: entry.points for entry in result.entries if entry.rule == "points"}
    assert given == {"p1": 500, "p2": 300, "p3": 100, "f1": -300, "p4": 300, "p5": 100}
    reasons = [entry.reason for entry in result.entries if entry.event_id in ("p3", "p4")]
    assert "100 of 200 given" in reasons[0]
    assert "300 of 400 given" in reasons[1]


@pytest.mark.parametrize(
    "limits",
    [
        (MONTH,),
        ({"per": "week", "points": 250},),
        ({"per": "day", "rewards": 1},),
        (MONTH, {"per": "lifetime", "points": 20_000}),  # two limits: the general loop
    ],
    ids=["month", "week", "one-a-day", "month-and-lifetime"],
)
@pytest.mark.parametrize("seed", [3, 17, 2026])
def test_long_histories_where_the_limit_binds_are_the_references(
    paths: list[str], limits: tuple[dict[str, Any], ...], seed: int
) -> None:
    history = long_history(seed, 160, customers=3)
    assert same_results(limited(*limits, **SETTINGS[0]), history)
    assert set(paths) == {"one" if len(limits) == 1 else "general"}


@given(st.integers(0, 2**32), st.integers(20, 120), st.sampled_from([150, 400, 900]))
def test_drawn_histories_under_a_monthly_limit_are_the_references(
    seed: int, events: int, most: int
) -> None:
    history = long_history(seed, events, customers=2)
    assert same_results(limited({"per": "month", "points": most}, **SETTINGS[1]), history)


def _evaluate(rules: Program, history: list[AnyEvent]) -> Any:
    from rewardrules.evaluation.fold import evaluate  # noqa: PLC0415

    return evaluate(rules, history, None, None, engine="batch")
