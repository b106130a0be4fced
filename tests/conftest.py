"""Shared fixtures."""

from __future__ import annotations

import pytest

# `seed_api`: a started local server of the four target APIs (seeds 000, 001, 003, 004).
from seed_api import seed_api  # noqa: F401

from listhygiene.ruleset import RuleSet, load_rules


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    return load_rules()
