"""The conformance corpus: one generic test run over every case folder in tests/conformance/.

In the spirit of the JSON-Schema-Test-Suite, the cases are data, not code: each folder
``tests/conformance/<area>/<case-name>/`` holds a program, optionally a history, and what
must come out, either the exact problems or the exact evaluation. ``tests/conformance/
README.md`` describes the format and how to add a case.

These tests never write an expected file: expected results are written (or reviewed) by
hand, and a failing case shows the difference between them and what the library did.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from rewardrules.errors import HistoryError, Problem, RuleFileError, format_path
from rewardrules.evaluation.fold import evaluate
from rewardrules.histories.read import read_history
from rewardrules.kinds.table import KINDS
from rewardrules.program.model import Program
from rewardrules.rulefiles.loader import load_program_file, load_program_text
from rewardrules.tools.reference.examples import kind_name

CORPUS = Path(__file__).resolve().parent / "conformance"
PROGRAM_FILES = ("program.yaml", "program.bin")
HISTORY_FILES = ("history.csv", "history.jsonl", "history.json")
CASE_FILES = frozenset(
    {*PROGRAM_FILES, *HISTORY_FILES, "options.json", "evaluate.json", "expected.json"}
)
EVALUATE_KEYS = frozenset({"as_of"})
EXPECTED_KEYS = frozenset({"about", "problems", "evaluation"})
PROBLEM_KEYS = ("code", "line", "column", "path", "message")
CORPUS_FILES = frozenset({"README.md"})

CASES = sorted(path for path in CORPUS.glob("*/*") if path.is_dir())

KINDS_WRITTEN = "{kinds}"
"""Stands in an expected message for the list of every kind, so a new kind changes no case."""
KIND_LIST = ", ".join(kind_name(model) for model in KINDS)


def case_id(case: Path) -> str:
    """``area/case-name``, the id a case's test is reported under."""
    return f"{case.parent.name}/{case.name}"


cases = pytest.mark.parametrize("case", CASES, ids=[case_id(case) for case in CASES])


def read_json(path: Path) -> Any:
    """Read a JSON file strictly: UTF-8, and no key given twice in one object."""

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        assert not repeated, f"{path}: key given twice: {', '.join(repeated)}"
        return dict(pairs)

    return json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=unique_keys)


def only_one(case: Path, names: tuple[str, ...]) -> Path | None:
    """The one file of ``names`` the case has, or None; two of them is a malformed case."""
    found = [case / name for name in names if (case / name).is_file()]
    assert len(found) <= 1, f"{case_id(case)} has {[path.name for path in found]}; keep one"
    return found[0] if found else None


def load_case_program(case: Path) -> Program:
    """Load the case's program: ``program.bin`` as bytes, ``program.yaml`` as UTF-8 text.

    The text is decoded without translating line ends, so a case about ``\\r`` keeps it.
    """
    binary = case / "program.bin"
    if binary.is_file():
        return load_program_file(binary)
    text = (case / "program.yaml").read_bytes().decode("utf-8")
    return load_program_text(text, "program.yaml")


def read_as_of(text: str) -> date | datetime:
    """``as_of`` as ``--as-of`` reads it: a date (``2026-06-30``), or an instant with a UTC
    offset (``2026-07-01T00:00:00-04:00``)."""
    if "T" not in text:
        return date.fromisoformat(text)
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() is not None, f"as_of {text!r} needs a UTC offset"
    return moment


def evaluate_case(case: Path, program: Program) -> dict[str, Any]:
    """Read the case's history (with its options, if any) and evaluate the program on it,
    up to the case's ``as_of`` (from ``evaluate.json``), if any."""
    history = only_one(case, HISTORY_FILES)
    assert history is not None, f"{case_id(case)} has no history to evaluate"
    options_file = case / "options.json"
    options = read_json(options_file) if options_file.is_file() else {}
    evaluate_file = case / "evaluate.json"
    settings = read_json(evaluate_file) if evaluate_file.is_file() else {}
    as_of = None if "as_of" not in settings else read_as_of(settings["as_of"])
    events = read_history(history, **options)
    result: dict[str, Any] = evaluate(program, events, as_of=as_of).to_dict()
    return result


def problem_as_json(problem: Problem) -> dict[str, Any]:
    """The compared facts of a problem; the file name and the suggestion are not compared."""
    location = problem.location
    return {
        "code": problem.code,
        "line": None if location is None else location.line,
        "column": None if location is None else location.column,
        "path": format_path(problem.path),
        "message": problem.message,
    }


def run_case(case: Path) -> dict[str, Any]:
    """What the library does with a case, in the shape of ``expected.json`` (without about).

    The program is loaded first; if it fails, that is the result. Otherwise, with a history,
    the history is read and evaluated; a case without a history stops at the program.
    """
    try:
        program = load_case_program(case)
    except RuleFileError as error:
        return {"problems": [problem_as_json(problem) for problem in error.problems]}
    if only_one(case, HISTORY_FILES) is None:
        return {"program": "loaded without problems"}
    try:
        return {"evaluation": evaluate_case(case, program)}
    except HistoryError as error:
        return {"problems": [problem_as_json(problem) for problem in error.problems]}


def test_the_corpus_has_cases() -> None:
    assert len(CASES) >= 12


def test_the_corpus_holds_only_areas_of_case_folders() -> None:
    strays = [
        str(path.relative_to(CORPUS))
        for path in [*CORPUS.iterdir(), *CORPUS.glob("*/*")]
        if path.is_file() and path.name not in CORPUS_FILES
    ]
    assert strays == [], "files outside a case folder"


@cases
def test_case_is_well_formed(case: Path) -> None:
    strays = sorted(path.name for path in case.iterdir() if path.name not in CASE_FILES)
    assert strays == [], f"unexpected files; a case holds only {sorted(CASE_FILES)}"
    assert only_one(case, PROGRAM_FILES) is not None, "a case needs program.yaml or program.bin"
    history = only_one(case, HISTORY_FILES)
    if (case / "options.json").is_file():
        assert history is not None, "options.json is for read_history; the case has no history"
        assert isinstance(read_json(case / "options.json"), dict)
    if (case / "evaluate.json").is_file():
        assert history is not None, "evaluate.json is for evaluate; the case has no history"
        settings = read_json(case / "evaluate.json")
        assert isinstance(settings, dict)
        assert set(settings) <= EVALUATE_KEYS, f"evaluate.json holds only {sorted(EVALUATE_KEYS)}"
        assert all(isinstance(value, str) for value in settings.values())
    assert (case / "expected.json").is_file(), "a case needs expected.json"
    expected = read_json(case / "expected.json")
    assert isinstance(expected, dict)
    assert set(expected) <= EXPECTED_KEYS, f"unknown keys {sorted(set(expected) - EXPECTED_KEYS)}"
    about = expected.get("about")
    assert isinstance(about, str), "expected.json needs 'about': one sentence"
    assert about.strip()
    assert ("problems" in expected) != ("evaluation" in expected), (
        "expected.json needs exactly one of 'problems' and 'evaluation'"
    )
    if "evaluation" in expected:
        assert history is not None, "an expected evaluation needs a history"
        assert isinstance(expected["evaluation"], dict)
    else:
        problems = expected["problems"]
        assert isinstance(problems, list)
        assert problems, "expect at least one problem, or expect an evaluation"
        for problem in problems:
            assert isinstance(problem, dict)
            assert set(problem) == set(PROBLEM_KEYS), f"a problem has the keys {PROBLEM_KEYS}"
            assert isinstance(problem["code"], str)
            assert isinstance(problem["path"], str)
            assert isinstance(problem["message"], str)
            assert (problem["line"] is None) == (problem["column"] is None)
            for key in ("line", "column"):
                assert problem[key] is None or (
                    isinstance(problem[key], int) and problem[key] >= 1
                ), f"{key} is a number from 1, or null"


@cases
def test_case(case: Path) -> None:
    expected = read_json(case / "expected.json")
    expected.pop("about", None)
    for problem in expected.get("problems", ()):
        problem["message"] = problem["message"].replace(KINDS_WRITTEN, KIND_LIST)
    assert run_case(case) == expected
