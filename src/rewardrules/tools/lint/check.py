"""The shape of a lint check: what it is given (:class:`LintContext`) and yields (:class:`Finding`).

:mod:`rewardrules.tools.lint.warnings` holds the table of checks and re-exports these names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date

from rewardrules.engine.kind import Finding, Kind, KindTable
from rewardrules.evaluation.plan import spec_of
from rewardrules.events import AnyEvent, Purchase
from rewardrules.kinds.table import KINDS
from rewardrules.program._rule_base import _Rule
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
        kinds: the kind table: each rule's own checks are its kind's ``lint``.
    """

    as_of: date | None = None
    history: SeenInHistory | None = None
    kinds: KindTable = field(default_factory=lambda: KINDS)

    def kind(self, rule: _Rule) -> Kind:
        """The spec of a rule's kind; an ``UnknownKindError`` for a kind the table lacks."""
        return spec_of(rule, self.kinds)

    def rule_findings(
        self, code: str, index: int, rule: _Rule, program: Program
    ) -> Iterator[Finding]:
        """The findings of the rule's kind's own check for a code, with their full paths."""
        for finding in self.kind(rule).lint_findings(code, rule, program):
            yield replace(finding, path=("rules", index, *finding.path))

    def kind_findings(self, code: str, program: Program) -> Iterator[Finding]:
        """Every rule's own findings for a code, rule by rule."""
        for index, rule in enumerate(program.rules):
            yield from self.rule_findings(code, index, rule, program)


Check = Callable[[Program, LintContext], Iterator[Finding]]
"""A warning: yields a finding for each place of the program it applies to."""
