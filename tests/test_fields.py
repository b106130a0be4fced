"""Field rules: limits with both policies, text cleaning, phones, dates, tags, statuses."""

from __future__ import annotations

import copy
import dataclasses
import json
import tempfile
import tomllib
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import phonenumbers
import polars as pl
import pytest

from listhygiene import fields as fields_module
from listhygiene.errors import ListHygieneError
from listhygiene.fields import (
    ISSUE_SCHEMA,
    OUTPUT_SCHEMA,
    FieldRules,
    StatusRules,
    normalize_fields,
    parse_field_rules,
    parse_status_rules,
)
from listhygiene.ingest import expand_paths, read_inputs
from listhygiene.presets import OUTPUT_COLUMNS, Preset, detect_preset, map_columns
from listhygiene.ruleset import RuleSet

ROOT = Path(__file__).resolve().parents[1]
FIELDS_TOML = ROOT / "rules" / "fields.toml"
STATUSES_TOML = ROOT / "rules" / "statuses.toml"


def fields_doc() -> dict[str, Any]:
    return tomllib.loads(FIELDS_TOML.read_text("utf-8"))


def statuses_doc() -> dict[str, Any]:
    return tomllib.loads(STATUSES_TOML.read_text("utf-8"))


def field_rules(doc: dict[str, Any] | None = None) -> FieldRules:
    problems: list[str] = []
    parsed = parse_field_rules(doc if doc is not None else fields_doc(), "fields.toml", problems)
    assert problems == []
    return parsed


def status_rules(doc: dict[str, Any] | None = None) -> StatusRules:
    problems: list[str] = []
    parsed = parse_status_rules(
        doc if doc is not None else statuses_doc(), "statuses.toml", problems
    )
    assert problems == []
    return parsed


def with_policy(table: str, key: str = "policy", value: str = "reject") -> FieldRules:
    doc = fields_doc()
    doc[table][key] = value
    return field_rules(doc)


def mapped(**columns: list[Any]) -> pl.DataFrame:
    """A mapped frame (all String but source_row) with the given columns, others null."""
    n = max(len(v) for v in columns.values())
    data: dict[str, list[Any]] = {c: [None] * n for c in OUTPUT_COLUMNS}
    data["source_file"] = ["in.csv"] * n
    data["source_row"] = list(range(2, n + 2))
    data.update(columns)
    schema = {c: pl.Int64 if c == "source_row" else pl.String for c in OUTPUT_COLUMNS}
    return pl.DataFrame(data, schema=schema)


@pytest.fixture(scope="module")
def generic(rules: RuleSet) -> Preset:
    return rules.presets["generic"]


def run(
    frame: pl.DataFrame,
    preset: Preset,
    fields: FieldRules | None = None,
    statuses: StatusRules | None = None,
    region: str | None = None,
) -> fields_module.NormalizedFields:
    return normalize_fields(
        frame, preset, fields or field_rules(), statuses or status_rules(), region
    )


def issue_rows(result: fields_module.NormalizedFields) -> list[tuple[Any, ...]]:
    return result.issues.select("source_row", "field", "reason", "action").rows()


# --------------------------------------------------------------------------- rules files


def test_default_field_rules_are_the_seed_limits_and_all_fix() -> None:
    rules = field_rules()
    assert {k: (v.max_chars, v.policy) for k, v in rules.text.items()} == {
        "first_name": (100, "fix"),
        "last_name": (100, "fix"),
        "phone": (50, "fix"),
        "company": (150, "fix"),
        "job_title": (100, "fix"),
        "source": (100, "fix"),
    }
    assert (rules.max_tags, rules.tags_policy) == (50, "fix")
    assert (rules.max_custom_keys, rules.max_custom_bytes, rules.custom_fields_policy) == (
        20,
        8192,
        "fix",
    )
    assert rules.social_networks == (
        "linkedin",
        "twitter",
        "instagram",
        "telegram",
        "whatsapp",
        "reddit",
        "youtube",
    )
    assert (rules.max_social_chars, rules.social_policy, rules.unknown_social_policy) == (
        500,
        "fix",
        "fix",
    )


def test_default_rules_load_from_the_installed_package() -> None:
    assert fields_module.default_field_rules() == field_rules()
    assert fields_module.default_status_rules() == status_rules()


def test_parse_field_rules_collects_every_problem() -> None:
    doc = fields_doc()
    doc["first_name"]["max_chars"] = 0
    doc["last_name"]["policy"] = "truncate"
    doc["company"]["colour"] = "red"
    del doc["job_title"]["max_chars"]
    del doc["source"]
    doc["tags"]["max_count"] = "50"
    doc["custom_fields"]["max_bytes"] = True
    doc["social_profiles"]["networks"] = ["linkedin", "LinkedIn", "linkedin"]
    doc["social_profiles"]["unknown_policy"] = "drop"
    doc["email"] = {"max_chars": 254}
    problems: list[str] = []
    parsed = parse_field_rules(doc, "my/fields.toml", problems)
    assert problems == [
        "my/fields.toml: unknown table [email]; the tables are [first_name], [last_name], [phone], [company], [job_title], [source], [tags], [custom_fields], [social_profiles].",
        "my/fields.toml [first_name]: `max_chars` must be a whole number of at least 1, not 0.",
        'my/fields.toml [last_name]: `policy` must be "fix" (change the value to fit and warn) or "reject" (reject the row), not \'truncate\'.',
        "my/fields.toml [company]: unknown key `colour`; the keys are max_chars and policy.",
        "my/fields.toml [job_title]: missing key `max_chars`; add it.",
        "my/fields.toml: missing table [source]; add it (the default file has it).",
        "my/fields.toml [tags]: `max_count` must be a whole number of at least 1, not '50'.",
        "my/fields.toml [custom_fields]: `max_bytes` must be a whole number of at least 2, not True.",
        "my/fields.toml [social_profiles]: `networks` must be a non-empty list of lower-case network names (letters, digits, '_'), not ['linkedin', 'LinkedIn', 'linkedin'].",
        'my/fields.toml [social_profiles]: `unknown_policy` must be "fix" (change the value to fit and warn) or "reject" (reject the row), not \'drop\'.',
    ]
    # never raises, and what could not be read falls back to the defaults
    assert parsed.text["first_name"].max_chars == 100
    assert parsed.text["source"].max_chars == 100


def test_parse_field_rules_reports_duplicate_networks() -> None:
    doc = fields_doc()
    doc["social_profiles"]["networks"] = ["linkedin", "mastodon", "linkedin"]
    problems: list[str] = []
    parsed = parse_field_rules(doc, "f.toml", problems)
    assert problems == ["f.toml [social_profiles]: `networks` lists linkedin more than once."]
    assert parsed.social_networks == ("linkedin", "mastodon")


def test_default_status_rules_parse() -> None:
    rules = status_rules()
    assert rules.mapping["cleaned"] == "bounced"
    assert rules.mapping["never_subscribed"] == "active"
    assert {r.reason for r in rules.rejected.values()} == {
        "status_pending",
        "status_archived",
        "status_nonsubscribed",
    }


def test_parse_status_rules_collects_every_problem() -> None:
    doc = statuses_doc()
    doc["map"]["gold"] = ["vip"]
    doc["map"]["active"].append("Opted-In")  # same key as opted_in
    doc["map"]["bounced"] = "bounced"
    doc["reject"]["status_pending"]["extra"] = 1
    doc["reject"]["Bad Code"] = {"values": ["x"], "meaning": "x"}
    doc["reject"]["status_archived"]["meaning"] = ""
    doc["reject"]["status_unknown"] = {"values": ["y"], "meaning": "y"}
    doc["reject"]["status_nonsubscribed"]["values"].append("subscribed")
    doc["colours"] = {}
    problems: list[str] = []
    parse_status_rules(doc, "s.toml", problems)
    assert problems == [
        "s.toml: unknown table [colours]; the tables are [map] and [reject.CODE].",
        """s.toml: "Opted-In" is listed in [map] active and again in [map] active (values are compared ignoring case, spaces, '-' and '_'); keep one.""",
        "s.toml [map] bounced: the values must be a list of non-empty strings.",
        "s.toml [map]: unknown status `gold`; a value can only map to active, unsubscribed, bounced, complained.",
        "s.toml [reject.status_pending]: unknown key `extra`; the keys are values and meaning.",
        's.toml [reject.status_archived]: `meaning` must be a non-empty string saying what the values mean (it completes "status: "x" means ...").',
        """s.toml: "subscribed" is listed in [map] active and again in [reject.status_nonsubscribed] (values are compared ignoring case, spaces, '-' and '_'); keep one.""",
        "s.toml [reject.Bad Code]: the reason code must be snake_case (lower-case letters, digits, '_') and not status_unknown; rename the table.",
        "s.toml [reject.status_unknown]: the reason code must be snake_case (lower-case letters, digits, '_') and not status_unknown; rename the table.",
    ]


def test_parse_status_rules_needs_map() -> None:
    problems: list[str] = []
    rules = parse_status_rules({}, "s.toml", problems)
    assert problems == [
        "s.toml: missing table [map]; it lists the values that mean each of active, unsubscribed, bounced, complained."
    ]
    assert rules.mapping == {} and rules.rejected == {}


# --------------------------------------------------------------------------- output shape


def test_output_schema_row_order_and_email_untouched(generic: Preset) -> None:
    frame = mapped(email=["  A@Example.COM ", "not an email", None], first_name=["b", "a", "c"])
    result = run(frame.reverse(), generic)
    assert result.frame.schema == pl.Schema(OUTPUT_SCHEMA)
    assert result.issues.schema == pl.Schema(ISSUE_SCHEMA)
    assert result.frame["email"].to_list() == [None, "not an email", "  A@Example.COM "]
    assert result.frame["first_name"].to_list() == ["c", "a", "b"]
    assert result.frame["source_row"].to_list() == [4, 3, 2]
    assert result.frame["status"].to_list() == ["active", "active", "active"]
    assert result.issues.height == 0


def test_empty_frame(generic: Preset) -> None:
    frame = mapped(email=[]).clear()
    result = run(frame, generic)
    assert result.frame.height == 0 and result.issues.height == 0
    assert result.frame.schema == pl.Schema(OUTPUT_SCHEMA)


def test_missing_input_column_is_a_programming_error(generic: Preset) -> None:
    with pytest.raises(ValueError, match="needs the mapped columns tags"):
        run(mapped(email=["a@b.c"]).drop("tags"), generic)


# --------------------------------------------------------------------------- text limits

LIMITS = [
    ("first_name", 100),
    ("last_name", 100),
    ("company", 150),
    ("job_title", 100),
    ("source", 100),
]


@pytest.mark.parametrize(("name", "limit"), LIMITS)
def test_text_limit_fix_cuts_and_warns(generic: Preset, name: str, limit: int) -> None:
    at_limit, over = "é" * limit, "x" * (limit - 1) + "yz"
    result = run(mapped(**{name: [at_limit, over]}), generic)
    assert result.frame[name].to_list() == [at_limit, "x" * (limit - 1) + "y"]
    assert result.issues.rows() == [
        (
            "in.csv",
            3,
            name,
            over,
            f"{name}: {limit + 1} characters, more than the limit of {limit}; cut to the first "
            f"{limit}. Shorten it in the source to choose what is kept.",
            "too_long",
            "fixed",
        )
    ]


@pytest.mark.parametrize(("name", "limit"), LIMITS)
def test_text_limit_reject_keeps_the_value_and_rejects(
    generic: Preset, name: str, limit: int
) -> None:
    over = "x" * (limit + 1)
    result = run(mapped(**{name: ["ok", over]}), generic, with_policy(name))
    assert result.frame[name].to_list() == ["ok", over]
    assert result.issues.rows() == [
        (
            "in.csv",
            3,
            name,
            over,
            f"{name}: {limit + 1} characters, more than the limit of {limit}; the row is "
            f'rejected. Shorten it, or set policy = "fix" under [{name}] in rules/fields.toml '
            "to cut it instead.",
            "too_long",
            "reject",
        )
    ]
    assert result.rejects.height == 1


def test_limit_counts_characters_after_cleaning(generic: Preset) -> None:
    # 100 characters once the run of spaces is one space and the ends are trimmed
    value = "  " + "a" * 50 + "     " + "b" * 49 + "\t"
    result = run(mapped(first_name=[value]), generic)
    assert result.frame["first_name"].to_list() == ["a" * 50 + " " + "b" * 49]
    assert result.issues.height == 0


def test_cut_does_not_leave_a_trailing_space(generic: Preset) -> None:
    result = run(mapped(job_title=["a" * 99 + " bcd"]), generic)
    assert result.frame["job_title"].to_list() == ["a" * 99]


def test_issue_value_is_cut_to_200_characters(generic: Preset) -> None:
    result = run(mapped(company=["c" * 500]), generic)
    assert result.issues["value"].to_list() == ["c" * 200]
    assert result.issues["error"].to_list()[0].startswith("company: 500 characters")


def test_thousands_separator_in_counts(generic: Preset) -> None:
    result = run(mapped(source=["s" * 12345]), generic)
    assert (
        result.issues["error"]
        .to_list()[0]
        .startswith("source: 12,345 characters, more than the limit of 100;")
    )


# --------------------------------------------------------------------------- names / text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Ann  ", "Ann"),
        ("Ann \t\r\n Marie", "Ann Marie"),
        ("Ann\u00a0\u2003Marie", "Ann Marie"),  # NBSP, em space
        ("An\x00n\x07a\x1b", "Anna"),  # control characters removed
        ("Jo\u200bsé\ufeff", "José"),  # zero-width space, BOM
        ("\u202eevil\u202c", "evil"),  # bidi override
        ("Jose\u0301", "Jos\u00e9"),  # NFC: e + combining acute -> é
        ("Zoe\u0308 O\u0308ztu\u0308rk", "Zoë Öztürk"),
        ("👩\u200d💻 Dev", "👩\u200d💻 Dev"),  # ZWJ kept
        ("   ", None),
        ("\x00\t", None),
        ("", None),
        (None, None),
    ],
)
def test_name_cleaning(generic: Preset, raw: str | None, clean: str | None) -> None:
    result = run(mapped(first_name=[raw], last_name=[raw], company=[raw]), generic)
    row = result.frame.row(0, named=True)
    assert (row["first_name"], row["last_name"], row["company"]) == (clean, clean, clean)
    assert result.issues.height == 0


def test_other_text_fields(generic: Preset) -> None:
    result = run(
        mapped(
            status_reason=["  Other:\n too  many ", None],
            external_id=["  42 ", "  "],
            source=[" Web\tform ", None],
        ),
        generic,
    )
    assert result.frame["status_reason"].to_list() == ["Other: too many", None]
    assert result.frame["external_id"].to_list() == ["42", None]
    assert result.frame["source"].to_list() == ["Web form", None]


# --------------------------------------------------------------------------- phones


def test_phone_without_region_needs_a_country_code(generic: Preset) -> None:
    phones = [
        "+44 20 7946 0108",
        "+1 (206) 555-0124",
        "020 7946 0156",
        None,
        "  ",
        "tel:+49-30-1234567",
    ]
    result = run(mapped(phone=phones), generic)
    assert result.frame["phone"].to_list() == [
        "+442079460108",
        "+12065550124",
        "020 7946 0156",
        None,
        None,
        "+49301234567",
    ]
    assert result.frame["phone_valid"].to_list() == [True, True, False, None, None, True]
    assert result.issues.rows() == [
        (
            "in.csv",
            4,
            "phone",
            "020 7946 0156",
            'phone: "020 7946 0156" has no +country code and no default region is set; it was '
            "kept as given. Write it with its +country code, or pass --default-region "
            "(e.g. US, GB, DE).",
            "phone_no_country_code",
            "flagged",
        )
    ]


def test_phone_with_default_region(generic: Preset) -> None:
    phones = ["020 7946 0156", "+1 206 555 0124", "0049 30 1234567", "555-0146"]
    result = run(mapped(phone=phones), generic, region="gb")
    assert result.frame["phone"].to_list() == [
        "+442079460156",
        "+12065550124",
        "+49301234567",
        "555-0146",
    ]
    assert result.frame["phone_valid"].to_list() == [True, True, True, False]
    assert result.issues.select("source_row", "error", "reason", "action").rows() == [
        (
            5,
            'phone: "555-0146" is not a valid phone number for region GB; it was kept '
            "as given. Check the digits and the country code.",
            "phone_invalid",
            "flagged",
        )
    ]
    us = run(mapped(phone=["(201) 555-0123", "020 7946 0156"]), generic, region="US")
    assert us.frame["phone"].to_list() == ["+12015550123", "020 7946 0156"]


def test_phone_invalid_unparseable_and_extension(generic: Preset) -> None:
    phones = ["+1 555 0146", "call me", "+999 1234567", "+1 206 555 0124 ext. 12", "555-0146"]
    result = run(mapped(phone=phones), generic, region="US")
    assert result.frame["phone"].to_list() == [
        "+1 555 0146",
        "call me",
        "+999 1234567",
        "+12065550124",
        "555-0146",
    ]
    assert result.frame["phone_valid"].to_list() == [False, False, False, True, False]
    assert result.issues.select("error", "reason", "action").rows() == [
        (
            'phone: "+1 555 0146" is not a valid phone number; it was kept as given. Check the '
            "digits and the country code.",
            "phone_invalid",
            "flagged",
        ),
        (
            'phone: "call me" is not a phone number; it was kept as given. Fix or clear it in '
            "the source.",
            "phone_unparseable",
            "flagged",
        ),
        (
            'phone: "+999 1234567" has a country code that does not exist; it was kept as '
            "given. Check the number and its country code.",
            "phone_invalid",
            "flagged",
        ),
        (
            'phone: "+1 206 555 0124 ext. 12" has an extension (12), which E.164 cannot hold; '
            "it was dropped, leaving +12065550124. Keep the extension in a custom field if it "
            "matters.",
            "phone_extension_dropped",
            "fixed",
        ),
        (
            'phone: "555-0146" is not a valid phone number for region US; it was kept as '
            "given. Check the digits and the country code.",
            "phone_invalid",
            "flagged",
        ),
    ]
    assert result.rejects.height == 0


def test_phone_kept_as_given_is_cleaned_and_limited(generic: Preset) -> None:
    long = "ask  for\tJim " + "x" * 60
    result = run(mapped(phone=[long]), generic)
    kept = ("ask for Jim " + "x" * 60)[:50]
    assert result.frame["phone"].to_list() == [kept]
    assert issue_rows(result) == [
        (2, "phone", "phone_unparseable", "flagged"),
        (2, "phone", "too_long", "fixed"),
    ]
    rejected = run(mapped(phone=[long]), generic, with_policy("phone"))
    assert issue_rows(rejected) == [
        (2, "phone", "phone_unparseable", "flagged"),
        (2, "phone", "too_long", "reject"),
    ]
    assert rejected.frame["phone"].to_list() == ["ask for Jim " + "x" * 60]


def test_a_parsed_phone_always_fits(generic: Preset) -> None:
    # 56 characters as written, 13 as E.164: the limit applies to what is kept
    written = "+44 20 7946 0108" + " " * 40
    result = run(mapped(phone=[written.replace(" ", "  ")]), generic)
    assert len(written.replace(" ", "  ")) > 50
    assert result.frame["phone"].to_list() == ["+442079460108"]
    assert result.issues.height == 0


def test_phones_are_parsed_once_per_distinct_value(
    generic: Preset, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = phonenumbers.parse

    def counting(value: str, region: str | None = None) -> Any:
        calls.append(value)
        return real(value, region)

    monkeypatch.setattr(fields_module.phonenumbers, "parse", counting)
    phones = (["+44 20 7946 0108", " +44 20 7946 0108", None, "+1 206 555 0124"] * 2500) + [
        None
    ] * 10000
    result = run(mapped(phone=phones), generic)
    assert sorted(calls) == ["+1 206 555 0124", "+44 20 7946 0108"]
    assert result.frame["phone"].value_counts().sort("phone").rows() == [
        (None, 12500),
        ("+12065550124", 2500),
        ("+442079460108", 5000),
    ]


def test_unknown_region_is_a_usage_error(generic: Preset) -> None:
    with pytest.raises(ListHygieneError) as info:
        run(mapped(phone=["1"]), generic, region="XX")
    assert str(info.value) == (
        '--default-region "XX" is not a region phonenumbers knows; use a two-letter ISO 3166 '
        "code such as US, GB or DE, or leave it out to read only numbers written with a "
        "+country code."
    )
    assert fields_module.check_region(" de ") == "DE"
    assert fields_module.check_region("") is None


# --------------------------------------------------------------------------- dates


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-09-07T17:03:54Z", utc(2024, 9, 7, 17, 3, 54)),
        ("2024-09-07T17:03:54.250Z", utc(2024, 9, 7, 17, 3, 54, 250000)),
        ("2023-02-21T20:07:38+00:00", utc(2023, 2, 21, 20, 7, 38)),
        ("2023-02-21T20:07:38+02:00", utc(2023, 2, 21, 18, 7, 38)),
        ("2023-02-21T20:07:38-05:30", utc(2023, 2, 22, 1, 37, 38)),
        ("2023-02-21T20:07:38", utc(2023, 2, 21, 20, 7, 38)),  # naive = UTC
        ("2023-02-21T20:07", utc(2023, 2, 21, 20, 7)),
        ("2024-03-12", utc(2024, 3, 12)),
        ("2016-04-18 13:51:14", utc(2016, 4, 18, 13, 51, 14)),  # Mailchimp
        ("2024-03-12 09:14", utc(2024, 3, 12, 9, 14)),  # HubSpot
        ("2021-11-15 19:42:23 +0000", utc(2021, 11, 15, 19, 42, 23)),  # Constant Contact
        ("2021-11-15 19:42:23 -0800", utc(2021, 11, 16, 3, 42, 23)),
        ("2026-05-01 10:11:12.345678 +0000 UTC", utc(2026, 5, 1, 10, 11, 12, 345678)),  # listmonk
        ("2026-05-01 10:11:12.123456789Z", utc(2026, 5, 1, 10, 11, 12, 123456)),
        ("1700000000", utc(2023, 11, 14, 22, 13, 20)),  # epoch seconds
        ("1700000000.5", utc(2023, 11, 14, 22, 13, 20, 500000)),
        ("1700000000123", utc(2023, 11, 14, 22, 13, 20, 123000)),  # epoch milliseconds
        ("999999999", utc(2001, 9, 9, 1, 46, 39)),
        ("2024/03/12", utc(2024, 3, 12)),
        ("29.09.2025 08:25", utc(2025, 9, 29, 8, 25)),  # dots: day first
        ("1.2.2025", utc(2025, 2, 1)),
        ("  2024-03-12 10:00:00  ", utc(2024, 3, 12, 10)),
        ("2024-02-29", utc(2024, 2, 29)),
    ],
)
def test_date_formats(generic: Preset, raw: str, expected: datetime) -> None:
    # the column's first value picks the fast format, so try each value first and second
    for values in ([raw, "2016-04-18 13:51:14"], ["2016-04-18 13:51:14", raw]):
        result = run(mapped(created_at=values, last_changed=values[::-1]), generic)
        assert result.frame["created_at"].to_list()[values.index(raw)] == expected
        assert result.frame["last_changed"].to_list()[1 - values.index(raw)] == expected
        assert result.issues.height == 0


@pytest.mark.parametrize(
    ("order", "raw", "expected"),
    [
        ("DMY", "03-04-2024", utc(2024, 4, 3)),
        ("DMY", "03/04/2024 14:05", utc(2024, 4, 3, 14, 5)),
        ("MDY", "03/04/2024", utc(2024, 3, 4)),
        ("MDY", "3/12/2024 9:14 PM", utc(2024, 3, 12, 21, 14)),
        ("MDY", "3/12/2024 12:05 AM", utc(2024, 3, 12, 0, 5)),
        ("MDY", "3/12/2024 12:05 pm", utc(2024, 3, 12, 12, 5)),
        ("MDY", "12/31/2024 23:59:59", utc(2024, 12, 31, 23, 59, 59)),
        ("DMY", "31-12-2024", utc(2024, 12, 31)),
        ("YMD", "2024-12-31", utc(2024, 12, 31)),
    ],
)
def test_numeric_dates_follow_the_preset_date_order(
    generic: Preset, order: str, raw: str, expected: datetime
) -> None:
    preset = dataclasses.replace(generic, date_order=order)
    result = run(mapped(status_changed_at=[raw]), preset)
    assert result.frame["status_changed_at"].to_list() == [expected]
    assert result.issues.height == 0


def test_date_order_against_the_values_is_unparseable(generic: Preset) -> None:
    preset = dataclasses.replace(generic, date_order="MDY")
    result = run(mapped(created_at=["31/12/2024"]), preset)
    assert result.frame["created_at"].to_list() == [None]
    assert issue_rows(result) == [(2, "created_at", "date_unparseable", "flagged")]


def test_without_date_order_the_values_decide(generic: Preset) -> None:
    # one value with a day above 12 makes the whole set of date columns day-first
    day_first = run(
        mapped(created_at=["03/04/2024", "25/12/2024"], last_changed=["01/02/2024", None]), generic
    )
    assert day_first.frame["created_at"].to_list() == [utc(2024, 4, 3), utc(2024, 12, 25)]
    assert day_first.frame["last_changed"].to_list() == [utc(2024, 2, 1), None]
    month_first = run(mapped(created_at=["03/04/2024", "12/25/2024"]), generic)
    assert month_first.frame["created_at"].to_list() == [utc(2024, 3, 4), utc(2024, 12, 25)]
    assert day_first.issues.height == 0 and month_first.issues.height == 0


def test_undecidable_numeric_dates_are_flagged_ambiguous(generic: Preset) -> None:
    result = run(
        mapped(created_at=["03/04/2024", "05/05/2024", "13/01/2024", "01/13/2024"]), generic
    )
    # 13/01 and 01/13 contradict each other: each decides for itself, 03/04 stays open
    assert result.frame["created_at"].to_list() == [
        None,
        utc(2024, 5, 5),
        utc(2024, 1, 13),
        utc(2024, 1, 13),
    ]
    assert result.issues.rows() == [
        (
            "in.csv",
            2,
            "created_at",
            "03/04/2024",
            'created_at: "03/04/2024" can be read day-first or month-first; it was left empty. '
            'Set date_order = "DMY" or "MDY" in rules/presets/generic.toml (a copy in a folder '
            "passed with --rules).",
            "date_ambiguous",
            "flagged",
        )
    ]
    only_open = run(mapped(created_at=["03/04/2024"]), generic)
    assert issue_rows(only_open) == [(2, "created_at", "date_ambiguous", "flagged")]


@pytest.mark.parametrize(
    "raw",
    [
        "2024-02-30",
        "2023-02-29",
        "2026-13-01",
        "2024-03-12 24:00",
        "2024-03-12 10:60",
        "2024-03-12 13:00 PM",
        "2024-03-12 10:00 +2500",
        "20240312",
        "12345",
        "2024",
        "yesterday",
        "0000-00-00 00:00:00",
        "03/12/24",
    ],
)
def test_unreadable_dates_are_flagged_not_rejected(generic: Preset, raw: str) -> None:
    result = run(mapped(created_at=[raw], first_name=["Ann"]), generic)
    assert result.frame["created_at"].to_list() == [None]
    assert result.frame["first_name"].to_list() == ["Ann"]
    assert result.issues.rows() == [
        (
            "in.csv",
            2,
            "created_at",
            raw,
            f'created_at: "{raw}" is not a date listhygiene can read; it was left empty. Fix it '
            "in the source (ISO 8601 such as 2024-03-12T09:14:00Z is always read).",
            "date_unparseable",
            "flagged",
        )
    ]
    assert result.rejects.height == 0


def test_blank_dates_are_missing_not_flagged(generic: Preset) -> None:
    result = run(mapped(created_at=["", "   ", None], last_changed=["  ", None, "x"]), generic)
    assert result.frame["created_at"].to_list() == [None, None, None]
    assert issue_rows(result) == [(4, "last_changed", "date_unparseable", "flagged")]


def test_every_date_column_is_utc_microseconds(generic: Preset) -> None:
    result = run(mapped(status_changed_at=["2024-01-01"], created_at=["1700000000"]), generic)
    for c in ("status_changed_at", "created_at", "last_changed"):
        assert result.frame.schema[c] == pl.Datetime("us", "UTC")


# --------------------------------------------------------------------------- tags


def test_tags_are_split_cleaned_and_deduplicated_keeping_the_first_spelling(
    generic: Preset, rules: RuleSet
) -> None:
    result = run(
        mapped(tags=["VIP; vip ;Leads|  Vip ,leads,Ne\u0301ws", " ; , ", None, '["a","A", "b"]']),
        generic,
    )
    assert result.frame["tags"].to_list() == [["VIP", "Leads", "Néws"], None, None, ["a", "b"]]
    mailchimp = run(
        mapped(tags=['"Customers","VIP","customers"', "Editors"]), rules.presets["mailchimp"]
    )
    assert mailchimp.frame["tags"].to_list() == [["Customers", "VIP"], ["Editors"]]
    assert result.issues.height == 0 and mailchimp.issues.height == 0


def test_tag_limit_counts_after_deduplication(generic: Preset) -> None:
    fifty = ";".join(f"t{i}" for i in range(50)) + ";T0;t1"
    result = run(mapped(tags=[fifty]), generic)
    assert result.frame["tags"].to_list() == [[f"t{i}" for i in range(50)]]
    assert result.issues.height == 0


def test_tag_limit_fix_keeps_the_first_50(generic: Preset) -> None:
    cell = ";".join(f"t{i}" for i in range(53))
    result = run(mapped(tags=[cell]), generic)
    assert result.frame["tags"].to_list() == [[f"t{i}" for i in range(50)]]
    assert result.issues.select("field", "error", "reason", "action").rows() == [
        (
            "tags",
            "tags: 53 tags, more than the limit of 50; kept the first 50. Remove tags in the "
            "source to choose which stay.",
            "too_many_tags",
            "fixed",
        )
    ]
    assert result.issues["value"].to_list() == [cell[:200]]


def test_tag_limit_reject(generic: Preset) -> None:
    cell = ";".join(f"t{i}" for i in range(51))
    result = run(mapped(tags=[cell, "a"]), generic, with_policy("tags"))
    assert result.frame["tags"].to_list() == [[f"t{i}" for i in range(51)], ["a"]]
    assert result.issues.select("source_row", "error", "reason", "action").rows() == [
        (
            2,
            "tags: 51 tags, more than the limit of 50; the row is rejected. Remove tags, or set "
            'policy = "fix" under [tags] in rules/fields.toml to keep the first 50.',
            "too_many_tags",
            "reject",
        )
    ]


# --------------------------------------------------------------------------- statuses

STATUS_CASES = [
    # Mailchimp
    ("subscribed", "active"),
    ("unsubscribed", "unsubscribed"),
    ("cleaned", "bounced"),
    # HubSpot (null is missing)
    ("bounced", "bounced"),
    (None, "active"),
    # Klaviyo
    ("SPAM_COMPLAINT", "complained"),
    ("HARD_BOUNCE", "bounced"),
    ("INVALID_EMAIL", "bounced"),
    ("UNSUBSCRIBE", "unsubscribed"),
    ("USER_SUPPRESSED", "unsubscribed"),
    ("SUBSCRIBED", "active"),
    ("UNSUBSCRIBED", "unsubscribed"),
    ("NEVER_SUBSCRIBED", "active"),
    # listmonk
    ("enabled", "active"),
    ("disabled", "unsubscribed"),
    ("blocklisted", "unsubscribed"),
    # Constant Contact
    ("Active", "active"),
    # generic / MisarMail / MailerDash
    ("Subscribed", "active"),
    ("active", "active"),
    ("opted_out", "unsubscribed"),
    ("Opted Out", "unsubscribed"),
    ("opted-out", "unsubscribed"),
    ("complained", "complained"),
    ("spamreport", "complained"),
    ("hard_bounce", "bounced"),
    ("opted_in", "active"),
    ("  Unsubscribed \t", "unsubscribed"),
    ("", "active"),
    ("   ", "active"),
]


@pytest.mark.parametrize(("raw", "canonical"), STATUS_CASES)
def test_status_vocabulary(generic: Preset, raw: str | None, canonical: str) -> None:
    result = run(mapped(status=[raw]), generic)
    assert result.frame["status"].to_list() == [canonical]
    assert result.issues.height == 0
    rules = status_rules()
    assert rules.lookup(raw) == canonical


@pytest.mark.parametrize(
    ("raw", "reason", "meaning", "table"),
    [
        (
            "pending",
            "status_pending",
            "an unconfirmed opt-in (the contact never confirmed the subscription)",
            "status_pending",
        ),
        ("Unconfirmed", "status_pending", None, "status_pending"),
        ("archived", "status_archived", "an archived contact (removed from the audience)", None),
        (
            "nonsubscribed",
            "status_nonsubscribed",
            "a contact who never opted in to marketing email",
            None,
        ),
        ("Non-Subscribed", "status_nonsubscribed", None, None),
        ("transactional", "status_nonsubscribed", None, None),
    ],
)
def test_rejected_statuses_have_their_own_reason(
    generic: Preset, raw: str, reason: str, meaning: str | None, table: str | None
) -> None:
    result = run(mapped(status=[raw, "active"]), generic)
    assert result.frame["status"].to_list() == [None, "active"]
    assert issue_rows(result) == [(2, "status", reason, "reject")]
    assert result.issues["value"].to_list() == [raw]
    if meaning is not None:
        assert result.issues["error"].to_list() == [
            f'status: "{raw}" means {meaning}, so the row is rejected. To import such rows, '
            f"map the value in rules/statuses.toml [map] instead of [reject.{reason}]."
        ]


def test_unknown_status_sentence(generic: Preset) -> None:
    result = run(mapped(status=["gold", " Gold ", "soft_bounce"]), generic)
    assert result.frame["status"].to_list() == [None, None, None]
    assert result.issues.select(
        "source_row", "field", "value", "error", "reason", "action"
    ).rows() == [
        (
            2,
            "status",
            "gold",
            'status: "gold" is not a known status; map it in rules/statuses.toml [map] or fix the row.',
            "status_unknown",
            "reject",
        ),
        (
            3,
            "status",
            " Gold ",
            'status: "Gold" is not a known status; map it in rules/statuses.toml [map] or fix the row.',
            "status_unknown",
            "reject",
        ),
        (
            4,
            "status",
            "soft_bounce",
            'status: "soft_bounce" is not a known status; map it in rules/statuses.toml [map] or fix the row.',
            "status_unknown",
            "reject",
        ),
    ]


def test_rules_can_map_a_rejected_or_unknown_value(generic: Preset) -> None:
    doc = statuses_doc()
    doc["reject"]["status_pending"]["values"] = ["unconfirmed"]
    doc["map"]["active"] += ["pending", "gold"]
    result = run(
        mapped(status=["pending", "GOLD", "unconfirmed"]), generic, statuses=status_rules(doc)
    )
    assert result.frame["status"].to_list() == ["active", "active", None]
    assert issue_rows(result) == [(4, "status", "status_pending", "reject")]


def test_mailchimp_files_map_through_the_vocabulary(rules: RuleSet) -> None:
    preset = rules.presets["mailchimp"]
    result = run(mapped(status=["subscribed", "unsubscribed", "cleaned", "nonsubscribed"]), preset)
    assert result.frame["status"].to_list() == ["active", "unsubscribed", "bounced", None]
    assert issue_rows(result) == [(5, "status", "status_nonsubscribed", "reject")]


# --------------------------------------------------------------------------- custom_fields


def compact(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def test_custom_fields_at_the_limits_pass(generic: Preset) -> None:
    twenty = compact({f"k{i}": "v" for i in range(20)})
    exact = compact({"a": "x" * (8192 - len('{"a":""}'))})
    nested = compact({"a": {"b": 1, "c": [1, {"d": "e"}]}, **{f"k{i}": i for i in range(19)}})
    colons = compact({"a": '":' * 30})  # looks like many keys to the quick count
    assert len(exact.encode()) == 8192
    result = run(mapped(custom_fields=[twenty, exact, nested, colons]), generic)
    assert result.frame["custom_fields"].to_list() == [twenty, exact, nested, colons]
    assert result.issues.height == 0


def test_custom_fields_key_limit_fix_keeps_the_first_20(generic: Preset) -> None:
    obj = {f"k{i}": {"n": i, "x": "a,b:c"} if i % 2 else f"v{i}" for i in range(23)}
    result = run(mapped(custom_fields=[compact(obj)]), generic)
    kept = {k: v for k, v in obj.items() if int(k[1:]) < 20}
    assert result.frame["custom_fields"].to_list() == [compact(kept)]
    assert result.issues.select("field", "error", "reason", "action").rows() == [
        (
            "custom_fields",
            "custom_fields: 23 keys, more than the limit of 20; kept the first 20 and dropped "
            '"k20", "k21", "k22". Remove keys in the source to choose which stay.',
            "too_many_keys",
            "fixed",
        )
    ]


def test_custom_fields_byte_limit_fix_drops_keys_from_the_end(generic: Preset) -> None:
    # 3 keys of ~3,000 bytes each: the first two fit into 8,192 bytes
    obj = {"a": "é" * 1500, "b": "x" * 3000, "c": "y" * 3000, "d": "z"}
    text = compact(obj)
    result = run(mapped(custom_fields=[text, compact({"big": "q" * 9000})]), generic)
    assert result.frame["custom_fields"].to_list() == [
        compact({"a": "é" * 1500, "b": "x" * 3000}),
        None,
    ]
    assert result.issues.select("source_row", "error", "reason", "action").rows() == [
        (
            2,
            f"custom_fields: {len(text.encode()):,} bytes of JSON, more than the limit of 8,192; "
            'kept the first 2 and dropped "c", "d". Remove keys in the source to choose which stay.',
            "too_large",
            "fixed",
        ),
        (
            3,
            "custom_fields: 9,010 bytes of JSON, more than the limit of 8,192; kept none (the "
            'first key alone is over the limit) and dropped "big". Remove keys in the source to '
            "choose which stay.",
            "too_large",
            "fixed",
        ),
    ]


def test_custom_fields_cut_keeps_a_prefix_of_exactly_8192_bytes(generic: Preset) -> None:
    first = compact({"a": "x" * (8192 - len('{"a":""}'))})
    text = compact({"a": "x" * (8192 - len('{"a":""}')), "b": "y"})
    result = run(mapped(custom_fields=[text]), generic)
    assert len(first.encode()) == 8192
    assert result.frame["custom_fields"].to_list() == [first]
    assert result.issues["error"].to_list() == [
        "custom_fields: 8,200 bytes of JSON, more than the limit of 8,192; kept the first 1 and "
        'dropped "b". Remove keys in the source to choose which stay.'
    ]


def test_custom_fields_over_both_limits(generic: Preset) -> None:
    obj = {f"k{i:02d}": "v" * 500 for i in range(25)}
    result = run(mapped(custom_fields=[compact(obj)]), generic)
    kept = json.loads(result.frame["custom_fields"][0])
    # each key is `"k00":"v…"` (508 bytes) plus a comma or the closing brace: 1 + 16 * 509 fits
    assert list(kept) == [f"k{i:02d}" for i in range(16)]
    assert len(result.frame["custom_fields"][0].encode()) == 1 + 16 * 509
    assert issue_rows(result) == [
        (2, "custom_fields", "too_many_keys", "fixed"),
        (2, "custom_fields", "too_large", "fixed"),
    ]


def test_custom_fields_reject(generic: Preset) -> None:
    text = compact({f"k{i}": i for i in range(21)})
    result = run(mapped(custom_fields=[text, '{"a":"b"}']), generic, with_policy("custom_fields"))
    assert result.frame["custom_fields"].to_list() == [text, '{"a":"b"}']
    assert result.issues.select("source_row", "error", "reason", "action").rows() == [
        (
            2,
            "custom_fields: 21 keys, more than the limit of 20; the row is rejected. Remove keys "
            'in the source, or set policy = "fix" under [custom_fields] in rules/fields.toml to '
            "drop the keys past the limit.",
            "too_many_keys",
            "reject",
        )
    ]


def test_custom_fields_escaped_keys_are_named_decoded(generic: Preset) -> None:
    obj = {f"k{i}": i for i in range(20)} | {'say "hi"': "x", "ключ": "y"}
    result = run(mapped(custom_fields=[compact(obj)]), generic)
    assert (
        result.issues["error"]
        .to_list()[0]
        .endswith('dropped "say "hi"", "ключ". Remove keys in the source to choose which stay.')
    )


# --------------------------------------------------------------------------- social_profiles


def test_social_profiles_known_networks_in_order(generic: Preset) -> None:
    cell = compact(
        {
            "YouTube": "yt",
            "linkedin": " https://linkedin.com/in/x ",
            "twitter": None,
            "reddit": "",
            "telegram": 42,
        }
    )
    result = run(mapped(social_profiles=[cell, None, "{}"]), generic)
    assert result.frame["social_profiles"].to_list() == [
        '{"linkedin":"https://linkedin.com/in/x","telegram":"42","youtube":"yt"}',
        None,
        None,
    ]
    assert result.issues.height == 0


def test_unknown_social_network_is_dropped_with_a_warning(generic: Preset) -> None:
    cell = compact({"facebook": "fb.com/x", "linkedin": "li", "Mastodon": "@a@b"})
    result = run(mapped(social_profiles=[cell, compact({"facebook": "y"})]), generic)
    assert result.frame["social_profiles"].to_list() == ['{"linkedin":"li"}', None]
    assert result.issues.select("source_row", "value", "error", "reason", "action").rows() == [
        (
            2,
            '"facebook":"fb.com/x"',
            'social_profiles: "facebook" is not a known network (the networks are linkedin, '
            "twitter, instagram, telegram, whatsapp, reddit, youtube); it was dropped.",
            "unknown_network",
            "fixed",
        ),
        (
            2,
            '"Mastodon":"@a@b"',
            'social_profiles: "Mastodon" is not a known network (the networks are linkedin, '
            "twitter, instagram, telegram, whatsapp, reddit, youtube); it was dropped.",
            "unknown_network",
            "fixed",
        ),
        (
            3,
            '"facebook":"y"',
            'social_profiles: "facebook" is not a known network (the networks are linkedin, '
            "twitter, instagram, telegram, whatsapp, reddit, youtube); it was dropped.",
            "unknown_network",
            "fixed",
        ),
    ]


def test_unknown_social_network_reject(generic: Preset) -> None:
    cell = compact({"facebook": "fb", "linkedin": "li"})
    result = run(
        mapped(social_profiles=[cell]), generic, with_policy("social_profiles", "unknown_policy")
    )
    assert result.issues.select("error", "action").rows() == [
        (
            'social_profiles: "facebook" is not a known network (the networks are linkedin, '
            "twitter, instagram, telegram, whatsapp, reddit, youtube); the row is rejected. "
            'Remove it, or set unknown_policy = "fix" under [social_profiles] in '
            "rules/fields.toml to drop it instead.",
            "reject",
        )
    ]


def test_social_value_limit_fix_and_reject(generic: Preset) -> None:
    long = "https://example.com/" + "p" * 490  # 510 characters
    cell = compact({"twitter": "@ok", "linkedin": long, "instagram": "i" * 500})
    fixed = run(mapped(social_profiles=[cell]), generic)
    assert json.loads(fixed.frame["social_profiles"][0]) == {
        "linkedin": long[:500],
        "twitter": "@ok",
        "instagram": "i" * 500,
    }
    assert fixed.issues.select("value", "error", "reason", "action").rows() == [
        (
            long[:200],
            "social_profiles: the linkedin value has 510 characters, more than the limit of 500; "
            "cut to the first 500. Shorten it in the source to choose what is kept.",
            "too_long",
            "fixed",
        )
    ]
    rejected = run(mapped(social_profiles=[cell]), generic, with_policy("social_profiles"))
    assert json.loads(rejected.frame["social_profiles"][0])["linkedin"] == long
    assert rejected.issues.select("error", "action").rows() == [
        (
            "social_profiles: the linkedin value has 510 characters, more than the limit of 500; "
            'the row is rejected. Shorten it, or set policy = "fix" under [social_profiles] in '
            "rules/fields.toml to cut it instead.",
            "reject",
        )
    ]


def test_social_values_are_json_escaped(generic: Preset) -> None:
    cell = compact({"twitter": 'a"b\\c\u0001'})
    result = run(mapped(social_profiles=[cell]), generic)
    assert json.loads(result.frame["social_profiles"][0]) == {"twitter": 'a"b\\c\u0001'}


# --------------------------------------------------------------------------- issue order


def test_issues_are_in_row_then_column_order(generic: Preset) -> None:
    frame = mapped(
        status=["gold", None, "pending"],
        first_name=["x" * 101, None, None],
        created_at=["nope", None, "never"],
        phone=[None, "12", None],
    )
    result = run(frame, generic)
    assert issue_rows(result) == [
        (2, "first_name", "too_long", "fixed"),
        (2, "status", "status_unknown", "reject"),
        (2, "created_at", "date_unparseable", "flagged"),
        (3, "phone", "phone_no_country_code", "flagged"),
        (4, "status", "status_pending", "reject"),
        (4, "created_at", "date_unparseable", "flagged"),
    ]
    assert result.rejects["source_row"].to_list() == [2, 4]


# --------------------------------------------------------------------------- the sample files

# What the sample files are known to hold: phones written without a country code
# (the sample is messy on purpose) and nothing else.
SAMPLE_ISSUES = {
    None: {
        ("crm_export_eu.csv", "phone", "phone_no_country_code", "flagged"): 18,
        (
            "hubspot-crm-exports-all-contacts-2026-10-28.csv",
            "phone",
            "phone_no_country_code",
            "flagged",
        ): 2,
        ("misarmail_contacts.ndjson", "phone", "phone_no_country_code", "flagged"): 4,
    },
    "US": {
        ("crm_export_eu.csv", "phone", "phone_invalid", "flagged"): 18,
        ("hubspot-crm-exports-all-contacts-2026-10-28.csv", "phone", "phone_invalid", "flagged"): 2,
        ("misarmail_contacts.ndjson", "phone", "phone_invalid", "flagged"): 4,
    },
}


@pytest.mark.parametrize("region", [None, "US"])
def test_sample_files(rules: RuleSet, region: str | None) -> None:
    fields, statuses = field_rules(), status_rules()
    seen: Counter[tuple[str, ...]] = Counter()
    statuses_seen: Counter[tuple[str, str]] = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        paths = expand_paths([ROOT / "data" / "sample"])
        for table in read_inputs(paths, rules.ingest, Path(tmp)):
            preset = detect_preset(table.columns, table.source_file, rules.presets)
            m = map_columns(table, preset)
            result = normalize_fields(m.frame, preset, fields, statuses, region)
            name = Path(table.source_file).name
            assert result.frame.height == m.frame.height
            assert result.frame["source_row"].to_list() == m.frame["source_row"].to_list()
            for row in result.issues.select("field", "reason", "action").rows():
                seen[(name, *row)] += 1
            for status, n in result.frame.group_by("status").len().rows():
                statuses_seen[(name, status)] += n
            # every date that was in the file was read
            for c in ("status_changed_at", "created_at", "last_changed"):
                filled = m.frame[c].str.strip_chars().ne("").fill_null(False)
                assert result.frame[c].is_not_null().to_list() == filled.to_list(), (name, c)
    assert dict(seen) == SAMPLE_ISSUES[region]
    assert dict(statuses_seen) == {
        ("cleaned_members_export_e6da33414a.csv", "bounced"): 15,
        ("crm_export_eu.csv", "active"): 93,
        ("crm_export_eu.csv", "unsubscribed"): 8,
        ("hubspot-crm-exports-all-contacts-2026-10-28.csv", "active"): 17,
        ("hubspot-crm-exports-all-contacts-2026-10-28.csv", "bounced"): 1,
        ("hubspot-crm-exports-all-contacts-2026-10-28.csv", "unsubscribed"): 1,
        ("misarmail_contacts.ndjson", "active"): 40,
        ("misarmail_contacts.ndjson", "complained"): 1,
        ("misarmail_contacts.ndjson", "unsubscribed"): 8,
        ("subscribed_members_export_e6da33414a.csv", "active"): 164,
        ("unsubscribed_members_export_e6da33414a.csv", "unsubscribed"): 22,
    }


def test_corpora_exports_normalize_without_surprises(rules: RuleSet) -> None:
    """The per-platform export samples in ../shared: every date read, every status known."""
    from paths import CORPORA

    fields, statuses = field_rules(), status_rules()
    files = sorted((CORPORA / "exports").rglob("*.csv"))
    assert len(files) >= 10
    found: list[tuple[Any, ...]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for table in read_inputs(files, rules.ingest, Path(tmp)):
            preset = detect_preset(table.columns, table.source_file, rules.presets)
            m = map_columns(table, preset)
            result = normalize_fields(m.frame, preset, fields, statuses)
            name = Path(table.source_file).name
            found += [(name, *r) for r in result.issues.select("source_row", "reason").rows()]
            for c in ("status_changed_at", "created_at", "last_changed"):
                filled = m.frame[c].str.strip_chars().ne("").fill_null(False)
                assert result.frame[c].is_not_null().to_list() == filled.to_list(), (name, c)
    assert found == [
        ("hubspot-crm-exports-all-contacts-2026-05-20.csv", 4, "phone_no_country_code"),
        ("hubspot-crm-exports-all-contacts-2026-05-20.csv", 6, "phone_no_country_code"),
    ]


def test_rules_doc_and_code_agree_on_reason_codes() -> None:
    text = (ROOT / "docs" / "fields.md").read_text("utf-8")
    for code in (
        "too_long",
        "too_many_tags",
        "too_many_keys",
        "too_large",
        "unknown_network",
        "phone_no_country_code",
        "phone_unparseable",
        "phone_invalid",
        "phone_extension_dropped",
        "date_unparseable",
        "date_ambiguous",
        "status_unknown",
        "status_pending",
        "status_archived",
        "status_nonsubscribed",
    ):
        assert f"`{code}`" in text, code
        assert code in fields_module.__doc__, code  # type: ignore[operator]


def test_copy_of_rules_is_independent() -> None:
    # the parse functions do not keep references into the document
    doc = statuses_doc()
    rules = status_rules(copy.deepcopy(doc))
    doc["map"]["active"].append("gold")
    assert rules.lookup("gold") is None
