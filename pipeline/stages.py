"""The stage code both engines run: per input file, and per shard of contacts.

The embedded engine (run.py) calls `input_done` for each input file in turn and
`contacts_finished` once, on all contacts. The Spark engine (spark_engine.py)
calls the same two functions inside its tasks: `input_done` once per input file,
`contacts_finished` once per shard, a shard being every contact whose canonical
key (merge.canonical_keys of `email_key`) hashes to it, with their events. So
possible duplicates, merged records and a contact's events always meet in one
shard, and no stage is written twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

from .contact_counts import ContactCounts, contact_counts
from .deliverability import contacts_deliverability, verdicts_rechecked
from .dns import Resolver
from .engagement_lists import suppress_candidates, unengaged, winback_audience
from .events.normalize import NormalizedEvents
from .existing import apply_account_suppressions
from .ingest import RawTable
from .ingest.table import RowReject
from .merge import Merged, contacts_merged
from .presets import MappedTable, detect_preset, map_columns
from .ruleset import RuleSet
from .schemas import REJECT_SCHEMA
from .scoring import Scored, contacts_scored
from .validate import contacts_validated

Stage = Callable[[str], AbstractContextManager[Any]]  # StageClock.stage, or no clock


def no_clock(name: str) -> AbstractContextManager[Any]:
    return nullcontext()


@dataclass(frozen=True)
class InputRead:
    """What the later stages need of one input once its rows have moved on: no frames
    (a run keeps no input's cells past the stages that use them)."""

    source_file: str
    input_rows: int
    rejects: list[RowReject]
    email_index: int | None  # the email column's position in the file's header

    @classmethod
    def of(cls, table: RawTable, mapped: MappedTable | None) -> InputRead:
        idx = table.columns.index(mapped.email_column) if mapped else None
        return cls(table.source_file, table.input_rows, table.rejects, idx)


@dataclass
class InputDone:
    """One input file through map, validate and deliverability."""

    read: InputRead
    info: dict[str, Any]  # the ledger's row for the input (store.record_input)
    meta: dict[str, Any]  # the manifest's `inputs` entry
    warnings: list[str]
    contacts: pl.DataFrame  # validated and checked rows, input order
    rejects: pl.DataFrame  # REJECT_SCHEMA: the validation's row rejects
    fixes: pl.DataFrame  # FIX_SCHEMA
    mapped: MappedTable  # for --debug's copy in the store; dropped by the caller


def input_done(
    table: RawTable,
    rules: RuleSet,
    preset_name: str | None,
    default_region: str | None,
    resolver: Resolver | None,
    stage: Stage = no_clock,
) -> InputDone:
    """Map, validate and check one input (`resolver` None: DNS `not_checked`)."""
    with stage("map"):
        preset = detect_preset(table.columns, table.source_file, rules.presets, preset_name)
        mapped = map_columns(table, preset)
    with stage("validate"):
        validated = contacts_validated(mapped.frame, preset, rules, default_region)
    with stage("deliverability"):
        checked = contacts_deliverability(validated.contacts, rules, resolver)
    info = {
        "source_file": table.source_file,
        "sha256": table.sha256,
        "size_bytes": table.size_bytes,
        "format": table.format,
        "encoding": table.encoding,
        "delimiter": table.delimiter,
        "preset": preset.name,
        "input_rows": table.input_rows,
        "rejected": len(table.rejects) + validated.rejects.height,
        "blank_rows": table.blank_rows,
    }
    meta = {
        **info,
        "reader": table.reader,
        "accepted": validated.contacts.height,
        "email_column": mapped.email_column,
        "warnings": table.warnings + mapped.warnings,
    }
    return InputDone(
        read=InputRead.of(table, mapped),
        info=info,
        meta=meta,
        warnings=table.warnings + mapped.warnings,  # e.g. the email column guessed
        contacts=checked,
        rejects=validated.rejects,
        fixes=validated.fixes,
        mapped=mapped,
    )


def rejects_frame(tables: list[InputRead]) -> pl.DataFrame:
    """The readers' row rejects, with the email cell filled in where the row was read far
    enough."""
    records = []
    for table in tables:
        idx = table.email_index
        for r in table.rejects:
            email = r.email
            if not email and idx is not None and r.fields and idx < len(r.fields):
                # a cell of a row rejected for undecodable bytes keeps them as surrogates:
                # shown as \xNN, never an error
                email = (
                    r.fields[idx]
                    .encode("utf-8", "surrogateescape")
                    .decode("utf-8", "backslashreplace")
                )
            records.append((r.source_file, r.row, email or None, r.field, r.error, r.reason))
    return pl.DataFrame(records, schema=REJECT_SCHEMA, orient="row")


@dataclass
class Finished:
    """One shard's contacts (or all of them) merged, suppressed, scored, rechecked."""

    contacts: pl.DataFrame
    merged: Merged  # its `contacts` are those before scoring
    scored: Scored  # its `contacts` are those before the verdicts were rechecked
    # with events, each sorted list (engagement_lists, with its SORT_KEY) by output name:
    # unengaged, suppress_candidates and, with a campaign id, winback_audience
    lists: dict[str, pl.DataFrame]
    counts: ContactCounts  # what health, the report and the manifest need of `contacts`


def contacts_finished(
    accepted: pl.DataFrame,
    file_order: dict[str, int],
    account: pl.DataFrame | None,
    events: NormalizedEvents | pl.DataFrame | None,
    rules: RuleSet,
    as_of: datetime,
    threshold_days: int,
    winbacks: tuple[str, ...] = (),
    campaign_id: str | None = None,
    stage: Stage = no_clock,
) -> Finished:
    """Merge the accepted rows, carry over the account's suppressions (they win before
    any verdict), score from the events, recheck the verdicts for the new statuses, and
    make the engagement lists (the suppression candidates of the earlier win-back
    campaigns `winbacks`; the win-back audience with `campaign_id`); count the finished
    contacts for health and the report."""
    with stage("merge"):
        merged = contacts_merged(accepted, file_order, rules.merge)
        contacts = merged.contacts
        if account is not None:
            contacts = apply_account_suppressions(contacts, account)
    with stage("score"):
        scored = contacts_scored(
            contacts,
            events,
            rules.scoring,
            list(rules.merge.status_precedence),
            as_of,
            threshold_days,
        )
        finished = verdicts_rechecked(scored.contacts, rules)
        lists = {}
        if events is not None:
            spelled = events.events if isinstance(events, NormalizedEvents) else events
            lists["suppress_candidates"] = suppress_candidates(
                finished,
                account,
                spelled if winbacks else None,  # spelled out only when needed
                winbacks,
                rules.scoring,
                as_of,
            )
            lists["unengaged"] = unengaged(finished, account)
            if campaign_id is not None:
                lists["winback_audience"] = winback_audience(finished, account)
        counts = contact_counts(finished, as_of, threshold_days)
    return Finished(finished, merged, scored, lists, counts)


def each_table(reader: Iterator[RawTable], stage: Stage) -> Iterator[RawTable]:
    """The tables of `read_inputs`, each read timed as `ingest`."""
    while True:
        with stage("ingest"):
            table = next(reader, None)
        if table is None:
            return
        yield table
