"""The loader: YAML 1.2 scalars, exact money, and problems that point at their line and column.

Every broken input is checked with both of PyYAML's parsers (libyaml's and the pure-Python
one) against the exact text a user sees: ``file:line:column: path: message (suggestion)``.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from rewardrules.errors import Location, Problem, RuleFileError
from rewardrules.program.model import (
    RULE_KINDS,
    EveryNthFree,
    PointsPerSpend,
    Program,
    TieredDiscount,
    VoucherReward,
    VoucherSpec,
)
from rewardrules.rulefiles._errorpaths import written_path
from rewardrules.rulefiles.loader import (
    Parser,
    load_program,
    load_program_file,
    load_program_text,
    loads_program,
)
from rewardrules.rulefiles.sourcemap import PLAIN_TAG, STR_TAG, ScalarError, read_scalar
from rewardrules.tools.reference.examples import kind_name

KIND_NAMES = ", ".join(kind_name(model) or model.__name__ for model in RULE_KINDS)
"""The kinds as the messages list them: every kind of the union, in its order."""


HAS_LIBYAML = yaml.__with_libyaml__
PARSERS = [
    pytest.param("pure", id="pure"),
    pytest.param(
        "c", id="c", marks=pytest.mark.skipif(not HAS_LIBYAML, reason="PyYAML without libyaml")
    ),
]


@pytest.fixture(params=PARSERS)
def parser(request: pytest.FixtureRequest) -> Parser:
    """Each test that takes ``parser`` runs once with each of PyYAML's parsers."""
    return "c" if request.param == "c" else "pure"


def header(**values: str) -> tuple[str, ...]:
    """The four required lines of a program, with some values changed."""
    fields = {
        "program": "coffee-club",
        "name": "Coffee Club",
        "currency": "USD",
        "timezone": "America/New_York",
    }
    return tuple(f"{key}: {value}" for key, value in (fields | values).items())


def lines(*rows: str) -> str:
    """A YAML text, one argument per line, so that line numbers can be read off the test."""
    return "".join(f"{row}\n" for row in rows)


RULE = ("rules:", "  - id: punch", "    kind: every_nth_free")
"""Lines 5-7 of a text that goes on with the rest of a punch-card rule."""


def problems_in(text: str, parser: Parser) -> tuple[Problem, ...]:
    with pytest.raises(RuleFileError) as caught:
        load_program_text(text, _parser=parser)
    return caught.value.problems


VALID = lines(
    *header(),
    "points:",
    "  name: stars",
    "  value: 0.010",
    "tiers:",
    "  qualify_by: spend",
    "  window: 365 days",
    "  levels:",
    "    - {name: silver, at_least: 0}",
    "    - {name: gold, at_least: 500.00}",
    "rules:",
    "  - id: coffee-stars",
    "    kind: points_per_spend",
    "    description: 12:30",
    "    points: 2",
    "    per: 1.10",
    "    starts: 2026-01-01",
    "    when:",
    "      categories: [coffee, no, on, yes, NO, off, y]",
    "      stores: ['0123', 2026-01-01]",
    "  - id: punch",
    "    kind: every_nth_free",
    "    every: 0x0A",
    "    reward:",
    "      voucher: {sku: '0123', value: 4.50}",
    "  - id: gold-off",
    "    kind: tiered_discount",
    "    discounts: {gold: 12.5}",
)


def test_a_valid_program_loads_with_exact_decimals(parser: Parser) -> None:
    program = load_program_text(VALID, _parser=parser)
    stars, punch, gold = program.rules
    assert isinstance(stars, PointsPerSpend)
    assert isinstance(punch, EveryNthFree)
    assert isinstance(gold, TieredDiscount)
    assert stars.per == Decimal("1.10")
    assert str(stars.per) == "1.10"
    assert stars.points == Decimal("2")
    assert program.points.value == Decimal("0.010")
    assert program.tiers is not None
    assert program.tiers.levels[1].at_least == Decimal("500.00")
    assert str(program.tiers.levels[1].at_least) == "500.00"
    assert gold.discounts == {"gold": Decimal("12.5")}
    assert punch.every == 10
    assert punch.reward == VoucherReward(voucher=VoucherSpec(sku="0123", value=Decimal("4.50")))


def test_yaml_1_1_booleans_and_times_stay_text(parser: Parser) -> None:
    program = load_program_text(VALID, _parser=parser)
    stars = program.rules[0]
    assert stars.when.categories == ("coffee", "no", "on", "yes", "NO", "off", "y")
    assert stars.when.stores == ("0123", "2026-01-01")
    assert stars.description == "12:30"
    assert stars.starts == date(2026, 1, 1)


def test_both_parsers_build_the_same_program() -> None:
    if not HAS_LIBYAML:
        pytest.skip("PyYAML without libyaml")
    assert load_program_text(VALID, _parser="c") == load_program_text(VALID, _parser="pure")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("null", None),
        ("Null", None),
        ("NULL", None),
        ("~", None),
        ("", None),
        ("true", True),
        ("False", False),
        ("TRUE", True),
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("off", "off"),
        ("NO", "NO"),
        ("y", "y"),
        ("0123", 123),
        ("-7", -7),
        ("+7", 7),
        ("0o17", 15),
        ("0x1F", 31),
        ("0b101", "0b101"),
        ("1_000", "1_000"),
        ("1.10", Decimal("1.10")),
        ("12.00", Decimal("12.00")),
        (".5", Decimal("0.5")),
        ("-1.5e3", Decimal("-1.5E+3")),
        ("12:30", "12:30"),
        ("2026-01-01", "2026-01-01"),
        ("1.2.3", "1.2.3"),
    ],
)
def test_plain_scalars_are_read_by_the_yaml_1_2_core_schema(text: str, value: object) -> None:
    read = read_scalar(PLAIN_TAG, text)
    assert read == value
    assert type(read) is type(value)


def test_money_keeps_the_decimal_places_it_was_written_with() -> None:
    assert str(read_scalar(PLAIN_TAG, "12.00")) == "12.00"
    assert str(read_scalar(PLAIN_TAG, "4.5")) == "4.5"


@pytest.mark.parametrize(
    ("tag", "text", "message"),
    [
        (PLAIN_TAG, ".inf", ".inf is not a number a program can use"),
        (PLAIN_TAG, "-.Inf", "-.Inf is not a number a program can use"),
        (PLAIN_TAG, ".NaN", ".NaN is not a number a program can use"),
        (
            PLAIN_TAG,
            "1" * 31,
            "1111111111111111111111111111111 is outside the numbers a program can use "
            "(at most 30 digits before and after the point)",
        ),
        (
            PLAIN_TAG,
            "1e-31",
            "1e-31 is outside the numbers a program can use "
            "(at most 30 digits before and after the point)",
        ),
        ("tag:yaml.org,2002:bool", "yes", "'yes' is not true or false (it is tagged !!bool)"),
        (
            "tag:yaml.org,2002:timestamp",
            "2026-01-01",
            "the tag !!timestamp is not allowed; a rule file holds only plain values: text, "
            "numbers, true/false, lists and mappings",
        ),
    ],
)
def test_unusable_scalars_are_refused(tag: str, text: str, message: str) -> None:
    with pytest.raises(ScalarError) as caught:
        read_scalar(tag, text)
    assert caught.value.message == message


def test_quoted_scalars_are_always_text() -> None:
    assert read_scalar(STR_TAG, "0123") == "0123"
    assert read_scalar(STR_TAG, "true") == "true"


def test_explicit_standard_tags_are_honoured(parser: Parser) -> None:
    text = lines(
        *header(name="!!str 2026"),
        "points: !!map",
        "  name: ! 12",
        "  value: !!float 1",
        "tiers: !!null ~",
        "rules: !!seq",
        "  - {id: punch, kind: every_nth_free, every: !!int 0x0A, description: !!str true}",
    )
    program = load_program_text(text, _parser=parser)
    assert program.name == "2026"
    assert program.points.name == "12"
    assert program.points.value == Decimal("1")
    assert program.tiers is None
    assert program.rules[0].description == "true"
    assert isinstance(program.rules[0], EveryNthFree)
    assert program.rules[0].every == 10


@dataclass(frozen=True)
class Broken:
    """A broken input and exactly what the loader says about it: (text, code) per problem."""

    name: str
    text: str
    expected: list[tuple[str, str]]


BROKEN = [
    Broken(
        "a date without leading zeros gets the date to write",
        lines(*header(), *RULE, "    every: 10", "    starts: 2026-6-14"),
        [
            (
                "<text>:9:13: rules[0].starts: the text '2026-6-14' is not a date; write dates "
                "as YYYY-MM-DD (write 2026-06-14)",
                "bad-date",
            )
        ],
    ),
    Broken(
        "a date written day first with points gets the date to write",
        lines(*header(), *RULE, "    every: 10", "    starts: 14.06.2026"),
        [
            (
                "<text>:9:13: rules[0].starts: the text '14.06.2026' is not a date; write dates "
                "as YYYY-MM-DD (write 2026-06-14)",
                "bad-date",
            )
        ],
    ),
    Broken(
        "a date written with slashes whose month is unclear gets no guess",
        lines(*header(), *RULE, "    every: 10", "    starts: 06/07/2026"),
        [
            (
                "<text>:9:13: rules[0].starts: the text '06/07/2026' is not a date; write dates "
                "as YYYY-MM-DD",
                "bad-date",
            )
        ],
    ),
    Broken(
        "a day past the end of its month says how long the month is",
        lines(*header(), *RULE, "    every: 10", "    starts: 2026-02-30"),
        [
            (
                "<text>:9:13: rules[0].starts: the text '2026-02-30' is not a date (February "
                "2026 has 28 days); write dates as YYYY-MM-DD",
                "bad-date",
            )
        ],
    ),
    Broken(
        "a kind at column 1 is pointed at, not the line after it",
        lines(*header(), "rules:", "  - id: punch", "kind: every_nth_free", "    every: 10"),
        [
            (
                "<text>:7:1: this line is indented less than the lines around it (the keys on "
                "lines 6 and 8 start at column 5); indent it to column 5",
                "yaml-syntax",
            )
        ],
    ),
    Broken(
        "an amount with a currency sign gets the amount to write",
        lines(
            *header(),
            "rules:",
            "  - id: stars",
            "    kind: points_per_spend",
            "    points: 1",
            "    per: £1",
        ),
        [
            (
                "<text>:9:10: rules[0].per: '£1' is not an amount; write it with the digits 0-9 "
                "and at most one '.', nothing else (write 1)",
                "bad-number",
            )
        ],
    ),
    Broken(
        "a percent with a percent sign gets the number to write",
        lines(*header(), *RULE, "    every: 5", "    reward: {percent_off: 15%}"),
        [
            (
                "<text>:9:27: rules[0].reward.percent_off: '15%' is not an amount; write it "
                "with the digits 0-9 and at most one '.', nothing else (write 15)",
                "bad-number",
            )
        ],
    ),
    Broken(
        "a number where text is meant (YAML 1.1 trap)",
        lines(
            *header(),
            *RULE,
            "    every: 10",
            "    reward:",
            "      voucher: {sku: 0123, value: 4.50}",
        ),
        [
            (
                "<text>:10:22: rules[0].reward.voucher.sku: expected text (got the number "
                "0123); put it in quotes, e.g. '0123'",
                "wrong-type",
            ),
        ],
    ),
    Broken(
        "a yes/no value where text is meant",
        lines(*header(name="true")),
        [
            (
                "<text>:2:7: name: expected text (got the yes/no value true); put it in "
                "quotes, e.g. 'true'",
                "wrong-type",
            ),
        ],
    ),
    Broken(
        "a duplicate key",
        lines(*header(), *RULE, "    every: 10", "    every: 12"),
        [
            (
                "<text>:9:5: rules[0].every: duplicate key 'every'; it is already on line 8 "
                "(remove one of them, or merge them into one)",
                "duplicate-key",
            ),
        ],
    ),
    Broken(
        "an unknown key close to a known one",
        lines(*header(), *RULE, "    every: 10", "    when:", "      categroies: [coffee]"),
        [
            (
                "<text>:10:7: rules[0].when.categroies: unknown key 'categroies' (did you mean "
                "'categories'?)",
                "unknown-key",
            ),
        ],
    ),
    Broken(
        "a key in the wrong mapping",
        lines(*header(), *RULE, "    every: 10", "    categories: [coffee]"),
        [
            (
                "<text>:9:5: rules[0].categories: unknown key 'categories' ('categories' "
                "belongs inside 'when')",
                "unknown-key",
            ),
        ],
    ),
    Broken(
        "an unknown kind",
        lines(*header(), "rules:", "  - id: punch", "    kind: every_nth_fre", "    every: 10"),
        [
            (
                f"<text>:7:11: rules[0].kind: unknown kind 'every_nth_fre'; the kinds are: "
                f"{KIND_NAMES} (did you mean 'every_nth_free'?)",
                "unknown-kind",
            ),
        ],
    ),
    Broken(
        "a rule without a kind",
        lines(*header(), "rules:", "  - id: punch", "    every: 10"),
        [
            (
                f"<text>:6:5: rules[0].kind: 'kind' is required here; the kinds are: {KIND_NAMES}",
                "missing-kind",
            ),
        ],
    ),
    Broken(
        "a limit that is a number",
        lines(*header(), *RULE, "    every: 3", "    limit: 5"),
        [
            (
                "<text>:9:12: rules[0].limit: expected a limit such as {per: month, rewards: 2}, "
                "or a list of them (got the number 5)",
                "wrong-type",
            )
        ],
    ),
    Broken(
        "one limit with a misspelt key",
        lines(*header(), *RULE, "    every: 3", "    limit: {pre: month, rewards: 1}"),
        [
            (
                "<text>:9:13: rules[0].limit.pre: unknown key 'pre' (did you mean 'per'?)",
                "unknown-key",
            )
        ],
    ),
    Broken(
        "one limit with no measure",
        lines(*header(), *RULE, "    every: 3", "    limit:", "      per: week"),
        [
            (
                "<text>:10:7: rules[0].limit: a limit counts exactly one of points, rewards or "
                "value (got none)",
                "invalid",
            )
        ],
    ),
    Broken(
        "the second of two limits with an unknown period",
        lines(
            *header(),
            *RULE,
            "    every: 3",
            "    limit:",
            "      - {per: week, rewards: 1}",
            "      - {per: fortnight, rewards: 2}",
        ),
        [
            (
                "<text>:11:15: rules[0].limit[1].per: must be one of: purchase, day, week, "
                "month, year, lifetime (got 'fortnight')",
                "not-allowed",
            )
        ],
    ),
    Broken(
        "a referrer's gift of neither points nor a voucher",
        lines(*header(), "rules:", "  - id: friends", "    kind: referral", "    referrer: {}"),
        [
            (
                "<text>:8:15: rules[0].referrer: give either points or a voucher (exactly one "
                "of the two)",
                "invalid",
            )
        ],
    ),
    Broken(
        "a referrer's gift of both points and a voucher",
        lines(
            *header(),
            "rules:",
            "  - id: friends",
            "    kind: referral",
            "    referrer: {points: 500, voucher: {sku: latte, value: 4.50}}",
        ),
        [
            (
                "<text>:8:38: rules[0].referrer.voucher: give either points or a voucher, not "
                "both; remove one of the two",
                "invalid",
            )
        ],
    ),
    Broken(
        "a birthday gift of neither points nor a voucher",
        lines(*header(), "rules:", "  - id: cake", "    kind: birthday"),
        [
            (
                "<text>:6:5: rules[0]: give either points or a voucher (exactly one of the two)",
                "invalid",
            )
        ],
    ),
    Broken(
        "a sign-up bonus given at joining, in an exclusive group with a purchase rule",
        lines(
            *header(),
            "rules:",
            "  - id: welcome",
            "    kind: signup_bonus",
            "    points: 250",
            "    exclusive_group: treats",
            "  - {id: bonus, kind: bonus_points, points: 50, exclusive_group: treats}",
        ),
        [
            (
                "<text>:10:66: rules[1].exclusive_group: the exclusive group 'treats' mixes "
                "'welcome' (this sign-up bonus is given at joining) with 'bonus', which "
                "rewards a purchase: they never fall due together, so they never compete; put "
                "them in separate groups, or set min_first_purchase (0 for any purchase) on "
                "'welcome'",
                "inconsistent",
            )
        ],
    ),
    Broken(
        "an exclusive group that is not a slug",
        lines(*header(), *RULE, "    every: 3", "    exclusive_group: Weekend Deals"),
        [
            (
                "<text>:9:22: rules[0].exclusive_group: must be written with lowercase letters, "
                "digits, '-' and '_', e.g. 'coffee-stars' (got 'Weekend Deals') "
                "(did you mean 'weekend-deals'?)",
                "bad-format",
            )
        ],
    ),
    Broken(
        "a value out of range",
        lines(*header(), *RULE, "    every: 1"),
        [("<text>:8:12: rules[0].every: must be at least 2 (got 1)", "out-of-range")],
    ),
    Broken(
        "a missing required field",
        lines(*header(), *RULE, "    counts: visits"),
        [("<text>:6:5: rules[0].every: 'every' is required here", "missing")],
    ),
    Broken(
        "rules nested as a mapping instead of a list",
        lines(*header(), "rules:", "  id: punch", "  kind: every_nth_free"),
        [
            (
                "<text>:6:3: rules: expected a list (got a mapping) (start each item of a list "
                "on its own line with '- ')",
                "wrong-type",
            ),
        ],
    ),
    Broken(
        "text where a list is expected",
        lines(*header(), *RULE, "    every: 10", "    when:", "      categories: coffee"),
        [
            (
                "<text>:10:19: rules[0].when.categories: expected a list (got the text "
                "'coffee') (write a list, e.g. [coffee])",
                "wrong-type",
            ),
        ],
    ),
    Broken(
        "a choice that is not allowed",
        lines(
            *header(),
            "rules:",
            "  - id: stars",
            "    kind: points_per_spend",
            "    points: 1",
            "    rounding: down",
        ),
        [
            (
                "<text>:9:15: rules[0].rounding: must be one of: floor, half_up, ceil (got 'down')",
                "not-allowed",
            ),
        ],
    ),
    Broken(
        "a reward that is neither free nor a mapping",
        lines(*header(), *RULE, "    every: 10", "    reward: gratis"),
        [
            (
                "<text>:9:13: rules[0].reward: must be one of: free, a mapping with "
                "percent_off, a mapping with voucher (got 'gratis')",
                "not-allowed",
            ),
        ],
    ),
    Broken(
        "a misspelt key of one of a union's mappings",
        lines(*header(), *RULE, "    every: 10", "    reward: {percent_of: 10}"),
        [
            (
                "<text>:9:14: rules[0].reward.percent_of: unknown key 'percent_of' (did you "
                "mean 'percent_off'?)",
                "unknown-key",
            ),
        ],
    ),
    Broken(
        "a date that does not exist",
        lines(*header(), *RULE, "    every: 10", "    starts: 2026-13-01"),
        [
            (
                "<text>:9:13: rules[0].starts: the text '2026-13-01' is not a date (there is "
                "no month 13); write dates as YYYY-MM-DD",
                "bad-date",
            ),
        ],
    ),
    Broken(
        "a program id with capitals and a space",
        lines(*header(program="Coffee Club")),
        [
            (
                "<text>:1:10: program: must be written with lowercase letters, digits, '-' and "
                "'_', e.g. 'coffee-stars' (got 'Coffee Club') (did you mean 'coffee-club'?)",
                "bad-format",
            ),
        ],
    ),
    Broken(
        "an unknown time zone",
        lines(*header(timezone="Mars/Olympus")),
        [
            (
                "<text>:4:11: timezone: 'Mars/Olympus' is not an IANA time zone (for example "
                "Europe/Paris, America/New_York)",
                "unknown-zone",
            ),
        ],
    ),
    Broken(
        "tiers without levels",
        lines(*header(), "tiers:", "  qualify_by: spend", "  window: lifetime", "  levels: []"),
        [("<text>:8:11: tiers.levels: needs at least 1 item (got none)", "too-short")],
    ),
    Broken(
        "a tier window that cannot be read",
        lines(
            *header(),
            "tiers:",
            "  qualify_by: spend",
            "  window: 3 fortnights",
            "  levels: [{name: gold, at_least: 100}]",
        ),
        [
            (
                "<text>:7:11: tiers.window: must be one of: lifetime, calendar_year, "
                "calendar_quarter, calendar_month, a rolling window of 1 to 36500 days "
                "(100 years) such as '365 days' or {days: 365} (got '3 fortnights')",
                "not-allowed",
            ),
        ],
    ),
    Broken(
        "a tab used for indentation",
        lines(*header(), "points:", "\tname: stars"),
        [
            (
                "<text>:6:1: found a tab character where indentation is expected; indent with "
                "spaces",
                "tab",
            ),
        ],
    ),
    Broken(
        "a tab inside a value",
        lines(*header(), *RULE[:2], "    kind: every_nth\tfree"),
        [
            (
                "<text>:7:20: found a tab character; use spaces (a tab may appear only inside "
                "quotes)",
                "tab",
            ),
        ],
    ),
    Broken(
        "a tab after a colon",
        lines(*header(), "points:", "  name:\tstars"),
        [
            (
                "<text>:6:8: found a tab character; use spaces (a tab may appear only inside "
                "quotes)",
                "tab",
            ),
        ],
    ),
    Broken(
        "a python tag",
        lines(*header(), "rules: !!python/object/apply:os.system ['echo hi']"),
        [
            (
                "<text>:5:8: rules: the tag !!python/object/apply:os.system is not allowed; a "
                "rule file holds only plain values: text, numbers, true/false, lists and "
                "mappings",
                "unsupported-tag",
            ),
        ],
    ),
    Broken(
        "an include tag",
        lines(*header(), "rules: !include more-rules.yaml"),
        [
            (
                "<text>:5:8: rules: the tag !include is not allowed; a rule file holds only "
                "plain values: text, numbers, true/false, lists and mappings",
                "unsupported-tag",
            ),
        ],
    ),
    Broken(
        "a value that does not fit its tag",
        lines(*header(), *RULE, "    every: !!int ten"),
        [
            (
                "<text>:8:12: rules[0].every: 'ten' is not a whole number (it is tagged !!int)",
                "bad-tagged-value",
            ),
        ],
    ),
    Broken(
        "infinity",
        lines(*header(), "points:", "  value: .inf"),
        [("<text>:6:10: points.value: .inf is not a number a program can use", "not-a-number")],
    ),
    Broken(
        "an absurdly large number",
        lines(*header(), "points:", "  value: 1e999999"),
        [
            (
                "<text>:6:10: points.value: 1e999999 is outside the numbers a program can use "
                "(at most 30 digits before and after the point)",
                "number-out-of-range",
            ),
        ],
    ),
    Broken(
        "an empty file",
        "",
        [
            (
                "<text>:1:1: the file is empty; a program needs at least program, name, "
                "currency, timezone",
                "empty-file",
            ),
        ],
    ),
    Broken(
        "a file of comments only",
        lines("# a program, some day"),
        [
            (
                "<text>:1:1: the file is empty; a program needs at least program, name, "
                "currency, timezone",
                "empty-file",
            ),
        ],
    ),
    Broken(
        "a list at the root",
        lines("- program: coffee-club", "- name: Coffee Club"),
        [
            (
                "<text>:1:1: a rule file must be a mapping of keys such as program, name, "
                "currency, timezone (got a list)",
                "not-a-mapping",
            ),
        ],
    ),
    Broken(
        "a file name given as text",
        "coffee.yaml",
        [
            (
                "<text>:1:1: a rule file must be a mapping of keys such as program, name, "
                "currency, timezone (got the single value 'coffee.yaml') (to read the file "
                "'coffee.yaml', call load_program('coffee.yaml'))",
                "not-a-mapping",
            ),
        ],
    ),
    Broken(
        "two documents",
        lines(*header(), "---", "program: tea-club"),
        [
            (
                "<text>:5:1: a second YAML document starts here; a rule file holds one program",
                "several-documents",
            ),
        ],
    ),
    Broken(
        "a recursive alias",
        lines(*header(), "rules: &rules [*rules]"),
        [
            (
                "<text>:5:16: rules[0]: the alias *rules is used inside the value it names; a "
                "value cannot contain itself",
                "recursive-alias",
            ),
        ],
    ),
    Broken(
        "an alias without an anchor",
        lines(*header(), "rules: *rules"),
        [
            (
                "<text>:5:8: rules: the alias *rules refers to no anchor &rules defined above it",
                "unknown-alias",
            ),
        ],
    ),
    Broken(
        "a merge key",
        lines(*header(), "points:", "  <<: {name: stars}"),
        [
            (
                "<text>:6:3: points: merge keys (<<) are not supported; write the keys out in "
                "this mapping",
                "merge-key",
            ),
        ],
    ),
    Broken(
        "a list used as a key",
        lines(*header(), "? [a, b]", ": 1"),
        [
            (
                "<text>:5:3: a key must be a single word or text, not a list or a mapping",
                "complex-key",
            ),
        ],
    ),
    Broken(
        "a control character",
        lines(*header(name="Coffee\x07Club")),
        [
            (
                "<text>:2:13: the character U+0007 is not allowed in a rule file; delete it",
                "bad-character",
            ),
        ],
    ),
    Broken(
        "a list that is never closed",
        lines(*header(), "rules: [a, b", "points: {}"),
        [
            (
                "<text>:6:7: the list opened with '[' on line 5, column 8 is not closed; "
                "expected ',' or ']' here",
                "yaml-syntax",
            ),
        ],
    ),
    Broken(
        "a quote that is never closed",
        lines(*header(name="'Coffee Club")),
        [
            (
                "<text>:5:1: the quoted text that starts on line 2, column 7 is never closed",
                "yaml-syntax",
            ),
        ],
    ),
    Broken(
        "a key indented less than its neighbours",
        lines(*header(), "points:", "    name: stars", "  value: 0.01"),
        [
            (
                "<text>:7:3: this line is not indented like the keys of the mapping that "
                "starts on line 1",
                "yaml-syntax",
            ),
        ],
    ),
    Broken(
        "a list item among keys",
        lines(*header(), "- rules"),
        [
            (
                "<text>:5:1: a list item ('-') cannot appear here; indent it under its key",
                "yaml-syntax",
            ),
        ],
    ),
    Broken(
        "a colon inside plain text",
        lines(*header(name="Coffee: Club")),
        [
            (
                "<text>:2:13: ': ' cannot appear here; put text that contains ': ' in quotes, "
                "or put a nested mapping on its own indented lines",
                "yaml-syntax",
            ),
        ],
    ),
    Broken(
        "a reserved character",
        lines(*header(name="@coffee")),
        [("<text>:2:7: '@' cannot start a value; put the value in quotes", "yaml-syntax")],
    ),
    Broken(
        "an unknown escape in double quotes",
        lines(*header(name='"Coffee \\q Club"')),
        [
            (
                "<text>:2:7: this double-quoted text has an unknown escape sequence; write "
                "\\\\ for a backslash, or use single quotes",
                "yaml-syntax",
            ),
        ],
    ),
    Broken(
        "a duplicate rule id",
        lines(
            *header(),
            "rules:",
            "  - {id: punch, kind: every_nth_free, every: 10}",
            "  - {id: punch, kind: every_nth_free, every: 5}",
        ),
        [
            (
                "<text>:7:10: rules[1].id: the rule id 'punch' is already used by rules[0]; "
                "give every rule its own id",
                "inconsistent",
            ),
        ],
    ),
    Broken(
        "an unknown tier in a tiered discount",
        lines(
            *header(),
            "tiers:",
            "  qualify_by: spend",
            "  window: lifetime",
            "  levels:",
            "    - {name: silver, at_least: 0}",
            "    - {name: gold, at_least: 500}",
            "rules:",
            "  - id: vip",
            "    kind: tiered_discount",
            "    discounts:",
            "      gold: 10",
            "      platnum: 15",
        ),
        [
            (
                "<text>:16:7: rules[0].discounts.platnum: there is no tier 'platnum'; the "
                "tiers are: silver, gold",
                "inconsistent",
            ),
        ],
    ),
    Broken(
        "money with more decimals than the currency has",
        lines(
            *header(),
            "rules:",
            "  - id: stars",
            "    kind: points_per_spend",
            "    points: 1",
            "    per: 1.005",
        ),
        [
            (
                "<text>:9:10: rules[0].per: 1.005 has more decimal places than USD has (2); "
                "write it in whole USD minor units",
                "inconsistent",
            ),
        ],
    ),
    Broken(
        "several problems at once",
        lines(
            *header(timezone="Mars/Olympus"),
            *RULE,
            "    every: 1",
            "    every: 2",
            "  - id: stars",
            "    kind: points_per_spend",
            "    points: 0",
            "    colour: green",
        ),
        [
            (
                "<text>:4:11: timezone: 'Mars/Olympus' is not an IANA time zone (for example "
                "Europe/Paris, America/New_York)",
                "unknown-zone",
            ),
            ("<text>:8:12: rules[0].every: must be at least 2 (got 1)", "out-of-range"),
            (
                "<text>:9:5: rules[0].every: duplicate key 'every'; it is already on line 8 "
                "(remove one of them, or merge them into one)",
                "duplicate-key",
            ),
            ("<text>:12:13: rules[1].points: must be more than 0 (got 0)", "out-of-range"),
            (
                "<text>:13:5: rules[1].colour: unknown key 'colour' (the keys allowed here "
                "are: id, description, starts, ends, when, priority, exclusive_group, final, "
                "limit, kind, points, per, multipliers, rounding, max_per_purchase)",
                "unknown-key",
            ),
        ],
    ),
]


def broken(name: str) -> str:
    """The text of the broken input called ``name``."""
    return next(case.text for case in BROKEN if case.name == name)


@pytest.mark.parametrize("case", BROKEN, ids=[case.name for case in BROKEN])
def test_a_broken_input_is_reported_exactly(case: Broken, parser: Parser) -> None:
    problems = problems_in(case.text, parser)
    assert [(str(problem), problem.code) for problem in problems] == case.expected


@pytest.mark.parametrize("case", BROKEN, ids=[case.name for case in BROKEN])
def test_both_parsers_report_the_same_problems(case: Broken) -> None:
    if not HAS_LIBYAML:
        pytest.skip("PyYAML without libyaml")
    assert problems_in(case.text, "c") == problems_in(case.text, "pure")


def test_a_problem_carries_its_place_as_data(parser: Parser) -> None:
    text = broken("a number where text is meant (YAML 1.1 trap)")
    (problem,) = problems_in(text, parser)
    assert problem.location == Location("<text>", 10, 22)
    assert problem.path == ("rules", 0, "reward", "voucher", "sku")
    assert problem.message == "expected text (got the number 0123); put it in quotes, e.g. '0123'"
    assert problem.suggestion is None
    assert problem.source_line == "      voucher: {sku: 0123, value: 4.50}"


def test_an_unknown_key_points_at_the_key_and_carries_its_suggestion(parser: Parser) -> None:
    (problem,) = problems_in(broken("an unknown key close to a known one"), parser)
    assert problem.location == Location("<text>", 10, 7)
    assert problem.path == ("rules", 0, "when", "categroies")
    assert problem.message == "unknown key 'categroies'"
    assert problem.suggestion == "did you mean 'categories'?"


def test_a_problem_shows_its_line_with_a_caret(parser: Parser) -> None:
    (problem,) = problems_in(broken("a value out of range"), parser)
    assert problem.with_caret() == (
        "<text>:8:12: rules[0].every: must be at least 2 (got 1)\n"
        "        every: 1\n"
        "               ^"
    )


def test_a_billion_laughs_is_refused_quickly(parser: Parser) -> None:
    rows = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        rows.append(f"{level}: &{level} [" + ", ".join([f"*{previous}"] * 10) + "]")
    started = time.perf_counter()
    (problem,) = problems_in(lines(*header(), *rows), parser)
    assert time.perf_counter() - started < 1.0
    assert str(problem) == (
        "<text>:9:36: e[7]: this file holds more than 100000 values once its aliases (*name) "
        "are expanded; a rule file this large is refused"
    )
    assert problem.code == "alias-budget"


def test_aliases_within_the_budget_are_expanded(parser: Parser) -> None:
    text = lines(
        *header(),
        "rules:",
        "  - id: stars",
        "    kind: points_per_spend",
        "    points: 1",
        "    when: &coffee {categories: [coffee]}",
        "  - {id: punch, kind: every_nth_free, every: 10, when: *coffee}",
    )
    program = load_program_text(text, _parser=parser)
    assert program.rules[1].when.categories == ("coffee",)
    with pytest.raises(RuleFileError) as caught:
        load_program_text(text, _parser=parser, _node_budget=34)
    assert [str(problem) for problem in caught.value.problems] == [
        "<text>:10:56: rules[1].when: this file holds more than 34 values once its aliases "
        "(*name) are expanded; a rule file this large is refused"
    ]


def test_nesting_deeper_than_a_program_needs_is_refused(parser: Parser) -> None:
    (problem,) = problems_in(lines(*header(), "points: " + "[" * 70 + "]" * 70), parser)
    assert problem.code == "too-deep"
    assert problem.location == Location("<text>", 5, 72)
    assert problem.path == ("points", *[0] * 63)
    assert problem.message == "lists and mappings are nested more than 64 deep here"


def test_windows_line_ends_and_a_byte_order_mark_keep_positions(tmp_path: Path) -> None:
    path = tmp_path / "coffee.yaml"
    path.write_bytes(
        b"\xef\xbb\xbf" + lines(*header(), *RULE, "    every: 1").replace("\n", "\r\n").encode()
    )
    with pytest.raises(RuleFileError) as caught:
        load_program_file(path)
    assert [str(problem) for problem in caught.value.problems] == [
        f"{path}:8:12: rules[0].every: must be at least 2 (got 1)"
    ]


def test_a_file_is_read_and_named_in_problems(tmp_path: Path) -> None:
    path = tmp_path / "coffee.yaml"
    path.write_text(lines(*header(), *RULE, "    every: 1"), encoding="utf-8")
    for source in (path, str(path)):
        with pytest.raises(RuleFileError) as caught:
            load_program(source)
        assert [str(problem) for problem in caught.value.problems] == [
            f"{path}:8:12: rules[0].every: must be at least 2 (got 1)"
        ]


def test_any_path_like_object_is_read_as_a_file(tmp_path: Path) -> None:
    class Where(os.PathLike[str]):
        def __fspath__(self) -> str:
            return str(tmp_path / "coffee.yaml")

    (tmp_path / "coffee.yaml").write_text(lines(*header()), encoding="utf-8")
    assert load_program(Where()).program == "coffee-club"


def test_yaml_text_is_read_by_loads_program_and_refused_by_load_program() -> None:
    program = loads_program(lines(*header()))
    assert isinstance(program, Program)
    assert program.name == "Coffee Club"
    with pytest.raises(TypeError) as caught:
        load_program(lines(*header()))
    assert str(caught.value) == (
        "load_program reads a file, and this is text with line breaks: read YAML text with "
        "loads_program(text)"
    )


def test_a_file_name_that_names_nothing_is_no_such_file_never_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for written, suggestion in (
        ("coffee.yaml", None),
        ("program: p", "to read YAML text, call loads_program(text)"),
    ):
        with pytest.raises(RuleFileError) as caught:
            load_program(written)
        (problem,) = caught.value.problems
        assert (problem.message, problem.code, problem.suggestion) == (
            f"cannot read '{written}': there is no such file",
            "missing-file",
            suggestion,
        )


def test_open_files_and_string_buffers_are_read_like_json_load(tmp_path: Path) -> None:
    text = lines(*header(), *RULE, "    every: 1")
    path = tmp_path / "coffee.yaml"
    path.write_text(text, encoding="utf-8")
    expected = [f"{path}:8:12: rules[0].every: must be at least 2 (got 1)"]
    with path.open(encoding="utf-8") as text_file, path.open("rb") as binary_file:
        for source in (text_file, binary_file):
            with pytest.raises(RuleFileError) as caught:
                load_program(source)
            assert [str(problem) for problem in caught.value.problems] == expected
    good = lines(*header())
    assert load_program(io.StringIO(good)) == loads_program(good)
    assert load_program(io.BytesIO(good.encode())) == loads_program(good.encode())
    with pytest.raises(RuleFileError) as caught:
        load_program(io.StringIO(lines(*header(), *RULE, "    every: 1")))
    assert str(caught.value.problems[0]).startswith("<file>:8:12: rules[0].every:")
    with pytest.raises(TypeError, match=r"^load_program takes a path or an open file \(got int\)"):
        load_program(3)  # type: ignore[arg-type]


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(RuleFileError) as caught:
        load_program(path)
    (problem,) = caught.value.problems
    assert str(problem) == f"cannot read '{path}': there is no such file"
    assert problem.code == "missing-file"
    assert problem.location is None


def test_a_directory_is_not_a_rule_file(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError) as caught:
        load_program_file(tmp_path)
    (problem,) = caught.value.problems
    assert str(problem) == f"cannot read '{tmp_path}': it is a directory, not a rule file"
    assert problem.code == "not-a-file"


def test_a_file_that_is_not_utf8_points_at_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(lines(*header(name="Caf\xe9 Club")).encode("latin-1"))
    with pytest.raises(RuleFileError) as caught:
        load_program_file(path)
    (problem,) = caught.value.problems
    assert str(problem) == (
        f"{path}:2:10: the file is not UTF-8 text: byte 0xe9 at offset 30 cannot be read; "
        "save the file as UTF-8"
    )
    assert problem.code == "not-utf8"
    assert problem.source_line == "name: Caf\ufffd Club"


def test_a_time_zone_that_names_a_directory_is_a_rule_file_error(parser: Parser) -> None:
    # zoneinfo raises IsADirectoryError for "America"; it must not escape the loader.
    (problem,) = problems_in(lines(*header(timezone="America")), parser)
    assert problem.code == "unknown-zone"


def test_a_rule_file_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="the file is empty"):
        load_program_text("")


YAMLISH = st.text(alphabet=list("ab01:.-[]{}&*!|>'\"#\n\t %@`?,~<+xe"), max_size=80)


@given(text=st.one_of(YAMLISH, st.text(max_size=80)))
def test_any_text_gives_a_program_or_a_rule_file_error(text: str) -> None:
    names: tuple[Parser, ...] = ("pure", "c") if HAS_LIBYAML else ("pure",)
    for name in names:
        with contextlib.suppress(RuleFileError):
            load_program_text(text, _parser=name)


ALL_AT_ONCE = """\
program: t
name: T
currency: USD
timezone: UTC
tiers:
  qualify_by: spend
  window: 365 days
  levels:
    - {name: silver, at_least: 100}
rules:
  - id: stars
    kind: points_per_spend
    points: 1
    per: 0.001
  - id: stars
    kind: every_nth_fre
    every: 3
  - id: gold-only
    kind: points_per_spend
    points: 1
    when: {tiers: [gold], categroies: [x]}
  - id: stars
    kind: tiered_discount
    discounts: {platinum: 5}
"""


@pytest.mark.parametrize("parser", PARSERS)
def test_cross_field_problems_come_with_the_other_problems_in_one_run(parser: Parser) -> None:
    # rules[1] and rules[2] are invalid on their own; the valid rules 0 and 3 are still
    # checked against each other and against the tiers: money finer than USD, a reused id,
    # an unknown tier. rules[2]'s tier is not reported: the rule itself is invalid.
    with pytest.raises(RuleFileError) as caught:
        load_program_text(ALL_AT_ONCE, "p.yaml", _parser=parser)
    assert [str(problem) for problem in caught.value.problems] == [
        "p.yaml:14:10: rules[0].per: 0.001 has more decimal places than USD has (2); "
        "write it in whole USD minor units",
        "p.yaml:16:11: rules[1].kind: unknown kind 'every_nth_fre'; the kinds are: "
        f"{KIND_NAMES} (did you mean 'every_nth_free'?)",
        "p.yaml:21:27: rules[2].when.categroies: unknown key 'categroies' "
        "(did you mean 'categories'?)",
        "p.yaml:22:9: rules[3].id: the rule id 'stars' is already used by rules[0]; "
        "give every rule its own id",
        "p.yaml:24:17: rules[3].discounts.platinum: there is no tier 'platinum'; "
        "the tiers are: silver",
    ]


def test_a_path_into_one_limit_is_written_without_the_index_the_model_adds() -> None:
    data = {"rules": [{"limit": {"per": "month", "points": 5}}, {"limit": [{"per": "day"}]}]}
    assert written_path(data, ("rules", 0, "limit", 0, "points")) == ("rules", 0, "limit", "points")
    assert written_path(data, ("rules", 1, "limit", 0, "per")) == ("rules", 1, "limit", 0, "per")
    assert written_path(data, ("rules", 2, "when")) == ("rules", 2, "when")


ONE_LIMIT_OF_POINTS = (*RULE, "    every: 10", "    limit: {per: day, points: 5}")
"""Lines 5-9: a punch card (no points) limited in points, by one limit mapping."""


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(lines(*header(), *ONE_LIMIT_OF_POINTS), id="alone"),
        pytest.param(lines(*header(), *ONE_LIMIT_OF_POINTS, "colour: red"), id="beside-an-error"),
    ],
)
def test_a_cross_field_problem_in_one_limit_mapping_points_at_its_value(
    text: str, parser: Parser
) -> None:
    # The model reads the one mapping as a list of one; the file has no limit[0] to show.
    problems = problems_in(text, parser)
    (problem,) = [problem for problem in problems if problem.code == "inconsistent"]
    assert problem.path == ("rules", 0, "limit", "points")
    assert problem.location == Location("<text>", 9, 31)
    assert str(problem) == (
        "<text>:9:31: rules[0].limit.points: the rule 'punch' gives no points; limit its "
        "rewards or value instead"
    )
