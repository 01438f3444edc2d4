"""How the ``rewardrules`` process ends: its exit status, and what it says on the way out.

| status | when |
| --- | --- |
| 0 | success |
| 1 | invalid input, or the output cannot be written ("cannot write the output: ...") |
| 2 | bad usage (an unknown option, a missing argument, a bad ``--as-of``) |
| 3 | a bug in rewardrules ("internal error") |
| 130 | interrupted (Ctrl-C): nothing more is written |
| 141 | the reader of the output went away (``| head -1``): nothing more is written |

141 is what a shell reports for a program that a closed pipe ends (128 + SIGPIPE), as ``git``
ends. It is not 0 because the command did not finish: ``validate a.yaml b.yaml | head -1``
never checked ``b.yaml``, and under ``set -o pipefail`` that must not pass for success.

Click would print "Aborted!" and exit 1 on Ctrl-C, and exit 1 on a broken pipe; both look like
invalid input. Its standalone mode is therefore off, and this module does its part.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import IO, Any, NoReturn, cast

import click

INTERRUPTED = 130
BROKEN_PIPE = 141
INTERNAL_ERROR = 3

_ctrl_c = threading.Event()
"""Set at Ctrl-C: the ``KeyboardInterrupt`` it raises can land where Python ignores it (a
finaliser that the garbage collector runs, printed as "Exception ignored in ..."), and the
command must still end with 130 and write nothing more."""


def _on_ctrl_c(_signal: int, _frame: object) -> None:
    _ctrl_c.set()
    raise KeyboardInterrupt


def _unraisable(details: Any) -> None:
    """Python's hook for exceptions it cannot raise: a Ctrl-C there is remembered, not
    printed; anything else as Python prints it."""
    if isinstance(details.exc_value, KeyboardInterrupt):
        _ctrl_c.set()
        return
    sys.__unraisablehook__(details)


class _Interrupted(Exception):  # noqa: N818 -- a signal, not an error
    """Ctrl-C during a command, carried past click (which would print "Aborted!")."""


class _OutputFailed(Exception):  # noqa: N818 -- named for what happened
    """Writing to standard output or standard error failed.

    Not an ``OSError``, so that click does not turn a broken pipe into exit status 1.
    """

    def __init__(self, error: OSError, stream: str) -> None:
        super().__init__(str(error))
        self.broken_pipe = isinstance(error, BrokenPipeError) or error.errno == errno.EPIPE
        self.reason = (error.strerror or str(error)).lower()
        self.stream = stream


class InterruptibleGroup(click.Group):
    """A command group whose commands end on Ctrl-C with status 130 and no message."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a ``KeyboardInterrupt`` leaves as :class:`_Interrupted`."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise _Interrupted from None


class _GuardedStream:
    """A standard stream whose failed writes raise :class:`_OutputFailed`."""

    def __init__(self, stream: IO[str], name: str) -> None:
        self._stream = stream
        self._name = name

    def write(self, text: str) -> int:
        if _ctrl_c.is_set() and self._name == "stdout":  # an interrupt Python ignored
            raise KeyboardInterrupt
        try:
            return self._stream.write(text)
        except OSError as error:
            raise _OutputFailed(error, self._name) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as error:
            raise _OutputFailed(error, self._name) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def run(group: click.Group, argv: Sequence[str] | None) -> NoReturn:
    """Run the command line and exit with the status of the table above."""
    out, err = sys.stdout, sys.stderr
    if out is None:  # started with standard output closed (``>&-``)
        _say("cannot write the output: standard output is closed")
        sys.exit(1)
    sys.stdout = cast(IO[str], _GuardedStream(out, "stdout"))
    if err is not None:
        sys.stderr = cast(IO[str], _GuardedStream(err, "stderr"))
    _catch_ctrl_c()
    try:
        status = _status(group, argv)
        if _ctrl_c.is_set():  # interrupted where Python ignored it: end as interrupted
            status = _interrupted()
        else:
            sys.stdout.flush()
    except _OutputFailed as failure:
        status = _output_failed(failure)
    finally:
        sys.stdout, sys.stderr = out, err
    sys.exit(status)


def _catch_ctrl_c() -> None:
    """Remember every Ctrl-C (:data:`_ctrl_c`), where Python keeps the default handler."""
    _ctrl_c.clear()
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_ctrl_c)
    sys.unraisablehook = _unraisable


def _status(group: click.Group, argv: Sequence[str] | None) -> int:
    try:
        result = group.main(args=argv, prog_name="rewardrules", standalone_mode=False)
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except (_Interrupted, KeyboardInterrupt, click.Abort):
        return _interrupted()
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except _OutputFailed:
        raise
    except Exception as error:
        if os.environ.get("REWARDRULES_DEBUG"):
            raise
        click.echo(
            f"rewardrules: internal error: {type(error).__name__}: {error}\n"
            "This is a bug in rewardrules; set REWARDRULES_DEBUG=1 to see where, and "
            "please report it with the files that caused it.",
            err=True,
        )
        return INTERNAL_ERROR
    # ``--help`` and ``--version`` return their status; a command returns None.
    return result if isinstance(result, int) else 0


def _interrupted() -> int:
    # On a terminal, end the line the shell's "^C" echo left open; otherwise say nothing.
    stderr = sys.stderr
    if stderr is not None and stderr.isatty():
        stderr.write("\n")
    return INTERRUPTED


def _output_failed(failure: _OutputFailed) -> int:
    # What is still buffered for the broken stream must go nowhere, or the interpreter's last
    # flush would fail again and print a traceback.
    _discard(1 if failure.stream == "stdout" else 2)
    if failure.broken_pipe:
        _discard(1)
        _discard(2)
        return BROKEN_PIPE
    if failure.stream == "stdout":
        _say(f"cannot write the output: {failure.reason}")
    return 1


def _discard(descriptor: int) -> None:
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, descriptor)
        os.close(null)
    except OSError:  # pragma: no cover - nothing more can be done
        pass


def _say(message: str) -> None:
    try:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    except (OSError, _OutputFailed):  # pragma: no cover - standard error is gone too
        pass
