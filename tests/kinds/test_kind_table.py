"""Every kind of the union has a spec in the table and a section in docs/semantics.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rewardrules.kinds.table import KINDS
from rewardrules.program.model import RULE_KINDS
from rewardrules.tools.lint.warnings import CHECKS
from rewardrules.tools.reference.examples import kind_name

SEMANTICS = Path(__file__).parents[2] / "docs" / "semantics.md"


@pytest.mark.parametrize("model", RULE_KINDS, ids=lambda model: model.__name__)
def test_every_kind_has_a_section_in_the_semantics(model: type) -> None:
    headings = re.findall(r"^#{2,4} (.+)$", SEMANTICS.read_text(encoding="utf-8"), re.MULTILINE)
    assert any(f"`{kind_name(model)}`" in heading for heading in headings)


@pytest.mark.parametrize("model", RULE_KINDS, ids=lambda model: model.__name__)
def test_every_kind_has_its_own_spec(model: type) -> None:
    assert KINDS[model].model is model


@pytest.mark.parametrize("model", RULE_KINDS, ids=lambda model: model.__name__)
def test_every_kinds_own_lint_checks_are_filed_under_a_warnings_code(model: type) -> None:
    assert set(KINDS[model].lint_codes) <= set(CHECKS)
