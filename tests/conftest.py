"""Hypothesis profiles: "dev" for quick local runs, "ci" for more, reproducible examples.

The profile is chosen by the HYPOTHESIS_PROFILE environment variable; without it, "ci"
when the CI variable is set and "dev" otherwise. "scale" is for the heavy scale-out runs.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Hypothesis loads a "ci" profile of its own when it sees the CI variable; both profiles
# start from its plain defaults instead, so that "dev" means the same on every machine.
DEFAULTS = settings.get_profile("default")

# No per-example time limit in either profile: a history of twenty events may give hundreds
# of ledger entries, and on a busy machine such an example takes longer than the default
# 200 ms without anything being wrong.
settings.register_profile("dev", DEFAULTS, max_examples=60, deadline=None)
settings.register_profile(
    "ci",
    DEFAULTS,
    max_examples=200,
    # The same examples on every run, so a red build is a real change, not a new draw; no
    # example database, since a CI machine starts clean each time.
    derandomize=True,
    database=None,
    deadline=None,
    # A shared runner can be slow to generate examples; "dev" still reports slow strategies.
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
# "scale": the ci profile for the heavier runs of tests/test_scale_out.py, where each
# example is a distributed run; there "dev" and "ci" draw a handful of examples, this 200.
settings.register_profile("scale", settings.get_profile("ci"))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
