"""A table's rows in their output order, read a chunk at a time: what lets the row
outputs (contacts.csv, scores.csv, the lists) be written without holding the table.

The embedded engine has its tables in memory and reads them as slices. The Spark
engine's driver has each shard's part on disk, sorted within itself; DuckDB sorts the
parts into one local Parquet file (out of core: it spills past its memory limit), which
every output then scans in order. The writers (outputs.OutputDir.write_*_chunks) give
the same bytes whatever the chunks' sizes, so both engines write identical files.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

CHUNK_ROWS = 100_000  # rows per chunk: bounded memory, and few enough calls per output
# The driver's sort: DuckDB's memory cap before it spills to its temporary folder.
SORT_MEMORY = "1GB"


@dataclass(frozen=True)
class OrderedRows:
    """Rows of `schema`, `height` of them, in order: a frame in memory, or a sorted
    Parquet file."""

    schema: dict[str, pl.DataType]
    height: int
    frame: pl.DataFrame | None = None
    path: Path | None = None

    @classmethod
    def of(cls, frame: pl.DataFrame) -> OrderedRows:
        return cls(dict(frame.schema), frame.height, frame=frame)

    def chunks(
        self, columns: Sequence[str] | None = None, rows: int | None = None
    ) -> Iterator[pl.DataFrame]:
        """The rows in order (only `columns`, if given), CHUNK_ROWS at a time unless
        `rows` says; always at least one chunk, empty for no rows, so a writer has the
        columns."""
        rows = rows or CHUNK_ROWS
        names = list(columns) if columns is not None else list(self.schema)
        if self.frame is not None:
            frame = self.frame.select(names)
            yield frame.head(0) if frame.is_empty() else frame.slice(0, rows)
            for lo in range(rows, frame.height, rows):
                yield frame.slice(lo, rows)
            return
        assert self.path is not None
        schema = {n: self.schema[n] for n in names}
        yield pl.DataFrame(schema=schema)  # the columns, even for no rows
        with pq.ParquetFile(self.path) as f:
            for batch in f.iter_batches(rows, columns=names):
                yield pl.from_arrow(batch).cast(schema)  # type: ignore[union-attr]


def sorted_parts(
    parts: list[Path],
    order_by: str,
    schema: dict[str, pl.DataType],
    dest: Path,
) -> OrderedRows:
    """The rows of the Parquet files `parts` sorted by the SQL `order_by` (a total order:
    ties would leave the order to DuckDB), written to `dest` and read from there; `dest`'s
    folder also holds DuckDB's spilled runs while it sorts. Columns are matched by name:
    a part whose column is all null and untyped takes the other parts' type."""
    import duckdb

    dest.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={"temp_directory": str(dest.parent / "duckdb.tmp")})
    try:
        con.execute(f"SET memory_limit = '{SORT_MEMORY}'")
        con.execute("SET preserve_insertion_order = true")
        con.execute("SET TimeZone = 'UTC'")
        files = [str(p) for p in parts]
        columns = ", ".join(f'"{c}"' for c in schema)
        if files:
            con.execute(
                f"COPY (SELECT {columns} FROM read_parquet(?, union_by_name = true) "
                f"ORDER BY {order_by}) TO '{_sql_text(dest)}' "
                f"(FORMAT parquet, ROW_GROUP_SIZE {CHUNK_ROWS})",
                [files],
            )
            height = pq.ParquetFile(dest).metadata.num_rows
        else:
            pl.DataFrame(schema=schema).write_parquet(dest)
            height = 0
    finally:
        con.close()
    return OrderedRows(schema, height, path=dest)


def _sql_text(path: Path) -> str:
    return str(path).replace("'", "''")
