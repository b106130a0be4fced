"""Merging (dedupe): one row per contact, the merged-away rows, possible duplicates.

`contacts_merged(frame, file_order, rules)` takes the validated rows of every
input (the columns of the validate stage plus `email_input`, the raw email
cell before pre-cleaning) and merges the rows that share `email_key`, across
files and within each. Everything is polars (sorts, group_by/agg, joins, list
and string expressions); there is no per-row Python.

How it stays fast (issue 6: merging 1M rows takes no longer than their ingest):
the contacts with one record (most of a list) pass through untouched; only the
records of the others are aggregated, grouped by their kept row's position (an
integer) and sorted once by recency. Custom-field objects are merged key by key
only for contacts whose records carry different objects; flat compact objects
whose strings hold no comma are cut at their commas, the rest tokenized. That
merge runs in a second thread beside the other fields, duplicates.csv and the
possible duplicates (polars releases the GIL). tests/merge_reference.py keeps the
straightforward implementation this replaced; a property test checks both agree.

Order of records
----------------
* **Input order** (which row represents the contact): the file's position on
  the command line (`file_order`), then `source_row`. The **kept row** is the
  contact's first occurrence in input order: its `source_file`/`source_row`
  stay on the contact and every other row is a duplicate of it. The first
  occurrence does not move when later files or rows are added, so duplicates.csv
  stays stable from run to run.
* **Recency** ("most recent", contract): by `last_changed`, else `created_at`,
  else the later file on the command line, else the later row. Precisely,
  records are sorted by the tuple (last_changed, created_at, file position,
  source_row) with a missing time lowest: a record with a `last_changed` is
  more recent than one without.

Field rules (defaults; rules/merge.toml)
----------------------------------------
* `status`: the first status of `[status] precedence` (default complained >
  bounced > unsubscribed > active) among the records. `status_reason` and
  `status_changed_at` come from the records that have the winning status: the
  most recent non-empty value among them. `active` must be last, so a
  suppressed contact is never made active by a later record.
* `created_at`: the earliest; `last_changed`: the latest.
* `tags`: the union, de-duplicated ignoring case; the first spelling and the
  first-seen order (input order, then the order inside the row) stay.
  The union is not cut to the field limit (50 tags) here.
* `custom_fields`: merged key by key: for each key the most recent record with
  a non-null value gives it; keys in first-seen order. A JSON null is no
  value. The merged object is not cut to the field limits here.
* `phone` and `phone_valid` travel together (from the record giving the phone).
* identity and deliverability columns: `email`, `email_key`, `source_file`,
  `source_row` and the flags/verdict columns (`role_account`, `disposable`,
  `free_provider`, `did_you_mean`, `dns_status`, `verdict`, `verdict_reason`)
  are the kept row's. The deliverability stage runs per input today; its
  verdict (reason `suppressed` included) must be recomputed on the merged
  contacts, since the merged status can differ from the kept row's.
* every other field (`first_name, last_name, company, job_title, source,
  external_id, social_profiles`, and any extra column): the most recent
  non-empty value (null or blank text never overwrites a value).
  `social_profiles` is taken whole, not key by key.

duplicates (duplicates.csv)
---------------------------
One row per merged-away row: `email_key, kept_source_file, kept_row,
source_file, row, match, conflicts`. `match` compares the raw cells `a` (kept
row) and `b` (this row); the first that holds wins, so when several
differences combine the label names the most invasive one
(pre-cleaned > whitespace > case > exact):

* `exact`: `a == b`;
* `case`: equal after lower-casing;
* `whitespace`: equal after lower-casing and the whitespace steps of
  pre-cleaning (zero-width characters removed anywhere; whitespace and NBSP
  trimmed from both ends);
* `pre-cleaned`: anything else with the same `email_key`: the other
  pre-cleaning (display name, angle brackets, `mailto:`, trailing `.`, `,`,
  `;`), or a difference email-validator's normalization removes (Unicode NFC,
  an internationalized domain);
* `possible`: (only with `merge_possible = true`) a different `email_key` with
  the same canonical key.

`conflicts` lists, `;`-joined in column order, the fields whose values are
both non-null and differ between the two rows (tags compared as sets ignoring
case), among CONFLICT_FIELDS; empty when none.

possible_duplicates
-------------------
Contacts (after merging) whose distinct `email_key`s map to one canonical key
under the `[[provider]]` rules: Gmail ignores dots and `googlemail.com` is
`gmail.com`, and the listed providers drop a `+tag`. One row per contact:
`group_id` (1, 2, ... by the group's first contact in input order),
`canonical_key, email_key, source_file, row` (the contact's kept row), in
group order then input order. With `merge_possible = true` these contacts are
merged instead (canonical key as the merge key, match `possible`) and the frame
is empty.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from .deliverability import OUTPUT_COLUMNS as DELIVERABILITY_COLUMNS
from .emails import NBSP, WHITESPACE, ZERO_WIDTH
from .fields import _I, _json_decode_string, _members
from .presets import CANONICAL
from .rulefile import load_rules_file

MERGE_FILE = "merge.toml"
STATUSES = ("complained", "bounced", "unsubscribed", "active")

# Columns taken from the kept row (identity and the per-input deliverability stage).
KEPT_COLUMNS = ("source_file", "source_row", "email", "email_key", *DELIVERABILITY_COLUMNS)
# Fields compared for duplicates.csv `conflicts`, in this order: every canonical field but
# the email itself (which matched).
CONFLICT_FIELDS = tuple(c for c in CANONICAL if c != "email")
DUPLICATES_SCHEMA = {
    "email_key": pl.String,
    "kept_source_file": pl.String,
    "kept_row": pl.Int64,
    "source_file": pl.String,
    "row": pl.Int64,
    "match": pl.String,
    "conflicts": pl.String,
}
POSSIBLE_SCHEMA = {
    "group_id": pl.Int64,
    "canonical_key": pl.String,
    "email_key": pl.String,
    "source_file": pl.String,
    "row": pl.Int64,
}

# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Provider:
    """A `[[provider]]`: how its addresses reduce to a canonical key."""

    name: str
    domains: tuple[str, ...]
    canonical_domain: str | None = None
    ignore_dots: bool = False
    subaddress_separator: str = ""


DEFAULT_PROVIDERS = (
    Provider("gmail", ("gmail.com", "googlemail.com"), "gmail.com", True, "+"),
    Provider("microsoft", ("outlook.com", "hotmail.com", "live.com", "msn.com"), None, False, "+"),
    Provider("apple", ("icloud.com", "me.com", "mac.com"), None, False, "+"),
    Provider("fastmail", ("fastmail.com", "fastmail.fm"), None, False, "+"),
    Provider("proton", ("proton.me", "protonmail.com", "pm.me"), None, False, "+"),
)


@dataclass(frozen=True)
class MergeRules:
    """rules/merge.toml (the defaults are the shipped file's)."""

    status_precedence: tuple[str, ...] = STATUSES
    merge_possible: bool = False
    providers: tuple[Provider, ...] = field(default=DEFAULT_PROVIDERS)


_DOMAIN_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")


def _unknown(data: dict[str, Any], known: tuple[str, ...], where: str, problems: list[str]):
    for key in sorted(set(data) - set(known)):
        problems.append(
            f"{where}: unknown key `{key}`; the keys are {', '.join(known)}."
            if known
            else f"{where}: unknown key `{key}`."
        )


def _domains(v: Any, where: str, key: str, problems: list[str]) -> tuple[str, ...]:
    if (
        not isinstance(v, list)
        or not v
        or not all(isinstance(x, str) and _DOMAIN_RE.match(x) for x in v)
    ):
        problems.append(
            f"{where}: `{key}` must be a non-empty list of lower-case domains "
            f'such as "gmail.com", not {v!r}.'
        )
        return ()
    dupes = sorted({x for x in v if v.count(x) > 1})
    if dupes:
        problems.append(f"{where}: `{key}` lists {', '.join(dupes)} more than once; keep one.")
    return tuple(dict.fromkeys(v))


def _parse_provider(
    i: int, data: Any, where: str, problems: list[str], seen: dict[str, str]
) -> Provider | None:
    at = f"{where} [[provider]] #{i + 1}"
    if not isinstance(data, dict):
        problems.append(f"{at}: must be a table with `name` and `domains`, not {data!r}.")
        return None
    keys = ("name", "domains", "canonical_domain", "ignore_dots", "subaddress_separator")
    _unknown(data, keys, at, problems)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        problems.append(f"{at}: `name` must be a non-empty string, not {name!r}.")
        name = f"#{i + 1}"
    else:
        at = f"{where} [[provider]] {name!r}"
    domains = _domains(data.get("domains"), at, "domains", problems)
    for d in domains:
        if d in seen:
            problems.append(f"{at}: domain {d} is already in provider {seen[d]!r}; list it once.")
        seen[d] = name
    canonical = data.get("canonical_domain")
    if canonical is not None and (not isinstance(canonical, str) or canonical not in domains):
        problems.append(
            f"{at}: `canonical_domain` must be one of its `domains`, not {canonical!r}."
        )
        canonical = None
    dots = data.get("ignore_dots", False)
    if not isinstance(dots, bool):
        problems.append(f"{at}: `ignore_dots` must be true or false, not {dots!r}.")
        dots = False
    sep = data.get("subaddress_separator", "")
    if not isinstance(sep, str) or len(sep) > 1 or (sep and (sep.isalnum() or sep in '."@')):
        problems.append(
            f"{at}: `subaddress_separator` must be one character such as "
            f'"+" or "-" (not a letter, digit, ".", \'"\' or "@"), or "", not {sep!r}.'
        )
        sep = ""
    return Provider(name, domains, canonical, dots, sep)


def parse_merge_rules(doc: dict[str, Any], where: str, problems: list[str]) -> MergeRules:
    """Validate rules/merge.toml; append every problem to `problems` (never raises).

    A missing table or key takes the default (the shipped file's value)."""
    tables = ("status", "possible", "provider")
    for key in sorted(set(doc) - set(tables)):
        problems.append(
            f"{where}: unknown table [{key}]; the tables are [status], [possible] and [[provider]]."
        )
    precedence = STATUSES
    status = doc.get("status", {})
    if not isinstance(status, dict):
        problems.append(f"{where}: `status` must be a table [status], not {status!r}.")
        status = {}
    _unknown(status, ("precedence",), f"{where} [status]", problems)
    if "precedence" in status:
        v = status["precedence"]
        if not isinstance(v, list) or sorted(v, key=str) != sorted(STATUSES):
            problems.append(
                f"{where} [status]: `precedence` must list each of "
                f"{', '.join(STATUSES)} once, not {v!r}."
            )
        elif v[-1] != "active":
            problems.append(
                f"{where} [status]: `precedence` must end with active: a suppressed "
                f"status is never undone by an active record, not {v!r}."
            )
        else:
            precedence = tuple(v)
    possible = doc.get("possible", {})
    if not isinstance(possible, dict):
        problems.append(f"{where}: `possible` must be a table [possible], not {possible!r}.")
        possible = {}
    _unknown(possible, ("merge_possible",), f"{where} [possible]", problems)
    merge_possible = possible.get("merge_possible", False)
    if not isinstance(merge_possible, bool):
        problems.append(
            f"{where} [possible]: `merge_possible` must be true or false, not {merge_possible!r}."
        )
        merge_possible = False
    providers = DEFAULT_PROVIDERS
    if "provider" in doc:
        raw = doc["provider"]
        if not isinstance(raw, list):
            problems.append(f"{where}: `provider` must be [[provider]] tables, not {raw!r}.")
        else:
            seen: dict[str, str] = {}
            parsed = [_parse_provider(i, p, where, problems, seen) for i, p in enumerate(raw)]
            providers = tuple(p for p in parsed if p is not None)
    return MergeRules(precedence, merge_possible, providers)


def load_merge_rules(path: Path | None = None) -> MergeRules:
    """Parse a merge.toml (default: the shipped rules/merge.toml); RulesError lists problems."""
    return load_rules_file(parse_merge_rules, MERGE_FILE, path)


# --------------------------------------------------------------------------- merging


@dataclass(frozen=True)
class Merged:
    contacts: pl.DataFrame
    duplicates: pl.DataFrame
    possible_duplicates: pl.DataFrame
    input_rows: int
    duplicates_merged: int

    @property
    def unique_contacts(self) -> int:
        return self.contacts.height

    @property
    def counts(self) -> dict[str, int]:
        """`input_rows = duplicates_merged + unique_contacts`, plus the possible groups."""
        groups = self.possible_duplicates.get_column("group_id").n_unique()
        return {
            "input_rows": self.input_rows,
            "duplicates_merged": self.duplicates_merged,
            "unique_contacts": self.unique_contacts,
            "possible_duplicate_groups": groups,
        }


_POS, _KP, _KEY, _SRANK, _FILE = "__pos", "__kp", "__key", "__srank", "__file"
_ROW = "__row"  # the row's index in the frame as given (the last recency tie-break)

# JSON tokens as fields._TOKEN reads them. A flat compact object has only string or
# scalar values and no whitespace: `{"a":"x","b":1}`.
_JSON_STRING = r'"(?:[^"\\]|\\.)*"'
_JSON_SCALAR = r'[^\s{}\[\]:,"]+'
_FLAT_MEMBER = f"{_JSON_STRING}:(?:{_JSON_STRING}|{_JSON_SCALAR})"
_FLAT_OBJECT = f"^\\{{(?:{_FLAT_MEMBER}(?:,{_FLAT_MEMBER})*)?\\}}$"
_FLAT_TOKEN = f"{_JSON_STRING}|{_JSON_SCALAR}"
# A simple object: flat and compact, its strings hold no `,`, `"`, backslash or control
# character and its keys are printable ASCII, so its members are the pieces between
# commas and a key's text is the JSON-decoded name itself: `{"plan":"pro","n":1}`.
_SIMPLE_STRING = r'"[^"\\,\x00-\x1f]*"'
_SIMPLE_KEY = r'"[\x20-\x7e&&[^"\\,]]*"'
_SIMPLE_MEMBER = f"{_SIMPLE_KEY}:(?:{_SIMPLE_STRING}|{_JSON_SCALAR})"
_SIMPLE_OBJECT = f"^\\{{(?:{_SIMPLE_MEMBER}(?:,{_SIMPLE_MEMBER})*)?\\}}$"


def _provider_rows(email_key: pl.Series, providers: tuple[Provider, ...]) -> pl.DataFrame:
    """`__r` (the row in `email_key`) and `v` (its canonical key) for the addresses at
    a domain of `providers`, the only ones whose canonical key can differ."""
    by_domain = {d: p for p in providers for d in p.domains}
    empty = pl.DataFrame(schema={"__r": pl.UInt32, "v": pl.String})
    if not by_domain or email_key.is_empty():
        return empty
    k = pl.col("k")
    # The domain is what follows the last `@`: a key ends with `@domain` exactly when
    # the text after its last `@` is `domain`.
    at_provider = k.str.contains("@(?:" + "|".join(map(re.escape, by_domain)) + ")$")
    work = (
        email_key.to_frame("k")
        .with_row_index("__r")
        .filter(at_provider.fill_null(False))
        .with_columns(k.str.split("@").list.last().alias("d"))
    )
    if work.is_empty():
        return empty
    d = pl.col("d")
    local = k.str.slice(0, k.str.len_chars() - d.str.len_chars() - 1)
    sep = d.replace_strict({x: p.subaddress_separator for x, p in by_domain.items()})
    dots = d.replace_strict({x: p.ignore_dots for x, p in by_domain.items()})
    dom = d.replace_strict({x: p.canonical_domain or x for x, p in by_domain.items()})
    new = local
    for s in sorted({p.subaddress_separator for p in providers} - {""}):
        head = local.str.split_exact(s, 1).struct.field("field_0")
        cut = (sep == s) & local.str.contains(s, literal=True) & (head != "")
        new = pl.when(cut).then(head).otherwise(new)
    stripped = new.str.replace_all(".", "", literal=True)
    new = pl.when(dots & (stripped != "")).then(stripped).otherwise(new)
    key = (
        pl.when(local.str.starts_with('"')).then(k).otherwise(pl.concat_str(new, pl.lit("@"), dom))
    )
    return work.select("__r", key.alias("v"))


def canonical_keys(email_key: pl.Series, providers: tuple[Provider, ...]) -> pl.Series:
    """The provider-canonical form of each `email_key`: Gmail dots dropped, `googlemail.com`
    as `gmail.com`, a `+tag` dropped, per `providers`; other addresses (and quoted local
    parts) unchanged. Only the addresses at a listed domain are worked on."""
    out = email_key.alias("canonical_key")
    done = _provider_rows(email_key, providers)
    if done.is_empty():
        return out
    return out.scatter(done["__r"], done["v"])


def _blank_to_null(frame: pl.DataFrame, columns: list[str]) -> list[pl.Expr]:
    out = []
    for c in columns:
        if frame.schema[c] == pl.String:
            out.append(pl.when(pl.col(c).str.strip_chars() != "").then(pl.col(c)).alias(c))
    return out


def _ws_cleaned(e: pl.Expr) -> pl.Expr:
    return (
        e.str.replace_all(f"[{ZERO_WIDTH}]", "")
        .str.strip_chars(WHITESPACE + NBSP)
        .str.to_lowercase()
    )


def _in_input_order(df: pl.DataFrame) -> bool:
    """Whether the rows already are in input order: file position, then `source_row`."""
    if df.height < 2 or df.get_column("source_row").null_count():
        return df.height < 2
    f, r = pl.col(_FILE), pl.col("source_row")
    ordered = (f.diff() > 0) | ((f.diff() == 0) & (r.diff() >= 0))
    return bool(df.select(ordered.fill_null(True).all()).item())


def _merge_tags(multi: pl.DataFrame) -> pl.DataFrame:
    """__kp -> tags: the union, first spelling and first-seen order."""
    return (
        multi.lazy()
        .select(_KP, _POS, "tags")
        .drop_nulls("tags")
        .with_columns(pl.int_ranges(pl.col("tags").list.len()).alias("__t"))
        .explode("tags", "__t")
        .drop_nulls("tags")
        .sort(_POS, "__t")
        .with_columns(pl.col("tags").str.to_lowercase().alias("__low"))
        .unique([_KP, "__low"], keep="first", maintain_order=True)
        .group_by(_KP)
        .agg(pl.col("tags"))
        .collect()
    )


def _object_members(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """`fields._members(frame, column)`, row for row (`__i`, `m`, `key`, `text`, `value`),
    ordered by `__i` then `m` (`frame`'s `__i` ascending).

    Flat compact objects, the custom fields every preset writes (`{"a":"x","b":1}`:
    string or scalar values, no whitespace), are split by one regex pass: their
    string and scalar tokens alternate key, value, key, value. Anything else (nested
    values, whitespace, broken JSON) goes through the generic tokenizer."""
    s = pl.col(column)
    flat = frame.select(s.str.contains(_FLAT_OBJECT).fill_null(False)).to_series()
    tokens = pl.col("__tok")
    out = (
        frame.filter(flat)
        .lazy()
        .select(_I, s.str.extract_all(_FLAT_TOKEN).alias("__tok"))
        .select(
            _I,
            pl.int_ranges(tokens.list.len() // 2, dtype=pl.Int32).alias("m"),
            tokens.list.gather_every(2).alias("key"),
            tokens.list.gather_every(2, 1).alias("value"),
        )
        .explode("m", "key", "value")
        .drop_nulls("m")  # `{}`: no members
        .select(_I, "m", "key", pl.concat_str("key", pl.lit(":"), "value").alias("text"), "value")
        .collect()
    )
    if flat.all():
        return out
    other = _members(frame.filter(~flat).select(_I, column), column)
    return pl.concat([out, other.cast(out.schema)]).sort(_I, "m")


def _named_members(frame: pl.DataFrame) -> pl.DataFrame:
    """The members of the objects in `frame["custom_fields"]` that have a value (a JSON
    null is none): `__i`, `m`, `name` (`"` and the JSON-decoded key, one string per
    name; null when the key cannot be decoded) and `text` (the member as written),
    ordered by `__i` then `m`.

    Simple objects are cut at their commas; the rest go through `_object_members`."""
    s = pl.col("custom_fields")
    simple = frame.select(s.str.contains(_SIMPLE_OBJECT).fill_null(False)).to_series()
    text = pl.col("text")
    # `"name":value`: the first `":` closes the key (keys hold no `"`), and the key is
    # ASCII, so its byte offset is its character offset
    name = text.str.head(text.str.find('":', literal=True))
    out = (
        frame.filter(simple)
        .lazy()
        .select(_I, s.str.strip_prefix("{").str.strip_suffix("}").str.split(",").alias("text"))
        .with_columns(pl.int_ranges(text.list.len(), dtype=pl.Int32).alias("m"))
        .explode("text", "m")
        .filter((text != "") & ~text.str.ends_with('":null'))  # `{}`; a null value
        .select(_I, "m", name.alias("name"), "text")
        .collect()
    )
    if simple.all():
        return out
    other = _object_members(frame.filter(~simple), "custom_fields").filter(
        pl.col("value") != "null"
    )
    tokens = other.select(pl.col("key").unique())  # decoded once per distinct token
    decoded = pl.lit('"') + _json_decode_string(pl.col("key"))
    names = tokens.select("key", decoded.alias("name"))
    other = other.join(names, on="key", how="left", nulls_equal=True, maintain_order="left").select(
        _I, "m", "name", "text"
    )
    out = pl.concat([out, other.cast(out.schema)])
    width = int(out.get_column("m").max() or 0) + 1
    return out.sort(pl.col(_I) * width + pl.col("m"))  # one integer key sorts fastest


def _merge_custom(ordered: pl.DataFrame) -> pl.DataFrame:
    """__kp -> custom_fields for the contacts whose records carry different objects.

    `ordered` holds the records of each contact least recent first. Each (contact, key
    name) takes the member text of its most recent record with a non-null value; the
    keys are listed in first-seen order (input order, then the order inside the
    object). A key name that cannot be decoded counts as one name."""
    cf = pl.col("custom_fields")
    need = ordered.filter(cf.is_not_null() & (cf.drop_nulls().n_unique().over(_KP) > 1))
    if need.is_empty():
        return pl.DataFrame(schema={_KP: pl.Int64, "custom_fields": pl.String})
    rows = need.select(_KP, _POS, cf)
    members = _named_members(rows.select(pl.int_range(pl.len(), dtype=pl.Int64).alias(_I), cf))
    width = int(members.get_column("m").max() or 0) + 1
    index = members.get_column(_I)
    # (contact, name) as one integer where it fits: names as dense ids (null is one id)
    names = members.select(pl.col("name").unique()).with_row_index("__n")
    members = members.join(
        names, on="name", how="left", nulls_equal=True, maintain_order="left"
    ).with_columns(
        rows.get_column(_KP).gather(index).alias(_KP),
        (rows.get_column(_POS).gather(index) * width + pl.col("m")).alias("__pm"),
    )
    if (int(rows.get_column(_KP).max() or 0) + 1) * (names.height + 1) < 2**62:
        gk = [(pl.col(_KP) * names.height + pl.col("__n").cast(pl.Int64)).alias("__gk")]
    else:
        gk = [_KP, "__n"]
    # Per (contact, name): the text of the most recent member (group_by keeps the row
    # order inside each group) and where the name was first seen.
    named = members.group_by(gk).agg(
        pl.col(_KP).first(), pl.col("text").last(), pl.col("__pm").min()
    )
    # Then each contact's names in first-seen order: sorted by (__kp, __pm), as one integer
    # when it fits, so the last group_by runs over contiguous, flagged-sorted groups.
    span = int(named.get_column("__pm").max() or 0) + 1
    if (int(named.get_column(_KP).max() or 0) + 1) * span < 2**62:
        named = named.sort(pl.col(_KP) * span + pl.col("__pm"))
    else:
        named = named.sort(_KP, "__pm")
    merged = (
        named.with_columns(pl.col(_KP).set_sorted())
        .group_by(_KP)
        .agg(pl.col("text"))
        .select(
            _KP,
            pl.concat_str(pl.lit("{"), pl.col("text").list.join(","), pl.lit("}")).alias(
                "custom_fields"
            ),
        )
    )
    # A contact whose records' objects had only null values has no custom fields at all.
    keys = rows.select(pl.col(_KP).unique(maintain_order=True))
    return keys.join(merged, on=_KP, how="left", maintain_order="left")


def _recency_ordered(multi: pl.DataFrame) -> pl.DataFrame:
    """`multi` by contact (`__kp`), least recent record first inside each: by
    (last_changed, created_at, file position, source_row, frame row), a missing time
    first (least recent). group_by keeps this order inside each group."""
    return multi.sort(_KP, "last_changed", "created_at", _FILE, "source_row", _ROW)


def _merge_groups(multi: pl.DataFrame, ordered: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """One row per contact of `multi` (the records, in input order, of the contacts with
    2+ records, `__kp` the kept row's position; `ordered` the same records by
    `_recency_ordered`), `__kp` and the columns as input, in input order.
    `custom_fields` is the most recent object here; `_with_custom` merges them key by key."""
    srank = pl.col(_SRANK)
    win = srank == srank.min().over(_KP)  # the records holding the winning status
    ordered = ordered.with_columns(
        pl.when(win).then(pl.col("status_reason")).alias("__reason"),
        pl.when(win).then(pl.col("status_changed_at")).alias("__changed"),
        pl.when(pl.col("phone").is_not_null())
        .then(pl.struct("phone", "phone_valid"))
        .alias("__ph"),
    )
    special = {"status", "status_reason", "status_changed_at", "created_at", "last_changed"}
    special |= {"phone", "phone_valid", "tags", "custom_fields", *KEPT_COLUMNS}
    aggs: list[pl.Expr] = [
        # a null status sorts first, as a missing rank would
        pl.col("status").get(srank.fill_null(-1).arg_min()),
        pl.col("__reason").last(ignore_nulls=True).alias("status_reason"),
        pl.col("__changed").last(ignore_nulls=True).alias("status_changed_at"),
        pl.col("created_at").min(),
        pl.col("last_changed").max(),
        pl.col("__ph").last(ignore_nulls=True),
        pl.col("custom_fields").last(ignore_nulls=True),
    ]
    aggs += [pl.col(c).last(ignore_nulls=True) for c in columns if c not in special]
    # group_by keeps the groups in order of appearance: __kp ascending, input order
    merged = ordered.group_by(_KP, maintain_order=True).agg(aggs)
    kept = multi.filter(pl.col(_POS) == pl.col(_KP)).select(
        *[c for c in KEPT_COLUMNS if c in multi.columns]
    )  # input order too: one row per contact, aligned with `merged`
    return (
        merged.with_columns(
            pl.col("__ph").struct.field("phone"), pl.col("__ph").struct.field("phone_valid")
        )
        .drop("__ph")
        .hstack(kept)
        .join(_merge_tags(multi), on=_KP, how="left", maintain_order="left")
        .select(_KP, *columns)
    )


def _scattered(s: pl.Series, where: pl.Series, values: pl.Series) -> pl.Series:
    """`s` with `values` at the rows `where` (ascending, unique)."""
    if not s.dtype.is_nested():
        return s.scatter(where, values)
    # polars scatters no nested type: gather each row's value, null for the rows kept
    index = pl.repeat(None, len(s), dtype=pl.Int64, eager=True).scatter(
        where, pl.int_range(len(values), dtype=pl.Int64, eager=True)
    )
    return pl.select(
        pl.when(index.is_not_null()).then(values.gather(index)).otherwise(s).alias(s.name)
    ).to_series()


def _assembled(
    df: pl.DataFrame, dup: pl.Series, merged: pl.DataFrame, columns: list[str]
) -> tuple[pl.DataFrame, pl.Series]:
    """The contacts in input order, and the row of each of `merged`'s in them.

    `df` is every record in input order (its position is its row), `dup` marks the
    records of the contacts with 2+ records, `merged` (`_merge_groups`) has one row
    per such contact, `__kp` ascending. The contacts are the records that are not in
    `dup` plus the kept rows, taken by one filter; the merged contacts' fields then
    replace the kept rows' (the kept row's own columns, KEPT_COLUMNS, stay)."""
    kp = merged.get_column(_KP)
    keep = (~dup).scatter(kp, True)
    contacts = df.filter(keep).select(columns)
    where = (keep.cum_sum().gather(kp) - 1).cast(pl.Int64)  # kept rows are in __kp order
    changed = [c for c in columns if c not in KEPT_COLUMNS]
    contacts = contacts.with_columns(
        _scattered(contacts.get_column(c), where, merged.get_column(c)) for c in changed
    )
    return contacts, where


def _with_custom(
    contacts: pl.DataFrame, where: pl.Series, kp: pl.Series, custom: pl.DataFrame
) -> pl.DataFrame:
    """`contacts` with the key-by-key custom fields of `_merge_custom` where it has them
    (`where` the contacts' rows of the merged contacts `kp`)."""
    at = pl.DataFrame({"__at": where, _KP: kp}).join(
        custom, on=_KP, how="inner", maintain_order="left"
    )
    if at.is_empty():
        return contacts
    merged = contacts.get_column("custom_fields").scatter(
        at.get_column("__at"), at.get_column("custom_fields")
    )
    return contacts.with_columns(merged)


def _duplicates(multi: pl.DataFrame, raw_col: str) -> pl.DataFrame:
    """duplicates.csv: `multi` in input order, so the merged-away rows are too."""
    kept_pos = pl.col(_POS) == pl.col(_KP)
    fields = [c for c in CONFLICT_FIELDS if c in multi.columns]
    base = multi.select(_KP, _POS, "email_key", "source_file", "source_row", raw_col, *fields)
    kept = base.filter(kept_pos).rename({c: f"{c}__k" for c in base.columns if c != _KP})
    away = base.filter(~kept_pos).join(kept, on=_KP, how="left", maintain_order="left")

    def different(c: str) -> pl.Expr:
        a, b = pl.col(c), pl.col(f"{c}__k")
        if c == "tags":  # as sets, ignoring case
            low = pl.element().str.to_lowercase()
            return a.list.eval(low).list.set_symmetric_difference(b.list.eval(low)).list.len() > 0
        return a != b

    differs = [
        pl.when(pl.col(c).is_not_null() & pl.col(f"{c}__k").is_not_null() & different(c)).then(
            pl.lit(c)
        )
        for c in fields
    ]
    a, b = pl.col(f"{raw_col}__k"), pl.col(raw_col)
    match = (
        pl.when(pl.col("email_key") != pl.col("email_key__k"))
        .then(pl.lit("possible"))
        .when(a.eq_missing(b))
        .then(pl.lit("exact"))
        .when(a.str.to_lowercase() == b.str.to_lowercase())
        .then(pl.lit("case"))
        .when(_ws_cleaned(a) == _ws_cleaned(b))
        .then(pl.lit("whitespace"))
        .otherwise(pl.lit("pre-cleaned"))
    )
    return away.select(
        pl.col("email_key"),
        pl.col("source_file__k").alias("kept_source_file"),
        pl.col("source_row__k").cast(pl.Int64).alias("kept_row"),
        pl.col("source_file"),
        pl.col("source_row").cast(pl.Int64).alias("row"),
        match.alias("match"),
        (pl.concat_str(differs, separator=";", ignore_nulls=True) if differs else pl.lit(""))
        .fill_null("")
        .alias("conflicts"),
    ).cast(DUPLICATES_SCHEMA)


def _possible(df: pl.DataFrame, rules: MergeRules) -> pl.DataFrame:
    """Possible duplicates among the contacts, from `df` (every record, in input order,
    position `__pos`): a contact is its key's first record. Only addresses at a
    provider's domain can share a canonical key with another address (a canonical key is
    always at such a domain), so only those records are looked at."""
    work = _provider_rows(df.get_column("email_key"), rules.providers)
    if work.is_empty():
        return pl.DataFrame(schema=POSSIBLE_SCHEMA)
    rows = (
        df.select(
            _POS, "email_key", "source_file", pl.col("source_row").cast(pl.Int64).alias("row")
        )[work.get_column("__r")]
        .with_columns(work.get_column("v").alias("canonical_key"))
        .filter(pl.col("email_key").is_first_distinct())
    )
    grouped = rows.filter(pl.col("canonical_key").is_duplicated())
    if grouped.is_empty():
        return pl.DataFrame(schema=POSSIBLE_SCHEMA)
    return (
        grouped.with_columns(pl.col(_POS).min().over("canonical_key").alias("__g"))
        .with_columns(pl.col("__g").rank("dense").cast(pl.Int64).alias("group_id"))
        .sort("group_id", _POS)
        .select(*POSSIBLE_SCHEMA)
        .cast(POSSIBLE_SCHEMA)
    )


def contacts_merged(frame: pl.DataFrame, file_order: dict[str, int], rules: MergeRules) -> Merged:
    """Merge the rows of `frame` that share `email_key` (see the module docstring).

    `frame` has the validated columns (`source_file`, `source_row`, `email_key`,
    `status`, ... ) and optionally `email_input`, the raw email cell, used only for
    the duplicates' `match` (without it `email` is compared). `file_order` maps each
    `source_file` to its position on the command line. The contacts have the
    input's columns without `email_input`, in input order of their kept rows.

    Only the records of contacts with 2+ records (a tenth or so of a typical list)
    are aggregated; the others pass through as they are."""
    raw_col = "email_input" if "email_input" in frame.columns else "email"
    columns = [c for c in frame.columns if c != "email_input"]
    unknown = set(frame.get_column("source_file").unique().drop_nulls()) - set(file_order)
    if unknown or frame.get_column("source_file").null_count():
        raise ValueError(f"contacts_merged: files missing from file_order: {sorted(unknown)}")
    rank = {s: i for i, s in enumerate(rules.status_precedence)}
    df = frame.with_columns(
        pl.col("source_file").replace_strict(file_order, return_dtype=pl.Int64).alias(_FILE),
        pl.int_range(pl.len(), dtype=pl.Int64).alias(_ROW),
    )
    if not _in_input_order(df):
        df = df.sort(_FILE, "source_row", _ROW)
    df = df.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias(_POS))
    key = pl.col("email_key")
    if rules.merge_possible:
        key = pl.lit(canonical_keys(df["email_key"], rules.providers))
    if rules.merge_possible or df.get_column("email_key").null_count():
        # a row without a key is its own contact
        key = pl.coalesce(key, pl.format("\x00{}", pl.col(_ROW)))
    df = df.with_columns(key.alias(_KEY))
    dup = df.select(pl.len().over(_KEY) > 1).to_series()
    multi = df.filter(dup)
    no_possible = pl.DataFrame(schema=POSSIBLE_SCHEMA)
    if multi.is_empty():
        contacts = df.select(columns)
        duplicates = pl.DataFrame(schema=DUPLICATES_SCHEMA)
        possible = no_possible if rules.merge_possible else _possible(df, rules)
    else:
        # blank text is no value: it neither wins a field nor conflicts (singles stay as given)
        blanks = _blank_to_null(multi, [c for c in columns if c not in KEPT_COLUMNS])
        multi = multi.with_columns(
            *blanks,
            pl.col(_POS).min().over(_KEY).alias(_KP),  # the kept row: first in input order
            pl.col("status")
            .replace_strict(rank, default=len(rank), return_dtype=pl.Int32)
            .alias(_SRANK),
        )
        ordered = _recency_ordered(multi)
        # The custom fields, the heaviest part, are merged in a second thread beside the
        # rest (polars releases the GIL, so both cores work) and set in last.
        with ThreadPoolExecutor(1, thread_name_prefix="listhygiene-merge") as pool:
            custom = pool.submit(_merge_custom, ordered)
            merged = _merge_groups(multi, ordered, columns)
            duplicates = _duplicates(multi, raw_col)
            possible = no_possible if rules.merge_possible else _possible(df, rules)
            contacts, where = _assembled(df, dup, merged, columns)
            contacts = _with_custom(contacts, where, merged.get_column(_KP), custom.result())
    return Merged(
        contacts=contacts,
        duplicates=duplicates,
        possible_duplicates=possible,
        input_rows=frame.height,
        duplicates_merged=frame.height - contacts.height,
    )
