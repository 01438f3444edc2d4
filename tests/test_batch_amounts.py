"""The batch engine on large amounts: the reference's results up to its integers' bounds,
and a located refusal beyond them (docs/batch-engine.md, "The bounds on amounts").

The bounds: a purchase line's gross amount at most 2**61 minor units; the purchases' gross
totals, their quantities, and each points rule's points adding up to less than 2**62.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardrules import evaluate, load_program, read_customers, read_history
from rewardrules.cli.main import cli
from rewardrules.errors import HistoryError
from rewardrules.evaluation.batch import UnsupportedError
from rewardrules.events import AnyEvent, Customer, Line, Payment, Purchase, Refund, RefundLine
from rewardrules.histories.columns import read_history_table
from rewardrules.program.model import Program
from strategies import histories, lifecycle_histories, lifecycle_programs
from test_batch_engine import SUPPORTED_PROGRAMS, same_results

EXAMPLES = Path(__file__).resolve().parent.parent / "rules" / "examples"
EXAMPLE_NAMES = sorted(path.stem for path in EXAMPLES.glob("*.yaml"))

LINE = 2**61
SUM = 2**62
ADVICE = "; evaluate this history with engine='reference'"

HEADER = "event_id,customer_id,at,type,sku,category,quantity,unit_price,purchase_id\n"

BIG_POINTS = Program.model_validate(
    {
        "program": "big-points",
        "name": "Big points",
        "currency": "USD",
        "timezone": "UTC",
        "rules": [
            {
                "id": "stars",
                "kind": "points_per_spend",
                "points": Decimal(1000),
                "per": Decimal("0.01"),
                "multipliers": [{"factor": Decimal(3), "when": {"categories": ["coffee"]}}],
            }
        ],
    }
)


def _purchase(event_id: str, price: str, quantity: int = 1, day: int = 1, **line: Any) -> Purchase:
    return Purchase(
        id=event_id,
        customer_id="c1",
        at=datetime(2025, 1, day, 10, tzinfo=UTC),
        lines=(
            Line(
                sku=line.get("sku", "latte-16oz"),
                category=line.get("category", "coffee"),
                quantity=quantity,
                unit_price=Decimal(price),
            ),
        ),
    )


def _refusal(program: Program, events: list[AnyEvent]) -> str:
    """The batch engine's refusal, after checking the reference evaluates the history."""
    evaluate(program, events)
    with pytest.raises(UnsupportedError) as refused:
        evaluate(program, events, engine="batch")
    (problem,) = refused.value.problems
    assert problem.code == "unsupported"
    return str(refused.value)


def _minor(amount: int) -> str:
    """An amount of cents as a price text."""
    return str(Decimal(amount).scaleb(-2))


# --- single lines at the edges ------------------------------------------------------------


def test_a_purchase_of_a_hundred_million_earns_what_the_reference_gives(tmp_path: Path) -> None:
    # 9,999,999,999 minor units (about 2**33): refused before, as if beyond 2**53, because
    # its 12-decimal value needs more than 64 bits.
    history = tmp_path / "h.csv"
    history.write_text(
        HEADER + "p1,c1,2025-01-01T10:00:00Z,purchase,latte-16oz,coffee,1,99999999.99,\n"
    )
    program = load_program(EXAMPLES / "coffee-club.yaml")
    batch = evaluate(program, read_history(history), engine="batch")
    assert batch.customers[0].points == 399_999_999  # 2 per 1.00, doubled on coffee
    assert same_results(program, list(read_history(history)))


@pytest.mark.parametrize(
    "price",
    [
        "9223372.03",  # the last price whose 12-decimal value fits 63 bits
        "9223372.04",  # the first that does not
        "99999999.99",
        "90071992547409.93",  # just over 2**53 minor units, the bound before
        _minor(LINE),  # the largest line
    ],
)
@pytest.mark.parametrize("name", ["coffee-club", "bakery-rewards", "shoe-shop", "card-rewards"])
def test_a_line_up_to_the_bound_runs_as_the_reference(name: str, price: str) -> None:
    program = load_program(EXAMPLES / f"{name}.yaml")
    assert same_results(program, [_purchase("p1", price, category="coffee")])


def test_a_line_over_the_bound_is_refused_naming_its_event_line_column_and_amount() -> None:
    program = load_program(EXAMPLES / "coffee-club.yaml")
    events: list[AnyEvent] = [_purchase("p0", "3.00"), _purchase("p1", _minor(LINE + 1), day=2)]
    assert _refusal(program, events) == (
        "event p1.lines[0].unit_price: the line's gross amount, 1 x 23058430092136939.53 USD "
        "= 2305843009213693953 minor units, is larger than the batch engine's integers allow "
        "for one line (2**61 = 2305843009213693952 minor units)" + ADVICE
    )


def test_quantity_times_price_is_checked_on_the_product() -> None:
    program = load_program(EXAMPLES / "coffee-club.yaml")
    fits = _minor(LINE // 4)  # four units make the bound exactly
    assert same_results(program, [_purchase("p1", fits, quantity=4)])
    over = _minor(LINE // 4 + 1)
    assert _refusal(program, [_purchase("p1", over, quantity=4)]) == (
        f"event p1.lines[0].quantity: the line's gross amount, 4 x {over} USD = "
        f"{4 * (LINE // 4 + 1)} minor units, is larger than the batch engine's integers allow "
        "for one line (2**61 = 2305843009213693952 minor units)" + ADVICE
    )


def test_a_price_too_fine_is_the_reference_error_however_large() -> None:
    program = load_program(EXAMPLES / "coffee-club.yaml")
    events: list[AnyEvent] = [_purchase("p1", "99999999.999")]
    with pytest.raises(HistoryError) as reference:
        evaluate(program, events)
    with pytest.raises(HistoryError) as batch:
        evaluate(program, events, engine="batch")
    assert str(batch.value) == str(reference.value)


# --- sums over the history ----------------------------------------------------------------


def test_purchases_adding_up_to_just_under_the_sum_bound_run_as_the_reference() -> None:
    program = load_program(EXAMPLES / "bakery-rewards.yaml")
    events: list[AnyEvent] = [
        _purchase("p1", _minor(LINE)),
        _purchase("p2", _minor(LINE - 1), day=2),
    ]
    assert same_results(program, events)


def test_purchases_adding_up_to_the_sum_bound_are_refused_at_the_event_that_reaches_it() -> None:
    program = load_program(EXAMPLES / "bakery-rewards.yaml")
    events: list[AnyEvent] = [
        _purchase("p1", _minor(LINE)),
        _purchase("p2", "1.00", day=2),
        _purchase("p3", _minor(LINE - 100), day=3),
        _purchase("p4", "1.00", day=4),
    ]
    assert _refusal(program, events) == (
        "event p3.lines[0].unit_price: the purchases' gross totals add up to "
        f"{SUM} through this event, which is more than the batch engine's integers allow "
        f"for a sum over a history (2**62 = {SUM})" + ADVICE
    )


def test_quantities_adding_up_past_the_sum_bound_are_refused() -> None:
    # Free units (price 0) count toward a punch card: their sum must fit too.
    program = load_program(EXAMPLES / "car-wash.yaml")
    events: list[AnyEvent] = [
        _purchase("p1", "0.00", quantity=2**61),
        _purchase("p2", "0.00", quantity=2**61, day=2),
    ]
    assert "event p2.lines[0].quantity: the purchases' quantities add up to" in _refusal(
        program, events
    )


# --- points -------------------------------------------------------------------------------

# 1000 points per cent, tripled on coffee: p1 (coffee) and p2 (tea) give 4000 points per
# cent of their common price. 2**62 / 4000 = 1152921504606846.976 cents.


def _coffee_then_tea(price: str) -> list[AnyEvent]:
    return [
        _purchase("p1", price, category="coffee"),
        _purchase("p2", price, day=2, category="tea"),
    ]


def test_points_a_multiplier_gives_on_a_huge_amount_run_as_the_reference_under_the_bound() -> None:
    events = _coffee_then_tea("11529215046068.46")
    assert same_results(BIG_POINTS, events)
    assert evaluate(BIG_POINTS, events, engine="batch").customers[0].points == (
        4000 * 1152921504606846
    )


def test_points_adding_up_past_the_bound_are_refused_at_the_event_that_passes_it() -> None:
    assert _refusal(BIG_POINTS, _coffee_then_tea("11529215046068.47")) == (
        "event p2: rule 'stars' gives 1152921504606847000 points here; the points it gives "
        "add up to 4611686018427388000 through this event, which is more than the batch "
        f"engine's integers allow for a sum over a history (2**62 = {SUM})" + ADVICE
    )


def test_points_past_int64_on_one_purchase_are_refused_not_overflowed() -> None:
    # 3000 points a cent on 2**53 cents: past int64 itself (an OverflowError before).
    message = _refusal(BIG_POINTS, [_purchase("p1", _minor(2**53), category="coffee")])
    assert message.startswith("event p1: rule 'stars' gives 27021597764222976000 points here")


# --- points cut by limits, a cap or a group before the bound -------------------------------

# 1000 points per cent (no multiplier): 2**53 cents want 1000 * 2**53 points, past int64
# on one purchase. The bound is on what the rule gives, after its cap, limits and group.
HUGE = _minor(2**53)
HUGE_WANT = 1000 * 2**53


def _limited_stars(*limits: dict[str, Any], **rule: Any) -> Program:
    others = rule.pop("others", ())
    return Program.model_validate(
        {
            "program": "limited-stars",
            "name": "Limited stars",
            "currency": "USD",
            "timezone": "UTC",
            "points": {"name": "stars", "value": Decimal("0.01")},
            "rules": [
                {
                    "id": "stars",
                    "kind": "points_per_spend",
                    "points": Decimal(1000),
                    "per": Decimal("0.01"),
                    **({"limit": list(limits)} if limits else {}),
                    **rule,
                },
                *others,
            ],
        }
    )


def _ledger(program: Program, events: list[AnyEvent]) -> list[tuple[str, int | None, str]]:
    """The batch engine's ledger, after checking it is the reference's."""
    assert same_results(program, events)
    result = evaluate(program, events, engine="batch").to_dict()
    return [
        (entry["event_id"], entry["points"], entry["reason"])
        for customer in result["customers"]
        for entry in customer["ledger"]
    ]


def test_a_limit_per_purchase_brings_points_past_int64_within_the_bound() -> None:
    program = _limited_stars({"per": "purchase", "points": Decimal(1000)})
    assert _ledger(program, [_purchase("p1", HUGE)]) == [
        (
            "p1",
            1000,
            "90071992547409.92 USD paid at 1000 stars per 0.01 USD: "
            f"{HUGE_WANT} stars (limit reached: at most 1000 stars per purchase; "
            f"1000 of {HUGE_WANT} given)",
        )
    ]


def test_a_lifetime_limit_gives_nothing_more_on_huge_purchases_after_it_is_reached() -> None:
    # The points wanted add up far past 2**62; what is given stops at the limit.
    program = _limited_stars({"per": "lifetime", "points": Decimal(10**18)})
    events: list[AnyEvent] = [_purchase(f"p{day}", HUGE, day=day) for day in range(1, 5)]
    ledger = _ledger(program, events)
    assert [points for _, points, _ in ledger] == [10**18, None, None, None]  # capped
    assert ledger[1][2].endswith(
        f"(limit reached: at most {10**18} stars in all; 0 of {HUGE_WANT} given)"
    )


def test_a_cap_per_purchase_brings_points_past_int64_within_the_bound() -> None:
    program = _limited_stars(max_per_purchase=Decimal(2**61 - 1))
    events: list[AnyEvent] = [_purchase("p1", HUGE), _purchase("p2", HUGE, day=2)]
    assert [points for _, points, _ in _ledger(program, events)] == [2**61 - 1, 2**61 - 1]


def test_capped_points_adding_up_to_the_bound_are_refused() -> None:
    program = _limited_stars(max_per_purchase=Decimal(2**61))
    events: list[AnyEvent] = [_purchase("p1", HUGE), _purchase("p2", HUGE, day=2)]
    assert _refusal(program, events).startswith(
        f"event p2: rule 'stars' gives {2**61} points here; the points it gives add up to {SUM}"
    )


def test_limited_points_adding_up_to_just_under_the_bound_run_as_the_reference() -> None:
    # Each purchase is cut to 2**61 - 1 points: 2**62 - 2 in all, the most that fits.
    program = _limited_stars({"per": "purchase", "points": Decimal(2**61 - 1)})
    events: list[AnyEvent] = [_purchase("p1", HUGE), _purchase("p2", HUGE, day=2)]
    assert [points for _, points, _ in _ledger(program, events)] == [2**61 - 1, 2**61 - 1]


def test_limited_points_adding_up_to_the_bound_are_refused_at_the_event_that_reaches_it() -> None:
    program = _limited_stars({"per": "purchase", "points": Decimal(2**61)})
    events: list[AnyEvent] = [
        _purchase("p1", HUGE),
        _purchase("p2", HUGE, day=2),
        _purchase("p3", "1.00", day=3),
    ]
    assert _refusal(program, events) == (
        f"event p2: rule 'stars' gives {2**61} points here; the points it gives add up to "
        f"{SUM} through this event, which is more than the batch engine's integers allow "
        f"for a sum over a history (2**62 = {SUM})" + ADVICE
    )


def test_a_refund_of_a_limited_purchase_of_huge_points_runs_as_the_reference() -> None:
    program = _limited_stars({"per": "purchase", "points": Decimal(10**6)})
    events: list[AnyEvent] = [
        _purchase("p1", HUGE, quantity=3),
        Refund(
            id="r1",
            customer_id="c1",
            at=datetime(2025, 1, 2, 10, tzinfo=UTC),
            purchase_id="p1",
            lines=(RefundLine(sku="latte-16oz", quantity=2),),
        ),
        Refund(
            id="r2",
            customer_id="c1",
            at=datetime(2025, 1, 3, 10, tzinfo=UTC),
            purchase_id="p1",
        ),
    ]
    # r1 leaves a third of p1, still worth more than the limit: nothing is taken back.
    assert [points for _, points, _ in _ledger(program, events)] == [10**6, -(10**6)]


def _grouped(*limits: dict[str, Any]) -> Program:
    """The stars in an exclusive group with 1% off: each member worth its money."""
    percent = {"id": "percent", "kind": "order_discount", "percent": Decimal(1)}
    return _limited_stars(
        *limits, exclusive_group="one", others=[{**percent, "exclusive_group": "one"}]
    )


def test_a_huge_points_member_of_a_group_wins_within_its_limit_as_the_reference() -> None:
    # p1: the stars within their limit (10**15, worth 10**13 USD) beat 1% off
    # (900719925474.10 USD), though they want 1000 * 2**53; p2: 1000 stars beat 0.50.
    program = _grouped({"per": "purchase", "points": Decimal(10**15)})
    ledger = _ledger(program, [_purchase("p1", HUGE), _purchase("p2", "50.00", day=2)])
    assert [(event, points) for event, points, _ in ledger] == [
        ("p1", None),  # the 1% off, set aside
        ("p1", 10**15),
        ("p2", None),
        ("p2", 5_000_000),
    ]
    assert ledger[1][2].endswith(
        f"(limit reached: at most {10**15} stars per purchase; {10**15} of {HUGE_WANT} "
        "given) (best of exclusive group 'one', over 'percent')"
    )


def test_a_huge_points_member_of_a_group_that_loses_gives_nothing_to_bound() -> None:
    # Unlimited, the stars want 1000 * 2**53 on p1; with a point worth 10**-30 USD they lose
    # to 1% off, so they give nothing there, and nothing is refused.
    program = _grouped().model_copy(
        update={"points": _grouped().points.model_copy(update={"value": Decimal("1e-30")})}
    )
    ledger = _ledger(program, [_purchase("p1", HUGE)])
    assert [(event, points) for event, points, _ in ledger] == [("p1", None), ("p1", None)]


def test_a_huge_points_member_of_a_group_that_wins_past_the_bound_is_refused() -> None:
    assert _refusal(_grouped(), [_purchase("p1", HUGE)]).startswith(
        f"event p1: rule 'stars' gives {HUGE_WANT} points here"
    )


def test_points_past_the_bound_even_after_their_limit_are_refused_not_overflowed() -> None:
    # A limit of 2**63 points per purchase leaves the first purchase's points past int64.
    program = _limited_stars({"per": "purchase", "points": Decimal(2**63)})
    assert _refusal(program, [_purchase("p1", _minor(2**60))]).startswith(
        f"event p1: rule 'stars' gives {2**63} points here; the points it gives add up to "
        f"{2**63} through this event"
    )


# --- the points of every rule together -------------------------------------------------
# The ledger adds the rules' points per event in int64: what all rules give, bonuses and
# gifts included, adds up to less than 2**62 (they wrapped around, silently, before).


def _bonus(points: int) -> Program:
    return Program.model_validate(
        {
            "program": "bonus",
            "name": "Bonus",
            "currency": "USD",
            "timezone": "UTC",
            "rules": [{"id": "bonus", "kind": "bonus_points", "points": points}],
        }
    )


def _days(count: int) -> list[AnyEvent]:
    return [_purchase(f"p{day}", "1.00", day=day) for day in range(1, count + 1)]


def test_bonuses_adding_up_to_just_under_the_bound_run_as_the_reference() -> None:
    assert same_results(_bonus(2**60 - 1), _days(4))
    assert evaluate(_bonus(2**60 - 1), _days(4), engine="batch").customers[0].points == (2**62 - 4)


@pytest.mark.parametrize(
    ("points", "count", "event", "total"),
    [
        (2**61, 4, "p2", SUM),  # 4 x 2**61 wrapped to 0 before
        (2**63, 1, "p1", 2**63),  # wrapped to -2**63 before
        (10**30, 1, "p1", 10**30),  # past uint64: an unlocated refusal before
    ],
)
def test_bonuses_adding_up_past_the_bound_are_refused_at_the_event_that_reaches_it(
    points: int, count: int, event: str, total: int
) -> None:
    assert _refusal(_bonus(points), _days(count)) == (
        f"event {event}: rule 'bonus' gives {points} points here; the points it gives add "
        f"up to {total} through this event, which is more than the batch engine's integers "
        f"allow for a sum over a history (2**62 = {SUM})" + ADVICE
    )


def _birthday_at_purchase(points: int, count: int) -> tuple[Program, list[Any], list[Any]]:
    """A birthday gift given at a purchase in the month, to ``count`` customers."""
    program = Program.model_validate(
        {
            "program": "birthday",
            "name": "Birthday",
            "currency": "USD",
            "timezone": "UTC",
            "rules": [
                {
                    "id": "birthday",
                    "kind": "birthday",
                    "window": "month",
                    "points": points,
                    "requires_purchase": True,
                }
            ],
        }
    )
    customers = [Customer(customer_id=f"c{index}", birthday="01-05") for index in range(count)]
    events = [
        _purchase(f"p{index}", "1.00").model_copy(update={"customer_id": f"c{index}"})
        for index in range(count)
    ]
    return program, events, customers


def test_gifts_at_purchases_adding_up_under_the_bound_run_as_the_reference() -> None:
    assert same_results(*_birthday_at_purchase(2**60, 3))


def test_gifts_at_purchases_adding_up_past_the_bound_are_refused() -> None:
    # Five customers' 2**61 points: the ledger's sum wrapped around before.
    program, events, customers = _birthday_at_purchase(2**61, 5)
    evaluate(program, events, customers)
    with pytest.raises(UnsupportedError) as refused:
        evaluate(program, events, customers, engine="batch")
    assert str(refused.value) == (
        f"event p1: rule 'birthday' gives {2**61} points here; the points it gives add up "
        f"to {SUM} through this event, which is more than the batch engine's integers "
        f"allow for a sum over a history (2**62 = {SUM})" + ADVICE
    )


def _three_stars() -> Program:
    rule = {"kind": "points_per_spend", "points": Decimal(1000), "per": Decimal("0.01")}
    return Program.model_validate(
        {
            "program": "three-stars",
            "name": "Three stars",
            "currency": "USD",
            "timezone": "UTC",
            "rules": [{"id": f"stars{index}", **rule} for index in range(3)],
        }
    )


def test_points_of_several_rules_adding_up_under_the_bound_run_as_the_reference() -> None:
    events: list[AnyEvent] = [_purchase("p1", _minor(SUM // 3000 - 1))]
    assert same_results(_three_stars(), events)


def test_points_of_several_rules_adding_up_past_the_bound_are_refused_naming_the_rule() -> None:
    # Each rule's points fit the bound alone; the three together wrapped around before.
    cents = SUM // 1000 - 1
    assert _refusal(_three_stars(), [_purchase("p1", _minor(cents))]) == (
        f"event p1: rule 'stars1' gives {1000 * cents} points here; with the {1000 * cents} "
        f"points the rules before it give, the points the rules give add up to "
        f"{2000 * cents} through this event, which is more than the batch engine's integers "
        f"allow for a sum over a history (2**62 = {SUM})" + ADVICE
    )


# --- the examples, scaled -----------------------------------------------------------------


def _scaled(events: list[AnyEvent], factor: int) -> list[AnyEvent]:
    """The events with every price and payment multiplied by ``factor``."""
    found: list[AnyEvent] = []
    for event in events:
        if isinstance(event, Purchase):
            lines = tuple(
                line.model_copy(update={"unit_price": line.unit_price * factor})
                for line in event.lines
            )
            payments = None
            if event.payments is not None:
                payments = tuple(
                    Payment(method=payment.method, amount=payment.amount * factor)
                    for payment in event.payments
                )
            found.append(event.model_copy(update={"lines": lines, "payments": payments}))
        else:
            found.append(event)
    return found


@pytest.mark.parametrize("factor", [10**9, 3 * 10**12], ids=["1e9", "3e12"])
@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_example_with_its_prices_scaled_up_runs_as_the_reference(
    name: str, factor: int
) -> None:
    # 3e12 takes the examples' lines to about 2**56 minor units: beyond 2**53.
    program = load_program(EXAMPLES / f"{name}.yaml")
    events = list(read_history(next(EXAMPLES.glob(f"{name}.history.*"))))
    profiles_file = EXAMPLES / f"{name}.customers.csv"
    customers = list(read_customers(profiles_file)) if profiles_file.exists() else None
    as_of_file = EXAMPLES / f"{name}.as-of"
    as_of = None
    if as_of_file.exists():
        as_of = datetime.fromisoformat(as_of_file.read_text().strip()).date()
    assert same_results(program, _scaled(events, factor), customers, as_of)


# --- where a refusal points ---------------------------------------------------------------


def _huge_history(tmp_path: Path) -> Path:
    history = tmp_path / "h.csv"
    history.write_text(
        HEADER + "p0,c1,2025-01-01T09:00:00Z,purchase,latte-16oz,coffee,1,3.00,\n"
        "p1,c1,2025-01-01T10:00:00Z,purchase,latte-16oz,coffee,1,3.00,\n"
        f"p1,c1,2025-01-01T10:00:00Z,purchase,latte-16oz,coffee,3,{_minor(LINE)},\n"
    )
    return history


LINE_REFUSAL = (
    "the line's gross amount, 3 x 23058430092136939.52 USD = 6917529027641081856 minor "
    "units,{where} is larger than the batch engine's integers allow for one line (2**61 = "
    "2305843009213693952 minor units)" + ADVICE
)


def test_a_refusal_of_events_read_from_a_file_names_the_file(tmp_path: Path) -> None:
    history = _huge_history(tmp_path)
    program = load_program(EXAMPLES / "coffee-club.yaml")
    with pytest.raises(UnsupportedError) as refused:
        evaluate(program, read_history(history), engine="batch")
    assert str(refused.value) == "event p1.lines[1].quantity: " + LINE_REFUSAL.format(
        where=f" in {history}"
    )


def test_a_refusal_of_a_table_read_from_a_file_names_its_line(tmp_path: Path) -> None:
    history = _huge_history(tmp_path)
    program = load_program(EXAMPLES / "coffee-club.yaml")
    with pytest.raises(UnsupportedError) as refused:
        evaluate(program, read_history_table(history), engine="batch")
    assert str(refused.value) == (
        f"{history}:4:1: event p1.lines[1].quantity: " + LINE_REFUSAL.format(where="")
    )


def test_the_command_line_prints_the_located_refusal(tmp_path: Path) -> None:
    history = _huge_history(tmp_path)
    program = EXAMPLES / "coffee-club.yaml"
    result = CliRunner().invoke(cli, ["dry-run", str(program), str(history), "--engine", "batch"])
    assert result.exit_code == 1
    assert result.output == (
        f"{history}:3:1: event p1.lines[1].quantity: " + LINE_REFUSAL.format(where="") + "\n"
    )
    summary = CliRunner().invoke(
        cli, ["dry-run", str(program), str(history), "--engine", "batch", "--summary"]
    )
    assert summary.exit_code == 1
    assert summary.output == (
        f"{history}:4:1: event p1.lines[1].quantity: " + LINE_REFUSAL.format(where="") + "\n"
    )


# --- drawn histories with large amounts ---------------------------------------------------


def _same_or_refused_by_bound(program: Program, events: list[AnyEvent], as_of: Any = None) -> None:
    """The engines agree, or the batch engine refuses a sum past its bound, by event."""
    try:
        same_results(program, events, None, as_of)
    except UnsupportedError as refused:
        (problem,) = refused.problems
        assert problem.code == "unsupported"
        assert str(problem.path[0]).startswith("event ")
        assert "than the batch engine's integers allow" in problem.message


FACTORS = st.sampled_from([10**7, 10**9, 10**11, 10**12, 10**13])
"""Prices of up to 25.00 times these: amounts from about 10**9 to 10**16 minor units."""


@settings(max_examples=60, deadline=None)
@given(SUPPORTED_PROGRAMS, histories(refunds=True, payments=True), FACTORS)
def test_drawn_programs_on_large_amounts_run_as_the_reference(
    program: Program, events: list[AnyEvent], factor: int
) -> None:
    _same_or_refused_by_bound(program, _scaled(events, factor))


@settings(max_examples=30, deadline=None)
@given(lifecycle_programs(reward_tiers=True), lifecycle_histories(catalogue=True), FACTORS)
def test_drawn_points_lifecycles_on_large_amounts_run_as_the_reference(
    program: Program, events: list[AnyEvent], factor: int
) -> None:
    _same_or_refused_by_bound(program, _scaled(events, factor))


# --- a program's own figures past int64 ----------------------------------------------------

NINES = "9" * 30
HUGE_VOUCHERS = Program.model_validate(
    {
        "program": "huge-vouchers",
        "name": "Huge vouchers",
        "currency": "USD",
        "timezone": "UTC",
        "rules": [
            {
                "id": "vouchers",
                "kind": "every_nth_free",
                "every": 2,
                "reward": {"voucher": {"sku": "cone", "value": Decimal(f"{NINES}.99")}},
                "limit": [{"per": "lifetime", "rewards": Decimal(NINES)}],
            }
        ],
    }
)


def test_a_reward_worth_more_than_int64_is_refused_naming_its_rule_and_figure() -> None:
    # A voucher of 30 digits: no bound on the history's amounts covers the program's figures.
    # Its limit's figure is as large, but limits are counted in Python integers: not named.
    events: list[AnyEvent] = [_purchase("p1", "1.00", quantity=2, sku="cone")]
    evaluate(HUGE_VOUCHERS, events)
    with pytest.raises(UnsupportedError) as refused:
        evaluate(HUGE_VOUCHERS, events, engine="batch")
    (problem,) = refused.value.problems
    assert problem.code == "unsupported"
    assert problem.path == ("rules", 0, "reward", "voucher", "value")
    assert str(refused.value) == (
        f"rules[0].reward.voucher.value: rule 'vouchers': {NINES}.99 USD ({NINES}99 minor "
        "units) is more than the batch engine's integers hold (2**63 - 1 = "
        "9223372036854775807), and a value or points the program gives passed them while "
        "evaluating; write a smaller figure, or evaluate this history with engine='reference'"
    )


def test_the_command_line_points_the_refusal_at_the_figure_in_the_program_file(
    tmp_path: Path,
) -> None:
    program = tmp_path / "huge.yaml"
    program.write_text(
        "program: huge-vouchers\nname: Huge vouchers\ncurrency: USD\ntimezone: UTC\n"
        "rules:\n  - id: vouchers\n    kind: every_nth_free\n    every: 2\n    reward:\n"
        f"      voucher: {{sku: cone, value: {NINES}.99}}\n"
        f"    limit:\n      - {{per: lifetime, rewards: {NINES}}}\n"
    )
    history = tmp_path / "h.csv"
    history.write_text(HEADER + "p1,c1,2025-01-01T10:00:00Z,purchase,cone,ice,2,1.00,\n")
    result = CliRunner().invoke(cli, ["dry-run", str(program), str(history), "--engine", "batch"])
    assert result.exit_code == 1
    assert result.output == (
        f"{program}:10:35: rules[0].reward.voucher.value: rule 'vouchers': {NINES}.99 USD "
        f"({NINES}99 minor units) is more than the batch engine's integers hold (2**63 - 1 = "
        "9223372036854775807), and a value or points the program gives passed them while "
        "evaluating; write a smaller figure, or evaluate this history with "
        "engine='reference'\n"
        f"          voucher: {{sku: cone, value: {NINES}.99}}\n"
        "                                      ^\n"
    )
