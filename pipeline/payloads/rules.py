"""rules/payloads.toml: which contacts each target receives, the limit policy and the
batching and pacing of each target (see docs/payloads.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..rulefile import RuleTable, load_rules_file, unknown_tables

PAYLOADS_FILE = "payloads.toml"
VERDICTS = ("valid", "risky", "unknown", "invalid")


@dataclass(frozen=True)
class PayloadRules:
    verdicts: tuple[str, ...]  # verdicts of active contacts that are imported
    send_suppressed: bool  # suppressed contacts go with their status where a target has one
    policy: str  # fix | skip, for values over a documented limit
    max_body_bytes: int
    misarmail_batch: int
    misarmail_skip_existing: bool
    misarmail_tags: tuple[str, ...]
    misar_mail_batch: int
    misar_mail_update_existing: bool
    misar_io_writes: int
    misar_io_window_seconds: int
    mailerdash_batch: int
    delete_verdicts: tuple[str, ...]
    delete_suppress_candidates: bool


def parse_payload_rules(doc: dict[str, Any], where: str, problems: list[str]) -> PayloadRules:
    tables = ("eligibility", "limits", "misarmail", "misar_mail", "misar_io", "mailerdash")
    problems.extend(unknown_tables(doc, tables, where))
    el, li, mm, m1, io, md = (RuleTable(doc, t, where, problems) for t in tables)
    rules = PayloadRules(
        verdicts=tuple(el.strings("verdicts")),
        send_suppressed=el.choice("suppressed", ("send", "omit"), "send") == "send",
        policy=li.choice("policy", ("fix", "skip"), "fix"),
        max_body_bytes=li.int("max_body_bytes", 8_000_000, lo=65536),
        misarmail_batch=mm.int("batch_size", 10000, hi=10000),
        misarmail_skip_existing=mm.bool("skip_existing", False),
        misarmail_tags=tuple(mm.strings("tags")),
        misar_mail_batch=m1.int("batch_size", 10000),
        misar_mail_update_existing=m1.bool("update_existing", False),
        misar_io_writes=io.int("writes_per_window", 200),
        misar_io_window_seconds=io.int("window_seconds", 60),
        mailerdash_batch=md.int("batch_size", 10000),
        delete_verdicts=tuple(md.strings("delete_verdicts")),
        delete_suppress_candidates=md.bool("delete_suppress_candidates", False),
    )
    for section in (el, li, mm, m1, io, md):
        section.finish()
    for key, listed in (("verdicts", rules.verdicts), ("delete_verdicts", rules.delete_verdicts)):
        for v in listed:
            if v not in VERDICTS:
                problems.append(
                    f"{where}: `{key}` lists {v!r}; a verdict is one of {', '.join(VERDICTS)}."
                )
    return rules


def load_payload_rules(path: Path | None = None) -> PayloadRules:
    """Parse a payloads.toml (default: the shipped one); RulesError lists every problem."""
    return load_rules_file(parse_payload_rules, PAYLOADS_FILE, path)
