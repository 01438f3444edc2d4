"""The batch engine's local dates (``_frame.local_dates``) against ``zoneinfo``, one instant
at a time: over dense spans of days (every day of the span sampled once and kept for the
next chunks), sparse ones (only the days present) and spans longer than the bitmap's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardrules.evaluation.batch._frame import _LONGEST_SPAN, _span_offsets, local_dates

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ZONES = ("America/New_York", "Pacific/Auckland", "Australia/Lord_Howe", "Europe/London")


def expected(micros: list[int], zone: ZoneInfo) -> list[int]:
    moments = (EPOCH + timedelta(microseconds=value) for value in micros)
    return [moment.astimezone(zone).date().toordinal() for moment in moments]


@settings(max_examples=60)
@given(
    start=st.datetimes(datetime(1990, 1, 1), datetime(2090, 1, 1), timezones=st.just(UTC)),
    days=st.integers(1, 400),
    count=st.integers(1, 3000),
    seed=st.integers(0, 2**32 - 1),
    zone_name=st.sampled_from(ZONES),
)
def test_dense_and_sparse_spans_give_zoneinfos_dates(
    start: datetime, days: int, count: int, seed: int, zone_name: str
) -> None:
    zone = ZoneInfo(zone_name)
    first = (start - EPOCH) // timedelta(microseconds=1)
    spread = np.random.default_rng(seed).integers(0, days * 86_400_000_000, count)
    micros = (first + spread).tolist()
    assert local_dates(np.asarray(micros, np.int64), zone).tolist() == expected(micros, zone)
    # The chunks after it, of one span: the kept offsets serve them all.
    for part in (micros[: count // 2], micros[count // 2 :]):
        if part:
            found = local_dates(np.asarray(part, np.int64), zone).tolist()
            assert found == expected(part, zone)


def test_a_dense_span_is_sampled_once_for_every_chunk() -> None:
    zone = ZoneInfo("Europe/London")
    first = (datetime(2026, 3, 1, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
    hours = np.arange(0, 60 * 24, dtype=np.int64) * 3_600_000_000 + first
    _span_offsets.cache_clear()
    for part in (hours, hours[::7], np.concatenate(([hours[0]], hours[500:], [hours[-1]]))):
        assert local_dates(part, zone).tolist() == expected(part.tolist(), zone)
    assert _span_offsets.cache_info().misses == 1


def test_instants_farther_apart_than_the_bitmap_are_sorted() -> None:
    zone = ZoneInfo("America/New_York")
    day = 86_400_000_000
    micros = [-(_LONGEST_SPAN // 2) * day, 0, 5, (_LONGEST_SPAN // 2 + 3) * day]
    assert local_dates(np.asarray(micros, np.int64), zone).tolist() == expected(micros, zone)
