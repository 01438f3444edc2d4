"""What the program schema adds to pydantic's: examples, and what the models' validators check.

:func:`add_examples` gives every field that has none in its model the examples of
:data:`_EXAMPLES`; :func:`add_validator_checks` publishes, per field, what a model checks in
its own validator and pydantic cannot put in a schema. :mod:`rewardrules.rulefiles.schema` calls
both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from pydantic import BaseModel

from rewardrules.program.model import (
    RULE_KINDS,
    WEEKDAYS,
    EveryNthFree,
    Filter,
    Multiplier,
    PartnerGiftCard,
    PercentOff,
    PointsPerSpend,
    PointsSettings,
    Program,
    RollingWindow,
    TieredDiscount,
    TierLevel,
    Tiers,
    VoucherReward,
    VoucherSpec,
)

Schema = dict[str, Any]

_ROLLING_TEXT: Final = r"^\s*0*[1-9][0-9]*\s*(?:days?|weeks?)\s*$"
"""A rolling window as :mod:`rewardrules.program.model` reads it: ``365 days``, ``52 weeks``."""

_RULE_EXAMPLES: Final[dict[str, list[Any]]] = {
    "id": ["coffee-stars"],
    "description": ["Double stars on coffee"],
    "starts": ["2026-03-01"],
    "ends": ["2026-12-31"],
    "when": [{"categories": ["coffee"]}, {"exclude_categories": ["merch"], "min_total": 20}],
    "priority": [0, 10],
}
"""Examples of the fields every rule has, whatever its kind."""

_EXAMPLES: Final[dict[tuple[type[BaseModel], str], list[Any]]] = {
    **{(kind, name): examples for kind in RULE_KINDS for name, examples in _RULE_EXAMPLES.items()},
    (Program, "program"): ["coffee-club"],
    (Program, "name"): ["Coffee Club"],
    (Program, "currency"): ["USD", "EUR", "JPY"],
    (Program, "timezone"): ["America/New_York", "Europe/Berlin"],
    (Program, "points"): [{"name": "stars", "value": 0.01}],
    (Program, "tiers"): [
        {
            "qualify_by": "spend",
            "window": "365 days",
            "levels": [{"name": "silver", "at_least": 100}, {"name": "gold", "at_least": 500}],
        }
    ],
    (Program, "refunds"): [{"within": "90 days"}],
    (Program, "rules"): [[{"id": "stars", "kind": "points_per_spend", "points": 2}]],
    (PointsSettings, "name"): ["stars", "miles"],
    (PointsSettings, "value"): [0.01],
    (Tiers, "qualify_by"): ["spend", "purchases", "points"],
    (Tiers, "window"): ["365 days", "calendar_year", "lifetime"],
    (Tiers, "levels"): [[{"name": "silver", "at_least": 100}, {"name": "gold", "at_least": 500}]],
    (TierLevel, "name"): ["silver", "gold"],
    (TierLevel, "at_least"): [100, 500],
    (TierLevel, "points_multiplier"): [1.5],
    (RollingWindow, "days"): [365],
    (Multiplier, "when"): [{"categories": ["coffee"]}],
    (Multiplier, "description"): ["Double stars on coffee"],
    (PointsPerSpend, "multipliers"): [[{"factor": 2, "when": {"categories": ["coffee"]}}]],
    (PointsPerSpend, "rounding"): ["floor", "half_up", "ceil"],
    (PointsPerSpend, "max_per_purchase"): [500],
    (EveryNthFree, "every"): [10],
    (EveryNthFree, "counts"): ["items", "visits"],
    (EveryNthFree, "reward"): [
        "free",
        {"percent_off": 30},
        {"voucher": {"sku": "wash-basic", "value": 12, "name": "Free Basic Wash"}},
    ],
    (PercentOff, "percent_off"): [30],
    (VoucherReward, "voucher"): [{"sku": "wash-basic", "value": 12}],
    (VoucherSpec, "sku"): ["wash-basic"],
    (VoucherSpec, "value"): [12],
    (VoucherSpec, "name"): ["Free Basic Wash"],
    (PartnerGiftCard, "partner"): ["Green Basket Grocery"],
    (PartnerGiftCard, "value"): [10],
    (PartnerGiftCard, "every_spend"): [200],
    (PartnerGiftCard, "window"): ["calendar_quarter", "lifetime"],
    (PartnerGiftCard, "max_per_window"): [3],
    (TieredDiscount, "discounts"): [{"silver": 5, "gold": 10}],
}
"""Examples of the fields whose model gives none, by model and field."""


def _currency_code(field: Schema) -> None:
    field["pattern"] = "^[A-Z]{3}$"


def _percent_per_tier(field: Schema) -> None:
    field["additionalProperties"] = {
        **field["additionalProperties"],
        "exclusiveMinimum": 0,
        "maximum": 100,
    }


def _rolling_window_text(field: Schema) -> None:
    field["anyOf"] = [*field["anyOf"], {"type": "string", "pattern": _ROLLING_TEXT}]


def _one_limit_or_a_list(field: Schema) -> None:
    # The model reads a single limit as a list of one; publish both forms as a union,
    # which rewardrules.rulefiles.schema then publishes by JSON type.
    one = field.pop("items")
    del field["type"]
    field["anyOf"] = [one, {"type": "array", "items": one}]


def _weekdays_in_any_case(field: Schema) -> None:
    any_case = "|".join("".join(f"[{c.upper()}{c}]" for c in day) for day in WEEKDAYS)
    for branch in field["anyOf"]:
        if branch.get("type") == "array":
            branch["items"] = {
                "anyOf": [
                    {"type": "string", "enum": list(WEEKDAYS)},
                    {"type": "string", "pattern": f"^(?:{any_case})$"},
                ]
            }


_VALIDATOR_CHECKS: Final[dict[tuple[type[BaseModel], str], Callable[[Schema], None]]] = {
    **{(kind, "limit"): _one_limit_or_a_list for kind in RULE_KINDS},
    (Program, "currency"): _currency_code,
    (TieredDiscount, "discounts"): _percent_per_tier,
    (Tiers, "window"): _rolling_window_text,
    (Filter, "weekdays"): _weekdays_in_any_case,
}
"""What the models check or read in their own validators, which pydantic cannot publish:
one limit read as a list of one, known currencies, percentages per tier, "365 days" read as
a rolling window, weekdays in any case. Each changes the field's schema as pydantic
generated it."""


def add_examples(models: dict[str, Schema]) -> None:
    """Give the fields of ``models`` the examples their models lack (a constant: itself)."""
    for (model, name), examples in _EXAMPLES.items():
        field = _property(models, model, name)
        if "examples" in field:
            raise ValueError(
                f"{model.__name__}.{name} has examples in the model; "
                "remove it from rewardrules.rulefiles._schema_examples._EXAMPLES"
            )
        field["examples"] = examples
    for schema in models.values():
        for field in schema.get("properties", {}).values():
            if "const" in field and "examples" not in field:
                field["examples"] = [field["const"]]


def add_validator_checks(models: dict[str, Schema]) -> None:
    """Change the fields of ``models`` that the models' own validators check further."""
    for (model, name), check in _VALIDATOR_CHECKS.items():
        check(_property(models, model, name))


def _property(models: dict[str, Schema], model: type[BaseModel], name: str) -> Schema:
    properties = models.get(model.__name__, {}).get("properties", {})
    if name not in properties:
        raise KeyError(f"the schema of {model.__name__} has no field {name!r}")
    field: Schema = properties[name]
    return field
