"""Field rules: clean, check and normalise every contact field but the email.

`normalize_fields` takes a mapped frame (raw text, `presets.MappedTable.frame`)
and returns the same rows with normalised values plus one issue row per
finding. An issue's `action` is `reject` (the row must go to rejects.csv),
`fixed` (a value was changed to fit; a warning) or `flagged` (kept as it is,
e.g. a phone that cannot be parsed; a warning). The email column is passed
through untouched: validating it is `emails.py`'s job, and so is its
254-character limit.

The limits and what happens to a value over its limit are rules, in
`rules/fields.toml`; the status vocabulary is `rules/statuses.toml`. Each
limit has a `policy`: `fix` (the default for all: change the value to fit
and warn) or `reject` (reject the row). So by default only the email can
reject a row; the status vocabulary can too (see below).

Text fields (`first_name, last_name, company, job_title, source`, and
`status_reason` which has no limit): control characters, zero-width spaces,
word joiners, byte-order marks and bidi controls are removed; every run of
whitespace (tabs, line breaks, NBSP, ...) becomes one space; the ends are
trimmed; the text is put in Unicode NFC. An empty result is null. Limits
count characters (Unicode code points, after NFC); `fix` cuts to the first
`max_chars` characters. Defaults (seeds 001 and 003): first_name 100,
last_name 100, phone 50, company 150, job_title 100, source 100.

Phone: cleaned like text, then parsed with `phonenumbers` (each distinct
value once) with `default_region` (an ISO 3166 code such as "US"; None means
only numbers written with a +country code can be parsed). A valid number
becomes E.164 (`+442079460156`, `phone_valid` true; an extension is dropped
with a warning). Anything else is kept as given and flagged (`phone_valid`
false). The 50-character limit applies to what is kept.

Tags: split with the preset (`presets.split_tags_expr`), each tag cleaned like
text, empty ones dropped, de-duplicated ignoring case (the first spelling
stays); no tags is null. More than 50: `fix` keeps the first 50.

custom_fields: compact JSON object text. More than 20 keys or more than 8,192
bytes of UTF-8 JSON: `fix` keeps the longest run of keys, in the object's
order (the file's column order, then the keys of a mapped JSON column), that
fits both limits, and drops every key after it; if even the first key does
not fit the field becomes null.

social_profiles: only `linkedin, twitter, instagram, telegram, whatsapp,
reddit, youtube` (compared ignoring case). Another key is dropped with a
warning (`unknown_policy`, default fix). A value over 500 characters:
`fix` cuts it. Null or empty values are left out; the object is rebuilt with
the networks in the order above; an empty object is null.

Dates (`status_changed_at`, `created_at`, `last_changed`) become
Datetime("us", "UTC"). Read: ISO 8601 with or without offset (`2024-09-07T17:03:54Z`,
`2023-02-21T20:07:38+00:00`, `2024-03-12`), `2016-04-18 13:51:14`,
`2024-03-12 09:14`, `2021-11-15 19:42:23 +0000`, Go's `... +0000 UTC`,
epoch seconds (9-10 digits, optional fraction) or milliseconds (13 digits),
and day/month/year forms `31.12.2024`, `12/31/2024`, `31-12-2024` with an
optional time (`9:14 AM` too). A value without an offset is read as UTC. A
date written with dots is day first. For `/` and `-`, the preset's
`date_order` decides (DMY or MDY); without one, the values decide: if some
have a first number above 12 (and none a second above 12) the column is
day-first, and the reverse month-first; a value both readings allow is
flagged `date_ambiguous`. A value that cannot be read is null and flagged
`date_unparseable`; a bad date never rejects a row.

Status: trimmed, compared ignoring case with runs of spaces, `-` and `_`
alike (`Opted Out` = `opted-out` = `opted_out`). A missing status is
`active`. `[map]` in statuses.toml maps values to `active | unsubscribed |
bounced | complained`; a value in a `[reject.CODE]` table rejects the row
with reason CODE (defaults: `status_pending`, `status_archived`,
`status_nonsubscribed`); any other value rejects the row with reason
`status_unknown`. A rejected row's status is null.

Reason codes: too_long, too_many_tags, too_many_keys, too_large,
unknown_network, phone_no_country_code, phone_unparseable, phone_invalid,
phone_extension_dropped, date_unparseable, date_ambiguous, status_unknown,
and the `[reject.CODE]` codes of statuses.toml.

Everything is vectorized in polars; per-value Python runs only for phones,
once per distinct value. Text, tag and status cleaning run once per distinct
value too (polars expressions over the unique values, mapped back).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import phonenumbers
import polars as pl

from .errors import ListHygieneError
from .presets import OUTPUT_COLUMNS, Preset, json_string_expr, split_tags_expr
from .rulefile import RuleTable, load_rules_file, unknown_tables

STATUSES = ("active", "unsubscribed", "bounced", "complained")
POLICIES = ("fix", "reject")
TEXT_LIMITED = ("first_name", "last_name", "phone", "company", "job_title", "source")
SOCIAL_NETWORKS = ("linkedin", "twitter", "instagram", "telegram", "whatsapp", "reddit", "youtube")
DATE_FIELDS = ("status_changed_at", "created_at", "last_changed")
STATUS_FILE = "rules/statuses.toml"
FIELDS_FILE = "rules/fields.toml"
VALUE_CHARS = 200  # an issue's `value` is cut to this many characters

INPUT_COLUMNS = OUTPUT_COLUMNS  # what presets.map_columns hands over
OUTPUT_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.String(),
    "source_row": pl.Int64(),
    "email": pl.String(),
    "first_name": pl.String(),
    "last_name": pl.String(),
    "phone": pl.String(),
    "phone_valid": pl.Boolean(),
    "company": pl.String(),
    "job_title": pl.String(),
    "tags": pl.List(pl.String()),
    "source": pl.String(),
    "status": pl.String(),
    "status_reason": pl.String(),
    "status_changed_at": pl.Datetime("us", "UTC"),
    "created_at": pl.Datetime("us", "UTC"),
    "last_changed": pl.Datetime("us", "UTC"),
    "external_id": pl.String(),
    "social_profiles": pl.String(),
    "custom_fields": pl.String(),
}
ISSUE_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.String(),
    "source_row": pl.Int64(),
    "field": pl.String(),
    "value": pl.String(),
    "error": pl.String(),
    "reason": pl.String(),
    "action": pl.String(),
}
_FIELD_RANK = {name: i for i, name in enumerate(OUTPUT_SCHEMA)}
_I = "__i"  # row index column
_CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class TextLimit:
    """A text field's limit in characters and what happens to a longer value."""

    max_chars: int
    policy: str = "fix"  # fix: cut to max_chars, warn | reject: reject the row


@dataclass(frozen=True)
class FieldRules:
    """rules/fields.toml."""

    text: dict[str, TextLimit]  # keyed by TEXT_LIMITED
    max_tags: int = 50
    tags_policy: str = "fix"
    max_custom_keys: int = 20
    max_custom_bytes: int = 8192
    custom_fields_policy: str = "fix"
    social_networks: tuple[str, ...] = SOCIAL_NETWORKS
    max_social_chars: int = 500
    social_policy: str = "fix"  # a value over max_social_chars
    unknown_social_policy: str = "fix"  # a network not in social_networks: fix = drop it


@dataclass(frozen=True)
class RejectedStatus:
    """A `[reject.CODE]` table: values that reject their row with reason CODE."""

    reason: str
    meaning: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class StatusRules:
    """rules/statuses.toml: status keys (see `status_key`) to canonical status or a reject."""

    mapping: dict[str, str]  # status key -> active | unsubscribed | bounced | complained
    rejected: dict[str, RejectedStatus]  # status key -> its reject table

    def lookup(self, value: str | None) -> str | RejectedStatus | None:
        """What the rules make of one raw value: a status, a reject, or None if unknown."""
        if value is None or not value.strip():
            return "active"
        key = status_key(value)
        return self.mapping.get(key) or self.rejected.get(key)


def status_key(value: str) -> str:
    """Trimmed, lower-cased, runs of spaces, `-` and `_` as one `_` (as normalize_fields does)."""
    return re.sub(r"[\s_-]+", "_", value.strip().lower())


class _Table(RuleTable):
    """A rules table that also reads a `fix`/`reject` policy."""

    def policy(self, key: str = "policy") -> str:
        v = self.get(key)
        if v is None:
            return "fix"
        if v not in POLICIES:
            self.bad(
                key,
                '"fix" (change the value to fit and warn) or "reject" (reject the row)',
                v,
            )
            return "fix"
        return v


def parse_field_rules(doc: dict[str, Any], where: str, problems: list[str]) -> FieldRules:
    """Validate rules/fields.toml; append every problem to `problems` (never raises)."""
    tables = (*TEXT_LIMITED, "tags", "custom_fields", "social_profiles")
    problems.extend(unknown_tables(doc, tables, where))
    defaults = {"first_name": 100, "last_name": 100, "phone": 50, "company": 150}
    text: dict[str, TextLimit] = {}
    for name in TEXT_LIMITED:
        t = _Table(doc, name, where, problems)
        text[name] = TextLimit(t.int("max_chars", defaults.get(name, 100)), t.policy())
        t.finish()
    tags = _Table(doc, "tags", where, problems)
    max_tags, tags_policy = tags.int("max_count", 50), tags.policy()
    tags.finish()
    custom = _Table(doc, "custom_fields", where, problems)
    max_keys, max_bytes = custom.int("max_keys", 20), custom.int("max_bytes", 8192, lo=2)
    custom_policy = custom.policy()
    custom.finish()
    social = _Table(doc, "social_profiles", where, problems)
    networks = _networks(social)
    max_social, social_policy = social.int("max_chars", 500), social.policy()
    unknown_policy = social.policy("unknown_policy")
    social.finish()
    return FieldRules(
        text=text,
        max_tags=max_tags,
        tags_policy=tags_policy,
        max_custom_keys=max_keys,
        max_custom_bytes=max_bytes,
        custom_fields_policy=custom_policy,
        social_networks=networks,
        max_social_chars=max_social,
        social_policy=social_policy,
        unknown_social_policy=unknown_policy,
    )


def _networks(t: _Table) -> tuple[str, ...]:
    v = t.get("networks")
    if v is None:
        return SOCIAL_NETWORKS
    ok = isinstance(v, list) and v and all(isinstance(x, str) and _CODE_RE.match(x) for x in v)
    if not ok:
        t.problems.append(
            f"{t.where}: `networks` must be a non-empty list of lower-case network names "
            f"(letters, digits, '_'), not {v!r}."
        )
        return SOCIAL_NETWORKS
    dupes = sorted({x for x in v if v.count(x) > 1})
    if dupes:
        t.problems.append(f"{t.where}: `networks` lists {', '.join(dupes)} more than once.")
    return tuple(dict.fromkeys(v))


def parse_status_rules(doc: dict[str, Any], where: str, problems: list[str]) -> StatusRules:
    """Validate rules/statuses.toml; append every problem to `problems` (never raises)."""
    for key in sorted(set(doc) - {"map", "reject"}):
        problems.append(f"{where}: unknown table [{key}]; the tables are [map] and [reject.CODE].")
    seen: dict[str, str] = {}  # status key -> where it is listed, to report duplicates

    def values(v: Any, at: str) -> tuple[str, ...]:
        if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
            problems.append(f"{where} {at}: the values must be a list of non-empty strings.")
            return ()
        for x in v:
            k = status_key(x)
            if k in seen:
                problems.append(
                    f'{where}: "{x}" is listed in {seen[k]} and again in {at} (values are '
                    "compared ignoring case, spaces, '-' and '_'); keep one."
                )
            else:
                seen[k] = at
        return tuple(v)

    mapping: dict[str, str] = {}
    table = doc.get("map")
    if not isinstance(table, dict):
        problems.append(
            f"{where}: missing table [map]; it lists the values that mean each of "
            f"{', '.join(STATUSES)}."
        )
        table = {}
    for canonical, listed in table.items():
        if canonical not in STATUSES:
            problems.append(
                f"{where} [map]: unknown status `{canonical}`; a value can only map to "
                f"{', '.join(STATUSES)}."
            )
            continue
        for x in values(listed, f"[map] {canonical}"):
            mapping[status_key(x)] = canonical

    rejected: dict[str, RejectedStatus] = {}
    table = doc.get("reject", {})
    if not isinstance(table, dict):
        problems.append(f"{where}: `reject` must be tables [reject.CODE] with values and meaning.")
        table = {}
    for code, spec in table.items():
        at = f"[reject.{code}]"
        if not _CODE_RE.match(code) or code == "status_unknown":
            problems.append(
                f"{where} {at}: the reason code must be snake_case (lower-case letters, digits, "
                "'_') and not status_unknown; rename the table."
            )
        if not isinstance(spec, dict):
            problems.append(f"{where} {at}: must be a table with `values` and `meaning`.")
            continue
        for extra in sorted(set(spec) - {"values", "meaning"}):
            problems.append(
                f"{where} {at}: unknown key `{extra}`; the keys are values and meaning."
            )
        meaning = spec.get("meaning")
        if not isinstance(meaning, str) or not meaning.strip():
            problems.append(
                f"{where} {at}: `meaning` must be a non-empty string saying what the values "
                'mean (it completes "status: "x" means ...").'
            )
            meaning = code
        listed = values(spec.get("values"), at)
        entry = RejectedStatus(code, meaning.strip(), listed)
        for x in listed:
            rejected[status_key(x)] = entry
    return StatusRules(mapping=mapping, rejected=rejected)


def default_field_rules() -> FieldRules:
    """The shipped rules/fields.toml, parsed (for callers without a RuleSet, and tests)."""
    return load_rules_file(parse_field_rules, "fields.toml")


def default_status_rules() -> StatusRules:
    """The shipped rules/statuses.toml, parsed."""
    return load_rules_file(parse_status_rules, "statuses.toml")


def check_region(region: str | None) -> str | None:
    """`--default-region` upper-cased, or a ListHygieneError naming the problem."""
    if region is None or not region.strip():
        return None
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ListHygieneError(
            f'--default-region "{region}" is not a region phonenumbers knows; use a two-letter '
            "ISO 3166 code such as US, GB or DE, or leave it out to read only numbers written "
            "with a +country code."
        )
    return code


# --------------------------------------------------------------------------- helpers

# Removed from text: control characters that are not whitespace, zero-width space,
# word joiner, BOM and bidi controls (ZWJ/ZWNJ stay: scripts and emoji need them).
_DROP = (
    r"[\p{Cc}&&[^\s]]|[\x{200B}\x{2060}\x{FEFF}\x{200E}\x{200F}\x{202A}-\x{202E}\x{2066}-\x{2069}]"
)
# A JSON text as tokens: strings, structure, scalars, whitespace (together: the whole text).
_TOKEN = r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+|\s+'


def clean_text_expr(e: pl.Expr) -> pl.Expr:
    """Controls removed, whitespace runs as one space, trimmed, NFC; empty -> null."""
    e = e.str.replace_all(_DROP, "").str.replace_all(r"\s+", " ").str.strip_chars(" ")
    e = e.str.normalize("NFC")
    return pl.when(e != "").then(e)


def _per_distinct(s: pl.Series, fn: Callable[[pl.Expr], pl.Expr], dtype: pl.DataType) -> pl.Series:
    """fn over the distinct non-null values of `s`, mapped back onto every row."""
    keys = s.drop_nulls().unique()
    if keys.len() == 0:
        return pl.Series(s.name, dtype=dtype).extend_constant(None, s.len())
    mapping = pl.DataFrame({"k": keys}).with_columns(fn(pl.col("k")).cast(dtype).alias("v"))
    if dtype.is_nested():  # replace_strict takes flat values only
        joined = s.alias("k").to_frame().join(mapping, on="k", how="left", maintain_order="left")
        return joined["v"].alias(s.name)
    return s.replace_strict(mapping["k"], mapping["v"], default=None, return_dtype=dtype)


def _json_decode_string(token: pl.Expr) -> pl.Expr:
    """The text of a JSON string token (`"a\\"b"` -> `a"b`)."""
    return pl.concat_str([pl.lit('{"v":'), token, pl.lit("}")]).str.json_path_match("$.v")


def _fmt_int(e: pl.Expr) -> pl.Expr:
    """An integer with thousands separators (8,192)."""
    digits = e.cast(pl.String)
    return (
        digits.str.reverse().str.replace_all(r"(\d{3})", "$1,").str.reverse().str.strip_prefix(",")
    )


def _members(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """The top-level members of the JSON objects in `column`, in order.

    One row per member: `__i`, `m` (0-based position), `key` (the key's JSON
    token), `text` (the member as written: key, colon and value), `value`
    (the value's JSON text).
    """
    opening = pl.col("tok").is_in(["{", "["]).cast(pl.Int32)
    closing = pl.col("tok").is_in(["}", "]"]).cast(pl.Int32)
    toks = (
        frame.lazy()
        .select(_I, pl.col(column).str.extract_all(_TOKEN).alias("tok"))
        .explode("tok")
        .drop_nulls("tok")
        .with_columns(after=(opening - closing).cum_sum().over(_I))
        .with_columns(before=pl.col("after") - opening + closing)
        .with_columns(
            sep=((pl.col("before") == 1) & (pl.col("tok") == ",")).cast(pl.Int32),
            colon=((pl.col("before") == 1) & (pl.col("tok") == ":")).cast(pl.Int32),
        )
        .with_columns(m=pl.col("sep").cum_sum().over(_I))
        .filter((pl.col("before") >= 1) & (pl.col("after") >= 1) & (pl.col("sep") == 0))
        .with_columns(seen_colon=pl.col("colon").cum_sum().over(_I, "m"))
    )
    tok = pl.col("tok")
    return (
        toks.group_by(_I, "m", maintain_order=True)
        .agg(
            key=tok.filter(tok.str.starts_with('"') & (pl.col("seen_colon") == 0)).first(),
            text=tok.str.join(""),
            value=tok.filter((pl.col("seen_colon") >= 1) & (pl.col("colon") == 0))
            .str.join("")
            .str.strip_chars(),
        )
        .collect()
    )


def _issues(
    frame: pl.DataFrame | pl.LazyFrame,
    when: pl.Expr,
    field: str,
    value: pl.Expr,
    error: pl.Expr,
    reason: str | pl.Expr,
    action: str | pl.Expr,
) -> pl.LazyFrame:
    """Issue rows (plus `__i`) for the rows of `frame` where `when` holds."""

    def lit(v: str | pl.Expr) -> pl.Expr:
        return pl.lit(v, pl.String) if isinstance(v, str) else v.cast(pl.String)

    return (
        frame.lazy()
        .filter(when)
        .select(
            pl.col(_I),
            pl.col("source_file"),
            pl.col("source_row"),
            pl.lit(field, pl.String).alias("field"),
            value.cast(pl.String).str.slice(0, VALUE_CHARS).alias("value"),
            error.alias("error"),
            lit(reason).alias("reason"),
            lit(action).alias("action"),
        )
    )


def _no_issues() -> pl.LazyFrame:
    return pl.LazyFrame(schema={_I: pl.get_index_type(), **ISSUE_SCHEMA})


def _quoted(e: pl.Expr, limit: int = 80) -> pl.Expr:
    """`"value"` for an error sentence, cut at `limit` characters with an ellipsis."""
    cut = pl.when(e.str.len_chars() > limit).then(e.str.slice(0, limit - 1) + "…").otherwise(e)
    return pl.concat_str([pl.lit('"'), cut, pl.lit('"')])


# --------------------------------------------------------------------------- stage


@dataclass
class NormalizedFields:
    """The normalised frame (input rows, in order) and one issue row per finding."""

    frame: pl.DataFrame
    issues: pl.DataFrame

    @property
    def rejects(self) -> pl.DataFrame:
        """The issues that reject their row."""
        return self.issues.filter(pl.col("action") == "reject")


def normalize_fields(
    frame: pl.DataFrame,
    preset: Preset,
    fields: FieldRules,
    statuses: StatusRules,
    default_region: str | None = None,
) -> NormalizedFields:
    """Normalise every field of a mapped frame but the email; see the module docstring."""
    region = check_region(default_region)
    missing = [c for c in INPUT_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"normalize_fields needs the mapped columns {', '.join(missing)}.")
    base = frame.select(INPUT_COLUMNS).with_columns(pl.col("source_row").cast(pl.Int64))
    base = base.with_row_index(_I)
    issues: list[pl.LazyFrame] = []
    out: dict[str, pl.Series] = {}

    # Text: once per distinct value.
    for name in ("first_name", "last_name", "company", "job_title", "source", "status_reason"):
        out[name] = _per_distinct(base[name], clean_text_expr, pl.String())
    out["external_id"] = _per_distinct(
        base["external_id"],
        lambda e: pl.when(e.str.strip_chars() != "").then(e.str.strip_chars()),
        pl.String(),
    )
    phone, phone_valid, phone_issues = _phones(base, region)
    out["phone"], out["phone_valid"] = phone, phone_valid
    issues.append(phone_issues)

    work = base.with_columns(
        pl.Series(f"__{k}", v) for k, v in out.items() if k not in ("phone_valid",)
    )
    for name in TEXT_LIMITED:
        col, issue = _text_limit(work, name, fields.text[name])
        out[name] = col
        issues.append(issue)

    out["tags"], issue = _tags(base, preset, fields)
    issues.append(issue)
    out["status"], issue = _status(base, statuses)
    issues.append(issue)
    dates, issue = _dates(base, preset)
    out.update(dates)
    issues.append(issue)
    out["custom_fields"], issue = _custom_fields(base, fields)
    issues.append(issue)
    out["social_profiles"], issue = _social(base, fields)
    issues.append(issue)

    result = base.select(
        [
            pl.col(c)
            if c in ("source_file", "source_row", "email")
            else pl.Series(c, out[c]).cast(dtype)
            for c, dtype in OUTPUT_SCHEMA.items()
        ]
    )
    issue_frame = (
        pl.concat(issues, how="vertical")
        .with_columns(__rank=pl.col("field").replace_strict(_FIELD_RANK, default=len(_FIELD_RANK)))
        .sort(_I, "__rank", maintain_order=True)
        .select(list(ISSUE_SCHEMA))
        .collect()
    )
    return NormalizedFields(frame=result, issues=issue_frame.cast(ISSUE_SCHEMA))


# --------------------------------------------------------------------------- text limits


def _text_limit(work: pl.DataFrame, name: str, limit: TextLimit) -> tuple[pl.Series, pl.LazyFrame]:
    """`__name` (the cleaned value) cut to its limit or left for a reject, plus the issues."""
    v = pl.col(f"__{name}")
    n = v.str.len_chars()
    over = (n > limit.max_chars).fill_null(False)
    head = pl.concat_str(
        [
            pl.lit(f"{name}: "),
            _fmt_int(n),
            pl.lit(f" characters, more than the limit of {limit.max_chars}"),
        ]
    )
    if limit.policy == "fix":
        value = (
            pl.when(over).then(v.str.slice(0, limit.max_chars).str.strip_chars_end()).otherwise(v)
        )
        tail = (
            f"; cut to the first {limit.max_chars}. Shorten it in the source to choose what "
            "is kept."
        )
    else:
        value = v
        tail = (
            f'; the row is rejected. Shorten it, or set policy = "fix" under [{name}] in '
            f"{FIELDS_FILE} to cut it instead."
        )
    col = work.select(value.alias(name)).to_series()
    action = "fixed" if limit.policy == "fix" else "reject"
    issue = _issues(work, over, name, pl.col(name), head + tail, "too_long", action)
    return col, issue


# --------------------------------------------------------------------------- phones


def _parse_phone(value: str, region: str | None) -> tuple[str | None, bool, str | None, str | None]:
    """(E.164 or None, valid, reason, error sentence) for one distinct phone value."""
    shown = f'"{value}"' if len(value) <= 80 else f'"{value[:79]}…"'
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        if (
            exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE
            and region is None
            and not value.lstrip().startswith("+")
        ):
            return (
                None,
                False,
                "phone_no_country_code",
                f"phone: {shown} has no +country code and no default region is set; it was "
                "kept as given. Write it with its +country code, or pass --default-region "
                "(e.g. US, GB, DE).",
            )
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            return (
                None,
                False,
                "phone_invalid",
                f"phone: {shown} has a country code that does not exist; it was kept as given. "
                "Check the number and its country code.",
            )
        return (
            None,
            False,
            "phone_unparseable",
            f"phone: {shown} is not a phone number; it was kept as given. Fix or clear it in "
            "the source.",
        )
    if not phonenumbers.is_valid_number(number):
        where = f" for region {region}" if region and not value.lstrip().startswith("+") else ""
        return (
            None,
            False,
            "phone_invalid",
            f"phone: {shown} is not a valid phone number{where}; it was kept as given. Check "
            "the digits and the country code.",
        )
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if number.extension:
        return (
            e164,
            True,
            "phone_extension_dropped",
            f"phone: {shown} has an extension ({number.extension}), which E.164 cannot hold; "
            f"it was dropped, leaving {e164}. Keep the extension in a custom field if it matters.",
        )
    return e164, True, None, None


def _phones(base: pl.DataFrame, region: str | None) -> tuple[pl.Series, pl.Series, pl.LazyFrame]:
    """E.164 where phonenumbers can, else the cleaned text; `phone_valid`; the issues."""
    cleaned = _per_distinct(base["phone"], clean_text_expr, pl.String())
    keys = cleaned.drop_nulls().unique().to_list()
    parsed = [_parse_phone(k, region) for k in keys]  # the one per-value Python loop
    mapping = pl.DataFrame(
        {
            "__phone_in": keys,
            "__e164": [p[0] for p in parsed],
            "__valid": [p[1] for p in parsed],
            "__reason": [p[2] for p in parsed],
            "__error": [p[3] for p in parsed],
        },
        schema={
            "__phone_in": pl.String,
            "__e164": pl.String,
            "__valid": pl.Boolean,
            "__reason": pl.String,
            "__error": pl.String,
        },
    )
    joined = base.select(_I, "source_file", "source_row", cleaned.alias("__phone_in")).join(
        mapping, on="__phone_in", how="left", maintain_order="left"
    )
    phone = joined.select(pl.coalesce("__e164", "__phone_in")).to_series()
    valid = joined["__valid"]
    action = pl.when(pl.col("__reason") == "phone_extension_dropped").then(pl.lit("fixed"))
    issue = _issues(
        joined,
        pl.col("__reason").is_not_null(),
        "phone",
        pl.col("__phone_in"),
        pl.col("__error"),
        pl.col("__reason"),
        action.otherwise(pl.lit("flagged")),
    )
    return phone, valid, issue


# --------------------------------------------------------------------------- tags


def _tags(base: pl.DataFrame, preset: Preset, fields: FieldRules) -> tuple[pl.Series, pl.LazyFrame]:
    """Split, cleaned, de-duplicated ignoring case (first spelling kept), limited."""

    def tag_list(_: pl.Expr) -> pl.Expr:
        tags = (
            split_tags_expr(preset, "k")
            .list.eval(clean_text_expr(pl.element()))
            .list.eval(pl.element().filter(pl.element().is_not_null()))
            .list.eval(pl.element().filter(pl.element().str.to_lowercase().is_first_distinct()))
        )
        return pl.when(tags.list.len() > 0).then(tags)

    lists = _per_distinct(base["tags"], tag_list, pl.List(pl.String()))
    work = base.select(_I, "source_file", "source_row", "tags", lists.alias("__tags"))
    n = pl.col("__tags").list.len()
    over = (n > fields.max_tags).fill_null(False)
    head = pl.concat_str(
        [pl.lit("tags: "), _fmt_int(n), pl.lit(f" tags, more than the limit of {fields.max_tags}")]
    )
    if fields.tags_policy == "fix":
        value = pl.when(over).then(pl.col("__tags").list.head(fields.max_tags)).otherwise("__tags")
        tail = (
            f"; kept the first {fields.max_tags}. Remove tags in the source to choose which stay."
        )
    else:
        value = pl.col("__tags")
        tail = (
            f'; the row is rejected. Remove tags, or set policy = "fix" under [tags] in '
            f"{FIELDS_FILE} to keep the first {fields.max_tags}."
        )
    col = work.select(value.alias("tags")).to_series()
    action = "fixed" if fields.tags_policy == "fix" else "reject"
    issue = _issues(work, over, "tags", pl.col("tags"), head + tail, "too_many_tags", action)
    return col, issue


# --------------------------------------------------------------------------- statuses


def _status(base: pl.DataFrame, rules: StatusRules) -> tuple[pl.Series, pl.LazyFrame]:
    """The canonical status (null when the row is rejected) and the status issues."""
    raw = base["status"]
    keys = raw.drop_nulls().unique()
    codes = {k: r.reason for k, r in rules.rejected.items()}
    meanings = {k: r.meaning for k, r in rules.rejected.items()}
    trimmed = pl.col("raw").str.strip_chars()
    key = trimmed.str.to_lowercase().str.replace_all(r"[\s_-]+", "_")
    distinct = pl.DataFrame({"raw": keys}, schema={"raw": pl.String}).with_columns(
        blank=trimmed == "",
        canonical=key.replace_strict(rules.mapping, default=None, return_dtype=pl.String),
        code=key.replace_strict(codes, default=None, return_dtype=pl.String),
        meaning=key.replace_strict(meanings, default=None, return_dtype=pl.String),
    )
    shown = _quoted(trimmed)
    distinct = distinct.with_columns(
        status=pl.when("blank").then(pl.lit("active")).otherwise("canonical"),
        reason=pl.when(pl.col("blank") | pl.col("canonical").is_not_null())
        .then(None)
        .otherwise(pl.coalesce("code", pl.lit("status_unknown"))),
        error=pl.when(pl.col("code").is_not_null())
        .then(
            pl.concat_str(
                [
                    pl.lit("status: "),
                    shown,
                    pl.lit(" means "),
                    pl.col("meaning"),
                    pl.lit(
                        f", so the row is rejected. To import such rows, map the value in "
                        f"{STATUS_FILE} [map] instead of [reject."
                    ),
                    pl.col("code"),
                    pl.lit("]."),
                ]
            )
        )
        .otherwise(
            pl.concat_str(
                [
                    pl.lit("status: "),
                    shown,
                    pl.lit(
                        f" is not a known status; map it in {STATUS_FILE} [map] or fix the row."
                    ),
                ]
            )
        ),
    )
    joined = base.select(_I, "source_file", "source_row", "status").join(
        distinct.rename({"raw": "status", "status": "__status"}),
        on="status",
        how="left",
        maintain_order="left",
    )
    status = joined.select(
        pl.when(pl.col("status").is_null()).then(pl.lit("active")).otherwise("__status")
    ).to_series()
    issue = _issues(
        joined,
        pl.col("reason").is_not_null(),
        "status",
        pl.col("status"),
        pl.col("error"),
        pl.col("reason"),
        "reject",
    )
    return status, issue


# --------------------------------------------------------------------------- dates

# Tried first, on the whole column: the format of the column's first value, if one of
# these reads it. Each reads a value exactly as the regular expression below would.
_FAST_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d",
)
_TIME = (
    r"(?:(?:[Tt]|\s+)(?P<H>\d{1,2}):(?P<MI>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<F>\d{1,9}))?)?"
    r"\s*(?P<AP>[AaPp][Mm])?)?"
)
_DATE_RE = (
    r"^(?:(?P<E>\d{9,10}|\d{13})(?:\.(?P<EF>\d{1,6}))?"
    r"|(?:(?P<Y1>\d{4})[-/.](?P<M1>\d{1,2})[-/.](?P<D1>\d{1,2})"
    r"|(?P<A>\d{1,2})(?P<SEP>[-/.])(?P<B>\d{1,2})[-/.](?P<Y2>\d{4}))" + _TIME + ")"
    r"\s*(?:(?P<Z>[Zz])|(?P<OS>[+-])(?P<OH>\d{2})(?::?(?P<OM>\d{2}))?)?(?:\s*(?:UTC|GMT))?$"
)
_UTC = pl.Datetime("us", "UTC")


def _fast_format(s: pl.Series) -> str | None:
    """The first of _FAST_FORMATS that reads the column's first value, if any does."""
    first = s.drop_nulls().head(1).str.strip_chars()
    for fmt in _FAST_FORMATS:
        if (
            first.len()
            and first.str.strptime(pl.Datetime("us"), fmt, strict=False).null_count() == 0
        ):
            return fmt
    return None


def _slow_dates(values: pl.Series, date_order: str | None) -> pl.DataFrame:
    """`k` (distinct raw values) -> `dt` (UTC), `blank` and `ambiguous`, by _DATE_RE."""
    g = (
        pl.DataFrame({"k": values})
        .with_columns(pl.col("k").str.strip_chars().alias("text"))
        .with_columns(pl.col("text").str.extract_groups(_DATE_RE).alias("g"))
        .unnest("g")
    )

    def num(name: str) -> pl.Expr:
        return pl.col(name).cast(pl.Int64, strict=False)

    a, b, dm = num("A"), num("B"), pl.col("A").is_not_null()
    none = pl.lit(None, pl.Boolean)
    if date_order in ("DMY", "MDY"):
        dmy = pl.when(dm).then(pl.lit(date_order == "DMY"))
    else:
        evidence = g.filter(dm & (pl.col("SEP") != ".")).select(
            d=((a > 12) & (b <= 12)).any(), m=((b > 12) & (a <= 12)).any()
        )
        day_first, month_first = evidence.row(0) if evidence.height else (False, False)
        chain = pl.when(~dm).then(none).when(pl.col("SEP") == ".").then(pl.lit(True))
        if bool(day_first) != bool(month_first):
            dmy = chain.otherwise(pl.lit(bool(day_first)))
        else:  # nothing or both: each value by itself, the undecidable ones flagged
            dmy = (
                chain.when((a > 12) & (b <= 12))
                .then(pl.lit(True))
                .when((b > 12) & (a <= 12))
                .then(pl.lit(False))
                .when((a <= 12) & (b <= 12) & (a != b))
                .then(none)
                .otherwise(pl.lit(True))
            )
    g = g.with_columns(__dmy=dmy)
    dmy_col = pl.col("__dmy")
    year = pl.coalesce("Y1", "Y2")
    month = pl.coalesce("M1", pl.when(dmy_col).then("B").when(~dmy_col).then("A"))
    day = pl.coalesce("D1", pl.when(dmy_col).then("A").when(~dmy_col).then("B"))
    date = pl.concat_str(
        [year, pl.lit("-"), month.str.zfill(2), pl.lit("-"), day.str.zfill(2)]
    ).str.to_date("%Y-%m-%d", strict=False)
    h, mi, sec = num("H").fill_null(0), num("MI").fill_null(0), num("S").fill_null(0)
    ap = pl.col("AP").str.to_uppercase()
    h24 = (
        pl.when(ap.is_null())
        .then(h)
        .when((h >= 1) & (h <= 12))
        .then(h % 12 + pl.when(ap == "PM").then(12).otherwise(0))
    )
    frac = pl.col("F").str.slice(0, 6).str.pad_end(6, "0").cast(pl.Int64).fill_null(0)
    oh, om = num("OH"), num("OM").fill_null(0)
    offset = (
        pl.when(pl.col("OS").is_null())
        .then(0)
        .when((oh <= 23) & (om <= 59))
        .then(pl.when(pl.col("OS") == "-").then(-1).otherwise(1) * (oh * 60 + om))
    )
    clock = pl.when((h24 <= 23) & (mi <= 59) & (sec <= 59)).then((h24 * 60 + mi) * 60 + sec)
    local = date.cast(pl.Datetime("us")).cast(pl.Int64) + clock * 1_000_000 + frac
    epoch = pl.col("E")
    epoch_us = (
        pl.when(epoch.str.len_chars() == 13)
        .then(num("E") * 1000)
        .otherwise(
            num("E") * 1_000_000 + pl.col("EF").str.pad_end(6, "0").cast(pl.Int64).fill_null(0)
        )
    )
    us = pl.when(epoch.is_not_null()).then(epoch_us).otherwise(local - offset * 60_000_000)
    return g.select(
        "k",
        "text",
        blank=pl.col("text") == "",
        dt=us.cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        ambiguous=(dm & dmy_col.is_null()).fill_null(False),
    )


def timestamps_utc(raw: pl.Series, date_order: str | None = None) -> pl.Series:
    """Text times as UTC datetimes, read like the date columns of contacts (ISO 8601 with
    or without offset, epoch seconds or milliseconds, common day/month forms); null where a
    value cannot be read or is ambiguous."""
    fmt = _fast_format(raw)
    if fmt is None:
        fast = pl.Series(raw.name, dtype=_UTC).extend_constant(None, raw.len())
    else:
        fast = raw.str.to_datetime(fmt, time_unit="us", time_zone="UTC", strict=False)
    rest = raw.filter(fast.is_null() & raw.is_not_null()).unique()
    if rest.len() == 0:
        return fast.alias(raw.name)
    slow = _slow_dates(rest, date_order)
    late = raw.replace_strict(slow["k"], slow["dt"], default=None, return_dtype=_UTC)
    return fast.fill_null(late).alias(raw.name)


def _dates(base: pl.DataFrame, preset: Preset) -> tuple[dict[str, pl.Series], pl.LazyFrame]:
    """The three date columns as UTC datetimes, and an issue per value that cannot be read.

    Each column is first parsed whole with the fast format its first value has;
    only the values that fails (distinct, all columns together) go through the
    regular expression.
    """
    fast: dict[str, pl.Series] = {}
    residual: list[pl.Series] = []
    for c in DATE_FIELDS:
        raw = base[c]
        fmt = _fast_format(raw)
        if fmt is None:
            fast[c] = pl.Series(c, dtype=_UTC).extend_constant(None, raw.len())
        else:
            fast[c] = raw.str.to_datetime(fmt, time_unit="us", time_zone="UTC", strict=False)
        residual.append(raw.filter(fast[c].is_null() & raw.is_not_null()))
    values = pl.concat(residual).unique()
    slow = _slow_dates(values, preset.date_order) if values.len() else None

    out: dict[str, pl.Series] = {}
    issues: list[pl.LazyFrame] = []
    where = f"rules/presets/{preset.name}.toml"
    for c, parsed in fast.items():
        out[c] = parsed.alias(c)
        if slow is None or residual[DATE_FIELDS.index(c)].len() == 0:
            continue
        late = base[c].replace_strict(slow["k"], slow["dt"], default=None, return_dtype=_UTC)
        out[c] = parsed.fill_null(late).alias(c)
        rows = (
            base.select(_I, "source_file", "source_row", pl.col(c).alias("k"))
            .filter(parsed.is_null() & pl.col("k").is_not_null())
            .join(slow, on="k", how="left")
        )
        shown = _quoted(pl.col("text"))
        error = (
            pl.when("ambiguous")
            .then(
                pl.concat_str(
                    [
                        pl.lit(f"{c}: "),
                        shown,
                        pl.lit(
                            " can be read day-first or month-first; it was left empty. Set "
                            f'date_order = "DMY" or "MDY" in {where} (a copy in a folder passed '
                            "with --rules)."
                        ),
                    ]
                )
            )
            .otherwise(
                pl.concat_str(
                    [
                        pl.lit(f"{c}: "),
                        shown,
                        pl.lit(
                            " is not a date listhygiene can read; it was left empty. Fix it in "
                            "the source (ISO 8601 such as 2024-03-12T09:14:00Z is always read)."
                        ),
                    ]
                )
            )
        )
        reason = pl.when("ambiguous").then(pl.lit("date_ambiguous"))
        issues.append(
            _issues(
                rows,
                pl.col("dt").is_null() & ~pl.col("blank"),
                c,
                pl.col("text"),
                error,
                reason.otherwise(pl.lit("date_unparseable")),
                "flagged",
            )
        )
    return out, pl.concat(issues) if issues else _no_issues()


# --------------------------------------------------------------------------- JSON objects


def _custom_fields(base: pl.DataFrame, fields: FieldRules) -> tuple[pl.Series, pl.LazyFrame]:
    """custom_fields within the key and byte limits (a prefix of its keys), and the issues."""
    text = pl.when(pl.col("custom_fields").str.strip_chars() != "").then(pl.col("custom_fields"))
    work = base.select(_I, "source_file", "source_row", text.alias("custom_fields"))
    s = pl.col("custom_fields")
    maybe = (s.str.count_matches('":', literal=True) > fields.max_custom_keys) | (
        s.str.len_bytes() > fields.max_custom_bytes
    )
    candidates = work.filter(maybe.fill_null(False))
    if candidates.height == 0:
        return work["custom_fields"], _no_issues()
    members = _members(candidates, "custom_fields").with_columns(
        size=1 + (pl.col("text").str.len_bytes() + 1).cum_sum().over(_I)
    )
    keep = (pl.col("m") < fields.max_custom_keys) & (pl.col("size") <= fields.max_custom_bytes)
    name = _json_decode_string(pl.col("key"))
    per_row = members.group_by(_I).agg(
        n_keys=pl.len(),
        kept_n=keep.sum(),
        kept=pl.col("text").filter(keep).str.join(","),
        dropped=pl.concat_str([pl.lit('"'), name, pl.lit('"')]).filter(~keep).str.join(", "),
    )
    joined = candidates.join(per_row, on=_I, how="left").with_columns(
        n_bytes=s.str.len_bytes(),
        too_many=(pl.col("n_keys") > fields.max_custom_keys).fill_null(False),
    )
    joined = joined.with_columns(
        too_large=pl.col("n_bytes") > fields.max_custom_bytes,
    ).with_columns(over=pl.col("too_many") | pl.col("too_large"))
    dropped = (
        pl.when(pl.col("dropped").str.len_chars() > 300)
        .then(pl.col("dropped").str.slice(0, 299) + "…")
        .otherwise("dropped")
    )
    if fields.custom_fields_policy == "fix":
        fixed = pl.when(pl.col("kept_n") > 0).then(
            pl.concat_str([pl.lit("{"), "kept", pl.lit("}")])
        )
        new = pl.when("over").then(fixed).otherwise(s)
        tail = pl.concat_str(
            [
                pl.when(pl.col("kept_n") > 0)
                .then(
                    pl.concat_str([pl.lit("; kept the first "), pl.col("kept_n").cast(pl.String)])
                )
                .otherwise(pl.lit("; kept none (the first key alone is over the limit)")),
                pl.lit(" and dropped "),
                dropped,
                pl.lit(". Remove keys in the source to choose which stay."),
            ]
        )
        action = "fixed"
    else:
        new = s
        tail = pl.lit(
            f'; the row is rejected. Remove keys in the source, or set policy = "fix" under '
            f"[custom_fields] in {FIELDS_FILE} to drop the keys past the limit."
        )
        action = "reject"
    joined = joined.with_columns(new.alias("__new"))
    col = work.join(joined.select(_I, "__new"), on=_I, how="left", maintain_order="left")
    col = col.select(pl.when(pl.col("__new").is_not_null() | maybe).then("__new").otherwise(s))
    many = pl.concat_str(
        [
            pl.lit("custom_fields: "),
            _fmt_int(pl.col("n_keys")),
            pl.lit(f" keys, more than the limit of {fields.max_custom_keys}"),
            tail,
        ]
    )
    large = pl.concat_str(
        [
            pl.lit("custom_fields: "),
            _fmt_int(pl.col("n_bytes")),
            pl.lit(f" bytes of JSON, more than the limit of {_fmt_bytes(fields.max_custom_bytes)}"),
            tail,
        ]
    )
    issue = pl.concat(
        [
            _issues(joined, pl.col("too_many"), "custom_fields", s, many, "too_many_keys", action),
            _issues(joined, pl.col("too_large"), "custom_fields", s, large, "too_large", action),
        ]
    )
    return col.to_series().alias("custom_fields"), issue


def _fmt_bytes(n: int) -> str:
    return f"{n:,}"


def _social(base: pl.DataFrame, fields: FieldRules) -> tuple[pl.Series, pl.LazyFrame]:
    """social_profiles with known networks only, values within the limit, and the issues."""
    text = pl.when(pl.col("social_profiles").str.strip_chars() != "").then(
        pl.col("social_profiles")
    )
    work = base.select(_I, "source_file", "source_row", text.alias("social_profiles"))
    rows = work.filter(pl.col("social_profiles").is_not_null())
    if rows.height == 0:
        return work["social_profiles"], _no_issues()
    value = pl.col("value")
    members = (
        _members(rows, "social_profiles")
        .join(rows.select(_I, "source_file", "source_row"), on=_I, how="left")
        .with_columns(
            network=_json_decode_string(pl.col("key")).str.to_lowercase(),
            text_value=pl.when(value.str.starts_with('"'))
            .then(_json_decode_string(value))
            .when(value == "null")
            .then(None)
            .otherwise(value)
            .str.strip_chars(),
        )
        .with_columns(known=pl.col("network").is_in(list(fields.social_networks)))
    )
    unknown_action = "fixed" if fields.unknown_social_policy == "fix" else "reject"
    if fields.unknown_social_policy == "fix":
        unknown_tail = "; it was dropped."
    else:
        unknown_tail = (
            '; the row is rejected. Remove it, or set unknown_policy = "fix" under '
            f"[social_profiles] in {FIELDS_FILE} to drop it instead."
        )
    unknown = _issues(
        members,
        ~pl.col("known"),
        "social_profiles",
        pl.col("text"),
        pl.concat_str(
            [
                pl.lit("social_profiles: "),
                _quoted(_json_decode_string(pl.col("key"))),
                pl.lit(
                    " is not a known network (the networks are "
                    + ", ".join(fields.social_networks)
                    + ")"
                    + unknown_tail
                ),
            ]
        ),
        "unknown_network",
        unknown_action,
    )
    known = (
        members.filter(pl.col("known") & (pl.col("text_value") != ""))
        .unique([_I, "network"], keep="last", maintain_order=True)
        .with_columns(n=pl.col("text_value").str.len_chars())
    )
    limit = fields.max_social_chars
    over = pl.col("n") > limit
    if fields.social_policy == "fix":
        cut = pl.when(over).then(pl.col("text_value").str.slice(0, limit)).otherwise("text_value")
        tail = f"; cut to the first {limit}. Shorten it in the source to choose what is kept."
    else:
        cut = pl.col("text_value")
        tail = (
            f'; the row is rejected. Shorten it, or set policy = "fix" under [social_profiles] '
            f"in {FIELDS_FILE} to cut it instead."
        )
    long_issue = _issues(
        known,
        over,
        "social_profiles",
        pl.col("text_value"),
        pl.concat_str(
            [
                pl.lit("social_profiles: the "),
                pl.col("network"),
                pl.lit(" value has "),
                _fmt_int(pl.col("n")),
                pl.lit(f" characters, more than the limit of {limit}" + tail),
            ]
        ),
        "too_long",
        "fixed" if fields.social_policy == "fix" else "reject",
    )
    rank = {n: i for i, n in enumerate(fields.social_networks)}
    objects = (
        known.with_columns(
            __rank=pl.col("network").replace_strict(rank, return_dtype=pl.Int32),
            pair=pl.concat_str(
                [json_string_expr(pl.col("network")), pl.lit(":"), json_string_expr(cut)]
            ),
        )
        .sort(_I, "__rank")
        .group_by(_I, maintain_order=True)
        .agg(pl.col("pair").str.join(","))
        .select(_I, pl.concat_str([pl.lit("{"), pl.col("pair"), pl.lit("}")]).alias("__obj"))
    )
    col = work.join(objects, on=_I, how="left", maintain_order="left")["__obj"]
    return col.alias("social_profiles"), pl.concat([unknown, long_issue])
