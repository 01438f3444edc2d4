"""The batch engine's ledger as columns: entries are built only when they are read.

Each rule gives its entries for many events at once as an :class:`EntryPart`: the events,
the rule, the kind, the points, values and units, the reason's template and a way to get
each entry's reason arguments. :class:`LedgerColumns` holds every part and the order that
merges them into the reference's order, (customer, event, rule position). A
``LedgerEntry`` is made only when a customer's ledger is read; a Parquet ledger is written
from the columns (:meth:`LedgerColumns.table`) with no entry object at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from rewardrules.engine.ledger import EntryKind, LedgerEntry, format_reason, format_reasons
from rewardrules.evaluation.batch._frame import Ints
from rewardrules.money import Currency

Arguments = Sequence[tuple[Any, ...]] | Callable[[int], tuple[Any, ...]]
"""Each entry's reason arguments: a sequence, or a function of the entry's index."""
Amounts = Sequence[int | None] | None
"""Each entry's points, value or units; None when the kind has none."""
ReasonKeys = Callable[[Ints], "pa.Array[Any]"]
"""For some entries (their indices in a part), one Arrow value each: entries whose values
are equal have byte-identical reasons. Lets a ledger write each distinct reason once."""
ReasonMemo = dict[Any, Any]
"""Reasons already written, shared by the tables of one program's evaluations (the chunks
of a streamed history): per scope (the currency, and the part's rule, kind, template and
key function), the reason keys met and their texts (:class:`_Written`); or per currency,
a dict of texts by an entry's template and plain arguments. Never share one between
programs: a key names a reason only within one program."""
ReasonTexts = Callable[[Ints, Currency], list[str]]
"""For some entries (their indices in a part), their reasons, each as ``EntryPart.reason``
writes it: all at once, where one at a time costs more than the text."""
_PLAIN = frozenset({int, str, type(None)})
"""Argument types whose equal values always format alike (unlike ``True`` and ``1``,
``Decimal("1.0")`` and ``Decimal("1")``, ``0.0`` and ``-0.0``)."""


@dataclass(frozen=True, slots=True)
class EntryPart:
    """One rule's entries for some events (in event order), as columns.

    ``built`` holds entries made elsewhere (a points account's), used as they are.
    ``sources`` are the events whose ids the entries carry when those are not the events
    they are placed at (an expiry, placed before a later event, names the purchase that
    earned its points).
    """

    events: Ints
    rule: str
    kind: EntryKind
    points: Amounts
    value: Amounts
    units: Amounts
    template: Any
    arguments: Arguments
    built: Sequence[LedgerEntry] | None = None
    keys: ReasonKeys | None = None
    sources: Ints | None = None
    texts: ReasonTexts | None = None
    numbers: tuple[Ints | None, Ints | None, Ints | None] | None = None
    """The points, value and units again as the int64 arrays the lists were made from
    (None where not given so): a ledger table reads them instead of the lists."""

    @property
    def named(self) -> Ints:
        """The events whose ids the entries carry (``sources``, else ``events``)."""
        return self.events if self.sources is None else self.sources

    @classmethod
    def of_entries(cls, events: Ints, entries: Sequence[LedgerEntry]) -> EntryPart:
        """A part of entries already made (their own rule, kind and reason)."""
        return cls(events, "", "points", None, None, None, None, (), entries)

    def __len__(self) -> int:
        return len(self.events)

    def entry(self, index: int, event_id: str, customer_id: str, money: Currency) -> LedgerEntry:
        """Entry ``index`` of this part."""
        if self.built is not None:
            return self.built[index]
        arguments = self.arguments
        return LedgerEntry(
            event_id,
            customer_id,
            self.rule,
            self.kind,
            None if self.points is None else self.points[index],
            None if self.value is None else self.value[index],
            None if self.units is None else self.units[index],
            money,
            self.template,
            arguments(index) if callable(arguments) else arguments[index],
        )

    def column(self, name: str) -> npt.NDArray[Any]:
        """Points, value or units as an object array (None where there is none)."""
        if self.built is not None:
            field = "value_minor" if name == "value" else name
            return np.asarray([getattr(entry, field) for entry in self.built] or [], object)
        values = getattr(self, name)
        if values is None:
            return np.full(len(self), None, dtype=object)
        found = np.empty(len(self), dtype=object)
        found[:] = list(values)
        return found

    def reason(self, index: int, money: Currency) -> str:
        """The reason of entry ``index``, as ``LedgerEntry.reason`` writes it."""
        if self.built is not None:
            return self.built[index].reason
        # LedgerEntry.reason, without making the entry (once per distinct reason written)
        found = self.arguments
        arguments = found(index) if callable(found) else found[index]
        template = self.template
        if callable(template):
            text: str = template(money, *arguments)
            return text
        return format_reason(money, template, arguments)

    def _texts(self, chosen: Ints, money: Currency) -> list[str]:
        """The reasons of entries ``chosen``: all at once with ``texts``, else a template's
        field by field (``format_reasons``)."""
        if self.texts is not None:
            return self.texts(chosen, money)
        indices = chosen.tolist()
        if self.built is not None:
            return [self.built[index].reason for index in indices]
        found = self.arguments
        rows = (
            [found(index) for index in indices]
            if callable(found)
            else [found[index] for index in indices]
        )
        template = self.template
        if callable(template):
            return [template(money, *arguments) for arguments in rows]
        return format_reasons(money, template, rows)

    def reasons(
        self, chosen: Ints, money: Currency, memo: ReasonMemo | None = None
    ) -> tuple[Ints, list[str] | pa.Array[Any]]:
        """The reasons of entries ``chosen``, each distinct one written once: a code per
        entry and the texts the codes point to, byte-identical to ``LedgerEntry.reason``.

        Entries share a text when their ``keys`` are equal, or else when their template
        and arguments are equal and every argument is an int, a str or None. A ``memo``
        (:data:`ReasonMemo`) keeps the texts for the next tables of the same program; the
        texts of entries with ``keys`` then come as an Arrow array of every text of the
        memo's scope.
        """
        keys = None
        if self.keys is not None:
            try:
                keys = self.keys(chosen)
            except (OverflowError, TypeError):
                keys = None  # amounts beyond int64: compare arguments instead
        if keys is not None:
            encoded: Any = pc.dictionary_encode(keys)
            codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
            first = np.empty(len(encoded.dictionary), dtype=np.int64)
            first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
            if memo is None:
                return codes, self._texts(chosen[first], money)
            scope = (money, self.rule, self.kind, self.template, _function(self.keys))
            written = memo.get(scope)
            if written is None:
                written = memo[scope] = _Written()
            places = written.places(encoded.dictionary)
            new = np.flatnonzero(places < 0)
            if len(new):
                texts = self._texts(chosen[first[new]], money)
                places[new] = written.add(encoded.dictionary.take(pa.array(new)), texts)
            return places[codes], written.texts()
        found = np.empty(len(chosen), dtype=np.int64)
        written_here: list[str] = []
        missing: list[tuple[int, int, tuple[Any, ...] | None]] = []  # code, index, key
        seen: dict[tuple[Any, ...], int] = {}
        plain = None if memo is None else _bucket(memo, (money,))
        for row, index in enumerate(chosen.tolist()):
            key = self._reason_key(index, money)
            code = None if key is None else seen.get(key)
            if code is None:
                code = len(written_here)
                text = None if key is None or plain is None else plain.get(key)
                if text is None:
                    missing.append((code, index, key))
                    text = ""  # written below, with the others missing
                written_here.append(text)
                if key is not None:
                    seen[key] = code
            found[row] = code
        if missing:
            wanted = np.asarray([index for _code, index, _key in missing], dtype=np.int64)
            for (code, _index, key), text in zip(missing, self._texts(wanted, money)):
                written_here[code] = text
                if key is not None and plain is not None:
                    plain[key] = text
        return found, written_here

    def _reason_key(self, index: int, money: Currency) -> tuple[Any, ...] | None:
        """What entry ``index``'s reason is made of, when equal keys surely give equal
        texts; None when that cannot be told cheaply."""
        if self.built is not None:
            entry = self.built[index]
            if entry.money is not money:
                return None
            template, arguments = entry.template, entry.arguments
        else:
            template, found = self.template, self.arguments
            arguments = found(index) if callable(found) else found[index]
        plain = _PLAIN
        for argument in arguments:
            if type(argument) not in plain:
                return None
        return (template, *arguments)


def _bucket(memo: ReasonMemo, scope: tuple[Any, ...]) -> dict[Any, str]:
    """The memo's texts of one scope (hashed once per table, not once per text)."""
    found: dict[Any, str] | None = memo.get(scope)
    if found is None:
        found = memo[scope] = {}
    return found


class _Written:
    """The reasons of one memo scope: the reason keys met, in the order met (Arrow, so
    that a table's keys are looked up all at once), and their texts."""

    def __init__(self) -> None:
        self._keys: list[pa.Array[Any]] = []
        self._known: pa.Array[Any] | None = None
        self._texts: list[pa.Array[Any]] = []
        self._all: pa.Array[Any] | None = None
        self.count = 0

    def places(self, keys: pa.Array[Any]) -> Ints:
        """Where each of some distinct keys is among those met (-1: not met)."""
        if not self.count:
            return np.full(len(keys), -1, dtype=np.int64)
        if self._known is None:
            self._known = pa.concat_arrays(self._keys)
            self._keys = [self._known]
        found: Any = pc.index_in(keys, value_set=self._known)
        return np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)

    def add(self, keys: pa.Array[Any], texts: list[str]) -> Ints:
        """Keep some keys not met before and their texts; their places."""
        self._keys.append(keys)
        self._texts.append(pa.array(texts, pa.string()))
        self._known = self._all = None
        first = self.count
        self.count += len(texts)
        return np.arange(first, self.count, dtype=np.int64)

    def texts(self) -> pa.Array[Any]:
        """Every text kept, by place."""
        if self._all is None:
            self._all = pa.concat_arrays(self._texts) if self._texts else pa.array([], pa.string())
            self._texts = [self._all]
        return self._all


def _function(keys: Any) -> Any:
    """What computes a part's reason keys: a partial's function (the same for every
    evaluation), else the callable itself."""
    return keys.func if isinstance(keys, partial) else keys


def column_keys(columns: Sequence[Ints], chosen: Ints) -> pa.Array[Any]:
    """Reason keys (:data:`ReasonKeys`) of entries whose reason is told by a few integer
    columns (by entry): one exact key per entry ``chosen`` (:func:`row_keys`)."""
    heads = [np.asarray(column)[chosen] for column in columns]
    none = np.zeros(len(chosen), dtype=np.int64)
    return row_keys(heads, none, none, ())


def row_keys(
    heads: Sequence[Ints], starts: Ints, ends: Ints, lines: Sequence[Any]
) -> pa.Array[Any]:
    """One exact binary key per row: the row's ``heads`` values, then the values of its
    lines ``starts[row]`` to ``ends[row]`` in each of ``lines``, as int64 bytes.

    Rows have equal keys exactly when all those values are equal (a key's length tells
    its line count). Raises OverflowError when a value does not fit in int64, TypeError
    when one is not an integer.
    """
    rows, width = len(starts), len(lines)
    if not width:  # heads alone: every key as long, the rows of a 2-d array
        flat = np.empty((rows, len(heads)), dtype=np.int64)
        for place, head in enumerate(heads):
            flat[:, place] = head
        step = 8 * len(heads)
        fixed = np.arange(0, step * (rows + 1), step, dtype=np.int64)
        return pa.Array.from_buffers(pa.large_binary(), rows, [None, _buffer(fixed), _buffer(flat)])
    counts = np.asarray(ends, dtype=np.int64) - starts
    offsets = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(len(heads) + width * counts, out=offsets[1:])
    data = np.empty(int(offsets[-1]), dtype=np.int64)
    for place, head in enumerate(heads):
        data[offsets[:-1] + place] = head
    owner = np.repeat(np.arange(rows), counts)
    within = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
    line = starts[owner] + within
    base = offsets[:-1][owner] + len(heads) + within * width
    for place, column in enumerate(lines):
        data[base + place] = _integers(np.asarray(column)[line])
    return pa.Array.from_buffers(
        pa.large_binary(),
        rows,
        [None, _buffer(offsets * 8), _buffer(data)],
    )


class LedgerColumns:
    """Every entry of one evaluation, in ledger order, built when read.

    Args:
        parts: the rules' entries; ``keys`` give each part's sort keys (event times the
            rule count, plus the rule's position), in event order.
        event_ids: each event's id (by event index).
        customer_start: where each customer's events start, then the event count.
        rule_count: the key's multiplier.
        money: the program's currency.
        frame: the history's frame the event indices point into, for readers that sum
            the history beside the ledger (``rewardrules report``: spend, months).
    """

    def __init__(
        self,
        parts: list[EntryPart],
        keys: list[Ints],
        event_ids: npt.NDArray[np.object_],
        customer_start: Ints,
        rule_count: int,
        money: Currency,
        frame: Any = None,
    ) -> None:
        self.frame = frame
        self.parts = [part for part in parts if len(part)]
        kept = [key for part, key in zip(parts, keys) if len(part)]
        self.offsets = np.concatenate(([0], np.cumsum([len(part) for part in self.parts])))
        flat = np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)
        self.order: Ints | None = None
        if len(self.parts) > 1:
            self.order = np.argsort(flat, kind="stable")
            flat = flat[self.order]
        self.bounds: list[int] = np.searchsorted(flat, customer_start * rule_count).tolist()
        self.event_ids = event_ids
        self.money = money
        self._columns: dict[tuple[int, str], tuple[Ints, npt.NDArray[np.bool_] | None]] = {}
        self._event_ids: pa.Array[Any] | None = None
        self._customer_ids: tuple[Sequence[str], pa.Array[Any]] | None = None

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def count(self, customer: int) -> int:
        """How many entries a customer has."""
        return self.bounds[customer + 1] - self.bounds[customer]

    def _positions(self, start: int, end: int) -> tuple[Ints, Ints]:
        """For ledger positions ``start`` to ``end``: each entry's part and its index there."""
        found = np.arange(start, end, dtype=np.int64)
        if self.order is not None:
            found = self.order[start:end]
        part = np.searchsorted(self.offsets, found, side="right") - 1
        return part, found - self.offsets[part]

    def entries(self, customer: int, customer_id: str) -> tuple[LedgerEntry, ...]:
        """A customer's entries, in ledger order."""
        start, end = self.bounds[customer], self.bounds[customer + 1]
        if start == end:
            return ()
        part_of, index_of = self._positions(start, end)
        parts, money, event_ids = self.parts, self.money, self.event_ids
        built = []
        for part_index, index in zip(part_of.tolist(), index_of.tolist()):
            part = parts[part_index]
            event_id = event_ids[part.named[index]]
            built.append(part.entry(index, event_id, customer_id, money))
        return tuple(built)

    def _numbers(self, part: int, name: str) -> tuple[Ints, npt.NDArray[np.bool_] | None]:
        """A part's points, value (minor units) or units as int64 (0 where there is none)
        and where there is one (None: everywhere), made once. OverflowError beyond int64."""
        key = (part, name)
        found = self._columns.get(key)
        if found is None:
            entries = self.parts[part]
            exact = None if entries.numbers is None else entries.numbers[_NUMBERS.index(name)]
            if exact is not None and getattr(entries, name) is not None:
                found = self._columns[key] = (exact, None)
                return found
            given = getattr(entries, name) if entries.built is None else entries.column(name)
            if given is None:  # the kind has none
                found = self._columns[key] = (
                    np.zeros(len(entries), dtype=np.int64),
                    np.zeros(len(entries), dtype=np.bool_),
                )
                return found
            if not isinstance(given, list | tuple | np.ndarray):
                given = list(given)
            array = _int64s(given)
            valid = None
            if array.null_count:
                valid = np.asarray(array.is_valid().to_numpy(zero_copy_only=False), np.bool_)
                array = array.fill_null(0)
            numbers = np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.int64)
            found = self._columns[key] = (numbers, valid)
        return found

    def _ids(self, customer_ids: Sequence[str]) -> tuple[pa.Array[Any], pa.Array[Any]]:
        """The event ids and ``customer_ids`` as Arrow strings, made once."""
        if self._customer_ids is None or self._customer_ids[0] is not customer_ids:
            customers = pa.array(np.asarray(customer_ids, dtype=object), pa.string())
            self._customer_ids = (customer_ids, customers)
        if self._event_ids is None:
            known = getattr(self.frame, "id_column", None)  # the same ids, already Arrow
            if known is not None and len(known) == len(self.event_ids):
                if isinstance(known, pa.ChunkedArray):
                    known = known.combine_chunks()
                self._event_ids = known.cast(pa.string())
            else:
                self._event_ids = pa.array(self.event_ids, pa.string())
        return self._event_ids, self._customer_ids[1]

    def table(
        self,
        start: int,
        end: int,
        customer_ids: Sequence[str],
        schema: pa.Schema,
        memo: ReasonMemo | None = None,
    ) -> pa.Table:
        """Ledger positions ``start`` to ``end`` as a table of ``schema`` (a Parquet
        ledger's, ``ledger_files.ledger_schema``), with no entry object made.

        ``customer_ids`` names the customers by index; a ``memo`` keeps the reasons
        written for the next tables of the same program (:meth:`EntryPart.reasons`).
        """
        return self.coded_table(start, end, customer_ids, schema, memo)[0]

    def coded_table(
        self,
        start: int,
        end: int,
        customer_ids: Sequence[str],
        schema: pa.Schema,
        memo: ReasonMemo | None = None,
    ) -> tuple[pa.Table, EntryCodes]:
        """:meth:`table`, and the same entries as integer columns (:class:`EntryCodes`).

        Each column is gathered into ledger order once: a part's values are placed at
        its entries' positions (numpy), and text columns are one Arrow ``take`` each from
        their distinct values (rule, kind, reason) or from the event and customer ids.
        """
        count = end - start
        part_of, index_of = self._positions(start, end)
        event_ids, customers = self._ids(customer_ids)
        numbers = {name: np.zeros(count, dtype=np.int64) for name in _NUMBERS}
        valid = {name: np.ones(count, dtype=np.bool_) for name in _NUMBERS}
        events = np.empty(count, dtype=np.int64)  # into the event ids, then those of ``built``
        named = np.empty(count, dtype=np.int64)  # the event each entry names, -1 for none
        kind = np.empty(count, dtype=np.int64)
        rule = np.empty(count, dtype=np.int64)
        reason = np.empty(count, dtype=np.int64)
        names: dict[str, dict[str, int]] = {"kind": {}, "rule": {}}
        texts: list[pa.Array[Any]] = []  # the reasons' texts, part after part
        written = 0
        built_ids: list[str] = []
        present = np.flatnonzero(np.bincount(part_of, minlength=len(self.parts)))
        for part_index in present.tolist():
            part = self.parts[part_index]
            rows = np.flatnonzero(part_of == part_index) if len(present) > 1 else slice(None)
            chosen = index_of[rows]
            for name in _NUMBERS:
                values, where = self._numbers(part_index, name)
                numbers[name][rows] = values[chosen]
                if where is not None:
                    valid[name][rows] = where[chosen]
            if part.built is not None:
                picked = [part.built[index] for index in chosen.tolist()]
                kind[rows] = _codes(names["kind"], [entry.kind for entry in picked])
                rule[rows] = _codes(names["rule"], [entry.rule for entry in picked])
                events[rows] = np.arange(len(picked)) + (len(event_ids) + len(built_ids))
                ids = [entry.event_id for entry in picked]
                built_ids += ids
                named[rows] = self._events_named(part.events[chosen], ids)
            else:
                kind[rows] = names["kind"].setdefault(part.kind, len(names["kind"]))
                rule[rows] = names["rule"].setdefault(part.rule, len(names["rule"]))
                events[rows] = named[rows] = part.named[chosen]
            part_codes, part_texts = part.reasons(chosen, self.money, memo)
            if isinstance(part_texts, list):
                part_texts = pa.array(part_texts, pa.string())
            reason[rows] = part_codes + written
            texts.append(part_texts)
            written += len(part_texts)
        if built_ids:
            event_ids = pa.concat_arrays([event_ids, pa.array(built_ids, pa.string())])
        owner = np.searchsorted(self.bounds, np.arange(start, end), side="right") - 1
        kinds, rules = list(names["kind"]), list(names["rule"])
        columns = {
            "customer_id": customers.take(owner),
            "event_id": event_ids.take(events),
            "rule": pa.array(rules, pa.string()).take(rule),
            "kind": pa.array(kinds, pa.string()).take(kind),
            "points": _with_nulls(numbers["points"], valid["points"]),
            "value": _decimals(numbers["value"], valid["value"], schema.field("value").type),
            "units": _with_nulls(numbers["units"], valid["units"]),
            "reason": _concatenated(texts).take(reason),
        }
        codes = EntryCodes(
            kind,
            kinds,
            rule,
            rules,
            named,
            owner,
            numbers["points"],
            numbers["value"],
            numbers["units"],
            getattr(self.frame, "local_date", None),
        )
        return pa.table(columns, schema=schema), codes

    def _events_named(self, places: Ints, ids: list[str]) -> Ints:
        """The events whose ids entries made elsewhere carry (-1: none of this
        evaluation's): mostly the event each is placed at, else found by id."""
        found = np.asarray(places, dtype=np.int64).copy()
        other = np.flatnonzero(self.event_ids[found] != np.asarray(ids, dtype=object))
        if len(other):
            wanted = pa.array([ids[place] for place in other.tolist()], pa.string())
            index_of = getattr(self.frame, "index_of", None)
            found[other] = -1 if index_of is None else index_of(wanted)
        return found


@dataclass(frozen=True, slots=True)
class EntryCodes:
    """Some ledger entries (a table of :meth:`LedgerColumns.coded_table`) as integer
    columns, one value per entry: what sums that group entries need, with no text read.

    Attributes:
        kind: the entry's kind, as an index into ``kinds``.
        rule: the entry's rule, as an index into ``rules``.
        event: the event whose id the entry carries (an index into the evaluation's
            events), or -1 when the entry was made elsewhere with an id of its own (a
            gift given at a date, an opening lot: read its ``event_id``).
        customer: the entry's customer, as an index into the evaluation's customers.
        points, value, units: the amounts (value in minor units), 0 where there is none.
        dates: each event's local date in the program's zone (a proleptic Gregorian
            ordinal), by event index; None when the evaluation did not keep them.
    """

    kind: Ints
    kinds: list[str]
    rule: Ints
    rules: list[str]
    event: Ints
    customer: Ints
    points: Ints
    value: Ints
    units: Ints
    dates: Ints | None


_NUMBERS = ("points", "value", "units")


def _codes(known: dict[str, int], values: list[str]) -> Ints:
    """Each value's code in ``known`` (adding the new ones)."""
    return np.asarray([known.setdefault(value, len(known)) for value in values], dtype=np.int64)


def _concatenated(texts: list[pa.Array[Any]]) -> pa.Array[Any]:
    """Some string arrays as one (none: an empty one)."""
    if not texts:
        return pa.array([], pa.string())
    return texts[0] if len(texts) == 1 else pa.concat_arrays(texts)


def _with_nulls(values: Ints, valid: npt.NDArray[np.bool_]) -> pa.Array[Any]:
    """int64 values, null where not ``valid``."""
    if valid.all():
        return pa.array(values, pa.int64())
    return pa.array(values, pa.int64(), mask=~valid)


def _int64s(values: Sequence[int | None] | npt.NDArray[Any]) -> pa.Array[Any]:
    """Ints and None (a sequence, or an object array) as an int64 Arrow array
    (OverflowError beyond)."""
    return pa.array(values, pa.int64(), from_pandas=False)


def _integers(values: npt.NDArray[Any]) -> Ints:
    """Integer values as int64, exactly (OverflowError or TypeError otherwise)."""
    if values.dtype.kind in "iu":
        return values.astype(np.int64)
    if values.dtype.kind != "O" or not all(type(value) is int for value in values.tolist()):
        raise TypeError("not integers")
    return values.astype(np.int64)


def _decimals(low: Ints, valid: npt.NDArray[np.bool_], kind: pa.DataType) -> pa.Array[Any]:
    """Minor units (int64; null where not ``valid``) as decimals of the currency's scale:
    the unscaled integers themselves, written as the 16-byte little-endian two's
    complement Arrow keeps."""
    words = np.empty((len(low), 2), dtype=np.int64)
    words[:, 0] = low
    words[:, 1] = np.where(low < 0, -1, 0)
    validity = None
    if not valid.all():
        validity = _buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(kind, len(low), [validity, _buffer(words)])


def _buffer(values: npt.NDArray[Any]) -> pa.Buffer:
    """A C-contiguous numpy array's memory as an Arrow buffer, not copied."""
    return pa.py_buffer(values)  # type: ignore[arg-type] # the stubs ask for __buffer__ (3.12)
