"""The history harnesses' common body: read the bytes in one format, then evaluate them.

Every input is read as text by :func:`~rewardrules.histories.read.parse_history_text` (undecodable
bytes replaced), and the events it gives are evaluated by a program with every rule kind and
tiers, as ``rewardrules dry-run`` would; every amount in the evaluation's JSON output must
be written exactly, in the currency's places. CSV is also read in one other dialect (``;``
with decimal commas, tabs...), chosen by the input's checksum so that a replay reads it the
same way. Some inputs are also read as a file, in UTF-8 and in CP1252 or Latin-1, by
:func:`~rewardrules.histories.read.read_history`, :func:`~rewardrules.histories.read.read_customers`
and :func:`~rewardrules.histories.read.locate_event` (always when the bytes are not plain UTF-8),
and a few as text holding lone surrogates, as ``errors="surrogateescape"`` makes them.
Only :class:`~rewardrules.errors.HistoryError` may come out.

Import this module inside :func:`_fuzzing.instrumented`.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable
from typing import Any

from _fuzzing import ScratchFile, check_error, is_utf8, require

from rewardrules.errors import HistoryError
from rewardrules.evaluation.fold import evaluate
from rewardrules.histories.read import Format, locate_event, parse_history_text, read_customers
from rewardrules.histories.read import read_history as read_history_file
from rewardrules.rulefiles.loader import load_program_text

PROGRAM = load_program_text(
    """\
program: fuzz
name: Every kind
currency: USD
timezone: America/New_York
points: {name: stars, value: 0.01}
tiers:
  qualify_by: spend
  window: 365 days
  levels:
    - {name: silver, at_least: 100.00}
    - {name: gold, at_least: 500.00, points_multiplier: 1.5}
rules:
  - id: member-discount
    kind: tiered_discount
    discounts: {silver: 5, gold: 10}
    when: {exclude_categories: [merch]}
  - id: stars
    kind: points_per_spend
    points: 2
    per: 1.00
    multipliers:
      - {factor: 2, when: {categories: [coffee]}}
  - id: tenth-free
    kind: every_nth_free
    every: 3
    when: {categories: [coffee]}
    reward: free
  - id: wash
    kind: every_nth_free
    every: 2
    counts: visits
    reward: {voucher: {sku: wash, value: 12.00}}
  - id: card
    kind: partner_gift_card
    partner: Green Basket
    value: 10.00
    every_spend: 20.00
    window: calendar_quarter
    max_per_window: 3
""",
    "fuzz-program.yaml",
)


def _read(read: Callable[..., Iterable[Any]], *arguments: Any, **options: Any) -> list[Any] | None:
    """Everything ``read(*arguments, **options)`` gives, or None for a HistoryError (checked)."""
    try:
        return list(read(*arguments, **options))
    except HistoryError as error:
        check_error(error)
        return None


_AMOUNT = re.compile(r"-?[0-9]+\.[0-9]{2}")
"""An amount in the JSON output: exact, in USD's two places, never in exponent notation."""


def _evaluated_amounts(events: list[Any]) -> list[str]:
    """Evaluate the events; every amount in the output must be written exactly."""
    shown = evaluate(PROGRAM, events).to_dict()
    amounts = [value for value in shown["totals"].values() if isinstance(value, str)]
    amounts += [
        entry["value"]
        for customer in shown["customers"]
        for entry in customer["ledger"]
        if entry["value"] is not None
    ]
    for amount in amounts:
        require(bool(_AMOUNT.fullmatch(amount)), f"an amount is not written exactly: {amount}")
    return amounts


def _located(path: str, **options: Any) -> list[Any]:
    return [locate_event(path, "p1", **options)]


CSV_DIALECTS: tuple[dict[str, Any], ...] = (
    {"delimiter": ";", "decimal_comma": True},
    {"delimiter": ";"},
    {"delimiter": "\t"},
    {"delimiter": "|", "decimal_comma": True},
)
"""The other CSV dialects an input is also read in, one chosen by its checksum."""

ENCODINGS = ("cp1252", "latin-1")
"""The other encodings a file is also read in, one chosen by its checksum."""


def history_harness(fmt: Format) -> Callable[[bytes], None]:
    """The ``TestOneInput`` of the harness for one history format.

    Every input is read with the default options first, so that a saved input keeps taking
    the path it was found on when other readings are added here; then in one other dialect
    (CSV) and encoding (files), chosen by its checksum.
    """
    scratch = ScratchFile(f"history.{fmt}")
    dialects: tuple[dict[str, Any], ...] = ({},)

    def test_one_input(data: bytes) -> None:
        choice = zlib.crc32(data)
        chosen = ({}, CSV_DIALECTS[(choice >> 4) % len(CSV_DIALECTS)]) if fmt == "csv" else dialects
        text = data.decode("utf-8", errors="replace")
        for dialect in chosen:
            events = _read(parse_history_text, text, fmt, source="fuzz", **dialect)
            if events is not None:
                _read(_evaluated_amounts, events)
        if choice % 16 == 2:
            escaped = data.decode("utf-8", errors="surrogateescape")
            _read(parse_history_text, escaped, fmt, source="fuzz")
        if not is_utf8(data) or choice % 4 == 0:
            path = scratch.write(data)
            other = ENCODINGS[(choice >> 8) % len(ENCODINGS)]
            for options in ({}, {"encoding": other, **chosen[-1]}):
                _read(read_history_file, path, **options)
                common = {name: value for name, value in options.items() if name != "decimal_comma"}
                _read(read_customers, path, **common)
                _read(_located, path, **common)

    return test_one_input
