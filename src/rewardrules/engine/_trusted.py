"""Models of a saved state that the engine made itself, built without validation.

A ``step`` saves a whole state at every event: the state, its purchase and window columns
and its lots are the engine's own values, which the checks over drawn histories show to be
sound, so they are not validated again. :func:`trusted` leaves what ``model_construct``
leaves with every field given (``tests/test_step_speed.py`` compares the two), through
pydantic's slots directly: ``model_construct`` walks every field's aliases and defaults,
and keyword arguments and ``object.__setattr__`` on a model cost more than the slots' own
setters (about 0.8 µs a model against 3 µs).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

_Model = TypeVar("_Model", bound=BaseModel)

_SLOTS = vars(BaseModel)
_set_dict = _SLOTS["__dict__"].__set__
_set_fields = _SLOTS["__pydantic_fields_set__"].__set__
_set_extra = _SLOTS["__pydantic_extra__"].__set__
_set_private = _SLOTS["__pydantic_private__"].__set__


def trusted(
    cls: type[_Model],
    values: dict[str, Any],
    fields_set: set[str],
    private: dict[str, Any] | None = None,
) -> _Model:
    """A ``cls`` holding ``values`` (every field, in the model's order), unvalidated;
    ``fields_set`` is its own (not shared), ``private`` its private attributes."""
    model = cls.__new__(cls)
    _set_dict(model, values)
    _set_fields(model, fields_set)
    _set_extra(model, None)
    _set_private(model, private)
    return model
