"""The reject record: one row of rejects.csv (contract columns, plus a stable reason code)."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

REJECT_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.String(),
    "row": pl.Int64(),
    "email": pl.String(),
    "field": pl.String(),
    "error": pl.String(),
    "reason": pl.String(),
}
REJECT_COLUMNS = tuple(REJECT_SCHEMA)


class RejectRecord(pa.DataFrameModel):
    source_file: str = pa.Field(nullable=False, str_length={"min_value": 1})
    row: pl.Int64 = pa.Field(ge=1)
    email: str = pa.Field(nullable=True)
    field: str = pa.Field(nullable=False, str_length={"min_value": 1})
    error: str = pa.Field(nullable=False, str_length={"min_value": 1})
    # snake_case codes a script can group by, e.g. ragged_row, undecodable_bytes
    reason: str = pa.Field(nullable=False, str_matches=r"^[a-z][a-z0-9_]*$")

    class Config:
        strict = True
        ordered = True
