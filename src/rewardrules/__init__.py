"""rewardrules: customer reward programs written in YAML, evaluated exactly.

>>> from rewardrules import load_program, read_history, evaluate
>>> program = load_program("rules/examples/ice-cream-parlour.yaml")  # doctest: +SKIP
>>> result = evaluate(program, read_history("history.csv"))  # doctest: +SKIP

The names of ``__all__`` are the public API (docs/api.md). Each is imported from its module
when it is first used (PEP 562), so that ``import rewardrules`` and ``rewardrules --version``
do not pay for pydantic, pyarrow and the engine until they are needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rewardrules.engine.ledger import (
        CustomerResult,
        Evaluation,
        ExpiryDue,
        LedgerEntry,
        Totals,
    )
    from rewardrules.engine.state import CustomerState
    from rewardrules.errors import HistoryError, Location, Problem, RewardRulesError, RuleFileError
    from rewardrules.evaluation.batch.support import unsupported as batch_unsupported
    from rewardrules.evaluation.fold import CompiledProgram, compile_program, evaluate, step
    from rewardrules.events import (
        AnyEvent,
        CancelRedemption,
        Customer,
        Line,
        OpeningLot,
        Purchase,
        Redemption,
        ReferralQualified,
        Refund,
        RefundLine,
    )
    from rewardrules.histories.columns import events_to_table, read_history_table, table_to_events
    from rewardrules.histories.read import (
        locate_event,
        parse_history_text,
        read_customers,
        read_history,
    )
    from rewardrules.kinds.referral import referral_facts
    from rewardrules.money import Currency
    from rewardrules.program.model import Program
    from rewardrules.rulefiles.dump import dump_program
    from rewardrules.rulefiles.loader import load_program, load_program_with_map, loads_program
    from rewardrules.tools.compare import Comparison, compare
    from rewardrules.tools.explain.explanation import CustomerExplanation, explain, explain_all
    from rewardrules.tools.export import ledger_csv
    from rewardrules.tools.lint.warnings import lint_program
    from rewardrules.tools.report import Report, report

_HOMES: dict[str, tuple[str, str]] = {
    "AnyEvent": ("rewardrules.events", "AnyEvent"),
    "Comparison": ("rewardrules.tools.compare", "Comparison"),
    "CompiledProgram": ("rewardrules.evaluation.fold", "CompiledProgram"),
    "CancelRedemption": ("rewardrules.events", "CancelRedemption"),
    "Currency": ("rewardrules.money", "Currency"),
    "Customer": ("rewardrules.events", "Customer"),
    "CustomerExplanation": ("rewardrules.tools.explain.explanation", "CustomerExplanation"),
    "CustomerResult": ("rewardrules.engine.ledger", "CustomerResult"),
    "CustomerState": ("rewardrules.engine.state", "CustomerState"),
    "Evaluation": ("rewardrules.engine.ledger", "Evaluation"),
    "ExpiryDue": ("rewardrules.engine.ledger", "ExpiryDue"),
    "HistoryError": ("rewardrules.errors", "HistoryError"),
    "LedgerEntry": ("rewardrules.engine.ledger", "LedgerEntry"),
    "Line": ("rewardrules.events", "Line"),
    "Location": ("rewardrules.errors", "Location"),
    "OpeningLot": ("rewardrules.events", "OpeningLot"),
    "Problem": ("rewardrules.errors", "Problem"),
    "Program": ("rewardrules.program.model", "Program"),
    "Purchase": ("rewardrules.events", "Purchase"),
    "Redemption": ("rewardrules.events", "Redemption"),
    "ReferralQualified": ("rewardrules.events", "ReferralQualified"),
    "Refund": ("rewardrules.events", "Refund"),
    "RefundLine": ("rewardrules.events", "RefundLine"),
    "Report": ("rewardrules.tools.report", "Report"),
    "RewardRulesError": ("rewardrules.errors", "RewardRulesError"),
    "RuleFileError": ("rewardrules.errors", "RuleFileError"),
    "Totals": ("rewardrules.engine.ledger", "Totals"),
    "batch_unsupported": ("rewardrules.evaluation.batch.support", "unsupported"),
    "compare": ("rewardrules.tools.compare", "compare"),
    "compile_program": ("rewardrules.evaluation.fold", "compile_program"),
    "dump_program": ("rewardrules.rulefiles.dump", "dump_program"),
    "evaluate": ("rewardrules.evaluation.fold", "evaluate"),
    "events_to_table": ("rewardrules.histories.columns", "events_to_table"),
    "explain": ("rewardrules.tools.explain.explanation", "explain"),
    "explain_all": ("rewardrules.tools.explain.explanation", "explain_all"),
    "ledger_csv": ("rewardrules.tools.export", "ledger_csv"),
    "lint_program": ("rewardrules.tools.lint.warnings", "lint_program"),
    "load_program": ("rewardrules.rulefiles.loader", "load_program"),
    "load_program_with_map": ("rewardrules.rulefiles.loader", "load_program_with_map"),
    "loads_program": ("rewardrules.rulefiles.loader", "loads_program"),
    "locate_event": ("rewardrules.histories.read", "locate_event"),
    "parse_history_text": ("rewardrules.histories.read", "parse_history_text"),
    "read_customers": ("rewardrules.histories.read", "read_customers"),
    "read_history": ("rewardrules.histories.read", "read_history"),
    "read_history_table": ("rewardrules.histories.columns", "read_history_table"),
    "referral_facts": ("rewardrules.kinds.referral", "referral_facts"),
    "report": ("rewardrules.tools.report", "report"),
    "step": ("rewardrules.evaluation.fold", "step"),
    "table_to_events": ("rewardrules.histories.columns", "table_to_events"),
}
"""Each public name: the module it lives in, and its name there."""

__all__ = [
    "AnyEvent",
    "CancelRedemption",
    "Comparison",
    "CompiledProgram",
    "Currency",
    "Customer",
    "CustomerExplanation",
    "CustomerResult",
    "CustomerState",
    "Evaluation",
    "ExpiryDue",
    "HistoryError",
    "LedgerEntry",
    "Line",
    "Location",
    "OpeningLot",
    "Problem",
    "Program",
    "Purchase",
    "Redemption",
    "ReferralQualified",
    "Refund",
    "RefundLine",
    "Report",
    "RewardRulesError",
    "RuleFileError",
    "Totals",
    "batch_unsupported",
    "compare",
    "compile_program",
    "dump_program",
    "evaluate",
    "events_to_table",
    "explain",
    "explain_all",
    "ledger_csv",
    "lint_program",
    "load_program",
    "load_program_with_map",
    "loads_program",
    "locate_event",
    "parse_history_text",
    "read_customers",
    "read_history",
    "read_history_table",
    "referral_facts",
    "report",
    "step",
    "table_to_events",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use, then keep it here."""
    try:
        module, attribute = _HOMES[name]
    except KeyError:
        raise AttributeError(f"module 'rewardrules' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
