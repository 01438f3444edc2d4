"""The catalogue (docs/lifecycle.md, "The catalogue"): quantities, points-plus-cash rewards,
rewards for some tiers, per-customer limits, and cancelled redemptions.

Every program here earns 1 point per 1.00 paid, and its points expire 30 days after they
are earned; histories start at ``BASE``, Monday 2 March 2026 at noon UTC.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from helpers import at, line, program, purchase, refund
from rewardrules.cli.main import cli
from rewardrules.engine.ledger import Evaluation
from rewardrules.errors import HistoryError
from rewardrules.evaluation.fold import evaluate, step
from rewardrules.events import AnyEvent, CancelRedemption, Redemption
from rewardrules.program.model import Program
from rewardrules.rulefiles.loader import loads_program
from strategies import lifecycle_histories, lifecycle_programs
from strategies.lifecycle import CATALOGUE_REWARD_IDS
from strategies.values import CUSTOMERS

EARN = {"id": "points", "kind": "points_per_spend", "points": 1, "per": "1.00"}
CAKE = {"id": "cake", "name": "Cake", "cost": 100, "value": "6.00"}
MUG = {"id": "mug", "name": "Mug", "cost": 40, "value": "5.00", "cash": "2.00", "per_customer": 2}
LOUNGE = {"id": "lounge", "name": "Lounge pass", "cost": 10, "value": "1.00", "tiers": ["gold"]}
TIERS = {
    "qualify_by": "spend",
    "window": "lifetime",
    "levels": [{"name": "silver", "at_least": "100.00"}, {"name": "gold", "at_least": "500.00"}],
}


def shop(**fields: Any) -> Program:
    """1 point per 1.00, expiring after 30 days; a cake, a mug for points and cash."""
    rewards = fields.pop("rewards", [CAKE, MUG])
    return program(
        points={"value": "0.01", "expire_after": "30 days"},
        rewards=rewards,
        rules=[EARN],
        **fields,
    )


def buy(id: str, days: int, amount: str, customer: str = "c1") -> AnyEvent:
    return purchase(id, at(days), line("item", amount), customer=customer)


def redeem(id: str, days: int, reward: str, quantity: int = 1, hours: int = 0) -> Redemption:
    return Redemption(
        id=id, customer_id="c1", at=at(days, hours=hours), reward=reward, quantity=quantity
    )


def cancel(id: str, days: int, redemption_id: str, hours: int = 0) -> CancelRedemption:
    return CancelRedemption(
        id=id, customer_id="c1", at=at(days, hours=hours), redemption_id=redemption_id
    )


def lots(evaluation: Evaluation) -> list[tuple[str, int]]:
    return [(lot.source, lot.points) for lot in evaluation.customer("c1").state.lots]


def catalogue_rows(evaluation: Evaluation) -> list[tuple[str, str, int | None, Any, Any, str]]:
    """(event, kind, points, value, units, reason) of the catalogue's entries."""
    return [
        (e.event_id, e.kind, e.points, e.value, e.units, e.reason)
        for e in evaluation.customer("c1").ledger
        if e.kind in ("redemption", "rejected")
    ]


# --- quantity and cash ------------------------------------------------------------------


def test_a_quantity_costs_cost_times_quantity_and_cash_lowers_the_value_per_unit() -> None:
    # 120 points; 2 mugs cost 2 x 40 = 80 points and 2 x 2.00 cash, and cost the business
    # 2 x (5.00 - 2.00) = 6.00.
    found = evaluate(shop(), [buy("p1", 0, "120.00"), redeem("r1", 1, "mug", 2)])
    assert catalogue_rows(found) == [
        (
            "r1",
            "redemption",
            -80,
            Decimal("6.00"),
            2,
            "redeemed 2 x Mug for 80 points and 4.00 USD in cash",
        )
    ]
    assert found.customer("c1").points == 40
    assert found.totals.redemptions == 1
    assert found.totals.points_redeemed == 80


def test_a_quantity_is_rejected_whole_when_the_limit_or_the_balance_cannot_take_it() -> None:
    found = evaluate(shop(), [buy("p1", 0, "200.00"), redeem("r1", 1, "mug", 3)])
    assert catalogue_rows(found) == [
        (
            "r1",
            "rejected",
            None,
            None,
            None,
            "rejected: Mug is limited to 2 per customer (0 redeemed before, 3 asked)",
        )
    ]
    cakes = evaluate(shop(), [buy("p1", 0, "150.00"), redeem("r1", 1, "cake", 2)])
    assert catalogue_rows(cakes)[0][5] == (
        "rejected: Cake costs 200 points, but only 150 are available"
    )
    assert cakes.customer("c1").points == 150


def test_cash_at_or_above_the_value_costs_the_business_nothing() -> None:
    free = {**MUG, "cash": "7.50"}
    found = evaluate(shop(rewards=[free]), [buy("p1", 0, "50.00"), redeem("r1", 1, "mug")])
    assert catalogue_rows(found)[0][2:4] == (-40, Decimal("0.00"))


# --- per-customer limits ----------------------------------------------------------------


def test_per_customer_counts_units_and_a_cancellation_gives_them_back() -> None:
    history = [
        buy("p1", 0, "300.00"),
        redeem("r1", 1, "mug", 2),
        redeem("r2", 2, "mug"),  # 2 + 1 > 2
        cancel("u1", 3, "r1"),
        redeem("r3", 4, "mug", 2),  # the cancelled 2 count no more
    ]
    found = evaluate(shop(), history)
    kinds = [(row[0], row[1], row[2]) for row in catalogue_rows(found)]
    assert kinds == [
        ("r1", "redemption", -80),
        ("r2", "rejected", None),
        ("u1", "redemption", 80),
        ("r3", "redemption", -80),
    ]
    assert catalogue_rows(found)[1][5] == (
        "rejected: Mug is limited to 2 per customer (2 redeemed before, 1 asked)"
    )
    assert found.customer("c1").points == 300 - 80
    assert found.totals.redemptions == 1  # r1 and r3, less the cancellation u1
    assert found.totals.points_redeemed == 80
    assert found.totals.redemption_value == 600  # minor units: 2 x 3.00 once


def test_per_customer_holds_across_a_saved_state() -> None:
    shop_program = shop()
    first = evaluate(shop_program, [buy("p1", 0, "300.00"), redeem("r1", 1, "mug", 2)])
    state = first.customer("c1").state
    _, entries = step(shop_program, state, redeem("r2", 2, "mug"))
    assert [entry.kind for entry in entries] == ["rejected"]


# --- rewards for some tiers -------------------------------------------------------------


def test_a_reward_for_some_tiers_is_rejected_below_them_and_given_at_them() -> None:
    tiered = shop(tiers=TIERS, rewards=[LOUNGE])
    history = [
        buy("p1", 0, "200.00"),  # silver from now on
        redeem("r1", 1, "lounge"),
        buy("p2", 2, "300.00"),  # 500.00 in the window: gold
        redeem("r2", 3, "lounge"),
    ]
    found = evaluate(tiered, history)
    assert [(row[0], row[1], row[5]) for row in catalogue_rows(found)] == [
        ("r1", "rejected", "rejected: Lounge pass is for tier gold only (at tier silver)"),
        ("r2", "redemption", "redeemed Lounge pass for 10 points"),
    ]


def test_a_reward_naming_an_unknown_tier_is_a_located_error() -> None:
    text = """\
program: shop
name: Shop
currency: USD
timezone: UTC
rewards:
  - {id: lounge, name: Lounge, cost: 10, value: "1.00", tiers: [gold]}
"""
    with pytest.raises(Exception) as caught:  # noqa: PT011 -- the message is what is checked
        loads_program(text, "shop.yaml")
    message = str(caught.value)
    assert "shop.yaml:6" in message
    assert "the tier 'gold' is named, but the program defines no tiers" in message


# --- cancelling a redemption ------------------------------------------------------------


def test_cancel_gives_the_points_back_to_the_lots_they_came_from() -> None:
    # p1 earns 50 (expiring day 30), p2 80 (day 40); the cake takes 50 from p1, 50 from p2.
    base = [buy("p1", 0, "50.00"), buy("p2", 10, "80.00"), redeem("r1", 11, "cake")]
    spent = evaluate(shop(), base)
    assert lots(spent) == [("p1", 0), ("p2", 30)]
    undone = evaluate(shop(), [*base, cancel("u1", 12, "r1")])
    assert lots(undone) == [("p1", 50), ("p2", 80)]
    assert catalogue_rows(undone)[-1] == (
        "u1",
        "redemption",
        100,
        Decimal("-6.00"),
        -1,
        "cancelled redemption r1 of Cake: 100 points back",
    )
    assert undone.totals.redemptions == 0
    assert undone.totals.points_redeemed == 0
    assert undone.totals.redemption_value == 0
    # Given back to p1, the 50 points expire with p1 on day 30.
    later = evaluate(shop(), [*base, cancel("u1", 12, "r1")], as_of=at(31).date())
    assert lots(later) == [("p2", 80)]
    assert later.customer("c1").points == 80


def test_points_of_a_lot_that_expired_before_the_cancellation_are_not_given_back() -> None:
    base = [buy("p1", 0, "50.00"), buy("p2", 10, "80.00"), redeem("r1", 11, "cake")]
    found = evaluate(shop(), [*base, cancel("u1", 31, "r1")])  # p1 expired on day 30
    assert lots(found) == [("p2", 80)]
    assert catalogue_rows(found)[-1][2] == 50
    assert catalogue_rows(found)[-1][5] == (
        "cancelled redemption r1 of Cake: 50 points back "
        "(50 more had expired since and are not given back)"
    )
    # The 50 of p1 stay spent: redeemed 100, 50 of them given back.
    assert found.totals.points_redeemed == 50


@pytest.mark.parametrize("engine", ["reference", "batch"])
def test_a_cancellation_through_a_saved_state_gives_the_same_lots(engine: str) -> None:
    shop_program = shop()
    base = [
        buy("p1", 0, "50.00"),
        buy("p2", 10, "80.00"),
        redeem("r1", 11, "cake"),
        redeem("r2", 11, "mug", hours=1),
        cancel("u2", 11, "r2", hours=2),
    ]
    state = evaluate(shop_program, base, engine=engine).customer("c1").state
    assert state.cancellations == {"u2": "r2"}
    assert [spent.id for spent in state.spent] == ["r1"]
    reloaded = type(state).model_validate_json(state.model_dump_json())
    stepped, entries = step(shop_program, reloaded, cancel("u1", 12, "r1"))
    assert [(lot.source, lot.points) for lot in stepped.lots] == [("p1", 50), ("p2", 80)]
    assert [(entry.kind, entry.points, entry.units) for entry in entries] == [
        ("redemption", 100, -1)
    ]
    with pytest.raises(HistoryError, match="redemption r2 was already cancelled by u2"):
        step(shop_program, reloaded, cancel("u3", 12, "r2"))


def test_cancelling_a_rejected_redemption_gives_nothing() -> None:
    found = evaluate(
        shop(), [buy("p1", 0, "50.00"), redeem("r1", 1, "cake"), cancel("u1", 2, "r1")]
    )
    assert [row[1] for row in catalogue_rows(found)] == ["rejected"]
    assert found.customer("c1").points == 50


def someone_else(event: AnyEvent) -> AnyEvent:
    return event.model_copy(update={"customer_id": "c2"})


@pytest.mark.parametrize("engine", ["reference", "batch"])
@pytest.mark.parametrize(
    ("history", "message"),
    [
        (
            [buy("p1", 0, "50.00"), cancel("u1", 1, "r9")],
            "event u1.redemption_id: it cancels redemption r9, which customer c1 has not made "
            "before it; check the redemption id",
        ),
        (
            [
                buy("p1", 0, "150.00"),
                redeem("r1", 1, "cake"),
                cancel("u1", 2, "r1"),
                cancel("u2", 3, "r1"),
            ],
            "event u2.redemption_id: redemption r1 was already cancelled by u1; cancel it once",
        ),
        (  # before the redemption it names
            [buy("p1", 0, "150.00"), cancel("u1", 1, "r1"), redeem("r1", 2, "cake")],
            "event u1.redemption_id: it cancels redemption r1, which customer c1 has not made "
            "before it; check the redemption id",
        ),
        (  # another customer's redemption
            [
                buy("p1", 0, "150.00", customer="c2"),
                someone_else(redeem("r1", 1, "cake")),
                cancel("u1", 2, "r1"),
            ],
            "event u1.redemption_id: it cancels redemption r1, which customer c1 has not made "
            "before it; check the redemption id",
        ),
        (  # a purchase, and itself
            [buy("p1", 0, "150.00"), cancel("u1", 1, "p1")],
            "event u1.redemption_id: it cancels redemption p1, which customer c1 has not made "
            "before it; check the redemption id",
        ),
        (
            [buy("p1", 0, "150.00"), cancel("u1", 1, "u1")],
            "event u1.redemption_id: it cancels redemption u1, which customer c1 has not made "
            "before it; check the redemption id",
        ),
        (  # the first bad one by time, not by customer
            [
                buy("p1", 0, "150.00", customer="c2"),
                someone_else(cancel("u2", 2, "r8")),
                buy("p2", 0, "150.00"),
                cancel("u1", 3, "r9"),
            ],
            "event u2.redemption_id: it cancels redemption r8, which customer c2 has not made "
            "before it; check the redemption id",
        ),
    ],
)
def test_a_cancellation_of_no_redemption_is_a_located_error(
    history: list[AnyEvent], message: str, engine: str
) -> None:
    with pytest.raises(HistoryError) as caught:
        evaluate(shop(), history, engine=engine)
    assert str(caught.value) == message
    assert caught.value.problems[0].path[-1] == "redemption_id"


def test_a_cancellation_pays_a_debt_first() -> None:
    # 150 points; the cake takes 100 (50 left in p1); refunding p1 wants its 150 back: the
    # 50 left, and 100 owed. The cancellation's 100 points pay that debt.
    history = [
        buy("p1", 0, "150.00"),
        redeem("r1", 1, "cake"),
        refund("f1", at(2), "p1"),
        cancel("u1", 3, "r1"),
    ]
    found = evaluate(shop(), history)
    result = found.customer("c1")
    assert result.state.debt == 0
    assert result.points == 0
    assert catalogue_rows(found)[-1][5] == (
        "cancelled redemption r1 of Cake: 100 points back; 100 of them paid back a debt"
    )


# --- the batch engine -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rewards", "history", "kinds"),
    [
        pytest.param(
            [CAKE, MUG],
            [
                buy("p1", 0, "300.00"),
                redeem("r1", 1, "mug"),
                redeem("r2", 2, "mug"),
                redeem("r3", 3, "mug"),
                redeem("r4", 4, "cake"),
            ],
            ["redemption", "redemption", "rejected", "redemption"],
            id="cash and per_customer",
        ),
        pytest.param(
            [CAKE, MUG],
            [
                buy("p1", 0, "200.00"),
                redeem("r1", 1, "mug", 3),  # over the limit
                redeem("r2", 2, "mug", 2),
                redeem("r3", 3, "cake", 2),  # over the balance
                cancel("u1", 4, "r2"),
                redeem("r4", 5, "mug", 2),  # the cancelled units count no more
            ],
            ["rejected", "redemption", "rejected", "redemption", "redemption"],
            id="quantities",
        ),
        pytest.param(
            [CAKE, MUG],
            [
                buy("p1", 0, "50.00"),
                buy("p2", 10, "50.00"),
                redeem("r1", 11, "cake"),
                cancel("u1", 31, "r1"),  # p1's lot expired on day 30
                redeem("r2", 32, "cake"),
                cancel("u2", 33, "r2"),  # rejected: nothing back
            ],
            ["redemption", "redemption", "rejected"],
            id="a cancellation after a lot expired",
        ),
        pytest.param(
            [CAKE, MUG],
            [
                buy("p1", 0, "150.00"),
                redeem("r1", 1, "cake"),
                refund("f1", at(2), "p1"),
                cancel("u1", 3, "r1"),
            ],
            ["redemption", "redemption"],
            id="a cancellation pays a debt",
        ),
        pytest.param(
            [CAKE, LOUNGE],
            [
                buy("p1", 0, "450.00"),
                redeem("r1", 1, "lounge"),  # silver
                buy("p2", 2, "60.00"),
                redeem("r2", 2, "lounge", hours=1),  # gold
                cancel("u1", 3, "r2"),
                redeem("r3", 4, "lounge", 2),
                refund("f1", at(5), "p2"),
                redeem("r4", 6, "lounge"),  # silver again
            ],
            ["rejected", "redemption", "redemption", "redemption", "rejected"],
            id="rewards for some tiers",
        ),
    ],
)
def test_the_batch_engine_gives_the_reference_catalogue(
    rewards: list[dict[str, Any]], history: list[AnyEvent], kinds: list[str]
) -> None:
    fields: dict[str, Any] = {"rewards": rewards}
    if LOUNGE in rewards:
        fields["tiers"] = TIERS
    reference = evaluate(shop(**fields), history, engine="reference")
    batch = evaluate(shop(**fields), history, engine="batch")
    assert batch.to_dict() == reference.to_dict()
    assert batch.customer("c1").state == reference.customer("c1").state
    assert [row[1] for row in catalogue_rows(batch)] == kinds


def test_the_batch_engine_asks_a_redemption_the_tier_it_holds_by_keep_for() -> None:
    # p3 is made at gold (510.00 before it) on day 1, which is kept 10 days: a lounge pass
    # on day 5 passes although the refund took the spend back below gold, and one on day
    # 20 is rejected.
    tiers = {**TIERS, "keep_for": "10 days"}
    history = [
        buy("p1", 0, "450.00"),
        buy("p2", 1, "60.00"),
        purchase("p3", at(1, hours=1), line("item", "10.00")),
        refund("f1", at(2), "p2"),
        redeem("r1", 5, "lounge"),
        redeem("r2", 20, "lounge"),
    ]
    reference = evaluate(shop(rewards=[LOUNGE], tiers=tiers), history, engine="reference")
    batch = evaluate(shop(rewards=[LOUNGE], tiers=tiers), history, engine="batch")
    assert batch.to_dict() == reference.to_dict()
    assert [row[1] for row in catalogue_rows(batch)] == ["redemption", "rejected"]


# --- the law ----------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["reference", "batch"])
@given(
    program=lifecycle_programs(reward_tiers=True),
    events=lifecycle_histories(catalogue=True),
    data=st.data(),
)
def test_cancel_right_after_a_redemption_leaves_the_lots_as_before(
    engine: str, program: Program, events: list[AnyEvent], data: st.DataObject
) -> None:
    # A redemption and its cancellation at one instant, after the drawn history, against a
    # rejected redemption there (so that both run the clock to that instant alike).
    customer = data.draw(st.sampled_from(CUSTOMERS), label="customer")
    when = max((event.at for event in events), default=at(0)) + timedelta(
        days=data.draw(st.sampled_from((0, 1, 45))), seconds=1
    )
    reward = data.draw(st.sampled_from(CATALOGUE_REWARD_IDS), label="reward")
    quantity = data.draw(st.integers(1, 3), label="quantity")
    asked = Redemption(id="zz1", customer_id=customer, at=when, reward=reward, quantity=quantity)
    undone = CancelRedemption(id="zz2", customer_id=customer, at=when, redemption_id="zz1")
    nothing = Redemption(id="zz1", customer_id=customer, at=when, reward="pie")
    after = evaluate(program, [*events, asked, undone], engine=engine).customer(customer)
    before = evaluate(program, [*events, nothing], engine=engine).customer(customer)
    assert after.state.lots == before.state.lots
    assert (after.points, after.available_points, after.state.debt) == (
        before.points,
        before.available_points,
        before.state.debt,
    )
    # Under clamp, the write-offs a cancellation may recover (none came after zz1).
    assert after.state.written_off == before.state.written_off
    spent = [entry for entry in after.ledger if entry.event_id == "zz1"]
    back = [entry for entry in after.ledger if entry.event_id == "zz2"]
    if spent[-1].kind == "redemption":
        assert [(entry.kind, entry.points) for entry in back] == [
            ("redemption", -(spent[-1].points or 0))
        ]
    else:
        assert back == []


def test_explain_says_what_a_cancellation_gave_back() -> None:
    examples = Path(__file__).resolve().parent.parent / "rules" / "examples"
    result = CliRunner().invoke(
        cli,
        [
            "explain",
            str(examples / "gift-shop.yaml"),
            str(examples / "gift-shop.history.jsonl"),
            "--customer",
            "ana",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (
        "Cancellation u2 on 2026-05-05 10:00 of redemption x6, 40 points back\n"
        "  tote  gave back  cancelled redemption x6 of Tote bag: 40 points back (10 more had "
        "expired since and are not given back)\n"
    ) in result.output
    assert "  lounge  nothing  rejected: Lounge pass is for tier gold only (at tier silver)\n" in (
        result.output
    )
