"""The unions of a program (``reward``, ``tiers.window``) are told apart by pydantic itself.

A callable discriminator picks the member the author wrote, so pydantic validates that member
only: one error where a plain union gave one per member.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from rewardrules import RuleFileError, loads_program
from rewardrules.program._unions import NOT_ONE_OF
from rewardrules.program.model import (
    EveryNthFree,
    PercentOff,
    RollingWindow,
    Tiers,
    VoucherReward,
    VoucherSpec,
)

HEADER = "program: p\nname: P\ncurrency: USD\ntimezone: UTC\n"
CARD = {"id": "card", "kind": "every_nth_free", "every": 3}


def messages(text: str) -> list[str]:
    with pytest.raises(RuleFileError) as caught:
        loads_program(HEADER + text)
    return [str(problem).splitlines()[0] for problem in caught.value.problems]


def test_a_percentage_over_100_is_one_error_of_the_member_written() -> None:
    with pytest.raises(ValidationError) as caught:
        EveryNthFree.model_validate({**CARD, "reward": {"percent_off": 150}})
    [error] = caught.value.errors()
    assert (error["type"], error["loc"]) == (
        "less_than_equal",
        ("reward", "PercentOff", "percent_off"),
    )
    assert messages(
        "rules:\n  - {id: a, kind: every_nth_free, every: 3, reward: {percent_off: 150}}"
    ) == ["<text>:6:67: rules[0].reward.percent_off: must be at most 100 (got 150)"]


@pytest.mark.parametrize(
    ("reward", "member"),
    [
        ("free", str),
        ({"percent_off": 30}, PercentOff),
        ({"voucher": {"sku": "wash", "value": 12}}, VoucherReward),
        (PercentOff(percent_off=Decimal(5)), PercentOff),
        (VoucherReward(voucher=VoucherSpec(sku="x", value=Decimal(1))), VoucherReward),
    ],
)
def test_each_member_is_read_and_dumped_back(reward: object, member: type) -> None:
    card = EveryNthFree.model_validate({**CARD, "reward": reward})
    assert isinstance(card.reward, member)
    assert EveryNthFree.model_validate(card.model_dump()) == card


@pytest.mark.parametrize("reward", ["gratis", 3, [], {"colour": "red"}])
def test_a_value_of_no_member_is_one_error_that_names_them(reward: object) -> None:
    with pytest.raises(ValidationError) as caught:
        EveryNthFree.model_validate({**CARD, "reward": reward})
    [error] = caught.value.errors()
    assert (error["type"], error["loc"]) == (NOT_ONE_OF, ("reward",))
    assert error["msg"] == (
        "must be one of: free, a mapping with percent_off, a mapping with voucher"
    )


def test_a_misspelt_word_of_a_union_gets_a_suggestion() -> None:
    assert messages("rules:\n  - {id: a, kind: every_nth_free, every: 3, reward: fre}") == [
        "<text>:6:53: rules[0].reward: must be one of: free, a mapping with percent_off, a "
        "mapping with voucher (got 'fre') (did you mean 'free'?)"
    ]


@pytest.mark.parametrize(
    ("window", "read"),
    [
        ("lifetime", "lifetime"),
        ("calendar_month", "calendar_month"),
        ("52 weeks", RollingWindow(days=364)),
        ({"days": 30}, RollingWindow(days=30)),
    ],
)
def test_a_tier_window_is_a_word_or_a_rolling_window(window: object, read: object) -> None:
    tiers = Tiers.model_validate(
        {"qualify_by": "spend", "window": window, "levels": [{"name": "a", "at_least": 0}]}
    )
    assert tiers.window == read


def test_a_rolling_window_of_no_days_is_one_error_at_its_days() -> None:
    text = "tiers:\n  qualify_by: spend\n  window: {days: 0}\n  levels: [{name: a, at_least: 0}]"
    assert messages(text) == ["<text>:7:18: tiers.window.days: must be at least 1 (got 0)"]
