"""listhygiene.emails: verdicts identical to email-validator, recorded pre-cleaning, check_email."""

from __future__ import annotations

import json
import string
import unicodedata
from typing import Any

import email_validator
import idna
import polars as pl
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paths import CORPORA

from listhygiene import emails
from listhygiene.emails import (
    FIX_CODES,
    REASON_CLASSES,
    check_email,
    check_emails,
    preclean_one,
    reason_for_error,
    validate_emails,
)

EMAIL = CORPORA / "email"
# split("\n"), not splitlines(): some addresses hold U+2028, U+0085 and other line breaks.
ORACLE = [
    json.loads(line) for line in (EMAIL / "oracle.jsonl").read_text("utf-8").split("\n") if line
]
TABLES = json.loads((EMAIL / "python-email-validator" / "test_syntax_tables.json").read_text())[
    "tables"
]

Verdict = tuple[bool, str | None, str | None]


def reference(address: str) -> Verdict:
    """What the contract names: validate_email(address, check_deliverability=False), defaults."""
    try:
        v = validate_email(address, check_deliverability=False)
    except EmailNotValidError as e:
        return False, None, str(e)
    return True, v.normalized, None


def verdicts(frame: pl.DataFrame) -> list[Verdict]:
    return frame.select("valid", "email", "error").rows()


def encodable(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def assert_row_invariants(frame: pl.DataFrame) -> None:
    for row in frame.iter_rows(named=True):
        assert row["valid"] == (row["error"] is None)
        assert (row["email"] is None) == (row["error"] is not None)
        assert row["email_key"] == (row["email"].lower() if row["email"] is not None else None)
        assert (row["reason"] is None) == row["valid"]
        assert row["reason"] is None or row["reason"] in REASON_CLASSES
        assert row["reason"] != "other", row["error"]
        assert row["decided_by"] in ("fast", "domain_probe", "email_validator")
        assert all(code in FIX_CODES for code in row["fixes"])


# ------------------------------------------------------------------ (1) oracle


def test_oracle_every_line_without_precleaning() -> None:
    """All of oracle.jsonl: valid, normalized and error equal email-validator 2.4.0's own."""
    addresses = [o["address"] for o in ORACLE]
    got = check_emails(addresses, preclean=False)  # handles the 4 lone-surrogate lines too
    agree = sum(
        (g["valid"], g["email"], g["error"]) == (o["valid"], o["normalized"], o["error"])
        for g, o in zip(got, ORACLE, strict=True)
    )
    assert (agree, len(ORACLE)) == (382, 382)
    assert all(g["reason"] != "other" for g in got)

    # The column API on every line polars can hold (all but the 4 surrogate lines).
    rows = [o for o in ORACLE if encodable(o["address"])]
    assert len(rows) == 378
    frame = validate_emails(pl.Series([o["address"] for o in rows]), preclean=False)
    assert verdicts(frame) == [(o["valid"], o["normalized"], o["error"]) for o in rows]
    assert frame.get_column("cleaned").to_list() == [o["address"] for o in rows]
    assert frame.get_column("fixes").to_list() == [[]] * len(rows)
    assert_row_invariants(frame)
    # Not everything was handed to email-validator.
    assert set(frame.get_column("decided_by")) == {"fast", "domain_probe", "email_validator"}


def test_oracle_with_precleaning() -> None:
    """With pre-cleaning: email-validator applied to the cleaned value; valid lines unchanged."""
    addresses = [o["address"] for o in ORACLE]
    got = check_emails(addresses)
    changed = 0
    for g, o in zip(got, ORACLE, strict=True):
        cleaned, fixes = preclean_one(o["address"])
        assert g["fixes"] == fixes
        assert (g["valid"], g["email"], g["error"]) == reference(cleaned)
        if o["valid"]:  # pre-cleaning never touches an address email-validator accepts
            assert (fixes, g["email"]) == ([], o["normalized"])
        changed += bool(fixes)
    assert changed > 0  # e.g. isemail's surrounding-space and trailing-dot cases


def test_fast_path_off_for_other_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    """An untested email-validator version sends every row to email-validator itself."""
    monkeypatch.setattr(emails, "FAST_PATH_VERSIONS", frozenset())
    rows = [o for o in ORACLE if encodable(o["address"])]
    frame = validate_emails(pl.Series([*(o["address"] for o in rows), None]), preclean=False)
    assert verdicts(frame)[:-1] == [(o["valid"], o["normalized"], o["error"]) for o in rows]
    assert set(frame.get_column("decided_by")[:-1]) == {"email_validator"}
    assert frame.row(-1, named=True)["reason"] == "empty"


# ------------------------------------------------------- (2) property tests

ATEXT = string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~"
INTL = (
    "éüßçñøåæœŁłŽžčřΣσςαβγδΑΒΓДжЯяйİı中文日本語한국어हिन्दी العربية עברית"
    "\u0301\u0308\u0338\u0903"  # combining marks
    "ﬁＡ＠﹫。．ǅ\u212b\u2126\u212a\u1e9e"  # compatibility / singleton / look-alike characters
)
SPECIAL = ' "<>(),;:\\[]@.\t\n\x00\x7f\u00a0\u200b\u200d\ufeff\u2028\ue000\U0001f600\U000e0041'

atom = st.text(ATEXT, min_size=1, max_size=8)
intl_atom = st.text(ATEXT + INTL, min_size=1, max_size=8)
any_text = st.text(max_size=14)  # any code point but surrogates
label = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,8}[A-Za-z0-9])?", fullmatch=True)
TLDS = "com org de io c x1 1 123 COM test local localhost arpa invalid onion example xn--p1ai"
PREFIXES = ["", " ", "\u00a0", "\u200b", "mailto:", "MailTo:", "<", "Name <", '"N, M" <']
SUFFIXES = ["", " ", ">", ".", ",", ";", "\u00a0", "\u200b", ">;", " ."]


def dot_atom(part: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(part, min_size=1, max_size=4).map(".".join)


def weighted(*branches: tuple[int, st.SearchStrategy[str]]) -> st.SearchStrategy[str]:
    """One of the branches, chosen with the given weights (the first is the simplest).

    Built once at import: constructing strategies inside a draw is what makes generation slow.
    """
    total = sum(w for w, _ in branches)
    pick = st.integers(0, total - 1)

    @st.composite
    def draw_one(draw: st.DrawFn) -> str:
        k = draw(pick)
        for w, branch in branches:
            if k < w:
                return draw(branch)
            k -= w
        raise AssertionError

    return draw_one()


local_parts = weighted(
    (50, dot_atom(atom)),
    (15, dot_atom(intl_atom)),
    (8, st.text(ATEXT + INTL + SPECIAL + "..", max_size=12)),
    (6, st.text(ATEXT + INTL + ' ."\\@<', max_size=8).map(lambda t: f'"{t}"')),  # quoted
    (4, st.integers(60, 260).map(lambda n: "a" * n)),  # over-long
    (
        8,
        st.sampled_from(
            [".a", "a.", "a..b", "..", ".", "info", "Info", "POSTMASTER", "mar\u212aeting"]
        ),
    ),
    (5, any_text),
)
labels = weighted(
    (60, label),
    (10, st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=10)),
    (12, st.text(string.ascii_lowercase + "äöüßéñ中文日本пример\u0301ＡΣ", min_size=1, max_size=8)),
    (5, st.integers(60, 70).map(lambda n: "d" * n)),  # around the 63 limit
    (
        10,
        st.sampled_from(["xn--bcher-kva", "ab--cd", "xn--", "XN--bcher-kva", "-a", "a-", "", "1"]),
    ),
)
tlds = weighted(
    (3, st.sampled_from(["com", "org", "de", "io", "co.uk", "Com"])),
    (1, st.sampled_from([*TLDS.split(), "xn--zz", "рф", "中国", "a-"])),
)
domains = weighted(
    (75, st.builds(lambda ls, t: ".".join([*ls, t]), st.lists(labels, max_size=3), tlds)),
    (4, st.integers(200, 270).map(lambda n: ".".join(["a" * 49] * (n // 50)) + ".com")),
    (5, st.sampled_from(["[1.2.3.4]", "[IPv6:::1]", "[x:y]", "[300.1.1.1]", "[a b]", "[]", ""])),
    (10, st.text(string.ascii_letters + string.digits + ".-" + INTL + SPECIAL, max_size=15)),
    (6, any_text),
)
plain_addresses = weighted(
    (80, st.builds(lambda lp, d: f"{lp}@{d}", local_parts, domains)),
    (7, st.builds(lambda lp, d, e: f"{lp}@{d}@{e}", local_parts, domains, domains)),  # two @
    (7, st.builds(lambda lp, d: lp + d, local_parts, domains)),  # no @
    (6, any_text),
)
addresses = weighted(
    (8, plain_addresses),
    (
        2,
        st.builds(
            lambda p, a, s: p + a + s,
            st.sampled_from(PREFIXES),
            plain_addresses,
            st.sampled_from(SUFFIXES),
        ),
    ),
)

PROPERTY_ROWS: list[int] = []  # addresses checked, for the record (pytest -s prints nothing)


@settings(
    max_examples=170,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(addresses, min_size=10, max_size=40))
def test_property_identical_to_email_validator(batch: list[str]) -> None:
    """validate_emails == email-validator per row, raw and after (recorded) pre-cleaning."""
    raw = validate_emails(pl.Series(batch, dtype=pl.String), preclean=False, workers=1)
    assert verdicts(raw) == [reference(a) for a in batch]
    assert_row_invariants(raw)

    cleaned = validate_emails(pl.Series(batch, dtype=pl.String), workers=1)
    expected = [preclean_one(a) for a in batch]
    assert cleaned.select("cleaned", "fixes").rows() == expected
    assert verdicts(cleaned) == [reference(c) for c, _ in expected]
    for a, (c, fixes), (valid, _, _) in zip(batch, expected, verdicts(raw), strict=True):
        if valid:  # pre-cleaning never changes an address email-validator accepts
            assert (c, fixes) == (a, [])
    assert_row_invariants(cleaned)
    PROPERTY_ROWS.append(len(batch))


@settings(max_examples=60, derandomize=True, deadline=None)
@given(
    st.lists(
        st.lists(
            st.one_of(st.sampled_from(["\ud800", "\udc00", "\udfff", "@", " ", "."]), atom),
            max_size=6,
        ).map("".join),
        min_size=1,
        max_size=5,
    )
)
def test_property_any_python_string(batch: list[str]) -> None:
    """Lone surrogates (e.g. undecodable argv bytes) cannot enter polars: check_emails copes."""
    got = check_emails(batch, preclean=False)
    assert [(g["valid"], g["email"], g["error"]) for g in got] == [reference(a) for a in batch]
    got = check_emails(batch)
    assert [g["fixes"] for g in got] == [preclean_one(a)[1] for a in batch]
    assert [(g["valid"], g["email"], g["error"]) for g in got] == [
        reference(preclean_one(a)[0]) for a in batch
    ]


def test_multiprocess_residue_agrees() -> None:
    """A residue large enough for the process pool gives the same verdicts as in-process."""
    n = emails._PARALLEL_MIN + 1500
    values = [
        f'"user{i}"@example.com' if i % 3 == 0  # quoted: not allowed by default
        else f"e\u0301{i}@example.com" if i % 3 == 1  # not NFC: valid, normalized
        else f"Name {i} <a{i}@example.org>"  # display name: not allowed by default
        for i in range(n)
    ]  # fmt: skip
    values += [f"ok{i}@example.com" for i in range(2000)] + [None]
    emails._shutdown_executor()
    frame = validate_emails(pl.Series(values, dtype=pl.String), workers=2, preclean=False)
    assert emails._executor is not None  # the pool really ran
    assert (frame.get_column("decided_by") == "email_validator").sum() == n
    assert verdicts(frame)[:-1] == [reference(v) for v in values[:-1]]
    serial = validate_emails(pl.Series(values, dtype=pl.String), workers=1, preclean=False)
    assert serial.equals(frame)
    assert_row_invariants(frame)


# ------------------------------------------------ (3) test_syntax_tables.json


def test_syntax_tables_default_option_rows() -> None:
    """The python-email-validator 2.4.0 table rows whose expectation holds with default options."""
    checked = 0

    def ours(address: str) -> dict[str, Any]:
        return check_email(address, preclean=False)

    for case in TABLES["test_email_invalid_syntax"]["cases"]:  # default options
        assert ours(case["email_input"])["error"] == case["error_msg"], case
        checked += 1
    for case in TABLES["test_email_invalid_reserved_domain"]["cases"]:  # raised before any DNS
        got = ours(case["email_input"])
        assert "is a special-use or reserved name" in got["error"]
        assert got["reason"] == "special_use_domain"
        checked += 1
    for case in TABLES["test_email_valid_only_if_quoted_local_part"]["cases"]:
        got = ours(case["email_input"])
        assert got["error"] == "Quoting the part before the @-sign is not allowed here."
        assert got["reason"] == "quoted_local_part"
        checked += 1
    for case in TABLES["test_email_invalid_syntax_strict"]["cases"]:  # only strict=True fails
        got = ours(case["email_input"])
        assert got["valid"] and (True, got["email"], None) == reference(case["email_input"])
        checked += 1
    # The valid tables turn on allow_quoted_local / allow_display_name (and try smtputf8 off
    # as well as on); those options change nothing for inputs without a quote or a "<".
    for table in ("test_email_valid", "test_email_valid_intl_local_part"):
        for case in TABLES[table]["cases"]:
            if '"' in case["email_input"] or "<" in case["email_input"]:
                continue
            got = ours(case["email_input"])
            assert (got["valid"], got["email"]) == (True, case["expected"]["normalized"]), case
            checked += 1
    assert checked == 83 + 6 + 9 + 3 + 6 + 15  # 7 + 1 valid rows hold a quote or a "<"


# ----------------------------------------------------------- (4) pre-cleaning

PRECLEAN_CASES = [
    # raw, cleaned, fixes, normalized email (None = invalid after cleaning)
    ("a@b.com", "a@b.com", [], "a@b.com"),
    (" a@b.com\t", "a@b.com", ["trimmed_whitespace"], "a@b.com"),
    ("\u00a0a@b.com\u00a0", "a@b.com", ["removed_nbsp"], "a@b.com"),
    ("\u00a0 a@b.com\u3000", "a@b.com", ["trimmed_whitespace", "removed_nbsp"], "a@b.com"),
    ("a\u200b@b.com", "a@b.com", ["removed_zero_width"], "a@b.com"),
    ("\ufeffa@b.c\u2060om", "a@b.com", ["removed_zero_width"], "a@b.com"),
    ("a@b.com.", "a@b.com", ["trailing_punctuation"], "a@b.com"),
    ("a@b.com ,", "a@b.com", ["trimmed_whitespace", "trailing_punctuation"], "a@b.com"),
    ("a@b.com;", "a@b.com", ["trailing_punctuation"], "a@b.com"),
    ("a@b.com.,", "a@b.com.", ["trailing_punctuation"], None),  # only one is dropped
    (
        "John Doe <John.Doe@Example.COM>",
        "John.Doe@Example.COM",
        ["display_name"],
        "John.Doe@example.com",
    ),
    ('"Doe, John" <jd@b.com>;', "jd@b.com", ["trailing_punctuation", "display_name"], "jd@b.com"),
    ("<a@b.com>", "a@b.com", ["angle_brackets"], "a@b.com"),
    ("John < a@b.com >", "a@b.com", ["trimmed_whitespace", "display_name"], "a@b.com"),
    ("mailto:a@b.com", "a@b.com", ["mailto"], "a@b.com"),
    ("MailTo:Info@B.com", "Info@B.com", ["mailto"], "info@b.com"),
    ("<mailto:a@b.com>", "a@b.com", ["angle_brackets", "mailto"], "a@b.com"),
    ("a\u00a0b@c.com", "a\u00a0b@c.com", [], None),  # an inner NBSP is kept
    ("   ", "", ["trimmed_whitespace"], None),
    ("<>", "", ["angle_brackets"], None),
    ("a@b.com>", "a@b.com>", [], None),  # no "<": not an angle-bracket form
]


@pytest.mark.parametrize(("raw", "cleaned", "fixes", "email"), PRECLEAN_CASES)
def test_precleaning_cases(raw: str, cleaned: str, fixes: list[str], email: str | None) -> None:
    row = validate_emails(pl.Series([raw])).row(0, named=True)
    assert (row["input"], row["cleaned"], row["fixes"], row["email"]) == (
        raw,
        cleaned,
        fixes,
        email,
    )
    assert preclean_one(raw) == (cleaned, fixes)
    assert (row["valid"], row["email"], row["error"]) == reference(cleaned)
    if cleaned == "":
        assert (row["error"], row["reason"]) == ("An email address must have an @-sign.", "empty")


def test_null_and_empty_inputs() -> None:
    frame = validate_emails(pl.Series([None, "", " "], dtype=pl.String))
    assert frame.to_dicts() == [
        {"input": None, "cleaned": None, "fixes": [], "valid": False, "email": None,
         "email_key": None, "error": "An email address must have an @-sign.",
         "reason": "empty", "decided_by": "fast"},
        {"input": "", "cleaned": "", "fixes": [], "valid": False, "email": None,
         "email_key": None, "error": "An email address must have an @-sign.",
         "reason": "empty", "decided_by": "fast"},
        {"input": " ", "cleaned": "", "fixes": ["trimmed_whitespace"], "valid": False,
         "email": None, "email_key": None, "error": "An email address must have an @-sign.",
         "reason": "empty", "decided_by": "fast"},
    ]  # fmt: skip
    assert validate_emails(pl.Series([None, None])).get_column("reason").to_list() == ["empty"] * 2
    assert validate_emails(pl.Series([], dtype=pl.String)).height == 0
    assert validate_emails(pl.Series([], dtype=pl.String)).columns == [
        "input", "cleaned", "fixes", "valid", "email", "email_key", "error", "reason", "decided_by",
    ]  # fmt: skip
    with pytest.raises(TypeError, match="String series"):
        validate_emails(pl.Series([1, 2]))


def test_whitespace_set_is_pythons() -> None:
    spaces = {chr(c) for c in range(0x110000) if chr(c).isspace()}
    assert set(emails.WHITESPACE) == spaces - {emails.NBSP}
    assert emails.NBSP in spaces


# ------------------------------------------------------------ (5) check_email


def test_check_email_exact_output() -> None:
    assert check_email(" Info@Example.COM. ") == {
        "input": " Info@Example.COM. ",
        "valid": True,
        "email": "info@example.com",
        "email_key": "info@example.com",
        "error": None,
        "reason": None,
        "fixes": ["trimmed_whitespace", "trailing_punctuation"],
    }
    assert check_email("Jörg.Müller@Bücher.DE") == {
        "input": "Jörg.Müller@Bücher.DE",
        "valid": True,
        "email": "Jörg.Müller@bücher.de",
        "email_key": "jörg.müller@bücher.de",
        "error": None,
        "reason": None,
        "fixes": [],
    }
    assert check_email("john.doe@gmail") == {
        "input": "john.doe@gmail",
        "valid": False,
        "email": None,
        "email_key": None,
        "error": "The part after the @-sign is not valid. It should have a period.",
        "reason": "domain_missing_period",
        "fixes": [],
    }
    assert check_email("john doe@x.com") == {
        "input": "john doe@x.com",
        "valid": False,
        "email": None,
        "email_key": None,
        "error": "The email address contains invalid characters before the @-sign: SPACE.",
        "reason": "local_part_invalid_characters",
        "fixes": [],
    }
    assert check_email(" \ud800@x.com") == {  # a lone surrogate, as from undecodable argv
        "input": " \ud800@x.com",
        "valid": False,
        "email": None,
        "email_key": None,
        "error": "The email address contains unsafe characters: U+D800.",
        "reason": "unsafe_characters",
        "fixes": ["trimmed_whitespace"],
    }
    assert check_email("a.@x.com", preclean=False)["reason"] == "period_placement"
    assert check_email(None)["reason"] == "empty"  # type: ignore[arg-type]


# ------------------------------------------- the facts the fast path relies on


@pytest.mark.parametrize(
    ("constant", "address"),
    [
        ("MSG_NO_AT", "abc"),
        ("MSG_FULLWIDTH_AT", "a＠b.com"),
        ("MSG_SMALL_AT", "a﹫b.com"),
        ("MSG_LOCAL_EMPTY", "@b.com"),
        ("MSG_LOCAL_END_PERIOD", "a.@b.com"),
        ("MSG_LOCAL_START_PERIOD", ".a@b.com"),
        ("MSG_TWO_PERIODS", "a..b@b.com"),
        ("MSG_DOMAIN_EMPTY", "a@"),
        ("MSG_DOMAIN_END_PERIOD", "a@b.com."),
        ("MSG_DOMAIN_START_PERIOD", "a@.b.com"),
        ("MSG_DOMAIN_END_HYPHEN", "a@b.com-"),
        ("MSG_DOMAIN_START_HYPHEN", "a@-b.com"),
        ("MSG_PERIOD_HYPHEN", "a@b-.com"),
        ("MSG_RLDH", "a@ab--cd.com"),
        ("MSG_NO_PERIOD", "a@com"),
        ("MSG_BAD_TLD", "a@b.123"),
        ("MSG_SPECIAL_USE", "a@b.localhost"),
        ("MSG_EMPTY", ""),
    ],
)
def test_messages_are_the_librarys(constant: str, address: str) -> None:
    assert reference(address) == (False, None, getattr(emails, constant))


def test_prefix_messages_are_the_librarys() -> None:
    assert reference("a b@x.com")[2] == emails.MSG_LOCAL_BAD_PREFIX + "SPACE."
    assert reference("a@x_y.com")[2] == emails.MSG_DOMAIN_BAD_PREFIX + "'_'."


def test_no_canonical_composition_starts_with_a_special() -> None:
    """split_email's NFC window never hides an "@" or a '"'; only "<" + U+0338 composes."""
    composes = {
        chr(int(d.split()[0], 16))
        for c in range(0x110000)
        if (d := unicodedata.decomposition(chr(c))) and not d.startswith("<")
    }
    assert "@" not in composes and '"' not in composes and "<" in composes


def test_uts46_remap_only_lowercases_hostname_ascii() -> None:
    for c in string.ascii_letters + string.digits + ".-":
        assert idna.uts46_remap(c, std3_rules=False, transitional=False) == c.lower()


def test_ascii_character_sets_match_the_library() -> None:
    from email_validator.rfc_constants import ATEXT_HOSTNAME_INTL, ATEXT_INTL_DOT_RE, DOT_ATOM_TEXT

    chars = [chr(i) for i in range(128)]
    series = pl.Series(chars)
    atom = series.str.contains(f"^[{emails._ATEXT}]$").to_list()
    assert atom == [bool(DOT_ATOM_TEXT.match(c)) for c in chars]
    assert set(emails._LOCAL_BAD) == {c for c in chars if not ATEXT_INTL_DOT_RE.match(c)}
    assert set(emails._DOMAIN_BAD) == {c for c in chars if not ATEXT_HOSTNAME_INTL.match(c)}


def test_email_key_uses_python_lower_for_non_ascii() -> None:
    # U+1C89 is unassigned in Python 3.11's Unicode 14 but has a lower case in polars' tables:
    # email-validator would never accept it, but the key function must not depend on that.
    values = pl.Series(["A@B.COM", "\u1c89@x.com", "ΑΣ@x.com", None])
    assert emails._email_key(values).to_list() == ["a@b.com", "\u1c89@x.com", "ας@x.com", None]


def test_reason_classes() -> None:
    assert reason_for_error(None) is None
    assert reason_for_error("An email address must have an @-sign.", empty=True) == "empty"
    assert (
        reason_for_error(
            "After Unicode normalization: The email address contains unsafe characters: X."
        )
        == "unsafe_characters"
    )
    assert reason_for_error("The email address is too long (3 characters too many).") == "too_long"
    assert (
        reason_for_error("The email address is too long after the @-sign (1 character too many).")
        == "domain_too_long"
    )
    assert (
        reason_for_error("The part after the @-sign contains invalid characters in brackets: ' '.")
        == "domain_literal"
    )
    assert reason_for_error("Something new.") == "other"
    assert "other" in REASON_CLASSES and "empty" in REASON_CLASSES
    # Every table message classifies.
    for case in TABLES["test_email_invalid_syntax"]["cases"]:
        assert reason_for_error(case["error_msg"]) not in (None, "other"), case


def test_special_use_list_is_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(email_validator, "SPECIAL_USE_DOMAIN_NAMES", ["example"])
    frame = validate_emails(pl.Series(["a@mail.example", "a@x.localhost"]), preclean=False)
    assert frame.get_column("reason").to_list() == ["special_use_domain", None]


def test_every_email_cell_of_the_sample_data_agrees_with_email_validator(rules):
    """The third proof the issue asks for: the real mess in data/sample/."""
    import tempfile
    from pathlib import Path

    from listhygiene.ingest import expand_paths, read_inputs
    from listhygiene.presets import detect_preset, map_columns

    repo = Path(__file__).resolve().parents[1]
    cells: list[str | None] = []
    with tempfile.TemporaryDirectory() as tmp:
        for table in read_inputs(expand_paths([repo / "data" / "sample"]), rules.ingest, Path(tmp)):
            preset = detect_preset(table.columns, table.source_file, rules.presets)
            cells.extend(map_columns(table, preset).frame["email"].to_list())
    assert len(cells) > 300
    ours = validate_emails(pl.Series(cells, dtype=pl.String))
    checked = 0
    for row in ours.iter_rows(named=True):
        if row["cleaned"] is None:
            continue
        try:
            v = email_validator.validate_email(row["cleaned"], check_deliverability=False)
            expected = (True, v.normalized, None)
        except email_validator.EmailNotValidError as exc:
            expected = (False, None, str(exc))
        assert (row["valid"], row["email"], row["error"]) == expected, row["input"]
        checked += 1
    assert checked == sum(c is not None for c in cells)
    assert (
        ours["fixes"].list.len().sum() > 10
    )  # the sample's pre-cleaning cases are really exercised
