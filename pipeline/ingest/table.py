"""What every reader returns: one file's rows as text, plus its rejects."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import polars as pl
import pyarrow as pa

from ..errors import InputFileError
from ..ruleset import IngestRules

ROW = "__row"  # the row number a spreadsheet shows (header = 1), or the 1-based record number


@dataclass
class RowReject:
    """An input row that could not be read. `fields` keeps what was read, if anything."""

    source_file: str
    row: int
    field: str
    error: str
    reason: str  # stable code, e.g. "ragged_row"
    fields: list[str] | None = None
    email: str = ""


@dataclass
class RawTable:
    """One input file (or archive member) read into text columns.

    `frame` has the Int64 column `__row` and one String column per header
    name in file order; empty cells are null. Every data row is either in
    `frame` or in `rejects`; blank rows (no cell with a value) are counted in
    `blank_rows` and are not data rows.
    """

    source_file: str
    format: str  # csv | parquet | json | ndjson
    sha256: str
    size_bytes: int
    columns: list[str]
    frame: pl.DataFrame
    rejects: list[RowReject] = field(default_factory=list)
    blank_rows: int = 0
    encoding: str | None = None
    delimiter: str | None = None
    reader: str = ""  # which path read it: duckdb | python | pyarrow | json
    warnings: list[str] = field(default_factory=list)

    @property
    def input_rows(self) -> int:
        return self.frame.height + len(self.rejects)


def header_names(raw: list[str]) -> list[str]:
    """Column names as users will see them: trailing unnamed columns dropped,
    other unnamed ones called `column_N` (1-based), repeats suffixed ` (2)`."""
    names = list(raw)
    while len(names) > 1 and not names[-1].strip() and any(n.strip() for n in names):
        names.pop()
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        base = name if name.strip() else f"column_{i}"
        if base == ROW:
            base = f"{ROW}_"
        n = seen.get(base.casefold(), 0) + 1
        seen[base.casefold()] = n
        out.append(base if n == 1 else f"{base} ({n})")
    return out


def check_width(count: int, rules: IngestRules, source_file: str, what: str = "columns") -> None:
    """A whole-file error for a table wider than the rules allow (it would exhaust memory)."""
    if count > rules.max_columns:
        raise InputFileError(
            f"{source_file}: the file has {count:,} {what}, over the limit of "
            f"{rules.max_columns:,} (rules ingest.toml [limits] max_columns). Remove unused "
            f"{what} or raise the limit."
        )


# What reading a DuckDB relation through Arrow's stream raises when DuckDB objects to
# the input: a line it refuses surfaces when the batch holding it is fetched, as OSError
# (or an Arrow error), not always as duckdb.Error.
READ_ERRORS = (duckdb.Error, pa.ArrowException, OSError)


def owned_frame(
    relation: duckdb.DuckDBPyRelation, batch_rows: int = 1 << 20
) -> pl.DataFrame | None:
    """The query's rows as a polars frame whose strings are in polars' own buffers; None
    for no rows.

    Fetched in batches, each copied as it arrives: a column polars takes over from
    DuckDB's Arrow result keeps that whole result alive (every column), and so does any
    column sliced or trimmed from it later; the full result of 10M events is ~2 GB, its
    copy ~1.6 GB, and a batch at a time never holds both."""
    parts = []
    for batch in relation.to_arrow_reader(batch_rows):
        part = pl.from_arrow(batch)
        assert isinstance(part, pl.DataFrame)
        parts.append(owned_frame_of(part))
    return pl.concat(parts) if parts else None


def owned_frame_of(part: pl.DataFrame) -> pl.DataFrame:
    """`part` with its strings copied into buffers of polars' own (see owned_frame)."""
    return part.select(
        pl.concat_str(pl.col(c), pl.lit("")).alias(c) if t == pl.String else pl.col(c)
        for c, t in part.schema.items()
    )
