"""The canonical contact after validation: one row per accepted input row.

The checks are invariants the stages before guarantee (field limits are the
rules' business, so they are not repeated here). A row that fails one is
rejected with reason `schema_check` instead of ending the run: it points at
a bug in a stage, and the row is kept in rejects.csv rather than lost.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

STATUSES = ("active", "unsubscribed", "bounced", "complained")
_NO_CONTROLS = r"^[^\x00-\x1f\x7f]*$"  # cleaned text holds no control characters
UTC_US = pl.Datetime("us", "UTC")


class ValidatedContact(pa.DataFrameModel):
    source_file: str = pa.Field(str_length={"min_value": 1})
    source_row: pl.Int64 = pa.Field(ge=1)
    email: str = pa.Field(str_length={"min_value": 3, "max_value": 254}, str_contains="@")
    email_key: str = pa.Field(str_contains="@", str_matches=r"^[^A-Z]*$")
    first_name: str = pa.Field(nullable=True, str_matches=_NO_CONTROLS)
    last_name: str = pa.Field(nullable=True, str_matches=_NO_CONTROLS)
    phone: str = pa.Field(nullable=True)
    phone_valid: bool = pa.Field(nullable=True)  # null: no phone
    company: str = pa.Field(nullable=True, str_matches=_NO_CONTROLS)
    job_title: str = pa.Field(nullable=True, str_matches=_NO_CONTROLS)
    tags: pl.List(pl.String) = pa.Field(nullable=True)  # null: no tags cell
    source: str = pa.Field(nullable=True)
    status: str = pa.Field(isin=list(STATUSES))
    status_reason: str = pa.Field(nullable=True)
    status_changed_at: UTC_US = pa.Field(nullable=True)  # type: ignore[valid-type]
    created_at: UTC_US = pa.Field(nullable=True)  # type: ignore[valid-type]
    last_changed: UTC_US = pa.Field(nullable=True)  # type: ignore[valid-type]
    external_id: str = pa.Field(nullable=True)
    social_profiles: str = pa.Field(nullable=True, str_startswith="{")
    custom_fields: str = pa.Field(nullable=True, str_startswith="{")

    @pa.dataframe_check
    def tags_are_trimmed_and_not_empty(cls, data: pa.PolarsData) -> pl.LazyFrame:
        tags = pl.col("tags")
        ok = tags.list.eval((pl.element().str.strip_chars() == pl.element()) & (pl.element() != ""))
        return data.lazyframe.select(ok.list.all().fill_null(True).alias("tags"))

    class Config:
        strict = False  # stages may carry helper columns; the model names what must be there


__all__ = ["STATUSES", "ValidatedContact"]
