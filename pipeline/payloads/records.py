"""Payload records as JSON text, built by polars for every contact at once, and the
documented field limits of each target applied to them.

A record is one JSON object per row: members in a fixed order, null and empty values
left out. Texts and lists are encoded by polars (`struct.json_encode`, which escapes
as JSON requires); custom fields and social profiles are already compact JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from ..events.normalize import per_distinct

WARNING_SCHEMA = {
    "target": pl.String,
    "email": pl.String,
    "field": pl.String,
    "action": pl.String,  # fixed | skipped | dropped | not_carried
    "limit": pl.String,
    "message": pl.String,
}
# A contact's place among all contacts (PayloadBuilder numbers them): warnings made a
# chunk at a time carry it, to be put in one order whatever the chunks.
POS = "__pos"
SOCIAL_KEYS = ("linkedin", "twitter", "instagram", "telegram", "whatsapp", "reddit", "youtube")


@dataclass(frozen=True)
class Field:
    key: str  # the payload's member name
    column: str  # the column of the prepared frame that holds it
    kind: str = "text"  # text | list | json (compact JSON text, embedded as is)
    max_chars: int | None = None
    max_items: int | None = None


def json_string(col: pl.Expr) -> pl.Expr:
    """The JSON text of each value (a string, or a list of strings), escaped by polars."""
    enc = pl.struct(col.alias("v")).struct.json_encode()  # {"v":<value>}
    return enc.str.strip_prefix('{"v":').str.strip_suffix("}")


def _member(f: Field) -> pl.Expr:
    col = pl.col(f.column)
    if f.kind == "json":
        body, present = col, col.is_not_null()
    else:
        body = json_string(col)
        present = col.list.len() > 0 if f.kind == "list" else col.is_not_null() & (col != "")
    return pl.when(present.fill_null(False)).then(pl.lit(f'"{f.key}":') + body)


# Valid JSON either way, but a line reader (Python's splitlines, many log tools) breaks
# NDJSON at these: they are escaped. They can only occur inside strings.
_LINE_BREAKERS = ("\x85", "\u2028", "\u2029")


def encode(fields: tuple[Field, ...]) -> pl.Expr:
    """One JSON object per row, the members of `fields` in order, nulls left out."""
    members = pl.concat_str([_member(f) for f in fields], separator=",", ignore_nulls=True)
    record = pl.lit("{") + members + pl.lit("}")
    escaped = record
    for ch in _LINE_BREAKERS:
        escaped = escaped.str.replace_all(ch, f"\\u{ord(ch):04x}", literal=True)
    breaks = record.str.contains_any(list(_LINE_BREAKERS))
    return pl.when(breaks).then(escaped).otherwise(record)


def utf16_units(col: pl.Expr) -> pl.Expr:
    """Length as JavaScript counts it (UTF-16 code units): a character beyond U+FFFF, an
    emoji say, counts 2. A documented "max 100 chars" is held in these units, which also
    keeps it in code points."""
    return col.str.len_chars() + col.str.count_matches(r"[\x{10000}-\x{10FFFF}]")


def cut_utf16(text: str, units: int) -> str:
    """The longest prefix of whole characters within `units` UTF-16 code units."""
    n = 0
    for i, ch in enumerate(text):
        n += 2 if ord(ch) > 0xFFFF else 1
        if n > units:
            return text[:i]
    return text


def empty_warnings() -> pl.DataFrame:
    return pl.DataFrame(schema=WARNING_SCHEMA)


@dataclass
class Limited:
    frame: pl.DataFrame  # the rows kept, values within the limits
    warnings: pl.DataFrame  # WARNING_SCHEMA
    skipped: int  # rows left out by the skip policy


def warnings_of(
    frame: pl.DataFrame,
    target: str,
    key: str,
    action: str | pl.Expr,
    limit: str,
    message: str | pl.Expr,
) -> pl.DataFrame:
    """payload_warnings.csv rows (WARNING_SCHEMA) for the contacts of `frame`, with
    their POS when the frame has it."""
    return frame.select(
        pl.lit(target).alias("target"),
        pl.col("email"),
        pl.lit(key).alias("field"),
        (pl.lit(action) if isinstance(action, str) else action).alias("action"),
        pl.lit(limit).alias("limit"),
        (pl.lit(message) if isinstance(message, str) else message).alias("message"),
        *([pl.col(POS)] if POS in frame.columns else []),
    )


def within_limits(
    frame: pl.DataFrame, fields: tuple[Field, ...], target: str, policy: str
) -> Limited:
    """Texts over `max_chars` and lists over `max_items`: cut (policy fix) or the row left
    out (policy skip); an email over its limit is always left out."""
    warnings: list[pl.DataFrame] = []
    drop = pl.Series([False] * frame.height, dtype=pl.Boolean)
    for f in fields:
        col = pl.col(f.column)
        if f.max_chars is not None:
            # bytes >= UTF-16 units: only a value with more bytes than the limit can be over it
            size = pl.when(col.str.len_bytes() > f.max_chars).then(utf16_units(col))
            unit, limit = "characters", f"{f.max_chars} characters"
        elif f.max_items is not None:
            size, unit, limit = col.list.len(), "items", f"{f.max_items} items"
        else:
            continue
        limit_n = f.max_chars if f.max_chars is not None else f.max_items
        over = frame.select((size > limit_n).fill_null(False)).to_series()
        if not over.any():
            continue
        hits = frame.filter(over)
        skip = policy == "skip" or f.key == "email"
        outcome = (
            f"the contact is left out of {target}"
            + (" (policy skip in payloads.toml)" if f.key != "email" else "")
            if skip
            else f"cut to the first {limit}"
        )
        message = pl.format(
            f"{f.key} has {{}} {unit}; {target} takes at most {limit}: {outcome}.", size
        )
        warnings.append(
            warnings_of(hits, target, f.key, "skipped" if skip else "fixed", limit, message)
        )
        if skip:
            drop = drop | over
            continue
        if f.max_chars is None:  # lists: keep the first items
            frame = frame.with_columns(
                pl.when(pl.lit(over)).then(col.list.head(limit_n)).otherwise(col).alias(f.column)
            )
            continue
        idx = over.arg_true()  # texts, the few over the limit: cut by UTF-16 units
        values = frame.get_column(f.column).gather(idx).to_list()
        cut = pl.Series([cut_utf16(v, f.max_chars) for v in values], dtype=pl.String)
        frame = frame.with_columns(frame.get_column(f.column).scatter(idx, cut))
    skipped = int(drop.sum())
    kept = frame.filter(~drop) if skipped else frame
    return Limited(kept, pl.concat(warnings) if warnings else empty_warnings(), skipped)


# -- JSON objects: custom fields and social profiles ----------------------------------------

ObjectFix = Callable[[dict[str, Any]], tuple[dict[str, Any], list[str], bool]]


def _compact(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def custom_fields_fix(max_keys: int, max_bytes: int) -> ObjectFix:
    """The first members that fit in `max_keys` keys and `max_bytes` bytes of compact JSON."""

    def fix(obj: dict[str, Any]) -> tuple[dict[str, Any], list[str], bool]:
        size = len(_compact(obj).encode())
        if len(obj) <= max_keys and size <= max_bytes:
            return obj, [], False
        kept: dict[str, Any] = {}
        for k, v in obj.items():
            trial = {**kept, k: v}
            if len(trial) <= max_keys and len(_compact(trial).encode()) <= max_bytes:
                kept = trial
        dropped = [k for k in obj if k not in kept]
        note = (
            f"customFields has {len(obj)} keys and {size:,} bytes; the limit is {max_keys} "
            f"keys and {max_bytes:,} bytes of JSON: "
        )
        return kept, [note + "dropped " + ", ".join(dropped)], True

    return fix


def social_profiles_fix(max_chars: int) -> ObjectFix:
    """Only the documented keys (others are dropped, as the target would drop them), each a
    string of at most `max_chars` characters or null; a longer value drops its key."""

    def fix(obj: dict[str, Any]) -> tuple[dict[str, Any], list[str], bool]:
        notes: list[str] = []
        unknown = [k for k in obj if k not in SOCIAL_KEYS]
        if unknown:
            notes.append(
                "socialProfiles keys "
                + ", ".join(unknown)
                + " are not among "
                + ", ".join(SOCIAL_KEYS)
                + ": dropped"
            )
        kept, violated = {}, False
        for k in SOCIAL_KEYS:
            if k not in obj:
                continue
            v = obj[k]
            if v is not None and (not isinstance(v, str) or len(v) > max_chars):
                violated = True
                notes.append(
                    f"socialProfiles.{k} is not a string of at most {max_chars} characters: dropped"
                )
                continue
            kept[k] = v
        return kept, notes, violated

    return fix


def objects_within_limits(
    frame: pl.DataFrame,
    column: str,
    key: str,
    fix: ObjectFix,
    target: str,
    policy: str,
    limit: str,
    maybe_over: pl.Expr | None = None,
) -> Limited:
    """`fix` applied to each distinct JSON object of `column` once (only rows `maybe_over`
    marks, when given: a cheap test that rules the others out); the column becomes the
    fixed compact JSON (null when nothing is left), or the row is skipped by policy."""
    candidates = frame.select(
        (pl.col(column).is_not_null() & (maybe_over if maybe_over is not None else True)).alias("c")
    ).to_series()
    if not candidates.any():
        return Limited(frame, empty_warnings(), 0)
    idx = candidates.arg_true()
    values = frame.get_column(column).gather(idx)

    def apply(series: pl.Series) -> pl.Series:
        out = []
        for text in series.to_list():
            obj = json.loads(text)
            fixed, notes, violated = fix(obj) if isinstance(obj, dict) else ({}, [], True)
            out.append(
                {
                    "value": _compact(fixed) if fixed else None,
                    "note": "; ".join(notes) or None,
                    "violated": violated,
                }
            )
        return pl.Series(
            out,
            dtype=pl.Struct({"value": pl.String, "note": pl.String, "violated": pl.Boolean}),
        )

    results = per_distinct(values, apply).struct.unnest()
    noted = results.get_column("note").is_not_null()
    violated = results.get_column("violated")
    skip_rows = violated if policy == "skip" else violated & False
    sub = frame.gather(idx).with_columns(results.get_column("note").alias("__note"))
    action = pl.when(pl.lit(skip_rows)).then(pl.lit("skipped"))
    action = action.when(pl.lit(violated)).then(pl.lit("fixed")).otherwise(pl.lit("dropped"))
    suffix = pl.when(pl.lit(skip_rows)).then(
        pl.lit(f": the contact is left out of {target} (policy skip in payloads.toml)")
    )
    warnings = warnings_of(
        sub.with_columns(action.alias("__action"), suffix.fill_null("").alias("__suffix")).filter(
            pl.lit(noted)
        ),
        target,
        key,
        pl.col("__action"),
        limit,
        pl.col("__note") + pl.col("__suffix") + pl.lit("."),
    )
    new_values = frame.get_column(column).scatter(idx, results.get_column("value"))
    kept = frame.with_columns(new_values.alias(column))
    skipped = int(skip_rows.sum())
    if skipped:
        keep = pl.Series([True] * frame.height).scatter(idx, ~skip_rows)
        kept = kept.filter(keep)
    return Limited(kept, warnings, skipped)
