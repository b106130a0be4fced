"""Shard by shard: the stages of stages.py as tasks, run by a TaskRunner, either
`LocalRunner` (this process, one task after another: the embedded engine's `--shards N`,
memory bounded by a shard) or spark_engine's `SparkRunner` (Spark tasks).

1. One task per input file runs `stages.input_done` (read, map, validate, flags) and
   writes the accepted rows to the staging folder as Parquet, split by shard: the
   shard of a row is `shard_numbers` of its canonical key (merge.canonical_keys).
   One task per events file reads and normalizes it the same way, a batch of rows at
   a time. Row numbers stay those of the file.
2. The driver asks the DNS resolver (the store's cache, or live) once per distinct
   domain of the whole list, so tasks never need the store or the network.
3. One task per shard reads its parts of every file and runs
   `stages.contacts_finished` (merge, the account's suppressions, scoring, verdicts)
   on its contacts and their events. A canonical key holds every spelling a person's
   address can take, so everything that must meet (records to merge, possible
   duplicates, a contact's events) meets in one shard.
4. The driver sums the shards' counts, merges their contacts and payload records back
   into input order as it reads them (each shard's are in input order already), has
   DuckDB sort the engagement lists (out of core), and hands them to the embedded
   engine's output code (run._outputs).

The exchange between steps 1 and 3 is a shuffle through the staging folder's files,
not Spark's own: at 1M contacts and 10M events it took 29 s of the run's 66 s through
Spark's (JVM rows to Arrow and back, `applyInArrow`), and ~5 s this way
(bench/results/, README). Spark schedules the tasks, retries a failed one (a task's
file names are fixed, so a retry overwrites its attempt) and runs them on the cluster.

Paths may be local or any URI pyarrow.fs reads (file://, hdfs://, s3://, gs://):
tasks copy a remote input to local temporary space before reading it, so the
readers are the embedded engine's own.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from .contact_counts import ContactCounts, summed_counts
from .engagement_lists import INACTIVE_FIRST_SQL, SORT_KEY
from .errors import ListHygieneError
from .ordered_rows import OrderedRows, merged_parts, sorted_parts
from .outputs import write_parquet_file
from .payloads.records import POS

if TYPE_CHECKING:  # run.py imports this module; these are only for the type checker
    from .ruleset import RuleSet
    from .run import EventsRead, Prepared, Progress, RunOptions
    from .stages import InputDone, Stage
    from .store import Store

SHARD = "shard"  # a partition folder named `__x` would be hidden from readers
DOMAIN = "__domain"  # the DNS key of the address's domain
POSITION = POS  # a contact's place in input order: file rank × 2³², then its row
ORDER = "__order"  # (input index, archive member): the file's place among the inputs
MEMBER = "__member"
BATCH = "__batch"  # an events file's batch (archive member); with ORDER, its source_file
_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


class Shared:
    """A value every task reads (Spark's broadcast variable has the same `.value`)."""

    def __init__(self, value: Any):
        self.value = value


class TaskRunner(Protocol):
    """Runs the tasks: here, one after another (LocalRunner), or on Spark."""

    name: str

    def run(self, task: Callable[[Any], Any], jobs: list[Any]) -> list[Any]:
        """`task(job)` of every job, in the jobs' order."""
        ...

    def shared(self, value: Any) -> Any:
        """`value` for every task, read as `.value`."""
        ...

    def info(self) -> dict[str, Any]:
        """The manifest's `engine` entries of this runner."""
        ...


class LocalRunner:
    """The tasks in this process, one after another: the embedded engine's `--shards N`.
    Memory is what one task needs (an input file, an events batch, a shard) plus the
    driver's; freed memory is handed back to the system after each task."""

    name = "duckdb"
    running = False  # set while a task runs here: workers' peak resets must not touch ours

    # After the last task of a kind (the file tasks, the shard tasks): polars' jemalloc
    # returns freed pages 250 ms after they are freed (pipeline/__init__.py); without the
    # wait, the next kind's first task began with the last one's garbage still resident
    # (1.7 GB after a 1M-row contacts file, one run in three).
    SETTLE_S = 0.3

    def run(self, task: Callable[[Any], Any], jobs: list[Any]) -> list[Any]:
        from .run import release_memory

        out = []
        LocalRunner.running = True
        try:
            for job in jobs:
                out.append(task(job))
                release_memory()
        finally:
            LocalRunner.running = False
        time.sleep(self.SETTLE_S)
        return out

    def shared(self, value: Any) -> Shared:
        return Shared(value)

    def info(self) -> dict[str, Any]:
        return {"name": self.name}


@dataclass
class InputTaskResult:
    """What an input task hands the driver for one table (a file, or an archive member);
    its accepted rows stay in staging, in `parts`."""

    index: int  # the file's place among the inputs
    member: int  # the table's place in its archive (0 for a plain file)
    done: InputDone  # its contacts and mapped frame dropped
    seconds: float
    domains: list[str]  # the distinct DNS domains of its accepted rows
    schema: dict[str, Any]  # of the staged rows
    peak_mb: float | None  # the worker's peak RSS during the task
    parts: list[tuple[int, str]]  # (shard, staged part) written


@dataclass
class EventsTaskResult:
    """What an events task hands the driver for one events file; its events stay in
    staging, in `parts`."""

    index: int  # the file's place among the events files
    read: list[EventsRead]  # per batch, in batch order
    rejects: pl.DataFrame  # EVENT_REJECT_SCHEMA
    input_records: int
    skipped: dict[str, int]
    warnings: list[str]
    seconds: float
    by_day: pl.DataFrame  # report.events_by_day
    count: int  # usable events
    peak_mb: float | None
    parts: list[tuple[int, str]]


def is_uri(text: str) -> bool:
    return bool(_URI.match(text))


def _filesystem(where: str) -> tuple[pafs.FileSystem, str]:
    if is_uri(where):
        return pafs.FileSystem.from_uri(where)
    return pafs.LocalFileSystem(), os.path.abspath(where)


def _local(source: str, tmp: Path) -> Path:
    """`source` as a local file: remote ones are copied into `tmp` first."""
    from .errors import InputFileError

    if not is_uri(source):
        return Path(source)
    try:
        fs, path = pafs.FileSystem.from_uri(source)  # decodes %-escapes of file:// URIs
        if isinstance(fs, pafs.LocalFileSystem):
            return Path(path)
        dest = tmp / Path(path).name
        with fs.open_input_stream(path) as src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
        return dest
    except (pa.ArrowException, OSError) as exc:
        raise InputFileError(
            f"{source}: cannot be read ({exc}). Check the URI and that every executor can reach it."
        ) from None


def _write(where: str, rel: str, frame: pl.DataFrame, row_group: int = 1 << 16) -> None:
    """Write a task's Parquet part under the staging folder: a part under `out/` (copied
    into --out as it is) as outputs are written, the others, read back once by the driver
    or a shard task, with lz4 (a third faster to write than zstd, read twice as fast) in
    row groups of `row_group` rows. Names are fixed per task, so a retried task
    overwrites what its failed attempt left."""
    fs, base = _filesystem(where)
    path = f"{base}/{rel}"
    fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    with fs.open_output_stream(path) as f:
        if rel.startswith("out/"):
            write_parquet_file(frame, f)
        else:
            frame.write_parquet(f, compression="lz4", statistics=False, row_group_size=row_group)


# The parts the driver merges by position (contacts, payload spools): it reads every
# shard's part at once, a whole row group each, so 80 shards of 16k-row groups would hold
# 1.3M contacts' columns; 2,048 rows keep that to 160k.
MERGED_ROW_GROUP = 2048


def _fetched(where: str, rels: list[str], tmp: Path) -> list[Path]:
    """The staged files `rels` as local paths: those of a remote staging folder are copied
    into `tmp` first (one at a time: no more in memory than a copy buffer)."""
    if not is_uri(where):
        return [Path(where) / rel for rel in rels]
    fs, base = _filesystem(where)
    tmp.mkdir(parents=True, exist_ok=True)
    out = []
    for i, rel in enumerate(rels):
        dest = tmp / f"{i:06d}.parquet"
        with fs.open_input_stream(f"{base}/{rel}") as src, open(dest, "wb") as f:
            shutil.copyfileobj(src, f, 1 << 20)
        out.append(dest)
    return out


def _staged_bytes(where: str, rel: str) -> Iterator[bytes]:
    """A staged file's bytes, a block at a time (read when iterated)."""
    fs, base = _filesystem(where)
    with fs.open_input_stream(f"{base}/{rel}") as src:
        while block := src.read(1 << 20):
            yield block


def _read(where: str, rel: str) -> pl.DataFrame:
    fs, base = _filesystem(where)
    table = pq.read_table(f"{base}/{rel}", filesystem=fs)
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _shards_of(frame: pl.DataFrame, rules: RuleSet, shards: int) -> pl.Series:
    """The shard of each row of `frame`: `shard_numbers` of its canonical key."""
    return _key_shards(frame.get_column("email_key"), rules, shards)


def _key_shards(email_keys: pl.Series, rules: RuleSet, shards: int) -> pl.Series:
    from .merge import canonical_keys

    return shard_numbers(canonical_keys(email_keys, rules.merge.providers), shards)


_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def key_hashes(keys: pl.Series) -> np.ndarray:
    """Each key's 64-bit hash: FNV-1a over its UTF-8 bytes, then splitmix64's finalizer
    (so the low bits, which `% shards` keeps, depend on every byte). Arithmetic on the
    bytes alone: the same on every machine, Python and library version. Vectorized over
    the keys sorted by length, one byte position at a time (work: the keys' total bytes).
    A null key hashes as the empty string."""
    arr = keys.cast(pl.String).to_arrow()
    arr = pc.cast(arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr,
                  pa.large_string())  # fmt: skip
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
    data = arr.buffers()[2]
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    if arr.null_count:
        lengths = np.where(np.asarray(arr.is_null()), 0, lengths)
    order = np.argsort(-lengths, kind="stable")
    starts, longest = offsets[:-1][order], int(lengths.max(initial=0))
    # with the keys longest first, those longer than j are a prefix of this many
    active = np.searchsorted(-lengths[order], -np.arange(longest), side="left")
    h = np.full(n, _FNV_OFFSET, dtype=np.uint64)
    for j in range(longest):
        c = active[j]
        h[:c] ^= data[starts[:c] + j].astype(np.uint64)
        h[:c] *= _FNV_PRIME
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    out = np.empty(n, dtype=np.uint64)
    out[order] = h
    return out


def shard_numbers(keys: pl.Series, shards: int) -> pl.Series:
    """Each key's shard: its `key_hashes` modulo `shards` (a null key: shard 0). The same
    everywhere: whichever task meets a key (an input file, an events file) sends it to
    the same shard."""
    codes = (key_hashes(keys) % np.uint64(shards)).astype(np.int32)
    return (
        pl.Series(SHARD, codes, dtype=pl.Int32).scatter(keys.is_null().arg_true(), 0).alias(SHARD)
    )


def _write_shards(where: str, folder: str, frame: pl.DataFrame, name: str) -> list[tuple[int, str]]:
    """A task's rows, split by shard: `<folder>/shard=K/<name>.parquet` (what the shard
    task K reads: the exchange between the two kinds of task goes through the staging
    folder, as a shuffle's files would). Returns (shard, part) of every part written: the
    shard tasks read exactly those, so a part missing is an error, never an empty shard."""
    written = []
    for (k,), part in frame.partition_by(SHARD, as_dict=True, maintain_order=True).items():
        rel = f"{folder}/shard={k:05d}/{name}.parquet"
        _write(where, rel, part.drop(SHARD))
        written.append((int(k), rel))
    return written


# -- tasks: these run in the executors' Python workers -------------------------------------


def _file_task(job: tuple[str, int, str, bytes, str]) -> list[tuple[str, Any]]:
    """An input or events file's task; an error is tagged with its kind and index."""
    kind, *rest = job
    index = rest[0]
    results = (_input_task if kind == "input" else _events_task)(tuple(rest))  # type: ignore[arg-type]
    return [
        ("error", (*value, kind, index)) if tag == "error" else (tag, value)
        for tag, value in results
    ]


def _input_task(job: tuple[int, str, bytes, str]) -> list[tuple[str, Any]]:
    """Read, map, validate and flag one input file (each archive member a table);
    the accepted rows go to staging, the rest back to the driver."""
    from .deliverability import _with_domain
    from .ingest import archive_members, read_one
    from .stages import input_done

    index, source, payload, staging = job
    rules, preset, region, shards = pickle.loads(payload)
    results: list[tuple[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="listhygiene-task-") as tmp:
            local = _local(source, Path(tmp))
            members = archive_members(local, source, rules.ingest, Path(tmp))
            for member_no, (member, source_file) in enumerate(members):
                started = time.perf_counter()
                _peak_reset()
                table = read_one(member, source_file, rules.ingest)
                done = input_done(table, rules, preset, region, None)
                rows = _with_domain(done.contacts).rename({"domain": DOMAIN})
                rows = rows.with_columns(
                    _shards_of(rows, rules, shards),
                    pl.lit(index, pl.Int32).alias(ORDER),
                    pl.lit(member_no, pl.Int32).alias(MEMBER),
                )
                written = _write_shards(staging, "accepted", rows, f"{index:06d}-{member_no:04d}")
                domains = rows.get_column(DOMAIN).drop_nulls().unique().to_list()
                schema = dict(rows.drop(SHARD).schema)
                done = replace(done, contacts=done.contacts.clear(), mapped=None)  # type: ignore[arg-type]
                seconds = round(time.perf_counter() - started, 4)
                results.append(
                    (
                        "input",
                        InputTaskResult(
                            index, member_no, done, seconds, domains, schema, _peak_mb(), written
                        ),
                    )
                )
    except ListHygieneError as exc:  # the driver raises it again: exit 2, the same sentence
        results.append(("error", (type(exc), str(exc))))
    return results


EVENT_CHUNK_ROWS = 1 << 19  # rows of a plain events table normalized at a time (~1.2 GB at 10M)


def _events_task(job: tuple[int, str, bytes, str]) -> list[tuple[str, Any]]:
    """Read and normalize one events file; the events go to staging, in input order. A
    plain generic table is read and normalized a chunk of EVENT_CHUNK_ROWS at a time, so
    the task holds one chunk, not the file."""
    from .events import GenericStream, NotFast, events_members
    from .events.table import EVENT_REJECT_SCHEMA
    from .report import summed_by_day

    index, source, payload, staging = job
    rules, forced, as_of, shards = pickle.loads(payload)
    started = time.perf_counter()
    _peak_reset()
    made = _EventsMade(index, staging, rules, as_of, shards)
    try:
        with tempfile.TemporaryDirectory(prefix="listhygiene-task-") as tmp:
            local = _local(source, Path(tmp))

            def named(batch: Any) -> Any:  # a URI's batches named as given, members `!member`
                return _renamed(batch, str(local), source) if is_uri(source) else batch

            members = events_members([local], rules.ingest, Path(tmp), forced)
            for member, item in enumerate(members):
                if not isinstance(item, GenericStream):
                    made.add(named(item), member)
                    continue
                try:
                    for batch in item.batches(EVENT_CHUNK_ROWS):
                        made.add(named(batch), member)
                except NotFast:  # unfit after all: its chunks dropped, read by the general reader
                    made.drop(member)
                    made.add(named(item.general()), member)
                    continue
                facts = item.read.facts
                assert facts is not None
                made.finish(member, facts.sha256, facts.size)
        staged = made.staged()
        result = EventsTaskResult(
            index=index,
            read=made.read(),
            rejects=pl.concat(
                [pl.DataFrame(schema=EVENT_REJECT_SCHEMA), *(s.rejects for s in staged)],
                how="vertical",
            ),
            input_records=sum(s.input_records for s in staged),
            skipped=_summed([s.skipped for s in staged]),
            warnings=[w for s in staged for w in s.warnings],
            seconds=round(time.perf_counter() - started, 4),
            by_day=summed_by_day([s.by_day for s in staged]),
            count=sum(s.count for s in staged),
            peak_mb=_peak_mb(),
            parts=[part for s in staged for part in s.parts],
        )
        return [("events", result)]
    except ListHygieneError as exc:
        return [("error", (type(exc), str(exc)))]


@dataclass
class _Staged:
    """One batch of an events member, normalized and staged."""

    parts: list[tuple[int, str]]
    rejects: pl.DataFrame
    by_day: pl.DataFrame
    skipped: dict[str, int]
    input_records: int
    count: int  # usable events
    read: Any  # run.EventsRead of the batch
    warnings: list[str]


class _EventsMade:
    """What an events task has staged so far, member by member and batch by batch: the
    parts, and the counts, rejects and manifest entries the driver gets."""

    def __init__(self, index: int, staging: str, rules: RuleSet, as_of: Any, shards: int):
        self.index, self.staging, self.rules = index, staging, rules
        self.as_of, self.shards = as_of, shards
        self.members: dict[int, list[_Staged]] = {}  # in member order, batches in order
        self.sizes: dict[int, tuple[str, int]] = {}  # a streamed member's sha256 and size
        self.known: pl.DataFrame | None = None  # addresses validated so far, and their keys

    def add(self, batch: Any, member: int) -> None:
        """Normalize one batch (a member read whole, or a chunk of one) and stage it."""
        from .events.normalize import events_normalized, owned
        from .report import events_by_day
        from .run import EventsRead

        staged = self.members.setdefault(member, [])
        normalized = events_normalized([batch], self.rules.scoring, self.known)
        learnt = normalized.known()
        if self.known is not None:  # the new ones, copied: a view would keep the batch's
            learnt = learnt.join(self.known, on="email_input", how="anti")
            learnt = learnt.select(owned(pl.col("email_input")), owned(pl.col("email_key")))
            learnt = pl.concat([self.known, learnt]) if learnt.height else self.known
        self.known = learnt
        # each distinct address's shard once, then gathered (events repeat addresses); the
        # batch's position instead of its name: 4 bytes an event, and two members of one
        # name stay two batches
        by_address = _key_shards(normalized.keys, self.rules, self.shards)
        events = normalized.events.with_columns(
            by_address.gather(normalized.compact.get_column("__addr")),
            pl.lit(self.index, pl.Int32).alias(ORDER),
            pl.lit(member, pl.Int32).alias(BATCH),
        ).drop("source_file")
        name = f"{self.index:06d}-{member:04d}-{len(staged):05d}"
        days = events_by_day(
            normalized.compact.select("event", "timestamp", "machine_open"), self.as_of
        )
        staged.append(
            _Staged(
                parts=_write_shards(self.staging, "events", events, name),
                rejects=normalized.rejects,
                by_day=days,
                skipped=normalized.skipped,
                input_records=normalized.input_records,
                count=normalized.count,
                read=EventsRead.of(batch),
                warnings=batch.warnings,
            )
        )

    def drop(self, member: int) -> None:
        """Forget the member's batches so far (their staged parts are never read)."""
        self.members.pop(member, None)

    def finish(self, member: int, sha256: str, size: int) -> None:
        """A streamed member read to its end: its hash and size are known now."""
        self.sizes[member] = (sha256, size)

    def staged(self) -> list[_Staged]:
        return [s for _, batches in sorted(self.members.items()) for s in batches]

    def read(self) -> list[Any]:
        """Each member's manifest entry (EventsRead): a streamed member's batches' counts
        summed, with the hash and size known at its end."""
        out = []
        for member, batches in sorted(self.members.items()):
            first = batches[0].read
            sha256, size = self.sizes.get(member, (first.sha256, first.size_bytes))
            out.append(
                replace(first, sha256=sha256, size_bytes=size,
                        records=sum(s.read.records for s in batches),
                        events=sum(s.read.events for s in batches),
                        rejected=sum(s.read.rejected for s in batches))
            )  # fmt: skip
        return out


def _by_shard(table: str, frame: pl.DataFrame, shards: pl.Series) -> list[tuple[str, pl.DataFrame]]:
    """`table/shard=K/part-0.parquet` for every shard K with rows, in shard order."""
    parts = frame.with_columns(shards.alias(SHARD)).partition_by(
        SHARD, as_dict=True, maintain_order=True
    )
    return [
        (f"{table}/shard={k}/part-0.parquet", part.drop(SHARD))
        for (k,), part in sorted(parts.items())
    ]


def _parts(where: str, rels: list[str], schema: dict[str, Any]) -> pl.DataFrame:
    """The Parquet parts `rels`, in the order given, as one frame of `schema`; each must
    exist (a missing one raises FileNotFoundError)."""
    frames = [pl.DataFrame(schema=schema)]
    for rel in rels:
        frames.append(_read(where, rel).select(list(schema)).cast(schema))
    return pl.concat(frames, how="vertical")


def _peak_reset() -> None:
    """Start this worker's memory high-water mark afresh (Linux: clear_refs 5), so the
    task's peak is its own: Python workers are reused from task to task. Not in the
    driver's own process (LocalRunner): its mark is the run's peak."""
    if LocalRunner.running:
        return
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:  # not Linux, or not allowed: the mark then includes earlier tasks
        pass


def _peak_mb() -> float | None:
    from .run import status_kb

    if LocalRunner.running:  # the run's mark, not the task's: the stage clock has it
        return None

    kb = status_kb("VmHWM")
    return round(kb / 1024, 1) if kb else None


def _renamed(batch: Any, local: str, source: str) -> Any:
    """An events batch read from the local copy `local`, named by its URI `source`."""
    name = batch.source_file.replace(local, source, 1)
    rejects = batch.rejects.with_columns(
        pl.col("source_file").str.replace(local, source, literal=True)
    )
    warnings = [w.replace(local, source) for w in batch.warnings]
    return replace(batch, source_file=name, rejects=rejects, warnings=warnings)


def _shard_task(context: dict[str, Any], shard: int) -> dict[str, Any]:
    """One shard: the accepted rows of its contacts (from every input task), with the
    DNS answers, and their events, through `contacts_finished`; everything it makes goes
    to staging. Returns its own timing."""
    from .contacts import contacts_table
    from .stages import contacts_finished

    started = time.perf_counter()
    _peak_reset()
    rules = context["rules"]
    staging = context["staging"]
    accepted_parts, event_parts = context["parts"].value.get(shard, ([], []))
    try:
        accepted = _parts(staging, accepted_parts, context["accepted_schema"])
        frame = _parts(staging, event_parts, context["events_schema"])
    except (FileNotFoundError, pa.ArrowInvalid) as exc:  # never an empty shard instead
        return {"shard": shard, "error": f"{exc}"}
    accepted = accepted.sort(ORDER, MEMBER, "source_row", maintain_order=True)
    answers: pl.DataFrame = context["answers"].value
    if answers.height:
        accepted = accepted.join(
            answers, left_on=DOMAIN, right_on="domain", how="left", maintain_order="left"
        ).with_columns(pl.coalesce("__dns", "dns_status").alias("dns_status"))
    accepted = accepted.select(context["contact_columns"])
    ev = None
    if context["with_events"]:
        files = pl.DataFrame(
            context["event_files"],
            schema={ORDER: pl.Int32, BATCH: pl.Int32, "source_file": pl.String},
            orient="row",
        )
        ev = (
            frame.sort(ORDER, BATCH, "row", maintain_order=True)  # an SES record: several events
            .join(files, on=[ORDER, BATCH], how="left", maintain_order="left")
            .select(context["event_columns"])
        )
    account = context["account"].value if context["account"] is not None else None
    done = contacts_finished(
        accepted,
        context["file_order"],
        account,
        ev,
        rules,
        context["as_of"],
        context["threshold_days"],
        context["winbacks"],
        context["campaign_id"],
    )
    for name, rows in done.lists.items():
        _write(staging, f"shards/{shard:05d}/list-{name}.parquet", rows)
    _write(staging, f"shards/{shard:05d}/duplicates.parquet", done.merged.duplicates)
    _write(staging, f"shards/{shard:05d}/possible.parquet", done.merged.possible_duplicates)
    counts = pl.DataFrame([done.scored.counts]) if done.scored.counts else pl.DataFrame()
    _write(staging, f"shards/{shard:05d}/counts.parquet", counts)
    _write(staging, f"shards/{shard:05d}/states.parquet", done.counts.states)
    _write(staging, f"shards/{shard:05d}/domains.parquet", done.counts.domains)
    sends = pl.DataFrame({"sends": [done.counts.sends]})
    _write(staging, f"shards/{shard:05d}/sends.parquet", sends)
    rank = pl.col("source_file").replace_strict(context["file_order"], return_dtype=pl.Int64)
    positioned = done.contacts.with_columns((rank * 2**32 + pl.col("source_row")).alias(POSITION))
    _write(staging, f"contacts/shard={shard}/part-0.parquet", positioned, MERGED_ROW_GROUP)
    # the output tables' parts, as the driver copies them into <table>/shard=K/
    tables = {"contacts": contacts_table(done.contacts)} | {
        name: rows.drop(SORT_KEY) for name, rows in done.lists.items()
    }
    for table, frame in tables.items():
        if frame.height and context["partitioned"]:
            _write(staging, f"out/{table}/shard={shard}/part-0.parquet", frame)
    payload = _shard_payloads(context, shard, positioned, account, done.lists)
    events_n = ev.height if ev is not None else 0
    return {"shard": shard, "rows": accepted.height, "contacts": done.contacts.height,
            "events": events_n, "seconds": round(time.perf_counter() - started, 4),
            "worker_peak_rss_mb": _peak_mb(),
            "tables": {t: f.height for t, f in tables.items()}, "payload": payload}  # fmt: skip


def _shard_payloads(
    context: dict[str, Any],
    shard: int,
    contacts: pl.DataFrame,
    account: pl.DataFrame | None,
    lists: dict[str, pl.DataFrame],
) -> dict[str, Any]:
    """The payload records of the shard's contacts (with their POSITION), made by the
    same builder the embedded engine feeds, written to staging per target and spool for
    the driver to merge in input order and cut into bodies. Returns each target's
    counts and what it wrote."""
    from .existing import reconcile
    from .payloads import PayloadBuilder

    targets, rules, import_tags = context["payloads"]
    classes = part = None
    if account is not None:  # the account's rows of these contacts, and their classes
        part = account.join(contacts.select("email_key"), on="email_key", how="semi")
        classes = reconcile(contacts, part).classes
    candidates = lists.get("suppress_candidates")
    with tempfile.TemporaryDirectory(prefix="listhygiene-payloads-") as tmp:
        builder = PayloadBuilder(
            targets, rules, Path(tmp), account is not None, part, import_tags,
            candidates.get_column("email") if candidates is not None else None,
        )  # fmt: skip
        builder.add(contacts, classes)
        made = builder.partials()
    out: dict[str, Any] = {}
    base = f"shards/{shard:05d}/payload"
    for name, got in made.items():
        spools = {}
        for spool, rows in got["spools"].items():
            if rows is not None:
                _write(context["staging"], f"{base}/{name}/{spool}.parquet", rows, MERGED_ROW_GROUP)
                spools[spool] = rows.height
        warnings = got["warnings"]
        if warnings is not None:
            _write(context["staging"], f"{base}/{name}/warnings.parquet", warnings)
        out[name] = {"sent": got["sent"], "left_out": got["left_out"], "spools": spools,
                     "warnings": warnings is not None}  # fmt: skip
    return out


def _sorted_staged(
    staging: str,
    rels: list[str],
    order_by: str,
    schema: dict[str, Any] | None,
    scratch: Path,
    name: str,
) -> OrderedRows:
    """The staged parts `rels` in one order: by POSITION (each part already in that
    order) merged as read, else (the SQL `order_by`) sorted into the local file
    `<scratch>/<name>.parquet`; `schema` None: the first part's."""
    parts = _fetched(staging, rels, scratch / "parts" / name)
    if schema is None:
        schema = dict(pl.read_parquet_schema(parts[0]))
    if order_by == POSITION:
        return merged_parts(parts, POSITION, schema, scratch / f"{name}.parquet")
    return sorted_parts(parts, order_by, schema, scratch / f"{name}.parquet")


def _merged_payloads(
    staging: str, tasks: list[dict[str, Any]], names: list[str], scratch: Path
) -> dict[str, dict[str, Any]]:
    """Each target's parts from the shard tasks: counts, warnings, and each spool's
    parts sorted into input order (PayloadBuilder.take's arguments)."""
    from .payloads.batches import MergedSpool

    merged: dict[str, dict[str, Any]] = {}
    for name in names:
        made = [(t["shard"], t["payload"][name]) for t in tasks]
        spools: dict[str, Any] = {}
        for spool in sorted({k for _, m in made for k in m["spools"]}):
            rels = [f"shards/{k:05d}/payload/{name}/{spool}.parquet"
                    for k, m in made if spool in m["spools"]]  # fmt: skip
            spools[spool] = MergedSpool(
                _sorted_staged(staging, rels, POSITION, None, scratch, f"payload-{name}-{spool}")
            )
        merged[name] = {
            "sent": [m["sent"] for _, m in made],
            "left_out": [m["left_out"] for _, m in made],
            "warnings": [
                _read(staging, f"shards/{k:05d}/payload/{name}/warnings.parquet")
                for k, m in made
                if m["warnings"]
            ],
            "spools": spools,
        }
    return merged


# -- the driver ----------------------------------------------------------------------------


def _raise_task_errors(results: list[tuple[str, Any]], kind: str) -> None:
    """The first error of the tasks of `kind` (input or events files), in the order of
    the files, raised again on the driver: the same exit code and sentence as the
    embedded engine, which reads the contacts, then the account, then the events."""
    errors = sorted(
        (value for tag, value in results if tag == "error" and value[2] == kind),
        key=lambda v: v[3],
    )
    if errors:
        error_type, message, *_ = errors[0]
        raise error_type(message)


def _remove_runs(root: str, run_ids: set[str]) -> None:
    """Remove the staging folders that the runs `run_ids` (killed ones) left under `root`."""
    fs, base = _filesystem(root)
    for run_id in run_ids:
        path = f"{base.rstrip('/')}/{run_id}"
        if fs.get_file_info(path).type == pafs.FileType.Directory:
            fs.delete_dir(path)


def listed_inputs(inputs: list[Path | str]) -> list[str]:
    """The files to read, as `ingest.expand_paths` gives them for local paths; a URI is
    listed through pyarrow.fs: a folder stands for its supported files, sorted by name."""
    from .errors import InputFileError
    from .ingest import SUPPORTED, expand_paths

    out: list[str] = []
    for p in inputs:
        text = str(p)
        if not is_uri(text):
            out.extend(str(f) for f in expand_paths([Path(p)]))
            continue
        try:
            fs, path = pafs.FileSystem.from_uri(text)
            info = fs.get_file_info(path)
        except (pa.ArrowException, OSError) as exc:
            raise InputFileError(
                f"{text}: cannot be opened ({exc}). Check the URI and that this machine "
                "can reach it."
            ) from None
        if info.type == pafs.FileType.File:
            out.append(text)
        elif info.type == pafs.FileType.Directory:
            prefix = text.rstrip("/")
            found = sorted(
                f.base_name
                for f in fs.get_file_info(pafs.FileSelector(path))
                if f.type == pafs.FileType.File
                and not f.base_name.startswith(".")
                and Path(f.base_name).suffix.lower() in SUPPORTED
            )
            if not found:
                raise InputFileError(
                    f"{text}: the folder holds no supported files "
                    f"({', '.join(sorted(SUPPORTED))}). Name the files to read."
                )
            out.extend(f"{prefix}/{name}" for name in found)
        else:
            raise InputFileError(f"{text}: no such file or folder. Check the URI and try again.")
    return out


@dataclass(frozen=True)
class ShardPlan:
    """How a sharded run splits its contacts and where the tasks exchange them."""

    shards: int
    root: str  # the staging root: this run's parts go under <root>/<run id>
    own_root: bool  # the root is ours (the default): removed once empty
    partitioned: bool  # also write the tables partitioned by shard (Spark's outputs)


@contextlib.contextmanager
def sharded_prepared(
    opts: RunOptions,
    rules: RuleSet,
    store: Store,
    run_id: str,
    scratch: Path,
    stage: Stage,
    progress: Progress,
    start: Callable[[], TaskRunner],
    plan: ShardPlan,
) -> Iterator[Prepared]:
    """The stages shard by shard, up to what the outputs need; the shards' parts stay in
    the staging folder until the outputs are written. `start` gives the runner once the
    inputs are listed; `scratch`: a local folder of this run's for the driver's sorted
    files."""
    from .deliverability import open_resolver
    from .dns import check_frame
    from .events.normalize import EVENT_SCHEMA
    from .existing import read_existing
    from .report import summed_by_day
    from .run import EventsDone, Prepared, threshold_days_for, winbacks
    from .stages import contacts_finished

    n = plan.shards
    contact_files = listed_inputs(opts.inputs)  # listed first, as the embedded engine does
    try:
        event_files, events_unlisted = listed_inputs(opts.events), None
    except ListHygieneError as exc:  # said after the contacts' and the account's errors
        event_files, events_unlisted = [], exc
    runner = start()
    root = plan.root
    _remove_runs(root, store.failed_run_ids())  # what killed runs left: personal data
    staging = f"{root.rstrip('/')}/{run_id}"  # this run's own: never another run's parts
    try:
        # 1. one task per input file and per events file, in one job: the files are
        # read side by side (the longest, the events, first)
        with stage("ingest"):
            progress("Reading inputs", 0, len(contact_files))
            inputs = pickle.dumps((rules, opts.preset, opts.default_region, n))
            jobs = [("input", i, u, inputs, staging) for i, u in enumerate(contact_files)]
            if event_files:
                payload = pickle.dumps((rules, opts.events_format, opts.as_of, n))
                events_jobs = [
                    ("events", i, u, payload, staging) for i, u in enumerate(event_files)
                ]
                jobs = events_jobs + jobs
            results = [r for rs in runner.run(_file_task, jobs) for r in rs]
            _raise_task_errors(results, "input")
            read: list[InputTaskResult] = sorted(
                (v for k, v in results if k == "input"), key=lambda v: (v.index, v.member)
            )
            event_results: list[EventsTaskResult] = sorted(
                (v for k, v in results if k == "events"), key=lambda v: v.index
            )
            progress("Reading inputs", len(contact_files), len(contact_files))
        done = [r.done for r in read]
        tables = [d.read for d in done]
        order = {t.source_file: i for i, t in enumerate(tables)}
        for i, d in enumerate(done):
            store.record_input(run_id, i, {**d.info, "raw_table": None})
        with stage("existing"):
            account = None
            if opts.existing is not None:
                with tempfile.TemporaryDirectory(prefix="listhygiene-") as tmp:
                    account = read_existing([opts.existing], rules, Path(tmp))
        if events_unlisted is not None:
            raise events_unlisted
        _raise_task_errors(results, "events")
        # the parts each shard task reads, in input order: exactly those written
        parts: dict[int, tuple[list[str], list[str]]] = {}
        for t in read:
            for k, rel in t.parts:
                parts.setdefault(k, ([], []))[0].append(rel)
        for r in event_results:
            for k, rel in r.parts:
                parts.setdefault(k, ([], []))[1].append(rel)
        # 3. DNS on the driver, once per distinct domain of the whole list
        with stage("deliverability"):
            resolver = open_resolver(opts.dns, store)
            domains = sorted({d for t in read for d in t.domains})
            answers = pl.DataFrame(schema={"domain": pl.String, "__dns": pl.String})
            if resolver is not None and domains:
                answers = (
                    check_frame(resolver, domains)
                    .select("domain", pl.col("dns_status").alias("__dns"))
                )  # fmt: skip
        # 4. one task per shard
        with stage("merge"):
            template = pl.DataFrame(schema=read[0].schema) if read else None
            if template is None:  # no input table at all: nothing to shard
                raise ListHygieneError("No contact file was read: give at least one input.")
            contact_columns = [c for c in template.columns if c not in (DOMAIN, ORDER, MEMBER)]
            staged_events = {c: t for c, t in EVENT_SCHEMA.items() if c != "source_file"}
            events_schema = {**staged_events, ORDER: pl.Int32, BATCH: pl.Int32}
            threshold_days = threshold_days_for(rules, opts)
            empty_events = pl.DataFrame(schema=EVENT_SCHEMA) if opts.events else None
            shaped = contacts_finished(
                template.select(contact_columns), order, None, empty_events, rules,
                opts.as_of, threshold_days, campaign_id=opts.campaign_id,
            )  # fmt: skip
            context = {
                "rules": rules,
                "accepted_schema": dict(template.schema),
                "contact_columns": contact_columns,
                "events_schema": events_schema,
                "event_columns": list(EVENT_SCHEMA),
                "with_events": bool(opts.events),
                "event_files": [
                    (r.index, b, e.source_file) for r in event_results for b, e in enumerate(r.read)
                ],
                "winbacks": winbacks(rules, opts),
                "campaign_id": opts.campaign_id,
                "payloads": (opts.targets, rules.payloads, opts.import_tags),
                "partitioned": plan.partitioned,
                "file_order": order,
                "answers": runner.shared(answers),
                "parts": runner.shared(parts),
                "account": runner.shared(account.contacts) if account is not None else None,
                "as_of": opts.as_of,
                "threshold_days": threshold_days,
                "staging": staging,
            }
            shard_tasks = runner.run(partial(_shard_task, context), list(range(n)))
            missing = [t for t in shard_tasks if "error" in t]
            if missing:
                raise ListHygieneError(
                    f"Shard {missing[0]['shard']} could not read its parts of the staging "
                    f"folder {staging} ({missing[0]['error']}). Every executor and this "
                    "driver must reach --spark-staging; point it at shared storage "
                    "(hdfs://…, s3://…)."
                )
        with stage("score"):
            duplicates, possible, counts, counted = _collected(staging, order, n, bool(opts.events))
            schema = dict(shaped.contacts.schema)

            rows = _sorted_staged(
                staging, [f"contacts/shard={k}/part-0.parquet" for k in range(n)],
                POSITION, schema, scratch, "contacts",
            )  # fmt: skip
            lists = {
                name: _sorted_staged(
                    staging, [f"shards/{k:05d}/list-{name}.parquet" for k in range(n)],
                    INACTIVE_FIRST_SQL, dict(frame.schema), scratch, name,
                )
                for name, frame in shaped.lists.items()
            }  # fmt: skip
        events = None
        events_read: list[Any] = []
        warnings = [w for d in done for w in d.warnings]
        if opts.events:  # the counts the outputs need; the events stay with the shards
            events = EventsDone(
                rejects=pl.concat([r.rejects for r in event_results], how="vertical"),
                input_records=sum(r.input_records for r in event_results),
                count=sum(r.count for r in event_results),
                skipped=_summed([r.skipped for r in event_results]),
                by_day=summed_by_day([r.by_day for r in event_results]),
            )
            events_read = [e for r in event_results for e in r.read]
            warnings.extend(w for r in event_results for w in r.warnings)
        # <table>/shard=K/part-0.parquet: the contacts, duplicates and possible-duplicate
        # tables partitioned as the shards hold them, each part in the order of the whole
        # table (byte-identical reruns)
        partitioned = []
        staged = []
        if plan.partitioned:
            partitioned = [
                *_by_shard("duplicates", duplicates, _shards_of(duplicates, rules, n)),
                *_by_shard("possible_duplicates", possible, _shards_of(possible, rules, n)),
            ]
            staged = [  # contacts/ and each list's folder, as the shards wrote them
                (f"{table}/shard={t['shard']}/part-0.parquet", t["tables"][table])
                for table in ("contacts", *shaped.lists)
                for t in sorted(shard_tasks, key=lambda t: t["shard"])
                if t["tables"][table]
            ]
        payload_parts = _merged_payloads(
            staging, shard_tasks, list(dict.fromkeys(opts.targets)), scratch
        )
        for t in shard_tasks:  # the manifest's task entries: their own figures only
            t.pop("tables")
            t.pop("payload")
        yield Prepared(
            parquet_parts=partitioned,
            payload_parts=payload_parts,
            copied_parts=[(r, _staged_bytes(staging, f"out/{r}"), rows) for r, rows in staged],
            tables=tables,
            inputs_meta=[d.meta for d in done],
            warnings=warnings,
            row_rejects=[d.rejects for d in done],
            fixes=[d.fixes for d in done],
            file_order=order,
            rows=rows,
            contact_counts=counted,
            duplicates=duplicates,
            possible_duplicates=possible,
            duplicates_merged=sum(d.meta["accepted"] for d in done) - counted.total,
            scored_counts=counts,
            account=account,
            events=events,
            events_read=events_read,
            lists=lists,
            engine={
                **runner.info(),
                "shards": n,
                "staging": staging,
                # each task's own seconds, inside its Python worker (what a cluster scales)
                "tasks": {
                    "inputs": [
                        {
                            "source_file": t.done.read.source_file,
                            "rows": t.done.read.input_rows,
                            "seconds": t.seconds,
                            "worker_peak_rss_mb": t.peak_mb,
                        }
                        for t in read
                    ],
                    "events": [
                        {
                            "source_file": r.read[0].source_file if r.read else None,
                            "records": r.input_records,
                            "seconds": r.seconds,
                            "worker_peak_rss_mb": r.peak_mb,
                        }
                        for r in event_results
                    ],
                    "shards": sorted(shard_tasks, key=lambda t: t["shard"]),
                },
            },
        )
    finally:
        if not opts.debug:  # --debug keeps the run's staging folder, to look into
            _remove_runs(root, {run_id})
            if plan.own_root:  # the default root too, once empty
                with contextlib.suppress(OSError):
                    os.rmdir(root)


def _summed(dicts: list[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return dict(sorted(out.items()))


def _collected(
    staging: str, order: dict[str, int], shards: int, with_events: bool
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int], ContactCounts]:
    """The shards' small results in the embedded engine's order: merged-away rows in
    input order, possible-duplicate groups numbered by their first contact; the shards'
    counts summed."""
    from .merge import DUPLICATES_SCHEMA, POSSIBLE_SCHEMA

    def in_input_order(frame: pl.DataFrame, row: str) -> pl.DataFrame:
        rank = pl.col("source_file").replace_strict(order, return_dtype=pl.Int64)
        return frame.sort(rank, row, maintain_order=True)

    dups, possibles, counts, counted = [], [], [], []
    for k in range(shards):  # every shard task wrote all of these: each must be there
        base = f"shards/{k:05d}"
        dups.append(_read(staging, f"{base}/duplicates.parquet"))
        possibles.append(_read(staging, f"{base}/possible.parquet"))
        counted.append(
            ContactCounts(
                _read(staging, f"{base}/states.parquet"),
                _read(staging, f"{base}/domains.parquet"),
                int(_read(staging, f"{base}/sends.parquet").item()),
            )
        )
        c = _read(staging, f"{base}/counts.parquet")
        if c.height:
            counts.append(c.row(0, named=True))
    duplicates = in_input_order(
        pl.concat([pl.DataFrame(schema=DUPLICATES_SCHEMA), *dups], how="vertical"), "row"
    )
    possible = in_input_order(
        pl.concat([pl.DataFrame(schema=POSSIBLE_SCHEMA), *possibles], how="vertical"), "row"
    )
    if possible.height:  # group numbers by each group's first contact, as one list would
        firsts = (
            possible.filter(pl.col("canonical_key").is_first_distinct())
            .select("canonical_key")
            .with_row_index("__g", offset=1)
        )
        possible = (
            possible.drop("group_id")
            .join(firsts, on="canonical_key", how="left", maintain_order="left")
            .with_columns(pl.col("__g").cast(pl.Int64).alias("group_id"))
            .sort("group_id", maintain_order=True)
            .select(list(POSSIBLE_SCHEMA))
        )
    summed = _summed(counts) if with_events else {}
    return duplicates, possible, summed, summed_counts(counted)
