#!/usr/bin/env python3
"""Write the synthetic sample exports (`data/sample/`) and events (`data/events/`).

Everything here is invented: people are combinations of common first and last
names, addresses live on example.com/.org/.net (plus a handful of big-provider
addresses with obviously synthetic local parts, for typo and Gmail cases), IPs
are in the documentation ranges (RFC 5737) and phone numbers are in the
fictional 555-01xx / 020 7946 0xxx ranges.

The output is deterministic: one seeded `random.Random`, no wall clock, no set
iteration, fixed dict orders. Running the script twice gives byte-identical
files; `tests/test_sample_data.py` regenerates and compares.

    python data/generate_sample.py [--out-dir DIR] [--events-dir DIR]

The deliberate mess in each file is listed in `data/README.md`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20261101
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)  # the `--as-of` the sample is built for
EVENT_WINDOW_DAYS = 200

MAILCHIMP_SUBSCRIBED_HEADER = [
    "Email Address", "First Name", "Last Name", "EMAIL_TYPE", "MEMBER_RATING", "OPTIN_TIME",
    "OPTIN_IP", "CONFIRM_TIME", "CONFIRM_IP", "LATITUDE", "LONGITUDE", "GMTOFF", "DSTOFF",
    "TIMEZONE", "CC", "REGION", "LAST_CHANGED", "LEID", "EUID", "NOTES", "TAGS",
]  # fmt: skip
MAILCHIMP_UNSUBSCRIBED_HEADER = [
    "Email Address", "First Name", "Last Name", "Company", "Position", "ZIP Code",
    "MEMBER_RATING", "OPTIN_TIME", "OPTIN_IP", "CONFIRM_TIME", "CONFIRM_IP", "LATITUDE",
    "LONGITUDE", "GMTOFF", "DSTOFF", "TIMEZONE", "CC", "REGION", "UNSUB_TIME",
    "UNSUB_CAMPAIGN_TITLE", "UNSUB_CAMPAIGN_ID", "UNSUB_REASON", "UNSUB_REASON_OTHER",
    "LEID", "EUID", "NOTES", "TAGS",
]  # fmt: skip
MAILCHIMP_CLEANED_HEADER = [
    "Email Address", "First Name", "Last Name", "Company", "Position", "ZIP Code",
    "MEMBER_RATING", "OPTIN_TIME", "OPTIN_IP", "CONFIRM_TIME", "CONFIRM_IP", "LATITUDE",
    "LONGITUDE", "GMTOFF", "DSTOFF", "TIMEZONE", "CC", "REGION", "CLEAN_TIME",
    "CLEAN_CAMPAIGN_TITLE", "CLEAN_CAMPAIGN_ID", "LEID", "EUID", "NOTES", "TAGS",
]  # fmt: skip
EU_HEADER = [
    "E-Mail", "Vorname", "Nachname", "Firma", "Telefon", "Status", "Tags", "Erstellt am", "Notiz",
]  # fmt: skip
HUBSPOT_HEADER = [
    "Record ID", "First Name", "Last Name", "Email", "Phone Number", "Company Name",
    "Job Title", "Contact owner", "Last Activity Date", "Lead Status",
    "Marketing contact status", "Create Date", "Unsubscribed from all email",
    "Email hard bounce reason", "Associated Company",
]  # fmt: skip
EVENTS_HEADER = ["email", "event", "timestamp", "campaign_id", "event_id", "machine_open"]

FIRST_NAMES = [
    "Ann", "Anna", "Ben", "Bob", "Cara", "Clara", "Dev", "Dana", "Eve", "Emil", "Finn",
    "Frida", "Gus", "Greta", "Hana", "Hugo", "Ivo", "Ida", "Jo", "Jonas", "Kai", "Kira",
    "Lee", "Lena", "Mia", "Max", "Ned", "Nora", "Ola", "Oskar", "Pat", "Paula", "Quinn",
    "Rosa", "Rafael", "Sam", "Sofia", "Tess", "Theo", "Uma", "Vic", "Vera", "Wes", "Yara",
    "Zoe", "José", "Zoë", "Björn", "Jürgen", "Renée", "Søren", "François", "Inès",
    "Hélène", "Åsa", "Łukasz", "Mónica", "Chloé",
]  # fmt: skip
LAST_NAMES = [
    "Example", "Sample", "Placeholder", "Demo", "Muster", "Müller", "Schmidt", "Schäfer",
    "Weiß", "Strauß", "Dubois", "Lefèvre", "Moreau", "García", "Núñez", "Rossi", "Bianchi",
    "Novak", "Kowalski", "Öztürk", "Åström", "Nørgaard", "O'Brien", "van der Berg",
    "de la Cruz", "Jensen", "Nguyen", "Okafor", "Tanaka", "Silva", "Wójcik", "Dvořák",
    "Brontë", "Fischer", "Becker",
]  # fmt: skip
DOMAINS = [  # (domain, weight)
    ("example.com", 30), ("example.org", 25), ("example.net", 20), ("mail.example.com", 6),
    ("shop.example.org", 4), ("kunden.example.net", 4), ("corp.example.com", 3),
]  # fmt: skip
COMPANIES = [
    "Example Holdings", "Sample Logistics Ltd", "Placeholder, Inc.", "Demo Werkzeugbau GmbH",
    "Müller & Söhne Präzisionsmaschinenbau GmbH & Co. KG",
    "Société Exemple de Distribution Alimentaire S.A.R.L.",
    "Example International Holdings, Logistics and Supply Chain Division",
    "Sample Analytics", "Northwind Example Traders", "Contoso Example Consulting",
    "Fabrikam Demo Manufacturing Group", "Ejemplo Servicios Integrales S.L.",
    "Beispiel Handelsgesellschaft mbH", "Demo \"Quoted\" AB",
]  # fmt: skip
JOB_TITLES = ["Buyer", "Head of Marketing", "CTO", "Office Manager", "Einkauf", "Owner", ""]
TAGS = ["Customers", "VIP", "Newsletter", "Leads", "Trade show 2025", "Webinar", "Partners"]
GEO = [  # LATITUDE, LONGITUDE, GMTOFF, DSTOFF, TIMEZONE, CC, REGION; lower-case forms are real
    ("47.6062000", "-122.3321000", "-8", "-7", "America/Los_Angeles", "US", "WA"),
    ("40.7128000", "-74.0060000", "-5", "-4", "America/New_York", "US", "NY"),
    ("51.5074000", "-0.1278000", "0", "1", "Europe/London", "GB", "ENG"),
    ("52.5200000", "13.4050000", "1", "2", "Europe/Berlin", "DE", "BE"),
    ("48.8566000", "2.3522000", "1", "2", "Europe/Paris", "FR", "IDF"),
    ("47.3700000", "8.5400000", "1", "2", "europe/zurich", "ch", "zh"),
]
UNSUB_REASONS = [
    "", "", "", "N/A (Unsubscribed by an admin)", "N/A (Unsubscribed by admin)",
    "I no longer want to receive these emails", "I never signed up for this mailing list",
    "The emails are inappropriate", "The emails are spam and should be reported",
    "Other (fill in reason below)",
]  # fmt: skip
CAMPAIGN_TITLES = [
    "April Newsletter", "Spring Sale 2026", "May Newsletter", "Webinar Invite", "June Newsletter",
    "Summer Sale 2026", "July Newsletter", "Product Launch", "August Newsletter",
    "September Newsletter", "Autumn Catalogue", "October Newsletter",
]  # fmt: skip
EU_NOTES = [
    "Messe-Rabatt 15 € – bitte Rückruf",
    "Angebot über 1.250,00 € angefragt",
    "Kontakt über Partner – siehe Altdaten",
    "Preisliste 2026 (€) gesendet",
    "Rückfrage zur Rechnung – erledigt",
]


@dataclass
class Person:
    """One synthetic contact; `email` is its canonical (lower-case) address."""

    first: str
    last: str
    email: str
    company: str
    job: str
    phone: str
    created: datetime
    geo: tuple[str, ...] | None
    tags: list[str]
    p_open: float  # chance a delivered campaign gets a human open
    mpp: bool  # Apple Mail Privacy Protection: opens are machine opens
    status: str = "active"  # canonical status the source file gives
    status_time: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- helpers


def ascii_fold(text: str) -> str:
    """Turn a name into an address-friendly ASCII token ("Strauß" -> "strauss")."""
    for src, dst in (("ß", "ss"), ("ø", "o"), ("Ø", "O"), ("æ", "ae"), ("Ł", "L"), ("ł", "l")):
        text = text.replace(src, dst)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()


def fits_cp1252(*values: str) -> bool:
    try:
        "".join(values).encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def rand_time(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = int((end - start).total_seconds())
    return start + timedelta(seconds=rng.randrange(span)) if span > 0 else start


def doc_ip(rng: random.Random) -> str:
    """An address from the RFC 5737 documentation ranges."""
    prefix = rng.choice(("192.0.2", "198.51.100", "203.0.113"))
    return f"{prefix}.{rng.randrange(1, 255)}"


def fake_phone(rng: random.Random) -> str:
    """Fictional numbers only (NANP 555-01xx, Ofcom drama range 020 7946 0xxx)."""
    n = rng.randrange(100, 200)
    return rng.choice(
        (
            f"+1 206 555 0{n}",
            f"(555) 01{n % 100:02d}-{rng.randrange(1000, 9999)}",
            f"555-0{n}",
            f"+44 20 7946 0{n}",
            f"020 7946 0{n}",
        )
    )


def hex_id(rng: random.Random, digits: int = 10) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def fmt_mailchimp(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S") if dt else ""


def fmt_iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_german(dt: datetime) -> str:
    return dt.strftime("%d.%m.%Y %H:%M")  # how German Excel shows a date-time cell


def fmt_hubspot(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M") if dt else ""


def mailchimp_tags(tags: Sequence[str]) -> str:
    """Mailchimp's TAGS cell: every tag in double quotes, comma separated."""
    return ",".join(f'"{t}"' for t in tags)


def php_fputcsv_line(fields: Sequence[str]) -> str:
    """One line as PHP's fputcsv writes it (HEADERS.md 1.4).

    A field is quoted only if it contains a comma, quote, backslash, CR, LF,
    TAB or space; quotes are doubled; empty fields stay bare.
    """
    out = []
    for value in fields:
        if any(c in value for c in ',"\\\r\n\t '):
            value = '"' + value.replace('"', '""') + '"'
        out.append(value)
    return ",".join(out)


def csv_text(
    rows: Sequence[Sequence[str]], *, delimiter: str, newline: str, quote_all: bool
) -> str:
    buf = io.StringIO()
    writer = csv.writer(
        buf,
        delimiter=delimiter,
        lineterminator=newline,
        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
    )
    writer.writerows(rows)
    return buf.getvalue()


# ---------------------------------------------------------------- people


def build_people(rng: random.Random, count: int) -> list[Person]:
    people: list[Person] = []
    taken: dict[str, None] = {}  # a dict, not a set: membership only, order never read
    domains = [d for d, _ in DOMAINS]
    weights = [w for _, w in DOMAINS]
    while len(people) < count:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        f, ln = ascii_fold(first), ascii_fold(last)
        local = rng.choice(
            (f"{f}.{ln}", f"{f[0]}{ln}", f"{f}", f"{f}_{ln}", f"{ln}.{f}", f"{f}{ln}")
        )
        email = f"{local}@{rng.choices(domains, weights)[0]}"
        if email in taken:
            continue
        taken[email] = None
        # ~8% joined in the last 90 days: too new to judge as unengaged.
        if rng.random() < 0.08:
            created = rand_time(rng, AS_OF - timedelta(days=85), AS_OF - timedelta(days=2))
        else:
            created = rand_time(
                rng, datetime(2018, 1, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)
            )
        engagement = rng.random()
        people.append(
            Person(
                first=first,
                last=last,
                email=email,
                company=rng.choice(COMPANIES) if rng.random() < 0.45 else "",
                job=rng.choice(JOB_TITLES) if rng.random() < 0.3 else "",
                phone=fake_phone(rng) if rng.random() < 0.25 else "",
                created=created,
                geo=rng.choice(GEO) if rng.random() < 0.35 else None,
                tags=sorted(rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2, 3)))),
                # a fifth never opens anything: they become the unengaged ones
                p_open=0.0 if engagement < 0.2 else round(engagement * 0.7, 2),
                mpp=rng.random() < 0.2,
            )
        )
    return people


def special_person(rng: random.Random, first: str, last: str, email: str, **kw: object) -> Person:
    """A hand-placed person (Gmail variants, typo domains, role accounts, IDN)."""
    person = Person(
        first=first,
        last=last,
        email=email,
        company="",
        job="",
        phone="",
        created=rand_time(rng, datetime(2020, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),
        geo=None,
        tags=[],
        p_open=0.3,
        mpp=False,
    )
    for key, value in kw.items():
        setattr(person, key, value)
    return person


def suppress(rng: random.Random, person: Person, status: str) -> None:
    """Mark a person suppressed at a time after sign-up (often inside the event window)."""
    start = max(person.created, AS_OF - timedelta(days=400))
    person.status = status
    person.status_time = rand_time(rng, start, AS_OF - timedelta(days=3))


def variant(rng: random.Random, email: str, name: str = "") -> str:
    """The same address as a careless export or a person would write it."""
    local, _, domain = email.partition("@")
    kind = rng.randrange(8)
    if kind == 0:
        return email.upper()
    if kind == 1:
        return f"{local.capitalize()}@{domain.capitalize()}"
    if kind == 2:
        return f"  {email} "
    if kind == 3:
        return f"\u00a0{email}"  # NBSP from a copy out of a web page
    if kind == 4:
        return f"{name or local.title()} <{email}>"
    if kind == 5:
        return f"mailto:{email}"
    if kind == 6:
        return f"{email}."
    return f"{local}@{domain.upper()}"


# ---------------------------------------------------------------- files


@dataclass
class Universe:
    """Everything the files are cut from, so the events can refer back to it."""

    people: list[Person]
    campaigns: list[tuple[str, str, datetime]]  # (id, title, send time)
    audience_hex: str
    files: dict[str, bytes] = field(default_factory=dict)


def make_campaigns(rng: random.Random) -> list[tuple[str, str, datetime]]:
    campaigns = []
    span = EVENT_WINDOW_DAYS - 10
    for i, title in enumerate(CAMPAIGN_TITLES):
        day = EVENT_WINDOW_DAYS - 5 - i * span // len(CAMPAIGN_TITLES)
        send = (AS_OF - timedelta(days=day)).replace(hour=9) + timedelta(minutes=rng.randrange(90))
        campaigns.append((hex_id(rng), title, send))
    return campaigns


def mailchimp_geo(person: Person) -> list[str]:
    return list(person.geo) if person.geo else [""] * 7


def mailchimp_optin(rng: random.Random, person: Person) -> list[str]:
    """OPTIN_TIME, OPTIN_IP, CONFIRM_TIME, CONFIRM_IP: imports have only CONFIRM_TIME."""
    if rng.random() < 0.35:
        return ["", "", fmt_mailchimp(person.created), ""]
    ip = doc_ip(rng)
    confirm = person.created + timedelta(seconds=rng.randrange(20, 400))
    return [fmt_mailchimp(person.created), ip, fmt_mailchimp(confirm), ip]


def rating(person: Person) -> str:
    return str(min(5, max(1, 1 + round(person.p_open * 5)))) if person.p_open else "2"


def mailchimp_subscribed(rng: random.Random, uni: Universe, people: list[Person]) -> bytes:
    rows: list[str] = [php_fputcsv_line(MAILCHIMP_SUBSCRIBED_HEADER)]

    def row(person: Person, email: str, notes: str = "", tags: str | None = None) -> str:
        horizon = min(person.created + timedelta(days=400), AS_OF - timedelta(days=1))
        last_changed = rand_time(rng, person.created, horizon)
        fields = [
            email, person.first, person.last, "text" if rng.random() < 0.05 else "html",
            rating(person), *mailchimp_optin(rng, person), *mailchimp_geo(person),
            fmt_mailchimp(last_changed), str(rng.randrange(100_000_000, 999_999_999)),
            hex_id(rng), notes, mailchimp_tags(person.tags) if tags is None else tags,
        ]  # fmt: skip
        return php_fputcsv_line(fields)

    for i, person in enumerate(people):
        rows.append(row(person, person.email))
        if i == 20:
            rows.append("")  # blank lines, as left by a hand edit
            rows.append("")
        if i in (12, 57, 101):  # the same member again, case/whitespace variant
            rows.append(row(person, variant(rng, person.email, person.first)))
    # A ragged row: an unquoted comma in NOTES gives one field too many.
    ragged = people[33]
    fields = [
        f"{ascii_fold(ragged.first)}.ragged@example.org", ragged.first, ragged.last, "html", "2",
        "", "", "2024-02-02 10:00:00", "", "", "", "", "", "", "", "", "2024-02-02 10:00:00",
        "140009999", "9a8b7c6d5e",
    ]  # fmt: skip
    rows.insert(45, php_fputcsv_line(fields) + ",Met at fair,booth 12,")
    # A bare tag without Mailchimp's inner quotes (seen in real exports).
    rows.insert(60, row(people[40], "tag.bare@example.net", tags="Editors"))
    rows.append("")  # trailing blank line
    text = "\r\n".join(rows) + "\r\n"
    return ("\ufeff" + text).encode("utf-8")


def mailchimp_unsubscribed(rng: random.Random, uni: Universe, people: list[Person]) -> bytes:
    rows = [php_fputcsv_line(MAILCHIMP_UNSUBSCRIBED_HEADER)]
    for person in people:
        campaign_id, title = "", ""
        assert person.status_time is not None
        in_window = [c for c in uni.campaigns if c[2] <= person.status_time]
        reason = rng.choice(UNSUB_REASONS)
        if in_window and not reason.startswith("N/A"):
            campaign_id, title, _ = in_window[-1]  # unsubscribed from the last campaign seen
        other = "Too many emails, please, fewer" if reason.startswith("Other") else ""
        fields = [
            person.email, person.first, person.last, person.company, person.job,
            str(rng.randrange(10000, 99999)) if rng.random() < 0.3 else "", rating(person),
            *mailchimp_optin(rng, person), *mailchimp_geo(person),
            fmt_mailchimp(person.status_time), title, campaign_id, reason, other,
            str(rng.randrange(100_000_000, 999_999_999)), hex_id(rng), "",
            mailchimp_tags(person.tags),
        ]  # fmt: skip
        rows.append(php_fputcsv_line(fields))
    return ("\ufeff" + "\r\n".join(rows) + "\r\n").encode("utf-8")


def mailchimp_cleaned(rng: random.Random, uni: Universe, people: list[Person]) -> bytes:
    rows = [php_fputcsv_line(MAILCHIMP_CLEANED_HEADER)]
    for person in people:
        assert person.status_time is not None
        sent = [c for c in uni.campaigns if c[2] <= person.status_time]
        campaign_id, title = (sent[-1][0], sent[-1][1]) if sent else ("", "")
        fields = [
            person.email, person.first, person.last, person.company, person.job, "", "1",
            *mailchimp_optin(rng, person), *mailchimp_geo(person),
            fmt_mailchimp(person.status_time), title, campaign_id,
            str(rng.randrange(100_000_000, 999_999_999)), hex_id(rng),
            person.extra.get("notes", ""), mailchimp_tags(person.tags),
        ]  # fmt: skip
        rows.append(php_fputcsv_line(fields))
    return ("\ufeff" + "\r\n".join(rows) + "\r\n").encode("utf-8")


def eu_file(rng: random.Random, rows_in: list[tuple[Person, str, str]]) -> bytes:
    """A German CRM export saved by Excel: cp1252, `;`, CRLF, minimal quoting."""
    rows: list[list[str]] = [EU_HEADER]
    german_tags = {"Customers": "Kunde", "Newsletter": "Newsletter", "Leads": "Interessent"}
    for i, (person, email, status) in enumerate(rows_in):
        tags = [german_tags.get(t, t) for t in person.tags]
        note = EU_NOTES[i // 12 % len(EU_NOTES)] if i % 12 == 5 else ""
        rows.append(
            [
                email, person.first, person.last, person.company, person.phone, status,
                ",".join(tags), fmt_german(person.created), note,
            ]
        )  # fmt: skip
        if i == 30:
            rows.append([""] * len(EU_HEADER))  # Excel saves an empty row as ;;;;;;;;
    return csv_text(rows, delimiter=";", newline="\r\n", quote_all=False).encode("cp1252")


def ndjson_file(rows_in: list[tuple[Person, str, str]], rng: random.Random) -> bytes:
    """MisarMail contact objects (seed 000 field names), one per line."""
    lines = []
    plans = ("free", "pro", "pro", "team", "enterprise")
    sources = ("landing-page", "checkout", "webinar", "import", "referral")
    for person, email, status in rows_in:
        record: dict[str, object] = {"email": email}
        if person.first or rng.random() < 0.5:
            record["firstName"] = person.first or None  # an explicit null now and then
        if person.last:
            record["lastName"] = person.last
        if person.phone:
            record["phone"] = person.phone
        record["tags"] = [t.lower().replace(" ", "-") for t in person.tags]
        metadata: dict[str, object] = {
            "plan": rng.choice(plans),
            "signupSource": rng.choice(sources),
        }
        if person.company:
            metadata["company"] = person.company
        record["metadata"] = metadata
        if status:
            record["status"] = status  # missing status means active (the seeds' default)
        record["createdAt"] = fmt_iso(person.created)
        lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
    return ("\n".join(lines) + "\n").encode("utf-8")


def hubspot_file(rng: random.Random, rows_in: list[tuple[Person, str, str]]) -> bytes:
    """HubSpot "All contacts" view export: UTF-8 BOM, every field quoted, LF."""
    rows: list[list[str]] = [HUBSPOT_HEADER]
    owners = ("Pat Owner", "Sam Seller", "", "")
    lead_status = ("New", "Open", "In Progress", "Connected", "Unqualified", "")
    for i, (person, email, status) in enumerate(rows_in):
        activity = rand_time(rng, person.created, AS_OF) if rng.random() < 0.6 else None
        rows.append(
            [
                str(51_234_567_800 + i), person.first, person.last, email, person.phone,
                person.company, person.job, rng.choice(owners), fmt_hubspot(activity),
                rng.choice(lead_status),
                "Non-marketing contact" if rng.random() < 0.15 else "Marketing contact",
                fmt_hubspot(person.created), "true" if status == "unsubscribed" else "",
                "UNKNOWN_USER" if status == "bounced" else "", person.company,
            ]
        )  # fmt: skip
    return ("\ufeff" + csv_text(rows, delimiter=",", newline="\n", quote_all=True)).encode("utf-8")


# ---------------------------------------------------------------- events


def events_file(rng: random.Random, uni: Universe) -> bytes:
    """The generic events table for every deliverable sample contact."""
    events: list[list[str]] = []

    def add(email: str, kind: str, when: datetime, campaign: str, machine: str = "") -> None:
        events.append([email, kind, fmt_iso(when), campaign, f"evt_{hex_id(rng, 12)}", machine])

    for campaign_id, _title, send in uni.campaigns:
        for person in uni.people:
            if person.created > send or rng.random() < 0.12:
                continue  # not on the list yet, or left out of this campaign's segment
            if person.status != "active" and person.status_time and person.status_time <= send:
                continue  # suppressed before this send
            # ESPs echo the address as stored; a few come back in another case.
            email = person.email.upper() if rng.random() < 0.03 else person.email
            sent_at = send + timedelta(seconds=rng.randrange(600))
            add(email, "send", sent_at, campaign_id)
            if (
                person.status == "bounced"
                and person.status_time
                and person.status_time <= send + timedelta(days=30)
            ):
                add(email, "bounce", sent_at + timedelta(seconds=rng.randrange(5, 90)), campaign_id)
                continue
            if rng.random() < 0.01:
                add(
                    email,
                    "soft_bounce",
                    sent_at + timedelta(seconds=rng.randrange(5, 90)),
                    campaign_id,
                )
                continue
            delivered = sent_at + timedelta(seconds=rng.randrange(1, 30))
            add(email, "delivered", delivered, campaign_id)
            if person.mpp:  # Apple MPP fetches every message right after delivery
                add(
                    email,
                    "open",
                    delivered + timedelta(seconds=rng.randrange(30, 900)),
                    campaign_id,
                    "true",
                )
            if rng.random() >= person.p_open:
                continue
            opened = delivered + timedelta(minutes=rng.randrange(5, 4 * 24 * 60))
            for _ in range(rng.choice((1, 1, 1, 2, 3))):  # re-opens count once per campaign
                add(email, "open", opened, campaign_id, "false")
                opened += timedelta(minutes=rng.randrange(1, 600))
            if rng.random() < 0.3:
                add(email, "click", opened + timedelta(seconds=rng.randrange(5, 300)), campaign_id)
            if rng.random() < 0.02:
                add(email, "reply", opened + timedelta(minutes=rng.randrange(10, 600)), campaign_id)
            if (
                person.status == "unsubscribed"
                and person.status_time
                and send <= person.status_time < send + timedelta(days=30)
            ):
                add(email, "unsubscribe", person.status_time, campaign_id)
            if (
                person.status == "complained"
                and person.status_time
                and send <= person.status_time < send + timedelta(days=30)
            ):
                add(email, "complaint", person.status_time, campaign_id)

    last_campaign = uni.campaigns[-1][0]
    last_send = uni.campaigns[-1][2]
    # Events with no campaign: transactional replies and a manual unsubscribe.
    actives = [p for p in uni.people if p.status == "active" and p.p_open > 0]
    for person in actives[:6]:
        add(person.email, "reply", rand_time(rng, AS_OF - timedelta(days=60), AS_OF), "")
    # Status changes that only the events know about.
    add(actives[10].email, "bounce", last_send + timedelta(minutes=3), last_campaign)
    add(actives[11].email, "complaint", last_send + timedelta(hours=5), last_campaign)
    add(actives[12].email, "unsubscribe", last_send + timedelta(hours=7), "")
    # Contacts the sample does not know.
    add("ghost.reader@example.net", "open", last_send + timedelta(hours=2), last_campaign, "false")
    add("former.staff@example.org", "click", last_send + timedelta(hours=3), last_campaign)
    # Webhook retries: the same event delivered twice (same event_id).
    for idx in (7, 140, 900, 2222):
        if idx < len(events):
            events.append(list(events[idx]))
    # One malformed timestamp (month 13) and one event after the as-of time.
    events.append(
        [
            actives[13].email,
            "open",
            "2026-13-02T10:00:00Z",
            last_campaign,
            "evt_badtimestamp1",
            "false",
        ]
    )
    events.append(
        [actives[14].email, "click", "2026-11-03T09:00:00Z", last_campaign, "evt_future000001", ""]
    )
    events.sort(key=lambda e: (e[2], e[4]))  # ESP exports are time ordered
    return csv_text([EVENTS_HEADER, *events], delimiter=",", newline="\n", quote_all=False).encode()


# ---------------------------------------------------------------- assembly


def build(rng: random.Random) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Return ({sample file name: bytes}, {events file name: bytes})."""
    people = build_people(rng, 300)
    uni = Universe(people=people, campaigns=make_campaigns(rng), audience_hex=hex_id(rng))

    # Slices of the universe; a person's primary file decides its status.
    subscribed = people[0:150]
    unsubscribed = people[150:172]
    cleaned = people[172:186]
    eu_only = [p for p in people[186:260] if fits_cp1252(p.first, p.last, p.company, p.email)]
    nd_only = people[260:290]
    hs_only = people[290:300]

    for person in unsubscribed:
        suppress(rng, person, "unsubscribed")
    for person in cleaned:
        suppress(rng, person, "bounced")

    # Hand-placed addresses.
    gmail = [
        special_person(rng, "Jane", "Doe", "jane.doe.sample@gmail.com", p_open=0.5),
        special_person(rng, "Jane", "Doe", "janedoesample@gmail.com"),  # same Gmail box, no dots
        special_person(rng, "Jane", "Doe", "jane.doe.sample+news@gmail.com"),  # plus tag
    ]
    typo = special_person(rng, "Tom", "Typo", "tom.typo.sample@gmial.com", p_open=0.0)
    typo2 = special_person(rng, "Lena", "Typo", "lena.typo.sample@hotmial.com", p_open=0.0)
    roles = [
        special_person(rng, "", "", "info@example.com"),
        special_person(rng, "", "", "sales@example.org", company="Sample Logistics Ltd"),
        special_person(rng, "Support", "Team", "support@example.net"),
    ]
    idn = [
        special_person(rng, "José", "Núñez", "josé@example.com"),
        special_person(rng, "Ute", "Bücher", "user@bücher.example"),
    ]
    cleaned_typo = special_person(rng, "Ola", "Typo", "ola.typo.sample@gmial.com", p_open=0.0)
    cleaned_typo.status, cleaned_typo.status_time = "bounced", AS_OF - timedelta(days=150)
    cleaned_typo.extra["notes"] = "Typo domain at signup"
    complained = special_person(rng, "Carl", "Complainer", "carl.complainer@example.net")
    complained.status, complained.status_time = "complained", AS_OF - timedelta(days=45)
    deliverable = [*gmail, typo, typo2, *roles, *idn, cleaned_typo, complained]
    uni.people = people + deliverable

    # Addresses that must end up in rejects.csv (not persons: no events).
    broken = ["ann@@example.com", "no-at-sign.example.com", "bob@", "x@localhost", "@example.org"]

    files: dict[str, bytes] = {}
    hx = uni.audience_hex

    # Mailchimp: subscribed gets the Gmail trio, typos, roles and IDN and two broken rows.
    sub_people = [*subscribed[:70], gmail[0], typo, roles[0], idn[0], *subscribed[70:]]
    sub_people[90:90] = [gmail[1], roles[1], typo2]
    files[f"subscribed_members_export_{hx}.csv"] = mailchimp_subscribed(rng, uni, sub_people)
    # Broken addresses are spliced in as text so the quoting stays exactly fputcsv's.
    files[f"subscribed_members_export_{hx}.csv"] = _splice_broken_mailchimp(
        files[f"subscribed_members_export_{hx}.csv"], broken[:3], rng
    )
    files[f"unsubscribed_members_export_{hx}.csv"] = mailchimp_unsubscribed(rng, uni, unsubscribed)
    files[f"cleaned_members_export_{hx}.csv"] = mailchimp_cleaned(
        rng, uni, [*cleaned, cleaned_typo]
    )

    # EU CRM: its own people, plus overlaps with Mailchimp in other spellings.
    eu_rows: list[tuple[Person, str, str]] = []
    eu_status = ("subscribed",) * 8 + ("active", "Subscribed", "unsubscribed", "opted_out", "")
    for person in eu_only:
        status = rng.choice(eu_status)
        eu_rows.append((person, person.email, status))
        if status in ("unsubscribed", "opted_out"):
            suppress(rng, person, "unsubscribed")
    overlap = [p for p in subscribed[5:150:6] if fits_cp1252(p.first, p.last, p.company, p.email)]
    for k, person in enumerate(overlap):
        eu_rows.insert(3 + 2 * k, (person, variant(rng, person.email, person.first), "subscribed"))
    # Mailchimp says unsubscribed; the CRM still says subscribed: suppression must win.
    for person in unsubscribed[:4]:
        eu_rows.insert(20, (person, person.email.capitalize(), "subscribed"))
    eu_rows.insert(7, (eu_only[0], eu_only[0].email.upper(), "subscribed"))  # dup within file
    eu_rows.insert(40, (idn[1], " " + idn[1].email, "subscribed"))
    eu_rows.insert(50, (special_person(rng, "Jürgen", "Weiß", ""), broken[3], "subscribed"))
    eu_rows.insert(55, (roles[2], roles[2].email, ""))
    files["crm_export_eu.csv"] = eu_file(rng, eu_rows)

    # NDJSON (MisarMail shape): its own people, overlaps, a complaint, zero-width chars.
    nd_rows: list[tuple[Person, str, str]] = []
    nd_status = ("active",) * 6 + ("", "unsubscribed")
    for person in nd_only:
        status = rng.choice(nd_status)
        nd_rows.append((person, person.email, status))
        if status == "unsubscribed":
            suppress(rng, person, "unsubscribed")
    for person in subscribed[2:150:15]:
        nd_rows.insert(4, (person, variant(rng, person.email, person.first), "active"))
    for person in subscribed[100:104]:  # unsubscribed in MisarMail, subscribed in Mailchimp
        nd_rows.append((person, person.email.upper(), "unsubscribed"))
    nd_rows.insert(10, (complained, complained.email, "complained"))
    nd_rows.insert(12, (gmail[2], gmail[2].email, "active"))
    nd_rows.insert(15, (nd_only[3], "\u200b" + nd_only[3].email, "active"))  # zero-width space
    nd_rows.insert(16, (nd_only[3], nd_only[3].email + ",", "active"))  # trailing comma
    nd_rows.insert(20, (special_person(rng, "Rita", "Broken", ""), broken[4], "active"))
    files["misarmail_contacts.ndjson"] = ndjson_file(nd_rows, rng)

    # HubSpot: its own people, a few overlaps, an opt-out, a hard bounce, formula-like cells.
    hs_rows: list[tuple[Person, str, str]] = [(p, p.email, "active") for p in hs_only]
    for person in subscribed[9:150:20]:
        hs_rows.append((person, variant(rng, person.email, person.first), "active"))
    for k, status in ((3, "unsubscribed"), (5, "bounced")):
        hs_rows[k] = (hs_rows[k][0], hs_rows[k][1], status)
        suppress(rng, hs_rows[k][0], status)
    formula = special_person(
        rng, "=1+2", "@Sample", "formula.sample@example.com", company="+Example Holdings"
    )
    hs_rows.insert(2, (formula, formula.email, "active"))
    uni.people.append(formula)
    files["hubspot-crm-exports-all-contacts-2026-10-28.csv"] = hubspot_file(rng, hs_rows)

    events = {"events.csv": events_file(rng, uni)}
    return files, events


def _splice_broken_mailchimp(data: bytes, broken: list[str], rng: random.Random) -> bytes:
    """Insert rows with unusable addresses at fixed lines of a Mailchimp file."""
    text = data.decode("utf-8")
    lines = text.split("\r\n")
    for n, address in enumerate(broken):
        fields = [address, "Broken", f"Row{n + 1}", "html", "2", "", "", "2025-05-05 05:05:05"]
        fields += [""] * 8 + ["2025-05-05 05:05:05", str(140_000_900 + n), hex_id(rng), "", ""]
        lines.insert(25 + 40 * n, php_fputcsv_line(fields))
    return "\r\n".join(lines).encode("utf-8")


def write_all(files: dict[str, bytes], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in sorted(files.items()):
        (directory / name).write_bytes(data)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, default=HERE / "sample")
    parser.add_argument("--events-dir", type=Path, default=HERE / "events")
    args = parser.parse_args(argv)
    sample, events = build(random.Random(SEED))
    write_all(sample, args.out_dir)
    write_all(events, args.events_dir)
    for directory, files in ((args.out_dir, sample), (args.events_dir, events)):
        for name, data in sorted(files.items()):
            lines = data.count(b"\n")
            print(f"{directory / name}: {lines} lines, {len(data)} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
