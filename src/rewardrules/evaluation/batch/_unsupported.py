"""The batch engine's refusal: what it cannot evaluate (yet), named, before computing it.

A module of its own so that every module that refuses (the frame's reading, the bounds on
amounts, the support table) imports it without importing one another.
"""

from __future__ import annotations

from rewardrules.errors import RewardRulesError


class UnsupportedError(RewardRulesError, NotImplementedError):
    """The batch engine cannot evaluate this program or history (yet); nothing was computed.

    Evaluate it with ``engine="reference"``.
    """
