"""Hostile and broken rule files: each gets a located error with a stable code, never a crash.

Covers the "Rule files" items of the robustness issue: special files and the size cap,
encodings, invisible and look-alike characters, numbers that are not money, the documented
problem codes, ``validate --format json``, and the properties: any text or bytes give a
program or a ``RuleFileError``, and a dumped program loads back equal.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import stat
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from rewardrules import _types
from rewardrules.cli.main import cli
from rewardrules.errors import HistoryError, Problem, RuleFileError
from rewardrules.events import Line
from rewardrules.program.model import Program
from rewardrules.rulefiles.dump import dump_program
from rewardrules.rulefiles.loader import (
    MAX_FILE_BYTES,
    Parser,
    load_program_bytes,
    load_program_file,
    load_program_text,
)
from strategies import make_program, programs

ROOT = Path(__file__).parent.parent
SOURCES = ROOT / "src" / "rewardrules"
CONFORMANCE = Path(__file__).parent / "conformance" / "rules"
PARSERS: tuple[Parser, ...] = ("pure", "c") if yaml.__with_libyaml__ else ("pure",)

HEADER = "program: p\nname: P\ncurrency: USD\ntimezone: UTC\nrules:\n"
"""Lines 1-5 of a program; a rule written after it is on line 6."""

VALID = HEADER + "  - {id: a, kind: every_nth_free, every: 3}\n"


def problems_of(text: str) -> list[tuple[str, str, str | None]]:
    """(str(problem), code, suggestion) of each problem, the same with both parsers."""
    found = []
    for parser in PARSERS:
        with pytest.raises(RuleFileError) as caught:
            load_program_text(text, _parser=parser)
        found.append([(str(p), p.code, p.suggestion) for p in caught.value.problems])
    assert all(each == found[0] for each in found)
    return found[0]


def file_problem(path: str | Path) -> Problem:
    with pytest.raises(RuleFileError) as caught:
        load_program_file(path)
    (problem,) = caught.value.problems
    return problem


# --- the file ----------------------------------------------------------------------------


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    pipe = tmp_path / "rules.yaml"
    os.mkfifo(pipe)
    problem = file_problem(pipe)
    assert str(problem) == f"cannot read '{pipe}': it is a named pipe (FIFO), not a rule file"
    assert problem.code == "not-a-file"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_an_endless_device_is_refused_before_reading() -> None:
    problem = file_problem("/dev/zero")
    assert str(problem) == "cannot read '/dev/zero': it is a device, not a rule file"
    assert problem.code == "not-a-file"


def test_a_directory_is_refused(tmp_path: Path) -> None:
    problem = file_problem(tmp_path)
    assert str(problem) == f"cannot read '{tmp_path}': it is a directory, not a rule file"


def test_a_huge_file_is_refused_after_reading_at_most_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as file:
        file.truncate(4 * 1024**3)  # a sparse 4 GiB file: reading it all would take minutes
    problem = file_problem(path)
    assert str(problem) == (
        f"cannot read '{path}': it is larger than 1 MiB (1048576 bytes); "
        "a rule file that large is refused"
    )
    assert problem.code == "too-large"
    assert problem.location is None


def test_a_file_of_exactly_the_cap_is_read(tmp_path: Path) -> None:
    path = tmp_path / "padded.yaml"
    body = VALID.encode()
    path.write_bytes(body + b"#" * (MAX_FILE_BYTES - len(body)))
    assert load_program_file(path).program == "p"


def test_text_and_bytes_over_the_cap_are_refused() -> None:
    with pytest.raises(RuleFileError) as caught:
        load_program_text("#" * (MAX_FILE_BYTES + 1))
    assert [p.code for p in caught.value.problems] == ["too-large"]
    with pytest.raises(RuleFileError) as caught:
        load_program_bytes(b"#" * (MAX_FILE_BYTES + 1))
    assert [p.code for p in caught.value.problems] == ["too-large"]


def test_text_over_the_cap_in_utf8_bytes_is_refused() -> None:
    with pytest.raises(RuleFileError) as caught:
        load_program_text("#" + "\u00e9" * (MAX_FILE_BYTES // 2 + 1))
    assert [p.code for p in caught.value.problems] == ["too-large"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text(HEADER, encoding="utf-8")
    path.chmod(0)
    try:
        problem = file_problem(path)
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert str(problem) == f"cannot read '{path}': permission denied"
    assert problem.code == "unreadable-file"


# --- encodings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "message"),
    [
        ("utf-16", "the file is UTF-16 text (it starts with a UTF-16 byte-order mark)"),
        ("utf-16-be", "the file is UTF-16 text (every other byte is zero)"),
        ("utf-16-le", "the file is UTF-16 text (every other byte is zero)"),
        ("utf-32", "the file is UTF-32 text (it starts with a UTF-32 byte-order mark)"),
    ],
)
def test_wide_encodings_are_refused_with_what_to_do(encoding: str, message: str) -> None:
    data = HEADER.encode(encoding)
    with pytest.raises(RuleFileError) as caught:
        load_program_bytes(data, "r.yaml")
    assert [str(p) for p in caught.value.problems] == [f"r.yaml:1:1: {message}; save it as UTF-8"]
    assert caught.value.problems[0].code == "not-utf8"


def test_invalid_utf8_names_the_byte_offset_counting_the_bom() -> None:
    data = b"\xef\xbb\xbf" + HEADER.replace("name: P", "name: P\xe9").encode("latin-1")
    with pytest.raises(RuleFileError) as caught:
        load_program_bytes(data, "r.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "r.yaml:2:8: the file is not UTF-8 text: byte 0xe9 at offset 21 cannot be read; "
        "save the file as UTF-8"
    ]
    assert data[21] == 0xE9


def test_a_truncated_utf8_sequence_at_the_end_is_located() -> None:
    with pytest.raises(RuleFileError) as caught:
        load_program_bytes(HEADER.encode() + b"#\xe2\x82", "r.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "r.yaml:6:2: the file is not UTF-8 text: byte 0xe2 at offset 55 cannot be read; "
        "save the file as UTF-8"
    ]


def test_a_utf8_bom_is_read_as_nothing() -> None:
    assert load_program_bytes(b"\xef\xbb\xbf" + VALID.encode()).program == "p"


# --- invisible and look-alike characters -------------------------------------------------


def test_an_invisible_character_in_a_key_is_shown_escaped_with_a_suggestion() -> None:
    text = HEADER + "  - {id: a, kind: every_nth_free, every\u200b: 3}\n"
    assert problems_of(text) == [
        (
            "<text>:6:35: rules[0].every\u200b: unknown key 'every\\u200b', which contains "
            "U+200B ZERO WIDTH SPACE (invisible) (did you mean 'every'?)",
            "unknown-key",
            "did you mean 'every'?",
        )
    ]


def test_a_look_alike_letter_in_a_kind_is_shown_escaped_and_named() -> None:
    text = HEADER + "  - {id: a, kind: every_nth_fr\u0435\u0435, every: 3}\n"
    ((message, code, suggestion),) = problems_of(text)
    assert message.startswith(
        "<text>:6:19: rules[0].kind: unknown kind 'every_nth_fr\\u0435\\u0435', which contains "
        "U+0435 CYRILLIC SMALL LETTER IE; the kinds are: "
    )
    assert (code, suggestion) == ("unknown-kind", "did you mean 'every_nth_free'?")


def test_a_no_break_space_in_a_choice_is_escaped() -> None:
    text = HEADER + '  - {id: a, kind: points_per_spend, points: 1, rounding: "floor\u00a0"}\n'
    assert problems_of(text) == [
        (
            "<text>:6:58: rules[0].rounding: must be one of: floor, half_up, ceil "
            "(got 'floor\\u00a0') (did you mean 'floor'?)",
            "not-allowed",
            "did you mean 'floor'?",
        )
    ]


def test_a_duplicate_key_with_a_zero_width_joiner_is_escaped() -> None:
    text = HEADER.replace("rules:\n", "") + "tiers\u200d: 1\ntiers\u200d: 2\n"
    messages = [message for message, _, _ in problems_of(text)]
    assert (
        "<text>:6:1: tiers\u200d: duplicate key 'tiers\\u200d'; it is already on line 5 "
        "(remove one of them, or merge them into one)" in messages
    )


# --- numbers that are not money ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            ".nan",
            (
                "<text>:6:45: rules[0].points: .nan is not a number a program can use",
                "not-a-number",
            ),
        ),
        (
            "-.inf",
            (
                "<text>:6:45: rules[0].points: -.inf is not a number a program can use",
                "not-a-number",
            ),
        ),
        (
            "1e999999",
            (
                "<text>:6:45: rules[0].points: 1e999999 is outside the numbers a program "
                "can use (at most 30 digits before and after the point)",
                "number-out-of-range",
            ),
        ),
        (
            "1_000.00",
            (
                "<text>:6:45: rules[0].points: '1_000.00' is not an amount; write it with "
                "the digits 0-9 and at most one '.', nothing else (write 1000.00)",
                "bad-number",
            ),
        ),
        (
            "\u0661\u0662\u0663",
            (
                "<text>:6:45: rules[0].points: '\\u0661\\u0662\\u0663' is not an "
                "amount; write it with the digits 0-9 and at most one '.', "
                "nothing else (write 123)",
                "bad-number",
            ),
        ),
        (
            "\uff11\uff12",
            (
                "<text>:6:45: rules[0].points: '\\uff11\\uff12' is not an amount; "
                "write it with the digits 0-9 and at most one '.', nothing else "
                "(write 12)",
                "bad-number",
            ),
        ),
        (
            "' 12'",
            (
                "<text>:6:45: rules[0].points: ' 12' is not an amount; write it with the "
                "digits 0-9 and at most one '.', nothing else (write 12)",
                "bad-number",
            ),
        ),
        (
            "'1,5'",
            (
                "<text>:6:45: rules[0].points: '1,5' is not an amount; write it with the "
                "digits 0-9 and at most one '.', nothing else",
                "bad-number",
            ),
        ),
    ],
)
def test_numbers_that_are_not_money_are_located(value: str, expected: tuple[str, str]) -> None:
    text = HEADER + f"  - {{id: a, kind: points_per_spend, points: {value}}}\n"
    assert [(message, code) for message, code, _ in problems_of(text)] == [expected]


def test_a_whole_number_with_underscores_or_other_digits_is_refused() -> None:
    for value, plain in (("1_000", "1000"), ("\u0661\u0662", "12")):
        text = HEADER + f"  - {{id: a, kind: every_nth_free, every: {value}}}\n"
        ((_, code, suggestion),) = problems_of(text)
        assert (code, suggestion) == ("bad-number", f"write {plain}")


def test_more_decimals_than_the_currency_is_located() -> None:
    text = HEADER + "  - {id: a, kind: points_per_spend, points: 1, per: 0.001}\n"
    assert problems_of(text) == [
        (
            "<text>:6:53: rules[0].per: 0.001 has more decimal places than USD has (2); "
            "write it in whole USD minor units",
            "inconsistent",
            None,
        )
    ]


@pytest.mark.parametrize("text", ["1_000.00", "\u0661\u0662\u0663", " 1", "1e3", "NaN", "0x10"])
def test_money_types_refuse_text_that_decimal_would_guess(text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(_types.ExactDecimal).validate_python(text)
    assert isinstance(caught.value.errors()[0]["ctx"]["error"], _types.NumberTextError)


def test_events_refuse_text_that_decimal_would_guess() -> None:
    with pytest.raises(HistoryError, match="is not an amount") as caught:
        Line(sku="a", category="c", quantity=1, unit_price="1_000.00")
    [problem] = caught.value.problems
    assert (problem.code, problem.suggestion) == ("bad-number", "write 1000.00")
    with pytest.raises(HistoryError, match="is not a whole number"):
        Line(sku="a", category="c", quantity="\u0661", unit_price=Decimal(1))


@pytest.mark.parametrize("text", ["12", "-12.50", "+0.5", "007"])
def test_money_types_read_plain_ascii_decimals(text: str) -> None:
    assert TypeAdapter(_types.ExactDecimal).validate_python(text) == Decimal(text)


# --- semantic contradictions -------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (
            "  - {id: a, kind: every_nth_free, every: 1}\n",
            "<text>:6:42: rules[0].every: must be at least 2 (got 1)",
        ),
        (
            "  - {id: a, kind: every_nth_free, every: 3, reward: {percent_off: 150}}\n",
            "<text>:6:67: rules[0].reward.percent_off: must be at most 100 (got 150)",
        ),
        (
            "  - {id: a, kind: every_nth_free, every: 3, starts: 2026-02-01, ends: 2026-01-01}\n",
            "<text>:6:71: rules[0].ends: the rule ends (2026-01-01) before it starts (2026-02-01)",
        ),
        (
            "  - {id: a, kind: every_nth_free, every: 3}\n"
            "  - {id: a, kind: every_nth_free, every: 4}\n",
            "<text>:7:10: rules[1].id: the rule id 'a' is already used by rules[0]; "
            "give every rule its own id",
        ),
    ],
)
def test_contradictions_are_located(rules: str, expected: str) -> None:
    assert [message for message, _, _ in problems_of(HEADER + rules)] == [expected]


def test_tiers_that_do_not_rise_are_located() -> None:
    text = HEADER.replace("rules:\n", "") + (
        "tiers:\n  qualify_by: spend\n  window: lifetime\n  levels:\n"
        "    - {name: silver, at_least: 100}\n    - {name: gold, at_least: 50}\n"
    )
    assert [message for message, _, _ in problems_of(text)] == [
        "<text>:10:30: tiers.levels[1].at_least: levels must rise: 'gold' needs 50, which is "
        "not more than the 100 of 'silver' below it"
    ]


# --- problem codes -----------------------------------------------------------------------

_CODE_ARGUMENT = {
    "ScalarError": 1,
    "_unreadable": 2,
    "fatal": 2,
    "Finding": 2,
    "finding": 1,
    "_shared": 0,
    "Problem": 3,
}
"""For calls that take a code by position: its index."""

LOADER_MODULES = (
    "rulefiles/loader.py",
    "rulefiles/sourcemap.py",
    "rulefiles/_syntax.py",
    "rulefiles/_messages.py",
    "_types.py",
    "_zones.py",
    "money.py",
)


def _codes_in(tree: ast.AST) -> set[str]:
    """The problem codes a module's source writes as literals."""
    found: set[str] = set()

    def strings(node: ast.AST) -> set[str]:
        return {
            each.value
            for each in ast.walk(node)
            if isinstance(each, ast.Constant) and isinstance(each.value, str)
        }

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            function = node.func
            name = (
                function.attr
                if isinstance(function, ast.Attribute)
                else getattr(function, "id", None)
            )
            index = _CODE_ARGUMENT.get(str(name))
            if index is not None and len(node.args) > index:
                found |= strings(node.args[index])
            for keyword in node.keywords:
                if keyword.arg == "code":
                    found |= strings(keyword.value)
        elif isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "code" for target in node.targets
        ):
            found |= {s for s in strings(node.value) if re.fullmatch(r"[a-z0-9-]+", s)}
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for argument, default in zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True):
                if argument.arg == "code" and default is not None:
                    found |= strings(default)
    return found - {"code"}


def codes_used() -> set[str]:
    codes: set[str] = set()
    for module in LOADER_MODULES:
        codes |= _codes_in(ast.parse((SOURCES / module).read_text(encoding="utf-8")))
    return codes


def documented_codes() -> set[str]:
    text = (ROOT / "docs" / "rule-files.md").read_text(encoding="utf-8")
    section = text.split("## Problem codes", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z0-9-]+)` \|", section, flags=re.MULTILINE))


def test_the_code_scan_finds_the_codes_it_should() -> None:
    assert {
        "alias-budget",
        "duplicate-key",
        "unknown-key",
        "bad-number",
        "too-large",
        "tab",
        "yaml-syntax",
        "missing-file",
        "inconsistent",
    } <= codes_used()


def test_every_code_the_loader_uses_is_documented_and_every_documented_code_is_used() -> None:
    assert codes_used() == documented_codes()


def test_every_conformance_case_uses_a_documented_code() -> None:
    documented = documented_codes()
    for expected in CONFORMANCE.glob("*/expected.json"):
        for problem in json.loads(expected.read_text(encoding="utf-8"))["problems"]:
            assert problem["code"] in documented, expected


# --- validate --format json --------------------------------------------------------------


def test_validate_prints_problems_as_json_for_tools(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(HEADER + "  - {id: a, kind: every_nth_free, every: 3}\n", encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(HEADER + "  - {id: a, kind: every_nth_free, evry: 3}\n", encoding="utf-8")
    missing = tmp_path / "missing.yaml"
    result = CliRunner().invoke(
        cli, ["validate", "--format", "json", str(good), str(bad), str(missing)]
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "files": [
            {"file": str(good), "ok": True, "problems": []},
            {
                "file": str(bad),
                "ok": False,
                "problems": [
                    {
                        "code": "unknown-key",
                        "file": str(bad),
                        "line": 6,
                        "column": 35,
                        "path": "rules[0].evry",
                        "message": "unknown key 'evry'",
                        "suggestion": "did you mean 'every'?",
                    },
                ],
            },
            {
                "file": str(missing),
                "ok": False,
                "problems": [
                    {
                        "code": "missing-file",
                        "file": str(missing),
                        "line": None,
                        "column": None,
                        "path": "",
                        "message": f"cannot read '{missing}': there is no such file",
                        "suggestion": None,
                    }
                ],
            },
        ]
    }


def test_validate_json_exits_0_when_every_file_is_valid(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(VALID, encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", "--format", "json", str(good)])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"files": [{"file": str(good), "ok": True, "problems": []}]}


# --- properties --------------------------------------------------------------------------

HOSTILE = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("ab01:.-[]{}&*!|>'\"#\n\t %@`?,~<+xe_")),
        st.sampled_from(
            [
                "\x00",
                "\x01",
                "\x1b",
                "\x7f",
                "\x85",
                "\r",
                "\u2028",
                "\ufeff",
                "\u200b",
                "\u00a0",
                "\u0435",
                "\u0661",
                "\ud800",
                "\U0001f600",
            ]
        ),
        st.characters(),
    ),
    max_size=120,
)
PROGRAMISH = st.lists(
    st.sampled_from(
        [
            HEADER,
            "  - {id: a, kind: every_nth_free, every: 3}\n",
            "&a [*a]\n",
            "  - !!python/object/apply:os.system [ls]\n",
            "---\n",
            "\t",
            "every: 1_0\n",
            "per: \u0661.5\n",
            "<<: *x\n",
            "  - id: b\n    kind: points_per_spend\n",
        ]
    ),
    max_size=6,
).map("".join)


@given(text=st.one_of(HOSTILE, PROGRAMISH, st.tuples(PROGRAMISH, HOSTILE).map("".join)))
def test_any_text_gives_a_program_or_a_rule_file_error(text: str) -> None:
    for parser in PARSERS:
        with contextlib.suppress(RuleFileError):
            assert isinstance(load_program_text(text, _parser=parser), Program)


@given(
    data=st.one_of(
        st.binary(max_size=200), HOSTILE.map(lambda text: text.encode("utf-8", "surrogatepass"))
    )
)
def test_any_bytes_give_a_program_or_a_rule_file_error(data: bytes) -> None:
    for parser in PARSERS:
        with contextlib.suppress(RuleFileError):
            assert isinstance(load_program_bytes(data, _parser=parser), Program)


@given(program=programs())
def test_a_dumped_program_loads_back_equal(program: Program) -> None:
    text = dump_program(program)
    for parser in PARSERS:
        assert load_program_text(text, _parser=parser) == program


GIFTS_AND_LIMITS = HEADER + (
    "  - {id: stars, kind: points_per_spend, points: 1, exclusive_group: weekend,"
    " limit: [{per: purchase, points: 200}, {per: month, points: 1000}]}\n"
    "  - {id: weekend-bonus, kind: bonus_points, points: 50, exclusive_group: weekend}\n"
    "  - {id: card, kind: every_nth_free, every: 5, limit: {per: week, value: 9.50}}\n"
    "  - id: birthday-treat\n"
    "    kind: birthday\n"
    "    voucher: {sku: cake-slice, value: 3.50, name: a slice of cake}\n"
    "    window: day\n"
    "    days_around: 3\n"
    "    requires_purchase: true\n"
    "    when: {categories: [coffee]}\n"
    "  - {id: welcome, kind: signup_bonus, points: 250, min_first_purchase: 0}\n"
    "  - id: bring-a-friend\n"
    "    kind: referral\n"
    "    referrer: {points: 500}\n"
    "    referred: {voucher: {sku: latte, value: 4.50}}\n"
    "    min_paid: 15.00\n"
    "    limit: {per: year, rewards: 5}\n"
)


def test_gifts_limits_and_groups_are_dumped_and_load_back_equal() -> None:
    program = load_program_text(GIFTS_AND_LIMITS)
    text = dump_program(program)
    for parser in PARSERS:
        assert load_program_text(text, _parser=parser) == program
    assert "    limit:\n      per: week\n      value: 9.50\n" in text
    assert "    limit:\n      - per: purchase\n        points: 200\n" in text
    assert "min_first_purchase: 0\n" in text


WRITABLE = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=30)


@given(
    name=WRITABLE,
    description=st.one_of(
        st.none(), st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
    ),
    category=WRITABLE,
    tier=WRITABLE,
)
def test_any_text_in_a_program_survives_a_dump(
    name: str, description: str | None, category: str, tier: str
) -> None:
    program = make_program(
        [
            {
                "id": "r",
                "kind": "every_nth_free",
                "every": 3,
                "description": description,
                "when": {"categories": [category, "no", "0123", "a: b"], "dates": ["2026-01-31"]},
            },
            {"id": "d", "kind": "tiered_discount", "discounts": {tier: Decimal("12.50")}},
        ],
        name=name,
        tiers={
            "qualify_by": "spend",
            "window": "365 days",
            "levels": [{"name": tier, "at_least": Decimal("0.00")}],
        },
        points={"name": "stars", "value": Decimal("0.010")},
    )
    text = dump_program(program)
    for parser in PARSERS:
        loaded = load_program_text(text, _parser=parser)
        assert loaded == program
        assert str(loaded.points.value) == "0.010"
