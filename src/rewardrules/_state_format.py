"""The saved state's format: its version, how older versions are brought up to date, and
the digest that tells a state changed after it was saved.

A saved state carries ``format`` (the version of its shape) and ``digest`` (a hash of its
content as rewardrules writes it in JSON, added by every dump). Loading reads the version
first: a newer one is refused, an older one goes through :data:`UPGRADES` one version at a
time, so that a later change of the shape adds one function there. The digest is checked
after the content is validated. The rules are in docs/api.md, "Saved states".

Any change of the saved shape, even a key added with a default, needs a new format and an
upgrade step: it changes what a dump writes, and so the digest of every state saved before
it; and an older rewardrules then refuses the new states as "saved by a newer rewardrules"
rather than for an unknown key. ``tests/test_state_checks.py`` holds the keys of format 1
to catch a change made without one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from rewardrules.errors import HistoryError, PathItem, Problem

FORMAT = 1
"""The version of the saved shape this rewardrules writes and reads."""

UNVERSIONED = 1
"""The format a state saved before ``format`` existed is read as: the shape is the same."""

UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}
"""Per format ``n``, the function that turns a state of format ``n`` into format ``n + 1``."""

WHAT_TO_DO = (
    "use the state exactly as rewardrules saved it, or rebuild it by evaluating the "
    "customer's history"
)


def bad_state(
    customer: str | None,
    problems: Iterable[tuple[tuple[PathItem, ...], str]],
    suggestion: str | None = WHAT_TO_DO,
) -> HistoryError:
    """A ``bad-state`` error with one problem per ``(path, message)``."""
    whose = "saved state" if customer is None else f"state of {customer}"
    return HistoryError(
        Problem(message=message, path=(whose, *path), code="bad-state", suggestion=suggestion)
        for path, message in problems
    )


class FormatError(ValueError):
    """A ``format`` this rewardrules cannot read, with what to do about it."""

    def __init__(self, message: str, suggestion: str | None) -> None:
        super().__init__(message)
        self.suggestion = suggestion


class OlderFormatError(ValueError):
    """A state of an older format: it is read again through :func:`upgrade`."""


def check_format(version: object) -> int:
    """The format version of a saved state, if this rewardrules reads it as it is.

    Raises:
        FormatError: not a version number, or a newer format.
        OlderFormatError: an older format, which :func:`upgrade` brings up to date.
    """
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        message = f"must be a format version, a whole number from 1 (got {version!r})"
        raise FormatError(message, WHAT_TO_DO)
    if version > FORMAT:
        message = (
            f"is {version}: the state was saved by a newer rewardrules, and this one reads "
            f"formats up to {FORMAT}"
        )
        raise FormatError(message, "upgrade rewardrules to use it")
    if version < FORMAT:
        raise OlderFormatError(version)
    return version


def upgrade(data: Mapping[str, Any]) -> dict[str, Any]:
    """A state of an older format brought to :data:`FORMAT`, one version at a time."""
    content = dict(data)
    # The digest hashes the content as the older rewardrules wrote it, which this one cannot
    # write again: an upgraded state is checked for consistency only.
    content.pop("digest", None)
    version = content.get("format", UNVERSIONED)
    while version < FORMAT:
        content = UPGRADES[version](content)
        version += 1
        content["format"] = version
    return content


def digest_of(content: str) -> str:
    """A hash of a state's content written as JSON (without its digest)."""
    return hashlib.sha256(content.encode()).hexdigest()[:32]
