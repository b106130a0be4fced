"""Reconciling a run's contacts with the target account's export (`--existing`)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from listhygiene.existing import (
    CLASS_SCHEMA,
    CLASSES,
    apply_account_suppressions,
    import_preview,
    load_existing,
    read_existing,
    reconcile,
)
from listhygiene.ruleset import RuleSet

FIXTURES = Path(__file__).resolve().parent / "existing"

CONTACT_SCHEMA = {
    "email": pl.String,
    "email_key": pl.String,
    "first_name": pl.String,
    "last_name": pl.String,
    "phone": pl.String,
    "company": pl.String,
    "tags": pl.List(pl.String),
    "custom_fields": pl.String,
    "status": pl.String,
    "status_reason": pl.String,
}
EXISTING_SCHEMA = {
    "email_key": pl.String,
    "email": pl.String,
    "account_id": pl.String,
    "account_ids": pl.List(pl.String),
    "account_status": pl.String,
    "first_name": pl.String,
    "last_name": pl.String,
    "phone": pl.String,
    "company": pl.String,
    "tags": pl.List(pl.String),
    "custom_fields": pl.String,
}


def _contacts(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=CONTACT_SCHEMA, orient="row")


def _existing(rows: list[tuple]) -> pl.DataFrame:
    full = [(r[0], r[1], r[2], [r[2]], *r[3:]) for r in rows]
    return pl.DataFrame(full, schema=EXISTING_SCHEMA, orient="row")


# email, email_key, first, last, phone, company, tags, custom_fields, status, status_reason
OURS = _contacts(
    [
        (
            "Ann@x.example",
            "ann@x.example",
            "Ann",
            " ",
            None,
            "Acme Corp",
            ["VIP", "new"],
            '{"plan":"pro","seats":"10"}',
            "active",
            None,
        ),
        (
            "bob@x.example",
            "bob@x.example",
            "Bob",
            "Ray",
            None,
            None,
            [],
            '{"plan":"","seats":"5"}',
            "active",
            None,
        ),
        ("cy@x.example", "cy@x.example", "Cy", None, None, None, None, None, "active", None),
        (
            "ed@x.example",
            "ed@x.example",
            "Ed",
            None,
            None,
            None,
            None,
            None,
            "unsubscribed",
            "unsubscribed in the file",
        ),
        (
            "fay@x.example",
            "fay@x.example",
            None,
            None,
            None,
            None,
            None,
            None,
            "bounced",
            "hard bounce",
        ),
        ("new@x.example", "new@x.example", "Nia", None, None, None, None, None, "active", None),
    ]
)
# email_key, email, account_id, status, first, last, phone, company, tags, custom_fields
ACCOUNT = _existing(
    [
        (
            "ann@x.example",
            "ann@x.example",
            "acc_a",
            "active",
            "Ann",
            "Lee",
            None,
            "Acme",
            ["vip"],
            '{"plan":"pro","seats":"5"}',
        ),
        (
            "bob@x.example",
            "bob@x.example",
            "acc_b",
            "active",
            "Bob",
            "Ray",
            None,
            None,
            None,
            '{"plan":"basic","seats":5}',
        ),
        (
            "cy@x.example",
            "cy@x.example",
            "acc_c",
            "unsubscribed",
            "Cy",
            None,
            None,
            None,
            None,
            None,
        ),
        ("di@x.example", "di@x.example", "acc_d", "active", "Di", None, None, None, None, None),
        ("ed@x.example", "ed@x.example", "acc_e", "active", "Ed", None, None, None, None, None),
        (
            "fay@x.example",
            "fay@x.example",
            "acc_f",
            "unsubscribed",
            None,
            None,
            None,
            None,
            None,
            None,
        ),
    ]
)


def _by_key(frame: pl.DataFrame) -> dict[str, dict]:
    return {r["email_key"]: r for r in frame.iter_rows(named=True)}


def test_every_class_with_ids_and_order() -> None:
    rec = reconcile(OURS, ACCOUNT)
    assert rec.classes.schema == pl.Schema(CLASS_SCHEMA)
    got = rec.classes.select("email_key", "email", "class", "account_id").rows()
    assert got == [
        ("ann@x.example", "Ann@x.example", "update", "acc_a"),
        ("bob@x.example", "bob@x.example", "unchanged", "acc_b"),
        ("cy@x.example", "cy@x.example", "suppressed_in_account", "acc_c"),
        ("ed@x.example", "ed@x.example", "update", "acc_e"),
        ("fay@x.example", "fay@x.example", "suppressed_in_account", "acc_f"),
        ("new@x.example", "new@x.example", "new", None),
        ("di@x.example", "di@x.example", "only_in_account", "acc_d"),
    ]
    assert rec.counts == {
        "new": 1,
        "update": 2,
        "unchanged": 1,
        "suppressed_in_account": 2,
        "only_in_account": 1,
    }
    assert list(rec.counts) == list(CLASSES)


def test_update_lists_exactly_the_changed_fields_and_ignores_blanks() -> None:
    rows = _by_key(reconcile(OURS, ACCOUNT).classes)
    # last_name " " is blank: never a change; company differs; tag `new` is added (`VIP`
    # is `vip` ignoring case); custom field seats 10 != 5, plan equal
    assert rows["ann@x.example"]["changed_fields"] == ["company", "tags", "custom_fields"]
    # plan "" is blank, seats "5" equals the account's number 5, empty tags add nothing
    assert rows["bob@x.example"]["changed_fields"] == []
    # our suppression is an update of an account that has the contact active
    assert rows["ed@x.example"]["changed_fields"] == ["status"]
    assert rows["new@x.example"]["changed_fields"] == []
    assert rows["di@x.example"]["changed_fields"] == []


def test_only_fields_the_account_holds_are_compared() -> None:
    account = ACCOUNT.drop("company", "custom_fields")
    rows = _by_key(reconcile(OURS, account).classes)
    assert rows["ann@x.example"]["changed_fields"] == ["tags"]


def test_account_unsubscribed_is_never_sent_active() -> None:
    rows = _by_key(reconcile(OURS, ACCOUNT).classes)
    assert rows["cy@x.example"]["class"] == "suppressed_in_account"
    assert rows["cy@x.example"]["status"] == "active"
    fixed = apply_account_suppressions(OURS, ACCOUNT)
    assert fixed.columns == OURS.columns
    assert fixed.get_column("email_key").to_list() == OURS.get_column("email_key").to_list()
    cy = _by_key(fixed)["cy@x.example"]
    assert (cy["status"], cy["status_reason"]) == ("unsubscribed", "account: unsubscribed")


def test_our_suppression_is_never_undone_by_the_account() -> None:
    fixed = _by_key(apply_account_suppressions(OURS, ACCOUNT))
    # the account has Ed active: ours stays unsubscribed with our reason
    assert (fixed["ed@x.example"]["status"], fixed["ed@x.example"]["status_reason"]) == (
        "unsubscribed",
        "unsubscribed in the file",
    )
    # the account's unsubscribed does not outrank our bounced
    assert (fixed["fay@x.example"]["status"], fixed["fay@x.example"]["status_reason"]) == (
        "bounced",
        "hard bounce",
    )
    # contacts the account has active, or does not have, are untouched
    for key in ("ann@x.example", "bob@x.example", "new@x.example"):
        assert (fixed[key]["status"], fixed[key]["status_reason"]) == ("active", None)


def test_import_preview_small_case() -> None:
    twice = pl.concat([OURS, OURS.head(1)])  # a repeated key counts once in total_unique
    assert import_preview(twice, ACCOUNT, received_rows=9) == {
        "existing": [
            "Ann@x.example",
            "bob@x.example",
            "cy@x.example",
            "ed@x.example",
            "fay@x.example",
        ],
        "total_unique": 6,
        "total_received": 9,
        "classes": {
            "new": 1,
            "update": 2,
            "unchanged": 1,
            "suppressed_in_account": 2,
            "only_in_account": 1,
        },
    }


def test_empty_account_makes_everything_new() -> None:
    empty = ACCOUNT.clear()
    rec = reconcile(OURS, empty)
    assert rec.counts["new"] == OURS.height
    assert sum(rec.counts.values()) == OURS.height
    assert apply_account_suppressions(OURS, empty).equals(OURS)


# --------------------------------------------------------------------------- loading exports


def test_seed_000_misarmail_json(rules: RuleSet, tmp_path: Path) -> None:
    acc = read_existing([FIXTURES / "misarmail_contacts.json"], rules, tmp_path)
    assert acc.presets == {str(FIXTURES / "misarmail_contacts.json"): "misarmail"}
    assert acc.contacts.select("email_key", "account_id", "account_status").rows() == [
        ("alice.smith@example.com", "con_01AAA", "active"),
        ("bob@example.org", "con_02BBB", "unsubscribed"),
    ]
    # the row without a usable address is dropped and kept as a reject
    assert acc.input_rows == 3
    assert acc.rejects.select("row", "email", "field").rows() == [(3, "not-an-address", "email")]
    # the list export has no metadata: custom fields are not compared
    held = [c for c in acc.contacts.columns if c in CONTACT_SCHEMA]
    assert held == ["email_key", "email", "first_name", "last_name", "tags"]


def test_seed_001_misar_mail_subscribed(rules: RuleSet, tmp_path: Path) -> None:
    frame = load_existing([FIXTURES / "misar_mail_contacts.json"], rules, tmp_path)
    assert frame.select("email_key", "account_id", "account_status", "custom_fields").rows() == [
        ("carol@example.net", "550e8400-e29b-41d4-a716-446655440000", "active", '{"plan":"pro"}'),
        ("dave@example.net", "6fa459ea-ee8a-3ca4-894e-db77e160355e", "bounced", None),
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "mailerdash_contacts.csv",
            [
                ("ana@empresa.example", "101", "active", "Ana García"),
                ("pedro@cliente.example", "102", "complained", "Pedro Sánchez"),
            ],
        ),
        (
            "mailerdash_contacts.json",
            [
                ("maria@otro.example", "201", "unsubscribed", "María López"),
                ("luis@otro.example", "202", "active", "Luis Pérez"),
            ],
        ),
    ],
)
def test_seed_004_mailerdash_shapes(
    rules: RuleSet, tmp_path: Path, name: str, expected: list[tuple]
) -> None:
    frame = load_existing([FIXTURES / name], rules, tmp_path)
    assert frame.select("email_key", "account_id", "account_status", "name").rows() == expected
    assert "first_name" not in frame.columns  # MailerDash holds one whole name


def test_whole_name_target_compares_first_and_last_as_one(rules: RuleSet, tmp_path: Path) -> None:
    account = load_existing([FIXTURES / "mailerdash_contacts.csv"], rules, tmp_path)
    ours = _contacts(
        [
            (
                "ana@empresa.example",
                "ana@empresa.example",
                "Ana",
                "García",
                None,
                None,
                None,
                '{"plan":"pro"}',
                "active",
                None,
            ),
            (
                "pedro@cliente.example",
                "pedro@cliente.example",
                "Pedro",
                "Sánchez Ruiz",
                None,
                None,
                None,
                None,
                "active",
                None,
            ),
        ]
    )
    rows = _by_key(reconcile(ours, account).classes)
    assert (
        rows["ana@empresa.example"]["class"],
        rows["ana@empresa.example"]["changed_fields"],
    ) == (
        "unchanged",
        [],
    )
    pedro = rows["pedro@cliente.example"]
    assert (pedro["class"], pedro["changed_fields"]) == ("suppressed_in_account", ["name"])
    fixed = _by_key(apply_account_suppressions(ours, account))
    assert fixed["pedro@cliente.example"]["status"] == "complained"


def test_account_duplicates_collapse_and_keep_every_id(rules: RuleSet, tmp_path: Path) -> None:
    acc = read_existing([FIXTURES / "generic_duplicates.csv"], rules, tmp_path)
    assert acc.duplicates_merged == 1
    assert acc.contacts.select(
        "email_key", "account_id", "account_ids", "account_status", "first_name"
    ).rows() == [
        ("x@y.example", "2", ["1", "2"], "unsubscribed", "Xena"),
        ("z@y.example", "3", ["3"], "active", "Zed"),
    ]


def test_export_without_status_column_has_unknown_status(rules: RuleSet, tmp_path: Path) -> None:
    account = load_existing([FIXTURES / "generic_no_status.csv"], rules, tmp_path)
    assert account.select("email_key", "account_id", "account_status").rows() == [
        ("q@y.example", None, None)
    ]
    ours = _contacts(
        [("q@y.example", "q@y.example", "Quinn", None, None, None, None, None, "active", None)]
    )
    assert reconcile(ours, account).classes.get_column("class").to_list() == ["unchanged"]
    assert apply_account_suppressions(ours, account).equals(ours)


def test_folder_of_exports_reads_every_file(rules: RuleSet, tmp_path: Path) -> None:
    frame = load_existing([FIXTURES], rules, tmp_path)
    assert frame.height == 2 + 2 + 2 + 2 + 2 + 1
    assert frame.get_column("email_key").is_unique().all()
    assert set(frame.get_column("account_status").drop_nulls()) == {
        "active",
        "unsubscribed",
        "bounced",
        "complained",
    }


@pytest.mark.parametrize(
    ("ours", "theirs", "changed"),
    [
        (["VIP"], ["vip"], []),  # same tag, other case
        (["vip"], ["vip", "old"], []),  # a subset: tags are added, never removed
        (["gold"], ["vip"], ["tags"]),  # same count, a tag the account lacks
        ([" "], ["vip"], []),  # a blank tag is no tag
        (["vip"], None, ["tags"]),
    ],
)
def test_tags_change_only_when_the_file_adds_one(
    ours: list[str], theirs: list[str] | None, changed: list[str]
) -> None:
    contact = _contacts(
        [("t@x.example", "t@x.example", None, None, None, None, ours, None, "active", None)]
    )
    account = _existing(
        [("t@x.example", "t@x.example", "acc_t", "active", None, None, None, None, theirs, None)]
    )
    row = reconcile(contact, account).classes.row(0, named=True)
    assert (row["class"], row["changed_fields"]) == ("update" if changed else "unchanged", changed)
