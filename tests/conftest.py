"""Shared fixtures."""

from __future__ import annotations

import pytest

from listhygiene.ruleset import RuleSet, load_rules


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    return load_rules()
