"""A run killed with SIGKILL at any stage loses nothing: the previous outputs stay as
they were, the store opens and its ledger marks the run failed, and a rerun writes the
same data outputs as a run that was never interrupted (issue 10, crash safety).

The run is paused at a stage by LISTHYGIENE_PAUSE_AT (pipeline/outputs.py), killed there
by the test, then rerun. "commit" is half-way through moving the outputs into place: out/
is mixed until the next run starts, which first puts the previous outputs back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from paths import REPO

from listhygiene.outputs import OutputDir
from listhygiene.store import Store

SAMPLE = REPO / "data" / "sample"
EVENTS = REPO / "data" / "events"
AS_OF = "2026-11-01T00:00:00Z"
# manifest.json, report.html and summary.md show the run and the store's history
RUN_SPECIFIC = {"manifest.json", "report.html", "summary.md"}

pytestmark = pytest.mark.slow


def _cmd(inputs: list[Path], out: Path, db: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "listhygiene", "run", *map(str, inputs), "--events",
            str(EVENTS), "--out", str(out), "--db", str(db), "--as-of", AS_OF, "--dns", "off",
            "-q", *extra]  # fmt: skip


def _files(folder: Path, skip: set[str] = frozenset()) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and p.name not in skip
    }


def _killed_at(stage: str, cmd: list[str]) -> None:
    env = {**os.environ, "LISTHYGIENE_PAUSE_AT": stage}
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith(f"listhygiene: paused at stage {stage}"):
                break
        else:
            pytest.fail(f"the run never reached the stage {stage} (exit {proc.wait()})")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The data outputs of an uninterrupted run of the smaller input set."""
    base = tmp_path_factory.mktemp("reference")
    subprocess.run(_cmd(sorted(SAMPLE.glob("*.csv")), base / "out", base / "s.db"), check=True)
    return _files(base / "out", RUN_SPECIFIC)


@pytest.mark.parametrize(
    ("stage", "extra"),
    [
        *((s, ()) for s in ("ingest", "events", "score", "payloads", "report", "commit")),
        # shard by shard: the file tasks' parts are staged before "merge" (the shard tasks)
        *((s, ("--shards", "3")) for s in ("merge", "score", "payloads", "commit")),
    ],
)
def test_a_run_killed_at_a_stage_loses_nothing(
    stage: str, extra: tuple[str, ...], tmp_path: Path, reference: dict[str, bytes]
) -> None:
    out, db = tmp_path / "out", tmp_path / "s.db"
    # a first run writes the outputs a killed run must leave alone
    subprocess.run(_cmd([SAMPLE], out, db), check=True)
    before = _files(out)
    # the killed run reads fewer files: its outputs would differ from the first run's
    smaller = sorted(SAMPLE.glob("*.csv"))
    _killed_at(stage, _cmd(smaller, out, db, *extra))
    if stage == "commit":  # killed while moving files in: the next run first undoes that
        assert len(OutputDir(out, "next").recover()) == 1
        assert not list(tmp_path.glob(".out.commit-*"))
    assert _files(out) == before
    store = Store.open(db)  # the next opener finds the killed run and marks it failed
    try:
        runs = store.runs()
        assert [r["outcome"] for r in runs] == ["succeeded", "failed"]
        assert "interrupted" in runs[-1]["error"]
        assert len(store.health_history()) == 1
    finally:
        store.close()
    subprocess.run(_cmd(smaller, out, db, *extra), check=True)
    assert _files(out, RUN_SPECIFIC) == reference
    assert not list(tmp_path.glob(".out.staging-*")), "a killed run's staging folder is left"


_POOL = """
import time
if __name__ == "__main__":
    from listhygiene import emails
    ex = emails._get_executor(2)
    print(" ".join(str(p) for p in ex._processes), flush=True)
    time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status  # a zombie has exited


def test_email_workers_leave_when_the_run_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "pool.py"
    script.write_text(_POOL)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        workers = [int(p) for p in proc.stdout.readline().split()]
        assert len(workers) == 2 and all(_alive(p) for p in workers)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(p) for p in workers), "email workers outlived the killed run"
    finally:
        if proc.poll() is None:
            proc.kill()
