"""Warnings about the points lifecycle and status settings that do nothing as written.

- ``inactivity-without-purchases``: ``expire_on_inactivity.activity`` leaves out
  ``purchase``, so a customer who keeps buying still loses every point.
- ``never-expire-without-expiry``: a level's ``points_never_expire`` while points never
  expire anyway (no ``expire_after``, no ``expire_on_inactivity``).
- ``status-kept-in-lifetime``: ``keep_for`` or ``keep_until`` with a ``lifetime`` window,
  which never drops a level: there is nothing to keep.

``docs/lint.md`` describes them.
"""

from __future__ import annotations

from collections.abc import Iterator

from rewardrules.program.model import Program
from rewardrules.tools.lint.check import Finding, LintContext


def inactivity_without_purchases(program: Program, context: LintContext) -> Iterator[Finding]:
    """Purchases are not activity: points expire however much the customer buys."""
    inactivity = program.points.inactivity()
    if inactivity is None or "purchase" in inactivity.activity:
        return
    listed = ", ".join(inactivity.activity)
    yield Finding(
        ("points", "expire_on_inactivity", "activity"),
        f"only {listed} keeps points alive: a customer who keeps buying but does not "
        f"{'redeem' if listed == 'redemption' else 'do that'} loses every point after "
        f"{inactivity.after}",
        "add 'purchase' to the activity list",
    )


def never_expire_without_expiry(program: Program, context: LintContext) -> Iterator[Finding]:
    """A level keeps its points from expiring, but no point ever expires."""
    points = program.points
    if program.tiers is None or points.expire_after or points.expire_on_inactivity:
        return
    for index, level in enumerate(program.tiers.levels):
        if level.points_never_expire:
            yield Finding(
                ("tiers", "levels", index, "points_never_expire"),
                f"'{level.name}' keeps its {points.name} from expiring, but the program has "
                "neither points.expire_after nor points.expire_on_inactivity: no point expires",
                "write the expiry the other levels have, or leave points_never_expire out",
            )


def status_kept_in_lifetime(program: Program, context: LintContext) -> Iterator[Finding]:
    """keep_for or keep_until with a lifetime window: a level is never lost anyway."""
    tiers = program.tiers
    if tiers is None or tiers.window != "lifetime":
        return
    for key in ("keep_for", "keep_until"):
        if getattr(tiers, key) is not None:
            yield Finding(
                ("tiers", key),
                f"{key} keeps a level the window would drop, but a lifetime window never drops one",
                f"leave {key} out, or count in a calendar or rolling window",
            )
