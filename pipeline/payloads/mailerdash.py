"""mailerdash (seed 004): import arrays, import-preview bodies and, with an account,
bulk-delete bodies."""

from __future__ import annotations

import json

import polars as pl

from ..schemas.payloads import MailerdashContact
from .batches import Request, numbered
from .common import (
    SEND,
    TargetPayloads,
    apply_limits,
    import_bodies,
    records_of,
    tally,
)
from .records import Field, json_string, warnings_of
from .rules import PayloadRules

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
    tally(t, frame.head(0), frame.filter(pl.col(SEND).is_null()), None)
    suppressed = frame.filter(pl.col(SEND) == "suppressed")
    tally(t, frame.head(0), suppressed, "no_status_in_import")
    lost = suppressed.filter(pl.col("class") == "update")  # active in the account
    if lost.height:
        t.warnings.append(warnings_of(
            lost, "mailerdash", "status", "not_carried", "no status in import",
            pl.format(
                "{} here, active in the account: mailerdash's import cannot carry a status; "
                "set it with PATCH /v1/bulk/contacts/{} and body {{\"status\": \"unsubscribed\"}}.",
                pl.col("status"), pl.col("email"),
            ),
        ))  # fmt: skip
    go = apply_limits(
        frame.filter(pl.col(SEND) == "active"), MAILERDASH_FIELDS, "mailerdash", rules, t
    )
    records = records_of(go, MAILERDASH_FIELDS, MailerdashContact, "mailerdash")
    tally(t, go, go.head(0), None)
    t.requests += import_bodies(
        records, rules.mailerdash_batch, rules.max_body_bytes, "import",
        "/v1/bulk/contacts/import", lambda arr: arr,
    )  # fmt: skip
    emails = go.select(json_string(pl.col("email"))).to_series()
    t.requests += import_bodies(
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
