"""rewardrules: customer reward programs written in YAML, evaluated exactly.

>>> from rewardrules import load_program, read_history, evaluate
>>> program = load_program("rules/examples/ice-cream-parlour.yaml")  # doctest: +SKIP
>>> result = evaluate(program, read_history("history.csv"))  # doctest: +SKIP
"""

from rewardrules.engine import evaluate, step
from rewardrules.errors import (
    HistoryError,
    Location,
    Problem,
    RewardRulesError,
    RuleFileError,
)
from rewardrules.events import Customer, Line, Purchase, Refund, RefundLine
from rewardrules.histories import read_customers, read_history
from rewardrules.ledger import CustomerResult, Evaluation, LedgerEntry, Totals
from rewardrules.loader import load_program
from rewardrules.program import Program
from rewardrules.state import CustomerState

__all__ = [
    "Customer",
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
    "Refund",
    "RefundLine",
    "RewardRulesError",
    "RuleFileError",
    "Totals",
    "evaluate",
    "load_program",
    "read_customers",
    "read_history",
    "step",
]
