"""Colour in a terminal: when the tables of ``report``, ``compare`` and ``dry-run`` are coloured.

Colour is on when the output is a terminal and ``NO_COLOR`` is unset or empty
(https://no-color.org); ``--color`` and ``--no-color`` decide over both. Text written to
a file (``--output``) is never coloured unless ``--color`` asks.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Protocol

import click

color_option = click.option(
    "--color/--no-color",
    "color",
    default=None,
    help=(
        "Colour the tables (bold headers, red decreases). By default: only on a terminal, "
        "and never when NO_COLOR is set."
    ),
)


def wants_color(
    flag: bool | None,
    to_file: bool,
    stream: Terminal | None = None,
    environment: Mapping[str, str] | None = None,
) -> bool:
    """Whether to colour: the flag if given; else not into a file, not with ``NO_COLOR``
    set, and only when ``stream`` (standard output by default) is a terminal."""
    if flag is not None:
        return flag
    if to_file:
        return False
    if (environment if environment is not None else os.environ).get("NO_COLOR", ""):
        return False
    shown: Terminal = sys.stdout if stream is None else stream
    return shown.isatty()


class Terminal(Protocol):
    """A stream that can tell whether it is a terminal."""

    def isatty(self) -> bool: ...
