"""Referrals in two passes: the friends' facts first, then the referrers' rewards.

A referral crosses customers: a referred friend's first qualifying purchase rewards the
referrer, in the referrer's ledger, at the instant of that purchase. Nothing the referrer
does changes whether a friend qualifies (the friend's purchase, its price rules and tier
are the friend's alone), so the batch engine splits the work:

1. **The facts pass** (:func:`qualified_facts`, a table in and a table out): the friends'
   qualifying purchases (one row per purchase and rule, each friend's rows in evaluation
   order) become one fact per friend and rule: the first row. It needs nothing but the
   friend's own rows, so it runs wherever the friend's history is. Under a rule with
   ``hold_for`` the friend's refunds within the hold may reverse a fact and let a later
   row qualify again (``_holds.FriendRefunds``): a reversal is a fact too, with
   ``reversed_by``.
2. **The referrers' pass** (``_timeline``): each referrer's facts, with the facts supplied
   in the history (``ReferralQualified``), are merged into the referrer's own events by
   (instant, id), checked as the reference checks them, and rewarded there (or held
   until the hold's end, and taken back by a reversal: ``_holds``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pyarrow as pa

from rewardrules.errors import (
    REPEATED_BY_REFERRAL_FACT,
    REPEATED_EVENT_ID,
    HistoryError,
    event_error,
)
from rewardrules.evaluation.batch._frame import pc
from rewardrules.events import ReferralQualified

FACT_SCHEMA: pa.Schema = pa.schema(
    [  # type: ignore[arg-type]
        ("event_id", pa.string()),
        ("customer_id", pa.string()),
        ("at", pa.timestamp("us", tz="UTC")),
        ("utc_offset", pa.int32()),
        ("referred", pa.string()),
        ("rule", pa.string()),
        ("reversed_by", pa.string()),
    ]
)
"""A table of referral facts: the friend's purchase (``event_id``, ``at`` and the UTC
offset it was written with, in seconds), the referrer (``customer_id``), the friend
(``referred``) and the referral rule; ``reversed_by`` is the friend's refund on a fact
that reverses a held referral (a rule's ``hold_for``; then ``at`` is the refund's), null
otherwise."""


def qualified_facts(candidates: pa.Table) -> pa.Table:
    """The facts pass: the friends' qualifying purchases in, their referral facts out.

    Args:
        candidates: one row per purchase and referral rule under which it qualifies, with
            ``event_id``, ``customer_id`` (the friend), ``at``, ``utc_offset``, ``rule`` and
            ``referred_by`` (the referrer); each friend's rows in evaluation order (instant,
            then id). Other columns are carried along.

    Returns:
        The facts (``FACT_SCHEMA``, then the carried columns): the first row of each friend
        and rule, with the referrer as ``customer_id`` and the friend as ``referred``.
    """
    if candidates.num_rows == 0:
        return _as_facts(candidates)
    friends = pc.dictionary_encode(candidates.column("customer_id").combine_chunks())
    rules = pc.dictionary_encode(candidates.column("rule").combine_chunks())
    friend = np.asarray(friends.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    rule = np.asarray(rules.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    _, first = np.unique(friend * (len(rules.dictionary) + 1) + rule, return_index=True)
    return _as_facts(candidates.take(pa.array(np.sort(first))))


def _as_facts(rows: pa.Table) -> pa.Table:
    renamed = {"customer_id": "referred", "referred_by": "customer_id"}
    names = [renamed.get(name, name) for name in rows.schema.names]
    table = rows.rename_columns(names)
    if "reversed_by" not in names:  # the first qualifying purchases reverse nothing
        table = table.append_column("reversed_by", pa.nulls(table.num_rows, pa.string()))
        names.append("reversed_by")
    ordered = [*FACT_SCHEMA.names, *(n for n in names if n not in FACT_SCHEMA.names)]
    return table.select(ordered)


@dataclass(frozen=True, slots=True)
class Fact:
    """A referral fact as the referrers' pass reads it."""

    at: int
    """Microseconds since the epoch."""
    event_id: str
    referrer: str
    referred: str
    rule: str
    written: datetime
    """The instant as written (with the friend's UTC offset)."""
    reversed_by: str | None = None
    """The friend's refund, on a fact that reverses a held referral."""
    order_id: str = ""
    """The id the evaluation orders the fact by, when not ``event_id``: a reversal the
    friend's refund raises comes right after that refund, as the reference applies it."""

    @property
    def key(self) -> tuple[int, str]:
        """Where the fact comes in the evaluation: (instant, id)."""
        return self.at, self.order_id or self.event_id

    def event(self) -> ReferralQualified:
        """The fact as the event the kind module rewards (built once per fact)."""
        return ReferralQualified.model_construct(
            id=self.event_id,
            customer_id=self.referrer,
            at=self.written,
            referred=self.referred,
            rule=self.rule,
            reversed_by=self.reversed_by,
        )


def facts_of(table: pa.Table) -> list[Fact]:
    """The facts of a fact table, as Python values (with ``order_id`` when the table
    carries that column)."""
    at = np.asarray(table.column("at").cast(pa.int64()).to_numpy(), dtype=np.int64)
    offsets = table.column("utc_offset").to_pylist()
    names = table.schema.names
    nothing = [None] * table.num_rows
    reversed_by = table.column("reversed_by").to_pylist() if "reversed_by" in names else nothing
    order = table.column("order_id").to_pylist() if "order_id" in names else nothing
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)  # noqa: UP017 -- a fixed offset below
    found = []
    for moment, offset, event_id, referrer, referred, rule, refund, order_id in zip(
        at.tolist(),
        offsets,
        table.column("event_id").to_pylist(),
        table.column("customer_id").to_pylist(),
        table.column("referred").to_pylist(),
        table.column("rule").to_pylist(),
        reversed_by,
        order,
        strict=True,
    ):
        written = epoch + timedelta(microseconds=moment)
        if offset:
            written = written.astimezone(timezone(timedelta(seconds=offset)))
        found.append(
            Fact(moment, event_id, referrer, referred, rule, written, refund, order_id or "")
        )
    return found


def check_fact(fact: Fact, referrals: Mapping[str, Any], rewarded: set[tuple[str, str]]) -> None:
    """Check a fact's rule, referrer and friend as ``gifts.apply_referral`` checks them.

    Raises:
        HistoryError: the rule is not the program's, the referrer refers themselves, or
            the friend was already rewarded under the rule.
    """
    if fact.rule not in referrals:
        known = ", ".join(sorted(referrals)) or "none"
        raise event_error(
            fact.event_id,
            f"it names the referral rule '{fact.rule}', which the program does not have "
            f"(its referral rules: {known})",
            "rule",
        )
    if fact.referred == fact.referrer:
        raise event_error(fact.event_id, "a customer cannot refer themselves", "referred")
    if (fact.rule, fact.referred) in rewarded:
        raise event_error(
            fact.event_id,
            f"customer {fact.referrer} was already rewarded for referring "
            f"{fact.referred} under rule '{fact.rule}'; a friend qualifies once per rule",
            "referred",
        )
    rewarded.add((fact.rule, fact.referred))


def supplied_table(facts: list[ReferralQualified]) -> pa.Table:
    """Facts supplied in a history (``ReferralQualified`` events) as a fact table."""
    offsets = []
    for fact in facts:
        offset = fact.at.utcoffset()
        offsets.append(0 if offset is None else offset // timedelta(seconds=1))
    return pa.table(
        {
            "event_id": [fact.id for fact in facts],
            "customer_id": [fact.customer_id for fact in facts],
            "at": pa.array([fact.at for fact in facts], pa.timestamp("us", tz="UTC")),
            "utc_offset": pa.array(offsets, pa.int32()),
            "referred": [fact.referred for fact in facts],
            "rule": [fact.rule for fact in facts],
            "reversed_by": [fact.reversed_by for fact in facts],
        },
        schema=FACT_SCHEMA,
    )


Repetition = tuple[tuple[int, str, int], HistoryError]
"""A supplied fact refused for repeating an id: where the reference refuses it, as
(instant, event id, how many facts of that instant and id come before it), and the error."""


def repeated_ids(
    facts: list[Fact],
    first_at: dict[str, int],
    saved: set[tuple[str, str]] | frozenset[tuple[str, str]] = frozenset(),
) -> Repetition | None:
    """Refuse a supplied fact that repeats an event of the evaluation, or another fact
    (same id and rule), as the reference does at whichever of the two comes later.

    ``first_at`` is, per event id of the history, its instant in microseconds (a saved
    state's events before any); ``saved``, the (id, rule) of the facts saved states hold. A fact
    that reverses a held referral (``reversed_by``) names the fact it reverses by its id:
    it repeats nothing (``gifts.apply_referral`` checks that it reverses a held reward).

    Returns the first such repetition, in evaluation order (see :data:`Repetition`): the
    referrers' pass raises it when it reaches that fact, before checking the fact itself
    (the reference refuses a repeated id before it looks at what the fact says), unless a
    fact before it is refused first.
    """
    seen: set[tuple[str, str]] = set(saved)
    before: dict[tuple[int, str], int] = {}
    problems: list[tuple[int, str, int, HistoryError]] = []
    for fact in sorted(facts, key=lambda fact: (fact.at, fact.event_id)):
        key = (fact.event_id, fact.rule)
        other = first_at.get(fact.event_id)
        count = before.get((fact.at, fact.event_id), 0)
        before[(fact.at, fact.event_id)] = count + 1
        if fact.reversed_by is not None:
            continue
        if key in seen or (other is not None and other <= fact.at):
            error = event_error(fact.event_id, REPEATED_BY_REFERRAL_FACT)
            problems.append((fact.at, fact.event_id, count, error))
        elif other is not None:
            # The history's event comes later and is the repeat: after every fact of its
            # instant and id.
            error = event_error(fact.event_id, REPEATED_EVENT_ID)
            problems.append((other, fact.event_id, len(facts), error))
        seen.add(key)
    if not problems:
        return None
    at, event_id, count, error = min(problems, key=lambda problem: problem[:3])
    return (at, event_id, count), error
