"""The saved state's format: its version, how older versions are brought up to date, and
the digest that tells a state changed after it was saved.

A saved state carries ``format`` (the version of its shape) and ``digest`` (a hash of its
content, written by every dump). Loading reads the version first: a newer one is refused,
an older one goes through :data:`UPGRADES` one version at a time, so that a later change of
the shape adds one function there. The digest is checked after the content is validated.
The rules are in docs/api.md, "Saved states".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

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


def read_format(data: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The state's content brought to :data:`FORMAT`, and the digest it came with.

    Raises:
        HistoryError: the format is not a version number, or is newer than this
            rewardrules reads.
    """
    content = dict(data)
    customer = content.get("customer_id")
    whose = customer if isinstance(customer, str) else None
    digest = content.pop("digest", None)
    version = content.get("format", UNVERSIONED)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        message = f"must be a format version, a whole number from 1 (got {version!r})"
        raise bad_state(whose, [(("format",), message)])
    if version > FORMAT:
        message = (
            f"is {version}: the state was saved by a newer rewardrules, and this one reads "
            f"formats up to {FORMAT}"
        )
        raise bad_state(whose, [(("format",), message)], "upgrade rewardrules to use it")
    while version < FORMAT:
        content = UPGRADES[version](content)
        version += 1
    content["format"] = FORMAT
    if digest is not None and not isinstance(digest, str):
        raise bad_state(whose, [(("digest",), f"must be text (got {digest!r})")])
    return content, digest


def digest_of(state: BaseModel) -> str:
    """A hash of a state's content, the same for every way of writing the same values.

    Amounts count by value (``1.50`` and ``1.5`` are the same) and instants as instants
    (the UTC offset they were written with does not count).
    """
    text = json.dumps(_canonical(state), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _canonical(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return {name: _canonical(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, dict):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value
