"""The Spark engine (`--engine spark`): the sharded stages (sharded.py) as Spark tasks.

Spark schedules the file tasks and the shard tasks, retries a failed one (a task's file
names are fixed, so a retry overwrites its attempt) and runs them on the cluster; the
exchange between them goes through the staging folder (see sharded.py). Only this
module imports pyspark, and only when the engine is asked for.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ListHygieneError
from .sharded import ShardPlan, is_uri
from .sharded import listed_inputs as spark_inputs

if TYPE_CHECKING:
    from .run import RunOptions
    from .stages import Stage

__all__ = ["SparkEngineError", "SparkOptions", "is_uri", "spark_inputs", "spark_plan"]


@dataclass(frozen=True)
class SparkOptions:
    """`--spark-*` (see docs/spark.md)."""

    master: str | None = None  # None: spark-submit's, else local[2]
    shards: int = 8
    staging: str | None = None  # None: a folder beside --out


class SparkEngineError(ListHygieneError):
    """Spark is missing or will not start: exit 2 with what to do."""


class SparkRunner:
    """Tasks as Spark tasks: one Spark job per `run`, a task per job."""

    name = "spark"

    def __init__(self, session: Any):
        self.session = session
        self.sc = session.sparkContext

    def run(self, task: Callable[[Any], Any], jobs: list[Any]) -> list[Any]:
        return self.sc.parallelize(jobs, max(1, len(jobs))).map(task).collect()

    def shared(self, value: Any) -> Any:
        return self.sc.broadcast(value)

    def info(self) -> dict[str, Any]:
        return {"name": self.name, "master": self.sc.master, "spark": self.session.version}


def spark_plan(opts: RunOptions, stage: Stage) -> tuple[Callable[[], SparkRunner], ShardPlan]:
    """The sharded stages on Spark (`--spark-*`, for sharded.sharded_prepared): the runner's
    start, called once the inputs are listed so a missing file is said before the JVM
    starts, and the plan."""
    spark_opts = opts.spark

    def start() -> SparkRunner:
        with stage("spark_start"):  # the JVM and the session: a fixed cost per run
            session = spark_session(spark_opts, opts.db.parent / "spark.log")
        master = session.sparkContext.master
        if spark_opts.staging is None and not master.startswith("local"):
            raise SparkEngineError(
                f"--engine spark on the master {master} needs --spark-staging: a folder every "
                "executor and this driver can reach (hdfs://…, s3://…); the default, beside "
                "--out, is on this machine only."
            )
        return SparkRunner(session)

    plan = ShardPlan(
        shards=spark_opts.shards,
        root=spark_opts.staging or str(opts.out.parent / f".{opts.out.name}.spark"),
        own_root=spark_opts.staging is None,
        partitioned=True,
    )
    return start, plan


def spark_session(options: SparkOptions, log: Path | None = None) -> Any:
    """The session: spark-submit's when run under it, else local[2] (or --spark-master).
    A JVM started here writes its own stderr (banner, log4j, the Python workers'
    tracebacks) to `log`, so a scheduled run's stderr holds only listhygiene's sentences;
    a task's error still reaches the driver as an exception."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkEngineError(
            "--engine spark needs pyspark, which is not installed. Install it with "
            "`pip install 'listhygiene[spark]'` (and Java 17 or newer), or use --engine duckdb."
        ) from None
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise SparkEngineError(
            "--engine spark needs Java 17 or newer, and no `java` is on PATH (nor JAVA_HOME "
            "set). Install it (Debian: apt-get install default-jre-headless), or use "
            "--engine duckdb."
        )
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("listhygiene")
    # Under spark-submit the master is already set; otherwise local[2] (or --spark-master).
    master = options.master or (None if _under_spark_submit() else "local[2]")
    if master is not None:
        builder = builder.master(master)
    if (master or "").startswith("local"):  # nothing leaves the machine: bind to loopback
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = builder.config("spark.driver.bindAddress", "127.0.0.1").config(
            "spark.driver.host", "127.0.0.1"
        )
    builder = (
        builder.config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    )
    with _stderr_to(None if _under_spark_submit() else log):
        session = builder.getOrCreate()  # a JVM launched now inherits the redirected fd 2
    session.sparkContext.setLogLevel("ERROR")
    return session


@contextmanager
def _stderr_to(log: Path | None) -> Iterator[None]:
    """File descriptor 2 pointed at `log` (appended, owner-only) for the duration."""
    if log is None:
        yield
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    saved = os.dup(2)
    os.dup2(fd, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(fd)


def _under_spark_submit() -> bool:
    """spark-submit starts the driver with its JVM already running (and the master in
    its configuration), and tells the Python side the JVM's gateway port."""
    return "PYSPARK_GATEWAY_PORT" in os.environ
