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

import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from ..ordered_rows import OrderedRows
from .common import Payloads, Sink, TargetPayloads, selection, target_summary
from .mailerdash import Mailerdash
from .misar_io import MisarIo
from .misar_mail import MisarMail
from .misarmail import Misarmail
from .records import POS, empty_warnings
from .rules import PayloadRules

TARGETS = ("misarmail", "misar-mail", "misar-io", "mailerdash")
__all__ = [
    "TARGETS",
    "PayloadBuilder",
    "PayloadWriter",
    "Payloads",
    "build_payloads",
    "target_summary",
]


class Target(Protocol):
    name: str
    t: TargetPayloads  # counts and warnings so far
    spools: dict[str, Any]  # name -> Spool (or MergedSpool): what `finish` cuts

    def add(self, sel: pl.DataFrame) -> None: ...

    def finish(self, sink: Sink) -> TargetPayloads: ...


class PayloadBuilder:
    """Every selected target's payloads for the final contacts, fed a chunk of them at a
    time in input order (`add`), so that no target holds all contacts: records wait in
    spools under `tmp` until `finish` cuts them into bodies, one target at a time."""

    def __init__(
        self,
        targets: tuple[str, ...],
        rules: PayloadRules,
        tmp: Path,
        has_account: bool = False,
        account: pl.DataFrame | None = None,
        import_tags: tuple[str, ...] = (),
        suppress_candidates: pl.Series | None = None,  # their `email`
    ) -> None:
        self.rules = rules
        made: dict[str, Target] = {}
        for name in dict.fromkeys(targets):
            if name == "misarmail":
                made[name] = Misarmail(
                    account if has_account else None, rules, list(import_tags), tmp
                )
            elif name == "misar-mail":
                made[name] = MisarMail(has_account, rules, tmp)
            elif name == "misar-io":
                made[name] = MisarIo(rules, tmp)
            elif name == "mailerdash":
                made[name] = Mailerdash(has_account, suppress_candidates, rules, tmp)
        self.targets = made
        self.contacts = 0

    def add(self, contacts: pl.DataFrame, classes: pl.DataFrame | None) -> None:
        """One chunk of contacts (input order), with the account classes of its contacts
        when there is an account."""
        numbered = (  # a shard's contacts come with their POS; a run's are numbered here
            contacts
            if POS in contacts.columns
            else contacts.with_row_index(POS, offset=self.contacts).with_columns(
                pl.col(POS).cast(pl.Int64)
            )
        )
        sel = selection(numbered, classes, self.rules)
        for target in self.targets.values():
            target.add(sel)
        self.contacts += contacts.height

    def partials(self) -> dict[str, dict[str, Any]]:
        """What the chunks added so far made, per target, for `take` elsewhere (a Spark
        shard's part): its counts, its warnings (one frame, with POS and the order of
        their checks) and its spools' rows (with POS), None for an empty spool."""
        out = {}
        for name, target in self.targets.items():
            t = target.t
            out[name] = {
                "sent": dict(t.sent),
                "left_out": dict(t.left_out),
                "warnings": _checked_warnings(t.warnings),
                "spools": {
                    k: pl.concat(list(spool.frames())) if spool.rows else None
                    for k, spool in target.spools.items()
                },
            }
        return out

    def take(
        self,
        name: str,
        sent: list[dict[str, int]],
        left_out: list[dict[str, int]],
        warnings: list[pl.DataFrame],
        spools: dict[str, Any],
    ) -> None:
        """Target `name`'s parts made elsewhere (`partials` of every shard), merged:
        counts summed, warnings kept with their POS, spools in POS order."""
        t = self.targets[name].t
        for part, into in ((sent, t.sent), (left_out, t.left_out)):
            for counts in part:
                for k, n in counts.items():
                    into[k] = into.get(k, 0) + n
        t.warnings.extend(warnings)
        self.targets[name].spools.update(spools)

    def finish(self, sink: Any) -> Iterator[tuple[str, TargetPayloads]]:
        """Each target's payloads, its bodies given to `sink(target)` as they are made;
        its warnings by contact, in input order, each contact's in the order of the
        checks (the same order whatever the chunks)."""
        for name, target in self.targets.items():
            t = target.finish(sink(name))
            found = _checked_warnings(t.warnings)
            t.warnings = [
                found.sort(POS, "__check", maintain_order=True).drop(POS, "__check")
            ] if found is not None else []  # fmt: skip
            yield name, t


def _checked_warnings(frames: list[pl.DataFrame]) -> pl.DataFrame | None:
    """The warnings frames as one, each row with `__check`, its frame's place in the
    list (frames taken from elsewhere keep theirs): within one contact, the order of
    the checks that made them. None for no warnings."""
    found = [
        (w if "__check" in w.columns else w.with_columns(pl.lit(i).alias("__check"))).with_columns(
            pl.col("__check").cast(pl.Int64)
        )
        for i, w in enumerate(frames)
        if w.height
    ]
    return pl.concat(found, how="vertical") if found else None


def build_payloads(
    contacts: pl.DataFrame,
    targets: tuple[str, ...],
    rules: PayloadRules,
    classes: pl.DataFrame | None = None,
    account: pl.DataFrame | None = None,
    import_tags: tuple[str, ...] = (),
    suppress_candidates: pl.Series | None = None,  # their `email`
) -> Payloads:
    """Every selected target's request bodies for the final contacts, in memory."""

    def keep(target: str) -> Sink:
        return lambda file, parts, rows: b"".join(parts)

    with tempfile.TemporaryDirectory(prefix="listhygiene-payloads-") as tmp:
        builder = PayloadBuilder(
            targets, rules, Path(tmp), classes is not None, account, import_tags,
            suppress_candidates,
        )  # fmt: skip
        for chunk in OrderedRows.of(contacts).chunks():
            builder.add(chunk, classes)
        built = dict(builder.finish(keep))
    return Payloads(built, _warnings(built.values()), contacts.height)


def _warnings(targets: Iterable[TargetPayloads]) -> pl.DataFrame:
    frames = [w for t in targets for w in t.warnings if w.height]
    return pl.concat(frames) if frames else empty_warnings()


class PayloadWriter:
    """Writes each target's bodies into `payloads/<target>/` as they are made (`sink`),
    then `payloads/requests.json` and payload_warnings.csv, through the run's atomic
    OutputDir. Only the index of the written bodies is kept."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.index: list[dict[str, Any]] = []
        self.alternatives: list[dict[str, Any]] = []
        self.warnings: list[pl.DataFrame] = []

    def sink(self, name: str) -> Sink:
        def write(file: str, parts: Iterable[bytes], rows: int | None) -> None:
            self.out.write_stream(f"payloads/{name}/{file}", parts, rows)

        return write

    def target(self, name: str, t: TargetPayloads) -> None:
        self.index.extend(r.describe(name) for r in t.requests)
        self.alternatives.extend(r.describe(name) for r in t.alternatives)
        self.warnings.extend(w for w in t.warnings if w.height)

    def finish(self) -> None:
        self.out.write_json(
            "payloads/requests.json",
            {"requests": self.index, "alternatives": self.alternatives},
            rows=len(self.index),
        )
        warnings = pl.concat(self.warnings) if self.warnings else empty_warnings()
        self.out.write_csv("payload_warnings.csv", warnings)
