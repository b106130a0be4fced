"""`listhygiene dns-cache export|import`: the DNS cache moves between stores as Parquet
(a cluster's driver, another machine), the later answer winning."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from click.testing import CliRunner

from listhygiene.cli import main
from listhygiene.store import Store


def _put(db: Path, rows: list[tuple]) -> None:
    store = Store.open(db)
    try:
        store.con.executemany("INSERT OR REPLACE INTO dns_cache VALUES (?, ?, ?, ?, ?, ?)", rows)
    finally:
        store.close()


def _cache(db: Path) -> list[tuple]:
    store = Store.open(db)
    try:
        return store.con.execute("SELECT * FROM dns_cache ORDER BY domain, rdtype").fetchall()
    finally:
        store.close()


OLD = datetime(2026, 11, 1, 8, 0)
NEW = datetime(2026, 11, 20, 8, 0)


def test_export_then_import_merges_by_fetch_time(tmp_path):
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    _put(a, [
        ("example.com", "MX", "answer", ["10 mx.example.com."], 3600, NEW),
        ("example.org", "MX", "nxdomain", [], None, OLD),
        ("new.example", "A", "answer", ["192.0.2.1"], 60, OLD),
    ])  # fmt: skip
    _put(b, [
        ("example.com", "MX", "timeout", [], None, OLD),  # older: replaced
        ("example.org", "MX", "answer", ["5 mx.example.org."], 300, NEW),  # newer: kept
    ])  # fmt: skip
    runner = CliRunner()
    file = tmp_path / "cache.parquet"
    done = runner.invoke(main, ["dns-cache", "export", str(file), "--db", str(a)])
    assert done.exit_code == 0, done.output
    assert "Wrote 3 DNS answers" in done.stderr + done.output
    done = runner.invoke(main, ["dns-cache", "import", str(file), "--db", str(b)])
    assert done.exit_code == 0, done.output
    assert "Read 3 DNS answers" in done.stderr + done.output
    assert "2 were new or newer" in done.stderr + done.output
    assert _cache(b) == [
        ("example.com", "MX", "answer", ["10 mx.example.com."], 3600, NEW),
        ("example.org", "MX", "answer", ["5 mx.example.org."], 300, NEW),
        ("new.example", "A", "answer", ["192.0.2.1"], 60, OLD),
    ]
    again = runner.invoke(main, ["dns-cache", "import", str(file), "--db", str(b)])
    assert "0 were new or newer" in again.stderr + again.output  # idempotent


def test_importing_something_else_is_a_clean_error(tmp_path):
    bad = tmp_path / "x.parquet"
    bad.write_bytes(b"not parquet at all")
    done = CliRunner().invoke(
        main, ["dns-cache", "import", str(bad), "--db", str(tmp_path / "s.duckdb")]
    )
    assert done.exit_code == 2
    assert "not a DNS cache export" in done.stderr
    assert _cache(tmp_path / "s.duckdb") == []
