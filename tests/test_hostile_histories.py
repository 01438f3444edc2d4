"""Hostile and broken histories: each gets a located error with a stable code, or a meaning."""

from __future__ import annotations

import ast
import contextlib
import os
import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardrules.errors import HistoryError, Problem
from rewardrules.events import Line, Purchase, Redemption
from rewardrules.histories import read as histories
from rewardrules.histories.read import locate_event, parse_history_text, read_history

ROOT = Path(__file__).resolve().parent.parent
HISTORY_MODULES = [
    "histories/read.py",
    "histories/_csv.py",
    "histories/_json.py",
    "histories/_records.py",
]
HEADER = "event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id\n"
ROW = "p1,purchase,c1,2026-03-01T09:30:00Z,latte,coffee,1,4.50,\n"
SEMI_HEADER = HEADER.replace(",", ";")
SEMI_ROW = "p1;purchase;c1;2026-03-01T09:30:00Z;latte;coffee;2;4,50;\n"
REFUND = '{"type": "refund", "id": "r1", "customer_id": "c1", "purchase_id": "p1", '
REWARD_HEADER = HEADER.replace("\n", ",reward\n")
REDEEM_ROW = "x1,redemption,c1,2026-03-05T08:00:00Z,,,,,,free-drink\n"
CANCEL_HEADER = REWARD_HEADER.replace("\n", ",redemption_id\n")
CANCEL_ROW = "u1,cancel_redemption,c1,2026-03-06T08:00:00Z,,,,,,,x1\n"
REDEMPTION = '{"type": "redemption", "id": "x1", "customer_id": "c1", "reward": "free-drink", '


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in an empty directory so that error messages name files briefly."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def problems_of(name: str, **options: Any) -> list[tuple[str, str]]:
    """Each problem of reading the file as (code, its text with the suggestion)."""
    with pytest.raises(HistoryError) as info:
        list(read_history(name, **options))
    return [(problem.code, str(problem)) for problem in info.value.problems]


# --- Excel habits ---------------------------------------------------------------------------


def test_semicolons_and_decimal_commas_read_with_the_explicit_options(in_tmp: Path) -> None:
    Path("h.csv").write_bytes(b"\xef\xbb\xbf" + (SEMI_HEADER + SEMI_ROW).encode())
    [purchase] = read_history("h.csv", delimiter=";", decimal_comma=True)
    assert purchase == Purchase(
        id="p1",
        customer_id="c1",
        at=datetime.fromisoformat("2026-03-01T09:30:00+00:00"),
        lines=(Line(sku="latte", category="coffee", quantity=2, unit_price=Decimal("4.50")),),
    )


def test_a_cp1252_file_reads_with_the_explicit_encoding(in_tmp: Path) -> None:
    Path("h.csv").write_bytes((HEADER + ROW.replace("latte", "café")).encode("cp1252"))
    [purchase] = read_history("h.csv", encoding="cp1252")
    assert isinstance(purchase, Purchase)
    assert purchase.lines[0].sku == "café"
    assert locate_event("h.csv", "p1", encoding="cp1252") is not None


def test_a_redemption_reads_from_a_semicolon_file_with_the_explicit_options(
    in_tmp: Path,
) -> None:
    Path("h.csv").write_bytes(
        b"\xef\xbb\xbf" + (REWARD_HEADER + REDEEM_ROW).replace(",", ";").encode()
    )
    [redemption] = read_history("h.csv", delimiter=";", decimal_comma=True)
    assert redemption == Redemption(
        id="x1",
        customer_id="c1",
        at=datetime.fromisoformat("2026-03-05T08:00:00+00:00"),
        reward="free-drink",
    )
    assert locate_event("h.csv", "x1", delimiter=";") is not None


HOSTILE: dict[str, tuple[str, bytes, dict[str, Any], list[tuple[str, str]]]] = {
    "a header separated by semicolons": (
        "h.csv",
        (SEMI_HEADER + SEMI_ROW).encode(),
        {},
        [
            (
                "wrong-delimiter",
                "h.csv:1:1: the header is separated by ';', not ',' (re-export it as "
                "comma-separated with a point in amounts (4.50), or read it with delimiter=';' "
                "(and decimal_comma=True if amounts are written 4,50; on the command line: "
                "--delimiter ';' --decimal-comma))",
            )
        ],
    ),
    "a point in an amount read with decimal commas": (
        "h.csv",
        (SEMI_HEADER + SEMI_ROW.replace("4,50", "1.234,50")).encode(),
        {"delimiter": ";", "decimal_comma": True},
        [
            (
                "bad-amount",
                "h.csv:2:1: unit_price: must be an amount like 4,50 (digits, a decimal comma, "
                "decimals; no currency sign, point, thousands separator or exponent) "
                "(got '1.234,50')",
            )
        ],
    ),
    "a UTF-16 file": (
        "h.csv",
        (HEADER + ROW).encode("utf-16"),
        {},
        [
            (
                "not-utf8",
                "h.csv:1:1: the file is UTF-16, not UTF-8 (it starts with a UTF-16 byte order "
                "mark) (re-save it as UTF-8 (in Excel: CSV UTF-8))",
            )
        ],
    ),
    "a byte cp1252 cannot read": (
        "h.csv",
        (HEADER + ROW).encode().replace(b"latte", b"lat\x81e"),
        {"encoding": "cp1252"},
        [
            (
                "not-utf8",
                "h.csv:2:40: the file is not cp1252: byte 0x81 at offset 113 cannot be read "
                "(re-save the file as UTF-8)",
            )
        ],
    ),
    "an unknown encoding": ("h.csv", b"", {"encoding": "utf-16"}, []),
    # --- broken rows and cells
    "a row with too many cells": (
        "h.csv",
        (HEADER + ROW.replace("4.50", "4,50")).encode(),
        {},
        [
            (
                "bad-row",
                "h.csv:2:1: this row has 10 cells but the header has 9 columns "
                "(put a cell that holds ',' in double quotes)",
            )
        ],
    ),
    "a header column without a name and one with spaces": (
        "h.csv",
        HEADER.replace("type,", " type,,").encode(),
        {},
        [
            (
                "unknown-column",
                "h.csv:1:1: unknown column ' type' (remove the spaces around 'type')",
            ),
            (
                "missing-column-name",
                "h.csv:1:1: column 3 of the header has no name "
                "(name it, or delete the column if it is empty)",
            ),
            ("missing-column", "h.csv:1:1: the header has no 'type' column"),
        ],
    ),
    "a NUL in a cell": (
        "h.csv",
        (HEADER + ROW.replace("c1", "c\x001")).encode(),
        {},
        [
            (
                "control-character",
                "h.csv:2:1: customer_id: must not hold the control character U+0000 "
                "(got 'c\\x001')",
            )
        ],
    ),
    "an escaped control character in JSON": (
        "h.jsonl",
        (REFUND + '"at": "2026-03-01T09:30:00Z", "id": "r\\u0007"}')
        .replace('"id": "r1", ', "")
        .encode(),
        {},
        [
            (
                "control-character",
                "h.jsonl:1:1: id: must not hold the control character U+0007 (got 'r\\x07')",
            )
        ],
    ),
    "an id too long": (
        "h.csv",
        (HEADER + ROW.replace("latte", "x" * 300)).encode(),
        {},
        [("too-long", "h.csv:2:1: sku: must be at most 256 characters (got 300)")],
    ),
    "a quote never closed on the last line": (
        "h.csv",
        (HEADER + ROW + ROW.replace("p1", "p2").replace("coffee", '"coffee')).encode(),
        {},
        [
            (
                "unclosed-quote",
                "h.csv:3:1: a quote opened in this row is never closed (was the file cut "
                "short? a quote inside a cell is written twice)",
            )
        ],
    ),
    "text after a closing quote": (
        "h.csv",
        (HEADER + ROW.replace("coffee", '"cof"fee')).encode(),
        {},
        [
            (
                "not-csv",
                "h.csv:2:1: not valid CSV: ',' expected after '\"' "
                '(a quote inside a quoted cell is written twice: "")',
            )
        ],
    ),
    "a JSON Lines file cut mid-object": (
        "h.jsonl",
        (REFUND + '"at": "2026-03-01T09:30:00Z"}\n' + REFUND).replace("r1", "r2", 1).encode(),
        {},
        [
            (
                "truncated",
                "h.jsonl:2:74: not valid JSON: the last line ends in the middle of a value "
                "(was the file cut short?)",
            )
        ],
    ),
    "pretty-printed JSON named .jsonl": (
        "h.jsonl",
        b'{\n  "type": "refund"\n}\n',
        {},
        [
            (
                "not-json",
                "h.jsonl:1:1: not valid JSON: the line ends in the middle of a value (in JSON "
                "Lines each event is on one line; name a pretty-printed file .json)",
            )
        ],
    ),
    "a JSON file cut short": (
        "h.json",
        ("[\n" + REFUND).encode(),
        {},
        [
            (
                "truncated",
                "h.json:2:74: not valid JSON: the text ends in the middle of a value "
                "(was the file cut short?)",
            )
        ],
    ),
    # --- JSON numbers
    "an amount with an exponent in JSON": (
        "h.jsonl",
        b'{"type": "purchase", "lines": [{"unit_price": 1e999999999}]}',
        {},
        [
            (
                "bad-amount",
                "h.jsonl:1:1: '1e999999999' is a number with an exponent; write an amount like "
                "4.50 (digits, a point, decimals; no currency sign, comma or exponent)",
            )
        ],
    ),
    "a JSON amount too long to be a price": (
        "h.jsonl",
        b'{"type": "purchase", "lines": [{"unit_price": 0.' + b"1" * 40 + b"}]}",
        {},
        [
            (
                "bad-amount",
                "h.jsonl:1:1: '0.111111111111111111111111111111111...' has more than 24 "
                "characters; write an amount like 4.50 (digits, a point, decimals; no currency "
                "sign, comma or exponent)",
            )
        ],
    ),
    # --- timestamps
    "an epoch number in CSV": (
        "h.csv",
        (HEADER + ROW.replace("2026-03-01T09:30:00Z", "1772357400")).encode(),
        {},
        [
            (
                "epoch-timestamp",
                "h.csv:2:1: at: must be an ISO 8601 timestamp like 2026-03-01T09:30:00+01:00, "
                "not a number of seconds since 1970 (got '1772357400')",
            )
        ],
    ),
    "a timestamp in year 9999": (
        "h.jsonl",
        (REFUND + '"at": "9999-12-31T23:59:59-05:00"}').encode(),
        {},
        [
            (
                "timestamp-out-of-range",
                "h.jsonl:1:1: at: must be in the years 1970 to 2099 "
                "(got '9999-12-31T23:59:59-05:00') (check the year)",
            )
        ],
    ),
    "a timestamp in year 1": (
        "h.csv",
        (HEADER + ROW.replace("2026-03-01T09:30:00Z", "0001-01-01T00:00:00+05:00")).encode(),
        {},
        [
            (
                "timestamp-out-of-range",
                "h.csv:2:1: at: must be in the years 1970 to 2099 "
                "(got '0001-01-01T00:00:00+05:00') (check the year)",
            )
        ],
    ),
    # --- currencies
    "a currency column": (
        "h.csv",
        HEADER.replace("\n", ",currency\n").encode(),
        {},
        [
            (
                "unknown-column",
                "h.csv:1:1: unknown column 'currency' (a history has no currency: every amount "
                "is in the program's currency; put the events of each currency in their own "
                "file, evaluated with that currency's program)",
            )
        ],
    ),
    "a currency key in JSON": (
        "h.jsonl",
        (REFUND + '"at": "2026-03-01T09:30:00Z", "currency": "EUR"}').encode(),
        {},
        [
            (
                "unknown-key",
                "h.jsonl:1:1: currency: unknown key 'currency' (a history has no currency: every "
                "amount is in the program's currency; put the events of each currency in their "
                "own file, evaluated with that currency's program)",
            )
        ],
    ),
    "an invisible unknown key": (
        "h.jsonl",
        (REFUND + '"at": "2026-03-01T09:30:00Z", "store\\u200b": "x"}').encode(),
        {},
        [
            (
                "unknown-key",
                "h.jsonl:1:1: 'store\\u200b': unknown key 'store\\u200b' (did you mean 'store'?)",
            )
        ],
    ),
    # --- redemptions
    "a redemption row exported twice": (
        "h.csv",
        (REWARD_HEADER + REDEEM_ROW + REDEEM_ROW).encode(),
        {},
        [
            (
                "duplicate-row",
                "h.csv:3:1: this row repeats line 2 exactly (a row is one line of an event, so a "
                "repeat is not read as a second unit: for two units, write quantity 2 on one "
                "row; if an export was resumed with an overlap, delete the repeated row)",
            )
        ],
    ),
    "a second row of a redemption": (
        "h.csv",
        (REWARD_HEADER + REDEEM_ROW + REDEEM_ROW.replace("free-drink", "tote")).encode(),
        {},
        [
            (
                "duplicate-id",
                "h.csv:3:1: event_id: event 'x1' appears twice (first on line 2); a redemption "
                "is one row (remove the rows of a re-sent export before reading)",
            )
        ],
    ),
    "a redemption row with a price": (
        "h.csv",
        (REWARD_HEADER + REDEEM_ROW.replace(",,,,,,", ",,,1,2.00,,")).encode(),
        {},
        [
            (
                "not-empty",
                "h.csv:2:1: unit_price: must be empty for a redemption; only a purchase or refund "
                "has lines",
            )
        ],
    ),
    "a redemption of no units": (
        "h.csv",
        (REWARD_HEADER + REDEEM_ROW.replace(",,,,,,", ",,,0,,,")).encode(),
        {},
        [("invalid-value", "h.csv:2:1: quantity: must be at least 1 (got 0)")],
    ),
    "a redemption of a fraction of a unit": (
        "h.csv",
        (REWARD_HEADER + REDEEM_ROW.replace(",,,,,,", ",,,1.5,,,")).encode(),
        {},
        [
            (
                "bad-quantity",
                "h.csv:2:1: quantity: must be a whole number written with digits, like 2 "
                "(got '1.5')",
            )
        ],
    ),
    # --- cancellations
    "a cancellation without a redemption_id column": (
        "h.csv",
        (REWARD_HEADER + CANCEL_ROW.replace(",,x1", ",")).encode(),
        {},
        [
            (
                "missing-field",
                "h.csv:2:1: redemption_id: 'redemption_id' is required here; the header has no "
                "'redemption_id' column (add a 'redemption_id' column holding the id of the "
                "redemption cancelled)",
            )
        ],
    ),
    "a cancellation naming no redemption": (
        "h.csv",
        (CANCEL_HEADER + CANCEL_ROW.replace(",,x1", ",,")).encode(),
        {},
        [("missing-field", "h.csv:2:1: redemption_id: 'redemption_id' is required here")],
    ),
    "a cancellation with a quantity": (
        "h.csv",
        (CANCEL_HEADER + CANCEL_ROW.replace(",,,,,,,x1", ",,,2,,,,x1")).encode(),
        {},
        [
            (
                "not-empty",
                "h.csv:2:1: quantity: must be empty for a cancel_redemption; only its "
                "redemption has a quantity",
            )
        ],
    ),
    "a cancellation with a reward": (
        "h.csv",
        (CANCEL_HEADER + CANCEL_ROW.replace(",,x1", ",tote,x1")).encode(),
        {},
        [
            (
                "not-empty",
                "h.csv:2:1: reward: must be empty for a cancel_redemption; only a redemption "
                "names a reward",
            )
        ],
    ),
    "a redemption naming a redemption": (
        "h.csv",
        (CANCEL_HEADER + REDEEM_ROW.replace("\n", ",x0\n")).encode(),
        {},
        [
            (
                "not-empty",
                "h.csv:2:1: redemption_id: must be empty for a redemption; only a "
                "cancel_redemption names a redemption",
            )
        ],
    ),
    "a second row of a cancellation": (
        "h.csv",
        (CANCEL_HEADER + CANCEL_ROW + CANCEL_ROW.replace("x1", "x2")).encode(),
        {},
        [
            (
                "duplicate-id",
                "h.csv:3:1: event_id: event 'u1' appears twice (first on line 2); a "
                "cancel_redemption is one row (remove the rows of a re-sent export before "
                "reading)",
            )
        ],
    ),
    "a JSON redemption with a points key": (
        "h.jsonl",
        (REDEMPTION + '"at": "2026-03-05T08:00:00Z", "points": 150}').encode(),
        {},
        [("unknown-key", "h.jsonl:1:1: points: unknown key 'points'")],
    ),
    "a JSON redemption with a numeric reward": (
        "h.jsonl",
        (REDEMPTION.replace('"free-drink"', "7") + '"at": "2026-03-05T08:00:00Z"}').encode(),
        {},
        [
            (
                "invalid-value",
                "h.jsonl:1:1: reward: expected text (got the number 7); put it in quotes, e.g. '7'",
            )
        ],
    ),
}
HOSTILE["an unknown encoding"] = (
    "h.csv",
    b"",
    {"encoding": "utf-16"},
    [("bad-option", "encoding must be 'utf-8', 'cp1252' or 'latin-1' (got 'utf-16')")],
)


@pytest.mark.parametrize(
    ("name", "content", "options", "expected"), HOSTILE.values(), ids=list(HOSTILE)
)
def test_a_hostile_history_gets_located_problems_with_codes(
    in_tmp: Path,
    name: str,
    content: bytes,
    options: dict[str, Any],
    expected: list[tuple[str, str]],
) -> None:
    Path(name).write_bytes(content)
    assert problems_of(name, **options) == expected


BAD_OPTIONS = {
    "a delimiter for JSON": ("h.jsonl", {"delimiter": ";"}),
    "decimal commas with comma cells": ("h.csv", {"decimal_comma": True}),
    "a delimiter of two characters": ("h.csv", {"delimiter": ";;"}),
    "a quote as delimiter": ("h.csv", {"delimiter": '"'}),
}


@pytest.mark.parametrize(("name", "options"), BAD_OPTIONS.values(), ids=list(BAD_OPTIONS))
def test_wrong_options_are_refused_by_the_call_itself(
    in_tmp: Path, name: str, options: dict[str, Any]
) -> None:
    Path(name).write_text("")
    with pytest.raises(HistoryError) as info:
        read_history(name, **options)
    assert [problem.code for problem in info.value.problems] == ["bad-option"]


def test_mixed_offsets_are_instants(in_tmp: Path) -> None:
    Path("h.csv").write_text(
        HEADER + ROW + ROW.replace("p1", "p2").replace("09:30:00Z", "10:30:00+01:00")
    )
    first, second = read_history("h.csv")
    assert first.at == second.at


# --- every code is documented ---------------------------------------------------------------

_CODE_ARGUMENT = {"RecordError": 2, "history_error": 4, "Problem": 3}


def codes_used() -> set[str]:
    """Every code a history module passes to an error, by position or as ``code=``."""
    found: set[str] = set()
    for name in HISTORY_MODULES:
        tree = ast.parse((ROOT / "src" / "rewardrules" / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                arguments = [*node.args]
                position = _CODE_ARGUMENT.get(node.func.id)
                if position is not None and len(arguments) > position:
                    arguments = [arguments[position]]
                else:
                    arguments = []
                arguments += [k.value for k in node.keywords if k.arg == "code"]
                found |= {
                    a.value
                    for a in arguments
                    if isinstance(a, ast.Constant) and isinstance(a.value, str) and a.value
                }
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id in {"code", "_CODES"} for t in node.targets
            ):
                found |= {
                    c.value
                    for c in ast.walk(node.value)
                    if isinstance(c, ast.Constant) and isinstance(c.value, str) and "-" in c.value
                }
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple):
                for target, value in zip(
                    getattr(node.targets[0], "elts", []), node.value.elts, strict=False
                ):
                    if isinstance(target, ast.Name) and target.id == "code":
                        assert isinstance(value, ast.Constant)
                        assert isinstance(value.value, str)
                        found.add(value.value)
    return found


def test_every_code_a_reader_uses_is_documented() -> None:
    text = (ROOT / "docs" / "histories.md").read_text()
    documented = set(re.findall(r"^\| `([a-z0-9-]+)` ", text, re.M))
    used = codes_used()
    assert {"not-utf8", "split-event", "unclosed-quote", "truncated", "bad-option"} <= used
    assert used - documented == set()


# --- nothing but HistoryError escapes, whatever the bytes -----------------------------------

HOSTILE_PIECES = [
    b"\x00", b"\r", b"\r\n", b"\n", b'"', b'""', b",", b";", b"\t", b"\xef\xbb\xbf",
    b"\xff\xfe", b"\xfe\xff", b"\x80", b"\xc3", b"\xe9", b"\xed\xa0\x80", b"\\u0000", b"\\ud800",
    b"{", b"}", b"[", b"]", b":", b"9" * 5000, b"1e999999999", b"-0", b"NaN", b"Infinity",
    b"0." + b"1" * 60, b"9999-12-31T23:59:59+14:00", b"0001-01-01T00:00:00+23:59",
    b"1772357400", HEADER.encode(), ROW.encode(), SEMI_HEADER.encode(), SEMI_ROW.encode(),
    b'{"type": "purchase", "id": "p", "customer_id": "c", "at": "2026-03-01T09:30:00Z", ',
    b'"lines": [{"sku": "a", "quantity": 1, "unit_price": ', b'"id": "p", "id": "p"',
    b"x" * 300, b"[" * 3000, REWARD_HEADER.encode(), REDEEM_ROW.encode(),
    REDEMPTION.encode(), b'"type": "redemption", ', b'"type": "referral", "referred": "c9", ',
    b"f1,referral,c1,2026-03-04T09:00:00Z,,,,,\n",
]  # fmt: skip
hostile_bytes = st.lists(st.sampled_from(HOSTILE_PIECES) | st.binary(max_size=8), max_size=12).map(
    b"".join
)
OPTIONS = st.sampled_from(
    [{}, {"delimiter": ";", "decimal_comma": True}, {"encoding": "cp1252"}, {"encoding": "latin-1"}]
)


@settings(max_examples=300, deadline=None)
@given(data=hostile_bytes, extension=st.sampled_from([".csv", ".jsonl", ".json"]), options=OPTIONS)
def test_hostile_bytes_read_or_raise_located_history_errors(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, extension: str, options: dict[str, Any]
) -> None:
    if extension != ".csv":
        options = {k: v for k, v in options.items() if k == "encoding"}
    path = tmp_path_factory.getbasetemp() / f"hostile{extension}"
    path.write_bytes(data)
    problems: tuple[Problem, ...] = ()
    try:
        list(read_history(path, **options))
    except HistoryError as error:
        problems = error.problems
    assert all(problem.code != "invalid" for problem in problems)
    assert all(problem.location is not None for problem in problems)
    found = locate_event(path, "p", **{k: v for k, v in options.items() if k != "decimal_comma"})
    assert found is None or found.source == str(path)


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list('\x00\r\n",;{}[]:\\\ufeff\u200b\ud7ff9eE.-p')))
    | st.text(),
    fmt=st.sampled_from(["csv", "jsonl", "json"]),
)
def test_hostile_text_reads_or_raises_history_error(text: str, fmt: Any) -> None:
    with contextlib.suppress(HistoryError):
        list(parse_history_text(HEADER + text if fmt == "csv" else text, fmt))


# --- inputs that never end or are too large to hold --------------------------------------


def _only_problem(path: Path | str, **options: Any) -> tuple[str, str]:
    with pytest.raises(HistoryError) as caught:
        list(read_history(path, **options))
    (problem,) = caught.value.problems
    return problem.code, str(problem)


def test_a_device_that_never_ends_is_refused_before_reading() -> None:
    assert _only_problem("/dev/zero", format="jsonl") == (
        "not-a-file",
        "cannot read /dev/zero: it is not a regular file (a device, a pipe...)",
    )


def test_a_pipe_is_refused_instead_of_waiting_for_a_writer(tmp_path: Path) -> None:
    pipe = tmp_path / "history.csv"
    os.mkfifo(pipe)
    code, message = _only_problem(pipe)
    assert (code, message) == (
        "not-a-file",
        f"cannot read {pipe}: it is not a regular file (a device, a pipe...)",
    )


def test_a_json_lines_line_past_the_cap_is_refused_without_reading_it_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(histories, "MAX_JSONL_LINE", 100)
    path = tmp_path / "h.jsonl"
    path.write_text("x" * 150 + "\n", encoding="utf-8")
    assert _only_problem(path) == (
        "too-long",
        f"{path}:1:1: line 1 is over 100 characters "
        "(each line of a JSON Lines file holds one event)",
    )


def test_a_json_history_past_the_cap_is_refused_with_what_to_use_instead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(histories, "MAX_JSON_CHARACTERS", 100)
    path = tmp_path / "h.json"
    path.write_text("[" + " " * 200 + "]", encoding="utf-8")
    assert _only_problem(path) == (
        "too-large",
        f"{path}:1:1: the JSON history is over 100 characters; a .json file is read whole "
        "(write a large history as JSON Lines or CSV, which are read line by line)",
    )
