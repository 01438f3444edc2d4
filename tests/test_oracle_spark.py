"""The oracles' drawn cases on Spark (``rewardrules.spark``, local[2]), against the oracles.

tests/test_scale_out.py checks Spark against one machine on the examples and on drawn
bonus programs; tests/test_oracle_streams.py runs the oracles' cases through the streamed
command line and Dask. Here a few cases drawn by each oracle's strategies (tests/oracle:
core, lifecycle, real, cards) are evaluated on a local Spark session, partitioned by
customer, and the ledger rows and each customer's balances Spark returns must be what
the oracle computed from the docs: not only what one machine gives. Each example is two
Spark jobs of Python workers, so there are few.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oracle import cards, core_strategies, real
from oracle.core import Oracle as CoreOracle
from oracle.lifecycle import Oracle as LifecycleOracle
from rewardrules import Customer
from rewardrules.events import AnyEvent
from rewardrules.program.model import Program
from test_oracle_cards import histories as card_histories
from test_oracle_cards import programs as card_programs
from test_oracle_lifecycle import lifecycle_histories, lifecycle_specs
from test_oracle_real import family_histories, family_programs
from test_scale_out import _on_spark
from test_scale_out import spark as spark  # noqa: PLC0414 -- the session fixture, shared

FEW = settings(
    max_examples=2,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ENGINES = st.sampled_from(("reference", "batch"))
PARTITIONS = st.integers(2, 3)

Row = tuple[str, str, str, int | None, Decimal | None, int | None]


class SparkRun:
    """One evaluation on Spark, as plain rows per customer."""

    def __init__(
        self,
        session: Any,
        program: Program,
        events: Sequence[AnyEvent],
        customers: Sequence[Customer] | None,
        as_of: date | datetime | None,
        partitions: int,
        engine: str,
    ) -> None:
        ledger, results, _ = _on_spark(
            session, program, list(events), list(customers or []) or None, as_of, partitions, engine
        )
        self.ledgers: dict[str, list[Row]] = {}
        for row in ledger:
            entry = (
                row["event_id"],
                row["rule"],
                row["kind"],
                row["points"],
                row["value"],
                row["units"],
            )
            self.ledgers.setdefault(row["customer_id"], []).append(entry)
        self.results = {row["customer_id"]: row for row in results}

    def ledger(self, customer: str) -> list[Row]:
        return self.ledgers.get(customer, [])

    def stamps(self, customer: str) -> dict[str, int]:
        stamps: dict[str, int] = json.loads(self.results[customer]["stamps"])
        return stamps


def minor(value: Decimal | None) -> int | None:
    return None if value is None else int(value * 100)


@FEW
@given(case=core_strategies.cases(), partitions=PARTITIONS, engine=ENGINES)
def test_core_cases_on_spark_agree_with_the_oracle(
    spark: Any,
    case: tuple[Program, list[AnyEvent], date | datetime | None],
    partitions: int,
    engine: str,
) -> None:
    program, events, as_of = case
    expected = CoreOracle(program).run(events, as_of)  # type: ignore[arg-type]
    got = SparkRun(spark, program, events, None, as_of, partitions, engine)
    assert sorted(got.results) == sorted(expected)
    for customer, result in expected.items():
        oracle_rows = [
            (e.event_id, e.rule, e.kind, e.points, e.value, e.units) for e in result.ledger
        ]
        assert got.ledger(customer) == oracle_rows
        assert got.results[customer]["points"] == result.points
        assert got.results[customer]["tier"] == result.tier
        assert got.stamps(customer) == result.stamps


@FEW
@given(spec=lifecycle_specs(), drawn=lifecycle_histories(), partitions=PARTITIONS, engine=ENGINES)
def test_lifecycles_on_spark_agree_with_the_oracle(
    spark: Any,
    spec: dict[str, Any],
    drawn: tuple[list[AnyEvent], list[Customer], Any],
    partitions: int,
    engine: str,
) -> None:
    events, customers, as_of = drawn
    expected = LifecycleOracle(spec).run(events, customers, as_of)
    program = Program.model_validate(spec)
    got = SparkRun(spark, program, events, customers, as_of, partitions, engine)
    assert sorted(got.results) == sorted(expected)
    for customer, view in expected.items():
        rows = [(e, r, k, p, minor(v), u) for e, r, k, p, v, u in got.ledger(customer)]
        assert rows == view["ledger"]
        result = got.results[customer]
        assert (result["points"], result["available_points"], result["pending_points"]) == (
            view["points"],
            view["available"],
            view["pending"],
        )


@FEW
@given(data=st.data(), partitions=PARTITIONS, engine=ENGINES)
def test_migrated_customers_and_order_offers_on_spark_agree_with_the_oracle(
    spark: Any, data: st.DataObject, partitions: int, engine: str
) -> None:
    document = data.draw(family_programs(), label="program")
    tiers = [level["name"] for level in document.get("tiers", {}).get("levels", [])]
    events, customers, as_of = data.draw(family_histories(tiers), label="history")
    expected = real.evaluate(document, events, customers, as_of)
    program = Program.model_validate(document)
    got = SparkRun(spark, program, events, customers, as_of, partitions, engine)
    assert sorted(got.results) == sorted(expected)
    for customer, outcome in expected.items():
        assert got.ledger(customer) == outcome.ledger
        result = got.results[customer]
        assert (result["points"], result["available_points"], result["tier"]) == (
            outcome.points,
            outcome.available_points,
            outcome.tier,
        )


@FEW
@given(document=card_programs(), events=card_histories(), partitions=PARTITIONS, engine=ENGINES)
def test_cards_and_limits_on_spark_agree_with_the_oracle(
    spark: Any, document: dict[str, Any], events: list[Any], partitions: int, engine: str
) -> None:
    expected = cards.evaluate(document, events)
    program = Program.model_validate(document)
    got = SparkRun(spark, program, events, None, None, partitions, engine)
    assert sorted(got.results) == sorted(expected)
    for customer, outcome in expected.items():
        assert got.ledger(customer) == outcome.ledger
        assert got.results[customer]["points"] == outcome.points
        assert got.stamps(customer) == outcome.stamps
