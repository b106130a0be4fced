"""The command line: options only. Each command calls one library function.

Exit codes (the contract): 0 done; 1 done but a health gate failed; 2 bad
usage or unreadable input, nothing written; 3 another run holds the store.
An unexpected internal error exits 4 and asks for --debug.
"""

from __future__ import annotations

import functools
import json
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from . import __version__
from .errors import ListHygieneError
from .events import FORMAT_NAMES
from .outputs import owner_only
from .payloads import TARGETS
from .pii import Pseudonymizer
from .ruleset import load_rules
from .run import RunOptions, execute
from .spark_engine import SparkOptions
from .store import default_store_path

INTERNAL_ERROR = 4


def parse_as_of(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC).replace(microsecond=0)
    text = value.strip()
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise click.BadParameter(
            f'"{value}" is not an ISO 8601 date or timestamp; write it like 2026-11-01T00:00:00Z.'
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)  # the contract's clock is UTC
    return dt.astimezone(UTC)


def parse_region(value: str | None) -> str | None:
    from .fields import check_region

    try:
        return check_region(value)
    except ListHygieneError as exc:
        raise click.BadParameter(str(exc)) from None


# `run` and `preview` read phones the same way.
default_region_option = click.option(
    "--default-region",
    metavar="CC",
    callback=lambda _ctx, _param, value: parse_region(value),
    help="Region (ISO 3166 alpha-2, e.g. DE, US) for phone numbers written without +country "
    "code; without it only international numbers become E.164.",
)


class Reporter:
    """Messages for people: quiet in cron, progress bars only on a terminal, and
    email addresses pseudonymized (pii.py) unless --debug-pii."""

    def __init__(self, quiet: bool, debug: bool, debug_pii: bool = False):
        self.quiet, self.debug = quiet, debug
        self.pii = Pseudonymizer(reveal=debug_pii)
        self._progress: Any = None
        self._task: Any = None

    def warn(self, message: str) -> None:
        if not self.quiet:
            click.echo(f"Warning: {self.pii.text(message)}", err=True)

    def error(self, message: str) -> None:
        """Printed even with --quiet: errors and failed gates are what a scheduler alerts on."""
        click.echo(self.pii.text(message), err=True)

    def info(self, message: str) -> None:
        if not self.quiet:
            click.echo(self.pii.text(message))

    def progress(self, what: str, done: int, total: int) -> None:
        if self.quiet or not sys.stderr.isatty():
            return
        if self._progress is None:
            from rich.progress import Progress

            self._progress = Progress(transient=True)
            self._progress.start()
            self._task = self._progress.add_task(what, total=total)
        self._progress.update(self._task, description=what, completed=done, total=total)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--debug and --quiet on every command, and one place that turns errors into exit codes."""

    @click.option(
        "--debug",
        is_flag=True,
        help="Show tracebacks on errors and keep each stage's output in the store.",
    )
    @click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors (for schedulers).")
    @click.option(
        "--debug-pii",
        is_flag=True,
        help="Print email addresses in messages as they are (by default they show as "
        "email:<keyed hash>; the key is in the store).",
    )
    @functools.wraps(func)
    def wrapper(*args: Any, debug: bool, quiet: bool, debug_pii: bool, **kwargs: Any) -> Any:
        reporter = Reporter(quiet=quiet, debug=debug, debug_pii=debug_pii)
        try:
            return func(*args, reporter=reporter, **kwargs)
        except ListHygieneError as exc:
            reporter.close()
            if debug:
                reporter.error(traceback.format_exc().rstrip("\n"))
            reporter.error(f"Error: {exc}")
            sys.exit(exc.exit_code)
        except (KeyboardInterrupt, click.exceptions.Exit, click.ClickException):
            reporter.close()
            raise
        except Exception as exc:
            reporter.close()
            if debug:
                reporter.error(traceback.format_exc().rstrip("\n"))
            else:
                reporter.error(
                    f"Error: listhygiene failed unexpectedly ({type(exc).__name__}: {exc}). Run "
                    "the same command with --debug to see the traceback, and report it."
                )
            sys.exit(INTERNAL_ERROR)
        finally:
            reporter.close()

    return wrapper


def dns_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--dns and its companions, shared by `run` and `check-email`; passes `dns`."""

    @click.option(
        "--dns",
        "dns_mode",
        type=click.Choice(["off", "cache", "live"]),
        default="cache",
        show_default=True,
        help="off: no DNS verdicts; cache: answers from the store only, misses are unknown "
        "(never uses the network); live: resolve misses and fill the cache.",
    )
    @click.option(
        "--dns-server",
        "dns_servers",
        multiple=True,
        metavar="HOST[:PORT]",
        help="A DNS server for --dns live (an IP address, repeatable; `system` for the "
        "servers of /etc/resolv.conf).",
    )
    @click.option(
        "--dns-timeout",
        type=click.FloatRange(min=0.05),
        default=2.0,
        show_default=True,
        help="Seconds per DNS query before the domain counts as a timeout.",
    )
    @click.option(
        "--dns-concurrency",
        type=click.IntRange(min=1),
        default=64,
        show_default=True,
        help="DNS queries in flight at once.",
    )
    @click.option(
        "--dns-budget",
        type=click.FloatRange(min=0.1),
        default=60.0,
        show_default=True,
        help="Seconds for all DNS lookups of a run; domains left are timeouts.",
    )
    @functools.wraps(func)
    def wrapper(
        *args: Any,
        dns_mode: str,
        dns_servers: tuple[str, ...],
        dns_timeout: float,
        dns_concurrency: int,
        dns_budget: float,
        **kwargs: Any,
    ) -> Any:
        from .deliverability import DnsOptions

        dns = DnsOptions(dns_mode, dns_servers, dns_timeout, dns_concurrency, dns_budget)
        return func(*args, dns=dns, **kwargs)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="listhygiene")
def main() -> None:
    """Turn messy contact exports into clean, import-ready lists."""


def _paths_or_uris(_ctx: Any, _param: Any, values: tuple[str, ...]) -> list[Path | str]:
    """Local paths as Paths; URIs (hdfs://, s3://, file://...) kept as written, since a
    Path would fold their `//` (only --engine spark reads them)."""
    from .spark_engine import is_uri

    return [v if is_uri(v) else Path(v) for v in values]


@main.command("run")
@click.argument("contacts", nargs=-1, required=True, callback=_paths_or_uris)
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("out"),
    show_default=True,
    help="Folder for the outputs; replaced atomically at the end.",
)
@click.option(
    "--rules",
    "rules_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="A rules folder overlaid on the defaults (see `listhygiene rules check`).",
)
@click.option(
    "--db",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The DuckDB store [default: $LISTHYGIENE_DB or .listhygiene/store.duckdb].",
)
@click.option(
    "--as-of",
    "as_of",
    callback=lambda _ctx, _param, value: parse_as_of(value),
    metavar="TIMESTAMP",
    help="The run's clock, ISO 8601 (default: now, UTC); reruns with the same value "
    "give the same data outputs.",
)
@click.option(
    "--preset",
    metavar="NAME",
    help="Header preset for every input (default: detected per file from its header).",
)
@click.option(
    "--existing",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The target account's current contacts as it exports them (with its ids): its "
    "suppressions are carried over, and account_reconciliation.csv and import_preview.json "
    "are written.",
)
@click.option(
    "--events",
    "events",
    multiple=True,
    callback=_paths_or_uris,
    help="An events export (repeatable): the generic table, or Amazon SES, SendGrid, "
    "Mailgun, Postmark webhook exports or MailerDash engagement histories, detected by "
    "shape. Fills the engagement columns and writes unengaged.csv.",
)
@click.option(
    "--events-format",
    type=click.Choice(FORMAT_NAMES),
    help="Read every --events file as this format instead of detecting it.",
)
@click.option(
    "--threshold-days",
    type=click.IntRange(min=1),
    metavar="N",
    help="Days without a human open, click or reply that make a contact unengaged "
    "[default: rules/scoring.toml [winback] threshold_days, 90].",
)
@click.option(
    "--campaign-id",
    metavar="ID",
    help="Write winback.json and winback_audience.csv for this win-back campaign (needs --events).",
)
@click.option(
    "--winback-sent",
    multiple=True,
    metavar="ID",
    help="An earlier win-back campaign (repeatable; adds to rules/scoring.toml [winback] "
    "previous_campaigns): contacts it reached who did not respond go to "
    "suppress_candidates.csv.",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    type=click.Choice(TARGETS),
    help="Write the import payloads of this target API (repeatable) [default: all: "
    + ", ".join(TARGETS)
    + "].",
)
@click.option(
    "--import-tag",
    "import_tags",
    multiple=True,
    metavar="TAG",
    help="A batch tag for misarmail's import bodies (repeatable; adds to rules/payloads.toml "
    "[misarmail] tags).",
)
@click.option(
    "--keep-runs",
    type=click.IntRange(min=1),
    metavar="N",
    help="Keep the raw rows of the newest N finished runs in the store and remove older "
    "ones (the ledger keeps every run) [default: rules/ingest.toml [store] keep_raw_runs, 3].",
)
@click.option(
    "--engine",
    type=click.Choice(["duckdb", "spark"]),
    default="duckdb",
    show_default=True,
    help="duckdb: the embedded engine, in this process. spark: the same stages in Spark tasks, "
    "shard by shard (needs pyspark and Java; see docs/spark.md).",
)
@click.option(
    "--shards",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="N",
    help="--engine duckdb: split the contacts into N shards, merged and scored one after "
    "another in this process, so memory is bounded by a shard and one input file, not the "
    "whole list (the same outputs, byte for byte; see docs/scale.md). 1: all at once.",
)
@click.option(
    "--spark-master",
    metavar="URL",
    help="Spark master for --engine spark [default: spark-submit's, else local[2]].",
)
@click.option(
    "--spark-shards",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    metavar="N",
    help="Shards of contacts for --engine spark: each is merged and scored by one task.",
)
@click.option(
    "--spark-staging",
    metavar="URI",
    help="Where Spark tasks write their intermediate Parquet, a folder every executor and "
    "the driver can reach (hdfs://, s3://, ...) [default: a folder beside --out, removed "
    "after the run].",
)
@dns_options
@default_region_option
@common_options
def run_command(
    contacts: list[Path | str],
    out: Path,
    rules_dir: Path | None,
    db: Path | None,
    as_of: datetime,
    preset: str | None,
    existing: Path | None,
    events: list[Path | str],
    events_format: str | None,
    threshold_days: int | None,
    campaign_id: str | None,
    winback_sent: tuple[str, ...],
    targets: tuple[str, ...],
    import_tags: tuple[str, ...],
    keep_runs: int | None,
    engine: str,
    shards: int,
    spark_master: str | None,
    spark_shards: int,
    spark_staging: str | None,
    default_region: str | None,
    dns: Any,
    reporter: Reporter,
) -> None:
    """Read CONTACTS (files or folders) and write the outputs to --out.

    Inputs: CSV/TSV (UTF-8, UTF-16 with BOM, cp1252; , ; tab | delimiters), Parquet, JSON
    arrays, NDJSON, and .gz or .zip archives of these.
    """
    if engine == "spark" and shards != 1:
        raise click.UsageError(
            "--shards is the embedded engine's; with --engine spark give --spark-shards."
        )
    opts = RunOptions(
        inputs=list(contacts),
        out=out,
        db=db or default_store_path(),
        as_of=as_of,
        rules_dir=rules_dir,
        preset=preset,
        default_region=default_region,
        dns=dns,
        existing=existing,
        events=list(events),
        events_format=events_format,
        threshold_days=threshold_days,
        campaign_id=campaign_id,
        winback_sent=winback_sent,
        targets=tuple(dict.fromkeys(targets)) or TARGETS,
        import_tags=import_tags,
        debug=reporter.debug,
        argv=["listhygiene", *sys.argv[1:]],
        keep_runs=keep_runs,
        on_pii_key=reporter.pii.set_key,
        engine=engine,
        shards=shards,
        spark=SparkOptions(spark_master, spark_shards, spark_staging),
    )
    result = execute(opts, progress=reporter.progress)
    reporter.close()
    for w in result.warnings:
        reporter.warn(w)
    _summary(result.manifest, out, reporter)
    if not reporter.quiet:
        from rich.console import Console

        from .report import summary_table

        Console().print(summary_table(result.report))
    for gate in result.health.stats["gates"]:
        if gate["outcome"] == "warn":
            reporter.warn(gate["message"])
        elif gate["outcome"] == "block":  # an error even with --quiet: the scheduler alerts
            reporter.error(f"Gate failed: {gate['message']}")
    sys.exit(result.exit_code)


def _summary(manifest: dict[str, Any], out: Path, reporter: Reporter) -> None:
    rec = manifest["reconciliation"]
    lines = [f"Run {manifest['run_id']} (as of {manifest['as_of']})"]
    for i in manifest["inputs"]:
        lines.append(
            f"  {i['source_file']}: {i['input_rows']:,} rows, {i['rejected']:,} rejected "
            f"[{i['format']}, {i['encoding'] or '-'}, preset {i['preset']}]"
        )
    lines.append(
        f"Rows read: {rec['input_rows']:,}; rejected: {rec['rejected']:,}; duplicates merged: "
        f"{rec['duplicates_merged']:,}; unique contacts: {rec['unique_contacts']:,}."
    )
    lines.append(
        f"Outputs in {out}/: "
        + ", ".join(o["path"] for o in manifest["outputs"])
        + ", manifest.json"
    )
    reporter.info("\n".join(lines))


@main.command("check-email")
@click.argument("addresses", nargs=-1, required=True)
@click.option(
    "--db",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The store whose DNS cache answers --dns cache/live [default: $LISTHYGIENE_DB "
    "or .listhygiene/store.duckdb].",
)
@dns_options
@common_options
def check_email_command(
    addresses: tuple[str, ...], db: Path | None, dns: Any, reporter: Reporter
) -> None:
    """Print one JSON object per ADDRESS, in input order (`-` reads one address per
    line from stdin): the syntax verdict and normalized form exactly as
    email-validator gives them (after the same pre-cleaning `run` applies), the
    address flags, the DNS result and the verdict.

    Exit code 0 even when addresses are invalid: the verdicts are the output.
    """
    from .emails import check_emails  # email-validator loads only for this command

    items: list[str] = []
    for a in addresses:
        if a == "-":
            items.extend(line.rstrip("\r\n") for line in sys.stdin)
        else:
            items.append(a)
    results = check_emails(items)
    for verdict, extra in zip(results, _deliverability(results, db, dns), strict=True):
        line = json.dumps({**verdict, **extra}, ensure_ascii=False)
        # undecodable argument bytes come back out as the same bytes, not as an error
        click.echo(line.encode("utf-8", "surrogateescape"))


def _deliverability(
    results: list[dict[str, Any]], db: Path | None, dns: Any
) -> list[dict[str, Any]]:
    """Flags, DNS and verdict for check-email's syntax results, in order."""
    import polars as pl

    from .deliverability import OUTPUT_COLUMNS, contacts_deliverability, open_resolver
    from .store import Store

    frame = pl.DataFrame(
        {k: [r[k] for r in results] for k in ("email", "email_key", "valid")},
        schema={"email": pl.String, "email_key": pl.String, "valid": pl.Boolean},
    )
    rules = load_rules()
    path = db or default_store_path()
    if dns.mode == "off" or (dns.mode == "cache" and not path.exists()):
        # nothing to ask: a cache that does not exist is not created for a look-up
        return contacts_deliverability(frame, rules, None).select(OUTPUT_COLUMNS).to_dicts()
    store = Store.open(path)
    try:
        resolver = open_resolver(dns, store)
        out = contacts_deliverability(frame, rules, resolver)
    finally:
        store.close()
    return out.select(OUTPUT_COLUMNS).to_dicts()


@main.command("preview")
@click.argument("contacts", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--existing",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The target account's current contacts as it exports them.",
)
@click.option(
    "--out",
    "out_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the answer to this JSON file.",
)
@click.option(
    "--rules",
    "rules_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="A rules folder overlaid on the defaults.",
)
@click.option("--preset", metavar="NAME", help="Header preset for every contacts file.")
@default_region_option
@common_options
def preview_command(
    contacts: tuple[Path, ...],
    existing: Path,
    out_file: Path | None,
    rules_dir: Path | None,
    preset: str | None,
    default_region: str | None,
    reporter: Reporter,
) -> None:
    """Print MailerDash's import-preview answer {existing, total_unique, total_received}
    for CONTACTS against an account export, plus the count per class (new, update,
    unchanged, suppressed_in_account, only_in_account). Changes nothing: no store, no
    ledger, no outputs but --out."""
    from .run import preview

    answer = preview(list(contacts), existing, rules_dir, preset, default_region)
    text = json.dumps(answer, indent=2, ensure_ascii=False) + "\n"
    if out_file is not None:
        tmp = out_file.with_name(out_file.name + ".tmp")
        with owner_only():
            tmp.write_text(text, encoding="utf-8")
        tmp.replace(out_file)
    click.echo(text, nl=False)


@main.group("dns-cache")
def dns_cache_group() -> None:
    """Move the store's DNS cache between stores, as Parquet (see docs/spark.md)."""


_STORE_OPTION = click.option(
    "--db",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The store [default: $LISTHYGIENE_DB or .listhygiene/store.duckdb].",
)


@dns_cache_group.command("export")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@_STORE_OPTION
@common_options
def dns_cache_export(file: Path, db: Path | None, reporter: Reporter) -> None:
    """Write the store's DNS cache to FILE (Parquet)."""
    from .store import Store

    store = Store.open(db or default_store_path())
    try:
        rows = store.export_dns_cache(file)
    finally:
        store.close()
    reporter.info(f"Wrote {rows:,} DNS answers to {file}.")


@dns_cache_group.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@_STORE_OPTION
@common_options
def dns_cache_import(file: Path, db: Path | None, reporter: Reporter) -> None:
    """Merge FILE (a `dns-cache export`) into the store's DNS cache: an answer replaces
    the store's only when it was fetched later."""
    from .store import Store

    store = Store.open(db or default_store_path())
    try:
        read, taken = store.import_dns_cache(file)
    finally:
        store.close()
    reporter.info(f"Read {read:,} DNS answers from {file}; {taken:,} were new or newer.")


@main.group("rules")
def rules_group() -> None:
    """Inspect and validate rules folders."""


@rules_group.command("check")
@click.option(
    "--rules",
    "rules_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="The rules folder to check, overlaid on the defaults (default: the defaults).",
)
@common_options
def rules_check(rules_dir: Path | None, reporter: Reporter) -> None:
    """Validate a rules folder and list every problem at once (exit 2 if any)."""
    rules = load_rules(rules_dir)
    reporter.info(
        f"Rules OK: {len(rules.files)} files, presets {', '.join(sorted(rules.presets))}; "
        f"hash {rules.hash[:12]}."
    )


if __name__ == "__main__":  # pragma: no cover
    main()
