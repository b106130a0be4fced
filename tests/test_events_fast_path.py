"""The fast generic-CSV events path and the compact scoring form give exactly what the
general reader and the EVENT_SCHEMA form give: same events, rejects, record counts,
hashes, scores and statuses. Files the fast path must not take fall back to the general
reader, whose result is the reference."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from listhygiene import events as events_pkg
from listhygiene.events import read_events
from listhygiene.events.normalize import NormalizedEvents, distinct_ids, events_normalized
from listhygiene.scoring import contacts_scored

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
HEAD = "email,event,timestamp,campaign_id,event_id,machine_open\n"
ROWS = (
    "a@example.com,open,2026-10-20T10:00:00Z,c1,e1,false\n"
    "B@Example.com,click,2026-10-21T10:00:00Z,c1,e2,\n"
    "a@example.com,open,2026-10-22T10:00:00Z,c1,e1,true\n"
    "not-an-address,open,2026-10-22T10:00:00Z,c2,e3,\n"
    "c@example.com,Opened,2026/10/23 10:00,,e4,yes\n"
    "c@example.com,bounce,1761000000,c2,,\n"
    "a@example.com,teleport,2026-10-22T10:00:00Z,c2,e5,\n"
    "a@example.com,open,yesterday,c2,e6,\n"
    "a@example.com,open,2026-10-22T10:00:00Z,c2,e7,maybe\n"
    ",send,2026-10-22T10:00:00Z,c2,e8,\n"
    "d@example.com,unsubscribe,2026-12-22T10:00:00Z,c2,e9,\n"
)

# name -> (file text, whether the fast path takes it; None: either, the result decides)
CASES: dict[str, tuple[str, bool]] = {
    "plain": (HEAD + ROWS, True),
    "no_final_newline": (HEAD + ROWS.rstrip("\n"), True),
    "blank_row_of_commas": (HEAD + ROWS + ",,,,,\n" + ROWS, True),
    "extra_column": (
        "email,event,timestamp,note\na@example.com,open,2026-10-20T10:00:00Z,x\n"
        ",,,only a note\n,,,\nb@example.com,click,2026-10-20T10:00:00Z,\n",
        True,
    ),
    "semicolons": (HEAD.replace(",", ";") + ROWS.replace(",", ";"), True),
    "utf8": (HEAD + ROWS + "zoë@exämple.com,open,2026-10-20T10:00:00Z,c1,e10,\n", True),
    "blank_line": (HEAD + ROWS + "\n" + ROWS, False),
    "crlf": ((HEAD + ROWS).replace("\n", "\r\n"), False),
    "quotes": (HEAD + ROWS + '"q@example.com",open,2026-10-20T10:00:00Z,"c,1",e11,\n', False),
    "multiline_quote": (HEAD + 'a@example.com,open,"2026-10-20\nT10:00:00Z",c1,e1,\n', False),
    "ragged": (HEAD + ROWS + "a@example.com,open\n", False),
    # DuckDB reports a short row far into the file only while its batch is fetched
    "ragged_late": (HEAD + ROWS * 800 + "x@example.com,open,no\n", False),
    "trailing_empty_cell": (HEAD + "a@example.com,open,2026-10-20T10:00:00Z,c1,e1,,\n", None),
    "extra_cell": (HEAD + ROWS + "a@example.com,open,2026-10-20T10:00:00Z,c1,e1,,x\n", False),
    "bom": ("\ufeff" + HEAD + ROWS, False),
}


def _read(path: Path, rules, tmp_path: Path, fast: bool, monkeypatch) -> list:
    staging = tmp_path / ("fast" if fast else "slow")
    staging.mkdir()
    with monkeypatch.context() as m:
        if not fast:
            m.setattr(events_pkg.GenericStream, "open", classmethod(lambda *a: None))
        return read_events([path], rules.ingest, staging)


@pytest.mark.parametrize("name", list(CASES))
def test_fast_path_reads_like_the_general_reader(name, rules, tmp_path, monkeypatch):
    text, takes = CASES[name]
    path = tmp_path / "events.csv"
    path.write_bytes(text.encode("utf-8"))
    fast = _read(path, rules, tmp_path, True, monkeypatch)
    slow = _read(path, rules, tmp_path, False, monkeypatch)
    if takes is not None:
        assert ("source_file" not in fast[0].frame.columns) == takes
    assert [(b.sha256, b.size_bytes, b.records) for b in fast] == [
        (b.sha256, b.size_bytes, b.records) for b in slow
    ]
    assert fast[0].sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    a = events_normalized(fast, rules.scoring)
    b = events_normalized(slow, rules.scoring)
    assert_frame_equal(a.events, b.events)
    assert_frame_equal(a.rejects, b.rejects)
    assert (a.input_records, a.count) == (b.input_records, b.count)


def test_fast_path_limits_fall_back(rules, tmp_path, monkeypatch):
    """A line longer than max_field_bytes, or more rows than max_rows_per_file: the
    general reader decides (and rejects the rows it must)."""
    from dataclasses import replace

    path = tmp_path / "events.csv"
    path.write_text(HEAD + ROWS + "x" * 50 + "@example.com,open,2026-10-20T10:00:00Z,c1,e1,\n")
    for limits in ({"max_field_bytes": 50}, {"max_rows_per_file": 3}):
        ingest = replace(rules.ingest, **limits)
        stream = events_pkg.GenericStream.open(path, str(path), ingest)
        assert stream is not None
        with pytest.raises(events_pkg.NotFast):
            list(stream.batches(2))
        staging = tmp_path / str(sorted(limits))
        staging.mkdir()
        (batch,) = read_events([path], ingest, staging)
        assert batch.rejects.height > 0


@pytest.mark.parametrize("name", [n for n, (_, takes) in CASES.items() if takes])
@pytest.mark.parametrize("chunk_rows", [1, 7, 1000])
def test_chunks_read_like_the_whole_file(name, chunk_rows, rules, tmp_path, monkeypatch):
    """The stream's chunks, one after another, are the whole file's rows: the same row
    numbers, cells and blank rows dropped; the facts (hash, size) come with the last."""
    text, _ = CASES[name]
    path = tmp_path / "events.csv"
    path.write_bytes(text.encode("utf-8"))
    (whole,) = _read(path, rules, tmp_path, True, monkeypatch)
    stream = events_pkg.GenericStream.open(path, str(path), rules.ingest)
    chunks = list(stream.batches(chunk_rows))
    assert max(c.frame.height for c in chunks) <= chunk_rows
    assert_frame_equal(pl.concat([c.frame for c in chunks]), whole.frame)
    facts = stream.read.facts
    assert (facts.sha256, facts.size) == (whole.sha256, whole.size_bytes)


def test_distinct_ids_are_exact_even_when_hashes_collide():
    values = pl.Series("v", ["a", "b", "a", None, "c", None])
    ids, distinct = distinct_ids(values, hashed=lambda s: s.is_null().cast(pl.UInt64))
    assert distinct.gather(ids).to_list() == values.to_list()
    assert distinct.n_unique() == distinct.len() == 4


def test_scoring_the_compact_form_and_the_event_frame_agree(rules, tmp_path, monkeypatch):
    path = tmp_path / "events.csv"
    path.write_text(HEAD + ROWS * 3)
    normalized = events_normalized(_read(path, rules, tmp_path, True, monkeypatch), rules.scoring)
    contacts = pl.DataFrame(
        {
            "email_key": ["a@example.com", "b@example.com", "c@example.com", "z@example.com"],
            "status": ["active"] * 4,
            "status_reason": [None] * 4,
            "status_changed_at": pl.Series([None] * 4, dtype=pl.Datetime("us", "UTC")),
            "created_at": pl.Series([None] * 4, dtype=pl.Datetime("us", "UTC")),
        },
        schema_overrides={"status_reason": pl.String},
    )
    args = (rules.scoring, ["complained", "bounced", "unsubscribed", "active"], AS_OF, 90)
    compact = contacts_scored(contacts, normalized, *args)
    frame = contacts_scored(contacts, normalized.events, *args)
    assert_frame_equal(compact.contacts, frame.contacts)
    assert_frame_equal(compact.status_changes, frame.status_changes)
    assert compact.counts == frame.counts
    assert isinstance(NormalizedEvents.from_events(normalized.events), NormalizedEvents)


def test_contact_emails_answer_like_validation(rules, tmp_path, monkeypatch):
    """Addresses the contacts' validation already answered get the same key and error
    as validating them again."""
    from listhygiene.emails import validate_emails

    path = tmp_path / "events.csv"
    path.write_text(HEAD + ROWS + " Zoe <ZOE@Example.COM>,open,2026-10-20T10:00:00Z,c1,e12,\n")
    batches = _read(path, rules, tmp_path, True, monkeypatch)
    cells = pl.Series(["a@example.com", "B@Example.com", " Zoe <ZOE@Example.COM>"])
    checked = validate_emails(cells)
    known = pl.DataFrame({"email_input": cells, "email_key": checked["email_key"]})
    with_known = events_normalized(batches, rules.scoring, known)
    without = events_normalized(batches, rules.scoring)
    assert_frame_equal(with_known.events, without.events)
    assert_frame_equal(with_known.rejects, without.rejects)
