"""The one table of rule kinds: each kind's model mapped to its spec.

A program's rules run through the spec of their model here, unless a caller passes a
table of its own (``compile_program(program, kinds=...)``): there is no registration, and
a kind absent from the table fails when a program using it is compiled.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from rewardrules.engine.kind import Kind, KindTable
from rewardrules.kinds import (
    birthday,
    bonus_points,
    every_nth_free,
    order_discount,
    partner_gift_card,
    points_per_spend,
    referral,
    signup_bonus,
    tiered_discount,
)

__all__ = ["KINDS"]

_SPECS: tuple[Kind, ...] = (
    points_per_spend.SPEC,
    every_nth_free.SPEC,
    partner_gift_card.SPEC,
    tiered_discount.SPEC,
    order_discount.SPEC,
    bonus_points.SPEC,
    birthday.SPEC,
    signup_bonus.SPEC,
    referral.SPEC,
)

KINDS: Final[KindTable] = MappingProxyType({spec.model: spec for spec in _SPECS})
"""Every kind of :data:`rewardrules.program.model.RULE_KINDS`, by model (a test checks both)."""
