"""``birthday``: points or a voucher once a year, in a window around the birthday.

Business rule: the window is the birthday itself plus or minus ``days_around`` days, or
the whole birthday month (``window: month``), as local dates of the program's time zone.
Each birthday year gives once: at the window's first local midnight, or, with
``requires_purchase``, at the customer's first purchase in the window that the filter
admits (one with an eligible line priced above zero).

Edges: a customer without a birthday in their profile (or without a profile) gets
nothing. A 29 February birthday falls on 28 February in other years. A window that
straddles New Year belongs to the year of the birthday in it. A window counts only when
it ends after the customer joined (their profile's ``joined_at``, else their first event);
joining inside a window gives at the moment of joining, and with ``requires_purchase`` only
a purchase at or after ``joined_at`` counts. A window gives only when the
moment it gives falls between the rule's ``starts`` and ``ends``. Points given at a
purchase are that purchase's points (they wait with it and a refund of everything
eligible takes them back); points given at a date are available at once.

Eligibility (``member_for``, ``purchase_within``) is judged at the moment the gift would
be given, on the events before it in the evaluation order: a member since ``joined_at``
(else the first event) plus ``member_for`` at or before that moment, and an earlier
purchase not refunded in full by then made at most ``purchase_within`` before it. A gift at
a date that fails uses up its year; with ``requires_purchase`` each purchase in the window
is judged in turn, so a later one may still get it.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from rewardrules._types import fixed_offset
from rewardrules.engine.basket import Basket
from rewardrules.engine.kind import DatedGifts, Finding, KindSpec, Now, ReferenceExamples
from rewardrules.engine.ledger import LedgerEntry
from rewardrules.engine.lots import Duration
from rewardrules.engine.scope import PurchaseContext, Scope
from rewardrules.engine.scope_words import scope_refusal
from rewardrules.engine.working_state import PurchaseRecord, WorkingState
from rewardrules.events import Customer, MonthDay
from rewardrules.kinds._gifts import (
    GiftPlan,
    dated_event_id,
    eligible_priced_units,
    keep_points,
    not_joined,
    refund_fixed_points,
    refund_words_of_gift,
)
from rewardrules.money import Currency
from rewardrules.program.model import Birthday, Program


@dataclass(frozen=True, slots=True)
class BirthdayPlan:
    """A birthday rule: its gift, window and filter."""

    rule: Birthday
    scope: Scope
    gift: GiftPlan
    points_name: str
    money: Currency
    zone: ZoneInfo
    member_for: Duration | None = None
    purchase_within: Duration | None = None

    @classmethod
    def compile(
        cls, rule: Birthday, money: Currency, points_name: str, zone: ZoneInfo
    ) -> BirthdayPlan:
        """Compile the gift and filter."""
        return cls(
            rule=rule,
            scope=Scope.compile(rule.when, money, rule.starts, rule.ends),
            gift=GiftPlan.compile(rule.points, rule.voucher, money),
            points_name=points_name,
            money=money,
            zone=zone,
            member_for=None if rule.member_for is None else Duration.parse(rule.member_for),
            purchase_within=(
                None if rule.purchase_within is None else Duration.parse(rule.purchase_within)
            ),
        )

    @property
    def at_purchase(self) -> bool:
        """Whether the gift waits for a purchase in the window."""
        return self.rule.requires_purchase

    def window(self, birthday: MonthDay, year: int) -> tuple[date, date]:
        """The first and last local date of the window around the birthday of ``year``."""
        day = birthday.day
        if birthday.month == 2 and day == 29 and not calendar.isleap(year):
            day = 28
        if self.rule.window == "month":
            last = calendar.monthrange(year, birthday.month)[1]
            return date(year, birthday.month, 1), date(year, birthday.month, last)
        centre = date(year, birthday.month, day)
        around = timedelta(days=self.rule.days_around)
        return centre - around, centre + around

    def year_of(self, birthday: MonthDay, local_date: date) -> int | None:
        """The birthday year whose window holds this date, if any."""
        for year in (local_date.year - 1, local_date.year, local_date.year + 1):
            first, last = self.window(birthday, year)
            if first <= local_date <= last:
                return year
        return None

    def active_on(self, local_date: date) -> bool:
        """Whether the rule's ``starts`` and ``ends`` admit this local date."""
        rule = self.rule
        return (rule.starts is None or rule.starts <= local_date) and (
            rule.ends is None or local_date <= rule.ends
        )

    @property
    def has_conditions(self) -> bool:
        """Whether it asks for ``member_for`` or ``purchase_within``."""
        return self.member_for is not None or self.purchase_within is not None

    def refusal(
        self,
        start: datetime | None,
        joined: bool,
        moment: datetime,
        bought: datetime | None,
        *,
        purchases: bool = True,
    ) -> str | None:
        """Why a customer is not eligible for the gift at ``moment``; None if they are.

        ``start`` is when their membership started (``joined``: their profile's
        ``joined_at``, else their first event); ``bought`` when the latest earlier purchase
        not refunded in full was made. A member for ``member_for`` when ``start`` plus it is
        at or before ``moment``; a purchase counts when ``moment`` is at most
        ``purchase_within`` after it. ``purchases`` False: ``member_for`` alone.
        """
        zone, member_for, within = self.zone, self.member_for, self.purchase_within
        if member_for is not None and (start is None or member_for.after(start, zone) > moment):
            since = "no event yet" if start is None else _day(start, zone)
            how = f"joined {since}" if joined else f"first event {since} (no joined_at)"
            return f"not a member for {member_for.text} yet: {how}"
        if not purchases:
            return None
        if within is not None and (bought is None or within.after(bought, zone) < moment):
            last = "" if bought is None else f"; the last was on {_day(bought, zone)}"
            return f"no purchase in the {within.text} before {_moment_words(moment, zone)}{last}"
        return None

    def why(self, birthday: MonthDay, year: int) -> str:
        """'birthday 2026 (07-14; window 2026-07-07 to 2026-07-21)'."""
        first, last = self.window(birthday, year)
        what = self.rule.description or "birthday"
        day = f"{birthday.month:02d}-{birthday.day:02d}"
        return f"{what} {year} (birthday {day}; window {first} to {last})"


def _day(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).date().isoformat()


def _moment_words(moment: datetime, zone: tzinfo) -> str:
    """'2026-05-01' at a local midnight, else '2026-05-03 10:30'."""
    local = moment.astimezone(zone)
    if local.time() == time(0):
        return local.date().isoformat()
    return local.strftime("%Y-%m-%d %H:%M")


def condition_refusal(
    plan: BirthdayPlan,
    state: WorkingState,
    profile: Customer,
    moment: datetime,
    leaving_out: str | None = None,
) -> str | None:
    """Why the customer of ``state`` is not eligible for the gift at ``moment`` (None: they
    are), from what the state holds: its purchases but ``leaving_out``."""
    if not plan.has_conditions:
        return None
    joined = profile.joined_at
    start = joined or state.first_event_at
    refusal = plan.refusal(start, joined is not None, moment, None, purchases=False)
    if refusal is not None or plan.purchase_within is None:
        return refusal
    return plan.refusal(start, joined is not None, moment, state.last_purchase_kept(leaving_out))


def birthday_at_purchase(
    plan: BirthdayPlan,
    birthday: MonthDay | None,
    last_year: int | None,
    context: PurchaseContext,
    joined_at: datetime | None = None,
) -> tuple[int | None, list[LedgerEntry]]:
    """The gift of a purchase in a birthday window not yet rewarded; its year, its entry.

    A purchase before the customer joined (``joined_at``) does not count.
    """
    if birthday is None or (joined_at is not None and context.purchase.at < joined_at):
        return None, []
    year = plan.year_of(birthday, context.local_date)
    if year is None or (last_year is not None and year <= last_year):
        return None, []
    if eligible_priced_units(plan.scope, context) == 0:
        return None, []
    purchase = context.purchase
    entry = plan.gift.entry(
        purchase.id,
        purchase.customer_id,
        plan.rule.id,
        plan.money,
        plan.points_name,
        plan.why(birthday, year),
    )
    return year, [entry]


def birthday_dates(
    plan: BirthdayPlan,
    birthday: MonthDay,
    since: datetime,
    last_year: int | None,
    until: datetime,
    inclusive: bool,
) -> list[tuple[datetime, int]]:
    """The moments a dated birthday gift is due up to ``until``, with their birthday year.

    A window counts when it ends after ``since`` (when the customer joined) and its year
    is after ``last_year`` (the last year given); it gives at its first local midnight, or
    at ``since`` when the customer joined inside it.
    """
    zone = plan.zone
    since_local = since.astimezone(zone).date()
    first_year = since_local.year - 1
    if last_year is not None:
        first_year = max(first_year, last_year + 1)
    last_possible = until.astimezone(zone).date().year + 1
    due: list[tuple[datetime, int]] = []
    for year in range(first_year, last_possible + 1):
        first, last = plan.window(birthday, year)
        if last < since_local:
            continue
        # The first instant of the window's first day, as an instant only (a midnight the
        # clocks skip is the instant they jump: 2018-11-04 in Sao Paulo starts at 01:00).
        midnight = fixed_offset(datetime.combine(first, time(0), zone))
        moment = max(midnight, since)
        if moment > until or (moment == until and not inclusive):
            break
        if plan.active_on(moment.astimezone(zone).date()):
            due.append((moment, year))
    return due


def dated_birthday_entry(
    plan: BirthdayPlan, birthday: MonthDay, customer_id: str, moment: datetime, year: int
) -> LedgerEntry:
    """The entry of a birthday gift given at a date."""
    return plan.gift.entry(
        dated_event_id(plan.rule.id, moment, plan.zone),
        customer_id,
        plan.rule.id,
        plan.money,
        plan.points_name,
        plan.why(birthday, year),
    )


# --- the kind's spec: its steps on the customer state, and its words ------------------


def _purchase(
    plan: BirthdayPlan, state: WorkingState, context: PurchaseContext, basket: Basket
) -> list[LedgerEntry]:
    profile = state.profile
    if profile is None or profile.birthday is None:
        return []
    rule_id = plan.rule.id
    year, entries = birthday_at_purchase(
        plan, profile.birthday, state.birthdays.get(rule_id), context, profile.joined_at
    )
    if year is not None and condition_refusal(plan, state, profile, context.purchase.at):
        return []  # not eligible at this purchase; a later one in the window may be
    if year is not None:
        state.birthdays[rule_id] = year
        keep_points(basket, rule_id, entries)
    return entries


def _due(
    plan: BirthdayPlan, state: WorkingState, profile: Customer, horizon: datetime
) -> list[tuple[datetime, int]]:
    since = profile.joined_at or state.first_event_at
    if profile.birthday is None or since is None:
        return []
    last_year = state.birthdays.get(plan.rule.id)
    return birthday_dates(plan, profile.birthday, since, last_year, horizon, True)


def _give(
    plan: BirthdayPlan, state: WorkingState, profile: Customer, moment: datetime, year: int
) -> LedgerEntry | str:
    assert profile.birthday is not None  # noqa: S101 -- only scheduled with one
    state.birthdays[plan.rule.id] = year  # given or passed over: that year is done
    refusal = condition_refusal(plan, state, profile, moment)
    if refusal is not None:
        return refusal
    return dated_birthday_entry(plan, profile.birthday, state.customer_id, moment, year)


def _why_not(
    plan: BirthdayPlan,
    record: PurchaseRecord,
    stamps: Mapping[str, int],
    state: WorkingState,
    zone: tzinfo,
) -> str:
    # The engine's checks in its order: the profile and what was given, then the filter.
    refusal = _profile_refusal(plan, record, state, zone)
    if refusal is None:
        refusal = scope_refusal(plan, record.context)
    if refusal is None and state.profile is not None:
        purchase = record.purchase
        refusal = condition_refusal(plan, state, state.profile, purchase.at, purchase.id)
    return refusal or "it gave nothing for this purchase"


def _profile_refusal(
    plan: BirthdayPlan, record: PurchaseRecord, state: WorkingState, zone: tzinfo
) -> str | None:
    profile, context = state.profile, record.context
    if profile is None:
        return "no customer profile, so no birthday"
    if profile.birthday is None:
        return "no birthday in the profile"
    if profile.joined_at is not None and context.purchase.at < profile.joined_at:
        return not_joined(profile.joined_at, zone)
    year = plan.year_of(profile.birthday, context.local_date)
    if year is None:
        _, first, last = _next_window(plan, profile.birthday, context.local_date, None)
        return f"not in the birthday window {first} to {last}"
    given = state.birthdays.get(plan.rule.id)
    if given is not None and year <= given:
        return f"already given for {given}"
    return None


def _next_window(
    plan: BirthdayPlan, birthday: MonthDay, local_date: date, given: int | None
) -> tuple[int, date, date]:
    """The first birthday window not over on ``local_date``, of a year after ``given``."""
    year = local_date.year - 1 if given is None else max(local_date.year - 1, given + 1)
    while True:
        first, last = plan.window(birthday, year)
        if last >= local_date:
            return year, first, last
        year += 1


def _next_reward(plan: BirthdayPlan, state: WorkingState, now: Now) -> tuple[str, date | None]:
    profile, local_date = state.profile, now.local_date
    if profile is None:
        return "no customer profile, so no birthday", None
    if profile.birthday is None:
        return "no birthday in the profile", None
    given = state.birthdays.get(plan.rule.id)
    _, first, last = _next_window(plan, profile.birthday, local_date, given)
    gift = plan.gift.words(plan.money, plan.points_name)
    at_purchase = " at a purchase" if plan.at_purchase else ""
    text = f"{gift}{at_purchase} in the birthday window {first} to {last}"
    asks = [
        *([f"a member for {plan.member_for.text} by then"] if plan.member_for else []),
        *(
            [f"with a purchase in the {plan.purchase_within.text} before"]
            if plan.purchase_within
            else []
        ),
    ]
    if asks:
        text += f", if {' and '.join(asks)}"
    return text, max(first, local_date)


_YEARS_OF_STANDING = 5
"""A ``member_for`` longer than this many years is probably a slip of the unit."""


def _lint_conditions(rule: Birthday, program: Program) -> Iterator[Finding]:
    """``birthday-condition``: a member_for or purchase_within that is probably wrong."""
    if rule.purchase_within is not None and Duration.parse(rule.purchase_within).is_zero:
        yield Finding(
            ("purchase_within",),
            f"no purchase can be made in the {rule.purchase_within} before the gift: this "
            "birthday gift is never given",
            "write the time a customer must have bought in, e.g. 365 days, or leave "
            "purchase_within out",
        )
    if rule.member_for is None:
        return
    member_for = Duration.parse(rule.member_for)
    count = rule.member_for.split()[0]
    if member_for.is_zero:
        yield Finding(
            ("member_for",),
            f"every member has been one for {rule.member_for}: member_for asks nothing",
            "leave member_for out, or write how long a customer must have been a member, "
            "e.g. 30 days",
        )
    elif member_for.days > _YEARS_OF_STANDING * 366 or member_for.months > _YEARS_OF_STANDING * 12:
        yield Finding(
            ("member_for",),
            f"only members of more than {_YEARS_OF_STANDING} years ({rule.member_for}) get "
            "this gift; a birthday's member_for is usually days (30 days)",
            f"check the unit: did you mean '{count} days'?",
        )


SPEC: KindSpec[Birthday, BirthdayPlan] = KindSpec(
    model=Birthday,
    compile=lambda rule, settings: BirthdayPlan.compile(
        rule, settings.money, settings.points_name, settings.zone
    ),
    purchase=_purchase,
    refund=refund_fixed_points,
    state_slices=lambda plan: (("birthdays", plan.rule.id),),
    changes_prices=lambda plan: False,
    dated=DatedGifts(applies=lambda plan: not plan.at_purchase, due=_due, give=_give),
    rewards_referrer=None,
    units_are_rewards=False,
    stamps_every=lambda plan: None,
    why_not=_why_not,
    next_reward=_next_reward,
    refund_words=refund_words_of_gift,
    gives_fixed_gifts=True,
    lint={"birthday-condition": _lint_conditions},
    reference=ReferenceExamples(
        rule_id="birthday-treat",
        keys={},
        apart=(("points", "voucher"), ("window", "days_around")),
        refused=frozenset(),
    ),
)
"""What the engine and the tools know about ``birthday``."""
