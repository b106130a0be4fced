"""`listhygiene run`: orders the stages, times them, keeps the ledger, writes the manifest.

Everything a stage needs comes in as arguments; nothing here parses options
(that is cli.py) and nothing here knows a file format (that is ingest/).
"""

from __future__ import annotations

import ctypes
import platform
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from itertools import chain
from pathlib import Path
from typing import Any

import polars as pl

from . import __version__
from .contact_counts import ContactCounts
from .contacts import COLUMNS, SCORE_COLUMNS, contacts_csv, contacts_table, scores_csv
from .deliverability import DnsOptions, open_resolver
from .engagement_lists import AUDIENCE_COLUMNS, CANDIDATE_COLUMNS, UNENGAGED_COLUMNS, winback
from .errors import ListHygieneError
from .events import EventBatch, read_events
from .events.normalize import NormalizedEvents, events_normalized
from .existing import (
    AccountMatcher,
    ExistingAccount,
    account_classes_csv,
    import_preview,
    read_existing,
)
from .flags import list_sources
from .health import Health, SendWindow, list_health
from .ingest import expand_paths, read_inputs
from .merge import contacts_merged
from .ordered_rows import OrderedRows
from .outputs import OutputDir, owner_only, pause_point
from .payloads import TARGETS, PayloadBuilder, PayloadWriter, target_summary
from .payloads.batches import Spool
from .report import ReportData, events_by_day, report_html, summary_md
from .ruleset import RuleSet, load_rules
from .schemas import RejectRecord
from .schemas.checks import failed_rows
from .spark_engine import SparkOptions
from .stages import InputRead, contacts_finished, each_table, input_done, rejects_frame
from .store import Store
from .validate import FIX_SCHEMA


@dataclass
class RunOptions:
    inputs: list[Path | str]  # a str is a URI (hdfs://, s3://, file://): --engine spark only
    out: Path
    db: Path
    as_of: datetime
    rules_dir: Path | None = None
    preset: str | None = None
    default_region: str | None = None
    dns: DnsOptions = field(default_factory=DnsOptions)
    existing: Path | None = None  # the target account's export (--existing)
    events: list[Path | str] = field(default_factory=list)  # --events
    events_format: str | None = None
    threshold_days: int | None = None  # default: rules/scoring.toml [winback]
    campaign_id: str | None = None  # --campaign-id: write the win-back files
    winback_sent: tuple[str, ...] = ()  # earlier win-back campaigns, besides the rules'
    targets: tuple[str, ...] = TARGETS  # --target: whose payloads to write
    import_tags: tuple[str, ...] = ()  # --import-tag: misarmail's batch tags
    debug: bool = False
    argv: list[str] = field(default_factory=list)
    keep_runs: int | None = None  # --keep-runs: overrides rules/ingest.toml [store] keep_raw_runs
    on_pii_key: Callable[[bytes], None] | None = None  # given the store's log-pseudonym key
    engine: str = "duckdb"  # --engine: duckdb (embedded) | spark
    shards: int = 1  # --shards: the embedded engine's, 1 = all contacts at once
    spark: SparkOptions = field(default_factory=SparkOptions)  # --spark-* (engine spark)


@dataclass
class RunResult:
    run_id: str
    exit_code: int
    manifest: dict[str, Any]
    warnings: list[str]
    health: Health
    report: ReportData


# The engagement lists, by output name, with their columns (each in its rows' order)
LISTS = {
    "unengaged": UNENGAGED_COLUMNS,
    "suppress_candidates": CANDIDATE_COLUMNS,
    "winback_audience": AUDIENCE_COLUMNS,
}

Progress = Callable[[str, int, int], None]  # (what, done, total)


def _no_progress(what: str, done: int, total: int) -> None:
    pass


@dataclass(frozen=True)
class EventsDone:
    """What the outputs need of the events once scoring has used them (not the events)."""

    rejects: pl.DataFrame  # events_rejects.csv
    input_records: int
    count: int  # usable events
    skipped: dict[str, int]
    by_day: pl.DataFrame  # report.events_by_day: the report's engagement chart

    @classmethod
    def of(cls, events: NormalizedEvents, as_of: datetime) -> EventsDone:
        by_day = events_by_day(events.compact.select("event", "timestamp", "machine_open"), as_of)
        return cls(events.rejects, events.input_records, events.count, events.skipped, by_day)


def status_kb(field: str) -> int | None:
    """A `/proc/self/status` field in KiB (`VmRSS`, `VmHWM`); None off Linux."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(field.encode() + b":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _glibc_trim() -> Callable[[], object] | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        return lambda: libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return None


_TRIM = _glibc_trim()


def release_memory() -> None:
    """Give freed memory back to the system between stages. DuckDB's Arrow buffers and
    Python's objects come from glibc's malloc, which keeps what it frees in its arenas
    (at 10M events, ~0.6 GB after the events stage) until asked to trim. No gc.collect():
    frames are freed by reference counting, and a full collection costs ~50 ms a stage.
    pyarrow's own pool (Parquet reads) keeps freed blocks too until told to let go."""
    if _TRIM is not None:
        _TRIM()
    if "pyarrow" in sys.modules:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()


class StageClock:
    """Seconds per stage, and each stage's peak resident memory (MB).

    The peak: when the process's high-water mark (VmHWM) rose during the stage, the
    stage set it, so that is its peak exactly; otherwise the highest VmRSS a sampling
    thread saw during the stage (every 20 ms; a lower bound). The high-water mark is
    never reset, so the whole process's peak (what `wait4` reports) stays intact."""

    SAMPLE_S = 0.02

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_rss_mb: dict[str, float] = {}
        self._sampled = 0
        self._stop: threading.Event | None = None

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        pause_point(name)
        hwm0 = status_kb("VmHWM")
        self._sampled = status_kb("VmRSS") or 0
        stop = threading.Event()
        sampler = threading.Thread(target=self._sample, args=(stop,), daemon=True)
        sampler.start()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            release_memory()
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - t0, 4)
            stop.set()
            sampler.join()
            hwm1 = status_kb("VmHWM")
            rss = status_kb("VmRSS") or 0
            peak = hwm1 if hwm0 is not None and hwm1 is not None and hwm1 > hwm0 else None
            kb = peak if peak is not None else max(self._sampled, rss)
            if kb:
                mb = round(kb / 1024, 1)
                self.peak_rss_mb[name] = max(self.peak_rss_mb.get(name, 0.0), mb)

    def _sample(self, stop: threading.Event) -> None:
        while not stop.wait(self.SAMPLE_S):
            kb = status_kb("VmRSS")
            if kb and kb > self._sampled:
                self._sampled = kb


def new_run_id(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def versions() -> dict[str, str]:
    out = {"listhygiene": __version__, "python": platform.python_version()}
    for dist in ("duckdb", "polars", "pandera", "email-validator", "dnspython", "pyarrow", "click"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


@dataclass(frozen=True)
class EventsRead:
    """An events batch's manifest entry, without its frame (released after normalize)."""

    source_file: str
    format: str
    sha256: str
    size_bytes: int
    records: int
    events: int
    rejected: int
    skipped: dict[str, int]

    @classmethod
    def of(cls, b: EventBatch) -> EventsRead:
        return cls(b.source_file, b.format, b.sha256, b.size_bytes, b.records,
                   b.frame.height, b.rejects.height, b.skipped)  # fmt: skip


def execute(opts: RunOptions, progress: Progress = _no_progress) -> RunResult:
    """Run the pipeline. Raises ListHygieneError (exit 2/3) before writing anything to --out.
    Everything the run creates (store, lock, raw rows, outputs) is the owner's only."""
    with owner_only():
        return _execute(opts, progress)


def _execute(opts: RunOptions, progress: Progress) -> RunResult:
    if opts.campaign_id is not None and not opts.events:
        raise ListHygieneError(
            "--campaign-id needs --events: the win-back audience is the unengaged contacts, "
            "and engagement is only known from events. Add --events FILE."
        )
    rules = load_rules(opts.rules_dir)
    # the Spark engine lists its inputs itself: they may be URIs (spark_engine.spark_inputs)
    paths = expand_paths(_local_paths(opts.inputs, opts)) if opts.engine != "spark" else []
    _local_paths(opts.events, opts)
    started = datetime.now(UTC)
    run_id = new_run_id(started)
    store = Store.open(opts.db)
    try:
        if opts.on_pii_key is not None:
            opts.on_pii_key(store.pii_key())
        store.begin_run(run_id, opts.as_of, rules.hash, __version__, str(opts.out))
        out = OutputDir(opts.out, run_id)
        out.recover()  # a commit a killed run left half-done is undone first
        out.remove_stale(store.failed_run_ids())  # staging left by runs that were killed
        try:
            result = _run_stages(opts, rules, paths, store, out, run_id, started, progress)
        except BaseException as exc:
            out.abort()
            message = (
                str(exc) if isinstance(exc, ListHygieneError) else f"{type(exc).__name__}: {exc}"
            )
            store.end_run(run_id, "failed", message)
            raise
        store.record_health(run_id, opts.as_of, result.health.history_row)
        store.end_run(run_id, "gate_failed" if result.health.blocking else "succeeded")
        store.prune_raw(opts.keep_runs or rules.ingest.keep_raw_runs)
        return result
    finally:
        store.close()


@dataclass
class Prepared:
    """What the stages before the outputs made, whichever engine ran them: the contacts
    merged and scored, with everything the outputs, the report and the manifest need."""

    tables: list[InputRead]
    inputs_meta: list[dict[str, Any]]
    warnings: list[str]
    row_rejects: list[pl.DataFrame]  # validation rejects, per input
    fixes: list[pl.DataFrame]
    file_order: dict[str, int]  # source_file -> its position among the inputs
    rows: OrderedRows  # the contacts merged, scored, verdicts rechecked; input order
    contact_counts: ContactCounts  # of `contacts` (summed over the shards on Spark)
    duplicates: pl.DataFrame
    possible_duplicates: pl.DataFrame
    duplicates_merged: int
    scored_counts: dict[str, int]
    account: ExistingAccount | None
    events: EventsDone | None
    events_read: list[EventsRead]
    lists: dict[str, OrderedRows]  # Finished.lists' (with events), sorted; SORT_KEY last
    engine: dict[str, Any]  # the manifest's `engine`
    # the Spark engine's duplicates and possible duplicates, by shard
    parquet_parts: list[tuple[str, pl.DataFrame]] = field(default_factory=list)
    # the Spark engine's payload parts per target, made by the shards (PayloadBuilder.take)
    payload_parts: dict[str, dict[str, Any]] | None = None
    # the Spark engine's contacts and lists by shard, as the shards wrote them:
    # (path, bytes, rows)
    copied_parts: list[tuple[str, Iterable[bytes], int]] = field(default_factory=list)


def threshold_days_for(rules: RuleSet, opts: RunOptions) -> int:
    """Days without engagement that make a contact unengaged: --threshold-days, else the
    rules' [winback] threshold_days."""
    return opts.threshold_days or rules.scoring.threshold_days


def winbacks(rules: RuleSet, opts: RunOptions) -> tuple[str, ...]:
    """The earlier win-back campaigns whose silent recipients are suppression candidates."""
    return tuple(dict.fromkeys((*rules.scoring.previous_winback, *opts.winback_sent)))


def _local_paths(paths: list[Path | str], opts: RunOptions) -> list[Path]:
    """The paths, which the embedded engine needs local: a URI is an error (exit 2)."""
    for p in paths:
        if isinstance(p, str) and opts.engine != "spark":
            raise ListHygieneError(
                f"{p}: the embedded engine reads local files only. Copy the file to this "
                "machine, or add --engine spark, which reads any URI pyarrow.fs can open."
            )
    return [Path(p) for p in paths]


def _run_stages(
    opts: RunOptions,
    rules: RuleSet,
    paths: list[Path],
    store: Store,
    out: OutputDir,
    run_id: str,
    started: datetime,
    progress: Progress,
) -> RunResult:
    clock = StageClock()
    if opts.engine == "spark" or opts.shards > 1:  # the sharded stages, as tasks
        from .sharded import LocalRunner, ShardPlan, sharded_prepared

        if opts.engine == "spark":
            from .spark_engine import spark_plan  # pyspark is only imported when asked for

            start, plan = spark_plan(opts, clock.stage)
        else:  # one after another in this process: memory bounded by a task
            start, plan = LocalRunner, ShardPlan(opts.shards, str(out.staging / ".shards"),
                                                 True, partitioned=False)  # fmt: skip
        scratch = out.staging / ".driver"  # never committed; removed with the staging folder
        with sharded_prepared(
            opts, rules, store, run_id, scratch, clock.stage, progress, start, plan
        ) as p:
            return _outputs(opts, rules, store, out, run_id, started, clock, p)
    prepared = _embedded(opts, rules, paths, store, run_id, clock, progress)
    return _outputs(opts, rules, store, out, run_id, started, clock, prepared)


def _embedded(
    opts: RunOptions,
    rules: RuleSet,
    paths: list[Path],
    store: Store,
    run_id: str,
    clock: StageClock,
    progress: Progress,
) -> Prepared:
    """The embedded engine: every input in turn in this process, then all contacts at once."""
    tables: list[InputRead] = []
    warnings: list[str] = []
    inputs_meta: list[dict[str, Any]] = []
    row_rejects: list[pl.DataFrame] = []
    fixes: list[pl.DataFrame] = []
    resolver = open_resolver(opts.dns, store)  # one per run: each domain is asked once
    accepted: list[pl.DataFrame] = []  # validated, checked rows of every input
    with tempfile.TemporaryDirectory(prefix="listhygiene-") as tmp:
        reader = each_table(read_inputs(paths, rules.ingest, Path(tmp)), clock.stage)
        for index, table in enumerate(reader):
            progress("Reading inputs", index, len(paths))
            done = input_done(table, rules, opts.preset, opts.default_region, resolver, clock.stage)
            accepted.append(done.contacts)
            with clock.stage("store_raw"):
                raw_name = store.save_raw(run_id, index, table.frame)
                if opts.debug:  # an analyst can query what each stage made of each file
                    store.save_raw(run_id, index, done.mapped.frame, stage="mapped")
                    store.save_raw(run_id, index, done.contacts, stage="validated")
            store.record_input(run_id, index, {**done.info, "raw_table": raw_name})
            inputs_meta.append(done.meta)
            warnings.extend(done.warnings)
            tables.append(done.read)
            row_rejects.append(done.rejects)
            fixes.append(done.fixes)
            del table, done  # the raw write holds its frame until done
        progress("Reading inputs", len(paths), len(paths))
        with clock.stage("existing"):
            account = (
                read_existing([opts.existing], rules, Path(tmp) / "existing")
                if opts.existing is not None
                else None
            )
        events: NormalizedEvents | None = None
        events_read: list[EventsRead] = []
        if opts.events:
            progress("Reading events", 0, len(opts.events))
            with clock.stage("events"):
                staging = Path(tmp) / "events"
                staging.mkdir()
                batches = read_events(opts.events, rules.ingest, staging, opts.events_format)
                # Addresses the contacts' validation already answered are not validated again.
                known = [a.select("email_input", "email_key") for a in accepted
                         if "email_input" in a.columns]  # fmt: skip
                events = events_normalized(
                    batches,
                    rules.scoring,
                    pl.concat(known).unique("email_input") if known else None,
                )
                del known
            warnings.extend(w for b in batches for w in b.warnings)
            events_read = [EventsRead.of(b) for b in batches]
            del batches  # the raw event cells: normalize made all it needs of them
            progress("Reading events", len(opts.events), len(opts.events))
    file_order = {t.source_file: i for i, t in enumerate(tables)}
    with clock.stage("merge"):
        all_accepted = pl.concat(accepted, how="vertical_relaxed")
        accepted.clear()
    finished = contacts_finished(
        all_accepted,
        file_order,
        account.contacts if account is not None else None,
        events,
        rules,
        opts.as_of,
        threshold_days_for(rules, opts),
        winbacks(rules, opts),
        opts.campaign_id,
        clock.stage,
    )
    del all_accepted
    return Prepared(
        tables=tables,
        inputs_meta=inputs_meta,
        warnings=warnings,
        row_rejects=row_rejects,
        fixes=fixes,
        file_order=file_order,
        rows=OrderedRows.of(finished.contacts),
        contact_counts=finished.counts,
        duplicates=finished.merged.duplicates,
        possible_duplicates=finished.merged.possible_duplicates,
        duplicates_merged=finished.merged.duplicates_merged,
        scored_counts=finished.scored.counts,
        account=account,
        events=EventsDone.of(events, opts.as_of) if events is not None else None,
        events_read=events_read,
        lists={name: OrderedRows.of(frame) for name, frame in finished.lists.items()},
        engine={"name": "duckdb"},
    )


def _outputs(
    opts: RunOptions,
    rules: RuleSet,
    store: Store,
    out: OutputDir,
    run_id: str,
    started: datetime,
    clock: StageClock,
    prepared: Prepared,
) -> RunResult:
    """The cross-contact part, the same for both engines: health, every output file,
    payloads, reports and the manifest."""
    p = prepared
    tables, inputs_meta, warnings = p.tables, p.inputs_meta, p.warnings
    row_rejects, fixes, file_order = p.row_rejects, p.fixes, p.file_order
    account, events, events_read = p.account, p.events, p.events_read
    scored_counts, counted = p.scored_counts, p.contact_counts
    threshold_days = threshold_days_for(rules, opts)
    with clock.stage("health"):
        window = (
            None
            if events is None
            else SendWindow(
                rules.scoring.window_days,
                counted.sends,
                scored_counts["window_hard_bounces"],
                scored_counts["window_complaints"],
            )
        )
        health = list_health(counted, rules.health, opts.as_of, threshold_days, window)
    with clock.stage("store_raw"):
        store.wait_raw()  # the part of the raw-row writes the stages above did not hide
    with clock.stage("write"):
        rejects = pl.concat([rejects_frame(tables), *row_rejects], how="vertical")
        rejects = rejects.sort(
            pl.col("source_file").replace_strict(file_order, return_dtype=pl.Int64),
            "row",
            maintain_order=True,
        )
        failures = failed_rows(RejectRecord, rejects)
        if failures.height:  # a bug in a stage, not in the input: never write a bad rejects file
            raise RuntimeError(f"rejects.csv failed its schema: {failures.head(5).rows()}")
        out.write_csv("rejects.csv", rejects, keep=())  # raw cells
        rows = p.rows
        out.write_parquet_chunks("contacts.parquet", map(contacts_table, rows.chunks(COLUMNS)))
        for rel, part in p.parquet_parts:  # the Spark engine's tables partitioned by shard
            out.write_parquet(rel, part)
        for rel, data, n in p.copied_parts:
            out.write_stream(rel, data, n)
        out.write_csv_chunks("contacts.csv", map(contacts_csv, rows.chunks(COLUMNS)))
        out.write_csv("duplicates.csv", p.duplicates)
        out.write_csv("possible_duplicates.csv", p.possible_duplicates)
        account_rows = account.contacts if account is not None else None
        winback_targeted: int | None = None
        if events is not None:
            out.write_csv("events_rejects.csv", events.rejects, keep=())  # raw cells
            out.write_csv_chunks("scores.csv", map(scores_csv, rows.chunks(SCORE_COLUMNS)))
            for name, columns in LISTS.items():
                if name in p.lists:
                    out.write_csv_chunks(f"{name}.csv", p.lists[name].chunks(columns))
            if opts.campaign_id is not None:
                winback_targeted = p.lists["winback_audience"].height
                out.write_json(
                    "winback.json",
                    winback(opts.campaign_id, winback_targeted, threshold_days, opts.as_of),
                )
        out.write_json("health.json", health.stats)
    with clock.stage("payloads"):
        # The contacts a chunk at a time: their account classes, then every target's
        # records, which wait in spools; then one target at a time, its bodies cut and
        # written as they are made. A failed check aborts the staged outputs.
        spools = out.staging / ".payloads"  # never committed; removed with the staging
        made_by_shards = p.payload_parts is not None
        candidates = None  # their emails, for mailerdash's deletes (the shards have theirs)
        if events is not None and not made_by_shards:
            candidates = pl.concat(p.lists["suppress_candidates"].chunks(["email"])).to_series()
        builder = PayloadBuilder(
            opts.targets, rules.payloads, spools, account is not None, account_rows,
            opts.import_tags, candidates,
        )  # fmt: skip
        for name, part in (p.payload_parts or {}).items():  # merged in input order
            builder.take(name, **part)
        matcher = None
        if account is not None:
            matcher = AccountMatcher(account.contacts, sum(t.input_rows for t in tables))
            classes = Spool(spools, "account-classes")
        if matcher is not None or not made_by_shards:
            for chunk in rows.chunks():
                chunk_classes = matcher.add(chunk) if matcher is not None else None
                if matcher is not None:
                    classes.append(chunk_classes)
                if not made_by_shards:
                    builder.add(chunk, chunk_classes)
        if matcher is not None:
            rest = matcher.rest()
            out.write_csv_chunks(  # our contacts in order, then the account's others
                "account_reconciliation.csv",
                map(account_classes_csv, chain(classes.frames(), [rest])),
            )
            out.write_json("import_preview.json", matcher.preview())
        payload_counts = {}
        writer = PayloadWriter(out)
        for name, target in builder.finish(writer.sink):
            payload_counts[name] = target_summary(target, counted.total)
            if not payload_counts[name]["reconciles"]:  # a bug, not the input's fault
                raise RuntimeError(  # never write payloads that lose contacts
                    f"payload counts do not reconcile for {[name]}: {payload_counts}"
                )
            writer.target(name, target)
            del target
        writer.finish()
        shutil.rmtree(spools, ignore_errors=True)
    with clock.stage("write"):
        out.write_csv(
            "fixes.csv",
            pl.concat(fixes, how="vertical") if fixes else pl.DataFrame(schema=FIX_SCHEMA),
        )
    input_rows = sum(t.input_rows for t in tables)
    rejected = rejects.height
    as_of_text = opts.as_of.isoformat().replace("+00:00", "Z")
    with clock.stage("report"):
        report = ReportData(
            health=health.stats,
            history=[
                *store.health_history(),
                {"run_id": run_id, "as_of": health.stats["lastRunAt"], **health.history_row},
            ],
            contact_counts=counted,
            rejects=rejects,
            duplicates=p.duplicates,
            possible_duplicates=p.possible_duplicates,
            events=events.by_day if events is not None else None,
            counts={
                "input_rows": input_rows,
                "rejected": rejected,
                "duplicates_merged": p.duplicates_merged,
                "unique_contacts": counted.total,
                "events_rejected": events.rejects.height if events is not None else None,
                "unengaged": health.stats["unengagedCount"],
                "winback_targeted": winback_targeted,
                "suppress_candidates": (
                    p.lists["suppress_candidates"].height if events is not None else None
                ),
            },
            run={
                "run_id": run_id,
                "as_of": as_of_text,
                "inputs": [
                    {k: i[k] for k in ("source_file", "format", "preset", "input_rows", "rejected")}
                    for i in inputs_meta
                ],
                "events_files": [b.source_file for b in events_read] if events is not None else [],
            },
        )
        out.write_bytes("report.html", report_html(report).encode())
        out.write_bytes("summary.md", summary_md(report).encode())
    with clock.stage("outputs_sha256"):  # every output hashed for the manifest
        outputs = out.describe()
    manifest = {
        "run_id": run_id,
        "as_of": as_of_text,
        "started_at": started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "outcome": "gate_failed" if health.blocking else "succeeded",
        "command": opts.argv,
        "versions": {**versions(), "lists": list_sources()},
        "rules": {"hash": rules.hash, "sources": list(rules.sources)},
        "store": str(opts.db),
        "engine": p.engine,
        "inputs": inputs_meta,
        "outputs": outputs,
        "stages": clock.seconds,
        "stage_peak_rss_mb": clock.peak_rss_mb,
        "deliverability": {
            "dns": opts.dns.mode,
            "verdicts": _counts(counted.of("verdict")),
            "verdict_reasons": _counts(counted.of("verdict_reason")),
        },
        "existing": None
        if account is None
        else {
            "file": str(opts.existing),
            "input_rows": account.input_rows,
            "rejected": account.rejected,
            "duplicates_merged": account.duplicates_merged,
            "contacts": account.contacts.height,
            "classes": matcher.counts if matcher is not None else {},
        },
        "events": None
        if events is None
        else {
            "files": [
                {
                    "source_file": b.source_file,
                    "format": b.format,
                    "sha256": b.sha256,
                    "size_bytes": b.size_bytes,
                    "records": b.records,
                    "events": b.events,
                    "rejected": b.rejected,
                    "skipped": b.skipped,
                }
                for b in events_read
            ],
            "input_records": events.input_records,
            "events": events.count,
            "rejected": events.rejects.height,
            "skipped": events.skipped,
            **scored_counts,
            "threshold_days": threshold_days,
        },
        "health": {
            "healthScore": health.stats["healthScore"],
            "gates": {g["name"]: g["outcome"] for g in health.stats["gates"]},
        },
        "payloads": payload_counts,
        "reconciliation": {
            "input_rows": input_rows,
            "rejected": rejected,
            "duplicates_merged": p.duplicates_merged,
            "unique_contacts": counted.total,
        },
        "warnings": warnings,
    }
    out.commit(manifest)
    return RunResult(
        run_id=run_id,
        exit_code=1 if health.blocking else 0,
        manifest=manifest,
        warnings=warnings,
        health=health,
        report=report,
    )


def preview(
    inputs: list[Path],
    existing: Path,
    rules_dir: Path | None = None,
    preset: str | None = None,
    default_region: str | None = None,
) -> dict[str, Any]:
    """The import preview of CONTACTS against an account export, touching nothing: no
    store, no ledger, no outputs (the same readers, validation and merge as `run`)."""
    rules = load_rules(rules_dir)
    paths = expand_paths(inputs)
    accepted: list[pl.DataFrame] = []
    order: dict[str, int] = {}
    received = 0
    with tempfile.TemporaryDirectory(prefix="listhygiene-") as tmp:
        for i, table in enumerate(read_inputs(paths, rules.ingest, Path(tmp))):
            accepted.append(input_done(table, rules, preset, default_region, None).contacts)
            order[table.source_file] = i
            received += table.input_rows
        account = read_existing([existing], rules, Path(tmp) / "existing")
    merged = contacts_merged(pl.concat(accepted, how="vertical_relaxed"), order, rules.merge)
    return import_preview(merged.contacts, account.contacts, received)


def _counts(values: pl.DataFrame) -> dict[str, int]:
    """`value`, `n` rows as a dict sorted by value, null as "none"."""
    return {
        (k if k is not None else "none"): n
        for k, n in sorted(values.iter_rows(), key=lambda kv: str(kv[0]))
        if n
    }
