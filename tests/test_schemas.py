"""pandera on polars: data checks must really run, and failures must come back as rows."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from listhygiene.schemas import RejectRecord
from listhygiene.schemas.checks import failed_rows


class Small(pa.DataFrameModel):
    n: int = pa.Field(ge=0)
    s: str = pa.Field(str_length={"max_value": 3})


def test_plain_lazyframe_validation_skips_data_checks_which_is_why_failed_rows_exists():
    lf = pl.LazyFrame({"n": [1, -1], "s": ["ab", "abcd"]})
    Small.validate(lf, lazy=True)  # pandera's default: schema only, the bad rows pass unseen
    failures = failed_rows(Small, lf)
    assert sorted(zip(failures["index"].to_list(), failures["column"].to_list(), strict=True)) == [
        (1, "n"),
        (1, "s"),
    ]
    assert set(failures["check"].to_list()) == {
        "greater_than_or_equal_to(0)",
        "str_length(None, 3)",
    }


def test_failed_rows_is_empty_for_good_data_and_reports_schema_errors_without_index():
    assert failed_rows(Small, pl.DataFrame({"n": [0], "s": ["abc"]})).height == 0
    missing = failed_rows(Small, pl.DataFrame({"n": [0]}))
    assert missing.rows() == [(None, "Small", "column_in_dataframe", "s")]


def test_reject_record_model_checks_reason_codes():
    bad = pl.DataFrame(
        {
            "source_file": ["a.csv"],
            "row": [0],
            "email": [None],
            "field": ["email"],
            "error": ["x."],
            "reason": ["Bad Code"],
        },
        schema={
            "source_file": pl.String,
            "row": pl.Int64,
            "email": pl.String,
            "field": pl.String,
            "error": pl.String,
            "reason": pl.String,
        },
    )
    failures = failed_rows(RejectRecord, bad)
    assert sorted(failures["column"].to_list()) == ["reason", "row"]
