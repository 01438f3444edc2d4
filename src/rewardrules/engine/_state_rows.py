"""The small models a saved customer state is made of, beside its purchases.

A :class:`~rewardrules.engine.state.CustomerState` keeps its points as lots
(:class:`SavedLot`), the redemptions a cancellation can give back (:class:`SavedSpent`, the
points :class:`SavedTaken` from each lot), each limit's usage (:class:`LimitUsage`), a
partner gift card rule's window (:class:`GiftCardWindow`) and both sides of a referral
(:class:`SavedReferral`, :class:`SavedHold`). The purchases and the rolling tier window are
columns (``_state_columns``). ``rewardrules.engine.state`` exports every model here.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import AwareDatetime, ConfigDict, Field

from rewardrules._model_errors import PlainErrors


class SavedModel(PlainErrors):  # a bad saved state is a HistoryError in plain words
    """A part of a saved state: frozen, no unknown keys, its errors in plain words."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class GiftCardWindow(SavedModel):
    """A partner gift card rule's progress in one window."""

    net_spend: Decimal = Field(description="Qualifying paid spend, less refunds.")
    highest_spend: Decimal = Field(description="The highest net spend reached.")
    cards: int = Field(ge=0, description="Gift cards issued in the window.")


class SavedLot(SavedModel):
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


class SavedTaken(SavedModel):
    """Points a redemption took from one lot."""

    source: str = Field(description="The lot's source (the purchase that earned them).")
    earned_at: AwareDatetime = Field(description="When the lot was earned.")
    points: int = Field(ge=0, description="How many points it took from that lot.")


class SavedSpent(SavedModel):
    """An applied redemption that is not cancelled: what a cancellation gives back."""

    id: str = Field(description="The redemption.")
    reward: str = Field(description="The catalogue reward.")
    quantity: int = Field(ge=1, description="Units redeemed.")
    value: int = Field(description="Its value in minor units (cash deducted).")
    taken: tuple[SavedTaken, ...] = Field(description="The points it took, lot by lot.")


class SavedWriteOff(SavedModel):
    """Points a refund wrote off under ``negative_balance: clamp`` that cancelling one of
    the redemptions applied before it may still recover."""

    refund: str = Field(description="The refund that wrote them off.")
    points: int = Field(ge=1, description="The points written off and not recovered yet.")
    redemptions: tuple[str, ...] = Field(
        min_length=1,
        description=(
            "The redemptions applied before the refund and not cancelled since: cancelling "
            "one recovers these points first."
        ),
    )


class LimitUsage(SavedModel):
    """What one limit of a rule has counted in its current period."""

    period: str = Field(description="The period: '2026-11-23', '2026-W48', '2026-11', '2026'.")
    used: int = Field(ge=0, description="Points, rewards or minor units of value counted.")


class SavedReferral(SavedModel):
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


class SavedHold(SavedModel):
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
