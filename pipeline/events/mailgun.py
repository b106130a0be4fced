"""Mailgun: webhook bodies (`{"signature": ..., "event-data": {...}}`) and Events API items
(the driver unwraps a page's `items` list). One event-data object is one event for one
`recipient` at `timestamp` (epoch seconds with microseconds).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .table import EventError, EventFormat, Parsed, RawEvent, Skip

_EVENTS = {
    "accepted": "send",
    "delivered": "delivered",
    "opened": "open",
    "clicked": "click",
    "unsubscribed": "unsubscribe",
    "complained": "complaint",
}
# Read but not scored: a rejected message never left Mailgun (no recipient verdict), a
# stored message is an inbound copy, list_* events are mailing-list uploads.
_SKIPPED = {
    "rejected",
    "stored",
    "list_uploaded",
    "list_member_uploaded",
    "list_member_upload_error",
}
# A permanent failure whose reason is a suppression list says which list (Mailgun docs:
# suppress-bounce, suppress-unsubscribe, suppress-complaint); other permanent ones bounce.
_SUPPRESSED = {"suppress-unsubscribe": "unsubscribe", "suppress-complaint": "complaint"}
_SEVERITY = {"permanent": "bounce", "temporary": "soft_bounce"}
# Keys every documented Mailgun event carries some of; a bare generic row has none.
_SHAPE = (
    "log-level",
    "message",
    "user-variables",
    "delivery-status",
    "envelope",
    "mailing-list",
    "recipient-domain",
    "client-info",
)
_CAMPAIGN_VARS = ("campaignid", "campaign")


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def matches(record: Any) -> bool:
    if not isinstance(record, dict):
        return False
    if isinstance(record.get("event-data"), dict):
        return True
    ts = record.get("timestamp")
    if not isinstance(record.get("event"), str) or isinstance(ts, bool):
        return False
    if not isinstance(ts, int | float) or "sg_event_id" in record:
        return False
    return ("id" in record or "recipient" in record) and any(k in record for k in _SHAPE)


def _campaign(data: dict[str, Any]) -> str | None:
    """user-variables campaign id, else the (legacy) campaign, else the message's Message-Id."""
    for key, value in _obj(data.get("user-variables")).items():
        if key.lower().replace("-", "").replace("_", "") in _CAMPAIGN_VARS and value:
            return str(value)
    campaigns = data.get("campaigns")
    if isinstance(campaigns, list) and campaigns:
        first = campaigns[0]
        value = first.get("id") if isinstance(first, dict) else first
        if value:
            return str(value)
    message_id = _obj(_obj(data.get("message")).get("headers")).get("message-id")
    return str(message_id) if message_id else None


def _failure_reason(data: dict[str, Any]) -> str | None:
    status = _obj(data.get("delivery-status"))
    detail = status.get("message") or status.get("description")
    code = status.get("code")
    parts = [data.get("reason"), f"{code} {detail}" if code and detail else code or detail]
    return ": ".join(str(p).strip() for p in parts if p) or None


def parse(record: dict[str, Any]) -> Iterator[Parsed]:
    data = record["event-data"] if isinstance(record.get("event-data"), dict) else record
    name = data.get("event")
    email = data.get("recipient") if isinstance(data.get("recipient"), str) else None
    if name in _SKIPPED:
        yield Skip(f"mailgun {name}")
        return
    reason: str | None = None
    if name == "failed":
        severity = data.get("severity")
        if severity not in _SEVERITY:
            raise EventError(
                f"The Mailgun failed event has severity {severity!r}, not permanent or "
                "temporary; remove it or export the events again.",
                email=email,
            )
        event = _SEVERITY[severity]
        if severity == "permanent":
            event = _SUPPRESSED.get(data.get("reason"), event)
        reason = _failure_reason(data)
    elif name in _EVENTS:
        event = _EVENTS[name]
    else:
        raise EventError(
            f"The Mailgun event {name!r} is not one Mailgun documents (accepted, delivered, "
            "failed, opened, clicked, unsubscribed, complained, rejected, stored, list_*); "
            "remove it or check the export.",
            email=email,
        )
    if not email:
        raise EventError(
            f"The Mailgun {name} event has no recipient; remove it or export the events again."
        )
    ts = data.get("timestamp")
    if ts is None or ts == "" or isinstance(ts, bool):
        raise EventError(
            f"The Mailgun {name} event has no timestamp; remove it or export the events again.",
            email=email,
        )
    client = _obj(data.get("client-info"))
    engaged = event in ("open", "click")
    # client-info.bot (Mailgun bot detection): "apple", "gmail" or "generic" when a machine
    # fetched the pixel or link, "" when none was detected; absent = Mailgun did not say.
    bot = client.get("bot") if engaged else None
    yield RawEvent(
        email,
        event,
        ts,
        _campaign(data),
        data.get("id"),
        machine_open=bool(bot) if isinstance(bot, str) else None,
        user_agent=client.get("user-agent") if engaged else None,
        ip=data.get("ip") if engaged else None,
        reason=reason,
    )


FORMAT = EventFormat("mailgun", "Mailgun webhooks and Events API", matches, parse)
