"""Messages for input that Python or YAML would misread or describe wrongly.

Week dates and leap seconds, keys over YAML's 1024-character limit, a file too large with or
without aliases, a source line too long to print, and a file name with spaces around it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from rewardrules import load_program, loads_program
from rewardrules._timetext import leap_second_fix
from rewardrules.cli.main import cli
from rewardrules.errors import MAX_SHOWN_LINE, HistoryError, Location, Problem, RuleFileError
from rewardrules.histories.read import read_history
from rewardrules.rulefiles.loader import load_program_text

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = ROOT / "rules" / "examples" / "bakery-rewards.yaml"
HISTORY = ROOT / "rules" / "examples" / "bakery-rewards.history.csv"
HEADER = "program: p\nname: P\ncurrency: USD\ntimezone: UTC\n"
PARSERS = ("c", "pure")


def usage_error(*arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*arguments])
    return result.exit_code, result.stderr.splitlines()[-1]


# --- week dates and leap seconds -----------------------------------------------------------

AS_OF_FORMS = "write a date (2026-03-31) or a timestamp with an offset (2026-03-31T18:00:00-05:00)"


@pytest.mark.parametrize("week_date", ["2026-W09", "2026W09", "2026-W09-3", "2026-w09"])
@pytest.mark.parametrize("command", ["dry-run", "explain"])
def test_a_week_date_as_of_is_refused_with_the_accepted_forms(command: str, week_date: str) -> None:
    extra = ["--customer", "ada"] if command == "explain" else []
    assert usage_error(command, str(PROGRAM), str(HISTORY), *extra, "--as-of", week_date) == (
        2,
        f"Error: Invalid value for '--as-of': '{week_date}' is an ISO week date, which is not "
        f"accepted; {AS_OF_FORMS}",
    )


def test_lint_refuses_a_week_date_as_of_too() -> None:
    assert usage_error("lint", str(PROGRAM), "--as-of", "2026-W09") == (
        2,
        "Error: Invalid value for '--as-of': '2026-W09' is an ISO week date, which is not "
        "accepted; write a date as YYYY-MM-DD (2026-03-31)",
    )


@pytest.mark.parametrize(
    ("as_of", "fix"),
    [
        ("2026-12-31T23:59:60Z", "23:59:59"),
        ("2026-12-31T23:59:60+00:00", "23:59:59"),
        ("2027-01-01T00:59:60.5+01:00", "00:59:59"),
        ("2026-12-31 23:59:60-00:00", "23:59:59"),
    ],
)
def test_a_leap_second_as_of_says_leap_seconds_are_not_supported(as_of: str, fix: str) -> None:
    assert usage_error("dry-run", str(PROGRAM), str(HISTORY), "--as-of", as_of) == (
        2,
        f"Error: Invalid value for '--as-of': '{as_of}': leap seconds are not supported; use {fix}",
    )


@given(
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2099, 12, 30)),
    st.sampled_from(["Z", "+00:00", "-05:00", "+05:30"]),
)
def test_any_timestamp_at_second_60_is_a_leap_second_and_no_other_is(
    moment: datetime, offset: str
) -> None:
    written = moment.strftime("%Y-%m-%dT%H:%M:%S") + offset
    assert leap_second_fix(written) is None
    leap = moment.strftime("%Y-%m-%dT%H:%M:") + "60" + offset
    assert leap_second_fix(leap) == moment.strftime("%H:%M:59")


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_a_leap_second_in_a_history_says_so_at_its_line(tmp_path: Path, suffix: str) -> None:
    history = tmp_path / f"leap.{suffix}"
    if suffix == "csv":
        history.write_text(
            "event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id\n"
            "p1,purchase,c1,2026-12-31T23:59:60Z,a,b,1,1.00,\n",
            encoding="utf-8",
        )
    else:
        history.write_text(
            '{"event_id": "p1", "type": "purchase", "customer_id": "c1", '
            '"at": "2026-12-31T23:59:60Z", "lines": [{"sku": "a", "category": "b", '
            '"quantity": 1, "unit_price": "1.00"}]}\n',
            encoding="utf-8",
        )
    with pytest.raises(HistoryError) as caught:
        list(read_history(history))
    line = 2 if suffix == "csv" else 1
    assert str(caught.value) == (
        f"{history}:{line}:1: at: leap seconds are not supported; use 23:59:59 "
        "(got '2026-12-31T23:59:60Z')"
    )


def test_a_week_date_in_a_rule_file_says_week_dates_are_not_accepted() -> None:
    text = (
        HEADER + "rules:\n  - id: a\n    kind: signup_bonus\n    points: 5\n    starts: 2026-W09\n"
    )
    with pytest.raises(RuleFileError) as caught:
        load_program_text(text)
    assert [str(problem) for problem in caught.value.problems] == [
        "<text>:9:13: rules[0].starts: the text '2026-W09' is not a date (an ISO week date is "
        "not accepted); write dates as YYYY-MM-DD"
    ]


# --- keys over 1024 characters --------------------------------------------------------------

LONG_KEY = "a key is longer than 1024 characters, more than YAML reads before its ':'; shorten it"


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize(
    ("text", "where"),
    [
        (HEADER + "k" * 1025 + ": 1\n", "5:1"),
        (HEADER + "'" + "k" * 1100 + "': 1\n", "5:1"),
        (HEADER + "rules:\n  - " + "k" * 1025 + ": 1\n", "6:5"),
        (HEADER + "rules:\n  - - " + "k" * 2000 + ": 1\n", "6:7"),
    ],
)
def test_a_key_over_1024_characters_is_called_too_long(text: str, where: str, parser: str) -> None:
    with pytest.raises(RuleFileError) as caught:
        load_program_text(text, _parser=parser)  # type: ignore[arg-type]
    assert [str(problem) for problem in caught.value.problems] == [f"<text>:{where}: {LONG_KEY}"]


@pytest.mark.parametrize("parser", PARSERS)
def test_a_key_of_1024_characters_is_read_as_a_key(parser: str) -> None:
    with pytest.raises(RuleFileError) as caught:
        load_program_text(HEADER + "k" * 1024 + ": 1\n", _parser=parser)  # type: ignore[arg-type]
    assert [problem.code for problem in caught.value.problems] == ["unknown-key"]


@pytest.mark.parametrize("parser", PARSERS)
def test_a_line_with_no_colon_is_still_a_key_without_one(parser: str) -> None:
    with pytest.raises(RuleFileError) as caught:
        load_program_text(HEADER + "k" * 1100 + "\nx: 1\n", _parser=parser)  # type: ignore[arg-type]
    assert [problem.message for problem in caught.value.problems] == [
        "this key is not followed by ':'"
    ]


# --- too many values, with and without aliases ----------------------------------------------


def test_a_large_list_without_aliases_is_not_blamed_on_aliases() -> None:
    text = HEADER + "rules: [" + ", ".join(["1"] * 50) + "]\n"
    with pytest.raises(RuleFileError) as caught:
        load_program_text(text, _node_budget=30)
    (problem,) = caught.value.problems
    assert (problem.message, problem.code) == (
        "this file holds more than 30 values (items, keys and values together); a rule file "
        "this large is refused",
        "too-many-values",
    )


def test_a_file_that_aliases_blow_up_names_the_aliases() -> None:
    text = HEADER + "x: &a [1, 2, 3, 4, 5]\ny: [*a, *a, *a, *a, *a, *a]\n"
    with pytest.raises(RuleFileError) as caught:
        load_program_text(text, _node_budget=30)
    (problem,) = caught.value.problems
    assert (problem.message, problem.code) == (
        "this file holds more than 30 values once its aliases (*name) are expanded; a rule "
        "file this large is refused",
        "alias-budget",
    )


def test_the_line_of_a_huge_list_is_shown_cut_to_200_characters() -> None:
    text = HEADER + "rules: [" + ", ".join(["1"] * 1000) + "]\n"
    with pytest.raises(RuleFileError) as caught:
        load_program_text(text, _node_budget=600)
    shown = caught.value.render().splitlines()
    assert len(shown) == 3
    assert len(shown[1]) == len("    ") + MAX_SHOWN_LINE
    assert shown[1].startswith("    ...")
    assert shown[1].endswith("...")
    assert shown[1][shown[2].index("^")] == "1"


@given(
    st.text(alphabet="ab: -\t", min_size=0, max_size=600),
    st.integers(min_value=1, max_value=620),
)
def test_a_shown_line_is_at_most_200_characters_and_the_caret_stays_on_its_character(
    line: str, column: int
) -> None:
    problem = Problem("m", (), Location("f", 1, column), source_line=line)
    _, shown, caret = problem.with_caret().split("\n")
    shown, caret = shown.removeprefix("    "), caret.removeprefix("    ")
    expanded = line.expandtabs(1)
    assert len(shown) <= max(MAX_SHOWN_LINE, len(expanded))
    if len(expanded) <= MAX_SHOWN_LINE:
        assert shown == expanded
    if column <= len(expanded):
        index = len(caret) - 1
        assert shown[index] == expanded[column - 1]


# --- a file name with spaces around it ------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("x.yaml ", "no such file 'x.yaml ' (note the trailing space)"),
        (" x.yaml", "no such file ' x.yaml' (note the leading space)"),
        ("x.yaml  \t", "no such file 'x.yaml  \t' (note the trailing spaces)"),
        (" x.yaml ", "no such file ' x.yaml ' (note the leading and trailing spaces)"),
    ],
)
def test_a_file_name_with_spaces_around_it_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, written: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.yaml").write_text(PROGRAM.read_text(encoding="utf-8"), encoding="utf-8")
    for source in (written, Path(written)):
        with pytest.raises(RuleFileError) as caught:
            load_program(source)
        (problem,) = caught.value.problems
        assert (problem.message, problem.suggestion, problem.code) == (
            message,
            "did you mean 'x.yaml'?",
            "missing-file",
        )


def test_a_missing_yaml_name_with_a_trailing_space_says_so_without_a_suggestion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RuleFileError) as caught:
        load_program("nowhere.yaml ")
    (problem,) = caught.value.problems
    assert (str(problem), problem.code) == (
        "no such file 'nowhere.yaml ' (note the trailing space)",
        "missing-file",
    )


def test_yaml_text_that_ends_with_a_space_is_still_read_as_text() -> None:
    program = loads_program(HEADER.replace("\n", " \n"))
    assert program.timezone == "UTC"


@pytest.mark.parametrize("written", ["2026-W09-1T10:00:00Z", "2026W091T10:00:00+01:00"])
def test_a_week_date_in_a_history_is_refused_not_read_as_a_monday(
    tmp_path: Path, written: str
) -> None:
    history = tmp_path / "week.csv"
    history.write_text(
        "event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id\n"
        f"p1,purchase,c1,{written},a,b,1,1.00,\n",
        encoding="utf-8",
    )
    with pytest.raises(HistoryError) as caught:
        list(read_history(history))
    assert str(caught.value) == (
        f"{history}:2:1: at: an ISO week date is not accepted (it would be read as that week's "
        "Monday); write the calendar date, like 2026-03-01T09:30:00+01:00 "
        f"(got {written!r})"
    )
