"""Atomic outputs: everything is written into a staging folder beside `--out`,
fsynced, then moved into place file by file with `os.replace`, the manifest
last. A run that fails before the commit leaves the previous outputs as they
were; files a previous run wrote that this run does not write are removed at
the commit, so `out/` never mixes two runs' results.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

MANIFEST = "manifest.json"
ROW_GROUP = 1 << 18  # rows per row group of a Parquet output written in chunks (held until full)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize_formulas(
    frame: pl.DataFrame, keep: tuple[str, ...] = ("email", "email_key")
) -> pl.DataFrame:
    """Prefix `'` to text cells a spreadsheet would run as a formula (OWASP CSV injection)."""
    exprs = []
    for name, dtype in frame.schema.items():
        if dtype == pl.String and name not in keep:
            col = pl.col(name)
            risky = col.str.contains(r"^[=+\-@\t\r]")
            exprs.append(pl.when(risky).then(pl.lit("'") + col).otherwise(col).alias(name))
    return frame.with_columns(exprs) if exprs else frame


@contextlib.contextmanager
def owner_only() -> Iterator[None]:
    """Files and folders created inside are the owner's only (umask 077): the
    store, its lock and raw rows, the staging and output folders and every
    output hold personal data. The previous umask is restored afterwards."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        _fsync_file(path)


def _keep(src: Path, dest: Path) -> None:
    """A second name for `src` at `dest` (a copy where hard links are not possible)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def _manifest_run_id(out: Path) -> str | None:
    try:
        return json.loads((out / MANIFEST).read_text(encoding="utf-8")).get("run_id")
    except (OSError, ValueError, AttributeError):
        return None


# Fault injection for the crash tests (tests/test_crash.py): with this variable set to a
# stage name, the run announces the stage on stderr and waits there to be killed.
PAUSE_AT = "LISTHYGIENE_PAUSE_AT"


def pause_point(name: str) -> None:
    if os.environ.get(PAUSE_AT) == name:
        sys.stderr.write(f"listhygiene: paused at stage {name}\n")
        sys.stderr.flush()
        time.sleep(600)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def write_parquet_file(frame: pl.DataFrame, dest: Path | IO[bytes]) -> None:
    """A Parquet output of one frame: statistics off, byte-identical files for equal data."""
    frame.write_parquet(dest, compression="zstd", statistics=False)


class OutputDir:
    def __init__(self, out: Path, run_id: str):
        self.out = out
        self.run_id = run_id
        self.staging = out.parent / f".{out.name}.staging-{run_id}"
        # While files move into out/, the ones they replace are kept here (hard links), so
        # a commit killed half-way is rolled back by the next run (`recover`).
        self.journal = out.parent / f".{out.name}.commit-{run_id}"
        self.written: dict[str, int | None] = {}  # relative path -> row count (None: not a table)

    def path(self, rel: str) -> Path:
        p = self.staging / rel
        p.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        return p

    def write_csv(
        self, rel: str, frame: pl.DataFrame, keep: tuple[str, ...] = ("email", "email_key")
    ) -> None:
        """`keep`: the columns that hold validated addresses, written as they are (an
        address may begin with = + or -); a file whose `email` is the raw cell of a
        rejected row passes keep=() so that cell is neutralized like any other."""
        p = self.path(rel)
        # every time in a CSV is UTC, ISO 8601 with a Z, to the second
        neutralize_formulas(frame, keep).write_csv(p, datetime_format="%Y-%m-%dT%H:%M:%SZ")
        self.written[rel] = frame.height

    def write_csv_chunks(
        self,
        rel: str,
        chunks: Iterable[pl.DataFrame],
        keep: tuple[str, ...] = ("email", "email_key"),
    ) -> int:
        """`write_csv` of the chunks' rows, one after the other (the header once): the same
        bytes as one frame of them gives. Returns the rows written."""
        rows = 0
        with self.path(rel).open("wb") as f:
            for n, chunk in enumerate(chunks):
                neutralize_formulas(chunk, keep).write_csv(
                    f, include_header=n == 0, datetime_format="%Y-%m-%dT%H:%M:%SZ"
                )
                rows += chunk.height
        self.written[rel] = rows
        return rows

    def write_parquet_chunks(self, rel: str, chunks: Iterable[pl.DataFrame]) -> int:
        """A Parquet file of the chunks' rows, in row groups of ROW_GROUP rows however
        the rows were chunked (the same bytes for the same rows), without statistics.
        Returns the rows written."""
        writer: pq.ParquetWriter | None = None
        held: list[pa.Table] = []
        rows = waiting = 0

        def flush(all_rows: bool) -> None:
            nonlocal waiting
            table = pa.concat_tables(held)
            cut = table.num_rows if all_rows else table.num_rows // ROW_GROUP * ROW_GROUP
            if cut:
                assert writer is not None
                # one buffer per column: pages and encodings would otherwise follow how
                # the rows happened to be chunked, and the bytes with them
                writer.write_table(table.slice(0, cut).combine_chunks(), row_group_size=ROW_GROUP)
            held[:] = [table.slice(cut)]
            waiting = table.num_rows - cut

        try:
            for chunk in chunks:
                table = chunk.to_arrow(compat_level=pl.CompatLevel.oldest())
                if writer is None:
                    writer = pq.ParquetWriter(
                        self.path(rel), table.schema, compression="zstd", write_statistics=False
                    )
                held.append(table)
                rows += chunk.height
                waiting += chunk.height
                if waiting >= ROW_GROUP:
                    flush(False)
            if writer is None:  # a caller's bug: OrderedRows.chunks always gives one
                raise RuntimeError(f"{rel}: no chunks to write, not even an empty one")
            if waiting:
                flush(True)
        finally:
            if writer is not None:
                writer.close()
        self.written[rel] = rows
        return rows

    def write_parquet(self, rel: str, frame: pl.DataFrame) -> None:
        write_parquet_file(frame, self.path(rel))
        self.written[rel] = frame.height

    def write_bytes(self, rel: str, data: bytes, rows: int | None = None) -> None:
        self.path(rel).write_bytes(data)
        self.written[rel] = rows

    def write_stream(self, rel: str, parts: Iterable[bytes], rows: int | None = None) -> None:
        """A file of the byte strings `parts`, one after the other."""
        with self.path(rel).open("wb") as f:
            for part in parts:
                f.write(part)
        self.written[rel] = rows

    def write_json(self, rel: str, data: Any, rows: int | None = None) -> None:
        p = self.path(rel)
        p.write_text(
            json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8"
        )
        self.written[rel] = rows

    def describe(self) -> list[dict[str, Any]]:
        written = sorted(self.written.items())
        # hashlib releases the GIL: the files (~1.8 GB at 1M contacts) are hashed on all cores
        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            digests = list(pool.map(sha256_of, (self.staging / rel for rel, _ in written)))
        return [
            {"path": rel, "sha256": digest, "rows": rows}
            for (rel, rows), digest in zip(written, digests, strict=True)
        ]

    def commit(self, manifest: dict[str, Any]) -> None:
        for rel in self.written:
            _fsync_file(self.staging / rel)
        previous = self._previous_outputs()
        self.out.mkdir(mode=0o700, parents=True, exist_ok=True)
        backup = self.journal / "backup"
        backup.mkdir(mode=0o700, parents=True)
        for rel in sorted(self.written):  # keep what each file replaces
            if (self.out / rel).is_file():
                _keep(self.out / rel, backup / rel)
        (self.journal / "written.json").write_text(json.dumps(sorted(self.written)))
        _fsync_file(self.journal / "written.json")
        _fsync_dir(self.journal)
        for n, rel in enumerate(sorted(self.written)):
            if n == len(self.written) // 2:
                pause_point("commit")
            dest = self.out / rel
            dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.replace(self.staging / rel, dest)
        for rel in sorted(previous - set(self.written) - {MANIFEST}):
            if (self.out / rel).is_file():  # moved aside, not deleted, until the manifest is in
                (backup / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.out / rel, backup / rel)
        tmp = self.path(MANIFEST)
        tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _fsync_file(tmp)
        os.replace(tmp, self.out / MANIFEST)  # the commit point
        _fsync_dir(self.out)
        shutil.rmtree(self.journal, ignore_errors=True)
        self.abort()

    def recover(self) -> list[str]:
        """Finish or undo commits that a killed run left half-done; returns their run ids.

        A journal whose run's manifest is in out/ was committed: it is only removed.
        Otherwise every file that run moved in is put back as it was (or removed, if it
        was new), so out/ is the previous run's outputs again."""
        prefix = f".{self.out.name}.commit-"
        done = []
        for journal in sorted(self.out.parent.glob(prefix + "*")):
            run_id = journal.name[len(prefix) :]
            if _manifest_run_id(self.out) != run_id:
                backup = journal / "backup"
                try:
                    written = json.loads((journal / "written.json").read_text())
                except (OSError, ValueError):
                    written = []  # killed before any file moved
                for rel in written:
                    if (backup / rel).is_file():
                        os.replace(backup / rel, self.out / rel)
                    else:
                        with contextlib.suppress(FileNotFoundError):
                            (self.out / rel).unlink()
                for kept in sorted(backup.rglob("*")) if backup.is_dir() else []:
                    if kept.is_file():  # files the run had moved aside
                        os.replace(kept, self.out / kept.relative_to(backup))
            shutil.rmtree(journal, ignore_errors=True)
            done.append(run_id)
        return done

    def remove_stale(self, run_ids: set[str]) -> None:
        """Remove the staging folders of these runs (killed before they could clean up)."""
        prefix = f".{self.out.name}.staging-"
        for p in self.out.parent.glob(prefix + "*"):
            if p.name[len(prefix) :] in run_ids:
                shutil.rmtree(p, ignore_errors=True)

    def abort(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)

    def _previous_outputs(self) -> set[str]:
        try:
            old = json.loads((self.out / MANIFEST).read_text(encoding="utf-8"))
            paths = {Path(o["path"]) for o in old.get("outputs", [])}
        except (OSError, ValueError, KeyError, TypeError):
            return set()
        # Only ever delete inside out/: a hand-edited manifest must not reach elsewhere.
        return {p.as_posix() for p in paths if not p.is_absolute() and ".." not in p.parts}
