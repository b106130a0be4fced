"""Request bodies: records cut into batches under a contact cap and a byte cap."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    """One payload file and the request that sends it."""

    file: str  # relative to payloads/<target>/
    method: str
    path: str
    content_type: str
    contacts: int  # records in the body
    body: bytes = field(repr=False)
    extra: dict[str, Any] = field(default_factory=dict)  # what the body says besides records

    def describe(self, target: str) -> dict[str, Any]:
        return {
            "target": target,
            "file": f"payloads/{target}/{self.file}",
            "method": self.method,
            "path": self.path,
            "content_type": self.content_type,
            "contacts": self.contacts,
            **self.extra,
        }


def batches(
    records: list[str], max_count: int, max_bytes: int, overhead: int
) -> Iterator[list[str]]:
    """Consecutive runs of `records` with at most `max_count` records and a JSON array body
    (records joined by commas, plus `overhead` bytes of envelope) of at most `max_bytes`.
    A single record larger than the byte cap still gets a batch of its own."""
    start, size = 0, overhead
    for i, r in enumerate(records):
        n = len(r.encode()) + 1
        if i > start and (i - start >= max_count or size + n > max_bytes):
            yield records[start:i]
            start, size = i, overhead
        size += n
    if start < len(records):
        yield records[start:]


def json_array(records: list[str]) -> str:
    return "[" + ",".join(records) + "]"


def numbered(stem: str, n: int, ext: str) -> str:
    return f"{stem}-{n:04d}.{ext}"
