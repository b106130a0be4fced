"""Raw events of every source into one typed table, and the rejects.

Done once for all sources, in polars: event names through the aliases,
times read like the contacts' dates, addresses validated like contacts
(each distinct address once) so an event joins its contact on `email_key`,
and the machine-open flag decided (the source's flag, else the heuristic of
rules/scoring.toml [machine_opens]).
"""

from __future__ import annotations

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


def events_normalized(batches: list[EventBatch], rules: ScoringRules) -> NormalizedEvents:
    raw = (
        pl.concat([b.frame for b in batches], how="vertical")
        if batches
        else pl.DataFrame(schema=RAW_EVENT_SCHEMA)
    )
    names = rules.event_names
    known = ", ".join(names)
    ev = pl.col("event").str.strip_chars().str.to_lowercase().str.replace_all(r"[\s\-]+", "_")
    raw = raw.with_columns(ev.replace(ALIASES).alias("__event"))

    emails = raw.get_column("email").unique()
    checked = validate_emails(emails).select(pl.col("input").alias("email"), "email_key", "error")
    raw = raw.join(checked, on="email", how="left", nulls_equal=True, maintain_order="left")
    raw = raw.with_columns(
        timestamps_utc(raw.get_column("timestamp")).alias("__ts"),
        pl.col("machine_open").str.strip_chars().str.to_lowercase().alias("__mo"),
    )
    mo = pl.col("__mo")
    flag = pl.when(mo.is_in(_TRUE)).then(True).when(mo.is_in(_FALSE)).then(False)

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
                    '" is not a time listhygiene can read'
                    "; use ISO 8601 such as "
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
    # The first problem of a row is its error; later checks would repeat it.
    error = pl.lit(None, pl.String)
    for bad, text in reversed(problems):
        error = pl.when(bad).then(text).otherwise(error)
    raw = raw.with_columns(error.alias("__error"))
    rejected = raw.filter(pl.col("__error").is_not_null()).select(
        "source_file", "row", "email", pl.col("__error").alias("error")
    )
    kept = raw.filter(pl.col("__error").is_null())

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
