"""misar-mail (seed 001): JSON import bodies `{contacts, update_existing}` and the CSV
form."""

from __future__ import annotations

import json

import polars as pl

from ..outputs import neutralize_formulas
from ..schemas.payloads import MisarMailContact
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
from .records import Field, warnings_of
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


def misar_mail(sel: pl.DataFrame, has_account: bool, rules: PayloadRules) -> TargetPayloads:
    t = TargetPayloads()
    frame = sel.with_columns(status_as("subscribed", None).alias("__status"))
    tally(t, frame.head(0), frame.filter(pl.col(SEND).is_null()), None)
    go = apply_limits(
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
        reqs = import_bodies(
            records_of(part, MISAR_MAIL_FIELDS, MisarMailContact, "misar-mail"),
            rules.misar_mail_batch, rules.max_body_bytes, "import", "/api/v1/contacts/import",
            lambda arr, flag=flag: '{"contacts":' + arr + ',"update_existing":' + flag + "}",
            {"update_existing": update}, start=n,
        )  # fmt: skip
        n += len(reqs)
        t.requests += reqs
        tally(t, part, part.head(0), None)
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
        t.warnings.append(warnings_of(
            odd, "misar-mail", "tags", "not_carried", "no , or ; in a CSV tag",
            "a tag holds a comma or semicolon, which the CSV form's tags cell would split: "
            "this contact is in the JSON import only.",
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
