"""Payments on purchases and ``when.payment_methods`` (docs/semantics.md, docs/histories.md).

Every number is worked out by hand in the comment above it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from helpers import at, ledger, line, program, reasons, refund
from rewardrules.errors import HistoryError, RuleFileError
from rewardrules.evaluation import batch
from rewardrules.evaluation.batch import evaluate_table
from rewardrules.evaluation.fold import evaluate
from rewardrules.events import AnyEvent, Line, Payment, Purchase
from rewardrules.histories.columns import events_to_table, read_history_table, table_to_events
from rewardrules.histories.read import read_history
from rewardrules.rulefiles.loader import load_program_text
from rewardrules.tools.explain.explanation import explain


def paid(
    event_id: str, when: datetime, payments: list[tuple[str, str]] | None, *lines: Line
) -> Purchase:
    """A purchase by c1 with these (method, amount) payments."""
    return Purchase(
        id=event_id,
        customer_id="c1",
        at=when,
        lines=lines,
        payments=None
        if payments is None
        else tuple(Payment(method=method, amount=Decimal(amount)) for method, amount in payments),
    )


def by(methods: list[str], points: str = "1", **fields: Any) -> dict[str, Any]:
    """A points rule that earns by these payment methods."""
    rule_id = "-".join(methods)
    return {
        "kind": "points_per_spend",
        "id": rule_id,
        "points": points,
        "when": {"payment_methods": methods},
        **fields,
    }


CARD = program(points={"name": "stars"}, rules=[by(["stored_value"], "2"), by(["cash", "card"])])
SPLIT = paid(
    "p1",
    at(),
    [("stored_value", "9.00"), ("cash", "6.00")],
    line("latte", "5.00", 2),
    line("cake", "5.00"),
)


def test_each_method_earns_on_its_share_of_every_line() -> None:
    evaluation = evaluate(CARD, [SPLIT])
    # gross 15.00; stored value pays 9/15: 6.00 of the lattes' 10.00 and 3.00 of the cake
    # = 9.00 x 2 = 18 stars; cash pays 6/15: 4.00 + 2.00 = 6.00 x 1 = 6 stars
    assert ledger(evaluation) == [
        ("p1", "stored_value", "points", 18, None, None),
        ("p1", "cash-card", "points", 6, None, None),
    ]
    assert reasons(evaluation) == [
        "9.00 USD paid by stored_value at 2 stars per 1.00 USD: 18 stars",
        "6.00 USD paid by cash or card at 1 star per 1.00 USD: 6 stars",
    ]


def test_a_refund_takes_back_the_share_of_the_units_returned() -> None:
    evaluation = evaluate(CARD, [SPLIT, refund("r1", at(1), "p1", ("latte", 1))])
    # one of two lattes back: stored value keeps 3.00 + 3.00 = 6.00 -> 12, so -6;
    # cash keeps 2.00 + 2.00 = 4.00 -> 4, so -2
    assert ledger(evaluation)[2:] == [
        ("r1", "stored_value", "points", -6, None, None),
        ("r1", "cash-card", "points", -2, None, None),
    ]
    assert evaluation.customer("c1").points == 16


def test_a_refund_after_resuming_from_a_saved_state_takes_back_the_same() -> None:
    first = evaluate(CARD, [SPLIT])
    saved = {"c1": first.customer("c1").state}
    resumed = evaluate(CARD, [refund("r1", at(1), "p1", ("latte", 1))], states=saved)
    # the state keeps the shares each rule earned on, not the payments: the same -6 and -2
    assert ledger(resumed) == [
        ("r1", "stored_value", "points", -6, None, None),
        ("r1", "cash-card", "points", -2, None, None),
    ]


def test_a_lines_share_is_rounded_half_up_to_a_cent_before_the_points() -> None:
    rules_program = program(rules=[by(["stored_value"], "100")])
    purchase = paid(
        "p1",
        at(),
        [("stored_value", "0.01"), ("cash", "0.99")],
        line("a", "0.50"),
        line("b", "0.50"),
    )
    # each line's share is 50 x 1/100 = 0.5 cent, rounded half up to 1 cent: 0.02 paid by
    # stored value, at 100 points per 1.00 = 2 points (not the exact 1)
    assert ledger(evaluate(rules_program, [purchase])) == [
        ("p1", "stored_value", "points", 2, None, None)
    ]


def test_a_price_rule_lowers_the_shares_with_the_paid_amounts() -> None:
    tiers = {
        "qualify_by": "purchases",
        "window": "lifetime",
        "levels": [{"name": "member", "at_least": "0"}],
    }
    discount = {"kind": "tiered_discount", "id": "member", "discounts": {"member": "10"}}
    rules_program = program(tiers=tiers, rules=[discount, by(["card"])])
    purchase = paid("p1", at(), [("card", "10.00"), ("cash", "10.00")], line("bag", "20.00"))
    # 10% off leaves 18.00 paid; the card pays half of the gross, so half of 18.00: 9 points
    assert ledger(evaluate(rules_program, [purchase]))[1] == ("p1", "card", "points", 9, None, None)


def test_a_purchase_without_payments_or_by_other_methods_earns_nothing() -> None:
    history: list[AnyEvent] = [
        paid("p1", at(), None, line("latte", "5.00")),
        paid("p2", at(1), [("card", "5.00")], line("latte", "5.00")),
    ]
    rules_program = program(rules=[by(["stored_value"])])
    assert ledger(evaluate(rules_program, history)) == []
    explained = explain(rules_program, history, "c1")
    assert [event.outcomes[0].text for event in explained.events] == [
        "the purchase records no payments, it needs stored_value",
        "paid by card, not stored_value",
    ]


@pytest.mark.parametrize(
    "history",
    [
        [SPLIT],
        [SPLIT, refund("r1", at(1), "p1", ("latte", 1))],
        [SPLIT, refund("r1", at(1), "p1", ("latte", 1)), refund("r2", at(2), "p1")],
        [paid("p1", at(), None, line("latte", "5.00")), SPLIT.model_copy(update={"id": "p2"})],
    ],
    ids=["split", "a refund", "refunded in full", "one without payments"],
)
def test_the_batch_engine_earns_on_the_same_shares(history: list[AnyEvent]) -> None:
    assert batch.unsupported(CARD) == []
    reference = evaluate(CARD, history)
    assert evaluate(CARD, history, engine="batch").to_dict() == reference.to_dict()
    table = evaluate_table(CARD, events_to_table(history))
    assert table.to_dict() == reference.to_dict()
    for expected, result in zip(reference.customers, table.customers, strict=True):
        # the saved state keeps the shares each rule earned on, as the reference's does
        assert result.state.model_dump_json() == expected.state.model_dump_json()


def test_the_batch_engine_refuses_a_payment_finer_than_the_currency_naming_it() -> None:
    purchase = paid("p1", at(), [("card", "4.995"), ("cash", "0.005")], line("latte", "5.00"))
    with pytest.raises(HistoryError) as reference:
        evaluate(CARD, [purchase])
    with pytest.raises(HistoryError) as raised:
        evaluate(CARD, [purchase], engine="batch")
    assert str(raised.value) == str(reference.value)


def test_the_batch_engine_leaves_out_payments_a_program_never_reads() -> None:
    rules_program = program(rules=[{"kind": "points_per_spend", "id": "all", "points": "1"}])
    # 15.00 paid, whoever paid it: 15 points in both engines
    reference = evaluate(rules_program, [SPLIT])
    assert ledger(reference) == [("p1", "all", "points", 15, None, None)]
    assert evaluate(rules_program, [SPLIT], engine="batch").to_dict() == reference.to_dict()


# --- bad input ---------------------------------------------------------------------------


def test_payments_that_do_not_add_up_to_the_gross_total_are_refused() -> None:
    with pytest.raises(HistoryError) as raised:
        paid("p1", at(), [("card", "4.00")], line("latte", "5.00"))
    assert str(raised.value) == (
        "payments: add up to 4.00, but the lines' gross total (quantity x unit price, before "
        "any reward) is 5.00; the payments must add up to it"
    )


def test_a_payment_finer_than_the_currency_is_refused_naming_it() -> None:
    purchase = paid("p1", at(), [("card", "4.995"), ("cash", "0.005")], line("latte", "5.00"))
    with pytest.raises(HistoryError) as raised:
        evaluate(CARD, [purchase])
    assert str(raised.value) == (
        "event p1.payments[0].amount: the payment 4.995 by card is finer than USD allows "
        "(2 decimal places); payments must be whole minor units"
    )


HEADER = "event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id,payments\n"


def read_csv(tmp_path: Path, *rows: str) -> list[AnyEvent]:
    path = tmp_path / "history.csv"
    path.write_text(HEADER + "".join(f"{row}\n" for row in rows), encoding="utf-8")
    return list(read_history(path))


def csv_error(tmp_path: Path, *rows: str) -> str:
    with pytest.raises(HistoryError) as raised:
        read_csv(tmp_path, *rows)
    return str(raised.value).replace(str(tmp_path), "DIR")


def test_a_csv_cell_holds_method_amount_pairs(tmp_path: Path) -> None:
    [purchase] = read_csv(
        tmp_path,
        "p1,purchase,c1,2026-03-02T09:00:00Z,latte,,2,5.00,,stored_value:9.00 cash:1.00",
    )
    assert isinstance(purchase, Purchase)
    assert purchase.payments == (
        Payment(method="stored_value", amount=Decimal("9.00")),
        Payment(method="cash", amount=Decimal("1.00")),
    )


BAD_CSV = [
    (
        ("p1,purchase,c1,2026-03-02T09:00:00Z,latte,,1,5.00,,card=5.00",),
        "DIR/history.csv:2:1: payments: must be method:amount pairs separated by spaces "
        "(got 'card=5.00') (write each payment as method:amount, separated by spaces, "
        "e.g. 'stored_value:9.00 cash:6.00'; repeat the cell on every row of the purchase)",
    ),
    (
        ('p1,purchase,c1,2026-03-02T09:00:00Z,latte,,1,5.00,,"card:5,00"',),
        "DIR/history.csv:2:1: payments[0].amount: must be an amount like 4.50 (digits, a "
        "point, decimals; no currency sign, comma or exponent) (got '5,00') (if the file "
        "writes amounts with a decimal comma, re-export it with a point, or read it with "
        "decimal_comma=True)",
    ),
    (
        (
            "p1,purchase,c1,2026-03-02T09:00:00Z,latte,,1,5.00,,card:8.00",
            "p1,purchase,c1,2026-03-02T09:00:00Z,cake,,1,3.00,,card:3.00",
        ),
        "DIR/history.csv:3:1: payments: is 'card:3.00' here but 'card:8.00' on line 2, "
        "the first row of event 'p1'; the rows of one event must agree",
    ),
    (
        (
            "p1,purchase,c1,2026-03-02T09:00:00Z,latte,,1,5.00,,card:5.00",
            "r1,refund,c1,2026-03-03T09:00:00Z,,,,,p1,card:5.00",
        ),
        "DIR/history.csv:3:1: payments: must be empty for a refund; only a purchase "
        "records its payments",
    ),
    (
        ("p1,purchase,c1,2026-03-02T09:00:00Z,latte,,2,5.00,,card:5.00",),
        "DIR/history.csv:2:1: payments: add up to 5.00, but the lines' gross total "
        "(quantity x unit price, before any reward) is 10.00; the payments must add up "
        "to it",
    ),
]


@pytest.mark.parametrize(("rows", "expected"), BAD_CSV)
def test_bad_payments_in_csv_are_refused_at_their_line(
    tmp_path: Path, rows: tuple[str, ...], expected: str
) -> None:
    assert csv_error(tmp_path, *rows).splitlines()[0] == expected


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        *[(rows, expected) for rows, expected in BAD_CSV],
        (
            ('p1,purchase,c1,2026-03-02T09:00:00Z,latte,,1,5.00,,"card 5.00"',),
            "DIR/history.csv:2:1: payments: must be method:amount pairs separated by spaces "
            "(got 'card') (write each payment as method:amount, separated by spaces, "
            "e.g. 'stored_value:9.00 cash:6.00'; repeat the cell on every row of the purchase)",
        ),
        (
            ("p1,purchase,c1,2026-03-02T09:00:00Z,latte,,1,5.00,,car/d:5.00",),
            "DIR/history.csv:2:1: method: must be a name of letters, digits, '_', "
            "'-' or '.', starting with a letter or digit, without spaces or colons, like "
            "stored_value (got 'car/d')",
        ),
    ],
)
def test_a_table_refuses_bad_payments_as_the_row_reader_does(
    tmp_path: Path, rows: tuple[str, ...], expected: str
) -> None:
    path = tmp_path / "history.csv"
    path.write_text(HEADER + "".join(f"{row}\n" for row in rows), encoding="utf-8")
    with pytest.raises(HistoryError) as rows_error:
        list(read_history(path))
    with pytest.raises(HistoryError) as table_error:
        read_history_table(path)
    assert str(table_error.value) == str(rows_error.value)
    assert str(table_error.value).replace(str(tmp_path), "DIR").splitlines()[0] == expected


def test_a_table_holds_a_csvs_payments_as_the_row_reader_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text(
        HEADER.replace(",", ";")
        + "p1;purchase;c1;2026-03-02T09:00:00Z;latte;;2;5,00;;stored_value:9,00 cash:1,00\n"
        + "p1;purchase;c1;2026-03-02T09:00:00Z;cake;;1;0;;stored_value:9,00 cash:1,00\n"
        + "p2;purchase;c1;2026-03-03T09:00:00Z;latte;;1;5,00;;\n",
        encoding="utf-8",
    )
    table = read_history_table(path, delimiter=";", decimal_comma=True)
    # the amounts as a point writes them, on every row of the purchase; none for p2
    assert table["payments"].to_pylist() == [
        "stored_value:9.00 cash:1.00",
        "stored_value:9.00 cash:1.00",
        None,
    ]
    events = list(read_history(path, delimiter=";", decimal_comma=True))
    assert list(table_to_events(table)) == events


def test_a_table_without_a_payments_column_still_reads() -> None:
    old = events_to_table([SPLIT]).drop_columns(["payments"])
    [purchase] = table_to_events(old)
    assert isinstance(purchase, Purchase)
    assert purchase.payments is None
    # no payments recorded: the rules by payment method give nothing, in both engines
    assert ledger(evaluate_table(CARD, old)) == []


def test_a_hand_built_table_whose_payments_do_not_add_up_is_refused_at_its_row() -> None:
    table = events_to_table([SPLIT])
    wrong = table.set_column(
        table.schema.get_field_index("payments"),
        "payments",
        pa.array(["stored_value:9.00 cash:5.00"] * 2, pa.string()),
    )
    with pytest.raises(HistoryError) as raised:
        evaluate_table(CARD, wrong)
    assert str(raised.value) == (
        "row 1: payments: add up to 14.00, but the lines' gross total (quantity x unit price, "
        "before any reward) is 15.00; the payments must add up to it"
    )


# --- where payment_methods may be written ------------------------------------------------

HEAD = "program: club\nname: Club\ncurrency: USD\ntimezone: UTC\nrules:\n"


def refused(text: str) -> list[str]:
    with pytest.raises(RuleFileError) as raised:
        load_program_text(HEAD + text, "club.yaml")
    return [str(problem) for problem in raised.value.problems]


def test_payment_methods_on_another_kind_is_refused_where_it_is_written() -> None:
    assert refused(
        "  - id: bonus\n    kind: bonus_points\n    points: 5\n"
        "    when: {payment_methods: [card]}\n"
    ) == [
        "club.yaml:9:29: rules[0].when.payment_methods: payment_methods is for "
        "points_per_spend rules; a bonus_points rule cannot give to a share of a line: "
        "remove it, or earn by payment method with a points_per_spend rule"
    ]


def test_payment_methods_on_a_multiplier_is_refused_where_it_is_written() -> None:
    assert refused(
        "  - id: stars\n    kind: points_per_spend\n    points: 1\n    multipliers:\n"
        "      - factor: 2\n        when: {payment_methods: [card]}\n"
    ) == [
        "club.yaml:11:33: rules[0].multipliers[0].when.payment_methods: payment_methods goes "
        "on the rule's own `when`, not on a multiplier's: write a second points_per_spend "
        "rule for that payment method instead"
    ]
