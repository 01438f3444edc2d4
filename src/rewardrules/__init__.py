"""rewardrules: customer reward programs written in YAML, evaluated exactly.

>>> from rewardrules import load_program, read_history, evaluate
>>> program = load_program("rules/examples/ice-cream-parlour.yaml")  # doctest: +SKIP
>>> result = evaluate(program, read_history("history.csv"))  # doctest: +SKIP
"""

from rewardrules.engine.ledger import CustomerResult, Evaluation, LedgerEntry, Totals
from rewardrules.engine.state import CustomerState
from rewardrules.errors import (
    HistoryError,
    Location,
    Problem,
    RewardRulesError,
    RuleFileError,
)
from rewardrules.evaluation.fold import CompiledProgram, compile_program, evaluate, step
from rewardrules.events import (
    Customer,
    Line,
    Purchase,
    Redemption,
    ReferralQualified,
    Refund,
    RefundLine,
)
from rewardrules.histories.columns import read_history_table
from rewardrules.histories.read import read_customers, read_history
from rewardrules.kinds.referral import referral_facts
from rewardrules.program.model import Program
from rewardrules.rulefiles.dump import dump_program
from rewardrules.rulefiles.loader import load_program
from rewardrules.tools.compare import Comparison, compare
from rewardrules.tools.explain.explanation import CustomerExplanation, explain
from rewardrules.tools.export import ledger_csv
from rewardrules.tools.report import Report, report

__all__ = [
    "Comparison",
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
    "Report",
    "RewardRulesError",
    "RuleFileError",
    "Totals",
    "compare",
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
    "report",
    "step",
]
