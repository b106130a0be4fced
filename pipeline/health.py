"""health.json: seed 002's list-health stats, the health score and the gates.

The score is a weighted geometric mean of four signals (rules/health.toml), so that
it is exactly 100 when every contact is active and engaged with no bounces or
complaints, exactly 0 when every contact is suppressed, bounced or unengaged (a
signal at 0 zeroes the product), and never rises when one contact moves to a
worse state: each signal is a share over all contacts, or over the contacts old
enough to judge, that can only fall with such a move. See "Health score" in the
README for a worked example.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from .contact_counts import ContactCounts
from .rulefile import RuleTable, load_rules_file, unknown_tables
from .store import HISTORY_STATS

HEALTH_FILE = "health.toml"
SIGNALS = ("active_ratio", "bounce_rate", "complaint_rate", "engagement")
# gate name -> the rate it judges: ("send_rates" | "rates", key)
GATE_RATES = {
    "hard_bounce_rate": ("send_rates", "hard_bounce"),
    "complaint_rate": ("send_rates", "complaint"),
    "unsubscribe_rate": ("rates", "unsubscribe"),
    "unengaged_rate": ("rates", "unengaged"),
}
SUPPRESSED = ("unsubscribed", "bounced", "complained")
DECIMALS = 6  # shares in health.json: enough to recompute the score by hand


@dataclass(frozen=True)
class Gate:
    name: str
    warn: float
    block: float


@dataclass(frozen=True)
class HealthRules:
    weights: tuple[tuple[str, float], ...]  # (signal, weight) in SIGNALS order
    bounce_cap: float
    complaint_cap: float
    min_sends: int  # the per-send gates judge a window with at least this many sends
    gates: tuple[Gate, ...]


def _gates(doc: dict[str, Any], where: str, problems: list[str]) -> tuple[Gate, ...]:
    table = doc.get("gates", {})
    if not isinstance(table, dict):
        problems.append(f"{where}: `gates` must be a table of [gates.<name>] tables.")
        return ()
    gates: list[Gate] = []
    for name in table:
        if name not in GATE_RATES:
            problems.append(
                f"{where}: unknown gate [gates.{name}]; the gates are "
                + ", ".join(f"[gates.{g}]" for g in GATE_RATES)
                + "."
            )
            continue
        t = RuleTable(table, name, f"{where} [gates]", problems)
        warn, block = t.share("warn", 1.0), t.share("block", 1.0)
        t.finish()
        if warn > block:
            problems.append(
                f"{where} [gates.{name}]: warn ({warn}) must not be above block ({block})."
            )
        gates.append(Gate(name, warn, block))
    return tuple(sorted(gates, key=lambda g: list(GATE_RATES).index(g.name)))


def parse_health_rules(doc: dict[str, Any], where: str, problems: list[str]) -> HealthRules:
    problems.extend(unknown_tables(doc, ("weights", "caps", "volume", "gates"), where))
    we = RuleTable(doc, "weights", where, problems)
    ca = RuleTable(doc, "caps", where, problems)
    vo = RuleTable(doc, "volume", where, problems)
    defaults = {"active_ratio": 0.3, "bounce_rate": 0.2, "complaint_rate": 0.2, "engagement": 0.3}
    weights = tuple((s, we.share(s, defaults[s])) for s in SIGNALS)
    rules = HealthRules(
        weights=weights,
        bounce_cap=ca.share("bounce_rate", 0.10),
        complaint_cap=ca.share("complaint_rate", 0.01),
        min_sends=vo.int("min_sends", 100, lo=1),
        gates=_gates(doc, where, problems),
    )
    for section in (we, ca, vo):
        section.finish()
    if not any(w for _, w in weights):
        problems.append(f"{where} [weights]: at least one weight must be above 0.")
    for key, cap in (("bounce_rate", rules.bounce_cap), ("complaint_rate", rules.complaint_cap)):
        if cap == 0:
            problems.append(f"{where} [caps]: `{key}` must be above 0 (it divides the rate).")
    return rules


def load_health_rules(path: Path | None = None) -> HealthRules:
    """Parse a health.toml (default: the shipped one); RulesError lists every problem."""
    return load_rules_file(parse_health_rules, HEALTH_FILE, path)


@dataclass(frozen=True)
class SendWindow:
    """What the events say of the last `days` days (the scoring factor window): the sends
    to the contacts and the hard bounces and complaints among them."""

    days: int
    sends: int
    hard_bounces: int
    complaints: int


@dataclass(frozen=True)
class Population:
    """Contacts per health state. `engaged + too_new + unengaged = active` when
    engagement is known; otherwise those three are 0."""

    total: int
    active: int
    unsubscribed: int
    bounced: int
    complained: int
    engaged: int
    too_new: int
    unengaged: int
    engagement_known: bool


def population(counts: ContactCounts, engagement_known: bool) -> Population:
    """Contacts per health state, from their counts. Engaged: active with a human open,
    click or reply within the threshold window (the counts' `engaged`); unengaged: the
    `unengaged` flag of scoring; too new: the rest of the active ones (first seen inside
    the window, nothing yet)."""
    active = pl.col("status") == "active"
    n = pl.col("n")
    row = counts.states.select(
        n.sum().alias("total"),
        n.filter(active).sum().alias("active"),
        *(n.filter(pl.col("status") == s).sum().alias(s) for s in SUPPRESSED),
        n.filter(pl.col("engaged")).sum().alias("engaged"),
        n.filter(active & ~pl.col("engaged") & ~pl.col("unengaged")).sum().alias("too_new"),
        n.filter(active & pl.col("unengaged")).sum().alias("unengaged"),
    ).row(0, named=True)
    if not engagement_known:
        row |= {"engaged": 0, "too_new": 0, "unengaged": 0}
    return Population(**{k: int(v or 0) for k, v in row.items()}, engagement_known=engagement_known)


def _share(n: int, d: int) -> float:
    return n / d if d else 0.0


def signals(pop: Population, rules: HealthRules) -> dict[str, dict[str, Any]]:
    """Each signal's value (the measured share) and score (0 worst .. 1 best); engagement
    has value and score None when it cannot be judged."""
    t = pop.total
    bounce, complaint = _share(pop.bounced, t), _share(pop.complained, t)
    judged = t - pop.too_new
    engagement = _share(pop.engaged, judged) if pop.engagement_known and judged else None
    return {
        "active_ratio": {"value": _share(pop.active, t), "score": _share(pop.active, t)},
        "bounce_rate": {
            "value": bounce,
            "score": 1 - min(bounce / rules.bounce_cap, 1.0),
            "cap": rules.bounce_cap,
        },
        "complaint_rate": {
            "value": complaint,
            "score": 1 - min(complaint / rules.complaint_cap, 1.0),
            "cap": rules.complaint_cap,
        },
        "engagement": {
            "value": engagement,
            "score": engagement,
            "judged": judged if pop.engagement_known else None,
        },
    }


def health_score(pop: Population, rules: HealthRules) -> tuple[int, dict[str, dict[str, Any]]]:
    """The score 0–100 and the components: each signal with its weight and `factor`, its
    multiplier in `score = 100 × Π factor` (factor = score ** (weight / Σ weights used))."""
    parts = signals(pop, rules)
    used = {s: w for s, w in rules.weights if w > 0 and parts[s]["score"] is not None and pop.total}
    total_weight = sum(used.values())
    product = 1.0
    for s, part in parts.items():
        part["weight"] = dict(rules.weights)[s]
        part["factor"] = part["score"] ** (used[s] / total_weight) if s in used else None
        if s in used:
            product *= part["factor"]
    if not pop.total:
        product = 0.0
    score = math.floor(100 * product + 0.5)
    # 100 only for a perfect list, 0 only for a lost one: rounding never claims either.
    score = min(score, 99) if product < 1 else score
    score = max(score, 1) if product > 0 else score
    return score, parts


def gate_results(
    values: dict[str, dict[str, float | None]], why_unknown: str, rules: HealthRules
) -> list[dict[str, Any]]:
    """Each gate of the rules judged against its rate; a rate that is unknown (no events, or
    no sends in the window) is never a failure, and says so."""
    out = []
    for g in rules.gates:
        group, key = GATE_RATES[g.name]
        value = values[group][key]
        label = g.name.replace("_", " ")
        label = label[0].upper() + label[1:]
        basis = "of sends" if group == "send_rates" else "of contacts"
        if value is None:
            outcome = "unknown"
            message = f"{label}: unknown, because {why_unknown}; the gate was not checked."
        elif value >= g.block:
            outcome = "block"
            message = (
                f"{label} is {_pct(value)} {basis}, at or above the block level of "
                f"{_pct(g.block)}: the run fails (exit code 1). Clean the list before sending, "
                f"or raise [gates.{g.name}] block in health.toml."
            )
        elif value >= g.warn:
            outcome = "warn"
            message = (
                f"{label} is {_pct(value)} {basis}, at or above the warning level of "
                f"{_pct(g.warn)} (block at {_pct(g.block)})."
            )
        else:
            outcome = "pass"
            message = f"{label} is {_pct(value)} {basis}, below the warning level of "
            message += f"{_pct(g.warn)}."
        out.append(
            {
                "name": g.name,
                "value": None if value is None else round(value, DECIMALS),
                "basis": group,
                "warn": g.warn,
                "block": g.block,
                "outcome": outcome,
                "message": message,
            }
        )
    return out


def _pct(share: float) -> str:
    return f"{share * 100:.2f}".rstrip("0").rstrip(".") + " %"


def _rounded(part: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, DECIMALS) if isinstance(v, float) else v for k, v in part.items()}


@dataclass(frozen=True)
class Health:
    stats: dict[str, Any]  # health.json

    @property
    def blocking(self) -> list[dict[str, Any]]:
        return [g for g in self.stats["gates"] if g["outcome"] == "block"]

    @property
    def history_row(self) -> dict[str, Any]:
        """What the store keeps of this run for the trend in later reports: the stats its
        `health_history` table has a column for."""
        return {k: self.stats[k] for k in HISTORY_STATS}


def list_health(
    counts: ContactCounts,
    rules: HealthRules,
    as_of: datetime,
    threshold_days: int,
    window: SendWindow | None,
) -> Health:
    """health.json for the final contacts (statuses after events and the account), from
    their counts (counted with the same `as_of` and `threshold_days`); `window` is None
    when no events were given."""
    engagement_known = window is not None
    pop = population(counts, engagement_known)
    score, parts = health_score(pop, rules)
    t = pop.total
    rates: dict[str, float | None] = {
        "bounce": _share(pop.bounced, t),
        "complaint": _share(pop.complained, t),
        "unsubscribe": _share(pop.unsubscribed, t),
        "unengaged": _share(pop.unengaged, t) if engagement_known else None,
    }
    sends = window.sends if window is not None else 0
    send_rates: dict[str, float | None] = {
        "hard_bounce": _share(window.hard_bounces, sends) if window and sends else None,
        "complaint": _share(window.complaints, sends) if window and sends else None,
    }
    judged = dict(send_rates)
    if window is None:
        why_unknown = "no events were given (add --events)"
    elif sends < rules.min_sends:
        judged = dict.fromkeys(send_rates)
        why_unknown = (
            f"the events show {sends} sends within the last {window.days} days, fewer than "
            f"the {rules.min_sends} a rate needs to be judged ([volume] min_sends in health.toml)"
        )
    else:
        why_unknown = ""
    notes = []
    if not engagement_known:
        used = [s.replace("_", " ") for s, w in rules.weights if w > 0 and s != "engagement"]
        notes.append(
            "No events were given, so engagement is unknown: the score rests on "
            + ", ".join(used)
            + " only, unengagedCount is null rather than 0, and the per-send gates were "
            "not checked. Add --events to judge them."
        )
    elif pop.too_new:
        notes.append(
            f"{pop.too_new} active contacts were first seen within the last {threshold_days} "
            "days and have not engaged yet: too new to judge, they count as neither engaged "
            "nor unengaged."
        )
    if not t:
        notes.append("There are no contacts: every input row was rejected or merged away.")
    stats = {
        "totalContacts": t,
        "activeContacts": pop.active,
        "unengagedCount": pop.unengaged if engagement_known else None,
        "bouncedCount": pop.bounced,
        "complainedCount": pop.complained,
        "healthScore": score,
        "lastRunAt": as_of.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "unsubscribedCount": pop.unsubscribed,
        "engagedCount": pop.engaged if engagement_known else None,
        "tooNewCount": pop.too_new if engagement_known else None,
        "engagement_known": engagement_known,
        "thresholdDays": threshold_days,
        "components": {s: _rounded(p) for s, p in parts.items()},
        "rates": _rounded(rates),
        "send_rates": {
            "window_days": window.days if window else None,
            "sends": window.sends if window else None,
            "hard_bounces": window.hard_bounces if window else None,
            "complaints": window.complaints if window else None,
            **_rounded(send_rates),
        },
        "gates": gate_results({"rates": rates, "send_rates": judged}, why_unknown, rules),
        "notes": notes,
    }
    return Health(stats)
