"""The sample data in data/ is generated, reproducible, and as messy as promised."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import random
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "data" / "generate_sample.py"
SAMPLE = ROOT / "data" / "sample"
EVENTS = ROOT / "data" / "events"

MAILCHIMP_SUBSCRIBED_HEADER = (
    '"Email Address","First Name","Last Name",EMAIL_TYPE,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,'
    "CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,LAST_CHANGED,"
    "LEID,EUID,NOTES,TAGS"
)


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_sample", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("regenerated")
    sample, events = base / "sample", base / "events"
    subprocess.run(
        [sys.executable, str(SCRIPT), "--out-dir", str(sample), "--events-dir", str(events)],
        check=True,
        capture_output=True,
    )
    return sample, events


def file_bytes(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def only(pattern: str) -> Path:
    matches = sorted(SAMPLE.glob(pattern))
    assert len(matches) == 1, f"expected one {pattern} in {SAMPLE}, found {matches}"
    return matches[0]


def test_committed_files_equal_a_fresh_generation(regenerated: tuple[Path, Path]) -> None:
    sample, events = regenerated
    for fresh, committed in ((sample, SAMPLE), (events, EVENTS)):
        got, want = file_bytes(fresh), file_bytes(committed)
        assert sorted(got) == sorted(want), "file set differs: rerun data/generate_sample.py"
        for name in want:
            assert got[name] == want[name], f"{name} differs: rerun data/generate_sample.py"


def test_generation_is_deterministic_in_process() -> None:
    gen = load_generator()
    first = gen.build(random.Random(gen.SEED))
    second = gen.build(random.Random(gen.SEED))
    assert first == second


def test_sample_has_at_least_three_files_and_a_few_hundred_rows() -> None:
    files = sorted(p for p in SAMPLE.iterdir() if p.is_file())
    assert len(files) >= 3
    rows = 0
    for path in files:
        lines = [ln for ln in path.read_bytes().splitlines() if ln.strip(b"\xef\xbb\xbf;, \r")]
        rows += len(lines) - (0 if path.suffix == ".ndjson" else 1)
    assert 300 <= rows <= 500


def test_mailchimp_files_have_bom_crlf_and_the_real_headers() -> None:
    sub = only("subscribed_members_export_*.csv")
    audience = sub.stem.rsplit("_", 1)[1]
    assert len(audience) == 10 and int(audience, 16) >= 0
    for prefix, marker in (
        ("subscribed", "LAST_CHANGED"),
        ("unsubscribed", "UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,UNSUB_CAMPAIGN_ID,UNSUB_REASON"),
        ("cleaned", "CLEAN_TIME,CLEAN_CAMPAIGN_TITLE,CLEAN_CAMPAIGN_ID"),
    ):
        data = (SAMPLE / f"{prefix}_members_export_{audience}.csv").read_bytes()
        assert data.startswith(b"\xef\xbb\xbf")
        assert data.count(b"\n") == data.count(b"\r\n") > 1  # every line ends in CRLF
        header = data[3:].split(b"\r\n", 1)[0].decode()
        assert marker in header
        assert header.endswith("LEID,EUID,NOTES,TAGS")
    header = sub.read_bytes()[3:].split(b"\r\n", 1)[0].decode()
    assert header == MAILCHIMP_SUBSCRIBED_HEADER


def test_mailchimp_subscribed_mess() -> None:
    text = only("subscribed_members_export_*.csv").read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    width = len(rows[0])
    assert [len(r) for r in rows].count(width + 1) == 1  # one ragged row
    assert [] in rows  # blank lines
    emails = [r[0] for r in rows[1:] if r]
    assert {"ann@@example.com", "no-at-sign.example.com", "bob@"} <= set(emails)
    assert "josé@example.com" in emails
    assert any(e.endswith("@gmial.com") for e in emails)
    assert any(r and r[-1].startswith('"') and '","' in r[-1] for r in rows)  # "A","B" tags
    keys = [e.strip().lower() for e in emails]
    assert len(keys) > len(set(keys))  # a case/whitespace duplicate inside the file


def test_eu_file_is_cp1252_with_semicolons() -> None:
    data = (SAMPLE / "crm_export_eu.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    text = data.decode("cp1252")
    assert text.startswith("E-Mail;Vorname;Nachname;")
    assert "\r\n" in text
    for char in ("é", "ü", "ß", "€", "–"):
        assert char in text
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert {len(r) for r in rows} == {len(rows[0])}
    assert any(r[0] == "x@localhost" for r in rows)


def test_ndjson_parses_line_by_line() -> None:
    lines = (SAMPLE / "misarmail_contacts.ndjson").read_text("utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert records and all(isinstance(r, dict) and "email" in r for r in records)
    assert {"firstName", "lastName", "tags", "metadata", "createdAt"} <= set(records[0])
    assert {r.get("status") for r in records} >= {"active", "unsubscribed", "complained"}


def test_events_table() -> None:
    with (EVENTS / "events.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [
        "email",
        "event",
        "timestamp",
        "campaign_id",
        "event_id",
        "machine_open",
    ]
    kinds = {r["event"] for r in rows}
    assert kinds == {
        "send", "delivered", "open", "click", "reply", "bounce", "soft_bounce", "complaint",
        "unsubscribe",
    }  # fmt: skip
    ids = [r["event_id"] for r in rows]
    assert len(ids) > len(set(ids))  # webhook retries
    assert any(r["machine_open"] == "true" for r in rows)
    assert any(r["timestamp"].startswith("2026-13") for r in rows)  # the malformed one
    good = [r["timestamp"] for r in rows if not r["timestamp"].startswith("2026-13")]
    assert min(good) >= "2026-04-01" and len(rows) > 1000
