"""Builders for the example-based tests: programs, lines, purchases, refunds, redemptions.

Money is always written as text (``"4.50"``) and becomes ``Decimal``; times are built from
one fixed, timezone-aware base so every example can be worked out by hand.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from rewardrules.engine.ledger import Evaluation, LedgerEntry
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import Line, Purchase, Redemption, Refund, RefundLine
from rewardrules.program.model import Program

BASE = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
"""Monday 2 March 2026 at noon UTC: where every example history starts."""

Row = tuple[str, str, str, int | None, Decimal | None, int | None]
"""A ledger entry as (event id, rule, kind, points, value, units), for exact comparisons."""


def at(days: int = 0, **delta: int) -> datetime:
    """``BASE`` plus some days (and optionally hours, minutes, seconds)."""
    return BASE + timedelta(days=days, **delta)


def program(**fields: Any) -> Program:
    """A program validated from plain data; fields override a small USD/UTC default."""
    document: dict[str, Any] = {
        "program": "test-club",
        "name": "Test Club",
        "currency": "USD",
        "timezone": "UTC",
        "rules": [],
    }
    document.update(fields)
    return Program.model_validate(document)


def line(sku: str, price: str, quantity: int = 1, category: str | None = None) -> Line:
    """One purchase line; ``price`` is the unit price written as text."""
    return Line(sku=sku, unit_price=Decimal(price), quantity=quantity, category=category)


def purchase(
    id: str,
    when: datetime,
    *lines: Line,
    customer: str = "c1",
    store: str | None = None,
) -> Purchase:
    """A purchase of ``lines`` by ``customer`` at ``when``."""
    return Purchase(id=id, customer_id=customer, at=when, lines=lines, store=store)


def refund(
    id: str,
    when: datetime,
    purchase_id: str,
    *returned: tuple[str, int],
    customer: str = "c1",
) -> Refund:
    """A refund of ``(sku, quantity)`` pairs of a purchase; no pairs returns everything left."""
    lines = tuple(RefundLine(sku=sku, quantity=quantity) for sku, quantity in returned)
    return Refund(
        id=id, customer_id=customer, at=when, purchase_id=purchase_id, lines=lines or None
    )


def redemption(id: str, when: datetime, reward: str, customer: str = "c1") -> Redemption:
    """A redemption of the catalogue reward ``reward`` by ``customer`` at ``when``."""
    return Redemption(id=id, customer_id=customer, at=when, reward=reward)


def run(rules_program: Program, *events: Purchase | Refund, **options: Any) -> Evaluation:
    """Evaluate a history given as arguments."""
    return evaluate(rules_program, events, **options)


def rows(entries: Any) -> list[Row]:
    """Ledger entries as plain tuples, in order."""
    return [_row(entry) for entry in entries]


def ledger(evaluation: Evaluation, customer: str = "c1") -> list[Row]:
    """One customer's ledger as plain tuples, in order."""
    return rows(evaluation.customer(customer).ledger)


def reasons(evaluation: Evaluation, customer: str = "c1") -> list[str]:
    """The reasons of one customer's ledger entries, in order."""
    return [entry.reason for entry in evaluation.customer(customer).ledger]


def _row(entry: LedgerEntry) -> Row:
    return (entry.event_id, entry.rule, entry.kind, entry.points, entry.value, entry.units)


def batch_refuses(monkeypatch: Any, feature: str) -> None:
    """Make the batch engine refuse every program, naming ``feature`` besides what it
    really refuses: for tests of how a refusal is shown (a message, an exit code, a run
    that reads nothing), which no feature the batch engine learns should break.

    Every module of the package that imported ``support.unsupported`` by name is patched
    where it looks it up.
    """
    from rewardrules.evaluation.batch import support  # noqa: PLC0415 -- the real one, at call time

    original = support.unsupported

    def refusing(program: Program) -> list[str]:
        return [*original(program), feature]

    for name, module in list(sys.modules.items()):
        if name.startswith("rewardrules") and getattr(module, "unsupported", None) is original:
            monkeypatch.setattr(module, "unsupported", refusing)


PROFILE_ONLY = ("aaa", "anz", "bob", "zzz")
"""Customers that :func:`profiles_around` adds with a profile and no event: before every
customer of bookshop-offers' history (ana, ben), between them, and after them."""


def profiles_around(folder: Path, examples: Path) -> Path:
    """bookshop-offers' customers file (signup bonuses, no referral rule) with the
    :data:`PROFILE_ONLY` customers added, each joining on a date that gets a bonus."""
    given = (examples / "bookshop-offers.customers.csv").read_text(encoding="utf-8")
    added = "".join(
        f"{name},2026-03-0{day}T09:00:00+00:00\n" for day, name in enumerate(PROFILE_ONLY, 1)
    )
    path = folder / "customers.csv"
    path.write_text(given + added, encoding="utf-8")
    return path
