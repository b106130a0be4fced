"""OutputDir: atomic commits, and the recovery of a commit a killed run left half-done."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl

from listhygiene.outputs import OutputDir


def _commit(out: Path, run_id: str, files: dict[str, str]) -> OutputDir:
    d = OutputDir(out, run_id)
    for rel, text in files.items():
        d.write_bytes(rel, text.encode())
    d.commit({"run_id": run_id, "outputs": [{"path": rel} for rel in files]})
    return d


def _tree(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): p.read_text() for p in out.rglob("*") if p.is_file()}


def test_a_commit_replaces_and_removes_the_previous_runs_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _commit(out, "r1", {"a.csv": "1", "old.csv": "x", "sub/b.json": "2"})
    _commit(out, "r2", {"a.csv": "3", "sub/b.json": "4"})
    tree = _tree(out)
    assert tree.pop("manifest.json").startswith("{")
    assert tree == {"a.csv": "3", "sub/b.json": "4"}
    assert not list(tmp_path.glob(".out.*")), "staging or journal left behind"


def test_a_half_done_commit_is_rolled_back(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _commit(out, "r1", {"a.csv": "1", "old.csv": "x", "sub/b.json": "2"})
    before = _tree(out)
    # r2 dies after keeping what it replaces, moving a.csv and a new file in and old.csv
    # aside, before its manifest (sub/b.json not moved yet)
    d = OutputDir(out, "r2")
    for rel, text in {"a.csv": "3", "new.csv": "5", "sub/b.json": "4"}.items():
        d.write_bytes(rel, text.encode())
    backup = d.journal / "backup"
    (backup / "sub").mkdir(parents=True)
    (d.journal / "written.json").write_text(json.dumps(["a.csv", "new.csv", "sub/b.json"]))
    os.link(out / "a.csv", backup / "a.csv")
    os.link(out / "sub" / "b.json", backup / "sub" / "b.json")
    (d.staging / "a.csv").replace(out / "a.csv")
    (d.staging / "new.csv").rename(out / "new.csv")
    (out / "old.csv").rename(backup / "old.csv")
    assert OutputDir(out, "r3").recover() == ["r2"]
    assert _tree(out) == before
    assert not (tmp_path / ".out.commit-r2").exists()


def test_a_journal_of_a_finished_commit_is_only_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    d = _commit(out, "r1", {"a.csv": "1"})
    d.journal.mkdir()  # as if the run died between its manifest and the cleanup
    (d.journal / "written.json").write_text('["a.csv"]')
    before = _tree(out)
    assert OutputDir(out, "r2").recover() == ["r1"]
    assert _tree(out) == before and not d.journal.exists()


def test_write_csv_counts_rows(tmp_path: Path) -> None:
    d = OutputDir(tmp_path / "out", "r1")
    d.write_csv("x.csv", pl.DataFrame({"a": [1, 2]}))
    assert d.written == {"x.csv": 2}
    d.abort()
