"""health.json from `run`: its counts agree with contacts.csv, a blocking gate writes
everything and exits 1, and each finished run leaves its stats in the store's history."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
from click.testing import CliRunner
from paths import REPO

from listhygiene.cli import main
from listhygiene.store import Store

AS_OF = "2026-11-01T00:00:00Z"


def _run(tmp_path: Path, *args: str, out: str = "out"):
    return CliRunner().invoke(
        main,
        ["run", *args, "--out", str(tmp_path / out), "--db", str(tmp_path / "s.db"),
         "--as-of", AS_OF, "--dns", "off"],
    )  # fmt: skip


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    return path


def test_health_counts_agree_with_contacts_csv_on_the_sample(tmp_path: Path) -> None:
    r = _run(tmp_path, str(REPO / "data" / "sample"), "--events", str(REPO / "data" / "events"))
    assert r.exit_code == 0, r.output
    out = tmp_path / "out"
    health = json.loads((out / "health.json").read_text())
    with (out / "contacts.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    status = [row["status"] for row in rows]
    assert health["totalContacts"] == len(rows)
    assert health["activeContacts"] == status.count("active")
    assert health["bouncedCount"] == status.count("bounced")
    assert health["complainedCount"] == status.count("complained")
    assert health["unsubscribedCount"] == status.count("unsubscribed")
    assert health["unengagedCount"] == sum(row["unengaged"] == "true" for row in rows)
    assert health["lastRunAt"] == AS_OF
    assert (
        health["engagedCount"] + health["tooNewCount"] + health["unengagedCount"]
        == health["activeContacts"]
    )
    assert 0 < health["healthScore"] < 100
    assert health["send_rates"]["sends"] == sum(int(row["sends"]) for row in rows)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["health"]["healthScore"] == health["healthScore"]
    assert manifest["outcome"] == "succeeded"
    assert "health.json" in {o["path"] for o in manifest["outputs"]}


def test_a_blocking_gate_writes_every_output_then_exits_1(tmp_path: Path) -> None:
    emails = [f"p{i}@example.com" for i in range(120)]
    contacts = _write(tmp_path / "c.csv", [["email"]] + [[e] for e in emails])
    sends = [[e, "send", "2026-10-01T00:00:00Z", "c1"] for e in emails]
    bounces = [[e, "bounce", "2026-10-01T01:00:00Z", "c1"] for e in emails[:12]]  # 10 %
    events = _write(
        tmp_path / "e.csv", [["email", "event", "timestamp", "campaign_id"], *sends, *bounces]
    )
    r = _run(tmp_path, str(contacts), "--events", str(events))
    assert r.exit_code == 1, r.output
    assert "Gate failed: Hard bounce rate is 10 % of sends" in r.stderr
    out = tmp_path / "out"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["outcome"] == "gate_failed"
    assert manifest["health"]["gates"]["hard_bounce_rate"] == "block"
    for o in manifest["outputs"]:
        assert (out / o["path"]).exists()
    assert {"contacts.csv", "health.json", "unengaged.csv"} <= {
        o["path"] for o in manifest["outputs"]
    }
    con = duckdb.connect(str(tmp_path / "s.db"), read_only=True)
    assert con.execute("SELECT outcome FROM runs").fetchall() == [("gate_failed",)]
    con.close()
    # --quiet keeps the gate: a scheduler's log must say why the run failed
    r = _run(tmp_path, str(contacts), "--events", str(events), "-q")
    assert r.exit_code == 1 and "Gate failed" in r.stderr


def test_a_warning_gate_is_a_warning_and_exit_0(tmp_path: Path) -> None:
    emails = [f"p{i}@example.com" for i in range(100)]
    contacts = _write(tmp_path / "c.csv", [["email"]] + [[e] for e in emails])
    rows = [[e, "send", "2026-10-01T00:00:00Z", "c1"] for e in emails]
    rows += [[e, "bounce", "2026-10-01T01:00:00Z", "c1"] for e in emails[:3]]  # 3 %
    events = _write(tmp_path / "e.csv", [["email", "event", "timestamp", "campaign_id"], *rows])
    r = _run(tmp_path, str(contacts), "--events", str(events))
    assert r.exit_code == 0, r.output
    assert "Warning: Hard bounce rate is 3 % of sends" in r.stderr


def test_each_finished_run_adds_to_the_history_and_failed_ones_do_not(tmp_path: Path) -> None:
    good = _write(tmp_path / "c.csv", [["email"], ["a@example.com"], ["b@example.com"]])
    assert _run(tmp_path, str(good)).exit_code == 0
    bad = tmp_path / "empty.csv"
    bad.write_text("")
    assert _run(tmp_path, str(bad)).exit_code == 2
    more = _write(tmp_path / "d.csv", [["email", "status"], ["c@example.com", "unsubscribed"]])
    assert _run(tmp_path, str(good), str(more)).exit_code == 0
    store = Store.open(tmp_path / "s.db")
    try:
        history = store.health_history()
    finally:
        store.close()
    assert [h["totalContacts"] for h in history] == [2, 3]
    assert [h["healthScore"] for h in history] == [100, history[1]["healthScore"]]
    assert history[1]["healthScore"] < 100
    assert history[0]["as_of"] == AS_OF
    assert history[0]["unengagedCount"] is None and history[0]["engagement_known"] is False
