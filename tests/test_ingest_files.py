"""Readers on small synthetic files: encodings, delimiters, line ends, archives,
row numbers, limits and whole-file errors."""

from __future__ import annotations

import dataclasses
import gzip
import json
import zipfile
from pathlib import Path

import polars as pl
import pytest

from listhygiene.errors import InputFileError
from listhygiene.ingest import ROW, expand_paths, read_inputs, read_one
from listhygiene.ingest.csv_reader import read_csv

HEADER = "email,first_name,last_name"


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    p = tmp_path / name
    p.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return p


def cells(table) -> list[tuple]:
    return [tuple(r) for r in table.frame.iter_rows()]


def both_paths(path: Path, rules):
    """Read with the fast path allowed and with the exact path forced; they must agree."""
    fast = read_csv(path, path.name, rules.ingest)
    exact = read_csv(path, path.name, rules.ingest, exact=True)
    assert fast.frame.equals(exact.frame)
    assert [(r.row, r.field, r.reason, r.error) for r in fast.rejects] == [
        (r.row, r.field, r.reason, r.error) for r in exact.rejects
    ]
    assert fast.blank_rows == exact.blank_rows
    return fast


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_endings_and_quoted_newlines_keep_spreadsheet_rows(tmp_path, rules, newline):
    text = newline.join([HEADER, 'a@x.com,"Ann\nMarie",Lee', "b@x.com,Bob,", ""])
    table = both_paths(write(tmp_path, "c.csv", text), rules)
    assert cells(table) == [(2, "a@x.com", "Ann\nMarie", "Lee"), (3, "b@x.com", "Bob", None)]


def test_fast_path_is_used_for_clean_files(tmp_path, rules):
    table = read_csv(
        write(tmp_path, "c.csv", HEADER + "\na@x.com,Ann,Lee\n"), "c.csv", rules.ingest
    )
    assert table.reader == "duckdb"


def test_blank_lines_are_counted_and_rows_still_match_the_spreadsheet(tmp_path, rules):
    text = "\n".join(["", HEADER, "a@x.com,Ann,Lee", "", ",,", "b@x.com,Bob,Ray", ""])
    table = both_paths(write(tmp_path, "c.csv", text), rules)
    assert table.frame[ROW].to_list() == [3, 6]
    assert table.blank_rows == 2
    assert table.input_rows == 2


@pytest.mark.parametrize(("delim", "name"), [(";", "semicolon"), ("\t", "tab"), ("|", "pipe")])
def test_delimiters_are_sniffed(tmp_path, rules, delim, name):
    text = "\n".join([HEADER.replace(",", delim), f"a@x.com{delim}Ann, Jr{delim}Lee", ""])
    table = both_paths(write(tmp_path, "c.txt", text), rules)
    assert table.delimiter == name
    assert cells(table) == [(2, "a@x.com", "Ann, Jr", "Lee")]


def test_utf8_bom_and_utf16_bom(tmp_path, rules):
    text = HEADER + "\r\njosé@x.com,José,Müller\r\n"
    bom8 = read_one(
        write(tmp_path, "a.csv", b"\xef\xbb\xbf" + text.encode()), "a.csv", rules.ingest
    )
    u16 = read_one(write(tmp_path, "b.csv", text.encode("utf-16")), "b.csv", rules.ingest)
    assert bom8.encoding == "utf-8-sig" and u16.encoding == "utf-16"
    assert bom8.columns == u16.columns == ["email", "first_name", "last_name"]
    assert cells(bom8) == cells(u16) == [(2, "josé@x.com", "José", "Müller")]


def test_cp1252_fallback_warns_with_the_file_and_encoding(tmp_path, rules):
    data = (HEADER + "\nrene@x.com,René,Dupré – €\n").encode("cp1252")
    table = read_one(write(tmp_path, "eu.csv", data), "eu.csv", rules.ingest)
    assert table.encoding == "cp1252"
    assert cells(table) == [(2, "rene@x.com", "René", "Dupré – €")]
    assert table.warnings == [
        "eu.csv: the file is not UTF-8; it was read as cp1252. If accented letters look wrong, "
        "export the file again as UTF-8."
    ]


def test_utf8_file_with_one_broken_byte_rejects_only_that_row(tmp_path, rules):
    data = (HEADER + "\njosé@x.com,José,A\n").encode() + b"b@x.com,B\xe9a,B\nc@x.com,C,C\n"
    table = read_one(write(tmp_path, "u.csv", data), "u.csv", rules.ingest)
    assert table.encoding == "utf-8"
    assert table.frame[ROW].to_list() == [2, 4]
    (rej,) = table.rejects
    assert (rej.row, rej.field, rej.reason) == (3, "first_name", "undecodable_bytes")
    assert rej.error == (
        'field "first_name" holds bytes that are not valid UTF-8 (first: 0xE9); fix the value '
        "or export the file again as UTF-8."
    )


def test_ragged_rows_become_rejects(tmp_path, rules):
    # Row 3 shows why an empty extra cell is not harmless: "Met at fair,booth 12" split NOTES,
    # and accepting it would shift "booth 12" into TAGS.
    text = "\n".join(
        [
            "email,notes,tags",
            "a@x.com,Met at fair,booth 12,",
            "b@x.com,Bob",
            "c@x.com,C,D,extra",
            "d@x.com,,",
            "",
        ]
    )
    table = both_paths(write(tmp_path, "r.csv", text), rules)
    assert table.frame[ROW].to_list() == [5]
    assert [(r.row, r.reason) for r in table.rejects] == [
        (2, "ragged_row"),
        (3, "ragged_row"),
        (4, "ragged_row"),
    ]
    assert table.rejects[1].error == (
        "row has 2 fields but the header has 3; check the row for an unquoted delimiter or a "
        "missing quote."
    )
    assert table.rejects[2].fields == ["c@x.com", "C", "D", "extra"]


def test_a_header_ending_in_a_delimiter_allows_that_many_empty_trailing_cells(tmp_path, rules):
    text = "\n".join(
        ["email,name,", "a@x.com,Ann,", "b@x.com,Bob", "c@x.com,C,,", "d@x.com,D,x", ""]
    )
    table = both_paths(write(tmp_path, "t.csv", text), rules)
    assert table.columns == ["email", "name"]
    assert cells(table) == [(2, "a@x.com", "Ann"), (3, "b@x.com", "Bob")]
    assert [(r.row, r.reason) for r in table.rejects] == [(4, "ragged_row"), (5, "ragged_row")]


def test_field_and_row_limits_reject_rows_with_a_sentence_naming_the_rule(tmp_path, rules):
    small = dataclasses.replace(
        rules, ingest=dataclasses.replace(rules.ingest, max_field_bytes=10, max_rows_per_file=3)
    )
    text = "\n".join(
        [HEADER, "a@x.com,Ann,Lee", "b@x.com,Bartholomew-Jr,X", "c@x.com,C,C", "d@x.com,D,D", ""]
    )
    table = both_paths(write(tmp_path, "l.csv", text), small)
    assert table.frame[ROW].to_list() == [2, 4]
    assert [(r.row, r.field, r.reason) for r in table.rejects] == [
        (3, "first_name", "field_too_large"),
        (5, "row", "row_limit"),
    ]
    assert table.rejects[0].error == (
        'field "first_name" is 14 bytes, over the limit of 10 (rules ingest.toml [limits] '
        "max_field_bytes); shorten the value or raise the limit."
    )
    assert table.rejects[1].error == (
        "row is past the limit of 3 data rows per file (rules ingest.toml [limits] "
        "max_rows_per_file); split the file or raise the limit."
    )


def test_duplicate_and_empty_header_names_are_kept_distinct(tmp_path, rules):
    table = both_paths(write(tmp_path, "h.csv", "Email,,email,Name,\na@x.com,1,2,A,\n"), rules)
    assert table.columns == ["Email", "column_2", "email (2)", "Name"]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("e.csv", b"", "e.csv: the file is empty. Export the list again, or leave this file out."),
        (
            "w.csv",
            b"\xef\xbb\xbf \r\n\r\n",
            "w.csv: the file is empty. Export the list again, or leave this file out.",
        ),
        (
            "h.csv",
            b"email,name\r\n\r\n",
            "h.csv: the file has a header but no data rows. Export the list again with its "
            "contacts, or leave this file out.",
        ),
        (
            "bin.csv",
            bytes(range(256)) * 4,
            "bin.csv: the file is not a table in any supported format (it looks binary). Give a "
            "CSV, TSV, Parquet, JSON or NDJSON export.",
        ),
        (
            "x.json",
            b'{"a": 1}',
            "x.json: the JSON is not a table (expected an array of objects, or an object with the "
            "records under one of contacts, data, members, profiles, results, records, items). "
            "Export the contacts as a JSON array or NDJSON.",
        ),
        (
            "s.xlsx",
            b"abc",
            "s.xlsx: .xlsx files are not read; save the sheet as CSV (UTF-8) and give that file.",
        ),
    ],
)
def test_whole_file_errors_are_one_sentence_naming_the_file(tmp_path, rules, name, data, message):
    with pytest.raises(InputFileError) as info:
        read_one(
            write(tmp_path, name, data),
            name if name != "s.xlsx" else str(tmp_path / name),
            rules.ingest,
        )
    assert str(info.value) == message.replace("s.xlsx:", f"{tmp_path / 's.xlsx'}:")


def test_json_array_ndjson_and_wrapped_records(tmp_path, rules):
    recs = [
        {"email": "a@x.com", "tags": ["a", "b"], "n": 3, "ok": True, "meta": {"k": "v"}},
        {"email": "b@x.com", "x": None},
    ]
    arr = read_one(write(tmp_path, "a.json", json.dumps(recs)), "a.json", rules.ingest)
    wrapped = read_one(
        write(tmp_path, "w.json", json.dumps({"success": True, "data": recs})),
        "w.json",
        rules.ingest,
    )
    assert arr.columns == ["email", "tags", "n", "ok", "meta", "x"]
    assert (
        cells(arr)
        == cells(wrapped)
        == [
            (1, "a@x.com", '["a","b"]', "3", "true", '{"k":"v"}', None),
            (2, "b@x.com", None, None, None, None, None),
        ]
    )
    nd = "\n".join([json.dumps(recs[0]), "", "{not json", json.dumps(recs[1]), "[1]", ""])
    table = read_one(write(tmp_path, "n.ndjson", nd), "n.ndjson", rules.ingest)
    assert table.frame[ROW].to_list() == [1, 4]
    assert [(r.row, r.reason) for r in table.rejects] == [(3, "invalid_json"), (5, "not_an_object")]
    assert table.blank_rows == 1


def test_parquet_cells_become_text(tmp_path, rules):
    p = tmp_path / "c.parquet"
    pl.DataFrame(
        {"email": ["a@x.com", "b@x.com"], "n": [1, None], "ok": [True, False], "tags": [["a"], []]}
    ).write_parquet(p)
    table = read_one(p, "c.parquet", rules.ingest)
    assert cells(table) == [
        (1, "a@x.com", "1", "true", '["a"]'),
        (2, "b@x.com", None, "false", "[]"),
    ]


def test_gzip_and_zip_members_are_read_with_their_own_names(tmp_path, rules):
    body = (HEADER + "\na@x.com,Ann,Lee\n").encode()
    gz = write(tmp_path, "list.csv.gz", gzip.compress(body))
    zpath = tmp_path / "audience.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("subscribed_members_export_0a1b2c3d4e.csv", body)
        zf.writestr("cleaned_members_export_0a1b2c3d4e.csv", body)
        zf.writestr("__MACOSX/._junk", b"x")
    staging = tmp_path / "staging"
    staging.mkdir()
    tables = list(read_inputs([gz, zpath], rules.ingest, staging))
    assert [t.source_file for t in tables] == [
        str(gz),
        f"{zpath}!cleaned_members_export_0a1b2c3d4e.csv",
        f"{zpath}!subscribed_members_export_0a1b2c3d4e.csv",
    ]
    assert all(cells(t) == [(2, "a@x.com", "Ann", "Lee")] for t in tables)


def test_decompression_is_capped(tmp_path, rules):
    small = dataclasses.replace(rules.ingest, max_decompressed_bytes=1000)
    gz = write(
        tmp_path, "big.csv.gz", gzip.compress(HEADER.encode() + b"\n" + b"a@x.com,A,B\n" * 1000)
    )
    staging = tmp_path / "s"
    staging.mkdir()
    with pytest.raises(InputFileError) as info:
        list(read_inputs([gz], small, staging))
    assert str(info.value) == (
        f"{gz}: expands past 1,000 bytes (rules ingest.toml [limits] max_decompressed_bytes); "
        "raise the limit if the file is genuine."
    )


def test_folders_expand_to_their_supported_files_in_name_order(tmp_path):
    for name in ["b.csv", "a.ndjson", ".hidden.csv", "notes.md"]:
        write(tmp_path, name, "x")
    assert [p.name for p in expand_paths([tmp_path])] == ["a.ndjson", "b.csv"]
    with pytest.raises(InputFileError) as info:
        expand_paths([tmp_path / "missing.csv"])
    assert (
        str(info.value)
        == f"{tmp_path / 'missing.csv'}: no such file or folder. Check the path and try again."
    )


def test_large_file_fast_path_row_numbers_follow_file_order(tmp_path, rules):
    n = 200_000
    lines = [HEADER] + [f"u{i}@x.com,F{i},L{i}" for i in range(n)]
    table = read_csv(write(tmp_path, "big.csv", "\n".join(lines) + "\n"), "big.csv", rules.ingest)
    assert table.reader == "duckdb"
    expected = pl.Series([f"u{i}@x.com" for i in range(n)])
    assert table.frame["email"].equals(expected, check_names=False)
    assert table.frame[ROW].to_list() == list(range(2, n + 2))
