"""What every bench result records about the machine and the software it ran on."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info(*packages: str, **extra: Any) -> dict[str, Any]:
    """Platform, CPUs, memory, Python, the git commit, listhygiene's version, the
    versions of `packages` (distribution names) and any `extra` facts."""
    mem_total_mb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total_mb = round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    try:  # the commit id, when there is one
        git = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        )
        commit = (git.stdout.strip() or None) if git.returncode == 0 else None
    except OSError:
        commit = None
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "mem_total_mb": mem_total_mb,
        "python": platform.python_version(),
        **{p.replace("-", "_"): _version(p) for p in packages},
        "listhygiene": _version("listhygiene"),
        "git_commit": commit,
        **extra,
    }
