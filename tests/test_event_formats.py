"""Provider event formats (pipeline/events/<provider>.py): detection and parsing.

Three layers: every file of the shared corpora (../shared/corpora/events) with concrete
expectations, read through the public `read_events` and record by record; the synthetic
samples in tests/events/<provider>/ that exercise every mapped event type; and the tricky
mappings one record at a time.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from paths import CORPORA, REPO

from listhygiene.errors import InputFileError
from listhygiene.events import FORMATS, read_events, ses
from listhygiene.events import mailerdash as md
from listhygiene.events import mailgun as mg
from listhygiene.events import postmark as pm
from listhygiene.events import sendgrid as sg
from listhygiene.events.table import EventError, RawEvent, Skip

CORPUS = CORPORA / "events"
SAMPLES = REPO / "tests" / "events"
PROVIDER_DIRS = {
    "amazon_ses": "ses",
    "sendgrid": "sendgrid",
    "mailgun": "mailgun",
    "postmark": "postmark",
}
FOREIGN_DIRS = ("brevo", "mandrill")
BY_NAME = {f.name: f for f in FORMATS}
# The request headers and public key that go with a signed SendGrid body: not events.
COMPANIONS = {"sendgrid/sgnode__signed_single_dropped.headers.json"}


def event_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in (".json", ".jsonl", ".ndjson"))


def load_records(path: Path) -> list[Any]:
    """The records the driver numbers: array items, NDJSON lines, or the one object, with
    SNS-to-Lambda `Records` and Mailgun `items` unwrapped."""
    text = path.read_text(encoding="utf-8")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(doc, dict):
        for key in ("Records", "items"):
            if isinstance(doc.get(key), list):
                return doc[key]
        return [doc]
    return doc


def parse_all(fmt_name: str, records: list[Any]) -> tuple[list[RawEvent], Counter, list[str]]:
    events: list[RawEvent] = []
    skipped: Counter = Counter()
    errors: list[str] = []
    for record in records:
        try:
            for p in BY_NAME[fmt_name].parse(record):
                if isinstance(p, Skip):
                    skipped[p.what] += 1
                else:
                    events.append(p)
        except EventError as exc:
            errors.append(str(exc))
    return events, skipped, errors


def read_one(path: Path, rules, tmp_path: Path):
    (batch,) = read_events([path], rules.ingest, tmp_path)
    return batch


@dataclass
class Expect:
    events: list[tuple[str, str]]  # (event, email) in file order
    skipped: dict[str, int] = field(default_factory=dict)
    rejects: int = 0
    records: int = 1
    event_ids: list[str | None] | None = None


R = "recipient@example.com"
SES_FB = "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000"
SG_DOCS_ONE = "sg_event_id"  # the docs' placeholder, the same in all 11 batch objects

CORPUS_EXPECT: dict[str, Expect] = {
    # --- Amazon SES: 19 files, 28 records
    "amazon_ses/awsdocs__eventpub_bounce_permanent.json": Expect(
        [("bounce", R)], event_ids=[SES_FB]
    ),
    "amazon_ses/awsdocs__eventpub_click.json": Expect([("click", R)], event_ids=[None]),
    "amazon_ses/awsdocs__eventpub_complaint.json": Expect([("complaint", R)], event_ids=[SES_FB]),
    "amazon_ses/awsdocs__eventpub_delivery.json": Expect([("delivered", R)], event_ids=[None]),
    "amazon_ses/awsdocs__eventpub_delivery_delay.json": Expect([], {"ses DeliveryDelay": 1}),
    "amazon_ses/awsdocs__eventpub_open.json": Expect([("open", R)], event_ids=[None]),
    "amazon_ses/awsdocs__eventpub_reject.json": Expect([], {"ses Reject": 1}),
    "amazon_ses/awsdocs__eventpub_rendering_failure.json": Expect([], {"ses Rendering Failure": 1}),
    "amazon_ses/awsdocs__eventpub_send.json": Expect([("send", R)]),
    "amazon_ses/awsdocs__eventpub_subscription.json": Expect([("unsubscribe", R)]),
    "amazon_ses/awsdocs__firehose_s3_object.jsonl": Expect(
        [
            ("bounce", R),
            ("complaint", R),
            ("delivered", R),
            ("send", R),
            ("open", R),
            ("click", R),
            ("unsubscribe", R),
        ],
        {"ses Reject": 1, "ses Rendering Failure": 1, "ses DeliveryDelay": 1},
        records=10,
        event_ids=[SES_FB, SES_FB, None, None, None, None, None],
    ),
    "amazon_ses/awsdocs__notif_bounce_with_dsn.json": Expect(
        [("bounce", "jane@example.com")],
        event_ids=["00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000"],
    ),
    "amazon_ses/awsdocs__notif_complaint_with_feedback_report.json": Expect(
        [("complaint", "richard@example.com")],
        event_ids=["000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000"],
    ),
    "amazon_ses/awsdocs__notif_delivery.json": Expect([("delivered", "jane@example.com")]),
    "amazon_ses/fxrelay__sns_envelope_hard_bounce.json": Expect(
        [("bounce", "relayuser@test.com")],
        event_ids=["0100017e6dde5726-6164bdc9-7da9-42f7-ba58-8f4692799d89-000000"],
    ),
    "amazon_ses/fxrelay__sns_envelope_soft_bounce.json": Expect(
        [("soft_bounce", "relayuser@test.com")]
    ),
    "amazon_ses/powertools__lambda_sns_records_send.json": Expect(
        [("send", "success@simulator.amazonses.com")],
        event_ids=["14cc1773-477c-51e2-8b02-490f43dd19a3"],
    ),
    "amazon_ses/sisimai__notif_delivery_to_complaint_simulator.json": Expect(
        [("delivered", "complaint@simulator.amazonses.com")]
    ),
    "amazon_ses/sisimai__sns_envelope_bounce_simulator.json": Expect(
        [("bounce", "bounce@simulator.amazonses.com")],
        event_ids=["01010157e6083d17-38cf01f3-852d-4401-8e8a-84e67a3e51d8-000000"],
    ),
    # --- SendGrid: 29 event files, 40 records
    "sendgrid/anymail__bounce.json": Expect(
        [("bounce", "noreply@example.com")], event_ids=["lC0Rc-FuQmKbnxCWxX1jRQ"]
    ),
    "sendgrid/anymail__dropped_invalid.json": Expect(
        [("bounce", "invalid@invalid")], event_ids=["3NPOePGOTkeM_U3fgWApfg"]
    ),
    "sendgrid/anymail__open.json": Expect(
        [("open", R)], event_ids=["MjIwNDg5NTgtZGE3OC00NDI1LWFiMmMtMDUyZTU2ZmFkOTFm"]
    ),
    "sendgrid/anymail__processed.json": Expect([("send", R)], event_ids=["ZyjAM5rnQmuI1KFInHQ3Nw"]),
    "sendgrid/sgdocs__batch_all_events.json": Expect(
        [
            ("send", "example@test.com"),
            ("delivered", "example@test.com"),
            ("open", "example@test.com"),
            ("click", "example@test.com"),
            ("bounce", "example@test.com"),
            ("bounce", "example@test.com"),  # dropped: Bounced Address
            ("complaint", "example@test.com"),
            ("unsubscribe", "example@test.com"),
            ("unsubscribe", "example@test.com"),  # group_unsubscribe
        ],
        {"sendgrid deferred": 1, "sendgrid group_resubscribe": 1},
        records=11,
        event_ids=[SG_DOCS_ONE] * 9,
    ),
    "sendgrid/sgdocs__bounce_type_blocked.json": Expect(
        [("soft_bounce", "example@test.com")], event_ids=["6g4ZI7SA-xmRDv57GoPIPw=="]
    ),
    "sendgrid/sgdocs__bounce_type_bounce.json": Expect(
        [("bounce", "example@test.com")], event_ids=["6g4ZI7SA-xmRDv57GoPIPw=="]
    ),
    "sendgrid/sgdocs__campaign_processed_object.json": Expect(
        [("send", "email@example.com")], event_ids=["sendgrid_internal_event_id"]
    ),
    "sendgrid/sgdocs__category_array.json": Expect(
        [("open", "john.doe@sendgrid.com"), ("open", "jane.doe@sendgrid.com")],
        records=2,
        event_ids=[None, None],
    ),
    "sendgrid/sgdocs__click.json": Expect(
        [("click", "example@test.com")], event_ids=["kCAi1KttyQdEKHhdC-nuEA=="]
    ),
    "sendgrid/sgdocs__click_url_offset_newsletter.json": Expect([("click", "email@example.com")]),
    "sendgrid/sgdocs__deferred.json": Expect([], {"sendgrid deferred": 1}),
    "sendgrid/sgdocs__delivered.json": Expect(
        [("delivered", "example@test.com")], event_ids=["rWVYmVk90MjZJ9iohOBa3w=="]
    ),
    "sendgrid/sgdocs__dropped.json": Expect(
        [("bounce", "example@test.com")], event_ids=["zmzJhfJgAfUSOW80yEbPyw=="]
    ),
    "sendgrid/sgdocs__group_resubscribe.json": Expect([], {"sendgrid group_resubscribe": 1}),
    "sendgrid/sgdocs__group_unsubscribe.json": Expect(
        [("unsubscribe", "example@test.com")], event_ids=["ahSCB7xYcXFb-hEaawsPRw=="]
    ),
    "sendgrid/sgdocs__open.json": Expect(
        [("open", "example@test.com")], event_ids=["FOTFFO0ecsBE-zxFXfs6WA=="]
    ),
    "sendgrid/sgdocs__processed_pool.json": Expect(
        [("send", "example@test.com")], event_ids=["rbtnWrG1DVDGGGFHFyun0A=="]
    ),
    "sendgrid/sgdocs__processed_pool_2.json": Expect(
        [("send", "john.doe@sendgrid.com")], event_ids=["RHFZB1IrTD2Y9Q7bUdZxUw"]
    ),
    "sendgrid/sgdocs__singlesend_open.json": Expect([("open", "email@example.com")]),
    "sendgrid/sgdocs__spamreport.json": Expect(
        [("complaint", "example@test.com")], event_ids=["37nvH5QBz858KGVYCM4uOA=="]
    ),
    "sendgrid/sgdocs__unsubscribe.json": Expect(
        [("unsubscribe", "example@test.com")], event_ids=["zz_BjPgU_5pS-J8vlfB1sg=="]
    ),
    "sendgrid/sgnode__signed_single_dropped.body.json": Expect(
        [("bounce", "hello@world.com")],
        event_ids=["ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA"],
    ),
    "sendgrid/sisimai__bounce_blocked_mailboxfull.json": Expect(
        [("soft_bounce", "mailboxfull@example.jp")], event_ids=["S4wr46YHS0qr3BKhawTQjQ"]
    ),
    "sendgrid/sisimai__delivered.json": Expect(
        [("delivered", "kijitora@example.com")], event_ids=["9DQrtMYCQcqhzCcaM1dDcA"]
    ),
    "sendgrid/sisimai__spamreport.json": Expect(
        [("complaint", "kijitora@example.com")], event_ids=["o70uHqbMSXOaaoveMZIjjg"]
    ),
    "sendgrid/twiliodocs__account_status_change.json": Expect(
        [], {"sendgrid account_status_change": 1}
    ),
    "sendgrid/twiliodocs__bounce_classification_bounce.json": Expect(
        [("bounce", "alex@example.com")], event_ids=["6g4ZI7SA-xmRDv57GoPIPw=="]
    ),
    "sendgrid/twiliodocs__open_sg_machine_open.json": Expect(
        [("open", "alex@example.com")], event_ids=["FOTFFO0ecsBE-zxFXfs6WA=="]
    ),
    # --- Mailgun: 18 files, 18 records
    "mailgun/anymail__webhook_accepted_delivery_status_null.json": Expect([], rejects=1),
    "mailgun/anymail__webhook_delivered.json": Expect(
        [("delivered", R)], event_ids=["hTWCTD81RtiDN-..."]
    ),
    "mailgun/anymail__webhook_failed_permanent_bounce.json": Expect(
        [("bounce", "invalid@example.com")], event_ids=[None]
    ),
    "mailgun/anymail__webhook_failed_temporary_greylisted.json": Expect(
        [("soft_bounce", "undeliverable@mx.example.com")]
    ),
    "mailgun/mgdocs__accepted.json": Expect(
        [("send", "team@example.org")], event_ids=["jxVuhYlhReaK3QsggHfFRA"]
    ),
    "mailgun/mgdocs__clicked.json": Expect([("click", R)], event_ids=["G5zMz2ysS6OxZ2C8xb2Tqg"]),
    "mailgun/mgdocs__complained.json": Expect(
        [("complaint", "foo@example.com")], event_ids=["ncV2XwymRUKbPek_MIM-Gw"]
    ),
    "mailgun/mgdocs__delivered.json": Expect(
        [("delivered", "john@example.com")], event_ids=["hK7mQVt1QtqRiOfQXta4sw"]
    ),
    "mailgun/mgdocs__events_api_page_accepted.json": Expect(
        [("send", "baz@example.com")], event_ids=["czsjqFATSlC3QtAK-C80nw"]
    ),
    "mailgun/mgdocs__failed_permanent_suppress_bounce.json": Expect(
        [("bounce", "slava@example.com")], event_ids=["pl271FzxTTmGRW8Uj3dUWw"]
    ),
    "mailgun/mgdocs__failed_temporary.json": Expect(
        [("soft_bounce", "test@test.com")], event_ids=["xYrATi63Rke8EC_s7EoJeA"]
    ),
    "mailgun/mgdocs__list_member_upload_error.json": Expect(
        [], {"mailgun list_member_upload_error": 1}
    ),
    "mailgun/mgdocs__list_member_uploaded.json": Expect([], {"mailgun list_member_uploaded": 1}),
    "mailgun/mgdocs__list_uploaded.json": Expect([], {"mailgun list_uploaded": 1}),
    "mailgun/mgdocs__opened.json": Expect([("open", R)], event_ids=["-laxIqj9QWubsjY_3pTq_g"]),
    "mailgun/mgdocs__rejected.json": Expect([], {"mailgun rejected": 1}),
    "mailgun/mgdocs__stored.json": Expect([], {"mailgun stored": 1}),
    "mailgun/mgdocs__unsubscribed.json": Expect(
        [("unsubscribe", R)], event_ids=["W3X4JOhFT-OZidZGKKr9iA"]
    ),
    # --- Postmark: 12 files, 12 records
    # a real capture with Email and BouncedAt scrubbed upstream: no one to credit
    "postmark/anymail__bounce_type_unsubscribe.json": Expect([], rejects=1),
    "postmark/anymail__open_first_open.json": Expect([("open", R)], event_ids=[None]),
    "postmark/anymail__subscriptionchange_resubscribe.json": Expect(
        [], {"postmark SubscriptionChange reactivated": 1}
    ),
    "postmark/anymail__subscriptionchange_unsubscribe.json": Expect(
        [("unsubscribe", "john@example.com")]
    ),
    "postmark/pmskills__bounce_hardbounce.json": Expect(
        [("bounce", "john@example.com")], event_ids=["42"]
    ),
    "postmark/pmskills__click.json": Expect([("click", "john@example.com")]),
    "postmark/pmskills__delivery.json": Expect([("delivered", "john@example.com")]),
    "postmark/pmskills__open.json": Expect([("open", "john@example.com")]),
    "postmark/pmskills__spamcomplaint.json": Expect(
        [("complaint", "john@example.com")], event_ids=["42"]
    ),
    "postmark/pmskills__subscriptionchange_suppress.json": Expect(
        [("unsubscribe", "john@example.com")]
    ),
    "postmark/postmarker__legacy_bounce_hardbounce.json": Expect(
        [("bounce", "john@example.com")], event_ids=["42"]
    ),
    "postmark/postmarker__legacy_delivery.json": Expect([("delivered", "john@example.com")]),
}

CORPUS_FILES = [
    f"{folder}/{p.name}" for folder in PROVIDER_DIRS for p in event_files(CORPUS / folder)
]
FOREIGN_FILES = [
    f"{folder}/{p.name}" for folder in FOREIGN_DIRS for p in event_files(CORPUS / folder)
]


def test_every_corpus_file_has_expectations() -> None:
    """A file added to the corpora must be given expectations here (or named a companion)."""
    assert sorted(set(CORPUS_FILES) - COMPANIONS) == sorted(CORPUS_EXPECT)
    assert len(CORPUS_EXPECT) == 19 + 29 + 18 + 12
    assert sum(e.records for e in CORPUS_EXPECT.values()) == 28 + 40 + 18 + 12


@pytest.mark.parametrize("name", sorted(CORPUS_EXPECT))
def test_corpus_file_detected_and_parsed(name: str, rules, tmp_path: Path) -> None:
    expect = CORPUS_EXPECT[name]
    fmt = PROVIDER_DIRS[name.split("/")[0]]
    batch = read_one(CORPUS / name, rules, tmp_path)
    assert batch.format == fmt
    assert batch.records == expect.records
    assert list(zip(batch.frame["event"], batch.frame["email"], strict=True)) == expect.events
    assert batch.skipped == expect.skipped
    assert batch.rejects.height == expect.rejects
    assert all(e.endswith(".") and e[0].isupper() for e in batch.rejects["error"])
    if expect.event_ids is not None:
        assert batch.frame["event_id"].to_list() == expect.event_ids
    # Every event carries the time the source wrote and, except the docs' minimal objects,
    # a campaign.
    assert batch.frame["timestamp"].null_count() == 0
    if name != "sendgrid/sgdocs__category_array.json":
        assert batch.frame["campaign_id"].null_count() == 0

    # The same, record by record through the format's own parse.
    events, skipped, errors = parse_all(fmt, load_records(CORPUS / name))
    assert [(e.event, e.email) for e in events] == expect.events
    assert dict(skipped) == expect.skipped
    assert len(errors) == expect.rejects


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_records_match_only_their_format(name: str) -> None:
    fmt = PROVIDER_DIRS[name.split("/")[0]]
    for record in load_records(CORPUS / name):
        hits = [f.name for f in FORMATS if f.matches(record)]
        assert hits == ([] if name in COMPANIONS else [fmt]), record


@pytest.mark.parametrize("name", FOREIGN_FILES)
def test_foreign_providers_are_not_taken_for_ours(name: str, rules, tmp_path: Path) -> None:
    """Brevo and Mandrill are not supported: no record of theirs matches a format of ours,
    so a file of theirs is read as a generic table or refused, never mis-parsed."""
    for record in load_records(CORPUS / name):
        assert [f.name for f in FORMATS if f.matches(record)] == [], record
    try:
        batches = read_events([CORPUS / name], rules.ingest, tmp_path)
    except InputFileError:
        return
    assert {b.format for b in batches} == {"generic"}


def test_corpus_values_kept_as_the_source_wrote_them(rules, tmp_path: Path) -> None:
    rows = read_one(CORPUS / "mailgun/anymail__webhook_delivered.json", rules, tmp_path).frame
    assert rows.row(0, named=True) | {"source_file": None} == {
        "source_file": None,
        "row": 1,
        "email": R,
        "event": "delivered",
        "timestamp": "1534108637.153125",
        "campaign_id": "20180812211713.1.DF5966851B4BAA99@example.org",
        "event_id": "hTWCTD81RtiDN-...",
        "machine_open": None,
        "user_agent": None,
        "ip": None,
        "reason": None,
    }
    rows = read_one(CORPUS / "sendgrid/twiliodocs__open_sg_machine_open.json", rules, tmp_path)
    row = rows.frame.row(0, named=True)
    assert (row["timestamp"], row["machine_open"], row["ip"]) == (
        "1513299569",
        "false",
        "255.255.255.255",
    )
    assert row["campaign_id"] == "14c5d75ce93.dfd.64b469"  # sg_message_id before ".filter"
    single = read_one(CORPUS / "sendgrid/sgdocs__singlesend_open.json", rules, tmp_path)
    # milliseconds in this documented example: kept as written, a later step reads them
    assert single.frame.row(0, named=True)["timestamp"] == "1591726752372"
    assert single.frame.row(0, named=True)["campaign_id"] == "sendgrid_singlesend_id"
    newsletter = read_one(
        CORPUS / "sendgrid/sgdocs__click_url_offset_newsletter.json", rules, tmp_path
    )
    assert newsletter.frame["campaign_id"].to_list() == ["2308608"]
    campaign = read_one(CORPUS / "sendgrid/sgdocs__campaign_processed_object.json", rules, tmp_path)
    assert campaign.frame["campaign_id"].to_list() == ["12345"]
    ses_open = read_one(CORPUS / "amazon_ses/awsdocs__eventpub_open.json", rules, tmp_path)
    row = ses_open.frame.row(0, named=True)
    assert row["timestamp"] == "2017-08-09T22:00:19.652Z"
    assert row["ip"] == "192.0.2.1"
    assert row["user_agent"].startswith("Mozilla/5.0 (iPhone;")
    assert row["machine_open"] is None


def test_corpus_rejects_say_why(rules, tmp_path: Path) -> None:
    mailgun = read_one(
        CORPUS / "mailgun/anymail__webhook_accepted_delivery_status_null.json", rules, tmp_path
    )
    assert mailgun.rejects["error"].to_list() == [
        "The Mailgun accepted event has no recipient; remove it or export the events again."
    ]
    postmark = read_one(CORPUS / "postmark/anymail__bounce_type_unsubscribe.json", rules, tmp_path)
    assert postmark.rejects["error"].to_list() == [
        "The Postmark Bounce record has no Email; remove it or export the events again."
    ]


# --------------------------------------------------------------------------- synthetic samples

Row = tuple[
    str, str, str, str | None, str | None, str | None
]  # email, event, ts, campaign, id, machine

M1 = "0100018f00000001-aaaaaaaa-0000-4000-8000-000000000001-000000"
M2 = "0100018f00000002-aaaaaaaa-0000-4000-8000-000000000002-000000"
M3 = "0100018f00000003-aaaaaaaa-0000-4000-8000-000000000003-000000"
M4 = "0100018f00000004-aaaaaaaa-0000-4000-8000-000000000004-000000"
FB2 = "0100018f00000002-bbbbbbbb-0000-4000-8000-00000000b001-000000"
FB3 = "0100018f00000003-bbbbbbbb-0000-4000-8000-00000000b002-000000"
SGC = "Qx3nT0aKQ5u8mWcYb1Zr2g"
MGM = "20260402090000.1.0807F6E5D4C3B2A1@example.org"
PM1 = "0d5e7f2a-1b3c-4d5e-8f90-a1b2c3d4e5f6"
PM2 = "7c9e1a2b-3d4f-4a5b-9c6d-e7f8a9b0c1d2"

SAMPLE_EXPECT: dict[str, tuple[str, int, list[Row], dict[str, int], int]] = {
    # file: (format, records, rows, skipped, rejects)
    "ses/firehose_events.jsonl": (
        "ses",
        14,
        [
            ("ada@example.com", "send", "2026-04-01T09:00:00.000Z", M2, None, None),
            ("grace@example.com", "send", "2026-04-01T09:00:00.000Z", M2, None, None),
            ("linus@example.com", "send", "2026-04-01T09:00:01.000Z", "spring-2026", None, None),
            ("ada@example.com", "delivered", "2026-04-01T09:00:03.120Z", M2, None, None),
            (
                "linus@example.com",
                "delivered",
                "2026-04-01T09:00:04.500Z",
                "spring-2026",
                None,
                None,
            ),
            ("linus@example.com", "open", "2026-04-01T09:02:11.000Z", "spring-2026", None, None),
            ("linus@example.com", "click", "2026-04-01T12:30:45.000Z", "spring-2026", None, None),
            ("grace@example.com", "bounce", "2026-04-01T09:00:05.000Z", M2, FB2, None),
            (
                "mary@example.org",
                "soft_bounce",
                "2026-04-02T09:05:00.000Z",
                M3,
                f"{FB3}:mary@example.org",
                None,
            ),
            (
                "noor@example.org",
                "soft_bounce",
                "2026-04-02T09:05:00.000Z",
                M3,
                f"{FB3}:noor@example.org",
                None,
            ),
            (
                "linus@example.com",
                "complaint",
                "2026-04-03T08:00:00.000Z",
                "spring-2026",
                "0100018f00000001-cccccccc-0000-4000-8000-00000000c001-000000",
                None,
            ),
            (
                "linus@example.com",
                "unsubscribe",
                "2026-04-03T08:01:00.000Z",
                "spring-2026",
                None,
                None,
            ),
        ],
        {
            "ses Open of a multi-recipient message": 1,
            "ses Click of a multi-recipient message": 1,
            "ses Subscription topic change": 1,
            "ses DeliveryDelay": 1,
        },
        0,
    ),
    "ses/sns_http_bodies.ndjson": (
        "ses",
        6,
        [
            (
                "omar@example.com",
                "delivered",
                "2026-04-05T10:00:02.000Z",
                M4,
                "5f0c0001-0000-4000-8000-000000000001",
                None,
            ),
            (
                "zoe@example.com",
                "soft_bounce",
                "2026-04-05T10:01:00.000Z",
                M4,
                "0100018f00000004-bbbbbbbb-0000-4000-8000-00000000b004-000000",
                None,
            ),
            # no feedbackId: the SNS MessageId, one per recipient
            (
                "omar@example.com",
                "bounce",
                "2026-04-06T10:01:00.000Z",
                M4,
                "5f0c0003-0000-4000-8000-000000000003:omar@example.com",
                None,
            ),
            (
                "zoe@example.com",
                "bounce",
                "2026-04-06T10:01:00.000Z",
                M4,
                "5f0c0003-0000-4000-8000-000000000003:zoe@example.com",
                None,
            ),
            (
                "zoe@example.com",
                "complaint",
                "2026-04-07T10:00:00.000Z",
                M4,
                "0100018f00000004-cccccccc-0000-4000-8000-00000000c004-000000",
                None,
            ),
            (
                "linus@example.com",
                "open",
                "2026-04-04T18:00:00.000Z",
                "spring-2026",
                "5f0c0005-0000-4000-8000-000000000005",
                None,
            ),
        ],
        {"ses SNS SubscriptionConfirmation": 1},
        0,
    ),
    "ses/lambda_sns_records.json": (
        "ses",
        2,
        [
            (
                "mary@example.org",
                "send",
                "2026-04-02T09:00:00.000Z",
                M3,
                "7a1d0001-0000-4000-8000-000000000001:mary@example.org",
                None,
            ),
            (
                "noor@example.org",
                "send",
                "2026-04-02T09:00:00.000Z",
                M3,
                "7a1d0001-0000-4000-8000-000000000001:noor@example.org",
                None,
            ),
        ],
        {"ses Click of a multi-recipient message": 1},
        0,
    ),
    "sendgrid/event_webhook_batch.json": (
        "sendgrid",
        18,
        [
            ("ada@example.com", "send", "1775034000", SGC, "cHJvY2Vzc2VkLTE", None),
            ("ada@example.com", "delivered", "1775034060", SGC, "ZGVsaXZlcmVkLTE", None),
            ("ada@example.com", "open", "1775034120", SGC, "b3Blbi0xLW1wcA", "true"),
            ("ada@example.com", "open", "1775037600", SGC, "b3Blbi0yLWh1bWFu", "false"),
            ("ada@example.com", "click", "1775037660", SGC, "Y2xpY2stMQ", None),
            ("grace@example.com", "bounce", "1775034070", SGC, "Ym91bmNlLWhhcmQ", None),
            ("linus@example.com", "soft_bounce", "1775034075", SGC, "Ym91bmNlLWJsb2NrZWQ", None),
            ("mary@example.org", "bounce", "1775034001", SGC, "ZHJvcHBlZC1ib3VuY2Vk", None),
            ("omar@example.com", "complaint", "1775120400", SGC, "c3BhbXJlcG9ydC0x", None),
            ("zoe@example.com", "unsubscribe", "1775120500", SGC, "dW5zdWJzY3JpYmUtMQ", None),
            ("omar@example.com", "unsubscribe", "1775120600", SGC, "Z3JvdXAtdW5zdWItMQ", None),
            (
                "noor@example.org",
                "open",
                "1775206800",
                "2f1c0a3e-7b7a-11ee-9d5b-0a1b2c3d4e5f",
                "b3Blbi1zaW5nbGVzZW5k",
                None,
            ),
            (
                "mary@example.org",
                "delivered",
                "1775206900",
                "apr-winback",
                "ZGVsaXZlcmVkLWNhbXBhaWdu",
                None,
            ),
        ],
        {"sendgrid deferred": 1, "sendgrid dropped": 1, "sendgrid group_resubscribe": 1},
        2,
    ),
    "mailgun/webhook_bodies.ndjson": (
        "mailgun",
        12,
        [
            (
                "ada@example.com",
                "send",
                "1775034000.123456",
                "spring-2026",
                "MgAcc1aaaaaaaaaaaaaaaa",
                None,
            ),
            (
                "ada@example.com",
                "delivered",
                "1775034003.654321",
                "spring-2026",
                "MgDel1aaaaaaaaaaaaaaaa",
                None,
            ),
            (
                "ada@example.com",
                "open",
                "1775034120.5",
                "spring-2026",
                "MgOpn1aaaaaaaaaaaaaaaa",
                "true",
            ),
            (
                "ada@example.com",
                "open",
                "1775037600.25",
                "spring-2026",
                "MgOpn2aaaaaaaaaaaaaaaa",
                "false",
            ),
            (
                "ada@example.com",
                "click",
                "1775037660.75",
                "spring-2026",
                "MgClk1aaaaaaaaaaaaaaaa",
                "false",
            ),
            (
                "grace@example.com",
                "bounce",
                "1775034004.1",
                "spring-2026",
                "MgFal1aaaaaaaaaaaaaaaa",
                None,
            ),
            (
                "linus@example.com",
                "soft_bounce",
                "1775034004.2",
                "spring-2026",
                "MgFal2aaaaaaaaaaaaaaaa",
                None,
            ),
            (
                "mary@example.org",
                "unsubscribe",
                "1775034004.3",
                "spring-2026",
                "MgFal3aaaaaaaaaaaaaaaa",
                None,
            ),
            ("zoe@example.com", "unsubscribe", "1775120500", MGM, "MgUns1aaaaaaaaaaaaaaaa", None),
            ("omar@example.com", "complaint", "1775120600", MGM, "MgCmp1aaaaaaaaaaaaaaaa", None),
        ],
        {"mailgun rejected": 1},
        1,
    ),
    "mailgun/events_api_page.json": (
        "mailgun",
        3,
        [
            (
                "noor@example.org",
                "send",
                "1775206800.111",
                "legacy-cmp-7",
                "MgApiAcc2aaaaaaaaaaaaa",
                None,
            ),
            (
                "noor@example.org",
                "delivered",
                "1775206802.222",
                MGM,
                "MgApiDel2aaaaaaaaaaaaa",
                None,
            ),
        ],
        {"mailgun list_member_uploaded": 1},
        0,
    ),
    "postmark/webhooks.ndjson": (
        "postmark",
        15,
        [
            (
                "ada@example.com",
                "delivered",
                "2026-04-01T09:00:03.1234567Z",
                "apr-2026",
                None,
                None,
            ),
            ("ada@example.com", "open", "2026-04-01T09:02:11.0000000Z", "apr-2026", None, None),
            ("ada@example.com", "click", "2026-04-01T12:30:45.0000000Z", "apr-2026", None, None),
            ("grace@example.com", "bounce", "2026-04-01T09:05:00.0000000Z", PM1, "9001", None),
            ("linus@example.com", "soft_bounce", "2026-04-01T09:05:00.0000000Z", PM1, "9002", None),
            ("mary@example.org", "soft_bounce", "2026-04-01T09:05:00.0000000Z", PM1, "9003", None),
            ("noor@example.org", "soft_bounce", "2026-04-01T09:05:00.0000000Z", PM1, "9004", None),
            ("zoe@example.com", "unsubscribe", "2026-04-01T09:05:00.0000000Z", PM1, "9006", None),
            ("omar@example.com", "complaint", "2026-04-03T08:00:00.0000000Z", PM2, "9007", None),
            ("zoe@example.com", "unsubscribe", "2026-04-03T08:01:00Z", PM2, None, None),
            ("grace@example.com", "bounce", "2026-04-01T09:05:01Z", PM1, None, None),
            ("omar@example.com", "complaint", "2026-04-03T08:00:01Z", PM2, None, None),
        ],
        {"postmark Bounce AutoResponder": 1, "postmark SubscriptionChange reactivated": 1},
        1,
    ),
    "mailerdash/engagement_histories.json": (
        "mailerdash",
        4,
        [
            ("ada@example.com", "send", "2026-01-15T10:00:00Z", "camp_jan", None, None),
            ("ada@example.com", "open", "2026-01-15T10:00:00Z", "camp_jan", None, None),
            ("ada@example.com", "click", "2026-01-15T10:00:00Z", "camp_jan", None, None),
            ("ada@example.com", "send", "2026-02-15T10:00:00Z", "camp_feb", None, None),
            ("ada@example.com", "send", "2026-03-15T10:00:00Z", "camp_mar", None, None),
            # the latest engaged campaign sent before last_engagement_at gets that time
            ("ada@example.com", "open", "2026-03-17T08:30:00Z", "camp_mar", None, None),
            ("ada@example.com", "send", "2026-04-15T10:00:00Z", "camp_apr", None, None),
            ("grace@example.com", "send", "2026-03-15T10:00:00Z", "camp_mar", None, None),
        ],
        {"mailerdash history without sends": 1},
        1,
    ),
}


def test_every_sample_has_expectations() -> None:
    found = sorted(str(p.relative_to(SAMPLES)) for p in SAMPLES.rglob("*") if p.is_file())
    assert found == sorted(SAMPLE_EXPECT)
    for path in SAMPLES.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            # synthetic addresses only
            for word in text.replace('"', " ").replace(",", " ").split():
                if "@" in word and "." in word.rsplit("@", 1)[-1] and "<" not in word:
                    domain = word.rsplit("@", 1)[-1].rstrip("}]>:\\")
                    assert domain.endswith(("example.com", "example.org")), (path, word)


@pytest.mark.parametrize("name", sorted(SAMPLE_EXPECT))
def test_sample(name: str, rules, tmp_path: Path) -> None:
    fmt, records, rows, skipped, rejects = SAMPLE_EXPECT[name]
    batch = read_one(SAMPLES / name, rules, tmp_path)
    assert (batch.format, batch.records) == (fmt, records)
    got = batch.frame.select(
        "email", "event", "timestamp", "campaign_id", "event_id", "machine_open"
    ).rows()
    assert got == rows
    assert batch.skipped == skipped
    assert batch.rejects.height == rejects
    # the same through the format's parse, record by record
    events, skips, errors = parse_all(fmt, load_records(SAMPLES / name))
    assert [(e.email, e.event) for e in events] == [(r[0], r[1]) for r in rows]
    assert dict(skips) == skipped
    assert len(errors) == rejects


def test_samples_cover_every_mapped_event() -> None:
    want = {
        "send",
        "delivered",
        "open",
        "click",
        "bounce",
        "soft_bounce",
        "complaint",
        "unsubscribe",
    }
    by_format: dict[str, set[str]] = {}
    for fmt, _, rows, _, _ in SAMPLE_EXPECT.values():
        by_format.setdefault(fmt, set()).update(r[1] for r in rows)
    for fmt in ("ses", "sendgrid", "mailgun"):
        assert by_format[fmt] == want, fmt
    # Postmark has no webhook for a message leaving it: its first event is the delivery
    assert by_format["postmark"] == want - {"send"}
    # MailerDash histories carry sends, opens and clicks only
    assert by_format["mailerdash"] == {"send", "open", "click"}


def test_sample_rejects_are_sentences(rules, tmp_path: Path) -> None:
    batch = read_one(SAMPLES / "sendgrid/event_webhook_batch.json", rules, tmp_path)
    assert batch.rejects.select("row", "email", "error").rows() == [
        (
            17,
            None,
            "The SendGrid delivered event has no email; remove it or export the events again.",
        ),
        (
            18,
            "zoe@example.com",
            "The SendGrid event 'opened' is not one SendGrid documents (processed, delivered, "
            "deferred, bounce, dropped, open, click, spamreport, unsubscribe, group_unsubscribe, "
            "group_resubscribe); remove it or check the export.",
        ),
    ]
    batch = read_one(SAMPLES / "mailgun/webhook_bodies.ndjson", rules, tmp_path)
    assert batch.rejects.select("row", "email", "error").rows() == [
        (
            12,
            "noor@example.org",
            "The Mailgun failed event has severity None, not permanent or temporary; remove it "
            "or export the events again.",
        )
    ]
    batch = read_one(SAMPLES / "postmark/webhooks.ndjson", rules, tmp_path)
    assert batch.rejects["error"].to_list() == [
        "The Postmark Open record has no Recipient; remove it or export the events again."
    ]
    batch = read_one(SAMPLES / "mailerdash/engagement_histories.json", rules, tmp_path)
    assert batch.rejects.select("row", "email", "error").rows() == [
        (
            4,
            "mary@example.org",
            "The MailerDash history's send 1 has no sent_at; remove that send or export the "
            "history again.",
        )
    ]


def test_sample_user_agent_ip_and_reason(rules, tmp_path: Path) -> None:
    """What a later step needs to spot Apple MPP opens, and why contacts were suppressed."""
    ses_rows = read_one(SAMPLES / "ses/firehose_events.jsonl", rules, tmp_path).frame
    mpp = ses_rows.filter(event="open").row(0, named=True)
    assert (mpp["user_agent"], mpp["ip"], mpp["machine_open"]) == (
        "Mozilla/5.0",
        "17.58.101.12",
        None,
    )
    assert ses_rows.filter(event="bounce")["reason"].to_list() == [
        "Permanent/General: smtp; 550 5.1.1 user unknown"
    ]
    assert ses_rows.filter(event="unsubscribe")["reason"].to_list() == ["UnsubscribeLink"]
    sg_rows = read_one(SAMPLES / "sendgrid/event_webhook_batch.json", rules, tmp_path).frame
    assert sg_rows.filter(event="unsubscribe")["reason"].to_list() == [
        "unsubscribe",
        "group_unsubscribe (asm_group_id 42)",
    ]
    assert sg_rows.filter(event="bounce")["reason"].to_list() == [
        "Invalid Address: 550 5.1.1 The email account that you tried to reach does not exist.",
        "dropped: Bounced Address",
    ]
    # delivery events keep no ip: there it is SendGrid's sending IP
    assert sg_rows.filter(event="delivered")["ip"].to_list() == [None, None]
    pm_rows = read_one(SAMPLES / "postmark/webhooks.ndjson", rules, tmp_path).frame
    assert pm_rows.filter(event="unsubscribe")["reason"].to_list() == [
        "Unsubscribe: Unsubscribe request",
        "ManualSuppression (Recipient)",
    ]
    assert pm_rows.filter(event="open")["ip"].to_list() == ["17.58.101.12"]


# --------------------------------------------------------------------------- one record at a time


def one(parse, record: dict[str, Any]) -> list[RawEvent | Skip]:
    return list(parse(record))


def test_generic_rows_match_no_provider() -> None:
    rows = [
        {"email": "a@example.com", "event": "open", "timestamp": "2026-04-01T00:00:00Z"},
        {"email": "a@example.com", "event": "open", "timestamp": 1775000000},
        {"email": "a@example.com", "event": "bounce", "timestamp": 1775000000.5, "id": "x"},
        {"email": "a@example.com", "eventType": "Open", "timestamp": "2026-04-01T00:00:00Z"},
        {
            "email": "a@example.com",
            "event": "open",
            "timestamp": 1,
            "campaign_id": "c",
            "event_id": "e",
        },
        {"recipient": "a@example.com", "event": "opened", "timestamp": 1775000000.5, "id": "x"},
        {"Type": "HardBounce", "email": "a@example.com"},
        {"email": "a@example.com", "sends": 3},
    ]
    for row in rows:
        assert [f.name for f in FORMATS if f.matches(row)] == [], row


def test_generic_json_file_stays_generic(rules, tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text(
        json.dumps(
            [
                {"email": "a@example.com", "event": "open", "timestamp": "2026-04-01T00:00:00Z"},
                {"email": "b@example.com", "event": "click", "timestamp": "2026-04-02T00:00:00Z"},
            ]
        )
    )
    staging = tmp_path / "staging"
    staging.mkdir()
    (batch,) = read_events([path], rules.ingest, staging)
    assert batch.format == "generic"
    assert batch.frame["event"].to_list() == ["open", "click"]


# --- SES


def ses_event(kind: str, destination: list[str], section: dict[str, Any] | None = None) -> dict:
    record: dict[str, Any] = {
        "eventType": kind,
        "mail": {
            "timestamp": "2026-04-01T09:00:00.000Z",
            "messageId": "msg-1",
            "destination": destination,
            "tags": {"ses:configuration-set": ["cs"]},
        },
    }
    if section is not None:
        record[kind.lower()] = section
    return record


@pytest.mark.parametrize("kind", ["Open", "Click"])
def test_ses_multi_recipient_engagement_is_credited_to_no_one(kind: str) -> None:
    section = {
        "timestamp": "2026-04-01T10:00:00.000Z",
        "ipAddress": "198.51.100.1",
        "userAgent": "UA",
    }
    two = one(ses.parse, ses_event(kind, ["a@example.com", "b@example.com"], section))
    assert two == [Skip(f"ses {kind} of a multi-recipient message")]
    (single,) = one(ses.parse, ses_event(kind, ["a@example.com"], section))
    assert single == RawEvent(
        "a@example.com",
        kind.lower(),
        "2026-04-01T10:00:00.000Z",
        "msg-1",
        None,
        user_agent="UA",
        ip="198.51.100.1",
    )


@pytest.mark.parametrize(
    ("bounce_type", "event"),
    [("Permanent", "bounce"), ("Transient", "soft_bounce"), ("Undetermined", "soft_bounce")],
)
def test_ses_bounce_types(bounce_type: str, event: str) -> None:
    record = ses_event("Bounce", ["a@example.com", "b@example.com"])
    record["bounce"] = {
        "bounceType": bounce_type,
        "bounceSubType": "General",
        "bouncedRecipients": [{"emailAddress": "a@example.com"}, {"emailAddress": "b@example.com"}],
        "timestamp": "2026-04-01T09:01:00.000Z",
        "feedbackId": "fb-1",
    }
    got = one(ses.parse, record)
    assert [(e.email, e.event, e.event_id) for e in got] == [
        ("a@example.com", event, "fb-1:a@example.com"),
        ("b@example.com", event, "fb-1:b@example.com"),
    ]
    record["bounce"]["bounceType"] = "Mystery"
    with pytest.raises(EventError, match=r"^The SES Bounce record has bounceType 'Mystery'"):
        one(ses.parse, record)


def test_ses_campaign_tag_wins_over_message_id() -> None:
    record = ses_event("Send", ["a@example.com"], {})
    assert one(ses.parse, record)[0].campaign_id == "msg-1"
    record["mail"]["tags"]["Campaign-Id"] = ["spring"]
    assert one(ses.parse, record)[0].campaign_id == "spring"


def test_ses_subscription() -> None:
    section = {
        "timestamp": "2026-04-02T00:00:00.000Z",
        "source": "UnsubscribeHeader",
        "newTopicPreferences": {"unsubscribeAll": True},
    }
    (event,) = one(ses.parse, ses_event("Subscription", ["a@example.com"], section))
    assert (event.event, event.reason) == ("unsubscribe", "UnsubscribeHeader")
    section["newTopicPreferences"] = {
        "unsubscribeAll": False,
        "topicSubscriptionStatus": [{"topicName": "t", "subscriptionStatus": "OptOut"}],
    }
    assert one(ses.parse, ses_event("Subscription", ["a@example.com"], section)) == [
        Skip("ses Subscription topic change")
    ]


def test_ses_envelopes() -> None:
    inner = ses_event("Send", ["a@example.com"], {})
    envelope = {
        "Type": "Notification",
        "MessageId": "sns-1",
        "TopicArn": "arn",
        "Message": json.dumps(inner),
    }
    assert ses.matches(envelope)
    assert ses.matches({"EventSource": "aws:sns", "Sns": envelope})
    (event,) = one(ses.parse, {"EventSource": "aws:sns", "Sns": envelope})
    assert (event.email, event.event, event.event_id) == ("a@example.com", "send", "sns-1")
    other = dict(envelope, Message=json.dumps({"alarm": "CPU high"}))
    assert not ses.matches(other)
    with pytest.raises(EventError, match=r"^The SNS envelope's Message is not an SES event"):
        one(ses.parse, other)


def test_ses_record_without_timestamp_is_rejected() -> None:
    record = ses_event("Open", ["a@example.com"], {"ipAddress": "198.51.100.1"})
    with pytest.raises(EventError) as exc:
        one(ses.parse, record)
    assert (
        str(exc.value)
        == "The SES Open record has no timestamp; export the event again or remove it."
    )
    assert exc.value.email == "a@example.com"


# --- SendGrid


def sg_event(event: str, **extra: Any) -> dict[str, Any]:
    return {
        "email": "a@example.com",
        "timestamp": 1775000000,
        "event": event,
        "sg_event_id": "ev-1",
        "sg_message_id": "XMSGID.filterdrecv-1.0",
        **extra,
    }


@pytest.mark.parametrize(
    ("extra", "event"),
    [({"type": "bounce"}, "bounce"), ({"type": "blocked"}, "soft_bounce"), ({}, "bounce")],
)
def test_sendgrid_bounce_vs_blocked(extra: dict[str, Any], event: str) -> None:
    (got,) = one(sg.parse, sg_event("bounce", reason="550 no such user", **extra))
    assert (got.event, got.reason) == (event, "550 no such user")


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("Bounced Address", "bounce"),
        ("Invalid", "bounce"),
        ("Spam Reporting Address", "complaint"),
        ("Unsubscribed Address", "unsubscribe"),
        ("Spam Content (if spam checker app enabled)", None),
        ("Invalid SMTPAPI header", None),
    ],
)
def test_sendgrid_drops_by_suppression_list(reason: str, expected: str | None) -> None:
    got = one(sg.parse, sg_event("dropped", reason=reason))
    if expected is None:
        assert got == [Skip("sendgrid dropped")]
    else:
        assert [(e.event, e.reason) for e in got] == [(expected, f"dropped: {reason}")]


@pytest.mark.parametrize(("flag", "machine"), [(True, True), (False, False), (None, None)])
def test_sendgrid_machine_open(flag: bool | None, machine: bool | None) -> None:
    extra = {} if flag is None else {"sg_machine_open": flag}
    (got,) = one(sg.parse, sg_event("open", useragent="Mozilla/5.0", ip="17.58.101.12", **extra))
    assert (got.machine_open, got.user_agent, got.ip) == (machine, "Mozilla/5.0", "17.58.101.12")


def test_sendgrid_campaign_precedence() -> None:
    assert one(sg.parse, sg_event("delivered"))[0].campaign_id == "XMSGID"
    assert one(sg.parse, sg_event("delivered", campaign_id="c-9"))[0].campaign_id == "c-9"
    got = one(sg.parse, sg_event("delivered", campaign_id="c-9", marketing_campaign_id=77))
    assert got[0].campaign_id == "77"
    got = one(sg.parse, sg_event("delivered", marketing_campaign_id=77, singlesend_id="ss-1"))
    assert got[0].campaign_id == "ss-1"


@pytest.mark.parametrize("event", ["deferred", "group_resubscribe", "account_status_change"])
def test_sendgrid_skips(event: str) -> None:
    assert one(sg.parse, sg_event(event)) == [Skip(f"sendgrid {event}")]


# --- Mailgun


def mg_event(event: str, **extra: Any) -> dict[str, Any]:
    return {
        "event": event,
        "id": "mg-1",
        "timestamp": 1775000000.25,
        "log-level": "info",
        "recipient": "a@example.com",
        "user-variables": {},
        "message": {"headers": {"message-id": "m-1@example.org"}},
        **extra,
    }


@pytest.mark.parametrize(
    ("severity", "reason", "event"),
    [
        ("permanent", "bounce", "bounce"),
        ("permanent", "suppress-bounce", "bounce"),
        ("permanent", "old", "bounce"),
        ("permanent", "suppress-unsubscribe", "unsubscribe"),
        ("permanent", "suppress-complaint", "complaint"),
        ("temporary", "generic", "soft_bounce"),
        ("temporary", "greylisted", "soft_bounce"),
    ],
)
def test_mailgun_failed_by_severity(severity: str, reason: str, event: str) -> None:
    (got,) = one(mg.parse, mg_event("failed", severity=severity, reason=reason))
    assert got.event == event


@pytest.mark.parametrize(
    ("client", "machine"),
    [
        ({"bot": "apple"}, True),
        ({"bot": "gmail"}, True),
        ({"bot": "generic"}, True),
        ({"bot": ""}, False),
        ({}, None),
    ],
)
def test_mailgun_bot_detection(client: dict[str, str], machine: bool | None) -> None:
    info = {"user-agent": "Mozilla/5.0", **client}
    (got,) = one(mg.parse, mg_event("opened", ip="17.58.101.12", **{"client-info": info}))
    assert (got.machine_open, got.user_agent, got.ip) == (machine, "Mozilla/5.0", "17.58.101.12")


def test_mailgun_webhook_body_and_events_api_item_read_alike() -> None:
    item = mg_event("delivered")
    body = {"signature": {"token": "t", "timestamp": "1", "signature": "s"}, "event-data": item}
    assert mg.matches(item) and mg.matches(body)
    assert one(mg.parse, item) == one(mg.parse, body)
    assert one(mg.parse, item)[0].campaign_id == "m-1@example.org"
    item["user-variables"] = {"campaign-id": "spring"}
    assert one(mg.parse, item)[0].campaign_id == "spring"


# --- Postmark


@pytest.mark.parametrize(
    ("bounce_type", "expected"),
    [
        ("HardBounce", "bounce"),
        ("BadEmailAddress", "bounce"),
        ("SoftBounce", "soft_bounce"),
        ("Transient", "soft_bounce"),
        ("DnsError", "soft_bounce"),
        ("Blocked", "soft_bounce"),
        ("SpamComplaint", "complaint"),
        ("Unsubscribe", "unsubscribe"),
        ("AutoResponder", None),
        ("AddressChange", None),
        ("ChallengeVerification", None),
        ("ManuallyDeactivated", None),
        ("SpamNotification", None),
        ("Unknown", None),
    ],
)
def test_postmark_bounce_types(bounce_type: str, expected: str | None) -> None:
    record = {
        "RecordType": "Bounce",
        "ID": 7,
        "Type": bounce_type,
        "MessageID": "pm-1",
        "Email": "a@example.com",
        "BouncedAt": "2026-04-01T00:00:00Z",
        "Details": "details",
    }
    got = one(pm.parse, record)
    if expected is None:
        assert got == [Skip(f"postmark Bounce {bounce_type}")]
    else:
        assert got == [
            RawEvent(
                "a@example.com",
                expected,
                "2026-04-01T00:00:00Z",
                "pm-1",
                7,
                reason=f"{bounce_type}: details",
            )
        ]


@pytest.mark.parametrize(
    ("suppress", "cause", "expected"),
    [
        (True, "ManualSuppression", "unsubscribe"),
        (True, "HardBounce", "bounce"),
        (True, "SpamComplaint", "complaint"),
        (False, None, None),
    ],
)
def test_postmark_subscription_change(
    suppress: bool, cause: str | None, expected: str | None
) -> None:
    record = {
        "RecordType": "SubscriptionChange",
        "MessageID": None,
        "Recipient": "a@example.com",
        "ChangedAt": "2026-04-01T00:00:00Z",
        "Origin": "Customer",
        "SuppressSending": suppress,
        "SuppressionReason": cause,
    }
    got = one(pm.parse, record)
    if expected is None:
        assert got == [Skip("postmark SubscriptionChange reactivated")]
    else:
        assert got == [
            RawEvent(
                "a@example.com",
                expected,
                "2026-04-01T00:00:00Z",
                None,
                reason=f"{cause} (Customer)",
            )
        ]


def test_postmark_metadata_campaign_and_no_machine_flag() -> None:
    record = {
        "RecordType": "Open",
        "MessageID": "pm-1",
        "Recipient": "a@example.com",
        "ReceivedAt": "2026-04-01T00:00:00Z",
        "Platform": "Unknown",
        "UserAgent": "Mozilla/5.0",
        "Geo": {"IP": "17.58.101.12"},
        "Tag": "newsletter",
        "Metadata": {"campaign_id": "apr"},
    }
    (got,) = one(pm.parse, record)
    assert (got.campaign_id, got.machine_open, got.user_agent, got.ip) == (
        "apr",
        None,
        "Mozilla/5.0",
        "17.58.101.12",
    )


# --- MailerDash


def history(sends: list[dict[str, Any]], last: str | None) -> dict[str, Any]:
    return {
        "email": "a@example.com",
        "sends": sends,
        "totals": {},
        "score": "active",
        "last_engagement_at": last,
    }


def item(campaign: str, sent_at: str, opened: bool, clicked: bool = False) -> dict[str, Any]:
    return {
        "campaign_id": campaign,
        "campaign_name": campaign,
        "sent_at": sent_at,
        "opened": opened,
        "clicked": clicked,
    }


def timeline(record: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(e.event, e.campaign_id, e.timestamp) for e in one(md.parse, record)]


def test_mailerdash_last_engagement_dates_the_latest_engaged_campaign_before_it() -> None:
    record = history(
        [
            item("c1", "2026-01-01T00:00:00Z", True, True),
            item("c2", "2026-02-01T00:00:00Z", False, True),  # a click without an open
            item("c3", "2026-03-01T00:00:00Z", True),  # sent after the last engagement
        ],
        "2026-02-10T12:00:00Z",
    )
    assert timeline(record) == [
        ("send", "c1", "2026-01-01T00:00:00Z"),
        ("open", "c1", "2026-01-01T00:00:00Z"),
        ("click", "c1", "2026-01-01T00:00:00Z"),
        ("send", "c2", "2026-02-01T00:00:00Z"),
        ("click", "c2", "2026-02-10T12:00:00Z"),
        ("send", "c3", "2026-03-01T00:00:00Z"),
        ("open", "c3", "2026-03-01T00:00:00Z"),
    ]


@pytest.mark.parametrize("last", [None, "not a date", "2025-12-31T00:00:00Z"])
def test_mailerdash_without_a_usable_last_engagement_dates_at_sent_at(last: str | None) -> None:
    record = history([item("c1", "2026-01-01T00:00:00+00:00", True)], last)
    assert timeline(record) == [
        ("send", "c1", "2026-01-01T00:00:00+00:00"),
        ("open", "c1", "2026-01-01T00:00:00+00:00"),
    ]


def test_mailerdash_seed_example_shape() -> None:
    """The seed 004 response, with the address made synthetic."""
    record = {
        "email": "ana@example.com",
        "sends": [
            {
                "campaign_id": "camp_abc123",
                "campaign_name": "Newsletter Q2",
                "sent_at": "2026-04-15T10:00:00Z",
                "opened": True,
                "clicked": False,
            }
        ],
        "totals": {"sends": 5, "opens": 3, "clicks": 1},
        "score": "active",
        "last_engagement_at": "2026-04-15T14:22:00Z",
    }
    assert [f.name for f in FORMATS if f.matches(record)] == ["mailerdash"]
    assert timeline(record) == [
        ("send", "camp_abc123", "2026-04-15T10:00:00Z"),
        ("open", "camp_abc123", "2026-04-15T14:22:00Z"),
    ]
