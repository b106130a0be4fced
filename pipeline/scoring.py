"""Engagement from events, in polars: score, tier, factors, engagement class,
unengaged flag, and the status changes events make (see docs/scoring.md).

Every window is `as_of - N days < t <= as_of` and events after `as_of` are
ignored. Scoring filters first (each rule's expiry window, human opens, a
repeated event_id once), then keeps one event per type per (contact,
campaign) when the campaign is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from .scoring_rules import ScoringRules

DAY_US = 86_400_000_000
UTC = pl.Datetime("us", "UTC")
ENGAGED = ("open", "click", "reply")  # human engagement: what makes a contact engaged
SUPPRESSING = {"complaint": "complained", "bounce": "bounced", "unsubscribe": "unsubscribed"}

ENGAGEMENT_SCHEMA: dict[str, pl.DataType] = {
    "score": pl.Int64(),
    "tier": pl.String(),
    "engagement": pl.String(),
    "sends": pl.Int64(),
    "opens": pl.Int64(),
    "clicks": pl.Int64(),
    "open_rate": pl.Float64(),
    "click_rate": pl.Float64(),
    "last_opened_at": UTC,
    "last_engagement_at": UTC,
    "days_inactive": pl.Int64(),
    "unengaged": pl.Boolean(),
    "recency": pl.String(),
    "frequency": pl.String(),
}
ENGAGEMENT_COLUMNS = tuple(ENGAGEMENT_SCHEMA)


@dataclass(frozen=True)
class Scored:
    contacts: pl.DataFrame  # the contacts with ENGAGEMENT_COLUMNS, statuses updated
    counts: dict[str, int]  # events used, after as_of, for unknown contacts, ...
    status_changes: pl.DataFrame  # email_key, from_status, status, status_reason, at


K = "__i"  # the contact's row number in `contacts`: integer keys make every group-by cheap


def _within(days: int, as_of: datetime) -> pl.Expr:
    return pl.col("timestamp") > pl.lit(as_of - timedelta(days=days), UTC)


def first_occurrences(frame: pl.DataFrame, cols: list[str]) -> pl.Series:
    """True for the first row of each distinct combination of `cols`, exactly.

    Hashes first (fast); only the rows whose hash repeats are compared by value, so
    a hash collision can never merge two different values."""
    if frame.is_empty():
        return pl.Series(dtype=pl.Boolean)
    h = frame.select(pl.struct(cols).hash(seed=3)).to_series()
    dup = h.is_duplicated()
    first = ~dup
    if dup.any():
        sub = frame.filter(dup).select(pl.struct(cols).is_first_distinct()).to_series()
        first = first.scatter(dup.arg_true(), sub)
    return first


def _once_per_campaign(events: pl.DataFrame) -> pl.DataFrame:
    """One event per type per (contact, campaign); events without a campaign each count."""
    first = first_occurrences(events, [K, "event", "campaign_id"])
    return events.filter(pl.col("campaign_id").is_null() | first)


def _human(rules: ScoringRules) -> pl.Expr:
    if rules.count_machine_opens:
        return pl.lit(True)
    return ~pl.col("machine_open").fill_null(False)


def counted_events(events: pl.DataFrame, rules: ScoringRules) -> pl.DataFrame:
    """Human events, a repeated event_id once (its first occurrence in input order)."""
    human = events.filter(_human(rules))
    first = first_occurrences(human, ["event_id"])
    return human.filter(pl.col("event_id").is_null() | first)


def scores(events: pl.DataFrame, rules: ScoringRules, as_of: datetime) -> pl.DataFrame:
    """K -> score (clamped 0-100), over the counted events of the rules' [[points]]."""
    points = pl.DataFrame(
        {
            "event": [p.event for p in rules.points],
            "__points": [p.points for p in rules.points],
            "__decay": [p.decay_days for p in rules.points],
        },
        schema={"event": pl.String, "__points": pl.Int64, "__decay": pl.Int64},
    )
    start = pl.lit(as_of, UTC) - pl.duration(days=pl.col("__decay"))
    live = events.join(points, on="event", how="inner", maintain_order="left").filter(
        (pl.col("__decay") == 0) | (pl.col("timestamp") > start)
    )
    return (
        _once_per_campaign(live)
        .group_by(K)
        .agg(pl.col("__points").sum().clip(0, 100).alias("score"))
    )


def _tier(rules: ScoringRules) -> pl.Expr:
    expr = pl.lit(rules.tiers[-1][0])
    for name, low in reversed(rules.tiers[:-1]):
        expr = pl.when(pl.col("score") >= low).then(pl.lit(name)).otherwise(expr)
    return expr


def factors(events: pl.DataFrame, rules: ScoringRules, as_of: datetime) -> pl.DataFrame:
    """K -> sends, opens, clicks and engagements within the factor window, and the last
    human open and engagement of all time (up to as_of), over the counted events."""
    window = _once_per_campaign(events.filter(_within(rules.window_days, as_of)))
    e = pl.col("event")
    in_window = window.group_by(K).agg(
        pl.max_horizontal((e == "send").sum(), (e == "delivered").sum()).alias("sends"),
        (e == "open").sum().alias("opens"),
        (e == "click").sum().alias("clicks"),
        e.is_in(ENGAGED).sum().alias("__engagements"),
    )
    ever = events.group_by(K).agg(
        pl.col("timestamp").filter(e == "open").max().alias("last_opened_at"),
        pl.col("timestamp").filter(e.is_in(ENGAGED)).max().alias("last_engagement_at"),
    )
    return ever.join(in_window, on=K, how="full", coalesce=True)


def window_failures(events: pl.DataFrame, rules: ScoringRules, as_of: datetime) -> dict[str, int]:
    """Hard bounces and complaints within the factor window, over the counted events of
    known contacts, once per (contact, campaign) as `sends` counts them: with the sum of
    `sends`, the per-send rates the health gates judge (pipeline/health.py)."""
    window = _once_per_campaign(events.filter(_within(rules.window_days, as_of)))
    e = pl.col("event")
    totals = window.select(
        (e == "bounce").sum().alias("window_hard_bounces"),
        (e == "complaint").sum().alias("window_complaints"),
    ).row(0, named=True)
    return {k: int(v) for k, v in totals.items()}


def contact_rows(contacts: pl.DataFrame, events: pl.DataFrame) -> pl.Series:
    """Each event's contact as a row number of `contacts` (null: not a contact).

    Joined on a 64-bit hash of email_key, then checked by value: a row whose key
    differs from its contact's (a collision) is joined again by value."""
    keys = contacts.get_column("email_key")
    seed = 11
    table = pl.DataFrame({"__h": keys.hash(seed=seed), K: pl.int_range(keys.len(), eager=True)})
    table = table.with_columns(pl.col(K).cast(pl.UInt32))
    if table.get_column("__h").is_duplicated().any():  # colliding contacts: by value
        exact = pl.DataFrame({"email_key": keys, K: table.get_column(K)})
        return events.select("email_key").join(
            exact, on="email_key", how="left", maintain_order="left"
        )[K]
    ek = events.get_column("email_key")
    rows = (
        pl.DataFrame({"__h": ek.hash(seed=seed)})
        .join(table, on="__h", how="left", maintain_order="left")
        .get_column(K)
    )
    found = keys.gather(rows.fill_null(0)) if keys.len() else ek.clear(ek.len())
    wrong = rows.is_not_null() & (found != ek)
    return rows.set(wrong, None) if wrong.any() else rows


def _rate(n: str) -> pl.Expr:
    sends = pl.col("sends")
    return (
        pl.when(sends > 0)
        .then(pl.min_horizontal(pl.col(n) / sends, 1.0).round(4))
        .alias(f"{n[:-1]}_rate")
    )


def status_changes(
    contacts: pl.DataFrame,
    events: pl.DataFrame,
    rules: ScoringRules,
    precedence: list[str],
    as_of: datetime,
) -> pl.DataFrame:
    """Per contact (K) whose status an event makes worse: the new status, reason and time.

    The strongest suppressing event wins (by the merge rules' precedence); its latest
    occurrence gives the reason and time. Soft bounces count only when [statuses]
    soft_bounce_limit is above 0: that many within soft_bounce_days make a contact bounced.
    """
    rank = {s: i for i, s in enumerate(precedence)}
    e = pl.col("event")
    where = pl.concat_str(
        pl.lit(" ("),
        pl.col("source_file"),
        pl.lit(" row "),
        pl.col("row").cast(pl.String),
        pl.lit(")"),
    )
    detail = (
        pl.when(pl.col("reason").is_not_null())
        .then(pl.concat_str(pl.lit(": "), pl.col("reason")))
        .otherwise(pl.lit(""))
    )
    named = {"complaint": "complaint", "bounce": "hard bounce", "unsubscribe": "unsubscribe"}
    parts = [
        events.filter(e.is_in(list(SUPPRESSING))).select(
            K,
            e.replace_strict(SUPPRESSING, return_dtype=pl.String).alias("__status"),
            pl.concat_str(
                e.replace_strict(named, return_dtype=pl.String), pl.lit(" event"), detail, where
            ).alias("__reason"),
            "timestamp",
        )
    ]
    if rules.soft_bounce_limit > 0:
        days = rules.soft_bounce_days
        parts.append(
            events.filter((e == "soft_bounce") & _within(days, as_of))
            .sort("timestamp", maintain_order=True)
            .group_by(K)
            .agg(
                pl.len().alias("__n"),
                pl.col("timestamp").last(),
                where.last().alias("__where"),
            )
            .filter(pl.col("__n") >= rules.soft_bounce_limit)
            .select(
                K,
                pl.lit("bounced").alias("__status"),
                pl.concat_str(
                    pl.col("__n").cast(pl.String),
                    pl.lit(f" soft bounces within {days} days, the last"),
                    pl.col("__where"),
                ).alias("__reason"),
                "timestamp",
            )
        )
    found = pl.concat(parts).with_columns(
        pl.col("__status").replace_strict(rank, return_dtype=pl.Int64).alias("__rank")
    )
    best = (
        found.sort("__rank", "timestamp", descending=[False, True], maintain_order=True)
        .group_by(K, maintain_order=True)
        .first()
    )
    current = contacts.get_column("status").gather(best.get_column(K))
    worse = best.with_columns(current.alias("from_status")).filter(
        pl.col("__rank") < pl.col("from_status").replace_strict(rank, return_dtype=pl.Int64)
    )
    return worse.select(
        K,
        contacts.get_column("email_key").gather(worse.get_column(K)).alias("email_key"),
        "from_status",
        pl.col("__status").alias("status"),
        pl.col("__reason").alias("status_reason"),
        pl.col("timestamp").alias("status_changed_at"),
    ).sort(K)


def _frequency(rules: ScoringRules) -> pl.Expr:
    n = pl.col("__engagements").fill_null(0)
    return (
        pl.when(n >= rules.frequency_high)
        .then(pl.lit("high"))
        .when(n >= rules.frequency_medium)
        .then(pl.lit("medium"))
        .when(n >= 1)
        .then(pl.lit("low"))
        .otherwise(pl.lit("none"))
    )


def _whole_days(since: pl.Expr, as_of: datetime) -> pl.Expr:
    return ((pl.lit(as_of, UTC) - since).dt.total_microseconds() // DAY_US).clip(0)


def contacts_scored(
    contacts: pl.DataFrame,
    events: pl.DataFrame | None,
    rules: ScoringRules,
    precedence: list[str],
    as_of: datetime,
    threshold_days: int,
) -> Scored:
    """The contacts with their engagement columns and event-made statuses.

    Without events (`None`) the engagement columns stay empty: nothing is known.
    """
    if events is None:
        empty = [pl.lit(None, t).alias(c) for c, t in ENGAGEMENT_SCHEMA.items()]
        return Scored(contacts.with_columns(empty), {}, _no_changes())
    upto = events.filter(pl.col("timestamp") <= pl.lit(as_of, UTC))
    rows = contact_rows(contacts, upto)
    mine = upto.with_columns(rows.alias(K)).filter(pl.col(K).is_not_null())

    changes = status_changes(contacts, mine, rules, precedence, as_of)
    with_status = contacts
    if changes.height:  # by row number: a few changed contacts, no join over all of them
        idx = changes.get_column(K)
        with_status = contacts.with_columns(
            *(
                contacts.get_column(col).scatter(idx, changes.get_column(col))
                for col in ("status", "status_reason", "status_changed_at")
            )
        )

    counted = counted_events(mine, rules)
    per = factors(counted, rules, as_of).join(
        scores(counted, rules, as_of), on=K, how="full", coalesce=True
    )
    c = with_status.with_row_index(K).join(per, on=K, how="left", maintain_order="left").drop(K)
    last = pl.col("last_engagement_at")
    threshold = pl.lit(as_of - timedelta(days=threshold_days), UTC)
    scored = c.with_columns(
        pl.col("score").fill_null(0),
        *(pl.col(n).fill_null(0) for n in ("sends", "opens", "clicks")),
    ).with_columns(
        _tier(rules).alias("tier"),
        pl.when(last > pl.lit(as_of - timedelta(days=rules.active_days), UTC))
        .then(pl.lit("active"))
        .when(last > pl.lit(as_of - timedelta(days=rules.passive_days), UTC))
        .then(pl.lit("passive"))
        .otherwise(pl.lit("dormant"))
        .alias("engagement"),
        _rate("opens"),
        _rate("clicks"),
        pl.when(last.is_not_null())
        .then(_whole_days(last, as_of))
        .when(pl.col("created_at").is_not_null())
        .then(_whole_days(pl.col("created_at"), as_of))
        .alias("days_inactive"),
        (
            (pl.col("status") == "active")
            & ~(last > threshold).fill_null(False)
            & (pl.col("created_at").is_null() | (pl.col("created_at") <= threshold))
        ).alias("unengaged"),
        pl.when(last.is_not_null())
        .then(pl.concat_str(_whole_days(last, as_of).cast(pl.String), pl.lit("d")))
        .alias("recency"),
        _frequency(rules).alias("frequency"),
    )
    counts = {
        "events_up_to_as_of": upto.height,
        "events_after_as_of": events.height - upto.height,
        "events_for_unknown_contacts": upto.height - mine.height,
        "events_counted": counted.height,
        "status_changes": changes.height,
        **window_failures(counted, rules, as_of),
    }
    return Scored(
        scored.drop("__engagements").with_columns(
            pl.col(c).cast(t) for c, t in ENGAGEMENT_SCHEMA.items()
        ),
        counts,
        changes.drop(K),
    )


def _no_changes() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "email_key": pl.String,
            "from_status": pl.String,
            "status": pl.String,
            "status_reason": pl.String,
            "status_changed_at": UTC,
        }
    )
