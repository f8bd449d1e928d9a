"""Hypothesis profiles for the property tests: "ci" (bounded, the default) and "long" (by hand:
HYPOTHESIS_PROFILE=long scripts/test tests/robustness -m robustness --hypothesis-show-statistics)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_SLACK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
# no deadline: a shared 2-core machine makes single examples slow now and then; hangs are caught by
# pytest-timeout. derandomize in CI: the same inputs every run, so a failure reproduces.
settings.register_profile(
    "ci", max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=_SLACK
)
settings.register_profile("long", max_examples=5000, deadline=None, database=None, suppress_health_check=_SLACK)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
