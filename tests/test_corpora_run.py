"""Every file of ../shared/corpora through `listhygiene run`: a result (exit 0 or 1)
or a clean error (exit 2, one `Error: ` sentence), never a traceback or exit 4.

Each file is run alone as CONTACTS; every file under corpora/events/ is also run
as --events, a provider folder at a time: a clean error names its file, which
is then set aside and the rest run again, so every events file is read by a
run that either succeeds or stops at it. No file is skipped; the largest is
email/oracle.jsonl (176 KB). About 45 s in all (in-process, --dns off).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from paths import CORPORA

from listhygiene.cli import main

AS_OF = "2026-11-01T00:00:00Z"
FILES = sorted(p for p in CORPORA.rglob("*") if p.is_file())
GROUPS = sorted({p.relative_to(CORPORA).parts[0] for p in FILES})
EVENTS = CORPORA / "events"
SUPPORTED = {"amazon_ses", "sendgrid", "mailgun", "postmark"}  # Brevo, Mandrill: clean errors
EVENT_GROUPS = sorted(
    p.relative_to(EVENTS).parts[0] if len(p.relative_to(EVENTS).parts) > 1 else "."
    for p in EVENTS.rglob("*")
    if p.is_file()
)


def _invoke(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(
        main,
        [
            "run",
            *args,
            "--out",
            str(tmp_path / "out"),
            "--db",
            str(tmp_path / "store.duckdb"),
            "--as-of",
            AS_OF,
            "--dns",
            "off",
            "--quiet",
        ],
    )


def _problem(result: Result) -> str | None:
    """Why this result breaks the promise, or None."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"raised {type(result.exception).__name__}: {result.exception}"
    if result.exit_code not in (0, 1, 2):
        return f"exit {result.exit_code}: {result.stderr.strip()[:300]}"
    if "Traceback" in result.output:
        return "printed a traceback"
    if result.exit_code == 2:
        err = result.stderr
        if not err.startswith("Error: ") or not err.rstrip().endswith(".") or err.count("\n") > 3:
            return f"exit 2 without a one- or two-sentence error: {err[:300]!r}"
    return None


def _contacts_in(group: str) -> list[Path]:
    return [p for p in FILES if p.relative_to(CORPORA).parts[0] == group]


@pytest.mark.parametrize("group", GROUPS)
def test_every_corpus_file_alone_gives_a_result_or_a_clean_error(tmp_path, group):
    problems, outcomes = [], {0: 0, 1: 0, 2: 0}
    for path in _contacts_in(group):
        result = _invoke(tmp_path, str(path))
        problem = _problem(result)
        if problem:
            problems.append(f"{path.relative_to(CORPORA)}: {problem}")
        else:
            outcomes[result.exit_code] += 1
            if result.exit_code == 2:  # the sentence names the file it is about
                assert str(path) in result.stderr, result.stderr
    assert not problems, "\n".join(problems)
    assert sum(outcomes.values()) == len(_contacts_in(group))


@pytest.mark.parametrize("group", sorted(set(EVENT_GROUPS)))
def test_every_events_file_gives_a_result_or_a_clean_error(tmp_path, group):
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("email,first_name\nann@example.com,Ann\n", encoding="utf-8")
    folder = EVENTS if group == "." else EVENTS / group
    pending = sorted(p for p in folder.iterdir() if p.is_file())
    stopped: list[Path] = []
    while pending:
        args = [str(contacts)]
        for p in pending:
            args += ["--events", str(p)]
        result = _invoke(tmp_path, *args)
        problem = _problem(result)
        assert problem is None, f"events {[p.name for p in pending]}: {problem}"
        if result.exit_code in (0, 1):
            break  # every file left was read
        named = [p for p in pending if str(p) in result.stderr]
        assert len(named) == 1, f"the error names no single events file: {result.stderr}"
        stopped.append(named[0])
        pending.remove(named[0])
    read = len(pending)
    assert read + len(stopped) == sum(1 for p in folder.iterdir() if p.is_file())
    if group in SUPPORTED:  # a supported provider's samples are mostly read
        assert read > len(stopped) // 2, [p.name for p in stopped]
