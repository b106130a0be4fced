"""JSON arrays and NDJSON into text columns; one record is one row.

Values become text the way a user would type them: strings as they are,
numbers and booleans in JSON spelling, objects and arrays as compact JSON,
null as an empty cell. Columns are the union of keys, in first-seen order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import InputFileError
from ..ruleset import IngestRules
from .sniff import sha256_file
from .table import ROW, RawTable, RowReject, check_width

# A JSON object holding the records under one of these keys (API-style exports).
RECORD_KEYS = ("contacts", "data", "members", "profiles", "results", "records", "items")


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v if v != "" else None
    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _records_from_document(doc: Any, source_file: str) -> list[Any]:
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        for key in RECORD_KEYS:
            if isinstance(doc.get(key), list):
                return doc[key]
        if isinstance(doc.get("data"), dict):
            return _records_from_document(doc["data"], source_file)
    raise InputFileError(
        f"{source_file}: the JSON is not a table (expected an array of objects, or an object "
        f"with the records under one of {', '.join(RECORD_KEYS)}). Export the contacts as a "
        "JSON array or NDJSON."
    )


def _table(
    numbered: list[tuple[int, Any]], source_file: str, fmt: str, rules: IngestRules, path: Path
) -> RawTable:
    columns: dict[str, None] = {}
    rows: list[int] = []
    records: list[dict[str, Any]] = []
    rejects: list[RowReject] = []
    for n, rec in numbered:
        if not isinstance(rec, dict):
            kind = type(rec).__name__.replace("NoneType", "null").replace("dict", "object")
            rejects.append(
                RowReject(
                    source_file,
                    n,
                    "record",
                    f"record {n} is a JSON {kind}, not an object "
                    "with fields; remove it or wrap its values in an object.",
                    "not_an_object",
                )
            )
            continue
        if n > rules.max_rows_per_file:
            rejects.append(
                RowReject(
                    source_file,
                    n,
                    "record",
                    f"record is past the limit of "
                    f"{rules.max_rows_per_file:,} records per file (rules ingest.toml "
                    "[limits] max_rows_per_file); split the file or raise the limit.",
                    "row_limit",
                )
            )
            continue
        texts = {(str(k) if k != ROW else ROW + "_"): _text(v) for k, v in rec.items()}
        try:
            big = next(
                (k for k, v in texts.items() if v and len(v.encode()) > rules.max_field_bytes),
                None,
            )
            for k in texts:
                if k not in columns:
                    k.encode()  # a new name: check it once
        except UnicodeEncodeError:  # "\ud800": an escaped lone surrogate is no character
            field = next(
                (k for k, v in texts.items() if not _encodable(k) or (v and not _encodable(v))),
                "record",
            )
            shown = field.encode("utf-8", "backslashreplace").decode()
            rejects.append(
                RowReject(
                    source_file,
                    n,
                    shown,
                    f'field "{shown}" holds an escaped lone surrogate (\\ud800-\\udfff), which '
                    "is not a character; fix the value or export the file again.",
                    "undecodable_bytes",
                )
            )
            continue
        if big is not None:
            rejects.append(
                RowReject(
                    source_file,
                    n,
                    big,
                    f'field "{big}" is {len(texts[big].encode()):,} '
                    f"bytes, over the limit of {rules.max_field_bytes:,} (rules ingest.toml "
                    "[limits] max_field_bytes); shorten the value or raise the limit.",
                    "field_too_large",
                )
            )
            continue
        for k in texts:
            columns.setdefault(k, None)
        rows.append(n)
        records.append(texts)
    names = list(columns)
    check_width(len(names), rules, source_file, what="distinct fields")
    if not rows and not rejects:
        raise InputFileError(
            f"{source_file}: the file holds no records. Export the list again, or leave this "
            "file out."
        )
    data = {ROW: rows, **{c: [r.get(c) for r in records] for c in names}}
    frame = pl.DataFrame(data, schema={ROW: pl.Int64, **{c: pl.String for c in names}})
    return RawTable(
        source_file=source_file,
        format=fmt,
        sha256=sha256_file(path),
        size_bytes=path.stat().st_size,
        columns=names,
        frame=frame,
        rejects=rejects,
        encoding="utf-8",
        reader="json",
    )


def open_utf8(path: Path, source_file: str) -> str:
    """The whole document as text. Read in blocks: a NUL byte, which JSON never
    holds (a damaged or sparse file), stops the read there, not at the end."""
    data = bytearray()
    with path.open("rb") as f:
        while block := f.read(1 << 24):
            nul = block.find(b"\x00")
            if nul >= 0:
                raise _NulByte(len(data) + nul)
            data += block
    if data.startswith(b"\xef\xbb\xbf"):
        del data[:3]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"{source_file}: JSON must be UTF-8, but byte {exc.start:,} is not; export it again "
            "as UTF-8."
        ) from None


class _NulByte(Exception):
    def __init__(self, offset: int):
        self.offset = offset


def _starts_with_object(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(4096)
    return head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{")


def read_json(path: Path, source_file: str, rules: IngestRules) -> RawTable:
    try:
        text = open_utf8(path, source_file)
    except _NulByte as exc:
        if _starts_with_object(path):
            return read_ndjson(path, source_file, rules)  # a bad line, not a bad file
        raise InputFileError(
            f"{source_file}: not valid JSON (byte {exc.offset:,} is a NUL byte, which JSON never "
            "holds: a damaged or sparse file?). Fix the file or export it again."
        ) from None
    if not text.strip():
        raise InputFileError(
            f"{source_file}: the file is empty. Export the list again, or leave this file out."
        )
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        if text.lstrip().startswith("{"):
            return read_ndjson(path, source_file, rules)  # objects one per line, named .json
        raise InputFileError(
            f"{source_file}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}). "
            "Fix the file or export it again."
        ) from None
    records = _records_from_document(doc, source_file)
    return _table(list(enumerate(records, start=1)), source_file, "json", rules, path)


def _ndjson_lines(path: Path, source_file: str, cap: int) -> Iterator[tuple[str | None, str, int]]:
    """(text, problem, size) per line ending in LF, streamed: a line holding a NUL
    byte or longer than `cap` bytes is skipped piece by piece, never held whole
    (text None, problem "nul" or "long")."""
    offset = 0
    with path.open("rb") as f:
        while True:
            parts: list[bytes] = []
            size, problem = 0, ""
            while piece := f.readline(1 << 20):
                if not problem and b"\x00" in piece:
                    problem, parts = "nul", []
                size += len(piece)
                if not problem and size > cap:
                    problem, parts = "long", []
                if not problem:
                    parts.append(piece)
                if piece.endswith(b"\n"):
                    break
            if not size:
                return
            if problem:
                yield None, problem, size
            else:
                data = b"".join(parts)
                if not offset and data.startswith(b"\xef\xbb\xbf"):
                    data, offset = data[3:], 3
                try:
                    yield data.decode("utf-8"), "", size
                except UnicodeDecodeError as exc:
                    raise InputFileError(
                        f"{source_file}: JSON must be UTF-8, but byte {offset + exc.start:,} is "
                        "not; export it again as UTF-8."
                    ) from None
            offset += size


def read_ndjson(path: Path, source_file: str, rules: IngestRules) -> RawTable:
    """One object per line; the row number is the line number. Lines are streamed,
    so a huge or damaged line costs no more memory than the limits allow."""
    # The longest line a record within the limits can take: every field at its size
    # limit with every character escaped (\uXXXX), plus its key.
    cap = rules.max_columns * (6 * rules.max_field_bytes + 16)
    numbered: list[tuple[int, Any]] = []
    bad: list[RowReject] = []
    blank = 0
    n = 0
    for text, problem, size in _ndjson_lines(path, source_file, cap):
        if problem:
            n += 1
            if problem == "nul":
                error = (
                    f"line {n} holds a NUL byte, which JSON never holds; fix the line or "
                    "export the file again."
                )
                bad.append(RowReject(source_file, n, "record", error, "invalid_json"))
            else:
                error = (
                    f"line {n} is {size:,} bytes long, more than a record of "
                    f"{rules.max_columns:,} fields of up to {rules.max_field_bytes:,} bytes each "
                    "can take (rules ingest.toml [limits] max_field_bytes and max_columns); "
                    "shorten the record or raise the limits."
                )
                bad.append(RowReject(source_file, n, "record", error, "field_too_large"))
            continue
        for line in text.splitlines() or [""]:  # the line numbers a text editor shows
            n += 1
            if not line.strip():
                blank += 1
                continue
            try:
                numbered.append((n, json.loads(line)))
            except json.JSONDecodeError as exc:
                bad.append(
                    RowReject(
                        source_file,
                        n,
                        "record",
                        f"line {n} is not valid JSON ({exc.msg} at "
                        f"column {exc.colno}); fix the line or export the file again.",
                        "invalid_json",
                    )
                )
    if not numbered and not bad:
        raise InputFileError(
            f"{source_file}: the file is empty. Export the list again, or leave this file out."
        )
    if not numbered:
        raise InputFileError(
            f"{source_file}: no line is a JSON object; the file is not NDJSON. Export the "
            "contacts as a JSON array or one object per line."
        )
    table = _table(numbered, source_file, "ndjson", rules, path)
    table.rejects = sorted(table.rejects + bad, key=lambda r: r.row)
    table.blank_rows = blank
    return table
