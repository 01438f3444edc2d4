"""What a refund did to each rule that took nothing back, in plain words.

A rule that took something back is explained by its ledger entries; the others say what
the refund changed for them (a punch card's count, a window's spend) or why it leaves their
reward be, in their kind's words (``KindSpec.refund_words``). The rules behind each are in
docs/semantics.md, "Refunds".
"""

from __future__ import annotations

from collections.abc import Mapping

from rewardrules.engine.kind import CompiledRule, Returned
from rewardrules.engine.working_state import PurchaseRecord, WorkingState

__all__ = ["Returned", "refund_text"]


def refund_text(
    rule: CompiledRule,
    record: PurchaseRecord,
    stamps: Mapping[str, int],
    returned: Returned,
    state: WorkingState,
) -> str:
    """What a refund did to a rule that took nothing back."""
    if rule.id in record.set_aside:
        return (
            f"set aside at purchase {record.purchase.id} by its exclusive group, "
            "so the refund leaves it be"
        )
    return rule.refund_words(record, stamps, returned, state)
