"""What the fuzz harnesses share: running under atheris, or replaying files without it.

Each harness (``fuzz/fuzz_*.py``) defines ``TestOneInput(data: bytes)``, which feeds the bytes
to one reader and lets through only the library's own error for that reader
(:class:`~rewardrules.errors.RuleFileError` or :class:`~rewardrules.errors.HistoryError`);
anything else escapes, and atheris saves the input as a crash. Then it calls :func:`main`::

    python fuzz/fuzz_rule_loader.py -max_total_time=300   # fuzz (needs atheris)
    python fuzz/fuzz_rule_loader.py --replay               # replay seeds and findings

Fuzzing without a corpus directory on the command line reads ``fuzz/seeds/<target>/``
and keeps what it finds in ``fuzz/corpus/<target>/`` (not committed); crashes land in
``fuzz/artifacts/<target>/``. ``docs/fuzzing.md`` describes the workflow.

This module must not import ``rewardrules``: a harness imports it inside
:func:`instrumented`, so that atheris can instrument it for coverage.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Final

FUZZ_DIR: Final = Path(__file__).resolve().parent
SEEDS: Final = FUZZ_DIR / "seeds"
FINDINGS: Final = FUZZ_DIR / "findings"
DICTS: Final = FUZZ_DIR / "dicts"

REPLAY_SECONDS: Final = 20
"""A replayed input that runs longer than this fails as a hang (libFuzzer uses -timeout)."""

FUZZ_DEFAULTS: Final = ("-timeout=10", "-rss_limit_mb=2048")
"""A rule file or history of a few kilobytes must be read in well under ten seconds."""

NOTE_SUFFIX: Final = ".md"
"""A finding's note sits beside it as ``<finding>.md``; its ``status:`` line is open or fixed."""

TestOneInput = Callable[[bytes], None]


def fuzzing(module_name: str) -> bool:
    """Whether the harness runs as a script under atheris (not replaying, not imported)."""
    return module_name == "__main__" and "--replay" not in sys.argv


def instrumented(module_name: str) -> contextlib.AbstractContextManager[Any]:
    """Instrument the imports in the block for coverage when fuzzing, else do nothing.

    Only ``rewardrules`` and ``yaml`` are instrumented: coverage inside pydantic says little
    about our inputs and slows every run.
    """
    if not fuzzing(module_name):
        return contextlib.nullcontext()
    atheris = _atheris()
    context: contextlib.AbstractContextManager[Any] = atheris.instrument_imports(
        include=["rewardrules", "yaml"]
    )
    return context


def _atheris() -> Any:
    """The atheris module (untyped), imported only when fuzzing: replay runs without it."""
    return importlib.import_module("atheris")


class ScratchFile:
    """One temporary file per process, rewritten for each input the file API reads."""

    def __init__(self, name: str) -> None:
        self.directory = tempfile.mkdtemp(prefix="rewardrules-fuzz-")
        atexit.register(shutil.rmtree, self.directory, ignore_errors=True)
        self.path = os.path.join(self.directory, name)

    def write(self, data: bytes) -> str:
        """Replace the file's bytes; returns its path."""
        with open(self.path, "wb") as file:
            file.write(data)
        return self.path


class BrokenPromiseError(AssertionError):
    """The library did not fail, but broke something it promises; a finding like a crash."""


def require(condition: bool, message: str) -> None:
    """Raise :class:`BrokenPromiseError` unless ``condition`` (an ``assert`` that ``-O`` keeps)."""
    if not condition:
        raise BrokenPromiseError(message)


def check_error(error: Any) -> None:
    """A library error must say something and show itself as the CLI would, 1-based."""
    require(bool(error.problems), f"{type(error).__name__} without problems")
    for shown in error.render().splitlines():
        # A source line under a problem is cut to 200 characters, indented by 4.
        if shown.startswith("    "):
            require(len(shown) <= 204, f"a source line of {len(shown)} characters is shown")
    for problem in error.problems:
        location = problem.location
        if location is not None:
            require(location.line >= 1, f"line {location.line} in {problem}")
            require(location.column >= 1, f"column {location.column} in {problem}")


def is_utf8(data: bytes) -> bool:
    """Whether the bytes are UTF-8 text without a byte order mark."""
    if data.startswith(b"\xef\xbb\xbf"):
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# --- replay ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    """One saved input: a seed, or a finding with its note's status."""

    path: Path
    status: str  # "seed", "open" or "fixed"

    @property
    def name(self) -> str:
        """The path relative to ``fuzz/``, for test ids and messages."""
        return self.path.relative_to(FUZZ_DIR).as_posix()


def cases(target: str) -> list[Case]:
    """Every seed and finding of a target, seeds first, each sorted by name."""
    found = [Case(path, "seed") for path in sorted((SEEDS / target).iterdir()) if _is_input(path)]
    findings = FINDINGS / target
    if findings.is_dir():
        found += [
            Case(path, _status(path)) for path in sorted(findings.iterdir()) if _is_input(path)
        ]
    return found


def _is_input(path: Path) -> bool:
    return path.is_file() and path.suffix != NOTE_SUFFIX and not path.name.startswith(".")


def _status(finding: Path) -> str:
    """A finding's status from its note: ``status: open`` until the library is fixed."""
    note = finding.with_name(finding.name + NOTE_SUFFIX)
    if note.is_file():
        for line in note.read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("status:"):
                return line.split(":", 1)[1].strip().lower()
    return "fixed"


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Raise TimeoutError if the block runs longer than ``seconds`` (where SIGALRM exists)."""
    if not hasattr(signal, "SIGALRM"):  # pragma: no cover - Windows
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"the input took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def replay(test_one_input: TestOneInput, case: Case) -> None:
    """Run one saved input through the harness, as the fuzzer would."""
    with deadline(REPLAY_SECONDS):
        test_one_input(case.path.read_bytes())


def _replay_all(target: str, test_one_input: TestOneInput, paths: list[str]) -> int:
    chosen = [Case(Path(path).resolve(), "given") for path in paths] if paths else cases(target)
    failed = 0
    for case in chosen:
        started = time.perf_counter()
        try:
            replay(test_one_input, case)
        except Exception:  # report every failing input, then exit non-zero
            failed += 1
            print(f"FAIL {case.path} ({case.status})", file=sys.stderr)  # noqa: T201  # CLI output
            traceback.print_exc()
        else:
            seconds = time.perf_counter() - started
            print(f"ok   {case.path} ({seconds:.3f} s)")  # noqa: T201  # CLI output
    print(f"{len(chosen) - failed} passed, {failed} failed")  # noqa: T201  # CLI output
    return 1 if failed else 0


# --- the command line --------------------------------------------------------------------


def main(target: str, test_one_input: TestOneInput) -> None:
    """Fuzz with atheris, or with ``--replay [FILE...]`` run saved inputs without it."""
    arguments = sys.argv[1:]
    if "--replay" in arguments:
        arguments.remove("--replay")
        raise SystemExit(_replay_all(target, test_one_input, arguments))
    atheris = _atheris()
    known = _open_signatures(target, test_one_input)
    atheris.Setup(
        [sys.argv[0], *_fuzz_arguments(target, arguments)], _ignoring(known, test_one_input)
    )
    atheris.Fuzz()


def signature(error: BaseException) -> tuple[str, ...]:
    """Where an error comes from: its type, and the last library function it passed through.

    A broken promise has no library frame; the start of its message tells it apart instead.
    """
    frames = [
        (Path(frame.filename).name, frame.name)
        for frame in traceback.extract_tb(error.__traceback__)
        if f"{os.sep}rewardrules{os.sep}" in frame.filename
    ]
    if isinstance(error, BrokenPromiseError):
        return (type(error).__name__, str(error).split(":", 1)[0])
    return (type(error).__name__, *(frames[-1] if frames else ()))


def _open_signatures(target: str, test_one_input: TestOneInput) -> set[tuple[str, ...]]:
    """The signatures of the open findings of a target: what still fails, and where."""
    known = set()
    for case in cases(target):
        if case.status == "open":
            try:
                replay(test_one_input, case)
            except Exception as error:  # every failure is a signature
                known.add(signature(error))
    for item in sorted(known):
        print(f"INFO: ignoring the open finding {' '.join(item)}")  # noqa: T201  # CLI output
    return known


def _ignoring(known: set[tuple[str, ...]], test_one_input: TestOneInput) -> TestOneInput:
    """The harness, with failures like an open finding's ignored: a run looks for new ones."""
    if not known:
        return test_one_input

    def test_new_failures_only(data: bytes) -> None:
        try:
            test_one_input(data)
        except Exception as error:
            if signature(error) not in known:
                raise

    return test_new_failures_only


def _fuzz_arguments(target: str, arguments: list[str]) -> list[str]:
    """The user's libFuzzer arguments, completed with this target's defaults."""
    given = {argument.split("=", 1)[0] for argument in arguments if argument.startswith("-")}
    extra = [flag for flag in FUZZ_DEFAULTS if flag.split("=", 1)[0] not in given]
    dictionary = DICTS / f"{target}.dict"
    if "-dict" not in given and dictionary.is_file():
        extra.append(f"-dict={dictionary}")
    if "-artifact_prefix" not in given:
        artifacts = FUZZ_DIR / "artifacts" / target
        artifacts.mkdir(parents=True, exist_ok=True)
        extra.append(f"-artifact_prefix={artifacts}{os.sep}")
    if not any(not argument.startswith("-") for argument in arguments):
        corpus = FUZZ_DIR / "corpus" / target
        corpus.mkdir(parents=True, exist_ok=True)
        # libFuzzer writes new inputs into the first directory: the scratch corpus, never
        # the committed seeds.
        extra += [str(corpus), str(SEEDS / target)]
    return [*extra, *arguments]
