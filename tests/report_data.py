"""Synthetic ReportData for the report tests: small, deterministic, example.com/.test
addresses only. `report_data()` is a run with events and a history of past runs;
`report_data(events=False)` a first run without events."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from listhygiene.contact_counts import contact_counts
from listhygiene.contacts import COLUMNS
from listhygiene.events.normalize import EVENT_SCHEMA
from listhygiene.health import Gate, SendWindow, list_health, load_health_rules
from listhygiene.merge import POSSIBLE_SCHEMA
from listhygiene.report import ReportData, events_by_day

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
XSS = "<script>alert(1)</script>"
XSS_ATTR = '"><img src=x onerror=alert(1)>'
DOMAINS = [
    ("example.com", 30),
    ("example.org", 18),
    ("example.net", 14),
    ("mail.test", 10),
    ("corp.test", 8),
    ("shop.example.com", 6),
    ("news.test", 5),
    ("uni.test", 4),
    ("lab.test", 3),
    ("old.test", 2),
    ("tiny.test", 1),
]
FIRST = ["Ada", "Bo", "Chen", "Dana", "Eli", "Fay", "Gus", "Hana", "Ivo", "José", XSS]


def _contacts(rng: random.Random, events: bool) -> pl.DataFrame:
    rows: list[dict[str, Any]] = []
    i = 0
    for domain, weight in DOMAINS:
        for _ in range(weight * 2):
            i += 1
            status = rng.choices(
                ["active", "unsubscribed", "bounced", "complained"], [80, 11, 7, 2]
            )[0]
            if status != "active":
                verdict, reason = "invalid", "suppressed"
            else:
                verdict, reason = rng.choices(
                    [
                        ("valid", None),
                        ("risky", "role_account"),
                        ("risky", "possible_typo"),
                        ("invalid", "no_dns_entries"),
                        ("unknown", "dns_timeout"),
                    ],
                    [70, 5, 3, 7, 15],
                )[0]
            score = min(100, int(rng.expovariate(1 / 30))) if events else None
            tier = None
            if score is not None:
                tier = next(
                    t
                    for t, lo in (
                        ("champion", 80),
                        ("loyal", 60),
                        ("potential", 40),
                        ("at_risk", 20),
                        ("dormant", 0),
                    )
                    if score >= lo
                )
            created = AS_OF - timedelta(days=rng.randint(10, 1500))
            last = AS_OF - timedelta(days=rng.randint(0, 300)) if events and score else None
            unengaged = (
                (status == "active" and (last is None or (AS_OF - last).days >= 90))
                if events
                else None
            )
            row: dict[str, Any] = dict.fromkeys(COLUMNS)
            row.update(
                email=f"user{i:03d}@{domain}",
                email_key=f"user{i:03d}@{domain}",
                first_name=FIRST[i % len(FIRST)],
                last_name="Tester",
                tags=["newsletter"] if i % 3 else [],
                status=status,
                status_reason=None if status == "active" else f"export: {status}",
                verdict=verdict,
                verdict_reason=reason,
                role_account=reason == "role_account",
                disposable=False,
                free_provider=False,
                score=score,
                tier=tier,
                engagement=(
                    None
                    if not events
                    else "active"
                    if (score or 0) >= 40
                    else "passive"
                    if (score or 0) >= 10
                    else "dormant"
                ),
                last_engagement_at=last,
                last_opened_at=last,
                days_inactive=(AS_OF - last).days if last else None,
                unengaged=unengaged,
                created_at=created,
                source_file=f"lists/{XSS}.csv" if i == 7 else "lists/newsletter.csv",
                source_row=i + 1,
            )
            rows.append(row)
    schema = {
        "tags": pl.List(pl.String),
        "role_account": pl.Boolean,
        "disposable": pl.Boolean,
        "free_provider": pl.Boolean,
        "score": pl.Int64,
        "sends": pl.Int64,
        "opens": pl.Int64,
        "clicks": pl.Int64,
        "open_rate": pl.Float64,
        "click_rate": pl.Float64,
        "last_opened_at": pl.Datetime("us", "UTC"),
        "last_engagement_at": pl.Datetime("us", "UTC"),
        "created_at": pl.Datetime("us", "UTC"),
        "days_inactive": pl.Int64,
        "unengaged": pl.Boolean,
        "source_row": pl.Int64,
    }
    full = {c: schema.get(c, pl.String) for c in COLUMNS}
    return pl.DataFrame(rows, schema=full)


def _events(rng: random.Random, contacts: pl.DataFrame) -> pl.DataFrame:
    keys = contacts.get_column("email_key").to_list()
    rows = []
    n = 0
    for week in range(26):
        sent_at = AS_OF - timedelta(days=7 * (26 - week)) + timedelta(hours=9)
        campaign = f"c{week:02d}"
        for key in rng.sample(keys, 60):
            n += 1
            rows.append((key, "send", sent_at, campaign, False))
            r = rng.random()
            if r < 0.30 + week * 0.004:
                machine = rng.random() < 0.3
                rows.append((key, "open", sent_at + timedelta(hours=3), campaign, machine))
                if not machine and rng.random() < 0.3:
                    rows.append((key, "click", sent_at + timedelta(hours=4), campaign, False))
            elif r > 0.985:
                rows.append((key, "bounce", sent_at + timedelta(minutes=5), campaign, False))
            elif r > 0.975:
                rows.append((key, "unsubscribe", sent_at + timedelta(hours=5), campaign, False))
    return pl.DataFrame(
        {
            "source_file": ["events/sends.csv"] * len(rows),
            "row": list(range(2, len(rows) + 2)),
            "email_key": [r[0] for r in rows],
            "event": [r[1] for r in rows],
            "timestamp": [r[2] for r in rows],
            "campaign_id": [r[3] for r in rows],
            "event_id": [None] * len(rows),
            "machine_open": [r[4] for r in rows],
            "reason": [None] * len(rows),
        },
        schema=EVENT_SCHEMA,
    )


def _rejects() -> pl.DataFrame:
    rows = [
        (
            "lists/newsletter.csv",
            12,
            "user@",
            "email",
            'email "user@" is not a valid address: There must be something after the @-sign.',
            "domain_empty",
        ),
        (
            "lists/newsletter.csv",
            40,
            "no-at-sign.example.com",
            "email",
            'email "no-at-sign.example.com" is not a valid address: An email address must have an @-sign.',
            "missing_at",
        ),
        (
            "lists/newsletter.csv",
            41,
            "still.no.at",
            "email",
            'email "still.no.at" is not a valid address: An email address must have an @-sign.',
            "missing_at",
        ),
        (
            f"lists/{XSS}.csv",
            3,
            XSS,
            "email",
            f"email {XSS_ATTR} is not a valid address: An email address must have an @-sign.",
            "missing_at",
        ),
        (
            "lists/newsletter.csv",
            77,
            "x@localhost",
            "email",
            'email "x@localhost" is not a valid address: The part after the @-sign is not valid. It should have a period.',
            "domain_missing_period",
        ),
        (
            "lists/crm.csv",
            9,
            None,
            None,
            "row 9 has 7 fields where the header has 6. Check the quoting in this row.",
            "ragged_row",
        ),
        (
            "lists/crm.csv",
            15,
            "pat@example.org",
            "status",
            'status "pending" means the contact never confirmed the opt-in.',
            "pending",
        ),
    ]
    rows += [
        (
            "lists/crm.csv",
            20 + k,
            f"row{k}@",
            "email",
            f'email "row{k}@" is not a valid address: There must be something after the @-sign.',
            "domain_empty",
        )
        for k in range(4)
    ]
    return pl.DataFrame(
        rows,
        schema=["source_file", "row", "email", "field", "error", "reason"],
        orient="row",
    ).cast({"row": pl.Int64})


def _duplicates() -> pl.DataFrame:
    rows = [
        ("user001@example.com", "lists/newsletter.csv", 2, "lists/crm.csv", 4, "exact", ""),
        (
            "user002@example.com",
            "lists/newsletter.csv",
            3,
            "lists/crm.csv",
            5,
            "case",
            "first_name",
        ),
        (
            "user003@example.com",
            "lists/newsletter.csv",
            4,
            "lists/crm.csv",
            6,
            "whitespace",
            "phone;company",
        ),
        ("user004@example.com", "lists/newsletter.csv", 5, "lists/crm.csv", 7, "exact", "company"),
        ("user005@example.com", "lists/newsletter.csv", 6, "lists/crm.csv", 8, "pre-cleaned", ""),
    ]
    return pl.DataFrame(
        rows,
        schema=[
            "email_key",
            "kept_source_file",
            "kept_row",
            "source_file",
            "row",
            "match",
            "conflicts",
        ],
        orient="row",
    ).cast({"kept_row": pl.Int64, "row": pl.Int64})


def _possible() -> pl.DataFrame:
    return pl.DataFrame(
        [
            (1, "jane.doe@example.com", "jane.doe@example.com", "lists/newsletter.csv", 10),
            (1, "jane.doe@example.com", "janedoe@example.com", "lists/crm.csv", 11),
            (2, "bo@example.org", "bo+news@example.org", "lists/crm.csv", 12),
            (2, "bo@example.org", "bo@example.org", "lists/crm.csv", 13),
        ],
        schema=list(POSSIBLE_SCHEMA),
        orient="row",
    ).cast(POSSIBLE_SCHEMA)


def _health(contacts: pl.DataFrame, events: bool) -> dict[str, Any]:
    """health.json as the pipeline computes it (pipeline/health.py), with an unsubscribe
    gate added so the page shows three gates; the send totals make the hard-bounce gate
    block and the complaint gate warn."""
    defaults = load_health_rules()
    rules = replace(defaults, gates=(*defaults.gates, Gate("unsubscribe_rate", 0.15, 0.30)))
    window = SendWindow(days=90, sends=2000, hard_bounces=130, complaints=3) if events else None
    return list_health(contact_counts(contacts, AS_OF, 90), rules, AS_OF, 90, window).stats


def report_contacts(events: bool = True, seed: int = 8) -> pl.DataFrame:
    """The contacts `report_data` counts (the same seed gives the same rows)."""
    return _contacts(random.Random(seed), events)


def report_data(events: bool = True, history_runs: int = 6, seed: int = 8) -> ReportData:
    rng = random.Random(seed)
    contacts = _contacts(rng, events)
    event_frame = _events(rng, contacts) if events else None
    health = _health(contacts, events)
    rejects = _rejects()
    duplicates = _duplicates()
    history = []
    for k in range(history_runs - 1):
        as_of = AS_OF - timedelta(days=30 * (history_runs - 1 - k))
        history.append(
            {
                "run_id": f"{as_of:%Y%m%dT%H%M%SZ}-past{k}",
                "as_of": f"{as_of:%Y-%m-%dT%H:%M:%SZ}",
                "healthScore": max(
                    0, health["healthScore"] - 3 * (history_runs - 1 - k) + (k % 2) * 4
                ),
                "totalContacts": contacts.height - 8 * (history_runs - 1 - k),
                "activeContacts": health["activeContacts"] - 5 * (history_runs - 1 - k),
                "unengagedCount": 20 + k,
                "bouncedCount": health["bouncedCount"],
                "complainedCount": health["complainedCount"],
                "engagement_known": True,
            }
        )
    run_id = "20261101T000000Z-synth1"
    history.append(
        {
            "run_id": run_id,
            "as_of": health["lastRunAt"],
            **{
                k: health[k]
                for k in (
                    "healthScore",
                    "totalContacts",
                    "activeContacts",
                    "unengagedCount",
                    "bouncedCount",
                    "complainedCount",
                    "engagement_known",
                )
            },
        }
    )
    unique = contacts.height
    return ReportData(
        health=health,
        history=history,
        contact_counts=contact_counts(contacts, AS_OF, 90),
        rejects=rejects,
        duplicates=duplicates,
        possible_duplicates=_possible(),
        events=events_by_day(event_frame, AS_OF) if event_frame is not None else None,
        counts={
            "input_rows": unique + rejects.height + duplicates.height,
            "rejected": rejects.height,
            "duplicates_merged": duplicates.height,
            "unique_contacts": unique,
            "events_rejected": 3 if events else None,
            "unengaged": health["unengagedCount"] if events else None,
            "winback_targeted": 17 if events else None,
            "suppress_candidates": 4 if events else None,
        },
        run={
            "run_id": run_id,
            "as_of": "2026-11-01T00:00:00Z",
            "inputs": [
                {
                    "source_file": "lists/newsletter.csv",
                    "format": "csv",
                    "preset": "mailchimp",
                    "input_rows": unique - 10,
                    "rejected": 7,
                },
                {
                    "source_file": "lists/crm.csv",
                    "format": "csv",
                    "preset": "generic",
                    "input_rows": 14,
                    "rejected": 4,
                },
                {
                    "source_file": f"lists/{XSS}.csv",
                    "format": "csv",
                    "preset": "generic",
                    "input_rows": 3,
                    "rejected": 1,
                },
            ],
            "events_files": ["events/sends.csv"] if events else [],
        },
    )
