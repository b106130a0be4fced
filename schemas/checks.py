"""Run a pandera model over a polars frame so that every data check runs and every
failure comes back as a row position, never as an exception that ends the run.

pandera validates only the *schema* of a polars LazyFrame unless the validation
depth is SCHEMA_AND_DATA for that call, even when the global default says
otherwise; `failed_rows` sets it explicitly (tests/test_schemas.py proves it).
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl
from pandera.config import ValidationDepth, config_context


def failed_rows(model: type[pa.DataFrameModel], frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """One row per failed check: `index` (row position, null for a schema-level failure),
    `column`, `check` and `failure_case` (the offending value as text)."""
    lf = frame.lazy() if isinstance(frame, pl.DataFrame) else frame
    empty = pl.DataFrame(
        schema={
            "index": pl.Int64,
            "column": pl.String,
            "check": pl.String,
            "failure_case": pl.String,
        }
    )
    with config_context(validation_depth=ValidationDepth.SCHEMA_AND_DATA):
        try:
            model.validate(lf, lazy=True)
        except pa.errors.SchemaErrors as exc:
            cases = exc.failure_cases
            return cases.select(
                pl.col("index").cast(pl.Int64),
                pl.col("column").cast(pl.String),
                pl.col("check").cast(pl.String),
                pl.col("failure_case").cast(pl.String),
            )
    return empty
