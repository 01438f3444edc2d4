"""A referral program's streamed dry-run: the friends' facts first, then the chunks.

A friend's first qualifying purchase rewards their referrer, who may be in another chunk
of customers. When the customers file names friends (``referred_by``), the streamed
dry-run reads the history twice, as the Dask and Spark runs do across partitions
(``rewardrules.tools.scale``):

1. **The facts pass** (:func:`friends_facts`): each chunk's referred friends alone are
   evaluated, and the referral facts their ledgers carry are kept: memory grows with the
   friends, not with the history.
2. **The chunks** (:class:`FactsByChunk`): each chunk covers the customer ids after the
   previous chunk's largest, up to its own. It is given the facts whose referrer it covers
   and whose friend it does not (a friend in the same chunk rewards the referrer inline, as
   in one piece), and keeps only the customers it covers (:func:`own_customers`): a
   referrer rewarded inline by a friend of this chunk but covered by another is evaluated
   there, with the same fact.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_right
from collections.abc import Callable, Iterable
from operator import attrgetter

import pyarrow as pa
import pyarrow.compute as pc

from rewardrules.engine.ledger import Evaluation
from rewardrules.events import Customer, ReferralQualified
from rewardrules.kinds.referral import referral_facts
from rewardrules.program.model import Program

__all__ = ["FactsByChunk", "friends_facts", "largest_customer", "own_customers", "referred"]

Evaluate = Callable[[pa.Table, list[Customer]], Evaluation]
"""The chunk evaluation of the dry-run: a table of whole customers and their profiles."""


def referred(program: Program, profiles: Iterable[Customer] | None) -> set[str]:
    """The friends whose purchases may reward a referrer: the customers file's customers
    with a referrer, under a program with a ``referral`` rule (else none)."""
    if profiles is None or not any(rule.kind == "referral" for rule in program.rules):
        return set()
    return {profile.customer_id for profile in profiles if profile.referred_by is not None}


def largest_customer(chunk: pa.Table) -> str | None:
    """The largest customer id of a chunk (None for a chunk of no row)."""
    if chunk.num_rows == 0:
        return None
    largest: str = pc.max(chunk["customer_id"]).as_py()
    return largest


def friends_facts(
    chunks: Iterable[pa.Table],
    profiles: Iterable[Customer],
    friends: set[str],
    evaluate: Evaluate,
) -> list[ReferralQualified]:
    """Pass one: the referral facts of every friend with events, in chunk order."""
    by_id = {profile.customer_id: profile for profile in profiles}
    wanted = pa.array(sorted(friends), pa.string())
    found: list[ReferralQualified] = []
    for chunk in chunks:
        mine = pc.is_in(chunk["customer_id"], value_set=wanted)
        if not pc.any(mine).as_py():
            continue
        rows = chunk.filter(mine)
        present = sorted(str(friend) for friend in pc.unique(rows["customer_id"]).to_pylist())
        evaluation = evaluate(rows, [by_id[friend] for friend in present])
        for result in evaluation.customers:
            if result.customer_id in friends:
                found.extend(referral_facts(result.ledger))
    return found


class FactsByChunk:
    """The facts of pass one, handed to the chunk that covers their referrer."""

    __slots__ = ("_facts", "_referrers")

    def __init__(self, facts: Iterable[ReferralQualified]) -> None:
        # Stable: the facts of one referrer keep the order pass one found them in.
        self._facts = sorted(facts, key=attrgetter("customer_id"))
        self._referrers = [fact.customer_id for fact in self._facts]

    @property
    def facts(self) -> list[ReferralQualified]:
        """Every fact, by referrer id."""
        return self._facts

    def covered(self, low: str | None, high: str | None) -> list[ReferralQualified]:
        """The facts of referrers after ``low`` up to ``high`` (None: no bound) whose friend
        is outside that range (a friend inside rewards the referrer inline)."""
        start = 0 if low is None else bisect_right(self._referrers, low)
        end = len(self._facts) if high is None else bisect_right(self._referrers, high)
        return [fact for fact in self._facts[start:end] if not _within(fact.referred, low, high)]


def _within(customer: str, low: str | None, high: str | None) -> bool:
    return (low is None or customer > low) and (high is None or customer <= high)


def own_customers(
    program: Program, evaluation: Evaluation, low: str | None, high: str | None
) -> Evaluation:
    """The evaluation of a chunk without the referrers it rewarded inline but does not
    cover, its totals counted again from the customers it keeps."""
    results = evaluation.customers
    ids = [result.customer_id for result in results]
    start = 0 if low is None else bisect_right(ids, low)
    end = len(ids) if high is None else bisect_right(ids, high)
    if (start, end) == (0, len(results)):
        return evaluation
    # The partition tools, imported only here: every --jobs worker imports this module
    # (through chunk_company), and only a referral program's chunks need them.
    from rewardrules.tools.scale import add_totals, totals_of  # noqa: PLC0415

    own = results[start:end]
    totals = add_totals(program, [totals_of(evaluation, own)])
    return dataclasses.replace(evaluation, customers=tuple(own), totals=totals)
