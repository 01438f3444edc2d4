"""What the playground computes for the page: problems, a dry-run, explanations, costs.

Everything here is the library's own work (the loader, lint, ``evaluate``, ``explain``,
``report``, ``compare``); this module only bounds it in time and shapes it as JSON. Rule
text is YAML read by the safe loader: nothing in it is ever run.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from rewardrules.errors import Problem, RewardRulesError
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import AnyEvent
from rewardrules.histories.read import read_history
from rewardrules.program.model import Program
from rewardrules.rulefiles.loader import load_program_text, load_program_with_map
from rewardrules.tools.compare import Comparison, difference
from rewardrules.tools.explain.explanation import explain
from rewardrules.tools.lint.warnings import lint_program
from rewardrules.tools.report import Report, report

CHECK_EVERY: Final = 256
"""The time limit and the cancel button are looked at once per this many events."""


class StoppedError(Exception):
    """A run went past its time limit, or was cancelled from the page."""


@dataclass(slots=True)
class Deadline:
    """A run's time limit and its cancel flag, checked between events."""

    seconds: float
    started: float = field(default_factory=time.monotonic)
    cancelled: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        """Raise :class:`StoppedError` once the run is cancelled or out of time."""
        if self.cancelled.is_set():
            raise StoppedError("the run was cancelled")
        if time.monotonic() - self.started > self.seconds:
            raise StoppedError(
                f"the run took longer than its limit of {self.seconds:g} seconds: "
                "try a smaller history"
            )

    def watch(self, events: Iterable[AnyEvent]) -> Iterator[AnyEvent]:
        """``events``, checking the deadline every :data:`CHECK_EVERY` of them."""
        for count, event in enumerate(events):
            if count % CHECK_EVERY == 0:
                self.check()
            yield event


def problems_json(
    problems: Iterable[Problem], source: str, was: str = "<text>"
) -> list[dict[str, Any]]:
    """Problems as ``validate --format json`` writes them, with the text it would print.

    A problem located in ``was`` (the loader's name for text, or a file's real path) is
    shown as located in ``source``, the name the page knows.
    """
    found = []
    for problem in _named(problems, source, was):
        shown = problem.to_dict()
        shown["file"] = shown["file"] or source
        shown["text"] = str(problem)
        found.append(shown)
    return found


def check_text(text: str, source: str) -> dict[str, Any]:
    """The loader's problems with ``text``, or, when it loads, lint's warnings."""
    try:
        program, source_map = load_program_with_map(source, text=text)
    except RewardRulesError as error:
        return {"ok": False, "problems": problems_json(error.problems, source)}
    warnings = lint_program(program, source_map)
    return {
        "ok": True,
        "problems": [],
        "warnings": problems_json(warnings, source),
        "summary": f"{program.name}: {len(program.rules)} rules",
    }


def load_text(text: str, source: str) -> Program:
    """The program in ``text``; problems are named after ``source``."""
    return load_program_text(text, source)


def read_events(path: Path, deadline: Deadline) -> list[AnyEvent]:
    """Every event of the history file at ``path``, within the deadline."""
    return list(deadline.watch(read_history(path)))


def dry_run(
    program: Program, events: list[AnyEvent], deadline: Deadline
) -> tuple[dict[str, Any], Report]:
    """The results table (one row per customer) and the cost report."""
    evaluation = evaluate(program, deadline.watch(events))
    deadline.check()
    found = report(program, deadline.watch(events))
    costs = {customer.customer_id: customer for customer in found.customers}
    rows = []
    for result in evaluation.customers:
        rewards = Counter(entry.kind for entry in result.ledger if entry.kind != "points")
        cost = costs.get(result.customer_id)
        rows.append(
            {
                "customer": result.customer_id,
                "points": result.points,
                "tier": result.tier,
                "rewards": ", ".join(f"{count} {kind}" for kind, count in sorted(rewards.items())),
                "cost": _money(found, cost.cost if cost else 0),
            }
        )
    table = {
        "program": found.name,
        "points_name": found.points_name,
        "customers": rows,
        "cost": _money(found, found.cost),
        "by_rule": [{"rule": row.rule, "cost": _money(found, row.cost)} for row in found.rules],
    }
    return table, found


def explain_customer(
    program: Program, events: list[AnyEvent], customer: str, deadline: Deadline
) -> dict[str, Any]:
    """One customer's account in plain words, as ``rewardrules explain`` prints it."""
    found = explain(program, deadline.watch(events), customer)
    return {"customer": found.customer_id, "text": found.render_text()}


def compared(
    saved: Program, buffer: Program, events: list[AnyEvent], deadline: Deadline
) -> dict[str, Any]:
    """What the buffer changes against the saved file: cost, gains and losses."""
    before = report(saved, deadline.watch(events))
    deadline.check()
    after = report(buffer, deadline.watch(events))
    found: Comparison = difference(before, after)

    def rows(differences: Iterable[Any]) -> list[dict[str, str]]:
        return [
            {
                "customer": row.key,
                "old": _money(after, row.old),
                "new": _money(after, row.new),
                "change": _money(after, row.change, sign=True),
            }
            for row in list(differences)[:10]
        ]

    return {
        "old_cost": _money(after, before.cost),
        "new_cost": _money(after, after.cost),
        "change": _money(after, after.cost - before.cost, sign=True),
        "gaining": len(found.gaining),
        "losing": len(found.losing),
        "unchanged": found.unchanged,
        "top_gaining": rows(found.gaining),
        "top_losing": rows(found.losing),
    }


def _money(found: Report, minor: int, sign: bool = False) -> str:
    amount = found.money.to_decimal(minor)
    shown = f"{amount:+,}" if sign else f"{amount:,}"
    return f"{shown} {found.money.code}"


def _named(problems: Iterable[Problem], source: str, was: str = "<text>") -> list[Problem]:
    named = []
    for problem in problems:
        location = problem.location
        if location is not None and location.source == was:
            location = replace(location, source=source)
        named.append(replace(problem, location=location))
    return named
