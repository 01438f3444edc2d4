"""A table of ledger entries as CSV or JSON Lines text, column by column.

The text is byte-identical to what :mod:`rewardrules.tools.ledger_files` writes entry by
entry (``csv.writer`` over :func:`rewardrules.tools.export.ledger_row`, and ``json.dumps``
of each entry's JSON with its customer id), but made with Arrow's string functions over
whole columns: no Python object per entry. ``tests/test_ledger_text.py`` holds the two
equal on drawn text.
"""

from __future__ import annotations

import json
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute

from rewardrules.tools.export import LEDGER_COLUMNS

# pyarrow's stubs type the compute functions too narrowly.
pc: Any = pyarrow.compute

_TEXT: Final = frozenset({"customer_id", "event_id", "rule", "kind", "reason"})
_FORMULA: Final = r"^[=+\-@\t\r]"
"""``export.FORMULA_STARTS`` as a pattern: a text cell starting so gets a ``'`` in front."""
_QUOTED: Final = r'[,"\r\n]'
"""What makes ``csv.writer`` (``lineterminator="\\r\\n"``) quote a cell."""
_JSON_ESCAPES: Final = (
    ("\\", "\\\\"),
    ('"', '\\"'),
    ("\n", "\\n"),
    ("\r", "\\r"),
    ("\t", "\\t"),
    ("\b", "\\b"),
    ("\f", "\\f"),
)
"""What ``json.dumps`` writes for these characters (the backslash first)."""
_OTHER_CONTROLS: Final = "[\x00-\x07\x0b\x0e-\x1f]"
"""Control characters ``json.dumps`` writes as ``\\u00XX``: done by ``json.dumps`` itself."""


def _text(values: Any) -> Any:
    """A column as strings, null as the empty string."""
    return pc.fill_null(values.cast(pa.string()), "")


def _joined(cells: list[Any], separator: str) -> Any:
    return pc.binary_join_element_wise(*cells, separator)


def _contents(rows: Any) -> str:
    """The rows of a string array written one after the other."""
    array = rows.combine_chunks() if isinstance(rows, pa.ChunkedArray) else rows
    if not len(array):
        return ""
    buffers: list[Any] = array.buffers()
    offsets = np.frombuffer(memoryview(buffers[1]), dtype=np.int32)[array.offset :]
    data = memoryview(buffers[2])
    return bytes(data[int(offsets[0]) : int(offsets[len(array)])]).decode("utf-8")


def csv_text(table: pa.Table) -> str:
    """The entries as CSV rows (no header), each ended by ``\\r\\n``."""
    if not table.num_rows:
        return ""
    table = table.combine_chunks()
    cells = []
    for name in LEDGER_COLUMNS:
        cell = _text(table[name])
        if name in _TEXT:
            risky = pc.match_substring_regex(cell, _FORMULA)
            cell = pc.if_else(risky, pc.binary_join_element_wise("'", cell, ""), cell)
            quoted = _joined(['"', pc.replace_substring(cell, '"', '""'), '"'], "")
            cell = pc.if_else(pc.match_substring_regex(cell, _QUOTED), quoted, cell)
        cells.append(cell)
    return _contents(_joined([_joined(cells, ","), "\r\n"], ""))


def _json_string(values: Any) -> Any:
    """Text as JSON strings, as ``json.dumps(..., ensure_ascii=False)`` writes them."""
    text = values.cast(pa.string())
    escaped = text
    for character, written in _JSON_ESCAPES:
        escaped = pc.replace_substring(escaped, character, written)
    result = _joined(['"', escaped, '"'], "")
    odd = np.asarray(
        pc.match_substring_regex(text, _OTHER_CONTROLS).to_numpy(zero_copy_only=False), np.bool_
    )
    if odd.any():
        rows = np.flatnonzero(odd)
        plain = text.take(pa.array(rows)).to_pylist()
        dumped = pa.array([json.dumps(value, ensure_ascii=False) for value in plain], pa.string())
        result = pc.replace_with_mask(
            result.combine_chunks() if isinstance(result, pa.ChunkedArray) else result,
            pa.array(odd),
            dumped,
        )
    return result


def json_lines_text(table: pa.Table) -> str:
    """The entries as JSON Lines: each entry's JSON with its customer id first."""
    if not table.num_rows:
        return ""
    table = table.combine_chunks()
    parts: list[Any] = []
    for place, name in enumerate(LEDGER_COLUMNS):
        parts.append(("{" if place == 0 else ", ") + json.dumps(name) + ": ")
        column = table[name]
        if name in _TEXT:
            parts.append(_json_string(column))
        elif name == "value":
            number = _joined(['"', column.cast(pa.string()), '"'], "")
            parts.append(pc.fill_null(number, "null"))
        else:
            parts.append(pc.fill_null(column.cast(pa.string()), "null"))
    parts.append("}\n")
    return _contents(_joined(parts, ""))
