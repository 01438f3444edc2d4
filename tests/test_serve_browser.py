"""The playground of ``rewardrules serve`` in a real browser: Debian's headless chromium.

One browser session walks the whole flow a marketer would, on the real server (uvicorn on a
free local port) over a copy of rules/examples: open the page, type a typo and see it
underlined with its suggestion, accept it, pick a history and run, explain a customer,
change ``every: 10`` to ``every: 8`` and see the cost difference, save and find the file and
its ``.bak``. axe-core (vendored in tests/axe/, never fetched) checks the page, at 1280x800
and on a narrow window. Screenshots of each step go to .ci/artifacts/ (kept by CI) and are
shown in docs/playground.md.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

selenium = pytest.importorskip("selenium.webdriver")
uvicorn = pytest.importorskip("uvicorn")
from selenium.common.exceptions import TimeoutException  # noqa: E402 -- after the skip
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

from rewardrules.evaluation.fold import evaluate  # noqa: E402
from rewardrules.histories.read import read_history  # noqa: E402
from rewardrules.rulefiles.loader import load_program, loads_program  # noqa: E402
from rewardrules.serve.app import create_app  # noqa: E402
from rewardrules.tools.compare import compare  # noqa: E402

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "rules" / "examples"
ARTIFACTS = ROOT / ".ci" / "artifacts"
AXE = Path(__file__).parent / "axe" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
PROGRAM = "ice-cream-parlour.yaml"
HISTORY = "ice-cream-parlour.history.csv"
WAIT = 15  # seconds: a ceiling for a shared machine, not a measurement

if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
    if os.environ.get("CI"):
        pytest.fail("CI needs Debian's chromium and chromium-driver (.ci/run installs them)")
    pytest.skip("Debian's chromium and chromium-driver are not installed", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("examples")
    for file in EXAMPLES.iterdir():
        shutil.copyfile(file, copy / file.name)
    return copy


@pytest.fixture(scope="module")
def server(folder: Path) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(create_app(folder), host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    for _ in range(200):
        if running.started:
            break
        time.sleep(0.05)
    assert running.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        running.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    options = selenium.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,800"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = selenium.Chrome(options=options, service=Service(DRIVER))
    try:
        viewport(driver, 1280, 800)
        yield driver
    finally:
        driver.quit()


def viewport(driver: Any, width: int, height: int) -> None:
    """The page's own size, exactly (a window's size includes the browser's frame)."""
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


def shot(driver: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"playground-{name}.png"))


def wait_for(driver: Any, condition: Any, what: str) -> Any:
    try:
        return WebDriverWait(driver, WAIT, poll_frequency=0.05).until(condition)
    except TimeoutException:
        shot(driver, "failed")
        status = driver.find_element(By.ID, "status").text
        pytest.fail(f"the page never showed {what} (status line: {status!r})")


def editor_text(driver: Any) -> str:
    text: str = driver.execute_script("return window.rewardrules.view.state.doc.toString()")
    return text


def select_in_editor(driver: Any, text: str, start: int = 0, length: int | None = None) -> None:
    """Put the editor's selection on ``text`` (its characters from ``start``), as a mouse would."""
    driver.execute_script(
        "const view = window.rewardrules.view;"
        "const at = view.state.doc.toString().indexOf(arguments[0]) + arguments[1];"
        "view.dispatch({selection: {anchor: at, head: at + arguments[2]}}); view.focus();",
        text,
        start,
        len(text) - start if length is None else length,
    )


def axe_violations(driver: Any) -> list[dict[str, Any]]:
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {iframes: false}).then("
        "  r => done(r.violations), e => done([{id: String(e), impact: 'serious'}]));"
    )
    return [
        {"id": violation["id"], "where": [node["target"] for node in violation.get("nodes", [])]}
        for violation in found
        if violation["impact"] in ("serious", "critical")
    ]


def test_a_marketer_edits_runs_compares_and_saves(browser: Any, server: str, folder: Path) -> None:
    driver = browser
    driver.get(f"{server}?program={PROGRAM}")
    wait_for(driver, lambda d: d.execute_script("return document.body.dataset.ready"), "itself")
    assert "every: 10" in editor_text(driver)
    shot(driver, "1-open")

    # A typo: the completion offers the key, the loader underlines it and suggests the fix.
    select_in_editor(driver, "every: 10", 0, len("every"))
    content = driver.find_element(By.CSS_SELECTOR, ".cm-content")
    content.send_keys("evry")
    typed = time.monotonic()
    options = wait_for(
        driver,
        lambda d: d.find_elements(By.CSS_SELECTOR, ".cm-tooltip-autocomplete .cm-completionLabel"),
        "the completion of keys",
    )
    assert "every" in [option.text for option in options]
    wait_for(
        driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".cm-lintRange-error"), "an underline"
    )
    fix = wait_for(
        driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#problems button.fix"), "a fix"
    )
    shown = time.monotonic() - typed
    assert fix[0].text == "Use 'every'"
    problem = driver.find_element(By.CSS_SELECTOR, "#problems li").text
    assert f"{PROGRAM}:22:5: rules[0].evry: unknown key 'evry' (did you mean 'every'?)" in problem
    (ARTIFACTS / "playground-underline-seconds.txt").write_text(f"{shown:.3f}\n")
    content.send_keys(Keys.ESCAPE)
    shot(driver, "2-typo")
    fix[0].click()
    wait_for(driver, lambda d: "every: 10" in editor_text(d), "the suggestion applied")
    wait_for(
        driver,
        lambda d: d.find_element(By.ID, "problems-heading").text == "No problems",
        "no problems",
    )
    assert not driver.find_elements(By.CSS_SELECTOR, ".cm-lintRange-error")

    # Hover docs: the pointer on the key shows its description from the schema.
    x, y = driver.execute_script(
        "const view = window.rewardrules.view;"
        "const at = view.state.doc.toString().indexOf('every: 10') + 2;"
        "const box = view.coordsAtPos(at); return [box.left + 1, (box.top + box.bottom) / 2];"
    )
    driver.execute_cdp_cmd("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
    hover = wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".hover-doc"), "hover docs")
    assert hover[0].text == "every\nUnits or visits per completed card."
    shot(driver, "3-fixed")

    # A history from the folder, then Ctrl-Enter: the dry-run's table.
    Select(driver.find_element(By.ID, "history")).select_by_value(HISTORY)
    content.send_keys(Keys.CONTROL, Keys.ENTER)
    rows = wait_for(
        driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#results-table tbody tr"), "the table"
    )
    expected = evaluate(load_program(folder / PROGRAM), read_history(folder / HISTORY))
    assert [row.find_element(By.TAG_NAME, "td").text for row in rows] == [
        result.customer_id for result in expected.customers
    ]
    wait_for(
        driver, lambda d: "compare" in d.find_element(By.ID, "comparison").text, "the comparison"
    )
    assert "nothing to compare" in driver.find_element(By.ID, "comparison").text
    shot(driver, "4-table")

    # Explain one customer.
    first = expected.customers[0].customer_id
    driver.find_element(By.CSS_SELECTOR, f'button.explain[data-customer="{first}"]').click()
    explained = wait_for(driver, lambda d: d.find_elements(By.ID, "explain-text"), "an explanation")
    assert f"customer {first}" in explained[0].text
    driver.execute_script("arguments[0].scrollIntoView()", explained[0])
    shot(driver, "5-explain")

    # every: 10 -> every: 8, run again: the cost against the saved file.
    select_in_editor(driver, "every: 10", len("every: "))
    content.send_keys("8")
    assert "every: 8" in editor_text(driver)
    content.send_keys(Keys.CONTROL, Keys.ENTER)
    change = wait_for(
        driver, lambda d: d.find_elements(By.ID, "cost-change"), "the cost difference"
    )
    dearer = (folder / PROGRAM).read_text(encoding="utf-8").replace("every: 10", "every: 8")
    found = compare(folder / PROGRAM, loads_program(dearer), folder / HISTORY)
    money = found.new.money
    old, new = money.to_decimal(found.old.cost), money.to_decimal(found.new.cost)
    assert new != old
    assert change[0].text == (
        f"Against the saved {PROGRAM}: cost {old:,} USD → {new:,} USD, change {new - old:+,} USD."
    )
    driver.execute_script("arguments[0].scrollIntoView()", change[0])
    shot(driver, "6-compare")

    # The report's charts drew in their frame.
    frame = driver.find_element(By.ID, "report-frame")
    driver.switch_to.frame(frame)
    wait_for(
        driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg"), "charts"
    )
    driver.switch_to.default_content()

    # Ctrl-S: saved, and the last version kept as .bak.
    content.send_keys(Keys.CONTROL, "s")
    wait_for(driver, lambda d: d.find_element(By.ID, "status").text.startswith("Saved"), "saved")
    assert "every: 8" in (folder / PROGRAM).read_text(encoding="utf-8")
    assert "every: 10" in (folder / f"{PROGRAM}.bak").read_text(encoding="utf-8")
    shot(driver, "7-saved")

    # Accessibility: no serious violation, wide and narrow; nothing wider than a narrow window.
    assert axe_violations(driver) == []
    viewport(driver, 400, 800)
    wait_for(
        driver, lambda d: d.execute_script("return window.innerWidth") == 400, "a narrow window"
    )
    assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    assert axe_violations(driver) == []
    shot(driver, "8-narrow")
    viewport(driver, 1280, 800)

    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
