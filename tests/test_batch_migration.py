"""Migrated customers in the batch engine: opening lots and granted tiers, as the reference.

Drawn programs, histories and profiles (opening lots earned before or after the first
event, with or without their own expiry; granted tiers, known or not, until a drawn
instant; customers with a profile and no event) run through both engines: the same
results and saved states, or the same error.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import line, program, purchase, redemption
from rewardrules import evaluate, step
from rewardrules.errors import HistoryError
from rewardrules.events import AnyEvent, Customer, OpeningLot, ReferralQualified
from rewardrules.program.model import Program
from strategies import cutoffs, instants, lifecycle_histories, lifecycle_programs
from test_batch_engine import dense_histories, programs_keeping_tiers, same_results

RARELY = (False,) * 19 + (True,)
GRANTED = (False, True)
EXPIRIES = (None, None, 20, 200, 500)
"""Days from an opening lot's earned_at to its own expiry (None: the program's)."""


@st.composite
def opening_lots(draw: st.DrawFn) -> tuple[OpeningLot, ...]:
    """Up to three lots, most earned over a year before the histories' instants."""
    lots = []
    for _ in range(draw(st.integers(0, 3))):
        earned = draw(instants()) - timedelta(days=draw(st.sampled_from((400, 400, 400, 400, 0))))
        days = draw(st.sampled_from(EXPIRIES))
        expires = None if days is None else earned + timedelta(days=days, minutes=7)
        lots.append(
            OpeningLot(points=draw(st.integers(1, 400)), earned_at=earned, expires_at=expires)
        )
    return tuple(lots)


@st.composite
def migrated_profiles(draw: st.DrawFn, tier_names: tuple[str, ...]) -> list[Customer]:
    """Profiles of the histories' customers and of one without events ("dora"): opening
    lots, a granted tier (rarely one the program lacks) until a drawn instant."""
    profiles = []
    for customer_id in ("alice", "bob", "carol", "dora"):
        if not draw(st.integers(0, 3)):
            continue
        fields: dict[str, Any] = {"opening_points": draw(opening_lots())}
        if draw(st.sampled_from(GRANTED if tier_names else RARELY)):
            unknown = not tier_names or draw(st.sampled_from(RARELY))
            names = ("platinum",) if unknown else tier_names
            fields["tier"] = draw(st.sampled_from(names))
            fields["tier_until"] = draw(instants())
        profiles.append(Customer(customer_id=customer_id, **fields))
    return profiles


@st.composite
def migrations(
    draw: st.DrawFn, expiry: bool
) -> tuple[Program, list[AnyEvent], list[Customer], date | datetime | None]:
    drawn = draw(lifecycle_programs(expiry))
    names = () if drawn.tiers is None else tuple(level.name for level in drawn.tiers.levels)
    return (
        drawn,
        list(draw(lifecycle_histories())),
        draw(migrated_profiles(names)),
        draw(cutoffs()),
    )


@settings(max_examples=120)
@given(migrations(expiry=True))
def test_drawn_migrations_run_identically(
    drawn: tuple[Program, list[AnyEvent], list[Customer], date | datetime | None],
) -> None:
    same_results(*drawn)


@settings(max_examples=60)
@given(migrations(expiry=False))
def test_drawn_migrations_whose_points_never_expire_run_identically(
    drawn: tuple[Program, list[AnyEvent], list[Customer], date | datetime | None],
) -> None:
    same_results(*drawn)


@st.composite
def granted_tiers(
    draw: st.DrawFn,
) -> tuple[Program, list[AnyEvent], list[Customer], date | datetime | None]:
    """Grants beside tiers kept by keep_for or keep_until, tiered discounts and multipliers:
    a grant changes what purchases pay, hence what later windows count."""
    drawn = draw(programs_keeping_tiers())
    assert drawn.tiers is not None
    names = tuple(level.name for level in drawn.tiers.levels)
    return drawn, draw(dense_histories()), draw(migrated_profiles(names)), draw(cutoffs())


@settings(max_examples=60)
@given(granted_tiers())
def test_drawn_grants_beside_kept_tiers_run_identically(
    drawn: tuple[Program, list[AnyEvent], list[Customer], date | datetime | None],
) -> None:
    same_results(*drawn)


# --- hand-made cases ---------------------------------------------------------------------


def when(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


GOLD_CLUB = program(
    points={"expire_after": "12 months"},
    rewards=[{"id": "mug", "name": "Mug", "cost": 100, "value": "5.00"}],
    tiers={
        "qualify_by": "spend",
        "window": {"days": 30},
        "levels": [{"name": "gold", "at_least": "500.00", "points_multiplier": 2}],
    },
    rules=[{"id": "base", "kind": "points_per_spend", "points": 1, "per": "1.00"}],
)
ANA = Customer(
    customer_id="ana",
    opening_points=(
        OpeningLot(points=80, earned_at=when("2025-06-01"), expires_at=when("2026-04-01")),
        OpeningLot(points=50, earned_at=when("2025-01-01")),
    ),
    tier="gold",
    tier_until=when("2026-03-10"),
)
EVENTS: list[AnyEvent] = [
    purchase("p1", when("2026-03-02T12:00"), line("tea", "10.00"), customer="ana"),
    redemption("r1", when("2026-03-03T12:00"), "mug", customer="ana"),
    purchase("p2", when("2026-03-20T12:00"), line("tea", "10.00"), customer="ana"),
]


@pytest.mark.parametrize("as_of", [None, date(2026, 5, 1)])
def test_a_migrated_customer_gets_the_reference_entries_one_by_one(
    as_of: date | None,
) -> None:
    reference = evaluate(GOLD_CLUB, EVENTS, [ANA], as_of)
    batch = evaluate(GOLD_CLUB, EVENTS, [ANA], as_of, engine="batch")
    ours, theirs = batch.customer("ana"), reference.customer("ana")
    assert [entry.to_dict() for entry in ours.ledger] == [
        entry.to_dict() for entry in theirs.ledger
    ]
    # The grant doubles p1 (gold until 2026-03-10) but not p2; the mug spends the older
    # opening lot (50, earned 2025-01-01, expiring 2026-01-01... already gone) first.
    assert [(entry.event_id, entry.kind, entry.points) for entry in ours.ledger[:5]] == [
        ("opening#2", "opening", 50),
        ("opening#1", "opening", 80),
        ("opening#2", "expiry", -50),
        ("p1", "points", 20),
        ("r1", "redemption", -100),
    ]
    assert (ours.tier, ours.tier_changes) == (theirs.tier, theirs.tier_changes)
    assert ours.upcoming_expiry == theirs.upcoming_expiry
    assert ours.state.model_dump_json() == theirs.state.model_dump_json()
    assert ours.state.tier_granted == "gold"
    assert batch.totals == reference.totals


def test_a_migrated_customer_without_events_is_reported_and_saved_as_of_a_date() -> None:
    profiles = [ANA, Customer(customer_id="plain")]
    batch = evaluate(GOLD_CLUB, [], profiles, date(2026, 3, 1), engine="batch")
    reference = evaluate(GOLD_CLUB, [], profiles, date(2026, 3, 1))
    assert [result.customer_id for result in batch.customers] == ["ana"]
    assert batch.to_dict() == reference.to_dict()
    saved = batch.customer("ana").state
    assert saved.model_dump_json() == reference.customer("ana").state.model_dump_json()
    # The state resumes in the reference engine without giving the opening again.
    resumed, entries = step(GOLD_CLUB, saved, EVENTS[0], ANA)
    assert [entry.kind for entry in entries] == ["points"]
    assert resumed.points == 80 + 20  # the 2025-01-01 lot expired on 2026-01-01
    # Without as_of there is no moment to report on.
    assert evaluate(GOLD_CLUB, [], profiles, engine="batch").customers == ()


def test_a_granted_tier_alone_is_reported_without_events() -> None:
    granted = Customer(customer_id="bo", tier="gold", tier_until=when("2026-06-01"))
    batch = evaluate(GOLD_CLUB, [], [granted], date(2026, 3, 1), engine="batch")
    assert batch.to_dict() == evaluate(GOLD_CLUB, [], [granted], date(2026, 3, 1)).to_dict()
    assert (batch.customer("bo").tier, batch.customer("bo").ledger) == ("gold", ())
    assert batch.customer("bo").state.tier_granted_until == when("2026-06-01")


def test_an_opening_lot_expires_at_events_where_the_programs_points_never_do() -> None:
    forever = program(
        rewards=[{"id": "mug", "name": "Mug", "cost": 60, "value": "5.00"}],
        rules=[{"id": "base", "kind": "points_per_spend", "points": 1, "per": "1.00"}],
    )
    brought = Customer(
        customer_id="ana",
        opening_points=(
            OpeningLot(points=70, earned_at=when("2025-06-01"), expires_at=when("2025-07-01")),
        ),
    )
    events: list[AnyEvent] = [
        purchase("p1", when("2025-08-01T00:00"), line("tea", "5.00"), customer="ana"),
        redemption("r1", when("2025-08-02T00:00"), "mug", customer="ana"),
    ]
    for engine in ("reference", "batch"):
        result = evaluate(forever, events, [brought], engine=engine).customer("ana")  # type: ignore[arg-type]
        # No as_of: the lot still expires at p1, so the mug finds 5 points, not 75.
        assert [(entry.event_id, entry.kind, entry.points) for entry in result.ledger] == [
            ("opening#1", "opening", 70),
            ("opening#1", "expiry", -70),
            ("p1", "points", 5),
            ("r1", "rejected", None),
        ]
        assert result.points == 5


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        (
            Customer(customer_id="ana", tier="goldd", tier_until=when("2026-06-01")),
            "customer ana.tier: 'goldd' is not one of the program's tiers (gold)",
        ),
        (
            Customer(
                customer_id="ana",
                opening_points=(OpeningLot(points=5, earned_at=when("2026-03-05")),),
            ),
            "customer ana.opening_points[0].earned_at: is 2026-03-05T00:00:00+00:00, after "
            "the customer's first event (2026-03-02T12:00:00+00:00)",
        ),
    ],
)
def test_a_profile_the_reference_refuses_is_refused_with_its_error(
    profile: Customer, message: str
) -> None:
    for engine in ("reference", "batch"):
        with pytest.raises(HistoryError) as raised:
            evaluate(GOLD_CLUB, EVENTS, [profile], engine=engine)  # type: ignore[arg-type]
        assert message in str(raised.value)


REFERRALS = program(
    points={"expire_after": "6 months"},
    rules=[
        {"id": "base", "kind": "points_per_spend", "points": 1, "per": "1.00"},
        {
            "id": "refer",
            "kind": "referral",
            "referrer": {"points": 300},
            "referred": {"points": 100},
            "min_paid": "20.00",
        },
    ],
)
RITA = Customer(
    customer_id="rita",
    opening_points=(
        OpeningLot(points=40, earned_at=when("2025-01-01"), expires_at=when("2026-05-01")),
    ),
)
FRED = Customer(customer_id="fred", referred_by="rita")
FRIEND_BUYS = purchase("f1", when("2026-03-01T10:00"), line("tea", "25.00"), customer="fred")


def fact(at: str) -> ReferralQualified:
    return ReferralQualified(id="x9", customer_id="rita", at=when(at), referred="zed", rule="refer")


@pytest.mark.parametrize(
    ("supplied", "as_of"),
    [
        (None, None),  # rita's first moment is fred's purchase: she is started before it
        (None, date(2026, 6, 1)),  # started as of the date
        ("2026-02-01T10:00", None),  # a supplied fact is her first event: started there
        ("2024-02-01T10:00", None),  # ... which comes before her lot: late-opening
    ],
)
def test_a_migrated_referrer_without_events_is_started_as_by_the_reference(
    supplied: str | None, as_of: date | None
) -> None:
    events: list[AnyEvent] = [FRIEND_BUYS] if supplied is None else [FRIEND_BUYS, fact(supplied)]
    assert same_results(REFERRALS, events, [RITA, FRED], as_of) == (supplied != "2024-02-01T10:00")
