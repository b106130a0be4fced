"""Security: no CSV output starts a formula, logs show pseudonymized emails
unless --debug-pii, and everything a run creates is the owner's only."""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import os
import stat
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from paths import REPO

from listhygiene.cli import Reporter, main
from listhygiene.outputs import OutputDir
from listhygiene.pii import Pseudonymizer
from listhygiene.ruleset import default_rules_dir

AS_OF = "2026-11-01T00:00:00Z"
FORMULA = ("=", "+", "-", "@", "\t", "\r")
SAMPLE = REPO / "data" / "sample"


def invoke(tmp_path: Path, *args: str, out: str = "out"):
    return CliRunner().invoke(
        main,
        ["run", *args, "--out", str(tmp_path / out), "--db", str(tmp_path / "store.duckdb"),
         "--as-of", AS_OF, "--dns", "off"],
    )  # fmt: skip


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


# -- formula injection -------------------------------------------------------------------------


def hostile_inputs(tmp_path: Path) -> list[str]:
    """Contacts, events and an account export whose every text cell begins with one of
    = + - @ tab CR, and the run options that make every CSV output."""
    header = ["email", "first_name", "last_name", "phone", "company", "job_title", "tags",
              "source", "notes", "created_at"]  # fmt: skip
    rows = [header]
    emails = []
    for i, p in enumerate(FORMULA * 2):
        local = {"=": "=ann", "+": "+bob", "-": "-cy"}.get(p, "dee")  # = + - may begin an address
        emails.append(f"{local}{i}@example.com")
        rows.append([emails[-1], f"{p}Name", f"{p}Last", f"{p}555", f"{p}" + "C" * 200,
                     f"{p}Boss", f"{p}t1;{p}t2", f"{p}src", f"{p}SUM(A1)", "2020-01-01"])  # fmt: skip
    rows.append([emails[0].upper().replace("@EXAMPLE.COM", "@example.com"), "@Other", "", "", "",
                 "", "", "", "", ""])  # fmt: skip
    rows.append(["=a.b@gmail.com", "=G", "", "", "", "", "", "", "", ""])  # possible duplicates
    rows.append(["=ab@gmail.com", "+G", "", "", "", "", "", "", "", ""])
    for bad in ['=HYPERLINK("http://x","y")', "@nobody", "\t=1+1", "-", "+x@", "\r=2"]:
        rows.append([bad, "=Bad", "", "", "", "", "", "", "", ""])
    # JSON, not CSV: in a comma CSV, cells opening with a tab plus many quoted CRs tip
    # the delimiter sniffer to tab (see the README's notes); the outputs are what is tested
    contacts = tmp_path / "contacts.json"
    contacts.write_text(json.dumps([dict(zip(header, r, strict=True)) for r in rows[1:]]))
    events = [["email", "event", "timestamp", "campaign_id"]]
    for e in emails[:6]:
        events.append([e, "send", "2026-06-01T00:00:00Z", "=old"])
    events.append([emails[0], "open", "2026-10-01T00:00:00Z", "=old"])
    events += [["=bad", "open", "2026-10-01T00:00:00Z", "+c"], [emails[1], "=evil", "x", "@c"]]
    events.append([emails[2], "open", "-1", "-c"])
    write_csv(tmp_path / "events.csv", events)
    account = [["id", "email", "name", "status"]]
    for i, e in enumerate(emails[:4]):
        account.append([f"{FORMULA[i]}{500 + i}", e, f"{FORMULA[i]}Acct", "active"])
    account.append(["=599", "@zed@example.com".lstrip("@"), "-Zed", "unsubscribed"])
    write_csv(tmp_path / "account.csv", account)
    rules = tmp_path / "rules"
    rules.mkdir()
    fields = (default_rules_dir() / "fields.toml").read_text(encoding="utf-8")
    # let long companies through validation, so the payload limit (150) cuts and warns
    fields = fields.replace("[company]\nmax_chars = 150", "[company]\nmax_chars = 1000")
    assert "max_chars = 1000" in fields
    (rules / "fields.toml").write_text(fields, encoding="utf-8")
    return [str(contacts), "--events", str(tmp_path / "events.csv"), "--existing",
            str(tmp_path / "account.csv"), "--campaign-id", "=winback", "--winback-sent", "=old",
            "--rules", str(rules)]  # fmt: skip


def test_no_csv_output_cell_starts_a_formula_but_validated_addresses_stay(tmp_path):
    result = invoke(tmp_path, *hostile_inputs(tmp_path), "--quiet")
    assert result.exit_code in (0, 1), result.output
    out = tmp_path / "out"
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.csv"))
    assert files == [
        "account_reconciliation.csv", "contacts.csv", "duplicates.csv", "events_rejects.csv",
        "fixes.csv", "payload_warnings.csv", "payloads/misar-mail/import-0001.csv",
        "payloads/misar-mail/import-0002.csv", "possible_duplicates.csv", "rejects.csv", "scores.csv", "suppress_candidates.csv",
        "unengaged.csv", "winback_audience.csv",
    ]  # fmt: skip
    neutralized: dict[str, int] = {}
    kept_emails: list[str] = []
    for rel in files:
        with (out / rel).open(encoding="utf-8", newline="") as f:
            table = list(csv.DictReader(f))
        for row in table:
            for column, cell in row.items():
                if column in ("email", "email_key") and rel not in (
                    "rejects.csv",
                    "events_rejects.csv",
                ):
                    kept_emails.append(cell)  # validated addresses keep their = + -
                    continue
                assert not cell.startswith(FORMULA), (rel, column, cell)
                neutralized[rel] = neutralized.get(rel, 0) + cell.startswith("'")
    # the hostile cells reached every file that shows text from the data besides addresses
    # (payload_warnings.csv and duplicates.csv show addresses, field names and sentences)
    for rel in ("contacts.csv", "rejects.csv", "events_rejects.csv", "fixes.csv",
                "account_reconciliation.csv", "possible_duplicates.csv",
                "payloads/misar-mail/import-0001.csv", "unengaged.csv",
                "suppress_candidates.csv"):  # fmt: skip
        assert neutralized.get(rel, 0) > 0, rel
    assert "=ann0@example.com" in kept_emails and "+bob1@example.com" in kept_emails
    rejects = (out / "rejects.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK(" in rejects and "'@nobody" in rejects  # raw cells are neutralized


# -- pseudonymized emails in logs ----------------------------------------------------------------


def store_key(tmp_path: Path) -> bytes:
    con = duckdb.connect(str(tmp_path / "store.duckdb"), read_only=True)
    try:
        [(value,)] = con.execute("SELECT value FROM meta WHERE key = 'pii_key'").fetchall()
    finally:
        con.close()
    return bytes.fromhex(value)


def pseudonym(key: bytes, address: str) -> str:
    return "email:" + hmac.new(key, address.lower().encode(), hashlib.sha256).hexdigest()[:12]


def test_a_warning_shows_the_keyed_pseudonym_and_the_outputs_the_address(tmp_path):
    # no header: the first contact became the header, and the warning names that column
    path = tmp_path / "list.csv"
    path.write_text("ann@example.com,Ann\nbob@example.com,Bob\ncy@example.com,Cy\n")
    first = invoke(tmp_path, str(path))
    assert first.exit_code == 0, first.output
    key = store_key(tmp_path)
    assert len(key) == 32
    name = pseudonym(key, "ann@example.com")
    assert first.stderr == (
        f"Warning: {path}: no header names the email address; using column '{name}', where "
        "100% of the first 2 rows hold an address. Pass --preset or rename the column if this "
        "is wrong.\n"
    )
    assert "@" not in first.output
    assert "bob@example.com" in (tmp_path / "out" / "contacts.csv").read_text()  # the product
    again = invoke(tmp_path, str(path))
    assert again.stderr == first.stderr  # the same key, the same pseudonym, run after run
    shown = invoke(tmp_path, str(path), "--debug-pii")
    assert "using column 'ann@example.com'" in shown.stderr


def test_an_error_naming_an_address_shows_its_pseudonym(tmp_path):
    path = tmp_path / "list.csv"
    path.write_text("carol@example.com,x\n1,2\n")
    result = invoke(tmp_path, str(path))
    assert result.exit_code == 2
    name = pseudonym(store_key(tmp_path), "Carol@Example.com")
    assert result.stderr == (
        f"Error: {path}: no column can be the email address (columns: {name}, x). Rename the "
        'email column to "email", pass --preset NAME, or add a preset under rules/presets/.\n'
    )
    assert "carol@example.com" in invoke(tmp_path, str(path), "--debug-pii").stderr


@pytest.mark.parametrize("debug", [False, True])
def test_internal_errors_and_tracebacks_are_pseudonymized(tmp_path, monkeypatch, debug):
    def broken(*args, **kwargs):
        raise RuntimeError("cannot merge zed@example.com")

    monkeypatch.setattr("listhygiene.stages.contacts_merged", broken)
    result = invoke(tmp_path, str(SAMPLE), *(["--debug"] if debug else []))
    assert result.exit_code == 4
    name = pseudonym(store_key(tmp_path), "zed@example.com")
    assert "zed@example.com" not in result.stderr
    assert f"RuntimeError: cannot merge {name}" in result.stderr
    assert ("Traceback (most recent call last)" in result.stderr) is debug


def test_the_pseudonymizer():
    p = Pseudonymizer(key=b"k" * 32)
    ann = pseudonym(b"k" * 32, "ann@example.com")
    assert p.text("for Ann@Example.COM and 'ann@example.com'.") == f"for {ann} and '{ann}'."
    assert p.text("no address here: 50 @ 3%") == "no address here: 50 @ 3%"
    assert p.text("user+tag@sub.example.co.uk").startswith("email:")
    assert Pseudonymizer(reveal=True).text("ann@example.com") == "ann@example.com"
    keyless = Pseudonymizer()  # no store (yet): a key of this process only
    assert keyless.text("a@b.c") == keyless.text("A@B.C") != "a@b.c"


def test_the_reporter_pseudonymizes_every_message(capsys):
    r = Reporter(quiet=False, debug=False)
    r.pii.set_key(b"k" * 32)
    r.warn("w ann@example.com")
    r.info("i ann@example.com")
    r.error("e ann@example.com")
    captured = capsys.readouterr()
    assert "ann@example.com" not in captured.out + captured.err
    assert captured.err.count("email:") == 2 and captured.out.count("email:") == 1


# -- owner-only files ----------------------------------------------------------------------------


def private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def test_the_store_its_lock_raw_rows_staging_and_outputs_are_owner_only(tmp_path, monkeypatch):
    staged: list[Path] = []
    commit = OutputDir.commit

    def spy(self, manifest):
        staged.extend([self.staging, *self.staging.rglob("*")])
        assert all(private(p) for p in staged), [oct(p.stat().st_mode) for p in staged]
        commit(self, manifest)

    monkeypatch.setattr(OutputDir, "commit", spy)
    umask = os.umask(0o022)
    try:
        result = invoke(tmp_path, str(SAMPLE), "--quiet", out="reports/out")
        assert result.exit_code == 0, result.output
        assert os.umask(0o022) == 0o022  # the run restores the caller's umask
    finally:
        os.umask(umask)
    assert len(staged) > 10
    store = tmp_path / "store.duckdb"
    out = tmp_path / "reports" / "out"
    created = [store, store.with_name("store.duckdb.lock"), store.with_name("store.duckdb.raw"),
               tmp_path / "reports", out]  # fmt: skip
    created += list(store.with_name("store.duckdb.raw").iterdir()) + list(out.rglob("*"))
    assert len(created) > 20
    assert [p for p in created if not private(p)] == []
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


def test_the_default_store_folder_is_owner_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LISTHYGIENE_DB", raising=False)
    result = CliRunner().invoke(main, ["run", str(SAMPLE), "--as-of", AS_OF, "-q", "--dns", "off"])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE((tmp_path / ".listhygiene").stat().st_mode) == 0o700
    assert private(tmp_path / ".listhygiene" / "store.duckdb")


def test_preview_out_file_is_owner_only(tmp_path):
    account = write_csv(tmp_path / "account.csv", [["id", "email"], ["1", "a@example.com"]])
    contacts = write_csv(tmp_path / "c.csv", [["email"], ["b@example.com"]])
    answer = tmp_path / "preview.json"
    result = CliRunner().invoke(
        main, ["preview", str(contacts), "--existing", str(account), "--out", str(answer)]
    )
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(answer.stat().st_mode) == 0o600
