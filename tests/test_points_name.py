"""``points: {name, singular}``: what one point is called, where the plural less a final
``s`` is wrong."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from helpers import line, program, purchase
from rewardrules import evaluate
from rewardrules.errors import RuleFileError
from rewardrules.program.model import Program
from rewardrules.rulefiles.loader import load_program_text
from rewardrules.text import Noun, counted


def kudos_club(**points: object) -> Program:
    """1 point per whole dollar."""
    return program(
        points=points,
        rules=[{"id": "earn", "kind": "points_per_spend", "points": 1, "per": "1.00"}],
    )


def reason_for_one_dollar(club: Program, engine: str = "reference") -> str:
    bought = purchase("p1", datetime(2026, 3, 2, 9, tzinfo=UTC), line("tea", "1.00"))
    evaluation = evaluate(club, [bought], engine=engine)  # type: ignore[arg-type]
    return evaluation.customers[0].ledger[0].reason


@pytest.mark.parametrize("engine", ["reference", "batch"])
def test_one_point_takes_the_singular_the_program_gives(engine: str) -> None:
    club = kudos_club(name="kudos", singular="kudos")
    assert reason_for_one_dollar(club, engine) == "1.00 USD paid at 1 kudos per 1.00 USD: 1 kudos"


def test_without_a_singular_one_point_is_the_name_less_its_final_s() -> None:
    club = kudos_club(name="stars")
    assert reason_for_one_dollar(club) == "1.00 USD paid at 1 star per 1.00 USD: 1 star"


def test_a_name_not_ending_in_s_is_its_own_singular_unless_told() -> None:
    assert counted(1, kudos_club(name="Punkte").points.name) == "1 Punkte"
    assert counted(1, kudos_club(name="Punkte", singular="Punkt").points.name) == "1 Punkt"
    assert counted(2, kudos_club(name="Punkte", singular="Punkt").points.name) == "2 Punkte"
    assert counted(Decimal("1.5"), Noun("Punkte", "Punkt")) == "1.5 Punkte"


def test_the_name_is_still_the_plural_text_and_survives_a_round_trip() -> None:
    club = kudos_club(name="Punkte", singular="Punkt")
    assert club.points.name == "Punkte"
    assert club.points.model_dump(mode="json")["name"] == "Punkte"
    assert club.points.model_dump(mode="json")["singular"] == "Punkt"
    copied = pickle.loads(pickle.dumps(club))  # noqa: S301 -- our own object
    assert counted(1, copied.points.name) == "1 Punkt"
    assert copied == club


def test_an_empty_singular_is_refused_with_its_place() -> None:
    text = (
        "program: p\nname: P\ncurrency: USD\ntimezone: UTC\n"
        "points:\n  name: kudos\n  singular: ''\nrules: []\n"
    )
    with pytest.raises(RuleFileError) as raised:
        load_program_text(text, "p.yaml")
    assert str(raised.value) == "p.yaml:7:3: points.singular: must not be empty"
