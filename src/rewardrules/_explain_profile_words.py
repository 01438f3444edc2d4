"""The words of the kinds that read a customer's profile: birthday, sign-up and referral.

Why such a rule gave nothing for a purchase follows the engine's checks in its order (the
profile and what was given before, then the filter, then what the purchase pays on the
rule's lines); what a refund left of its gift; and when its next gift can come. None of
these changes the state.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo

from rewardrules._explain_filter_words import scope_refusal
from rewardrules.events import MonthDay
from rewardrules.kinds._gifts import paid_on_eligible
from rewardrules.kinds._words import counted
from rewardrules.kinds.birthday import BirthdayPlan
from rewardrules.kinds.referral import ReferralPlan
from rewardrules.kinds.signup_bonus import SignupPlan
from rewardrules.state import PurchaseRecord, WorkingState

__all__ = [
    "ProfileRulePlan",
    "next_birthday",
    "next_referral",
    "next_signup",
    "profile_refund_text",
    "profile_why_not",
]

ProfileRulePlan = BirthdayPlan | SignupPlan | ReferralPlan
"""The plans of the kinds that read a profile (usable with ``isinstance``)."""


# --- why a purchase got no gift -------------------------------------------------------


def profile_why_not(
    rule: ProfileRulePlan,
    record: PurchaseRecord,
    state: WorkingState,
    zone: tzinfo,
) -> str:
    """Why the rule gave nothing for a purchase: the engine's checks in its order, the
    profile and what was given before, then the filter, then what the purchase pays on the
    rule's lines. ``zone`` is the program's time zone, for the moments the words name."""
    refusal = _profile_refusal(rule, record, state, zone)
    if refusal is None:
        refusal = scope_refusal(rule, record.context)
    if refusal is None and not isinstance(rule, BirthdayPlan):
        refusal = _minimum_refusal(rule, record)
    return refusal or "it gave nothing for this purchase"


def _profile_refusal(
    rule: ProfileRulePlan,
    record: PurchaseRecord,
    state: WorkingState,
    zone: tzinfo,
) -> str | None:
    profile, context, rule_id = state.profile, record.context, rule.rule.id
    if isinstance(rule, BirthdayPlan):
        if profile is None:
            return "no customer profile, so no birthday"
        if profile.birthday is None:
            return "no birthday in the profile"
        if profile.joined_at is not None and context.purchase.at < profile.joined_at:
            return _not_joined(profile.joined_at, zone)
        year = rule.year_of(profile.birthday, context.local_date)
        if year is None:
            _, first, last = _next_window(rule, profile.birthday, context.local_date, None)
            return f"not in the birthday window {first} to {last}"
        given = state.birthdays.get(rule_id)
        if given is not None and year <= given:
            return f"already given for {given}"
        return None
    if isinstance(rule, SignupPlan):
        if profile is None:
            return "no customer profile, so no joined_at"
        if rule_id in state.bonuses:
            return "bonus already given"
        if profile.joined_at is None:
            return "no joined_at in the profile"
    else:
        if profile is None or profile.referred_by is None:
            return "not a referred customer (no referred_by in the profile)"
        if rule_id in state.bonuses:
            return f"friend already qualified (referred by {profile.referred_by}; once per rule)"
        if profile.joined_at is None:
            return None
    if context.purchase.at < profile.joined_at:
        return _not_joined(profile.joined_at, zone)
    return None


def _not_joined(joined_at: datetime, zone: tzinfo) -> str:
    return f"not joined yet (joins {joined_at.astimezone(zone).strftime('%Y-%m-%d %H:%M')})"


def _minimum_refusal(rule: SignupPlan | ReferralPlan, record: PurchaseRecord) -> str | None:
    minimum = rule.min_paid
    if minimum is None:
        return "it gives at joining, not at a purchase"
    paid = paid_on_eligible(rule.scope, record.context, record.paid)
    if paid < minimum:
        money = rule.money
        return f"pays {money.format(paid)} on eligible lines, needs {money.format(minimum)}"
    return None


def _next_window(
    rule: BirthdayPlan, birthday: MonthDay, local_date: date, given: int | None
) -> tuple[int, date, date]:
    """The first birthday window not over on ``local_date``, of a year after ``given``."""
    year = local_date.year - 1 if given is None else max(local_date.year - 1, given + 1)
    while True:
        first, last = rule.window(birthday, year)
        if last >= local_date:
            return year, first, last
        year += 1


# --- what a refund left ---------------------------------------------------------------


def profile_refund_text(rule: ProfileRulePlan, record: PurchaseRecord) -> str:
    """What a refund did to the rule's gift at the purchase, when it took nothing back."""
    # The engine takes a gift's points back only when nothing eligible is left.
    if record.points.get(rule.rule.id, 0):
        return "the points stay: some of what earned them is still bought"
    gift = rule.referred if isinstance(rule, ReferralPlan) else rule.gift
    nothing = f"no {rule.points_name} of it to take back on purchase {record.purchase.id}"
    if gift is not None and gift.points is None:
        return f"{nothing}; a voucher is never taken back"
    return nothing


# --- when the next gift comes ---------------------------------------------------------


def next_birthday(
    rule: BirthdayPlan, state: WorkingState, local_date: date
) -> tuple[str, date | None]:
    """The next birthday window's gift, and the first local date it can come."""
    profile = state.profile
    if profile is None:
        return "no customer profile, so no birthday", None
    if profile.birthday is None:
        return "no birthday in the profile", None
    given = state.birthdays.get(rule.rule.id)
    _, first, last = _next_window(rule, profile.birthday, local_date, given)
    gift = rule.gift.words(rule.money, rule.points_name)
    at_purchase = " at a purchase" if rule.at_purchase else ""
    text = f"{gift}{at_purchase} in the birthday window {first} to {last}"
    return text, max(first, local_date)


def next_signup(
    rule: SignupPlan, state: WorkingState, instant: datetime, local_date: date
) -> tuple[str, date | None]:
    """The bonus at joining or at the first purchase, and the first local date it can come
    (None once given or when it cannot come)."""
    profile = state.profile
    if rule.rule.id in state.bonuses:
        return "already given", None
    if profile is None:
        return "no customer profile, so no joined_at", None
    joined = profile.joined_at
    if joined is None:
        return "no joined_at in the profile", None
    gift = counted(rule.rule.points, rule.points_name)
    joins = joined.astimezone(rule.zone).date()
    if rule.min_paid is None:
        if joined > instant:
            return f"{gift} at joining on {joins}", joins
        return f"not given: joined on {joins}, outside its dates", None
    first = f"a first purchase{_at_least(rule.money.format(rule.min_paid), rule.min_paid)}"
    if joined > instant:
        return f"{gift} at {first} from joining on {joins}", max(joins, local_date)
    return f"{gift} at {first}", local_date


def next_referral(
    rule: ReferralPlan, state: WorkingState, local_date: date
) -> tuple[str, date | None]:
    """As a referred friend still to qualify, what qualifies; else the referrer's side (its
    limits count the referrer's rewards), and the first local date it can come."""
    profile, rule_id = state.profile, rule.rule.id
    minimum = _at_least(rule.money.format(rule.min_paid), rule.min_paid)
    if profile is not None and profile.referred_by is not None and rule_id not in state.bonuses:
        text = f"waiting for a qualifying purchase{minimum} (referred by {profile.referred_by})"
        if rule.referred is not None:
            text += f", which gives {rule.referred.words(rule.money, rule.points_name)}"
        return text, None
    gift = rule.referrer.words(rule.money, rule.points_name)
    friends = sum(1 for _, referral in state.referrals if referral == rule_id)
    so_far = f"{counted(friends, 'friends')} qualified so far"
    return f"{gift} for each referred friend's first purchase{minimum} ({so_far})", local_date


def _at_least(shown: str, minor: int) -> str:
    return f" of at least {shown}" if minor else ""
