"""A customer's state between events: the fold's accumulator.

:class:`CustomerState` is the saved form, a pydantic model that round-trips through JSON so
an application can keep it and evaluate one new event without the history. Inside one
evaluation the engine works on :class:`WorkingState`, a mutable copy with integer minor
units and running tier counters, built from and turned back into the saved form.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, tzinfo
from decimal import Decimal
from operator import mul
from types import MappingProxyType
from typing import Any, Self
from zoneinfo import ZoneInfo

from pydantic import (
    AwareDatetime,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rewardrules._model_errors import ModelInputError, PlainErrors, plain_problems
from rewardrules.engine._state_checks import state_problems
from rewardrules.engine._state_columns import (
    NO_PURCHASES,
    NO_WINDOW,
    ColumnsBuilder,
    PurchaseColumns,
    SavedLine,
    SavedPurchase,
    TierAmount,
    WindowColumns,
    line_starts,
    newest_then,
    not_refunded_in_full,
    points_given,
    points_of,
    purchase_columns,
    purchase_rows,
    spend_left,
    trusted_window,
    units_left,
    window_columns,
    window_pairs,
)
from rewardrules.engine._state_format import (
    FORMAT,
    WHAT_TO_DO,
    FormatError,
    OlderFormatError,
    bad_state,
    check_format,
    digest_of,
    instant,
    micros,
    offset_seconds,
    upgrade,
)
from rewardrules.engine.lots import (
    OPENING,
    Duration,
    Lot,
    PointsAccount,
    Spent,
    Taken,
    elapsed,
    settle,
)
from rewardrules.engine.refunds import refunded_amount
from rewardrules.engine.scope import PurchaseContext
from rewardrules.engine.tiers import TierCounter, TierPlan, calendar_key
from rewardrules.errors import HistoryError
from rewardrules.events import Customer, Line, Purchase, ReferralQualified
from rewardrules.money import Currency


class _Saved(PlainErrors):  # a bad saved state is a HistoryError in plain words
    model_config = ConfigDict(frozen=True, extra="forbid")


class GiftCardWindow(_Saved):
    """A partner gift card rule's progress in one window."""

    net_spend: Decimal = Field(description="Qualifying paid spend, less refunds.")
    highest_spend: Decimal = Field(description="The highest net spend reached.")
    cards: int = Field(ge=0, description="Gift cards issued in the window.")


class SavedLot(_Saved):
    """Points from one purchase that are left, with when they can be spent and expire."""

    source: str = Field(description="The purchase that earned them.")
    earned_at: AwareDatetime = Field(description="When they were earned.")
    available_at: AwareDatetime = Field(description="When they can be spent.")
    expires_at: AwareDatetime | None = Field(description="When they expire, if they do.")
    points: int = Field(ge=0, description="How many are left.")
    lasting: bool = Field(
        default=False,
        description="Earned at a tier whose points never expire (no expiry, no inactivity).",
    )


class SavedTaken(_Saved):
    """Points a redemption took from one lot."""

    source: str = Field(description="The lot's source (the purchase that earned them).")
    earned_at: AwareDatetime = Field(description="When the lot was earned.")
    points: int = Field(ge=0, description="How many points it took from that lot.")


class SavedSpent(_Saved):
    """An applied redemption that is not cancelled: what a cancellation gives back."""

    id: str = Field(description="The redemption.")
    reward: str = Field(description="The catalogue reward.")
    quantity: int = Field(ge=1, description="Units redeemed.")
    value: int = Field(description="Its value in minor units (cash deducted).")
    taken: tuple[SavedTaken, ...] = Field(description="The points it took, lot by lot.")


def saved_spent(account: PointsAccount) -> tuple[SavedSpent, ...]:
    """The account's applied redemptions not cancelled, as a saved state keeps them."""
    return tuple(
        SavedSpent(
            id=key,
            reward=spent.reward,
            quantity=spent.quantity,
            value=spent.value,
            taken=tuple(
                SavedTaken(source=part.source, earned_at=part.earned_at, points=part.points)
                for part in spent.taken
            ),
        )
        for key, spent in account.spent.items()
    )


class LimitUsage(_Saved):
    """What one limit of a rule has counted in its current period."""

    period: str = Field(description="The period: '2026-11-23', '2026-W48', '2026-11', '2026'.")
    used: int = Field(ge=0, description="Points, rewards or minor units of value counted.")


class SavedReferral(_Saved):
    """A friend's qualifying purchase that rewarded this customer as the referrer."""

    id: str = Field(description="The friend's qualifying purchase.")
    rule: str = Field(description="The referral rule.")
    referred: str = Field(description="The friend.")
    held_until: AwareDatetime | None = Field(
        default=None,
        description=(
            "Under a rule with hold_for, when the reward is given if no refund of the "
            "friend's purchase reverses it first; None once given (or without a hold)."
        ),
    )


class SavedHold(_Saved):
    """As a referred friend, a qualifying purchase under a rule with ``hold_for``."""

    rule: str = Field(description="The referral rule.")
    purchase: str = Field(description="The friend's qualifying purchase.")
    until: AwareDatetime = Field(description="When the hold ends: a refund from then on is late.")
    reversed_by: str | None = Field(
        default=None,
        description=(
            "The refund that reversed the referral within the hold, if one did: the friend "
            "may then qualify again."
        ),
    )
    gift_kept: bool = Field(
        default=False,
        description=(
            "Whether the friend kept their own gift of a reversed qualifying purchase (a "
            "voucher, or points a partial refund left): of this one after its reversal, or "
            "of an earlier one; if so, it is not given again."
        ),
    )


class _Mark:
    """Which object passed the checks: ``id`` of the state, so that a copy is not marked.

    Two marks are always equal: a private attribute takes part in pydantic's ``==``, and
    whether a state was checked must not make two equal states differ.
    """

    __slots__ = ("owner",)

    def __init__(self, owner: int | None) -> None:
        self.owner = owner

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Mark)

    __hash__ = None  # type: ignore[assignment]  # equal marks: not to be hashed


class _Views:
    """A state's purchases and window pairs as rows, built from its columns when read, and
    which columns they were built from. Two are always equal: they are not content."""

    __slots__ = ("pairs", "pairs_of", "rows", "rows_of")

    def __init__(self) -> None:
        self.rows: tuple[SavedPurchase, ...] = ()
        self.rows_of: PurchaseColumns | None = None
        self.pairs: tuple[TierAmount, ...] = ()
        self.pairs_of: WindowColumns | None = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Views)

    __hash__ = None  # type: ignore[assignment]  # equal views: not to be hashed


class CustomerState(_Saved):
    """Everything the engine remembers of one customer, in a JSON-friendly form.

    Loading a state (``model_validate``, ``model_validate_json``) checks it: a state no
    evaluation can have made, of a newer format, or changed after it was saved (its
    ``digest`` differs) raises :class:`~rewardrules.HistoryError` with the code
    ``bad-state``. A dump adds the ``digest``. See docs/api.md, "Saved states".
    """

    format: int = Field(default=FORMAT, description="The version of the saved shape.")
    program: str = Field(description="The id of the program the state belongs to.")
    customer_id: str = Field(description="The customer.")
    points: int = Field(
        default=0, description="The points balance (for reading; the lots are what counts)."
    )
    lots: tuple[SavedLot, ...] = Field(default=(), description="Points left, oldest first.")
    debt: int = Field(default=0, ge=0, description="Points owed after refunds (allowed debt).")
    last_purchase_at: AwareDatetime | None = Field(
        default=None, description="When the customer last bought."
    )
    settled_active_at: AwareDatetime | None = Field(
        default=None,
        description=(
            "For points.expire_on_inactivity: the last activity no refund can undo any more "
            "(a redemption, a referrer's reward, a purchase no longer refundable). The "
            "deadline counts from it or from the last kept purchase not refunded in full, "
            "whichever is later (when purchases count)."
        ),
    )
    last_event_at: AwareDatetime | None = Field(
        default=None, description="When the customer's last evaluated event happened."
    )
    stamps: dict[str, int] = Field(
        default_factory=dict, description="Per punch-card rule, units or visits counted."
    )
    gift_cards: dict[str, dict[str, GiftCardWindow]] = Field(
        default_factory=dict, description="Per gift card rule, progress per window."
    )
    exponent: int | None = Field(
        default=None,
        description=(
            "The decimal places of the amounts in `purchases` (the program's currency's "
            "minor unit); None when no purchase is saved."
        ),
    )
    purchase_columns: PurchaseColumns = Field(
        default=NO_PURCHASES,
        alias="purchases",
        description=(
            "Purchases evaluated (what a refund needs), oldest first, as columns; "
            "``purchases`` reads them as rows."
        ),
    )
    refunds: tuple[str, ...] = Field(
        default=(), description="Ids of the refunds evaluated, so none is applied twice."
    )
    redemptions: tuple[str, ...] = Field(
        default=(),
        description=(
            "Ids of the redemptions and cancellations evaluated, so none is applied twice."
        ),
    )
    spent: tuple[SavedSpent, ...] = Field(
        default=(),
        description="Applied redemptions not cancelled: the lots their points came from.",
    )
    cancellations: dict[str, str] = Field(
        default_factory=dict,
        description="Per cancel_redemption event, the redemption it cancelled.",
    )
    bonuses: tuple[str, ...] = Field(
        default=(), description="Bonus rules that have given this customer their bonus."
    )
    first_event_at: AwareDatetime | None = Field(
        default=None,
        description="When the customer's first event happened (for birthday windows).",
    )
    birthdays: dict[str, int] = Field(
        default_factory=dict,
        description=(
            "Per birthday rule, the last birthday year given, or passed over for want of "
            "member_for or purchase_within."
        ),
    )
    limits: dict[str, LimitUsage] = Field(
        default_factory=dict, description="Per rule limit ('<rule>#<n>'), its current usage."
    )
    referrals: tuple[SavedReferral, ...] = Field(
        default=(),
        description=(
            "Friends' qualifying purchases this customer was rewarded for, or whose reward "
            "is held (held_until)."
        ),
    )
    referral_holds: tuple[SavedHold, ...] = Field(
        default=(),
        description=(
            "As a referred friend: per referral rule with hold_for, the last qualifying "
            "purchase and its hold."
        ),
    )
    window_tier: str | None = Field(
        default=None,
        description="The tier the window gave at the last purchase (kept for tiers.keep_for).",
    )
    tier_reached: dict[str, AwareDatetime] = Field(
        default_factory=dict,
        description="When each tier was last reached (kept for tiers.keep_for).",
    )
    forgotten_until: AwareDatetime | None = Field(
        default=None,
        description=(
            "When the latest purchase the state forgot was made: purchases older than the "
            "program's refunds.within can no longer be refunded and are not kept."
        ),
    )
    settled_purchase_at: AwareDatetime | None = Field(
        default=None,
        description=(
            "When the latest purchase the state forgot that was not refunded in full was "
            "made (a birthday rule's purchase_within reads it with the kept purchases)."
        ),
    )
    tier_amounts: dict[str, int] = Field(
        default_factory=dict,
        description=(
            "Per calendar tier window ('2026', '2026-Q1', '2026-03', 'lifetime'), what the "
            "forgotten purchases count in it: minor units of spend, or purchases."
        ),
    )
    window_columns: WindowColumns = Field(
        default=NO_WINDOW,
        alias="tier_window",
        description=(
            "The forgotten purchases still inside a rolling tier window, oldest first: "
            "instants in microseconds since 1970 UTC and amounts; ``tier_window`` reads "
            "them as pairs."
        ),
    )
    tier_granted: str | None = Field(
        default=None,
        description="A tier granted when the customer started (Customer.tier), if any.",
    )
    tier_granted_until: AwareDatetime | None = Field(
        default=None,
        description="When the granted tier stops holding (Customer.tier_until).",
    )

    digest: str | None = Field(
        default=None,
        exclude=True,
        repr=False,
        description="A hash of the content, written by every dump; checked when the state is "
        "loaded, then dropped.",
    )

    _checked: _Mark = PrivateAttr(default_factory=lambda: _Mark(None))
    _views: _Views = PrivateAttr(default_factory=_Views)

    model_config = ConfigDict(
        validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    def __init__(self, /, **data: Any) -> None:
        # Rows and pairs, as code built states before format 6, are read as their columns.
        rows, pairs = data.get("purchases"), data.get("tier_window")
        if isinstance(rows, (tuple, list)) and all(isinstance(row, tuple) for row in rows):
            data["purchases"] = dict(purchase_columns(rows))
        if isinstance(pairs, (tuple, list)) and all(isinstance(pair, tuple) for pair in pairs):
            data["tier_window"] = dict(window_columns(pairs))
        super().__init__(**data)

    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]  # as PlainErrors'

    @property
    def purchases(self) -> tuple[SavedPurchase, ...]:
        """The saved purchases as rows, oldest first, built from the columns once."""
        views: _Views = self.__pydantic_private__["_views"]  # type: ignore[index]
        columns = self.purchase_columns
        if views.rows_of is not columns:
            views.rows, views.rows_of = purchase_rows(columns), columns
        return views.rows

    @property
    def tier_window(self) -> tuple[TierAmount, ...]:
        """The saved rolling tier window as ``(at, amount)`` pairs, oldest first."""
        views: _Views = self.__pydantic_private__["_views"]  # type: ignore[index]
        window = self.window_columns
        if views.pairs_of is not window:
            views.pairs, views.pairs_of = window_pairs(window), window
        return views.pairs

    @field_validator("format", mode="before")
    @classmethod
    def _readable_format(cls, version: object) -> int:
        return check_format(version)

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> Self:
        context = info.context if isinstance(info.context, dict) else {}
        problems = list(state_problems(self))
        # A text loaded as a dump wrote it is checked on its own bytes; any other spelling
        # of the content is written again as a dump would, and checked on that.
        as_read = context.get(_AS_READ)
        digest = self.digest
        if (
            not problems
            and digest is not None
            and digest != as_read
            and digest != self.content_digest()
        ):
            message = "does not match the content: the state was changed after it was saved"
            problems.append((("digest",), message))
        if problems:
            raise bad_state(self.customer_id, problems)
        # Checked: the digest has done its work, and two states with the same content are equal.
        object.__setattr__(self, "digest", None)
        self._mark_checked()
        return self

    def content_digest(self) -> str:
        """The digest a dump of this state carries: a hash of its content as JSON."""
        return digest_of(self.__pydantic_serializer__.to_json(self))

    def _mark_checked(self) -> None:
        """Remember that this very object passes the checks that need no program."""
        # In the private attributes' own dict: pydantic's __setattr__ and __getattr__ for
        # them cost more than the checks' fast path, at every load and step.
        self.__pydantic_private__["_checked"] = _Mark(id(self))  # type: ignore[index]

    def is_checked(self) -> bool:
        """Whether this object passed the checks that need no program (a copy has not)."""
        private = self.__pydantic_private__
        return private is not None and private["_checked"].owner == id(self)

    def model_dump(self, **options: Any) -> dict[str, Any]:
        """The state as Python data, with its ``digest``."""
        data = super().model_dump(**options)
        data["digest"] = self.content_digest()
        return data

    def model_dump_json(self, **options: Any) -> str:
        """The state as JSON text, with its ``digest``."""
        # The content as BaseModel.model_dump_json writes it without options, hashed as
        # the bytes written (the digest whatever the options ask of the text).
        written = self.__pydantic_serializer__.to_json(self)
        digest = digest_of(written)
        text = written.decode() if not options else super().model_dump_json(**options)
        if options.get("indent") is None and text.endswith("}"):
            return f'{text[:-1]},"digest":"{digest}"}}'
        data = json.loads(text)
        data["digest"] = digest
        return json.dumps(data, indent=options.get("indent"), ensure_ascii=False)

    @classmethod
    def model_validate(cls, obj: Any, **options: Any) -> Self:
        """Load a saved state from Python data, checked.

        Raises:
            HistoryError: ``bad-state``: the state is not one rewardrules can have saved.
        """
        # Past PlainErrors: its plain errors would hide the format to upgrade from and the
        # consistency problems, which are reported here as ``bad-state``.
        try:
            return super(PlainErrors, cls).model_validate(obj, **options)
        except ValidationError as error:
            if _needs_upgrade(error) and isinstance(obj, dict):
                return cls.model_validate(upgrade(obj), **options)
            raise _refused(error, obj) from None

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **options: Any) -> Self:
        """Load a saved state from JSON text, checked.

        Raises:
            HistoryError: ``bad-state``: the state is not one rewardrules can have saved.
        """
        if options.get("context") is None:
            options["context"] = {_AS_READ: _digest_as_read(json_data)}
        try:
            return super(PlainErrors, cls).model_validate_json(json_data, **options)
        except ValidationError as error:
            try:  # to upgrade it, or to name the customer in the error
                data = json.loads(json_data)
            except ValueError:
                data = None
            if _needs_upgrade(error) and isinstance(data, dict):
                return cls.model_validate(upgrade(data), **options)
            raise _refused(error, data) from None


_AS_READ = "rewardrules: digest of the text as read"
_DIGEST_END = ',"digest":"' + "0" * 32 + '"}'


def _digest_as_read(json_data: str | bytes | bytearray) -> str | None:
    """The digest of a state's text as read, if it ends with its digest as a dump writes it."""
    end = len(_DIGEST_END)
    if isinstance(json_data, str):
        if json_data[-end:-34] == _DIGEST_END[:-34] and json_data.endswith('"}'):
            # The text before the digest, as UTF-8, hashed without a copy of it.
            tail = len(json_data[-end:].encode())
            return digest_of(memoryview(json_data.encode())[:-tail], b"}")
        return None
    if bytes(json_data[-end:-34]) == _DIGEST_END[:-34].encode() and json_data.endswith(b'"}'):
        return digest_of(bytes(json_data[:-end]).decode() + "}")
    return None


def _needs_upgrade(error: ValidationError) -> bool:
    return any(
        isinstance(detail.get("ctx", {}).get("error"), OlderFormatError)
        for detail in error.errors(include_url=False)
    )


def _refused(error: ValidationError, data: Any) -> HistoryError:
    """The ``bad-state`` error for a state pydantic refused: the checks' own, or its fields'."""
    details = error.errors(include_url=False)
    customer = data.get("customer_id") if isinstance(data, dict) else None
    whose = customer if isinstance(customer, str) else None
    for detail in details:
        found = detail.get("ctx", {}).get("error")
        if isinstance(found, HistoryError):
            return found
        if isinstance(found, FormatError):  # a newer shape: its other errors say nothing
            return bad_state(whose, [(("format",), str(found))], found.suggestion)
    # A field pydantic refused (an unknown key, a wrong type, a negative count): the plain
    # words every model of events and states uses, with its did-you-mean, as ``bad-state``.
    whose_state = "saved state" if whose is None else f"state of {whose}"
    return ModelInputError(
        replace(
            problem,
            path=(whose_state, *problem.path),
            code="bad-state",
            suggestion=problem.suggestion or WHAT_TO_DO,
        )
        for problem in plain_problems(error, CustomerState)
    )


_PAID: Mapping[str, list[int]] = MappingProxyType({})
"""No rule earned on other amounts than the purchase's paid amounts (shared, never changed)."""


class PurchaseRecord:
    """A purchase inside the working state: what it paid and what it earned."""

    __slots__ = (
        "at",
        "context",
        "earned_on",
        "in_window",
        "local_date",
        "paid",
        "points",
        "refunded_amount",
        "refunded_units",
        "set_aside",
        "tier_amount",
        "tier_slot",
    )

    def __init__(
        self,
        context: PurchaseContext,
        paid: list[int],
        points: dict[str, int],
        tier_amount: int,
        refunded_units: list[int] | None = None,
        refunded_amount: list[int] | None = None,
    ) -> None:
        self.context = context
        # Copied out of the context: the tier counter reads them for every purchase.
        self.at = context.purchase.at
        self.local_date = context.local_date
        self.paid = paid
        self.points = points
        self.tier_amount = tier_amount
        self.refunded_units = refunded_units or [0] * len(paid)
        self.refunded_amount = refunded_amount or [0] * len(paid)
        self.set_aside: tuple[str, ...] = ()
        """Rules that lost an exclusive group at this purchase: a refund leaves them be."""
        self.in_window = False
        self.earned_on: Mapping[str, list[int]] = _PAID
        """Per rule that earned on other amounts than ``paid``, each line's amount it saw."""
        self.tier_slot: int | None = None
        """For a purchase opened from a saved state, its place in the tier counter's saved
        rolling window (``TierCounter.saved_at``); None for one evaluated here."""

    @property
    def purchase(self) -> Purchase:
        """The purchase itself."""
        return self.context.purchase

    def gross_left(self) -> list[int]:
        """Each line's gross amount for the units not yet refunded."""
        return [
            price * (line.quantity - done)
            for price, line, done in zip(
                self.context.unit_prices, self.context.purchase.lines, self.refunded_units
            )
        ]

    def paid_left(self) -> list[int]:
        """Each line's paid amount not yet refunded."""
        return [paid - refunded for paid, refunded in zip(self.paid, self.refunded_amount)]

    def left_of(self, rule_id: str) -> list[int]:
        """Each line's amount the rule earned on, less the share of the refunded units."""
        seen = self.earned_on.get(rule_id)
        if seen is None:
            return self.paid_left()
        gone = self.refunded_of(rule_id, self.refunded_units)
        return [amount - back for amount, back in zip(seen, gone)]

    def refunded_of(
        self, rule_id: str, units: Sequence[int], before: Sequence[int] | None = None
    ) -> list[int]:
        """The share of the amounts a rule earned on that ``units`` refunded per line take
        (less the share of ``before``), as :func:`refunded_amount` shares paid amounts."""
        seen = self.earned_on.get(rule_id, self.paid)
        lines = self.context.purchase.lines
        now = [refunded_amount(a, line.quantity, n) for a, line, n in zip(seen, lines, units)]
        if before is None:
            return now
        return [
            taken - refunded_amount(amount, line.quantity, done)
            for taken, amount, line, done in zip(now, seen, lines, before)
        ]

    def fully_refunded(self) -> bool:
        """Whether every unit of every line has been refunded."""
        lines = self.context.purchase.lines
        return all(done == line.quantity for done, line in zip(self.refunded_units, lines))


class WorkingState:
    """The mutable state of one customer during one evaluation.

    The purchases of a saved state stay as they were saved (``saved``) until a refund
    needs one (:meth:`record`): resuming reads none of them, and saving writes the
    untouched ones back as they were.
    """

    __slots__ = (
        "account",
        "birthdays",
        "bonuses",
        "cancellations",
        "customer_id",
        "first_event_at",
        "forgotten_until",
        "friend_holds",
        "gift_cards",
        "held",
        "last_event_at",
        "limit_usage",
        "next_gift_at",
        "opener",
        "order",
        "outbox",
        "passed_over",
        "profile",
        "purchases",
        "redemptions",
        "referrals",
        "refunds",
        "saved",
        "saved_order",
        "saved_window",
        "settled_purchase_at",
        "stamps",
        "tiers",
    )

    def __init__(self, customer_id: str) -> None:
        self.customer_id = customer_id
        self.account = PointsAccount()
        self.last_event_at: datetime | None = None
        self.stamps: dict[str, int] = {}
        self.gift_cards: dict[str, dict[str, tuple[int, int, int]]] = {}
        self.purchases: dict[str, PurchaseRecord] = {}
        # The saved state's purchases not opened yet, and the ids of all it held, in order.
        self.saved: dict[str, int] = {}  # id: its index in the saved columns
        self.saved_order: tuple[str, ...] = ()
        self.saved_window: WindowColumns = NO_WINDOW  # the saved rolling window's forgotten
        self.opener: _Opener | None = None
        # The purchases' ids oldest first, to forget them from the front: deleting the
        # first keys of a dict one by one makes finding the next first key ever slower.
        self.order: deque[str] = deque()
        self.forgotten_until: datetime | None = None
        # The latest forgotten purchase not refunded in full (for purchase_within).
        self.settled_purchase_at: datetime | None = None
        self.refunds: dict[str, None] = {}  # an ordered set: ids in the order evaluated
        self.redemptions: dict[str, None] = {}
        self.cancellations: dict[str, str] = {}  # cancel id: the redemption it cancelled
        self.bonuses: dict[str, None] = {}
        self.tiers = TierCounter()
        self.profile: Customer | None = None
        self.first_event_at: datetime | None = None
        self.birthdays: dict[str, int] = {}
        self.limit_usage: dict[str, tuple[str, int]] = {}
        # (fact id, rule): friend. One purchase of a friend may qualify under two rules.
        self.referrals: dict[tuple[str, str], str] = {}
        self.outbox: list[ReferralQualified] = []  # facts for referrers, not saved
        # As a referrer: (fact id, rule) of ``referrals`` whose reward is held, until when.
        self.held: dict[tuple[str, str], datetime] = {}
        # As a referred friend: rule: (qualifying purchase, hold's end, reversing refund,
        # whether the friend kept their own gift of a reversed purchase).
        self.friend_holds: dict[str, tuple[str, datetime, str | None, bool]] = {}
        # The next gift at a date, once worked out (not saved: a resumed state works it out).
        self.next_gift_at: datetime | None = None
        # Gifts at dates passed over, (gift id, rule, moment, why), when something reads
        # them (explain sets a list); not saved.
        self.passed_over: list[tuple[str, str, datetime, str]] | None = None

    @property
    def points(self) -> int:
        """The points balance: available and pending, less any debt."""
        return self.account.balance

    def knows(self, event_id: str) -> bool:
        """Whether an event with this id was already evaluated for this customer."""
        return (
            event_id in self.purchases
            or event_id in self.saved
            or event_id in self.refunds
            or event_id in self.redemptions
        )

    def knows_fact(self, fact_id: str, rule: str) -> bool:
        """Whether this referral fact (a friend's purchase under a rule) was applied."""
        return (fact_id, rule) in self.referrals

    def event_ids(self) -> list[str]:
        """Every event id evaluated for this customer."""
        return [*self.saved, *self.purchases, *self.refunds, *self.redemptions]

    def add_purchase(self, purchase_id: str, record: PurchaseRecord) -> None:
        """Keep a purchase just evaluated (the newest)."""
        self.purchases[purchase_id] = record
        self.order.append(purchase_id)

    def record(self, purchase_id: str) -> PurchaseRecord | None:
        """A kept purchase as a record (a saved one is opened now), or None if not kept."""
        found = self.purchases.get(purchase_id)
        if found is not None:
            return found
        index = self.saved.pop(purchase_id, None)
        if index is None or self.opener is None:
            return None
        found = self.purchases[purchase_id] = self.opener.open(self, index)
        return found

    def _instant_of(self, purchase_id: str) -> datetime:
        index = self.saved.get(purchase_id)
        if index is not None and self.opener is not None:
            return self.opener.instant(index)
        return self.purchases[purchase_id].at

    def forget(self, within: Duration, zone: ZoneInfo, now: datetime) -> None:
        """Forget the purchases that can no longer be refunded at ``now`` (``refunds.within``).

        The newest purchase is kept whatever its age: the tier it was made at is where tier
        changes are seen from, and ``last_purchase_at`` is checked against it. A rolling
        tier window keeps counting them (it holds its own records), and a calendar window's
        totals already include them.
        """
        order = self.order
        while len(order) > 1:
            at = self._instant_of(order[0])
            if within.after(at, zone) >= now:
                return
            gone = order.popleft()
            index = self.saved.pop(gone, None)
            if index is None or self.opener is None:
                kept = not self.purchases.pop(gone).fully_refunded()
            else:
                kept = self.opener.kept(index)
            if kept:
                self.settled_purchase_at = at
            self.forgotten_until = at
            settle(self.account, gone)

    def last_purchase_kept(self, leaving_out: str | None = None) -> datetime | None:
        """When the latest purchase evaluated that is not refunded in full was made (the
        one ``leaving_out`` names left out), forgotten ones included; None without one."""
        # Newest first: the kept purchases are in evaluation order, after the forgotten.
        for purchase_id in reversed(self.order):
            if purchase_id == leaving_out:
                continue
            record = self.purchases.get(purchase_id)
            if record is not None:
                if not record.fully_refunded():
                    return record.at
                continue
            index = self.saved[purchase_id]
            if self.opener is not None and self.opener.kept(index):
                return self.opener.instant(index)
        return self.settled_purchase_at

    def kept_columns(self) -> PurchaseColumns:
        """The kept purchases as saved, oldest first: untouched saved ones as the slices of
        the saved columns they were, the others written from their records."""
        saved, purchases, order = self.saved, self.purchases, self.saved_order
        if not purchases and (self.opener is None or len(saved) == len(order)):
            return NO_PURCHASES if self.opener is None else self.opener.columns
        opener = self.opener
        if opener is not None and not any(map(purchases.__contains__, order)):
            # No saved purchase was opened (by a refund): the untouched ones are the newest
            # of the saved columns, the forgotten ones left out, then the new ones.
            first = len(order) - len(saved)
            return newest_then(opener.columns, first, list(map(saved_row, purchases.values())))
        builder = ColumnsBuilder()
        start: int | None = None  # the first of a run of untouched saved purchases
        index = -1
        for purchase_id in self.order:
            found = saved.get(purchase_id)
            if found is not None:
                if start is None:
                    start = found
                index = found
                continue
            if opener is not None and start is not None:
                builder.add_slice(opener.columns, start, index + 1)
            start = None
            builder.add_row(saved_row(purchases[purchase_id]))
        if opener is not None and start is not None:
            builder.add_slice(opener.columns, start, index + 1)
        return builder.build()

    def _forgotten_tiers(self, plan: TierPlan | None) -> tuple[dict[str, int], WindowColumns]:
        """What the forgotten purchases count in the tier windows still to be read."""
        until, now = self.forgotten_until, self.last_event_at
        if plan is None or until is None or now is None:
            return {}, NO_WINDOW
        if plan.span is None:
            key = calendar_key(plan.window, now.astimezone(plan.zone).date())
            kept = sum(
                record.tier_amount
                for record in self.purchases.values()
                if calendar_key(plan.window, record.local_date) == key
            )
            if self.saved and self.opener is not None:
                kept += sum(
                    amount
                    for local_date, amount in self.opener.counted(self.saved.values())
                    if calendar_key(plan.window, local_date) == key
                )
            amount = self.tiers.by_key.get(key, 0) - kept
            return ({key: amount} if amount else {}), NO_WINDOW
        start = micros(elapsed(now, -plan.span))
        saved, purchases, counter = self.saved, self.purchases, self.tiers
        # The window's records that are not a kept purchase: a kept purchase at the same
        # instant as a forgotten one is saved with its purchase, and must not count twice.
        # The saved window's forgotten pairs come first and are written back as they were.
        first = bisect_left(counter.saved_at, start, lo=counter.saved_next)
        window = self.saved_window
        moments: list[int] = []  # the pairs after the saved window's, to append to it
        amounts: list[int] = []
        for index in range(max(first, len(window.at)), len(counter.saved_at)):
            purchase_id = counter.saved_ids[index]
            if purchase_id in saved or purchase_id in purchases:
                break  # purchases are forgotten oldest first: the rest are kept
            moments.append(counter.saved_at[index])
            amounts.append(counter.saved_amount[index])
        live = {id(record) for record in purchases.values()}
        for record in self.tiers.recent:
            if id(record) not in live and (moment := micros(record.at)) >= start:
                moments.append(moment)
                amounts.append(record.tier_amount)
        if first >= len(window.at) and not moments:
            return {}, NO_WINDOW
        return {}, trusted_window(
            window.at[first:] + tuple(moments), window.amount[first:] + tuple(amounts)
        )

    def save(
        self, program_id: str, money: Currency, tiers: TierPlan | None = None
    ) -> CustomerState:
        """The saved, JSON-friendly form of this state."""
        show = money.to_decimal
        window_tier, tier_reached = self.tiers.retention()
        granted = self.tiers.granted
        tier_amounts, tier_window = self._forgotten_tiers(tiers)
        purchases = self.kept_columns()
        # Most of a state's collections are empty: an empty one is not walked (a comprehension
        # costs a call even over nothing, and a step saves at every event).
        lots, spent, referrals = self.account.lots, self.account.spent, self.referrals
        # The engine's own state: the checks are for states that come from outside, and the
        # laws over drawn histories check that every state made here passes them.
        return _trusted_state(
            format=FORMAT,
            program=program_id,
            customer_id=self.customer_id,
            points=self.points,
            lots=tuple(map(_trusted_lot, lots)) if lots else (),
            debt=self.account.debt,
            last_purchase_at=self.account.last_purchase_at,
            settled_active_at=self.account.settled_at,
            last_event_at=self.last_event_at,
            stamps=dict(self.stamps),
            gift_cards={
                rule: {
                    key: GiftCardWindow(
                        net_spend=show(net), highest_spend=show(highest), cards=cards
                    )
                    for key, (net, highest, cards) in windows.items()
                }
                for rule, windows in self.gift_cards.items()
            }
            if self.gift_cards
            else {},
            exponent=money.exponent if purchases.id else None,
            purchase_columns=purchases,
            refunds=tuple(self.refunds),
            redemptions=tuple(self.redemptions),
            spent=saved_spent(self.account) if spent else (),
            cancellations=dict(self.cancellations),
            bonuses=tuple(self.bonuses),
            first_event_at=self.first_event_at,
            birthdays=dict(self.birthdays),
            limits={
                key: LimitUsage(period=period, used=used)
                for key, (period, used) in self.limit_usage.items()
            }
            if self.limit_usage
            else {},
            referrals=tuple(
                SavedReferral(
                    id=fact_id,
                    rule=rule,
                    referred=friend,
                    held_until=self.held.get((fact_id, rule)),
                )
                for (fact_id, rule), friend in referrals.items()
            )
            if referrals
            else (),
            referral_holds=tuple(
                SavedHold(rule=rule, purchase=purchase, until=until, reversed_by=by, gift_kept=kept)
                for rule, (purchase, until, by, kept) in self.friend_holds.items()
            )
            if self.friend_holds
            else (),
            window_tier=window_tier,
            tier_reached=tier_reached,
            forgotten_until=self.forgotten_until,
            settled_purchase_at=self.settled_purchase_at,
            tier_amounts=tier_amounts,
            window_columns=tier_window,
            tier_granted=None if granted is None or tiers is None else tiers.names[granted],
            tier_granted_until=None if granted is None else self.tiers.granted_until,
            digest=None,
        )


_GIVEN = frozenset(CustomerState.model_fields) - {"format", "digest"}
"""The fields :meth:`WorkingState.save` gives (``model_construct``'s ``model_fields_set``)."""


def _trusted_state(**values: Any) -> CustomerState:
    """A state the engine made, marked checked, without ``model_construct``'s walk over the
    fields' aliases and defaults (a fifth of a ``step``): ``values`` are every field, in
    the model's order; the fields set and private attributes are what ``model_construct``
    and ``_mark_checked`` leave (``tests/test_step_speed.py`` compares the two)."""
    state = CustomerState.__new__(CustomerState)
    object.__setattr__(state, "__dict__", values)
    object.__setattr__(state, "__pydantic_fields_set__", set(_GIVEN))
    object.__setattr__(state, "__pydantic_extra__", None)
    object.__setattr__(
        state, "__pydantic_private__", {"_checked": _Mark(id(state)), "_views": _Views()}
    )
    return state


_LOT_FIELDS = frozenset(SavedLot.model_fields)


def _trusted_lot(lot: Lot) -> SavedLot:
    """A lot as a saved state keeps it, without validating what the engine made (a
    program whose points expire keeps a lot per purchase, and a step saves them all):
    the fields, fields set and extras ``SavedLot(...)`` would leave
    (``tests/test_step_speed.py`` compares the two)."""
    saved = SavedLot.__new__(SavedLot)
    object.__setattr__(
        saved,
        "__dict__",
        {
            "source": lot.source,
            "earned_at": lot.earned_at,
            "available_at": lot.available_at,
            "expires_at": lot.expires_at,
            "points": lot.points,
            "lasting": lot.lasting,
        },
    )
    object.__setattr__(saved, "__pydantic_fields_set__", set(_LOT_FIELDS))
    object.__setattr__(saved, "__pydantic_extra__", None)
    object.__setattr__(saved, "__pydantic_private__", None)
    return saved


def saved_row(record: PurchaseRecord) -> SavedPurchase:
    """What a state saves of a purchase: what a refund needs, in integers."""
    context = record.context
    purchase = context.purchase
    at = purchase.at
    return SavedPurchase(
        purchase.id,
        micros(at),
        offset_seconds(at),
        purchase.store,
        context.tier,
        tuple(
            SavedLine(line.sku, line.category, line.quantity, price, paid, units, back)
            for line, price, paid, units, back in zip(
                purchase.lines,
                context.unit_prices,
                record.paid,
                record.refunded_units,
                record.refunded_amount,
                strict=True,
            )
        ),
        dict(record.points),
        record.set_aside,
        {rule: tuple(amounts) for rule, amounts in record.earned_on.items()},
    )


def tier_amount(record: PurchaseRecord, plan: TierPlan | None) -> int:
    """What a purchase counts toward tiers now: its paid amount left, 1 if not refunded in
    full, or its points left (``qualify_by: points``)."""
    if plan is None or plan.by_spend:
        return sum(record.paid) - sum(record.refunded_amount)
    if plan.by_points:
        return sum(record.points.values())
    return 0 if record.fully_refunded() else 1


def tier_amount_of(plan: TierPlan | None, paid: list[int], points: Mapping[str, int]) -> int:
    """What a purchase just evaluated counts toward tiers (as :func:`tier_amount`)."""
    if plan is None or plan.by_spend:
        return sum(paid)
    if plan.by_points:
        return sum(points.values())
    return 1


def _saved_amounts(columns: PurchaseColumns, plan: TierPlan | None) -> list[int]:
    """What each saved purchase counts toward tiers now (as :func:`tier_amount`)."""
    if plan is None or plan.by_spend:
        return spend_left(columns)
    if plan.by_points:
        return points_given(columns)
    return [1 if left else 0 for left in units_left(columns)]


class _Opener:
    """Turns a saved purchase into a record when a refund needs it, in a program's terms."""

    __slots__ = ("_starts", "columns", "money", "tiers", "zone")

    def __init__(
        self, money: Currency, zone: tzinfo, tiers: TierPlan | None, columns: PurchaseColumns
    ) -> None:
        self.money = money
        self.zone = zone
        self.tiers = tiers
        self.columns = columns
        self._starts: list[int] | None = None

    @property
    def starts(self) -> list[int]:
        """Where each saved purchase's lines start in the line columns (worked out once)."""
        if self._starts is None:
            self._starts = line_starts(self.columns)
        return self._starts

    def counted(self, indexes: Iterable[int]) -> list[tuple[date, int]]:
        """Each saved purchase's local date and what it counts toward tiers."""
        columns, zone = self.columns, self.zone
        amounts = _saved_amounts(columns, self.tiers)
        return [
            (instant(columns.at[index]).astimezone(zone).date(), amounts[index])
            for index in indexes
        ]

    def kept(self, index: int) -> bool:
        """Whether a unit of the saved purchase ``index`` is not refunded."""
        return not_refunded_in_full(self.columns, self.starts, index)

    def instant(self, index: int) -> datetime:
        """The instant of the saved purchase ``index``, at the offset it was written with."""
        return instant(self.columns.at[index], self.columns.offset[index])

    def open(self, state: WorkingState, index: int) -> PurchaseRecord:
        """The record of a saved purchase, with its place in the saved tier window."""
        columns = self.columns
        show = self.money.to_decimal
        first, end = self.starts[index], self.starts[index + 1]
        quantities = columns.quantity[first:end]
        prices = columns.unit_price[first:end]
        purchase_id = columns.id[index]
        purchase = Purchase.model_construct(
            id=purchase_id,
            customer_id=state.customer_id,
            at=self.instant(index),
            lines=tuple(
                Line.model_construct(
                    sku=sku, category=category, quantity=quantity, unit_price=show(price)
                )
                for sku, category, quantity, price in zip(
                    columns.sku[first:end], columns.category[first:end], quantities, prices
                )
            ),
            store=columns.store[index],
        )
        tiers = self.tiers
        tier = columns.tier[index]
        tier_index = None if tier is None or tiers is None else tiers.names.index(tier)
        local = purchase.at.astimezone(self.zone)
        gross = tuple(map(mul, prices, quantities))
        context = PurchaseContext(
            purchase, local.date(), local.weekday(), prices, gross, sum(gross), tier, tier_index
        )
        record = PurchaseRecord(
            context,
            list(columns.paid[first:end]),
            points_of(columns, index),
            0,
            list(columns.refunded_units[first:end]),
            list(columns.refunded_amount[first:end]),
        )
        record.tier_amount = tier_amount(record, tiers)
        record.set_aside = tuple(columns.set_aside.get(purchase_id, ()))
        earned_on = columns.earned_on.get(purchase_id)
        if earned_on:
            record.earned_on = {rule: list(amounts) for rule, amounts in earned_on.items()}
        if tiers is not None and tiers.span is not None:
            record.tier_slot = state.tiers.slot_of(purchase_id)
        return record


def _restore_activity(saved: CustomerState, account: PointsAccount, purchases_count: bool) -> None:
    """The activity ``expire_on_inactivity`` counts from, as saved: the settled activity,
    and (when purchases count) the kept purchases after it not refunded in full. A state
    saved before activity was kept (format 3) has no settled activity: its kept purchases
    are read the same way."""
    account.settled_at = saved.settled_active_at
    if purchases_count:
        account.counting = _counting(saved.purchase_columns, saved.settled_active_at)
    account.active_at = active_at(saved, purchases_count)


def active_at(saved: CustomerState, purchases_count: bool) -> datetime | None:
    """The last activity that keeps a saved state's points alive: the settled activity, or
    (when purchases count) the last kept purchase after it not refunded in full."""
    settled = saved.settled_active_at
    if not purchases_count:
        return settled
    newest = max(_counting(saved.purchase_columns, settled).values(), default=None)
    if newest is None or (settled is not None and settled >= newest):
        return settled
    return newest


def _counting(columns: PurchaseColumns, settled: datetime | None) -> dict[str, datetime]:
    """The saved purchases after ``settled`` that still count as activity (not refunded in
    full), by id."""
    after = -1 if settled is None else micros(settled)
    # An instant is made only for the purchases that count (microseconds are compared).
    return {
        purchase_id: instant(at, offset)
        for purchase_id, at, offset, left in zip(
            columns.id, columns.at, columns.offset, units_left(columns), strict=True
        )
        if left and at > after
    }


def _restore_referrals(saved: CustomerState, state: WorkingState) -> None:
    """The friends who rewarded the customer (or whose reward is held), and as a friend
    the purchases held under rules with ``hold_for``."""
    state.referrals = {(kept.id, kept.rule): kept.referred for kept in saved.referrals}
    state.held = {
        (kept.id, kept.rule): kept.held_until
        for kept in saved.referrals
        if kept.held_until is not None
    }
    state.friend_holds = {
        kept.rule: (kept.purchase, kept.until, kept.reversed_by, kept.gift_kept)
        for kept in saved.referral_holds
    }


def _restore_account(saved: CustomerState, account: PointsAccount, purchases_count: bool) -> None:
    """The points account as saved: lots, debt, activity, and the redemptions' lots."""
    # Most of a state's collections are empty: an empty one is not walked (a comprehension
    # costs a call even over nothing, and a step restores at every event).
    if saved.lots:
        account.lots = [
            Lot(
                lot.source, lot.earned_at, lot.available_at, lot.expires_at, lot.points, lot.lasting
            )
            for lot in saved.lots
        ]
        account.dated = any(
            lot.expires_at is not None and lot.source.startswith(OPENING) for lot in saved.lots
        )
    account.debt = saved.debt
    account.last_purchase_at = saved.last_purchase_at
    _restore_activity(saved, account, purchases_count)
    if saved.spent:
        account.spent = {
            kept.id: Spent(
                kept.reward,
                kept.quantity,
                kept.value,
                tuple(Taken(part.source, part.earned_at, part.points) for part in kept.taken),
            )
            for kept in saved.spent
        }


def restore(
    saved: CustomerState,
    money: Currency,
    zone: tzinfo,
    tiers: TierPlan | None,
    purchases_count: bool = False,
) -> WorkingState:
    """Rebuild the working state from a saved one.

    The saved purchases are not opened: a refund opens the one it names.
    ``purchases_count``: purchases count as activity for ``expire_on_inactivity``, so the
    kept ones after the settled activity that are not refunded in full are read for it.

    Raises:
        ValueError: the saved state names a tier the program does not have, or holds
            amounts in other decimal places than the currency's.
    """
    state = WorkingState(saved.customer_id)
    _restore_account(saved, state.account, purchases_count)
    state.redemptions = dict.fromkeys(saved.redemptions)
    state.cancellations = dict(saved.cancellations)
    state.bonuses = dict.fromkeys(saved.bonuses)
    state.first_event_at = saved.first_event_at
    state.birthdays = dict(saved.birthdays)
    if saved.limits:
        state.limit_usage = {key: (usage.period, usage.used) for key, usage in saved.limits.items()}
    if saved.referrals or saved.referral_holds:
        _restore_referrals(saved, state)
    state.last_event_at = saved.last_event_at
    state.stamps = dict(saved.stamps)
    state.refunds = dict.fromkeys(saved.refunds)
    state.forgotten_until, state.settled_purchase_at = (
        saved.forgotten_until,
        saved.settled_purchase_at,
    )
    to_minor = money.to_minor
    if saved.gift_cards:
        state.gift_cards = {
            rule: {
                key: (to_minor(window.net_spend), to_minor(window.highest_spend), window.cards)
                for key, window in windows.items()
            }
            for rule, windows in saved.gift_cards.items()
        }
    columns = saved.purchase_columns
    ids = columns.id
    if ids and saved.exponent != money.exponent:
        raise ValueError(
            f"its amounts are in {saved.exponent} decimal places, but the program's currency "
            f"{money.code} has {money.exponent}"
        )
    opener = _Opener(money, zone, tiers, columns)
    state.opener = opener
    state.saved = dict(zip(ids, range(len(ids))))
    state.saved_order = ids
    state.order = deque(ids)
    if tiers is not None:
        if not {*columns.tier} <= {None, *tiers.names}:
            unknown = next(
                purchase_id
                for purchase_id, tier in zip(ids, columns.tier, strict=True)
                if tier not in {None, *tiers.names}
            )
            raise ValueError(f"the saved purchase {unknown} names an unknown tier")
        forgotten = saved.forgotten_until is not None
        if tiers.span is None:
            if forgotten:
                state.tiers.by_key = dict(saved.tier_amounts)
            by_key = state.tiers.by_key
            for local_date, amount in opener.counted(range(len(ids))):
                key = calendar_key(tiers.window, local_date)
                by_key[key] = by_key.get(key, 0) + amount
        else:
            window = saved.window_columns if forgotten else NO_WINDOW
            state.saved_window = window
            state.tiers.load_window(
                [*window.at, *columns.at],
                [*window.amount, *_saved_amounts(columns, tiers)],
                [*(None,) * len(window.at), *ids],
            )
        last_tier = columns.tier[-1] if ids else None
        state.tiers.resume(tiers, last_tier, saved.window_tier, saved.tier_reached)
        if saved.tier_granted is not None and saved.tier_granted_until is not None:
            state.tiers.grant(tiers, saved.tier_granted, saved.tier_granted_until)
    return state
