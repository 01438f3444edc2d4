"""The public API: exactly what the docs use, importable from ``rewardrules`` itself.

docs/api.md says that the names of ``rewardrules.__all__`` are the API and every other module
is internal; these tests hold the docs and the package to that.
"""

from __future__ import annotations

import ast
import gc
import inspect
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import rewardrules
from helpers import at, line, program, purchase
from rewardrules.engine.ledger import Evaluation
from test_docs import ALL_BLOCKS, Block

ROOT = Path(__file__).resolve().parent.parent

PUBLIC_MODULES = {"rewardrules", "rewardrules.dask", "rewardrules.spark"}
"""Modules a user imports: the package, and the scale-out entry points of docs/scale-out.md
(imported on their own because they need the dask or spark extra)."""


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except SyntaxError:
        return False  # a signature shown as text (marked no-test)
    return True


def _python_blocks() -> list[Block]:
    return [block for block in ALL_BLOCKS if block.language == "python" and _parses(block.text)]


def _imports(block: Block) -> Iterator[tuple[str, str | None]]:
    """``(module, name)`` for each import from rewardrules in a block (name None: a module)."""
    for node in ast.walk(ast.parse(block.text)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rewardrules"):
            for alias in node.names:
                yield node.module or "", alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("rewardrules"):
                    yield alias.name, None


def test_the_docs_import_only_public_names() -> None:
    found = [
        f"{block.id}: {module}" + (f".{name}" if name else "")
        for block in _python_blocks()
        for module, name in _imports(block)
        if module not in PUBLIC_MODULES
        or (module == "rewardrules" and name is not None and name not in rewardrules.__all__)
    ]
    assert found == []


def test_the_docs_use_the_package_namespace() -> None:
    # Attribute uses (rewardrules.x) in code: only the public modules and exported names.
    used = {
        f"{block.id}: rewardrules.{node.attr}"
        for block in _python_blocks()
        for node in ast.walk(ast.parse(block.text))
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "rewardrules"
        and node.attr not in rewardrules.__all__
        and f"rewardrules.{node.attr}" not in PUBLIC_MODULES
    }
    assert used == set()


def test_the_docs_import_what_they_use_from_rewardrules() -> None:
    # The check above is not vacuous: the docs import the API this way.
    imported = {
        name
        for block in _python_blocks()
        for module, name in _imports(block)
        if module == "rewardrules"
    }
    assert {"load_program", "loads_program", "evaluate", "lint_program", "explain_all"} <= imported


def test_all_is_sorted_public_and_every_name_resolves() -> None:
    names = rewardrules.__all__
    assert names == sorted(names)
    assert [name for name in names if name.startswith("_")] == []
    assert sorted(rewardrules._HOMES) == names
    for name in names:
        module, attribute = rewardrules._HOMES[name]
        assert getattr(rewardrules, name) is getattr(sys.modules[module], attribute)
    assert {"AnyEvent", "Currency"} <= set(names)
    with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"):
        _ = rewardrules.nothing_here  # type: ignore[attr-defined]


def test_no_public_function_shows_a_private_parameter() -> None:
    shown = [
        f"{name}({parameter})"
        for name in rewardrules.__all__
        if inspect.isfunction(value := getattr(rewardrules, name))
        for parameter in inspect.signature(value).parameters
        if parameter.startswith("_")
    ]
    assert shown == []


def test_importing_the_package_imports_neither_pydantic_nor_pyarrow() -> None:
    code = (
        "import sys, rewardrules; "
        "print(sorted(m for m in ('pydantic', 'pyarrow', 'yaml') if m in sys.modules))"
    )
    found = subprocess.run(  # noqa: S603 -- our own interpreter and code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert found == "[]\n"


# --- results ------------------------------------------------------------------------------


class _CountedTuple(tuple):  # type: ignore[type-arg]
    """A tuple that counts how often it is walked through."""

    walks = 0

    def __iter__(self) -> Iterator[object]:
        type(self).walks += 1
        return super().__iter__()


def test_finding_a_customer_does_not_scan_the_customers_each_time() -> None:
    points = program(rules=[{"id": "p", "kind": "points_per_spend", "points": "1"}])
    history = [
        purchase(f"p{number}", at(number), line("latte", "4.00"), customer=f"c{number}")
        for number in range(50)
    ]
    evaluation = rewardrules.evaluate(points, history)
    counted = Evaluation(
        evaluation.program,
        evaluation.money,
        evaluation.points_name,
        _CountedTuple(evaluation.customers),
        evaluation.totals,
    )
    _CountedTuple.walks = 0
    for number in range(50):
        assert counted.customer(f"c{number}").customer_id == f"c{number}"
    assert _CountedTuple.walks == 1
    with pytest.raises(KeyError):
        counted.customer("nobody")


def test_results_give_data_with_to_dict_and_text_with_to_json() -> None:
    found = rewardrules.report(
        ROOT / "rules/examples/coffee-club.yaml", ROOT / "rules/examples/coffee-club.history.csv"
    )
    program = rewardrules.load_program(ROOT / "rules/examples/coffee-club.yaml")
    evaluation = rewardrules.evaluate(
        program, rewardrules.read_history(ROOT / "rules/examples/coffee-club.history.csv")
    )
    customer = evaluation.customers[0]
    results = [found, evaluation, evaluation.totals, customer, customer.ledger[0]]
    for result in results:
        text = result.to_json()
        assert isinstance(text, str)
        assert json.loads(text) == result.to_dict()
        assert text == json.dumps(result.to_dict(), indent=2, ensure_ascii=False)


@pytest.mark.parametrize("enabled", [True, False])
def test_evaluate_leaves_the_garbage_collector_as_it_found_it(enabled: bool) -> None:
    points = program(rules=[{"id": "p", "kind": "points_per_spend", "points": "1"}])
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        rewardrules.evaluate(points, [purchase("p1", at(), line("latte", "4.00"))])
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()
