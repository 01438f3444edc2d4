"""What goes with a chunk of customers to its evaluation: profiles and referral facts.

The streamed dry-run cuts a history into chunks of whole customers in customer id order
(:mod:`rewardrules.cli.customer_chunks`). Each chunk covers the ids after the previous
chunk's largest up to its own largest; :class:`Companions` hands each chunk the profiles of
the ids it covers (:class:`~rewardrules.cli.customer_chunks.ProfilesByChunk`) and, when the
friends' pass found referral facts, the facts of the referrers it covers
(:class:`~rewardrules.cli.referral_passes.FactsByChunk`). The same company goes with a
chunk evaluated in this process or sent to a worker (``dry_run_jobs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pyarrow as pa

from rewardrules.cli.customer_chunks import ProfilesByChunk
from rewardrules.cli.referral_passes import FactsByChunk, largest_customer, own_customers
from rewardrules.engine.ledger import Evaluation
from rewardrules.evaluation.batch import evaluate_table, fact_table
from rewardrules.events import Customer, ReferralQualified
from rewardrules.program.model import Program

__all__ = ["ChunkCompany", "Companions", "evaluate_in_company"]


@dataclass(frozen=True, slots=True)
class ChunkCompany:
    """What a chunk is evaluated with.

    Attributes:
        profiles: the profiles of the customer ids the chunk covers (None: no customers
            file).
        facts: the referral facts of the referrers it covers whose friend it does not
            cover; None when there was no friends' pass (the chunk's evaluation is then
            kept whole).
        low: the chunk covers the ids after this one (None: from the first).
        high: ... up to this one (None: to the last).
    """

    profiles: list[Customer] | None = None
    facts: list[ReferralQualified] | None = None
    low: str | None = None
    high: str | None = None


class Companions:
    """The company of each chunk, in the order the chunks come; then of the customers
    after the last chunk's (:meth:`last`)."""

    __slots__ = ("_facts", "_low", "_profiles")

    def __init__(self, profiles: list[Customer] | None, facts: FactsByChunk | None) -> None:
        self._profiles = None if profiles is None else ProfilesByChunk(profiles)
        self._facts = facts
        self._low: str | None = None

    def of(self, chunk: pa.Table) -> ChunkCompany:
        """The next chunk's company."""
        low, high = self._low, largest_customer(chunk)
        self._low = high
        given = None if self._profiles is None else self._profiles.up_to(high)
        facts = None if self._facts is None else self._facts.covered(low, high)
        return ChunkCompany(given, facts, low, high)

    def last(self) -> ChunkCompany | None:
        """The company of the customers after the last chunk's: those with a profile and
        no event, and referrers rewarded by a friend's fact and with no event; None when
        there is no such customer."""
        rest = None if self._profiles is None else self._profiles.rest()
        facts = None if self._facts is None else self._facts.covered(self._low, None)
        if not rest and not facts:
            return None
        return ChunkCompany(rest, facts, self._low, None)


def evaluate_in_company(
    program: Program,
    chunk: pa.Table,
    company: ChunkCompany,
    as_of: date | datetime | None,
    source: str,
) -> Evaluation:
    """A chunk evaluated by the batch engine with its company: its customers' profiles and
    the referral facts of the referrers it covers; after a friends' pass, only the
    customers it covers (``referral_passes.own_customers``). The same in this process and
    in a ``--jobs`` worker.

    Raises:
        HistoryError: the engine's error about an event of the chunk, not yet located in
            the history file.
    """
    facts = company.facts
    supplied = fact_table(facts) if facts else None
    evaluation = evaluate_table(
        program, chunk, company.profiles, as_of, source=source, facts=supplied
    )
    if facts is None:
        return evaluation
    return own_customers(program, evaluation, company.low, company.high)
