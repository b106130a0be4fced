"""Where the tests find the repo and the shared corpora (../shared beside the clone)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPORA = SHARED / "corpora"

if not CORPORA.is_dir():  # CI always has ../shared; a bare clone elsewhere says so loudly
    raise RuntimeError(f"{CORPORA} is missing: clone the project beside ../shared.")
