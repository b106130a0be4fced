"""What the engine tests compare: every output file of two runs, byte for byte."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

from paths import REPO

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
