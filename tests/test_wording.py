"""Rule files and histories say the same thing about the same kind of mistake.

Both turn pydantic's errors into words through :mod:`rewardrules._wording`; each keeps its
own location (``file:line:col`` and the key's path). These tests make the same mistake in a
rule file and in a history and compare the words.
"""

from __future__ import annotations

import pytest

from rewardrules._wording import KINDS, phrase
from rewardrules.errors import HistoryError, Problem, RuleFileError
from rewardrules.histories.read import parse_history_text
from rewardrules.rulefiles.loader import loads_program

PROGRAM = """\
program: shop
name: Shop
currency: USD
timezone: America/New_York
rules:
  - {rule}
"""
PURCHASE = (
    '{{"type": "purchase", {id}"customer_id": "c1", "at": "2026-03-02T09:00:00-05:00", '
    '"lines": [{{"sku": "latte", "quantity": {quantity}, "unit_price": "4.50"}}]}}'
)
RULE = "{{{id}kind: bonus_points, points: {points}}}"


def rule_file_problem(*, id: str = "id: bonus, ", points: str = "50") -> Problem:
    with pytest.raises(RuleFileError) as raised:
        loads_program(PROGRAM.format(rule=RULE.format(id=id, points=points)))
    (problem,) = raised.value.problems
    return problem


def history_problem(*, id: str = '"id": "p1", ', quantity: str = "1") -> Problem:
    with pytest.raises(HistoryError) as raised:
        list(parse_history_text(PURCHASE.format(id=id, quantity=quantity), "jsonl"))
    (problem,) = raised.value.problems
    return problem


@pytest.mark.parametrize(
    ("mistake", "in_rule_file", "in_history", "words"),
    [
        ("missing key", {"id": ""}, {"id": ""}, "'id' is required here"),
        (
            "wrong type",
            {"id": "id: 7, "},
            {"id": '"id": 7, '},
            "expected text (got the number 7); put it in quotes, e.g. '7'",
        ),
        ("number out of range", {"points": "0"}, {"quantity": "0"}, "must be at least 1 (got 0)"),
    ],
)
def test_a_rule_file_and_a_history_word_the_same_mistake_alike(
    mistake: str, in_rule_file: dict[str, str], in_history: dict[str, str], words: str
) -> None:
    in_rules, in_events = rule_file_problem(**in_rule_file), history_problem(**in_history)
    assert (in_rules.message, in_events.message) == (words, words)
    # Each keeps its own place: a line and column in the rule file, a field of the record.
    assert in_rules.location is not None
    assert in_rules.location.line == 6
    assert in_events.location is not None
    assert in_events.location.line == 1


def test_the_shared_words_name_what_was_given() -> None:
    assert phrase("string_type", True, text="yes") == (
        "expected text (got the yes/no value yes); put it in quotes, e.g. 'yes'",
        None,
    )
    assert phrase("list_type", "latte", text="latte") == (
        "expected a list (got the text 'latte')",
        "write a list, e.g. [latte]",
    )
    assert phrase("too_short", [], {"min_length": 1, "actual_length": 0}) == (
        "needs at least 1 item (got none)",
        None,
    )


def test_a_list_long_enough_is_left_to_its_items_and_other_kinds_to_each_side() -> None:
    assert phrase("too_short", ["x"], {"min_length": 1}) is None
    assert "union_tag_invalid" not in KINDS
    assert phrase("union_tag_invalid", "x") is None
