"""What the history table's checks know of a table they returned, for that table's readers.

``history_table`` checks a history's cells and returns a table. A reader of that very table
(the batch engine's ``read_frame``, the streaming reader's look for ids of earlier chunks)
would otherwise find out again what the checks already know: where each event's rows
start, that no two events share an id, which text columns hold plain text only.

The facts are kept by the table **object**, for as long as it lives: an Arrow table never
changes, and any other table (a slice, one read back from a file, one built by hand) has
no facts, so its readers check it in full.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa


@dataclass(frozen=True, slots=True)
class CheckedFacts:
    """What a checked history table is known to be."""

    starts: npt.NDArray[np.int64] | None
    """The first row of each run of adjacent rows with one event id, in row order; the rows
    of a run share their type, and no two runs share their id. None when the table's ids
    are not the ids the checks read (NFC composed some): their runs are then found again."""
    plain: frozenset[str]
    """Text columns whose every value (nulls aside) is plain: printable ASCII, 1 to 256
    characters, with no space at either end."""
    types: npt.NDArray[np.int8]
    """Each row's type, as its place in :data:`TYPES`."""
    source: str | None = None
    """The name of the file the table was read from, which its ``line`` column counts in."""


TYPES = ("purchase", "refund", "redemption", "cancel_redemption")
"""The types of a history table's rows, in the order of their codes."""


_FACTS: dict[int, tuple[weakref.ref[pa.Table], CheckedFacts]] = {}


def remember(table: pa.Table, facts: CheckedFacts) -> pa.Table:
    """Keep ``facts`` for ``table`` while it lives; the table itself."""
    key = id(table)

    def forget(gone: weakref.ref[pa.Table]) -> None:
        entry = _FACTS.get(key)
        if entry is not None and entry[0] is gone:
            _FACTS.pop(key, None)

    _FACTS[key] = (weakref.ref(table, forget), facts)
    return table


def facts_of(table: object) -> CheckedFacts | None:
    """The facts kept for this very table object, or None."""
    entry = _FACTS.get(id(table))
    if entry is None or entry[0]() is not table:
        return None
    return entry[1]
