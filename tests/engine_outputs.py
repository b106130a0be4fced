"""What the engine tests compare: every output file of two runs, byte for byte."""

from __future__ import annotations

import importlib.util
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from paths import REPO

SAMPLE = REPO / "data" / "sample"
EVENTS = REPO / "data" / "events"
ACCOUNT = REPO / "tests" / "existing" / "misarmail_contacts.json"
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)

RUN_ID = re.compile(rb"\d{8}T\d{6}Z-[0-9a-f]{6}")
WITH_RUN_ID = {"report.html", "summary.md"}  # name the run: compared with its id masked
PARTITIONED = {  # the Spark run's tables partitioned by shard (folders of Parquet parts)
    "contacts",
    "duplicates",
    "possible_duplicates",
    "unengaged",
    "suppress_candidates",
    "winback_audience",
}


def run_to(tmp: Path, name: str, inputs: list[Path | str], **options: Any) -> Path:
    """One run (`options`: RunOptions' fields) into `tmp/name`, as of AS_OF with the DNS
    cache; it must finish (exit 0, or 1 for a failed health gate)."""
    from listhygiene.deliverability import DnsOptions
    from listhygiene.run import RunOptions, execute

    out = tmp / name
    result = execute(
        RunOptions(inputs=inputs, out=out, db=tmp / f"{name}.duckdb", as_of=AS_OF,
                   dns=DnsOptions(mode="cache"), **options)
    )  # fmt: skip
    assert result.exit_code in (0, 1)
    return out


def output_files(out: Path) -> dict[str, bytes]:
    """Every output file but the manifest and the partitioned tables, by its path."""
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file()
        and p.name != "manifest.json"
        and p.relative_to(out).parts[0] not in PARTITIONED
    }


def assert_same_files(a_out: Path, b_out: Path) -> int:
    """The same files in both, byte-identical (run ids masked where a file names its
    run). Returns the number compared."""
    a, b = output_files(a_out), output_files(b_out)
    assert sorted(a) == sorted(b)
    for name in a:
        x, y = a[name], b[name]
        if name in WITH_RUN_ID:
            x, y = RUN_ID.sub(b"RUN", x), RUN_ID.sub(b"RUN", y)
        assert x == y, f"{name} differs between the runs"
    return len(a)


def bench_generate() -> ModuleType:
    """bench/generate.py, the benchmark's synthetic export generator."""
    spec = importlib.util.spec_from_file_location("bench_generate", REPO / "bench" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_generate"] = module
    spec.loader.exec_module(module)
    return module


def clean_errors(
    tmp: Path, contacts: list[str], events: list[str], variants: dict[str, list[str]]
) -> dict[str, str]:
    """Run `listhygiene run` once per variant (its extra options), each expected to fail
    with exit 2 and leave no --out behind; returns each variant's stderr."""
    from click.testing import CliRunner

    from listhygiene.cli import main

    said = {}
    for name, extra in variants.items():
        result = CliRunner().invoke(
            main,
            ["run", *contacts, *(a for e in events for a in ("--events", e)),
             "--out", str(tmp / name), "--db", str(tmp / f"{name}.duckdb"), "--dns", "off",
             *extra],
        )  # fmt: skip
        assert result.exit_code == 2, result.output
        assert not (tmp / name).exists()  # nothing half-written
        said[name] = result.stderr
    return said


def generated_inputs(folder: Path, contacts: int, events: int) -> tuple[list[Path], list[Path]]:
    """bench/generate.py's messy export shape (duplicates, case variants, broken and
    internationalized addresses, suppressions) in `folder`: (contacts files, events files)."""
    stamp = bench_generate().ensure_inputs(folder, contacts, events)
    files = sorted(folder / name for name in stamp["files"])
    return [f for f in files if "event" not in f.name], [f for f in files if "event" in f.name]


def events_zip(folder: Path) -> Path:
    """The sample's events as a zip of two members, named against their order (rows
    restart at 1 in each; the order of events, and so which repeated event_id counts,
    is the archive's)."""
    import zipfile

    lines = (EVENTS / "events.csv").read_text().splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    archive = folder / "events.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("b-later.csv", header + "".join(body[: len(body) // 2]))
        z.writestr("a-first.csv", header + "".join(body[len(body) // 2 :] + body[:50]))
    return archive
