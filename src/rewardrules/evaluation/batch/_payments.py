"""Payments over columns: the share of each line a points rule by payment method earns on.

A purchase's payments are the ``payments`` text of its first row (``columns.payments_text``),
read once per distinct text. As in the reference (``Scope.paid_by``), every payment pays
the same fraction of every line: a rule with ``when.payment_methods`` earns on each line's
amount times the fraction its methods paid (their amounts over the gross total), rounded
half up to a minor unit; a purchase with no payment by those methods gives it nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from rewardrules.errors import event_error
from rewardrules.evaluation.batch._frame import Flags, Frame, Ints, pc
from rewardrules.evaluation.batch._rules import Numbers
from rewardrules.money import Currency

_SAFE = 2**62
"""Products below this stay exact in int64."""


@dataclass(frozen=True, slots=True)
class Payments:
    """Each event's payments in minor units: an index into ``paid`` (-1 for none)."""

    index: Ints
    paid: list[tuple[tuple[str, int], ...]]

    @classmethod
    def of(cls, frame: Frame, money: Currency, purchases: Flags) -> Payments:
        """The purchases' payments; an amount finer than the minor unit is refused with the
        reference engine's error, at the first such purchase in (instant, id) order.

        Raises:
            HistoryError: a payment finer than the currency allows.
        """
        # Each distinct text is read once; purchases index into what it reads.
        encoded = pc.dictionary_encode(frame.payments)
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        index = np.where(purchases, np.asarray(codes, dtype=np.int64), -1)
        paid: list[tuple[tuple[str, int], ...]] = []
        fine: dict[int, tuple[int, str]] = {}
        for place, text in enumerate(encoded.dictionary.to_pylist()):
            pairs, bad = _read(text, money)
            paid.append(pairs)
            if bad is not None:
                fine[place] = bad
        if fine:
            _refuse_fine(frame, index, fine, money)
        return cls(index, paid)

    def share(self, methods: frozenset[str]) -> tuple[Flags, Ints]:
        """Per event, whether it records a payment by one of ``methods``, and what they paid."""
        paying = np.zeros(len(self.paid) + 1, dtype=np.bool_)
        amounts = np.zeros(len(self.paid) + 1, dtype=np.int64)
        for place, pairs in enumerate(self.paid):
            mine = [amount for method, amount in pairs if method in methods]
            paying[place] = bool(mine)
            amounts[place] = sum(mine)
        return paying[self.index], amounts[self.index]

    def shares(self, frame: Frame, methods: frozenset[str], amounts: Numbers) -> Ints:
        """Each line's share of ``amounts`` paid by ``methods`` (0 where none paid)."""
        _, share = self.share(methods)
        return line_shares(frame, amounts, share)


def line_shares(frame: Frame, amounts: Numbers, share: Ints) -> Ints:
    """Each line's amount times its event's ``share`` over its gross total, rounded half
    up to a minor unit (0 on a purchase whose gross total is 0)."""
    values: Any = np.asarray(amounts, dtype=np.int64)
    paid: Any = share[frame.line_event]
    total: Any = frame.gross_total[frame.line_event]
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    largest = int(np.abs(values).max()) * max(int(paid.max()), 1) * 2 + int(total.max())
    if largest >= _SAFE:
        values, paid, total = values.astype(object), paid.astype(object), total.astype(object)
    divisor = np.where(total > 0, total, 1)
    result = (2 * values * paid + divisor) // (2 * divisor)
    return np.asarray(np.where(total > 0, result, 0)).astype(np.int64)


def _read(text: str, money: Currency) -> tuple[tuple[tuple[str, int], ...], tuple[int, str] | None]:
    """A payments text in minor units, and the first payment finer than the minor unit
    (its index and the reference's message), if any."""
    pairs: list[tuple[str, int]] = []
    bad = None
    for position, pair in enumerate(text.split()):
        method, _, written = pair.rpartition(":")
        amount = Decimal(written)
        scaled = amount * money.minor_per_major
        if int(scaled) != scaled:
            if bad is None:
                bad = (
                    position,
                    f"the payment {amount} by {method} is finer than {money.code} allows "
                    f"({money.exponent} decimal places); payments must be whole minor units",
                )
            scaled = Decimal(0)
        pairs.append((method, int(scaled)))
    return tuple(pairs), bad


def _refuse_fine(
    frame: Frame, index: Ints, fine: dict[int, tuple[int, str]], money: Currency
) -> None:
    """Raise the reference's error for the first purchase with a payment too fine."""
    events = [event for event in range(frame.events) if int(index[event]) in fine]
    first = min(events, key=lambda event: (int(frame.at[event]), str(frame.event_ids[event])))
    position, message = fine[int(index[first])]
    raise event_error(str(frame.event_ids[first]), message, "payments", position, "amount")


def earned_on(stage: Any, frame: Frame, paid: Numbers, payments: Payments | None) -> Numbers:
    """What a points rule earns on per line: the paid amounts (its gross with ``earn_on:
    gross``), or with ``when.payment_methods`` the share of them its methods paid."""
    amounts = frame.gross if stage.plan.on_gross else paid
    methods = stage.plan.scope.payment_methods
    if methods is None:
        return amounts
    assert payments is not None  # noqa: S101 -- read whenever a rule earns by payment method
    return payments.shares(frame, methods, amounts)
