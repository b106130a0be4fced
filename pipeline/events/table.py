"""What every event reader produces: raw events as text, one shape for all sources.

A provider parser (ses.py, sendgrid.py, ...) turns one parsed JSON record into
zero or more `RawEvent`s (already named with our canonical event names),
`Skip`s for records we read but do not score (a deferral, a list upload), or
raises `EventError` for a record that is broken. The driver in `__init__`
numbers the records, so parsers never see file names or row numbers.
Timestamps, flags and addresses stay text here: `normalize.py` parses them
for every source at once, in polars.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

# Canonical events (contract, Inputs); the scoring rules may add more names.
EVENT_TYPES = (
    "send",
    "delivered",
    "open",
    "click",
    "reply",
    "bounce",
    "soft_bounce",
    "complaint",
    "unsubscribe",
)

# Raw events: every column text except the record number.
RAW_EVENT_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.String(),
    "row": pl.Int64(),
    "email": pl.String(),
    "event": pl.String(),
    "timestamp": pl.String(),
    "campaign_id": pl.String(),
    "event_id": pl.String(),
    "machine_open": pl.String(),  # "true" / "false" / null = the source does not say
    "user_agent": pl.String(),
    "ip": pl.String(),
    "reason": pl.String(),  # bounce diagnostic, complaint type, unsubscribe source
}

EVENT_REJECT_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.String(),
    "row": pl.Int64(),
    "email": pl.String(),
    "error": pl.String(),
}


class EventError(ValueError):
    """A record that cannot be an event; the message is a full sentence for events_rejects."""

    def __init__(self, message: str, email: str | None = None):
        super().__init__(message)
        self.email = email


@dataclass(frozen=True)
class RawEvent:
    email: str | None
    event: str
    timestamp: str | int | float | None  # as the source wrote it: ISO text or epoch seconds
    campaign_id: str | None = None
    event_id: str | None = None
    machine_open: bool | None = None
    user_agent: str | None = None
    ip: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Skip:
    """A record read but not scored, counted under `what` (e.g. "sendgrid deferred")."""

    what: str


Parsed = RawEvent | Skip


@dataclass(frozen=True)
class EventFormat:
    """A source format: `matches` looks at one record, `parse` reads it."""

    name: str
    title: str  # for messages and docs, e.g. "Amazon SES event publishing / SNS"
    matches: Callable[[Any], bool]
    parse: Callable[[Any], Iterable[Parsed]]


@dataclass
class EventBatch:
    """One events file read: raw events, rejects, and the counts of skipped records."""

    source_file: str
    format: str
    sha256: str
    size_bytes: int
    records: int  # records in the file (JSON objects or data rows)
    frame: pl.DataFrame  # RAW_EVENT_SCHEMA
    rejects: pl.DataFrame  # EVENT_REJECT_SCHEMA
    skipped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _text(v: Any) -> str | None:
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def collect(
    source_file: str, numbered: Iterable[tuple[int, Any]], fmt: EventFormat
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
    """Run `fmt.parse` over (record number, record) pairs: raw events, rejects, skips."""
    rows: list[tuple[Any, ...]] = []
    rejects: list[tuple[Any, ...]] = []
    skipped: dict[str, int] = {}
    for n, record in numbered:
        try:
            parsed = list(fmt.parse(record))
        except EventError as exc:
            rejects.append((source_file, n, exc.email, str(exc)))
            continue
        for p in parsed:
            if isinstance(p, Skip):
                skipped[p.what] = skipped.get(p.what, 0) + 1
                continue
            rows.append(
                (
                    source_file,
                    n,
                    _text(p.email),
                    p.event,
                    _text(p.timestamp),
                    _text(p.campaign_id),
                    _text(p.event_id),
                    _text(p.machine_open),
                    _text(p.user_agent),
                    _text(p.ip),
                    _text(p.reason),
                )
            )
    frame = pl.DataFrame(rows, schema=RAW_EVENT_SCHEMA, orient="row")
    return frame, pl.DataFrame(rejects, schema=EVENT_REJECT_SCHEMA, orient="row"), skipped
