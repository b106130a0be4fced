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

from .events.normalize import NormalizedEvents
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


def _human(rules: ScoringRules) -> pl.Expr:
    if rules.count_machine_opens:
        return pl.lit(True)
    return ~pl.col("machine_open").fill_null(False)


def _tier(rules: ScoringRules) -> pl.Expr:
    expr = pl.lit(rules.tiers[-1][0])
    for name, low in reversed(rules.tiers[:-1]):
        expr = pl.when(pl.col("score") >= low).then(pl.lit(name)).otherwise(expr)
    return expr


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


def _units(counted: pl.DataFrame, codes: dict[str, int]) -> pl.DataFrame:
    """One row per unit that can count: a (contact, type, campaign) with the latest time
    of its events when the campaign is known, else the event itself; `__e` is the
    type's code in `codes`.

    A filter of the form `t > start` keeps a (contact, type, campaign) group's one event
    exactly when its latest event passes, so counting units that pass the window (or a
    rule's expiry) is counting the events left after "filter, then one per type per
    (contact, campaign)". Grouped on one exact 64-bit integer: the contact's row number,
    the type's code and the campaign's categorical code (string interning, no hashing)."""
    camp = counted.get_column("campaign_id")
    known = camp.is_not_null()
    typed = counted.select(
        K,
        pl.col("event").replace_strict(codes, return_dtype=pl.UInt64).alias("__e"),
        "timestamp",
    )
    grouped = typed.filter(known)
    camp_code = camp.filter(known).cast(pl.Categorical).to_physical().cast(pl.UInt64)
    if len(codes) > 255 or (camp_code.len() and camp_code.max() >= 1 << 24):  # by columns
        with_campaign = (
            grouped.with_columns(camp_code.alias("__c"))
            .group_by(K, "__e", "__c")
            .agg(pl.col("timestamp").max())
            .drop("__c")
        )
    else:
        key = pl.col(K).cast(pl.UInt64) * (1 << 32) + pl.col("__e") * (1 << 24) + camp_code
        with_campaign = (
            grouped.group_by(key.alias("__key"))
            .agg(pl.col("timestamp").max())
            .select(
                (pl.col("__key") // (1 << 32)).cast(pl.UInt32).alias(K),
                (pl.col("__key") // (1 << 24) % 256).alias("__e"),
                "timestamp",
            )
        )
    return pl.concat([with_campaign, typed.filter(~known)], how="vertical")


def _per_contact(counted: pl.DataFrame, rules: ScoringRules, as_of: datetime) -> pl.DataFrame:
    """K -> score, sends, opens, clicks, engagements (within the factor window) and the
    last human open and engagement of all time, over the counted events.

    Each unit's contributions are worked out as plain columns first, so the group-by
    only sums and takes maxima (polars' fast aggregations)."""
    names = list(dict.fromkeys([*rules.event_names, *ENGAGED, "send", "delivered"]))
    codes = {n: i for i, n in enumerate(names)}
    units = _units(counted, codes)
    e, t = pl.col("__e"), pl.col("timestamp")
    live = pl.lit(False)
    for p in rules.points:
        alive = pl.lit(True) if p.decay_days == 0 else _within(p.decay_days, as_of)
        live = live | ((e == codes[p.event]) & alive)
    worth = e.replace_strict(
        {codes[p.event]: p.points for p in rules.points}, default=0, return_dtype=pl.Int64
    )
    win = _within(rules.window_days, as_of)
    engaged = e.is_in([codes[n] for n in ENGAGED])

    def n(cond: pl.Expr) -> pl.Expr:
        return cond.cast(pl.UInt32)

    per = (
        units.select(
            K,
            pl.when(live).then(worth).otherwise(0).alias("score"),
            n(live).alias("__scored"),
            n((e == codes["send"]) & win).alias("__send"),
            n((e == codes["delivered"]) & win).alias("__delivered"),
            n((e == codes["open"]) & win).alias("opens"),
            n((e == codes["click"]) & win).alias("clicks"),
            n(engaged & win).alias("__engagements"),
            n(win).alias("__in_window"),
            n((e == codes["bounce"]) & win).alias("__hard_bounces"),
            n((e == codes["complaint"]) & win).alias("__complaints"),
            pl.when(e == codes["open"]).then(t).alias("last_opened_at"),
            pl.when(engaged).then(t).alias("last_engagement_at"),
        )
        .group_by(K)
        .agg(
            pl.col("score", "__scored", "__send", "__delivered", "opens", "clicks").sum(),
            pl.col("__engagements", "__in_window", "__hard_bounces", "__complaints").sum(),
            pl.col("last_opened_at", "last_engagement_at").max(),
        )
    )
    # As before: no score row (0 after the join) without a live scored event, and null
    # factors (0 after the join) without a counted event in the window.
    window = pl.col("__in_window") > 0
    return per.select(  # the column order the contacts have always had
        K,
        "last_opened_at",
        "last_engagement_at",
        pl.when(window)
        .then(pl.max_horizontal("__send", "__delivered").cast(pl.Int64))
        .alias("sends"),
        *(pl.when(window).then(pl.col(c).cast(pl.Int64)).alias(c) for c in ("opens", "clicks")),
        pl.when(window).then("__engagements").alias("__engagements"),
        pl.when(pl.col("__scored") > 0).then(pl.col("score").clip(0, 100)).alias("score"),
        "__hard_bounces",
        "__complaints",
    )


def _event_ids_once(frame: pl.DataFrame, mask: pl.Series) -> pl.Series:
    """`mask`, less the repeats of an event_id for the same contact among the masked rows
    (the first occurrence in input order stays); rows without an event_id all stay. Per
    contact, so a contact's events decide its score alone, whichever shard holds them."""
    ids = frame.get_column("event_id")
    has = mask & ids.is_not_null()
    if not has.any():
        return mask
    first = first_occurrences(frame.filter(has).select(K, "event_id"), [K, "event_id"])
    return mask.scatter(has.arg_true(), first)


def contacts_scored(
    contacts: pl.DataFrame,
    events: NormalizedEvents | pl.DataFrame | None,
    rules: ScoringRules,
    precedence: list[str],
    as_of: datetime,
    threshold_days: int,
) -> Scored:
    """The contacts with their engagement columns and event-made statuses.

    Without events (`None`) the engagement columns stay empty: nothing is known.
    `events` is the normalize stage's result, or an EVENT_SCHEMA frame.
    """
    if events is None:
        empty = [pl.lit(None, t).alias(c) for c, t in ENGAGEMENT_SCHEMA.items()]
        return Scored(contacts.with_columns(empty), {}, _no_changes())
    if isinstance(events, pl.DataFrame):
        events = NormalizedEvents.from_events(events)
    frame = events.compact
    # Each distinct address's contact (an exact join of at most one row per address),
    # then each event's by its address index.
    per_address = (
        pl.DataFrame({"email_key": events.keys})
        .join(
            contacts.select("email_key").with_row_index(K),
            on="email_key",
            how="left",
            maintain_order="left",
        )
        .get_column(K)
    )
    k = per_address.gather(frame.get_column("__addr"))
    upto = frame.get_column("timestamp") <= as_of
    mine = upto & k.is_not_null()
    frame = frame.with_columns(k.alias(K))

    suppressing = [*SUPPRESSING, "soft_bounce"]
    marked = frame.filter(mine & frame.get_column("event").is_in(suppressing))
    marked = marked.with_columns(
        pl.Series(events.files, dtype=pl.String)
        .gather(marked.get_column("__file"))
        .alias("source_file")
    )
    changes = status_changes(contacts, marked, rules, precedence, as_of)
    with_status = contacts
    if changes.height:  # by row number: a few changed contacts, no join over all of them
        idx = changes.get_column(K)
        with_status = contacts.with_columns(
            *(
                contacts.get_column(col).scatter(idx, changes.get_column(col))
                for col in ("status", "status_reason", "status_changed_at")
            )
        )

    human = mine
    if not rules.count_machine_opens:
        human = mine & ~frame.get_column("machine_open").fill_null(False)
    counted_mask = _event_ids_once(frame, human)
    counted = frame.select(K, "event", "timestamp", "campaign_id").filter(counted_mask)
    per = _per_contact(counted, rules, as_of)
    # hard bounces and complaints in the window, counted as `sends` is (once per contact,
    # type and campaign): with the sum of `sends`, the per-send rates of the health gates
    failures = per.select(
        pl.col("__hard_bounces").sum().alias("window_hard_bounces"),
        pl.col("__complaints").sum().alias("window_complaints"),
    ).row(0, named=True)
    per = per.drop("__hard_bounces", "__complaints")
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
    n_upto, n_mine = int(upto.sum()), int(mine.sum())
    counts = {
        "events_up_to_as_of": n_upto,
        "events_after_as_of": frame.height - n_upto,
        "events_for_unknown_contacts": n_upto - n_mine,
        "events_counted": counted.height,
        "status_changes": changes.height,
        **{k: int(v or 0) for k, v in failures.items()},
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
