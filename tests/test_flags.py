"""Address flags (role, disposable, free, typo) and verdicts: pipeline/flags.py."""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Callable
from importlib import resources
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paths import CORPORA

from listhygiene import flags
from listhygiene.flags import (
    REASONS,
    DeliverabilityRules,
    address_flags,
    default_deliverability_rules,
    parse_deliverability_rules,
    suggest_domains,
    verdicts,
)

RULES_TEXT = resources.files("listhygiene.rules").joinpath("deliverability.toml").read_text("utf-8")


def make_rules(mutate: Callable[[dict[str, Any]], None] | None = None) -> DeliverabilityRules:
    """The default rules file, changed by `mutate`, parsed; it must parse cleanly."""
    doc = tomllib.loads(RULES_TEXT)
    if mutate is not None:
        mutate(doc)
    problems: list[str] = []
    rules = parse_deliverability_rules(doc, "test.toml", problems)
    assert problems == []
    return rules


def flag_rows(addresses: list[str | None], rules: DeliverabilityRules | None = None) -> list[dict]:
    frame = pl.DataFrame({"email": addresses}, schema={"email": pl.String}).with_columns(
        email_key=pl.col("email").str.to_lowercase()
    )
    out = address_flags(frame, rules or default_deliverability_rules())
    return out.select(
        "email", "role_account", "disposable", "free_provider", "did_you_mean"
    ).to_dicts()


def flags_of(address: str, rules: DeliverabilityRules | None = None) -> dict:
    return flag_rows([address], rules)[0]


def suggestion(address: str, rules: DeliverabilityRules | None = None) -> str | None:
    return flags_of(address, rules)["did_you_mean"]


# --------------------------------------------------------------------------- lists


def test_bundled_lists_are_the_shared_corpus_files_byte_for_byte() -> None:
    pairs = {
        "aftership-free.txt": "aftership-email-verifier/free.txt",
        "aftership-free-sources.txt": "aftership-email-verifier/free_domain_sources.txt",
        "aftership-role.txt": "aftership-email-verifier/role.txt",
        "mixmax-role.json": "role-based-email-addresses/role-based-email-addresses.json",
        "LICENSE-aftership-email-verifier": "LICENSE-aftership-email-verifier",
        "LICENSE-role-based-email-addresses": "LICENSE-role-based-email-addresses",
    }
    lists = resources.files("listhygiene.rules").joinpath("lists")
    for ours, theirs in pairs.items():
        mine = lists.joinpath(ours).read_bytes()
        assert mine == (CORPORA / "lists" / theirs).read_bytes(), ours
        assert hashlib.sha256(mine).hexdigest() in lists.joinpath("README.md").read_text("utf-8")


def test_lists_load_with_their_documented_sizes() -> None:
    assert len(flags._bundled_role_list("aftership")) == 892  # 893 lines, one duplicate
    assert len(flags._bundled_role_list("mixmax")) == 1018
    union = flags._bundled_role_list("aftership") | flags._bundled_role_list("mixmax")
    assert len(union) == 1057
    rules = default_deliverability_rules()
    assert rules.role_locals == union - {"alexa", "dean", "paris", "per", "sydney"}
    assert len(rules.free_domains) == 4479
    assert "atlanticbb.net" in rules.free_domains  # its line ends with an NBSP upstream
    assert {"gmail.com", "yahoo.com", "outlook.com", "web.de"} <= rules.free_domains
    block, allow = rules.package_lists
    assert len(block) > 10_000
    assert {"mailinator.com", "yopmail.com", "guerrillamail.com"} <= block
    assert allow == flags._package_lists()[1]
    sources = flags.list_sources()
    assert sources["aftership-email-verifier"] == "a3c5c5b59c44425a9b718c7d1aec1f5148bd288f"
    assert sources["role-based-email-addresses"] == "4ad47311a1b88c47d248433ac5092050bbc12a51"
    assert sources["disposable-email-domains"].startswith("0.0.")


def test_mixmax_list_is_read_from_its_all_array() -> None:
    lists = resources.files("listhygiene.rules").joinpath("lists")
    data = json.loads(lists.joinpath("mixmax-role.json").read_text("utf-8"))
    assert flags._bundled_role_list("mixmax") == frozenset(data["all"])
    assert sum(len(v) for v in data["categories"].values()) == len(data["all"])


# --------------------------------------------------------------------------- rules


def test_default_rules_values() -> None:
    r = default_deliverability_rules()
    assert r.disposable.use_package is True
    assert r.disposable.match_subdomains is True
    assert r.role.lists == ("aftership", "mixmax")
    assert r.role.strip_plus_tag is True
    assert r.free.lists == ("aftership",)
    assert r.typo.providers[:3] == ("gmail.com", "googlemail.com", "yahoo.com")
    assert r.typo.suggest_anyway == {
        "hitmail.com", "hotmail.co", "sbcglbal.net", "uymail.com", "vahoo.com", "yaho.com",
        "yahoo.co",
    }  # fmt: skip
    assert (r.typo.top_k, r.typo.min_count, r.typo.min_share) == (100, 5, 0.001)
    assert (r.typo.min_name_length, r.typo.long_name_length) == (4, 8)
    assert (r.typo.short_max_distance, r.typo.long_max_distance) == (1, 2)
    assert r.typo.suffix_max_distance == 1
    assert r.typo.country_code_suffix_typos is False
    assert r.verdict.policy == {
        "disposable": "invalid",
        "role_account": "risky",
        "possible_typo": "risky",
        "no_dns_entries": "invalid",
        "does_not_accept_mail": "invalid",
        "dns_timeout": "unknown",
    }
    assert (r.verdict.dns_not_checked, r.verdict.suppressed) == ("unknown", "invalid")


def test_rules_problems_are_all_collected_at_once() -> None:
    doc = tomllib.loads(RULES_TEXT)
    doc["extra"] = {}
    doc["disposable"]["use_package"] = "yes"
    doc["disposable"]["deny"] = ["Example.com", "not a domain"]
    doc["disposable"]["allow"] = ["example.com"]
    doc["role"]["lists"] = ["aftership", "nope"]
    doc["role"]["add"] = ["a@b", "ceo", "ceo"]
    doc["role"]["remove"] = ["info+x"]
    del doc["free"]["remove"]
    doc["typo"]["top_k"] = -1
    doc["typo"]["min_share"] = 2
    doc["typo"]["long_max_distance"] = 0
    doc["typo"]["multi_label_suffixes"] = ["uk"]
    doc["typo"]["colour"] = "blue"
    doc["verdict"]["role_account"] = "maybe"
    doc["verdict"]["suppressed"] = "valid"
    problems: list[str] = []
    parse_deliverability_rules(doc, "d.toml", problems)
    assert problems == [
        "d.toml: unknown table [extra]; the tables are [disposable], [role], [free], [typo], [verdict].",
        "d.toml [disposable]: `use_package` must be true or false, not 'yes'.",
        "d.toml [disposable]: `deny` entry 'not a domain' is not a domain name such as \"example.com\"; write the part after the @-sign, without spaces.",
        "d.toml [disposable]: example.com is in both `deny` and `allow`; keep each in one of them.",
        "d.toml [role]: `lists` names an unknown list 'nope'; the bundled lists are aftership, mixmax.",
        "d.toml [role]: `add` lists ceo more than once; keep one.",
        "d.toml [role]: `add` entry 'a@b' must be the part before the @-sign, such as \"info\", without @ or spaces.",
        "d.toml [role]: `remove` entry 'info+x' holds a +, which never matches while strip_plus_tag is true (the tag is removed first); write it without the tag.",
        "d.toml [free]: missing key `remove`; add it.",
        "d.toml [typo]: `top_k` must be a whole number of at least 0, not -1.",
        "d.toml [typo]: `min_share` must be a number from 0 to 1 (0.001 is 0.1%), not 2.",
        "d.toml [typo]: `multi_label_suffixes` entry 'uk' must be a suffix of two or more labels such as \"co.uk\".",
        "d.toml [typo]: `long_max_distance` (0) must be at least `short_max_distance` (1).",
        "d.toml [typo]: unknown key `colour`; the keys are enabled, providers, suggest_anyway, top_k, min_count, min_share, min_name_length, long_name_length, short_max_distance, long_max_distance, suffix_max_distance, country_code_suffix_typos and multi_label_suffixes.",
        'd.toml [verdict]: `role_account` must be one of "invalid", "risky", "unknown", "ignore", not \'maybe\'.',
        'd.toml [verdict]: `suppressed` must be one of "invalid", "keep", not \'valid\'.',
    ]


def test_rules_missing_tables_and_bad_values() -> None:
    doc = tomllib.loads(RULES_TEXT)
    del doc["verdict"]
    doc["role"] = ["info"]
    doc["typo"]["providers"] = ["gmail.com", "yaho.com"]
    doc["typo"]["min_count"] = True
    doc["typo"]["short_max_distance"] = 4
    problems: list[str] = []
    rules = parse_deliverability_rules(doc, "d.toml", problems)
    assert problems == [
        "d.toml: `role` must be a table [role], not ['info'].",
        "d.toml [typo]: yaho.com is in both `providers` and `suggest_anyway`; keep each in one of them.",
        "d.toml [typo]: `min_count` must be a whole number of at least 1, not True.",
        "d.toml [typo]: `short_max_distance` must be a whole number from 0 to 3, not 4.",
        "d.toml: missing table [verdict]; add it (the default file has it).",
    ]
    # what a problem leaves behind is the default, so one run can report everything
    assert rules.verdict.policy == flags.DEFAULT_POLICY
    assert rules.role.strip_plus_tag is True


def test_rules_domains_are_normalized() -> None:
    rules = make_rules(lambda d: d["disposable"].update(deny=["Bücher.DE.", " Spam.example "]))
    assert rules.disposable.deny == {"xn--bcher-kva.de", "spam.example"}


# --------------------------------------------------------------------------- role accounts


def test_role_accounts_ignore_case_and_plus_tags() -> None:
    rows = flag_rows(
        ["Info@Acme.com", "info+news@acme.com", "NO-REPLY@acme.com", "sales.team@acme.com",
         "john@acme.com", "paris@acme.com", "information.desk@acme.com", "+info@acme.com"]
    )  # fmt: skip
    assert [r["role_account"] for r in rows] == [True, True, True, True, False, False, False, False]


def test_role_strip_plus_tag_off_and_add_remove() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["role"].update(strip_plus_tag=False, add=["ceo2", "Info+News"], remove=["sales"])

    rules = make_rules(mutate)
    got = [flags_of(a, rules)["role_account"] for a in
           ("info+x@a.com", "info+news@a.com", "ceo2@a.com", "sales@a.com", "info@a.com")]  # fmt: skip
    assert got == [False, True, True, False, True]


def test_role_lists_can_be_chosen() -> None:
    only_aftership = make_rules(lambda d: d["role"].update(lists=["aftership"]))
    assert flags_of("noreply-dmarc@a.com")["role_account"] is True  # mixmax only
    assert flags_of("noreply-dmarc@a.com", only_aftership)["role_account"] is False
    assert flags_of("cfo@a.com", only_aftership)["role_account"] is True  # aftership only
    nothing = make_rules(lambda d: d["role"].update(lists=[], remove=[]))
    assert flags_of("info@a.com", nothing)["role_account"] is False


# --------------------------------------------------------------------------- disposable / free


def test_disposable_from_the_package_with_subdomains() -> None:
    assert flags_of("a@mailinator.com")["disposable"] is True
    assert flags_of("a@x.y.mailinator.com")["disposable"] is True
    assert flags_of("a@mailinator.com.example")["disposable"] is False
    assert flags_of("a@gmail.com")["disposable"] is False
    exact = make_rules(lambda d: d["disposable"].update(match_subdomains=False))
    assert flags_of("a@x.mailinator.com", exact)["disposable"] is False
    assert flags_of("a@mailinator.com", exact)["disposable"] is True
    no_package = make_rules(lambda d: d["disposable"].update(use_package=False))
    assert flags_of("a@mailinator.com", no_package)["disposable"] is False


def test_disposable_rules_beat_the_package_and_the_most_specific_entry_wins() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["disposable"].update(
            allow=["mailinator.com", "corp.example.com"], deny=["example.com", "x.mailinator.com"]
        )

    rules = make_rules(mutate)
    got = {
        a: flags_of(a, rules)["disposable"]
        for a in ("a@mailinator.com", "a@x.mailinator.com", "a@y.x.mailinator.com",
                  "a@example.com", "a@b.example.com", "a@corp.example.com", "a@b.corp.example.com")
    }  # fmt: skip
    assert got == {
        "a@mailinator.com": False,  # rules allow beats the package blocklist
        "a@x.mailinator.com": True,  # deny x.mailinator.com is more specific than allow
        "a@y.x.mailinator.com": True,
        "a@example.com": True,  # rules deny
        "a@b.example.com": True,
        "a@corp.example.com": False,  # allow corp.example.com is more specific than deny
        "a@b.corp.example.com": False,
    }


def test_package_allowlist_beats_package_blocklist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        flags,
        "_package_lists",
        lambda: (frozenset({"temp.example"}), frozenset({"ok.temp.example"})),
    )
    rules = make_rules()
    assert flags_of("a@temp.example", rules)["disposable"] is True
    assert flags_of("a@x.temp.example", rules)["disposable"] is True
    assert flags_of("a@ok.temp.example", rules)["disposable"] is False
    assert flags_of("a@x.ok.temp.example", rules)["disposable"] is False
    deny = make_rules(lambda d: d["disposable"].update(deny=["ok.temp.example"]))
    assert flags_of("a@ok.temp.example", deny)["disposable"] is True  # rules beat the package


def test_free_providers_exact_domain_and_disposable_wins() -> None:
    assert flags_of("a@gmail.com")["free_provider"] is True
    assert flags_of("a@GMAIL.COM")["free_provider"] is True
    assert flags_of("a@mail.gmail.com")["free_provider"] is False
    assert flags_of("a@acme.com")["free_provider"] is False
    # mail.tm is on the AfterShip free list and on the disposable list: disposable wins
    assert {k: flags_of("a@mail.tm")[k] for k in ("disposable", "free_provider")} == {
        "disposable": True,
        "free_provider": False,
    }
    allowed = make_rules(lambda d: d["disposable"].update(allow=["mail.tm"]))
    assert flags_of("a@mail.tm", allowed)["free_provider"] is True

    def mutate(d: dict[str, Any]) -> None:
        d["free"].update(add=["acme.com", "mailinator.com"], remove=["gmail.com"])

    rules = make_rules(mutate)
    assert flags_of("a@acme.com", rules)["free_provider"] is True
    assert flags_of("a@gmail.com", rules)["free_provider"] is False
    assert flags_of("a@mailinator.com", rules)["free_provider"] is False  # still disposable


def test_rows_without_an_address_get_null_flags_and_order_is_kept() -> None:
    frame = pl.DataFrame(
        {
            "source_row": [1, 2, 3],
            "email": ["info@gmial.com", None, "bob@gmail.com"],
            "email_key": ["info@gmial.com", None, "bob@gmail.com"],
            "role_account": [None, None, None],  # replaced
        }
    )
    out = address_flags(frame, default_deliverability_rules())
    assert out.columns == [
        "source_row", "email", "email_key", "role_account", "disposable", "free_provider",
        "did_you_mean",
    ]  # fmt: skip
    assert out.schema["role_account"] == pl.Boolean
    assert out.schema["did_you_mean"] == pl.String
    assert out.rows() == [
        (1, "info@gmial.com", "info@gmial.com", True, True, False, "info@gmail.com"),
        (2, None, None, None, None, None, None),
        (3, "bob@gmail.com", "bob@gmail.com", False, False, True, None),
    ]


def test_an_empty_frame_keeps_its_schema() -> None:
    empty = pl.DataFrame(schema={"email": pl.String, "email_key": pl.String})
    out = verdicts(
        address_flags(empty, default_deliverability_rules()), default_deliverability_rules()
    )
    assert out.schema == pl.Schema(
        {
            "email": pl.String, "email_key": pl.String, "role_account": pl.Boolean,
            "disposable": pl.Boolean, "free_provider": pl.Boolean, "did_you_mean": pl.String,
            "verdict": pl.String, "verdict_reason": pl.String,
        }
    )  # fmt: skip
    assert out.height == 0


def test_domain_column_and_internationalized_domains() -> None:
    frame = pl.DataFrame(
        {
            "email": ["a@Bücher.de", "b@x.com"],
            "email_key": ["a@bücher.de", "b@x.com"],
            "domain": ["MAILINATOR.COM", "bücher.de"],  # a caller's domain column wins
        }
    )
    out = address_flags(frame, make_rules(lambda d: d["disposable"].update(deny=["bücher.de"])))
    assert out.get_column("disposable").to_list() == [True, True]
    out = address_flags(
        frame.drop("domain"), make_rules(lambda d: d["free"].update(add=["bücher.de"]))
    )
    assert out.get_column("free_provider").to_list() == [True, False]


def test_missing_columns_are_a_programming_error() -> None:
    with pytest.raises(ValueError) as err:
        address_flags(pl.DataFrame({"email": ["a@b.com"]}), default_deliverability_rules())
    assert str(err.value) == (
        "address_flags needs the columns email and email_key; missing: email_key."
    )


# --------------------------------------------------------------------------- typos


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("Ann@gmial.com", "Ann@gmail.com"),  # transposition; the local part keeps its case
        ("ann@gamil.com", "ann@gmail.com"),
        ("ann@gmai.com", "ann@gmail.com"),
        ("ann@gnail.com", "ann@gmail.com"),
        ("bob@hotmial.com", "bob@hotmail.com"),
        ("bob@hotmal.com", "bob@hotmail.com"),
        ("cy@yaho.com", "cy@yahoo.com"),  # on the free list, but in suggest_anyway
        ("cy@yahooo.com", "cy@yahoo.com"),
        ("d@gmail.con", "d@gmail.com"),  # suffix typos
        ("d@gmail.cm", "d@gmail.com"),
        ("d@gmail.co", "d@gmail.com"),
        ("d@gmial.con", "d@gmail.com"),  # name and suffix
        ("e@aol.con", "e@aol.com"),  # a short name: suffix typos only
        ("f@outlok.com", "f@outlook.com"),
        ("g@iclod.com", "g@icloud.com"),
        ("h@yahooo.co.uk", "h@yahoo.co.uk"),  # multi-label suffix
        ("i@googlemial.com", "i@googlemail.com"),
        ("i@gogglemial.com", "i@googlemail.com"),  # distance 2 for a long name
        ("j@sbcglbal.net", "j@sbcglobal.net"),
    ],
)
def test_typo_suggestions(address: str, expected: str) -> None:
    assert suggestion(address) == expected


@pytest.mark.parametrize(
    "address",
    [
        "a@gmail.com",  # a provider itself
        "a@ymail.com",  # a provider one letter from gmail.com
        "a@mail.com",
        "a@email.com",  # on the free list
        "a@yahoo.dk",  # on the free list
        "a@aok.com",  # aol is too short for a name typo
        "a@gmx.ds",  # a suffix typo towards a country code
        "a@web.dk",
        "a@yahoo.co.uj",
        "a@gmaiil.cn",  # name 1 away, but suffix cn is 2 from com
        "a@acme.com",
        "a@gm.com",
    ],
)
def test_no_typo_suggestion(address: str) -> None:
    assert suggestion(address) is None


def test_country_code_suffix_typos_can_be_enabled() -> None:
    rules = make_rules(lambda d: d["typo"].update(country_code_suffix_typos=True))
    assert suggestion("a@web.dk", rules) == "a@web.de"
    assert suggestion("a@gmx.ds", rules) == "a@gmx.de"
    assert suggestion("a@yahoo.co.uj", rules) == "a@yahoo.co.uk"


def test_no_suggestion_without_suggest_anyway_or_when_disabled() -> None:
    rules = make_rules(lambda d: d["typo"].update(suggest_anyway=[]))
    assert suggestion("cy@yaho.com", rules) is None
    rules = make_rules(lambda d: d["typo"].update(enabled=False))
    assert suggestion("ann@gmial.com", rules) is None


def _file(**domains: int) -> list[str]:
    """Addresses: `count` rows for each domain (keys use _ for .)."""
    return [f"u{i}@{d.replace('_', '.')}" for d, n in domains.items() for i in range(n)]


def test_a_common_domain_of_the_file_gets_no_suggestion() -> None:
    # gmial.com: 5 rows of 10 (>= min_count 5 and >= 0.1%) is common: no suggestion
    rows = flag_rows(_file(gmial_com=5, acme_com=5))
    assert {r["did_you_mean"] for r in rows if "gmial" in r["email"]} == {None}
    # 4 rows: below min_count
    rows = flag_rows(_file(gmial_com=4, acme_com=6))
    assert {r["did_you_mean"] for r in rows if "gmial" in r["email"]} == {
        "u0@gmail.com",
        "u1@gmail.com",
        "u2@gmail.com",
        "u3@gmail.com",
    }


def test_the_share_threshold() -> None:
    counts = {"gmial.com": 5, "filler.com": 4995}  # 0.1% exactly: common
    assert suggest_domains(counts, default_deliverability_rules()) == {}
    counts = {"gmial.com": 5, "filler.com": 4996}  # just under 0.1%
    assert suggest_domains(counts, default_deliverability_rules()) == {"gmial.com": "gmail.com"}


def test_frequent_domains_of_the_file_are_targets() -> None:
    counts = {"acmecorp.com": 20, "acmecrop.com": 1, "acme-corp.com": 1, "acmecorp.co": 1}
    assert suggest_domains(counts, default_deliverability_rules()) == {
        "acmecrop.com": "acmecorp.com",
        "acme-corp.com": "acmecorp.com",
        "acmecorp.co": "acmecorp.com",
    }
    rows = flag_rows(_file(acmecorp_com=20, acmecrop_com=1))
    assert rows[-1]["did_you_mean"] == "u0@acmecorp.com"
    no_file_targets = make_rules(lambda d: d["typo"].update(top_k=0))
    assert suggest_domains(counts, no_file_targets) == {}
    # a frequent domain below the thresholds is no target
    assert (
        suggest_domains({"acmecorp.com": 4, "acmecrop.com": 1}, default_deliverability_rules())
        == {}
    )


def test_disposable_frequent_domains_are_no_targets() -> None:
    counts = {"trashbox.example": 50, "trashbx.example": 1}
    rules = default_deliverability_rules()
    assert suggest_domains(counts, rules) == {"trashbx.example": "trashbox.example"}
    assert suggest_domains(counts, rules, disposable={"trashbox.example"}) == {}


def test_ties_prefer_distance_then_rows_then_provider_order_then_name() -> None:
    rules = make_rules(lambda d: d["typo"].update(providers=["abcz.com", "abce.com"]))
    # abcx.com is 1 from all four targets: the one with more rows in the file wins
    counts = {"abcd.com": 30, "abcf.com": 20, "abcx.com": 1}
    assert suggest_domains(counts, rules)["abcx.com"] == "abcd.com"
    # providers with no rows: the earlier in `providers`
    assert suggest_domains({"abcx.com": 1}, rules) == {"abcx.com": "abcz.com"}
    # equal rows, no providers: alphabetical
    rules = make_rules(lambda d: d["typo"].update(providers=[]))
    counts = {"abcf.com": 20, "abcd.com": 20, "abcx.com": 1}
    assert suggest_domains(counts, rules)["abcx.com"] == "abcd.com"
    # the smaller distance first, whatever the rows
    counts = {"abcdefgh.com": 50, "abcdefgi.com": 20, "abcdefgx.com": 1, "abcdefxy.com": 1}
    assert suggest_domains(counts, rules) == {
        "abcdefgx.com": "abcdefgh.com",
        "abcdefxy.com": "abcdefgh.com",
    }
    counts = {"abcdefgh.com": 50, "abcdefij.com": 20, "abcdefix.com": 1}
    assert suggest_domains(counts, rules) == {"abcdefix.com": "abcdefij.com"}  # 1 vs 2
    counts = {"abcd.com": 20, "abcdx.com": 1, "abcdxy.com": 1}
    assert suggest_domains(counts, rules) == {"abcdx.com": "abcd.com"}  # 2 is too far for abcd


def _osa_reference(a: str, b: str) -> int:
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def _suggest_reference(counts: dict[str, int], rules: DeliverabilityRules) -> dict[str, str]:
    """The documented rule, all pairs, no index: what suggest_domains must equal."""
    typo = rules.typo
    total = sum(counts.values())
    common = {d for d, n in counts.items() if n >= typo.min_count and n / total >= typo.min_share}
    frequent = sorted(common, key=lambda d: (-counts[d], d))[: typo.top_k]
    targets = list(dict.fromkeys([*typo.providers, *frequent]))
    known = (rules.free_domains - typo.suggest_anyway) | set(typo.providers)
    out = {}
    for d in counts:
        if d in common or d in known or d in targets:
            continue
        best = None
        for t in targets:
            n = typo.suffix_labels(t)
            tl, dl = t.split("."), d.split(".")
            if len(tl) <= n or len(dl) <= n:
                continue
            t_name, d_name = ".".join(tl[:-n]), ".".join(dl[:-n])
            if len(tl[-1]) < 3 and not typo.country_code_suffix_typos and tl[-1] != dl[-1]:
                continue
            nd = _osa_reference(d_name, t_name)
            sd = _osa_reference(".".join(dl[-n:]), ".".join(tl[-n:]))
            if nd <= typo.name_distance(t_name) and sd <= typo.suffix_max_distance and nd + sd:
                order = typo.providers.index(t) if t in typo.providers else len(typo.providers)
                score = (nd + sd, -counts.get(t, 0), order, t)
                best = min(best, score) if best else score
        if best:
            out[d] = best[3]
    return out


_names = st.text(alphabet="abgm.", min_size=1, max_size=9).filter(
    lambda s: not s.startswith(".") and not s.endswith(".") and ".." not in s
)
_domains = st.builds(
    lambda n, s: f"{n}.{s}",
    _names,
    st.sampled_from(["com", "co", "cm", "net", "de", "co.uk", "c.uk", "ab"]),
)


def _edit(data: st.DataObject, domain: str) -> str:
    """`domain` with one to three random edits (delete, insert, substitute, swap)."""
    chars = list(domain)
    for _ in range(data.draw(st.integers(1, 3))):
        if len(chars) < 2:
            break
        i = data.draw(st.integers(0, len(chars) - 2))
        op = data.draw(st.sampled_from(["delete", "insert", "substitute", "swap"]))
        c = data.draw(st.sampled_from("abgm."))
        if op == "delete":
            del chars[i]
        elif op == "insert":
            chars.insert(i, c)
        elif op == "substitute":
            chars[i] = c
        else:
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
    edited = "".join(chars)
    ok = edited and edited[0] != "." and edited[-1] != "." and ".." not in edited
    return edited if ok and "." in edited else domain


@settings(max_examples=400, deadline=None)
@given(
    data=st.data(),
    counts=st.dictionaries(_domains, st.integers(1, 12), min_size=1, max_size=20),
    providers=st.lists(_domains, max_size=4, unique=True),
    distances=st.tuples(st.integers(0, 2), st.integers(0, 1), st.integers(0, 2)),
    lengths=st.tuples(st.integers(1, 4), st.integers(0, 4)),
)
def test_index_finds_exactly_what_all_pairs_find(
    data, counts, providers, distances, lengths
) -> None:
    short, extra, suffix = distances
    min_len, more = lengths
    for d in [*providers, *counts]:  # near misses of the targets, the cases that matter
        counts.setdefault(_edit(data, d), 1)

    def mutate(d: dict[str, Any]) -> None:
        d["typo"].update(
            providers=providers,
            suggest_anyway=[],
            min_count=3,
            top_k=3,
            short_max_distance=short,
            long_max_distance=short + extra,
            suffix_max_distance=suffix,
            min_name_length=min_len,
            long_name_length=min_len + more,
            multi_label_suffixes=["co.uk", "c.uk"],
        )

    rules = make_rules(mutate)
    assert suggest_domains(counts, rules) == _suggest_reference(counts, rules)


def test_adjacent_double_edits_are_found() -> None:
    rules = make_rules(lambda d: d["typo"].update(providers=["abababab.com"]))
    # two substitutions next to each other: the index must delete two adjacent letters
    assert suggest_domains({"ababagmb.com": 1}, rules) == {"ababagmb.com": "abababab.com"}
    assert suggest_domains({"abababgm.com": 1}, rules) == {"abababgm.com": "abababab.com"}
    assert suggest_domains({"ababababgm.com": 1}, rules) == {"ababababgm.com": "abababab.com"}


def test_osa_distance() -> None:
    cases = [("gmial", "gmail", 1), ("gmail", "gmail", 0), ("abc", "", 3), ("ca", "abc", 3),
             ("hotmail", "homtail", 1), ("hotmail", "hotmial", 1), ("gogglemial", "googlemail", 2)]  # fmt: skip
    for a, b, d in cases:
        assert _osa_reference(a, b) == d
        assert flags._osa(a, b, 3) == d
        assert flags._osa(a, b, d) == d
        if d:
            assert flags._osa(a, b, d - 1) == d  # over the limit: limit + 1


# --------------------------------------------------------------------------- verdicts


def verdict_of(rules: DeliverabilityRules | None = None, **row: Any) -> tuple[str, str | None]:
    base = {
        "email": "a@example.com",
        "role_account": False,
        "disposable": False,
        "did_you_mean": None,
        "dns_reason": None,
        "dns_checked": True,
        "status": "active",
    }
    base.update(row)
    schema = {
        "email": pl.String, "role_account": pl.Boolean, "disposable": pl.Boolean,
        "did_you_mean": pl.String, "dns_reason": pl.String, "dns_checked": pl.Boolean,
        "status": pl.String, "valid": pl.Boolean,
    }  # fmt: skip
    frame = pl.DataFrame([base], schema={k: schema[k] for k in base})
    out = verdicts(frame, rules or default_deliverability_rules())
    assert out.columns == [*frame.columns, "verdict", "verdict_reason"]
    return out.row(0)[-2:]


TYPO = "a@gmail.com"
DEFAULT_CASES = [
    # (row, expected verdict, expected reason)
    ({}, "valid", None),
    ({"dns_checked": False}, "unknown", None),
    ({"role_account": True}, "risky", "role_account"),
    ({"role_account": True, "dns_checked": False}, "risky", "role_account"),
    ({"did_you_mean": TYPO}, "risky", "possible_typo"),
    ({"did_you_mean": TYPO, "role_account": True}, "risky", "possible_typo"),
    ({"disposable": True}, "invalid", "disposable"),
    ({"disposable": True, "did_you_mean": TYPO, "role_account": True}, "invalid", "disposable"),
    ({"dns_reason": "no_dns_entries"}, "invalid", "no_dns_entries"),
    ({"dns_reason": "does_not_accept_mail"}, "invalid", "does_not_accept_mail"),
    ({"dns_reason": "dns_timeout"}, "unknown", "dns_timeout"),
    ({"dns_reason": "dns_timeout", "dns_checked": False}, "unknown", "dns_timeout"),
    ({"dns_reason": "dns_timeout", "role_account": True}, "risky", "role_account"),
    ({"dns_reason": "dns_timeout", "disposable": True}, "invalid", "disposable"),
    ({"dns_reason": "no_dns_entries", "disposable": True}, "invalid", "no_dns_entries"),
    ({"dns_reason": "no_dns_entries", "did_you_mean": TYPO}, "invalid", "no_dns_entries"),
    ({"status": "unsubscribed"}, "invalid", "suppressed"),
    ({"status": "bounced"}, "invalid", "suppressed"),
    ({"status": "complained", "dns_checked": False}, "invalid", "suppressed"),
    ({"status": "bounced", "dns_reason": "does_not_accept_mail"}, "invalid", "suppressed"),
    ({"status": "bounced", "disposable": True}, "invalid", "suppressed"),
    ({"status": None}, "valid", None),  # a missing status is active
    ({"email": None}, "invalid", "failed_syntax_check"),
    ({"email": None, "status": "bounced"}, "invalid", "failed_syntax_check"),
    ({"valid": False}, "invalid", "failed_syntax_check"),
    ({"valid": True, "role_account": True}, "risky", "role_account"),
    ({"role_account": None, "disposable": None, "dns_checked": None}, "unknown", None),
]


@pytest.mark.parametrize(("row", "verdict", "reason"), DEFAULT_CASES)
def test_default_verdicts(row: dict[str, Any], verdict: str, reason: str | None) -> None:
    assert verdict_of(**row) == (verdict, reason)


def test_every_contract_reason_is_reachable() -> None:
    reasons = {reason for _, _, reason in DEFAULT_CASES}
    assert reasons - {None} == set(REASONS)
    assert REASONS == (
        "failed_syntax_check", "suppressed", "does_not_accept_mail", "no_dns_entries",
        "disposable", "possible_typo", "role_account", "dns_timeout",
    )  # fmt: skip


def test_suppressed_keep_keeps_the_computed_verdict() -> None:
    keep = make_rules(lambda d: d["verdict"].update(suppressed="keep"))
    assert verdict_of(keep, status="bounced") == ("valid", "suppressed")
    assert verdict_of(keep, status="unsubscribed", role_account=True) == ("risky", "suppressed")
    assert verdict_of(keep, status="complained", dns_checked=False) == ("unknown", "suppressed")
    assert verdict_of(keep, status="bounced", disposable=True) == ("invalid", "suppressed")
    assert verdict_of(keep, status="bounced", email=None) == ("invalid", "failed_syntax_check")
    assert verdict_of(keep, role_account=True) == ("risky", "role_account")


def test_policy_changes_follow_severity_not_reason_order() -> None:
    def strict(d: dict[str, Any]) -> None:
        d["verdict"].update(role_account="invalid", dns_not_checked="valid")

    rules = make_rules(strict)
    # role_account is invalid now: it outranks possible_typo's risky although typo comes first
    assert verdict_of(rules, role_account=True, did_you_mean=TYPO) == ("invalid", "role_account")
    assert verdict_of(rules, dns_checked=False) == ("valid", None)
    assert verdict_of(rules, dns_reason="dns_timeout") == ("unknown", "dns_timeout")

    def lenient(d: dict[str, Any]) -> None:
        d["verdict"].update(role_account="ignore", dns_timeout="ignore", disposable="risky")

    rules = make_rules(lenient)
    assert verdict_of(rules, role_account=True) == ("valid", None)
    # an ignored DNS timeout is no DNS answer: the dns_not_checked verdict
    assert verdict_of(rules, dns_reason="dns_timeout") == ("unknown", None)
    assert verdict_of(rules, disposable=True, did_you_mean=TYPO) == ("risky", "disposable")


def test_optional_columns_have_documented_defaults() -> None:
    frame = pl.DataFrame(
        {"email": ["a@x.com", None], "role_account": [True, None], "disposable": [False, None],
         "did_you_mean": [None, None]},
        schema={"email": pl.String, "role_account": pl.Boolean, "disposable": pl.Boolean,
                "did_you_mean": pl.String},
    )  # fmt: skip
    out = verdicts(frame, default_deliverability_rules())
    assert out.select("verdict", "verdict_reason").rows() == [
        ("risky", "role_account"),
        ("invalid", "failed_syntax_check"),
    ]
    plain = frame.with_columns(role_account=pl.lit(False))
    assert verdicts(plain, default_deliverability_rules()).row(0)[-2:] == ("unknown", None)


def test_verdicts_reject_values_outside_the_contract() -> None:
    frame = pl.DataFrame(
        {"email": ["a@x.com"], "role_account": [False], "disposable": [False],
         "did_you_mean": [None], "dns_reason": ["servfail"], "status": ["pending"]},
        schema_overrides={"did_you_mean": pl.String},
    )  # fmt: skip
    with pytest.raises(ValueError) as err:
        verdicts(frame, default_deliverability_rules())
    assert str(err.value) == (
        "verdicts: column dns_reason holds 'servfail'; the values it can hold are "
        "no_dns_entries, does_not_accept_mail, dns_timeout (or null)."
    )
    with pytest.raises(ValueError) as err:
        verdicts(
            frame.with_columns(dns_reason=pl.lit(None, pl.String)), default_deliverability_rules()
        )
    assert str(err.value) == (
        "verdicts: column status holds 'pending'; the values it can hold are "
        "active, unsubscribed, bounced, complained (or null)."
    )
    with pytest.raises(ValueError) as err:
        verdicts(frame.drop("disposable", "did_you_mean"), default_deliverability_rules())
    assert str(err.value) == (
        "verdicts needs the columns email, role_account, disposable, did_you_mean "
        "(address_flags adds the flags); missing: disposable, did_you_mean."
    )


def test_flags_then_verdicts_end_to_end() -> None:
    emails = ["Ann@gmial.com", "info@acme.com", "bob@gmail.con", "c@mailinator.com", "d@acme.com"]
    frame = pl.DataFrame({"email": emails}).with_columns(
        email_key=pl.col("email").str.to_lowercase()
    )
    flagged = address_flags(frame, default_deliverability_rules()).with_columns(
        dns_reason=pl.Series([None, None, "no_dns_entries", None, None], dtype=pl.String),
        dns_checked=pl.Series([True, True, True, True, False]),
        status=pl.Series(["active", "active", "active", "active", "unsubscribed"]),
    )
    out = verdicts(flagged, default_deliverability_rules())
    assert out.select("email", "verdict", "verdict_reason", "did_you_mean").rows() == [
        # gmial.com is on the disposable list (a typo-squatting domain): invalid, with the fix
        ("Ann@gmial.com", "invalid", "disposable", "Ann@gmail.com"),
        ("info@acme.com", "risky", "role_account", None),
        ("bob@gmail.con", "invalid", "no_dns_entries", "bob@gmail.com"),
        ("c@mailinator.com", "invalid", "disposable", None),
        ("d@acme.com", "invalid", "suppressed", None),
    ]


def test_rules_objects_are_independent() -> None:
    a = make_rules(lambda d: d["role"].update(add=["zzrole"]))
    b = make_rules()
    assert "zzrole" in a.role_locals
    assert "zzrole" not in b.role_locals
