"""The batch engine: a program evaluated over a history table, column by column.

Its job is speed on big histories with the reference engine's exact results: the same
``Evaluation``, entry for entry and reason for reason (a differential test checks it). It
reads an Arrow table (``rewardrules.histories.columns``) into integer columns, compiles the program
once with the reference engine's own plan (``rewardrules.evaluation.plan``), vectorises what a rule
allows with numpy, and reuses the kind modules' reason templates. What it does not
evaluate yet, it refuses (:func:`unsupported`); it never falls back to a slow path.

It may import the foundations (money, errors, events, program, ledger, columns), the
compiled plans (plan, scope, tiers, kinds) and the reference engine's cutoff and profile
checks. ``rewardrules.evaluation.fold``'s ``engine="batch"`` switch runs it; the tools and the
command line read its results' columns (:class:`ResultColumns`) to write and total a ledger
without making its entries.
"""

from rewardrules.evaluation.batch._evaluate import evaluate_table
from rewardrules.evaluation.batch._ledger import EntryCodes
from rewardrules.evaluation.batch._referrals import supplied_table as fact_table
from rewardrules.evaluation.batch._results import BatchCustomerResult, ResultColumns
from rewardrules.evaluation.batch._unsupported import UnsupportedError
from rewardrules.evaluation.batch.support import refuse, resume_unsupported, unsupported

__all__ = [
    "BatchCustomerResult",
    "EntryCodes",
    "ResultColumns",
    "UnsupportedError",
    "evaluate_table",
    "fact_table",
    "refuse",
    "resume_unsupported",
    "unsupported",
]
