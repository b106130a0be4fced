"""Import-ready payloads for each target API (seeds 000, 001, 003, 004), under
`payloads/<target>/`, with `payloads/requests.json` listing every request to send.

One rule for every target (rules/payloads.toml [eligibility]): active contacts with
an eligible verdict are sent as active/subscribed; a suppressed contact (here or in
the account) is sent only with a suppressed status the target documents, or left
out; never as active. With `--existing`, contacts the account already has unchanged,
or has suppressed, are left out, and updates go where the target takes them.
Every contact of contacts.csv is either sent or counted under a reason it was left
out, per target (`reconciliation` in the manifest).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pandera.polars as pa
import polars as pl

from ..outputs import neutralize_formulas
from ..schemas.checks import failed_rows
from ..schemas.payloads import (
    MailerdashContact,
    MisarIoContact,
    MisarMailContact,
    MisarmailContact,
)
from .batches import Request, json_arrays, numbered
from .records import (
    Field,
    Limited,
    custom_fields_fix,
    empty_warnings,
    encode,
    json_string,
    objects_within_limits,
    social_profiles_fix,
    within_limits,
)
from .rules import PayloadRules

TARGETS = ("misarmail", "misar-mail", "misar-io", "mailerdash")
SUPPRESSED = ("unsubscribed", "bounced", "complained")
SEND = "__send"  # active | suppressed | null (left out, see WHY)
WHY = "__why"


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


def _counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
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


def _status(active_as: str, suppressed_as: str | None) -> pl.Expr:
    """The target's spelling of our status; suppressed_as None: the contact's own status."""
    own = pl.col("status") if suppressed_as is None else pl.lit(suppressed_as)
    return pl.when(pl.col("status") == "active").then(pl.lit(active_as)).otherwise(own)


def _checked(model: type[pa.DataFrameModel], records: pl.DataFrame, target: str) -> None:
    failures = failed_rows(model, records)
    if failures.height:  # a bug in the limit code, never the input's fault
        raise RuntimeError(
            f"{target} payload records failed {model.__name__}: {failures.head(5).rows()}"
        )


def _records(
    frame: pl.DataFrame, fields: tuple[Field, ...], model: type[pa.DataFrameModel], target: str
) -> pl.Series:
    _checked(model, frame.select(pl.col(f.column).alias(f.key) for f in fields), target)
    return frame.select(encode(fields).alias("r")).get_column("r")


def _tally(t: TargetPayloads, sent: pl.DataFrame, left: pl.DataFrame, reason: str | None) -> None:
    for k, n in _counts(sent, SEND).items():
        t.sent[k] = t.sent.get(k, 0) + n
    counts = _counts(left, WHY) if reason is None else {reason: left.height}
    for k, n in counts.items():
        if n:
            t.left_out[k] = t.left_out.get(k, 0) + n


def _apply_limits(
    frame: pl.DataFrame,
    fields: tuple[Field, ...],
    target: str,
    rules: PayloadRules,
    t: TargetPayloads,
) -> pl.DataFrame:
    limited = within_limits(frame, fields, target, rules.policy)
    t.warnings.append(limited.warnings)
    if limited.skipped:
        t.left_out["over_limit"] = t.left_out.get("over_limit", 0) + limited.skipped
    return limited.frame


def _object_limits(frame: pl.DataFrame, limited: Limited, t: TargetPayloads) -> pl.DataFrame:
    t.warnings.append(limited.warnings)
    if limited.skipped:
        t.left_out["over_limit"] = t.left_out.get("over_limit", 0) + limited.skipped
    return limited.frame


def _import_bodies(
    records: pl.Series,
    batch: int,
    max_bytes: int,
    stem: str,
    path: str,
    envelope: Callable[[str], str],
    extra: dict[str, Any] | None = None,
    start: int = 1,
) -> list[Request]:
    overhead = len(envelope("").encode())
    out = []
    for n, (array, count) in enumerate(json_arrays(records, batch, max_bytes, overhead), start):
        out.append(
            Request(numbered(stem, n, "json"), "POST", path, "application/json", count,
                    envelope(array).encode(), dict(extra or {}))
        )  # fmt: skip
    return out


# -- misarmail (seed 000) -------------------------------------------------------------------

MISARMAIL_FIELDS = (
    Field("email", "email", max_chars=254),
    Field("firstName", "first_name"),
    Field("lastName", "last_name"),
    Field("phone", "phone"),
    Field("tags", "tags", "list"),
    Field("metadata", "custom_fields", "json"),
    Field("status", "__status"),
)
UPDATE_FIELDS = {  # our changed field -> (payload key, value column)
    "first_name": ("firstName", "first_name"),
    "last_name": ("lastName", "last_name"),
    "phone": ("phone", "phone"),
    "tags": ("tags", "__tags_union"),
    "custom_fields": ("metadata", "custom_fields"),
    "status": ("status", "__status"),
}


def misarmail(
    sel: pl.DataFrame, account: pl.DataFrame | None, rules: PayloadRules, import_tags: list[str]
) -> TargetPayloads:
    t = TargetPayloads()
    frame = sel.with_columns(_status("active", "unsubscribed").alias("__status"))
    left = frame.filter(pl.col(SEND).is_null())
    _tally(t, frame.head(0), left, None)
    go = _apply_limits(
        frame.filter(pl.col(SEND).is_not_null()), MISARMAIL_FIELDS, "misarmail", rules, t
    )
    tags = list(dict.fromkeys([*rules.misarmail_tags, *import_tags]))
    has_account = account is not None
    new = go.filter(pl.col("class").is_null() | (pl.col("class") == "new"))
    skip_existing = True if has_account else rules.misarmail_skip_existing

    def envelope(arr: str) -> str:
        return (
            '{"contacts":'
            + arr
            + ',"skipExisting":'
            + json.dumps(skip_existing)
            + ',"tags":'
            + json.dumps(tags, ensure_ascii=False)
            + "}"
        )

    t.requests += _import_bodies(
        _records(new, MISARMAIL_FIELDS, MisarmailContact, "misarmail"),
        rules.misarmail_batch,
        rules.max_body_bytes,
        "import",
        "/v1/contacts/import",
        envelope,
        {"skipExisting": skip_existing, "tags": tags},
    )
    _tally(t, new, new.head(0), None)
    updates = go.filter(pl.col("class") == "update")
    if has_account and updates.height:
        t.requests += _bulk_updates(updates, account, rules)
        _tally(t, updates, updates.head(0), None)
    return t


def _bulk_updates(
    updates: pl.DataFrame, account: pl.DataFrame, rules: PayloadRules
) -> list[Request]:
    """`PATCH /v1/contacts/bulk` bodies `{ids, update}`: contacts whose update is the same
    share a body. Tags are the union of the account's and ours (an update never removes
    a tag); a status change is `unsubscribed`, the one suppressed status seed 000 takes."""
    acc_tags = (
        account.select("email_key", pl.col("tags").alias("__acc_tags"))
        if "tags" in account.columns
        else account.select("email_key", pl.lit(None, pl.List(pl.String)).alias("__acc_tags"))
    ).unique("email_key", keep="first", maintain_order=True)
    frame = updates.join(acc_tags, on="email_key", how="left", maintain_order="left").with_columns(
        pl.concat_list(pl.col("__acc_tags").fill_null([]), pl.col("tags").fill_null([]))
        .list.unique(maintain_order=True)
        .alias("__tags_union")
    )
    changed = pl.col("changed_fields")
    frame = frame.with_columns(
        pl.when(changed.list.contains(ours)).then(pl.col(col)).alias(f"__u_{key}")
        for ours, (key, col) in UPDATE_FIELDS.items()
    )
    kinds = {"tags": "list", "metadata": "json"}
    fields = tuple(
        Field(key, f"__u_{key}", kinds.get(key, "text")) for key, _ in UPDATE_FIELDS.values()
    )
    frame = frame.with_columns(encode(fields).alias("__update")).filter(pl.col("__update") != "{}")
    groups = frame.group_by("__update", maintain_order=True).agg(pl.col("account_id"))
    out: list[Request] = []
    n = 0
    for update, ids in groups.iter_rows():
        for i in range(0, len(ids), rules.misarmail_batch):
            n += 1
            chunk = ids[i : i + rules.misarmail_batch]
            body = '{"ids":' + json.dumps(chunk) + ',"update":' + update + "}"
            out.append(
                Request(numbered("bulk-update", n, "json"), "PATCH", "/v1/contacts/bulk",
                        "application/json", len(chunk), body.encode())
            )  # fmt: skip
    return out


# -- misar-mail (seed 001) ------------------------------------------------------------------

MISAR_MAIL_FIELDS = (
    Field("email", "email", max_chars=254),
    Field("firstName", "first_name"),
    Field("lastName", "last_name"),
    Field("phone", "phone"),
    Field("tags", "tags", "list", max_items=50),
    Field("customFields", "custom_fields", "json"),
    Field("status", "__status"),
)


def misar_mail(sel: pl.DataFrame, has_account: bool, rules: PayloadRules) -> TargetPayloads:
    t = TargetPayloads()
    frame = sel.with_columns(_status("subscribed", None).alias("__status"))
    _tally(t, frame.head(0), frame.filter(pl.col(SEND).is_null()), None)
    go = _apply_limits(
        frame.filter(pl.col(SEND).is_not_null()), MISAR_MAIL_FIELDS, "misar-mail", rules, t
    )
    if has_account:  # the preview says which exist: new ones never update, updates do
        streams = [(go.filter(pl.col("class") == "new"), False),
                   (go.filter(pl.col("class") == "update"), True)]  # fmt: skip
    else:
        streams = [(go, rules.misar_mail_update_existing)]
    n = 1
    for part, update in streams:
        if part.is_empty():
            continue
        flag = json.dumps(update)
        reqs = _import_bodies(
            _records(part, MISAR_MAIL_FIELDS, MisarMailContact, "misar-mail"),
            rules.misar_mail_batch, rules.max_body_bytes, "import", "/api/v1/contacts/import",
            lambda arr, flag=flag: '{"contacts":' + arr + ',"update_existing":' + flag + "}",
            {"update_existing": update}, start=n,
        )  # fmt: skip
        n += len(reqs)
        t.requests += reqs
        _tally(t, part, part.head(0), None)
        t.alternatives += _misar_mail_csv(part, update, rules, len(t.alternatives) + 1, t)
    return t


def _misar_mail_csv(
    part: pl.DataFrame, update: bool, rules: PayloadRules, start: int, t: TargetPayloads
) -> list[Request]:
    """The CSV form (`Content-Type: text/csv`, header email,firstName,lastName,tags): it
    has no status column, so it carries the subscribed contacts only; and tags are
    `,`-joined in one cell, so a contact with a `,` or `;` in a tag goes by JSON only.
    `update_existing` is a query parameter for a CSV body."""
    active = part.filter(pl.col(SEND) == "active")
    split = pl.col("tags").list.eval(pl.element().str.contains("[,;]")).list.any().fill_null(False)
    odd = active.filter(split)
    if odd.height:
        t.warnings.append(odd.select(
            pl.lit("misar-mail").alias("target"), "email", pl.lit("tags").alias("field"),
            pl.lit("not_carried").alias("action"), pl.lit("no , or ; in a CSV tag").alias("limit"),
            pl.lit("a tag holds a comma or semicolon, which the CSV form's tags cell would "
                   "split: this contact is in the JSON import only.").alias("message"),
        ))  # fmt: skip
    rows = active.filter(~split).select(
        "email",
        pl.col("first_name").alias("firstName"),
        pl.col("last_name").alias("lastName"),
        pl.col("tags").list.join(",").alias("tags"),
    )
    out = []
    for i, lo in enumerate(range(0, rows.height, rules.misar_mail_batch), start=start):
        chunk = neutralize_formulas(rows.slice(lo, rules.misar_mail_batch))
        out.append(
            Request(numbered("import", i, "csv"), "POST",
                    "/api/v1/contacts/import" + ("?update_existing=true" if update else ""),
                    "text/csv", chunk.height, chunk.write_csv().encode(),
                    {"update_existing": update})
        )  # fmt: skip
    return out


# -- misar-io (seed 003) --------------------------------------------------------------------

MISAR_IO_FIELDS = (
    Field("email", "email", max_chars=254),
    Field("firstName", "first_name", max_chars=100),
    Field("lastName", "last_name", max_chars=100),
    Field("phone", "phone", max_chars=50),
    Field("company", "company", max_chars=150),
    Field("jobTitle", "job_title", max_chars=100),
    Field("socialProfiles", "social_profiles", "json"),
    Field("status", "__status"),
    Field("customFields", "custom_fields", "json"),
    Field("source", "source", max_chars=100),
)
UPSERT_PATH = "/io/contacts/contacts?upsert=1"


def misar_io(sel: pl.DataFrame, rules: PayloadRules) -> TargetPayloads:
    t = TargetPayloads()
    frame = sel.with_columns(_status("subscribed", None).alias("__status"))
    _tally(t, frame.head(0), frame.filter(pl.col(SEND).is_null()), None)
    go = _apply_limits(
        frame.filter(pl.col(SEND).is_not_null()), MISAR_IO_FIELDS, "misar-io", rules, t
    )
    cf = pl.col("custom_fields")
    # cheap bound: every key is followed by `":`, so fewer than 21 of them means ≤ 20 keys
    maybe_over = (cf.str.len_bytes() > 8192) | (cf.str.count_matches('":', literal=True) > 20)
    go = _object_limits(go, objects_within_limits(
        go, "custom_fields", "customFields", custom_fields_fix(20, 8192), "misar-io",
        rules.policy, "20 keys, 8192 bytes", maybe_over), t)  # fmt: skip
    go = _object_limits(go, objects_within_limits(
        go, "social_profiles", "socialProfiles", social_profiles_fix(500), "misar-io",
        rules.policy, "documented keys, 500 characters"), t)  # fmt: skip
    records = _records(go, MISAR_IO_FIELDS, MisarIoContact, "misar-io")
    _tally(t, go, go.head(0), None)
    if records.len():
        body = (records.str.join("\n").item() + "\n").encode()
        t.requests.append(
            Request("upserts.ndjson", "POST", UPSERT_PATH, "application/x-ndjson", records.len(),
                    body, {"one_request_per_line": True})
        )  # fmt: skip
    windows = math.ceil(records.len() / rules.misar_io_writes)
    plan = {
        "requests": records.len(),
        "method": "POST",
        "path": UPSERT_PATH,
        "file": "payloads/misar-io/upserts.ndjson",
        "writes_per_window": rules.misar_io_writes,
        "window_seconds": rules.misar_io_window_seconds,
        "windows": windows,
        # the first window starts at once; each later one waits for the window to pass
        "minimum_seconds": max(windows - 1, 0) * rules.misar_io_window_seconds,
    }
    t.files.append(("plan.json", (json.dumps(plan, indent=2) + "\n").encode(), None))
    return t


# -- mailerdash (seed 004) ------------------------------------------------------------------

MAILERDASH_FIELDS = (
    Field("email", "email", max_chars=254),
    Field("name", "__name"),
    Field("metadata", "custom_fields", "json"),
)


def mailerdash(
    sel: pl.DataFrame, has_account: bool, candidates: pl.Series | None, rules: PayloadRules
) -> TargetPayloads:
    t = TargetPayloads()
    frame = sel.with_columns(
        pl.concat_str("first_name", "last_name", separator=" ", ignore_nulls=True)
        .replace("", None)
        .alias("__name")
    )
    _tally(t, frame.head(0), frame.filter(pl.col(SEND).is_null()), None)
    suppressed = frame.filter(pl.col(SEND) == "suppressed")
    _tally(t, frame.head(0), suppressed, "no_status_in_import")
    lost = suppressed.filter(pl.col("class") == "update")  # active in the account
    if lost.height:
        t.warnings.append(lost.select(
            pl.lit("mailerdash").alias("target"), "email", pl.lit("status").alias("field"),
            pl.lit("not_carried").alias("action"), pl.lit("no status in import").alias("limit"),
            pl.format(
                "{} here, active in the account: mailerdash's import cannot carry a status; "
                "set it with PATCH /v1/bulk/contacts/{} and body {{\"status\": \"unsubscribed\"}}.",
                pl.col("status"), pl.col("email"),
            ).alias("message"),
        ))  # fmt: skip
    go = _apply_limits(
        frame.filter(pl.col(SEND) == "active"), MAILERDASH_FIELDS, "mailerdash", rules, t
    )
    records = _records(go, MAILERDASH_FIELDS, MailerdashContact, "mailerdash")
    _tally(t, go, go.head(0), None)
    t.requests += _import_bodies(
        records, rules.mailerdash_batch, rules.max_body_bytes, "import",
        "/v1/bulk/contacts/import", lambda arr: arr,
    )  # fmt: skip
    emails = go.select(json_string(pl.col("email"))).to_series()
    t.requests += _import_bodies(
        emails, rules.mailerdash_batch, rules.max_body_bytes, "import-preview",
        "/v1/bulk/contacts/import-preview", lambda arr: '{"emails":' + arr + "}",
        {"changes_nothing": True},
    )  # fmt: skip
    if has_account:
        in_account = sel.filter(pl.col("account_id").is_not_null() | pl.col("class").is_in(
            ["update", "unchanged", "suppressed_in_account"]))  # fmt: skip
        doomed = pl.col("verdict").is_in(list(rules.delete_verdicts))
        if rules.delete_suppress_candidates and candidates is not None:
            doomed = doomed | pl.col("email").is_in(candidates.implode())
        # Never a suppressed contact, whatever its verdict: deleting it would delete the
        # account's record of the unsubscribe, and a later import could bring it back.
        doomed = doomed & (pl.col("status") == "active")
        gone = in_account.filter(doomed).get_column("email").to_list()
        for i, lo in enumerate(range(0, len(gone), rules.mailerdash_batch), start=1):
            chunk = gone[lo : lo + rules.mailerdash_batch]
            t.requests.append(
                Request(numbered("delete", i, "json"), "POST", "/v1/bulk/contacts/delete",
                        "application/json", len(chunk),
                        json.dumps({"emails": chunk}, ensure_ascii=False).encode(),
                        {"deletes": True})
            )  # fmt: skip
    return t


# -- all targets ----------------------------------------------------------------------------


def build_payloads(
    contacts: pl.DataFrame,
    targets: tuple[str, ...],
    rules: PayloadRules,
    classes: pl.DataFrame | None = None,
    account: pl.DataFrame | None = None,
    import_tags: tuple[str, ...] = (),
    suppress_candidates: pl.Series | None = None,  # their `email`
) -> Payloads:
    """Every selected target's request bodies for the final contacts."""
    built = dict(
        each_target_payloads(
            contacts, targets, rules, classes, account, import_tags, suppress_candidates
        )
    )
    return Payloads(built, _warnings(built.values()), contacts.height)


def each_target_payloads(
    contacts: pl.DataFrame,
    targets: tuple[str, ...],
    rules: PayloadRules,
    classes: pl.DataFrame | None = None,
    account: pl.DataFrame | None = None,
    import_tags: tuple[str, ...] = (),
    suppress_candidates: pl.Series | None = None,
) -> Iterator[tuple[str, TargetPayloads]]:
    """`build_payloads` one target at a time, so that a caller that writes each target's
    bodies before asking for the next holds one target's bodies at most."""
    sel = selection(contacts, classes, rules)
    has_account = classes is not None
    for name in dict.fromkeys(targets):
        if name == "misarmail":
            yield name, misarmail(sel, account if has_account else None, rules, list(import_tags))
        elif name == "misar-mail":
            yield name, misar_mail(sel, has_account, rules)
        elif name == "misar-io":
            yield name, misar_io(sel, rules)
        elif name == "mailerdash":
            yield name, mailerdash(sel, has_account, suppress_candidates, rules)


def _warnings(targets: Iterable[TargetPayloads]) -> pl.DataFrame:
    frames = [w for t in targets for w in t.warnings if w.height]
    return pl.concat(frames) if frames else empty_warnings()


class PayloadWriter:
    """Writes each target's bodies into `payloads/<target>/` as it comes, then
    `payloads/requests.json` and payload_warnings.csv, through the run's atomic
    OutputDir. A written target's bodies are released (only the index is kept)."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.index: list[dict[str, Any]] = []
        self.alternatives: list[dict[str, Any]] = []
        self.warnings: list[pl.DataFrame] = []

    def target(self, name: str, t: TargetPayloads) -> None:
        out = self.out
        for r in t.requests:
            out.write_bytes(f"payloads/{name}/{r.file}", r.body, r.contacts)
            self.index.append(r.describe(name))
        for r in t.alternatives:
            out.write_bytes(f"payloads/{name}/{r.file}", r.body, r.contacts)
            self.alternatives.append(r.describe(name))
        for rel, body, rows in t.files:
            out.write_bytes(f"payloads/{name}/{rel}", body, rows)
        self.warnings.extend(w for w in t.warnings if w.height)

    def finish(self) -> None:
        self.out.write_json(
            "payloads/requests.json",
            {"requests": self.index, "alternatives": self.alternatives},
            rows=len(self.index),
        )
        warnings = pl.concat(self.warnings) if self.warnings else empty_warnings()
        self.out.write_csv("payload_warnings.csv", warnings)


def write_payloads(payloads: Payloads, out: Any) -> None:
    """The bodies into `payloads/<target>/`, `payloads/requests.json`, and
    payload_warnings.csv, through the run's atomic OutputDir."""
    writer = PayloadWriter(out)
    for name, t in payloads.targets.items():
        writer.target(name, t)
    writer.finish()
