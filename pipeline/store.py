"""The embedded DuckDB store: run ledger, raw rows of recent runs (and, with --debug,
every stage's output), and the DNS cache (`dns_cache`, written by `dns.CacheResolver`).

One run at a time holds the store: an exclusive `flock` on `<store>.lock`,
taken before DuckDB opens the file, so a second run fails fast with exit 3
instead of waiting or corrupting anything. A run that dies without closing
(SIGKILL, power loss) stays `running` in the ledger until the next run opens
the store and marks it `failed`.
"""

from __future__ import annotations

import fcntl
import os
import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from .errors import StoreError, StoreLockedError
from .pii import new_key

SCHEMA_VERSION = "1"
# DuckDB draws its own progress bar on long queries, even into a cron log: never.
QUIET = "SET enable_progress_bar = false"

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    started_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP,
    as_of TIMESTAMP NOT NULL,
    outcome VARCHAR NOT NULL,          -- running | succeeded | gate_failed | failed
    -- times are UTC (TIMESTAMP, not TIMESTAMPTZ: no time-zone module needed to read them)
    rules_hash VARCHAR,
    version VARCHAR,
    out_dir VARCHAR,
    error VARCHAR
);
CREATE TABLE IF NOT EXISTS run_inputs (
    run_id VARCHAR NOT NULL,
    input_index INTEGER NOT NULL,
    source_file VARCHAR NOT NULL,
    sha256 VARCHAR,
    size_bytes BIGINT,
    format VARCHAR,
    encoding VARCHAR,
    delimiter VARCHAR,
    preset VARCHAR,
    input_rows BIGINT,
    rejected BIGINT,
    blank_rows BIGINT,
    raw_table VARCHAR,
    PRIMARY KEY (run_id, input_index)
);
CREATE TABLE IF NOT EXISTS raw_files (
    run_id VARCHAR NOT NULL,
    input_index INTEGER NOT NULL,
    view_name VARCHAR NOT NULL,
    path VARCHAR NOT NULL              -- relative to <store>.raw/
);
-- DNS answers per domain and record type (pipeline/dns.py); added within schema version 1:
-- CREATE IF NOT EXISTS gives older stores the table when they are next opened.
CREATE TABLE IF NOT EXISTS dns_cache (
    domain VARCHAR NOT NULL,           -- lower-case ASCII (Punycode), no trailing dot
    rdtype VARCHAR NOT NULL,           -- MX | A | AAAA
    outcome VARCHAR NOT NULL,          -- answer | nodata | nxdomain | timeout | servfail
    answers VARCHAR[] NOT NULL,        -- records in presentation format, e.g. '10 mx1.example.net.'
    ttl INTEGER,                       -- seconds as DNS gave it; NULL: failure, or no SOA
    fetched_at TIMESTAMP NOT NULL,     -- UTC wall clock (not --as-of): TTLs are real time
    PRIMARY KEY (domain, rdtype)
);
-- One row per finished run (succeeded or gate_failed): the health stats behind the trend
-- in report.html (pipeline/health.py); added within schema version 1, like dns_cache.
CREATE TABLE IF NOT EXISTS health_history (
    run_id VARCHAR PRIMARY KEY,
    as_of TIMESTAMP NOT NULL,
    health_score INTEGER NOT NULL,
    total_contacts BIGINT NOT NULL,
    active_contacts BIGINT NOT NULL,
    unengaged_count BIGINT,            -- NULL: no events, engagement unknown
    bounced_count BIGINT NOT NULL,
    complained_count BIGINT NOT NULL,
    unsubscribed_count BIGINT NOT NULL,
    engagement_known BOOLEAN NOT NULL
);
"""


def default_store_path() -> Path:
    env = os.environ.get("LISTHYGIENE_DB")
    return Path(env) if env else Path(".listhygiene") / "store.duckdb"


# health.json stat -> column of the health_history table
HISTORY_STATS: dict[str, str] = {
    "healthScore": "health_score",
    "totalContacts": "total_contacts",
    "activeContacts": "active_contacts",
    "unengagedCount": "unengaged_count",
    "bouncedCount": "bounced_count",
    "complainedCount": "complained_count",
    "unsubscribedCount": "unsubscribed_count",
    "engagement_known": "engagement_known",
}


@dataclass
class Store:
    path: Path
    con: duckdb.DuckDBPyConnection
    _lock_fd: int
    _raw_pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1))
    _raw_jobs: list[Future[None]] = field(default_factory=list)

    @classmethod
    def open(cls, path: Path) -> Store:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock_path = path.with_name(path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)  # personal data: owner only
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise StoreLockedError(
                f"Another listhygiene run ({holder}) is using the store {path}. Wait for it to "
                "finish, or give this run its own store with --db."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(
            fd, f"pid {os.getpid()}, since {_now().isoformat(timespec='seconds')}Z".encode(), 0
        )
        created = not path.exists()
        try:
            con = duckdb.connect(str(path))
            con.execute(QUIET)
            if created:
                os.chmod(path, 0o600)  # whatever the umask: the store holds personal data
        except duckdb.IOException as exc:
            os.close(fd)
            raise StoreLockedError(
                f"The store {path} is open in another program ({str(exc).splitlines()[0]}). Close "
                "it there, or give this run its own store with --db."
            ) from None
        except duckdb.Error as exc:
            os.close(fd)
            raise StoreError(
                f"The store {path} cannot be opened as a DuckDB database "
                f"({str(exc).splitlines()[0]}). Point --db at another file, or move this one away."
            ) from None
        store = cls(path, con, fd)
        store._migrate()
        return store

    def _migrate(self) -> None:
        self.con.execute(_DDL)
        rows = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        if not rows:
            self.con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])
        elif rows[0][0] != SCHEMA_VERSION:
            raise StoreError(
                f"The store {self.path} has schema version {rows[0][0]}, and this listhygiene "
                f"uses {SCHEMA_VERSION}. Use a new store with --db."
            )
        # We hold the lock, so any run still marked running died without closing.
        self.con.execute(
            "UPDATE runs SET outcome = 'failed', ended_at = coalesce(ended_at, ?), "
            "error = coalesce(error, 'interrupted: the process ended before the run finished') "
            "WHERE outcome = 'running'",
            [_now()],
        )
        for (run_id,) in self.con.execute(
            "SELECT DISTINCT f.run_id FROM raw_files f JOIN runs r USING (run_id) "
            "WHERE r.outcome = 'failed'"
        ).fetchall():
            self.drop_raw(run_id)
        self._register_raw_views()  # paths are relative: a moved store finds its files

    def pii_key(self) -> bytes:
        """The key of the email pseudonyms in logs (pii.py), created on first use."""
        rows = self.con.execute("SELECT value FROM meta WHERE key = 'pii_key'").fetchall()
        if rows:
            return bytes.fromhex(rows[0][0])
        key = new_key()
        self.con.execute("INSERT INTO meta VALUES ('pii_key', ?)", [key.hex()])
        return key

    DNS_CACHE_COLUMNS = ("domain", "rdtype", "outcome", "answers", "ttl", "fetched_at")

    def export_dns_cache(self, path: Path) -> int:
        """Write the DNS cache to a Parquet file (for another store: another machine, a
        cluster's driver). Returns the rows written."""
        cols = ", ".join(self.DNS_CACHE_COLUMNS)
        tmp = path.with_name(f".{path.name}.tmp")
        self.con.execute(
            f"COPY (SELECT {cols} FROM dns_cache ORDER BY domain, rdtype) TO '{_sql_text(tmp)}' "
            "(FORMAT parquet)"
        )
        os.replace(tmp, path)  # never a half-written cache file
        return int(self.con.execute("SELECT count(*) FROM dns_cache").fetchone()[0])  # type: ignore[index]

    def import_dns_cache(self, path: Path) -> tuple[int, int]:
        """Merge a Parquet export of a DNS cache: an answer replaces ours only when it was
        fetched later. Returns (rows in the file, rows taken)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        cols = ", ".join(self.DNS_CACHE_COLUMNS)
        try:  # pyarrow, not read_parquet(): a `*` in the name is a name, not a glob
            incoming = pq.read_table(path, columns=list(self.DNS_CACHE_COLUMNS))
        except (pa.ArrowException, OSError, KeyError) as exc:
            raise StoreError(
                f"{path}: not a DNS cache export ({str(exc).splitlines()[0]}). Give a file "
                "written by `listhygiene dns-cache export`."
            ) from None
        self.con.register("_lh_file", incoming)
        # the answers to take: one per (domain, rdtype), the latest fetched should the file
        # repeat one, and only where ours is missing or older (counted, then inserted)
        self.con.execute(
            f"CREATE OR REPLACE TEMP VIEW _lh_newer AS SELECT {cols} FROM ("
            f"SELECT {cols} FROM _lh_file QUALIFY row_number() OVER ("
            "PARTITION BY domain, rdtype ORDER BY fetched_at DESC) = 1) i "
            "WHERE NOT EXISTS (SELECT 1 FROM dns_cache c WHERE c.domain = i.domain "
            "AND c.rdtype = i.rdtype AND c.fetched_at >= i.fetched_at)"
        )
        try:
            self.con.execute("BEGIN")
            taken = self.con.execute("SELECT count(*) FROM _lh_newer").fetchone()[0]  # type: ignore[index]
            self.con.execute(f"INSERT OR REPLACE INTO dns_cache ({cols}) SELECT * FROM _lh_newer")
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        finally:
            self.con.execute("DROP VIEW IF EXISTS _lh_newer")
            self.con.unregister("_lh_file")
        return incoming.num_rows, int(taken)

    def close(self) -> None:
        try:
            self._raw_pool.shutdown(wait=True)
            self.con.close()
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)

    # -- ledger ---------------------------------------------------------------

    def begin_run(
        self, run_id: str, as_of: datetime, rules_hash: str, version: str, out_dir: str
    ) -> None:
        self.con.execute(
            "INSERT INTO runs (run_id, started_at, as_of, outcome, rules_hash, version, out_dir) "
            "VALUES (?, ?, ?, 'running', ?, ?, ?)",
            [run_id, _now(), _utc(as_of), rules_hash, version, out_dir],
        )

    def end_run(self, run_id: str, outcome: str, error: str | None = None) -> None:
        try:
            self.wait_raw()
        except duckdb.Error as exc:  # a failed raw write fails the run, it is never lost silently
            if outcome == "succeeded":
                outcome, error = "failed", f"the raw rows could not be stored: {exc}"
        self.con.execute(
            "UPDATE runs SET outcome = ?, ended_at = ?, error = ? WHERE run_id = ?",
            [outcome, _now(), error, run_id],
        )
        if outcome != "succeeded" and outcome != "gate_failed":
            self.drop_raw(run_id)

    def record_input(self, run_id: str, index: int, info: dict[str, Any]) -> None:
        cols = ["run_id", "input_index", *info]
        marks = ", ".join("?" for _ in cols)
        self.con.execute(
            f"INSERT INTO run_inputs ({', '.join(cols)}) VALUES ({marks})",
            [run_id, index, *info.values()],
        )

    def failed_run_ids(self) -> set[str]:
        return {
            r
            for (r,) in self.con.execute(
                "SELECT run_id FROM runs WHERE outcome = 'failed'"
            ).fetchall()
        }

    def runs(self) -> list[dict[str, Any]]:
        rel = self.con.sql("SELECT * FROM runs ORDER BY started_at")
        return [dict(zip(rel.columns, r, strict=True)) for r in rel.fetchall()]

    # -- health history ---------------------------------------------------------

    def record_health(self, run_id: str, as_of: datetime, stats: dict[str, Any]) -> None:
        cols = ["run_id", "as_of", *HISTORY_STATS.values()]
        self.con.execute(
            f"INSERT INTO health_history ({', '.join(cols)}) VALUES "
            f"({', '.join('?' for _ in cols)})",
            [run_id, _utc(as_of), *(stats[k] for k in HISTORY_STATS)],
        )

    def health_history(self, limit: int = 100) -> list[dict[str, Any]]:
        """The stats of the last `limit` finished runs, oldest first, in health.json's
        names plus run_id and as_of."""
        cols = ", ".join(f'h.{c} AS "{k}"' for k, c in HISTORY_STATS.items())
        rows = self.con.execute(
            f"SELECT * FROM (SELECT h.run_id, h.as_of, {cols}, r.started_at FROM health_history h "
            "JOIN runs r USING (run_id) WHERE r.outcome IN ('succeeded', 'gate_failed') "
            "ORDER BY r.started_at DESC LIMIT ?) ORDER BY started_at",
            [limit],
        )
        names = [d[0] for d in rows.description]
        out = []
        for r in rows.fetchall():
            row = dict(zip(names, r, strict=True))
            row.pop("started_at")
            row["as_of"] = row["as_of"].strftime("%Y-%m-%dT%H:%M:%SZ")
            out.append(row)
        return out

    # -- raw rows -------------------------------------------------------------

    @staticmethod
    def raw_table_name(run_id: str, index: int, stage: str = "raw") -> str:
        return f"{stage}_{re.sub(r'[^0-9A-Za-z]', '_', run_id)}_{index}"

    @property
    def raw_dir(self) -> Path:
        return self.path.with_name(self.path.name + ".raw")

    def save_raw(self, run_id: str, index: int, frame: pl.DataFrame, stage: str = "raw") -> str:
        """Start writing one input's raw rows (or, with --debug, another stage's
        output for it); `wait_raw` waits for every write.

        Raw rows are Parquet files in `<store>.raw/`, each registered in the
        store as a view named `raw_<run>_<n>`: polars writes Parquet three times
        faster than DuckDB compresses a table, and the write releases the GIL,
        so it runs while the next stages work."""
        name = self.raw_table_name(run_id, index, stage)
        rel = f"{name}.parquet"
        self._raw_jobs.append(self._raw_pool.submit(self._write_raw, rel, frame))
        self.con.execute("INSERT INTO raw_files VALUES (?, ?, ?, ?)", [run_id, index, name, rel])
        return name

    def _write_raw(self, rel: str, frame: pl.DataFrame) -> None:
        self.raw_dir.mkdir(mode=0o700, exist_ok=True)
        dest = self.raw_dir / rel
        tmp = dest.with_suffix(".parquet.tmp")
        frame.write_parquet(tmp, compression="lz4", statistics=False)
        os.replace(tmp, dest)

    def wait_raw(self) -> None:
        jobs, self._raw_jobs = self._raw_jobs, []
        for job in jobs:
            job.result()
        self._register_raw_views()

    def _register_raw_views(self) -> None:
        for name, rel in self.con.execute("SELECT view_name, path FROM raw_files").fetchall():
            path = self.raw_dir / rel
            if path.exists():  # DDL takes no parameters: quote the path as a literal
                literal = "'" + str(path).replace("'", "''") + "'"
                self.con.execute(
                    f'CREATE OR REPLACE VIEW "{name}" AS SELECT * FROM read_parquet({literal})'
                )

    def drop_raw(self, run_id: str) -> None:
        for name, rel in self.con.execute(
            "SELECT view_name, path FROM raw_files WHERE run_id = ?", [run_id]
        ).fetchall():
            self.con.execute(f'DROP VIEW IF EXISTS "{name}"')
            (self.raw_dir / rel).unlink(missing_ok=True)
        self.con.execute("DELETE FROM raw_files WHERE run_id = ?", [run_id])

    def prune_raw(self, keep_runs: int) -> None:
        """Keep the raw rows of the newest `keep_runs` runs; the ledger keeps everything."""
        old = self.con.execute(
            "SELECT run_id FROM runs WHERE outcome IN ('succeeded', 'gate_failed') "
            "ORDER BY started_at DESC OFFSET ?",
            [keep_runs],
        ).fetchall()
        for (run_id,) in old:
            self.drop_raw(run_id)


def _sql_text(path: Path) -> str:
    """A path inside a single-quoted SQL string."""
    return str(path).replace("'", "''")


def _utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo else dt


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
