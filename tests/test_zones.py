"""Time zones and currencies: only names that mean the same on every machine, with fixes."""

from __future__ import annotations

import copy
import os
import pickle
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewardrules import loads_program
from rewardrules._zones import ZoneNameError, check_zone_name, zone, zone_names
from rewardrules.errors import RuleFileError
from rewardrules.money import CurrencyCodeError, currency

ROOT = Path(__file__).resolve().parents[1]


def problem_of(timezone: str = "America/New_York", currency_code: str = "USD") -> str:
    text = f"program: p\nname: P\ncurrency: {currency_code}\ntimezone: {timezone}\n"
    with pytest.raises(RuleFileError) as caught:
        loads_program(text)
    (problem,) = caught.value.problems
    return f"{problem} [{problem.code}]"


# --- which names a program may use --------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Europe/London",
        "America/Argentina/Buenos_Aires",
        "UTC",
        "Etc/GMT+5",
        "Europe/Amsterdam",  # a link, but the place name zone.tab gives the Netherlands
        "America/Antigua",  # likewise
    ],
)
def test_a_canonical_name_or_a_country_place_name_is_accepted(name: str) -> None:
    check_zone_name(name)
    assert zone(name).key == name


@pytest.mark.parametrize(
    ("timezone", "expected"),
    [
        (
            "London",
            "<text>:4:11: timezone: 'London' is not an IANA time zone (for example Europe/Paris, "
            "America/New_York) (did you mean 'Europe/London'?) [unknown-zone]",
        ),
        (
            "europe/paris",
            "<text>:4:11: timezone: 'europe/paris' is not an IANA time zone (for example "
            "Europe/Paris, America/New_York) (did you mean 'Europe/Paris'?) [unknown-zone]",
        ),
        (
            "New York",
            "<text>:4:11: timezone: 'New York' is not an IANA time zone (for example "
            "Europe/Paris, America/New_York) (did you mean 'America/New_York'?) [unknown-zone]",
        ),
        (
            "Europe/Londn",
            "<text>:4:11: timezone: 'Europe/Londn' is not an IANA time zone (for example "
            "Europe/Paris, America/New_York) (did you mean 'Europe/London'?) [unknown-zone]",
        ),
        (
            "Kiev",
            "<text>:4:11: timezone: 'Kiev' is not an IANA time zone (for example "
            "Europe/Paris, America/New_York) (did you mean 'Europe/Kyiv'?) [unknown-zone]",
        ),
        (
            "UTC+1",
            "<text>:4:11: timezone: 'UTC+1' is not an IANA time zone (for example "
            "Europe/Paris, America/New_York) (a fixed offset is written 'Etc/GMT-1', with the "
            "sign inverted; a place's name also follows its summer time) [unknown-zone]",
        ),
        (
            "Mars/Olympus",
            "<text>:4:11: timezone: 'Mars/Olympus' is not an IANA time zone (for example "
            "Europe/Paris, America/New_York) [unknown-zone]",
        ),
        (
            "localtime",
            "<text>:4:11: timezone: 'localtime' is whatever zone the computer is set to, so the "
            "same files would give different results on different machines; name the "
            "program's zone (for example Europe/Paris, America/New_York) [host-zone]",
        ),
        (
            "posix/Europe/London",
            "<text>:4:11: timezone: 'posix/Europe/London' names a file of the computer's own "
            "zone files, not an IANA time zone; write the zone's name alone (did you mean "
            "'Europe/London'?) [host-zone]",
        ),
        (
            "right/UTC",
            "<text>:4:11: timezone: 'right/UTC' names a file of the computer's own zone files, "
            "not an IANA time zone; write the zone's name alone (did you mean 'UTC'?) "
            "[host-zone]",
        ),
        (
            "/usr/share/zoneinfo/Asia/Tokyo",
            "<text>:4:11: timezone: '/usr/share/zoneinfo/Asia/Tokyo' names a file of the "
            "computer's own zone files, not an IANA time zone; write the zone's name alone "
            "(did you mean 'Asia/Tokyo'?) [host-zone]",
        ),
        (
            "Factory",
            "<text>:4:11: timezone: 'Factory' is a placeholder of the zone database, not a "
            "place (for example Europe/Paris, America/New_York) [host-zone]",
        ),
        (
            "US/Eastern",
            "<text>:4:11: timezone: 'US/Eastern' is an old name kept for backward "
            "compatibility; write the current name (did you mean 'America/New_York'?) "
            "[old-zone-name]",
        ),
        (
            "Asia/Calcutta",
            "<text>:4:11: timezone: 'Asia/Calcutta' is an old name kept for backward "
            "compatibility; write the current name (did you mean 'Asia/Kolkata'?) "
            "[old-zone-name]",
        ),
        (
            "GMT",
            "<text>:4:11: timezone: 'GMT' is an old name kept for backward compatibility; "
            "write the current name (did you mean 'UTC'?) [old-zone-name]",
        ),
        (
            "EST5EDT",
            "<text>:4:11: timezone: 'EST5EDT' is a legacy zone that names an offset or a rule, "
            "not a place; write the zone of the place whose clocks the program follows (for "
            "example Europe/Paris, America/New_York) [old-zone-name]",
        ),
    ],
)
def test_a_refused_zone_says_why_and_what_to_write(timezone: str, expected: str) -> None:
    assert problem_of(timezone=timezone) == expected


@pytest.mark.parametrize("name", ["localtime", "Factory", "posix/UTC", "right/Europe/Paris"])
def test_zones_of_the_host_are_not_in_the_list_of_names(name: str) -> None:
    assert name not in zone_names()


def test_the_list_of_names_is_the_canonical_zones_and_the_places_of_zone_tab() -> None:
    data = resources.files("tzdata").joinpath("zoneinfo")
    places = {
        row.split("\t")[2]
        for row in data.joinpath("zone.tab").read_text(encoding="utf-8").splitlines()
        if row and not row.startswith("#")
    }
    assert places <= zone_names()
    assert {"UTC", "Etc/UTC", "America/Indiana/Knox"} <= zone_names()
    assert not {"US/Pacific", "Canada/Eastern", "Europe/Kiev", "CET", "GMT"} & zone_names()


_NAMES = sorted(zone_names())


@st.composite
def misspelt_zones(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(_NAMES))
    change = draw(st.sampled_from(["lower", "upper", "place", "spaces", "drop", "any"]))
    if change == "lower":
        return name.lower()
    if change == "upper":
        return name.upper()
    if change == "place":
        return name.rpartition("/")[2]
    if change == "spaces":
        return name.replace("_", " ")
    if change == "drop":
        index = draw(st.integers(0, len(name) - 1))
        return name[:index] + name[index + 1 :]
    return draw(st.text(max_size=30))


@given(misspelt_zones())
def test_every_zone_suggestion_names_a_zone_a_program_may_use(name: str) -> None:
    if name in zone_names():
        check_zone_name(name)
        return
    with pytest.raises(ZoneNameError) as caught:
        check_zone_name(name)
    assert caught.value.code in {"unknown-zone", "host-zone", "old-zone-name"}
    suggestion = caught.value.suggestion or ""
    if suggestion.startswith("did you mean"):
        assert suggestion.removeprefix("did you mean '").removesuffix("'?") in zone_names()


def test_a_zone_is_one_object_per_name_and_survives_pickling_and_copying() -> None:
    paris = zone("Europe/Paris")
    assert zone("Europe/Paris") is paris
    assert pickle.loads(pickle.dumps(paris)) is paris  # noqa: S301 -- our own bytes
    assert copy.deepcopy(paris) is paris
    assert str(paris) == "Europe/Paris"


def test_a_zone_follows_the_tzdata_rules_for_summer_time() -> None:
    paris = zone("Europe/Paris")
    winter = datetime(2026, 1, 15, 12, tzinfo=UTC).astimezone(paris)
    summer = datetime(2026, 7, 15, 12, tzinfo=UTC).astimezone(paris)
    assert (winter.hour, summer.hour) == (13, 14)


# --- currencies ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "message", "suggestion"),
    [
        (
            "eur",
            "'eur' is not an ISO 4217 currency code (for example USD, EUR, JPY)",
            "did you mean 'EUR'?",
        ),
        (
            " usd",
            "' usd' is not an ISO 4217 currency code (for example USD, EUR, JPY)",
            "did you mean 'USD'?",
        ),
        (
            "€",
            "'€' is not an ISO 4217 currency code (for example USD, EUR, JPY)",
            "did you mean 'EUR'?",
        ),
        (
            "Euro",
            "'Euro' is not an ISO 4217 currency code (for example USD, EUR, JPY)",
            "did you mean 'EUR'?",
        ),
        (
            "$",
            "'$' stands for several currencies; write the ISO 4217 code of yours",
            "did you mean USD, CAD, AUD, NZD, MXN, SGD or HKD?",
        ),
        (
            "¥",
            "'¥' stands for several currencies; write the ISO 4217 code of yours",
            "did you mean JPY or CNY?",
        ),
        ("HRK", "'HRK' is no longer in use; EUR replaced it", "did you mean 'EUR'?"),
        ("XYZ", "'XYZ' is not an ISO 4217 currency code (for example USD, EUR, JPY)", None),
    ],
)
def test_an_unknown_currency_says_what_to_write(
    written: str, message: str, suggestion: str | None
) -> None:
    with pytest.raises(CurrencyCodeError) as caught:
        currency(written)
    assert (str(caught.value), caught.value.suggestion) == (message, suggestion)
    assert caught.value.code == "unknown-currency"


def test_an_unknown_currency_in_a_rule_file_is_located_with_its_fix() -> None:
    assert problem_of(currency_code="'€'") == (
        "<text>:3:11: currency: '€' is not an ISO 4217 currency code (for example USD, EUR, "
        "JPY) (did you mean 'EUR'?) [unknown-currency]"
    )


@given(st.text(max_size=8))
def test_every_currency_suggestion_names_an_active_code(written: str) -> None:
    try:
        currency(written)
    except CurrencyCodeError as error:
        for word in (error.suggestion or "").replace(",", " ").replace("?", " ").split():
            if word.strip("'").isupper():
                currency(word.strip("'"))  # an active code: no error


# --- results do not depend on the host ------------------------------------------------------

WEEKEND_PROGRAM = """\
program: weekend
name: Weekend Stars
currency: USD
timezone: America/New_York
rules:
  - id: saturday-stars
    kind: points_per_spend
    points: 1
    per: 1.00
    when: {weekdays: [saturday]}
"""

# Friday 21:30 in New York, already Saturday in Tokyo.
WEEKEND_HISTORY = """\
event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id,store,reward
p1,purchase,ada,2026-03-07T02:30:00Z,latte,drinks,1,10.00,,,
p2,purchase,ada,2026-03-07T15:00:00Z,latte,drinks,1,5.00,,,
"""


PROBE = (
    "import datetime, zoneinfo; "
    "print(datetime.datetime(2026, 3, 7, tzinfo=zoneinfo.ZoneInfo('America/New_York')).utcoffset())"
)


def _dry_run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key not in {"TZ"}}
    environment.pop("PYTHONTZPATH", None)
    environment.update(env)
    return subprocess.run(  # noqa: S603 -- our own interpreter and arguments
        [
            sys.executable,
            "-m",
            "rewardrules",
            "dry-run",
            str(tmp_path / "weekend.yaml"),
            str(tmp_path / "history.csv"),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )


def test_the_same_files_give_the_same_output_whatever_the_host_zone_files(
    tmp_path: Path,
) -> None:
    (tmp_path / "weekend.yaml").write_text(WEEKEND_PROGRAM, encoding="utf-8")
    (tmp_path / "history.csv").write_text(WEEKEND_HISTORY, encoding="utf-8")
    # A zone directory whose "America/New_York" holds Tokyo's clocks: a lookup that read the
    # host's files first would call p1 a Saturday purchase.
    planted = tmp_path / "planted"
    (planted / "America").mkdir(parents=True)
    tokyo = resources.files("tzdata").joinpath("zoneinfo", "Asia", "Tokyo")
    with tokyo.open("rb") as source, (planted / "America" / "New_York").open("wb") as target:
        shutil.copyfileobj(source, target)
    empty = tmp_path / "empty"
    empty.mkdir()
    probe = subprocess.run(  # noqa: S603 -- our own interpreter and arguments
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONTZPATH": str(planted)},
        check=True,
    )
    assert probe.stdout.strip() == "9:00:00"  # the plant is what zoneinfo itself would read

    baseline = _dry_run(tmp_path)
    assert baseline.returncode == 0, baseline.stderr
    assert '"points": 5' in baseline.stdout  # p2 only: p1 is a Friday in New York
    for env in (
        {"TZ": "Asia/Tokyo"},
        {"TZ": "Pacific/Kiritimati", "PYTHONTZPATH": str(empty)},
        {"PYTHONTZPATH": str(planted)},
        {"PYTHONTZPATH": str(tmp_path / "no" / "such" / "dir")},
        {"TZ": ":/etc/localtime", "PYTHONTZPATH": f"{planted}{os.pathsep}{empty}"},
    ):
        assert (_dry_run(tmp_path, **env).stdout, env) == (baseline.stdout, env)
