"""``validate`` and ``lint`` for tools: --format text|json|github|sarif, -o FILE, directories;
and the command group that imports a command only when it runs."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from rewardrules.cli.entry import COMMANDS, cli

HEADER = "program: p\nname: P\ncurrency: USD\ntimezone: UTC\n"
BROKEN = HEADER + "rules:\n  - {id: punch, kind: every_nth_free, every: 1}\n"
WARNED = HEADER + (
    "rules:\n  - {id: punch, kind: every_nth_free, every: 5, reward: {percent_off: 100}}\n"
)


def run(*arguments: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(argument) for argument in arguments])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """rules/good.yaml, rules/team/broken.yaml, rules/team/warned.yaml, and files not read."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rules" / "team").mkdir(parents=True)
    (tmp_path / "rules" / ".hidden").mkdir()
    (tmp_path / "rules" / "good.yaml").write_text(HEADER + "rules: []\n", encoding="utf-8")
    (tmp_path / "rules" / "team" / "broken.yaml").write_text(BROKEN, encoding="utf-8")
    (tmp_path / "rules" / "team" / "warned.yaml").write_text(WARNED, encoding="utf-8")
    (tmp_path / "rules" / "notes.txt").write_text("not a rule file", encoding="utf-8")
    (tmp_path / "rules" / ".hidden" / "x.yaml").write_text("- never read", encoding="utf-8")
    return tmp_path


BROKEN_AT = "rules/team/broken.yaml:6:46"


def test_validate_reads_a_directory_recursively_in_sorted_order(tree: Path) -> None:
    code, out, err = run("validate", "rules")
    assert code == 1
    assert out == "rules/good.yaml: OK (P, 0 rules)\nrules/team/warned.yaml: OK (P, 1 rule)\n"
    assert err == (
        f"{BROKEN_AT}: rules[0].every: must be at least 2 (got 1)\n"
        "      - {id: punch, kind: every_nth_free, every: 1}\n"
        "                                                 ^\n"
    )


def test_a_directory_without_rule_files_is_a_usage_error(tmp_path: Path) -> None:
    code, out, err = run("validate", tmp_path)
    assert (code, out) == (2, "")
    assert err.endswith(f"Error: {tmp_path}: the directory holds no *.yaml or *.yml file\n")


def test_validate_github_annotates_the_line(tree: Path) -> None:
    code, out, err = run("validate", "--format", "github", "rules")
    assert (code, err) == (1, "")
    assert out == (
        "::error file=rules/team/broken.yaml,line=6,col=46,title=rewardrules out-of-range::"
        "rules[0].every: must be at least 2 (got 1)\n"
    )


def test_lint_github_gives_warnings_and_errors(tree: Path) -> None:
    code, out, _ = run("lint", "--format", "github", "rules")
    assert code == 1
    assert out.splitlines() == [
        "::error file=rules/team/broken.yaml,line=6,col=46,title=rewardrules out-of-range::"
        "rules[0].every: must be at least 2 (got 1)",
        "::warning file=rules/team/warned.yaml,line=6,col=71,title=rewardrules discount-100::"
        "rules[0].reward.percent_off: 100%25 off gives the rewarded units away (if they are "
        "meant to be free, write `reward: free`)",
    ]


def test_github_escapes_what_would_end_a_property_or_a_command(tree: Path) -> None:
    odd = tree / "a,b:c%.yaml"
    odd.write_text(HEADER + "rules:\n  - {id: x, kind: every_nth_free, every: 1}\n", "utf-8")
    _, out, _ = run("validate", "--format", "github", odd.name)
    assert out.startswith("::error file=a%2Cb%3Ac%25.yaml,line=6,col=")


def test_validate_sarif_has_one_result_per_problem_with_its_region(tree: Path) -> None:
    code, out, err = run("validate", "--format", "sarif", "rules")
    assert (code, err) == (1, "")
    document = json.loads(out)
    assert (document["version"], document["$schema"]) == (
        "2.1.0",
        "https://json.schemastore.org/sarif-2.1.0.json",
    )
    (run_,) = document["runs"]
    assert run_["tool"]["driver"]["name"] == "rewardrules"
    assert run_["tool"]["driver"]["rules"] == [{"id": "out-of-range"}]
    assert run_["results"] == [
        {
            "ruleId": "out-of-range",
            "ruleIndex": 0,
            "level": "error",
            "message": {"text": "rules[0].every: must be at least 2 (got 1)"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": "rules/team/broken.yaml"},
                        "region": {"startLine": 6, "startColumn": 46},
                    }
                }
            ],
        }
    ]


def test_lint_sarif_marks_warnings_as_warnings(tree: Path) -> None:
    _, out, _ = run("lint", "--format", "sarif", "rules/team/warned.yaml")
    (result,) = json.loads(out)["runs"][0]["results"]
    assert (result["ruleId"], result["level"]) == ("discount-100", "warning")


def test_lint_json_lists_warnings_beside_problems(tree: Path) -> None:
    code, out, _ = run("lint", "--format", "json", "rules")
    assert code == 1
    files = json.loads(out)["files"]
    assert [(entry["file"], entry["ok"], len(entry["problems"])) for entry in files] == [
        ("rules/good.yaml", True, 0),
        ("rules/team/broken.yaml", False, 1),
        ("rules/team/warned.yaml", True, 0),
    ]
    (warning,) = files[2]["warnings"]
    assert (warning["code"], warning["line"], warning["column"], warning["path"]) == (
        "discount-100",
        6,
        71,
        "rules[0].reward.percent_off",
    )
    assert "warnings" not in files[0]


@pytest.mark.parametrize("output_format", ["text", "json", "github", "sarif"])
def test_dash_o_writes_the_report_to_a_file_and_nothing_to_the_terminal(
    tree: Path, output_format: str
) -> None:
    code, out, err = run("lint", "--format", output_format, "-o", "report.out", "rules")
    assert (code, out, err) == (1, "", "")
    written = (tree / "report.out").read_text(encoding="utf-8")
    _, shown, shown_err = run("lint", "--format", output_format, "rules")
    # The file holds exactly what the terminal would have shown, both streams in one.
    assert sorted(written.splitlines()) == sorted((shown + shown_err).splitlines())


def test_dash_o_into_a_missing_directory_says_so(tree: Path) -> None:
    code, _, err = run("validate", "-o", "nowhere/report.txt", "rules/good.yaml")
    assert code == 1
    assert "Could not open file 'nowhere/report.txt': no such file or directory" in err


def test_text_output_is_unchanged_for_a_valid_file(tree: Path) -> None:
    assert run("lint", "rules/good.yaml") == (0, "rules/good.yaml: OK, no warnings\n", "")


# --- the group imports a command only when it runs ------------------------------------------


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_lazy_command_is_the_command_its_summary_says(name: str) -> None:
    module, attribute, summary = COMMANDS[name]
    command = getattr(importlib.import_module(module), attribute)
    assert isinstance(command, click.Command)
    assert command.name == name
    assert command.get_short_help_str(limit=1000) == summary


def test_the_group_lists_every_command_the_package_defines() -> None:
    defined = {
        command.name
        for path in (Path(__file__).parent.parent / "src/rewardrules/cli").glob("*.py")
        for command in vars(importlib.import_module(f"rewardrules.cli.{path.stem}")).values()
        if isinstance(command, click.Command) and not isinstance(command, click.Group)
    }
    assert defined == set(COMMANDS)


@pytest.mark.parametrize("arguments", [["--version"], ["--help"], ["lint", "--help"]])
def test_version_and_help_import_no_command_they_do_not_show(arguments: list[str]) -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from rewardrules.cli.entry import cli\n"
        f"result = CliRunner().invoke(cli, {arguments!r})\n"
        "assert result.exit_code == 0, result.output\n"
        "print(sorted(m for m in ('rewardrules.cli.main', 'pydantic', 'pyarrow') "
        "if m in sys.modules))\n"
    )
    done = subprocess.run(  # noqa: S603 -- our own interpreter and code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    # A command's own help imports that command's module (lint's reads histories), no other.
    expected = "['pyarrow', 'pydantic']\n" if arguments[0] == "lint" else "[]\n"
    assert done.stdout == expected
