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

import polars as pl

from ..emails import validate_emails
from ..fields import timestamps_utc
from ..scoring_rules import ScoringRules
from .table import EVENT_REJECT_SCHEMA, RAW_EVENT_SCHEMA, EventBatch

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


@dataclass(frozen=True)
class NormalizedEvents:
    events: pl.DataFrame  # EVENT_SCHEMA, in input order
    rejects: pl.DataFrame  # EVENT_REJECT_SCHEMA
    input_records: int
    skipped: dict[str, int]


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


def _email_keys(emails: pl.Series) -> pl.DataFrame:
    """`email_key` and `error` per row, validating each distinct address once.

    Distinct by a 64-bit hash (far faster than distinct strings); a row whose address
    differs from its hash's representative (a collision, about one in 10^13 pairs) is
    validated on its own, so the result is exact."""
    frame = pl.DataFrame({"__h": emails.hash(seed=7), "email": emails})
    reps = frame.unique("__h", keep="first")
    checked = validate_emails(reps.get_column("email"))
    table = reps.select(
        "__h", pl.col("email").alias("__rep"), checked["email_key"], checked["error"]
    )
    joined = frame.join(table, on="__h", how="left", maintain_order="left")
    clash = ~joined.get_column("__rep").eq_missing(joined.get_column("email"))
    if clash.any():
        exact = validate_emails(emails.filter(clash))
        idx = clash.arg_true()
        keys, errors = joined.get_column("email_key"), joined.get_column("error")
        keys = keys.scatter(idx, exact.get_column("email_key"))
        errors = errors.scatter(idx, exact.get_column("error"))
        return pl.DataFrame({"email_key": keys, "error": errors})
    return joined.select("email_key", "error")


def events_normalized(batches: list[EventBatch], rules: ScoringRules) -> NormalizedEvents:
    raw = (
        pl.concat([b.frame for b in batches], how="vertical")
        if batches
        else pl.DataFrame(schema=RAW_EVENT_SCHEMA)
    )
    names = rules.event_names
    known = ", ".join(names)
    # A few distinct names over millions of rows: each spelling is worked out once.
    spelled = per_distinct(
        raw.get_column("event"),
        lambda names: (
            names.str.strip_chars()
            .str.to_lowercase()
            .str.replace_all(r"[\s\-]+", "_")
            .replace(ALIASES)
        ),
    )
    raw = raw.with_columns(spelled.alias("__event"))

    raw = pl.concat([raw, _email_keys(raw.get_column("email"))], how="horizontal")
    raw = raw.with_columns(
        timestamps_utc(raw.get_column("timestamp")).alias("__ts"),
        pl.col("machine_open").str.strip_chars().str.to_lowercase().alias("__mo"),
    )
    mo = pl.col("__mo")
    flag = pl.when(mo.is_in(_TRUE)).then(True).when(mo.is_in(_FALSE)).then(False)

    # (test, message): a row's first failing test names its error. Tests run on every
    # row; the sentences are built only for the rows that fail.
    problems = [
        (
            pl.col("email").is_null() | (pl.col("email").str.strip_chars() == ""),
            pl.lit("the event has no recipient address; it cannot be matched to a contact."),
        ),
        (
            pl.col("email_key").is_null(),
            pl.concat_str(
                pl.lit('the recipient "'),
                pl.col("email"),
                pl.lit('" is not a valid address ('),
                pl.col("error").str.strip_suffix("."),
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
                pl.col("machine_open"),
                pl.lit('" is not true or false; fix it or leave it empty.'),
            ),
        ),
    ]
    code = pl.lit(0, pl.Int8)
    for i, (bad, _) in reversed(list(enumerate(problems, start=1))):
        code = pl.when(bad).then(pl.lit(i, pl.Int8)).otherwise(code)
    raw = raw.with_columns(code.alias("__code"))
    failed = raw.filter(pl.col("__code") > 0)
    error = pl.lit(None, pl.String)
    for i, (_, text) in enumerate(problems, start=1):
        error = pl.when(pl.col("__code") == i).then(text).otherwise(error)
    rejected = failed.select("source_file", "row", "email", error.alias("error"))
    kept = raw.filter(pl.col("__code") == 0)

    machine = flag
    if rules.detect_machine_opens:
        guess = pl.lit(False)
        for pattern in rules.machine_user_agents:
            guess = guess | pl.col("user_agent").fill_null("").str.contains(pattern)
        for prefix in rules.machine_ip_prefixes:
            guess = guess | pl.col("ip").fill_null("").str.starts_with(prefix)
        machine = pl.when(flag.is_not_null()).then(flag).otherwise(guess)
    machine = pl.when(pl.col("__event") == "open").then(machine.fill_null(False))
    events = kept.select(
        "source_file",
        "row",
        "email_key",
        pl.col("__event").alias("event"),
        pl.col("__ts").alias("timestamp"),
        pl.col("campaign_id").str.strip_chars().replace("", None),
        pl.col("event_id").str.strip_chars().replace("", None),
        machine.alias("machine_open"),
        "reason",
    )
    rejects = pl.concat(
        [*(b.rejects for b in batches), rejected.cast(EVENT_REJECT_SCHEMA)], how="vertical"
    )
    order = {b.source_file: i for i, b in enumerate(batches)}
    rejects = rejects.sort(
        pl.col("source_file").replace_strict(order, default=len(order), return_dtype=pl.Int64),
        "row",
        maintain_order=True,
    )
    skipped: dict[str, int] = {}
    for b in batches:
        for what, n in b.skipped.items():
            skipped[what] = skipped.get(what, 0) + n
    return NormalizedEvents(
        events=events.cast(EVENT_SCHEMA),
        rejects=rejects,
        input_records=sum(b.records for b in batches),
        skipped=dict(sorted(skipped.items())),
    )
