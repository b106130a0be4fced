"""Bad input, everywhere: fuzzed CSV and JSON bytes, and the resource caps of
rules/ingest.toml [limits] against a gzip bomb, a 1 MB field, 10,000 columns,
NUL bytes and 2 GB sparse files. Each is answered in bounded memory with a
result or a clean error; where a cap answers, its sentence names the cap and
how to raise it.

Peak memory is measured in a subprocess of a fresh wrapper process, so
RUSAGE_CHILDREN sees the listhygiene run alone.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paths import REPO

from listhygiene.cli import main
from listhygiene.errors import ListHygieneError
from listhygiene.ingest import read_one
from listhygiene.ruleset import default_rules_dir

AS_OF = "2026-11-01T00:00:00Z"
GIB = 1 << 30
MEMORY_BOUND_MB = 1024  # a run over a 2 GB file must stay well below its size

# -- fuzzing -------------------------------------------------------------------------------

CSV_TOKENS = [
    b",", b";", b"\t", b"|", b'"', b'""', b"\n", b"\r", b"\r\n", b" ", b"\x00", b"\xff",
    b"\xc3", b"\xc3\xa9", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"a@example.com",
    b"email", b"name", b"=1+1", b"\x1b", "\u2028".encode(), b"\x85", b"@", b"<a>",
]  # fmt: skip
HEADERS = [b"", b"email,name\n", b"email;name\r\n", b"\xef\xbb\xbfemail\tname\n", b"E-Mail|x\r"]
tokens = st.lists(st.sampled_from(CSV_TOKENS), max_size=60).map(b"".join)
csv_bytes = st.one_of(
    st.binary(max_size=300),
    tokens,
    st.tuples(st.sampled_from(HEADERS), tokens).map(b"".join),
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=10,
)
records = st.dictionaries(st.sampled_from(["email", "name", "x", "", "__row"]), json_values)
JSON_BITS = [
    b"\\ud800", b"\x00", b"\xff", b"{", b"}", b"[", b"]", b'"', b",", b"\n", b"\r",
    "\u2028".encode(), b"\xef\xbb\xbf", b"null", b'{"email":"a@example.com"}',
]  # fmt: skip


def _dumps(value) -> bytes:
    return json.dumps(value).encode()


json_docs = st.one_of(
    json_values.map(_dumps),
    st.lists(records, max_size=5).map(_dumps),
    st.dictionaries(st.sampled_from(["contacts", "data", "members"]), st.lists(records)).map(
        _dumps
    ),
)
mutated_json = st.tuples(json_docs, st.integers(0, 120), st.sampled_from(JSON_BITS)).map(
    lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]
)
json_bytes = st.one_of(json_docs, mutated_json, st.binary(max_size=200))
ndjson_bytes = st.tuples(
    st.lists(st.one_of(json_docs, mutated_json), max_size=6), st.sampled_from([b"\n", b"\r\n"])
).map(lambda t: t[1].join(t[0]))

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _read(data: bytes, name: str, rules) -> None:
    """Read the bytes as the file `name`: a table with every row accounted for, or
    the typed error; any other exception fails the test."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            table = read_one(path, name, rules.ingest)
        except ListHygieneError as exc:
            assert str(exc).startswith(name + ": "), str(exc)
            return
    assert table.input_rows == table.frame.height + len(table.rejects)
    rows = table.frame["__row"].to_list() + [r.row for r in table.rejects]
    assert len(rows) == len(set(rows)), "a row number was used twice"


@FUZZ
@given(data=csv_bytes, name=st.sampled_from(["f.csv", "f.tsv", "f.txt"]))
def test_fuzzed_csv_bytes_read_or_fail_with_the_typed_error(rules, data, name):
    _read(data, name, rules)


@FUZZ
@given(data=json_bytes)
def test_fuzzed_json_bytes_read_or_fail_with_the_typed_error(rules, data):
    _read(data, "f.json", rules)


@FUZZ
@given(data=ndjson_bytes)
def test_fuzzed_ndjson_bytes_read_or_fail_with_the_typed_error(rules, data):
    _read(data, "f.ndjson", rules)


@settings(max_examples=25, deadline=None)
@given(
    data=st.one_of(
        csv_bytes.map(lambda b: (b, "f.csv")),
        json_bytes.map(lambda b: (b, "f.json")),
        ndjson_bytes.map(lambda b: (b, "f.ndjson")),
    )
)
def test_fuzzed_files_through_run_give_a_result_or_a_clean_error(data):
    content, name = data
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(content)
        result = CliRunner().invoke(
            main,
            ["run", str(path), "--out", f"{tmp}/out", "--db", f"{tmp}/s.duckdb",
             "--as-of", AS_OF, "--dns", "off", "--quiet"],
        )  # fmt: skip
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code in (0, 1, 2), result.stderr
    if result.exit_code == 2:
        assert result.stderr.startswith(f"Error: {path}: "), result.stderr


# -- resource caps ---------------------------------------------------------------------------

_WRAPPER = """
import json, resource, subprocess, sys
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
print(json.dumps({"code": p.returncode, "stderr": p.stderr, "peak_mb": peak}))
"""


def run_measured(tmp_path: Path, *args: str) -> dict:
    """`listhygiene run ARGS` in a subprocess: exit code, stderr, peak RSS in MB."""
    cmd = [sys.executable, "-m", "listhygiene", "run", *args, "--out", str(tmp_path / "out"),
           "--db", str(tmp_path / "store.duckdb"), "--as-of", AS_OF, "--dns", "off", "--quiet"]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *cmd],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return json.loads(done.stdout)


def rules_with(tmp_path: Path, **limits: int) -> Path:
    """A rules folder whose ingest.toml changes only these [limits]."""
    text = (default_rules_dir() / "ingest.toml").read_text(encoding="utf-8")
    lines = text.splitlines()
    for key, value in limits.items():
        lines = [f"{key} = {value}" if ln.startswith(f"{key} =") else ln for ln in lines]
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "ingest.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def rejects(tmp_path: Path) -> list[dict[str, str]]:
    import csv

    with (tmp_path / "out" / "rejects.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def sparse(path: Path, head: bytes, size: int, tail: bytes = b"") -> Path:
    """A file of `size` bytes whose middle is a hole (reads as NULs, takes no disk)."""
    with path.open("wb") as f:
        f.write(head)
        f.truncate(size)
        f.seek(size)
        f.write(tail)
    if path.stat().st_blocks * 512 > 64 << 20:
        path.unlink()
        pytest.skip(f"{path.parent} does not support sparse files")
    return path


def test_a_gzip_bomb_stops_at_max_decompressed_bytes(tmp_path):
    bomb = tmp_path / "bomb.csv.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as f:
        f.write(b"email\n")
        for _ in range(100):
            f.write(b"0" * (1 << 20))  # 100 MB inflated, about 100 KB on disk
    assert bomb.stat().st_size < 1 << 20
    rules = rules_with(tmp_path, max_decompressed_bytes=10_000_000)
    r = run_measured(tmp_path, str(bomb), "--rules", str(rules))
    assert r["code"] == 2
    assert r["stderr"] == (
        f"Error: {bomb}: expands past 10,000,000 bytes (rules ingest.toml [limits] "
        "max_decompressed_bytes); raise the limit if the file is genuine.\n"
    )
    assert r["peak_mb"] < MEMORY_BOUND_MB, r
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("exact_path", [False, True], ids=["fast-path", "python-path"])
def test_a_1_mb_field_rejects_its_row_naming_max_field_bytes(tmp_path, exact_path):
    big = "x" * (1 << 20)
    blank = "\n" if exact_path else ""  # a blank line sends the file to the Python reader
    path = tmp_path / "big.csv"
    path.write_text(f"email,name\n{blank}a@example.com,{big}\nb@example.com,Bob\n")
    result = CliRunner().invoke(
        main,
        ["run", str(path), "--out", str(tmp_path / "out"), "--db", str(tmp_path / "s.duckdb"),
         "--as-of", AS_OF, "--dns", "off", "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [reject] = rejects(tmp_path)
    assert reject["reason"] == "field_too_large"
    assert reject["error"] == (
        'field "name" is 1,048,576 bytes, over the limit of 131,072 (rules ingest.toml '
        "[limits] max_field_bytes); shorten the value or raise the limit."
    )
    contacts = (tmp_path / "out" / "contacts.csv").read_text()
    assert "b@example.com" in contacts and "a@example.com" not in contacts


def test_a_1_mb_json_field_rejects_its_record(tmp_path, rules):
    path = tmp_path / "big.json"
    path.write_text(json.dumps([{"email": "a@example.com", "note": "x" * (1 << 20)}]))
    table = read_one(path, "big.json", rules.ingest)
    [reject] = table.rejects
    assert reject.reason == "field_too_large"
    assert "(rules ingest.toml [limits] max_field_bytes); shorten the value or raise" in (
        reject.error
    )


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_10000_columns_stop_the_run_at_max_columns(tmp_path, fmt):
    names = ["email"] + [f"c{i}" for i in range(9999)]
    if fmt == "csv":
        path = tmp_path / "wide.csv"
        path.write_text(",".join(names) + "\n" + ",".join(["a@example.com"] + ["v"] * 9999))
        what = "columns"
    else:
        path = tmp_path / "wide.json"
        path.write_text(json.dumps([dict.fromkeys(names, "v") | {"email": "a@example.com"}]))
        what = "distinct fields"
    r = run_measured(tmp_path, str(path))
    assert r["code"] == 2
    assert r["stderr"] == (
        f"Error: {path}: the file has 10,000 {what}, over the limit of 2,000 (rules "
        f"ingest.toml [limits] max_columns). Remove unused {what} or raise the limit.\n"
    )


def test_nul_bytes_in_cells_are_read_and_accounted_for(tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes(b"email,name\na@example.com,A\x00nn\nb\x00@example.com,Bob\nc@example.com,C\n")
    result = CliRunner().invoke(
        main,
        ["run", str(path), "--out", str(tmp_path / "out"), "--db", str(tmp_path / "s.duckdb"),
         "--as-of", AS_OF, "--dns", "off", "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["reconciliation"]["input_rows"] == 3
    assert manifest["inputs"][0]["reader"] == "python"  # a NUL rules the fast path out
    assert [r["row"] for r in rejects(tmp_path)] == ["3"]  # the address with a NUL
    assert "\x00" not in (tmp_path / "out" / "contacts.csv").read_text()


def test_a_file_of_nul_bytes_is_not_a_table(tmp_path):
    path = tmp_path / "zeros.csv"
    path.write_bytes(bytes(10_000))
    r = run_measured(tmp_path, str(path))
    assert r["code"] == 2
    assert r["stderr"] == (
        f"Error: {path}: the file is not a table in any supported format (it looks binary). "
        "Give a CSV, TSV, Parquet, JSON or NDJSON export.\n"
    )


def test_a_2_gb_sparse_file_stops_at_once_without_reading_it(tmp_path):
    path = sparse(tmp_path / "hole.csv", b"email,name\n", 2 * GIB)
    r = run_measured(tmp_path, str(path))
    assert r["code"] == 2
    assert "(it looks binary)" in r["stderr"]
    assert r["peak_mb"] < MEMORY_BOUND_MB, r


def test_a_2_gb_line_in_a_sparse_csv_is_streamed_and_rejected(tmp_path):
    """Real rows first (past the sniffed head), then a 2 GB hole, then one more row:
    the hole is a single line that no row within max_field_bytes can be, skipped in
    pieces without ever being held."""
    rows = b"".join(b"r%d@example.com,Name\n" % i for i in range(20_000))
    path = sparse(tmp_path / "holey.csv", b"email,name\n" + rows, 2 * GIB, b"\nz@example.com,Z\n")
    r = run_measured(tmp_path, str(path))
    assert r["code"] == 0, r
    assert r["peak_mb"] < MEMORY_BOUND_MB, r
    [reject] = rejects(tmp_path)
    assert reject["reason"] == "field_too_large" and reject["row"] == "20002"
    assert reject["error"].startswith("row is 2,14")
    assert reject["error"].endswith(
        "characters long, more than 2 fields of up to 131,072 bytes each can take (rules "
        "ingest.toml [limits] max_field_bytes); shorten the value or raise the limit."
    )
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["reconciliation"]["unique_contacts"] == 20_001


def test_a_2_gb_sparse_json_stops_at_its_first_nul(tmp_path):
    path = sparse(tmp_path / "hole.json", b'[{"email": "a@example.com"}', 2 * GIB, b"]")
    r = run_measured(tmp_path, str(path))
    assert r["code"] == 2
    assert r["stderr"] == (
        f"Error: {path}: not valid JSON (byte 27 is a NUL byte, which JSON never holds: a "
        "damaged or sparse file?). Fix the file or export it again.\n"
    )
    assert r["peak_mb"] < MEMORY_BOUND_MB, r


def test_a_2_gb_ndjson_line_of_nuls_is_one_rejected_line(tmp_path):
    head = b'{"email": "a@example.com"}\n'
    path = sparse(tmp_path / "hole.ndjson", head, 2 * GIB, b'\n{"email": "b@example.com"}\n')
    r = run_measured(tmp_path, str(path))
    assert r["code"] == 0, r
    assert r["peak_mb"] < MEMORY_BOUND_MB, r
    [reject] = rejects(tmp_path)
    assert (reject["row"], reject["reason"]) == ("2", "invalid_json")
    assert reject["error"] == (
        "line 2 holds a NUL byte, which JSON never holds; fix the line or export the file again."
    )


def test_sparse_files_are_really_sparse_here(tmp_path):
    """The 2 GB cases above cost no disk: the test machine's tmp supports holes."""
    path = sparse(tmp_path / "probe.bin", b"x", 2 * GIB)
    assert path.stat().st_size == 2 * GIB
    assert path.stat().st_blocks * 512 < 1 << 20
    os.unlink(path)
