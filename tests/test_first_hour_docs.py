"""Issue 16, part 5: the README and the docs sidebar lead a new user in. The README links
the guide and the references, says how to build the site and how to get shell
completion (which works as written); the sidebar has the marketers' pages first, the
library's next, internals last."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from rewardrules.cli.entry import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
INDEX = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")


def sections() -> dict[str, list[str]]:
    """The sidebar: each toctree's caption and its pages, in order."""
    found = re.findall(r"```\{toctree\}\n:caption: (.+)\n(?::.*\n)*\n((?:[a-z0-9-]+\n)+)```", INDEX)
    return {caption: pages.split() for caption, pages in found}


def test_the_readme_links_the_guide_both_references_the_site_build_and_completion() -> None:
    for link in ("(docs/guide.md)", "(docs/reference.md)", "(docs/cli.md)", "(docs/api.md)"):
        assert link in README
    assert "\npip install '.[docs]' && sphinx-build docs site\n" in README
    assert '`eval "$(_REWARDRULES_COMPLETE=bash_source rewardrules)"`' in README


def test_the_completion_line_of_the_readme_prints_a_bash_completion_script() -> None:
    result = CliRunner().invoke(
        cli, [], prog_name="rewardrules", env={"_REWARDRULES_COMPLETE": "bash_source"}
    )
    assert result.exit_code == 0
    assert "_rewardrules_completion()" in result.output
    assert "complete -o nosort -F _rewardrules_completion rewardrules" in result.output


def test_the_sidebar_has_the_two_sections_then_internals_last() -> None:
    found = sections()
    assert list(found) == ["Writing programs", "Building on the library", "Internals"]
    assert found["Writing programs"][:2] == ["guide", "reference"]
    assert found["Building on the library"][0] == "api"
    assert {"fuzzing", "performance", "why-sphinx"} <= set(found["Internals"])
