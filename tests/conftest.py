"""Shared fixtures."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# `seed_api`: a started local server of the four target APIs (seeds 000, 001, 003, 004).
from seed_api import seed_api  # noqa: F401

from listhygiene.ruleset import RuleSet, load_rules

# In CI the property and fuzz tests draw the same examples every run (derandomize), so a
# landing is judged on a fixed set; locally they explore anew each time and keep what
# failed in .hypothesis/.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    return load_rules()
