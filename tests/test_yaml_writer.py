"""One YAML writer: rule files (dump_program) and the reference's examples write alike."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rewardrules import loads_program
from rewardrules.rulefiles.dump import dump_program, flow_text, yaml_text
from rewardrules.tools.reference.examples import flow, to_yaml

PROGRAM = (
    "program: p\nname: P\ncurrency: USD\ntimezone: UTC\n"
    "refunds: {within: 90 days}\n"
    "points: {name: stars, expire_after: 12 months}\n"
)


def test_a_duration_is_written_plain_and_loads_back_equal() -> None:
    program = loads_program(PROGRAM)
    text = dump_program(program)
    assert "  within: 90 days\n" in text
    assert "  expire_after: 12 months\n" in text
    assert loads_program(text) == program


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("365 days", "365 days"),
        ("Etc/GMT+5", "Etc/GMT+5"),
        ("12", '"12"'),  # a number if unquoted
        ("0123", '"0123"'),
        ("true", '"true"'),
        ("a: b", '"a: b"'),
        (Decimal("1.10"), "1.10"),
    ],
)
def test_text_is_quoted_only_where_it_would_read_back_as_something_else(
    value: object, written: str
) -> None:
    assert flow_text(value) == written
    assert flow(value) == written


def test_short_mappings_go_on_their_keys_line_only_when_asked() -> None:
    data = {"points": {"name": "stars", "value": Decimal("0.01")}, "rules": [{"id": "a"}]}
    assert yaml_text(data) == "points:\n  name: stars\n  value: 0.01\nrules:\n  - id: a\n"
    assert to_yaml(data) == "points: {name: stars, value: 0.01}\nrules:\n  - id: a\n"
