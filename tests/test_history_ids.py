"""Ids and names: one spelling (NFC), nothing invisible, no space at either end, look-alikes
told apart in messages; the same from a file and from Python."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from helpers import at, program
from rewardrules import evaluate, explain, load_program, step
from rewardrules._ids import is_hidden, look_alike, shown_apart
from rewardrules.cli.main import cli
from rewardrules.errors import HistoryError, Location
from rewardrules.events import Customer, Line, Purchase, Redemption, Refund
from rewardrules.histories.columns import events_to_table, read_history_table
from rewardrules.histories.read import locate_event, read_customers, read_history

HEADER = "event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id\n"
MOMENT = "2026-03-01T09:30:00Z"
INVISIBLE_HINT = (
    "delete it: ids and names are compared character by character, "
    "so with it the text is another id that looks the same"
)
CAFE_NFC = "caf\u00e9"
CAFE_NFD = "cafe\u0301"
HIDDEN = [
    ("\u200b", "ZERO WIDTH SPACE"),
    ("\u200c", "ZERO WIDTH NON-JOINER"),
    ("\u200d", "ZERO WIDTH JOINER"),
    ("\u2060", "WORD JOINER"),
    ("\ufeff", "ZERO WIDTH NO-BREAK SPACE"),
    ("\u00a0", "NO-BREAK SPACE"),
    ("\u202f", "NARROW NO-BREAK SPACE"),
    ("\u3000", "IDEOGRAPHIC SPACE"),
    ("\u2028", "LINE SEPARATOR"),
    ("\u202e", "RIGHT-TO-LEFT OVERRIDE"),
    ("\u2066", "LEFT-TO-RIGHT ISOLATE"),
    ("\u00ad", "SOFT HYPHEN"),
    ("\ufe0f", "VARIATION SELECTOR-16"),
    ("\u3164", "HANGUL FILLER"),
]


def purchase(customer_id: str = "c1", event_id: str = "p1", sku: str = "latte") -> Purchase:
    return Purchase(
        id=event_id,
        customer_id=customer_id,
        at=at(),
        lines=(Line(sku=sku, quantity=1, unit_price=Decimal("4.50")),),
    )


def csv_error(tmp_path: Path, rows: str) -> str:
    path = tmp_path / "h.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    with pytest.raises(HistoryError) as caught:
        list(read_history(path))
    return str(caught.value)


# --- invisible characters are refused, named and shown escaped ---------------------------


@pytest.mark.parametrize(("char", "name"), HIDDEN, ids=[name for _, name in HIDDEN])
def test_an_invisible_character_in_a_customer_id_is_named_with_its_position(
    tmp_path: Path, char: str, name: str
) -> None:
    row = f"p1,purchase,c1{char},{MOMENT},latte,,1,4.50,\n"
    code = f"\\u{ord(char):04x}"
    article = "an" if name[0] in "AEIOU" else "a"
    assert csv_error(tmp_path, row) == (
        f"{tmp_path / 'h.csv'}:2:1: customer_id: 'c1{code}' has {article} {name} "
        f"(U+{ord(char):04X}) at position 3 ({INVISIBLE_HINT})"
    )


def test_a_no_break_space_is_refused_from_python_with_the_same_message() -> None:
    with pytest.raises(HistoryError) as caught:
        purchase(customer_id="c1\u00a0")
    [problem] = caught.value.problems
    assert (problem.code, str(problem)) == (
        "invisible-character",
        f"customer_id: 'c1\\u00a0' has a NO-BREAK SPACE (U+00A0) at position 3 ({INVISIBLE_HINT})",
    )


REFUND = '{"type": "refund", "customer_id": "c1", '


@pytest.mark.parametrize(
    ("field", "record"),
    [
        ("id", REFUND + '"id": "r\u200b1", "purchase_id": "p1"'),
        ("purchase_id", REFUND + '"id": "r1", "purchase_id": "p\u200b1"'),
        ("reward", '{"type": "redemption", "id": "x1", "customer_id": "c1", "reward": "r\u200b1"'),
    ],
)
def test_every_id_of_a_json_lines_event_is_checked(tmp_path: Path, field: str, record: str) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text(record + f', "at": "{MOMENT}"}}\n', encoding="utf-8")
    with pytest.raises(HistoryError) as caught:
        list(read_history(path))
    [problem] = caught.value.problems
    assert (problem.code, problem.path, problem.location and problem.location.line) == (
        "invisible-character",
        (field,),
        1,
    )
    assert "ZERO WIDTH SPACE (U+200B) at position 2" in problem.message


def test_a_referrer_id_in_a_customer_file_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("customer_id,referred_by\nc2,c1\u2060\n", encoding="utf-8")
    with pytest.raises(HistoryError) as caught:
        list(read_customers(path))
    assert str(caught.value) == (
        f"{path}:2:1: referred_by: 'c1\\u2060' has a WORD JOINER (U+2060) at position 3 "
        f"({INVISIBLE_HINT})"
    )


def test_a_sku_with_a_zero_width_space_is_refused_so_that_a_filter_cannot_miss_it() -> None:
    with pytest.raises(HistoryError) as caught:
        Line(sku="latte\u200b", quantity=1, unit_price=Decimal(1))
    assert [problem.code for problem in caught.value.problems] == ["invisible-character"]


def test_a_space_at_either_end_of_an_id_is_refused_and_one_inside_is_kept(tmp_path: Path) -> None:
    assert csv_error(tmp_path, f"p1,purchase,c1 ,{MOMENT},latte,,1,4.50,\n") == (
        f"{tmp_path / 'h.csv'}:2:1: customer_id: 'c1 ' ends with a space "
        "(delete the space: ids and names are compared character by character)"
    )
    with pytest.raises(HistoryError, match="' c1' starts with a space"):
        purchase(customer_id=" c1")
    assert purchase(customer_id="Jane Doe").customer_id == "Jane Doe"


def test_a_control_character_keeps_its_own_message() -> None:
    with pytest.raises(HistoryError) as caught:
        purchase(customer_id="c\x001")
    assert [problem.code for problem in caught.value.problems] == ["control-character"]


def test_letters_of_every_script_are_accepted() -> None:
    for name in ("José", "Łódź", "東京", "Ελένη", "محمد", "Jane-Doe_2"):
        assert purchase(customer_id=name).customer_id == name


@given(
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=8),
    st.sampled_from([char for char, _ in HIDDEN]),
    st.data(),
)
def test_any_id_with_an_invisible_character_inserted_is_refused(
    plain: str, hidden: str, data: st.DataObject
) -> None:
    position = data.draw(st.integers(0, len(plain)))
    spoiled = plain[:position] + hidden + plain[position:]
    with pytest.raises(HistoryError) as caught:
        purchase(customer_id=spoiled)
    [problem] = caught.value.problems
    assert problem.code == "invisible-character"
    assert f"at position {position + 1}" in problem.message


# --- one spelling: NFC ---------------------------------------------------------------------


def test_nfc_and_nfd_spellings_of_an_id_are_one_customer() -> None:
    events = [purchase(customer_id=CAFE_NFC), purchase(customer_id=CAFE_NFD, event_id="p2")]
    assert [event.customer_id for event in events] == [CAFE_NFC, CAFE_NFC]
    rules = [{"kind": "points_per_spend", "id": "stars", "points": "1"}]
    [result] = evaluate(program(rules=rules), events).customers
    assert (result.customer_id, result.points) == (CAFE_NFC, 8)


@given(
    st.text(
        st.characters(categories=["Lu", "Ll", "Mn", "Nd"], max_codepoint=0x2FFF),
        min_size=1,
        max_size=6,
    ).filter(lambda text: not any(is_hidden(char) for char in text))
)
def test_every_spelling_of_an_id_reads_as_its_nfc_form(text: str) -> None:
    read = {
        purchase(customer_id=unicodedata.normalize(form, text)).customer_id
        for form in ("NFC", "NFD")
    }
    assert read == {unicodedata.normalize("NFC", text)}


def test_the_rows_of_one_csv_event_may_differ_only_in_spelling(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text(
        HEADER
        + f"p1,purchase,{CAFE_NFC},{MOMENT},latte,,1,4.50,\n"
        + f"p1,purchase,{CAFE_NFD},{MOMENT},bagel,,1,2.00,\n",
        encoding="utf-8",
    )
    [event] = read_history(path)
    assert (event.customer_id, len(event.lines)) == (CAFE_NFC, 2)


def test_an_nfd_event_id_is_located_by_its_nfc_form(tmp_path: Path) -> None:
    csv_path, jsonl_path = tmp_path / "h.csv", tmp_path / "h.jsonl"
    csv_path.write_text(HEADER + f"{CAFE_NFD},purchase,c1,{MOMENT},latte,,1,4.50,\n")
    jsonl_path.write_text(
        f'{{"type": "refund", "id": "{CAFE_NFD}", "customer_id": "c1", "at": "{MOMENT}", '
        '"purchase_id": "p1"}\n'
    )
    [event] = read_history(csv_path)
    assert event.id == CAFE_NFC
    assert locate_event(csv_path, CAFE_NFC) is not None
    assert locate_event(jsonl_path, CAFE_NFC) is not None
    # In Parquet too (it was None there: an engine's error went unlocated).
    parquet_path = tmp_path / "h.parquet"
    pq.write_table(pa.table({"event_id": ["p0", CAFE_NFD]}), parquet_path)
    assert locate_event(parquet_path, CAFE_NFC) == Location(str(parquet_path), 2, 1)


def test_a_program_filter_matches_skus_however_either_is_spelt() -> None:
    rules = [
        {
            "kind": "points_per_spend",
            "id": "pastry",
            "points": "1",
            "when": {"skus": [CAFE_NFD]},
        }
    ]
    [result] = evaluate(program(rules=rules), [purchase(sku=CAFE_NFC)]).customers
    assert result.points == 4


# --- look-alikes are shown apart -----------------------------------------------------------


def test_rows_of_one_event_with_look_alike_customers_show_them_escaped(tmp_path: Path) -> None:
    rows = f"p1,purchase,\u04411,{MOMENT},latte,,1,4.50,\np1,purchase,c1,{MOMENT},bagel,,1,2.00,\n"
    assert csv_error(tmp_path, rows) == (
        f"{tmp_path / 'h.csv'}:3:1: customer_id: is 'c1' here but '\\u04411' on line 2, "
        "the first row of event 'p1'; the rows of one event must agree"
    )


def test_ids_that_plainly_differ_are_shown_as_written() -> None:
    assert shown_apart("Zoe", "Bob") == ("'Zoe'", "'Bob'")
    assert shown_apart("Müller", "Mueller") == ("'Müller'", "'Mueller'")
    assert shown_apart("c\u00e9", "ce") == ("'c\\u00e9'", "'ce'")


@pytest.mark.parametrize(
    ("first", "second"),
    [("c1", "\u04411"), ("ABC", "abc"), ("\u210c", "H"), ("c1", "c1\u200b"), ("é", "e")],
)
def test_look_alike_pairs_are_recognised(first: str, second: str) -> None:
    assert look_alike(first, second)
    assert look_alike(second, first)
    assert not look_alike(first, first)


def test_explain_reads_an_nfd_customer_id_and_escapes_a_look_alike_suggestion() -> None:
    rules = [{"kind": "points_per_spend", "id": "stars", "points": "1"}]
    events = [purchase(customer_id=CAFE_NFC), purchase(customer_id="\u04411", event_id="p2")]
    assert explain(program(rules=rules), events, CAFE_NFD).customer_id == CAFE_NFC
    with pytest.raises(HistoryError) as caught:
        explain(program(rules=rules), events, "c1")
    [problem] = caught.value.problems
    assert problem.suggestion == "did you mean '\\u04411' (not 'c1')?"


def test_a_refund_and_a_redemption_take_the_same_checks() -> None:
    with pytest.raises(HistoryError, match="purchase_id: 'p1\\\\u00a0' has a NO-BREAK SPACE"):
        Refund(id="r1", customer_id="c1", at=at(), purchase_id="p1\u00a0")
    with pytest.raises(HistoryError, match="reward: 'gift\\\\u200d' has a ZERO WIDTH JOINER"):
        Redemption(id="x1", customer_id="c1", at=at(), reward="gift\u200d")
    assert Customer(customer_id=CAFE_NFD).customer_id == CAFE_NFC


def test_dry_run_reports_an_invisible_character_in_plain_ascii_and_exits_1(
    tmp_path: Path,
) -> None:
    history = tmp_path / "h.csv"
    history.write_text(HEADER + f"p1,purchase,c1\u00a0,{MOMENT},latte,,1,4.50,\n")
    rules = Path(__file__).parent.parent / "rules" / "examples" / "car-wash.yaml"
    result = CliRunner().invoke(cli, ["dry-run", str(rules), str(history)])
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        f"{history}:2:1: customer_id: 'c1\\u00a0' has a NO-BREAK SPACE (U+00A0) at position 3 "
        f"({INVISIBLE_HINT})\n",
    )


def test_step_shows_two_look_alike_customer_ids_escaped() -> None:
    program = load_program(Path(__file__).parent.parent / "rules/examples/coffee-club.yaml")

    def bought(customer: str, event_id: str) -> Purchase:
        line = Line(sku="latte", quantity=1, unit_price=Decimal("4.50"))
        return Purchase(
            id=event_id, customer_id=customer, at=datetime(2026, 3, 1, tzinfo=UTC), lines=(line,)
        )

    state, _ = step(program, None, bought("c1", "p1"))
    with pytest.raises(HistoryError) as caught:
        step(program, state, bought("\u04411", "p2"))  # a Cyrillic es, then 1
    assert str(caught.value) == (
        "event p2.customer_id: it belongs to customer '\\u04411', but the state to customer 'c1'"
    )


# --- two events whose ids NFC makes one are two events with one id ------------------------

ID_NFC, ID_NFD = "p-\u00e9", "p-e\u0301"
TEXT_CELLS = pa_csv.ConvertOptions(column_types={"at": pa.string(), "unit_price": pa.string()})
SAME_ID = "another event has the same id; event ids must be unique"


@pytest.mark.parametrize("second_customer", ["c1", "c2"])
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("engine", ["reference", "batch"])
@pytest.mark.parametrize("streamed", [False, True])
def test_adjacent_events_whose_ids_nfc_makes_one_are_refused_not_merged(
    tmp_path: Path, second_customer: str, suffix: str, engine: str, streamed: bool
) -> None:
    """As the CSV row reader reads them: two events (the id changed between the rows) with
    one id, refused by every engine and reader alike, never one event of both customers."""
    csv_path = tmp_path / "h.csv"
    csv_path.write_text(
        HEADER
        + f"{ID_NFC},purchase,c1,{MOMENT},latte,,1,4.50,\n"
        + f"{ID_NFD},purchase,{second_customer},{MOMENT},bagel,,1,2.00,\n",
        encoding="utf-8",
    )
    history = csv_path
    if suffix == ".parquet":
        history = tmp_path / "h.parquet"
        pq.write_table(pa_csv.read_csv(csv_path, convert_options=TEXT_CELLS), history)
    rules = Path(__file__).parent.parent / "rules" / "examples" / "car-wash.yaml"
    output = ["--output", str(tmp_path / "ledger.parquet")] if streamed else []
    args = ["dry-run", str(rules), str(history), "--engine", engine, *output]
    result = CliRunner().invoke(cli, args)
    line = 2 if suffix == ".csv" else 1  # a CSV line, a Parquet row
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        f"{history}:{line}:1: event {ID_NFC}: {SAME_ID}\n",
    )
    assert not (tmp_path / "ledger.parquet").exists()


@pytest.mark.parametrize(("first", "later"), [(ID_NFC, ID_NFD), (ID_NFD, ID_NFC)])
def test_the_table_reader_refuses_one_id_spelt_two_ways_apart_at_its_first_row(
    tmp_path: Path, first: str, later: str
) -> None:
    """Not adjacent, the two events are still one id: refused when read, at the id's first
    row, as the engine refused it once read (a streamed dry-run evaluating each customer's
    chunk alone would not see the two events together)."""
    csv_path = tmp_path / "h.csv"
    csv_path.write_text(
        HEADER
        + f"{first},purchase,c1,{MOMENT},latte,,1,4.50,\n"
        + f"p2,purchase,c1,{MOMENT},latte,,1,4.50,\n"
        + f"{later},purchase,c2,{MOMENT},bagel,,1,2.00,\n",
        encoding="utf-8",
    )
    with pytest.raises(HistoryError) as caught:
        read_history_table(csv_path)
    assert str(caught.value) == f"{csv_path}:2:1: event {ID_NFC}: {SAME_ID}"


def test_a_table_of_two_adjacent_events_with_one_id_is_refused_as_the_reference_refuses() -> None:
    """``events_to_table`` tells events apart by their ids changing: two with one id in a row
    would read back as one event, so the batch engine refuses them as the reference does."""
    first = purchase(customer_id="c1", event_id=ID_NFD)
    for events in ([first, first], [first, first.model_copy(update={"customer_id": "c2"})]):
        with pytest.raises(HistoryError) as reference:
            evaluate(program(), events, engine="reference")
        with pytest.raises(HistoryError) as batch:
            evaluate(program(), events, engine="batch")
        with pytest.raises(HistoryError) as table:
            events_to_table(events)
        assert str(batch.value) == str(reference.value) == str(table.value)
        assert str(reference.value) == f"event {ID_NFC}: {SAME_ID}"


@pytest.mark.parametrize("engine", ["reference", "batch"])
def test_an_arrow_table_of_adjacent_events_whose_ids_nfc_makes_one_is_refused(engine: str) -> None:
    """The same from an Arrow table handed to ``evaluate`` (text ``at`` and ``unit_price``
    cells, as a CSV export read by Arrow gives them, cast by both engines alike)."""
    table = pa.table(
        {
            "event_id": [ID_NFC, ID_NFD],
            "type": ["purchase", "purchase"],
            "customer_id": ["c1", "c2"],
            "at": [MOMENT, MOMENT],
            "sku": ["latte", "bagel"],
            "category": [None, None],
            "quantity": [1, 1],
            "unit_price": ["4.50", "2.00"],
            "purchase_id": pa.nulls(2, pa.string()),
        }
    )
    with pytest.raises(HistoryError) as caught:
        evaluate(program(), table, engine=engine)
    assert str(caught.value) == f"event {ID_NFC}: {SAME_ID}"
    spelt_alike = table.set_column(0, "event_id", pa.array(["p1", "p2"]))
    [first, second] = evaluate(program(), spelt_alike, engine=engine).customers
    assert (first.customer_id, second.customer_id) == ("c1", "c2")


def test_a_table_cell_of_the_wrong_type_is_refused_by_name_by_both_engines() -> None:
    table = pa.table(
        {
            "event_id": ["p1"],
            "type": ["purchase"],
            "customer_id": ["c1"],
            "at": [MOMENT],
            "sku": ["latte"],
            "category": pa.nulls(1, pa.string()),
            "quantity": [1],
            "unit_price": ["four"],
            "purchase_id": pa.nulls(1, pa.string()),
        }
    )
    messages = set()
    for engine in ("reference", "batch"):
        with pytest.raises(HistoryError) as caught:
            evaluate(program(), table, engine=engine)
        messages.add(str(caught.value))
    assert messages == {
        "<table>: column 'unit_price' does not have the history table's type "
        "(decimal128(38, 12)) and cannot be read as it: "
        "The string 'four' is not a valid decimal128 number"
    }


@pytest.mark.parametrize("engine", ["reference", "batch"])
def test_a_repeated_parquet_row_with_an_all_empty_column_is_refused_not_a_crash(
    tmp_path: Path, engine: str
) -> None:
    """Arrow reads an all-empty CSV column (``category``, ``purchase_id``) as the ``null``
    type, which Parquet keeps: the repeated-row check compared such a column with a kernel
    Arrow does not have, and stopped with Arrow's error instead of the reader's."""
    csv_path = tmp_path / "h.csv"
    row = f"p1,purchase,c1,{MOMENT},latte,,1,4.50,\n"
    csv_path.write_text(HEADER + row + row, encoding="utf-8")
    parquet_path = tmp_path / "h.parquet"
    table = pa_csv.read_csv(csv_path, convert_options=TEXT_CELLS)
    assert pa.types.is_null(table["category"].type)
    pq.write_table(table, parquet_path)
    with pytest.raises(HistoryError) as caught:
        evaluate(program(), read_history_table(parquet_path), engine=engine)
    assert str(caught.value).startswith(f"{parquet_path}:2:1: this row repeats row 1 exactly (")
