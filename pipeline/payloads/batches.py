"""Request bodies: records cut into batches under a contact cap and a byte cap."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl


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


def batch_ids(records: pl.Series, max_count: int, max_bytes: int, overhead: int) -> pl.Series:
    """A batch number per record: consecutive runs of at most `max_count` records whose JSON
    array body (records joined by commas, plus `overhead` bytes of envelope) is at most
    `max_bytes`. A single record larger than the byte cap gets a batch of its own."""
    sizes = records.str.len_bytes() + 1  # the record and its comma (or bracket)
    by_count = pl.int_range(records.len(), eager=True, dtype=pl.UInt32) // max_count
    per = pl.DataFrame({"b": by_count, "n": sizes}).group_by("b").agg(pl.col("n").sum())
    if per.is_empty() or per.get_column("n").max() + overhead + 1 <= max_bytes:
        return by_count  # the usual case: the contact cap closes every batch
    out, batch, count, size = [], 0, 0, overhead + 1
    for n in sizes.to_list():
        if count and (count >= max_count or size + n > max_bytes):
            batch, count, size = batch + 1, 0, overhead + 1
        out.append(batch)
        count, size = count + 1, size + n
    return pl.Series(out, dtype=pl.UInt32)


def json_arrays(
    records: pl.Series, max_count: int, max_bytes: int, overhead: int
) -> list[tuple[str, int]]:
    """The JSON array text of each batch and its record count."""
    frame = pl.DataFrame({"b": batch_ids(records, max_count, max_bytes, overhead), "r": records})
    joined = frame.group_by("b", maintain_order=True).agg(
        (pl.lit("[") + pl.col("r").str.join(",") + pl.lit("]")).alias("body"), pl.len()
    )
    return list(
        zip(joined.get_column("body").to_list(), joined.get_column("len").to_list(), strict=True)
    )


def numbered(stem: str, n: int, ext: str) -> str:
    return f"{stem}-{n:04d}.{ext}"
