"""Row outputs written a chunk at a time (pipeline/ordered_rows.py and the chunk writers
of pipeline/outputs.py): the bytes must not depend on how the rows were chunked, or the
two engines' files would differ; and the driver's sort of the shards' parts must give
the rows, with their types, in order."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from listhygiene import outputs
from listhygiene.ordered_rows import OrderedRows, merged_parts, sorted_parts
from listhygiene.outputs import OutputDir


def _rows(n: int, seed: int = 1) -> pl.DataFrame:
    rng = random.Random(seed)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    return pl.DataFrame(
        {
            "__pos": list(range(n)),
            "email": [f"u{i}@example.com" for i in range(n)],
            "first_name": [rng.choice(["Ada", "=SUM(A1)", None, 'Zoë, "Z"']) for _ in range(n)],
            "tags": [rng.choice([["a", "b"], [], None]) for _ in range(n)],
            "score": [rng.choice([None, *range(101)]) for _ in range(n)],
            "at": [
                rng.choice([None, base + timedelta(seconds=rng.randrange(10**8))]) for _ in range(n)
            ],
        },
        schema={
            "__pos": pl.Int64,
            "email": pl.String,
            "first_name": pl.String,
            "tags": pl.List(pl.String),
            "score": pl.Int64,
            "at": pl.Datetime("us", UTC),
        },
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("sizes", [[1000], [1, 999], [333, 333, 334], [0, 500, 0, 500]])
def test_chunked_writes_give_the_same_bytes_however_the_rows_are_chunked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sizes: list[int]
) -> None:
    monkeypatch.setattr(outputs, "ROW_GROUP", 128)  # several row groups, one partial
    frame = _rows(1000).drop("__pos")
    chunks, lo = [], 0
    for n in sizes:
        chunks.append(frame.slice(lo, n))
        lo += n
    whole = OutputDir(tmp_path / "a", "r1")
    parts = OutputDir(tmp_path / "b", "r1")
    whole.write_parquet_chunks("t.parquet", [frame])
    parts.write_parquet_chunks("t.parquet", chunks)
    # the CSV text: as one frame's write_csv, header once
    whole.write_csv("t.csv", frame.drop("tags"))
    parts.write_csv_chunks("t.csv", [c.drop("tags") for c in chunks])
    for rel in ("t.parquet", "t.csv"):
        assert _digest(whole.staging / rel) == _digest(parts.staging / rel), rel
    assert parts.written == {"t.parquet": 1000, "t.csv": 1000}
    back = pl.read_parquet(parts.staging / "t.parquet")
    assert back.equals(frame)
    assert "'=SUM(A1)" in (parts.staging / "t.csv").read_text()  # neutralized in chunks too


def test_an_empty_table_writes_its_columns(tmp_path: Path) -> None:
    out = OutputDir(tmp_path / "o", "r1")
    rows = OrderedRows.of(_rows(0))
    out.write_parquet_chunks("t.parquet", rows.chunks())
    out.write_csv_chunks("t.csv", rows.chunks(["email", "score"]))
    assert pl.read_parquet(out.staging / "t.parquet").schema == _rows(0).schema
    assert (out.staging / "t.csv").read_text() == "email,score\n"


def test_sorted_parts_merge_the_shards_in_order_with_their_types(tmp_path: Path) -> None:
    frame = _rows(2500, seed=3)
    shard = pl.Series([random.Random(i).randrange(5) for i in range(frame.height)])
    parts = []
    for k in range(6):  # shard 5 is empty
        part = frame.filter(shard == k)
        part.write_parquet(tmp_path / f"p{k}.parquet")
        parts.append(tmp_path / f"p{k}.parquet")
    schema = {c: t for c, t in frame.schema.items() if c != "__pos"}
    rows = sorted_parts(parts[::-1], '"__pos"', schema, tmp_path / "sorted" / "all.parquet")
    assert rows.height == frame.height
    chunks = list(rows.chunks(rows=300))
    assert chunks[0].is_empty() and all(c.height <= 300 for c in chunks)
    assert pl.concat(chunks).equals(frame.drop("__pos"))
    assert pl.concat(list(rows.chunks(["score", "email"]))).equals(frame.select("score", "email"))
    none = sorted_parts([], '"__pos"', schema, tmp_path / "none.parquet")
    assert none.height == 0 and pl.concat(list(none.chunks())).schema == schema


@pytest.mark.parametrize("rows", [1, 7, 300, 5000])
def test_merged_parts_give_what_a_sort_gives(tmp_path: Path, rows: int) -> None:
    """Shards' parts, each in input order, merged as they are read: the rows a sort gives,
    with their types, in chunks of exactly `rows`; a part with a column all null (no
    type) or missing takes the schema's type, as DuckDB's union_by_name does."""
    frame = _rows(2500, seed=5)
    shard = pl.Series([random.Random(i).randrange(5) for i in range(frame.height)])
    parts = []
    for k in range(6):  # shard 5 is empty
        part = frame.filter(shard == k)
        if k == 1:
            part = part.with_columns(pl.lit(None).alias("first_name"))  # untyped nulls
        if k == 2:
            part = part.drop("score")
        part.write_parquet(tmp_path / f"p{k}.parquet")
        parts.append(tmp_path / f"p{k}.parquet")
    schema = {c: t for c, t in frame.schema.items() if c != "__pos"}
    merged = merged_parts(parts[::-1], "__pos", schema, tmp_path / "m.parquet")
    assert merged.key == "__pos" and merged.path is None  # merged, not sorted
    assert not (tmp_path / "m.parquet").exists()
    expected = frame.with_columns(
        pl.when(shard == 1).then(None).otherwise(pl.col("first_name")).alias("first_name"),
        pl.when(shard == 2).then(None).otherwise(pl.col("score")).alias("score"),
    ).drop("__pos")
    chunks = list(merged.chunks(rows=rows))
    assert chunks[0].is_empty() and all(c.height == rows for c in chunks[1:-1])
    assert pl.concat(chunks).equals(expected)
    sorted_ = sorted_parts(parts, '"__pos"', schema, tmp_path / "s" / "all.parquet")
    assert pl.concat(list(sorted_.chunks(rows=rows))).equals(expected)
    assert pl.concat(list(merged.chunks(["email"]))).equals(expected.select("email"))


def test_merged_parts_keep_a_keys_rows_in_their_parts_order(tmp_path: Path) -> None:
    """A contact's several records (one position, several rows) stay in their order."""
    a = pl.DataFrame({"__pos": [0, 0, 0, 3, 5, 5], "rec": ["a0", "a1", "a2", "a3", "a4", "a5"]})
    b = pl.DataFrame({"__pos": [1, 2, 2, 4], "rec": ["b0", "b1", "b2", "b3"]})
    a.write_parquet(tmp_path / "a.parquet")
    b.write_parquet(tmp_path / "b.parquet")
    rows = merged_parts([tmp_path / "a.parquet", tmp_path / "b.parquet"], "__pos",
                        {"rec": pl.String}, tmp_path / "m.parquet")  # fmt: skip
    assert rows.key == "__pos" and rows.height == 10
    got = pl.concat(list(rows.chunks(rows=3))).get_column("rec").to_list()
    assert got == ["a0", "a1", "a2", "b0", "b1", "b2", "a3", "b3", "a4", "a5"]


def test_merged_parts_fall_back_to_a_sort_when_a_part_is_out_of_order(tmp_path: Path) -> None:
    frame = _rows(400, seed=6)
    a, b = frame.head(200), frame.tail(200)
    a.reverse().write_parquet(tmp_path / "a.parquet")  # not in order
    b.write_parquet(tmp_path / "b.parquet")
    schema = {c: t for c, t in frame.schema.items() if c != "__pos"}
    rows = merged_parts([tmp_path / "a.parquet", tmp_path / "b.parquet"], "__pos", schema,
                        tmp_path / "sorted.parquet")  # fmt: skip
    assert rows.path == tmp_path / "sorted.parquet" and rows.key is None
    assert pl.concat(list(rows.chunks())).equals(frame.drop("__pos"))
    none = merged_parts([], "__pos", schema, tmp_path / "none.parquet")
    assert none.height == 0 and pl.concat(list(none.chunks())).schema == schema


def test_large_columns_give_the_same_bytes_however_the_arrow_data_is_split(
    tmp_path: Path,
) -> None:
    """Past ~1 MiB a column per row group, Arrow's writer cuts pages (and may give up a
    dictionary) where its input's pieces end: the writer joins them first, so a frame of
    many pieces, any chunk sizes and one whole frame give one file."""
    rng = random.Random(5)
    n = 300_000
    frame = pl.DataFrame(
        {
            "email": [f"u{i}@example.com" for i in range(n)],
            "note": [f"{rng.getrandbits(64):x}-{rng.choice('abcdef') * 20}" for _ in range(n)],
        }
    )
    pieces = pl.concat([frame.slice(lo, 777) for lo in range(0, n, 777)], rechunk=False)
    assert pieces.n_chunks() > 100
    digests = set()
    for name, chunks in (
        ("whole", [frame]),
        ("odd", [frame.slice(lo, 65_536) for lo in range(0, n, 65_536)]),
        ("small", [frame.slice(lo, 777) for lo in range(0, n, 777)]),
        ("pieces", [pieces]),
    ):
        out = OutputDir(tmp_path / name, "r1")
        out.write_parquet_chunks("t.parquet", chunks)
        digests.add(_digest(out.staging / "t.parquet"))
    assert len(digests) == 1
