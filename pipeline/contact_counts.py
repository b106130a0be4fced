"""What health.json, the report and the manifest need of the final contacts, as small
frames of counts that add up.

The embedded engine counts all contacts at once; the Spark engine counts each shard in
its task and the driver sums the shards' counts (`summed_counts`). Either way the
figures are the same, and no cross-contact output needs the contacts themselves: the
counts grow with the distinct states and domains, not with the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl

# The per-contact states the report and health count, with the type each has in
# contacts.parquet; a frame without one (no events: no score) counts it as null.
STATE_COLUMNS: dict[str, pl.DataType] = {
    "status": pl.String(),
    "status_reason": pl.String(),
    "verdict": pl.String(),
    "verdict_reason": pl.String(),
    "tier": pl.String(),
    "engagement": pl.String(),
    "score": pl.Int64(),
}
FLAGS: dict[str, pl.DataType] = {"engaged": pl.Boolean(), "unengaged": pl.Boolean()}
STATES_SCHEMA = {**STATE_COLUMNS, **FLAGS, "n": pl.Int64()}
DOMAINS_SCHEMA = {"domain": pl.String(), "verdict": pl.String(), "n": pl.Int64()}


@dataclass(frozen=True)
class ContactCounts:
    """`states`: contacts per combination of STATE_COLUMNS and the health flags
    `engaged` (active, with a human open, click or reply after `as_of - threshold_days`)
    and `unengaged` (scoring's flag); `domains`: contacts per address domain and
    verdict; `sends`: the sends the events counted to these contacts."""

    states: pl.DataFrame
    domains: pl.DataFrame
    sends: int

    @property
    def total(self) -> int:
        return int(self.states.get_column("n").sum())

    def of(self, column: str) -> pl.DataFrame:
        """`column`'s values (nulls included) and their contacts, as `value`, `n`."""
        return (
            self.states.group_by(column)
            .agg(pl.col("n").sum())
            .rename({column: "value"})
            .select("value", "n")
        )

    def where(self, condition: pl.Expr) -> ContactCounts:
        """The counts of the contacts whose states meet `condition` (domains dropped)."""
        return ContactCounts(self.states.filter(condition), self.domains.clear(), 0)


def _column(contacts: pl.DataFrame, name: str, dtype: pl.DataType) -> pl.Expr:
    if name in contacts.columns:
        return pl.col(name).cast(dtype)
    return pl.lit(None, dtype).alias(name)


def contact_counts(contacts: pl.DataFrame, as_of: datetime, threshold_days: int) -> ContactCounts:
    """The counts of `contacts` (the final contacts, or one shard of them)."""
    since = pl.lit(as_of - timedelta(days=threshold_days), pl.Datetime("us", UTC))
    active = _column(contacts, "status", pl.String()) == "active"
    engaged = (
        active & (pl.col("last_engagement_at") > since).fill_null(False)
        if "last_engagement_at" in contacts.columns
        else pl.lit(False)
    )
    unengaged = (
        pl.col("unengaged").fill_null(False) if "unengaged" in contacts.columns else pl.lit(False)
    )
    states = (
        contacts.lazy()
        .select(
            *(_column(contacts, c, t) for c, t in STATE_COLUMNS.items()),
            engaged.alias("engaged"),
            unengaged.alias("unengaged"),
        )
        .group_by(*STATE_COLUMNS, "engaged", "unengaged")
        .agg(pl.len().cast(pl.Int64).alias("n"))
        .collect()
    )
    domains = (
        contacts.lazy()
        .select(
            _column(contacts, "email_key", pl.String())
            .str.extract(r"@([^@]*)$")
            .fill_null("(none)")
            .alias("domain"),
            _column(contacts, "verdict", pl.String()).fill_null("unknown").alias("verdict"),
        )
        .group_by("domain", "verdict")
        .agg(pl.len().cast(pl.Int64).alias("n"))
        .collect()
    )
    sends = int(contacts.get_column("sends").sum() or 0) if "sends" in contacts.columns else 0
    return _sorted(ContactCounts(states, domains, sends))


def summed_counts(parts: list[ContactCounts]) -> ContactCounts:
    """The counts of the union of the parts' contacts (each contact in one part)."""
    states = pl.concat([p.states for p in parts], how="vertical") if parts else None
    domains = pl.concat([p.domains for p in parts], how="vertical") if parts else None
    if states is None or domains is None:
        return ContactCounts(
            pl.DataFrame(schema=STATES_SCHEMA), pl.DataFrame(schema=DOMAINS_SCHEMA), 0
        )
    return _sorted(
        ContactCounts(
            states.group_by(*STATE_COLUMNS, "engaged", "unengaged").agg(pl.col("n").sum()),
            domains.group_by("domain", "verdict").agg(pl.col("n").sum()),
            sum(p.sends for p in parts),
        )
    )


def _sorted(c: ContactCounts) -> ContactCounts:
    """One row order for equal counts, however they were summed (group_by's is not fixed)."""
    keys = [*STATE_COLUMNS, "engaged", "unengaged"]
    return ContactCounts(
        c.states.select(*keys, "n").sort(keys, nulls_last=True),
        c.domains.select("domain", "verdict", "n").sort("domain", "verdict"),
        c.sends,
    )
