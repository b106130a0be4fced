"""Request bodies: records cut into batches under a contact cap and a byte cap.

Records arrive a chunk of contacts at a time and wait in a `Spool` (an Arrow IPC file)
until every chunk has been seen; `record_batches` then cuts them into bodies in one
pass, so a run holds one body at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.ipc as ipc

from ..ordered_rows import OrderedRows


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


def record_batches(
    records: Iterable[pl.Series], max_count: int, max_bytes: int, overhead: int
) -> Iterator[tuple[str, int]]:
    """The JSON array texts of consecutive runs of records (and their counts): at most
    `max_count` records whose body (records joined by commas in brackets, plus `overhead`
    bytes of envelope) is at most `max_bytes`; a single record larger than that gets a
    batch of its own. `records` are series of JSON texts, in order: the same cuts,
    whatever their lengths."""
    open_batch = pl.Series("r", [], dtype=pl.String)  # the records of the batch not yet cut
    for series in records:
        if not series.len():
            continue
        joined = pl.concat([open_batch, series.rename("r")])
        frame = pl.DataFrame(
            {"r": joined, "n": joined.str.len_bytes() + 1}  # the record and its comma
        ).with_columns((pl.int_range(pl.len(), dtype=pl.UInt32) // max_count).alias("b"))
        per = frame.group_by("b", maintain_order=True).agg(
            pl.col("n").sum(), pl.len().alias("count"), pl.col("r").str.join(",")
        )
        if per.get_column("n").max() + overhead + 1 <= max_bytes:
            # the usual case: the contact cap closes every batch
            full = per.filter(pl.col("count") == max_count)
            for text, count in full.select("r", "count").iter_rows():
                yield "[" + text + "]", count
            open_batch = joined.slice(full.height * max_count)
            continue
        batch: list[str] = []
        size = overhead + 1
        for text, n in frame.select("r", "n").iter_rows():
            if batch and (len(batch) >= max_count or size + n > max_bytes):
                yield "[" + ",".join(batch) + "]", len(batch)
                batch, size = [], overhead + 1
            batch.append(text)
            size += n
        open_batch = pl.Series("r", batch, dtype=pl.String)
    if open_batch.len():
        yield "[" + open_batch.str.join(",").item() + "]", open_batch.len()


class Spool:
    """Frames appended in order to an Arrow IPC stream file under `folder`, read back in
    the same order once all are in; `rows` counts them."""

    def __init__(self, folder: Path, name: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{name}.arrows"
        self.rows = 0
        self._writer: ipc.RecordBatchStreamWriter | None = None
        self._sink: Any = None
        self._schema: pa.Schema | None = None
        self._read = False

    def append(self, frame: pl.DataFrame) -> None:
        assert not self._read, f"{self.path}: appended to after it was read"
        if frame.is_empty():
            return
        table = frame.to_arrow()  # polars' own layout (string views): no copy
        if self._writer is None:
            self._schema = table.schema
            self._sink = pa.OSFile(str(self.path), "wb")
            self._writer = ipc.new_stream(self._sink, table.schema)
        self._writer.write_table(table.cast(self._schema))
        self.rows += frame.height

    def frames(self) -> Iterator[pl.DataFrame]:
        """The rows appended, in order, in the chunks they came in."""
        self._read = True
        if self._writer is not None:
            self._writer.close()
            self._sink.close()
            self._writer = None
        if not self.rows:
            return
        with pa.OSFile(str(self.path), "rb") as source:  # read, not mapped: frames outlive it
            for batch in ipc.open_stream(source):
                frame = pl.from_arrow(batch)
                assert isinstance(frame, pl.DataFrame)
                yield frame

    def column(self, name: str) -> Iterator[pl.Series]:
        for frame in self.frames():
            yield frame.get_column(name)


class MergedSpool:
    """A spool whose parts were made per shard, read in POS order from the file DuckDB
    sorted them into (ordered_rows.sorted_parts): what `Spool` gives, for `finish`."""

    def __init__(self, rows: OrderedRows) -> None:
        self.sorted = rows
        self.rows = rows.height

    def frames(self) -> Iterator[pl.DataFrame]:
        for frame in self.sorted.chunks():
            if frame.height:
                yield frame

    def column(self, name: str) -> Iterator[pl.Series]:
        for frame in self.frames():
            yield frame.get_column(name)


def exact_chunks(frames: Iterable[pl.DataFrame], rows: int) -> Iterator[pl.DataFrame]:
    """The frames' rows in chunks of exactly `rows` (the last may be shorter)."""
    held: list[pl.DataFrame] = []
    waiting = 0
    for frame in frames:
        held.append(frame)
        waiting += frame.height
        while waiting >= rows:
            joined = pl.concat(held, how="vertical")
            yield joined.head(rows)
            rest = joined.slice(rows)
            held, waiting = [rest], rest.height
    if waiting:
        yield pl.concat(held, how="vertical")


def numbered(stem: str, n: int, ext: str) -> str:
    return f"{stem}-{n:04d}.{ext}"
