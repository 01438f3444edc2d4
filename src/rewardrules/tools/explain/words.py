"""Why a rule gave nothing for a purchase, in plain words, and the notes a ledger keeps.

Each rule's kind says why it gave nothing (``KindSpec.why_not``, in ``rewardrules.kinds``),
following the engine's own checks in the engine's order, so the words never contradict the
ledger: first the rule's dates and filter (:mod:`rewardrules.engine.scope_words`), then
what its kind needs. A limit or an exclusive group that stopped a reward is read from the
ledger's own note (``capped``, ``set_aside``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo

from rewardrules.engine.kind import CompiledRule
from rewardrules.engine.ledger import LedgerEntry
from rewardrules.engine.working_state import PurchaseRecord, WorkingState

__all__ = ["note_text", "why_not"]


def why_not(
    rule: CompiledRule,
    record: PurchaseRecord,
    stamps: Mapping[str, int],
    state: WorkingState,
    zone: tzinfo,
) -> str:
    """Why a rule gave nothing for a purchase: its first unmet condition, or its count.

    ``zone`` is the program's time zone, for the moments the words name.
    """
    return rule.why_not(record, stamps, state, zone)


def note_text(entry: LedgerEntry) -> str:
    """Why a rule gave nothing, from the note the ledger keeps: a limit left nothing of its
    reward (``capped``), or another rule of its exclusive group won (``set_aside``)."""
    reason = entry.reason
    if entry.kind == "capped":
        would, found, note = reason.rpartition(" (limit reached: ")
        if found:
            note = note.removesuffix(")")
            limit = note.rpartition("; ")[0] or note
            return f"limit reached ({limit}); it would have given: {would}"
    if entry.kind == "set_aside":
        return f"lost to another rule of its group: {reason.removeprefix('set aside: ')}"
    return reason
