"""contacts.parquet and contacts.csv: one row per person, the contract's columns;
scores.csv: seed 000's score and factors per person.

Without --events the engagement columns are empty: nothing is known.
"""

from __future__ import annotations

import polars as pl

COLUMNS = (
    "email",
    "email_key",
    "first_name",
    "last_name",
    "phone",
    "company",
    "job_title",
    "tags",
    "custom_fields",
    "social_profiles",
    "source",
    "status",
    "status_reason",
    "verdict",
    "verdict_reason",
    "did_you_mean",
    "role_account",
    "disposable",
    "free_provider",
    "score",
    "tier",
    "engagement",
    "sends",
    "opens",
    "clicks",
    "open_rate",
    "click_rate",
    "last_opened_at",
    "last_engagement_at",
    "days_inactive",
    "unengaged",
    "created_at",
    "source_file",
    "source_row",
)


SCORE_COLUMNS = (
    "email",
    "email_key",
    "score",
    "tier",
    "open_rate",
    "click_rate",
    "recency",
    "frequency",
    "engagement",
)
ISO = "%Y-%m-%dT%H:%M:%SZ"
TIMES = ("last_opened_at", "last_engagement_at", "created_at")


def contacts_table(contacts: pl.DataFrame) -> pl.DataFrame:
    """The Parquet shape: tags as a list, custom fields and social profiles as JSON text."""
    return contacts.select(COLUMNS)


def contacts_csv(contacts: pl.DataFrame) -> pl.DataFrame:
    """The CSV shape: tags `;`-joined, times as ISO 8601 UTC (`2024-03-12T09:14:00Z`)."""
    return contacts_table(contacts).with_columns(
        pl.col("tags").list.join(";"),
        *(pl.col(c).dt.strftime(ISO) for c in TIMES),
    )


def scores_csv(contacts: pl.DataFrame) -> pl.DataFrame:
    """Seed 000's `GET /v1/contacts/:id/score` per contact, flattened: score, tier and the
    factors openRate, clickRate, recency and frequency."""
    return contacts.select(SCORE_COLUMNS)
