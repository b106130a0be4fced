"""misar-mail (seed 001): JSON import bodies `{contacts, update_existing}` and the CSV
form."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from ..outputs import neutralize_formulas
from ..schemas.payloads import MisarMailContact
from .batches import Request, Spool, exact_chunks, numbered
from .common import (
    SEND,
    Sink,
    TargetPayloads,
    import_bodies,
    records_of,
    sendable,
    spooled,
    status_as,
    tally,
)
from .records import POS, Field, warnings_of
from .rules import PayloadRules

MISAR_MAIL_FIELDS = (
    Field("email", "email", max_chars=254),
    Field("firstName", "first_name"),
    Field("lastName", "last_name"),
    Field("phone", "phone"),
    Field("tags", "tags", "list", max_items=50),
    Field("customFields", "custom_fields", "json"),
    Field("status", "__status"),
)


class MisarMail:
    """misar-mail's payloads, fed the selection a chunk of contacts at a time. With an
    account, new contacts never update and updates do: two streams, new ones first."""

    name = "misar-mail"

    def __init__(self, has_account: bool, rules: PayloadRules, tmp: Path) -> None:
        self.t = TargetPayloads()
        self.rules = rules
        self.has_account = has_account
        flags = [("new", False), ("update", True)] if has_account else [
            ("all", rules.misar_mail_update_existing)]  # fmt: skip
        # per stream: its update_existing, its JSON records and its CSV rows
        self.spools = {}
        self.streams = []
        for name, update in flags:
            self.spools[name] = Spool(tmp, f"misar-mail-{name}")
            self.spools[f"{name}-csv"] = Spool(tmp, f"misar-mail-{name}-csv")
            self.streams.append((update, name, f"{name}-csv"))

    def add(self, sel: pl.DataFrame) -> None:
        t, rules = self.t, self.rules
        status = status_as("subscribed", None)
        go = sendable(sel, status, MISAR_MAIL_FIELDS, "misar-mail", rules, t)
        if self.has_account:  # the preview says which exist
            parts = [go.filter(pl.col("class") == "new"), go.filter(pl.col("class") == "update")]
        else:
            parts = [go]
        for part, (_, records, rows) in zip(parts, self.streams, strict=True):
            if part.is_empty():
                continue
            made = records_of(part, MISAR_MAIL_FIELDS, MisarMailContact, "misar-mail")
            self.spools[records].append(spooled(part, made))
            tally(t, part, part.head(0), None)
            self.spools[rows].append(_csv_rows(part, t))

    def finish(self, sink: Sink) -> TargetPayloads:
        t, rules = self.t, self.rules
        n = 1
        for update, name, csv_name in self.streams:
            records, rows = self.spools[name], self.spools[csv_name]
            if not records.rows:
                continue
            flag = json.dumps(update)
            reqs = import_bodies(
                records.column("r"), rules.misar_mail_batch, rules.max_body_bytes, "import",
                "/api/v1/contacts/import",
                lambda arr, flag=flag: '{"contacts":' + arr + ',"update_existing":' + flag + "}",
                sink, {"update_existing": update}, start=n,
            )  # fmt: skip
            n += len(reqs)
            t.requests += reqs
            path = "/api/v1/contacts/import" + ("?update_existing=true" if update else "")
            csv_rows = (frame.drop(POS) for frame in rows.frames())
            for chunk in exact_chunks(csv_rows, rules.misar_mail_batch):
                i = len(t.alternatives) + 1
                req = Request(numbered("import", i, "csv"), "POST", path, "text/csv",
                              chunk.height, b"", {"update_existing": update})  # fmt: skip
                body = neutralize_formulas(chunk).write_csv().encode()
                req.body = sink(req.file, [body], chunk.height) or b""
                t.alternatives.append(req)
        return t


def _csv_rows(part: pl.DataFrame, t: TargetPayloads) -> pl.DataFrame:
    """The rows of the CSV form (`Content-Type: text/csv`, header email,firstName,lastName,
    tags): it has no status column, so it carries the subscribed contacts only; and tags
    are `,`-joined in one cell, so a contact with a `,` or `;` in a tag goes by JSON only.
    `update_existing` is a query parameter for a CSV body."""
    active = part.filter(pl.col(SEND) == "active")
    split = pl.col("tags").list.eval(pl.element().str.contains("[,;]")).list.any().fill_null(False)
    odd = active.filter(split)
    if odd.height:
        t.warnings.append(warnings_of(
            odd, "misar-mail", "tags", "not_carried", "no , or ; in a CSV tag",
            "a tag holds a comma or semicolon, which the CSV form's tags cell would split: "
            "this contact is in the JSON import only.",
        ))  # fmt: skip
    return active.filter(~split).select(
        "email",
        pl.col("first_name").alias("firstName"),
        pl.col("last_name").alias("lastName"),
        pl.col("tags").list.join(",").alias("tags"),
        POS,
    )
