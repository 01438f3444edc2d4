"""The pre-commit hooks of .pre-commit-hooks.yaml refuse a broken rule file, with its place.

pre-commit installs rewardrules from this checkout into an environment of its own (the
hooks' ``language: python``), with its dependencies from the package registry, as a user's
``pre-commit`` would: this takes a minute or two, once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent

BROKEN = """\
program: p
name: P
currency: USD
timezone: UTC
rules:
  - {id: punch, kind: every_nth_free, every: 1}
"""


def test_the_hooks_are_the_two_commands_on_rule_files() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert [(hook["id"], hook["entry"], hook["language"]) for hook in hooks] == [
        ("rewardrules-validate", "rewardrules validate", "python"),
        ("rewardrules-lint", "rewardrules lint", "python"),
    ]


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="pre-commit needs a git checkout")
@pytest.mark.skipif(shutil.which("git") is None, reason="pre-commit needs git")
def test_try_repo_refuses_a_broken_rule_file_with_its_place(tmp_path: Path) -> None:
    repository = tmp_path / "shop"
    (repository / "rules").mkdir(parents=True)
    (repository / "rules" / "club.yaml").write_text(BROKEN, encoding="utf-8")
    environment = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    environment.pop("PRE_COMMIT", None)

    def git(*arguments: str) -> None:
        subprocess.run(  # noqa: S603 -- git, in the temporary repository
            ["git", *arguments],  # noqa: S607 -- git from PATH, as pre-commit finds it
            cwd=repository,
            check=True,
            capture_output=True,
            env=environment,
        )

    git("init", "-q")
    git("add", "rules/club.yaml")
    done = subprocess.run(  # noqa: S603 -- our own interpreter, with pre-commit
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "--color", "never"],
        cwd=repository,
        capture_output=True,
        text=True,
        check=False,
        env=environment,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    located = (
        "rules/club.yaml:6:46: rules[0].every: must be at least 2 (got 1)\n"
        "      - {id: punch, kind: every_nth_free, every: 1}\n"
        "                                                 ^\n"
    )
    # Both hooks refuse the file, each with the located message.
    assert done.stdout.count(located) == 2
    assert "rewardrules validate....." in done.stdout
    assert "rewardrules lint....." in done.stdout
