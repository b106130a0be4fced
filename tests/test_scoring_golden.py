"""Scoring end to end against hand-computed expectations (tests/golden/scoring/).

as_of = 2026-11-01T00:00:00Z, so "within 90 days" is 2026-08-03T00:00:00Z < t <= as_of.
Default rules: open 5/90, click 10/90, reply 20/180, bounce -20/0, complaint -50/0.
Each expectation below is worked out by hand in its comment; events.csv says what each
contact's events are there to test.
"""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner
from paths import REPO

from listhygiene.cli import main

GOLDEN = REPO / "tests" / "golden" / "scoring"
COLUMNS = [
    "status",
    "score",
    "tier",
    "engagement",
    "sends",
    "opens",
    "clicks",
    "open_rate",
    "click_rate",
    "last_opened_at",
    "last_engagement_at",
    "days_inactive",
    "unengaged",
]

# email: status, score, tier, engagement, sends, opens, clicks, open_rate, click_rate,
#        last_opened_at, last_engagement_at, days_inactive, unengaged
EXPECTED = {
    # 00:00:00 open is exactly 90 days old: out; 00:00:01 is in (+5). 89.99 days -> 89.
    "a@example.com": ("active", "5", "dormant", "passive", "0", "1", "0", "", "",
                      "2026-08-03T00:00:01Z", "2026-08-03T00:00:01Z", "89", "false"),
    # -20 (2020 bounce, never expires) + 10 = -10 -> 0; the hard bounce makes it bounced.
    "b@example.com": ("bounced", "0", "dormant", "active", "0", "0", "1", "", "",
                      "", "2026-10-20T00:00:00Z", "12", "false"),
    # 12 clicks x 10 = 120 -> 100; 12 sends: click rate 1, open rate 0.
    "c@example.com": ("active", "100", "champion", "active", "12", "0", "12", "0.0", "1.0",
                      "", "2026-10-20T10:00:12Z", "11", "false"),
    # -50 + 5 = -45 -> 0; complained.
    "d@example.com": ("complained", "0", "dormant", "active", "0", "1", "0", "", "",
                      "2026-10-25T00:00:00Z", "2026-10-25T00:00:00Z", "7", "false"),
    # evt_dup twice: only the first (Oct 10) counts: 5 + click 10 = 15.
    "e@example.com": ("active", "15", "dormant", "active", "0", "1", "1", "", "",
                      "2026-10-10T00:00:00Z", "2026-10-10T00:00:00Z", "22", "false"),
    # flagged machine open: 0; "Mozilla/5.0" with no flag: machine, 0; flag false wins: +5.
    "f@example.com": ("active", "5", "dormant", "active", "0", "1", "0", "", "",
                      "2026-10-17T00:00:00Z", "2026-10-17T00:00:00Z", "15", "false"),
    # opens: g1 once (5) + two without campaign (10); clicks: g1 once (10) = 25.
    # sends 1, opens 3 -> rate capped at 1.
    "g@example.com": ("active", "25", "at_risk", "active", "1", "3", "1", "1.0", "1.0",
                      "2026-10-05T00:00:00Z", "2026-10-05T00:00:00Z", "27", "false"),
    # the Jan 10 open expired (295 days); Nov 2 open and Nov 5 unsubscribe are after as_of.
    "h@example.com": ("active", "0", "dormant", "dormant", "0", "0", "0", "", "",
                      "2026-01-10T00:00:00Z", "2026-01-10T00:00:00Z", "295", "true"),
    # created 47 days ago, inside the 90-day threshold: too new to be unengaged.
    "i@example.com": ("active", "0", "dormant", "dormant", "0", "0", "0", "", "",
                      "", "", "47", "false"),
    # created exactly 90 days ago: old enough, unengaged.
    "i2@example.com": ("active", "0", "dormant", "dormant", "0", "0", "0", "", "",
                       "", "", "90", "true"),
    # reply 165 days ago keeps its 20 (180-day expiry); the open beside it expired.
    "j@example.com": ("active", "20", "at_risk", "dormant", "0", "0", "0", "", "",
                      "2026-05-20T00:00:00Z", "2026-05-20T00:00:00Z", "165", "true"),
    # complaint beats the unsubscribe; soft bounce changes nothing; never engaged:
    # days since created_at 2020-01-01 = 2192 + 304 = 2496.
    "k@example.com": ("complained", "0", "dormant", "dormant", "0", "0", "0", "", "",
                      "", "", "2496", "false"),
    # a soft bounce only: still active; no created_at: days_inactive unknown, counts as old.
    "l@example.com": ("active", "0", "dormant", "dormant", "0", "0", "0", "", "",
                      "", "", "", "true"),
    # 8 clicks x 10 = 80: champion's floor.
    "m@example.com": ("active", "80", "champion", "active", "0", "0", "8", "", "",
                      "", "2026-10-08T12:00:00Z", "23", "false"),
}  # fmt: skip


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scoring")
    result = CliRunner().invoke(
        main,
        [
            "run",
            str(GOLDEN / "contacts.csv"),
            "--events",
            str(GOLDEN / "events.csv"),
            "--out",
            str(tmp / "out"),
            "--db",
            str(tmp / "store.duckdb"),
            "--as-of",
            "2026-11-01T00:00:00Z",
            "--dns",
            "off",
            "--campaign-id",
            "cam_winback",
        ],
    )
    assert result.exit_code == 0, result.output + str(result.exception)
    return tmp / "out"


def _rows(path):
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("email", sorted(EXPECTED))
def test_every_engagement_column_matches_the_hand_computed_value(out, email):
    got = {r["email"]: r for r in _rows(out / "contacts.csv")}[email]
    assert tuple(got[c] for c in COLUMNS) == EXPECTED[email]


def test_status_reasons_name_the_event_and_where_it_came_from(out):
    got = {r["email"]: r for r in _rows(out / "contacts.csv")}
    assert got["b@example.com"]["status_reason"].startswith("hard bounce event (")
    assert got["k@example.com"]["status_reason"].startswith("complaint event (")
    assert got["k@example.com"]["status_reason"].endswith("events.csv row 52)")


def test_unengaged_list_is_most_inactive_first_in_the_seed_shape(out):
    rows = _rows(out / "unengaged.csv")
    assert list(rows[0]) == [
        "id", "email", "status", "last_opened_at", "days_inactive", "engagement_score"
    ]  # fmt: skip
    assert [(r["email"], r["days_inactive"], r["engagement_score"]) for r in rows] == [
        ("l@example.com", "", "0"),  # unknown inactivity counts as the longest
        ("h@example.com", "295", "0"),
        ("j@example.com", "165", "20"),
        ("i2@example.com", "90", "0"),
    ]
    assert {r["status"] for r in rows} == {"active"} and {r["id"] for r in rows} == {""}


def test_winback_answer_has_the_seed_shape_and_counts_the_audience(out):
    body = json.loads((out / "winback.json").read_text())
    assert body == {
        "campaignId": "cam_winback",
        "targetedContacts": 4,
        "thresholdDays": 90,
        "scheduledAt": "2026-11-01T00:00:00Z",
    }
    assert [r["email"] for r in _rows(out / "winback_audience.csv")] == [
        "l@example.com", "h@example.com", "j@example.com", "i2@example.com"
    ]  # fmt: skip


def test_bad_and_unknown_events_are_reported_not_fatal(out):
    rejects = _rows(out / "events_rejects.csv")
    assert [(r["row"], r["email"]) for r in rejects] == [("64", "a@example.com")]
    assert 'timestamp "yesterday" is not a time' in rejects[0]["error"]
    events = json.loads((out / "manifest.json").read_text())["events"]
    assert events["events_for_unknown_contacts"] == 1
    assert events["events_after_as_of"] == 2
    assert events["input_records"] == 63 and events["rejected"] == 1
    assert events["status_changes"] == 3  # b bounced, d and k complained


def test_scores_file_gives_seed_000_factors(out):
    got = {r["email"]: r for r in _rows(out / "scores.csv")}
    assert (got["c@example.com"]["recency"], got["c@example.com"]["frequency"]) == ("11d", "high")
    assert (got["g@example.com"]["frequency"], got["a@example.com"]["frequency"]) == (
        "medium",
        "low",
    )
    assert (got["k@example.com"]["recency"], got["k@example.com"]["frequency"]) == ("", "none")
