"""One "did you mean ...?" for the whole package: one helper, one documented cutoff."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rewardrules
from rewardrules.errors import SUGGESTION_CUTOFF, closest

SOURCE = Path(rewardrules.__file__).parent


@pytest.mark.parametrize(
    ("word", "known", "meant"),
    [
        ("percent_of", ["percent_off", "voucher"], "percent_off"),
        ("Percent_Off", ["percent_off", "voucher"], "percent_off"),
        ("unit_prise", ["sku", "unit_price", "quantity"], "unit_price"),
        ("Europ/Paris", ["Europe/Berlin", "Europe/Paris"], "Europe/Paris"),
    ],
)
def test_a_slip_of_a_letter_or_two_finds_the_word_meant(
    word: str, known: list[str], meant: str
) -> None:
    assert closest(word, known) == [meant]


@pytest.mark.parametrize(("word", "known"), [("colour", ["sku", "quantity"]), ("x", ["every"])])
def test_an_unrelated_word_finds_nothing(word: str, known: list[str]) -> None:
    assert closest(word, known) == []


def test_several_are_given_best_first() -> None:
    assert closest("gold", ["silver", "golden", "gold"], count=2) == ["gold", "golden"]


def test_every_did_you_mean_asks_the_one_helper() -> None:
    """No module but errors.py reads difflib, so no call site can choose its own cutoff."""
    readers = sorted(
        str(path.relative_to(SOURCE))
        for path in SOURCE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if (isinstance(node, ast.Import) and any(a.name == "difflib" for a in node.names))
        or (isinstance(node, ast.ImportFrom) and node.module == "difflib")
    )
    assert readers == ["errors.py"]
    assert 0 < SUGGESTION_CUTOFF < 1
