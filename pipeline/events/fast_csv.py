"""The generic events table from a plain CSV/TSV file, fast: DuckDB reads only the
columns the generic table uses, while one pass over the bytes hashes the file and
proves that DuckDB's records are the file's lines.

Taken only for files where this read provably gives the same rows, cells and row
numbers as the general reader (`ingest.read_one`): plain ASCII or valid UTF-8
without a BOM, `\\n` line ends only (no CR), no NUL, no quote character at all (so
no field spans lines and no quoting rule can differ), no ragged row (DuckDB's
strict mode), every line within `max_field_bytes` (so no cell can be over the
limit), not more rows than `max_rows_per_file`, and exactly one record per line
after the header (so no blank line was skipped: the row number is the position
plus 2). Anything else returns None and the general reader reads the file.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from ..ingest.sniff import sniff_delimiter
from ..ingest.table import READ_ERRORS, header_names, owned_frame_of
from ..ruleset import IngestRules

_BLOCK = 16 << 20
_FETCH_ROWS = 1 << 20  # rows per batch fetched from DuckDB
_OTHERS = "__others_blank"
_TEXT_BYTES = bytes(range(0x20, 0x100))  # deleted: what is left are control bytes


@dataclass
class _Bytes:
    sha256: str
    size: int
    lines: int  # line ends, plus one for a last line without one
    plain: bool  # no CR, NUL or quote, valid UTF-8, no BOM


def _byte_pass(path: Path) -> _Bytes:
    """sha256, line count and the plainness test in one read (hashlib and the byte
    searches run at memory speed; only non-ASCII blocks are decoded)."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    size = lines = 0
    plain = True
    last = b""
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
            size += len(block)
            lines += block.count(b"\n")
            if plain and (b"\r" in block or b"\x00" in block or b'"' in block):
                plain = False
            if plain and not block.isascii():
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    plain = False
            last = block[-1:]
    if plain:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            plain = False
    if size and last != b"\n":
        lines += 1
    return _Bytes(digest.hexdigest(), size, lines, plain)


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _exact(reader: pa.RecordBatchReader, rows: int) -> Iterator[pa.Table]:
    """The reader's rows in tables of exactly `rows` (the last: the rest). DuckDB hands
    out batches of its own size (~100k rows), whatever was asked."""
    held: list[pa.RecordBatch] = []
    count = 0
    for batch in reader:
        held.append(batch)
        count += batch.num_rows
        while count >= rows:
            table = pa.Table.from_batches(held, reader.schema)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            held, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(held, reader.schema)


class NotFast(Exception):
    """The file turned out unfit for the fast read, after rows were already handed out:
    whoever took them drops them, and the general reader reads the file."""


@dataclass
class FastFacts:
    """What the byte pass and the count proved of a file read to its end."""

    sha256: str
    size: int
    blank: int  # blank rows dropped


class GenericCsvRead:
    """A plain CSV/TSV generic table, a chunk of rows at a time (`chunks()`): each frame
    has `row` (Int64, spreadsheet row) and one String column per picked canonical name,
    blank rows dropped. `facts` is set once the last chunk is read; `NotFast` is raised
    (mid-way or at the end) when the file is not fit for this read after all."""

    def __init__(self, path: Path, rules: IngestRules, query: str, data: list[str],
                 others: bool):  # fmt: skip
        self.path, self.rules, self.query = path, rules, query
        self.data, self.others = data, others
        self.facts: FastFacts | None = None

    @classmethod
    def open(
        cls,
        path: Path,
        rules: IngestRules,
        suffix: str,
        pick: Callable[[list[str]], dict[str, str] | None],
    ) -> GenericCsvRead | None:
        """The read of `path`, or None when its head already shows the general reader
        must read it. `pick(columns)` maps canonical generic names to header names (None:
        not a generic table, let the general reader produce its error)."""
        with path.open("rb") as f:
            head = f.read(rules.sniff_bytes)
        if head.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return None
        if b"\n" not in head or head.translate(None, _TEXT_BYTES).translate(None, b"\t\n"):
            return None  # no whole line, or control bytes: the general reader decides
        try:
            sample = head[: head.rfind(b"\n") + 1].decode("utf-8")
        except UnicodeDecodeError:
            return None
        delimiter = sniff_delimiter(sample, rules.delimiters, suffix)
        raw_header = next(csv.reader(io.StringIO(sample[: sample.find("\n") + 1], newline=""),
                                     delimiter=delimiter), None)  # fmt: skip
        if not raw_header or raw_header == [""]:
            return None
        columns = header_names(raw_header)
        if len(columns) != len(raw_header) or len(columns) > rules.max_columns:
            return None
        found = pick(columns)
        if found is None:
            return None
        names = [f"c{i}" for i in range(len(columns))]
        by_header = dict(zip(columns, names, strict=True))
        used = {by_header[h] for h in found.values()}
        others = [n for n in names if n not in used]
        select = [f"{by_header[h]} AS {canon}" for canon, h in found.items()]
        if others:
            select.append(f"({' AND '.join(f'{n} IS NULL' for n in others)}) AS {_OTHERS}")
        col_sql = "{" + ", ".join(f"'{n}': 'VARCHAR'" for n in names) + "}"
        # max_line_size a little under the field limit: a line DuckDB accepts has no cell
        # over it.
        query = f"""SELECT {", ".join(select)} FROM read_csv({_sql_str(str(path))},
            delim={_sql_str(delimiter)}, quote='"', escape='"', header=true,
            auto_detect=false, columns={col_sql}, strict_mode=true, null_padding=false,
            comment='', encoding='utf-8', new_line='\\n',
            max_line_size={max(rules.max_field_bytes - 2, 1)})"""
        return cls(path, rules, query, list(found), bool(others))

    def chunks(self, chunk_rows: int = _FETCH_ROWS) -> Iterator[pl.DataFrame]:
        data = self.data
        blank_expr = pl.all_horizontal(pl.col(c).is_null() for c in data)
        if self.others:
            blank_expr = blank_expr & pl.col(_OTHERS)
        seen = blank = 0
        con = duckdb.connect()
        try:
            con.execute("SET enable_progress_bar = false")
            with ThreadPoolExecutor(1) as pool:
                facts = pool.submit(_byte_pass, self.path)
                try:
                    reader = con.sql(self.query).to_arrow_reader(min(chunk_rows, _FETCH_ROWS))
                    for table in _exact(reader, chunk_rows):
                        part = pl.from_arrow(table)
                        assert isinstance(part, pl.DataFrame)
                        part = owned_frame_of(part).rechunk().with_columns(
                            pl.int_range(seen + 2, seen + 2 + part.height, dtype=pl.Int64)
                            .alias("row")
                        )  # fmt: skip
                        seen += part.height
                        if seen > self.rules.max_rows_per_file:
                            raise NotFast  # the general reader says which cap, and how to raise it
                        dropped = part.select(blank_expr.sum()).item()
                        if dropped:
                            part = part.filter(~blank_expr)
                            blank += dropped
                        yield part.select("row", *data)
                except READ_ERRORS:  # DuckDB objects to a line: the general reader decides
                    raise NotFast from None
                finally:
                    info = facts.result()
        finally:
            con.close()
        if not info.plain or seen == 0 or seen != info.lines - 1:
            raise NotFast  # a blank line skipped, or nothing to read: the general reader decides
        self.facts = FastFacts(info.sha256, info.size, blank)
