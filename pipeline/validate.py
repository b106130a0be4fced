"""The validation stage: mapped rows in, canonical contacts, rejects and fixes out.

`contacts_validated` joins three verdicts on every row, all vectorized:
the email (pipeline/emails.py: email-validator's exact verdict and
normalization, after recorded pre-cleaning), the other fields
(pipeline/fields.py: limits, names, phones, dates, tags, statuses) and the
canonical-contact pandera model (schemas/contact.py) as a last safety net.
A row is rejected once, for its first problem in that order; every fix or
flag that did not reject the row is kept in `fixes` so an analyst can see
what changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from .emails import FIX_CODES, validate_emails
from .fields import normalize_fields
from .presets import Preset
from .ruleset import RuleSet
from .schemas import REJECT_COLUMNS, REJECT_SCHEMA, ValidatedContact
from .schemas.checks import failed_rows

FIX_SCHEMA = {
    "source_file": pl.String,
    "row": pl.Int64,
    "field": pl.String,
    "action": pl.String,  # fixed | flagged
    "reason": pl.String,
    "before": pl.String,
    "after": pl.String,
    "note": pl.String,
}


@dataclass
class Validated:
    contacts: pl.DataFrame  # canonical rows that passed, in input order
    rejects: pl.DataFrame  # REJECT_SCHEMA
    fixes: pl.DataFrame  # FIX_SCHEMA


def _clip(expr: pl.Expr, n: int = 200) -> pl.Expr:
    return pl.when(expr.str.len_chars() > n).then(expr.str.slice(0, n - 1) + "…").otherwise(expr)


def _schema_rejects(contacts: pl.DataFrame) -> pl.DataFrame:
    """Rows that break a ValidatedContact invariant: a stage bug, kept as a reject, not lost."""
    failures = failed_rows(ValidatedContact, contacts)
    if failures.height == 0:
        return failures
    if failures["index"].is_null().any():  # a missing column: no row can be trusted
        raise RuntimeError(f"the validated contacts lost their shape: {failures.rows()}")
    at = contacts.with_row_index("__i").select("__i", "__pos", "source_file", "source_row", "email")
    return (
        failures.unique("index", keep="first", maintain_order=True)
        .join(at, left_on=pl.col("index").cast(pl.UInt32), right_on="__i")
        .select(
            "__pos",
            "source_file",
            pl.col("source_row").alias("row"),
            "email",
            pl.when(pl.col("column") == "ValidatedContact")
            .then(pl.col("check"))
            .otherwise(pl.col("column"))
            .alias("field"),
            pl.format(
                "{} failed the check {} on {}; this is a listhygiene bug, not your file: "
                "please report it with this row.",
                pl.col("column"),
                pl.col("check"),
                _clip(pl.col("failure_case"), 80),
            ).alias("error"),
            pl.lit("schema_check").alias("reason"),
        )
    )


def contacts_validated(
    frame: pl.DataFrame,
    preset: Preset,
    rules: RuleSet,
    default_region: str | None = None,
    workers: int | None = None,
) -> Validated:
    """Validate one input's mapped frame (presets.MappedTable.frame)."""
    verdicts = validate_emails(frame["email"], workers=workers)
    normalized = normalize_fields(frame, preset, rules.fields, rules.statuses, default_region)
    base = normalized.frame.with_columns(
        verdicts["email"],
        verdicts["email_key"],
        verdicts["input"].alias(
            "email_input"
        ),  # the raw cell: duplicates.csv says how rows matched
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("__pos"),
    )
    keys = frame.select("source_file", pl.col("source_row").alias("row"))

    # Email problems come first: a row without a usable address cannot be a contact.
    raw = frame["email"]
    email_rejects = (
        pl.concat([keys, verdicts.select("input", "valid", "error", "reason")], how="horizontal")
        .with_row_index("__pos")
        .filter(~pl.col("valid"))
        # Fresh string arrays for the few rejected rows: polars 2.1 can panic ("assertion
        # failed: i < self.len()", polars-arrow binview) running string functions on a
        # filtered column that shares its buffers (tests/test_reconciliation.py found it).
        .with_columns(pl.concat_str(pl.col(c), pl.lit("")) for c in ("input", "error"))
        .select(
            "__pos",
            "source_file",
            "row",
            pl.col("input").alias("email"),
            pl.lit("email").alias("field"),
            pl.when(pl.col("input").is_null() | (pl.col("input").str.strip_chars() == ""))
            .then(pl.lit("email is empty; fill in the address or remove the row."))
            .otherwise(
                pl.format(
                    'email "{}" is not a valid address: {}', _clip(pl.col("input")), pl.col("error")
                )
            )
            .alias("error"),
            pl.col("reason"),
        )
    )
    issues = normalized.issues.join(
        base.select("source_file", pl.col("source_row"), "__pos"),
        on=["source_file", "source_row"],
        how="left",
    )
    field_rejects = issues.filter(pl.col("action") == "reject").select(
        pl.col("__pos").cast(pl.UInt32),
        "source_file",
        pl.col("source_row").alias("row"),
        pl.lit(None, pl.String).alias("email"),
        "field",
        "error",
        "reason",
    )
    rejected = pl.concat([email_rejects, field_rejects], how="vertical_relaxed").sort(
        "__pos", maintain_order=True
    )
    first = rejected.unique("__pos", keep="first", maintain_order=True)
    first = first.join(
        pl.DataFrame({"__pos": pl.Series(range(len(raw)), dtype=pl.UInt32), "__raw": raw}),
        on="__pos",
        how="left",
    ).with_columns(pl.coalesce("email", "__raw").alias("email"))
    contacts = base.filter(~pl.col("__pos").is_in(first["__pos"].implode()))
    schema_rejects = _schema_rejects(contacts)
    if schema_rejects.height:
        first = pl.concat([first, schema_rejects], how="diagonal_relaxed").sort("__pos")
        contacts = contacts.filter(~pl.col("__pos").is_in(schema_rejects["__pos"].implode()))
    drop = first["__pos"].implode()

    email_fixes = (
        pl.concat([keys, verdicts.select("input", "cleaned", "fixes", "valid")], how="horizontal")
        .filter(pl.col("valid") & (pl.col("fixes").list.len() > 0))
        .explode("fixes")
        .select(
            "source_file",
            "row",
            pl.lit("email").alias("field"),
            pl.lit("fixed").alias("action"),
            pl.col("fixes").alias("reason"),
            _clip(pl.col("input")).alias("before"),
            pl.col("cleaned").alias("after"),
            pl.col("fixes").replace_strict(FIX_CODES, default=None).alias("note"),
        )
    )
    field_fixes = issues.filter(
        pl.col("action").is_in(["fixed", "flagged"]) & ~pl.col("__pos").is_in(drop)
    ).select(
        "source_file",
        pl.col("source_row").alias("row"),
        "field",
        "action",
        "reason",
        _clip(pl.col("value")).alias("before"),
        pl.lit(None, pl.String).alias("after"),
        pl.col("error").alias("note"),
    )
    fixes = pl.concat(
        [email_fixes.cast(FIX_SCHEMA), field_fixes.cast(FIX_SCHEMA)], how="vertical"
    ).sort(["source_file", "row"], maintain_order=True)
    rejects = first.select(list(REJECT_COLUMNS)).cast(REJECT_SCHEMA)
    return Validated(contacts=contacts.drop("__pos"), rejects=rejects, fixes=fixes)
