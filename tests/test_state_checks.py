"""Saved states are checked before use: consistency, the format version, the digest.

The laws: every state a real evaluation saves is accepted; a saved state changed in one
field is refused or gives exactly the result of the state as saved; and a state edited
without its digest is refused for each kind of inconsistency docs/api.md lists.
"""

from __future__ import annotations

import copy
import json
import pathlib
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bonus_strategies import bonus_programs, profiles
from helpers import at, line, program, purchase, redemption, refund
from rewardrules import CustomerState, evaluate, step
from rewardrules.engine import _purchase_checks, _state_format
from rewardrules.engine._purchase_checks import text_problems
from rewardrules.engine._state_columns import (
    PurchaseColumns,
    SavedLine,
    SavedPurchase,
    newest_then,
    purchase_columns,
    purchase_rows,
)
from rewardrules.engine._state_format import FORMAT, instant, micros
from rewardrules.engine.lots import PointsPolicy
from rewardrules.errors import HistoryError, format_path
from rewardrules.events import AnyEvent, Customer
from rewardrules.program.model import Program
from strategies import (
    cutoffs,
    lifecycle_histories,
)

STARS = {"kind": "points_per_spend", "id": "stars", "points": "1"}
WHAT_TO_DO = (
    "use the state exactly as rewardrules saved it, or rebuild it by evaluating the "
    "customer's history"
)
Data = dict[str, Any]
STATES = pathlib.Path(__file__).parent / "data" / "states"


def saved(*events: AnyEvent, rules_program: Program | None = None, customer: str = "c1") -> Data:
    """The state of ``customer`` after ``events``, as the JSON data an application keeps."""
    evaluation = evaluate(rules_program or program(rules=[STARS]), events)
    data: Data = json.loads(evaluation.customer(customer).state.model_dump_json())
    return data


def load_and_use(data: Data, rules_program: Program, customers: Sequence[Customer] = ()) -> None:
    """Load a state from its data and resume an evaluation from it."""
    state = CustomerState.model_validate(data)
    evaluate(rules_program, [], customers, states=[state])


def refusal(data: Data, rules_program: Program | None = None) -> list[str]:
    """The problems loading ``data`` (without its digest) and resuming from it raise."""
    data = {key: value for key, value in data.items() if key != "digest"}
    with pytest.raises(HistoryError) as raised:
        load_and_use(data, rules_program or program(rules=[STARS]))
    assert {problem.code for problem in raised.value.problems} == {"bad-state"}
    return [str(problem).removesuffix(f" ({WHAT_TO_DO})") for problem in raised.value.problems]


# --- what each check says ----------------------------------------------------------------


def test_points_that_disagree_with_the_lots_are_refused() -> None:
    data = saved(purchase("p1", at(), line("a", "3.00")))
    data["points"] = 300
    assert refusal(data) == ["state of c1.points: is 300, but the lots hold 3"]


def test_points_without_lots_are_refused() -> None:
    data = saved(purchase("p1", at(), line("a", "3.00")))
    data["lots"] = []
    assert refusal(data) == ["state of c1.lots: is empty, but points is 3; points are kept in lots"]


def test_a_debt_beside_points_left_in_a_lot_is_refused() -> None:
    data = saved(purchase("p1", at(), line("a", "3.00")))
    data["debt"], data["points"] = 2, 1
    assert refusal(data) == [
        "state of c1.debt: is 2, but the lots still hold 3 points; a debt is owed only once "
        "every lot is used"
    ]


def test_a_saved_purchase_with_an_empty_id_is_refused() -> None:
    data = saved(purchase("p1", at(), line("a", "3.00")))
    data["purchases"]["id"][0] = ""
    data["lots"][0]["source"] = ""
    assert refusal(data)[0] == "state of c1.purchases.id[0]: must not be empty"


def test_a_lot_of_an_event_the_customer_does_not_have_is_refused() -> None:
    data = saved(purchase("p1", at(), line("a", "3.00")))
    data["lots"][0]["source"] = "p9"
    assert refusal(data) == [
        "state of c1.lots[0].source: 'p9' is none of this customer's saved purchases, "
        "referrals or gifts; a lot holds points of the customer's own events"
    ]


def test_a_missing_last_event_at_is_refused() -> None:
    data = saved(purchase("p1", at(), line("a", "3.00")))
    del data["last_event_at"]
    assert refusal(data) == [
        "state of c1.last_event_at: is missing, but the state has evaluated events"
    ]


def test_a_last_event_at_earlier_than_a_saved_purchase_is_refused() -> None:
    data = saved(purchase("p1", at(), line("a", "3.00")), purchase("p2", at(2), line("a", "1.00")))
    data["last_event_at"] = at(1).isoformat()
    assert refusal(data) == [
        "state of c1.last_event_at: is 2026-03-03T12:00:00+00:00, earlier than purchases.at[1] "
        "(2026-03-04T12:00:00+00:00); it is the instant of the last evaluated event"
    ]


def test_refunded_units_beyond_the_quantity_are_refused() -> None:
    data = saved(
        purchase("p1", at(), line("a", "3.00", quantity=2)), refund("r1", at(1), "p1", ("a", 1))
    )
    data["purchases"]["refunded_units"][0] = 3
    assert refusal(data) == [
        "state of c1.purchases.refunded_units[0]: is 3, more than the line's quantity 2"
    ]


def test_a_saved_purchase_without_a_line_is_refused() -> None:
    data = saved(purchase("p1", at(), line("a", "3.00")))
    data["purchases"]["lines"][0] = 0
    for name in ("sku", "category", "quantity", "unit_price", "paid"):
        data["purchases"][name] = []
    data["purchases"]["refunded_units"] = data["purchases"]["refunded_amount"] = []
    data["stamps"] = {}
    assert refusal(data) == [
        "state of c1.purchases.lines[0]: must be at least 1: a purchase has a line (got 0)"
    ]


def test_a_line_column_of_another_length_than_the_lines_is_refused() -> None:
    data = saved(purchase("p1", at(), line("a", "3.00"), line("b", "1.00")))
    data["purchases"]["paid"].pop()
    data["purchases"]["points"]["stars"].append(1)
    assert refusal(data) == [
        "state of c1.purchases.points.stars: has 2 values for 1 purchase",
        "state of c1.purchases.paid: has 1 value for 2 lines (the sum of purchases.lines)",
    ]


def test_the_basis_of_a_purchase_not_saved_is_refused() -> None:
    data = saved(purchase("p1", at(), line("a", "3.00")))
    data["purchases"]["set_aside"] = {"p9": ["stars"]}
    assert refusal(data) == [
        "state of c1.purchases.set_aside.p9: 'p9' is none of the saved purchases (purchases.id)"
    ]


def test_a_tier_window_with_an_amount_per_instant_missing_is_refused() -> None:
    data = saved(purchase("p1", at(), line("a", "3.00")))
    data["forgotten_until"] = at(-1).isoformat()
    data["tier_window"] = {"at": [micros(at(-2))], "amount": []}
    assert refusal(data) == [
        "state of c1.tier_window.amount: has 0 values for 1 instant (tier_window.at)"
    ]


def test_a_paid_amount_above_the_line_s_gross_is_refused_in_the_currency_s_words() -> None:
    data = saved(purchase("p1", at(), line("a", "3.00", quantity=2)))
    data["purchases"]["paid"][0] = 601
    assert refusal(data) == ["state of c1.purchases.paid[0]: is 6.01, more than the line's 6.00"]


def test_negative_counts_are_refused() -> None:
    card = {"kind": "every_nth_free", "id": "card", "every": 3}
    rules_program = program(rules=[card])
    data = saved(purchase("p1", at(), line("a", "3.00")), rules_program=rules_program)
    data["stamps"]["card"] = -2
    data["purchases"]["refunded_units"][0] = -1
    assert refusal(data, rules_program) == [
        "state of c1.stamps.card: must not be negative (got -2)",
        "state of c1.purchases.refunded_units[0]: must not be negative (got -1)",
    ]


def test_a_negative_lot_is_refused_with_the_field_it_is_in() -> None:
    data = saved(purchase("p1", at(), line("a", "3.00")))
    data["lots"][0]["points"] = -3
    assert refusal(data) == ["state of c1.lots[0].points: must be at least 0 (got -3)"]


def test_a_lot_holding_more_than_its_purchase_earned_is_refused() -> None:
    waiting = program(rules=[STARS], points={"pending_for": "14 days"})
    data = saved(purchase("p1", at(), line("a", "30.00")), rules_program=waiting)
    data["purchases"]["points"]["stars"][0] = 3
    assert refusal(data, waiting) == [
        "state of c1.lots[0].points: is 30, more than the 3 its purchase p1 earned "
        "(purchases.points, purchase 0)"
    ]


def test_a_refunded_amount_that_the_refunded_units_do_not_give_is_refused() -> None:
    data = saved(
        purchase("p1", at(), line("a", "3.00", quantity=3)), refund("r1", at(1), "p1", ("a", 1))
    )
    data["purchases"]["refunded_amount"][0] = 200
    assert refusal(data) == [
        "state of c1.purchases.refunded_amount[0]: is 2.00, but 1 of 3 units refunded of "
        "9.00 paid give back 3.00"
    ]


def test_every_problem_of_a_state_is_reported_at_once() -> None:
    data = saved(purchase("p1", at(), line("a", "3.00")))
    data["points"] = 4
    data["purchases"]["quantity"][0] = 0
    assert [problem.split(":")[0] for problem in refusal(data)] == [
        "state of c1.purchases.quantity[0]",
        "state of c1.purchases.paid[0]",
        "state of c1.points",
    ]


def test_a_state_changed_in_memory_is_refused_by_step() -> None:
    state, _ = step(program(rules=[STARS]), None, purchase("p1", at(), line("a", "3.00")))
    changed = state.model_copy(update={"points": 300})
    with pytest.raises(HistoryError) as raised:
        step(program(rules=[STARS]), changed, purchase("p2", at(1), line("a", "1.00")))
    assert [str(problem) for problem in raised.value.problems] == [
        f"state of c1.points: is 300, but the lots hold 3 ({WHAT_TO_DO})"
    ]


def test_a_state_under_another_customer_s_key_is_refused() -> None:
    state = CustomerState.model_validate(saved(purchase("p1", at(), line("a", "3.00"))))
    with pytest.raises(HistoryError) as raised:
        evaluate(program(rules=[STARS]), [], states={"c2": state})
    assert [str(problem) for problem in raised.value.problems] == [
        "state of c1.customer_id: is given as the state of 'c2'; pass each state under its "
        "own customer"
    ]


def test_two_states_of_one_customer_are_refused() -> None:
    state = CustomerState.model_validate(saved(purchase("p1", at(), line("a", "3.00"))))
    with pytest.raises(HistoryError) as raised:
        evaluate(program(rules=[STARS]), [], states=[state, state])
    assert [str(problem) for problem in raised.value.problems] == [
        "state of c1: is given twice; pass one state per customer"
    ]


# --- the format version and the digest ---------------------------------------------------


FORMAT_1 = {
    "CustomerState": (
        "birthdays bonuses customer_id debt digest first_event_at format gift_cards "
        "last_event_at last_purchase_at limits lots points program purchases redemptions "
        "referrals refunds stamps tier_reached window_tier"
    ),
    "GiftCardWindow": "cards highest_spend net_spend",
    "LimitUsage": "period used",
    "Line": "category quantity sku unit_price",
    "Purchase": "at customer_id id lines store type",
    "SavedLot": "available_at earned_at expires_at points source",
    "SavedPurchase": "earned_on paid points purchase refunded_amount refunded_units set_aside tier",
    "SavedReferral": "id referred rule",
}
"""The keys of a format 1 state and of each object in it."""

FORMAT_2 = {
    **FORMAT_1,
    "CustomerState": (
        "birthdays bonuses customer_id debt digest first_event_at forgotten_until format "
        "gift_cards last_event_at last_purchase_at limits lots points program purchases "
        "redemptions referrals refunds stamps tier_amounts tier_reached tier_window "
        "window_tier"
    ),
    "TierAmount": "amount at",
}
"""The keys of a format 2 state: format 1's and what it keeps of forgotten purchases."""

FORMAT_3 = {
    **{name: keys for name, keys in FORMAT_2.items() if name not in ("Line", "Purchase")},
    "CustomerState": (
        "birthdays bonuses customer_id debt digest exponent first_event_at forgotten_until "
        "format gift_cards last_event_at last_purchase_at limits lots points program "
        "purchases redemptions referrals refunds stamps tier_amounts tier_reached tier_window "
        "window_tier"
    ),
    # Arrays, in this order: what a refund needs, in integers.
    "SavedPurchase": "[Id, At, Offset, Store, Tier, Lines, Points, Set Aside, Earned On]",
    "SavedLine": "[Sku, Category, Quantity, Unit Price, Paid, Refunded Units, Refunded Amount]",
    "TierAmount": "[At, Amount]",
}
"""The keys of a format 3 state: purchases and tier window pairs as arrays of integers."""

FORMAT_4 = {
    **FORMAT_3,
    "CustomerState": (
        "birthdays bonuses cancellations customer_id debt digest exponent first_event_at "
        "forgotten_until format gift_cards last_event_at last_purchase_at limits lots points "
        "program purchases redemptions referrals refunds settled_active_at spent stamps "
        "tier_amounts tier_granted tier_granted_until tier_reached tier_window window_tier"
    ),
    "SavedLot": "available_at earned_at expires_at lasting points source",
    "SavedSpent": "id quantity reward taken value",
    "SavedTaken": "earned_at points source",
}
"""The keys of a format 4 state: the settled activity for points.expire_on_inactivity,
lots that never expire (a tier's points_never_expire), a migrated customer's granted
tier, and the lots each redemption took points from."""


FORMAT_5 = {
    **FORMAT_4,
    "CustomerState": (
        "birthdays bonuses cancellations customer_id debt digest exponent first_event_at "
        "forgotten_until format gift_cards last_event_at last_purchase_at limits lots points "
        "program purchases redemptions referral_holds referrals refunds settled_active_at "
        "settled_purchase_at spent stamps tier_amounts tier_granted tier_granted_until "
        "tier_reached tier_window window_tier"
    ),
    "SavedReferral": "held_until id referred rule",
    "SavedHold": "gift_kept purchase reversed_by rule until",
}
"""The keys of a format 5 state: the latest forgotten purchase not refunded in full, for a
birthday rule's purchase_within; referral holds (a referral rule's hold_for), the
referrer's held reward and the friend's held purchase."""


FORMAT_6 = {
    **{
        name: keys
        for name, keys in FORMAT_5.items()
        if name not in ("SavedPurchase", "SavedLine", "TierAmount")
    },
    # Columns, one array per field; the lines of every purchase one after the other.
    "PurchaseColumns": (
        "at category earned_on id lines offset paid points quantity refunded_amount "
        "refunded_units set_aside sku store tier unit_price"
    ),
    "WindowColumns": "amount at",
}
"""The keys of a format 6 state: the saved purchases and the rolling tier window as columns."""

FORMAT_7 = {
    **FORMAT_6,
    "CustomerState": (
        "birthdays bonuses cancellations customer_id debt digest exponent first_event_at "
        "forgotten_until format gift_cards last_event_at last_purchase_at limits lots points "
        "program purchases redemptions referral_holds referrals refunds settled_active_at "
        "settled_purchase_at spent stamps tier_amounts tier_granted tier_granted_until "
        "tier_reached tier_window window_tier written_off"
    ),
    "SavedWriteOff": "points redemptions refund",
}
"""The keys of a format 7 state: the points refunds wrote off under negative_balance clamp
that cancelling a redemption applied before them may still recover."""


def test_the_saved_shape_changes_only_with_the_format() -> None:
    schema = CustomerState.model_json_schema()
    shape = {"CustomerState": " ".join(sorted(schema["properties"]))}
    for name, model in schema["$defs"].items():
        if "prefixItems" in model:
            shape[name] = f"[{', '.join(item['title'] for item in model['prefixItems'])}]"
        else:
            shape[name] = " ".join(sorted(model.get("properties", {})))
    # A key added, even with a default, changes what a dump writes, and with it the digest
    # of every state saved before: raise FORMAT, add the step to UPGRADES, write the new
    # shape here, and say in docs/api.md what the new format holds.
    assert (FORMAT, shape) == (7, FORMAT_7)


def test_a_dump_carries_the_format_and_a_digest_of_the_content() -> None:
    data = saved(purchase("p1", at(), line("a", "3.00")))
    assert data["format"] == FORMAT == 7
    assert len(data["digest"]) == 32
    assert CustomerState.model_validate(data).model_dump(mode="json") == data


def test_a_state_saved_before_the_format_existed_is_read_as_format_1() -> None:
    data = saved(purchase("p1", at(), line("a", "3.00")), redemption("x1", at(1), "pie"))
    unversioned = {key: value for key, value in data.items() if key not in ("format", "digest")}
    assert CustomerState.model_validate(unversioned) == CustomerState.model_validate(data)


def test_a_state_of_an_older_format_goes_through_each_upgrade_as_it_is_loaded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = saved(purchase("p1", at(), line("a", "3.00")))
    upgraded: list[int] = []

    def from_7(old: Data) -> Data:
        upgraded.append(old["format"])
        return old

    monkeypatch.setattr(_state_format, "FORMAT", 8)  # as if format 8 were the current one
    monkeypatch.setitem(_state_format.UPGRADES, 7, from_7)
    state = CustomerState.model_validate_json(json.dumps(data))
    assert (upgraded, state.format, state.points) == ([7], 8, 3)


def test_a_format_1_state_is_upgraded_to_one_that_forgot_no_purchase() -> None:
    old = json.loads(STATES.joinpath("format-1-refunds.json").read_text())
    assert not {"forgotten_until", "tier_amounts", "tier_window"} & set(old)
    state = CustomerState.model_validate(old)
    assert (state.format, state.forgotten_until, state.tier_amounts, state.tier_window) == (
        FORMAT,
        None,
        {},
        (),
    )


def test_a_state_of_a_newer_format_is_refused() -> None:
    data = saved(purchase("p1", at(), line("a", "3.00")))
    data["format"] = 8
    with pytest.raises(HistoryError) as raised:
        CustomerState.model_validate_json(json.dumps(data))
    assert [str(problem) for problem in raised.value.problems] == [
        "state of c1.format: is 8: the state was saved by a newer rewardrules, and this one "
        "reads formats up to 7 (upgrade rewardrules to use it)"
    ]


@pytest.mark.parametrize("version", [0, "1", 1.5, True, None])
def test_a_format_that_is_not_a_version_number_is_refused(version: object) -> None:
    data = saved(purchase("p1", at(), line("a", "3.00")))
    data["format"] = version
    assert refusal(data) == [
        f"state of c1.format: must be a format version, a whole number from 1 (got {version!r})"
    ]


def test_a_state_changed_after_it_was_saved_is_refused_by_its_digest() -> None:
    card = {"kind": "every_nth_free", "id": "card", "every": 3}
    rules_program = program(rules=[card])
    data = saved(purchase("p1", at(), line("a", "3.00", 2)), rules_program=rules_program)
    data["stamps"]["card"] = 1  # 2 before: a count no other field contradicts
    with pytest.raises(HistoryError) as raised:
        CustomerState.model_validate_json(json.dumps(data))
    assert [str(problem) for problem in raised.value.problems] == [
        "state of c1.digest: does not match the content: the state was changed after it was "
        f"saved ({WHAT_TO_DO})"
    ]


def test_a_state_kept_as_python_data_or_as_json_text_loads_back_equal() -> None:
    state = CustomerState.model_validate(saved(purchase("p1", at(), line("a", "3.00"))))
    from_data = CustomerState.model_validate(state.model_dump())
    from_text = CustomerState.model_validate_json(state.model_dump_json())
    assert from_data == from_text == state
    assert from_data.model_dump() == from_text.model_dump() == state.model_dump()


def test_a_value_written_another_way_is_refused_by_the_digest_alone() -> None:
    data = saved(purchase("p1", at(), line("a", "3.00")))
    data["first_event_at"] = at().astimezone(timezone(timedelta(hours=1))).isoformat()
    with pytest.raises(HistoryError) as raised:
        CustomerState.model_validate(data)
    assert [problem.path for problem in raised.value.problems] == [("state of c1", "digest")]
    del data["digest"]
    assert CustomerState.model_validate(data).first_event_at == at()


def test_a_field_of_the_wrong_type_is_a_bad_state_without_a_pydantic_address() -> None:
    data = saved(purchase("p1", at(), line("a", "3.00")))
    data["debt"] = "none"
    with pytest.raises(HistoryError) as raised:
        CustomerState.model_validate_json(json.dumps(data))
    (problem,) = raised.value.problems
    assert (problem.code, str(problem)) == (
        "bad-state",
        f"state of c1.debt: expected a whole number (got the text 'none') ({WHAT_TO_DO})",
    )


# --- the laws ----------------------------------------------------------------------------


# The bonus programs hold every kind of rule, points that wait and expire (or not), tiers,
# limits and groups; with profiles and as_of they also save gifts at dates and referrals.
@settings(max_examples=100)
@given(
    program=bonus_programs(), events=lifecycle_histories(), customers=profiles(), as_of=cutoffs()
)
def test_every_state_an_evaluation_saves_is_accepted(
    program: Program, events: list[AnyEvent], customers: list[Customer], as_of: Any
) -> None:
    evaluation = evaluate(program, events, customers, as_of)
    kept = [
        CustomerState.model_validate_json(result.state.model_dump_json())
        for result in evaluation.customers
    ]
    resumed = evaluate(program, [], customers, states=kept)
    assert [result.state for result in resumed.customers] == kept


Path = tuple[str | int, ...]


def _leaves(node: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, (*path, index))
    else:
        yield path, node


def _containers(node: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    if isinstance(node, dict | list):
        yield path, node
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            yield from _containers(value, (*path, key))


def _at(data: Any, path: Path) -> Any:
    for key in path:
        data = data[key]
    return data


def _as_instant(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _as_amount(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _changed_value(draw: st.DrawFn, value: Any, ids: list[str]) -> Any:
    """Another value of the same kind: a number, an amount, an instant or an id."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + draw(st.sampled_from((-1, 1, 2, 7, -value - 1)) | st.integers(-5, 5))
    if isinstance(value, str):
        moment = _as_instant(value)
        if moment is not None:
            minutes = draw(st.sampled_from((-1, 1, -60 * 24, 60 * 24 * 40)) | st.integers(-9, 9))
            return (moment + timedelta(minutes=minutes)).isoformat()
        amount = _as_amount(value)
        if amount is not None:
            change = draw(st.sampled_from(("0.01", "-0.01", "1.00", "-100")))
            return str(amount + Decimal(change))
        return draw(st.sampled_from([*ids, f"{value}x", "alice", "bob"]))
    return draw(st.sampled_from(ids)) if ids and value is None else value


@st.composite
def corruptions(draw: st.DrawFn, data: Data) -> tuple[Data, str]:
    """One change of a saved state: a value, a dropped key or item, or a renamed key."""
    corrupted = copy.deepcopy(data)
    ids = sorted({value for _, value in _leaves(data) if isinstance(value, str)})
    how = draw(st.sampled_from(("value", "value", "value", "drop", "rename")))
    if how == "value":
        path, value = draw(st.sampled_from(list(_leaves(data))))
        new = _changed_value(draw, value, ids)
        _at(corrupted, path[:-1])[path[-1]] = new
        return corrupted, f"{format_path(path)}: {value!r} -> {new!r}"
    holders = [(path, node) for path, node in _containers(data) if node]
    path, node = draw(st.sampled_from(holders))
    key = draw(st.sampled_from(list(node) if isinstance(node, dict) else range(len(node))))
    target = _at(corrupted, path)
    if how == "drop" or isinstance(node, list):
        del target[key]
        return corrupted, f"{format_path((*path, key))} dropped"
    renamed = draw(st.sampled_from([*ids, f"{key}x"]))
    if renamed in target:
        return corrupted, "nothing changed"
    target[renamed] = target.pop(key)
    return corrupted, f"{format_path((*path, key))} renamed {renamed!r}"


def _outcome(
    rules_program: Program,
    events: Sequence[AnyEvent],
    customers: Sequence[Customer],
    states: list[CustomerState],
) -> list[Any]:
    evaluation = evaluate(rules_program, events, customers, states=states)
    return [
        (
            result.customer_id,
            [entry.to_dict() for entry in result.ledger],
            result.points,
            result.available_points,
            result.pending_points,
            result.tier,
            result.stamps,
            result.state.model_dump(),
        )
        for result in evaluation.customers
    ]


@settings(max_examples=120)
@given(program=bonus_programs(), events=lifecycle_histories(), customers=profiles(), data=st.data())
def test_a_saved_state_changed_in_one_field_is_refused_or_gives_the_same_result(
    program: Program, events: list[AnyEvent], customers: list[Customer], data: st.DataObject
) -> None:
    split = data.draw(st.integers(1, len(events)), label="split")
    first = evaluate(program, events[:split], customers)
    kept = {
        result.customer_id: json.loads(result.state.model_dump_json()) for result in first.customers
    }
    customer = data.draw(st.sampled_from(sorted(kept)), label="customer")
    corrupted, change = data.draw(corruptions(kept[customer]), label="change")
    originals = [CustomerState.model_validate(state) for state in kept.values()]
    expected = _outcome(program, events[split:], customers, originals)
    try:
        loaded = CustomerState.model_validate(corrupted)
        states = [loaded if state.customer_id == customer else state for state in originals]
        got = _outcome(program, events[split:], customers, states)
    except HistoryError:
        return  # refused
    assert got == expected, change


Forgery = Callable[[st.DrawFn, Data, Program], tuple[str, ...] | None]
"""Changes a state's data in place; returns the fields a refusal may name (None: not
applicable to this state)."""


def _points(draw: st.DrawFn, data: Data, _: Program) -> tuple[str, ...] | None:
    data["points"] += draw(st.sampled_from((-1, 1, 100)))
    return ("points", "lots")  # points without lots are refused as such


def _lot_points(draw: st.DrawFn, data: Data, _: Program) -> tuple[str, ...] | None:
    if not data["lots"]:
        return None
    index = draw(st.integers(0, len(data["lots"]) - 1))
    data["lots"][index]["points"] += draw(st.sampled_from((1, 10)))
    return ("points",)


def _no_lots(draw: st.DrawFn, data: Data, _: Program) -> tuple[str, ...] | None:
    if data["points"] <= 0:
        return None
    data["lots"] = []
    return ("lots",)


def _debt(draw: st.DrawFn, data: Data, _: Program) -> tuple[str, ...] | None:
    data["debt"] += draw(st.sampled_from((1, 5)))
    return ("points",)


def _paid_beyond_gross(draw: st.DrawFn, data: Data, _: Program) -> tuple[str, ...] | None:
    columns = data["purchases"]
    if not columns["id"]:
        return None
    index = draw(st.integers(0, len(columns["paid"]) - 1))
    gross = columns["quantity"][index] * columns["unit_price"][index]
    columns["paid"][index] = gross + draw(st.integers(1, 99))
    return ("paid",)


def _lot_of_another(draw: st.DrawFn, data: Data, _: Program) -> tuple[str, ...] | None:
    if not data["lots"]:
        return None
    index = draw(st.integers(0, len(data["lots"]) - 1))
    data["lots"][index]["source"] = "p-of-someone-else"
    return ("source",)


def _no_last_event(draw: st.DrawFn, data: Data, _: Program) -> tuple[str, ...] | None:
    if data["last_event_at"] is None:
        return None
    del data["last_event_at"]
    return ("last_event_at",)


def _earlier_last_event(draw: st.DrawFn, data: Data, _: Program) -> tuple[str, ...] | None:
    if not data["purchases"]["id"]:
        return None
    last = instant(data["purchases"]["at"][-1])
    minutes = draw(st.integers(1, 60 * 24 * 400))
    data["last_event_at"] = (last - timedelta(minutes=minutes)).isoformat()
    return ("last_event_at",)


def _units_beyond_quantity(draw: st.DrawFn, data: Data, _: Program) -> tuple[str, ...] | None:
    columns = data["purchases"]
    if not columns["id"]:
        return None
    index = draw(st.integers(0, len(columns["quantity"]) - 1))
    columns["refunded_units"][index] = columns["quantity"][index] + draw(st.integers(1, 3))
    return ("refunded_units",)


def _negative_count(draw: st.DrawFn, data: Data, _: Program) -> tuple[str, ...] | None:
    # (where the count is, its key, the field a refusal names)
    counts: list[tuple[Any, Any, str]] = [
        (data["stamps"], rule, "stamps") for rule in data["stamps"]
    ]
    counts += [(usage, "used", "used") for usage in data["limits"].values()]
    columns = data["purchases"]
    for field in ("refunded_units", "quantity"):
        counts += [(columns[field], index, field) for index in range(len(columns[field]))]
    counts += [
        (gave, index, "points")
        for gave in columns["points"].values()
        for index, points in enumerate(gave)
        if points is not None
    ]
    if not counts:
        return None
    holder, key, field = draw(st.sampled_from(counts))
    holder[key] = -draw(st.integers(1, 3))
    return (field,)


def _purchase_points_below_its_lot(
    draw: st.DrawFn, data: Data, program: Program
) -> tuple[str, ...] | None:
    if not PointsPolicy.compile(program).has_clock:
        return None  # one lot holds every event's points: no lot is a purchase's
    columns = data["purchases"]
    by_id = {purchase_id: index for index, purchase_id in enumerate(columns["id"])}
    lots = [lot for lot in data["lots"] if lot["source"] in by_id and lot["points"] > 0]
    if not lots:
        return None
    lot = draw(st.sampled_from(lots))
    index = by_id[lot["source"]]
    for gave in columns["points"].values():
        if gave[index] is not None:
            gave[index] = 0
    earn = columns["points"].setdefault("earn", [None] * len(columns["id"]))
    earn[index] = lot["points"] - draw(st.integers(1, lot["points"]))
    return ("points",)


FORGERIES: dict[str, Forgery] = {
    "points": _points,
    "lot points": _lot_points,
    "no lots": _no_lots,
    "debt": _debt,
    "a paid amount beyond the line's gross": _paid_beyond_gross,
    "a lot of another customer": _lot_of_another,
    "last_event_at missing": _no_last_event,
    "last_event_at earlier": _earlier_last_event,
    "refunded units beyond the quantity": _units_beyond_quantity,
    "a negative count": _negative_count,
    "a purchase's points below its lot": _purchase_points_below_its_lot,
}


@settings(max_examples=150)
@given(
    program=bonus_programs(),
    events=lifecycle_histories(),
    customers=profiles(),
    forgery=st.sampled_from(sorted(FORGERIES)),
    data=st.data(),
)
def test_a_state_edited_without_its_digest_is_refused_for_each_listed_inconsistency(
    program: Program,
    events: list[AnyEvent],
    customers: list[Customer],
    forgery: str,
    data: st.DataObject,
) -> None:
    evaluation = evaluate(program, events, customers)
    result = data.draw(st.sampled_from(evaluation.customers), label="customer")
    edited: Data = json.loads(result.state.model_dump_json())
    del edited["digest"]
    fields = FORGERIES[forgery](data.draw, edited, program)
    if fields is None:
        return  # the state has nothing of that kind to change
    with pytest.raises(HistoryError) as raised:
        load_and_use(edited, program, customers)
    problems = raised.value.problems
    assert {problem.code for problem in problems} == {"bad-state"}
    named = [format_path(problem.path) for problem in problems]
    assert any(field in path for field in fields for path in named), named


def test_a_rule_basis_with_a_value_per_line_missing_is_refused() -> None:
    data = saved(purchase("p1", at(), line("a", "3.00")))
    data["purchases"]["earned_on"] = {"p1": {"stars": [300, 100]}}
    assert refusal(data) == ["state of c1.purchases.earned_on.p1.stars: has 2 values for 1 line"]


# --- the checks in C loops agree with the checks one by one -------------------------------

_NEAR_BOUNDS = st.sampled_from([-1, 0, 1, 10_000])
_PLAIN = st.sampled_from(["latte", "p1", "espresso"])
_TEXTS = st.sampled_from(
    ["latte", "p1", "espresso"] * 8 + ["", " p1", "caf\u00e9", "a\tb", "x" * 300]
)


def _perturbed(draw: st.DrawFn, values: list[Any], near: st.SearchStrategy[Any]) -> list[Any]:
    """``values``, or with one of them replaced by a value drawn from ``near``."""
    if values and draw(st.integers(0, 3)) == 0:
        values[draw(st.integers(0, len(values) - 1))] = draw(near)
    return values


@st.composite
def _saved_lines(draw: st.DrawFn) -> SavedLine:
    """A line as an evaluation saves it, or with one number changed near its bounds."""
    quantity = draw(st.integers(1, 3))
    unit_price = draw(st.integers(0, 500))
    paid = draw(st.integers(0, quantity * unit_price))
    units = draw(st.integers(0, quantity))
    back = draw(st.integers(0, paid))
    numbers = _perturbed(draw, [quantity, unit_price, paid, units, back], _NEAR_BOUNDS)
    texts = st.sampled_from([_PLAIN] * 9 + [_TEXTS]).flatmap(lambda texts: texts)
    return SavedLine(draw(texts), draw(st.none() | texts), *numbers)


@st.composite
def _saved_purchases(draw: st.DrawFn) -> SavedPurchase:
    """A saved purchase with fields drawn at and beyond every bound its checks test."""
    (at,) = _perturbed(
        draw,
        [_purchase_checks.FIRST_AT],
        st.sampled_from(
            [_purchase_checks.FIRST_AT - 1, _purchase_checks.END_AT - 1, _purchase_checks.END_AT]
        ),
    )
    (offset,) = _perturbed(draw, [3_600], st.sampled_from([-86_400, -86_399, 86_399, 86_400]))
    lines = tuple(draw(st.lists(_saved_lines(), min_size=1, max_size=3)))
    points = draw(st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 9), max_size=2))
    if points and draw(st.booleans()):
        points[min(points)] = -1
    earned_on = draw(
        st.just({})
        | st.builds(dict, st.just([("a", tuple(line.paid for line in lines))]))
        | st.dictionaries(st.just("a"), st.lists(_NEAR_BOUNDS, max_size=3).map(tuple), max_size=1)
    )
    return SavedPurchase(
        draw(_TEXTS),
        at,
        offset,
        draw(st.none() | _PLAIN),
        None,
        draw(st.just(lines) | st.just(())),
        points,
        (),
        earned_on,
    )


def _refused_one_by_one(kept: SavedPurchase) -> bool:
    """Whether a saved purchase breaks a check, decided one value at a time."""
    texts = [kept.id, kept.store, *(line.sku for line in kept.lines)]
    texts += [line.category for line in kept.lines]
    return (
        any(list(text_problems(("x",), text)) for text in texts if text is not None)
        or not _purchase_checks.FIRST_AT <= kept.at < _purchase_checks.END_AT
        or not -_purchase_checks.DAY < kept.offset < _purchase_checks.DAY
        or not kept.lines
        or any(points < 0 for points in kept.points.values())
        or any(
            line.quantity < 1
            or line.unit_price < 0
            or line.refunded_units < 0
            or line.refunded_amount < 0
            or line.refunded_units > line.quantity
            or line.refunded_amount > line.paid
            or not 0 <= line.paid <= line.quantity * line.unit_price
            for line in kept.lines
        )
        or any(
            len(seen) != len(kept.lines) or any(amount < 0 for amount in seen)
            for seen in kept.earned_on.values()
        )
    )


@settings(max_examples=400)  # cheap examples; each bound is met by a few in a hundred
@given(purchases=st.lists(_saved_purchases(), max_size=4, unique_by=lambda kept: kept.id))
def test_the_checks_of_purchase_columns_in_c_loops_agree_with_the_checks_one_by_one(
    purchases: list[SavedPurchase],
) -> None:
    columns = purchase_columns(purchases)
    assert not list(_purchase_checks.shape_problems(columns))
    found = list(_purchase_checks.value_problems(columns, 2))
    # Never passes a purchase the checks one by one refuse, nor refuses a sound one.
    assert bool(found) == any(map(_refused_one_by_one, purchases)), found
    fields = set(PurchaseColumns.model_fields)
    assert all(path[0] == "purchases" and path[1] in fields for path, _ in found)


_SOUND_LINE = SavedLine("latte", "coffee", 2, 450, 800, 1, 400)
_SOUND_PURCHASE = SavedPurchase(
    "p1", _purchase_checks.FIRST_AT, 3_600, "s1", None, (_SOUND_LINE,), {"a": 3}, (), {}
)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"at": _purchase_checks.FIRST_AT - 1}, ("at", 1)),
        ({"at": _purchase_checks.END_AT}, ("at", 1)),
        ({"offset": -86_400}, ("offset", 1)),
        ({"offset": 86_400}, ("offset", 1)),
        ({"lines": ()}, ("lines", 1)),
        ({"points": {"a": -1}}, ("points", "a", 1)),
        ({"earned_on": {"a": (1, 2)}}, ("earned_on", "p2", "a")),
        ({"quantity": 0}, ("quantity", 2)),
        ({"unit_price": -1}, ("unit_price", 2)),
        ({"paid": -1}, ("paid", 2)),
        ({"paid": 901}, ("paid", 2)),
        ({"refunded_units": -1}, ("refunded_units", 2)),
        ({"refunded_units": 3}, ("refunded_units", 2)),
        ({"refunded_amount": -1}, ("refunded_amount", 2)),
        ({"refunded_amount": 801}, ("refunded_amount", 2)),
    ],
    ids=repr,
)
def test_the_c_loop_checks_refuse_a_saved_purchase_beyond_each_bound_where_it_is(
    change: Data, where: tuple[str | int, ...]
) -> None:
    line_fields = {key: value for key, value in change.items() if key in SavedLine._fields}
    kept = _SOUND_PURCHASE._replace(
        id="p2",
        lines=(_SOUND_LINE, _SOUND_LINE._replace(**line_fields)) if line_fields else (_SOUND_LINE,),
    )
    kept = kept._replace(**{key: value for key, value in change.items() if key not in line_fields})
    sound = purchase_columns([_SOUND_PURCHASE])
    assert not list(_purchase_checks.value_problems(sound, 2))
    found = list(_purchase_checks.value_problems(purchase_columns([_SOUND_PURCHASE, kept]), 2))
    assert ("purchases", *where) in [path for path, _ in found]


def test_the_rows_read_from_the_columns_are_the_rows_they_were_made_of() -> None:
    rows = (
        _SOUND_PURCHASE,
        _SOUND_PURCHASE._replace(
            id="p2", points={}, set_aside=("b",), earned_on={"c": (700,)}, store=None
        ),
        _SOUND_PURCHASE._replace(id="p3", points={"b": 0, "a": 1}, lines=(_SOUND_LINE,) * 2),
    )
    columns = purchase_columns(rows)
    assert columns.lines == (1, 1, 2)
    assert columns.points == {"a": (3, None, 1), "b": (None, None, 0)}
    assert purchase_rows(columns) == rows
    state = CustomerState.model_construct(program="x", customer_id="c1", purchase_columns=columns)
    assert state.purchases == rows
    assert state.purchases is state.purchases  # built once


@settings(max_examples=200)
@given(
    purchases=st.lists(_saved_purchases(), max_size=6, unique_by=lambda kept: kept.id),
    data=st.data(),
)
def test_a_step_s_slice_of_the_saved_columns_and_new_rows_is_the_columns_of_those_rows(
    purchases: list[SavedPurchase], data: st.DataObject
) -> None:
    saved_count = data.draw(st.integers(0, len(purchases)), label="saved")
    start = data.draw(st.integers(0, saved_count), label="forgotten")
    aside = st.sampled_from([(), ("b",)])
    rows = [kept._replace(set_aside=data.draw(aside)) for kept in purchases]
    saved_columns = purchase_columns(rows[:saved_count])
    written = newest_then(saved_columns, start, rows[saved_count:])
    assert written == purchase_columns(rows[start:])
    assert written.model_dump_json() == purchase_columns(rows[start:]).model_dump_json()
