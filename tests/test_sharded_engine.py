"""`--shards N`: the embedded engine shard by shard, in this process, gives the files of
a run that holds every contact at once, byte for byte.

The shard tasks are the Spark engine's own (sharded.py), run one after another by
`LocalRunner`; no JVM here, so these tests run in every `make test`.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from engine_outputs import (
    ACCOUNT,
    EVENTS,
    PARTITIONED,
    SAMPLE,
    assert_same_files,
    clean_errors,
    events_zip,
    generated_inputs,
    run_to,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from listhygiene import ordered_rows, outputs, sharded
from listhygiene.cli import main
from listhygiene.events import normalize

FULL = {
    "events": [EVENTS],
    "existing": ACCOUNT,
    "campaign_id": "winback-1",
    "winback_sent": ("e01a6454b5", "1a038a49bd"),  # two campaigns of the sample's events
}


def _run(tmp: Path, name: str, inputs: list[Path], shards: int, **kw) -> Path:
    return run_to(tmp, name, inputs, shards=shards, **kw)


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def test_sample_with_events_and_account_is_identical(tmp_path):
    whole = _run(tmp_path, "whole", [SAMPLE], 1, **FULL)
    sharded_out = _run(tmp_path, "sharded", [SAMPLE], 7, **FULL)
    assert assert_same_files(whole, sharded_out) >= 25  # every CSV, JSON, payload, report
    assert pl.read_csv(sharded_out / "suppress_candidates.csv").height > 100
    a, b = _manifest(whole), _manifest(sharded_out)
    for part in ("reconciliation", "events", "health", "payloads", "deliverability",
                 "existing", "inputs"):  # fmt: skip
        assert a[part] == b[part], part
    assert a["engine"] == {"name": "duckdb"}
    assert b["engine"]["name"] == "duckdb" and b["engine"]["shards"] == 7
    assert len(b["engine"]["tasks"]["shards"]) == 7
    # the Spark run's partitioned tables are Spark's alone; the staging folder is gone
    assert not any((sharded_out / t).exists() for t in PARTITIONED)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_events_streamed_a_chunk_at_a_time(tmp_path, monkeypatch):
    """With chunks of 500 rows the events task never normalizes more than 500 events at
    once, and the files are those of one pass; so are chunked row outputs."""
    monkeypatch.setattr(ordered_rows, "CHUNK_ROWS", 37)
    monkeypatch.setattr(outputs, "ROW_GROUP", 50)  # both runs: row groups shape the bytes
    whole = _run(tmp_path, "whole", [SAMPLE], 1, **FULL)
    sizes: list[int] = []
    real = normalize.events_normalized

    def counting(batches, rules, known=None):
        sizes.append(sum(b.frame.height for b in batches))
        return real(batches, rules, known)

    monkeypatch.setattr(normalize, "events_normalized", counting)
    monkeypatch.setattr(sharded, "EVENT_CHUNK_ROWS", 500)
    chunked = _run(tmp_path, "chunked", [SAMPLE], 3, **FULL)
    assert_same_files(whole, chunked)
    events = _manifest(whole)["events"]["input_records"]
    assert events > 5_000 and max(sizes) == 500 and sum(sizes) == events
    assert len(sizes) == -(-events // 500)


@pytest.mark.parametrize("flaw", ["ragged line", "blank line"])
def test_an_events_file_found_unfit_is_read_again_whole(tmp_path, monkeypatch, flaw):
    """DuckDB's strict read stops at a ragged line; a blank line (which it skips) shows
    only at the end, when its rows do not add up to the file's lines. Either way the
    chunks staged so far are dropped and the general reader reads the file, as one
    pass does (a ragged line is rejected there, a blank one skipped)."""
    lines = (EVENTS / "events.csv").read_text().splitlines(keepends=True)
    path = tmp_path / "flawed.csv"
    bad = "x@example.com,open\n" if flaw == "ragged line" else "\n"
    path.write_text("".join(lines[:3000]) + bad + "".join(lines[3000:]))
    dropped: list[int] = []
    real = sharded._EventsMade.drop

    def drop(self, member):
        dropped.append(sum(len(b.parts) for b in self.members.get(member, [])))
        real(self, member)

    monkeypatch.setattr(sharded._EventsMade, "drop", drop)
    monkeypatch.setattr(sharded, "EVENT_CHUNK_ROWS", 1000)
    kw = {"events": [path, EVENTS], "campaign_id": "winback-1"}
    whole = _run(tmp_path, "whole", [SAMPLE], 1, **kw)
    chunked = _run(tmp_path, "chunked", [SAMPLE], 4, **kw)
    assert_same_files(whole, chunked)
    assert _manifest(whole)["events"] == _manifest(chunked)["events"]
    assert len(dropped) == 1
    if flaw == "blank line":  # found at the end: every chunk had been staged
        assert dropped[0] >= 7 * 4  # 7 chunks, each in (nearly) every shard
    else:
        rejects = pl.read_csv(chunked / "events_rejects.csv")
        assert (rejects["source_file"] == str(path)).sum() >= 1


def test_events_in_a_zip_and_the_same_file_twice(tmp_path, monkeypatch):
    archive = events_zip(tmp_path)
    monkeypatch.setattr(sharded, "EVENT_CHUNK_ROWS", 999)
    kw = {"events": [archive, EVENTS / "events.csv", EVENTS / "events.csv"]}
    whole = _run(tmp_path, "whole", [SAMPLE], 1, **kw)
    chunked = _run(tmp_path, "chunked", [SAMPLE], 5, **kw)
    assert_same_files(whole, chunked)
    assert _manifest(whole)["events"] == _manifest(chunked)["events"]
    assert len(_manifest(chunked)["events"]["files"]) == 4


def test_generated_contacts_identical(tmp_path, monkeypatch):
    """bench/generate.py's messy export shape (duplicates, case variants, broken and
    internationalized addresses, suppressions) at 30k contacts with 200k events."""
    contacts, events = generated_inputs(tmp_path / "data", 30_000, 200_000)
    kw = {"events": events, "campaign_id": "winback-1"}
    whole = _run(tmp_path, "whole", contacts, 1, **kw)
    monkeypatch.setattr(sharded, "EVENT_CHUNK_ROWS", 65_536)
    chunked = _run(tmp_path, "sharded", contacts, 6, **kw)
    assert_same_files(whole, chunked)
    a, b = _manifest(whole), _manifest(chunked)
    assert a["reconciliation"] == b["reconciliation"]
    assert a["reconciliation"]["duplicates_merged"] > 0
    assert a["reconciliation"]["rejected"] > 0
    assert a["events"] == b["events"]


@pytest.mark.parametrize("broken", ["contacts", "events"])
def test_a_bad_input_is_the_same_clean_error(tmp_path, broken):
    bad = tmp_path / "bad.csv"
    bad.write_text("carol,x\n1,2\n")
    bad_events = tmp_path / "bad_events.csv"
    bad_events.write_text("who,what\n1,2\n")
    contacts = [str(SAMPLE)] + ([str(bad)] if broken == "contacts" else [])
    events = [str(EVENTS)] + ([str(bad_events)] if broken == "events" else [])
    said = clean_errors(tmp_path, contacts, events, {"1": [], "4": ["--shards", "4"]})
    assert said["1"] == said["4"]
    assert ("bad_events.csv" if broken == "events" else "no column can be the email") in said["4"]


def test_shards_is_the_embedded_engines_option(tmp_path):
    result = CliRunner().invoke(
        main,
        ["run", str(SAMPLE), "--out", str(tmp_path / "o"), "--db", str(tmp_path / "s.duckdb"),
         "--engine", "spark", "--shards", "4"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--spark-shards" in result.output
    assert not (tmp_path / "o").exists()


def _reference_hash(key: str | None) -> int:
    """FNV-1a 64 over the UTF-8 bytes, then splitmix64's finalizer, one key in Python."""
    mask = (1 << 64) - 1
    h = 0xCBF29CE484222325
    for byte in (key or "").encode("utf-8"):
        h = ((h ^ byte) * 0x100000001B3) & mask
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & mask
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & mask
    return h ^ (h >> 31)


@given(st.lists(st.one_of(st.none(), st.text(max_size=80)), max_size=60), st.integers(1, 64))
@settings(max_examples=200, deadline=None)
def test_key_hashes_are_the_reference_hash(keys, shards):
    """The vectorized hash is FNV-1a + splitmix64 key by key, whatever the lengths,
    non-ASCII text or nulls; a null key goes to shard 0."""
    series = pl.Series("k", keys, dtype=pl.String)
    assert sharded.key_hashes(series).tolist() == [_reference_hash(k) for k in keys]
    expected = [0 if k is None else _reference_hash(k) % shards for k in keys]
    assert sharded.shard_numbers(series, shards).to_list() == expected
    sliced = pl.Series("k", ["pad", *keys], dtype=pl.String).slice(1)  # an offset array
    assert sharded.key_hashes(sliced).tolist() == [_reference_hash(k) for k in keys]


def test_shards_are_pinned_and_even():
    """Pinned values (a change of hash moves every contact: say so in the changelog),
    and 100k keys spread within 3 % of even over 8 shards."""
    keys = pl.Series(["alice@example.com", "bób@exämple.org", ""])
    pinned = [0x5F124BEFCE0313B8, 0x029CAB62890F871A, 0xF52A15E9A9B5E89B]
    assert sharded.key_hashes(keys).tolist() == pinned
    assert sharded.shard_numbers(keys, 8).to_list() == [0, 2, 3]
    many = pl.Series([f"user{i}@example.com" for i in range(100_000)])
    counts = sharded.shard_numbers(many, 8).value_counts()["count"]
    assert counts.len() == 8 and counts.min() > 12_500 * 0.97 and counts.max() < 12_500 * 1.03
