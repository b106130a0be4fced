"""Raw events of every source into one typed table, and the rejects.

Done once for all sources, in polars: event names through the aliases,
times read like the contacts' dates, addresses validated like contacts
(each distinct address once) so an event joins its contact on `email_key`,
and the machine-open flag decided (the source's flag, else the heuristic of
rules/scoring.toml [machine_opens]).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import polars as pl

from ..emails import validate_emails
from ..fields import timestamps_utc
from .table import EVENT_REJECT_SCHEMA, RAW_EVENT_SCHEMA, EventBatch

if TYPE_CHECKING:  # scoring_rules imports events.table: a runtime import here would be a cycle
    from ..scoring_rules import ScoringRules

UTC = pl.Datetime("us", "UTC")
EVENT_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.String(),
    "row": pl.Int64(),
    "email_key": pl.String(),
    "event": pl.String(),
    "timestamp": UTC,
    "campaign_id": pl.String(),
    "event_id": pl.String(),
    "machine_open": pl.Boolean(),
    "reason": pl.String(),
}

# Spellings of the generic table's `event` column (compared in lower case, spaces and
# hyphens as underscores) -> canonical names.
ALIASES = {
    "sent": "send",
    "processed": "send",
    "delivery": "delivered",
    "opened": "open",
    "opens": "open",
    "clicked": "click",
    "clicks": "click",
    "replied": "reply",
    "hard_bounce": "bounce",
    "hardbounce": "bounce",
    "bounced": "bounce",
    "softbounce": "soft_bounce",
    "soft_bounced": "soft_bounce",
    "spam": "complaint",
    "spamreport": "complaint",
    "spam_report": "complaint",
    "spamcomplaint": "complaint",
    "complained": "complaint",
    "unsubscribed": "unsubscribe",
    "unsub": "unsubscribe",
    "opt_out": "unsubscribe",
}
_TRUE = ("true", "1", "yes", "y", "t")
_FALSE = ("false", "0", "no", "n", "f")


# The compact table scoring works on: strings that only error sentences need (the file
# name) stay out of it, and each event's address is an index into `keys`.
COMPACT_SCHEMA: dict[str, pl.DataType] = {
    "__file": pl.UInt32(),  # index into `files`
    "row": pl.Int64(),
    "__addr": pl.UInt32(),  # index into `keys`
    "event": pl.String(),
    "timestamp": UTC,
    "campaign_id": pl.String(),
    "event_id": pl.String(),
    "machine_open": pl.Boolean(),
    "reason": pl.String(),
}


@dataclass(frozen=True)
class NormalizedEvents:
    """The usable events, in input order, compactly (COMPACT_SCHEMA); `events` gives them
    in EVENT_SCHEMA (file names and email_key spelled out) for whoever needs that."""

    compact: pl.DataFrame  # COMPACT_SCHEMA
    keys: pl.Series  # email_key of each distinct address (`__addr`)
    files: list[str]  # source_file of each `__file`
    rejects: pl.DataFrame  # EVENT_REJECT_SCHEMA
    input_records: int
    skipped: dict[str, int]
    addresses: pl.Series | None = None  # the raw address of each `keys` entry

    def known(self) -> pl.DataFrame:
        """`email_input` -> `email_key` of the valid addresses: `contact_emails` for the
        next batch of the same source, so an address is validated once."""
        assert self.addresses is not None
        return pl.DataFrame({"email_input": self.addresses, "email_key": self.keys}).filter(
            pl.col("email_key").is_not_null()
        )

    @property
    def count(self) -> int:
        return self.compact.height

    @cached_property
    def events(self) -> pl.DataFrame:  # EVENT_SCHEMA, in input order
        c = self.compact
        return pl.DataFrame(
            {
                "source_file": pl.Series(self.files, dtype=pl.String).gather(c["__file"]),
                "row": c["row"],
                "email_key": self.keys.gather(c["__addr"]),
                **{n: c[n] for n in ("event", "timestamp", "campaign_id", "event_id")},
                "machine_open": c["machine_open"],
                "reason": c["reason"],
            }
        ).cast(EVENT_SCHEMA)

    @classmethod
    def from_events(cls, events: pl.DataFrame) -> NormalizedEvents:
        """Compact form of an EVENT_SCHEMA frame (tests and callers that build one)."""
        files = events.get_column("source_file").unique(maintain_order=True)
        keys = events.get_column("email_key").unique(maintain_order=True)
        ids = pl.Series(range(len(files)), dtype=pl.UInt32)
        addr = pl.Series(range(len(keys)), dtype=pl.UInt32)
        compact = events.select(
            pl.col("source_file").replace_strict(files, ids).alias("__file"),
            "row",
            pl.col("email_key").replace_strict(keys, addr).alias("__addr"),
            *(n for n in COMPACT_SCHEMA if n not in ("__file", "row", "__addr")),
        ).cast(COMPACT_SCHEMA)
        return cls(compact, keys, files.to_list(), pl.DataFrame(schema=EVENT_REJECT_SCHEMA),
                   events.height, {})  # fmt: skip


def _reject(frame: pl.DataFrame, bad: pl.Expr, error: pl.Expr) -> pl.DataFrame:
    return frame.filter(bad).select("source_file", "row", pl.col("email"), error.alias("error"))


def per_distinct(
    values: pl.Series,
    fn: Callable[[pl.Series], pl.Series],
    hashed: Callable[[pl.Series], pl.Series] = lambda s: s.hash(seed=7),
) -> pl.Series:
    """`fn` applied to each distinct value once, mapped back to every row, exactly.

    Distinct by a 64-bit hash (far faster than distinct strings); rows whose value
    differs from its hash's representative (a collision, about one in 10^13 pairs) get
    `fn` of their own value."""
    frame = pl.DataFrame({"__h": hashed(values), "__v": values})
    reps = frame.unique("__h", keep="first")
    table = reps.with_columns(fn(reps.get_column("__v")).alias("__out"))
    joined = frame.join(table.rename({"__v": "__rep"}), on="__h", how="left", maintain_order="left")
    out = joined.get_column("__out").alias(values.name)
    clash = ~joined.get_column("__rep").eq_missing(values)
    if clash.any():
        out = out.scatter(clash.arg_true(), fn(values.filter(clash)))
    return out


def distinct_ids(
    values: pl.Series, hashed: Callable[[pl.Series], pl.Series] = lambda s: s.hash(seed=7)
) -> tuple[pl.Series, pl.Series]:
    """(ids, distinct): `distinct.gather(ids)` equals `values` row for row, exactly.

    Distinct by a 64-bit hash (far faster than distinct strings), then checked by value:
    rows whose value differs from its hash's representative (a collision, about one in
    10^13 pairs) get ids of their own."""
    n = values.len()
    frame = pl.DataFrame({"__h": hashed(values)}).with_row_index("__i")
    reps = frame.unique("__h", keep="first").with_row_index("__id")
    pairs = frame.lazy().join(reps.lazy().select("__h", "__id"), on="__h").collect()
    ids = pl.zeros(n, pl.UInt32, eager=True).scatter(pairs["__i"], pairs["__id"])
    distinct = values.gather(reps["__i"])
    clash = ~values.eq_missing(distinct.gather(ids)) if n else pl.Series(dtype=pl.Boolean)
    if clash.any():
        extra = values.filter(clash).unique(maintain_order=True)
        where = clash.arg_true()
        more = values.filter(clash).replace_strict(
            extra, pl.int_range(len(distinct), len(distinct) + len(extra), eager=True)
        )
        ids = ids.scatter(where, more.cast(pl.UInt32))
        distinct = distinct.append(extra)
    return ids.alias(values.name), distinct.alias(values.name)


def _col(frame: pl.DataFrame, name: str) -> pl.Expr:
    """A column that providers or the generic table may leave out: null when absent."""
    return pl.col(name) if name in frame.columns else pl.lit(None, pl.String)


def _validated(addresses: pl.Series, known: pl.DataFrame | None) -> pl.DataFrame:
    """`email_key` and `error` per address. `known` (`email_input` -> `email_key`, each
    `email_input` once: the accepted contacts' raw email cells, validated by the same
    `validate_emails` in the validate stage) answers the addresses it holds, byte for
    byte the same input, so only the others are validated here."""
    if known is None or known.is_empty():
        return validate_emails(addresses).select("email_key", "error")
    found = (
        pl.DataFrame({"email_input": addresses})
        .join(
            known.select("email_input", "email_key"),
            on="email_input",
            how="left",
            maintain_order="left",
        )
        .get_column("email_key")
    )
    rest = found.is_null()
    keys = found
    errors = pl.Series("error", [None], dtype=pl.String).new_from_index(0, found.len())
    if rest.any():
        checked = validate_emails(addresses.filter(rest))
        where = rest.arg_true()
        keys = keys.scatter(where, checked.get_column("email_key"))
        errors = errors.scatter(where, checked.get_column("error"))
    return pl.DataFrame({"email_key": keys, "error": errors})


def events_normalized(
    batches: list[EventBatch], rules: ScoringRules, contact_emails: pl.DataFrame | None = None
) -> NormalizedEvents:
    """All batches typed at once. `contact_emails`: `known` of `_validated` (optional,
    saves validating addresses again)."""
    files = [b.source_file for b in batches]
    frames = [
        b.frame.drop("source_file", strict=False).with_columns(
            pl.lit(i, pl.UInt32).alias("__file"), pl.col("row").cast(pl.Int64)
        )
        for i, b in enumerate(batches)
    ]
    if frames:
        raw = pl.concat(frames, how="diagonal_relaxed")
    else:
        raw = pl.DataFrame(schema=RAW_EVENT_SCHEMA).drop("source_file")
        raw = raw.with_columns(pl.lit(None, pl.UInt32).alias("__file"))
    names = rules.event_names
    known = ", ".join(names)
    # A few distinct names over millions of rows: each spelling is worked out once.
    spellings = raw.get_column("event").unique().drop_nulls()
    canonical = (
        spellings.str.strip_chars()
        .str.to_lowercase()
        .str.replace_all(r"[\s\-]+", "_")
        .replace(ALIASES)
    )
    event = raw.get_column("event").replace_strict(
        spellings, canonical, default=None, return_dtype=pl.String
    )
    # Each distinct address validated once; events keep an index into the addresses.
    addr, addresses = distinct_ids(raw.get_column("email"))
    checked = _validated(addresses, contact_emails)
    keys = checked.select(owned(pl.col("email_key"))).to_series()  # may be views of `raw`
    raw = raw.with_columns(
        event.alias("__event"),
        addr.alias("__addr"),
        keys.is_not_null().gather(addr).alias("__valid"),
        timestamps_utc(raw.get_column("timestamp")).alias("__ts"),
        _col(raw, "machine_open").str.strip_chars().str.to_lowercase().alias("__mo"),
    )
    mo = pl.col("__mo")
    flag = pl.when(mo.is_in(_TRUE)).then(True).when(mo.is_in(_FALSE)).then(False)
    error = pl.lit(checked.get_column("error")).gather(pl.col("__addr"))

    # (test, message): a row's first failing test names its error. Tests run on every
    # row; the sentences are built only for the rows that fail.
    problems = [
        (
            pl.col("email").is_null() | (pl.col("email").str.strip_chars() == ""),
            pl.lit("the event has no recipient address; it cannot be matched to a contact."),
        ),
        (
            ~pl.col("__valid"),
            pl.concat_str(
                pl.lit('the recipient "'),
                pl.col("email"),
                pl.lit('" is not a valid address ('),
                error.str.strip_suffix("."),
                pl.lit("); the event cannot be matched to a contact."),
            ),
        ),
        (
            pl.col("__event").is_null() | ~pl.col("__event").is_in(names),
            pl.concat_str(
                pl.lit('event "'),
                pl.col("event").fill_null(""),
                pl.lit(
                    f'" is not one of {known}; fix the value, or give the event '
                    "points in rules/scoring.toml [[points]] to count it."
                ),
            ),
        ),
        (
            pl.col("__ts").is_null(),
            pl.concat_str(
                pl.lit('timestamp "'),
                pl.col("timestamp").fill_null(""),
                pl.lit(
                    '" is not a time listhygiene can read; use ISO 8601 such as '
                    "2026-03-12T09:14:00Z or epoch seconds."
                ),
            ),
        ),
        (
            mo.is_not_null() & flag.is_null(),
            pl.concat_str(
                pl.lit('machine_open "'),
                _col(raw, "machine_open"),
                pl.lit('" is not true or false; fix it or leave it empty.'),
            ),
        ),
    ]
    code = pl.lit(0, pl.Int8)
    for i, (bad, _) in reversed(list(enumerate(problems, start=1))):
        code = pl.when(bad).then(pl.lit(i, pl.Int8)).otherwise(code)
    codes = raw.select(code).to_series()
    failing = codes > 0
    message = pl.lit(None, pl.String)
    for i, (_, text) in enumerate(problems, start=1):
        message = pl.when(pl.col("__code") == i).then(text).otherwise(message)
    rejected = (
        raw.filter(failing)
        .with_columns(codes.filter(failing).alias("__code"))
        .select(
            pl.col("__file")
            .replace_strict(pl.Series(range(len(files)), dtype=pl.UInt32), pl.Series(files))
            .alias("source_file"),
            "row",
            owned(pl.col("email")).alias("email"),
            message.alias("error"),
            pl.col("__file").cast(pl.Int64).alias("__batch"),
        )
    )
    kept = raw.filter(~failing) if failing.any() else raw

    machine = flag
    if rules.detect_machine_opens:
        guess = pl.lit(False)
        for pattern in rules.machine_user_agents:
            guess = guess | _col(raw, "user_agent").fill_null("").str.contains(pattern)
        for prefix in rules.machine_ip_prefixes:
            guess = guess | _col(raw, "ip").fill_null("").str.starts_with(prefix)
        machine = pl.when(flag.is_not_null()).then(flag).otherwise(guess)
    machine = pl.when(pl.col("__event") == "open").then(machine.fill_null(False))
    compact = kept.select(
        "__file",
        "row",
        "__addr",
        pl.col("__event").alias("event"),
        pl.col("__ts").alias("timestamp"),
        _stripped(kept, "campaign_id"),
        _stripped(kept, "event_id"),
        machine.alias("machine_open"),
        _col(kept, "reason").alias("reason"),
    )
    # in batch order, then row: by the batch's position, not its name (a file given twice
    # is two batches of one name)
    rejects = (
        pl.concat(
            [
                *(
                    b.rejects.cast(EVENT_REJECT_SCHEMA).with_columns(
                        pl.lit(i, pl.Int64).alias("__batch")
                    )
                    for i, b in enumerate(batches)
                ),
                rejected.cast({**EVENT_REJECT_SCHEMA, "__batch": pl.Int64}),
            ],
            how="vertical",
        )
        .sort("__batch", "row", maintain_order=True)
        .drop("__batch")
    )
    skipped: dict[str, int] = {}
    for b in batches:
        for what, n in b.skipped.items():
            skipped[what] = skipped.get(what, 0) + n
    return NormalizedEvents(
        compact=compact.cast(COMPACT_SCHEMA),
        keys=keys,
        files=files,
        rejects=rejects,
        input_records=sum(b.records for b in batches),
        skipped=dict(sorted(skipped.items())),
        addresses=addresses.to_frame().select(owned(pl.first())).to_series(),
    )


def _stripped(frame: pl.DataFrame, name: str) -> pl.Expr:
    """Trimmed, empty as null; only values with something to trim are touched."""
    if name not in frame.columns:
        return pl.lit(None, pl.String).alias(name)
    c = pl.col(name)
    return c.str.strip_chars().replace("", None).alias(name)


def owned(text: pl.Expr) -> pl.Expr:
    """The same strings, copied into new buffers (nulls stay null).

    A string column sliced, gathered or trimmed from another shares its buffers and keeps
    them alive; one taken over from DuckDB's Arrow result keeps the whole result alive
    (every column: ~2 GB at 10M events). The readers hand over frames in buffers of their
    own (`fast_csv`, `_generic_batch`); what is kept of a few rows of them here (rejects,
    the distinct addresses' keys) is copied too, so the raw cells can go."""
    return pl.concat_str(text, pl.lit(""))
