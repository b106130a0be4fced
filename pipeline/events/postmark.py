"""Postmark webhooks: Delivery, Bounce, SpamComplaint, Open, Click and SubscriptionChange
records (`RecordType`), and the legacy bodies sent before RecordType existed (a bounce or a
delivery recognised by its fields). Each record is one event for one address.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .table import EventError, EventFormat, Parsed, RawEvent, Skip

_RECORD_TYPES = ("Delivery", "Bounce", "SpamComplaint", "Open", "Click", "SubscriptionChange")
# Bounce `Type` -> our event (Postmark's bounce types, Bounce API reference). Types that
# are not a delivery verdict on the address (auto-replies, address changes, challenge
# mails, sender-side errors, manual deactivation...) are skipped with their type.
_BOUNCE_TYPES = {
    "HardBounce": "bounce",
    "BadEmailAddress": "bounce",
    "SoftBounce": "soft_bounce",
    "Transient": "soft_bounce",
    "DnsError": "soft_bounce",
    "Blocked": "soft_bounce",
    "SpamComplaint": "complaint",
    "Unsubscribe": "unsubscribe",
}
# SubscriptionChange.SuppressionReason -> our event when SuppressSending is true.
_SUPPRESSION = {
    "HardBounce": "bounce",
    "SpamComplaint": "complaint",
    "ManualSuppression": "unsubscribe",
}
_CAMPAIGN_KEYS = ("campaignid", "campaign")


def _legacy_kind(record: dict[str, Any]) -> str | None:
    """The RecordType of a pre-2019 body, from the fields only that record type has."""
    if "MessageID" not in record:
        return None
    if "Type" in record and ("TypeCode" in record or "BouncedAt" in record):
        return "Bounce"
    if "DeliveredAt" in record and "Recipient" in record:
        return "Delivery"
    if "FirstOpen" in record and "ReceivedAt" in record:
        return "Open"
    if "OriginalLink" in record or "ClickLocation" in record:
        return "Click"
    return None


def matches(record: Any) -> bool:
    if not isinstance(record, dict):
        return False
    kind = record.get("RecordType")
    if isinstance(kind, str):
        return kind in _RECORD_TYPES or any(
            k in record for k in ("MessageID", "ServerID", "MessageStream")
        )
    return _legacy_kind(record) is not None


def _campaign(record: dict[str, Any]) -> str | None:
    """A campaign id in Metadata when the sender set one, else the MessageID (one message;
    Tag and MessageStream name kinds of mail sent again and again, not one send)."""
    metadata = record.get("Metadata")
    for key, value in (metadata if isinstance(metadata, dict) else {}).items():
        if key.lower().replace("-", "").replace("_", "") in _CAMPAIGN_KEYS and value:
            return str(value)
    message_id = record.get("MessageID")
    return str(message_id) if message_id else None


def _need(record: dict[str, Any], kind: str, field: str, email: str | None = None) -> Any:
    value = record.get(field)
    if value is None or value == "":
        raise EventError(
            f"The Postmark {kind} record has no {field}; remove it or export the events again.",
            email=email,
        )
    return value


def parse(record: dict[str, Any]) -> Iterator[Parsed]:
    kind = record.get("RecordType") or _legacy_kind(record)
    campaign = _campaign(record)

    if kind in ("Bounce", "SpamComplaint"):
        bounce_type = record.get("Type") or kind
        event = _BOUNCE_TYPES.get(bounce_type)
        if event is None:
            yield Skip(f"postmark Bounce {bounce_type}")
            return
        email = _need(record, kind, "Email")
        ts = _need(record, kind, "BouncedAt", email)
        details = record.get("Details") or record.get("Description")
        reason = f"{bounce_type}: {details}" if details else bounce_type
        yield RawEvent(email, event, ts, campaign, record.get("ID"), reason=reason)
        return

    if kind == "SubscriptionChange":
        email = _need(record, kind, "Recipient")
        ts = _need(record, kind, "ChangedAt", email)
        if record.get("SuppressSending") is not True:
            yield Skip("postmark SubscriptionChange reactivated")
            return
        cause = record.get("SuppressionReason")
        event = _SUPPRESSION.get(cause)
        if event is None:
            raise EventError(
                f"The Postmark SubscriptionChange record has SuppressionReason {cause!r}, not "
                "HardBounce, SpamComplaint or ManualSuppression; remove it or check the export.",
                email=email,
            )
        origin = record.get("Origin")
        reason = f"{cause} ({origin})" if origin else cause
        yield RawEvent(email, event, ts, campaign, reason=reason)
        return

    if kind == "Delivery":
        email = _need(record, kind, "Recipient")
        ts = _need(record, kind, "DeliveredAt", email)
        yield RawEvent(email, "delivered", ts, campaign)
        return

    if kind in ("Open", "Click"):
        email = _need(record, kind, "Recipient")
        ts = _need(record, kind, "ReceivedAt", email)
        geo = record.get("Geo")
        yield RawEvent(
            email,
            kind.lower(),
            ts,
            campaign,
            user_agent=record.get("UserAgent"),
            ip=geo.get("IP") if isinstance(geo, dict) else None,
        )
        return

    raise EventError(
        f"The Postmark RecordType {kind!r} is not one Postmark documents (Delivery, Bounce, "
        "SpamComplaint, Open, Click, SubscriptionChange); remove it or check the export.",
    )


FORMAT = EventFormat("postmark", "Postmark webhooks", matches, parse)
