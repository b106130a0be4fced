"""The health score, its signals and the gates (pipeline/health.py, rules/health.toml)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from listhygiene.contact_counts import ContactCounts, contact_counts
from listhygiene.errors import RulesError
from listhygiene.health import (
    Population,
    SendWindow,
    health_score,
    list_health,
    load_health_rules,
    population,
)

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
THRESHOLD = 90
RULES = load_health_rules()
WINDOW = SendWindow(days=90, sends=1000, hard_bounces=0, complaints=0)

# Health states, best first along the chain the issue names; "new" is a contact too new
# to judge (first seen inside the threshold window, no engagement yet).
ENGAGED, NEW, UNENGAGED = "engaged", "new", "unengaged"
SUPPRESSED = ("unsubscribed", "bounced", "complained")


def contacts_in(states: list[str]) -> pl.DataFrame:
    """A contacts frame whose rows are in the given states, with the columns scoring
    leaves (status, last_engagement_at, unengaged, created_at)."""
    recent = AS_OF - timedelta(days=3)
    old = AS_OF - timedelta(days=400)
    rows = []
    for s in states:
        status = s if s in SUPPRESSED else "active"
        rows.append(
            {
                "status": status,
                "last_engagement_at": recent if s == ENGAGED else None,
                "unengaged": s == UNENGAGED,
                "created_at": recent if s == NEW else old,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "status": pl.String,
            "last_engagement_at": pl.Datetime("us", UTC),
            "unengaged": pl.Boolean,
            "created_at": pl.Datetime("us", UTC),
        },
    )


def counted(states: list[str]) -> ContactCounts:
    return contact_counts(contacts_in(states), AS_OF, THRESHOLD)


def score_of(states: list[str], window: SendWindow | None = WINDOW) -> int:
    return list_health(counted(states), RULES, AS_OF, THRESHOLD, window).stats["healthScore"]


def test_a_perfect_list_scores_exactly_100() -> None:
    assert score_of([ENGAGED] * 50) == 100


@pytest.mark.parametrize(
    "states",
    [
        ["unsubscribed"] * 5,
        ["bounced"] * 5,
        ["complained"],
        [UNENGAGED] * 7,
        ["unsubscribed", "bounced", "complained", UNENGAGED, UNENGAGED],
    ],
)
def test_a_lost_list_scores_exactly_0(states: list[str]) -> None:
    assert score_of(states) == 0


def test_rounding_never_claims_a_perfect_or_a_lost_list() -> None:
    # one unsubscribe in 10,000: 99.99... rounds to 100, but the list is not perfect
    assert score_of([ENGAGED] * 9999 + ["unsubscribed"]) == 99
    # 1 engaged in a billion unengaged: 100 × 1e-9 ** 0.3 = 0.2, still above 0
    pop = Population(10**9, 10**9, 0, 0, 0, 1, 0, 10**9 - 1, engagement_known=True)
    assert health_score(pop, RULES)[0] == 1


def test_worked_example_of_the_readme() -> None:
    pop = Population(
        total=1000,
        active=800,
        unsubscribed=155,
        bounced=40,
        complained=5,
        engaged=500,
        too_new=100,
        unengaged=200,
        engagement_known=True,
    )
    score, parts = health_score(pop, RULES)
    assert parts["active_ratio"]["score"] == pytest.approx(0.8)
    assert parts["bounce_rate"]["score"] == pytest.approx(0.6)
    assert parts["complaint_rate"]["score"] == pytest.approx(0.5)
    assert parts["engagement"]["score"] == pytest.approx(500 / 900)
    by_hand = 100 * 0.8**0.3 * 0.6**0.2 * 0.5**0.2 * (500 / 900) ** 0.3
    assert round(by_hand, 1) == 61.6
    assert score == 62


def test_population_counts_each_state_from_the_frame() -> None:
    states = [ENGAGED] * 4 + [NEW] * 2 + [UNENGAGED] * 3 + ["unsubscribed", "bounced"]
    pop = population(counted(states), engagement_known=True)
    assert (pop.total, pop.active, pop.engaged, pop.too_new, pop.unengaged) == (11, 9, 4, 2, 3)
    assert (pop.unsubscribed, pop.bounced, pop.complained) == (1, 1, 0)


def test_an_engagement_older_than_the_threshold_is_not_engaged() -> None:
    frame = contacts_in([ENGAGED]).with_columns(
        pl.lit(AS_OF - timedelta(days=THRESHOLD), pl.Datetime("us", UTC)).alias(
            "last_engagement_at"
        )
    )
    # exactly threshold days ago is outside "within 90 days" (as_of - 90d < t)
    assert population(contact_counts(frame, AS_OF, THRESHOLD), True).engaged == 0


def test_too_new_contacts_are_neither_engaged_nor_unengaged() -> None:
    base = [ENGAGED] * 3 + [UNENGAGED] * 3
    with_new = list_health(counted(base + [NEW] * 10), RULES, AS_OF, THRESHOLD, WINDOW)
    without = list_health(counted(base), RULES, AS_OF, THRESHOLD, WINDOW)
    eng = with_new.stats["components"]["engagement"]
    assert eng["value"] == without.stats["components"]["engagement"]["value"] == 0.5
    assert eng["judged"] == 6
    assert with_new.stats["tooNewCount"] == 10
    assert with_new.stats["unengagedCount"] == 3
    assert any("too new to judge" in n for n in with_new.stats["notes"])


def test_without_events_engagement_is_unknown_and_said_so() -> None:
    # engaged-looking rows, but no events: nothing is known of engagement
    health = list_health(counted([ENGAGED] * 9 + ["bounced"]), RULES, AS_OF, THRESHOLD, None)
    s = health.stats
    assert s["engagement_known"] is False
    assert s["unengagedCount"] is None and s["engagedCount"] is None
    assert s["components"]["engagement"]["value"] is None
    assert s["components"]["engagement"]["factor"] is None
    assert s["rates"]["unengaged"] is None
    # the score rests on the other three signals, their weights renormalized (0.3+0.2+0.2)
    expected = 100 * 0.9 ** (0.3 / 0.7) * (1 - 0.1 / 0.1) ** (0.2 / 0.7)
    assert s["healthScore"] == round(expected) == 0
    health = list_health(counted(["active"] * 1), RULES, AS_OF, THRESHOLD, None)
    assert health.stats["healthScore"] == 100
    assert "engagement is unknown" in health.stats["notes"][0]
    assert all(g["outcome"] == "unknown" for g in health.stats["gates"])
    assert "no events were given" in health.stats["gates"][0]["message"]


def test_a_list_with_no_contacts_scores_0_and_says_why() -> None:
    s = list_health(counted([]), RULES, AS_OF, THRESHOLD, WINDOW).stats
    assert s["healthScore"] == 0 and s["totalContacts"] == 0
    assert any("no contacts" in n for n in s["notes"])


# -- the property: a contact moving to a worse state never raises the score -------------

WORSE = {
    ENGAGED: (UNENGAGED, *SUPPRESSED),
    UNENGAGED: SUPPRESSED,
    NEW: (UNENGAGED, *SUPPRESSED),
}


@settings(max_examples=300, deadline=None)
@given(
    states=st.lists(
        st.sampled_from([ENGAGED, NEW, UNENGAGED, *SUPPRESSED]), min_size=1, max_size=60
    ),
    pick=st.integers(min_value=0),
    to=st.integers(min_value=0),
    events=st.booleans(),
)
def test_score_never_rises_when_a_contact_gets_worse(
    states: list[str], pick: int, to: int, events: bool
) -> None:
    movable = [i for i, s in enumerate(states) if s in WORSE]
    if not movable:
        return
    i = movable[pick % len(movable)]
    options = WORSE[states[i]]
    worse = [*states[:i], options[to % len(options)], *states[i + 1 :]]
    window = WINDOW if events else None
    assert score_of(worse, window) <= score_of(states, window)


# -- gates ------------------------------------------------------------------------------


def gates_for(window: SendWindow | None, states: list[str] | None = None) -> dict[str, dict]:
    h = list_health(counted(states or [ENGAGED] * 10), RULES, AS_OF, THRESHOLD, window)
    return {g["name"]: g for g in h.stats["gates"]}


@pytest.mark.parametrize(
    ("bounces", "outcome"),
    [(0, "pass"), (19, "pass"), (20, "warn"), (49, "warn"), (50, "block"), (200, "block")],
)
def test_hard_bounce_gate_levels(bounces: int, outcome: str) -> None:
    g = gates_for(SendWindow(90, 1000, bounces, 0))["hard_bounce_rate"]
    assert g["outcome"] == outcome
    assert g["value"] == bounces / 1000


@pytest.mark.parametrize(("complaints", "outcome"), [(0, "pass"), (1, "warn"), (3, "block")])
def test_complaint_gate_levels(complaints: int, outcome: str) -> None:
    assert gates_for(SendWindow(90, 1000, 0, complaints))["complaint_rate"]["outcome"] == outcome


def test_a_blocking_gate_names_itself_and_the_way_out() -> None:
    health = list_health(
        counted([ENGAGED] * 10), RULES, AS_OF, THRESHOLD, SendWindow(90, 100, 6, 0)
    )
    [blocked] = health.blocking
    assert blocked["name"] == "hard_bounce_rate"
    assert "6 % of sends" in blocked["message"] and "block level of 5 %" in blocked["message"]
    assert "[gates.hard_bounce_rate]" in blocked["message"]


def test_no_sends_in_the_window_leaves_the_send_gates_unknown() -> None:
    g = gates_for(SendWindow(90, 0, 0, 0))
    assert g["hard_bounce_rate"]["outcome"] == "unknown"
    assert "0 sends within the last 90 days" in g["hard_bounce_rate"]["message"]


def test_too_few_sends_leave_the_send_gates_unchecked() -> None:
    h = list_health(counted([ENGAGED] * 10), RULES, AS_OF, THRESHOLD, SendWindow(90, 99, 0, 50))
    g = {g["name"]: g for g in h.stats["gates"]}["complaint_rate"]
    assert g["outcome"] == "unknown" and g["value"] is None
    assert "99 sends within the last 90 days, fewer than the 100" in g["message"]
    assert h.stats["send_rates"]["complaint"] == round(50 / 99, 6)  # still reported
    assert not h.blocking


def test_contact_share_gates_from_the_rules(tmp_path: Path) -> None:
    path = tmp_path / "health.toml"
    path.write_text(
        "[weights]\nactive_ratio = 1\nbounce_rate = 0\ncomplaint_rate = 0\nengagement = 0\n"
        "[caps]\nbounce_rate = 0.1\ncomplaint_rate = 0.01\n[volume]\nmin_sends = 100\n"
        "[gates.unengaged_rate]\nwarn = 0.2\nblock = 0.5\n"
        "[gates.unsubscribe_rate]\nwarn = 0.1\nblock = 0.9\n",
        encoding="utf-8",
    )
    rules = load_health_rules(path)
    states = [ENGAGED] * 4 + [UNENGAGED] * 5 + ["unsubscribed"]
    h = list_health(counted(states), rules, AS_OF, THRESHOLD, WINDOW)
    gates = {g["name"]: g["outcome"] for g in h.stats["gates"]}
    assert gates == {"unsubscribe_rate": "warn", "unengaged_rate": "block"}
    assert h.stats["healthScore"] == 90  # active ratio alone: 9 of 10
    # without events the unengaged gate cannot fail
    h = list_health(counted(states), rules, AS_OF, THRESHOLD, None)
    assert {g["name"]: g["outcome"] for g in h.stats["gates"]}["unengaged_rate"] == "unknown"


def test_every_problem_of_a_health_rules_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "health.toml"
    path.write_text(
        "[weights]\nactive_ratio = 0\nbounce_rate = 0\ncomplaint_rate = 0\nengagement = 0\n"
        "[caps]\nbounce_rate = 0\ncomplaint_rate = 2\n"
        "[gates.hard_bounce_rate]\nwarn = 0.5\nblock = 0.1\n"
        "[gates.open_rate]\nwarn = 0.1\nblock = 0.2\n",
        encoding="utf-8",
    )
    with pytest.raises(RulesError) as err:
        load_health_rules(path)
    text = str(err.value)
    assert "at least one weight must be above 0" in text
    assert "`bounce_rate` must be above 0" in text
    assert "`complaint_rate` must be a number from 0 to 1" in text
    assert "warn (0.5) must not be above block (0.1)" in text
    assert "unknown gate [gates.open_rate]" in text
