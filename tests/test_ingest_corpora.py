"""The readers against third-party corpora: csv-spectrum, DuckDB's CSV edge and
fuzz files, and DuckDB's broken Parquet files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest
from paths import CORPORA

from listhygiene.errors import InputFileError
from listhygiene.ingest import ROW, read_one
from listhygiene.ingest.csv_reader import read_csv

SPECTRUM = CORPORA / "csv" / "csv-spectrum"
DUCK_CSV = CORPORA / "csv" / "duckdb"
DUCK_PARQUET = CORPORA / "parquet" / "duckdb"


def _index(folder: Path) -> list[dict[str, str]]:
    with (folder / "INDEX.tsv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _records(frame: pl.DataFrame) -> list[dict[str, str]]:
    return [
        {k: (v if v is not None else "") for k, v in r.items() if k != ROW}
        for r in frame.iter_rows(named=True)
    ]


@pytest.mark.parametrize("name", sorted(p.stem for p in (SPECTRUM / "csvs").glob("*.csv")))
def test_csv_spectrum_loads_to_its_expected_json(name: str, rules) -> None:
    expected = json.loads((SPECTRUM / "json" / f"{name}.json").read_text(encoding="utf-8"))
    table = read_csv(SPECTRUM / "csvs" / f"{name}.csv", f"{name}.csv", rules.ingest)
    assert _records(table.frame) == expected
    assert table.rejects == []
    # rows are what a spreadsheet shows: header = 1, one row per record
    assert table.frame[ROW].to_list() == list(range(2, 2 + len(expected)))


DUCK_ROWS = _index(DUCK_CSV)


@pytest.mark.parametrize("entry", DUCK_ROWS, ids=[r["file"] for r in DUCK_ROWS])
def test_duckdb_csv_corpus_loads_or_fails_cleanly(entry: dict[str, str], rules) -> None:
    """Every edge and fuzz file either loads (every row accounted for) or stops with a
    sentence naming the file; never another exception. Where the fast DuckDB path read
    the file, the exact Python path must give the very same table."""
    path = DUCK_CSV / entry["file"]
    try:
        table = read_one(path, entry["file"], rules.ingest)
    except InputFileError as exc:
        assert str(exc).startswith(entry["file"] + ": ")
        assert str(exc).endswith(".")
        return
    assert table.input_rows == table.frame.height + len(table.rejects)
    rows = table.frame[ROW].to_list() + [r.row for r in table.rejects]
    assert len(rows) == len(set(rows)), "a row number was used twice"
    if table.reader == "duckdb":
        exact = read_csv(path, entry["file"], rules.ingest, exact=True)
        assert exact.reader == "python"
        assert exact.columns == table.columns
        assert exact.frame.equals(table.frame)
        assert [(r.row, r.reason) for r in exact.rejects] == [
            (r.row, r.reason) for r in table.rejects
        ]


PARQUET_ROWS = _index(DUCK_PARQUET)


@pytest.mark.parametrize("entry", PARQUET_ROWS, ids=[r["file"] for r in PARQUET_ROWS])
def test_broken_parquet_fails_cleanly(entry: dict[str, str], rules) -> None:
    """Corrupt files stop with one sentence; invalid UTF-8 strings reject just their rows."""
    path = DUCK_PARQUET / entry["file"]
    if "invalid UTF-8" in entry["exercises"]:
        table = read_one(path, entry["file"], rules.ingest)
        assert [r.reason for r in table.rejects] == ["undecodable_bytes"]
        assert table.rejects[0].row == 1
        assert table.input_rows == table.frame.height + 1
        assert all(v.isprintable() for v in table.frame["X1"].to_list())
        return
    with pytest.raises(InputFileError) as info:
        read_one(path, entry["file"], rules.ingest)
    message = str(info.value)
    assert message.startswith(entry["file"] + ": not a readable Parquet file (")
    assert message.endswith("Write the file again, or export the list as CSV.")
