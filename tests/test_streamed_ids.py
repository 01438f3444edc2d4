"""Event ids in a streamed history: the checks of one chunk and the look among the earlier
chunks' ids (``customer_chunks._HeadHashes``, ``_SeenIds``) refuse what the whole-file
reader refuses, with its words and at its row, whatever the chunks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from rewardrules.cli.customer_chunks import _boundaries, _last_boundary
from test_streamed_dry_run import (
    COFFEE_CLUB,
    run,
    synthetic_history,
    with_rows,
    write_history,
)

CHUNKS = ("1", "3", "50", "1000000")


def streamed_and_whole(
    tmp_path: Path, change: Any, chunk: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    history = write_history(tmp_path, with_rows(synthetic_history(), change))
    whole = run("dry-run", COFFEE_CLUB, history, "--summary")
    monkeypatch.setenv("REWARDRULES_CHUNK_ROWS", chunk)
    output = tmp_path / "ledger.parquet"
    streamed = run("dry-run", COFFEE_CLUB, history, "--output", output, "--engine", "batch")
    return streamed, whole


def purchases_of(rows: list[dict[str, Any]]) -> list[int]:
    """The first row of each purchase."""
    found = []
    for index, row in enumerate(rows):
        if row["type"] == "purchase" and (
            index == 0 or rows[index - 1]["event_id"] != row["event_id"]
        ):
            found.append(index)
    return found


def renamed(rows: list[dict[str, Any]], start: int, name: str) -> None:
    """Give the event starting at ``start`` another id."""
    old = rows[start]["event_id"]
    index = start
    while index < len(rows) and rows[index]["event_id"] == old:
        rows[index]["event_id"] = name
        index += 1


@pytest.mark.parametrize("chunk", CHUNKS)
def test_an_id_used_again_by_the_same_customer_is_the_readers_split_event(
    tmp_path: Path, chunk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def again(
        rows: list[dict[str, Any]],
    ) -> None:  # a customer's third purchase takes the first's id
        starts = purchases_of(rows)
        customer = rows[starts[0]]["customer_id"]
        mine = [start for start in starts if rows[start]["customer_id"] == customer]
        renamed(rows, mine[2], rows[mine[0]]["event_id"])

    streamed, whole = streamed_and_whole(tmp_path, again, chunk, monkeypatch)
    assert whole[0] == 1
    assert "appears again" in whole[2]
    assert streamed == (1, "", whole[2])


@pytest.mark.parametrize("chunk", CHUNKS)
@pytest.mark.parametrize("spelling", ["plain", "composed", "decomposed"])
def test_an_id_used_again_in_a_later_chunk_is_refused_however_it_is_spelled(
    tmp_path: Path, chunk: str, spelling: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, later = {
        "plain": ("p-first", "p-first"),
        "composed": ("caf\u00e9-1", "caf\u00e9-1"),
        "decomposed": ("caf\u00e9-1", "cafe\u0301-1"),  # one id once composed (NFC)
    }[spelling]

    def again(rows: list[dict[str, Any]]) -> None:  # the first and the last purchase
        starts = purchases_of(rows)
        renamed(rows, starts[0], first)
        renamed(rows, starts[-1], later)

    streamed, whole = streamed_and_whole(tmp_path, again, chunk, monkeypatch)
    assert whole[0] == 1
    if spelling == "decomposed":  # NFC makes them one id, spelt two ways: the reader's
        # "same id" at its first row, in every chunking (it was split-event when the two
        # fell in two chunks).
        assert "event caf\u00e9-1: another event has the same id" in whole[2]
    else:
        assert "appears again (its first rows start on row 1)" in whole[2]
    assert streamed == (1, "", whole[2])


@pytest.mark.parametrize("chunk", CHUNKS)
def test_a_refund_of_another_customers_purchase_in_an_earlier_chunk(
    tmp_path: Path, chunk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def elsewhere(rows: list[dict[str, Any]]) -> None:  # the last refund names the first purchase
        refunds = [index for index, row in enumerate(rows) if row["type"] == "refund"]
        first = rows[purchases_of(rows)[0]]
        assert rows[refunds[-1]]["customer_id"] != first["customer_id"]
        for index in refunds:
            if rows[index]["event_id"] == rows[refunds[-1]]["event_id"]:
                rows[index]["purchase_id"] = first["event_id"]

    streamed, whole = streamed_and_whole(tmp_path, elsewhere, chunk, monkeypatch)
    assert whole[0] == 1
    assert streamed == (1, "", whole[2])


@pytest.mark.parametrize("seed", range(6))
def test_the_last_place_to_cut_is_the_last_boundary(seed: int) -> None:
    # Runs of one customer and of one event, some longer than each window looked at.
    rng = np.random.default_rng(seed)
    customers: list[str] = []
    events: list[str] = []
    for customer in range(int(rng.integers(1, 6))):
        rows = int(rng.choice([1, 3, 4095, 4097, 70_000]))
        event_rows = int(rng.choice([1, 2, rows]))
        customers += [f"c{customer}"] * rows
        events += [f"e{customer}-{row // event_rows}" for row in range(rows)]
    table = pa.table({"customer_id": customers, "event_id": events})
    cuts = _boundaries(table)
    assert _last_boundary(table) == (int(cuts[-1]) if len(cuts) else None)
    assert _last_boundary(table.slice(1)) == (
        int(cuts[-1]) - 1 if len(cuts) and cuts[-1] > 1 else None
    )


def test_a_customer_spelt_two_ways_is_never_cut_into_two_chunks() -> None:
    """Two rows of one customer, ``caf\\u00e9`` then ``cafe\\u0301``: the checks read both
    as one customer, so no cut falls between them (a cut did, and each half was evaluated
    as a customer of its own: the second purchase lost the tier the first one reached)."""
    table = pa.table(
        {
            "customer_id": ["ana", "caf\u00e9", "cafe\u0301", "zoe"],
            "event_id": ["p0", "p1", "p2", "p3"],
        }
    )
    assert _boundaries(table).tolist() == [1, 3]
    assert _last_boundary(table.slice(0, 3)) == 1
