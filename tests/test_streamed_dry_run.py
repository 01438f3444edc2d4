"""``dry-run --engine batch`` with ``--output``/``--summary``: customer chunk by chunk.

The streamed run must write what the whole-file run writes. Each test reads the written
ledger back (pyarrow, text) and compares it with the ledger of the reference engine's
dry-run, which holds the whole history; the chunk size is set through the environment
(``REWARDRULES_CHUNK_ROWS``) down to one customer per chunk.
"""

from __future__ import annotations

import itertools
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given as drawn
from hypothesis import settings
from hypothesis import strategies as st

from helpers import PROFILE_ONLY, batch_refuses, profiles_around
from rewardrules.cli import chunk_company
from rewardrules.cli.customer_chunks import _SeenIds, event_months, text_hashes, whole_chunks
from rewardrules.cli.main import cli
from rewardrules.evaluation.batch import evaluate_table
from rewardrules.evaluation.fold import evaluate
from rewardrules.histories.columns import read_history_table, table_to_events
from rewardrules.program.model import Program
from rewardrules.rulefiles.loader import load_program
from rewardrules.tools.ledger_files import LedgerFile
from rewardrules.tools.ledger_sums import ledger_pieces
from rewardrules.tools.summary import month_of
from test_ledger_files import exact, expected_rows, read_parquet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import synthetic  # noqa: E402 (from benchmarks/, put on the path above)

COFFEE_CLUB = ROOT / "rules" / "examples" / "coffee-club.yaml"
CHUNK_SIZES = ("1", "2", "7", "1000000")


def run(*arguments: str | Path, stdin: bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(argument) for argument in arguments], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def write_history(folder: Path, table: pa.Table, name: str = "history.parquet") -> Path:
    path = folder / name
    pq.write_table(table, path)
    return path


def synthetic_history(*, sorted_by_customer: bool = True) -> pa.Table:
    """60 customers, 400 purchases (some of several lines), refunds: seeded."""
    return synthetic.history_table(60, 400, 12, sorted_by_customer=sorted_by_customer)


def with_rows(table: pa.Table, change: Any) -> pa.Table:
    rows = table.to_pylist()
    change(rows)
    return pa.Table.from_pylist(rows, schema=table.schema)


def ledger_text(path: Path) -> Any:
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    return path.read_text(encoding="utf-8")


def without_file(document: str) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads(document)
    summary.pop("ledger", None)
    return summary


@pytest.fixture
def history(tmp_path: Path) -> Path:
    return write_history(tmp_path, synthetic_history())


@pytest.mark.parametrize("chunk", CHUNK_SIZES)
@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_the_streamed_ledger_is_the_whole_files_ledger(
    history: Path, tmp_path: Path, chunk: str, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole, streamed = tmp_path / f"whole{suffix}", tmp_path / f"streamed{suffix}"
    expected = run("dry-run", COFFEE_CLUB, history, "--output", whole, "--format", "json")
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", chunk)
    arguments = ("--output", streamed, "--format", "json", "--engine", "batch")
    code, out, err = run("dry-run", COFFEE_CLUB, history, *arguments)
    assert (code, err, expected[0]) == (0, "", 0)
    assert ledger_text(streamed) == ledger_text(whole)
    assert without_file(out) == without_file(expected[1])
    assert json.loads(out)["ledger"]["entries"] == json.loads(expected[1])["ledger"]["entries"]


@pytest.mark.parametrize("chunk", ["7", "1000000"])
def test_the_streamed_parquet_ledger_read_back_is_evaluates_entries(
    history: Path, tmp_path: Path, chunk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The file read back by pyarrow alone, row for row, against the reference engine's
    # entries of the whole history (each value's text, so that 4.5 and 4.50 differ).
    program = load_program(COFFEE_CLUB)
    expected = expected_rows(evaluate(program, table_to_events(read_history_table(history))))
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", chunk)
    ledger = tmp_path / "ledger.parquet"
    arguments = ("--engine", "batch", "--output", ledger, "--summary", "--quiet")
    assert run("dry-run", COFFEE_CLUB, history, *arguments)[0] == 0
    assert len(expected) > 400
    assert exact(read_parquet(ledger)) == exact(expected)


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_the_streamed_files_are_byte_for_byte_the_whole_runs(
    history: Path, tmp_path: Path, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The whole history in one chunk, then chunks of 1 and 7 rows (one customer, a few):
    # the ledger file (Parquet row groups included) and the summary printed are the same
    # bytes. The reference engine's whole-history run writes the same ledger file too.
    reference = tmp_path / f"reference{suffix}"
    assert run("dry-run", COFFEE_CLUB, history, "--output", reference, "--quiet")[0] == 0
    written: dict[str, tuple[bytes, str]] = {}
    for chunk in ("1000000", "1", "7"):
        monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", chunk)
        path = tmp_path / f"ledger-{chunk}{suffix}"
        code, out, err = run(
            "dry-run", COFFEE_CLUB, history, "--engine", "batch", "--output", path, "--quiet"
        )
        assert (code, err) == (0, "")
        written[chunk] = (path.read_bytes(), out.replace(str(path), "LEDGER"))
    assert written["1"] == written["1000000"]
    assert written["7"] == written["1000000"]
    assert written["1000000"][0] == reference.read_bytes()
    if suffix == ".parquet":  # row groups of 65,536 entries (here: one, of every entry)
        metadata = pq.ParquetFile(tmp_path / "ledger-1.parquet").metadata
        assert metadata.num_row_groups == 1
        assert metadata.num_rows == len(ledger_text(reference))


def test_a_parquet_ledger_has_the_same_row_groups_however_its_tables_were_cut(
    tmp_path: Path,
) -> None:
    program = load_program(COFFEE_CLUB)
    evaluation = evaluate_table(
        program, read_history_table(write_history(tmp_path, synthetic_history()))
    )
    table = pa.concat_tables(
        piece.table for piece in ledger_pieces(evaluation.customers, evaluation.money, 10**6)
    )
    files = []
    for cuts in ([table.num_rows], [1, 5, 7, 100, 3], [64] * (table.num_rows // 64 + 1)):
        path = tmp_path / f"cut-{len(files)}.parquet"
        with LedgerFile(path, evaluation.money, row_group_entries=50) as ledger:
            start = 0
            for size in cuts:
                ledger.write_table(table.slice(start, size))
                start += size
            ledger.write_table(table.slice(start))  # the rest, if any
        files.append(path.read_bytes())
        groups = pq.ParquetFile(path).metadata
        sizes = [groups.row_group(index).num_rows for index in range(groups.num_row_groups)]
        assert sizes == [50] * (table.num_rows // 50) + [table.num_rows % 50]
    assert files[1] == files[0]
    assert files[2] == files[0]


@pytest.mark.parametrize("chunk", ["1", "3"])
@pytest.mark.parametrize("example", ["coffee-club", "pharmacy", "airline-miles", "car-wash"])
def test_the_streamed_summary_of_an_example_is_the_whole_files(
    example: str, chunk: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = ROOT / "rules" / "examples" / f"{example}.yaml"
    [history] = (ROOT / "rules" / "examples").glob(f"{example}.history.*")
    parquet = tmp_path / "sorted.parquet"
    assert run("sort-history", history, parquet)[0] == 0
    expected = run("dry-run", program, history, "--summary")
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", chunk)
    for given in (history, parquet):  # read whole (text) and streamed (Parquet)
        assert run("dry-run", program, given, "--summary", "--engine", "batch") == expected


def test_standard_input_streams_like_the_file(
    history: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = run("dry-run", COFFEE_CLUB, history, "--summary", "--format", "json")
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", "5")
    arguments = ("--summary", "--format", "json", "--engine", "batch")
    assert run("dry-run", COFFEE_CLUB, "-", *arguments, stdin=history.read_bytes()) == expected


def test_a_small_history_not_sorted_by_customer_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = write_history(tmp_path, synthetic_history(sorted_by_customer=False))
    expected = run("dry-run", COFFEE_CLUB, history, "--output", tmp_path / "whole.csv")
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", "3")
    code, out, err = run(
        "dry-run", COFFEE_CLUB, history, "--output", tmp_path / "b.csv", "--engine", "batch"
    )
    assert (code, err) == (0, "")
    assert out.replace("b.csv", "whole.csv") == expected[1]
    assert (tmp_path / "b.csv").read_text() == (tmp_path / "whole.csv").read_text()


def test_a_large_history_not_sorted_by_customer_is_refused_with_how_to_sort_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = synthetic_history()
    customers = table["customer_id"].to_pylist()
    second = customers.index(sorted(set(customers))[1])
    third = customers.index(sorted(set(customers))[2])

    rows = table.to_pylist()  # the second customer's rows moved after the third's
    moved = rows[second:third]
    rows[second:third] = []
    end = next(
        (index for index, row in enumerate(rows) if row["customer_id"] > customers[third]),
        len(rows),
    )
    rows[end:end] = moved
    history = write_history(tmp_path, pa.Table.from_pylist(rows, schema=table.schema))
    output = tmp_path / "ledger.parquet"
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", "10")
    monkeypatch.setenv("REWARDRULES_WHOLE_ROWS", "100")
    code, out, err = run("dry-run", COFFEE_CLUB, history, "--output", output, "--engine", "batch")
    row = end + 1
    assert (code, out) == (1, "")
    assert err == (
        f"{history}:{row}:1: customer {customers[second]!r} comes after customer "
        f"{customers[third]!r}: the history is not sorted by customer id, and a history of "
        "more than 100 rows is evaluated customer by customer, in that order (sort it first: "
        f"rewardrules sort-history {history} sorted.parquet, or with DuckDB or polars in one "
        "line (docs/histories.md, 'Large histories'))\n"
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["history.parquet"]


def late_row(table: pa.Table) -> int:
    """A purchase row in the last customer's rows (0-based)."""
    types = table["type"].to_pylist()
    return max(index for index, kind in enumerate(types) if kind == "purchase")


@pytest.mark.parametrize("chunk", ["1", "4"])
def test_a_bad_row_in_a_late_chunk_is_located_as_the_whole_file_reader_locates_it(
    tmp_path: Path, chunk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = synthetic_history()
    row = late_row(table)

    def bad_quantity(rows: list[dict[str, Any]]) -> None:
        rows[row]["quantity"] = 0

    history = write_history(tmp_path, with_rows(table, bad_quantity))
    output = tmp_path / "ledger.jsonl"
    output.write_text("kept\n")
    arguments = ("--output", output, "--engine", "batch")
    whole = run("dry-run", COFFEE_CLUB, history, "--summary")
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", chunk)
    code, out, err = run("dry-run", COFFEE_CLUB, history, *arguments)
    assert (code, out) == (1, "")
    assert err == whole[2]
    assert err.startswith(f"{history}:{row + 1}:")
    assert output.read_text() == "kept\n"  # the earlier ledger is left as it was
    assert sorted(path.name for path in tmp_path.iterdir()) == ["history.parquet", "ledger.jsonl"]


def test_an_event_id_used_again_in_a_later_chunk_is_the_readers_split_event_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = synthetic_history()
    row = late_row(table)
    ids = table["event_id"].to_pylist()
    first = ids[0]

    def reuse(rows: list[dict[str, Any]]) -> None:  # the last purchase takes the first's id
        for index in range(row, len(rows)):
            if rows[index]["event_id"] == ids[row]:
                rows[index]["event_id"] = first

    history = write_history(tmp_path, with_rows(table, reuse))
    whole = run("dry-run", COFFEE_CLUB, history, "--summary")
    assert whole[0] == 1
    assert f"event {first!r} appears again (its first rows start on row 1)" in whole[2]
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", "2")
    output = tmp_path / "ledger.parquet"
    streamed = run("dry-run", COFFEE_CLUB, history, "--output", output, "--engine", "batch")
    assert streamed == (1, "", whole[2])
    assert not output.exists()


def test_an_engine_error_in_a_late_chunk_names_the_event_where_the_whole_run_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = synthetic_history()
    refunds = [index for index, kind in enumerate(table["type"].to_pylist()) if kind == "refund"]
    row = refunds[-1]

    def unknown(rows: list[dict[str, Any]]) -> None:
        rows[row]["purchase_id"] = "p-none"

    history = write_history(tmp_path, with_rows(table, unknown))
    whole = run("dry-run", COFFEE_CLUB, history, "--summary", "--engine", "batch")
    reference = run("dry-run", COFFEE_CLUB, history, "--summary")
    assert whole[0] == 1
    assert whole[2] == reference[2]
    assert f"{history}:{row + 1}:" in whole[2]
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", "3")
    output = tmp_path / "ledger.csv"
    streamed = run("dry-run", COFFEE_CLUB, history, "--output", output, "--engine", "batch")
    assert streamed == (1, "", whole[2])
    assert sorted(path.name for path in tmp_path.iterdir()) == ["history.parquet"]


def test_chunks_of_a_table_read_whole_are_sorted_whole_customers(tmp_path: Path) -> None:
    history = write_history(tmp_path, synthetic_history(sorted_by_customer=False))
    table = read_history_table(history)
    for size in (1, 5, 50, 10_000):
        chunks = list(whole_chunks(table, size))
        assert sum(chunk.num_rows for chunk in chunks) == table.num_rows
        customers = [chunk["customer_id"].to_pylist() for chunk in chunks]
        flat = [customer for chunk in customers for customer in chunk]
        assert flat == sorted(flat)
        for before, after in itertools.pairwise(customers):
            assert before[-1] != after[0]  # a customer is never cut
            assert len(before) >= size
        rows = sorted(line for chunk in chunks for line in chunk["line"].to_pylist())
        assert rows == sorted(table["line"].to_pylist())


def test_the_months_of_a_chunk_are_the_summarys_months(tmp_path: Path) -> None:
    program = load_program(ROOT / "rules" / "examples" / "pharmacy.yaml")
    table = read_history_table(write_history(tmp_path, synthetic_history()))
    months = event_months(table, program)
    for row in table.to_pylist():
        assert months[row["event_id"]] == month_of(row["at"], program)


@settings(max_examples=200)
@drawn(texts=st.lists(st.text(max_size=40), min_size=1, max_size=30), cut=st.integers(0, 30))
def test_an_id_hashes_alike_wherever_it_is_read(texts: list[str], cut: int) -> None:
    # A function of the text alone: the same in another array, a slice, a chunked
    # column or a large_string one; different lengths or 8-byte words never collide
    # for texts of at most 8 bytes (each step is a bijection).
    hashes = text_hashes(pa.array(texts, pa.string()))
    one_by_one = [int(text_hashes(pa.array([text]))[0]) for text in texts]
    assert hashes.tolist() == one_by_one
    cut = min(cut, len(texts))
    pieces = [pa.array(texts[:cut], pa.string()), pa.array(texts[cut:], pa.string())]
    chunked = pa.chunked_array(pieces)
    sliced = pa.array(["x", *texts], pa.large_string()).slice(1)
    assert text_hashes(chunked.combine_chunks()).tolist() == hashes.tolist()
    assert text_hashes(sliced).tolist() == hashes.tolist()
    short = {text for text in texts if len(text.encode()) <= 8}
    by_text = dict(zip(texts, hashes.tolist(), strict=True))
    assert len({by_text[text] for text in short}) == len(short)


def test_seen_ids_find_every_hash_added_before_and_no_other() -> None:
    seen = _SeenIds()
    added: set[int] = set()
    for start in range(0, 5000, 700):
        hashes = np.arange(start, start + 700, dtype=np.int64) * 7919
        probe = np.arange(start - 350, start + 350, dtype=np.int64) * 7919
        found = seen.seen(probe)
        assert found.tolist() == [int(value) in added for value in probe.tolist()]
        seen.add(hashes)
        added.update(hashes.tolist())


@pytest.mark.parametrize("expected", [0, 3000, 10**9])
def test_seen_ids_find_every_random_hash_added_before_and_no_other(expected: int) -> None:
    rng = np.random.default_rng(expected)
    seen = _SeenIds(expected)
    added = np.zeros(0, np.int64)
    for _ in range(6):
        hashes = np.sort(rng.integers(-(2**63), 2**63 - 1, 500, dtype=np.int64, endpoint=True))
        again = rng.choice(added, min(len(added), 50), replace=False) if len(added) else added
        probe = np.sort(np.concatenate((hashes, again, [-(2**63), 2**63 - 1, 0])))
        assert seen.seen(probe).tolist() == np.isin(probe, added).tolist()
        seen.add(hashes)
        added = np.concatenate((added, hashes))


def test_a_program_the_batch_engine_refuses_is_refused_before_any_row_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = "rule 'birthday-treat': a feature refused for this test"
    batch_refuses(monkeypatch, refused)
    program = ROOT / "rules" / "examples" / "pet-shop.yaml"
    history = tmp_path / "history.csv"
    history.write_text("event_id,type\nnot,a history\n")
    whole = run("dry-run", program, history, "--engine", "batch")
    output = tmp_path / "ledger.csv"
    streamed = run("dry-run", program, history, "--engine", "batch", "--output", output)
    assert whole[0] == 1
    assert f"the batch engine does not evaluate {refused}" in whole[2]
    assert streamed == whole
    assert not output.exists()


@pytest.mark.parametrize("with_profiles", [True, False])
def test_referrals_across_chunks_give_the_whole_ledger_and_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_profiles: bool
) -> None:
    # pet-shop: amy referred ben and dan (customers file). One customer per chunk: ben's
    # and dan's facts are found first (pass one, the friends alone), then amy's chunk is
    # given them; ben's and dan's chunks reward amy inline and drop her. The ledger is the
    # whole history's, byte for byte, and so is the summary (the referrals' months too).
    examples = ROOT / "rules" / "examples"
    program = examples / "pet-shop.yaml"  # its groups and limits, the referral's too
    history = tmp_path / "sorted.parquet"
    assert run("sort-history", examples / "pet-shop.history.jsonl", history)[0] == 0
    profiles = ("--customers", examples / "pet-shop.customers.csv") if with_profiles else ()
    as_of = ("--as-of", (examples / "pet-shop.as-of").read_text(encoding="utf-8").strip())
    whole = tmp_path / "whole.jsonl"
    expected = run("dry-run", program, history, *profiles, *as_of, "--output", whole, "--summary")
    calls: list[tuple[list[str], list[str]]] = []

    def recorded(*arguments: Any, **options: Any) -> Any:
        chunk, facts = arguments[1], options.get("facts")
        customers = sorted(set(chunk["customer_id"].to_pylist()))
        calls.append((customers, [] if facts is None else facts["customer_id"].to_pylist()))
        return evaluate_table(*arguments, **options)

    monkeypatch.setattr(chunk_company, "evaluate_table", recorded)
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", "1")  # one customer per chunk
    streamed = tmp_path / "streamed.jsonl"
    arguments = ("--engine", "batch", "--output", streamed, "--summary")
    code, out, err = run("dry-run", program, history, *profiles, *as_of, *arguments)
    # Without profiles, only the hints that --customers is missing (one a kind).
    hints = [line for line in err.splitlines() if line.startswith("hint: the program has ")]
    assert (code, len(hints), expected[0]) == (0, 0 if with_profiles else 3, 0)
    assert err.count("\n") == len(hints)
    assert streamed.read_text(encoding="utf-8") == whole.read_text(encoding="utf-8")
    assert ("refer-a-friend" in whole.read_text(encoding="utf-8")) == with_profiles
    assert out.replace(str(streamed), str(whole)) == expected[1]
    chunks = [(["amy"], []), (["ben"], []), (["dan"], [])]  # cat has no event
    if with_profiles:  # pass one: ben and dan alone; then amy's chunk with their facts
        chunks = [(["ben"], []), (["dan"], []), (["amy"], ["amy", "amy"]), *chunks[1:]]
    assert calls == chunks


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("size", ["1", "2", "1000000"])
def test_profiles_go_with_their_customers_chunk_and_give_the_whole_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str, size: str
) -> None:
    # Signup bonuses and --customers, without a referral rule: streamed chunk by chunk,
    # each chunk with the profiles of its customers (customers without events among them),
    # the ones after the last chunk's customers evaluated last: the reference engine's
    # whole-history ledger, in its order, byte for byte.
    examples = ROOT / "rules" / "examples"
    program = examples / "bookshop-offers.yaml"
    history = tmp_path / "sorted.parquet"
    assert run("sort-history", examples / "bookshop-offers.history.csv", history)[0] == 0
    profiles = ("--customers", profiles_around(tmp_path, examples), "--as-of", "2026-12-31")
    whole = tmp_path / f"whole{suffix}"
    expected = run("dry-run", program, history, *profiles, "--output", whole)
    calls: list[list[str]] = []

    def recorded(*arguments: Any, **options: Any) -> Any:
        calls.append([profile.customer_id for profile in arguments[2] or ()])
        return evaluate_table(*arguments, **options)

    monkeypatch.setattr(chunk_company, "evaluate_table", recorded)
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", size)
    streamed = tmp_path / f"streamed{suffix}"
    code, out, err = run(
        "dry-run", program, history, *profiles, "--engine", "batch", "--output", streamed
    )
    assert (code, err, expected[0]) == (0, "", 0)
    assert streamed.read_bytes() == whole.read_bytes()
    assert out.replace(str(streamed), str(whole)) == expected[1]
    written = read_parquet(whole) if suffix == ".parquet" else whole.read_text(encoding="utf-8")
    assert all(name in str(written) for name in PROFILE_ONLY)  # their signup bonuses
    # ana's rows, then ben's: one chunk each at a size of 1 or 2 rows (each has more).
    if size == "1000000":  # one chunk, then the customers after ben's
        assert calls == [["aaa", "ana", "anz", "ben"], ["bob", "zzz"]]
    else:
        assert calls == [["aaa", "ana"], ["anz", "ben"], ["bob", "zzz"]]


ZONES = ["America/New_York", "Asia/Beirut", "Pacific/Chatham", "America/St_Johns", "UTC"]
TURNS = [datetime(2024, month, 1, tzinfo=UTC) for month in range(1, 13)]


@settings(deadline=None)
@drawn(
    zone=st.sampled_from(ZONES),
    instants=st.lists(
        st.tuples(st.sampled_from(TURNS), st.integers(-2 * 86_400_000_000, 2 * 86_400_000_000)),
        min_size=1,
        max_size=60,
    ),
)
def test_events_near_a_month_turn_get_their_own_month(
    zone: str, instants: list[tuple[datetime, int]]
) -> None:
    """A UTC day in two local months is cut where the month turns (by bisection), or each
    event's month is found by itself when the zone's offset changes that day: either way,
    ``month_of`` of each event, also a microsecond either side of the local midnight."""
    program = cast(Program, SimpleNamespace(zone=ZoneInfo(zone)))
    moments = [turn + timedelta(microseconds=shift) for turn, shift in instants]
    for turn, _ in instants[:3]:
        midnight = turn.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
        moments += [midnight - timedelta(microseconds=1), midnight]
    table = pa.table(
        {
            "event_id": [f"e{place}" for place in range(len(moments))],
            "at": pa.array(moments, pa.timestamp("us", tz="UTC")),
        }
    )
    months = event_months(table, program)
    assert [months[f"e{place}"] for place in range(len(moments))] == [
        month_of(moment, program) for moment in moments
    ]
