"""``rewardrules serve`` starts the playground: its options, its warning, what it ships."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rewardrules.cli.main import cli

uvicorn = pytest.importorskip("uvicorn")

EXAMPLES = Path(__file__).parent.parent / "rules" / "examples"


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What ``uvicorn.run`` was asked to serve, instead of serving it."""
    calls: list[dict[str, Any]] = []

    def run(app: Any, **options: Any) -> None:
        calls.append({"app": app, **options})

    monkeypatch.setattr(uvicorn, "run", run)
    return calls


def test_serve_listens_on_this_machine_by_default(started: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(cli, ["serve", str(EXAMPLES)])
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"rewardrules serve: {EXAMPLES.resolve()} at http://127.0.0.1:8765/ (Ctrl-C stops it)\n"
    )
    assert (started[0]["host"], started[0]["port"]) == ("127.0.0.1", 8765)
    assert started[0]["app"].hosts == {"127.0.0.1", "localhost", "[::1]", "::1"}


def test_serve_warns_when_it_listens_on_the_network(started: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(
        cli, ["serve", str(EXAMPLES), "--host", "192.0.2.7", "--port", "9000"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        "warning: listening on 192.0.2.7: anyone who can reach this address and port can read "
        "and change the programs in"
    )
    assert (started[0]["host"], started[0]["port"]) == ("192.0.2.7", 9000)
    assert "192.0.2.7" in started[0]["app"].hosts


def test_serve_refuses_a_folder_that_does_not_exist(started: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(cli, ["serve", "no-such-folder"])
    assert result.exit_code == 2
    assert "'no-such-folder' does not exist" in result.output
    assert started == []


def test_the_page_needs_nothing_from_the_network() -> None:
    static = resources.files("rewardrules.serve") / "static"
    page = (static / "index.html").read_text(encoding="utf-8")
    assert re.findall(r'(?:src|href)="([^"]+)"', page) == [
        "data:,",
        "/static/playground.css",
        "/static/playground.js",
    ]
    bundle = (static / "playground.js").read_text(encoding="utf-8")
    assert set(re.findall(r"https?://[^\"' )]+", bundle)) == {"http://www.w3.org/2000/svg"}
