"""pandera models of every payload record, one per target, checked on the records'
fields (named as the target names them) before any payload is written.

They restate the documented limits of the seeds, so a bug in the limit code cannot
write a body the target would refuse: misar-io's field lengths and custom-field size
(seed 003), misar-mail's 50 tags (seed 001), the statuses each target documents.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

EMAIL = {"min_value": 3, "max_value": 254}


class _Base(pa.DataFrameModel):
    email: str = pa.Field(str_length=EMAIL, str_contains="@")

    class Config:
        strict = True


class MisarmailContact(_Base):
    """seed 000 `POST /v1/contacts/import` contacts[]."""

    firstName: str = pa.Field(nullable=True)
    lastName: str = pa.Field(nullable=True)
    phone: str = pa.Field(nullable=True)
    tags: pl.List(pl.String) = pa.Field(nullable=True)
    metadata: str = pa.Field(nullable=True, str_startswith="{")
    status: str = pa.Field(isin=["active", "unsubscribed"])


class MisarMailContact(_Base):
    """seed 001 `POST /api/v1/contacts/import` contacts[]."""

    firstName: str = pa.Field(nullable=True)
    lastName: str = pa.Field(nullable=True)
    phone: str = pa.Field(nullable=True)
    tags: pl.List(pl.String) = pa.Field(nullable=True)
    customFields: str = pa.Field(nullable=True, str_startswith="{")
    status: str = pa.Field(isin=["subscribed", "unsubscribed", "bounced", "complained"])

    @pa.check("tags", name="at_most_50_tags")
    @classmethod
    def at_most_50_tags(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col(data.key).list.len().fill_null(0) <= 50)


class MisarIoContact(_Base):
    """seed 003 `POST /io/contacts/contacts?upsert=1` body."""

    firstName: str = pa.Field(nullable=True, str_length={"max_value": 100})
    lastName: str = pa.Field(nullable=True, str_length={"max_value": 100})
    phone: str = pa.Field(nullable=True, str_length={"max_value": 50})
    company: str = pa.Field(nullable=True, str_length={"max_value": 150})
    jobTitle: str = pa.Field(nullable=True, str_length={"max_value": 100})
    socialProfiles: str = pa.Field(nullable=True, str_startswith="{")
    status: str = pa.Field(isin=["subscribed", "unsubscribed", "bounced", "complained"])
    customFields: str = pa.Field(nullable=True, str_startswith="{")
    source: str = pa.Field(nullable=True, str_length={"max_value": 100})

    @pa.check("customFields", name="at_most_8192_bytes")
    @classmethod
    def at_most_8192_bytes(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col(data.key).str.len_bytes().fill_null(0) <= 8192)


class MailerdashContact(_Base):
    """seed 004 `POST /v1/bulk/contacts/import` items."""

    name: str = pa.Field(nullable=True)
    metadata: str = pa.Field(nullable=True, str_startswith="{")
