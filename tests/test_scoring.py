"""Scoring pieces: exact distinct handling, rules errors, soft bounces, lists."""

from __future__ import annotations

import csv
import json

import polars as pl
import pytest
from click.testing import CliRunner

from listhygiene.cli import main
from listhygiene.errors import RulesError
from listhygiene.events.normalize import per_distinct
from listhygiene.scoring import first_occurrences
from listhygiene.scoring_rules import load_scoring_rules

AS_OF = "2026-11-01T00:00:00Z"


def test_per_distinct_is_exact_even_when_hashes_collide():
    values = pl.Series("v", ["a", "b", "a", None, "c"])
    # every value hashes alike: each row must still get its own value's result
    out = per_distinct(values, lambda s: s.str.to_uppercase(), hashed=lambda s: s.is_null())
    assert out.to_list() == ["A", "B", "A", None, "C"]


def test_first_occurrences_compare_values_not_hashes():
    frame = pl.DataFrame({"k": [1, 1, 2, 1, 2], "c": ["x", "y", "x", "x", None]})
    assert first_occurrences(frame, ["k", "c"]).to_list() == [True, True, True, False, True]


def test_rules_check_lists_every_scoring_problem_at_once(tmp_path):
    (tmp_path / "scoring.toml").write_text(
        "[[points]]\nevent = 'Open'\npoints = 5\ndecay_days = -1\n"
        "[[points]]\nevent = 'click'\npoints = 1.5\ndecay_days = 90\nweight = 2\n"
        "[machine_opens]\ncount = false\ndetect = true\nuser_agents = ['(']\nip_prefixes = []\n"
        "[tiers]\nchampion = 80\nloyal = 90\npotential = 40\nat_risk = 20\ndormant = 0\n"
        "[factors]\nwindow_days = 90\nactive_days = 60\npassive_days = 30\n"
        "frequency_high = 2\nfrequency_medium = 2\n"
        "[statuses]\nsoft_bounce_limit = 0\nsoft_bounce_days = 30\n"
        "[winback]\nthreshold_days = 90\nprevious_campaigns = []\nresponse_days = 14\n"
    )
    with pytest.raises(RulesError) as err:
        load_scoring_rules(tmp_path / "scoring.toml")
    text = "\n".join(err.value.problems)
    for part in (
        "`event` must be a lower-case name such as \"open\", not 'Open'",
        "`decay_days` must be a whole number of at least 0",
        "`points` must be a whole number, not 1.5",
        "unknown key `weight`",
        "user agent pattern '('",
        "the lowest scores must fall from champion to dormant",
        "passive_days (30) must be at least active_days (60)",
        "frequency_high (2) must be above frequency_medium (2)",
    ):
        assert part in text
    assert len(err.value.problems) == 8
    result = CliRunner().invoke(main, ["rules", "check", "--rules", str(tmp_path)])
    assert result.exit_code == 2 and "The rules have 8 problems" in result.stderr


def _write(path, rows):
    with path.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    return path


def _run(tmp_path, contacts, events, *extra):
    result = CliRunner().invoke(
        main,
        ["run", str(contacts), "--out", str(tmp_path / "out"), "--db", str(tmp_path / "s.db"),
         "--as-of", AS_OF, "--dns", "off", *(["--events", str(events)] if events else []), *extra],
    )  # fmt: skip
    return result


def _contacts(tmp_path, emails):
    return _write(
        tmp_path / "c.csv", [["email", "created_at"]] + [[e, "2020-01-01"] for e in emails]
    )


def _rows(path):
    with path.open(newline="") as f:
        return {r["email"]: r for r in csv.DictReader(f)}


def test_repeated_soft_bounces_bounce_a_contact_only_when_the_rules_say_so(tmp_path):
    contacts = _contacts(tmp_path, ["s@example.com", "t@example.com"])
    events = _write(
        tmp_path / "e.csv",
        [["email", "event", "timestamp"]]
        + [["s@example.com", "soft_bounce", f"2026-10-{d:02d}T00:00:00Z"] for d in (10, 15, 20)]
        + [["t@example.com", "soft_bounce", "2026-10-01T00:00:00Z"]],
    )
    assert _run(tmp_path, contacts, events).exit_code == 0
    assert {r["status"] for r in _rows(tmp_path / "out" / "contacts.csv").values()} == {"active"}
    rules = tmp_path / "rules"
    rules.mkdir()
    from listhygiene.ruleset import default_rules_dir

    text = (default_rules_dir() / "scoring.toml").read_text()
    (rules / "scoring.toml").write_text(
        text.replace("soft_bounce_limit = 0", "soft_bounce_limit = 3")
    )
    assert _run(tmp_path, contacts, events, "--rules", str(rules)).exit_code == 0
    got = _rows(tmp_path / "out" / "contacts.csv")
    assert got["s@example.com"]["status"] == "bounced"
    assert got["s@example.com"]["status_reason"].startswith("3 soft bounces within 30 days")
    assert got["t@example.com"]["status"] == "active"


def test_suppression_candidates_are_silent_recipients_of_an_earlier_winback(tmp_path):
    contacts = _contacts(tmp_path, ["p@example.com", "q@example.com", "r@example.com"])
    events = _write(
        tmp_path / "e.csv",
        [["email", "event", "timestamp", "campaign_id"],
         ["p@example.com", "send", "2026-10-01T00:00:00Z", "wb1"],  # silent: candidate
         ["q@example.com", "send", "2026-10-01T00:00:00Z", "wb1"],
         ["q@example.com", "click", "2026-10-03T00:00:00Z", "wb1"],  # answered in 14 days
         ["r@example.com", "send", "2026-10-25T00:00:00Z", "wb1"]],  # window still open
    )  # fmt: skip
    assert _run(tmp_path, contacts, events, "--winback-sent", "wb1").exit_code == 0
    got = _rows(tmp_path / "out" / "suppress_candidates.csv")
    assert list(got) == ["p@example.com"]
    assert got["p@example.com"]["winback_campaign_id"] == "wb1"
    assert got["p@example.com"]["sent_at"] == "2026-10-01T00:00:00Z"


def test_without_events_engagement_is_empty_and_campaign_id_is_a_usage_error(tmp_path):
    contacts = _contacts(tmp_path, ["p@example.com"])
    assert _run(tmp_path, contacts, None).exit_code == 0
    row = _rows(tmp_path / "out" / "contacts.csv")["p@example.com"]
    assert (row["score"], row["tier"], row["unengaged"]) == ("", "", "")
    assert not (tmp_path / "out" / "unengaged.csv").exists()
    result = _run(tmp_path, contacts, None, "--campaign-id", "x")
    assert result.exit_code == 2 and "--campaign-id needs --events" in result.stderr


def test_unengaged_ids_come_from_the_existing_account(tmp_path):
    contacts = _contacts(tmp_path, ["p@example.com"])
    events = _write(
        tmp_path / "e.csv",
        [["email", "event", "timestamp"], ["p@example.com", "send", "2020-01-02"]],
    )
    existing = tmp_path / "acct.json"
    existing.write_text(json.dumps([{"id": "con_1", "email": "P@example.com", "status": "active"}]))
    result = _run(tmp_path, contacts, events, "--existing", str(existing))
    assert result.exit_code == 0, result.output
    assert _rows(tmp_path / "out" / "unengaged.csv")["p@example.com"]["id"] == "con_1"


def test_a_rerun_with_events_writes_identical_data_files(tmp_path):
    from paths import REPO

    sample, events = REPO / "data" / "sample", REPO / "data" / "events"
    digests = []
    for n in range(2):
        out = tmp_path / f"out{n}"
        r = CliRunner().invoke(
            main,
            ["run", str(sample), "--events", str(events), "--out", str(out), "--db",
             str(tmp_path / "s.db"), "--as-of", AS_OF, "--dns", "off", "--campaign-id", "c"],
        )  # fmt: skip
        assert r.exit_code == 0, r.output
        digests.append(
            {
                p.relative_to(out).as_posix(): p.read_bytes()
                for p in sorted(out.rglob("*"))
                if p.is_file() and p.name not in ("manifest.json", "report.html", "summary.md")
            }
        )
    assert digests[0] == digests[1]
    assert {"unengaged.csv", "winback.json", "events_rejects.csv"} <= set(digests[0])
