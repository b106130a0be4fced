"""mailerdash (seed 004): import arrays, import-preview bodies and, with an account,
bulk-delete bodies."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from ..schemas.payloads import MailerdashContact
from .batches import Request, Spool, exact_chunks, numbered
from .common import (
    SEND,
    Sink,
    TargetPayloads,
    apply_limits,
    import_bodies,
    records_of,
    spooled,
    tally,
)
from .records import POS, Field, json_string, warnings_of
from .rules import PayloadRules

MAILERDASH_FIELDS = (
    Field("email", "email", max_chars=254),
    Field("name", "__name"),
    Field("metadata", "custom_fields", "json"),
)


class Mailerdash:
    """mailerdash's payloads, fed the selection a chunk of contacts at a time."""

    name = "mailerdash"

    def __init__(
        self, has_account: bool, candidates: pl.Series | None, rules: PayloadRules, tmp: Path
    ) -> None:
        self.t = TargetPayloads()
        self.rules = rules
        self.has_account = has_account
        self.candidates = candidates.implode() if candidates is not None else None
        self.spools = {
            "records": Spool(tmp, "mailerdash"),
            "emails": Spool(tmp, "mailerdash-preview"),
            "deletes": Spool(tmp, "mailerdash-delete"),
        }

    def add(self, sel: pl.DataFrame) -> None:
        t, rules = self.t, self.rules
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
                    "{} here, active in the account: mailerdash's import cannot carry a "
                    "status; set it with PATCH /v1/bulk/contacts/{} and body "
                    "{{\"status\": \"unsubscribed\"}}.",
                    pl.col("status"), pl.col("email"),
                ),
            ))  # fmt: skip
        go = apply_limits(
            frame.filter(pl.col(SEND) == "active"), MAILERDASH_FIELDS, "mailerdash", rules, t
        )
        records = records_of(go, MAILERDASH_FIELDS, MailerdashContact, "mailerdash")
        self.spools["records"].append(spooled(go, records))
        tally(t, go, go.head(0), None)
        self.spools["emails"].append(go.select(POS, json_string(pl.col("email")).alias("r")))
        if self.has_account:
            in_account = sel.filter(pl.col("account_id").is_not_null() | pl.col("class").is_in(
                ["update", "unchanged", "suppressed_in_account"]))  # fmt: skip
            doomed = pl.col("verdict").is_in(list(rules.delete_verdicts))
            if rules.delete_suppress_candidates and self.candidates is not None:
                doomed = doomed | pl.col("email").is_in(self.candidates)
            # Never a suppressed contact, whatever its verdict: deleting it would delete the
            # account's record of the unsubscribe, and a later import could bring it back.
            doomed = doomed & (pl.col("status") == "active")
            self.spools["deletes"].append(in_account.filter(doomed).select(POS, "email"))

    def finish(self, sink: Sink) -> TargetPayloads:
        t, rules = self.t, self.rules
        t.requests += import_bodies(
            self.spools["records"].column("r"), rules.mailerdash_batch, rules.max_body_bytes,
            "import", "/v1/bulk/contacts/import", lambda arr: arr, sink,
        )  # fmt: skip
        t.requests += import_bodies(
            self.spools["emails"].column("r"), rules.mailerdash_batch, rules.max_body_bytes,
            "import-preview", "/v1/bulk/contacts/import-preview",
            lambda arr: '{"emails":' + arr + "}", sink, {"changes_nothing": True},
        )  # fmt: skip
        batches = exact_chunks(self.spools["deletes"].frames(), rules.mailerdash_batch)
        for i, chunk in enumerate(batches, start=1):
            gone = chunk.get_column("email").to_list()
            req = Request(numbered("delete", i, "json"), "POST", "/v1/bulk/contacts/delete",
                          "application/json", len(gone), b"", {"deletes": True})  # fmt: skip
            body = json.dumps({"emails": gone}, ensure_ascii=False).encode()
            req.body = sink(req.file, [body], len(gone)) or b""
            t.requests.append(req)
        return t
