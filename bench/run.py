#!/usr/bin/env python3
"""Measure the pipeline against a bare DuckDB scan of the same files, in one run.

    python bench/run.py [--contacts 1000000] [--events 0] [--repeat 3] [--work bench/data]

1. Generates the inputs with `bench/generate.py` (or reuses them when their
   `params.json` stamp matches).
2. Scan: `SELECT count(*) FROM read_csv(path)` over each contacts file with
   DuckDB's default sniffing, in a fresh in-process connection per repeat,
   after one untimed warm-up pass (so both sides read from the page cache).
3. Pipeline: `python -m listhygiene run <contacts files> --out .. --db ..
   --as-of 2026-11-01T00:00:00Z --quiet` (plus `--events` when --events > 0)
   in a subprocess, each repeat in a fresh temp folder: wall seconds, exit
   code, peak RSS of the child (`os.wait4`), per-stage seconds from the
   manifest's `stages`.
4. Writes `bench/results/<UTC timestamp>.json` and prints a table. The
   issue's target for this stage, ingest <= 2x the bare scan, is reported,
   never enforced: a miss is a finding, not a failure.

Exit status: 0 when measured (target met or not), 1 when the pipeline
subprocess failed (its stderr is printed), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))  # so `generate` imports from anywhere
import generate
from machine import machine_info

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
AS_OF = "2026-11-01T00:00:00Z"
INGEST_TARGET = 2.0  # the issue: ingest of a 1M-row CSV <= 2x a bare DuckDB scan
RUN_TARGET = 5.0  # issue 10: the whole run <= 5x a bare scan of every input file
RSS_TARGET_MB = 2048  # issue 10: peak RSS <= 2 GB
OK_EXIT_CODES = (0, 1)  # 1 = done, but a health gate failed: still a complete run


class PipelineFailed(RuntimeError):
    """The listhygiene subprocess exited with an error code."""


class PipelineCapped(RuntimeError):
    """The bench killed the subprocess: its RSS passed --rss-cap-mb."""

    def __init__(self, seconds: float, rss_mb: float):
        super().__init__(f"killed after {seconds:.1f}s at {rss_mb:,.0f} MB RSS")
        self.seconds, self.rss_mb = seconds, rss_mb


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _watch(proc: subprocess.Popen[bytes], cap_mb: float, hit: list[float]) -> None:
    """Kill `proc` when its RSS passes `cap_mb` (a shared machine must not swap or OOM)."""
    while proc.poll() is None:
        rss = _rss_mb(proc.pid)
        if rss > cap_mb:
            hit.append(rss)
            proc.kill()
            return
        time.sleep(0.2)


def _tree_rss_mb(root: int) -> float:
    """RSS of `root` and every descendant (Spark's JVM and its Python workers), in MB."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += _rss_mb(pid)
        todo.extend(children.get(pid, []))
    return total


def _watch_tree(proc: subprocess.Popen[bytes], peak: list[float]) -> None:
    """The highest summed RSS of the process tree, sampled every 0.2 s (a lower bound)."""
    while proc.poll() is None:
        peak[0] = max(peak[0], _tree_rss_mb(proc.pid))
        time.sleep(0.2)


@dataclass
class PipelineRun:
    seconds: float
    exit_code: int
    peak_rss_mb: float
    stages: dict[str, float] = field(default_factory=dict)
    stage_peak_rss_mb: dict[str, float] = field(default_factory=dict)
    manifest_input_rows: int | None = None
    tree_peak_rss_mb: float = 0.0  # the process and its children (Spark), sampled
    engine: dict[str, Any] = field(default_factory=dict)  # the manifest's `engine`


# ---------------------------------------------------------------- measuring


def scan_once(paths: list[Path]) -> tuple[dict[str, float], dict[str, int]]:
    """Seconds and row count per file for a bare count(*) scan, in a fresh connection."""
    seconds: dict[str, float] = {}
    rows: dict[str, int] = {}
    con = duckdb.connect()  # in-memory; nothing cached from an earlier repeat
    try:
        for path in paths:
            started = time.perf_counter()
            result = con.execute("SELECT count(*) FROM read_csv(?)", [str(path)]).fetchone()
            seconds[path.name] = time.perf_counter() - started
            rows[path.name] = int(result[0]) if result else 0
    finally:
        con.close()
    return seconds, rows


def materialize_once(paths: list[Path]) -> float:
    """Seconds for DuckDB to read every cell of the same files as text into Arrow: the
    floor for any ingest that keeps every cell, which a count(*) never has to do."""
    con = duckdb.connect()
    query = "SELECT * FROM read_csv(?, all_varchar=true)"
    try:
        started = time.perf_counter()
        for path in paths:
            con.sql(query, params=[str(path)]).to_arrow_table()
        return time.perf_counter() - started
    finally:
        con.close()


def parse_once(paths: list[Path], typed: bool) -> float:
    """Seconds for DuckDB to parse every field of the files and use it (a hash of every
    column, summed: no column can be skipped, nothing is kept, so memory stays flat at
    any size). As text, or `typed`: with the types DuckDB's sniffer gives each column
    (timestamps, numbers), the floor for reading every field into a typed value."""
    con = duckdb.connect()
    options = "" if typed else ", all_varchar=true"
    try:
        started = time.perf_counter()
        for path in paths:
            con.execute(
                f"SELECT sum(hash(COLUMNS(*))) FROM read_csv(?{options})", [str(path)]
            ).fetchall()
        return time.perf_counter() - started
    finally:
        con.close()


def stage_seconds(manifest: dict[str, Any]) -> dict[str, float]:
    """`manifest["stages"]` as {stage: seconds}; tolerates {stage: {"seconds": x}}."""
    out: dict[str, float] = {}
    for name, value in (manifest.get("stages") or {}).items():
        if isinstance(value, dict):
            value = value.get("seconds")
        if isinstance(value, int | float):
            out[str(name)] = float(value)
    return out


def run_pipeline_once(command: list[str], work: Path, cap_mb: float | None = None) -> PipelineRun:
    """Run the CLI once in a fresh temp folder; peak RSS comes from wait4's rusage.
    With `cap_mb`, the run is killed (PipelineCapped) when its RSS passes it."""
    with tempfile.TemporaryDirectory(prefix="lh-bench-", dir=work) as tmp:
        out_dir, db = Path(tmp) / "out", Path(tmp) / "store.duckdb"
        argv = [*command, "--out", str(out_dir), "--db", str(db), "--as-of", AS_OF, "--quiet"]
        stdout_path, stderr_path = Path(tmp) / "stdout.txt", Path(tmp) / "stderr.txt"
        env = {k: v for k, v in os.environ.items() if k != "LISTHYGIENE_DB"}
        # Output goes to files, not pipes: wait4 does not drain pipes, a full one would hang.
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            started = time.perf_counter()
            proc = subprocess.Popen(argv, stdout=out, stderr=err, cwd=REPO, env=env)
            hit: list[float] = []
            if cap_mb:
                threading.Thread(target=_watch, args=(proc, cap_mb, hit), daemon=True).start()
            tree_peak = [0.0]
            watcher = threading.Thread(target=_watch_tree, args=(proc, tree_peak), daemon=True)
            watcher.start()
            _, status, usage = os.wait4(proc.pid, 0)
            watcher.join()
            seconds = time.perf_counter() - started
        exit_code = os.waitstatus_to_exitcode(status)
        proc.returncode = exit_code  # already reaped; keep Popen from waiting again
        if hit:
            raise PipelineCapped(seconds, hit[0])
        if exit_code not in OK_EXIT_CODES:
            stderr = stderr_path.read_text(errors="replace").strip()
            raise PipelineFailed(
                f"the pipeline exited with {exit_code}.\n"
                f"command: {' '.join(argv)}\n"
                f"stderr:\n{stderr or '(empty)'}"
            )
        manifest_path = out_dir / "manifest.json"
        manifest: dict[str, Any] = {}
        if manifest_path.exists():
            manifest = json.loads(manifest_path.read_text())
        else:
            print(f"warning: no manifest at {manifest_path}; no stage times", file=sys.stderr)
        reconciliation = manifest.get("reconciliation") or {}
        return PipelineRun(
            seconds=seconds,
            exit_code=exit_code,
            peak_rss_mb=usage.ru_maxrss / 1024,  # Linux reports KiB
            stages=stage_seconds(manifest),
            stage_peak_rss_mb=dict(manifest.get("stage_peak_rss_mb") or {}),
            manifest_input_rows=reconciliation.get("input_rows"),
            tree_peak_rss_mb=round(tree_peak[0], 1),
            engine=dict(manifest.get("engine") or {}),
        )


# ---------------------------------------------------------------- reporting


def split_lines(path: Path, parts: int) -> list[Path]:
    """`path` (a CSV with a header and one record per line, as generate.py writes) as
    `parts` files of equal records, each with the header, beside it; reused when there."""
    if parts <= 1:
        return [path]
    out = [path.with_name(f"{path.stem}-part-{k:03d}-of-{parts:03d}.csv") for k in range(parts)]
    if all(p.exists() for p in out):
        return out
    with path.open("rb") as f:
        header = f.readline()
        records = sum(1 for _ in f)
    with path.open("rb") as f:
        f.readline()
        for k, dest in enumerate(out):
            take = records // parts + (1 if k < records % parts else 0)
            tmp = dest.with_suffix(".tmp")
            with tmp.open("wb") as w:
                w.write(header)
                for _ in range(take):
                    w.write(f.readline())
            tmp.replace(dest)
    return out


def median(values: list[float]) -> float:
    return round(statistics.median(values), 4)


def stage_medians(runs: list[PipelineRun]) -> dict[str, float]:
    """Each stage's median seconds over the repeats that have it, in first-seen order."""
    names = list(dict.fromkeys(name for r in runs for name in r.stages))
    return {name: median([r.stages[name] for r in runs if name in r.stages]) for name in names}


def stage_peaks(runs: list[PipelineRun]) -> dict[str, float]:
    """Each stage's peak resident memory (the manifest's `stage_peak_rss_mb`), the highest
    over the repeats that have it, in first-seen order."""
    names = list(dict.fromkeys(name for r in runs for name in r.stage_peak_rss_mb))
    return {
        name: max(r.stage_peak_rss_mb[name] for r in runs if name in r.stage_peak_rss_mb)
        for name in names
    }


def per_second(rows: int, seconds: float | None) -> float | None:
    return round(rows / seconds) if seconds else None


def print_table(result: dict[str, Any]) -> None:
    params, scan, pipe = result["params"], result["scan"], result.get("pipeline")
    rows = result["input_rows"]
    print()
    print(f"listhygiene bench  {result['timestamp']}")
    m = result["machine"]
    print(f"  {m['platform']}, {m['cpus_usable']} CPUs, {m['mem_total_mb']} MB RAM")
    print(f"  python {m['python']}, duckdb {m['duckdb']}, polars {m['polars']}")
    print(
        f"  inputs: {params['contacts']:,} contacts (+{params['unsubscribed_rows']:,} "
        f"unsubscribed rows), {params['events']:,} events; {rows:,} contact rows scanned; "
        f"median of {params['repeat']}"
    )
    print()
    line = "  {:<28}{:>12}{:>16}"
    print(line.format("measure", "seconds", "rows/s"))
    print(line.format("-" * 28, "-" * 10, "-" * 14))
    for name, secs in scan["per_file_seconds"].items():
        print(line.format(f"scan {name[:23]}", f"{secs:.3f}", ""))
    print(
        line.format(
            "scan (all contacts files)", f"{scan['seconds']:.3f}", f"{rows / scan['seconds']:,.0f}"
        )
    )
    mat = result["materialize"]
    print(
        line.format(
            "materialize (DuckDB floor)", f"{mat['seconds']:.3f}", f"{rows / mat['seconds']:,.0f}"
        )
    )
    if pipe is None:
        print("\n  pipeline: skipped (--scan-only)")
        return
    print(line.format("pipeline run (wall)", f"{pipe['seconds']:.3f}", f"{pipe['rows_per_s']:,}"))
    peaks = pipe.get("stage_peak_rss_mb") or {}
    for stage, secs in pipe["stage_seconds"].items():
        rate = f"{pipe['ingest_rows_per_s']:,}" if stage == "ingest" and secs else ""
        peak = f"  (peak {peaks[stage]:,.0f} MB)" if stage in peaks else ""
        print(line.format(f"  stage {stage}", f"{secs:.3f}", rate) + peak)
    print()
    print(f"  pipeline exit code {pipe['exit_code']}, peak RSS {pipe['peak_rss_mb']:.0f} MB")
    ratios = result["ratios"]
    if ratios["ingest_over_scan"] is None:
        print("  ingest/scan: n/a (no `ingest` stage in the manifest)")
    else:
        verdict = "meets" if ratios["meets_ingest_target"] else "MISSES"
        print(
            f"  ingest/scan = {ratios['ingest_over_scan']:.2f}x  "
            f"(target <= {INGEST_TARGET:.0f}x: {verdict})"
        )
    print(
        f"  floor/scan  = {mat['over_scan']:.2f}x  (DuckDB itself, keeping every cell); "
        f"ingest/floor = {ratios['ingest_over_materialize']:.2f}x"
    )
    print(f"  run/scan    = {ratios['run_over_scan']:.2f}x  (whole run incl. interpreter start)")
    print(
        f"  run/all-files scan = {ratios['run_over_all_scan']:.2f}x  (target <= {RUN_TARGET:.0f}x: "
        f"{'meets' if ratios['meets_run_target'] else 'MISSES'}); all files: scan "
        f"{scan['all_files_seconds']:.2f}s, parse text {result['parse']['text_seconds']:.2f}s, "
        f"typed {result['parse']['typed_seconds']:.2f}s; run/typed parse = "
        f"{ratios['run_over_parse_typed']:.2f}x"
    )
    rss_verdict = "meets" if ratios["meets_rss_target"] else "MISSES"
    print(f"  peak RSS {pipe['peak_rss_mb']:,.0f} MB (target <= {RSS_TARGET_MB} MB: {rss_verdict})")
    if ratios.get("merge_over_ingest") is not None:
        verdict = "meets" if ratios["merge_over_ingest"] <= 1 else "MISSES"
        print(f"  merge/ingest = {ratios['merge_over_ingest']:.2f}x  (target <= 1x: {verdict})")


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=BENCH / "data")
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    parser.add_argument("--scan-only", action="store_true", help="measure the scan, skip the CLI")
    parser.add_argument(
        "--rss-cap-mb",
        type=float,
        default=None,
        help="kill the pipeline when its RSS passes this (recorded as capped, not a failure)",
    )
    parser.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        default="duckdb",
        help="spark: after the embedded engine, run --engine spark (local[2]) on the same "
        "files once per --spark-shards value, and report both",
    )
    parser.add_argument(
        "--shards",
        type=int,
        nargs="*",
        default=[8],
        help="after the embedded engine's single pass, run it again with --shards N (shard "
        "by shard in the one process: bounded memory) for each N given; none: skip",
    )
    parser.add_argument(
        "--contact-files",
        type=int,
        default=1,
        metavar="K",
        help="give the contacts as K files of equal rows (contacts-part-NNN-of-KKK.csv, header "
        "in each): a file is one task, whose memory grows with its rows",
    )
    parser.add_argument(
        "--events-files",
        type=int,
        default=1,
        metavar="K",
        help="give the events as K files of equal rows (events-part-NNN-of-KKK.csv): a file has "
        "at most rules/ingest.toml max_rows_per_file rows (50M) before its rows are rejects",
    )
    parser.add_argument(
        "--spark-shards",
        type=int,
        nargs="+",
        default=[8, 32],
        help="shard counts to run Spark with; two or more give the per-shard overhead",
    )
    args = parser.parse_args(argv)
    if args.contacts < 1 or args.events < 0 or args.repeat < 1 or min(args.shards, default=2) < 2:
        parser.error("need --contacts >= 1, --events >= 0, --repeat >= 1, --shards >= 2")

    # One folder per size, so switching sizes back and forth reuses earlier inputs.
    inputs = args.work / f"contacts-{args.contacts}_events-{args.events}"
    started = time.perf_counter()
    stamp = generate.ensure_inputs(inputs, args.contacts, args.events, args.seed)
    verb = "reused" if stamp["reused"] else "generated"
    print(f"{verb} inputs in {inputs} ({time.perf_counter() - started:.1f}s)", file=sys.stderr)
    contacts_files = [
        *split_lines(inputs / generate.CONTACTS_FILE, args.contact_files),
        inputs / generate.UNSUB_FILE,
    ]
    events_files = split_lines(inputs / generate.EVENTS_FILE, args.events_files)

    # Scan: one warm-up pass, then --repeat timed passes; with events, the events file is
    # scanned too (the whole run reads it), and ingest is compared with the contacts' scan.
    scanned = contacts_files + (events_files if args.events else [])
    _, rows_per_file = scan_once(scanned)
    scans = [scan_once(scanned)[0] for _ in range(args.repeat)]
    input_rows = sum(rows_per_file[p.name] for p in contacts_files)
    scan_seconds = median([sum(s[p.name] for p in contacts_files) for s in scans])
    all_scan_seconds = median([sum(s.values()) for s in scans])
    print(f"scan: {scan_seconds:.3f}s for {input_rows:,} rows (median)", file=sys.stderr)
    floor_seconds = median([materialize_once(contacts_files) for _ in range(args.repeat)])
    print(f"materialize floor: {floor_seconds:.3f}s (median)", file=sys.stderr)
    # every input file (events too), as text and typed: the floor the whole run compares to
    floor_all = median([parse_once(scanned, typed=False) for _ in range(args.repeat)])
    floor_typed = median([parse_once(scanned, typed=True) for _ in range(args.repeat)])
    print(f"parse all files: {floor_all:.3f}s text, {floor_typed:.3f}s typed", file=sys.stderr)

    result: dict[str, Any] = {
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine_info("duckdb", "polars"),
        "params": {
            **stamp["params"],
            "repeat": args.repeat,
            "as_of": AS_OF,
            "contact_files": args.contact_files,
            "events_files": args.events_files,
        },
        "input_files": {p.name: rows_per_file[p.name] for p in scanned},
        "input_rows": input_rows,
        "scan": {
            "query": "SELECT count(*) FROM read_csv(path)",
            "seconds": scan_seconds,
            "per_file_seconds": {p.name: median([s[p.name] for s in scans]) for p in scanned},
            "all_files_seconds": all_scan_seconds,
            "all_seconds": [round(sum(s.values()), 4) for s in scans],
        },
        "materialize": {
            "query": "SELECT * FROM read_csv(path, all_varchar=true) -> Arrow",
            "seconds": floor_seconds,
            "over_scan": round(floor_seconds / scan_seconds, 3),
        },
        "parse": {
            "query": "SELECT sum(hash(COLUMNS(*))) FROM read_csv(path[, all_varchar=true])",
            "files": [p.name for p in scanned],
            "text_seconds": floor_all,
            "typed_seconds": floor_typed,
            "text_over_all_scan": round(floor_all / all_scan_seconds, 3),
            "typed_over_all_scan": round(floor_typed / all_scan_seconds, 3),
        },
        "load": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "pipeline": None,
        "ratios": {},
    }

    if not args.scan_only:
        command = [sys.executable, "-m", "listhygiene", "run", *map(str, contacts_files)]
        if args.events:
            command += [a for f in events_files for a in ("--events", str(f))]
        runs: list[PipelineRun] = []
        for k in range(args.repeat):
            try:
                runs.append(run_pipeline_once(command, inputs, args.rss_cap_mb))
            except PipelineCapped as exc:
                print(f"bench: repeat {k + 1}: {exc}", file=sys.stderr)
                result["pipeline"] = {
                    "capped": True,
                    "rss_cap_mb": args.rss_cap_mb,
                    "killed_after_seconds": round(exc.seconds, 2),
                    "rss_at_kill_mb": round(exc.rss_mb, 1),
                }
                break
            except PipelineFailed as exc:
                print(f"bench: repeat {k + 1} of {args.repeat}: {exc}", file=sys.stderr)
                print("bench: no results written.", file=sys.stderr)
                return 1
            print(f"pipeline repeat {k + 1}: {runs[-1].seconds:.2f}s", file=sys.stderr)
        sharded_next = bool(args.shards) and args.engine != "spark"
        if not runs and not sharded_next:  # capped: what was measured is in result["pipeline"]
            return _write(result, args.results, "-capped")
        if runs:  # else capped: the sharded runs still show what fits
            run_seconds = median([r.seconds for r in runs])
            stages = stage_medians(runs)
            ingest = stages.get("ingest")
            result["pipeline"] = {
                "command": [
                    *command[1:],
                    "--out",
                    "<tmp>",
                    "--db",
                    "<tmp>",
                    "--as-of",
                    AS_OF,
                    "--quiet",
                ],
                "seconds": run_seconds,
                "all_seconds": [round(r.seconds, 4) for r in runs],
                "exit_code": runs[-1].exit_code,
                "exit_codes": [r.exit_code for r in runs],
                "peak_rss_mb": round(max(r.peak_rss_mb for r in runs), 1),
                "stage_seconds": stages,
                "stage_peak_rss_mb": stage_peaks(runs),
                "manifest_input_rows": runs[-1].manifest_input_rows,
                "rows_per_s": per_second(input_rows, run_seconds),
                "ingest_rows_per_s": per_second(input_rows, ingest),
            }
            ingest_ratio = round(ingest / scan_seconds, 3) if ingest is not None else None
            result["ratios"] = {
                "ingest_over_scan": ingest_ratio,
                "ingest_over_materialize": round(ingest / floor_seconds, 3) if ingest else None,
                # issue 6: merging must take no more than the ingest of the same file
                "merge_over_ingest": round(stages["merge"] / ingest, 3)
                if ingest and "merge" in stages
                else None,
                "run_over_scan": round(run_seconds / scan_seconds, 3),
                # issue 10: the whole run against a bare scan of every input file, events included
                "run_over_all_scan": round(run_seconds / all_scan_seconds, 3),
                "run_over_parse_typed": round(run_seconds / floor_typed, 3),
                "run_target": RUN_TARGET,
                "meets_run_target": run_seconds / all_scan_seconds <= RUN_TARGET,
                "peak_rss_target_mb": RSS_TARGET_MB,
                "meets_rss_target": max(r.peak_rss_mb for r in runs) <= RSS_TARGET_MB,
                "ingest_target": INGEST_TARGET,
                "meets_ingest_target": ingest_ratio is not None and ingest_ratio <= INGEST_TARGET,
            }

    if args.engine == "spark" and not args.scan_only:
        variants = [
            (str(n), ["--engine", "spark", "--spark-shards", str(n)]) for n in args.spark_shards
        ]
        failed = _engine_runs(result, "spark", variants, command, inputs, args, all_scan_seconds)
        if failed:
            return failed
    elif args.shards and not args.scan_only:
        variants = [(str(n), ["--shards", str(n)]) for n in args.shards]
        failed = _engine_runs(result, "sharded", variants, command, inputs, args, all_scan_seconds)
        if failed:
            return failed
    suffix = "-scan" if args.scan_only else ("-spark" if args.engine == "spark" else "")
    if (result["pipeline"] or {}).get("capped"):
        suffix += "-capped"
    return _write(result, args.results, suffix)


def _engine_runs(
    result: dict[str, Any],
    key: str,
    variants: list[tuple[str, list[str]]],
    command: list[str],
    inputs: Path,
    args: argparse.Namespace,
    all_scan_seconds: float,
) -> int:
    """The run sharded (`key` "spark": the Spark engine; "sharded": the embedded engine's
    --shards) on the same files, per shard count: wall seconds, the peak RSS of the
    process and of its tree, and each task's own seconds (the manifest's `engine.tasks`)."""
    embedded = result["pipeline"].get("seconds")  # None: the single pass was capped
    by_shards: dict[str, Any] = {}
    for shards, extra in variants:
        runs: list[PipelineRun] = []
        for k in range(args.repeat):
            try:
                runs.append(run_pipeline_once([*command, *extra], inputs, args.rss_cap_mb))
            except (PipelineFailed, PipelineCapped) as exc:
                print(f"bench: {key}, {shards} shards, repeat {k + 1}: {exc}", file=sys.stderr)
                return 1
            took = runs[-1].seconds
            print(f"{key} {shards} shards, repeat {k + 1}: {took:.2f}s", file=sys.stderr)
        seconds = median([r.seconds for r in runs])
        tasks = runs[-1].engine.get("tasks", {})
        shard_tasks = tasks.get("shards", [])
        shard_secs = [t["seconds"] for t in shard_tasks]
        by_shards[str(shards)] = {
            "seconds": seconds,
            "all_seconds": [round(r.seconds, 3) for r in runs],
            "over_embedded": round(seconds / embedded, 3) if embedded else None,
            "over_all_scan": round(seconds / all_scan_seconds, 3),
            "driver_peak_rss_mb": round(max(r.peak_rss_mb for r in runs), 1),
            "meets_rss_target": max(r.peak_rss_mb for r in runs) <= RSS_TARGET_MB,
            "stage_peak_rss_mb": stage_peaks(runs),
            "tree_peak_rss_mb": max(r.tree_peak_rss_mb for r in runs),
            "stage_seconds": stage_medians(runs),
            "input_tasks": tasks.get("inputs", []),
            "events_tasks": tasks.get("events", []),
            "shard_tasks": {
                "count": len(shard_tasks),
                "seconds_total": round(sum(shard_secs), 3),
                "seconds_min": min(shard_secs, default=None),
                "seconds_max": max(shard_secs, default=None),
                "contacts": sum(t["contacts"] for t in shard_tasks),
                "events": sum(t["events"] for t in shard_tasks),
                # the largest peak RSS of a Python worker during one shard task
                "worker_peak_rss_mb_max": max(
                    (t.get("worker_peak_rss_mb") or 0 for t in shard_tasks), default=None
                ),
            },
            "spark": runs[-1].engine.get("spark"),
            "master": runs[-1].engine.get("master"),
        }
    result[key] = {"embedded_seconds": embedded, "by_shards": by_shards}
    counts = sorted(int(k) for k in by_shards)
    if len(counts) >= 2:  # the wall time each extra shard adds, all else equal
        lo, hi = by_shards[str(counts[0])], by_shards[str(counts[-1])]
        result[key]["per_shard_overhead_seconds"] = round(
            (hi["seconds"] - lo["seconds"]) / (counts[-1] - counts[0]), 4
        )
    _print_sharded(result[key], key)
    return 0


def _print_sharded(runs: dict[str, Any], key: str) -> None:
    print()
    one_pass = runs["embedded_seconds"]
    print(f"  embedded engine, one pass: {f'{one_pass:.2f}s' if one_pass else 'capped'}")
    for shards, r in runs["by_shards"].items():
        t = r["shard_tasks"]
        where = f"spark {r['master']}" if key == "spark" else "embedded"
        print(
            f"  {where}, {shards} shards: {r['seconds']:.2f}s = "
            f"{r['over_embedded'] or '-'}x one pass, {r['over_all_scan']:.1f}x the scan; "
            f"peak {r['driver_peak_rss_mb']:,.0f} MB (tree {r['tree_peak_rss_mb']:,.0f} MB); "
            f"shard tasks {t['seconds_total']:.2f}s in all ({t['seconds_min']}-"
            f"{t['seconds_max']}s each)"
        )
        print(f"    stages: {r['stage_seconds']}")
    if "per_shard_overhead_seconds" in runs:
        print(f"  per-shard overhead: {runs['per_shard_overhead_seconds']:.3f}s of wall time")


def _write(result: dict[str, Any], folder: Path, suffix: str) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    name = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + suffix
    path = folder / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    if result["pipeline"] is None or not result["pipeline"].get("capped"):
        print_table(result)
    else:
        print(json.dumps(result["pipeline"]))
    print(f"\n  results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
