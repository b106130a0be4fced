"""misarmail (seed 000): `POST /v1/contacts/import` bodies and, with an account,
`PATCH /v1/contacts/bulk` bodies `{ids, update}`."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

import polars as pl

from ..schemas.payloads import MisarmailContact
from .batches import Request, Spool, numbered
from .common import (
    Sink,
    TargetPayloads,
    import_bodies,
    records_of,
    sendable,
    spooled,
    status_as,
    tally,
)
from .records import POS, Field, encode
from .rules import PayloadRules

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


class Misarmail:
    """misarmail's payloads, fed the selection a chunk of contacts at a time."""

    name = "misarmail"

    def __init__(
        self, account: pl.DataFrame | None, rules: PayloadRules, import_tags: list[str], tmp: Path
    ) -> None:
        self.t = TargetPayloads()
        self.rules = rules
        self.account = account
        self.tags = list(dict.fromkeys([*rules.misarmail_tags, *import_tags]))
        self.skip_existing = True if account is not None else rules.misarmail_skip_existing
        # the import records of new contacts; each update's body and account id
        self.spools = {"new": Spool(tmp, "misarmail-new"), "updates": Spool(tmp, "misarmail-upd")}

    def add(self, sel: pl.DataFrame) -> None:
        t, rules = self.t, self.rules
        status = status_as("active", "unsubscribed")
        go = sendable(sel, status, MISARMAIL_FIELDS, "misarmail", rules, t)
        new = go.filter(pl.col("class").is_null() | (pl.col("class") == "new"))
        self.spools["new"].append(
            spooled(new, records_of(new, MISARMAIL_FIELDS, MisarmailContact, "misarmail"))
        )
        tally(t, new, new.head(0), None)
        updates = go.filter(pl.col("class") == "update")
        if self.account is not None and updates.height:
            self.spools["updates"].append(_update_rows(updates, self._account_tags))
            tally(t, updates, updates.head(0), None)

    @cached_property
    def _account_tags(self) -> pl.DataFrame:
        """The account's tags per contact, made at the first update (never, where the
        records come made from the shards)."""
        assert self.account is not None
        return _account_tags(self.account)

    def finish(self, sink: Sink) -> TargetPayloads:
        t, rules = self.t, self.rules
        skip, tags = self.skip_existing, self.tags

        def envelope(arr: str) -> str:
            return (
                '{"contacts":'
                + arr
                + ',"skipExisting":'
                + json.dumps(skip)
                + ',"tags":'
                + json.dumps(tags, ensure_ascii=False)
                + "}"
            )

        t.requests += import_bodies(
            self.spools["new"].column("r"),
            rules.misarmail_batch,
            rules.max_body_bytes,
            "import",
            "/v1/contacts/import",
            envelope,
            sink,
            {"skipExisting": skip, "tags": tags},
        )
        groups: dict[str, list[str]] = {}  # update body -> account ids, by first appearance
        for rows in self.spools["updates"].frames():
            for update, ids in (
                rows.group_by("__update", maintain_order=True).agg("account_id").iter_rows()
            ):
                groups.setdefault(update, []).extend(ids)
        t.requests += _bulk_updates(groups, rules, sink)
        return t


def _account_tags(account: pl.DataFrame) -> pl.DataFrame:
    return (
        account.select("email_key", pl.col("tags").alias("__acc_tags"))
        if "tags" in account.columns
        else account.select("email_key", pl.lit(None, pl.List(pl.String)).alias("__acc_tags"))
    ).unique("email_key", keep="first", maintain_order=True)


def _update_rows(updates: pl.DataFrame, acc_tags: pl.DataFrame) -> pl.DataFrame:
    """The update body of each contact (`__update`), its account id and POS. Tags are
    the union of the account's and ours (an update never removes a tag); a status
    change is `unsubscribed`, the one suppressed status seed 000 takes; a contact whose
    update changes nothing is left out."""
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
    return frame.select("__update", "account_id", POS)


def _bulk_updates(groups: dict[str, list[str]], rules: PayloadRules, sink: Sink) -> list[Request]:
    """`PATCH /v1/contacts/bulk` bodies `{ids, update}`: contacts whose update is the same
    share a body."""
    out: list[Request] = []
    n = 0
    for update, ids in groups.items():
        for i in range(0, len(ids), rules.misarmail_batch):
            n += 1
            chunk = ids[i : i + rules.misarmail_batch]
            body = '{"ids":' + json.dumps(chunk) + ',"update":' + update + "}"
            req = Request(numbered("bulk-update", n, "json"), "PATCH", "/v1/contacts/bulk",
                          "application/json", len(chunk), b"")  # fmt: skip
            req.body = sink(req.file, [body.encode()], len(chunk)) or b""
            out.append(req)
    return out
