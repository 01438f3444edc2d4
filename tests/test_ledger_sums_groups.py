"""``grouped_figures`` groups with numpy: the same groups and sums as Arrow's group_by."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from rewardrules.tools.ledger_sums import grouped_figures


def _by_arrow(
    figures: dict[str, Any], keys: dict[str, Any], mask: Any
) -> list[tuple[tuple[Any, ...], dict[str, int]]]:
    names = [f"k{place}" for place in range(len(keys))]
    columns: dict[str, Any] = dict(zip(names, keys.values()))
    columns.update({name: pa.array(values, pa.int64()) for name, values in figures.items()})
    table = pa.table(columns)
    if mask is not None:
        table = table.filter(pa.array(mask))
    grouped = table.group_by(names, use_threads=False).aggregate(
        [(name, "sum") for name in figures]
    )
    return [
        (
            tuple(grouped[name][row].as_py() for name in names),
            {name: int(grouped[f"{name}_sum"][row].as_py() or 0) for name in figures},
        )
        for row in range(grouped.num_rows)
    ]


def _key(rng: np.random.Generator, count: int) -> Any:
    pool = ["a", "b", None, "é", "c"][: int(rng.integers(1, 6))]
    values = [pool[int(place)] for place in rng.integers(0, len(pool), count)]
    choice = rng.random()
    if choice < 0.2:
        return pa.array([None if text is None else len(text) for text in values], pa.int32())
    if choice < 0.3:
        return pa.array(values, pa.string()).dictionary_encode()
    if choice < 0.5 and count > 2:
        whole = pa.array(values, pa.string())
        return pa.chunked_array([whole.slice(0, count // 2), whole.slice(count // 2)])
    return pa.array(values, pa.string())


@pytest.mark.parametrize("seed", range(20))
def test_the_groups_and_sums_of_arrows_group_by(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(50):
        count = int(rng.integers(0, 40))
        keys = {f"x{place}": _key(rng, count) for place in range(int(rng.integers(1, 4)))}
        figures = {
            "f": rng.integers(-5, 5, count).astype(np.int64),
            "g": rng.integers(0, 3, count).astype(np.int64),
        }
        mask = rng.random(count) < 0.6 if rng.random() < 0.5 else None
        found = grouped_figures(figures, keys, mask)
        assert sorted(map(repr, found)) == sorted(map(repr, _by_arrow(figures, keys, mask)))


def test_sums_beyond_int64_are_exact() -> None:
    keys = {"k": pa.array(["a", "a", "b"])}
    large = np.array([2**62, 2**62, 1], dtype=np.int64)
    assert grouped_figures({"f": large}, keys) == [(("a",), {"f": 2**63}), (("b",), {"f": 1})]
    huge = np.array([2**70, 1, 5], dtype=object)
    assert grouped_figures({"f": huge}, keys) == [(("a",), {"f": 2**70 + 1}), (("b",), {"f": 5})]


def test_no_rows_no_groups() -> None:
    keys = {"k": pa.array([], pa.string())}
    assert grouped_figures({"f": np.zeros(0, np.int64)}, keys) == []
    mask = np.zeros(2, np.bool_)
    assert grouped_figures({"f": np.ones(2, np.int64)}, {"k": pa.array(["a", "b"])}, mask) == []
