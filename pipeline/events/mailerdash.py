"""MailerDash engagement histories (seed 004, GET /v1/bulk/contacts/{email}/engagement):
`{email, sends: [{campaign_id, campaign_name, sent_at, opened, clicked}], totals, score,
last_engagement_at}`, one per contact, collected into a JSON array or NDJSON.

Each send item is a `send` at `sent_at`, plus an `open` and/or a `click` when `opened` /
`clicked` are true. The history gives no open or click time, only the contact's
`last_engagement_at`: that time goes to the open/click of the engaged campaign sent last at
or before it (the engagement it most likely records), and every other open/click is dated
at its campaign's `sent_at` (the earliest it can have happened, so windows never count an
engagement as more recent than it can be). `totals` and `score` are MailerDash's own
summaries of the same data and are not read.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from .table import EventError, EventFormat, Parsed, RawEvent, Skip


def matches(record: Any) -> bool:
    return (
        isinstance(record, dict)
        and isinstance(record.get("email"), str)
        and isinstance(record.get("sends"), list)
    )


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def parse(record: dict[str, Any]) -> Iterator[Parsed]:
    email = record["email"]
    if not email.strip():
        raise EventError("The MailerDash history has an empty email; remove it or export again.")
    sends: list[dict[str, Any]] = []
    for n, item in enumerate(record["sends"], start=1):
        if not isinstance(item, dict) or item.get("sent_at") in (None, ""):
            raise EventError(
                f"The MailerDash history's send {n} has no sent_at; remove that send or "
                "export the history again.",
                email=email,
            )
        sends.append(item)
    if not sends:
        yield Skip("mailerdash history without sends")
        return

    last = record.get("last_engagement_at")
    last_at = _instant(last)
    anchor: int | None = None
    if last_at is not None:
        engaged = [
            (sent, i)
            for i, item in enumerate(sends)
            if (item.get("opened") is True or item.get("clicked") is True)
            and (sent := _instant(item["sent_at"])) is not None
            and sent <= last_at
        ]
        if engaged:
            anchor = max(engaged)[1]

    for i, item in enumerate(sends):
        campaign = item.get("campaign_id")
        yield RawEvent(email, "send", item["sent_at"], campaign)
        when = last if i == anchor else item["sent_at"]
        if item.get("opened") is True:
            yield RawEvent(email, "open", when, campaign)
        if item.get("clicked") is True:
            yield RawEvent(email, "click", when, campaign)


FORMAT = EventFormat("mailerdash", "MailerDash engagement history", matches, parse)
