"""Every fuzz seed and finding, replayed through its harness: found once, fixed for good.

The harnesses in ``fuzz/`` (``docs/fuzzing.md``) define ``TestOneInput``, which lets only the
library's own errors through. This runs each saved input through it, as
``python fuzz/<harness>.py --replay`` does, without atheris. A finding whose note says
``status: open`` is expected to fail until the library is fixed; once it passes, the strict
xfail fails too, as a reminder to mark the note ``status: fixed``.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
HARNESSES = {
    "rules": "fuzz_rule_loader",
    "history_csv": "fuzz_history_csv",
    "history_jsonl": "fuzz_history_jsonl",
    "history_json": "fuzz_history_json",
}

sys.path.insert(0, str(FUZZ))
import _fuzzing  # noqa: E402  # lives in fuzz/, importable only once that is on the path


def _harness(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, FUZZ / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _params() -> list[object]:
    params: list[object] = []
    for target in HARNESSES:
        for case in _fuzzing.cases(target):
            marks = []
            if case.status == "open":
                reason = f"open finding; see {case.name}{_fuzzing.NOTE_SUFFIX}"
                marks.append(pytest.mark.xfail(reason=reason, strict=True))
            params.append(pytest.param(target, case, id=case.name, marks=marks))
    return params


@pytest.fixture(scope="module")
def harnesses() -> dict[str, Callable[[bytes], None]]:
    """Each target's ``TestOneInput``, imported once."""
    return {target: _harness(name).TestOneInput for target, name in HARNESSES.items()}


def test_every_target_has_seeds() -> None:
    assert {target: bool(_fuzzing.cases(target)) for target in HARNESSES} == dict.fromkeys(
        HARNESSES, True
    )


@pytest.mark.parametrize(("target", "case"), _params())
def test_a_saved_input_gives_a_result_or_the_library_s_own_error(
    harnesses: dict[str, Callable[[bytes], None]], target: str, case: _fuzzing.Case
) -> None:
    _fuzzing.replay(harnesses[target], case)
