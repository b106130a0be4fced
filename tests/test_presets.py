"""Header presets: detection, column mapping, status derivation, tags, rule validation."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest
from paths import CORPORA

from listhygiene.errors import InputFileError, RulesError
from listhygiene.ingest.table import RawTable
from listhygiene.presets import (
    OUTPUT_COLUMNS,
    MappedTable,
    Preset,
    detect_preset,
    map_columns,
    parse_preset,
    split_tags_expr,
)
from listhygiene.ruleset import RuleSet, load_rules

EXPORTS = CORPORA / "exports"
MC = EXPORTS / "mailchimp"
MAILCHIMP_SYSTEM = next(
    csv.reader(["MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,GMTOFF,DSTOFF"])
)


@pytest.fixture
def presets(rules: RuleSet) -> dict[str, Preset]:
    return rules.presets


def make_table(source_file: str, header: list[str], rows: list[list[str]]) -> RawTable:
    """A RawTable as the readers build it: `__row` (header = row 1), empty cells null."""
    data: dict[str, pl.Series] = {
        "__row": pl.Series("__row", list(range(2, len(rows) + 2)), dtype=pl.Int64)
    }
    for i, name in enumerate(header):
        data[name] = pl.Series(name, [r[i] if r[i] != "" else None for r in rows], pl.String)
    return RawTable(
        source_file=source_file,
        format="csv",
        sha256="",
        size_bytes=0,
        columns=list(header),
        frame=pl.DataFrame(data),
    )


def read_csv(path: Path, source_file: str | None = None) -> RawTable:
    with path.open(encoding="utf-8-sig", newline="") as f:
        first = f.readline()
        f.seek(0)
        rows = list(csv.reader(f, delimiter=";" if first.count(";") > first.count(",") else ","))
    return make_table(source_file or str(path), rows[0], rows[1:])


def mapped(path: Path, presets: dict[str, Preset], source_file: str | None = None) -> MappedTable:
    table = read_csv(path, source_file)
    return map_columns(table, detect_preset(table.columns, table.source_file, presets))


def row(m: MappedTable, email: str) -> dict:
    """One output row by email, without the columns every row shares."""
    found = m.frame.filter(pl.col("email") == email).to_dicts()
    assert len(found) == 1
    return {k: v for k, v in found[0].items() if k != "source_file"}


def nulls(**values: object) -> dict:
    """A full expected row: every canonical column null except those given."""
    out = {c: None for c in OUTPUT_COLUMNS if c != "source_file"}
    out.update(values)
    return out


# --------------------------------------------------------------------------- loading


def test_builtin_presets_load(presets: dict[str, Preset]) -> None:
    assert sorted(presets) == [
        "brevo",
        "constant_contact",
        "generic",
        "hubspot",
        "klaviyo",
        "listmonk",
        "mailchimp",
        "mailerdash",
        "misarmail",
    ]
    assert presets["mailchimp"].tag_format == "quoted"
    assert presets["generic"].tag_separators == (";", "|", ",")
    assert presets["generic"].detect_columns == ()
    assert presets["brevo"].date_order == "DMY"


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("relpath", "expected"),
    [
        ("mailchimp/subscribed_members_export_4f8a2c9e1b.csv", "mailchimp"),
        ("mailchimp/unsubscribed_members_export_4f8a2c9e1b.csv", "mailchimp"),
        ("mailchimp/cleaned_members_export_4f8a2c9e1b.csv", "mailchimp"),
        ("hubspot/hubspot-crm-exports-all-contacts-2026-05-20.csv", "hubspot"),
        ("klaviyo/klaviyo-profiles-export.csv", "klaviyo"),
        ("brevo/brevo-contacts-export.csv", "brevo"),
        ("constant_contact/constant-contact-contacts-export.csv", "constant_contact"),
        ("listmonk/listmonk-import.csv", "listmonk"),
        ("listmonk/subscribers.csv", "listmonk"),
        ("mautic/mautic-contacts-import.csv", "generic"),
    ],
)
def test_detects_every_sample_export(presets: dict[str, Preset], relpath: str, expected: str):
    table = read_csv(EXPORTS / relpath)
    assert detect_preset(table.columns, table.source_file, presets).name == expected


def test_every_sample_export_file_is_covered() -> None:
    # The parametrised list above must grow with the corpus.
    assert len(list(EXPORTS.glob("*/*.csv"))) == 10


@pytest.mark.parametrize("path", sorted(EXPORTS.glob("*/*.csv")), ids=lambda p: p.name)
def test_every_sample_export_maps_its_addresses(presets: dict[str, Preset], path: Path) -> None:
    table = read_csv(path)
    m = map_columns(table, detect_preset(table.columns, str(path), presets))
    assert m.warnings == []
    assert m.frame.height == table.frame.height
    assert m.frame["email"].str.contains(r"^[a-z]+@example\.(org|com|net)$").all()
    assert m.frame["source_row"].to_list() == list(range(2, table.frame.height + 2))


def test_german_mailchimp_header_is_mailchimp(presets: dict[str, Preset]) -> None:
    # Verbatim header of a German-language audience (HEADERS.md 1.2).
    line = (
        'Emailadresse,Vorname,Nachname,"Erlaubnis zum Marketing",MEMBER_RATING,OPTIN_TIME,'
        "OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,"
        "LAST_CHANGED,LEID,EUID,NOTES,TAGS"
    )
    header = next(csv.reader([line]))
    assert detect_preset(header, "export.csv", presets).name == "mailchimp"
    cells = ["max@example.org", "Max", "Muster", "Ja", "2", "", "", "2021-02-03 04:05:06"]
    cells += [""] * (len(header) - len(cells))
    m = map_columns(
        make_table("subscribed_members_export_0a1b2c3d4e.csv", header, [cells]),
        presets["mailchimp"],
    )
    assert m.email_column == "Emailadresse"
    assert row(m, "max@example.org") == nulls(
        source_row=2,
        email="max@example.org",
        first_name="Max",
        last_name="Muster",
        status="subscribed",
        created_at="2021-02-03 04:05:06",
        custom_fields='{"Erlaubnis zum Marketing":"Ja","MEMBER_RATING":"2",'
        '"CONFIRM_TIME":"2021-02-03 04:05:06"}',
    )


def test_mailchimp_needs_three_system_columns(presets: dict[str, Preset]) -> None:
    assert detect_preset(["email", "LEID", "EUID"], "x.csv", presets).name == "generic"
    assert detect_preset(["email", "LEID", "EUID", "OPTIN_TIME"], "x.csv", presets).name == (
        "mailchimp"
    )


def test_detection_is_case_sensitive(presets: dict[str, Preset]) -> None:
    # firstName is MisarMail's spelling; first_name / firstname are anybody's.
    assert detect_preset(["email", "firstName", "lastName"], "x.csv", presets).name == "misarmail"
    assert detect_preset(["email", "firstname", "lastname"], "x.csv", presets).name == "generic"
    assert detect_preset(["email", "FIRSTNAME", "LASTNAME"], "x.csv", presets).name == "generic"


def test_seed_field_names_detect_their_presets(presets: dict[str, Preset]) -> None:
    seed000 = ["id", "email", "firstName", "lastName", "status", "score", "tags", "createdAt"]
    seed001 = ["id", "email", "firstName", "lastName", "status", "tags", "customFields"]
    seed001.append("created_at")
    seed004 = ["id", "email", "name", "metadata", "status", "key_id", "created_at", "updated_at"]
    assert detect_preset(seed000, "a.json", presets).name == "misarmail"
    assert detect_preset(seed001, "b.json", presets).name == "misarmail"
    assert detect_preset(seed004, "c.json", presets).name == "mailerdash"
    assert detect_preset(["email", "name", "metadata"], "d.json", presets).name == "mailerdash"


def test_highest_score_wins_and_ties_go_to_the_first_name() -> None:
    problems: list[str] = []

    def preset(name: str, cols: list[str]) -> Preset:
        doc = {"description": name, "detect": {"columns": cols}, "fields": {"email": ["email"]}}
        p = parse_preset(name, doc, f"{name}.toml", problems)
        assert p is not None
        return p

    ps = {p.name: p for p in (preset("zeta", ["A", "B"]), preset("alpha", ["A", "C"]))}
    ps["generic"] = preset("generic", ["never"])
    assert problems == []
    assert detect_preset(["email", "A", "B"], "x.csv", ps).name == "zeta"
    assert detect_preset(["email", "A"], "x.csv", ps).name == "alpha"  # 1:1 tie
    assert detect_preset(["email", "D"], "x.csv", ps).name == "generic"


def test_forced_preset_wins(presets: dict[str, Preset]) -> None:
    table = read_csv(MC / "subscribed_members_export_4f8a2c9e1b.csv")
    p = detect_preset(table.columns, table.source_file, presets, forced="generic")
    assert p.name == "generic"
    m = map_columns(table, p)
    assert m.preset == "generic"
    assert m.email_column == "Email Address"
    assert m.column_map["tags"] == "TAGS"
    assert row(m, "ann@example.org")["status"] is None  # no file-name rules in generic


def test_unknown_forced_preset_message(presets: dict[str, Preset]) -> None:
    with pytest.raises(InputFileError) as exc:
        detect_preset(["email"], "list.csv", presets, forced="mailchmp")
    assert str(exc.value) == (
        'Unknown preset "mailchmp" given with --preset; the known presets are brevo, '
        "constant_contact, generic, hubspot, klaviyo, listmonk, mailchimp, mailerdash, "
        "misarmail. To add one, put presets/mailchmp.toml in a folder passed with --rules."
    )


# --------------------------------------------------------------------------- Mailchimp


def test_mailchimp_subscribed_row(presets: dict[str, Preset]) -> None:
    m = mapped(MC / "subscribed_members_export_4f8a2c9e1b.csv", presets)
    assert m.preset == "mailchimp"
    assert m.column_map == {
        "email": "Email Address",
        "first_name": "First Name",
        "last_name": "Last Name",
        "tags": "TAGS",
        "created_at": "OPTIN_TIME",
        "last_changed": "LAST_CHANGED",
    }
    assert m.column_sources["created_at"] == ("OPTIN_TIME", "CONFIRM_TIME")
    assert row(m, "ann@example.org") == nulls(
        source_row=2,
        email="ann@example.org",
        first_name="Ann",
        last_name="Example",
        tags='"Customers","VIP"',
        status="subscribed",
        created_at="2024-03-14 09:12:31",
        last_changed="2024-05-02 17:20:45",
        custom_fields='{"EMAIL_TYPE":"html","MEMBER_RATING":"4","OPTIN_IP":"192.0.2.10",'
        '"CONFIRM_TIME":"2024-03-14 09:14:02","CONFIRM_IP":"192.0.2.10",'
        '"LATITUDE":"47.6062000","LONGITUDE":"-122.3321000","GMTOFF":"-8","DSTOFF":"-7",'
        '"TIMEZONE":"America/Los_Angeles","CC":"US","REGION":"WA","LEID":"140000101",'
        '"EUID":"3f9a1c0b7e"}',
    )
    # OPTIN_TIME empty: created_at falls back to CONFIRM_TIME
    bob = row(m, "bob@example.com")
    assert (bob["created_at"], bob["last_name"], bob["tags"]) == (
        "2023-11-02 08:00:00",
        "van Example",
        None,
    )
    assert json.loads(row(m, "cara@example.net")["custom_fields"])["NOTES"] == (
        "Met at booth 7, wants the Q3 catalogue"
    )


def test_mailchimp_unsubscribed_rows(presets: dict[str, Preset]) -> None:
    m = mapped(MC / "unsubscribed_members_export_4f8a2c9e1b.csv", presets)
    assert row(m, "ivo@example.net") == nulls(
        source_row=4,
        email="ivo@example.net",
        first_name="Ivo",
        last_name="Placeholder",
        company="Placeholder GmbH",
        tags='"Trade show 2022","Leads"',
        status="unsubscribed",
        status_reason="Other (fill in reason below): Too many emails, please, fewer",
        status_changed_at="2024-06-30 18:45:00",
        created_at="2021-03-03 08:00:00",
        custom_fields='{"MEMBER_RATING":"3","CONFIRM_TIME":"2021-03-03 08:00:00",'
        '"UNSUB_CAMPAIGN_TITLE":"Summer Sale 2024","UNSUB_CAMPAIGN_ID":"1a2b3c4d5e",'
        '"LEID":"140000203","EUID":"f6a7b8c9d0"}',
    )
    assert m.frame["status"].to_list() == ["unsubscribed"] * 5
    assert m.frame["status_reason"].to_list() == [
        "I no longer want to receive these emails",
        "N/A (Unsubscribed by an admin)",
        "Other (fill in reason below): Too many emails, please, fewer",
        None,
        "The emails are spam and should be reported",
    ]


def test_mailchimp_cleaned_rows(presets: dict[str, Preset]) -> None:
    m = mapped(MC / "cleaned_members_export_4f8a2c9e1b.csv", presets)
    assert m.frame["status"].to_list() == ["cleaned"] * 5
    assert m.frame["status_changed_at"].to_list() == [
        "2020-03-23 17:30:05",
        "2023-05-12 15:19:02",
        "2020-06-25 15:12:06",
        "2022-01-15 09:00:00",
        "2021-07-04 04:04:04",
    ]
    ned = row(m, "ned@example.net")
    assert (ned["created_at"], ned["tags"]) == ("2018-02-12 10:54:27", '"Editors","Leads"')
    assert json.loads(row(m, "ola@example.org")["custom_fields"])["NOTES"] == (
        "Typo domain at signup"
    )


@pytest.mark.parametrize(
    ("source_file", "status"),
    [
        ("audience.zip!unsubscribed_members_export_4f8a2c9e1b.csv", "unsubscribed"),
        ("C:\\exports\\CLEANED_members_export_4f8a2c9e1b.csv", "cleaned"),
        ("exports/nonsubscribed_members_export_4f8a2c9e1b.csv", "nonsubscribed"),
        ("exports/subscribed_segment_export_4f8a2c9e1b.csv", "subscribed"),
        # a renamed file: the CLEAN_* columns tell
        ("bounced-people.csv", "cleaned"),
    ],
)
def test_mailchimp_status_from_file_name_then_columns(
    presets: dict[str, Preset], source_file: str, status: str
) -> None:
    m = mapped(MC / "cleaned_members_export_4f8a2c9e1b.csv", presets, source_file=source_file)
    assert m.frame["status"].to_list() == [status] * 5


def test_mailchimp_renamed_files_status_from_columns(presets: dict[str, Preset]) -> None:
    unsub = mapped(MC / "unsubscribed_members_export_4f8a2c9e1b.csv", presets, "a.csv")
    sub = mapped(MC / "subscribed_members_export_4f8a2c9e1b.csv", presets, "b.csv")
    assert unsub.frame["status"].unique().to_list() == ["unsubscribed"]
    assert sub.frame["status"].unique().to_list() == ["subscribed"]


def test_mailchimp_localised_email_label_is_found_by_its_values(
    presets: dict[str, Preset],
) -> None:
    header = ["Courriel", "Prénom", *MAILCHIMP_SYSTEM, "LAST_CHANGED", "LEID", "EUID"]
    rows = [
        ["ann@example.org", "Ann", *[""] * 10],
        ["not an address", "Bob", *[""] * 10],
        ["Cara <cara@example.net>", "Cara", *[""] * 10],
    ]
    table = make_table("subscribed_members_export_4f8a2c9e1b.csv", header, rows)
    m = map_columns(table, detect_preset(header, table.source_file, presets))
    assert m.preset == "mailchimp"
    assert m.email_column == "Courriel"
    assert m.frame["email"].to_list() == [
        "ann@example.org",
        "not an address",
        "Cara <cara@example.net>",
    ]
    assert m.frame["custom_fields"].to_list() == [
        '{"Prénom":"Ann"}',
        '{"Prénom":"Bob"}',
        '{"Prénom":"Cara"}',
    ]
    assert m.warnings == [
        "subscribed_members_export_4f8a2c9e1b.csv: no header names the email address; using "
        "column 'Courriel', where 67% of the first 3 rows hold an address. Pass --preset or "
        "rename the column if this is wrong."
    ]


# --------------------------------------------------------------------------- HubSpot


def test_hubspot_row(presets: dict[str, Preset]) -> None:
    m = mapped(EXPORTS / "hubspot" / "hubspot-crm-exports-all-contacts-2026-05-20.csv", presets)
    assert row(m, "eve@example.com") == nulls(
        source_row=6,
        email="eve@example.com",
        first_name="Eve",
        last_name="O'Example",
        phone="555-0105",
        company='Demo "Quoted" GmbH',
        created_at="2025-03-09 07:30",
        external_id="51234567805",
        custom_fields='{"Contact owner":"Sam Seller","Primary Associated Company ID":"18200000105",'
        '"Last Activity Date":"2026-05-19 19:47","Lead Status":"Connected",'
        '"Marketing contact status":"Marketing contact"}',
    )
    assert row(m, "finn@example.org")["custom_fields"] == (
        '{"Marketing contact status":"Marketing contact"}'
    )


def test_hubspot_status_from_opt_out_and_bounce_columns(presets: dict[str, Preset]) -> None:
    header = [
        "Record ID", "Email", "Create Date", "Email hard bounce reason",
        "Invalid email address", "Unsubscribed from all email",
    ]  # fmt: skip
    rows = [
        ["1", "a@example.org", "2024-01-01 10:00", "", "", ""],
        ["2", "b@example.org", "2024-01-01 10:00", "", "", "true"],
        ["3", "c@example.org", "2024-01-01 10:00", "UNKNOWN_USER", "", "true"],
        ["4", "d@example.org", "2024-01-01 10:00", "", "Yes", ""],
        ["5", "e@example.org", "2024-01-01 10:00", "", "false", "false"],
    ]
    table = make_table("hubspot-crm-exports-all-contacts-2026-05-20.csv", header, rows)
    m = map_columns(table, detect_preset(header, table.source_file, presets))
    assert m.preset == "hubspot"
    assert m.frame["status"].to_list() == [None, "unsubscribed", "bounced", "bounced", None]
    assert m.frame["status_reason"].to_list() == [None, None, "UNKNOWN_USER", None, None]
    assert m.frame["custom_fields"].to_list() == [None] * 5  # flag columns are consumed


# --------------------------------------------------------------------------- Klaviyo


def test_klaviyo_rows(presets: dict[str, Preset]) -> None:
    m = mapped(EXPORTS / "klaviyo" / "klaviyo-profiles-export.csv", presets)
    assert m.frame["status"].to_list() == [
        "SUBSCRIBED",
        "NEVER_SUBSCRIBED",
        "UNSUBSCRIBED",
        "SUBSCRIBED",
        "NEVER_SUBSCRIBED",
        "SUBSCRIBED",
    ]
    assert row(m, "eve@example.com") == nulls(
        source_row=6,
        email="eve@example.com",
        first_name="Eve",
        last_name="O'Example",
        source="API",
        status="NEVER_SUBSCRIBED",
        created_at="2024-11-11 11:11:11",
        external_id="01HV3K8Q2W5X7Y9Z1A2B3C4D5J",
        custom_fields='{"Date Added":"2024-11-11 11:11:11"}',
    )
    finn = row(m, "finn@example.org")
    assert (finn["first_name"], finn["last_name"], finn["company"], finn["status_changed_at"]) == (
        "Zoë",
        "Ångström",
        'Demo "Quoted" AB',
        "2023-03-03 03:03:03",
    )


def test_klaviyo_suppressions_outrank_consent(presets: dict[str, Preset]) -> None:
    header = ["Email", "Klaviyo ID", "Email Marketing Consent", "Email Suppressions"]
    cells = ["", "HARD_BOUNCE", "SPAM_COMPLAINT", "Unsubscribed", "USER_SUPPRESSED",
             "INVALID_EMAIL", "SOMETHING_NEW", "HARD_BOUNCE, SPAM_COMPLAINT"]  # fmt: skip
    rows = [[f"p{i}@example.org", f"id{i}", "SUBSCRIBED", c] for i, c in enumerate(cells)]
    m = map_columns(make_table("k.csv", header, rows), detect_preset(header, "k.csv", presets))
    assert m.preset == "klaviyo"
    assert m.frame["status"].to_list() == [
        "SUBSCRIBED",
        "HARD_BOUNCE",
        "SPAM_COMPLAINT",
        "UNSUBSCRIBE",
        "USER_SUPPRESSED",
        "INVALID_EMAIL",
        "SOMETHING_NEW",
        "SPAM_COMPLAINT",
    ]


# --------------------------------------------------------------------------- JSON-style presets


def test_listmonk_attributes_become_custom_fields(presets: dict[str, Preset]) -> None:
    m = mapped(EXPORTS / "listmonk" / "subscribers.csv", presets)
    assert row(m, "cara@example.net") == nulls(
        source_row=4,
        email="cara@example.net",
        first_name="Cara Placeholder",
        status="blocklisted",
        created_at="2026-05-01 10:11:12.34568 +0000 UTC",
        last_changed="2026-05-20 17:45:00.5 +0000 UTC",
        external_id="7f2d8b9a-4e3c-4d5f-9a0b-2c3d4e5f6071",
        custom_fields='{"tags":["trade-show","leads"]}',
    )
    assert row(m, "bob@example.com")["custom_fields"] is None  # {} is no custom field
    imp = mapped(EXPORTS / "listmonk" / "listmonk-import.csv", presets)
    assert imp.frame["custom_fields"].to_list() == [
        '{"city":"Seattle","plan":"pro"}',
        None,
        '{"tags":["trade-show","leads"],"optin_time":"2022-06-30 21:45:10"}',
        '{"age":42}',
        '{"source":"mailchimp"}',
    ]


def test_misarmail_seed_fields(presets: dict[str, Preset]) -> None:
    header = ["id", "email", "firstName", "lastName", "status", "score", "tags", "createdAt",
              "metadata"]  # fmt: skip
    rows = [
        ["con_01ABCDEF", "alice@example.com", "Alice", "Smith", "active", "82",
         '["customer", "vip"]', "2025-01-15T08:00:00Z",
         '{"plan": "pro", "signupSource": "landing-page"}'],
        ["con_02", "bob@example.com", "", "", "", "", "newsletter", "", "not json"],
    ]  # fmt: skip
    table = make_table("contacts.json", header, rows)
    p = detect_preset(header, "contacts.json", presets)
    m = map_columns(table, p)
    assert m.preset == "misarmail"
    assert row(m, "alice@example.com") == nulls(
        source_row=2,
        email="alice@example.com",
        first_name="Alice",
        last_name="Smith",
        tags='["customer", "vip"]',
        status="active",
        created_at="2025-01-15T08:00:00Z",
        external_id="con_01ABCDEF",
        custom_fields='{"score":"82","plan":"pro","signupSource":"landing-page"}',
    )
    assert row(m, "bob@example.com")["custom_fields"] == '{"metadata":"not json"}'
    tags = m.frame.select(split_tags_expr(p))["tags"].to_list()
    assert tags == [["customer", "vip"], ["newsletter"]]


def test_misarmail_custom_fields_column(presets: dict[str, Preset]) -> None:
    header = ["email", "firstName", "lastName", "customFields", "created_at"]
    rows = [["jane@example.com", "Jane", "Doe", '{"plan": "pro"}', "2026-01-15T10:00:00Z"]]
    m = map_columns(make_table("c.csv", header, rows), detect_preset(header, "c.csv", presets))
    assert (m.preset, m.column_map["custom_fields"], m.column_map["created_at"]) == (
        "misarmail",
        "customFields",
        "created_at",
    )
    assert m.frame["custom_fields"].to_list() == ['{"plan":"pro"}']


def test_mailerdash_keeps_name_whole(presets: dict[str, Preset]) -> None:
    header = ["id", "email", "name", "metadata", "status", "key_id", "created_at", "updated_at"]
    rows = [["7", "ana@example.com", "Ana García López", '{"plan": "pro"}', "active", "key_1",
             "2026-04-01T10:00:00Z", "2026-04-15T14:22:00Z"]]  # fmt: skip
    m = map_columns(make_table("md.json", header, rows), detect_preset(header, "md.json", presets))
    assert m.preset == "mailerdash"
    assert row(m, "ana@example.com") == nulls(
        source_row=2,
        email="ana@example.com",
        first_name="Ana García López",
        status="active",
        created_at="2026-04-01T10:00:00Z",
        last_changed="2026-04-15T14:22:00Z",
        external_id="7",
        custom_fields='{"key_id":"key_1","plan":"pro"}',
    )


# --------------------------------------------------------------------------- generic


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("E-mail", "email"),
        ("email_address", "email"),
        ("EmailAddress", "email"),
        ("Email Address", "email"),
        ("EMAIL", "email"),
        ("fname", "first_name"),
        ("Given Name", "first_name"),
        ("First-Name", "first_name"),
        ("surname", "last_name"),
        ("family_name", "last_name"),
        ("Mobile", "phone"),
        ("Telephone", "phone"),
        ("Organisation", "company"),
        ("Position", "job_title"),
        ("Job Title", "job_title"),
        ("Date Added", "created_at"),
        ("updatedAt", "last_changed"),
        ("Record ID", "external_id"),
        ("Tag", "tags"),
        ("Subscription Status", "status"),
        ("Firma", "company"),
        ("Telefon", "phone"),
        ("Erstellt am", "created_at"),
    ],
)
def test_generic_synonyms(presets: dict[str, Preset], header: str, field: str) -> None:
    cols = [header] if field == "email" else ["email", header]
    cells = ["x@example.org"] if field == "email" else ["x@example.org", "value"]
    table = make_table("list.csv", cols, [cells])
    p = detect_preset(cols, "list.csv", presets)
    assert p.name == "generic"
    m = map_columns(table, p)
    assert m.column_map[field] == header
    assert m.frame[field].to_list() == [cells[-1]]
    assert m.frame["custom_fields"].to_list() == [None]


def test_generic_alias_order_beats_file_order(presets: dict[str, Preset]) -> None:
    header = ["Name", "Phone", "First Name", "Mobile", "Email"]
    rows = [
        ["Ann Example", "+1 555 0100", "Ann", "+1 555 0199", "ann@example.org"],
        ["Bob Sample", "", "", "+1 555 0200", "bob@example.org"],
    ]
    m = map_columns(make_table("l.csv", header, rows), presets["generic"])
    assert m.column_map == {"email": "Email", "first_name": "First Name", "phone": "Phone"}
    assert m.column_sources == {
        "email": ("Email",),
        "first_name": ("First Name",),
        "phone": ("Phone",),
    }
    assert m.custom_columns == ("Name", "Mobile")
    # "first" takes one column: an empty cell there is not filled from another alias
    assert m.frame.select("first_name", "phone", "custom_fields").rows() == [
        ("Ann", "+1 555 0100", '{"Name":"Ann Example","Mobile":"+1 555 0199"}'),
        (None, None, '{"Name":"Bob Sample","Mobile":"+1 555 0200"}'),
    ]


def test_generic_exact_header_beats_a_normalised_one(presets: dict[str, Preset]) -> None:
    header = ["E-Mail", "email"]
    rows = [["old@example.org", "new@example.org"]]
    m = map_columns(make_table("l.csv", header, rows), presets["generic"])
    assert m.email_column == "email"
    assert m.frame["custom_fields"].to_list() == ['{"E-Mail":"old@example.org"}']


def test_generic_single_name_goes_to_first_name(presets: dict[str, Preset]) -> None:
    m = map_columns(
        make_table("l.csv", ["email", "Full Name"], [["a@example.org", "Ann Example"]]),
        presets["generic"],
    )
    assert (m.frame["first_name"].to_list(), m.frame["last_name"].to_list()) == (
        ["Ann Example"],
        [None],
    )


def test_generic_social_and_custom_json(presets: dict[str, Preset]) -> None:
    header = ["email", "LinkedIn", "twitter", "social_profiles", "custom_fields", "plan", "note"]
    rows = [
        ["a@example.org", "https://linkedin.example/in/a", "", '{"youtube": "@a"}',
         '{"plan": "enterprise", "seats": 5}', "pro", 'He said "hi"\nbye'],
        ["b@example.org", "", "@b", "@b-not-json", "[1, 2]", "", ""],
        ["c@example.org", "", "", "", "{}", "", ""],
    ]  # fmt: skip
    m = map_columns(make_table("l.csv", header, rows), presets["generic"])
    assert m.frame["social_profiles"].to_list() == [
        '{"linkedin":"https://linkedin.example/in/a","youtube":"@a"}',
        '{"twitter":"@b"}',
        None,
    ]
    # the JSON column's value wins a key clash; non-object cells are kept as text
    assert m.frame["custom_fields"].to_list() == [
        '{"plan":"enterprise","note":"He said \\"hi\\"\\nbye","seats":5}',
        '{"social_profiles":"@b-not-json","custom_fields":"[1, 2]"}',
        None,
    ]
    assert json.loads(m.frame["custom_fields"][0]) == {
        "plan": "enterprise",
        "note": 'He said "hi"\nbye',
        "seats": 5,
    }


def test_custom_fields_escape_any_text(presets: dict[str, Preset]) -> None:
    header = ["email", 'odd "key"\\', "ctl"]
    rows = [["a@example.org", "back\\slash ünï", "tab\there\x01"]]
    m = map_columns(make_table("l.csv", header, rows), presets["generic"])
    text = m.frame["custom_fields"][0]
    assert text == '{"odd \\"key\\"\\\\":"back\\\\slash ünï","ctl":"tab\\u0009here\\u0001"}'
    assert json.loads(text) == {'odd "key"\\': "back\\slash ünï", "ctl": "tab\there\x01"}


def test_frame_has_the_canonical_columns_and_types(presets: dict[str, Preset]) -> None:
    m = map_columns(make_table("l.csv", ["email"], [["a@example.org"]]), presets["generic"])
    assert m.frame.columns == list(OUTPUT_COLUMNS)
    assert m.frame.columns[:3] == ["source_file", "source_row", "email"]
    assert m.frame.columns[-2:] == ["social_profiles", "custom_fields"]
    assert dict(m.frame.schema) == {
        c: (pl.Int64 if c == "source_row" else pl.String) for c in OUTPUT_COLUMNS
    }
    assert m.frame.row(0) == ("l.csv", 2, "a@example.org", *[None] * 15)


def test_empty_table_maps_to_no_rows(presets: dict[str, Preset]) -> None:
    m = map_columns(make_table("l.csv", ["email", "x"], []), presets["generic"])
    assert (m.frame.height, m.frame.columns) == (0, list(OUTPUT_COLUMNS))


# --------------------------------------------------------------------------- no email column


def test_no_email_column_message(presets: dict[str, Preset]) -> None:
    table = make_table("people.csv", ["a", "b", "c"], [["1", "2", "3"]])
    with pytest.raises(InputFileError) as exc:
        map_columns(table, detect_preset(table.columns, table.source_file, presets))
    assert str(exc.value) == (
        "people.csv: no column can be the email address (columns: a, b, c). Rename the email "
        'column to "email", pass --preset NAME, or add a preset under rules/presets/.'
    )


def test_no_email_column_message_truncates_long_headers(presets: dict[str, Preset]) -> None:
    header = [f"col{i}" for i in range(12)] + ["x" * 50]
    table = make_table("wide.csv", header, [["v"] * 13])
    with pytest.raises(InputFileError) as exc:
        map_columns(table, presets["generic"])
    assert str(exc.value) == (
        "wide.csv: no column can be the email address (columns: col0, col1, col2, col3, col4, "
        'col5, col6, col7, col8, col9 and 3 more). Rename the email column to "email", pass '
        "--preset NAME, or add a preset under rules/presets/."
    )


def test_sniffing_needs_half_the_rows(presets: dict[str, Preset]) -> None:
    rows = [["a@example.org"], ["x"], ["y"]]
    with pytest.raises(InputFileError):
        map_columns(make_table("l.csv", ["contact"], rows), presets["generic"])
    m = map_columns(make_table("l.csv", ["contact"], rows[:2]), presets["generic"])
    assert m.email_column == "contact"


# --------------------------------------------------------------------------- tags


@pytest.mark.parametrize(
    ("preset", "cells", "expected"),
    [
        (
            "mailchimp",
            ['"Customers","VIP"', '"Editors"', "Editors", '"A, B" , "C"', "x,y", "", None, '""'],
            [
                ["Customers", "VIP"],
                ["Editors"],
                ["Editors"],
                ["A, B", "C"],
                ["x", "y"],
                [],
                None,
                [],
            ],
        ),
        (
            "generic",
            [
                "a; b|c ,d",
                '["x", "y z"]',
                " ; ,",
                "solo",
                '["q\\"uote", "ü"]',
                "[not json",
                "[1, 2]",
            ],
            [
                ["a", "b", "c", "d"],
                ["x", "y z"],
                [],
                ["solo"],
                ['q"uote', "ü"],
                ["[not json"],
                ["1", "2"],
            ],
        ),
    ],
)
def test_split_tags(presets: dict[str, Preset], preset: str, cells: list, expected: list) -> None:
    frame = pl.DataFrame({"tags": pl.Series(cells, dtype=pl.String)})
    out = frame.select(split_tags_expr(presets[preset]))
    assert out.schema["tags"] == pl.List(pl.String)
    assert out["tags"].to_list() == expected


# --------------------------------------------------------------------------- parse_preset


def test_parse_preset_collects_every_problem() -> None:
    doc = {
        "descripton": "typo",
        "detect": {"columns": ["A"], "min_matches": 2},
        "fields": {
            "emial": ["Email"],
            "first_name": "First Name",
            "created_at": {"columns": ["X", "Y"], "combine": "latest"},
            "custom_fields": {"columns": ["m"], "combine": "join"},
        },
        "status": [
            {"column": "S", "value": "x", "value_from": "S", "in": ["a"]},
            {"file_name": "a_*"},
            {"column": "S", "matches": "(unclosed", "value": "y"},
            {"column": "S", "value": "z"},
        ],
        "tags": {"format": "csv"},
        "date_order": "DDMM",
    }
    problems: list[str] = []
    assert parse_preset("Bad Name", doc, "x/presets/Bad Name.toml", problems) is None
    w = "x/presets/Bad Name.toml: "
    keys = "description, detect, fields, status, tags, social, ignore, date_order"
    fields = (
        "email, first_name, last_name, phone, company, job_title, tags, source, status, "
        "status_reason, status_changed_at, created_at, last_changed, external_id, "
        "social_profiles, custom_fields"
    )
    assert problems == [
        w + "the preset name 'Bad Name' (the file name) must use lower-case letters, digits, "
        "'_' and '-' only; rename the file.",
        w + f"unknown key `descripton`; a preset has only {keys}.",
        w + "`description` must be a non-empty string saying which export the preset reads.",
        w + f"[fields] has unknown field `emial`; the fields are {fields}.",
        w + "`fields.first_name` must be a list of header names or a table with `columns`.",
        w + "`fields.created_at.combine` must be one of first, coalesce, join, not 'latest'.",
        w + "`fields.custom_fields.combine` cannot be join: custom_fields cells are JSON objects.",
        w + "[fields] must list `email`, the headers that can hold the address.",
        w + "`detect.min_matches` is 2 but `detect.columns` lists only 1 headers.",
        w + "[[status]] rule 1 needs exactly one of `value` and `value_from`.",
        w + "[[status]] rule 2 needs exactly one of `value` and `value_from`.",
        w + "[[status]] rule 3: `matches` '(unclosed' is not a valid regular expression.",
        w + "[[status]] rule 4: `column` needs exactly one test of present, not_empty, in, "
        "matches.",
        w + "`tags.format` must be one of quoted, delimited, not 'csv'.",
        w + "`date_order` must be one of DMY, MDY, YMD, not 'DDMM'.",
    ]


def test_parse_preset_accepts_a_minimal_preset() -> None:
    problems: list[str] = []
    p = parse_preset("crm", {"description": "CRM", "fields": {"email": ["Mail"]}}, "c", problems)
    assert problems == []
    assert p is not None
    assert (p.name, p.detect_columns, p.status_rules, p.tag_format) == ("crm", (), (), "delimited")
    assert p.fields["email"].columns == ("Mail",)
    assert p.fields["email"].combine == "first"


def test_user_preset_from_rules_folder(tmp_path: Path) -> None:
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "crm.toml").write_text(
        'description = "Our CRM"\n'
        '[detect]\ncolumns = ["CRM_ID", "CRM_OWNER"]\nmin_matches = 2\n'
        '[fields]\nemail = ["Mail"]\nexternal_id = ["CRM_ID"]\n'
        '[[status]]\ncolumn = "Opted Out"\nin = ["Y"]\nvalue = "unsubscribed"\n',
        encoding="utf-8",
    )
    rules = load_rules(tmp_path)
    header = ["CRM_ID", "CRM_OWNER", "Mail", "Opted Out"]
    p = detect_preset(header, "crm.csv", rules.presets)
    assert p.name == "crm"
    rows = [["1", "me", "a@example.org", "y"], ["2", "me", "b@example.org", "N"]]
    m = map_columns(make_table("crm.csv", header, rows), p)
    assert m.frame.select("external_id", "status", "custom_fields").rows() == [
        ("1", "unsubscribed", '{"CRM_OWNER":"me"}'),
        ("2", None, '{"CRM_OWNER":"me"}'),
    ]


def test_broken_user_preset_is_reported_by_load_rules(tmp_path: Path) -> None:
    (tmp_path / "presets").mkdir()
    bad = tmp_path / "presets" / "crm.toml"
    bad.write_text('description = "x"\nextra = 1\n[fields]\nmail = ["Mail"]\n', encoding="utf-8")
    with pytest.raises(RulesError) as exc:
        load_rules(tmp_path)
    assert exc.value.problems == [
        f"{bad}: unknown key `extra`; a preset has only description, detect, fields, status, "
        "tags, social, ignore, date_order.",
        f"{bad}: [fields] has unknown field `mail`; the fields are email, first_name, last_name, "
        "phone, company, job_title, tags, source, status, status_reason, status_changed_at, "
        "created_at, last_changed, external_id, social_profiles, custom_fields.",
        f"{bad}: [fields] must list `email`, the headers that can hold the address.",
    ]


def test_ignore_drops_columns_on_purpose() -> None:
    problems: list[str] = []
    doc = {"description": "x", "fields": {"email": ["email"]}, "ignore": ["internal_note"]}
    p = parse_preset("x", doc, "x.toml", problems)
    assert p is not None
    header = ["email", "Internal Note", "keep"]
    m = map_columns(make_table("l.csv", header, [["a@example.org", "secret", "k"]]), p)
    assert m.frame["custom_fields"].to_list() == ['{"keep":"k"}']
