"""SendGrid Event Webhook: the JSON array SendGrid POSTs (or one of its objects).

Every object is one event for one recipient (`email`) at `timestamp` (epoch seconds as
SendGrid writes them; a Single Send example in the docs uses milliseconds, kept as is).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .table import EventError, EventFormat, Parsed, RawEvent, Skip

# SendGrid event -> our event; bounces and drops are decided by their type/reason below.
_EVENTS = {
    "processed": "send",
    "delivered": "delivered",
    "open": "open",
    "click": "click",
    "spamreport": "complaint",
    "unsubscribe": "unsubscribe",
    "group_unsubscribe": "unsubscribe",
}
# Read but not scored: a deferral is retried, a resubscribe restores nothing we suppress,
# an account status change names no recipient.
_SKIPPED = {"deferred", "group_resubscribe", "account_status_change"}
# SendGrid drops a message when the address is on one of its suppression lists (docs,
# "Drops"); the reason names the list, which is the evidence we keep. Other drop reasons
# (spam content, a bad SMTPAPI header, duplicates, quota) say nothing about the contact.
_DROPS = {
    "Bounced Address": "bounce",
    "Invalid": "bounce",
    "Spam Reporting Address": "complaint",
    "Unsubscribed Address": "unsubscribe",
}
_KNOWN = {*_EVENTS, *_SKIPPED, "bounce", "dropped"}
_MARKERS = ("sg_event_id", "sg_message_id", "smtp-id")
# Where the per-recipient part of sg_message_id starts (a SendGrid MTA host name).
_SUFFIX = re.compile(r"(?:^|\.)(?:filter|recvd)")
# Custom args arrive as top-level keys; these names are read as the campaign.
_CAMPAIGN_ARGS = ("campaignid", "campaign")


def matches(record: Any) -> bool:
    if not isinstance(record, dict) or not isinstance(record.get("event"), str):
        return False
    if any(k in record for k in _MARKERS):
        return True
    # The docs' minimal objects (JSON objects section) carry only email, timestamp,
    # category and event; `category` is SendGrid's own field.
    ts = record.get("timestamp")
    return (
        record["event"] in _KNOWN
        and "category" in record
        and isinstance(ts, int)
        and not isinstance(ts, bool)
    )


def _message_stem(record: dict[str, Any]) -> str | None:
    """The X-Message-Id of the send, which every event of the message carries: sg_message_id
    is that id plus a per-recipient ".filter..." / ".recvd-..." suffix (docs: "the first half
    of this ID is pulled from the smtp-id"); when only the suffix is there, the smtp-id's
    local part."""
    sg = record.get("sg_message_id")
    if isinstance(sg, str) and sg:
        stem = _SUFFIX.split(sg, maxsplit=1)[0]
        if stem:
            return stem
    smtp = record.get("smtp-id")
    if isinstance(smtp, str) and smtp.strip("<>"):
        return smtp.strip("<>").split("@", 1)[0]
    return None


def _campaign(record: dict[str, Any]) -> str | None:
    """Single Send, Marketing Campaign or legacy newsletter send, a `campaign_id` custom arg,
    else the X-Message-Id of the send."""
    for key in ("singlesend_id", "marketing_campaign_id"):
        if record.get(key) not in (None, ""):
            return str(record[key])
    newsletter = record.get("newsletter")
    if isinstance(newsletter, dict) and newsletter.get("newsletter_send_id"):
        return str(newsletter["newsletter_send_id"])
    for key, value in record.items():
        if key.lower().replace("-", "").replace("_", "") in _CAMPAIGN_ARGS and value not in (
            None,
            "",
        ):
            return str(value)
    return _message_stem(record)


def parse(record: dict[str, Any]) -> Iterator[Parsed]:
    name = record.get("event")
    email = record.get("email") if isinstance(record.get("email"), str) else None
    if name in _SKIPPED:
        yield Skip(f"sendgrid {name}")
        return
    reason: str | None = None
    if name == "bounce":
        # type "blocked" is a block (retryable, kept on the Blocks list); "bounce" or no type
        # (older payloads) is a hard bounce.
        event = "soft_bounce" if record.get("type") == "blocked" else "bounce"
        parts = [record.get("bounce_classification"), record.get("reason")]
        reason = ": ".join(str(p).strip() for p in parts if p) or None
    elif name == "dropped":
        drop = str(record.get("reason") or "").strip()
        if drop not in _DROPS:
            yield Skip("sendgrid dropped")
            return
        event, reason = _DROPS[drop], f"dropped: {drop}"
    elif name in _EVENTS:
        event = _EVENTS[name]
        if name == "spamreport":
            reason = "spamreport"
        elif name == "unsubscribe":
            reason = "unsubscribe"
        elif name == "group_unsubscribe":
            group = record.get("asm_group_id")
            reason = f"group_unsubscribe (asm_group_id {group})" if group else name
    else:
        raise EventError(
            f"The SendGrid event {name!r} is not one SendGrid documents (processed, "
            "delivered, deferred, bounce, dropped, open, click, spamreport, unsubscribe, "
            "group_unsubscribe, group_resubscribe); remove it or check the export.",
            email=email,
        )
    if not email:
        raise EventError(
            f"The SendGrid {name} event has no email; remove it or export the events again."
        )
    ts = record.get("timestamp")
    if ts is None or ts == "" or isinstance(ts, bool):
        raise EventError(
            f"The SendGrid {name} event has no timestamp; remove it or export the events again.",
            email=email,
        )
    engaged = event in ("open", "click")
    machine = record.get("sg_machine_open") if event == "open" else None
    yield RawEvent(
        email,
        event,
        ts,
        _campaign(record),
        record.get("sg_event_id"),
        machine_open=machine if isinstance(machine, bool) else None,
        # On delivery events `ip` is SendGrid's sending IP, so only engagement keeps it.
        user_agent=record.get("useragent") if engaged else None,
        ip=record.get("ip") if engaged else None,
        reason=reason,
    )


FORMAT = EventFormat("sendgrid", "SendGrid Event Webhook", matches, parse)
