"""rewardrules: customer reward programs written in YAML, evaluated exactly.

>>> from rewardrules import load_program, read_history, evaluate
>>> program = load_program("rules/examples/ice-cream-parlour.yaml")  # doctest: +SKIP
>>> result = evaluate(program, read_history("history.csv"))  # doctest: +SKIP
"""

from rewardrules.columns import read_history_table
from rewardrules.dump import dump_program
from rewardrules.engine import CompiledProgram, compile_program, evaluate, step
from rewardrules.errors import (
    HistoryError,
    Location,
    Problem,
    RewardRulesError,
    RuleFileError,
)
from rewardrules.events import (
    Customer,
    Line,
    Purchase,
    Redemption,
    ReferralQualified,
    Refund,
    RefundLine,
)
from rewardrules.explain import CustomerExplanation, explain
from rewardrules.export import ledger_csv
from rewardrules.histories import read_customers, read_history
from rewardrules.kinds.referral import referral_facts
from rewardrules.ledger import CustomerResult, Evaluation, LedgerEntry, Totals
from rewardrules.loader import load_program
from rewardrules.program import Program
from rewardrules.state import CustomerState

__all__ = [
    "CompiledProgram",
    "Customer",
    "CustomerExplanation",
    "CustomerResult",
    "CustomerState",
    "Evaluation",
    "HistoryError",
    "LedgerEntry",
    "Line",
    "Location",
    "Problem",
    "Program",
    "Purchase",
    "Redemption",
    "ReferralQualified",
    "Refund",
    "RefundLine",
    "RewardRulesError",
    "RuleFileError",
    "Totals",
    "compile_program",
    "dump_program",
    "evaluate",
    "explain",
    "ledger_csv",
    "load_program",
    "read_customers",
    "read_history",
    "read_history_table",
    "referral_facts",
    "step",
]
