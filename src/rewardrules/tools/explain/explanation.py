"""Why a customer got (or did not get) each reward, purchase by purchase, in plain words.

:func:`explain` replays one customer's events with the engine's own step (so every ledger
entry is the one :func:`rewardrules.evaluate` gives) and, around each step, reads the state
before and after: for each rule in running order, what it gave, or the first reason it gave
nothing. It ends with how close the customer is to the next reward of each rule.
:func:`explain_all` does the same for every customer in one pass.

Besides the customer's own events, the account shows what the engine gives between them:
gifts at dates (ids ``<rule>@<local date>``) and the rewards for friends the customer
referred. The modules behind it, one job each:

* :mod:`rewardrules.tools.explain.account`: the account, its events and outcomes; text and JSON.
* :mod:`rewardrules.tools.explain.replay`: the replay of the events, friends' and gifts included.
* :mod:`rewardrules.tools.explain.words`: why a rule gave nothing for a purchase, with
  :mod:`rewardrules.engine.scope_words` (its dates and filter) and
  :mod:`rewardrules._explain_profile_words` (the birthday, sign-up and referral kinds).
* :mod:`rewardrules.tools.explain.refund_words`: what a refund did to each rule.
* :mod:`rewardrules.tools.explain.next_rewards`: how close each next reward is.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime

from rewardrules._ids import look_alike, shown_apart
from rewardrules.errors import HistoryError, Problem, closest
from rewardrules.evaluation.fold import CompiledProgram, check_profiles, compile_program
from rewardrules.events import AnyEvent, Customer
from rewardrules.program.model import Program
from rewardrules.tools.explain.account import CustomerExplanation, EventExplanation, RuleOutcome
from rewardrules.tools.explain.replay import Replay

__all__ = ["CustomerExplanation", "EventExplanation", "RuleOutcome", "explain", "explain_all"]


def explain(
    program: Program | CompiledProgram,
    events: Iterable[AnyEvent],
    customer_id: str,
    *,
    customers: Iterable[Customer] | None = None,
    event_id: str | None = None,
    as_of: date | datetime | None = None,
) -> CustomerExplanation:
    """Explain one customer's rewards over a history.

    Other customers' events are ignored, except those of friends the customer referred
    (profiles whose ``referred_by`` names them): their first qualifying purchases reward
    the customer, as in ``evaluate``.

    Args:
        program: the program, or the program compiled once with ``compile_program``.
        events: the history, in any order; evaluated by (instant, id) like ``evaluate``.
        customer_id: whose account to explain.
        customers: customer profiles, as for ``evaluate`` (read by the birthday, sign-up
            and referral rules).
        event_id: explain only this event (the whole history is still replayed): a
            purchase, refund or redemption, a gift's ``<rule>@<date>`` or, for a referral,
            the friend's purchase.
        as_of: ignore later events (a date counts the whole local day), as ``evaluate``.

    Raises:
        HistoryError: the customer has no event and no ledger entry (up to ``as_of``),
            ``event_id`` is not one of theirs, an event cannot be applied, or a profile is
            given twice or refers its own customer.
        ValueError: ``as_of`` is a naive datetime, or outside the years 1970 to 2099.
    """
    customer_id = unicodedata.normalize("NFC", customer_id)  # as the events keep their ids
    event_id = None if event_id is None else unicodedata.normalize("NFC", event_id)
    compiled = program if isinstance(program, CompiledProgram) else compile_program(program)
    cutoff = None if as_of is None else compiled.cutoff(as_of)
    profiles = check_profiles(customers)
    friends = {friend for friend, profile in profiles.items() if profile.referred_by == customer_id}
    others = set(profiles) - {customer_id}
    selected: list[AnyEvent] = []
    own = False
    for event in events:
        owner = event.customer_id
        if owner != customer_id:
            others.add(owner)
        if (owner == customer_id or owner in friends) and (cutoff is None or cutoff.admits(event)):
            selected.append(event)
            own = own or owner == customer_id
    replay = Replay(compiled, cutoff, profiles, customer_id)
    first = min((event.at for event in selected if event.customer_id == customer_id), default=None)
    replay.account(customer_id, first)
    replay.run(selected)
    explanation = replay.accounts[customer_id].finish()
    profile = profiles.get(customer_id)
    migrated = profile is not None and profile.opens
    # A referrer whose rewards are only held (or reversed) has referral blocks, no entries.
    referrer = explanation is not None and any(e.type == "referral" for e in explanation.events)
    if explanation is None or not (own or explanation.entries or migrated or referrer):
        message = f"customer {customer_id!r} has no events in the history"
        if as_of is not None:
            message += f" up to {as_of.isoformat()}"
        raise _not_found(message, customer_id, others)
    if event_id is None:
        return explanation
    chosen = tuple(
        event
        for event in explanation.events
        if event.event_id == event_id and event.type != "as_of"
    )
    if not chosen:
        known = {event.event_id for event in explanation.events if event.type != "as_of"}
        message = f"customer {customer_id!r} has no event {event_id!r}"
        raise _not_found(message, event_id, known, code="unknown-event")
    return replace(explanation, events=chosen)


def explain_all(
    program: Program | CompiledProgram,
    events: Iterable[AnyEvent],
    *,
    customers: Iterable[Customer] | None = None,
    as_of: date | datetime | None = None,
) -> dict[str, CustomerExplanation]:
    """Explain every customer of a history, by customer id (one pass over the history).

    The customers are those ``evaluate`` reports: each with an event, and each without one
    who has ledger entries (gifts at dates up to ``as_of``, rewards for referred friends).

    Raises:
        HistoryError: an event cannot be applied, or a profile is given twice or refers
            its own customer.
        ValueError: ``as_of`` is a naive datetime.
    """
    compiled = program if isinstance(program, CompiledProgram) else compile_program(program)
    cutoff = None if as_of is None else compiled.cutoff(as_of)
    profiles = check_profiles(customers)
    selected = [event for event in events if cutoff is None or cutoff.admits(event)]
    replay = Replay(compiled, cutoff, profiles, None)
    if cutoff is not None:
        firsts: dict[str, datetime] = {}
        for event in sorted(selected, key=lambda event: (event.at, event.id)):
            firsts.setdefault(event.customer_id, event.at)
        for customer_id, profile in sorted(profiles.items()):
            if profile.opens:  # a migrated customer has a balance even without an event
                replay.account(customer_id, firsts.get(customer_id))
    if compiled.gives_at_dates and cutoff is not None:
        for customer_id in profiles:
            replay.account(customer_id)  # gifts at dates up to as_of, even without an event
    replay.run(selected)
    with_events = {event.customer_id for event in selected}
    explained = {}
    for customer_id in sorted(replay.accounts):
        explanation = replay.accounts[customer_id].finish()
        found = profiles.get(customer_id)
        migrated = found is not None and found.opens
        if explanation is not None and (
            customer_id in with_events or explanation.entries or migrated
        ):
            explained[customer_id] = explanation
    return explained


def _not_found(
    message: str, wanted: str, known: Iterable[str], code: str = "unknown-customer"
) -> HistoryError:
    names = sorted(known)
    alike = [name for name in names if look_alike(name, wanted)]  # too alike for difflib
    close = [*alike, *closest(wanted, names, count=3)]
    close = list(dict.fromkeys(close))[:3]
    shown = []
    for name in close:  # an id that only looks like the one asked for is shown escaped
        theirs, mine = shown_apart(name, wanted)
        shown.append(f"{theirs} (not {mine})" if look_alike(name, wanted) else theirs)
    suggestion = f"did you mean {' or '.join(shown)}?" if close else None
    return HistoryError([Problem(message=message, code=code, suggestion=suggestion)])
