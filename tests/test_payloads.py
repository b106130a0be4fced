"""Import payloads (pipeline/payloads): batches, limits, eligibility, reconciliation."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from listhygiene.payloads import TARGETS, Payloads, build_payloads
from listhygiene.payloads.records import SOCIAL_KEYS
from listhygiene.payloads.rules import load_payload_rules

RULES = load_payload_rules()
SCHEMA = {
    "email": pl.String,
    "email_key": pl.String,
    "first_name": pl.String,
    "last_name": pl.String,
    "phone": pl.String,
    "company": pl.String,
    "job_title": pl.String,
    "tags": pl.List(pl.String),
    "custom_fields": pl.String,
    "social_profiles": pl.String,
    "source": pl.String,
    "status": pl.String,
    "verdict": pl.String,
}


def contacts(rows: list[dict]) -> pl.DataFrame:
    full = []
    for i, r in enumerate(rows):
        email = r.get("email", f"p{i}@example.com")
        full.append(
            {
                "email": email,
                "email_key": email.lower(),
                "status": "active",
                "verdict": "valid",
                **{k: v for k, v in r.items() if k != "email"},
            }
        )
    return pl.DataFrame(full, schema=SCHEMA)


def bodies(p: Payloads, target: str, stem: str = "import") -> list[bytes]:
    return [r.body for r in p.targets[target].requests if re.match(rf"{stem}-\d+\.", r.file)]


def import_emails(p: Payloads, target: str) -> list[str]:
    out: list[str] = []
    for body in bodies(p, target):
        doc = json.loads(body)
        items = doc if isinstance(doc, list) else doc["contacts"]
        out += [c["email"] for c in items]
    return out


def test_25001_contacts_make_three_batches_with_nobody_lost_or_repeated() -> None:
    frame = contacts([{} for _ in range(25001)])
    p = build_payloads(frame, TARGETS, RULES)
    for target in ("misarmail", "misar-mail", "mailerdash"):
        sizes = [len(json.loads(b) if target == "mailerdash" else json.loads(b)["contacts"])
                 for b in bodies(p, target)]  # fmt: skip
        assert sizes == [10000, 10000, 5001], target
        emails = import_emails(p, target)
        assert len(emails) == len(set(emails)) == 25001
        assert set(emails) == set(frame.get_column("email"))
    lines = p.targets["misar-io"].requests[0].body.decode().splitlines()
    assert len(lines) == 25001
    plan = json.loads(dict((f, b) for f, b, _ in p.targets["misar-io"].files)["plan.json"])
    assert plan["requests"] == 25001 and plan["windows"] == 126
    assert plan["minimum_seconds"] == 125 * 60
    for counts in p.summary().values():
        assert counts["reconciles"]


def test_a_suppressed_contact_is_never_sent_as_active() -> None:
    frame = contacts(
        [
            {"email": "u@example.com", "status": "unsubscribed"},
            {"email": "b@example.com", "status": "bounced", "verdict": "invalid"},
            {"email": "c@example.com", "status": "complained"},
            {"email": "a@example.com"},
        ]
    )
    p = build_payloads(frame, TARGETS, RULES)
    misarmail = json.loads(bodies(p, "misarmail")[0])["contacts"]
    assert {c["email"]: c["status"] for c in misarmail} == {
        "u@example.com": "unsubscribed",
        "b@example.com": "unsubscribed",  # seed 000 documents active | unsubscribed only
        "c@example.com": "unsubscribed",
        "a@example.com": "active",
    }
    own = {"u@example.com": "unsubscribed", "b@example.com": "bounced",
           "c@example.com": "complained", "a@example.com": "subscribed"}  # fmt: skip
    misar_mail = json.loads(bodies(p, "misar-mail")[0])["contacts"]
    assert {c["email"]: c["status"] for c in misar_mail} == own
    io_lines = [json.loads(x) for x in p.targets["misar-io"].requests[0].body.splitlines()]
    assert {c["email"]: c["status"] for c in io_lines} == own
    assert import_emails(p, "mailerdash") == ["a@example.com"]  # no status: left out
    assert p.summary()["mailerdash"]["left_out"] == {"no_status_in_import": 3}
    csv_body = p.targets["misar-mail"].alternatives[0].body.decode()
    assert csv_body.splitlines() == ["email,firstName,lastName,tags", "a@example.com,,,"]


def test_omit_leaves_suppressed_contacts_out_everywhere() -> None:
    frame = contacts([{"status": "unsubscribed"}, {}])
    p = build_payloads(frame, TARGETS, replace(RULES, send_suppressed=False))
    for target in TARGETS:
        assert p.summary()[target]["left_out"].get("suppressed_omitted") == 1
        assert p.summary()[target]["reconciles"]


def test_verdicts_outside_the_rules_are_left_out_and_counted() -> None:
    frame = contacts([{"verdict": "invalid"}, {"verdict": "risky"}, {"verdict": "unknown"}, {}])
    p = build_payloads(frame, ("misarmail",), replace(RULES, verdicts=("valid",)))
    s = p.summary()["misarmail"]
    assert s["sent"] == {"active": 1}
    assert s["left_out"] == {"verdict_invalid": 1, "verdict_risky": 1, "verdict_unknown": 1}


def test_a_300_character_company_is_cut_for_misar_io_and_listed() -> None:
    frame = contacts([{"company": "C" * 300, "first_name": "é" * 101}])
    p = build_payloads(frame, ("misar-io",), RULES)
    record = json.loads(p.targets["misar-io"].requests[0].body)
    assert record["company"] == "C" * 150 and record["firstName"] == "é" * 100
    w = p.warnings.sort("field").to_dicts()
    assert [(x["field"], x["action"]) for x in w] == [("company", "fixed"), ("firstName", "fixed")]
    assert w[0]["message"] == (
        "company has 300 characters; misar-io takes at most 150 characters: cut to the first "
        "150 characters."
    )
    skipped = build_payloads(frame, ("misar-io",), replace(RULES, policy="skip"))
    assert skipped.targets["misar-io"].requests == []
    assert skipped.summary()["misar-io"]["left_out"] == {"over_limit": 1}
    assert set(skipped.warnings.get_column("action")) == {"skipped"}


def test_limits_count_utf16_units_so_an_emoji_counts_two() -> None:
    frame = contacts([{"job_title": "😀" * 60, "company": "a" * 149 + "😀"}])
    p = build_payloads(frame, ("misar-io",), RULES)
    record = json.loads(p.targets["misar-io"].requests[0].body)
    assert record["jobTitle"] == "😀" * 50  # 100 units
    assert record["company"] == "a" * 149  # the emoji would make 151 units
    assert "jobTitle has 120 characters" in " ".join(p.warnings.get_column("message"))


def test_more_than_50_tags_are_cut_for_misar_mail_only() -> None:
    tags = [f"t{i}" for i in range(60)]
    p = build_payloads(contacts([{"tags": tags}]), ("misar-mail", "misarmail"), RULES)
    assert json.loads(bodies(p, "misar-mail")[0])["contacts"][0]["tags"] == tags[:50]
    assert json.loads(bodies(p, "misarmail")[0])["contacts"][0]["tags"] == tags
    assert p.warnings.get_column("target").to_list() == ["misar-mail"]


def test_custom_fields_and_social_profiles_for_misar_io() -> None:
    many = json.dumps({f"k{i}": "v" for i in range(25)}, separators=(",", ":"))
    big = json.dumps({"a": "x" * 5000, "b": "y" * 5000}, separators=(",", ":"))
    social = json.dumps(
        {"linkedin": "https://example.com/in/p", "myspace": "p", "twitter": "@" * 501}
    )
    frame = contacts([{"custom_fields": many}, {"custom_fields": big, "social_profiles": social}])
    p = build_payloads(frame, ("misar-io",), RULES)
    lines = [json.loads(x) for x in p.targets["misar-io"].requests[0].body.splitlines()]
    assert list(lines[0]["customFields"]) == [f"k{i}" for i in range(20)]
    assert lines[1]["customFields"] == {"a": "x" * 5000}
    assert lines[1]["socialProfiles"] == {"linkedin": "https://example.com/in/p"}
    messages = " ".join(p.warnings.get_column("message"))
    assert "dropped k20, k21, k22, k23, k24" in messages
    assert "myspace are not among" in messages and "socialProfiles.twitter" in messages


def test_the_csv_payload_neutralizes_formulas_but_not_the_email() -> None:
    frame = contacts([{"email": "-x@example.com", "first_name": "=HYPERLINK(1)", "tags": ["@a"]}])
    p = build_payloads(frame, ("misar-mail",), RULES)
    rows = list(csv.reader(io.StringIO(p.targets["misar-mail"].alternatives[0].body.decode())))
    assert rows[1] == ["-x@example.com", "'=HYPERLINK(1)", "", "'@a"]


def test_a_tag_with_a_comma_keeps_a_contact_out_of_the_csv_form() -> None:
    frame = contacts([{"email": "a@example.com", "tags": ["x,y"]}, {"email": "b@example.com"}])
    p = build_payloads(frame, ("misar-mail",), RULES)
    rows = p.targets["misar-mail"].alternatives[0].body.decode().splitlines()
    assert rows == ["email,firstName,lastName,tags", "b@example.com,,,"]
    assert len(json.loads(bodies(p, "misar-mail")[0])["contacts"]) == 2
    assert p.warnings.get_column("action").to_list() == ["not_carried"]


def test_a_byte_cap_closes_batches_early() -> None:
    frame = contacts([{"first_name": "x" * 1000} for _ in range(300)])
    p = build_payloads(frame, ("misarmail", "mailerdash"), replace(RULES, max_body_bytes=70_000))
    for target in ("misarmail", "mailerdash"):
        sizes = [len(b) for b in bodies(p, target)]
        assert len(sizes) > 1 and max(sizes) <= 70_000
        assert len(import_emails(p, target)) == 300


def _account(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "email_key": pl.String,
            "email": pl.String,
            "account_id": pl.String,
            "account_status": pl.String,
            "first_name": pl.String,
            "tags": pl.List(pl.String),
        },
    )


def test_with_an_account_updates_go_by_id_and_nothing_is_resubscribed() -> None:
    from listhygiene.existing import apply_account_suppressions, reconcile

    ours = contacts(
        [
            {"email": "new@example.com"},
            {"email": "upd@example.com", "first_name": "Ann", "tags": ["b"]},
            {"email": "same@example.com"},
            {"email": "gone@example.com", "verdict": "invalid"},  # unsubscribed in the account
            {"email": "bad@example.com", "verdict": "invalid"},
            {"email": "unsub@example.com", "status": "unsubscribed"},  # active there
        ]
    )
    account = _account(
        [
            {"email_key": "upd@example.com", "email": "upd@example.com", "account_id": "c1",
             "account_status": "active", "first_name": "Anne", "tags": ["a"]},
            {"email_key": "same@example.com", "email": "same@example.com", "account_id": "c2",
             "account_status": "active", "first_name": None, "tags": []},
            {"email_key": "gone@example.com", "email": "gone@example.com", "account_id": "c3",
             "account_status": "unsubscribed", "first_name": None, "tags": []},
            {"email_key": "bad@example.com", "email": "bad@example.com", "account_id": "c4",
             "account_status": "active", "first_name": None, "tags": []},
            {"email_key": "unsub@example.com", "email": "unsub@example.com", "account_id": "c5",
             "account_status": "active", "first_name": None, "tags": []},
        ]
    )  # fmt: skip
    ours = apply_account_suppressions(ours, account)
    classes = reconcile(ours, account).classes
    p = build_payloads(ours, TARGETS, RULES, classes=classes, account=account)
    body = json.loads(bodies(p, "misarmail")[0])
    assert body["skipExisting"] is True
    assert [c["email"] for c in body["contacts"]] == ["new@example.com"]
    updates = [json.loads(b) for b in bodies(p, "misarmail", "bulk-update")]
    assert {json.dumps(u["update"], sort_keys=True): u["ids"] for u in updates} == {
        json.dumps({"firstName": "Ann", "tags": ["a", "b"]}, sort_keys=True): ["c1"],
        json.dumps({"status": "unsubscribed"}, sort_keys=True): ["c5"],
    }
    s = p.summary()["misarmail"]
    # bad@ is unchanged in the account (its verdict does not matter there): not imported
    assert s["left_out"] == {"suppressed_in_account": 1, "unchanged_in_account": 2}
    flags = {json.loads(b)["update_existing"]: [c["email"] for c in json.loads(b)["contacts"]]
             for b in bodies(p, "misar-mail")}  # fmt: skip
    assert flags == {False: ["new@example.com"], True: ["upd@example.com", "unsub@example.com"]}
    io = [json.loads(x) for x in p.targets["misar-io"].requests[0].body.splitlines()]
    assert {c["email"]: c["status"] for c in io} == {
        "new@example.com": "subscribed",
        "upd@example.com": "subscribed",
        "unsub@example.com": "unsubscribed",
    }
    deletes = [json.loads(b) for b in bodies(p, "mailerdash", "delete")]
    assert deletes == [{"emails": ["bad@example.com"]}]  # never gone@ or unsub@: suppressed
    not_carried = p.warnings.filter(pl.col("action") == "not_carried")
    assert not_carried.get_column("email").to_list() == ["unsub@example.com"]
    for counts in p.summary().values():
        assert counts["reconciles"]


# -- the property: no payload ever exceeds a documented limit -------------------------------

text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=400)
objects = st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=900), max_size=30)
socials = st.dictionaries(
    st.sampled_from([*SOCIAL_KEYS, "myspace", "orkut"]),
    st.one_of(st.none(), st.text(max_size=700)),
    max_size=9,
)
contact = st.fixed_dictionaries(
    {},
    optional={
        "first_name": text, "last_name": text, "phone": st.text(max_size=80),
        "company": text, "job_title": text, "source": text,
        "tags": st.lists(st.text(min_size=1, max_size=5), max_size=70),
        "custom_fields": objects.map(lambda d: json.dumps(d, ensure_ascii=False)),
        "social_profiles": socials.map(lambda d: json.dumps(d, ensure_ascii=False)),
        "status": st.sampled_from(["active", "unsubscribed", "bounced", "complained"]),
        "verdict": st.sampled_from(["valid", "risky", "unknown", "invalid"]),
    },
)  # fmt: skip
LIMITS = {"email": 254, "firstName": 100, "lastName": 100, "phone": 50, "company": 150,
          "jobTitle": 100, "source": 100}  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(contact, min_size=1, max_size=25), policy=st.sampled_from(["fix", "skip"]))
def test_no_payload_ever_exceeds_a_documented_limit(rows: list[dict], policy: str) -> None:
    frame = contacts(rows)
    p = build_payloads(frame, TARGETS, replace(RULES, policy=policy, misarmail_batch=7))
    for r in p.targets["misar-io"].requests:
        for line in r.body.decode().splitlines():  # splitlines: NEL, U+2028 come escaped
            c = json.loads(line)
            for key, n in LIMITS.items():  # in UTF-16 units, as a JavaScript server counts
                assert len((c.get(key) or "").encode("utf-16-le")) // 2 <= n, key
            cf = c.get("customFields", {})
            assert len(cf) <= 20
            assert len(json.dumps(cf, ensure_ascii=False, separators=(",", ":")).encode()) <= 8192
            for k, v in c.get("socialProfiles", {}).items():
                assert k in SOCIAL_KEYS and (v is None or len(v) <= 500)
            assert c["status"] in ("subscribed", "unsubscribed", "bounced", "complained")
    for b in bodies(p, "misar-mail"):
        for c in json.loads(b)["contacts"]:
            assert len(c.get("tags", [])) <= 50
            assert c["status"] in ("subscribed", "unsubscribed", "bounced", "complained")
    for b in bodies(p, "misarmail"):
        doc = json.loads(b)
        assert len(doc["contacts"]) <= 7
        assert all(c["status"] in ("active", "unsubscribed") for c in doc["contacts"])
    sent_active = frame.filter(
        (pl.col("status") == "active") & pl.col("verdict").is_in(list(RULES.verdicts))
    ).height
    assert p.summary()["mailerdash"]["sent"].get("active", 0) <= sent_active
    for counts in p.summary().values():
        assert counts["reconciles"]


def test_the_sample_payloads_match_the_golden_files(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from paths import REPO

    from listhygiene.cli import main

    out = tmp_path / "out"
    r = CliRunner().invoke(
        main,
        ["run", str(REPO / "data" / "sample"), "--events", str(REPO / "data" / "events"),
         "--out", str(out), "--db", str(tmp_path / "s.db"), "--as-of", "2026-11-01T00:00:00Z",
         "--dns", "off", "--import-tag", "listhygiene-sample"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    golden = REPO / "tests" / "golden" / "payloads"
    got = {p.relative_to(out / "payloads").as_posix(): p.read_bytes()
           for p in (out / "payloads").rglob("*") if p.is_file()}  # fmt: skip
    want = {p.relative_to(golden).as_posix(): p.read_bytes()
            for p in golden.rglob("*") if p.is_file()}  # fmt: skip
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name] == want[name], f"{name} differs from tests/golden/payloads"
    manifest = json.loads((out / "manifest.json").read_text())
    with (out / "contacts.csv").open(newline="") as f:
        n = sum(1 for _ in csv.DictReader(f))
    for target, counts in manifest["payloads"].items():
        assert counts["contacts_sent"] + sum(counts["left_out"].values()) == n, target


@pytest.mark.parametrize("target", TARGETS)
def test_one_target_alone(target: str, tmp_path: Path) -> None:
    p = build_payloads(contacts([{}]), (target,), RULES)
    assert list(p.targets) == [target]
