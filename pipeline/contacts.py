"""contacts.parquet and contacts.csv: one row per person, the contract's columns.

The engagement columns of the contract (score, tier, engagement, sends, opens,
clicks, rates, last_opened_at, last_engagement_at, days_inactive, unengaged)
arrive with the scoring stage; the other columns are here in contract order.
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
    "created_at",
    "source_file",
    "source_row",
)


def contacts_table(contacts: pl.DataFrame) -> pl.DataFrame:
    """The Parquet shape: tags as a list, custom fields and social profiles as JSON text."""
    return contacts.select(COLUMNS)


def contacts_csv(contacts: pl.DataFrame) -> pl.DataFrame:
    """The CSV shape: tags `;`-joined, times as ISO 8601 UTC (`2024-03-12T09:14:00Z`)."""
    return contacts_table(contacts).with_columns(
        pl.col("tags").list.join(";"),
        pl.col("created_at").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
