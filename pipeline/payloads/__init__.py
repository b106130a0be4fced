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

from collections.abc import Iterable, Iterator
from typing import Any

import polars as pl

from .common import Payloads, TargetPayloads, selection, target_summary
from .mailerdash import mailerdash
from .misar_io import misar_io
from .misar_mail import misar_mail
from .misarmail import misarmail
from .records import empty_warnings
from .rules import PayloadRules

TARGETS = ("misarmail", "misar-mail", "misar-io", "mailerdash")
__all__ = [
    "TARGETS",
    "PayloadWriter",
    "Payloads",
    "build_payloads",
    "each_target_payloads",
    "target_summary",
]


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
    built = dict(
        each_target_payloads(
            contacts, targets, rules, classes, account, import_tags, suppress_candidates
        )
    )
    return Payloads(built, _warnings(built.values()), contacts.height)


def each_target_payloads(
    contacts: pl.DataFrame,
    targets: tuple[str, ...],
    rules: PayloadRules,
    classes: pl.DataFrame | None = None,
    account: pl.DataFrame | None = None,
    import_tags: tuple[str, ...] = (),
    suppress_candidates: pl.Series | None = None,
) -> Iterator[tuple[str, TargetPayloads]]:
    """`build_payloads` one target at a time, so that a caller that writes each target's
    bodies before asking for the next holds one target's bodies at most."""
    sel = selection(contacts, classes, rules)
    has_account = classes is not None
    for name in dict.fromkeys(targets):
        if name == "misarmail":
            yield name, misarmail(sel, account if has_account else None, rules, list(import_tags))
        elif name == "misar-mail":
            yield name, misar_mail(sel, has_account, rules)
        elif name == "misar-io":
            yield name, misar_io(sel, rules)
        elif name == "mailerdash":
            yield name, mailerdash(sel, has_account, suppress_candidates, rules)


def _warnings(targets: Iterable[TargetPayloads]) -> pl.DataFrame:
    frames = [w for t in targets for w in t.warnings if w.height]
    return pl.concat(frames) if frames else empty_warnings()


class PayloadWriter:
    """Writes each target's bodies into `payloads/<target>/` as it comes, then
    `payloads/requests.json` and payload_warnings.csv, through the run's atomic
    OutputDir. A written target's bodies are released (only the index is kept)."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.index: list[dict[str, Any]] = []
        self.alternatives: list[dict[str, Any]] = []
        self.warnings: list[pl.DataFrame] = []

    def target(self, name: str, t: TargetPayloads) -> None:
        out = self.out
        for r in t.requests:
            out.write_bytes(f"payloads/{name}/{r.file}", r.body, r.contacts)
            self.index.append(r.describe(name))
        for r in t.alternatives:
            out.write_bytes(f"payloads/{name}/{r.file}", r.body, r.contacts)
            self.alternatives.append(r.describe(name))
        for rel, body, rows in t.files:
            out.write_bytes(f"payloads/{name}/{rel}", body, rows)
        self.warnings.extend(w for w in t.warnings if w.height)

    def finish(self) -> None:
        self.out.write_json(
            "payloads/requests.json",
            {"requests": self.index, "alternatives": self.alternatives},
            rows=len(self.index),
        )
        warnings = pl.concat(self.warnings) if self.warnings else empty_warnings()
        self.out.write_csv("payload_warnings.csv", warnings)
