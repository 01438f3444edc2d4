"""The JSON Schema for editors: the committed file, its fields, and what it accepts and rejects.

The committed schema/program.schema.json must equal what the models generate. These tests
never write it; after changing a model, regenerate it and review the diff:

    rewardrules schema > schema/program.schema.json

Program files are read here the way the loader reads them (YAML 1.2 core scalars: ``no``
stays text, a date stays text, money is an exact Decimal), the way editors and
check-jsonschema read them too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

import pytest
from click.testing import CliRunner
from jsonschema import Draft7Validator  # type: ignore[import-untyped]  # ships no type hints

from rewardrules.cli.main import cli
from rewardrules.errors import RuleFileError
from rewardrules.program.model import RULE_KINDS
from rewardrules.rulefiles import loader
from rewardrules.rulefiles.schema import DIALECT, program_schema, schema_text, shipped_schema
from rewardrules.rulefiles.sourcemap import SourceText, build
from rewardrules.tools.reference.examples import kind_name

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = ROOT / "schema" / "program.schema.json"
EXAMPLES = sorted((ROOT / "rules" / "examples").glob("*.yaml"))
MODELINE = "# yaml-language-server: $schema=../../schema/program.schema.json"

SCHEMA = program_schema()
VALIDATOR = Draft7Validator(SCHEMA, format_checker=Draft7Validator.FORMAT_CHECKER)

Field = tuple[str, dict[str, Any]]


def plain_data(text: str) -> object:
    """The values of a rule file as the loader reads them, as JSON values.

    An exact Decimal becomes the JSON number a schema tool sees (and shows in messages).
    """
    source = SourceText("<text>", text)
    root = loader._parse(source, None, loader.NODE_BUDGET)
    assert root is not None
    return as_json(build(root, source).data)


def as_json(value: object) -> object:
    """``value`` with every Decimal as an int or a float."""
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_json(item) for item in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def errors_of(text: str) -> list[tuple[str, str, str]]:
    """Every schema error of a program as (path, keyword, message), in path order."""
    found = [
        (".".join(str(part) for part in error.absolute_path), error.validator, error.message)
        for error in VALIDATOR.iter_errors(plain_data(text))
    ]
    return sorted(found)


def fields(node: object, where: str = "") -> Iterator[Field]:
    """Every field of the schema (each entry of a ``properties``) as (where, its schema).

    The ``if`` of a conditional is a guard, not a place where fields are documented.
    """
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from fields(item, f"{where}[{index}]")
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in {"if", "examples", "default", "enum", "const"}:
                continue
            if key == "properties":
                for name, field in value.items():
                    here = f"{where}.{name}" if where else name
                    yield here, field
                    yield from fields(field, here)
            else:
                yield from fields(value, f"{where}.{key}" if where else key)


FIELDS = list(fields(SCHEMA))


# --- the file --------------------------------------------------------------------------


def test_the_committed_schema_is_the_generated_one() -> None:
    committed = SCHEMA_FILE.read_text(encoding="utf-8")
    assert committed == schema_text(), (
        "schema/program.schema.json is out of date; regenerate it with "
        "`rewardrules schema > schema/program.schema.json` and review the diff"
    )


def test_the_schema_text_is_sorted_indented_and_ends_with_a_newline() -> None:
    text = schema_text()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


def test_schema_command_prints_the_schema() -> None:
    result = CliRunner().invoke(cli, ["schema"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stdout == schema_text()


def test_the_schema_is_a_valid_draft_07_schema() -> None:
    assert SCHEMA["$schema"] == DIALECT == "http://json-schema.org/draft-07/schema#"
    Draft7Validator.check_schema(SCHEMA)
    assert (SCHEMA["$id"], SCHEMA["title"]) == ("urn:rewardrules:program:v1", "rewardrules program")


def test_the_schema_uses_draft_07_definitions_and_no_one_of() -> None:
    text = schema_text()
    for word in ('"$defs"', '"oneOf"', '"discriminator"', '"ge"', '"gt"', '"le"', '"lt"'):
        assert word not in text


# --- fields ----------------------------------------------------------------------------


def test_there_are_fields() -> None:
    assert len(FIELDS) > 60


def test_every_field_has_a_description_and_an_example() -> None:
    undocumented = [where for where, field in FIELDS if not field.get("description")]
    without_example = [where for where, field in FIELDS if not field.get("examples")]
    assert (undocumented, without_example) == ([], [])


@pytest.mark.parametrize(("where", "field"), FIELDS, ids=[where for where, _ in FIELDS])
def test_every_example_of_a_field_is_valid_for_it(where: str, field: dict[str, Any]) -> None:
    validator = Draft7Validator(
        {**field, "definitions": SCHEMA["definitions"]},
        format_checker=Draft7Validator.FORMAT_CHECKER,
    )
    for example in field["examples"]:
        assert [error.message for error in validator.iter_errors(example)] == [], where


def test_every_model_field_is_in_the_schema() -> None:
    for kind in RULE_KINDS:
        published = set(SCHEMA["definitions"][kind.__name__]["properties"])
        assert published == set(kind.model_fields), kind.__name__


def test_a_rule_names_every_kind_and_applies_the_schema_of_its_kind() -> None:
    rule = SCHEMA["definitions"]["Rule"]
    kinds = [get_args(kind.model_fields["kind"].annotation)[0] for kind in RULE_KINDS]
    assert rule["properties"]["kind"]["enum"] == kinds
    assert rule["required"] == ["kind"]
    assert rule["allOf"] == [
        {
            "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
            "then": {"$ref": f"#/definitions/{model.__name__}"},
        }
        for kind, model in zip(kinds, RULE_KINDS)
    ]
    assert SCHEMA["properties"]["rules"]["items"] == {"$ref": "#/definitions/Rule"}


def test_money_is_a_number_or_a_numeric_text() -> None:
    value = SCHEMA["definitions"]["PartnerGiftCard"]["properties"]["value"]
    assert value["type"] == ["number", "string"]
    assert value["exclusiveMinimum"] == 0
    assert value["pattern"] == r"^\+?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$"


def test_every_kind_refuses_unknown_keys() -> None:
    definitions = SCHEMA["definitions"]
    closed = [name for name, schema in definitions.items() if name != "Rule"]
    assert [name for name in closed if definitions[name]["additionalProperties"] is not False] == []
    assert SCHEMA["additionalProperties"] is False


# --- the examples ----------------------------------------------------------------------

examples = pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 6


@examples
def test_example_starts_with_the_modeline(path: Path) -> None:
    first_line = path.read_text(encoding="utf-8").splitlines()[0]
    assert first_line == MODELINE
    target = (path.parent / MODELINE.split("$schema=", 1)[1]).resolve()
    assert target == SCHEMA_FILE.resolve()  # schema/ links to the file shipped in the package


@examples
def test_example_is_valid_for_the_schema(path: Path) -> None:
    assert errors_of(path.read_text(encoding="utf-8")) == []


def test_the_modeline_does_not_move_the_lines_problems_point_at() -> None:
    path = ROOT / "rules" / "examples" / "coffee-club.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    broken = next(number for number, line in enumerate(lines, 1) if "points: 2" in line)
    lines[broken - 1] = lines[broken - 1].replace("points: 2", "points: 0")
    with pytest.raises(RuleFileError) as caught:
        loader.load_program_text("".join(lines), source=str(path))
    [problem] = caught.value.problems
    assert problem.location is not None
    assert (problem.location.line, problem.location.column) == (broken, 13)


# --- what it accepts and rejects -------------------------------------------------------

HEAD = """\
program: scoops
name: Scoops
currency: USD
timezone: America/Chicago
"""

TIERS = """\
tiers:
  qualify_by: spend
  window: calendar_year
  levels:
    - {name: silver, at_least: 100}
    - {name: gold, at_least: 500}
"""


def card(*lines: str) -> str:
    """A program with one punch-card rule and extra lines of that rule."""
    body = "".join(f"    {line}\n" for line in lines)
    return f"{HEAD}rules:\n  - id: cone-card\n    kind: every_nth_free\n{body}"


def rule(kind: str, *lines: str) -> str:
    """A program with tiers and one rule of ``kind`` made of ``lines``."""
    body = "".join(f"    {line}\n" for line in lines)
    return f"{HEAD}{TIERS}rules:\n  - id: a-rule\n    kind: {kind}\n{body}"


VALID = {
    "a card with every reward form": card("every: 10", "reward: {percent_off: 100}"),
    "a voucher with a quoted value": card(
        "every: 6", "reward: {voucher: {sku: wash-basic, value: '12.00'}}"
    ),
    "weekdays in any case": card("every: 3", "when: {weekdays: [Saturday, SUNDAY]}"),
    "empty optional values": card("every: 3", "description:", "starts:", "when:", "  skus:"),
    "a rolling window in weeks": HEAD + TIERS.replace("calendar_year", "52 weeks"),
    "a rolling window as days": HEAD + TIERS.replace("calendar_year", "{days: 30}"),
    "no tiers": HEAD + "tiers:\n",
    "a tiered discount": rule("tiered_discount", "discounts: {silver: 5, gold: 12.5}"),
    "a gift card with no limit": rule(
        "partner_gift_card",
        "partner: Green Basket",
        "value: 10.00",
        "every_spend: 200",
        "max_per_window:",
    ),
    "points with everything": rule(
        "points_per_spend",
        "points: 1.5",
        "per: 1.00",
        "rounding: half_up",
        "max_per_purchase: 500",
        "starts: 2026-03-01",
        "ends: 2026-12-31",
        "priority: -1",
        "multipliers: [{factor: 2, when: {tiers: [gold], min_total: 20}}]",
    ),
    "one limit as a mapping": card("every: 10", "limit: {per: day, rewards: 1}"),
    "limits as a list": rule(
        "bonus_points",
        "points: 50",
        "limit: [{per: week, points: 100}, {per: year, points: 1000}]",
    ),
    "a group of two": rule("bonus_points", "points: 50", "exclusive_group: weekend").replace(
        "rules:\n",
        "rules:\n  - {id: weekend-double, kind: points_per_spend, points: 2, "
        "exclusive_group: weekend}\n",
    ),
    "a birthday voucher": rule(
        "birthday",
        "voucher: {sku: cake-slice, value: '3.50'}",
        "window: day",
        "days_around: 7",
    ),
    "a signup bonus at the first purchase": rule(
        "signup_bonus", "points: 250", "min_first_purchase: 20", "when: {categories: [coffee]}"
    ),
    "a referral with gifts for both": rule(
        "referral", "referrer: {points: 500}", "referred: {voucher: {sku: latte, value: 4}}"
    ),
}


@pytest.mark.parametrize("text", VALID.values(), ids=VALID.keys())
def test_the_schema_and_the_loader_accept(text: str) -> None:
    loader.load_program_text(text)
    assert errors_of(text) == []


BROKEN: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "a card of one": (
        card("every: 1"),
        [("rules.0.every", "minimum", "1 is less than the minimum of 2")],
    ),
    "an unknown key inside when": (
        card("every: 10", "when: {categroies: [ice-cream]}"),
        [
            (
                "rules.0.when",
                "additionalProperties",
                "Additional properties are not allowed ('categroies' was unexpected)",
            )
        ],
    ),
    "a misspelt kind": (
        card("every: 10").replace("every_nth_free", "every_nth_fre"),
        [
            (
                "rules.0.kind",
                "enum",
                f"'every_nth_fre' is not one of {[kind_name(model) for model in RULE_KINDS]}",
            )
        ],
    ),
    "a rule with no kind": (
        card("every: 10").replace("    kind: every_nth_free\n", ""),
        [("rules.0", "required", "'kind' is a required property")],
    ),
    "a card without every": (
        card("counts: visits"),
        [("rules.0", "required", "'every' is a required property")],
    ),
    "a gift card without every_spend": (
        rule("partner_gift_card", "partner: Green Basket", "value: 10"),
        [("rules.0", "required", "'every_spend' is a required property")],
    ),
    "a key of another kind": (
        card("every: 10", "points: 2"),
        [
            (
                "rules.0",
                "additionalProperties",
                "Additional properties are not allowed ('points' was unexpected)",
            )
        ],
    ),
    "percent off over 100": (
        card("every: 5", "reward: {percent_off: 150}"),
        [("rules.0.reward.percent_off", "maximum", "150 is greater than the maximum of 100")],
    ),
    "a misspelt reward": (
        card("every: 5", "reward: fre"),
        [("rules.0.reward", "enum", "'fre' is not one of ['free']")],
    ),
    "two rewards at once": (
        card("every: 5", "reward: {percent_off: 30, voucher: {sku: x, value: 1}}"),
        [
            (
                "rules.0.reward",
                "maxProperties",
                "{'percent_off': 30, 'voucher': {'sku': 'x', 'value': 1}} has too many properties",
            )
        ],
    ),
    "a voucher without value": (
        card("every: 5", "reward: {voucher: {sku: wash-basic}}"),
        [("rules.0.reward.voucher", "required", "'value' is a required property")],
    ),
    "an unknown rounding": (
        rule("points_per_spend", "points: 1", "rounding: down"),
        [("rules.0.rounding", "enum", "'down' is not one of ['floor', 'half_up', 'ceil']")],
    ),
    "a negative spend": (
        rule("points_per_spend", "points: 1", "per: -1"),
        [("rules.0.per", "exclusiveMinimum", "-1 is less than or equal to the minimum of 0")],
    ),
    "money that is not a number": (
        rule("partner_gift_card", "partner: Green Basket", "value: ten", "every_spend: 200"),
        [
            (
                "rules.0.value",
                "pattern",
                r"'ten' does not match '^\\+?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)$'",
            )
        ],
    ),
    "a negative multiplier": (
        rule("points_per_spend", "points: 1", "multipliers: [{factor: -0.5, when: {}}]"),
        [("rules.0.multipliers.0.factor", "minimum", "-0.5 is less than the minimum of 0")],
    ),
    "a discount over 100 percent": (
        rule("tiered_discount", "discounts: {silver: 5, gold: 150}"),
        [("rules.0.discounts.gold", "maximum", "150 is greater than the maximum of 100")],
    ),
    "a day that does not exist": (
        card("every: 5", "starts: 2026-02-30"),
        [("rules.0.starts", "format", "'2026-02-30' is not a 'date'")],
    ),
    "a misspelt weekday": (
        card("every: 5", "when: {weekdays: [saturday, sonday]}"),
        [
            (
                "rules.0.when.weekdays.1",
                "anyOf",
                "'sonday' is not valid under any of the given schemas",
            )
        ],
    ),
    "an unknown tier window": (
        HEAD + TIERS.replace("calendar_year", "monthly"),
        [("tiers.window", "anyOf", "'monthly' is not valid under any of the given schemas")],
    ),
    "no tier levels": (
        HEAD + "tiers: {qualify_by: spend, window: lifetime, levels: []}\n",
        [("tiers.levels", "minItems", "[] should be non-empty")],
    ),
    "a lowercase currency": (
        HEAD.replace("USD", "usd"),
        [("currency", "pattern", "'usd' does not match '^[A-Z]{3}$'")],
    ),
    "a limit per fortnight": (
        card("every: 10", "limit: {per: fortnight, rewards: 1}"),
        [
            (
                "rules.0.limit.per",
                "enum",
                "'fortnight' is not one of ['purchase', 'day', 'week', 'month', 'year', "
                "'lifetime']",
            )
        ],
    ),
    "a limit in a list without a period": (
        card("every: 10", "limit: [{per: day, rewards: 1}, {rewards: 5}]"),
        [("rules.0.limit.1", "required", "'per' is a required property")],
    ),
    "a limit that is a number": (
        card("every: 10", "limit: 3"),
        [("rules.0.limit", "type", "3 is not of type 'object', 'array'")],
    ),
    "a birthday window of a week": (
        rule("birthday", "points: 100", "window: week"),
        [("rules.0.window", "enum", "'week' is not one of ['day', 'month']")],
    ),
    "a referral without a referrer's gift": (
        rule("referral", "referred: {points: 200}"),
        [("rules.0", "required", "'referrer' is a required property")],
    ),
    "a referrer's gift of no points": (
        rule("referral", "referrer: {points: 0}"),
        [("rules.0.referrer.points", "minimum", "0 is less than the minimum of 1")],
    ),
    "an unknown key at the top": (
        HEAD + "colour: blue\n",
        [
            (
                "",
                "additionalProperties",
                "Additional properties are not allowed ('colour' was unexpected)",
            )
        ],
    ),
}


@pytest.mark.parametrize(("text", "expected"), BROKEN.values(), ids=BROKEN.keys())
def test_the_schema_points_at_the_wrong_field(
    text: str, expected: list[tuple[str, str, str]]
) -> None:
    assert errors_of(text) == expected


@pytest.mark.parametrize(("text", "expected"), BROKEN.values(), ids=BROKEN.keys())
def test_the_loader_rejects_what_the_schema_rejects(
    text: str, expected: list[tuple[str, str, str]]
) -> None:
    del expected
    with pytest.raises(RuleFileError):
        loader.load_program_text(text)


# --- check-jsonschema, as the docs tell marketers to run it ----------------------------


def check_jsonschema(*files: Path) -> subprocess.CompletedProcess[str]:
    """Run check-jsonschema against the committed schema file."""
    command = [sys.executable, "-m", "check_jsonschema", "--schemafile", str(SCHEMA_FILE)]
    return subprocess.run(  # noqa: S603 - our own interpreter, our own arguments
        [*command, *map(str, files)], capture_output=True, text=True, check=False
    )


def test_check_jsonschema_accepts_the_examples() -> None:
    result = check_jsonschema(*EXAMPLES)
    assert (result.returncode, result.stdout.strip()) == (0, "ok -- validation done")


def test_check_jsonschema_points_at_the_wrong_field(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(card("every: 1"), encoding="utf-8")
    result = check_jsonschema(broken)
    assert result.returncode == 1
    assert f"{broken}::$.rules[0].every: 1 is less than the minimum of 2" in result.stdout


def test_the_package_ships_the_schema_and_says_where() -> None:
    assert shipped_schema().read_text(encoding="utf-8") == schema_text()
    result = CliRunner().invoke(cli, ["schema", "--path"])
    assert result.exit_code == 0
    shown = Path(result.stdout.removesuffix("\n"))
    assert shown.read_text(encoding="utf-8") == schema_text()
    assert (shown.parent.name, shown.name) == ("rulefiles", "program.schema.json")
    # The repository's schema/ copy is the package's file itself, linked (the installed
    # copy may sit in site-packages: CI installs the project, not in editable mode).
    assert SCHEMA_FILE.is_symlink()
    packaged = ROOT / "src" / "rewardrules" / "rulefiles" / "program.schema.json"
    assert SCHEMA_FILE.resolve() == packaged.resolve()
