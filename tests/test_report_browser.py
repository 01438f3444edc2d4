"""The HTML pages of ``report`` and ``compare`` in a real browser: Debian's headless chromium.

Each page is opened from a file with no network: every chart must have drawn its marks (an
SVG with bars, lines or a heatmap image), the console must hold no error, and no request
may leave the machine (only ``file:``, ``data:`` and ``blob:`` URLs). Screenshots go to
.ci/artifacts/ (kept by CI as test artifacts) and to the test's temporary folder.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from rewardrules.cli.main import cli

selenium = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402 -- after the skip
from selenium.webdriver.common.by import By  # noqa: E402

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "rules" / "examples"
ARTIFACTS = ROOT / ".ci" / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
    if os.environ.get("CI"):
        pytest.fail("CI needs Debian's chromium and chromium-driver (.ci/run installs them)")
    pytest.skip("Debian's chromium and chromium-driver are not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    options = selenium.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,2400"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = selenium.Chrome(options=options, service=Service(DRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def open_page(driver: object, page: Path) -> None:
    driver.get(page.as_uri())  # type: ignore[attr-defined]
    for _ in range(100):
        ready = driver.execute_script(  # type: ignore[attr-defined]
            "return document.readyState === 'complete' && "
            "document.querySelectorAll('.js-plotly-plot').length > 0 && "
            "Array.from(document.querySelectorAll('.js-plotly-plot')).every("
            "p => p.querySelector('.main-svg') !== null)"
        )
        if ready:
            return
        time.sleep(0.1)


def check_page(driver: object, page: Path, charts: int, name: str, tmp_path: Path) -> None:
    open_page(driver, page)
    plots = driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")  # type: ignore[attr-defined]
    assert len(plots) == charts
    for plot in plots:
        assert plot.find_elements(By.CSS_SELECTOR, "svg.main-svg")
        marks = plot.find_elements(
            By.CSS_SELECTOR,
            ".barlayer .point path, .scatterlayer path.js-line, .heatmaplayer image",
        )
        assert marks, f"a chart of {name} drew nothing"
    errors = [
        entry
        for entry in driver.get_log("browser")  # type: ignore[attr-defined]
        if entry["level"] == "SEVERE"
    ]
    assert errors == []
    urls = []
    for entry in driver.get_log("performance"):  # type: ignore[attr-defined]
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    assert urls, "the performance log saw no request at all (not even the page)"
    assert [url for url in urls if not url.startswith(("file:", "data:", "blob:"))] == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for folder in (ARTIFACTS, tmp_path):
        driver.save_screenshot(str(folder / f"{name}.png"))  # type: ignore[attr-defined]


def test_the_report_page_draws_every_chart_offline(browser: object, tmp_path: Path) -> None:
    page = tmp_path / "coffee-club.html"
    arguments = [
        "report",
        str(EXAMPLES / "coffee-club.yaml"),
        str(EXAMPLES / "coffee-club.history.csv"),
        "--format",
        "html",
        "--output",
        str(page),
    ]
    assert CliRunner().invoke(cli, arguments).exit_code == 0
    # cost per month, points and liability, tier mix (coffee club has tiers), cost per customer
    check_page(browser, page, 4, "report-coffee-club", tmp_path)
    text = page.read_text(encoding="utf-8")
    assert "$43.36" in text
    assert "$2,688" not in text  # points are counted, not money
    assert "2,688" in text


def test_the_compare_page_draws_every_chart_offline(browser: object, tmp_path: Path) -> None:
    # docs/cost.md's worked compare: every 12th coffee free, or every 10th.
    cards = ROOT / "rules" / "compare"
    page = tmp_path / "compare.html"
    arguments = [
        "compare",
        str(cards / "coffee-card-12th.yaml"),
        str(cards / "coffee-card-10th.yaml"),
        str(cards / "coffee-card.history.csv"),
        "--format",
        "html",
        "--output",
        str(page),
    ]
    assert CliRunner().invoke(cli, arguments).exit_code == 0
    # the gain/loss histogram and the tier migration heatmap
    check_page(browser, page, 2, "compare-coffee-card", tmp_path)
    assert "$19.60" in page.read_text(encoding="utf-8")


def test_a_table_sorts_on_a_click_of_its_header(browser: object, tmp_path: Path) -> None:
    page = tmp_path / "bakery.html"
    arguments = [
        "report",
        str(EXAMPLES / "coffee-club.yaml"),
        str(EXAMPLES / "coffee-club.history.csv"),
        "--format",
        "html",
        "--output",
        str(page),
    ]
    assert CliRunner().invoke(cli, arguments).exit_code == 0
    open_page(browser, page)
    tables = browser.find_elements(By.CSS_SELECTOR, "table.sortable")  # type: ignore[attr-defined]
    months = next(
        table for table in tables if table.find_element(By.TAG_NAME, "th").text == "month"
    )

    def first_column() -> list[str]:
        return [
            row.find_element(By.TAG_NAME, "td").text
            for row in months.find_elements(By.CSS_SELECTOR, "tbody tr")
        ]

    ascending = first_column()
    assert ascending == sorted(ascending)
    header = months.find_element(By.TAG_NAME, "th")
    header.click()  # already ascending: the first click sorts up, the second down
    header.click()
    assert first_column() == sorted(ascending, reverse=True)
