"""Amazon SES: event publishing records and SNS notifications, raw or in their SNS wrappers.

Shapes read (one record each): a raw event-publishing record (`eventType`, as Firehose
writes it one per line or SNS sends it with raw delivery), a raw notification
(`notificationType`), an SNS HTTP envelope (`Type`, `MessageId`, `Message` as JSON text)
and an SNS-to-Lambda record (`{"EventSource": "aws:sns", "Sns": {...}}`; the driver has
already unwrapped the file's `Records` list).

SES names recipients per event only for bounces, complaints and deliveries; sends carry
`mail.destination`, and opens, clicks and subscription changes only say which message was
acted on. Those are credited to the one recipient of a single-recipient message and to
no one otherwise (Skip), since we cannot tell which recipient opened it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .table import EventError, EventFormat, Parsed, RawEvent, Skip

# Records SES writes that are not about a recipient's engagement or deliverability.
_SKIPPED = {"Reject", "Rendering Failure", "DeliveryDelay", "AmazonSnsSubscriptionSucceeded"}
_SNS_OTHER = {"SubscriptionConfirmation", "UnsubscribeConfirmation"}
# bounceType -> our event (SES docs: Undetermined = SES could not tell; not proof of a dead box)
_BOUNCES = {"Permanent": "bounce", "Transient": "soft_bounce", "Undetermined": "soft_bounce"}
# Message tag names read as the campaign (compared lower-case without "-" and "_").
_CAMPAIGN_TAGS = ("campaignid", "campaign")


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _is_ses(record: dict[str, Any]) -> bool:
    if isinstance(record.get("eventType"), str) and isinstance(record.get("mail"), dict):
        return True
    kind = record.get("notificationType")
    return isinstance(kind, str) and (
        isinstance(record.get("mail"), dict) or kind == "AmazonSnsSubscriptionSucceeded"
    )


def _envelope_message(envelope: dict[str, Any]) -> Any:
    try:
        return json.loads(envelope["Message"])
    except (TypeError, ValueError):
        return None


def _is_envelope(record: dict[str, Any]) -> bool:
    if not (isinstance(record.get("Type"), str) and isinstance(record.get("Message"), str)):
        return False
    if not ("TopicArn" in record or "MessageId" in record):
        return False
    if record["Type"] in _SNS_OTHER:
        return True
    message = _envelope_message(record)
    return isinstance(message, dict) and _is_ses(message)


def matches(record: Any) -> bool:
    if not isinstance(record, dict):
        return False
    if record.get("EventSource") == "aws:sns" and isinstance(record.get("Sns"), dict):
        return _is_envelope(record["Sns"])
    return _is_envelope(record) or _is_ses(record)


def _campaign(mail: dict[str, Any]) -> str | None:
    """A campaign tag when the sender set one, else the SES message id (one send)."""
    for name, values in _obj(mail.get("tags")).items():
        if name.lower().replace("-", "").replace("_", "") in _CAMPAIGN_TAGS:
            if isinstance(values, list) and values and values[0]:
                return str(values[0])
            if isinstance(values, str) and values:
                return values
    message_id = mail.get("messageId")
    return str(message_id) if message_id else None


def _addresses(items: Any, key: str | None = None) -> list[str]:
    """Recipient addresses of a list of strings or of `{key: address}` objects."""
    out: list[str] = []
    for item in items if isinstance(items, list) else []:
        value = item.get(key) if key and isinstance(item, dict) else item
        if isinstance(value, str) and value.strip():
            out.append(value)
    return out


def _ids(base: str | None, emails: list[str]) -> list[str | None]:
    """One id per event: the base when the record yields one event, base:email otherwise."""
    if base is None or len(emails) <= 1:
        return [base] * len(emails)
    return [f"{base}:{e}" for e in emails]


def _need_timestamp(kind: str, section: dict[str, Any], email: str | None) -> Any:
    ts = section.get("timestamp")
    if ts is None or ts == "":
        raise EventError(
            f"The SES {kind} record has no timestamp; export the event again or remove it.",
            email=email,
        )
    return ts


def _from_ses(record: dict[str, Any], envelope_id: str | None) -> Iterator[Parsed]:
    kind = record.get("eventType") or record.get("notificationType")
    if kind in _SKIPPED:
        yield Skip(f"ses {kind}")
        return
    mail = _obj(record.get("mail"))
    campaign = _campaign(mail)
    destination = _addresses(mail.get("destination"))
    first = destination[0] if destination else None

    if kind == "Bounce":
        bounce = _obj(record.get("bounce"))
        bounce_type = bounce.get("bounceType")
        event = _BOUNCES.get(bounce_type) if isinstance(bounce_type, str) else None
        if event is None:
            raise EventError(
                f"The SES Bounce record has bounceType {bounce_type!r}, not Permanent, "
                "Transient or Undetermined; export the event again or remove it.",
                email=first,
            )
        recipients = [r for r in bounce.get("bouncedRecipients") or [] if isinstance(r, dict)]
        emails = _addresses(recipients, "emailAddress")
        if not emails:
            raise EventError(
                "The SES Bounce record has no bouncedRecipients, so it names no one to "
                "score; export the event again or remove it.",
                email=first,
            )
        ts = _need_timestamp(kind, bounce, emails[0])
        # feedbackId is SES's unique id of this bounce, the same through SNS and Firehose.
        base = bounce.get("feedbackId") or envelope_id
        by_email = {r.get("emailAddress"): r for r in recipients}
        for email, event_id in zip(emails, _ids(base, emails), strict=True):
            diagnostic = _obj(by_email.get(email)).get("diagnosticCode")
            kind_text = "/".join(str(p) for p in (bounce_type, bounce.get("bounceSubType")) if p)
            reason = f"{kind_text}: {diagnostic}" if diagnostic else kind_text
            yield RawEvent(email, event, ts, campaign, event_id, reason=reason)
        return

    if kind == "Complaint":
        complaint = _obj(record.get("complaint"))
        emails = _addresses(complaint.get("complainedRecipients"), "emailAddress")
        if not emails:
            raise EventError(
                "The SES Complaint record has no complainedRecipients, so it names no one to "
                "score; export the event again or remove it.",
                email=first,
            )
        ts = _need_timestamp(kind, complaint, emails[0])
        base = complaint.get("feedbackId") or envelope_id
        reason = complaint.get("complaintFeedbackType") or complaint.get("complaintSubType")
        for email, event_id in zip(emails, _ids(base, emails), strict=True):
            yield RawEvent(email, "complaint", ts, campaign, event_id, reason=reason)
        return

    if kind in ("Send", "Delivery"):
        section = _obj(record.get("delivery")) if kind == "Delivery" else {}
        # A delivery names the recipients it covers; a send goes to every destination.
        emails = _addresses(section.get("recipients")) or destination
        if not emails:
            raise EventError(
                f"The SES {kind} record has no recipients in mail.destination; export the "
                "event again or remove it.",
            )
        ts = (
            _need_timestamp(kind, section, emails[0])
            if kind == "Delivery"
            else _need_timestamp(kind, mail, emails[0])
        )
        event = "send" if kind == "Send" else "delivered"
        for email, event_id in zip(emails, _ids(envelope_id, emails), strict=True):
            yield RawEvent(email, event, ts, campaign, event_id)
        return

    if kind in ("Open", "Click", "Subscription"):
        section = _obj(record.get(kind.lower()))
        if len(destination) > 1:
            # SES does not say which recipient of a shared message acted.
            yield Skip(f"ses {kind} of a multi-recipient message")
            return
        if not destination:
            raise EventError(
                f"The SES {kind} record has no recipient in mail.destination; export the "
                "event again or remove it.",
            )
        ts = _need_timestamp(kind, section, first)
        if kind == "Subscription":
            preferences = _obj(section.get("newTopicPreferences"))
            if preferences.get("unsubscribeAll") is not True:
                # A topic opt-out or opt-in keeps the contact on the list.
                yield Skip("ses Subscription topic change")
                return
            yield RawEvent(
                first, "unsubscribe", ts, campaign, envelope_id, reason=section.get("source")
            )
            return
        yield RawEvent(
            first,
            kind.lower(),
            ts,
            campaign,
            envelope_id,
            user_agent=section.get("userAgent"),
            ip=section.get("ipAddress"),
        )
        return

    raise EventError(
        f"The SES record type {kind!r} is not one SES documents (Send, Delivery, Bounce, "
        "Complaint, Open, Click, Subscription, Reject, DeliveryDelay, Rendering Failure); "
        "remove it or check the export.",
        email=first,
    )


def _from_envelope(envelope: dict[str, Any]) -> Iterator[Parsed]:
    if envelope.get("Type") in _SNS_OTHER:
        yield Skip(f"ses SNS {envelope['Type']}")
        return
    message = _envelope_message(envelope)
    if not (isinstance(message, dict) and _is_ses(message)):
        raise EventError(
            "The SNS envelope's Message is not an SES event or notification in JSON; "
            "remove the record or check the topic it came from."
        )
    envelope_id = envelope.get("MessageId")
    yield from _from_ses(message, str(envelope_id) if envelope_id else None)


def parse(record: dict[str, Any]) -> Iterator[Parsed]:
    if record.get("EventSource") == "aws:sns" and isinstance(record.get("Sns"), dict):
        yield from _from_envelope(record["Sns"])
    elif isinstance(record.get("Type"), str) and isinstance(record.get("Message"), str):
        yield from _from_envelope(record)
    else:
        yield from _from_ses(record, None)


FORMAT = EventFormat("ses", "Amazon SES event publishing / SNS notifications", matches, parse)
