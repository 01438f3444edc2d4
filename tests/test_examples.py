"""Golden dry-runs of the example programs in rules/examples/, one test per example.

Each example NAME is NAME.yaml (the program), NAME.history.{csv,jsonl,json} (its sample
history), NAME.expected.json (the golden `dry-run --format json`) and, optionally,
NAME.expected.txt (the golden table). Two more files are optional, for programs whose rules
read customer profiles (birthdays, sign-up bonuses, referrals):

* NAME.customers.{csv,jsonl,json}: the profiles, passed with `--customers`;
* NAME.as-of: one line holding the `--as-of` date or timestamp the goldens were made with
  (for example `2026-04-30`), so that gifts due at dates after the last event are given.

docs/examples.md works every golden out by hand.

These tests never write a golden. To change one deliberately, run the CLI yourself with the
example's files, e.g.

    cd rules/examples
    rewardrules dry-run NAME.yaml NAME.history.csv --format json > NAME.expected.json
    rewardrules dry-run NAME.yaml NAME.history.csv > NAME.expected.txt

adding `--customers NAME.customers.csv --as-of "$(cat NAME.as-of)"` to both when the
example has those files (`dry_run_arguments` below builds the command the tests run), then
review `git diff rules/examples/` line by line against docs/examples.md (update the
walkthrough too) before committing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rewardrules.cli.main import cli
from rewardrules.rulefiles.loader import load_program

EXAMPLES = Path(__file__).resolve().parent.parent / "rules" / "examples"
HISTORY_SUFFIXES = (".csv", ".jsonl", ".json")
PROGRAMS = sorted(EXAMPLES.glob("*.yaml"))


def history_of(program: Path) -> Path:
    """The one sample history of an example program."""
    found = [
        path
        for suffix in HISTORY_SUFFIXES
        if (path := program.with_name(f"{program.stem}.history{suffix}")).is_file()
    ]
    assert len(found) == 1, f"{program.name} needs exactly one history, found {found}"
    return found[0]


def customers_of(program: Path) -> Path | None:
    """The example's customer profiles, if it has any (at most one file)."""
    found = [
        path
        for suffix in HISTORY_SUFFIXES
        if (path := program.with_name(f"{program.stem}.customers{suffix}")).is_file()
    ]
    assert len(found) <= 1, f"{program.name} has more than one customers file: {found}"
    return found[0] if found else None


def as_of_of(program: Path) -> str | None:
    """The ``--as-of`` the example's goldens were made with (NAME.as-of), if any."""
    path = program.with_name(f"{program.stem}.as-of")
    if not path.is_file():
        return None
    lines = path.read_text(encoding="utf-8").split()
    assert len(lines) == 1, f"{path.name} must hold one date or timestamp (got {lines})"
    return lines[0]


def dry_run_arguments(program: Path) -> list[str]:
    """`dry-run PROGRAM HISTORY`, with the example's profiles and as-of date if it has them."""
    arguments = ["dry-run", str(program), str(history_of(program))]
    customers = customers_of(program)
    if customers is not None:
        arguments += ["--customers", str(customers)]
    as_of = as_of_of(program)
    if as_of is not None:
        arguments += ["--as-of", as_of]
    return arguments


def golden_json(program: Path) -> Path:
    """Where the golden JSON dry-run of an example lives."""
    return program.with_name(f"{program.stem}.expected.json")


def golden_table(program: Path) -> Path:
    """Where the (optional) golden table dry-run of an example lives."""
    return program.with_name(f"{program.stem}.expected.txt")


def run(*arguments: str) -> tuple[int, str]:
    """Run the real command; return its exit code and standard output."""
    result = CliRunner().invoke(cli, list(arguments), catch_exceptions=False)
    return result.exit_code, result.stdout


examples = pytest.mark.parametrize("program", PROGRAMS, ids=[path.stem for path in PROGRAMS])


def test_there_are_examples() -> None:
    assert len(PROGRAMS) >= 6


@examples
def test_example_has_a_history_and_a_golden(program: Path) -> None:
    history_of(program)
    customers_of(program)
    as_of_of(program)
    assert golden_json(program).is_file(), f"{program.name} has no {golden_json(program).name}"


def test_every_example_file_belongs_to_a_program() -> None:
    stems = {path.stem for path in PROGRAMS}
    strays = [
        path.name
        for path in EXAMPLES.iterdir()
        if path.suffix != ".yaml" and path.name.split(".", 1)[0] not in stems
    ]
    assert strays == []


@examples
def test_example_loads(program: Path) -> None:
    assert load_program(program).program == program.stem


@examples
def test_example_validates(program: Path) -> None:
    exit_code, output = run("validate", str(program))
    assert exit_code == 0, output
    assert output.startswith(f"{program}: OK (")


@examples
def test_example_dry_run_matches_golden_json(program: Path) -> None:
    exit_code, output = run(*dry_run_arguments(program), "--format", "json")
    assert exit_code == 0, output
    assert json.loads(output) == json.loads(golden_json(program).read_text(encoding="utf-8"))


@examples
def test_example_dry_run_on_the_batch_engine_matches_golden_json(program: Path) -> None:
    # The batch engine evaluates every example (meal-kit's referral hold among them) and
    # must give the reference's golden output, entry for entry.
    exit_code, output = run(*dry_run_arguments(program), "--format", "json", "--engine", "batch")
    assert exit_code == 0, output
    assert json.loads(output) == json.loads(golden_json(program).read_text(encoding="utf-8"))


@examples
def test_example_dry_run_matches_golden_table(program: Path) -> None:
    golden = golden_table(program)
    if not golden.is_file():
        pytest.skip(f"{program.stem} has no table golden")
    exit_code, output = run(*dry_run_arguments(program))
    assert exit_code == 0, output
    assert output == golden.read_text(encoding="utf-8")
