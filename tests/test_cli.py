"""The command line: exact messages, exit codes, atomic outputs, the ledger and the lock."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from paths import REPO

from listhygiene.cli import main
from listhygiene.store import Store

SAMPLE = REPO / "data" / "sample"
AS_OF = "2026-11-01T00:00:00Z"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def run(runner: CliRunner, tmp_path: Path, *args: str, out: str = "out"):
    return runner.invoke(
        main,
        [
            "run",
            *args,
            "--out",
            str(tmp_path / out),
            "--db",
            str(tmp_path / "store.duckdb"),
            "--as-of",
            AS_OF,
        ],
        catch_exceptions=False,
    )


def ledger(tmp_path: Path) -> list[tuple]:
    con = duckdb.connect(str(tmp_path / "store.duckdb"), read_only=True)
    try:
        return con.execute("SELECT outcome, error FROM runs ORDER BY started_at").fetchall()
    finally:
        con.close()


def _walk(group, prefix=()):
    for name, cmd in sorted(group.commands.items()):
        yield (*prefix, name)
        if hasattr(cmd, "commands"):
            yield from _walk(cmd, (*prefix, name))


@pytest.mark.parametrize("command", [(), *list(_walk(main))], ids=lambda c: " ".join(c) or "main")
def test_every_command_has_help(runner, command):
    result = runner.invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert result.output.startswith(
        "Usage: main" if not command else f"Usage: main {' '.join(command)}"
    )
    assert len(result.output.splitlines()) > 3


def test_run_on_the_sample_accounts_for_every_row(runner, tmp_path):
    result = run(runner, tmp_path, str(SAMPLE))
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    rec = manifest["reconciliation"]
    assert rec["input_rows"] == sum(i["input_rows"] for i in manifest["inputs"])
    assert rec["input_rows"] == rec["rejected"] + rec["duplicates_merged"] + rec["unique_contacts"]
    rejects = (tmp_path / "out" / "rejects.csv").read_text().splitlines()
    assert rejects[0] == "source_file,row,email,field,error,reason"
    assert len(rejects) - 1 == rec["rejected"]
    assert {i["preset"] for i in manifest["inputs"]} >= {"mailchimp", "generic", "misarmail"}
    assert [o["path"] for o in manifest["outputs"]] == [
        "contacts.csv",
        "contacts.parquet",
        "duplicates.csv",
        "fixes.csv",
        "health.json",
        "payload_warnings.csv",
        "payloads/mailerdash/import-0001.json",
        "payloads/mailerdash/import-preview-0001.json",
        "payloads/misar-io/plan.json",
        "payloads/misar-io/upserts.ndjson",
        "payloads/misar-mail/import-0001.csv",
        "payloads/misar-mail/import-0001.json",
        "payloads/misarmail/import-0001.json",
        "payloads/requests.json",
        "possible_duplicates.csv",
        "rejects.csv",
        "report.html",
        "summary.md",
    ]
    contacts = (tmp_path / "out" / "contacts.csv").read_text().splitlines()
    assert len(contacts) - 1 == rec["unique_contacts"]
    duplicates = (tmp_path / "out" / "duplicates.csv").read_text().splitlines()
    assert len(duplicates) - 1 == rec["duplicates_merged"]
    assert manifest["as_of"] == AS_OF
    assert set(manifest["stages"]) >= {
        "ingest",
        "map",
        "validate",
        "deliverability",
        "merge",
        "store_raw",
        "write",
    }
    assert result.stdout.startswith(f"Run {manifest['run_id']} (as of {AS_OF})\n")
    assert (
        f"Rows read: {rec['input_rows']:,}; rejected: {rec['rejected']:,}; duplicates merged: "
        f"{rec['duplicates_merged']:,}; unique contacts: {rec['unique_contacts']:,}."
        in result.stdout
    )
    assert ledger(tmp_path) == [("succeeded", None)]


def test_two_runs_on_one_store_both_succeed_and_keep_their_raw_rows(runner, tmp_path):
    assert run(runner, tmp_path, str(SAMPLE)).exit_code == 0
    assert run(runner, tmp_path, str(SAMPLE)).exit_code == 0
    assert ledger(tmp_path) == [("succeeded", None), ("succeeded", None)]
    con = duckdb.connect(str(tmp_path / "store.duckdb"), read_only=True)
    n_files = len(list(SAMPLE.iterdir()))
    rows = con.execute(
        "SELECT count(*), count(DISTINCT run_id), sum(input_rows) FROM run_inputs"
    ).fetchall()
    views = [
        v
        for (v,) in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE starts_with(view_name, 'raw_')"
        ).fetchall()
    ]
    # every raw row of both runs is queryable through the store, with its row number
    raw_rows = sum(con.execute(f'SELECT count(*) FROM "{v}"').fetchall()[0][0] for v in views)
    first = con.execute(f'SELECT min(__row) FROM "{sorted(views)[0]}"').fetchall()[0][0]
    con.close()
    assert rows[0][:2] == (2 * n_files, 2)
    assert len(views) == 2 * n_files
    rec = json.loads((tmp_path / "out" / "manifest.json").read_text())["reconciliation"]
    # raw rows are every row the readers could read: all but the unreadable ones
    rejects = (tmp_path / "out" / "rejects.csv").read_text().splitlines()
    unreadable = [line for line in rejects if line.endswith(",ragged_row")]
    assert raw_rows == 2 * (rec["input_rows"] - len(unreadable))
    assert first >= 2


def files_in(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_a_bad_file_stops_the_run_with_exit_2_and_leaves_previous_outputs(runner, tmp_path):
    assert run(runner, tmp_path, str(SAMPLE)).exit_code == 0
    before = files_in(tmp_path / "out")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    result = run(runner, tmp_path, str(SAMPLE), str(empty))
    assert result.exit_code == 2
    assert (
        result.stderr
        == f"Error: {empty}: the file is empty. Export the list again, or leave this file out.\n"
    )
    assert files_in(tmp_path / "out") == before
    assert not list(tmp_path.glob(".out.staging-*"))
    assert ledger(tmp_path)[-1] == (
        "failed",
        f"{empty}: the file is empty. Export the list again, or leave this file out.",
    )


def test_no_email_column_is_a_whole_file_error(runner, tmp_path):
    f = tmp_path / "names.csv"
    f.write_text("first,last\nAnn,Lee\n")
    result = run(runner, tmp_path, str(f))
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"Error: {f}: no column can be the email address (columns: first, last)."
    )
    assert not (tmp_path / "out").exists()


def test_missing_input_and_bad_as_of_are_usage_errors(runner, tmp_path):
    result = run(runner, tmp_path, str(tmp_path / "nope.csv"))
    assert result.exit_code == 2
    assert (
        result.stderr
        == f"Error: {tmp_path / 'nope.csv'}: no such file or folder. Check the path and try again.\n"
    )
    bad = runner.invoke(main, ["run", str(SAMPLE), "--as-of", "yesterday"])
    assert bad.exit_code == 2
    assert (
        "Invalid value for '--as-of': \"yesterday\" is not an ISO 8601 date or timestamp; write it like 2026-11-01T00:00:00Z."
        in bad.stderr
    )


def test_a_second_run_on_a_locked_store_exits_3(runner, tmp_path):
    holder = Store.open(tmp_path / "store.duckdb")
    try:
        result = run(runner, tmp_path, str(SAMPLE))
    finally:
        holder.close()
    assert result.exit_code == 3
    assert result.stderr.startswith("Error: Another listhygiene run (pid ")
    assert result.stderr.endswith(
        f") is using the store {tmp_path / 'store.duckdb'}. Wait for it to finish, or give this "
        "run its own store with --db.\n"
    )
    assert not (tmp_path / "out").exists()


def test_raw_rows_of_old_runs_are_pruned_and_failed_runs_leave_none(runner, tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    from listhygiene.ruleset import default_rules_dir

    text = (
        (default_rules_dir() / "ingest.toml")
        .read_text()
        .replace("keep_raw_runs = 3", "keep_raw_runs = 1")
    )
    (rules / "ingest.toml").write_text(text)
    for _ in range(2):
        assert run(runner, tmp_path, str(SAMPLE), "--rules", str(rules)).exit_code == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("email\n")
    assert run(runner, tmp_path, str(SAMPLE), str(bad), "--rules", str(rules)).exit_code == 2
    files = sorted(p.name for p in (tmp_path / "store.duckdb.raw").iterdir())
    n_files = len(list(SAMPLE.iterdir()))
    assert len(files) == n_files  # only the newest successful run's raw rows remain
    assert all(f.endswith(".parquet") for f in files)


def test_a_run_that_died_is_marked_failed_when_the_store_is_next_opened(tmp_path):
    from datetime import UTC, datetime

    store = Store.open(tmp_path / "store.duckdb")
    store.begin_run("r1", datetime(2026, 11, 1, tzinfo=UTC), "h", "v", "out")
    store.con.close()  # no end_run: as if the process had been killed
    import fcntl
    import os

    fcntl.flock(store._lock_fd, fcntl.LOCK_UN)
    os.close(store._lock_fd)
    again = Store.open(tmp_path / "store.duckdb")
    try:
        assert [(r["outcome"], r["error"]) for r in again.runs()] == [
            ("failed", "interrupted: the process ended before the run finished")
        ]
    finally:
        again.close()


def test_stale_outputs_of_a_previous_run_are_removed_at_commit(runner, tmp_path):
    assert run(runner, tmp_path, str(SAMPLE)).exit_code == 0
    manifest = tmp_path / "out" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["outputs"].append({"path": "old.csv", "sha256": "", "rows": 0})
    data["outputs"].append({"path": "../outside.txt", "sha256": "", "rows": 0})
    manifest.write_text(json.dumps(data))
    (tmp_path / "out" / "old.csv").write_text("x")
    (tmp_path / "outside.txt").write_text("keep me")
    assert run(runner, tmp_path, str(SAMPLE)).exit_code == 0
    assert not (tmp_path / "out" / "old.csv").exists()
    assert (tmp_path / "outside.txt").read_text() == "keep me"


def test_rules_check_lists_every_problem_at_once(runner, tmp_path):
    ok = runner.invoke(main, ["rules", "check"])
    assert ok.exit_code == 0 and ok.output.startswith("Rules OK: ")
    bad = tmp_path / "rules"
    bad.mkdir()
    (bad / "ingest.toml").write_text(
        "[limits]\nmax_field_bytes = 0\nmax_rows_per_file = 'many'\nmax_columns = 10\n"
        "max_decompressed_bytes = 1\nspeed = 3\n[csv]\ndelimiters = [',']\nsniff_bytes = 4096\n"
        "fallback_encoding = 'klingon'\n[store]\nkeep_raw_runs = 1\n"
    )
    (bad / "extra.toml").write_text("")
    result = runner.invoke(main, ["rules", "check", "--rules", str(bad)])
    assert result.exit_code == 2
    assert result.stderr == "\n".join(
        [
            "Error: The rules have 5 problems:",
            f"  - {bad / 'extra.toml'}: unknown rules file; the files listhygiene reads are ingest.toml, fields.toml, statuses.toml, deliverability.toml, merge.toml, scoring.toml, health.toml, payloads.toml and presets/*.toml.",
            f"  - {bad / 'ingest.toml'} [limits]: `max_field_bytes` must be a whole number of at least 1, not 0.",
            f"  - {bad / 'ingest.toml'} [limits]: `max_rows_per_file` must be a whole number of at least 1, not 'many'.",
            f"  - {bad / 'ingest.toml'} [limits]: unknown key `speed`; the keys are max_field_bytes, max_rows_per_file, max_columns and max_decompressed_bytes.",
            f"  - {bad / 'ingest.toml'} [csv]: fallback_encoding 'klingon' is not an encoding Python knows; use for example cp1252 or latin-1.",
            "",
        ]
    )


def test_debug_keeps_each_stage_output_in_the_store(runner, tmp_path):
    assert run(runner, tmp_path, str(SAMPLE), "--debug").exit_code == 0
    con = duckdb.connect(str(tmp_path / "store.duckdb"), read_only=True)
    try:
        views = {
            v
            for (v,) in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE NOT internal"
            ).fetchall()
        }
        mapped = sorted(v for v in views if v.startswith("mapped_"))
        assert len(mapped) == len(list(SAMPLE.iterdir()))
        cols = [c for (c, *_) in con.execute(f'DESCRIBE "{mapped[0]}"').fetchall()]
    finally:
        con.close()
    assert cols[:3] == ["source_file", "source_row", "email"]


def test_sample_rejects_match_the_reviewed_golden_file(runner, tmp_path):
    """A change here is a reviewed diff of tests/golden/sample/rejects.csv, never a surprise.
    (The sample run uses repo-relative paths, as `make run` does.)"""
    import os

    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        result = runner.invoke(
            main,
            [
                "run",
                "data/sample/",
                "--out",
                str(tmp_path / "out"),
                "--db",
                str(tmp_path / "s.duckdb"),
                "--as-of",
                AS_OF,
                "-q",
            ],
        )
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output
    golden = REPO / "tests" / "golden" / "sample" / "rejects.csv"
    assert (tmp_path / "out" / "rejects.csv").read_bytes() == golden.read_bytes()


def test_check_email_prints_one_json_line_per_address_in_order(runner):
    result = runner.invoke(
        main,
        ["check-email", "Ann <Ann@Example.COM>", "-", "ann@@example.com", "--dns", "off"],
        input="x@localhost\n",
    )
    assert result.exit_code == 0
    no_flags = {
        "role_account": None,
        "disposable": None,
        "free_provider": None,
        "did_you_mean": None,
        "dns_status": "not_checked",
    }
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        {
            "input": "Ann <Ann@Example.COM>",
            "valid": True,
            "email": "Ann@example.com",
            "email_key": "ann@example.com",
            "error": None,
            "reason": None,
            "fixes": ["display_name"],
            "role_account": False,
            "disposable": False,
            "free_provider": False,
            "did_you_mean": None,
            "dns_status": "not_checked",
            "verdict": "unknown",
            "verdict_reason": None,
        },
        {
            "input": "x@localhost",
            "valid": False,
            "email": None,
            "email_key": None,
            "error": "The part after the @-sign is not valid. It should have a period.",
            "reason": "domain_missing_period",
            "fixes": [],
            **no_flags,
            "verdict": "invalid",
            "verdict_reason": "failed_syntax_check",
        },
        {
            "input": "ann@@example.com",
            "valid": False,
            "email": None,
            "email_key": None,
            "error": "The part after the @-sign contains invalid characters: '@'.",
            "reason": "domain_invalid_characters",
            "fixes": [],
            **no_flags,
            "verdict": "invalid",
            "verdict_reason": "failed_syntax_check",
        },
    ]


def test_run_rejects_an_unknown_default_region(runner, tmp_path):
    result = run(runner, tmp_path, str(SAMPLE), "--default-region", "XX")
    assert result.exit_code == 2
    assert (
        "Invalid value for '--default-region': --default-region \"XX\" is not a region phonenumbers knows; "
        "use a two-letter ISO 3166 code such as US, GB or DE, or leave it out to read only numbers "
        "written with a +country code." in " ".join(result.stderr.split())
    )


def test_check_email_survives_undecodable_argument_bytes(tmp_path):
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "listhygiene",
            "check-email",
            b"\xff@x.com",
            "a@b.co",
            "--dns",
            "off",
        ],
        capture_output=True,
        check=True,
    ).stdout
    first, second = out.splitlines()
    assert first.startswith(b'{"input": "\xff@x.com", "valid": false')
    assert json.loads(second)["email"] == "a@b.co"


def test_an_unsubscribe_is_never_undone_by_a_later_subscribed_row(runner, tmp_path):
    first = tmp_path / "a.csv"
    first.write_text("email,status,first_name\nAnn@Example.com,unsubscribed,Ann\n")
    second = tmp_path / "b.csv"
    second.write_text("email,status,first_name,company\n ann@example.com ,subscribed,,Acme\n")
    assert run(runner, tmp_path, str(first), str(second), "--dns", "off").exit_code == 0
    out = tmp_path / "out"
    import polars as pl

    contacts = pl.read_parquet(out / "contacts.parquet")
    assert contacts.select(
        "email_key", "status", "first_name", "company", "verdict", "verdict_reason"
    ).rows() == [("ann@example.com", "unsubscribed", "Ann", "Acme", "invalid", "suppressed")]
    assert (out / "duplicates.csv").read_text().splitlines()[1:] == [
        f"ann@example.com,{first},2,{second},2,whitespace,status"
    ]
    rec = json.loads((out / "manifest.json").read_text())["reconciliation"]
    assert rec == {"input_rows": 2, "rejected": 0, "duplicates_merged": 1, "unique_contacts": 1}


def test_data_outputs_are_byte_identical_across_reruns(runner, tmp_path):
    assert run(runner, tmp_path, str(SAMPLE), out="one").exit_code == 0
    assert run(runner, tmp_path, str(SAMPLE), out="two").exit_code == 0
    one, two = (
        {
            p.relative_to(tmp_path / d).as_posix(): p.read_bytes()
            for p in (tmp_path / d).rglob("*")
            # the manifest and the reports may differ: they show the run and the store's history
            if p.is_file() and p.name not in ("manifest.json", "report.html", "summary.md")
        }
        for d in ("one", "two")
    )
    assert {k for k in one if "/" not in k} == {
        "contacts.csv",
        "contacts.parquet",
        "duplicates.csv",
        "fixes.csv",
        "health.json",
        "payload_warnings.csv",
        "possible_duplicates.csv",
        "rejects.csv",
    }
    assert one == two


ACCOUNT = "id,email,name,status\n501,ann@example.com,Ann,unsubscribed\n502,bob@example.com,Bob,active\n503,zed@example.com,Zed,active\n"
FILE = "email,first_name,status\nAnn@Example.com,Ann,subscribed\nbob@example.com,Robert,\ncy@example.com,Cy,\n"


def test_run_with_existing_carries_the_accounts_suppressions_and_classifies(runner, tmp_path):
    (tmp_path / "account.csv").write_text(ACCOUNT)
    (tmp_path / "list.csv").write_text(FILE)
    result = run(
        runner,
        tmp_path,
        str(tmp_path / "list.csv"),
        "--existing",
        str(tmp_path / "account.csv"),
        "--dns",
        "off",
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    import polars as pl

    contacts = pl.read_parquet(out / "contacts.parquet").select(
        "email_key", "status", "verdict_reason"
    )
    assert contacts.rows() == [
        (
            "ann@example.com",
            "unsubscribed",
            "suppressed",
        ),  # the account's unsubscribe wins over "subscribed"
        ("bob@example.com", "active", None),
        ("cy@example.com", "active", None),
    ]
    assert (out / "account_reconciliation.csv").read_text().splitlines() == [
        "email_key,email,class,account_id,account_ids,account_status,status,changed_fields",
        "ann@example.com,Ann@example.com,suppressed_in_account,501,501,unsubscribed,unsubscribed,",
        "bob@example.com,bob@example.com,update,502,502,active,active,name",
        "cy@example.com,cy@example.com,new,,,,active,",
        "zed@example.com,zed@example.com,only_in_account,503,503,active,,",
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["existing"]["classes"] == {
        "new": 1,
        "update": 1,
        "unchanged": 0,
        "suppressed_in_account": 1,
        "only_in_account": 1,
    }


def test_preview_prints_the_import_preview_and_writes_nothing_else(runner, tmp_path):
    (tmp_path / "account.csv").write_text(ACCOUNT)
    (tmp_path / "list.csv").write_text(FILE)
    import os

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    before = os.getcwd()
    os.chdir(cwd)
    try:
        result = runner.invoke(
            main,
            [
                "preview",
                str(tmp_path / "list.csv"),
                "--existing",
                str(tmp_path / "account.csv"),
                "--out",
                "p.json",
            ],
        )
    finally:
        os.chdir(before)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in cwd.iterdir()) == ["p.json"]  # no store, no out/
    assert json.loads((cwd / "p.json").read_text()) == json.loads(result.stdout)
    assert json.loads(result.stdout) == {
        "existing": ["Ann@example.com", "bob@example.com"],
        "total_unique": 3,
        "total_received": 3,
        "classes": {
            "new": 1,
            "update": 1,
            "unchanged": 0,
            "suppressed_in_account": 1,
            "only_in_account": 1,
        },
    }
