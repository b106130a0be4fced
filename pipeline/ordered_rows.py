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
    # or Parquet files each already in the order of `key`, merged as they are read
    parts: tuple[Path, ...] = ()
    key: str | None = None

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
        schema = {n: self.schema[n] for n in names}
        yield pl.DataFrame(schema=schema)  # the columns, even for no rows
        if self.key is not None:
            yield from _merged(self.parts, self.key, schema, rows)
            return
        assert self.path is not None
        with pq.ParquetFile(self.path) as f:
            for batch in f.iter_batches(rows, columns=names):
                yield pl.from_arrow(batch).cast(schema)  # type: ignore[union-attr]


def merged_parts(
    parts: list[Path], key: str, schema: dict[str, pl.DataType], dest: Path
) -> OrderedRows:
    """The rows of `parts` in the order of the integer column `key`, each part already in
    that order (a shard's rows in input order): merged as they are read, never sorted
    again. Rows of one key (a contact's several records) keep their order within their
    part, and a key lives in one part (a contact in one shard). A part out of order
    falls back to `sorted_parts`."""
    keys = [pl.read_parquet(p, columns=[key]).get_column(key) for p in parts]
    if not all(k.is_sorted() for k in keys):
        return sorted_parts(parts, f'"{key}"', schema, dest)
    return OrderedRows(schema, sum(k.len() for k in keys), parts=tuple(parts), key=key)


def _merged(
    parts: tuple[Path, ...], key: str, schema: dict[str, pl.DataType], rows: int
) -> Iterator[pl.DataFrame]:
    """The k-way merge of `parts` by `key`, `rows` at a time. The global order is worked
    out from the keys alone (12 bytes a row); a chunk's rows of one part are the next
    ones of that part, so each part is read once, front to back, a batch at a time."""
    if not parts:
        return
    order = (
        pl.concat(
            [
                pl.read_parquet(p, columns=[key]).select(
                    pl.col(key), pl.lit(i, pl.UInt32).alias("__part")
                )
                for i, p in enumerate(parts)
            ]
        )
        .sort(key, maintain_order=True)
        .get_column("__part")
    )
    # each part read in batches of its share of a chunk: 8 parts read 100k rows at a time
    # would hold 800k rows' columns
    batch = max(1024, rows // len(parts))
    streams = [_Rows(p, schema, batch) for p in parts]
    for lo in range(0, order.len(), rows):
        chunk = pl.DataFrame({"__part": order.slice(lo, rows)})
        counts = chunk.get_column("__part").value_counts().sort("__part")
        pieces, start = [], {}
        offset = 0
        for part, n in counts.iter_rows():
            pieces.append(streams[part].take(n))
            start[part] = offset
            offset += n
        joined = pl.concat(pieces, how="vertical") if len(pieces) > 1 else pieces[0]
        # each row's place in `joined`: its part's first, plus its rank within its part
        at = chunk.select(
            pl.col("__part").replace_strict(start, return_dtype=pl.Int64)
            + pl.int_range(pl.len(), dtype=pl.Int64).over("__part")
        ).to_series()
        yield joined.select(pl.all().gather(at))


class _Rows:
    """A Parquet file's rows, front to back, `take(n)` at a time."""

    def __init__(self, path: Path, schema: dict[str, pl.DataType], rows: int):
        # by name, as DuckDB's union_by_name: a column the part lacks is null, and one it
        # holds untyped (all null) takes the schema's type
        present = set(pq.read_schema(path).names)
        self.batches = pq.ParquetFile(path).iter_batches(
            rows, columns=[n for n in schema if n in present]
        )
        self.schema = schema
        self.held: list[pl.DataFrame] = []
        self.count = 0

    def take(self, n: int) -> pl.DataFrame:
        while self.count < n:
            frame = pl.from_arrow(next(self.batches))
            assert isinstance(frame, pl.DataFrame)
            frame = frame.select(
                pl.col(c).cast(t) if c in frame.columns else pl.lit(None, t).alias(c)
                for c, t in self.schema.items()
            )
            self.held.append(frame)
            self.count += frame.height
        joined = pl.concat(self.held, how="vertical") if len(self.held) > 1 else self.held[0]
        rest = joined.slice(n)
        self.held, self.count = ([rest] if rest.height else []), rest.height
        return joined.head(n)


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
