"""Scheduled runs: --keep-runs prunes old raw rows from the store (the ledger stays),
and the README's cron and systemd examples use options that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import duckdb
from click.testing import CliRunner
from paths import REPO

from listhygiene.cli import main
from listhygiene.ruleset import default_rules_dir

SAMPLE = REPO / "data" / "sample"


def invoke(tmp_path: Path, *args: str):
    return CliRunner().invoke(
        main,
        ["run", str(SAMPLE), *args, "--out", str(tmp_path / "out"), "--db",
         str(tmp_path / "store.duckdb"), "--as-of", "2026-11-01T00:00:00Z", "--dns", "off", "-q"],
    )  # fmt: skip


def store_state(tmp_path: Path) -> tuple[list[str], set[str], set[str]]:
    """Run ids of the ledger (oldest first), of the raw_* views, of the raw Parquet files."""
    con = duckdb.connect(str(tmp_path / "store.duckdb"), read_only=True)
    try:
        runs = [r for (r,) in con.execute("SELECT run_id FROM runs ORDER BY started_at").fetchall()]
        views = {
            v for (v,) in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE view_name LIKE 'raw\\_%' ESCAPE '\\'"
            ).fetchall()
        }  # fmt: skip
    finally:
        con.close()
    files = {p.name for p in (tmp_path / "store.duckdb.raw").iterdir()}
    return runs, views, files


def tag(run_id: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "_", run_id)


def test_keep_runs_removes_older_raw_rows_and_views_but_never_the_ledger(tmp_path):
    for _ in range(3):
        assert invoke(tmp_path, "--keep-runs", "3").exit_code == 0
    runs, views, files = store_state(tmp_path)
    n = len(list(SAMPLE.iterdir()))
    assert len(runs) == 3 and len(views) == 3 * n and len(files) == 3 * n
    assert invoke(tmp_path, "--keep-runs", "1").exit_code == 0
    runs, views, files = store_state(tmp_path)
    assert len(runs) == 4  # the ledger keeps every run
    newest = tag(runs[-1])
    assert len(views) == n and all(v.startswith(f"raw_{newest}_") for v in views)
    assert files == {f"{v}.parquet" for v in views}


def test_keep_runs_overrides_the_rules(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    text = (default_rules_dir() / "ingest.toml").read_text(encoding="utf-8")
    (rules / "ingest.toml").write_text(text.replace("keep_raw_runs = 3", "keep_raw_runs = 1"))
    for _ in range(2):
        assert invoke(tmp_path, "--rules", str(rules), "--keep-runs", "2").exit_code == 0
    _, views, _ = store_state(tmp_path)
    assert len(views) == 2 * len(list(SAMPLE.iterdir()))
    assert invoke(tmp_path, "--rules", str(rules)).exit_code == 0  # without it, the rules: 1
    _, views, _ = store_state(tmp_path)
    assert len(views) == len(list(SAMPLE.iterdir()))


def test_keep_runs_must_be_at_least_one(tmp_path):
    result = invoke(tmp_path, "--keep-runs", "0")
    assert result.exit_code == 2
    assert "Invalid value for '--keep-runs': 0 is not in the range x>=1." in result.stderr


def _readme_commands() -> list[list[str]]:
    """The `listhygiene run …` command lines of the README's Scheduling section."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Scheduling", 1)[1].split("\n## ", 1)[0]
    section = section.replace("\\\n", " ")
    found = []
    for line in section.splitlines():
        at = line.find("/listhygiene run ")
        if at >= 0:
            found.append(shlex.split(line[at:].split(" >>")[0].split(" 2>")[0])[1:])
    return found


def test_the_readme_scheduling_examples_use_options_that_exist():
    commands = _readme_commands()
    assert len(commands) >= 2  # the cron line and the systemd ExecStart
    run = main.commands["run"]
    known = {opt for p in run.params for opt in p.opts}
    for args in commands:
        assert args[0] == "run"
        options = {a.split("=", 1)[0] for a in args if a.startswith("-")}
        assert options <= known, options - known
        assert "--quiet" in options or "-q" in options
