"""Time zones from the ``tzdata`` package, never from the computer the program runs on.

``zoneinfo.ZoneInfo(name)`` looks in the host's zone files first (``PYTHONTZPATH``, then
``/usr/share/zoneinfo`` and the like) and only then in ``tzdata``. A host's files can be of
another tz release, or missing, or planted by ``PYTHONTZPATH``; the same program would then
give different points on different machines. Here every zone is read from the ``tzdata``
package that rewardrules depends on, so a program means the same everywhere.

Names a program may use (:func:`check_zone_name`): the canonical zones of the IANA database
with an ``Area/Location`` name (``Europe/Paris``), the place names of ``zone.tab`` (one per
country or region; some of them, like ``Europe/Amsterdam``, are links to a zone with the same
clocks since 1970), and ``UTC``. Refused, each with what to write instead: the host's own zone
(``localtime``), copies under ``posix/`` and ``right/``, the placeholder ``Factory``, old names
kept for backward compatibility (``US/Eastern``, ``Asia/Calcutta``) and legacy abbreviations
(``EST``, ``CET``, ``EST5EDT``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo

from rewardrules.errors import closest

_DATA = resources.files("tzdata").joinpath("zoneinfo")

_EXAMPLES = "for example Europe/Paris, America/New_York"

_ABBREVIATIONS = frozenset(
    "CET EET MET WET EST MST HST EST5EDT CST6CDT MST7MDT PST8PDT".split()  # noqa: SIM905
)
"""Legacy names that say an offset or a rule, not a place; no single place can be suggested."""

_UTC_NAMES = frozenset({"Etc/UTC", "Etc/GMT"})
"""Link targets for which the suggestion is plainly ``UTC``."""

_OFFSET = re.compile(r"(?:UTC|GMT)?\s*([+-])\s*(\d{1,2})(?::?00)?", re.IGNORECASE)


class ZoneNameError(ValueError):
    """A ``timezone`` that a program must not use, with a stable code and a likely fix.

    Attributes:
        code: ``unknown-zone``, ``host-zone`` or ``old-zone-name``.
        suggestion: the name to write instead, as "did you mean ...?", when one is clear.
    """

    def __init__(self, message: str, code: str, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.suggestion = suggestion


@dataclass(frozen=True, slots=True)
class _Database:
    accepted: frozenset[str]
    links: dict[str, str]
    """Every link of the database: ``{old name: the zone it names}``."""
    by_folded: dict[str, str]
    """Accepted names and links by their case-folded form, to the name to write."""
    by_place: dict[str, str]
    """The last part of each name, case-folded (``london``), to the name to write."""


@cache
def _database() -> _Database:
    zones: set[str] = set()
    links: dict[str, str] = {}
    for line in _DATA.joinpath("tzdata.zi").read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if fields[:1] == ["Z"]:
            zones.add(fields[1])
        elif fields[:1] == ["L"]:
            links[fields[2]] = fields[1]
    places = {
        line.split("\t")[2]
        for line in _DATA.joinpath("zone.tab").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    accepted = frozenset({name for name in zones if "/" in name} | places | {"UTC"})
    by_folded: dict[str, str] = {}
    by_place: dict[str, str] = {}
    for name in sorted(accepted):
        by_folded.setdefault(name.casefold(), name)
        by_place.setdefault(name.rpartition("/")[2].casefold(), name)
    for name, target in sorted(links.items()):
        meant = _current_name(name, target, accepted)
        if meant is not None:
            by_folded.setdefault(name.casefold(), meant)
            by_place.setdefault(name.rpartition("/")[2].casefold(), meant)
    return _Database(accepted, links, by_folded, by_place)


def _current_name(name: str, target: str, accepted: frozenset[str]) -> str | None:
    if name in _ABBREVIATIONS:
        return None
    if target in _UTC_NAMES:
        return "UTC"
    return target if target in accepted else None


def zone_names() -> frozenset[str]:
    """Every name :func:`check_zone_name` accepts."""
    return _database().accepted


def check_zone_name(name: str) -> None:
    """Refuse a name a program must not use as its ``timezone``.

    Raises:
        ZoneNameError: the name is not accepted; the error says why and what to write.
    """
    database = _database()
    if name in database.accepted:
        return
    if name.casefold() == "localtime" or name.startswith(("/", "posix/", "right/")):
        raise _host_zone(name)
    if name == "Factory":
        message = f"'Factory' is a placeholder of the zone database, not a place ({_EXAMPLES})"
        raise ZoneNameError(message, code="host-zone")
    if name in database.links or name in _ABBREVIATIONS:
        raise _old_name(name, database)
    message = f"'{name}' is not an IANA time zone ({_EXAMPLES})"
    raise ZoneNameError(message, code="unknown-zone", suggestion=_did_you_mean(name, database))


def _host_zone(name: str) -> ZoneNameError:
    if name.casefold() == "localtime":
        message = (
            "'localtime' is whatever zone the computer is set to, so the same files would give "
            f"different results on different machines; name the program's zone ({_EXAMPLES})"
        )
        return ZoneNameError(message, code="host-zone")
    rest = name.rpartition("zoneinfo/")[2].lstrip("/")
    for prefix in ("posix/", "right/"):
        rest = rest.removeprefix(prefix)
    message = (
        f"'{name}' names a file of the computer's own zone files, not an IANA time zone; "
        "write the zone's name alone"
    )
    meant = rest if rest in _database().accepted else None
    return ZoneNameError(
        message, code="host-zone", suggestion=f"did you mean '{meant}'?" if meant else None
    )


def _old_name(name: str, database: _Database) -> ZoneNameError:
    if name in _ABBREVIATIONS:
        message = (
            f"'{name}' is a legacy zone that names an offset or a rule, not a place; write "
            f"the zone of the place whose clocks the program follows ({_EXAMPLES})"
        )
        return ZoneNameError(message, code="old-zone-name")
    meant = _current_name(name, database.links[name], database.accepted)
    message = f"'{name}' is an old name kept for backward compatibility; write the current name"
    return ZoneNameError(
        message, code="old-zone-name", suggestion=f"did you mean '{meant}'?" if meant else None
    )


def _did_you_mean(name: str, database: _Database) -> str | None:
    written = name.strip().replace(" ", "_")
    folded = written.casefold()
    meant = database.by_folded.get(folded) or database.by_place.get(folded)
    if meant is None and (offset := _OFFSET.fullmatch(written)) is not None:
        sign, hours = offset.groups()
        if 0 < int(hours) <= 12:
            # The database's Etc/GMT zones are named POSIX-style, with the sign inverted.
            inverted = "-" if sign == "+" else "+"
            return (
                f"a fixed offset is written 'Etc/GMT{inverted}{int(hours)}', with the sign "
                "inverted; a place's name also follows its summer time"
            )
    if meant is None:
        close = closest(written, sorted(database.accepted))
        meant = close[0] if close else None
    if meant is None:
        close = closest(folded, sorted(database.by_place))
        meant = database.by_place[close[0]] if close else None
    return f"did you mean '{meant}'?" if meant else None


class _TzdataZone(ZoneInfo):
    """A zone read from ``tzdata``; it pickles and copies as a fresh read of the same name."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return zone, (self.key,)

    def __repr__(self) -> str:
        return f"ZoneInfo(key={self.key!r})"


@cache
def zone(name: str) -> ZoneInfo:
    """The zone ``name`` as the ``tzdata`` package defines it; one object per name.

    Raises:
        ZoneNameError: a program must not use this name (see :func:`check_zone_name`).
    """
    check_zone_name(name)
    with _DATA.joinpath(*name.split("/")).open("rb") as file:
        return _TzdataZone.from_file(file, key=name)
