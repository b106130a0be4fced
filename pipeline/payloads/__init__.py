"""Import-ready payloads for each target API (seeds 000, 001, 003, 004), under
`payloads/<target>/`, with `payloads/requests.json` listing every request to send.

One rule for every target (rules/payloads.toml [eligibility]): active contacts with
an eligible verdict are sent as active/subscribed; a suppressed contact (here or in
the account) is sent only with a suppressed status the target documents, or left
out; never as active. With `--existing`, contacts the account already has unchanged,
or has suppressed, are left out, and updates go where the target takes them.
Every contact of contacts.csv is either sent or counted under a reason it was left
out, per target (`reconciliation` in the manifest).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from .common import Payloads, TargetPayloads, selection
from .mailerdash import mailerdash
from .misar_io import misar_io
from .misar_mail import misar_mail
from .misarmail import misarmail
from .records import empty_warnings
from .rules import PayloadRules

TARGETS = ("misarmail", "misar-mail", "misar-io", "mailerdash")
__all__ = ["TARGETS", "Payloads", "build_payloads", "write_payloads"]


def build_payloads(
    contacts: pl.DataFrame,
    targets: tuple[str, ...],
    rules: PayloadRules,
    classes: pl.DataFrame | None = None,
    account: pl.DataFrame | None = None,
    import_tags: tuple[str, ...] = (),
    suppress_candidates: pl.Series | None = None,  # their `email`
) -> Payloads:
    """Every selected target's request bodies for the final contacts."""
    sel = selection(contacts, classes, rules)
    has_account = classes is not None
    built: dict[str, TargetPayloads] = {}
    for name in targets:
        if name == "misarmail":
            built[name] = misarmail(sel, account if has_account else None, rules, list(import_tags))
        elif name == "misar-mail":
            built[name] = misar_mail(sel, has_account, rules)
        elif name == "misar-io":
            built[name] = misar_io(sel, rules)
        elif name == "mailerdash":
            built[name] = mailerdash(sel, has_account, suppress_candidates, rules)
    frames = [w for t in built.values() for w in t.warnings if w.height]
    warnings = pl.concat(frames) if frames else empty_warnings()
    return Payloads(built, warnings, contacts.height)


def write_payloads(payloads: Payloads, out: Any) -> None:
    """The bodies into `payloads/<target>/`, `payloads/requests.json`, and
    payload_warnings.csv, through the run's atomic OutputDir."""
    index: list[dict[str, Any]] = []
    alternatives: list[dict[str, Any]] = []
    for name, t in payloads.targets.items():
        for r in t.requests:
            out.write_bytes(f"payloads/{name}/{r.file}", r.body, r.contacts)
            index.append(r.describe(name))
        for r in t.alternatives:
            out.write_bytes(f"payloads/{name}/{r.file}", r.body, r.contacts)
            alternatives.append(r.describe(name))
        for rel, body, rows in t.files:
            out.write_bytes(f"payloads/{name}/{rel}", body, rows)
    out.write_json(
        "payloads/requests.json",
        {"requests": index, "alternatives": alternatives},
        rows=len(index),
    )
    out.write_csv("payload_warnings.csv", payloads.warnings)
