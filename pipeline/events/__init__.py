"""Read event exports (`--events`) of any supported source into raw event batches.

Delimited text and Parquet are the generic table of the contract
(`email,event,timestamp[,campaign_id,event_id,machine_open]`, common
synonyms accepted). JSON (an array, one object, NDJSON, an SNS-to-Lambda
`Records` list or a Mailgun events page `items`) is recognised by the shape
of its records: each provider in `FORMATS` says whether a record is its own,
and the format most records match wins. `--events-format` skips detection.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import InputFileError
from ..ingest import _kind, archive_members, expand_paths, read_one
from ..ingest.json_reader import open_utf8
from ..ingest.sniff import sha256_file
from ..ingest.table import ROW, RawTable
from ..presets import find_header
from ..ruleset import IngestRules
from . import mailerdash, mailgun, postmark, sendgrid, ses
from .fast_csv import GenericCsvRead, NotFast
from .normalize import owned
from .table import (
    EVENT_REJECT_SCHEMA,
    EVENT_TYPES,
    RAW_EVENT_SCHEMA,
    EventBatch,
    EventFormat,
    collect,
)

__all__ = [
    "EVENT_TYPES",
    "FORMATS",
    "FORMAT_NAMES",
    "EventBatch",
    "GenericStream",
    "NotFast",
    "events_members",
    "read_events",
]

# Providers in the order detection tries them (the first wins a tie); the generic table is
# the fallback.
FORMATS: tuple[EventFormat, ...] = (
    ses.FORMAT,
    sendgrid.FORMAT,
    mailgun.FORMAT,
    postmark.FORMAT,
    mailerdash.FORMAT,
)
FORMAT_NAMES = ("generic", *(f.name for f in FORMATS))

# Generic table: canonical column -> accepted headers (compared ignoring case, spaces,
# hyphens and underscores).
GENERIC_COLUMNS: dict[str, tuple[str, ...]] = {
    "email": ("email", "email_address", "recipient", "address", "to", "subscriber"),
    "event": ("event", "event_type", "type", "action", "activity"),
    "timestamp": ("timestamp", "time", "occurred_at", "event_time", "date", "created_at", "ts"),
    "campaign_id": ("campaign_id", "campaign", "message_id", "send_id"),
    "event_id": ("event_id", "id", "uuid"),
    "machine_open": ("machine_open", "is_machine_open", "mpp", "apple_mpp"),
    "user_agent": ("user_agent", "useragent"),
    "ip": ("ip", "ip_address"),
    "reason": ("reason", "bounce_reason", "diagnostic"),
}
_DETECT_SAMPLE = 50


def _generic_columns(columns: list[str]) -> dict[str, str]:
    """Canonical generic column -> the header that holds it, for the headers present."""
    taken: set[str] = set()
    found: dict[str, str] = {}
    for name, aliases in GENERIC_COLUMNS.items():
        hits = (find_header(columns, a, taken) for a in aliases)
        h = next((h for h in hits if h is not None), None)
        if h is not None:
            found[name] = h
            taken.add(h)
    return found


def _complete_generic(columns: list[str]) -> dict[str, str] | None:
    found = _generic_columns(columns)
    return found if all(c in found for c in ("email", "event", "timestamp")) else None


@dataclass
class GenericStream:
    """A plain CSV/TSV generic table that DuckDB reads straight into the columns scoring
    uses, a chunk of rows at a time (fast_csv.GenericCsvRead). A chunk's frame holds
    `row` and the generic columns the file has: no `source_file` column (the batch names
    its file) and no all-null columns for absent optional ones. Should the read turn out
    unfit (fast_csv.NotFast), `general()` reads the file with the general reader."""

    path: Path
    source_file: str
    rules: IngestRules
    read: GenericCsvRead

    @classmethod
    def open(cls, path: Path, source_file: str, rules: IngestRules) -> GenericStream | None:
        """None when the general reader must read the file."""
        if _kind(path) != "csv":
            return None
        suffix = Path(source_file.rsplit("!", 1)[-1]).suffix.lower()
        read = GenericCsvRead.open(path, rules, suffix, _complete_generic)
        return cls(path, source_file, rules, read) if read is not None else None

    def batches(self, chunk_rows: int) -> Iterator[EventBatch]:
        """The table's rows as batches of `chunk_rows` (records: the chunk's); raises
        NotFast. Once the last is read, `facts` gives the file's hash and size."""
        for frame in self.read.chunks(chunk_rows):
            yield self.batch(frame, "", 0)

    def batch(self, frame: pl.DataFrame, sha256: str, size: int) -> EventBatch:
        return EventBatch(
            source_file=self.source_file,
            format="generic",
            sha256=sha256,
            size_bytes=size,
            records=frame.height,
            frame=frame,
            rejects=pl.DataFrame(schema=EVENT_REJECT_SCHEMA),
        )

    def whole(self) -> EventBatch:
        """The whole table as one batch, by whichever reader can read it."""
        try:
            parts = list(self.read.chunks())
        except NotFast:
            return self.general()
        facts = self.read.facts
        assert facts is not None
        # one chunk per column: normalize on a frame of many chunks holds ~1 GB more at
        # 10M events
        frame = pl.concat(parts, rechunk=True) if len(parts) > 1 else parts[0]
        return self.batch(frame, facts.sha256, facts.size)

    def general(self) -> EventBatch:
        return _generic_batch(read_one(self.path, self.source_file, self.rules))


def _generic_batch(table: RawTable) -> EventBatch:
    found = _generic_columns(table.columns)
    missing = [c for c in ("email", "event", "timestamp") if c not in found]
    if missing:
        raise InputFileError(
            f"{table.source_file}: no {', '.join(missing)} column among "
            f"{', '.join(table.columns)}. "
            "An events table needs email, event and timestamp columns (optional: campaign_id, "
            "event_id, machine_open); rename the headers, or pass --events-format if this is a "
            "provider's webhook export."
        )
    frame = table.frame.select(
        pl.lit(table.source_file).alias("source_file"),
        pl.col(ROW).alias("row"),
        *(  # copied: the reader's frame may share one buffer set with all its columns
            (owned(pl.col(found[c])) if c in found else pl.lit(None, pl.String)).alias(c)
            for c in RAW_EVENT_SCHEMA
            if c not in ("source_file", "row")
        ),
    )
    rejects = pl.DataFrame(
        [(r.source_file, r.row, r.email or None, r.error) for r in table.rejects],
        schema=EVENT_REJECT_SCHEMA,
        orient="row",
    )
    return EventBatch(
        source_file=table.source_file,
        format="generic",
        sha256=table.sha256,
        size_bytes=table.size_bytes,
        records=table.input_rows,
        frame=frame,
        rejects=rejects,
        warnings=list(table.warnings),
    )


def _json_records(path: Path, source_file: str) -> list[tuple[int, Any]]:
    """(record number, record): array items, NDJSON lines, or the one object."""
    text = open_utf8(path, source_file)
    if not text.strip():
        raise InputFileError(f"{source_file}: the events file is empty. Export it again.")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        lines = [(n, ln) for n, ln in enumerate(text.splitlines(), start=1) if ln.strip()]
        out: list[tuple[int, Any]] = []
        for n, line in lines:
            try:
                out.append((n, json.loads(line)))
            except json.JSONDecodeError:
                out.append((n, _BadLine(exc.msg if n == exc.lineno else "not valid JSON")))
        if not any(not isinstance(r, _BadLine) for _, r in out):
            raise InputFileError(
                f"{source_file}: not valid JSON (line {exc.lineno}, column {exc.colno}: "
                f"{exc.msg}). Fix the file or export the events again."
            ) from None
        return out
    if isinstance(doc, dict):
        for key in ("Records", "items"):  # SNS-to-Lambda batches, Mailgun events pages
            if isinstance(doc.get(key), list):
                return list(enumerate(doc[key], start=1))
        return [(1, doc)]
    if isinstance(doc, list):
        return list(enumerate(doc, start=1))
    raise InputFileError(
        f"{source_file}: the JSON is a {type(doc).__name__}, not event records. Export the "
        "events as a JSON array, one object per line, or a provider's webhook body."
    )


class _BadLine:
    """An NDJSON line that does not parse; becomes a reject, never matches a format."""

    def __init__(self, message: str):
        self.message = message


def _detect(records: list[tuple[int, Any]], source_file: str) -> EventFormat | None:
    """The provider most of the first records match; None for the generic table."""
    sample = [r for _, r in records[:_DETECT_SAMPLE] if isinstance(r, dict)]
    best, best_n = None, 0
    for fmt in FORMATS:
        n = sum(1 for r in sample if fmt.matches(r))
        if n > best_n:
            best, best_n = fmt, n
    return best


def _format_named(name: str) -> EventFormat | None:
    if name == "generic":
        return None
    for fmt in FORMATS:
        if fmt.name == name:
            return fmt
    raise InputFileError(
        f"--events-format {name!r} is not a known format; use one of {', '.join(FORMAT_NAMES)}."
    )


def _provider_batch(
    path: Path, source_file: str, records: list[tuple[int, Any]], fmt: EventFormat
) -> EventBatch:
    bad = [(source_file, n, None, _bad_record(r)) for n, r in records if _bad_record(r)]
    good = [(n, r) for n, r in records if not _bad_record(r)]
    frame, rejects, skipped = collect(source_file, good, fmt)
    if bad:
        rejects = pl.concat(
            [rejects, pl.DataFrame(bad, schema=EVENT_REJECT_SCHEMA, orient="row")]
        ).sort("row", maintain_order=True)
    return EventBatch(
        source_file=source_file,
        format=fmt.name,
        sha256=sha256_file(path),
        size_bytes=path.stat().st_size,
        records=len(records),
        frame=frame,
        rejects=rejects,
        skipped=skipped,
    )


def _bad_record(record: Any) -> str | None:
    if isinstance(record, _BadLine):
        return f"the line is not valid JSON ({record.message}); fix it or export the file again."
    if not isinstance(record, dict):
        kind = type(record).__name__.replace("NoneType", "null").replace("list", "array")
        return f"the record is a JSON {kind}, not an event object; remove it."
    return None


def _is_json(path: Path, name: str) -> bool:
    suffix = Path(name.rsplit("!", 1)[-1]).suffix.lower()
    if suffix in (".json", ".ndjson", ".jsonl"):
        return True
    if suffix in (".csv", ".tsv", ".txt", ".parquet", ".pq"):
        return False
    with path.open("rb") as f:
        head = f.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1] in (b"{", b"[")


def read_events(
    paths: list[Path], rules: IngestRules, staging: Path, forced: str | None = None
) -> list[EventBatch]:
    """Every events file (or archive member) as one batch; whole-file problems raise
    InputFileError before anything is written."""
    return [
        m.whole() if isinstance(m, GenericStream) else m
        for m in events_members(paths, rules, staging, forced)
    ]


def events_members(
    paths: list[Path], rules: IngestRules, staging: Path, forced: str | None = None
) -> Iterator[EventBatch | GenericStream]:
    """Every events file (or archive member) in turn: a plain generic table as a stream
    to read a chunk at a time, anything else read whole, as one batch."""
    forced_fmt = _format_named(forced) if forced else None
    for path in expand_paths(paths):
        for member, source_file in archive_members(path, str(path), rules, staging):
            if _is_json(member, source_file):
                records = _json_records(member, source_file)
                fmt = forced_fmt if forced else _detect(records, source_file)
                if fmt is not None:
                    yield _provider_batch(member, source_file, records, fmt)
                    continue
            elif forced_fmt is not None:
                raise InputFileError(
                    f"{source_file}: --events-format {forced} reads JSON webhook bodies, but "
                    "this file is a table; leave --events-format out for a generic events table."
                )
            stream = GenericStream.open(member, source_file, rules)
            if stream is None:
                yield _generic_batch(read_one(member, source_file, rules))
            else:
                yield stream
