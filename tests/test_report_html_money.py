"""Money on the HTML pages: the currency's symbol, thousands separators, and a sign on a
change (``+$5.00``), as counts of a change have one (``+2``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from rewardrules.cli.main import cli
from rewardrules.money import currency

pytest.importorskip("plotly")
from rewardrules.tools.report_html import money_text

CARDS = Path(__file__).parent.parent / "rules" / "compare"


def test_an_amount_shows_its_symbol_and_thousands_separators() -> None:
    assert money_text(currency("USD"), 123456789) == "$1,234,567.89"
    assert money_text(currency("USD"), -180) == "-$1.80"
    assert money_text(currency("CHF"), 123456) == "1,234.56 CHF"


def test_a_change_is_signed() -> None:
    assert money_text(currency("USD"), 500, signed=True) == "+$5.00"
    assert money_text(currency("USD"), -180, signed=True) == "-$1.80"
    assert money_text(currency("USD"), 0, signed=True) == "+$0.00"


def test_the_compare_page_signs_its_money_changes(tmp_path: Path) -> None:
    page = tmp_path / "compare.html"
    arguments = [
        "compare",
        str(CARDS / "coffee-card-12th.yaml"),
        str(CARDS / "coffee-card-10th.yaml"),
        str(CARDS / "coffee-card.history.csv"),
        "--format",
        "html",
        "--output",
        str(page),
    ]
    assert CliRunner().invoke(cli, arguments).exit_code == 0
    text = page.read_text(encoding="utf-8")
    assert ">+$5.00<" in text  # the cost, 14.60 to 19.60 USD
    assert ">-$1.80<" in text  # March
