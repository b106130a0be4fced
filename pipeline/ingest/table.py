"""What every reader returns: one file's rows as text, plus its rejects."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

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
