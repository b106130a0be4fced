"""The merge as it was before the speed work of issue 6 item 8 (commit ec0d099), frozen.

tests/test_merge.py checks on random frames that `listhygiene.merge.contacts_merged`
gives exactly what this gives: contacts, duplicates and possible duplicates, row for
row and value for value. Only the merging is here (the rules parsing did not change);
it is test code, never imported by the package.
"""

from __future__ import annotations

import polars as pl

from listhygiene.emails import NBSP, WHITESPACE, ZERO_WIDTH
from listhygiene.fields import _I, _json_decode_string, _members
from listhygiene.merge import (
    CONFLICT_FIELDS,
    DUPLICATES_SCHEMA,
    KEPT_COLUMNS,
    POSSIBLE_SCHEMA,
    Merged,
    MergeRules,
    Provider,
)

_POS, _REC, _KEY, _SRANK, _FILE = "__pos", "__rec", "__key", "__srank", "__file"

# JSON tokens as fields._TOKEN reads them. A flat compact object has only string or
# scalar values and no whitespace: `{"a":"x","b":1}`.
_JSON_STRING = r'"(?:[^"\\]|\\.)*"'
_JSON_SCALAR = r'[^\s{}\[\]:,"]+'
_FLAT_MEMBER = f"{_JSON_STRING}:(?:{_JSON_STRING}|{_JSON_SCALAR})"
_FLAT_OBJECT = f"^\\{{(?:{_FLAT_MEMBER}(?:,{_FLAT_MEMBER})*)?\\}}$"
_FLAT_TOKEN = f"{_JSON_STRING}|{_JSON_SCALAR}"


def canonical_keys(email_key: pl.Series, providers: tuple[Provider, ...]) -> pl.Series:
    """The provider-canonical form of each `email_key`: Gmail dots dropped, `googlemail.com`
    as `gmail.com`, a `+tag` dropped, per `providers`; other addresses (and quoted local
    parts) unchanged. Only the addresses at a listed domain are worked on."""
    out = email_key.alias("canonical_key")
    by_domain = {d: p for p in providers for d in p.domains}
    if not by_domain or email_key.is_empty():
        return out
    k = pl.col("k")
    work = (
        email_key.to_frame("k")
        .with_row_index("__r")
        .with_columns(k.str.split("@").list.last().alias("d"))
        .filter(pl.col("d").is_in(list(by_domain)) & k.str.contains("@", literal=True))
    )
    if work.is_empty():
        return out
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
    done = work.select("__r", key.alias("v"))
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


def _merge_tags(multi: pl.DataFrame) -> pl.DataFrame:
    """__key -> tags: the union, first spelling and first-seen order."""
    return (
        multi.lazy()
        .select(_KEY, _POS, "tags")
        .drop_nulls("tags")
        .with_columns(pl.int_ranges(pl.col("tags").list.len()).alias("__t"))
        .explode("tags", "__t")
        .drop_nulls("tags")
        .sort(_KEY, _POS, "__t")
        .with_columns(pl.col("tags").str.to_lowercase().alias("__low"))
        .unique([_KEY, "__low"], keep="first", maintain_order=True)
        .group_by(_KEY, maintain_order=True)
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


def _merge_custom(multi: pl.DataFrame) -> pl.DataFrame:
    """__key -> custom_fields for the contacts whose records carry different objects.

    Each (contact, key name) takes the member text of its most recent record with a
    non-null value; the keys are listed in first-seen order (input order, then the
    order inside the object). Group and key names are integer ids here, so the
    million-member case is a handful of integer sorts and hash passes."""
    cf = pl.col("custom_fields")
    need = multi.filter(cf.is_not_null() & (cf.drop_nulls().n_unique().over(_KEY) > 1))
    if need.is_empty():
        return pl.DataFrame(schema={_KEY: pl.String, "custom_fields": pl.String})
    # Most recent last: a member later in this order is more recent (then later in its object).
    rows = (
        need.select(_KEY, _POS, _REC, cf)
        .sort(_REC)
        .with_columns(
            pl.int_range(pl.len(), dtype=pl.Int64).alias(_I),
            pl.col(_KEY).rank("dense").cast(pl.Int64).alias("__g"),
        )
    )
    members = _object_members(rows.select(_I, "custom_fields"), "custom_fields").filter(
        pl.col("value") != "null"  # a JSON null is no value
    )
    # Key names (JSON-decoded key tokens) as dense ids, decoded once per distinct token.
    tokens = members.select(pl.col("key").unique())
    names = tokens.with_columns(_json_decode_string(pl.col("key")).alias("__name")).with_columns(
        pl.col("__name").rank("dense").fill_null(0).cast(pl.Int64).alias("__n")
    )
    n_names = names.height + 1
    width = int(members.get_column("m").max() or 0) + 1
    members = members.join(
        names.select("key", "__n"), on="key", how="left", nulls_equal=True, maintain_order="left"
    ).with_columns(
        pl.col("__n").fill_null(0),
        rows.get_column("__g").gather(members.get_column(_I)).alias("__g"),
        rows.get_column(_POS).gather(members.get_column(_I)).alias(_POS),
    )
    member_key = pl.col("__g") * n_names + pl.col("__n")  # one id per (contact, key name)
    members = members.with_columns(member_key.alias("__gk"))
    winners = members.filter(pl.col("__gk").is_last_distinct()).select("__gk", "text")
    first_seen = (
        members.select("__g", "__gk", (pl.col(_POS) * width + pl.col("m")).alias("__pm"))
        .sort("__pm")
        .filter(pl.col("__gk").is_first_distinct())
    )
    merged = (
        first_seen.join(winners, on="__gk", how="left", maintain_order="left")
        .group_by("__g", maintain_order=True)
        .agg(pl.col("text"))
        .select(
            "__g",
            pl.concat_str(pl.lit("{"), pl.col("text").list.join(","), pl.lit("}")).alias(
                "custom_fields"
            ),
        )
    )
    # Every record's object had only null values: no custom fields at all.
    keys = rows.select(_KEY, "__g").unique("__g")
    return keys.join(merged, on="__g", how="left").select(_KEY, "custom_fields")


def _merge_groups(multi: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """One row per __key of `multi` (the rows of keys with 2+ records), columns as input."""
    multi = multi.sort(_KEY, _REC)  # group_by keeps this order inside each group
    win = pl.col(_SRANK) == pl.col(_SRANK).min()
    special = {"status", "status_reason", "status_changed_at", "created_at", "last_changed"}
    special |= {"phone", "phone_valid", "tags", "custom_fields", *KEPT_COLUMNS}
    aggs: list[pl.Expr] = [
        pl.col(_POS).min(),
        pl.col("status").sort_by(_SRANK).first(),
        pl.col("status_reason").filter(win).drop_nulls().last(),
        pl.col("status_changed_at").filter(win).drop_nulls().last(),
        pl.col("created_at").min(),
        pl.col("last_changed").max(),
        pl.struct("phone", "phone_valid")
        .filter(pl.col("phone").is_not_null())
        .last()
        .alias("__ph"),
        pl.col("custom_fields").drop_nulls().last(),
    ]
    aggs += [pl.col(c).drop_nulls().last() for c in columns if c not in special and c != _KEY]
    merged = (
        multi.group_by(_KEY)
        .agg(aggs)
        .with_columns(
            pl.col("__ph").struct.field("phone"), pl.col("__ph").struct.field("phone_valid")
        )
    )
    kept = multi.filter(pl.col(_POS) == pl.col(_POS).min().over(_KEY)).select(
        _KEY, *[c for c in KEPT_COLUMNS if c in multi.columns]
    )
    tags = _merge_tags(multi)
    custom = _merge_custom(multi).with_columns(pl.lit(True).alias("__has"))
    return (
        merged.drop("__ph")
        .join(kept, on=_KEY, how="left")
        .join(tags, on=_KEY, how="left")
        .join(custom, on=_KEY, how="left", suffix="__m")
        .with_columns(
            pl.when(pl.col("__has"))
            .then(pl.col("custom_fields__m"))
            .otherwise(pl.col("custom_fields"))
            .alias("custom_fields")
        )
        .select(_POS, *columns)
    )


def _duplicates(multi: pl.DataFrame, raw_col: str) -> pl.DataFrame:
    kept_pos = pl.col(_POS) == pl.col(_POS).min().over(_KEY)
    fields = [c for c in CONFLICT_FIELDS if c in multi.columns]
    base = multi.select(_KEY, _POS, "email_key", "source_file", "source_row", raw_col, *fields)
    kept = base.filter(kept_pos).rename({c: f"{c}__k" for c in base.columns if c != _KEY})
    away = base.filter(~kept_pos).join(kept, on=_KEY, how="left")

    def norm(c: str, suffix: str) -> pl.Expr:
        e = pl.col(c + suffix)
        if c == "tags":
            return e.list.eval(pl.element().str.to_lowercase()).list.unique().list.sort()
        return e

    differs = [
        pl.when(
            pl.col(c).is_not_null()
            & pl.col(f"{c}__k").is_not_null()
            & (norm(c, "") != norm(c, "__k"))
        ).then(pl.lit(c))
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
    return (
        away.sort(_POS)
        .select(
            pl.col("email_key"),
            pl.col("source_file__k").alias("kept_source_file"),
            pl.col("source_row__k").cast(pl.Int64).alias("kept_row"),
            pl.col("source_file"),
            pl.col("source_row").cast(pl.Int64).alias("row"),
            match.alias("match"),
            (pl.concat_str(differs, separator=";", ignore_nulls=True) if differs else pl.lit(""))
            .fill_null("")
            .alias("conflicts"),
        )
        .cast(DUPLICATES_SCHEMA)
    )


def _possible(contacts: pl.DataFrame, rules: MergeRules) -> pl.DataFrame:
    ck = contacts.select(
        _POS,
        "email_key",
        "source_file",
        pl.col("source_row").cast(pl.Int64).alias("row"),
    ).with_columns(canonical_keys(contacts["email_key"], rules.providers))
    grouped = ck.filter(pl.col("canonical_key").is_duplicated())
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
    input's columns without `email_input`, in input order of their kept rows."""
    raw_col = "email_input" if "email_input" in frame.columns else "email"
    columns = [c for c in frame.columns if c != "email_input"]
    unknown = set(frame.get_column("source_file").unique().drop_nulls()) - set(file_order)
    if unknown or frame.get_column("source_file").null_count():
        raise ValueError(f"contacts_merged: files missing from file_order: {sorted(unknown)}")
    rank = {s: i for i, s in enumerate(rules.status_precedence)}
    df = frame.with_columns(
        pl.col("source_file").replace_strict(file_order, return_dtype=pl.Int64).alias(_FILE),
        pl.int_range(pl.len(), dtype=pl.Int64).alias("__i"),
    )
    df = df.with_columns(
        pl.arg_sort_by(_FILE, "source_row", "__i").arg_sort().cast(pl.Int64).alias(_POS),
        pl.col("status")
        .replace_strict(rank, default=len(rank), return_dtype=pl.Int32)
        .alias(_SRANK),
    )
    df = df.with_columns(
        # a missing time sorts first: least recent
        pl.arg_sort_by("last_changed", "created_at", _FILE, "source_row", "__i")
        .arg_sort()
        .cast(pl.Int64)
        .alias(_REC)
    )
    key = pl.col("email_key")
    if rules.merge_possible:
        key = pl.lit(canonical_keys(df["email_key"], rules.providers))
    # a row without a key is its own contact
    key = pl.coalesce(key, pl.format("\x00{}", pl.col("__i")))
    df = df.with_columns(key.alias(_KEY))
    dup = df.get_column(_KEY).is_duplicated()
    singles = df.filter(~dup).select(_POS, *columns)
    multi = df.filter(dup)
    # blank text is no value: it neither wins a field nor conflicts (singles stay as given)
    multi = multi.with_columns(_blank_to_null(multi, [c for c in columns if c not in KEPT_COLUMNS]))
    if multi.is_empty():
        contacts = singles
        duplicates = pl.DataFrame(schema=DUPLICATES_SCHEMA)
    else:
        contacts = pl.concat([singles, _merge_groups(multi, columns)], how="vertical")
        duplicates = _duplicates(multi, raw_col)
    contacts = contacts.sort(_POS)
    possible = (
        pl.DataFrame(schema=POSSIBLE_SCHEMA) if rules.merge_possible else _possible(contacts, rules)
    )
    return Merged(
        contacts=contacts.drop(_POS),
        duplicates=duplicates,
        possible_duplicates=possible,
        input_rows=frame.height,
        duplicates_merged=frame.height - contacts.height,
    )
