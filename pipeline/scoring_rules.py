"""rules/scoring.toml: points and expiry per event, machine opens, tiers, factors,
status changes from events and the win-back settings (see docs/scoring.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .events.table import EVENT_TYPES
from .rulefile import RuleTable, load_rules_file, unknown_tables

SCORING_FILE = "scoring.toml"
TIERS = ("champion", "loyal", "potential", "at_risk", "dormant")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class PointRule:
    event: str
    points: int
    decay_days: int  # 0 = never expires


@dataclass(frozen=True)
class ScoringRules:
    points: tuple[PointRule, ...]
    count_machine_opens: bool
    detect_machine_opens: bool
    machine_user_agents: tuple[str, ...]
    machine_ip_prefixes: tuple[str, ...]
    tiers: tuple[tuple[str, int], ...]  # (tier, lowest score), highest tier first
    window_days: int
    active_days: int
    passive_days: int
    frequency_high: int
    frequency_medium: int
    soft_bounce_limit: int  # 0 = soft bounces never change a status
    soft_bounce_days: int
    threshold_days: int
    previous_winback: tuple[str, ...]
    response_days: int

    @property
    def event_names(self) -> tuple[str, ...]:
        """Every event name an events table may use: the canonical ones and the rules' own."""
        return tuple(dict.fromkeys([*EVENT_TYPES, *(p.event for p in self.points)]))


def _points(doc: dict[str, Any], where: str, problems: list[str]) -> tuple[PointRule, ...]:
    items = doc.get("points")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        problems.append(
            f"{where}: [[points]] must be a list of tables with event, points and decay_days; "
            "see the default rules/scoring.toml."
        )
        return ()
    out: list[PointRule] = []
    for n, item in enumerate(items, start=1):
        here = f"{where} [[points]] #{n}"
        event, points, decay = item.get("event"), item.get("points"), item.get("decay_days")
        ok = True
        if not isinstance(event, str) or not _NAME.match(event):
            problems.append(
                f'{here}: `event` must be a lower-case name such as "open", not {event!r}.'
            )
            ok = False
        if isinstance(points, bool) or not isinstance(points, int):
            problems.append(f"{here}: `points` must be a whole number, not {points!r}.")
            ok = False
        if isinstance(decay, bool) or not isinstance(decay, int) or decay < 0:
            problems.append(
                f"{here}: `decay_days` must be a whole number of at least 0 (0 = never "
                f"expires), not {decay!r}."
            )
            ok = False
        for key in sorted(set(item) - {"event", "points", "decay_days"}):
            problems.append(f"{here}: unknown key `{key}`; the keys are event, points, decay_days.")
        if ok:
            if any(p.event == event for p in out):
                problems.append(f"{here}: event {event!r} has points already; keep one entry.")
                continue
            out.append(PointRule(event, points, decay))
    return tuple(out)


def parse_scoring_rules(doc: dict[str, Any], where: str, problems: list[str]) -> ScoringRules:
    tables = ("points", "machine_opens", "tiers", "factors", "statuses", "winback")
    problems.extend(unknown_tables(doc, tables, where))
    points = _points(doc, where, problems)
    mo = RuleTable(doc, "machine_opens", where, problems)
    ti = RuleTable(doc, "tiers", where, problems)
    fa = RuleTable(doc, "factors", where, problems)
    st = RuleTable(doc, "statuses", where, problems)
    wb = RuleTable(doc, "winback", where, problems)
    user_agents = tuple(mo.strings("user_agents"))
    for ua in user_agents:
        try:
            re.compile(ua)
        except re.error as exc:
            problems.append(f"{where} [machine_opens]: user agent pattern {ua!r}: {exc}.")
    tiers = tuple(
        (t, ti.int(t, d, lo=0, hi=100)) for t, d in zip(TIERS, (80, 60, 40, 20, 0), strict=True)
    )
    lows = [low for _, low in tiers]
    if lows != sorted(lows, reverse=True) or len(set(lows)) != len(lows) or lows[-1] != 0:
        problems.append(
            f"{where} [tiers]: the lowest scores must fall from champion to dormant, each "
            f"tier its own, and dormant must start at 0; they are {dict(tiers)}."
        )
    rules = ScoringRules(
        points=points,
        count_machine_opens=mo.bool("count", False),
        detect_machine_opens=mo.bool("detect", True),
        machine_user_agents=user_agents,
        machine_ip_prefixes=tuple(mo.strings("ip_prefixes")),
        tiers=tiers,
        window_days=fa.int("window_days", 90),
        active_days=fa.int("active_days", 30),
        passive_days=fa.int("passive_days", 90),
        frequency_high=fa.int("frequency_high", 6),
        frequency_medium=fa.int("frequency_medium", 2),
        soft_bounce_limit=st.int("soft_bounce_limit", 0, lo=0),
        soft_bounce_days=st.int("soft_bounce_days", 30),
        threshold_days=wb.int("threshold_days", 90),
        previous_winback=tuple(wb.strings("previous_campaigns")),
        response_days=wb.int("response_days", 14),
    )
    for section in (mo, ti, fa, st, wb):
        section.finish()
    if rules.passive_days < rules.active_days:
        problems.append(
            f"{where} [factors]: passive_days ({rules.passive_days}) must be at least "
            f"active_days ({rules.active_days})."
        )
    if rules.frequency_high <= rules.frequency_medium:
        problems.append(
            f"{where} [factors]: frequency_high ({rules.frequency_high}) must be above "
            f"frequency_medium ({rules.frequency_medium})."
        )
    return rules


def load_scoring_rules(path: Path | None = None) -> ScoringRules:
    """Parse a scoring.toml (default: the shipped one); RulesError lists every problem."""
    return load_rules_file(parse_scoring_rules, SCORING_FILE, path)
