"""misarmail (seed 000): `POST /v1/contacts/import` bodies and, with an account,
`PATCH /v1/contacts/bulk` bodies `{ids, update}`."""

from __future__ import annotations

import json

import polars as pl

from ..schemas.payloads import MisarmailContact
from .batches import Request, numbered
from .common import (
    SEND,
    TargetPayloads,
    apply_limits,
    import_bodies,
    records_of,
    status_as,
    tally,
)
from .records import Field, encode
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


def misarmail(
    sel: pl.DataFrame, account: pl.DataFrame | None, rules: PayloadRules, import_tags: list[str]
) -> TargetPayloads:
    t = TargetPayloads()
    frame = sel.with_columns(status_as("active", "unsubscribed").alias("__status"))
    left = frame.filter(pl.col(SEND).is_null())
    tally(t, frame.head(0), left, None)
    go = apply_limits(
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

    t.requests += import_bodies(
        records_of(new, MISARMAIL_FIELDS, MisarmailContact, "misarmail"),
        rules.misarmail_batch,
        rules.max_body_bytes,
        "import",
        "/v1/contacts/import",
        envelope,
        {"skipExisting": skip_existing, "tags": tags},
    )
    tally(t, new, new.head(0), None)
    updates = go.filter(pl.col("class") == "update")
    if has_account and updates.height:
        t.requests += _bulk_updates(updates, account, rules)
        tally(t, updates, updates.head(0), None)
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
