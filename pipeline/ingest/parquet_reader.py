"""Parquet into text columns, batch by batch; the row is the 1-based record number."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import InputFileError
from ..ruleset import IngestRules
from .sniff import sha256_file
from .table import ROW, RawTable, RowReject, check_width, header_names


def _as_text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    t = col.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return col
    if pa.types.is_nested(t):
        values = [
            None
            if v is None
            else json.dumps(v, ensure_ascii=False, separators=(",", ":"), default=str)
            for v in col.to_pylist()
        ]
        return pa.chunked_array([pa.array(values, pa.string())])
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return pa.chunked_array(
            [
                pa.array(
                    [None if v is None else v.decode("utf-8") for v in col.to_pylist()], pa.string()
                )
            ]
        )
    if pa.types.is_boolean(t):
        return pc.if_else(col, "true", "false")
    return pc.cast(col, pa.string())


def _invalid_utf8_rows(table: pa.Table, offset: int) -> dict[int, str]:
    """Parquet writers can store invalid UTF-8 in string columns; find those rows."""
    try:
        table.validate(full=True)
        return {}
    except pa.ArrowInvalid:
        pass
    bad: dict[int, str] = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        for i, v in enumerate(pc.cast(col, pa.binary()).to_pylist()):
            if v is None or offset + i + 1 in bad:
                continue
            try:
                v.decode("utf-8")
            except UnicodeDecodeError:
                bad[offset + i + 1] = name
    return bad


def read_parquet(path: Path, source_file: str, rules: IngestRules) -> RawTable:
    try:
        pf = pq.ParquetFile(path)
        names = list(pf.schema_arrow.names)
        columns = header_names(names)
        check_width(len(names), rules, source_file)
        parts = []
        bad_rows: dict[int, str] = {}  # 1-based record -> column holding invalid UTF-8
        offset = 0
        for batch in pf.iter_batches(batch_size=262_144):
            tb = pa.Table.from_batches([batch])
            text = pa.table([_as_text(c) for c in tb.columns], names=columns)
            bad_rows.update(_invalid_utf8_rows(text, offset))
            offset += text.num_rows
            parts.append(text)
        table = (
            pa.concat_tables(parts)
            if parts
            else pa.table({n: pa.array([], pa.string()) for n in columns})
        )
    except InputFileError:
        raise
    except (pa.ArrowException, OSError, ValueError, UnicodeDecodeError, IndexError) as exc:
        raise InputFileError(
            f"{source_file}: not a readable Parquet file ({str(exc).splitlines()[0][:200]}). "
            "Write the file again, or export the list as CSV."
        ) from None
    if table.num_rows == 0:
        raise InputFileError(
            f"{source_file}: the file has columns but no rows. Export the list again, or leave "
            "this file out."
        )
    frame = (
        pl.from_arrow(table).with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    )
    frame = frame.with_columns(pl.exclude(ROW).replace("", None))
    rejects: list[RowReject] = [
        RowReject(
            source_file,
            row,
            col,
            f'field "{col}" holds bytes that are not valid UTF-8; '
            "write the file again with UTF-8 strings.",
            "undecodable_bytes",
        )
        for row, col in sorted(bad_rows.items())
    ]
    if bad_rows:
        frame = frame.filter(~pl.col(ROW).is_in(list(bad_rows)))
    data = pl.exclude(ROW)
    width = pl.max_horizontal(data.str.len_bytes()).fill_null(0)
    over = (width > rules.max_field_bytes) | (pl.col(ROW) > rules.max_rows_per_file)
    for row in frame.filter(over)[ROW].to_list():
        rejects.append(
            RowReject(
                source_file,
                row,
                "record",
                f"record is over a limit (a field above "
                f"{rules.max_field_bytes:,} bytes or past {rules.max_rows_per_file:,} records; "
                "rules ingest.toml [limits]); shorten it or raise the limit.",
                "over_limit",
            )
        )
    blank_mask = pl.all_horizontal(data.is_null())
    blank = int(frame.select(blank_mask.sum()).item())
    frame = frame.filter(~over & ~blank_mask)
    return RawTable(
        source_file=source_file,
        format="parquet",
        sha256=sha256_file(path),
        size_bytes=path.stat().st_size,
        columns=columns,
        frame=frame,
        rejects=rejects,
        blank_rows=blank,
        reader="pyarrow",
    )
