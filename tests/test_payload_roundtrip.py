"""A real client round trip (issue 9): every payload file a run writes is sent, as
payloads/requests.json lists it, to a local server implementing the seeds' endpoints
(tests/seed_api.py, 127.0.0.1 only). Every request must be accepted, the server's counts
must match the manifest, and no suppressed contact may end up active anywhere."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from paths import REPO
from seed_api import FakeClock, SeedAPI

from listhygiene.cli import main

AS_OF = "2026-11-01T00:00:00Z"
ACTIVE = {"misarmail": "active", "misar-mail": "subscribed", "misar-io": "subscribed",
          "mailerdash": "active"}  # fmt: skip


def _run(tmp_path: Path, *args: str) -> tuple[Path, dict[str, Any]]:
    out = tmp_path / "out"
    r = CliRunner().invoke(
        main,
        ["run", *args, "--out", str(out), "--db", str(tmp_path / "s.db"), "--as-of", AS_OF,
         "--dns", "off", "-q"],
    )  # fmt: skip
    assert r.exit_code in (0, 1), r.output
    return out, json.loads((out / "manifest.json").read_text())


def send_all(api: SeedAPI, out: Path, clock: FakeClock) -> list[tuple[str, str, int, Any]]:
    """Send every request of requests.json in order; misar-io one body per line, paced by
    its plan.json (the clock moves a window on after each window's writes)."""
    index = json.loads((out / "payloads" / "requests.json").read_text())
    answers = []
    for req in index["requests"]:
        body = (out / req["file"]).read_bytes()
        if req.get("one_request_per_line"):
            plan = json.loads((out / "payloads" / req["target"] / "plan.json").read_text())
            for n, line in enumerate(body.splitlines()):
                if n and n % plan["writes_per_window"] == 0:
                    clock.advance(plan["window_seconds"])
                r = api.request(req["target"], req["method"], req["path"], line,
                                content_type="application/json")  # fmt: skip
                answers.append((req["target"], req["file"], r.status, r.body))
            continue
        r = api.request(req["target"], req["method"], req["path"], body,
                        content_type=req["content_type"])  # fmt: skip
        answers.append((req["target"], req["file"], r.status, r.body))
    return answers


def _statuses(out: Path) -> dict[str, str]:
    with (out / "contacts.csv").open(newline="") as f:
        return {r["email"].lower(): r["status"] for r in csv.DictReader(f)}


def test_every_payload_of_the_sample_is_accepted_and_counts_match(tmp_path: Path) -> None:
    out, manifest = _run(tmp_path, str(REPO / "data" / "sample"), "--events",
                         str(REPO / "data" / "events"))  # fmt: skip
    clock = FakeClock()
    with SeedAPI(clock=clock) as api:
        answers = send_all(api, out, clock)
        refused = [(t, f, s, b) for t, f, s, b in answers if s not in (200, 201, 207)]
        assert not refused, refused[:3]
        p = manifest["payloads"]
        assert api.totals("misarmail")["imported"] == p["misarmail"]["contacts_sent"]
        assert api.totals("misar-mail")["imported"] == p["misar-mail"]["contacts_sent"]
        assert api.totals("misar-io")["created"] == p["misar-io"]["contacts_sent"]
        assert api.totals("misar-io").get("rate_limited", 0) == 0
        assert api.totals("mailerdash")["created"] == p["mailerdash"]["contacts_sent"]
        assert api.totals("mailerdash")["previewed"] == p["mailerdash"]["contacts_sent"]
        for target in ("misarmail", "misar-mail", "mailerdash"):
            assert not api.totals(target).get("failed") and not api.totals(target).get("errors")
        # nothing suppressed in contacts.csv is active at any target
        ours = _statuses(out)
        for target, active in ACTIVE.items():
            for c in api.state(target):
                if c["status"] == active:
                    assert ours[c["email"].lower()] == "active", (target, c["email"])


def test_with_an_account_nothing_is_resubscribed_and_updates_land(tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "email,first_name,status,tags\n"
        "new@example.com,Nia,subscribed,\n"
        "upd@example.com,Ann,subscribed,b\n"
        "same@example.com,Sam,subscribed,\n"
        "gone@example.com,Gil,subscribed,\n"  # the account has it unsubscribed
        "unsub@example.com,Uma,unsubscribed,\n",  # the account has it active
        encoding="utf-8",
    )
    account = [
        {"id": "con_1", "email": "upd@example.com", "firstName": "Anne", "status": "active",
         "tags": ["a"]},
        {"id": "con_2", "email": "same@example.com", "firstName": "Sam", "status": "active",
         "tags": []},
        {"id": "con_3", "email": "gone@example.com", "firstName": "Gil",
         "status": "unsubscribed", "tags": []},
        {"id": "con_4", "email": "unsub@example.com", "firstName": "Uma", "status": "active",
         "tags": []},
        {"id": "con_5", "email": "other@example.com", "status": "active", "tags": []},
    ]  # fmt: skip
    export = tmp_path / "account.json"
    export.write_text(json.dumps({"success": True, "data": account}), encoding="utf-8")
    out, manifest = _run(tmp_path, str(contacts), "--existing", str(export))
    clock = FakeClock()
    with SeedAPI(clock=clock) as api:
        api.preload("misarmail", account)
        api.preload("misar-mail", [{**a, "status": "subscribed" if a["status"] == "active"
                                    else a["status"]} for a in account])  # fmt: skip
        api.preload("misar-io", [{"email": a["email"], "status": "subscribed"
                                  if a["status"] == "active" else a["status"]}
                                 for a in account])  # fmt: skip
        api.preload("mailerdash", [{"email": a["email"], "status": a["status"]} for a in account])
        answers = send_all(api, out, clock)
        refused = [(t, f, s, b) for t, f, s, b in answers if s not in (200, 201, 207)]
        assert not refused, refused[:3]
        for target in ACTIVE:
            for change in api.status_changes(target):
                assert change["from"] == ACTIVE[target] or change["to"] != ACTIVE[target], change
        # gone@ stays unsubscribed everywhere; unsub@ is unsubscribed where a status travels
        for target in ACTIVE:
            found = api.contact(target, "gone@example.com")
            assert found is not None and found["status"] == "unsubscribed", (target, found)
        for target in ("misarmail", "misar-mail", "misar-io"):
            assert api.contact(target, "unsub@example.com")["status"] == "unsubscribed", target
        # misarmail: one new contact imported, two bulk updates by id
        assert api.totals("misarmail")["imported"] == 1
        assert api.contact("misarmail", "upd@example.com")["tags"] == ["a", "b"]
        assert api.contact("misarmail", "upd@example.com")["firstName"] == "Ann"
        # misar-mail: the new one imported, the two updates updated
        assert api.totals("misar-mail")["imported"] == 1
        assert api.totals("misar-mail")["updated"] == 2
        # mailerdash cannot carry the unsubscribe: the warning says so
        with (out / "payload_warnings.csv").open(newline="") as f:
            warned = [(r["target"], r["email"], r["action"]) for r in csv.DictReader(f)]
        assert ("mailerdash", "unsub@example.com", "not_carried") in warned
        assert manifest["payloads"]["misarmail"]["left_out"] == {
            "suppressed_in_account": 1,
            "unchanged_in_account": 1,
        }


@pytest.mark.parametrize("count", [10000, 10001])
def test_the_misarmail_cap_holds_at_the_boundary(tmp_path: Path, count: int) -> None:
    rows = "email\n" + "".join(f"p{i}@example.com\n" for i in range(count))
    contacts = tmp_path / "c.csv"
    contacts.write_text(rows, encoding="utf-8")
    out, manifest = _run(tmp_path, str(contacts), "--target", "misarmail")
    clock = FakeClock()
    with SeedAPI(clock=clock) as api:
        answers = send_all(api, out, clock)
        assert [s for _, _, s, _ in answers] == [200] * (1 if count == 10000 else 2)
        assert api.totals("misarmail")["imported"] == count
    assert manifest["payloads"]["misarmail"]["requests"] == len(answers)
