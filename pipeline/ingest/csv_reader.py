"""CSV/TSV into text columns, with exact spreadsheet row numbers and rejects.

Two paths give the same result:

* the exact path, Python's csv module over a decoded stream, handles
  anything (blank lines, ragged rows, lone CRs, undecodable bytes, NULs) and
  is the reference;
* the fast path, DuckDB's parallel reader in strict mode, is taken only when
  the byte scan shows nothing that could make its row numbers or cells
  differ (valid UTF-8, no blank lines, one kind of line end, no NUL). If
  DuckDB still objects to anything (a ragged row, a stray quote) the exact
  path reads the file instead. Tests compare both paths on every corpus file
  the fast path accepts.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import polars as pl

from ..errors import InputFileError
from ..ruleset import IngestRules
from .sniff import FileFacts, choose_encoding, open_text, scan_file, sniff_delimiter
from .table import (
    READ_ERRORS,
    ROW,
    RawTable,
    RowReject,
    check_width,
    header_names,
    owned_frame,
)

# undecodable UTF-8 bytes (surrogateescape) and broken UTF-16 characters
_SURROGATE = re.compile("[\ud800-\udfff]")
_DELIM_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def _line_cap(columns: int, rules: IngestRules) -> int:
    """The longest line (in characters) a row of `columns` fields can take within
    max_field_bytes: each field at most that many bytes, every character a doubled
    quote, plus its quotes and delimiter. A longer line cannot be a valid row, so it
    is never held whole (a 2 GB line of a sparse file would exhaust memory)."""
    return max(columns * (2 * rules.max_field_bytes + 3), LINE_FLOOR)


# Lines up to this many characters are always read, so a field a few times over its
# limit is rejected naming its column, as on the fast path (DuckDB reads 2 MB lines).
LINE_FLOOR = 16 << 20


class _Overlong(Exception):
    def __init__(self, size: int):
        self.size = size


class _LineFeed:
    """The lines of a text stream for the csv module, none longer than `cap`
    characters: a longer one is skipped piece by piece, never held whole, and
    raised once as _Overlong (the csv reader starts its next record afresh)."""

    def __init__(self, f: io.TextIOWrapper, cap: int):
        self.readline, self.cap = f.readline, cap

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        line = self.readline(self.cap + 1)
        if len(line) <= self.cap:
            if line:
                return line
            raise StopIteration
        if line.endswith(("\n", "\r")):
            return line
        size = len(line)
        while True:
            more = self.readline(1 << 20)
            size += len(more)
            if not more or more.endswith(("\n", "\r")):
                break
        raise _Overlong(size)


def _read_header(
    path: Path, encoding: str, delimiter: str, rules: IngestRules, source_file: str
) -> list[str] | None:
    cap = _line_cap(rules.max_columns, rules)
    with open_text(path, encoding) as f:
        reader = csv.reader(_LineFeed(f, cap), delimiter=delimiter, quotechar='"', doublequote=True)
        try:
            for rec in reader:
                if rec and rec != [""]:
                    return rec
        except csv.Error:
            return None
        except _Overlong as exc:
            raise InputFileError(
                f"{source_file}: the first line is {exc.size:,} characters long, more than a "
                f"header of {rules.max_columns:,} columns of up to {rules.max_field_bytes:,} "
                "bytes each can take (rules ingest.toml [limits] max_columns and "
                "max_field_bytes). Check that the file is a table, or raise the limits."
            ) from None
    return None


def read_csv(
    path: Path, source_file: str, rules: IngestRules, suffix: str = "", exact: bool = False
) -> RawTable:
    """Read one delimited file; `exact=True` forces the reference path (tests compare both)."""
    head = _read_head(path, rules.sniff_bytes)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        _refuse_binary(head[: len(head) // 2 * 2].decode("utf-16", "replace"), source_file)
    else:  # before the whole file is scanned: a sparse or binary file stops at once
        _refuse_binary(head.decode("utf-8", "replace"), source_file)
    guess = _speculate(path, head, rules, suffix) if not exact else None
    facts = scan_file(path, rules.sniff_bytes, rules.delimiters)
    encoding = choose_encoding(facts, rules.fallback_encoding)
    sample = _decode_head(facts, encoding)
    try:
        if not sample.strip():
            raise InputFileError(
                f"{source_file}: the file is empty. Export the list again, or leave this file out."
            )
        _refuse_binary(sample, source_file)
        delimiter = sniff_delimiter(sample, rules.delimiters, suffix)
        raw_header = _read_header(path, encoding, delimiter, rules, source_file)
        if raw_header is None:
            raise InputFileError(
                f"{source_file}: no header row could be read. Check that the first line holds "
                "column names."
            )
        # an undecodable byte in a name shows as U+FFFD: a name is never a reject
        raw_header = [_SURROGATE.sub("\ufffd", h) for h in raw_header]
        columns = header_names(raw_header)
        check_width(len(columns), rules, source_file)
    except BaseException:
        if guess is not None:
            guess.cancel()
        raise
    warnings = []
    if encoding == rules.fallback_encoding:
        warnings.append(
            f"{source_file}: the file is not UTF-8; it was read as {encoding}. If accented "
            "letters look wrong, export the file again as UTF-8."
        )
    table = None
    reader = "python"
    usable = (
        guess is not None
        and _fast_path_safe(facts, encoding)
        and len(raw_header) == len(columns)
        and not facts.spaced_quote.get(delimiter, True)
        and (guess.delimiter, guess.columns) == (delimiter, columns)
    )
    if usable:
        raw = guess.result()
        table = _finish_duckdb(raw, guess, facts, rules) if raw is not None else None
        reader = "duckdb"
    elif guess is not None:
        guess.cancel()
    if table is None:
        reader = "python"
        slack = len(raw_header) - len(columns)  # unnamed columns at the header's end
        table = _read_python(path, source_file, columns, encoding, delimiter, rules, slack)
    frame, rejects, blank = table
    for rej in rejects:
        rej.source_file = source_file
    if frame.height == 0 and not rejects:
        raise InputFileError(
            f"{source_file}: the file has a header but no data rows. Export the list again "
            "with its contacts, or leave this file out."
        )
    return RawTable(
        source_file=source_file,
        format="csv",
        sha256=facts.sha256,
        size_bytes=facts.size,
        columns=columns,
        frame=frame,
        rejects=rejects,
        blank_rows=blank,
        encoding=encoding,
        delimiter=_DELIM_NAMES.get(delimiter, delimiter),
        reader=reader,
        warnings=warnings,
    )


def _read_head(path: Path, size: int) -> bytes:
    with path.open("rb") as f:
        return f.read(size)


def _speculate(path: Path, head: bytes, rules: IngestRules, suffix: str) -> _DuckDBRead | None:
    """Start DuckDB on a file whose first block looks like plain UTF-8 CSV; the
    byte scan decides later whether the result may be used."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    body = head.removeprefix(codecs.BOM_UTF8)  # positions below count from after the BOM
    try:
        sample = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(body) - 4:
            return None  # not UTF-8 (a character cut at the block's end is fine)
        sample = body[: exc.start].decode("utf-8")
    delimiter = sniff_delimiter(sample, rules.delimiters, suffix)
    cut = sample.find("\n")
    if cut < 0:
        return None
    header = next(csv.reader(io.StringIO(sample[: cut + 1], newline=""), delimiter=delimiter), None)
    if not header or header == [""]:
        return None
    columns = header_names(header)
    if len(columns) != len(header) or len(columns) > rules.max_columns:
        return None
    return _DuckDBRead(path, columns, delimiter, rules)


def _refuse_binary(sample: str, source_file: str) -> None:
    head = sample[:4096]
    controls = sum(1 for ch in head if ch < " " and ch not in "\t\r\n")
    if controls > len(head) // 10:
        raise InputFileError(
            f"{source_file}: the file is not a table in any supported format (it looks binary). "
            "Give a CSV, TSV, Parquet, JSON or NDJSON export."
        )


def _decode_head(facts: FileFacts, encoding: str) -> str:
    head = facts.head
    if encoding == "utf-16":
        head = head[: len(head) // 2 * 2]
    text = head.decode(encoding, errors="replace")
    return text.lstrip("\ufeff")


def _fast_path_safe(facts: FileFacts, encoding: str) -> bool:
    one_line_end = facts.lone_cr == 0 and (facts.crlf == 0 or facts.lone_lf == 0)
    return (
        encoding in ("utf-8", "utf-8-sig")
        and facts.utf8_valid
        and not facts.blank_line
        and not facts.nul
        and not facts.long_line
        and one_line_end
    )


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


class _DuckDBRead:
    """DuckDB's strict parallel read, started in a thread while the byte scan runs.

    DuckDB keeps file order for a plain scan (preserve_insertion_order is on by
    default), so the row number is the position plus 2 (header = 1); the byte
    scan must rule out blank lines, which DuckDB would skip, before the result
    is used. `cancel` interrupts a read whose result will not be used."""

    def __init__(self, path: Path, columns: list[str], delimiter: str, rules: IngestRules):
        self.columns, self.delimiter = columns, delimiter
        self.names = [f"c{i}" for i in range(len(columns))]
        col_sql = "{" + ", ".join(f"'{n}': 'VARCHAR'" for n in self.names) + "}"
        query = f"""SELECT * FROM read_csv({_sql_str(str(path))}, delim={_sql_str(delimiter)},
            quote='"', escape='"', header=true, auto_detect=false, columns={col_sql},
            strict_mode=true, null_padding=false, comment='', encoding='utf-8',
            max_line_size={max(2 * rules.max_field_bytes, 2_097_152)})"""
        self.con = duckdb.connect()
        self.con.execute("SET enable_progress_bar = false")  # DuckDB's own bar: not in logs
        self.pool = ThreadPoolExecutor(1)
        self.future = self.pool.submit(self._run, query)

    def _run(self, query: str) -> pl.DataFrame | None:
        try:
            # copied batch by batch into polars' own buffers: a column taken over from
            # DuckDB's Arrow result keeps the whole result alive, ~5x the file's cells
            return owned_frame(self.con.sql(query))
        except READ_ERRORS:  # DuckDB objects to something: the exact path decides
            return None

    def result(self) -> pl.DataFrame | None:
        try:
            return self.future.result()
        finally:
            self._close()

    def cancel(self) -> None:
        self.con.interrupt()
        self.future.exception()  # wait for the thread to stop
        self._close()

    def _close(self) -> None:
        self.pool.shutdown()
        self.con.close()


def _finish_duckdb(
    raw: pl.DataFrame, read: _DuckDBRead, facts: FileFacts, rules: IngestRules
) -> tuple[pl.DataFrame, list[RowReject], int] | None:
    """Row numbers, blank rows and limits on DuckDB's table; None if it cannot be trusted."""
    if not _plausible_records(raw.height + 1, facts):
        return None  # never trust a read whose record count the bytes contradict
    columns = read.columns
    frame = raw.rename(dict(zip(read.names, columns, strict=True))).with_row_index(ROW, offset=2)
    frame = frame.with_columns(pl.col(ROW).cast(pl.Int64))
    data = pl.exclude(ROW)
    flags = frame.select(
        pl.all_horizontal(data.is_null()).alias("blank"),
        (
            (pl.max_horizontal(data.str.len_bytes()).fill_null(0) > rules.max_field_bytes)
            | (pl.col(ROW) > rules.max_rows_per_file + 1)
        ).alias("over"),
    )
    blank = int(flags["blank"].sum())
    if not blank and not flags["over"].any():
        return frame, [], 0  # the common case: no copy
    bad = frame.filter(~flags["blank"] & flags["over"])
    frame = frame.filter(~flags["blank"] & ~flags["over"])
    rejects = [
        _limit_reject(rec[0], [c or "" for c in rec[1:]], columns, rules) for rec in bad.iter_rows()
    ]
    return frame, rejects, blank


def _plausible_records(records: int, facts: FileFacts) -> bool:
    """Records (header included) against line ends: a record ends at a line end
    unless it is the last one; only quoted fields can hold extra line ends."""
    line_ends = facts.crlf + facts.lone_lf
    lines = line_ends + (0 if facts.ends_with_newline else 1)
    if records < 2:
        return False
    return records <= lines if facts.quotes else records == lines


def _limit_reject(row: int, fields: list[str], columns: list[str], rules: IngestRules) -> RowReject:
    if row > rules.max_rows_per_file + 1:
        return RowReject(
            source_file="",
            row=row,
            field="row",
            error=(
                f"row is past the limit of {rules.max_rows_per_file:,} data rows per file "
                "(rules ingest.toml [limits] max_rows_per_file); split the file or raise the limit."
            ),
            reason="row_limit",
            fields=fields,
        )
    i, size = max(
        enumerate(len(f.encode("utf-8", "surrogatepass")) for f in fields), key=lambda x: x[1]
    )
    return RowReject(
        source_file="",
        row=row,
        field=columns[i] if i < len(columns) else "row",
        error=(
            f'field "{columns[i] if i < len(columns) else i + 1}" is {size:,} bytes, over the '
            f"limit of {rules.max_field_bytes:,} (rules ingest.toml [limits] max_field_bytes); "
            "shorten the value or raise the limit."
        ),
        reason="field_too_large",
        fields=[f[:200] for f in fields],
    )


def _read_python(
    path: Path,
    source_file: str,
    columns: list[str],
    encoding: str,
    delimiter: str,
    rules: IngestRules,
    slack: int = 0,
) -> tuple[pl.DataFrame, list[RowReject], int]:
    """`slack`: how many unnamed columns ended the header; rows may carry that many
    extra empty cells. Any other extra cell makes the row ragged, even an empty
    one: `a,b,c,` under a 3-column header usually means a value was split."""
    n = len(columns)
    data: list[list[str | None]] = [[] for _ in range(n)]
    rows: list[int] = []
    rejects: list[RowReject] = []
    blank = 0
    limit = rules.max_field_bytes
    cap = rules.max_rows_per_file + 1
    line_cap = _line_cap(n + slack, rules)
    # the line cap bounds memory; a field over max_field_bytes is rejected below
    csv.field_size_limit(max(line_cap, 131072))
    with open_text(path, encoding) as f:
        reader = csv.reader(
            _LineFeed(f, line_cap), delimiter=delimiter, quotechar='"', doublequote=True,
            strict=False,
        )  # fmt: skip
        row = 0
        header_seen = False
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                break
            except _Overlong as exc:
                row += 1
                rejects.append(
                    RowReject(
                        source_file,
                        row,
                        "row",
                        f"row is {exc.size:,} characters long, more than {n + slack:,} fields "
                        f"of up to {limit:,} bytes each can take (rules ingest.toml [limits] "
                        "max_field_bytes); shorten the value or raise the limit.",
                        "field_too_large",
                    )
                )
                continue
            except csv.Error as exc:
                row += 1
                rejects.append(
                    RowReject(
                        source_file,
                        row,
                        "row",
                        f"row could not be parsed as CSV ({exc}); check its quotes.",
                        "unparseable_row",
                    )
                )
                continue
            row += 1
            if not header_seen:
                if fields and fields != [""]:
                    header_seen = True
                continue  # the header (and blank lines before it)
            if not fields or all(c == "" for c in fields):
                blank += 1
                continue
            if n < len(fields) <= n + slack and all(c == "" for c in fields[n:]):
                fields = fields[:n]  # the header ended with unnamed columns too
            if len(fields) != n:
                rejects.append(
                    RowReject(
                        source_file,
                        row,
                        "row",
                        f"row has {len(fields)} fields but the header has {n}; check the row for "
                        "an unquoted delimiter or a missing quote.",
                        "ragged_row",
                        fields=fields,
                    )
                )
                continue
            if row > cap or any(
                len(c) > limit // 4 and len(c.encode("utf-8", "surrogatepass")) > limit
                for c in fields
            ):
                rejects.append(_limit_reject(row, fields, columns, rules))
                continue
            bad = next((i for i, c in enumerate(fields) if _SURROGATE.search(c)), None)
            if bad is not None:
                byte = ord(_SURROGATE.search(fields[bad]).group()) - 0xDC00
                what = (
                    f"bytes that are not valid UTF-8 (first: 0x{byte:02X}); fix the value or "
                    "export the file again as UTF-8."
                    if 0x80 <= byte <= 0xFF and encoding != "utf-16"
                    else "a broken UTF-16 character; fix the value or export the file again."
                )
                rejects.append(
                    RowReject(
                        source_file,
                        row,
                        columns[bad],
                        f'field "{columns[bad]}" holds {what}',
                        "undecodable_bytes",
                        fields=[_SURROGATE.sub("\ufffd", c) for c in fields],
                    )
                )
                continue
            rows.append(row)
            for i, c in enumerate(fields):
                data[i].append(c if c != "" else None)
    schema = {ROW: pl.Int64, **{c: pl.String for c in columns}}
    frame = pl.DataFrame({ROW: rows, **dict(zip(columns, data, strict=True))}, schema=schema)
    return frame, rejects, blank
