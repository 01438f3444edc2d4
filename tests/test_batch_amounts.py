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
from rewardrules.events import AnyEvent, Line, Payment, Purchase
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
