"""A customer's saved state: what the engine remembers of one customer between evaluations.

:class:`CustomerState` is a pydantic model that round-trips through JSON, so that an
application can keep it and evaluate one new event without the history. Loading one checks
it (``_state_checks``) and brings an older format up to date (``_state_format``); a dump
adds the digest of its content. Its parts are the models of ``_state_rows`` and the
purchase columns of ``_state_columns``, exported here with it.

Inside one evaluation the engine works on a mutable copy instead
(:class:`~rewardrules.engine.working_state.WorkingState`): ``_state_restore.restore``
builds it from a saved state and ``_state_save.save`` turns it back into one.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Self

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
    PurchaseColumns,
    SavedLine,
    SavedPurchase,
    TierAmount,
    WindowColumns,
    purchase_columns,
    purchase_rows,
    window_columns,
    window_pairs,
)
from rewardrules.engine._state_format import (
    FORMAT,
    WHAT_TO_DO,
    FormatError,
    bad_state,
    check_format,
    digest_as_read,
    digest_of,
    needs_upgrade,
    upgrade,
)
from rewardrules.engine._state_rows import (
    GiftCardWindow,
    LimitUsage,
    SavedHold,
    SavedLot,
    SavedModel,
    SavedReferral,
    SavedSpent,
    SavedTaken,
    SavedWriteOff,
)
from rewardrules.errors import HistoryError

__all__ = [
    "CustomerState",
    "GiftCardWindow",
    "LimitUsage",
    "SavedHold",
    "SavedLine",
    "SavedLot",
    "SavedPurchase",
    "SavedReferral",
    "SavedSpent",
    "SavedTaken",
    "SavedWriteOff",
    "TierAmount",
    "trusted_state",
]


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


class CustomerState(SavedModel):
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
    written_off: tuple[SavedWriteOff, ...] = Field(
        default=(),
        description=(
            "Under negative_balance clamp: points refunds wrote off that cancelling a "
            "redemption applied before them may still recover, oldest first."
        ),
    )
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
            if needs_upgrade(error) and isinstance(obj, dict):
                return cls.model_validate(upgrade(obj), **options)
            raise _refused(error, obj) from None

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **options: Any) -> Self:
        """Load a saved state from JSON text, checked.

        Raises:
            HistoryError: ``bad-state``: the state is not one rewardrules can have saved.
        """
        if options.get("context") is None:
            options["context"] = {_AS_READ: digest_as_read(json_data)}
        try:
            return super(PlainErrors, cls).model_validate_json(json_data, **options)
        except ValidationError as error:
            try:  # to upgrade it, or to name the customer in the error
                data = json.loads(json_data)
            except ValueError:
                data = None
            if needs_upgrade(error) and isinstance(data, dict):
                return cls.model_validate(upgrade(data), **options)
            raise _refused(error, data) from None


_AS_READ = "rewardrules: digest of the text as read"


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


_GIVEN = frozenset(CustomerState.model_fields) - {"format", "digest"}
"""The fields ``_state_save.save`` gives (``model_construct``'s ``model_fields_set``)."""


def trusted_state(**values: Any) -> CustomerState:
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
