"""Reconcile a run's contacts with the target account's current contacts (`--existing`).

`read_existing` / `load_existing` read the account's own export (CSV/JSON as the
target exports it, with its ids) through the same readers, presets and
validation as any input, and collapse the account's own duplicates with the
merge stage. `reconcile` classifies every email_key of the file and of the
account; `apply_account_suppressions` carries the account's suppressions onto
our contacts; `import_preview` answers like MailerDash's import preview.

Classes (one per email_key, see docs/existing.md):

* `new`: in the file, not in the account;
* `suppressed_in_account`: in both, and the account has it unsubscribed,
  bounced or complained: it is never sent as active, whatever the file says;
* `update`: in both, and at least one comparable field would change;
* `unchanged`: in both, nothing would change;
* `only_in_account`: in the account, not in the file.

A field is compared only when the account export holds it (its column is in
the export), and a blank in the file is never a change: it never overwrites.
Everything is polars; there is no per-row Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from .fields import _I, _json_decode_string, _members
from .ingest import expand_paths, read_inputs
from .merge import contacts_merged
from .presets import detect_preset, map_columns
from .ruleset import RuleSet
from .schemas import REJECT_SCHEMA
from .validate import contacts_validated

CLASSES = ("new", "update", "unchanged", "suppressed_in_account", "only_in_account")
SUPPRESSED = ("complained", "bounced", "unsubscribed")  # precedence order, highest first
STATUS_RANK = {s: i for i, s in enumerate((*SUPPRESSED, "active"))}
TEXT_FIELDS = ("first_name", "last_name", "phone", "company", "job_title")
OBJECT_FIELDS = ("custom_fields", "social_profiles")  # compared key by key
# The fields a target can hold, in the order `changed_fields` lists them. `name` is
# the one whole-name field of targets such as MailerDash (see _whole_name).
COMPARABLE = ("name", *TEXT_FIELDS, "tags", *OBJECT_FIELDS)
# Headers that hold a whole name when the export has no last-name column.
_WHOLE_NAME_HEADERS = {"name", "fullname", "contactname", "displayname"}

CLASS_SCHEMA = {
    "email_key": pl.String,
    "email": pl.String,
    "class": pl.String,
    "account_id": pl.String,
    "account_ids": pl.List(pl.String),
    "account_status": pl.String,
    "status": pl.String,
    "changed_fields": pl.List(pl.String),
}


@dataclass
class ExistingAccount:
    """The account export read: one row per account contact, and what was dropped."""

    contacts: pl.DataFrame  # email_key, email, account_id, account_ids, account_status, ...
    rejects: pl.DataFrame  # REJECT_SCHEMA: account rows whose email (or a field) is unusable
    input_rows: int  # data rows read from the export, rejects included
    duplicates_merged: int  # account rows that repeated an email_key
    presets: dict[str, str] = field(default_factory=dict)  # source_file -> preset name
    warnings: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return self.rejects.height


@dataclass
class Reconciled:
    classes: pl.DataFrame  # CLASS_SCHEMA, file contacts in order, then the account's others
    counts: dict[str, int]  # every class of CLASSES, zero included


def _norm_header(h: str) -> str:
    return re.sub(r"[\s\-_\ufeff]+", "", h).casefold()


def _whole_name(sources: dict[str, tuple[str, ...]]) -> bool:
    """True when the export's first_name is one whole-name column (MailerDash `name`)."""
    first = sources.get("first_name", ())
    return (
        "last_name" not in sources
        and len(first) == 1
        and _norm_header(first[0]) in _WHOLE_NAME_HEADERS
    )


def read_existing(
    paths: list[Path], rules: RuleSet, staging: Path, preset: str | None = None
) -> ExistingAccount:
    """Read the account export(s) into one row per account contact (see the module doc).

    Columns: `email_key, email, account_id` (the merged contact's id: the most
    recent non-empty one), `account_ids` (every id the account has for the key,
    in file order), `account_status` (canonical; null when the export has no
    status column), then the COMPARABLE fields the export holds, and
    `source_file, source_row` of the account row kept.
    """
    files = expand_paths(paths)
    validated: list[pl.DataFrame] = []
    rejects: list[pl.DataFrame] = []
    presets: dict[str, str] = {}
    warnings: list[str] = []
    held: set[str] = set()
    input_rows = 0
    for table in read_inputs(files, rules.ingest, staging):
        chosen = detect_preset(table.columns, table.source_file, rules.presets, preset)
        mapped = map_columns(table, chosen)
        presets[table.source_file] = chosen.name
        warnings.extend(table.warnings + mapped.warnings)
        input_rows += table.input_rows
        done = contacts_validated(mapped.frame, chosen, rules)
        sources = mapped.column_sources
        frame = done.contacts
        whole = _whole_name(sources)
        fields_here = {f for f in COMPARABLE if f in sources}
        if whole:
            fields_here = (fields_here - {"first_name"}) | {"name"}
            frame = frame.with_columns(pl.col("first_name").alias("name"))
        held |= fields_here
        frame = frame.with_columns(
            pl.col("status") if "status" in sources else pl.lit(None, pl.String).alias("status"),
            # fields this file does not hold are no value (null), not a blank to compare
            *[
                pl.lit(None, frame.schema[f]).alias(f)
                for f in (*TEXT_FIELDS, *OBJECT_FIELDS, "tags")
                if f in frame.columns and f not in fields_here
            ],
        )
        validated.append(frame)
        reject_rows = [
            {
                "source_file": r.source_file,
                "row": r.row,
                "email": r.email or None,
                "field": r.field,
                "error": r.error,
                "reason": r.reason,
            }
            for r in table.rejects  # ingest rejects: a few per file, not per contact
        ]
        if reject_rows:
            rejects.append(pl.DataFrame(reject_rows).select(list(REJECT_SCHEMA)))
        rejects.append(done.rejects)
    held_cols = [f for f in COMPARABLE if f in held]
    out_schema = {
        "email_key": pl.String,
        "email": pl.String,
        "account_id": pl.String,
        "account_ids": pl.List(pl.String),
        "account_status": pl.String,
    }
    reject_frame = (
        pl.concat([r.cast(REJECT_SCHEMA) for r in rejects], how="vertical")
        if rejects
        else pl.DataFrame(schema=REJECT_SCHEMA)
    )
    if not validated:
        empty = pl.DataFrame(schema=out_schema)
        return ExistingAccount(empty, reject_frame, input_rows, 0, presets, warnings)
    rows = pl.concat(validated, how="diagonal_relaxed")
    if "name" in held and "name" not in rows.columns:
        rows = rows.with_columns(pl.lit(None, pl.String).alias("name"))
    file_order = {s: i for i, s in enumerate(presets)}
    merged = contacts_merged(rows.drop("email_input", strict=False), file_order, rules.merge)
    ids = (
        rows.with_columns(
            pl.col("source_file").replace_strict(file_order, return_dtype=pl.Int64).alias("__f")
        )
        .sort("__f", "source_row", maintain_order=True)
        .filter(pl.col("external_id").str.strip_chars() != "")
        .unique(["email_key", "external_id"], keep="first", maintain_order=True)
        .group_by("email_key", maintain_order=True)
        .agg(pl.col("external_id").alias("account_ids"))
    )
    contacts = merged.contacts.join(ids, on="email_key", how="left", maintain_order="left").select(
        "email_key",
        "email",
        pl.col("external_id").alias("account_id"),
        pl.col("account_ids").fill_null(pl.lit([], pl.List(pl.String))),
        pl.col("status").alias("account_status"),
        *held_cols,
        "source_file",
        "source_row",
    )
    return ExistingAccount(
        contacts=contacts,
        rejects=reject_frame,
        input_rows=input_rows,
        duplicates_merged=merged.duplicates_merged,
        presets=presets,
        warnings=warnings,
    )


def load_existing(
    paths: list[Path], rules: RuleSet, staging: Path, preset: str | None = None
) -> pl.DataFrame:
    """One row per account contact (read_existing(...).contacts; rejects are dropped)."""
    return read_existing(paths, rules, staging, preset).contacts


# --------------------------------------------------------------------------- comparing


def _blank_null(e: pl.Expr) -> pl.Expr:
    return pl.when(e.str.strip_chars() != "").then(e)


def _text_changed(f: str) -> pl.Expr:
    new, old = _blank_null(pl.col(f)), _blank_null(pl.col(f"{f}__acc"))
    return (new.is_not_null() & (old.is_null() | (new != old))).fill_null(False)


def _tags_changed() -> pl.Expr:
    """The file adds a tag (ignoring case) the account does not have; tags are never removed."""
    low = pl.element().str.to_lowercase()
    new = pl.col("tags").list.eval(low.filter(pl.element().str.strip_chars() != ""))
    old = pl.col("tags__acc").fill_null(pl.lit([], pl.List(pl.String))).list.eval(low)
    return (new.list.set_difference(old).list.len() > 0).fill_null(False)


def _object_changed(joined: pl.DataFrame, f: str) -> pl.Series:
    """Rows where the file's object has a key with a non-blank value the account lacks or
    holds differently (string values compared as text, so `"5"` equals `5`)."""

    def members(col: str) -> pl.DataFrame:
        frame = joined.select(pl.int_range(pl.len(), dtype=pl.Int64).alias(_I), pl.col(col))
        frame = frame.filter(pl.col(col).is_not_null())
        if frame.is_empty():
            return pl.DataFrame(schema={_I: pl.Int64, "__name": pl.String, "__v": pl.String})
        m = _members(frame, col)
        value = pl.col("value")
        text = pl.when(value.str.starts_with('"')).then(_json_decode_string(value))
        return m.select(
            pl.col(_I).cast(pl.Int64),
            _json_decode_string(pl.col("key")).alias("__name"),
            text.otherwise(value).alias("__v"),
        ).filter(pl.col("__v").is_not_null() & (pl.col("__v").str.strip_chars() != ""))

    new, old = members(f), members(f"{f}__acc")
    diff = new.join(old, on=[_I, "__name"], how="left", suffix="__old").filter(
        pl.col("__v__old").is_null() | (pl.col("__v") != pl.col("__v__old"))
    )
    rows = pl.int_range(joined.height, dtype=pl.Int64, eager=True)
    return rows.is_in(diff.get_column(_I).unique().implode())


def _empty_existing() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "email_key": pl.String,
            "email": pl.String,
            "account_id": pl.String,
            "account_ids": pl.List(pl.String),
            "account_status": pl.String,
        }
    )


def reconcile(contacts: pl.DataFrame, existing: pl.DataFrame) -> Reconciled:
    """Classify every email_key of `contacts` (our merged contacts) and `existing`
    (load_existing) into CLASSES, with the fields an update would change."""
    if existing.is_empty() and "email_key" not in existing.columns:
        existing = _empty_existing()
    fields = [
        f for f in COMPARABLE if f in existing.columns and (f in contacts.columns or f == "name")
    ]
    if "name" in fields and "first_name" not in contacts.columns:
        fields.remove("name")
    ours = contacts.unique("email_key", keep="first", maintain_order=True)
    if "name" in fields:  # a whole-name target: our first and last name as one
        ours = ours.with_columns(
            pl.concat_str(
                [_blank_null(pl.col("first_name")), _blank_null(pl.col(c))]
                if (c := "last_name") in ours.columns
                else [_blank_null(pl.col("first_name"))],
                separator=" ",
                ignore_nulls=True,
            ).alias("name")
        )
    ours = ours.select(
        "email_key",
        "email",
        "status",
        *fields,
        pl.int_range(pl.len(), dtype=pl.Int64).alias("__pos_f"),
    )
    theirs = existing.select(
        "email_key",
        pl.col("email").alias("email__acc"),
        "account_id",
        pl.col("account_ids")
        if "account_ids" in existing.columns
        else pl.concat_list(pl.col("account_id")).list.drop_nulls().alias("account_ids"),
        "account_status",
        *[pl.col(f).alias(f"{f}__acc") for f in fields],
        pl.int_range(pl.len(), dtype=pl.Int64).alias("__pos_a"),
    )
    joined = ours.join(theirs, on="email_key", how="full", coalesce=True)
    in_file = pl.col("__pos_f").is_not_null()
    in_acc = pl.col("__pos_a").is_not_null()
    flags: list[pl.Expr] = []
    for f in fields:
        if f == "tags":
            flags.append(_tags_changed().alias(f"__ch_{f}"))
        elif f in OBJECT_FIELDS:
            flags.append(pl.lit(_object_changed(joined, f)).alias(f"__ch_{f}"))
        else:
            flags.append(_text_changed(f).alias(f"__ch_{f}"))
    account_suppressed = pl.col("account_status").is_in(list(SUPPRESSED)).fill_null(False)
    # our suppression is an update of an account that has the contact active (or no status)
    flags.append(
        (pl.col("status").is_in(list(SUPPRESSED)).fill_null(False) & ~account_suppressed).alias(
            "__ch_status"
        )
    )
    names = [*fields, "status"]
    joined = joined.with_columns(flags).with_columns(
        pl.when(in_file & in_acc)
        .then(
            pl.concat_list(
                [pl.when(pl.col(f"__ch_{n}")).then(pl.lit(n)) for n in names]
            ).list.drop_nulls()
        )
        .otherwise(pl.lit([], pl.List(pl.String)))
        .alias("changed_fields")
    )
    klass = (
        pl.when(~in_acc)
        .then(pl.lit("new"))
        .when(~in_file)
        .then(pl.lit("only_in_account"))
        .when(account_suppressed)
        .then(pl.lit("suppressed_in_account"))
        .when(pl.col("changed_fields").list.len() > 0)
        .then(pl.lit("update"))
        .otherwise(pl.lit("unchanged"))
    )
    classes = (
        joined.sort(in_file.not_(), pl.coalesce("__pos_f", "__pos_a"), maintain_order=True)
        .select(
            "email_key",
            pl.coalesce("email", "email__acc").alias("email"),
            klass.alias("class"),
            "account_id",
            pl.col("account_ids").fill_null(pl.lit([], pl.List(pl.String))),
            "account_status",
            "status",
            "changed_fields",
        )
        .cast(CLASS_SCHEMA)
    )
    found = dict(classes.get_column("class").value_counts().iter_rows())
    counts = {c: int(found.get(c, 0)) for c in CLASSES}
    return Reconciled(classes=classes, counts=counts)


def apply_account_suppressions(contacts: pl.DataFrame, existing: pl.DataFrame) -> pl.DataFrame:
    """`contacts` with the account's suppressions carried over, same rows and order.

    Where the account's status outranks ours (complained > bounced >
    unsubscribed > active), `status` becomes the account's and `status_reason`
    `account: <status>`. An account `active` (or unknown) status never changes
    a contact, so a suppressed contact is never made active here.
    """
    if existing.is_empty() or "account_status" not in existing.columns:
        return contacts
    account = (
        existing.select("email_key", pl.col("account_status").alias("__acc_status"))
        .filter(pl.col("__acc_status").is_in(list(SUPPRESSED)))
        .unique("email_key", keep="first", maintain_order=True)
    )
    rank = {**STATUS_RANK}
    ours_rank = pl.col("status").replace_strict(rank, default=len(rank), return_dtype=pl.Int32)
    acc_rank = pl.col("__acc_status").replace_strict(rank, default=None, return_dtype=pl.Int32)
    wins = (acc_rank < ours_rank).fill_null(False)
    reason = pl.format("account: {}", pl.col("__acc_status"))
    updates = [
        pl.when(wins).then(pl.col("__acc_status")).otherwise(pl.col("status")).alias("status")
    ]
    if "status_reason" in contacts.columns:
        updates.append(
            pl.when(wins).then(reason).otherwise(pl.col("status_reason")).alias("status_reason")
        )
    else:
        updates.append(pl.when(wins).then(reason).alias("status_reason"))
    columns = list(contacts.columns)
    if "status_reason" not in columns:
        columns.append("status_reason")
    return (
        contacts.join(account, on="email_key", how="left", maintain_order="left")
        .with_columns(updates)
        .select(columns)
    )


def import_preview(
    contacts: pl.DataFrame,
    existing: pl.DataFrame,
    received_rows: int,
    reconciled: Reconciled | None = None,
) -> dict:
    """MailerDash's import-preview answer for our contacts, plus our counts per class.

    `existing`: the file's addresses (our normalized `email`, file order) that
    the account has; `total_unique`: distinct email_keys of the file's contacts;
    `total_received`: the rows received (`received_rows`); `classes`: reconcile's
    counts (`reconciled`, when the caller has reconciled already).
    """
    keys = (
        existing.get_column("email_key")
        if "email_key" in existing.columns
        else pl.Series([], dtype=pl.String)
    )
    ours = contacts.unique("email_key", keep="first", maintain_order=True)
    present = ours.filter(pl.col("email_key").is_in(keys.implode())).get_column("email")
    return {
        "existing": present.to_list(),
        "total_unique": int(contacts.get_column("email_key").n_unique()),
        "total_received": int(received_rows),
        "classes": (reconciled or reconcile(contacts, existing)).counts,
    }


class AccountMatcher:
    """`reconcile` and `import_preview` for contacts that come a chunk at a time, in
    order (each email_key once): `add` gives the classes of a chunk's contacts, `rest`
    the account's contacts no chunk had, `preview` the import preview of them all. The
    classes in that order are reconcile's, and the preview import_preview's."""

    def __init__(self, existing: pl.DataFrame, received_rows: int) -> None:
        if existing.is_empty() and "email_key" not in existing.columns:
            existing = _empty_existing()
        self.existing = existing.with_row_index("__acc_row")
        self.matched = self.existing.get_column("__acc_row").clear()
        self.received = received_rows
        self.counts = dict.fromkeys(CLASSES, 0)
        self.present: list[str] = []  # our addresses the account has, in order
        self.unique = 0
        self.shape: pl.DataFrame | None = None  # an empty chunk, for `rest`

    def add(self, contacts: pl.DataFrame) -> pl.DataFrame:
        """The classes of these contacts (CLASS_SCHEMA, their order)."""
        self.shape = contacts.head(0)
        part = self.existing.join(contacts.select("email_key"), on="email_key", how="semi")
        self.matched = pl.concat([self.matched, part.get_column("__acc_row")])
        got = reconcile(contacts, part.drop("__acc_row"))
        for k, n in got.counts.items():
            self.counts[k] += n
        both = ~pl.col("class").is_in(["new", "only_in_account"])
        self.present += got.classes.filter(both).get_column("email").to_list()
        self.unique += contacts.get_column("email_key").n_unique()
        return got.classes

    def rest(self) -> pl.DataFrame:
        """The classes of the account's contacts that no chunk had (only_in_account), in
        the account's order."""
        others = self.existing.filter(~pl.col("__acc_row").is_in(self.matched.implode()))
        shape = (
            self.shape
            if self.shape is not None
            else pl.DataFrame(
                schema={"email_key": pl.String, "email": pl.String, "status": pl.String}
            )
        )
        got = reconcile(shape, others.drop("__acc_row"))
        for k, n in got.counts.items():
            self.counts[k] += n
        return got.classes

    def preview(self) -> dict:
        """import_preview's answer (call after `rest`)."""
        return {
            "existing": self.present,
            "total_unique": self.unique,
            "total_received": int(self.received),
            "classes": dict(self.counts),
        }


def account_classes_csv(classes: pl.DataFrame) -> pl.DataFrame:
    """account_reconciliation.csv: the classes with list columns `;`-joined."""
    joined = {c: pl.col(c).list.join(";") for c in ("account_ids", "changed_fields")}
    return classes.with_columns(pl.when(j != "").then(j).alias(c) for c, j in joined.items())
