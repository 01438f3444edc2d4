"""What a field's own validator accepts beyond its annotation, said once, on the field.

A field whose validator checks or reads more than pydantic can see (a currency is an active
ISO 4217 code; one ``limit`` mapping is read as a list of one) carries a :class:`Checked` as
its ``json_schema_extra``: pydantic calls it on the field's JSON Schema
(:mod:`rewardrules.rulefiles.schema`), and the rule reference
(:mod:`rewardrules.tools.reference.pages`) reads its words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Schema = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Checked:
    """A field's validator, in words for the reference and as a change of its JSON Schema.

    Attributes:
        limit: the limit it checks, in words, where no constraint of the annotation shows it.
        reads: the type it reads, in words, where that is wider than the annotation; ``{item}``
            stands for the words of the annotation's item type (``a {item}, or a list``).
        schema: changes the field's schema as pydantic generated it.
    """

    limit: str | None = None
    reads: str | None = None
    schema: Callable[[Schema], None] | None = None

    def __call__(self, schema: Schema) -> None:
        if self.schema is not None:
            self.schema(schema)
