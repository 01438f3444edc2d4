"""The shape of a lint check: what it is given (:class:`LintContext`) and yields (:class:`Finding`).

:mod:`rewardrules.tools.lint.warnings` holds the table of checks and re-exports these names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from rewardrules.engine.kind import Finding
from rewardrules.events import AnyEvent, Purchase
from rewardrules.program.model import Program

__all__ = ["Check", "Finding", "LintContext", "SeenInHistory"]


@dataclass(frozen=True, slots=True)
class SeenInHistory:
    """The categories and skus that a history's purchases have: what filters can match."""

    categories: frozenset[str]
    skus: frozenset[str]

    @classmethod
    def from_events(cls, events: Iterable[AnyEvent]) -> SeenInHistory:
        """Collect the categories and skus of every purchase line, reading events once."""
        categories: set[str] = set()
        skus: set[str] = set()
        for event in events:
            if isinstance(event, Purchase):
                for line in event.lines:
                    skus.add(line.sku)
                    if line.category is not None:
                        categories.add(line.category)
        return cls(frozenset(categories), frozenset(skus))


@dataclass(frozen=True, slots=True)
class LintContext:
    """What the checks know besides the program.

    Attributes:
        as_of: today, as a local date of the program: rules over by then are reported.
        history: what a history shows, to report names no purchase has.
    """

    as_of: date | None = None
    history: SeenInHistory | None = None


Check = Callable[[Program, LintContext], Iterator[Finding]]
"""A warning: yields a finding for each place of the program it applies to."""
