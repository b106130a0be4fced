"""The Spark engine gives the embedded engine's outputs, byte for byte.

Spark runs for real: PyPI's pyspark in local[2] mode, on the Java that
tests/setup_java.sh installs. Every test here is marked `spark`
(`pytest -m 'not spark'` skips them explicitly); `make test` runs them.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from engine_outputs import (
    ACCOUNT,
    AS_OF,
    EVENTS,
    SAMPLE,
    assert_same_files,
    clean_errors,
    events_zip,
    generated_inputs,
    run_to,
)

from listhygiene import ordered_rows, outputs
from listhygiene.cli import main
from listhygiene.outputs import neutralize_formulas
from listhygiene.run import RunOptions, execute
from listhygiene.spark_engine import SparkOptions, spark_inputs

pytestmark = pytest.mark.spark


def _run(tmp: Path, name: str, engine: str, inputs: list[Path], **kw) -> Path:
    spark = SparkOptions(shards=kw.pop("shards", 8), staging=kw.pop("staging", None))
    return run_to(tmp, name, inputs, engine=engine, spark=spark, **kw)


def _assert_identical(embedded: Path, spark: Path) -> int:
    """Every output file of the embedded run, byte-identical in the Spark run (run ids
    masked where a file names its run); the partitioned tables hold exactly the rows of
    their single files. Returns the number of files compared."""
    compared = assert_same_files(embedded, spark)
    for table, whole, key in (
        ("contacts", pl.read_parquet(embedded / "contacts.parquet"), ["source_file", "source_row"]),
        ("duplicates", pl.read_csv(embedded / "duplicates.csv", infer_schema=False), ["source_file", "row"]),
        ("possible_duplicates", pl.read_csv(embedded / "possible_duplicates.csv", infer_schema=False),
         ["source_file", "row"]),
    ):  # fmt: skip
        parts = sorted((spark / table).glob("shard=*/part-0.parquet"))
        if table == "contacts":
            assert parts, "the Spark run wrote no partitioned contacts table"
        if not parts:
            assert whole.height == 0, table
            continue
        sharded = pl.concat([pl.read_parquet(p, hive_partitioning=False) for p in parts])
        if table != "contacts":  # compared as the CSV's text
            sharded = sharded.select(pl.all().cast(pl.String))
        assert sharded.sort(key).equals(whole.sort(key)), table
    for name in ("unengaged", "suppress_candidates", "winback_audience"):
        if not (embedded / f"{name}.csv").exists():
            assert not (spark / name).exists(), name
            continue
        whole = pl.read_csv(embedded / f"{name}.csv", infer_schema=False)
        parts = sorted((spark / name).glob("shard=*/part-0.parquet"))
        assert bool(parts) == bool(whole.height), name
        if parts:  # the CSV's text of the partitioned rows
            sharded = neutralize_formulas(pl.concat([pl.read_parquet(p) for p in parts]))
            sharded = sharded.select(
                pl.col(c).dt.strftime("%Y-%m-%dT%H:%M:%SZ") if t == pl.Datetime else
                pl.col(c).cast(pl.String) for c, t in sharded.schema.items()
            )  # fmt: skip
            assert sharded.sort("email").equals(whole.sort("email")), name
    return compared


def _manifests(embedded: Path, spark: Path) -> tuple[dict, dict]:
    import json

    return (
        json.loads((embedded / "manifest.json").read_text()),
        json.loads((spark / "manifest.json").read_text()),
    )


def test_sample_with_events_and_account_is_identical(tmp_path):
    kw = {
        "events": [EVENTS],
        "existing": ACCOUNT,
        "campaign_id": "winback-1",
        "winback_sent": ("e01a6454b5", "1a038a49bd"),  # two campaigns of the sample's events
    }
    embedded = _run(tmp_path, "duck", "duckdb", [SAMPLE], **kw)
    spark = _run(tmp_path, "spark", "spark", [SAMPLE], **kw)
    compared = _assert_identical(embedded, spark)
    assert pl.read_csv(spark / "suppress_candidates.csv").height > 100
    assert pl.read_csv(spark / "winback_audience.csv").height > 0
    assert compared >= 25  # every CSV, JSON, payload and report file
    m_duck, m_spark = _manifests(embedded, spark)
    for part in ("reconciliation", "events", "health", "payloads", "deliverability", "existing"):
        assert m_duck[part] == m_spark[part], part
    assert m_spark["engine"]["name"] == "spark" and m_spark["engine"]["shards"] == 8
    assert m_spark["engine"]["master"] == "local[2]"
    assert {i["source_file"] for i in m_spark["inputs"]} == {
        i["source_file"] for i in m_duck["inputs"]
    }


def test_many_chunks_give_the_same_files_as_one(tmp_path, monkeypatch):
    """The driver writes the row outputs and payloads a chunk at a time: with chunks of
    37 contacts and row groups of 50, the files of both engines are still those of a
    run whose chunk holds every contact."""
    kw = {"events": [EVENTS], "existing": ACCOUNT, "campaign_id": "winback-1",
          "winback_sent": ("e01a6454b5", "1a038a49bd")}  # fmt: skip
    whole = _run(tmp_path, "whole", "duckdb", [SAMPLE], **kw)
    monkeypatch.setattr(ordered_rows, "CHUNK_ROWS", 37)
    monkeypatch.setattr(outputs, "ROW_GROUP", 50)
    embedded = _run(tmp_path, "duck", "duckdb", [SAMPLE], **kw)
    spark = _run(tmp_path, "spark", "spark", [SAMPLE], **kw)
    _assert_identical(embedded, spark)
    rows = pl.read_parquet(embedded / "contacts.parquet")
    assert rows.height > 5 * 37  # many chunks
    assert pq.ParquetFile(embedded / "contacts.parquet").num_row_groups == -(-rows.height // 50)
    for rel in ("contacts.csv", "scores.csv", "unengaged.csv", "suppress_candidates.csv",
                "winback_audience.csv", "account_reconciliation.csv", "import_preview.json",
                "payload_warnings.csv", "payloads/requests.json"):  # fmt: skip
        assert (embedded / rel).read_bytes() == (whole / rel).read_bytes(), rel
    for body in (whole / "payloads").rglob("*"):
        if body.is_file():
            assert (embedded / body.relative_to(whole)).read_bytes() == body.read_bytes()


def test_sample_without_events_one_shard_or_many(tmp_path):
    embedded = _run(tmp_path, "duck", "duckdb", [SAMPLE])
    for shards in (1, 13):
        spark = _run(tmp_path, f"spark{shards}", "spark", [SAMPLE], shards=shards)
        _assert_identical(embedded, spark)


def test_possible_duplicate_groups_across_shards(tmp_path):
    """Many groups of Gmail dot and +tag spellings, in two files, shuffled: each group
    meets in one shard, and the groups are numbered as one list would number them."""
    import random

    rng = random.Random(7)
    rows = []
    for i in range(400):
        first, last = f"p{i}x", f"q{i}y"
        variants = [f"{first}.{last}@gmail.com", f"{first}{last}@googlemail.com",
                    f"{first}.{last}+news@gmail.com", f"{first}{last}@gmail.com"]  # fmt: skip
        rows.extend(rng.sample(variants, rng.randint(1, 4)))
        rows.append(f"{first}@example.org")
    rng.shuffle(rows)
    half = len(rows) // 2
    inputs = []
    for n, chunk in enumerate((rows[:half], rows[half:])):
        path = tmp_path / f"list{n}.csv"
        path.write_text("email,first_name\n" + "".join(f"{e},P\n" for e in chunk))
        inputs.append(path)
    embedded = _run(tmp_path, "duck", "duckdb", inputs)
    spark = _run(tmp_path, "spark", "spark", inputs, shards=5)
    _assert_identical(embedded, spark)
    groups = pl.read_csv(embedded / "possible_duplicates.csv")["group_id"].n_unique()
    assert groups > 200


def test_payload_warnings_made_in_the_shards(tmp_path):
    """Unsubscribed contacts the account has active (a status mailerdash's import cannot
    carry: a warning each) spread over the shards: the driver merges the shards' records
    and warnings in input order, as the embedded engine makes them."""
    lines = ["email,first_name,status"]
    for i in range(300):
        status = "unsubscribed" if i % 4 == 0 else "subscribed"
        lines.append(f"p{i}@example.com,N{i},{status}")
    path = tmp_path / "limits.csv"
    path.write_text("\n".join(lines) + "\n")
    account = tmp_path / "account.csv"
    account.write_text("email,status,id\n" + "".join(
        f"p{i}@example.com,subscribed,a{i}\n" for i in range(0, 300, 2)))  # fmt: skip
    embedded = _run(tmp_path, "duck", "duckdb", [path], existing=account)
    spark = _run(tmp_path, "spark", "spark", [path], shards=7, existing=account)
    _assert_identical(embedded, spark)
    warnings = pl.read_csv(embedded / "payload_warnings.csv")
    assert warnings.height == 75  # every 4th contact; all are even, so all in the account
    assert warnings["email"].to_list() == [f"p{i}@example.com" for i in range(0, 300, 4)]


def test_events_in_a_zip_of_several_members(tmp_path):
    """An events archive of two members: rows restart at 1 in each, the order of events
    (and so which repeated event_id counts) is the archive's."""
    archive = events_zip(tmp_path)
    kw = {"events": [archive], "winback_sent": ("e01a6454b5",)}
    embedded = _run(tmp_path, "duck", "duckdb", [SAMPLE], **kw)
    spark = _run(tmp_path, "spark", "spark", [SAMPLE], shards=3, **kw)
    _assert_identical(embedded, spark)
    m_duck, m_spark = _manifests(embedded, spark)
    assert m_duck["events"] == m_spark["events"]
    assert len(m_spark["events"]["files"]) == 2


def test_spark_submit_runs_the_cli_with_its_own_master(tmp_path):
    """docs/spark.md's driver file under the spark-submit that pyspark installs: the
    session is spark-submit's (local[1] here), the outputs the embedded engine's."""
    import subprocess

    driver = tmp_path / "lh_submit.py"
    driver.write_text("from listhygiene.cli import main; main()\n")
    submit = Path(sys.executable).parent / "spark-submit"
    out = tmp_path / "submitted"
    done = subprocess.run(
        [str(submit), "--master", "local[1]",
         "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1",
         str(driver), "run", str(SAMPLE), "--engine", "spark", "--out", str(out),
         "--db", str(tmp_path / "s.duckdb"), "--as-of", "2026-11-01T00:00:00Z", "-q"],
        env={**os.environ, "PYSPARK_PYTHON": sys.executable}, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr[-2000:]
    embedded = _run(tmp_path, "duck", "duckdb", [SAMPLE])
    _assert_identical(embedded, out)
    assert _manifests(embedded, out)[1]["engine"]["master"] == "local[1]"


def test_a_reused_staging_folder_never_mixes_runs(tmp_path):
    """The same --spark-staging for runs of other inputs and shard counts: each run
    works in its own subfolder, removed at its end."""
    staging = tmp_path / "staging"
    first = [SAMPLE / "crm_export_eu.csv", SAMPLE / "misarmail_contacts.ndjson"]
    for name, inputs, shards in (("a", [SAMPLE], 5), ("b", first, 3), ("c", [SAMPLE], 3)):
        opts = RunOptions(
            inputs=inputs, out=tmp_path / name, db=tmp_path / f"{name}.duckdb", as_of=AS_OF,
            engine="spark", spark=SparkOptions(shards=shards, staging=str(staging)),
        )  # fmt: skip
        execute(opts)
        embedded = _run(tmp_path, f"duck-{name}", "duckdb", inputs)
        _assert_identical(embedded, tmp_path / name)
        assert list(staging.iterdir()) == []  # the run's folder is gone


def test_a_staging_uri_is_read_back_through_pyarrow_fs(tmp_path):
    """A --spark-staging URI (file:// here, the path hdfs:// and s3:// take): the driver
    copies the shards' parts to its own disk before sorting them."""
    staging = tmp_path / "st aging"
    kw = {"events": [EVENTS], "existing": ACCOUNT, "campaign_id": "winback-1"}
    embedded = _run(tmp_path, "duck", "duckdb", [SAMPLE], **kw)
    spark = _run(tmp_path, "spark", "spark", [SAMPLE], staging=staging.as_uri(), **kw)
    _assert_identical(embedded, spark)
    assert list(staging.iterdir()) == []


def test_the_same_events_file_twice_and_a_spaced_uri(tmp_path):
    """A file given twice is two batches of one name (rejects in batch order); a file://
    URI with %-escapes is decoded."""
    spaced = tmp_path / "sp ace"
    spaced.mkdir()
    (spaced / "ev ents.csv").write_bytes((EVENTS / "events.csv").read_bytes() + b"x@,open,no\n")
    uri = (spaced / "ev ents.csv").as_uri()  # file:///…/sp%20ace/ev%20ents.csv
    embedded = _run(tmp_path, "duck", "duckdb", [SAMPLE], events=[spaced / "ev ents.csv"] * 2)
    spark = _run(tmp_path, "spark", "spark", [SAMPLE], events=[uri, uri])
    a = pl.read_csv(embedded / "events_rejects.csv")
    b = pl.read_csv(spark / "events_rejects.csv")
    assert a.height == b.height == 4  # the sample's own bad row and the added one, twice
    assert b["source_file"].to_list() == [uri] * 4
    assert a["row"].to_list() == b["row"].to_list()  # one copy's rows, then the other's
    assert b.drop("source_file").equals(a.drop("source_file"))
    local = str(spaced / "ev ents.csv").encode()
    for name in ("contacts.csv", "scores.csv", "unengaged.csv", "health.json"):
        # statuses set by events name their file: the URI in one, the path in the other
        named = (spark / name).read_bytes().replace(uri.encode(), local)
        assert (embedded / name).read_bytes() == named, name


@pytest.mark.parametrize("case", ["account", "missing-events"])
def test_errors_come_in_the_embedded_order(tmp_path, case):
    """Contacts first, then the account export, then the events."""
    bad_events = tmp_path / "bad_events.csv"
    bad_events.write_text("who,what\n1,2\n")
    header_only = tmp_path / "header_only.csv"
    header_only.write_text("who,what\n")
    bad_account = tmp_path / "account.csv"
    bad_account.write_text("who,what\n1,2\n")
    if case == "account":
        args = [str(SAMPLE), "--existing", str(bad_account), "--events", str(bad_events)]
    else:
        args = [str(header_only), "--events", str(tmp_path / "nowhere.csv")]
    outs = {}
    for engine in ("duckdb", "spark"):
        result = CliRunner().invoke(
            main,
            ["run", *args, "--out", str(tmp_path / engine),
             "--db", str(tmp_path / f"{engine}.duckdb"), "--dns", "off", "--engine", engine],
        )  # fmt: skip
        assert result.exit_code == 2, result.output
        outs[engine] = result.stderr
    assert outs["spark"] == outs["duckdb"]


def test_quiet_means_quiet_the_jvm_logs_beside_the_store(tmp_path):
    """A scheduled `-q` run prints nothing: the JVM's banner and warnings go to
    spark.log beside the store, and the default staging root is gone afterwards."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "listhygiene", "run", str(SAMPLE), "--engine", "spark",
         "--out", str(tmp_path / "out"), "--db", str(tmp_path / "store" / "s.duckdb"),
         "--as-of", "2026-11-01T00:00:00Z", "-q"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr[-2000:]
    assert done.stderr == ""
    log = (tmp_path / "store" / "spark.log").read_text()
    assert "log4j" in log or "WARN" in log  # what the JVM said instead
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "store"]


def test_generated_100k_contacts_identical(tmp_path):
    """bench/generate.py's messy export shape (duplicates, case variants, broken and
    internationalized addresses, suppressions) at 100k contacts with 500k events."""
    contacts, events = generated_inputs(tmp_path / "data", 100_000, 500_000)
    kw = {"events": events, "campaign_id": "winback-1"}
    embedded = _run(tmp_path, "duck", "duckdb", contacts, **kw)
    spark = _run(tmp_path, "spark", "spark", contacts, **kw)
    _assert_identical(embedded, spark)
    m_duck, m_spark = _manifests(embedded, spark)
    assert m_duck["reconciliation"] == m_spark["reconciliation"]
    assert m_duck["reconciliation"]["input_rows"] > 100_000
    assert m_duck["reconciliation"]["duplicates_merged"] > 0
    assert m_duck["reconciliation"]["rejected"] > 0
    assert m_duck["events"] == m_spark["events"]


def test_uri_inputs_read_through_pyarrow_fs(tmp_path):
    """file:// URIs (the path any pyarrow filesystem takes: hdfs://, s3://, gs://) give
    the same contacts, the URI as their source_file."""
    copy = tmp_path / "in"
    shutil.copytree(SAMPLE, copy)
    uris: list[Path | str] = [f"file://{copy}"]
    listed = spark_inputs(uris)
    assert listed == [f"file://{p}" for p in sorted(copy.iterdir())]
    embedded = _run(tmp_path, "duck", "duckdb", [copy])
    spark = _run(tmp_path, "spark", "spark", uris)
    a = pl.read_parquet(embedded / "contacts.parquet")
    b = pl.read_parquet(spark / "contacts.parquet")
    assert b["source_file"].str.starts_with("file://").all()
    assert b.with_columns(pl.col("source_file").str.strip_prefix("file://")).equals(a)


@pytest.mark.parametrize("broken", ["contacts", "events", "both"])
def test_a_bad_input_is_the_same_clean_error(tmp_path, broken):
    """A contacts file's error comes first, as the embedded engine reads contacts first."""
    bad = tmp_path / "bad.csv"
    bad.write_text("carol,x\n1,2\n")
    bad_events = tmp_path / "bad_events.csv"
    bad_events.write_text("who,what\n1,2\n")
    contacts = [str(SAMPLE)] + ([str(bad)] if broken != "events" else [])
    events = [str(EVENTS)] + ([str(bad_events)] if broken != "contacts" else [])
    outs = clean_errors(tmp_path, contacts, events,
                        {"duckdb": [], "spark": ["--engine", "spark"]})  # fmt: skip
    assert outs["spark"] == outs["duckdb"]
    expected = "no column can be the email address" if broken != "events" else "bad_events.csv"
    assert expected in outs["spark"]


def test_a_missing_uri_is_a_clean_error(tmp_path):
    result = CliRunner().invoke(
        main,
        ["run", f"file://{tmp_path}/nowhere.csv", "--out", str(tmp_path / "o"),
         "--db", str(tmp_path / "s.duckdb"), "--engine", "spark"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "no such file or folder" in result.stderr
