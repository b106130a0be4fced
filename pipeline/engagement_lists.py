"""unengaged.csv, the win-back files and suppress_candidates.csv (seed 002's
recommended flow, offline): who to win back, and who did not answer the last try."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import polars as pl

from .scoring import ENGAGED, UTC
from .scoring_rules import ScoringRules

UNENGAGED_COLUMNS = ("id", "email", "status", "last_opened_at", "days_inactive", "engagement_score")
AUDIENCE_COLUMNS = (
    "id",
    "email",
    "first_name",
    "last_name",
    "last_opened_at",
    "days_inactive",
    "engagement_score",
)
CANDIDATE_COLUMNS = (
    "id",
    "email",
    "status",
    "winback_campaign_id",
    "sent_at",
    "last_opened_at",
    "days_inactive",
    "engagement_score",
)
# Each list is made with its sort key, `email_key`, as its last column: lists made per
# shard are merged by it (INACTIVE_FIRST_SQL), and it is dropped when the list is written.
SORT_KEY = "email_key"
INACTIVE_FIRST_SQL = '"days_inactive" DESC NULLS FIRST, "email_key"'  # most_inactive_first


def _with_ids(contacts: pl.DataFrame, account: pl.DataFrame | None) -> pl.DataFrame:
    """`id`: the account's id for the contact (from --existing), else empty."""
    if account is None:
        return contacts.with_columns(pl.lit(None, pl.String).alias("id"))
    ids = account.select("email_key", pl.col("account_id").alias("id"))
    return contacts.join(ids, on="email_key", how="left", maintain_order="left")


def most_inactive_first(frame: pl.DataFrame) -> pl.DataFrame:
    # Unknown inactivity (never engaged, no created_at) counts as the longest; email_key
    # makes the order total, so lists sorted per shard merge into the same list.
    return frame.sort("days_inactive", "email_key", descending=[True, False], nulls_last=False)


def unengaged(contacts: pl.DataFrame, account: pl.DataFrame | None) -> pl.DataFrame:
    """Seed 002's unengaged contacts: UNENGAGED_COLUMNS and SORT_KEY; most inactive
    first."""
    rows = _with_ids(contacts.filter(pl.col("unengaged").fill_null(False)), account)
    return most_inactive_first(rows).select(
        *UNENGAGED_COLUMNS[:-1], pl.col("score").alias("engagement_score"), SORT_KEY
    )


def winback_audience(contacts: pl.DataFrame, account: pl.DataFrame | None) -> pl.DataFrame:
    """Seed 002's win-back audience: the unengaged contacts whose address is not known to
    be undeliverable (verdict `invalid` is left out); AUDIENCE_COLUMNS and SORT_KEY."""
    chosen = pl.col("unengaged").fill_null(False) & (pl.col("verdict") != "invalid")
    return most_inactive_first(_with_ids(contacts.filter(chosen), account)).select(
        *AUDIENCE_COLUMNS[:-1], pl.col("score").alias("engagement_score"), SORT_KEY
    )


def winback(
    campaign_id: str, targeted: int, threshold_days: int, as_of: datetime
) -> dict[str, Any]:
    """Seed 002's win-back answer, for an audience of `targeted` contacts."""
    return {
        "campaignId": campaign_id,
        "targetedContacts": targeted,
        "thresholdDays": threshold_days,
        "scheduledAt": as_of.isoformat().replace("+00:00", "Z"),
    }


def suppress_candidates(
    contacts: pl.DataFrame,
    account: pl.DataFrame | None,
    events: pl.DataFrame | None,
    campaigns: tuple[str, ...],
    rules: ScoringRules,
    as_of: datetime,
) -> pl.DataFrame:
    """Active contacts sent one of `campaigns` (an earlier win-back) who made no human open,
    click or reply within `response_days` after that send; only sends whose response
    window has closed by as_of are judged. CANDIDATE_COLUMNS and SORT_KEY."""
    schema = {
        "id": pl.String,
        "email": pl.String,
        "status": pl.String,
        "winback_campaign_id": pl.String,
        "sent_at": UTC,
        "last_opened_at": UTC,
        "days_inactive": pl.Int64,
        "engagement_score": pl.Int64,
        SORT_KEY: pl.String,
    }
    if events is None or not campaigns:
        return pl.DataFrame(schema=schema)
    response = timedelta(days=rules.response_days)
    ev = events.lazy().filter(pl.col("timestamp") <= pl.lit(as_of, UTC))
    sends = (
        ev.filter(
            pl.col("event").is_in(["send", "delivered"])
            & pl.col("campaign_id").is_in(list(campaigns))
        )
        .group_by("email_key", "campaign_id")
        .agg(pl.col("timestamp").min().alias("sent_at"))
        .filter(pl.col("sent_at") + response <= pl.lit(as_of, UTC))
    )
    human = ~pl.col("machine_open").fill_null(False) | pl.lit(rules.count_machine_opens)
    answers = ev.filter(pl.col("event").is_in(ENGAGED) & human).select(
        "email_key", pl.col("timestamp").alias("t")
    )
    answered = (
        sends.join(answers, on="email_key", how="inner")
        .filter((pl.col("t") > pl.col("sent_at")) & (pl.col("t") <= pl.col("sent_at") + response))
        .select("email_key", "campaign_id")
        .unique()
    )
    silent = (
        sends.join(answered, on=["email_key", "campaign_id"], how="anti")
        .sort("sent_at", descending=True)
        .group_by("email_key")
        .first()  # the latest win-back each silent contact got
        .collect()
    )
    rows = contacts.filter(pl.col("status") == "active").join(
        silent, on="email_key", how="inner", maintain_order="left"
    )
    return (
        most_inactive_first(_with_ids(rows, account))
        .select(
            "id",
            "email",
            "status",
            pl.col("campaign_id").alias("winback_campaign_id"),
            "sent_at",
            "last_opened_at",
            "days_inactive",
            pl.col("score").alias("engagement_score"),
            SORT_KEY,
        )
        .cast(schema)
    )
