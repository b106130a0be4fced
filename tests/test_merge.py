"""Merging (dedupe): statuses, recency, blanks, tags, custom fields, duplicates, possibles."""

from __future__ import annotations

import copy
import json
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from listhygiene.emails import validate_emails
from listhygiene.errors import RulesError
from listhygiene.fields import _members
from listhygiene.merge import (
    DUPLICATES_SCHEMA,
    POSSIBLE_SCHEMA,
    MergeRules,
    Provider,
    _object_members,
    canonical_keys,
    contacts_merged,
    load_merge_rules,
    parse_merge_rules,
)

ROOT = Path(__file__).resolve().parents[1]
MERGE_TOML = ROOT / "rules" / "merge.toml"

SCHEMA: dict[str, Any] = {
    "source_file": pl.String,
    "source_row": pl.Int64,
    "email": pl.String,
    "first_name": pl.String,
    "last_name": pl.String,
    "phone": pl.String,
    "phone_valid": pl.Boolean,
    "company": pl.String,
    "job_title": pl.String,
    "tags": pl.List(pl.String),
    "source": pl.String,
    "status": pl.String,
    "status_reason": pl.String,
    "status_changed_at": pl.Datetime("us", "UTC"),
    "created_at": pl.Datetime("us", "UTC"),
    "last_changed": pl.Datetime("us", "UTC"),
    "external_id": pl.String,
    "social_profiles": pl.String,
    "custom_fields": pl.String,
    "email_key": pl.String,
    "dns_status": pl.String,
    "role_account": pl.Boolean,
    "disposable": pl.Boolean,
    "free_provider": pl.Boolean,
    "did_you_mean": pl.String,
    "verdict": pl.String,
    "verdict_reason": pl.String,
    "email_input": pl.String,
}
DEFAULT = MergeRules()


def t(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


def row(file: str, n: int, raw: str, **kw: Any) -> dict[str, Any]:
    r: dict[str, Any] = dict.fromkeys(SCHEMA)
    r.update(source_file=file, source_row=n, email=raw.strip(), email_key=raw.strip().lower())
    r.update(status="active", verdict="valid", email_input=raw)
    r.update(kw)
    return r


def frame(*rows: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=SCHEMA)


def merge(*rows: dict[str, Any], rules: MergeRules = DEFAULT):
    files = list(dict.fromkeys(r["source_file"] for r in rows))
    return contacts_merged(frame(*rows), {f: i for i, f in enumerate(files)}, rules)


def one(merged) -> dict[str, Any]:
    assert merged.contacts.height == 1
    return merged.contacts.row(0, named=True)


# ----------------------------------------------------------------- statuses


def test_unsubscribed_stays_unsubscribed_against_later_active_records():
    m = merge(
        row("a.csv", 2, "pat@example.com", status="active", last_changed=t(1)),
        row(
            "a.csv",
            3,
            "pat@example.com",
            status="unsubscribed",
            status_reason="user clicked unsubscribe",
            status_changed_at=t(5),
            last_changed=t(5),
        ),
        row("a.csv", 9, "Pat@Example.com", status="active", first_name="Pat", last_changed=t(20)),
        row(
            "b.csv",
            2,
            "pat@example.com",
            status="active",
            status_reason="re-subscribed",
            status_changed_at=t(25),
            last_changed=t(25),
        ),
    )
    c = one(m)
    assert c["status"] == "unsubscribed"
    assert c["status_reason"] == "user clicked unsubscribe"
    assert c["status_changed_at"] == t(5)
    assert c["first_name"] == "Pat"
    assert (c["source_file"], c["source_row"]) == ("a.csv", 2)
    assert m.duplicates_merged == 3


def test_status_precedence_and_the_reason_of_the_winning_status():
    m = merge(
        row(
            "a.csv",
            2,
            "x@example.com",
            status="complained",
            status_reason="abuse report",
            status_changed_at=t(2),
            last_changed=t(2),
        ),
        row(
            "a.csv",
            3,
            "x@example.com",
            status="bounced",
            status_reason="hard bounce",
            status_changed_at=t(9),
            last_changed=t(9),
        ),
        row(
            "a.csv",
            4,
            "x@example.com",
            status="unsubscribed",
            status_changed_at=t(10),
            last_changed=t(10),
        ),
    )
    c = one(m)
    assert (c["status"], c["status_reason"], c["status_changed_at"]) == (
        "complained",
        "abuse report",
        t(2),
    )


def test_same_status_twice_takes_the_most_recent_non_empty_reason():
    m = merge(
        row(
            "a.csv",
            2,
            "x@example.com",
            status="bounced",
            status_reason="mailbox full",
            status_changed_at=t(1),
            last_changed=t(1),
        ),
        row(
            "a.csv",
            3,
            "x@example.com",
            status="bounced",
            status_reason="no such user",
            status_changed_at=t(3),
            last_changed=t(3),
        ),
        row("a.csv", 4, "x@example.com", status="bounced", last_changed=t(4)),
        row("a.csv", 5, "x@example.com", status="active", status_reason="form", last_changed=t(9)),
    )
    c = one(m)
    assert (c["status"], c["status_reason"], c["status_changed_at"]) == (
        "bounced",
        "no such user",
        t(3),
    )


# ----------------------------------------------------------------- recency and blanks


def test_blanks_never_erase_data():
    m = merge(
        row(
            "a.csv",
            2,
            "x@example.com",
            first_name="Ann",
            company="Acme",
            phone="+4420794601",
            phone_valid=True,
            last_changed=t(1),
        ),
        row(
            "a.csv",
            3,
            "x@example.com",
            first_name="",
            company=None,
            job_title="CTO",
            phone=None,
            phone_valid=None,
            last_changed=t(5),
        ),
    )
    c = one(m)
    assert (c["first_name"], c["company"], c["job_title"]) == ("Ann", "Acme", "CTO")
    assert (c["phone"], c["phone_valid"]) == ("+4420794601", True)


def test_most_recent_by_last_changed_beats_file_and_row_order():
    m = merge(
        row("a.csv", 2, "x@example.com", first_name="New", last_changed=t(9)),
        row("b.csv", 2, "x@example.com", first_name="Old", last_changed=t(1)),
    )
    assert one(m)["first_name"] == "New"
    assert one(m)["last_changed"] == t(9)


def test_a_record_with_last_changed_is_more_recent_than_one_without():
    m = merge(
        row("a.csv", 2, "x@example.com", first_name="Dated", last_changed=t(1)),
        row("b.csv", 2, "x@example.com", first_name="Undated", created_at=t(20)),
    )
    assert one(m)["first_name"] == "Dated"


def test_created_at_decides_without_last_changed():
    m = merge(
        row("a.csv", 2, "x@example.com", first_name="Later", created_at=t(9)),
        row("b.csv", 2, "x@example.com", first_name="Earlier", created_at=t(3)),
    )
    c = one(m)
    assert c["first_name"] == "Later"
    assert c["created_at"] == t(3)  # the earliest


def test_later_file_then_later_row_without_any_time():
    m = merge(
        row("a.csv", 7, "x@example.com", first_name="A7"),
        row("b.csv", 2, "x@example.com", first_name="B2"),
        row("a.csv", 3, "x@example.com", first_name="A3"),
    )
    assert one(m)["first_name"] == "B2"
    m = merge(
        row("a.csv", 7, "x@example.com", first_name="A7"),
        row("a.csv", 3, "x@example.com", first_name="A3"),
    )
    c = one(m)
    assert c["first_name"] == "A7"
    assert c["source_row"] == 3  # the kept row is the first occurrence


def test_file_order_is_the_command_line_not_the_frame_order():
    f = frame(
        row("b.csv", 2, "x@example.com", first_name="B"),
        row("a.csv", 2, "x@example.com", first_name="A"),
    )
    m = contacts_merged(f, {"a.csv": 1, "b.csv": 0}, DEFAULT)
    c = one(m)
    assert c["first_name"] == "A"
    assert (c["source_file"], c["source_row"]) == ("b.csv", 2)


def test_created_at_is_the_earliest_last_changed_the_latest():
    m = merge(
        row("a.csv", 2, "x@example.com", created_at=t(5), last_changed=t(6)),
        row("a.csv", 3, "x@example.com", created_at=t(2), last_changed=t(4)),
        row("a.csv", 4, "x@example.com", created_at=None, last_changed=None),
    )
    c = one(m)
    assert (c["created_at"], c["last_changed"]) == (t(2), t(6))


# ----------------------------------------------------------------- tags, custom fields


def test_tags_union_first_spelling_first_seen_order():
    m = merge(
        row("a.csv", 2, "x@example.com", tags=["VIP", "Leads"], last_changed=t(9)),
        row("a.csv", 3, "x@example.com", tags=None),
        row("b.csv", 2, "x@example.com", tags=["leads", "Trade show", "vip", "New"]),
    )
    assert one(m)["tags"] == ["VIP", "Leads", "Trade show", "New"]


def test_tags_all_null_stay_null():
    m = merge(row("a.csv", 2, "x@example.com"), row("a.csv", 3, "x@example.com"))
    assert one(m)["tags"] is None


def test_custom_fields_merge_key_by_key():
    m = merge(
        row(
            "a.csv",
            2,
            "x@example.com",
            custom_fields='{"plan":"free","city":"Oslo","n":1}',
            last_changed=t(1),
        ),
        row(
            "a.csv",
            3,
            "x@example.com",
            custom_fields='{"plan":"pro","city":null,"x":{"a":[1,2]}}',
            last_changed=t(5),
        ),
        row("a.csv", 4, "x@example.com", custom_fields=None, last_changed=t(9)),
    )
    got = one(m)["custom_fields"]
    assert got == '{"plan":"pro","city":"Oslo","n":1,"x":{"a":[1,2]}}'
    assert json.loads(got) == {"plan": "pro", "city": "Oslo", "n": 1, "x": {"a": [1, 2]}}


def test_custom_fields_one_object_is_kept_as_is():
    m = merge(
        row("a.csv", 2, "x@example.com", custom_fields='{"a":"1"}', last_changed=t(9)),
        row("a.csv", 3, "x@example.com", custom_fields='{"a":"1"}'),
        row("a.csv", 4, "x@example.com"),
    )
    assert one(m)["custom_fields"] == '{"a":"1"}'


def test_flags_and_verdict_come_from_the_kept_row():
    m = merge(
        row(
            "a.csv",
            2,
            "x@example.com",
            verdict="risky",
            verdict_reason="role_account",
            role_account=True,
            last_changed=t(1),
        ),
        row("a.csv", 3, "X@example.com", verdict="valid", role_account=False, last_changed=t(9)),
    )
    c = one(m)
    assert (c["email"], c["verdict"], c["verdict_reason"], c["role_account"]) == (
        "x@example.com",
        "risky",
        "role_account",
        True,
    )


# ----------------------------------------------------------------- duplicates frame


def test_match_classes():
    raw = [
        "ann@example.com",
        "ann@example.com",
        "Ann@Example.com",
        " ann@example.com\u00a0",
        "\u200bANN@example.com ",
        "Ann <ann@example.com>",
        "mailto:ann@example.com",
        "ann@example.com;",
        " <ANN@example.com>",
    ]
    v = validate_emails(pl.Series(raw), workers=1)
    assert v["valid"].all()
    rows = [
        row("a.csv", n + 2, r, email=e, email_key=k)
        for n, (r, e, k) in enumerate(zip(raw, v["email"], v["email_key"], strict=True))
    ]
    m = merge(*rows)
    assert m.duplicates.schema == pl.Schema(DUPLICATES_SCHEMA)
    assert m.duplicates.select("row", "match").rows() == [
        (3, "exact"),
        (4, "case"),
        (5, "whitespace"),
        (6, "whitespace"),
        (7, "pre-cleaned"),
        (8, "pre-cleaned"),
        (9, "pre-cleaned"),
        (10, "pre-cleaned"),
    ]
    assert set(m.duplicates["kept_source_file"]) == {"a.csv"}
    assert set(m.duplicates["kept_row"]) == {2}
    assert set(m.duplicates["email_key"]) == {"ann@example.com"}


def test_conflicts_name_the_fields_whose_non_null_values_differ():
    m = merge(
        row(
            "a.csv",
            2,
            "x@example.com",
            first_name="Ann",
            company="Acme",
            tags=["VIP", "a"],
            custom_fields='{"a":1}',
        ),
        row(
            "b.csv",
            4,
            "x@example.com",
            first_name="Anne",
            company=None,
            tags=["a", "vip"],
            status="unsubscribed",
            custom_fields='{"a":2}',
        ),
        row("b.csv", 5, "x@example.com", first_name="Ann", job_title="CTO"),
    )
    d = m.duplicates
    assert d.rows() == [
        ("x@example.com", "a.csv", 2, "b.csv", 4, "exact", "first_name;status;custom_fields"),
        ("x@example.com", "a.csv", 2, "b.csv", 5, "exact", ""),
    ]


def test_count_identity_and_empty_frames_without_duplicates():
    m = merge(row("a.csv", 2, "x@example.com"), row("a.csv", 3, "y@example.com"))
    assert (m.input_rows, m.unique_contacts, m.duplicates_merged) == (2, 2, 0)
    assert m.duplicates.is_empty() and m.duplicates.schema == pl.Schema(DUPLICATES_SCHEMA)
    assert m.possible_duplicates.is_empty()
    assert m.possible_duplicates.schema == pl.Schema(POSSIBLE_SCHEMA)
    assert m.contacts.columns == [c for c in SCHEMA if c != "email_input"]


# ----------------------------------------------------------------- possible duplicates


POSSIBLE_ROWS = (
    row("a.csv", 2, "jane.doe@gmail.com", first_name="Jane"),
    row("a.csv", 3, "someone@example.com"),
    row("a.csv", 4, "JaneDoe+news@gmail.com", last_changed=t(5), status="unsubscribed"),
    row("b.csv", 2, "jane.doe@googlemail.com"),
    row("b.csv", 3, "bob+x@outlook.com"),
    row("b.csv", 4, "bob@outlook.com"),
    row("b.csv", 5, "b.ob@outlook.com"),  # dots matter at Outlook
    row("b.csv", 6, "bob+x@example.com"),  # not a listed provider
    row("b.csv", 7, "bob@example.com"),
)


def test_possible_duplicates_are_reported_not_merged():
    m = merge(*POSSIBLE_ROWS)
    assert m.counts == {
        "input_rows": 9,
        "duplicates_merged": 0,
        "unique_contacts": 9,
        "possible_duplicate_groups": 2,
    }
    assert m.possible_duplicates.rows() == [
        (1, "janedoe@gmail.com", "jane.doe@gmail.com", "a.csv", 2),
        (1, "janedoe@gmail.com", "janedoe+news@gmail.com", "a.csv", 4),
        (1, "janedoe@gmail.com", "jane.doe@googlemail.com", "b.csv", 2),
        (2, "bob@outlook.com", "bob+x@outlook.com", "b.csv", 3),
        (2, "bob@outlook.com", "bob@outlook.com", "b.csv", 4),
    ]


def test_merge_possible_merges_them_with_match_possible():
    m = merge(*POSSIBLE_ROWS, rules=MergeRules(merge_possible=True))
    assert m.contacts.height == 6
    assert m.duplicates_merged == 3
    assert m.possible_duplicates.is_empty()
    assert m.duplicates.select("email_key", "kept_row", "source_file", "row", "match").rows() == [
        ("janedoe+news@gmail.com", 2, "a.csv", 4, "possible"),
        ("jane.doe@googlemail.com", 2, "b.csv", 2, "possible"),
        ("bob@outlook.com", 3, "b.csv", 4, "possible"),
    ]
    jane = m.contacts.filter(pl.col("source_row") == 2, pl.col("source_file") == "a.csv").row(
        0, named=True
    )
    assert (jane["email_key"], jane["status"], jane["first_name"]) == (
        "jane.doe@gmail.com",
        "unsubscribed",
        "Jane",
    )


def test_merge_possible_keeps_the_other_match_classes_inside_a_group():
    m = merge(
        row("a.csv", 2, "jane.doe@gmail.com"),
        row("a.csv", 3, "Jane.Doe@gmail.com", email="Jane.Doe@gmail.com"),
        row("a.csv", 4, "jane.doe+x@gmail.com"),
        rules=MergeRules(merge_possible=True),
    )
    assert m.duplicates.select("email_key", "row", "match").rows() == [
        ("jane.doe@gmail.com", 3, "case"),
        ("jane.doe+x@gmail.com", 4, "possible"),
    ]


def test_without_email_input_the_email_column_is_compared():
    f = frame(
        row("a.csv", 2, "ann@example.com"),
        row("a.csv", 3, "ann@example.com"),
        row("a.csv", 4, "Ann@example.com"),
    ).drop("email_input")
    m = contacts_merged(f, {"a.csv": 0}, DEFAULT)
    assert m.duplicates["match"].to_list() == ["exact", "case"]
    assert m.contacts.columns == f.columns


def test_a_file_missing_from_file_order_is_an_error():
    with pytest.raises(ValueError, match=r"b\.csv"):
        contacts_merged(frame(row("b.csv", 2, "x@example.com")), {"a.csv": 0}, DEFAULT)


def test_canonical_key():
    keys = [
        "a.b.c+tag@gmail.com",
        "abc@googlemail.com",
        "+x@gmail.com",
        "a.b+c@outlook.com",
        '"a.b"@gmail.com',
        "a.b+c@example.com",
        "x@y@gmail.com",
        "A.B@GMAIL.com",
        None,
    ]
    got = canonical_keys(pl.Series(keys), DEFAULT.providers).to_list()
    assert got == [
        "abc@gmail.com",
        "abc@gmail.com",
        "+x@gmail.com",
        "a.b@outlook.com",
        '"a.b"@gmail.com',
        "a.b+c@example.com",
        "x@y@gmail.com",
        "A.B@GMAIL.com",
        None,
    ]


# ----------------------------------------------------------------- rules file


def test_shipped_rules_are_the_defaults():
    assert load_merge_rules(MERGE_TOML) == DEFAULT
    assert load_merge_rules() == DEFAULT


def test_missing_tables_take_the_defaults():
    problems: list[str] = []
    assert parse_merge_rules({}, "m.toml", problems) == DEFAULT
    assert problems == []


def test_every_problem_is_reported():
    doc = tomllib.loads(MERGE_TOML.read_text("utf-8"))
    bad = copy.deepcopy(doc)
    bad["status"]["precedence"] = ["active", "complained", "bounced", "unsubscribed"]
    bad["possible"]["merge_possible"] = "yes"
    bad["possible"]["colour"] = 1
    bad["provider"][0]["canonical_domain"] = "example.com"
    bad["provider"][1]["domains"] = ["Outlook.com"]
    bad["provider"][2]["subaddress_separator"] = "ab"
    bad["provider"][3]["domains"] = ["gmail.com"]
    bad["extra"] = {}
    problems: list[str] = []
    parse_merge_rules(bad, "m.toml", problems)
    assert problems == [
        "m.toml: unknown table [extra]; the tables are [status], [possible] and [[provider]].",
        "m.toml [status]: `precedence` must end with active: a suppressed status is never undone by an active record, not ['active', 'complained', 'bounced', 'unsubscribed'].",
        "m.toml [possible]: unknown key `colour`; the keys are merge_possible.",
        "m.toml [possible]: `merge_possible` must be true or false, not 'yes'.",
        "m.toml [[provider]] 'gmail': `canonical_domain` must be one of its `domains`, not 'example.com'.",
        "m.toml [[provider]] 'microsoft': `domains` must be a non-empty list of lower-case domains such as \"gmail.com\", not ['Outlook.com'].",
        'm.toml [[provider]] \'apple\': `subaddress_separator` must be one character such as "+" or "-" (not a letter, digit, ".", \'"\' or "@"), or "", not \'ab\'.',
        "m.toml [[provider]] 'fastmail': domain gmail.com is already in provider 'gmail'; list it once.",
    ]
    problems = []
    parse_merge_rules({"status": {"precedence": ["active"]}}, "m.toml", problems)
    assert problems == [
        "m.toml [status]: `precedence` must list each of complained, bounced, unsubscribed, active once, not ['active']."
    ]
    with pytest.raises(RulesError):
        p = ROOT / "build" / "bad-merge.toml"
        p.parent.mkdir(exist_ok=True)
        p.write_text('[possible]\nmerge_possible = "no"\n', "utf-8")
        try:
            load_merge_rules(p)
        finally:
            p.unlink()


def test_rules_provider_list_is_data():
    rules = MergeRules(providers=(Provider("yahoo", ("yahoo.com",), None, False, "-"),))
    m = merge(
        row("a.csv", 2, "john-news@yahoo.com"),
        row("a.csv", 3, "john@yahoo.com"),
        row("a.csv", 4, "jane.doe@gmail.com"),
        row("a.csv", 5, "janedoe@gmail.com"),
        rules=rules,
    )
    assert m.possible_duplicates["email_key"].to_list() == ["john-news@yahoo.com", "john@yahoo.com"]


# ----------------------------------------------------------------- property

STATUSES = ["active", "unsubscribed", "bounced", "complained"]
VARIANTS = ["lower", "upper", "title", "space", "dots", "plus"]
record = st.tuples(
    st.integers(0, 7),  # person; even ones are at gmail.com
    st.sampled_from(VARIANTS),
    st.sampled_from(STATUSES),
    st.one_of(st.none(), st.integers(1, 28)),  # last_changed day
    st.one_of(st.none(), st.integers(1, 28)),  # created_at day
    st.integers(0, 2),  # file
    st.one_of(st.none(), st.sampled_from(["A", "B", ""])),
)


def spelling(person: int, variant: str) -> str:
    local, domain = f"person{person}", "gmail.com" if person % 2 == 0 else "example.com"
    return {
        "lower": f"{local}@{domain}",
        "upper": f"{local}@{domain}".upper(),
        "title": f"{local}@{domain}".title(),
        "space": f" {local}@{domain}\u00a0",
        "dots": f"per.son{person}@{domain}",
        "plus": f"{local}+news@{domain}",
    }[variant]


@settings(max_examples=200, deadline=None)
@given(st.lists(record, min_size=1, max_size=40), st.booleans())
def test_property_counts_suppressions_and_keys(records, merge_possible):
    rows = []
    for n, (p, variant, status, lc, ca, f, name) in enumerate(records):
        raw = spelling(p, variant)
        r = row(
            f"f{f}.csv",
            n + 2,
            raw,
            email=raw.strip(" \u00a0"),
            email_key=raw.strip(" \u00a0").lower(),
            status=status,
            first_name=name,
            last_changed=t(lc) if lc else None,
            created_at=t(ca) if ca else None,
        )
        rows.append(r)
    rules = MergeRules(merge_possible=merge_possible)
    f = frame(*rows)
    m = contacts_merged(f, {"f0.csv": 0, "f1.csv": 1, "f2.csv": 2}, rules)
    assert m.input_rows == len(rows) == m.unique_contacts + m.duplicates_merged
    assert m.duplicates.height == m.duplicates_merged
    keys = m.contacts["email_key"].to_list()
    assert len(keys) == len(set(keys))
    canon = dict(
        zip(f["email_key"], canonical_keys(f["email_key"], DEFAULT.providers), strict=True)
    )
    group = (lambda k: canon[k]) if merge_possible else (lambda k: k)
    assert len(keys) == len({group(r["email_key"]) for r in rows})
    rank = {s: i for i, s in enumerate(STATUSES)}
    for c in m.contacts.iter_rows(named=True):
        mine = [r for r in rows if group(r["email_key"]) == group(c["email_key"])]
        worst = max((r["status"] for r in mine), key=rank.get)
        assert c["status"] == worst
        if worst != "active":
            assert c["status"] != "active"
        names = {r["first_name"] for r in mine} - {None, ""}
        if names:
            assert c["first_name"] in names
        first = min(mine, key=lambda r: (int(r["source_file"][1]), r["source_row"]))
        assert (c["source_file"], c["source_row"]) == (first["source_file"], first["source_row"])
    allowed = {"exact", "case", "whitespace"} | ({"possible"} if merge_possible else set())
    assert set(m.duplicates["match"]) <= allowed
    if not merge_possible:
        # gmail persons with two spellings of one mailbox form groups
        for _, g in m.possible_duplicates.group_by("group_id"):
            assert g.height >= 2 and g["canonical_key"].n_unique() == 1
            assert g["canonical_key"][0].endswith("@gmail.com")


# ----------------------------------------------------------------- JSON members fast path

JSON_KEYS = ['"a"', '"b"', '"\\u0061"', '"q\\"k"', '"c,d"', '"e:f"', '"\\\\"', '"é"', '""']
JSON_VALUES = ['"x"', '"y,z"', '"a\\"b"', '"{"', '"[1]"', "1", "-2.50", "true", "null", '""']
JSON_PIECES = [*JSON_KEYS, *JSON_VALUES, "{", "}", "[", "]", ":", ",", " ", "\n", "\\", '"', "x"]
flat_object = st.lists(
    st.tuples(st.sampled_from(JSON_KEYS), st.sampled_from(JSON_VALUES)), max_size=6
).map(lambda ms: "{" + ",".join(f"{k}:{v}" for k, v in ms) + "}")
json_text = st.one_of(
    flat_object,
    flat_object.map(lambda s: s.replace(":", ": ", 1)),  # whitespace: the generic path
    st.tuples(flat_object, flat_object).map(
        lambda p: p[0][:-1] + (',"n":' if len(p[0]) > 2 else '"n":') + p[1] + "}"
    ),
    st.lists(st.sampled_from(JSON_PIECES), max_size=12).map("".join),
    st.none(),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(json_text, max_size=8))
def test_object_members_fast_path_equals_the_generic_tokenizer(texts):
    frame = pl.DataFrame(
        {"__i": range(len(texts)), "custom_fields": texts},
        schema={"__i": pl.Int64, "custom_fields": pl.String},
    )
    want = _members(frame, "custom_fields").sort("__i", "m")
    got = _object_members(frame, "custom_fields")
    assert got.schema == want.schema
    assert got.to_dicts() == want.to_dicts()


# ----------------------------------------------------------------- the fast paths
# contacts_merged aggregates only the contacts with 2+ records, cuts simple custom-field
# objects at their commas and takes an input already in input order as it is. These
# tests pin each path; the property test below checks the whole merge against the
# implementation it replaced (tests/merge_reference.py), value for value.


def test_singletons_pass_through_untouched_blanks_included():
    m = merge(
        row("a.csv", 2, "x@example.com", first_name="  ", company="", custom_fields="{}"),
        row("a.csv", 3, "y@example.com", first_name="Y"),
        row("a.csv", 4, "y@example.com", first_name=" ", company="Acme", tags=["a"]),
        row("a.csv", 5, "z@example.com", tags=[], custom_fields='{"k":null}'),
    )
    got = m.contacts.select("email_key", "first_name", "company", "tags", "custom_fields")
    assert got.rows() == [
        ("x@example.com", "  ", "", None, "{}"),  # a single record is never cleaned up
        ("y@example.com", "Y", "Acme", ["a"], None),  # blanks lose only inside a group
        ("z@example.com", None, None, [], '{"k":null}'),
    ]


def test_frame_order_differs_from_input_order():
    f = frame(
        row("b.csv", 2, "x@example.com", first_name="B2"),
        row("a.csv", 9, "y@example.com"),
        row("a.csv", 3, "x@example.com", first_name="A3"),
        row("b.csv", 1, "z@example.com"),
    )
    m = contacts_merged(f, {"a.csv": 0, "b.csv": 1}, DEFAULT)
    assert m.contacts.select("email_key", "source_file", "source_row").rows() == [
        ("x@example.com", "a.csv", 3),
        ("y@example.com", "a.csv", 9),
        ("z@example.com", "b.csv", 1),
    ]
    assert (
        one(
            merge(
                row("a.csv", 3, "x@example.com", first_name="A3"),
                row("b.csv", 2, "x@example.com", first_name="B2"),
            )
        )["first_name"]
        == "B2"
    )
    assert m.contacts["first_name"].to_list() == ["B2", None, None]
    assert m.duplicates.select("kept_row", "source_file", "row").rows() == [(3, "b.csv", 2)]


def test_custom_fields_collide_key_by_key_across_simple_and_other_objects():
    m = merge(
        # a simple object (cut at its commas)
        row(
            "a.csv", 2, "x@example.com", custom_fields='{"a":"1","b":"2","c":3}', last_changed=t(3)
        ),
        # not simple: a comma inside a value, an escaped key that decodes to "a", a null
        row(
            "a.csv",
            3,
            "x@example.com",
            custom_fields='{"d":"x, y","\\u0061":"9","b":null}',
            last_changed=t(5),
        ),
        # simple again, the most recent: wins "c", adds "e"; a JSON null never wins
        row(
            "a.csv",
            4,
            "x@example.com",
            custom_fields='{"e":true,"c":4,"d":null}',
            last_changed=t(7),
        ),
    )
    got = one(m)["custom_fields"]
    # keys in first-seen order (a, b, c from row 2; d from row 3; e from row 4), each
    # from the most recent record that has a value for it, written as that record wrote it
    assert got == '{"\\u0061":"9","b":"2","c":4,"d":"x, y","e":true}'
    assert json.loads(got) == {"a": "9", "b": "2", "c": 4, "d": "x, y", "e": True}


def test_custom_fields_all_null_values_give_no_custom_fields():
    m = merge(
        row("a.csv", 2, "x@example.com", custom_fields='{"a":null}'),
        row("a.csv", 3, "x@example.com", custom_fields='{"b":null}'),
    )
    assert one(m)["custom_fields"] is None


def test_custom_fields_duplicate_key_inside_one_object_takes_its_last_value():
    m = merge(
        row("a.csv", 2, "x@example.com", custom_fields='{"a":"1","a":"2"}', last_changed=t(9)),
        row("a.csv", 3, "x@example.com", custom_fields='{"b":"3"}', last_changed=t(1)),
    )
    assert one(m)["custom_fields"] == '{"a":"2","b":"3"}'


def test_phone_and_its_validity_travel_together():
    m = merge(
        row("a.csv", 2, "x@example.com", phone="+4712345678", phone_valid=True, last_changed=t(1)),
        row("a.csv", 3, "x@example.com", phone="123", phone_valid=False, last_changed=t(5)),
        row("a.csv", 4, "x@example.com", phone=" ", phone_valid=None, last_changed=t(9)),
    )
    assert (one(m)["phone"], one(m)["phone_valid"]) == ("123", False)


# A richer random frame than the property above: every field, blanks, ties in time,
# files out of order, custom-field objects of every shape.
NAMES = st.sampled_from([None, "", "  ", "A", "B", "b"])
TIMES = st.one_of(st.none(), st.integers(1, 4).map(t))
CUSTOM = st.one_of(
    json_text,
    st.sampled_from(['{"a":"1"}', '{"a":"2","b":"x, y"}', '{"b":"1","a":null}', "{}"]),
)
full_record = st.fixed_dictionaries(
    {
        "person": st.integers(0, 5),
        "variant": st.sampled_from(VARIANTS),
        "file": st.integers(0, 2),
        "source_row": st.integers(2, 9),
        "status": st.sampled_from(STATUSES),
        "status_reason": NAMES,
        "status_changed_at": TIMES,
        "created_at": TIMES,
        "last_changed": TIMES,
        "first_name": NAMES,
        "company": NAMES,
        "phone": st.sampled_from([None, "", "+1", "+2"]),
        "phone_valid": st.sampled_from([None, True, False]),
        "tags": st.one_of(st.none(), st.lists(st.sampled_from(["VIP", "vip", "a", "B"]))),
        "custom_fields": CUSTOM,
        "social_profiles": st.sampled_from([None, "", '{"x":"1"}']),
        "verdict": st.sampled_from(["valid", "risky"]),
    }
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(full_record, min_size=1, max_size=30),
    st.booleans(),
    st.booleans(),
    st.permutations([0, 1, 2]),
)
def test_property_equals_the_merge_it_replaced(records, merge_possible, in_order, files):
    from merge_reference import contacts_merged as reference

    rows = []
    for n, r in enumerate(records):
        raw = spelling(r.pop("person"), r.pop("variant"))
        f = r.pop("file")
        kw = {**r, "email": raw.strip(" \u00a0"), "email_key": raw.strip(" \u00a0").lower()}
        rows.append(row(f"f{f}.csv", r.pop("source_row") if in_order else n + 2, raw, **kw))
    if in_order:  # already in input order: the frame is taken as it is
        rows.sort(key=lambda r: (files[int(r["source_file"][1])], r["source_row"]))
    order = {f"f{k}.csv": files[k] for k in range(3)}
    rules = MergeRules(merge_possible=merge_possible)
    got, want = contacts_merged(frame(*rows), order, rules), reference(frame(*rows), order, rules)
    assert got.counts == want.counts
    for a, b in [
        (got.contacts, want.contacts),
        (got.duplicates, want.duplicates),
        (got.possible_duplicates, want.possible_duplicates),
    ]:
        assert a.schema == b.schema
        assert a.to_dicts() == b.to_dicts()


def test_extra_nested_columns_take_the_most_recent_value():
    from merge_reference import contacts_merged as reference

    f = frame(
        row("a.csv", 2, "x@example.com", last_changed=t(1)),
        row("a.csv", 3, "y@example.com"),
        row("a.csv", 4, "x@example.com", last_changed=t(5)),
        row("a.csv", 5, "x@example.com", last_changed=t(9)),
    ).with_columns(
        pl.Series("ids", [[1], [2], [3, 4], None], dtype=pl.List(pl.Int64)),
        pl.Series("meta", [{"a": 1}, {"a": 2}, {"a": 3}, None]),
    )
    got = contacts_merged(f, {"a.csv": 0}, DEFAULT)
    assert got.contacts.select("email_key", "ids", "meta").rows() == [
        ("x@example.com", [3, 4], {"a": 3}),  # the latest non-null: row 4's, not row 5's null
        ("y@example.com", [2], {"a": 2}),
    ]
    assert got.contacts.to_dicts() == reference(f, {"a.csv": 0}, DEFAULT).contacts.to_dicts()
