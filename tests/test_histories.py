"""Reading histories: three formats give the same events, money stays exact, errors point home."""

from __future__ import annotations

import contextlib
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardrules.errors import HistoryError, Location
from rewardrules.events import (
    AnyEvent,
    Customer,
    Line,
    MonthDay,
    Purchase,
    Redemption,
    ReferralQualified,
    Refund,
    RefundLine,
)
from rewardrules.histories.read import (
    Format,
    locate_event,
    parse_history_text,
    read_customers,
    read_history,
)

DATA = Path(__file__).parent / "data" / "histories"

HEADER = "event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id\n"
ROW = "p1,purchase,c1,2026-03-01T09:30:00Z,latte,coffee,1,4.50,\n"
REWARD_HEADER = HEADER.replace("\n", ",reward\n")
REDEEM_ROW = "x1,redemption,c1,2026-03-05T08:00:00Z,,,,,,free-drink\n"
MOMENT = '"at": "2026-03-01T09:30:00Z"'
AMOUNT_HELP = "an amount like 4.50 (digits, a point, decimals; no currency sign, comma or exponent)"

SMALL_HISTORY = [
    Purchase(
        id="007",
        customer_id="c-1",
        at=datetime.fromisoformat("2026-03-01T09:30:00-05:00"),
        lines=(
            Line(sku="latte", category="coffee", quantity=2, unit_price=Decimal("4.50")),
            Line(sku="bagel", quantity=1, unit_price=Decimal("0.1")),
        ),
        store="downtown",
    ),
    Purchase(
        id="p2",
        customer_id="c-2",
        at=datetime.fromisoformat("2026-03-02T12:00:00+00:00"),
        lines=(Line(sku="beans", quantity=3, unit_price=Decimal("12.00")),),
    ),
    Refund(
        id="r1",
        customer_id="c-1",
        at=datetime.fromisoformat("2026-03-03T10:00:00+01:00"),
        purchase_id="007",
        lines=(RefundLine(sku="latte", quantity=1),),
    ),
    Refund(
        id="r2",
        customer_id="c-2",
        at=datetime.fromisoformat("2026-03-04T10:00:00+00:00"),
        purchase_id="p2",
    ),
]

SMALL_FILES = ["small.csv", "small.jsonl", "small.json"]


def error_of(path: str | Path) -> str:
    with pytest.raises(HistoryError) as info:
        list(read_history(path))
    return str(info.value)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in an empty directory so that error messages name files briefly."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- reading ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SMALL_FILES)
def test_each_format_reads_to_the_same_events(name: str) -> None:
    assert list(read_history(DATA / name)) == SMALL_HISTORY


@pytest.mark.parametrize("name", SMALL_FILES)
def test_amounts_keep_their_exact_digits(name: str) -> None:
    prices = [
        str(line.unit_price)
        for event in read_history(DATA / name)
        if isinstance(event, Purchase)
        for line in event.lines
    ]
    assert prices == ["4.50", "0.1", "12.00"]


def test_a_json_number_becomes_the_decimal_it_spells_never_a_float(in_tmp: Path) -> None:
    Path("h.jsonl").write_text(
        '{"type": "purchase", "id": "p1", "customer_id": "c1", ' + MOMENT + ", "
        '"lines": [{"sku": "a", "quantity": 3, "unit_price": 0.1}]}\n'
    )
    [purchase] = read_history("h.jsonl")
    assert isinstance(purchase, Purchase)
    assert purchase.lines[0].unit_price.as_tuple() == Decimal("0.1").as_tuple()
    assert purchase.gross_total == Decimal("0.3")


def test_ids_stay_text_with_their_leading_zeros() -> None:
    events = list(read_history(DATA / "small.csv"))
    assert [event.id for event in events] == ["007", "p2", "r1", "r2"]
    assert isinstance(events[2], Refund)
    assert events[2].purchase_id == "007"


def test_a_whole_refund_has_no_lines_and_a_partial_one_lists_them() -> None:
    refunds = [e for e in read_history(DATA / "small.csv") if isinstance(e, Refund)]
    assert [refund.lines for refund in refunds] == [(RefundLine(sku="latte", quantity=1),), None]


def test_a_json_list_reads_like_an_object_with_events(in_tmp: Path) -> None:
    text = (DATA / "small.json").read_text()
    listed = text[text.index("[") : text.rindex("]") + 1]
    Path("list.json").write_text(listed)
    assert list(read_history("list.json")) == SMALL_HISTORY


def test_the_format_comes_from_the_extension_unless_given(in_tmp: Path) -> None:
    Path("history.ndjson").write_text((DATA / "small.jsonl").read_text())
    Path("history.txt").write_text((DATA / "small.csv").read_text())
    assert list(read_history("history.ndjson")) == SMALL_HISTORY
    assert list(read_history("history.txt", format="csv")) == SMALL_HISTORY


def test_csv_columns_may_come_in_any_order_with_crlf_and_a_byte_order_mark(in_tmp: Path) -> None:
    text = (
        "unit_price,quantity,category,sku,at,customer_id,type,event_id,purchase_id\r\n"
        "4.50,2,coffee,latte,2026-03-01T09:30:00Z,c1,purchase,p1,\r\n"
    )
    Path("h.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    [purchase] = read_history("h.csv")
    assert purchase == Purchase(
        id="p1",
        customer_id="c1",
        at=datetime.fromisoformat("2026-03-01T09:30:00+00:00"),
        lines=(Line(sku="latte", category="coffee", quantity=2, unit_price=Decimal("4.50")),),
    )


def test_history_text_in_memory_reads_like_a_file() -> None:
    text = (DATA / "small.jsonl").read_text()
    assert list(parse_history_text(text, "jsonl")) == SMALL_HISTORY


@pytest.mark.parametrize("name", ["customers.csv", "customers.jsonl", "customers.json"])
def test_each_format_reads_the_same_customers(name: str) -> None:
    assert list(read_customers(DATA / name)) == [
        Customer(
            customer_id="c-1",
            joined_at=datetime.fromisoformat("2025-11-02T08:00:00+01:00"),
            birthday=MonthDay(month=7, day=14),
        ),
        Customer(customer_id="c-2", birthday=MonthDay(month=2, day=29), referred_by="c-1"),
    ]


# --- redemptions -------------------------------------------------------------------------

REDEEMING = {
    "h.csv": (
        "event_id,type,customer_id,at,reward,sku,category,quantity,unit_price,purchase_id,store\n"
        "p1,purchase,c-1,2026-04-01T09:30:00-04:00,,latte,coffee,2,4.50,,downtown\n"
        "p1,purchase,c-1,2026-04-01T09:30:00-04:00,,bagel,,1,2.25,,downtown\n"
        "p2,purchase,c-2,2026-04-02T12:00:00Z,,beans,,3,12.00,,\n"
        "r1,refund,c-2,2026-04-03T10:00:00+01:00,,beans,,1,,p2,\n"
        "x1,redemption,c-1,2026-05-01T10:00:00-04:00,free-drink,,,,,,\n"
        "x2,redemption,c-2,2026-05-02T08:15:00Z,tote-bag,,,,,,\n"
    ),
    "h.jsonl": (
        '{"type": "purchase", "id": "p1", "customer_id": "c-1", "at": "2026-04-01T09:30:00-04:00", '
        '"store": "downtown", "lines": [{"sku": "latte", "category": "coffee", "quantity": 2, '
        '"unit_price": 4.50}, {"sku": "bagel", "quantity": 1, "unit_price": "2.25"}]}\n'
        '{"type": "purchase", "id": "p2", "customer_id": "c-2", "at": "2026-04-02T12:00:00Z", '
        '"lines": [{"sku": "beans", "quantity": 3, "unit_price": 12.00}]}\n'
        '{"type": "refund", "id": "r1", "customer_id": "c-2", "at": "2026-04-03T10:00:00+01:00", '
        '"purchase_id": "p2", "lines": [{"sku": "beans", "quantity": 1}]}\n'
        "\n"
        '{"type": "redemption", "id": "x1", "customer_id": "c-1", '
        '"at": "2026-05-01T10:00:00-04:00", "reward": "free-drink"}\n'
        '{"reward": "tote-bag", "at": "2026-05-02T08:15:00Z", "customer_id": "c-2", "id": "x2", '
        '"type": "redemption"}\n'
    ),
    "h.json": (
        '{"events": [\n'
        '  {"type": "purchase", "id": "p1", "customer_id": "c-1", '
        '"at": "2026-04-01T09:30:00-04:00", "store": "downtown",\n'
        '   "lines": [{"sku": "latte", "category": "coffee", "quantity": 2, "unit_price": 4.50},\n'
        '             {"sku": "bagel", "quantity": 1, "unit_price": "2.25"}]},\n'
        '  {"type": "purchase", "id": "p2", "customer_id": "c-2", "at": "2026-04-02T12:00:00Z",\n'
        '   "lines": [{"sku": "beans", "quantity": 3, "unit_price": 12.00}]},\n'
        '  {"type": "refund", "id": "r1", "customer_id": "c-2", '
        '"at": "2026-04-03T10:00:00+01:00", "purchase_id": "p2",\n'
        '   "lines": [{"sku": "beans", "quantity": 1}]},\n'
        '  {"type": "redemption", "id": "x1", "customer_id": "c-1", '
        '"at": "2026-05-01T10:00:00-04:00",\n'
        '   "reward": "free-drink"},\n'
        '    {"type": "redemption", "id": "x2", "customer_id": "c-2", '
        '"at": "2026-05-02T08:15:00Z", "reward": "tote-bag"}\n'
        "]}\n"
    ),
}

REDEEMING_HISTORY: list[AnyEvent] = [
    Purchase(
        id="p1",
        customer_id="c-1",
        at=datetime.fromisoformat("2026-04-01T09:30:00-04:00"),
        lines=(
            Line(sku="latte", category="coffee", quantity=2, unit_price=Decimal("4.50")),
            Line(sku="bagel", quantity=1, unit_price=Decimal("2.25")),
        ),
        store="downtown",
    ),
    Purchase(
        id="p2",
        customer_id="c-2",
        at=datetime.fromisoformat("2026-04-02T12:00:00+00:00"),
        lines=(Line(sku="beans", quantity=3, unit_price=Decimal("12.00")),),
    ),
    Refund(
        id="r1",
        customer_id="c-2",
        at=datetime.fromisoformat("2026-04-03T10:00:00+01:00"),
        purchase_id="p2",
        lines=(RefundLine(sku="beans", quantity=1),),
    ),
    Redemption(
        id="x1",
        customer_id="c-1",
        at=datetime.fromisoformat("2026-05-01T10:00:00-04:00"),
        reward="free-drink",
    ),
    Redemption(
        id="x2",
        customer_id="c-2",
        at=datetime.fromisoformat("2026-05-02T08:15:00+00:00"),
        reward="tote-bag",
    ),
]

REDEEMING_STARTS = {
    "h.csv": [(2, 1), (4, 1), (5, 1), (6, 1), (7, 1)],
    "h.jsonl": [(1, 1), (2, 1), (3, 1), (5, 1), (6, 1)],
    "h.json": [(2, 3), (5, 3), (7, 3), (9, 3), (11, 5)],
}


@pytest.mark.parametrize("name", sorted(REDEEMING))
def test_each_format_reads_redemptions_among_purchases_and_refunds(in_tmp: Path, name: str) -> None:
    Path(name).write_text(REDEEMING[name], newline="")
    events = list(read_history(name))
    assert events == REDEEMING_HISTORY
    assert [(e.id, e.at.isoformat(), e.reward) for e in events if isinstance(e, Redemption)] == [
        ("x1", "2026-05-01T10:00:00-04:00", "free-drink"),
        ("x2", "2026-05-02T08:15:00+00:00", "tote-bag"),
    ]


@pytest.mark.parametrize("name", sorted(REDEEMING))
def test_locate_event_finds_redemptions_too(in_tmp: Path, name: str) -> None:
    Path(name).write_text(REDEEMING[name], newline="")
    assert [locate_event(name, event.id) for event in REDEEMING_HISTORY] == [
        Location(name, line, column) for line, column in REDEEMING_STARTS[name]
    ]


def test_a_history_without_redemptions_needs_no_reward_column() -> None:
    assert "reward" not in (DATA / "small.csv").read_text()
    assert list(read_history(DATA / "small.csv")) == SMALL_HISTORY


def test_a_redemption_row_may_come_between_the_rows_of_other_events(in_tmp: Path) -> None:
    Path("h.csv").write_text(
        REWARD_HEADER
        + ROW.replace(",\n", ",,\n")
        + REDEEM_ROW
        + ROW.replace("p1", "p2")[:-1]
        + ",\n"
    )
    assert [(event.type, event.id) for event in read_history("h.csv")] == [
        ("purchase", "p1"),
        ("redemption", "x1"),
        ("purchase", "p2"),
    ]


# --- referrals ----------------------------------------------------------------------------

REFERRAL = (
    '{"type": "referral", "id": "f-p1", "customer_id": "c1", "at": "2026-03-04T10:00:00+01:00", '
    '"referred": "c9", "rule": "bring-a-friend"}'
)
REFERRAL_FACT = ReferralQualified(
    id="f-p1",
    customer_id="c1",
    at=datetime.fromisoformat("2026-03-04T10:00:00+01:00"),
    referred="c9",
    rule="bring-a-friend",
)


@pytest.mark.parametrize("name", ["h.jsonl", "h.json"])
def test_a_json_history_reads_a_referral_among_purchases(in_tmp: Path, name: str) -> None:
    purchase = (
        '{"type": "purchase", "id": "p1", "customer_id": "c1", '
        + MOMENT
        + (', "lines": [{"sku": "latte", "quantity": 1, "unit_price": "4.50"}]}')
    )
    lines = [purchase, REFERRAL]
    text = "\n".join(lines) + "\n" if name == "h.jsonl" else "[\n" + ",\n".join(lines) + "\n]"
    Path(name).write_text(text)
    events = list(read_history(name))
    assert [type(event) for event in events] == [Purchase, ReferralQualified]
    assert events[1] == REFERRAL_FACT
    assert locate_event(name, "f-p1") == Location(name, 2 if name == "h.jsonl" else 3, 1)


def test_a_referral_in_json_lines_needs_the_friend_and_the_rule(in_tmp: Path) -> None:
    Path("h.jsonl").write_text(REFERRAL.replace('"referred": "c9", ', "") + "\n")
    assert error_of("h.jsonl") == "h.jsonl:1:1: referred: 'referred' is required here"


def test_a_misspelt_key_of_a_referral_gets_a_suggestion(in_tmp: Path) -> None:
    Path("h.jsonl").write_text(REFERRAL.replace('"referred"', '"refered"') + "\n")
    with pytest.raises(HistoryError) as info:
        list(read_history("h.jsonl"))
    assert [str(problem) for problem in info.value.problems] == [
        "h.jsonl:1:1: referred: 'referred' is required here",
        "h.jsonl:1:1: refered: unknown key 'refered' (did you mean 'referred'?)",
    ]


def test_a_csv_history_refuses_a_referral_row_and_says_where_to_write_it(in_tmp: Path) -> None:
    Path("h.csv").write_text(HEADER + ROW + "f-p1,referral,c1,2026-03-04T09:00:00Z,,,,,\n")
    events = read_history("h.csv")
    assert next(events).id == "p1"
    with pytest.raises(HistoryError) as info:
        next(events)
    [problem] = info.value.problems
    assert (problem.location, problem.path, problem.code) == (
        Location("h.csv", 3, 1),
        ("type",),
        "unknown-type",
    )
    assert problem.message == (
        "a referral is read from JSON or JSON Lines histories only, not from CSV; "
        "evaluate finds referrals itself when the friend's purchases are in the history"
    )
    assert problem.suggestion == (
        "if the friend's purchases are not in the history, put the referral in a .jsonl file: "
        '{"type": "referral", "id": ..., "customer_id": ..., "at": ..., "referred": ..., '
        '"rule": ...}'
    )


def test_a_csv_history_names_only_the_types_it_can_hold() -> None:
    with pytest.raises(HistoryError) as info:
        list(parse_history_text(HEADER + ROW.replace("purchase", "gift"), "csv", source="h.csv"))
    assert (
        str(info.value)
        == "h.csv:2:1: type: must be 'purchase', 'refund', 'redemption' or 'cancel_redemption' "
        "(got 'gift')"
    )


# --- laziness -----------------------------------------------------------------------------


def refund_line(number: int) -> str:
    """A refund; the third one lacks its purchase_id."""
    purchase = "p" if number < 3 else ""
    return (
        f'{{"type": "refund", "id": "r{number}", "customer_id": "c1", {MOMENT}, '
        f'"purchase_id": "{purchase}"}}'
    )


THIRD_EVENT_BAD = {
    "h.csv": HEADER + ROW + ROW.replace("p1", "p2") + ROW.replace("p1", "p3").replace("4.50", "x"),
    "h.jsonl": "".join(refund_line(number) + "\n" for number in (1, 2, 3)),
    "h.json": "[" + ",\n".join(refund_line(number) for number in (1, 2, 3)) + "]",
}


@pytest.mark.parametrize("name", sorted(THIRD_EVENT_BAD))
def test_events_before_a_bad_one_are_yielded_first(in_tmp: Path, name: str) -> None:
    Path(name).write_text(THIRD_EVENT_BAD[name])
    events = read_history(name)
    assert next(events).id.endswith("1")
    assert next(events).id.endswith("2")
    with pytest.raises(HistoryError) as info:
        next(events)
    [problem] = info.value.problems
    assert problem.location == Location(name, 4 if name.endswith(".csv") else 3, 1)


def test_a_missing_file_is_reported_by_the_call_itself() -> None:
    with pytest.raises(HistoryError) as info:
        read_history("no/such/history.csv")
    assert str(info.value) == "cannot read no/such/history.csv: there is no such file"


# --- errors that point at the input -------------------------------------------------------

ERRORS = {
    "naive timestamp": (
        "h.csv",
        HEADER + ROW.replace("09:30:00Z", "09:30:00"),
        "h.csv:2:1: at: timestamp has no UTC offset; write it like 2026-03-01T09:30:00+01:00 "
        "or 2026-03-01T09:30:00Z (got '2026-03-01T09:30:00')",
    ),
    "naive timestamp in JSON Lines": (
        "h.jsonl",
        '{"type": "refund", "id": "r", "customer_id": "c", "at": "2026-03-01", "purchase_id": "p"}',
        "h.jsonl:1:1: at: timestamp has no UTC offset; write it like 2026-03-01T09:30:00+01:00 "
        "or 2026-03-01T09:30:00Z (got '2026-03-01')",
    ),
    "timestamp that is a number": (
        "h.jsonl",
        '{"type": "refund", "id": "r", "customer_id": "c", "at": 1772357400, "purchase_id": "p"}',
        "h.jsonl:1:1: at: must be a timestamp written as text, like 2026-03-01T09:30:00+01:00, "
        "not a number of seconds since 1970 (got 1772357400)",
    ),
    "money with a decimal comma": (
        "h.csv",
        HEADER + ROW.replace("4.50", '"4,50"'),
        f"h.csv:2:1: unit_price: must be {AMOUNT_HELP} (got '4,50') (if the file writes amounts "
        "with a decimal comma, re-export it with a point, or read it with decimal_comma=True)",
    ),
    "money with a currency sign": (
        "h.csv",
        HEADER + ROW.replace("4.50", "$4.50"),
        f"h.csv:2:1: unit_price: must be {AMOUNT_HELP} (got '$4.50') (write 4.50)",
    ),
    "money with an exponent": (
        "h.csv",
        HEADER + ROW.replace("4.50", "1e3"),
        f"h.csv:2:1: unit_price: must be {AMOUNT_HELP} (got '1e3')",
    ),
    "money left empty": (
        "h.csv",
        HEADER + ROW.replace("4.50", ""),
        "h.csv:2:1: unit_price: 'unit_price' is required here",
    ),
    "negative money": (
        "h.csv",
        HEADER + ROW.replace("4.50", "-4.50"),
        "h.csv:2:1: unit_price: must be at least 0 (got -4.50)",
    ),
    "money as JSON text with spaces": (
        "h.jsonl",
        '{"type": "purchase", "id": "p", "customer_id": "c", ' + MOMENT + ", "
        '"lines": [{"sku": "a", "quantity": 1, "unit_price": " 4.50"}]}',
        f"h.jsonl:1:1: lines[0].unit_price: must be {AMOUNT_HELP} (got ' 4.50') (write 4.50)",
    ),
    "negative quantity": (
        "h.csv",
        HEADER + ROW.replace(",1,", ",-1,"),
        "h.csv:2:1: quantity: must be at least 1 (got -1)",
    ),
    "zero quantity on a second row": (
        "h.csv",
        HEADER + ROW + ROW.replace(",1,", ",0,"),
        "h.csv:3:1: quantity: must be at least 1 (got 0)",
    ),
    "fractional quantity": (
        "h.csv",
        HEADER + ROW.replace(",1,", ",1.5,"),
        "h.csv:2:1: quantity: must be a whole number written with digits, like 2 (got '1.5')",
    ),
    "quantity in other digits": (
        "h.csv",
        HEADER + ROW.replace(",1,", ",\N{FULLWIDTH DIGIT ONE},"),
        "h.csv:2:1: quantity: must be a whole number written with digits, like 2 "
        "(got '\N{FULLWIDTH DIGIT ONE}')",
    ),
    "JSON quantity written as 1.0": (
        "h.jsonl",
        '{"type": "refund", "id": "r", "customer_id": "c", ' + MOMENT + ', "purchase_id": "p", '
        '"lines": [{"sku": "a", "quantity": 1.0}]}',
        "h.jsonl:1:1: lines[0].quantity: must be a whole number written with digits, like 2 "
        "(got 1.0)",
    ),
    "missing column": (
        "h.csv",
        HEADER.replace("category,", "") + ROW.replace("coffee,", ""),
        "h.csv:1:1: the header has no 'category' column",
    ),
    "unknown columns": (
        "h.csv",
        HEADER.replace("unit_price", "price").replace("\n", ",note\n"),
        "h.csv:1:1: unknown column 'price' (did you mean 'unit_price'?)\n"
        "h.csv:1:1: unknown column 'note' (the columns are event_id, type, customer_id, at, "
        "sku, category, quantity, unit_price, purchase_id, store, reward, payments, "
        "redemption_id)\n"
        "h.csv:1:1: the header has no 'unit_price' column",
    ),
    "empty file": (
        "h.csv",
        "",
        "h.csv:1:1: the file is empty; its first line must be the header "
        "event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id",
    ),
    "short row": (
        "h.csv",
        HEADER + "p1,purchase\n",
        "h.csv:2:1: this row has 2 cells but the header has 9 columns",
    ),
    "split event rows": (
        "h.csv",
        HEADER + ROW + ROW.replace("p1", "p2") + ROW,
        "h.csv:4:1: event_id: event 'p1' appears again (its first rows start on line 2); the "
        "rows of one event must be adjacent, and an event id is used by one event only "
        "(remove the rows of a re-sent export before reading)",
    ),
    "rows of one event that disagree": (
        "h.csv",
        HEADER + ROW + ROW.replace("c1", "c2"),
        "h.csv:3:1: customer_id: is 'c2' here but 'c1' on line 2, the first row of event 'p1'; "
        "the rows of one event must agree",
    ),
    "a cell spanning two lines": (
        "h.csv",
        HEADER + ROW.replace("p1", "p0") + ROW.replace("latte", '"lat\nte"'),
        "h.csv:3:1: sku: must not hold the control character U+000A (got 'lat\\nte')",
    ),
    "a row after a cell spanning two lines": (
        "h.csv",
        HEADER + ROW.replace("coffee", '"cof\nfee"') + "p2,purchase\n",
        "h.csv:4:1: this row has 2 cells but the header has 9 columns",
    ),
    "refund without purchase_id": (
        "h.csv",
        HEADER + "r1,refund,c1,2026-03-01T09:30:00Z,latte,,1,,\n",
        "h.csv:2:1: purchase_id: 'purchase_id' is required here",
    ),
    "refund without purchase_id in JSON Lines": (
        "h.jsonl",
        '{"type": "refund", "id": "r1", "customer_id": "c1", ' + MOMENT + "}",
        "h.jsonl:1:1: purchase_id: 'purchase_id' is required here",
    ),
    "purchase with a purchase_id": (
        "h.csv",
        HEADER + ROW.replace(",\n", ",p0\n"),
        "h.csv:2:1: purchase_id: must be empty for a purchase; only a refund names a purchase",
    ),
    "refund with a price": (
        "h.csv",
        HEADER + "r1,refund,c1,2026-03-01T09:30:00Z,latte,,1,4.50,p1\n",
        "h.csv:2:1: unit_price: must be empty for a refund",
    ),
    "whole refund mixed with lines": (
        "h.csv",
        HEADER + "r1,refund,c1,2026-03-01T09:30:00Z,,,,,p1\n"
        "r1,refund,c1,2026-03-01T09:30:00Z,latte,,1,,p1\n",
        "h.csv:3:1: sku: a refund row with empty sku and quantity returns the whole purchase, "
        "so it must be the only row of its event",
    ),
    "unknown type": (
        "h.csv",
        HEADER + ROW.replace("purchase", "sale"),
        "h.csv:2:1: type: must be 'purchase', 'refund', 'redemption' or 'cancel_redemption' "
        "(got 'sale')",
    ),
    "unknown type in JSON": (
        "h.json",
        '[\n  {"type": "return", "id": "r1"}\n]',
        "h.json:2:3: type: must be 'purchase', 'refund', 'redemption', 'cancel_redemption' "
        "or 'referral' (got 'return')",
    ),
    "missing type": (
        "h.jsonl",
        '{"id": "r1"}',
        "h.jsonl:1:1: type: 'type' is required here: 'purchase', 'refund', 'redemption', "
        "'cancel_redemption' or 'referral'",
    ),
    "NaN in JSON": (
        "h.json",
        '{"events": [\n  {"type": "purchase", "id": "p1", "customer_id": "c1", ' + MOMENT + ",\n"
        '   "lines": [{"sku": "a", "quantity": 1, "unit_price": NaN}]}\n]}',
        f"h.json:2:3: NaN is not a number; write {AMOUNT_HELP}",
    ),
    "duplicate JSON key": (
        "h.jsonl",
        "\n" + '{"type": "purchase", "id": "p1", "id": "p2"}',
        "h.jsonl:2:1: key 'id' appears twice in one object",
    ),
    "malformed JSON line": (
        "h.jsonl",
        '{"type": "purchase", "id": "p1" "customer_id": "c1"}',
        "h.jsonl:1:33: not valid JSON: Expecting ',' delimiter",
    ),
    "malformed JSON document": (
        "h.json",
        "[\n  " + refund_line(1) + ',\n  {"type": "refund"\n]',
        "h.json:4:1: not valid JSON: Expecting ',' delimiter",
    ),
    "trailing comma in a JSON list": (
        "h.json",
        '[{"type": "refund", "id": "r1", "customer_id": "c1", ' + MOMENT + ', "purchase_id": "p"},'
        "\n]",
        "h.json:2:1: not valid JSON: Expecting value",
    ),
    "JSON object without events": (
        "h.json",
        '{"event": []}',
        'h.json:1:3: the file must hold a list [...] or an object {"events": [...]} '
        "(found key 'event')",
    ),
    "a numeric id and an unknown key": (
        "h.jsonl",
        '{"type": "purchase", "id": 7, "customer_id": "c1", ' + MOMENT + ", "
        '"lines": [{"sku": "a", "quantity": 1, "unit_price": 4.5, "price": 1}]}',
        "h.jsonl:1:1: id: expected text (got the number 7); put it in quotes, e.g. '7'\n"
        "h.jsonl:1:1: lines[0].price: unknown key 'price' (did you mean 'unit_price'?)",
    ),
    "an event id used twice": (
        "h.jsonl",
        '{"type": "refund", "id": "r1", "customer_id": "c1", ' + MOMENT + ', "purchase_id": "p"}\n'
        '{"type": "refund", "id": "r1", "customer_id": "c1", ' + MOMENT + ', "purchase_id": "q"}',
        "h.jsonl:2:1: id: event 'r1' appears twice (first on line 1)",
    ),
    "a duplicated column": (
        "h.csv",
        HEADER.replace("\n", ",type\n"),
        "h.csv:1:1: column 'type' appears twice",
    ),
    "a cell too long for CSV": (
        "h.csv",
        HEADER + "x" * 200_000 + "\n",
        "h.csv:2:1: a cell is longer than 131072 characters (is a quote left open?)",
    ),
    "a refund with a store": (
        "h.csv",
        HEADER.replace("\n", ",store\n") + "r1,refund,c1,2026-03-01T09:30:00Z,,,,,p1,downtown\n",
        "h.csv:2:1: store: must be empty for a refund",
    ),
    "an event that is not an object": (
        "h.json",
        "[1]",
        "h.json:1:2: an event must be an object {...} (got 1)",
    ),
    "a line that is not an object and a null id": (
        "h.jsonl",
        '{"type": "purchase", "id": null, "customer_id": "c", "lines": ["x"], ' + MOMENT + "}",
        "h.jsonl:1:1: id: expected text, but nothing is written here\n"
        "h.jsonl:1:1: lines[0]: expected a mapping of keys and values (got the text 'x')",
    ),
    "two JSON events without a comma": (
        "h.json",
        "[" + refund_line(1) + " " + refund_line(2) + "]",
        "h.json:1:104: not valid JSON: Expecting ',' delimiter",
    ),
    "text after the JSON list": (
        "h.json",
        "[]\nx",
        "h.json:2:1: not valid JSON: Extra data",
    ),
    "a key after the events list": (
        "h.json",
        '{"events": [], "x": 1}',
        "h.json:1:14: the object must hold only 'events'",
    ),
    "JSON nested too deeply": (
        "h.json",
        "[" + "[" * 100_000 + "]" * 100_000 + "]",
        "h.json:1:2: not valid JSON: it is nested too deeply",
    ),
    "a JSON number too large to read": (
        "h.jsonl",
        '{"type": "refund", "id": "r1", "lines": [{"sku": "a", "quantity": ' + "9" * 5000 + "}]}",
        "h.jsonl:1:1: not valid JSON: a number is too large",
    ),
    "Infinity in JSON Lines": (
        "h.jsonl",
        '{"type": "purchase", "lines": [{"unit_price": -Infinity}]}',
        f"h.jsonl:1:1: -Infinity is not a number; write {AMOUNT_HELP}",
    ),
    "a quantity with too many digits": (
        "h.csv",
        HEADER + ROW.replace(",1,", ",1000000000000000000000,"),
        "h.csv:2:1: quantity: must have at most 18 digits (got '1000000000000000000000')",
    ),
    "a redemption without a reward": (
        "h.csv",
        REWARD_HEADER + ROW.replace(",\n", ",,\n") + REDEEM_ROW.replace("free-drink", ""),
        "h.csv:3:1: reward: 'reward' is required here",
    ),
    "a redemption in a file without a reward column": (
        "h.csv",
        HEADER + "x1,redemption,c1,2026-03-05T08:00:00Z,,,,,\n",
        "h.csv:2:1: reward: 'reward' is required here; the header has no 'reward' column "
        "(add a 'reward' column holding the catalogue reward's id)",
    ),
    "a redemption without a reward in JSON Lines": (
        "h.jsonl",
        '{"type": "redemption", "id": "x1", "customer_id": "c1", ' + MOMENT + "}",
        "h.jsonl:1:1: reward: 'reward' is required here",
    ),
    "a reward on a purchase row": (
        "h.csv",
        REWARD_HEADER + ROW.replace("\n", ",free-drink\n"),
        "h.csv:2:1: reward: must be empty for a purchase; only a redemption names a reward",
    ),
    "a reward on a refund row": (
        "h.csv",
        REWARD_HEADER + "r1,refund,c1,2026-03-01T09:30:00Z,,,,,p1,free-drink\n",
        "h.csv:2:1: reward: must be empty for a refund; only a redemption names a reward",
    ),
    "a sku on a redemption row": (
        "h.csv",
        REWARD_HEADER + REDEEM_ROW.replace(",,,,,,", ",latte,,,,,"),
        "h.csv:2:1: sku: must be empty for a redemption; only a purchase or refund has lines",
    ),
    "a price on a redemption row": (
        "h.csv",
        REWARD_HEADER + REDEEM_ROW.replace(",,,,,,", ",,,,4.50,,"),
        "h.csv:2:1: unit_price: must be empty for a redemption; only a purchase or refund has "
        "lines",
    ),
    "a purchase_id on a redemption row": (
        "h.csv",
        REWARD_HEADER + REDEEM_ROW.replace(",,,,,,", ",,,,,p1,"),
        "h.csv:2:1: purchase_id: must be empty for a redemption; only a refund names a purchase",
    ),
    "a store on a redemption row": (
        "h.csv",
        HEADER.replace("\n", ",store,reward\n") + REDEEM_ROW.replace(",,,,,,", ",,,,,,downtown,"),
        "h.csv:2:1: store: must be empty for a redemption",
    ),
    "a redemption on two rows": (
        "h.csv",
        REWARD_HEADER + REDEEM_ROW + REDEEM_ROW.replace("free-drink", "tote"),
        "h.csv:3:1: event_id: event 'x1' appears twice (first on line 2); a redemption is one "
        "row (remove the rows of a re-sent export before reading)",
    ),
    "a redemption id that comes back": (
        "h.csv",
        REWARD_HEADER + REDEEM_ROW + ROW.replace(",\n", ",,\n") + REDEEM_ROW,
        "h.csv:4:1: event_id: event 'x1' appears again (its first rows start on line 2); the "
        "rows of one event must be adjacent, and an event id is used by one event only "
        "(remove the rows of a re-sent export before reading)",
    ),
    "a redemption id used by a purchase": (
        "h.jsonl",
        '{"type": "redemption", "id": "p1", "customer_id": "c1", ' + MOMENT + ', "reward": "a"}\n'
        '{"type": "purchase", "id": "p1", "customer_id": "c1", ' + MOMENT + ", "
        '"lines": [{"sku": "a", "quantity": 1, "unit_price": 1}]}',
        "h.jsonl:2:1: id: event 'p1' appears twice (first on line 1)",
    ),
    "an unknown key in a JSON redemption": (
        "h.json",
        '[\n  {"type": "redemption", "id": "x1", "customer_id": "c1", ' + MOMENT + ",\n"
        '   "reward_id": "free-drink"}\n]',
        "h.json:2:3: reward: 'reward' is required here\n"
        "h.json:2:3: reward_id: unknown key 'reward_id' (did you mean 'reward'?)",
    ),
    "lines on a JSON Lines redemption": (
        "h.jsonl",
        '{"type": "redemption", "id": "x1", "customer_id": "c1", ' + MOMENT + ', "reward": "a", '
        '"lines": [{"sku": "a", "quantity": 1}]}',
        "h.jsonl:1:1: lines: unknown key 'lines'",
    ),
    "unknown extension": (
        "h.txt",
        "",
        "cannot tell the format of h.txt from its extension; "
        "name it .csv, .jsonl, .json or .parquet, or give the format "
        "(format='csv' from Python, --history-format csv on the command line)",
    ),
}


@pytest.mark.parametrize(("name", "text", "expected"), ERRORS.values(), ids=list(ERRORS))
def test_errors_name_the_file_line_field_and_fix(
    in_tmp: Path, name: str, text: str, expected: str
) -> None:
    Path(name).write_text(text, newline="")
    assert error_of(name) == expected


def test_bytes_that_are_not_utf8_are_located_by_offset(in_tmp: Path) -> None:
    Path("h.csv").write_bytes((HEADER + ROW.replace("latte", "café")).encode("latin-1"))
    with pytest.raises(HistoryError) as info:
        list(read_history("h.csv"))
    assert str(info.value) == (
        "h.csv:2:40: the file is not UTF-8: byte 0xE9 at offset 113 cannot be read "
        "(re-save the file as UTF-8 (in Excel: CSV UTF-8), or read it with encoding='cp1252' "
        "if it was saved on Windows)"
    )
    assert (HEADER + ROW).encode().index(b"latte") + 3 == 113


@pytest.mark.parametrize("name", ["h.csv", "h.jsonl", "h.json"])
def test_a_directory_is_not_a_history(in_tmp: Path, name: str) -> None:
    Path(name).mkdir()
    assert error_of(name) == f"cannot read {name}: it is a directory"


def test_an_unknown_format_name_is_refused() -> None:
    with pytest.raises(HistoryError) as info:
        parse_history_text("", "xml")  # type: ignore[arg-type]
    assert str(info.value) == "unknown format 'xml'; use 'csv', 'jsonl', 'json' or 'parquet'"


CUSTOMER_ERRORS = {
    "naive joined_at": (
        "c.csv",
        "customer_id,joined_at\nc1,2025-11-02T08:00:00\n",
        "c.csv:2:1: joined_at: timestamp has no UTC offset; write it like "
        "2026-03-01T09:30:00+01:00 or 2026-03-01T09:30:00Z (got '2025-11-02T08:00:00')",
    ),
    "a birthday that is not a day": (
        "c.jsonl",
        '{"customer_id": "c1", "birthday": "02-30"}',
        "c.jsonl:1:1: birthday: '02-30' is not a day of the year",
    ),
    "a customer listed twice": (
        "c.json",
        '[{"customer_id": "c1"},\n {"customer_id": "c1", "birthday": "07-14"}]',
        "c.json:2:2: customer_id: customer 'c1' appears twice (first on line 1)",
    ),
    "a customer that is not an object": (
        "c.jsonl",
        '"c1"',
        "c.jsonl:1:1: a customer must be an object {...} (got 'c1')",
    ),
    "an unknown column": (
        "c.csv",
        "customer_id,birthdate\n",
        "c.csv:1:1: unknown column 'birthdate' (did you mean 'birthday'?)",
    ),
}


@pytest.mark.parametrize(
    ("name", "text", "expected"), CUSTOMER_ERRORS.values(), ids=list(CUSTOMER_ERRORS)
)
def test_customer_errors_are_located_too(in_tmp: Path, name: str, text: str, expected: str) -> None:
    Path(name).write_text(text)
    with pytest.raises(HistoryError) as info:
        list(read_customers(name))
    assert str(info.value) == expected


def test_a_json_syntax_error_shows_the_line_with_a_caret(in_tmp: Path) -> None:
    Path("h.jsonl").write_text('{"type": "refund" "id": "r1"}\n')
    with pytest.raises(HistoryError) as info:
        list(read_history("h.jsonl"))
    assert info.value.render() == (
        "h.jsonl:1:19: not valid JSON: Expecting ',' delimiter\n"
        '    {"type": "refund" "id": "r1"}\n'
        "                      ^"
    )


# --- locating an event --------------------------------------------------------------------

SMALL_STARTS = {
    "small.csv": [(2, 1), (4, 1), (5, 1), (6, 1)],
    "small.jsonl": [(1, 1), (2, 1), (4, 1), (5, 1)],
    "small.json": [(3, 5), (14, 5), (21, 5), (29, 5)],
}


@pytest.mark.parametrize("name", SMALL_FILES)
def test_locate_event_finds_the_line_where_each_event_starts(name: str) -> None:
    path = DATA / name
    assert [locate_event(path, event.id) for event in read_history(path)] == [
        Location(str(path), line, column) for line, column in SMALL_STARTS[name]
    ]


@pytest.mark.parametrize("name", sorted(THIRD_EVENT_BAD))
def test_locate_event_points_where_the_reader_points(in_tmp: Path, name: str) -> None:
    Path(name).write_text(THIRD_EVENT_BAD[name])
    with pytest.raises(HistoryError) as info:
        list(read_history(name))
    third = "p3" if name.endswith(".csv") else "r3"
    assert locate_event(name, third) == info.value.problems[0].location


@pytest.mark.parametrize("name", SMALL_FILES)
def test_locate_event_of_an_id_not_in_the_file_is_none(name: str) -> None:
    assert locate_event(DATA / name, "p9") is None
    assert locate_event(DATA / name, "c-1") is None  # a customer id is not an event id


def test_locate_event_counts_physical_lines_after_a_bom_and_a_quoted_line_break(
    in_tmp: Path,
) -> None:
    text = HEADER.replace("\n", ",store\n") + ROW.replace(",\n", ',"Lyon,\n2e"\n') + ROW
    text = "\ufeff" + text.replace("p1", "p2", 1).replace("p1", "p3")
    Path("h.csv").write_text(text, encoding="utf-8")
    assert locate_event("h.csv", "p3") == Location("h.csv", 4, 1)


def test_locate_event_finds_an_id_spelt_with_escapes_in_json_lines(in_tmp: Path) -> None:
    Path("h.ndjson").write_text('{"id": "p1"}\n\n{"id": "\\u0072\\u0031"}\n')
    assert locate_event("h.ndjson", "r1") == Location("h.ndjson", 3, 1)
    assert locate_event("h.ndjson", "r1", format="json") is None  # not one JSON value


def test_locate_event_reads_a_streamed_file_only_as_far_as_the_event(in_tmp: Path) -> None:
    Path("h.csv").write_text(HEADER + ROW + "x" * 200_000 + "\n")
    Path("h.jsonl").write_text('{"id": "p1"}\n{"id": "p1"\n')
    assert locate_event("h.csv", "p1") == Location("h.csv", 2, 1)
    assert locate_event("h.jsonl", "p1") == Location("h.jsonl", 1, 1)


DAMAGED = {
    "a missing file": ("missing.csv", None),
    "bytes that are not UTF-8": ("h.csv", (HEADER + ROW.replace("latte", "café")).encode("cp1252")),
    "a CSV field over the size limit": ("h.csv", HEADER + "x" * 200_000 + "\n" + ROW),
    "a CSV header without event_id": ("h.csv", HEADER.replace("event_id", "id") + ROW),
    "an empty CSV file": ("h.csv", ""),
    "a JSON Lines line that cannot be decoded": ("h.jsonl", '{"id": "p1", "id": "p1"}\n'),
    "a JSON Lines syntax error": ("h.jsonl", '{"id": "p1" "type": "purchase"}\n'),
    "a NaN in JSON Lines": ("h.jsonl", '{"id": "p1", "lines": [{"unit_price": NaN}]}\n'),
    "JSON broken before the event": ("h.json", '[{"id": "p0"} {"id": "p1"}]'),
    "JSON that is not a list": ("h.json", '{"orders": [{"id": "p1"}]}'),
    "JSON nested too deeply": ("h.json", "[" + "[" * 100_000 + "]" * 100_000 + "]"),
}


@pytest.mark.parametrize(("name", "content"), DAMAGED.values(), ids=list(DAMAGED))
def test_locate_event_in_a_damaged_file_is_none(
    in_tmp: Path, name: str, content: str | bytes | None
) -> None:
    if isinstance(content, str):
        Path(name).write_text(content, encoding="utf-8")
    elif content is not None:
        Path(name).write_bytes(content)
    assert locate_event(name, "p1") is None


def test_locate_event_refuses_an_unknown_format_like_read_history() -> None:
    with pytest.raises(HistoryError) as info:
        locate_event("history.txt", "p1")
    assert str(info.value) == (
        "cannot tell the format of history.txt from its extension; "
        "name it .csv, .jsonl, .json or .parquet, or give the format "
        "(format='csv' from Python, --history-format csv on the command line)"
    )


# --- nothing but HistoryError escapes -----------------------------------------------------

FORMATS: dict[str, Format] = {"small.csv": "csv", "small.jsonl": "jsonl", "small.json": "json"}


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(sorted(FORMATS)),
    start=st.integers(min_value=0, max_value=2000),
    cut=st.integers(min_value=0, max_value=3),
    insert=st.text(alphabet=',"\n\r{}[]:-.0123456789eEZT NaInfulltrue\\\x00é', max_size=3),
)
def test_a_damaged_history_reads_or_raises_history_error(
    name: str, start: int, cut: int, insert: str
) -> None:
    text = (DATA / name).read_text()
    start %= len(text)
    damaged = text[:start] + insert + text[start + cut :]
    with contextlib.suppress(HistoryError):
        list(parse_history_text(damaged, FORMATS[name]))


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=200), extension=st.sampled_from([".csv", ".jsonl", ".json"]))
def test_any_bytes_read_or_raise_history_error(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, extension: str
) -> None:
    path = tmp_path_factory.getbasetemp() / f"fuzz{extension}"
    path.write_bytes(data)
    with contextlib.suppress(HistoryError):
        list(read_history(path))


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(sorted(FORMATS)),
    start=st.integers(min_value=0, max_value=2000),
    cut=st.integers(min_value=0, max_value=3),
    insert=st.text(alphabet=',"\n\r{}[]:-.0123456789eEZT NaInfulltrue\\\x00é', max_size=3),
)
def test_locate_event_in_a_damaged_history_never_raises(
    tmp_path_factory: pytest.TempPathFactory, name: str, start: int, cut: int, insert: str
) -> None:
    text = (DATA / name).read_text()
    start %= len(text)
    path = tmp_path_factory.getbasetemp() / name
    path.write_bytes((text[:start] + insert + text[start + cut :]).encode())
    found = locate_event(path, "r1")
    assert found is None or found.source == str(path)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=200), extension=st.sampled_from([".csv", ".jsonl", ".json"]))
def test_locate_event_in_any_bytes_never_raises(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, extension: str
) -> None:
    path = tmp_path_factory.getbasetemp() / f"locate{extension}"
    path.write_bytes(data)
    found = locate_event(path, "p1")
    assert found is None or found.source == str(path)
