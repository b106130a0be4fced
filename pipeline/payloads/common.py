"""What every target's payload shares: which contacts go (SEND) or why not (WHY), the
counts per target, the records checked against their pandera model, the limits applied,
and import bodies batched."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pandera.polars as pa
import polars as pl

from ..schemas.checks import failed_rows
from .batches import Request, numbered, record_batches
from .records import POS, Field, Limited, encode, within_limits
from .rules import PayloadRules

SEND = "__send"  # active | suppressed | null (left out, see WHY)
WHY = "__why"
# Where a target's bodies go as they are made: (file under payloads/<target>/, the body in
# parts, its rows) -> the body, when the sink keeps it in memory (build_payloads), else None
Sink = Callable[[str, Iterable[bytes], int | None], bytes | None]


@dataclass
class TargetPayloads:
    requests: list[Request] = field(default_factory=list)
    alternatives: list[Request] = field(default_factory=list)  # same contacts, other form
    files: list[tuple[str, bytes, int | None]] = field(default_factory=list)  # extra files
    sent: dict[str, int] = field(default_factory=dict)  # active / suppressed -> contacts
    left_out: dict[str, int] = field(default_factory=dict)  # reason -> contacts
    warnings: list[pl.DataFrame] = field(default_factory=list)


@dataclass
class Payloads:
    targets: dict[str, TargetPayloads]
    warnings: pl.DataFrame
    unique_contacts: int

    def summary(self) -> dict[str, Any]:
        return {name: target_summary(t, self.unique_contacts) for name, t in self.targets.items()}


def target_summary(t: TargetPayloads, unique_contacts: int) -> dict[str, Any]:
    """One target's entry of the manifest's `payloads`."""
    sent = sum(t.sent.values())
    return {
        "requests": sum(
            r.contacts if r.extra.get("one_request_per_line") else 1 for r in t.requests
        ),
        "files": len(t.requests) + len(t.alternatives) + len(t.files),
        "contacts_sent": sent,
        "sent": dict(sorted(t.sent.items())),
        "left_out": dict(sorted(t.left_out.items())),
        "records": sum(
            r.contacts for r in t.requests if not set(r.extra) & {"changes_nothing", "deletes"}
        ),
        "warnings": int(sum(w.height for w in t.warnings)),
        "reconciles": sent + sum(t.left_out.values()) == unique_contacts,
    }


def counts_by(frame: pl.DataFrame, column: str) -> dict[str, int]:
    return {str(k): int(n) for k, n in frame.group_by(column).len().iter_rows() if k is not None}


def selection(
    contacts: pl.DataFrame, classes: pl.DataFrame | None, rules: PayloadRules
) -> pl.DataFrame:
    """The contacts with SEND (what each is sent as) and WHY (why it is left out)."""
    frame = contacts
    if classes is not None:
        frame = frame.join(
            classes.select("email_key", "class", "account_id", "account_status", "changed_fields"),
            on="email_key",
            how="left",
            maintain_order="left",
        )
    else:
        frame = frame.with_columns(
            pl.lit(None, pl.String).alias("class"),
            pl.lit(None, pl.String).alias("account_id"),
            pl.lit(None, pl.String).alias("account_status"),
            pl.lit(None, pl.List(pl.String)).alias("changed_fields"),
        )
    active = pl.col("status") == "active"
    eligible = pl.col("verdict").is_in(list(rules.verdicts))
    why = (
        pl.when(pl.col("class") == "unchanged")
        .then(pl.lit("unchanged_in_account"))
        .when(pl.col("class") == "suppressed_in_account")
        .then(pl.lit("suppressed_in_account"))
        .when(active & ~eligible)
        .then(pl.format("verdict_{}", pl.col("verdict")))
        .when(~active & pl.lit(not rules.send_suppressed))
        .then(pl.lit("suppressed_omitted"))
    )
    send = pl.when(why.is_not_null()).then(None).when(active).then(pl.lit("active"))
    return frame.with_columns(why.alias(WHY), send.otherwise(pl.lit("suppressed")).alias(SEND))


def status_as(active_as: str, suppressed_as: str | None) -> pl.Expr:
    """The target's spelling of our status; suppressed_as None: the contact's own status."""
    own = pl.col("status") if suppressed_as is None else pl.lit(suppressed_as)
    return pl.when(pl.col("status") == "active").then(pl.lit(active_as)).otherwise(own)


def checked(model: type[pa.DataFrameModel], records: pl.DataFrame, target: str) -> None:
    failures = failed_rows(model, records)
    if failures.height:  # a bug in the limit code, never the input's fault
        raise RuntimeError(
            f"{target} payload records failed {model.__name__}: {failures.head(5).rows()}"
        )


def records_of(
    frame: pl.DataFrame, fields: tuple[Field, ...], model: type[pa.DataFrameModel], target: str
) -> pl.Series:
    checked(model, frame.select(pl.col(f.column).alias(f.key) for f in fields), target)
    return frame.select(encode(fields).alias("r")).get_column("r")


def spooled(part: pl.DataFrame, records: pl.Series) -> pl.DataFrame:
    """Records as a spool holds them: `r` with each contact's POS, by which the parts
    made per shard merge into one order."""
    return part.select(POS).with_columns(records.alias("r"))


def tally(t: TargetPayloads, sent: pl.DataFrame, left: pl.DataFrame, reason: str | None) -> None:
    for k, n in counts_by(sent, SEND).items():
        t.sent[k] = t.sent.get(k, 0) + n
    counts = counts_by(left, WHY) if reason is None else {reason: left.height}
    for k, n in counts.items():
        if n:
            t.left_out[k] = t.left_out.get(k, 0) + n


def sendable(
    sel: pl.DataFrame,
    status: pl.Expr,
    fields: tuple[Field, ...],
    target: str,
    rules: PayloadRules,
    t: TargetPayloads,
) -> pl.DataFrame:
    """The selection's contacts the target is sent, with `__status` (the target's
    spelling, `status`) and within its limits; those left out are counted in `t`."""
    frame = sel.with_columns(status.alias("__status"))
    tally(t, frame.head(0), frame.filter(pl.col(SEND).is_null()), None)
    return apply_limits(frame.filter(pl.col(SEND).is_not_null()), fields, target, rules, t)


def apply_limits(
    frame: pl.DataFrame,
    fields: tuple[Field, ...],
    target: str,
    rules: PayloadRules,
    t: TargetPayloads,
) -> pl.DataFrame:
    return absorb(within_limits(frame, fields, target, rules.policy), t)


def absorb(limited: Limited, t: TargetPayloads) -> pl.DataFrame:
    """The rows a limit check kept; its warnings and skipped rows counted for the target."""
    t.warnings.append(limited.warnings)
    if limited.skipped:
        t.left_out["over_limit"] = t.left_out.get("over_limit", 0) + limited.skipped
    return limited.frame


def import_bodies(
    records: Iterable[pl.Series],
    batch: int,
    max_bytes: int,
    stem: str,
    path: str,
    envelope: Callable[[str], str],
    sink: Sink,
    extra: dict[str, Any] | None = None,
    start: int = 1,
) -> list[Request]:
    """The import bodies of `records` (in order), each given to `sink` as it is made."""
    overhead = len(envelope("").encode())
    out = []
    for n, (array, count) in enumerate(record_batches(records, batch, max_bytes, overhead), start):
        req = Request(numbered(stem, n, "json"), "POST", path, "application/json", count,
                      b"", dict(extra or {}))  # fmt: skip
        req.body = sink(req.file, [envelope(array).encode()], count) or b""
        out.append(req)
    return out


def lines_body(lines: Iterable[pl.Series]) -> Iterator[bytes]:
    """A body of one text per line (NDJSON), in parts."""
    for series in lines:
        if series.len():
            yield (series.str.join("\n").item() + "\n").encode()
