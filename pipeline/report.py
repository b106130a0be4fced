"""report.html, summary.md and the terminal summary: what a run found, for people.

`report_html` renders one self-contained page (inline CSS, charts as inline SVG drawn
by matplotlib; no script, font, image or link that would reach the network) with
jinja2 and autoescaping, so every value from the data is escaped. Two renders of the
same `ReportData` are byte-identical: the SVGs carry no date and a fixed hash salt,
and nothing on the page depends on the wall clock (the run's `as_of` is its time).

`summary_md` is the same run's key figures for a pull request or a chat message, and
`summary_table` the short table `run` prints at the end.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from rich.table import Table
from rich.text import Text

from .contact_counts import ContactCounts

TEMPLATES = Path(__file__).resolve().parent / "templates"

STATUSES = ("active", "unsubscribed", "bounced", "complained")
VERDICTS = ("valid", "risky", "invalid", "unknown")
TIERS = ("champion", "loyal", "potential", "at_risk", "dormant")
TIER_BANDS = {  # seed 000: the lowest score of each tier
    "dormant": 0,
    "at_risk": 20,
    "potential": 40,
    "loyal": 60,
    "champion": 80,
}
OUTCOMES = ("block", "warn", "pass")
CHARTS = ("statuses", "verdicts", "tiers", "histogram", "engagement", "domains", "trend")
CHART_TITLES = {  # the charts' accessible names (aria-label), by their data-chart id
    "statuses": "Contacts by status",
    "verdicts": "Contacts by verdict",
    "tiers": "Contacts by tier",
    "score-histogram": "Engagement score distribution",
    "engagement-over-time": "Engagement events over time",
    "top-domains": "Top domains by contacts, coloured by verdict",
    "health-trend": "Health score over past runs",
}

# Colours carry meaning and are the same everywhere on the page (CSS uses the names).
GOOD, FAIR, WARN, BAD, NEUTRAL, INFO = (
    "#2e7d32",
    "#7cb342",
    "#ef8f00",
    "#c62828",
    "#9e9e9e",
    "#1f6fb2",
)
STATUS_COLOURS = {"active": GOOD, "unsubscribed": NEUTRAL, "bounced": WARN, "complained": BAD}
VERDICT_COLOURS = {"valid": GOOD, "risky": "#f2b705", "invalid": BAD, "unknown": NEUTRAL}
TIER_COLOURS = {
    "champion": "#1b7837",
    "loyal": "#5aae61",
    "potential": "#a6d96a",
    "at_risk": "#fdae61",
    "dormant": "#d73027",
}

COMPONENT_LABELS = {
    "active_ratio": "Active contacts",
    "bounce_rate": "Bounce rate",
    "complaint_rate": "Complaint rate",
    "engagement": "Engagement",
}
COMPONENT_HELP = {
    "active_ratio": "share of all contacts whose status is active",
    "bounce_rate": "share of contacts that bounced",
    "complaint_rate": "share of contacts that complained",
    "engagement": "share of contacts old enough to judge that opened, clicked or replied lately",
}
GATE_LABELS = {
    "hard_bounce_rate": "Hard-bounce rate",
    "bounce_rate": "Bounce rate",
    "complaint_rate": "Complaint rate",
    "unsubscribe_rate": "Unsubscribe rate",
    "unengaged_rate": "Unengaged rate",
    "health_score": "Health score",
}


@dataclass
class ReportData:
    """Everything the report shows; `run.py` fills it from the run (see the fields)."""

    health: dict  # the content of health.json
    history: list[dict]  # past runs oldest first, this run last
    contact_counts: ContactCounts  # the final contacts' counts (contact_counts.py)
    rejects: pl.DataFrame  # rejects.csv: source_file, row, email, field, error, reason
    duplicates: pl.DataFrame  # duplicates.csv
    possible_duplicates: pl.DataFrame  # possible_duplicates.csv
    events: pl.DataFrame | None  # events_by_day(...), None without --events
    counts: dict  # input_rows, rejected, duplicates_merged, unique_contacts, ...
    run: dict  # run_id, as_of, inputs [{source_file, format, preset, input_rows, rejected}]


# --------------------------------------------------------------------------- formatting


def _int(n: Any) -> str:
    if n is None:
        return "—"
    if isinstance(n, int | float) and not isinstance(n, bool):
        return f"{int(n):,}"
    return str(n)


def _pct(x: Any, digits: int = 2) -> str:
    """A rate as a percentage: 0.0667 -> `6.67 %`, 0.25 -> `25 %`, None -> `—`."""
    if x is None:
        return "—"
    text = f"{float(x) * 100:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} %"


def _share(part: int, whole: int) -> str:
    return _pct(part / whole, 1) if whole else "—"


def _label(name: str, labels: dict[str, str]) -> str:
    return labels.get(name) or name.replace("_", " ").capitalize()


def _band(score: int | None) -> tuple[str, str]:
    """The health score's colour class and word."""
    if score is None:
        return "unknown", "unknown"
    if score >= 80:
        return "good", "good"
    if score >= 60:
        return "fair", "fair"
    if score >= 40:
        return "warn", "poor"
    return "bad", "critical"


def _counts(
    counts: ContactCounts | pl.DataFrame, column: str, order: Sequence[str]
) -> list[tuple[str, int]]:
    """(value, count) of `column` for the known values in `order`, then any others by
    count, nulls left out; `counts` are contacts' counts or the rows of a frame."""
    if isinstance(counts, ContactCounts):
        values = counts.of(column)
    elif column in counts.columns:
        values = counts.get_column(column).value_counts(name="n").rename({column: "value"})
    else:
        values = pl.DataFrame(schema={"value": pl.String, "n": pl.Int64})
    got = {value: n for value, n in values.drop_nulls("value").iter_rows() if n}
    others = sorted((k for k in got if k not in order), key=lambda k: (-got[k], str(k)))
    return [(v, got.get(v, 0)) for v in order] + [(str(k), got[k]) for k in others]


def _join_counts(pairs: Iterable[tuple[str, int]]) -> str:
    return " · ".join(f"{name} {_int(n)}" for name, n in pairs)


# --------------------------------------------------------------------------- charts


def _svg(draw: Callable[[Any], None], chart_id: str, size: tuple[float, float]) -> str:
    """Draw on a fresh matplotlib Figure and return its SVG, ready to inline in HTML.

    Deterministic: a fixed `svg.hashsalt`, no date, text as SVG text (the browser's
    sans-serif, no embedded glyphs) and no mathtext (a `$` in data stays a `$`). The
    XML prolog, DOCTYPE, namespace URLs and the RDF metadata (which names the matplotlib
    web site) are removed, and every id is prefixed with `chart_id` so the page's charts
    cannot share an id."""
    import matplotlib
    from matplotlib.figure import Figure

    params = {
        "svg.hashsalt": "listhygiene",
        "svg.fonttype": "none",
        "text.parse_math": False,
        "font.family": "sans-serif",
        "font.sans-serif": ["DejaVu Sans"],
        "font.size": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.edgecolor": "#9e9e9e",
        "axes.titlesize": 11,
        "axes.titleweight": "bold",
        "axes.titlelocation": "left",
        "xtick.color": "#424242",
        "ytick.color": "#424242",
        "legend.frameon": False,
    }
    # matplotlib's layout and "Glyph missing from font" warnings would print to stderr under
    # --quiet too, the latter with data (a domain's letters); the chart is drawn either way.
    with matplotlib.rc_context(params), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fig = Figure(figsize=size, layout="constrained")
        draw(fig)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, count=1, flags=re.S)
    root_end = svg.index(">") + 1
    root = re.sub(r'\s(xmlns(:\w+)?|version|width|height)="[^"]*"', "", svg[:root_end])
    label = CHART_TITLES.get(chart_id, chart_id)
    root = root.replace(
        "<svg", f'<svg class="chart" data-chart="{chart_id}" role="img" aria-label="{label}"', 1
    )

    def scoped(tag: re.Match[str]) -> str:
        # Only inside tags: text (escaped by matplotlib, so free of < and >) is untouched.
        out = re.sub(r'\bid="([^"]+)"', rf'id="{chart_id}-\1"', tag.group(0))
        out = re.sub(r"url\(#([^)]+)\)", rf"url(#{chart_id}-\1)", out)
        return re.sub(r'href="#([^"]+)"', rf'href="#{chart_id}-\1"', out)

    return (root + re.sub(r"<[^>]+>", scoped, svg[root_end:])).strip()


def _bar_labels(ax: Any, bars: Any, total: int) -> None:
    labels = [f"{int(v):,} ({_share(int(v), total)})" if v else "" for v in bars.datavalues]
    ax.bar_label(bars, labels=labels, padding=3, fontsize=9, color="#212121")


def _hbar_chart(
    chart_id: str, pairs: list[tuple[str, int]], colours: dict[str, str], xlabel: str
) -> str:
    pairs = [(k, n) for k, n in pairs if n] or pairs
    labels = [k.replace("_", " ") for k, _ in pairs]
    values = [n for _, n in pairs]
    total = sum(values)

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        y = list(range(len(values)))
        bars = ax.barh(y, values, color=[colours.get(k, INFO) for k, _ in pairs], height=0.65)
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
        ax.set_xlim(0, max([*values, 1]) * 1.35)
        ax.spines["left"].set_visible(False)
        ax.tick_params(axis="y", length=0)
        _bar_labels(ax, bars, total)

    return _svg(draw, chart_id, (5.2, 0.5 + 0.42 * len(values)))


def _histogram_chart(scores: pl.DataFrame) -> str:
    """`scores`: contacts per score (`value`, `n`), nulls left out."""
    edges = list(range(0, 101, 10))
    counts = [0] * 10
    for value, n in scores.iter_rows():
        counts[min(int(value) // 10, 9) if value >= 0 else 0] += n

    def tier_of(low: int) -> str:
        return max((t for t, lo in TIER_BANDS.items() if lo <= low), key=TIER_BANDS.get)

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        colours = [TIER_COLOURS[tier_of(lo)] for lo in edges[:-1]]
        bars = ax.bar(edges[:-1], counts, width=9.2, align="edge", color=colours)
        ax.bar_label(bars, labels=[f"{c:,}" if c else "" for c in counts], fontsize=8)
        ax.set_xticks(edges)
        ax.set_xlim(0, 100)
        ax.set_xlabel("Engagement score (tier bands coloured)")
        ax.set_ylabel("Contacts")
        ax.set_ylim(0, max([*counts, 1]) * 1.15)
        from matplotlib.patches import Patch

        ax.legend(
            handles=[Patch(color=TIER_COLOURS[t], label=t.replace("_", " ")) for t in TIERS],
            fontsize=8,
            loc="upper right",
        )

    return _svg(draw, "score-histogram", (5.2, 2.9))


PERIODS = (("1d", "day"), ("1w", "week"), ("1mo", "month"))


def _period(times: pl.Series, first: datetime, last: datetime) -> tuple[str, str]:
    """The finest of day, week and month that gives at most 60 periods of which at least
    three in four hold events (sends, when there are): campaigns sent every other week
    read as a monthly curve, not as a zigzag through empty weeks. `times`: the days with
    events; `first`, `last`: the exact earliest and latest event."""
    first, last = first.replace(tzinfo=None), last.replace(tzinfo=None)
    for every, unit in PERIODS[:-1]:
        filled = times.dt.truncate(every).n_unique()
        days = (last - first).days + 1
        total = days if unit == "day" else days / 7 + 1
        if total <= 60 and filled >= 0.75 * total:
            return every, unit
    return PERIODS[-1]


EVENT_DAYS_SCHEMA = {
    "day": pl.Datetime("us", "UTC"),
    "event": pl.String,
    "machine_open": pl.Boolean,
    "n": pl.Int64,
    "first": pl.Datetime("us", "UTC"),  # the earliest and latest event of the group:
    "last": pl.Datetime("us", "UTC"),  # `_period` measures the span on exact times
}


def events_by_day(events: pl.DataFrame, as_of: datetime | None) -> pl.DataFrame:
    """What the report's engagement chart needs of the events (`event, timestamp,
    machine_open`): how many of each per UTC day, up to as_of. Counts add up, so the
    Spark engine sums its tasks' frames instead of gathering every event."""
    frame = events.filter(pl.col("timestamp").is_not_null())
    if as_of is not None:
        frame = frame.filter(pl.col("timestamp") <= as_of)
    return (
        frame.group_by(pl.col("timestamp").dt.truncate("1d").alias("day"), "event", "machine_open")
        .agg(
            pl.len().alias("n"),
            pl.col("timestamp").min().alias("first"),
            pl.col("timestamp").max().alias("last"),
        )
        .cast(EVENT_DAYS_SCHEMA)
        .sort("day", "event", "machine_open", nulls_last=False)
    )


def summed_by_day(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """The sum of several `events_by_day` frames (one per events file)."""
    return (
        pl.concat([pl.DataFrame(schema=EVENT_DAYS_SCHEMA), *parts], how="vertical")
        .group_by("day", "event", "machine_open")
        .agg(pl.col("n").sum(), pl.col("first").min(), pl.col("last").max())
        .cast(EVENT_DAYS_SCHEMA)
        .sort("day", "event", "machine_open", nulls_last=False)
    )


def _engagement_series(
    days: pl.DataFrame,
) -> tuple[list[datetime], dict[str, list[int]], str] | None:
    """Events per day, week (from Monday) or month (see `_period`), by kind, from
    `events_by_day`."""
    frame = days.rename({"day": "timestamp"})
    if frame.height == 0:
        return None
    sends = "send" if (frame.get_column("event") == "send").any() else "delivered"
    sent = frame.filter(pl.col("event") == sends)
    spanned = sent if sent.height else frame
    every, unit = _period(
        spanned.get_column("timestamp"),
        spanned.get_column("first").min(),  # type: ignore[arg-type]
        spanned.get_column("last").max(),  # type: ignore[arg-type]
    )
    kind = (
        pl.when(pl.col("event") == sends)
        .then(pl.lit("Sent" if sends == "send" else "Delivered"))
        .when((pl.col("event") == "open") & pl.col("machine_open").fill_null(False))
        .then(pl.lit("Machine opens"))
        .when(pl.col("event") == "open")
        .then(pl.lit("Human opens"))
        .when(pl.col("event") == "click")
        .then(pl.lit("Clicks"))
        .when(pl.col("event") == "reply")
        .then(pl.lit("Replies"))
        .when(pl.col("event").is_in(["bounce", "complaint"]))
        .then(pl.lit("Bounces & complaints"))
        .when(pl.col("event") == "unsubscribe")
        .then(pl.lit("Unsubscribes"))
        .otherwise(None)
        .alias("kind")
    )
    grouped = (
        frame.select(pl.col("timestamp").dt.truncate(every).alias("period"), kind, "n")
        .drop_nulls("kind")
        .group_by("period", "kind")
        .agg(pl.col("n").sum())
    )
    if grouped.height == 0:
        return None
    first, last = grouped.get_column("period").min(), grouped.get_column("period").max()
    periods = pl.datetime_range(first, last, every, eager=True).to_list()
    index = {p: i for i, p in enumerate(periods)}
    series: dict[str, list[int]] = {}
    for name in (
        "Sent",
        "Delivered",
        "Human opens",
        "Machine opens",
        "Clicks",
        "Replies",
        "Bounces & complaints",
        "Unsubscribes",
    ):
        rows = grouped.filter(pl.col("kind") == name)
        if rows.height:
            values = [0] * len(periods)
            for period, _, n in rows.iter_rows():
                values[index[period]] = n
            series[name] = values
    return periods, series, unit


SERIES_STYLE = {
    "Human opens": (INFO, "-"),
    "Machine opens": ("#8fb8de", "--"),
    "Clicks": (GOOD, "-"),
    "Replies": ("#6a3d9a", "-"),
    "Bounces & complaints": (BAD, "-"),
    "Unsubscribes": (WARN, ":"),
}


def _engagement_chart(periods: list[datetime], series: dict[str, list[int]], unit: str) -> str:
    """Sends (or deliveries) as bars in a small panel on top, so their volume does not
    flatten the engagement lines below, which share its time axis."""

    def draw(fig: Any) -> None:
        import matplotlib.dates as mdates

        volume = [name for name in ("Sent", "Delivered") if name in series]
        x = [p.replace(tzinfo=None) for p in periods]
        width = {"day": 0.8, "week": 5.6}.get(unit, 22)
        if volume:
            top, ax = fig.subplots(2, 1, sharex=True, height_ratios=[1, 3])
            top.bar(x, series[volume[0]], width=width, color="#bdbdbd")
            top.set_ylabel(f"{volume[0]}\nper {unit}", fontsize=9)
            top.set_ylim(bottom=0)
            top.tick_params(axis="x", length=0)
            top.grid(axis="y", color="#eeeeee")
            top.set_axisbelow(True)
        else:
            ax = fig.add_subplot()
        for name, (colour, style) in SERIES_STYLE.items():
            if name in series:
                ax.plot(
                    x,
                    series[name],
                    color=colour,
                    linestyle=style,
                    linewidth=2,
                    marker="o" if len(x) < 40 else None,
                    markersize=3,
                    label=name.lower(),
                )
        locator = mdates.AutoDateLocator(minticks=4, maxticks=9)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.set_ylabel(f"Events per {unit}")
        ax.set_ylim(bottom=0)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
        ax.grid(axis="y", color="#eeeeee")
        ax.set_axisbelow(True)

    return _svg(draw, "engagement-over-time", (9.6, 4.0))


def _domains_chart(rows: list[dict[str, Any]]) -> str:
    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        y = list(range(len(rows)))
        left = [0] * len(rows)
        for verdict in VERDICTS:
            values = [r["verdicts"].get(verdict, 0) for r in rows]
            if any(values):
                ax.barh(
                    y,
                    values,
                    left=left,
                    color=VERDICT_COLOURS[verdict],
                    height=0.65,
                    label=verdict,
                )
                left = [a + b for a, b in zip(left, values, strict=True)]
        for i, r in enumerate(rows):
            ax.text(r["count"], i, f" {r['count']:,}", va="center", fontsize=9)
        ax.set_yticks(y, [r["domain"] for r in rows])
        ax.invert_yaxis()
        ax.set_xlim(0, max([r["count"] for r in rows] + [1]) * 1.15)
        ax.set_xlabel("Contacts (coloured by verdict)")
        ax.spines["left"].set_visible(False)
        ax.tick_params(axis="y", length=0)
        ax.legend(loc="lower right", fontsize=8)

    return _svg(draw, "top-domains", (5.2, 0.8 + 0.34 * len(rows)))


def _trend_chart(history: list[dict[str, Any]]) -> str:
    runs = history[-30:]

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        x = list(range(len(runs)))
        scores = [r.get("healthScore") for r in runs]
        ax.axhspan(80, 100, color="#e8f5e9", zorder=0)
        ax.axhspan(0, 40, color="#fdecea", zorder=0)
        ax.plot(x, scores, color=INFO, linewidth=2.2, marker="o", markersize=5, zorder=3)
        for i, s in enumerate(scores):
            if s is not None and (i == len(scores) - 1 or len(scores) <= 12):
                ax.annotate(
                    f"{s}",
                    (i, s),
                    textcoords="offset points",
                    xytext=(0, 7),
                    ha="center",
                    fontsize=9,
                    fontweight="bold" if i == len(scores) - 1 else "normal",
                )
        step = max(1, len(runs) // 8)
        ticks = [i for i in x if i % step == 0 or i == len(runs) - 1]
        ax.set_xticks(ticks, [str(runs[i].get("as_of", ""))[:10] for i in ticks])
        ax.set_ylim(0, 105)
        ax.set_xlim(-0.5, len(runs) - 0.5)
        ax.set_ylabel("Health score")
        ax.set_xlabel("Run (as of)")
        ax.grid(axis="y", color="#eeeeee")

    return _svg(draw, "health-trend", (9.6, 2.8))


# --------------------------------------------------------------------------- sections


def _components(health: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per signal: its value, its score from 0 to 1, its weight and its factor
    (score ** (weight / Σ weights used)); the health score is 100 × the product of the
    factors (pipeline/health.py)."""
    rows = []
    for name, comp in (health.get("components") or {}).items():
        comp = comp or {}
        weight, score, factor = comp.get("weight"), comp.get("score"), comp.get("factor")
        fill = 0.0 if score is None else max(0.0, min(100.0, 100 * float(score)))
        cap = comp.get("cap")
        help_text = COMPONENT_HELP.get(name, "")
        if cap is not None:
            help_text += f"; scores 0 at {_pct(cap)} or more"
        rows.append(
            {
                "name": _label(name, COMPONENT_LABELS),
                "help": help_text,
                "value": "unknown" if comp.get("value") is None else _pct(comp.get("value")),
                "weight": _pct(weight, 0) if weight is not None else "—",
                "score": "—" if score is None else f"{float(score):.3f}",
                "factor": "—" if factor is None else f"{float(factor):.4f}",
                "fill": fill,
                "grade": "good"
                if fill >= 80
                else "fair"
                if fill >= 60
                else "warn"
                if fill >= 40
                else "bad",
                "known": score is not None,
            }
        )
    return rows


def _product_line(health: dict[str, Any]) -> str:
    """`100 × 0.9352 × 0.9029 × … = 61.6`: the score by hand, from the factors used."""
    factors = [
        float(c["factor"])
        for c in (health.get("components") or {}).values()
        if c and c.get("factor") is not None
    ]
    if not factors:
        return ""
    product = 100.0
    for f in factors:
        product *= f
    return "100 × " + " × ".join(f"{f:.4f}" for f in factors) + f" = {product:.1f}"


def _gates(health: dict[str, Any]) -> list[dict[str, Any]]:
    gates = []
    for gate in health.get("gates") or []:
        outcome = str(gate.get("outcome", "")).lower()
        gates.append(
            {
                "name": _label(str(gate.get("name", "")), GATE_LABELS),
                "outcome": outcome if outcome in OUTCOMES else "unknown",
                "value": _gate_value(gate.get("value")),
                "warn": _gate_value(gate.get("warn")),
                "block": _gate_value(gate.get("block")),
                "message": str(gate.get("message", "")),
            }
        )
    order = {o: i for i, o in enumerate(OUTCOMES)}
    return sorted(gates, key=lambda g: order.get(g["outcome"], 3))


def _gate_value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and 0 <= value <= 1:
        return _pct(value)
    return str(value)


def _gates_headline(gates: list[dict[str, Any]]) -> tuple[str, str]:
    blocked = sum(g["outcome"] == "block" for g in gates)
    warned = sum(g["outcome"] == "warn" for g in gates)
    if blocked:
        return "block", f"Blocked: {blocked} of {len(gates)} gates block this list"
    if warned:
        return "warn", f"Warning: {warned} of {len(gates)} gates warn"
    if gates:
        return "pass", f"All {len(gates)} gates pass"
    return "unknown", "No gates were checked"


def _top_domains(counts: ContactCounts, limit: int = 10) -> list[dict[str, Any]]:
    frame = counts.domains
    top = (
        frame.group_by("domain")
        .agg(pl.col("n").sum().alias("count"))
        .sort(["count", "domain"], descending=[True, False])
        .head(limit)
    )
    mix = frame.filter(pl.col("domain").is_in(top.get_column("domain").implode()))
    verdicts: dict[str, dict[str, int]] = {}
    for domain, verdict, n in mix.iter_rows():
        verdicts.setdefault(domain, {})[verdict] = n
    total = counts.total
    return [
        {
            "domain": domain,
            "count": n,
            "share": _share(n, total),
            "verdicts": verdicts.get(domain, {}),
            "mix": " · ".join(
                f"{v} {_int(verdicts[domain][v])}"
                for v in (*VERDICTS, *sorted(set(verdicts.get(domain, {})) - set(VERDICTS)))
                if verdicts.get(domain, {}).get(v)
            ),
        }
        for domain, n in top.iter_rows()
    ]


def _rejects_by_reason(rejects: pl.DataFrame, examples: int = 3) -> list[dict[str, Any]]:
    if rejects.height == 0:
        return []
    frame = rejects.with_columns(
        pl.col("reason").fill_null("(no reason)")
        if "reason" in rejects.columns
        else pl.lit("(no reason)").alias("reason")
    ).with_row_index("__i")
    reasons = (
        frame.group_by("reason").len("count").sort(["count", "reason"], descending=[True, False])
    )
    out = []
    for reason, count in reasons.iter_rows():
        rows = frame.filter(pl.col("reason") == reason).sort("__i").head(examples)
        out.append(
            {
                "reason": reason,
                "count": count,
                "examples": [
                    {
                        "source_file": _cell(r.get("source_file")),
                        "row": _cell(r.get("row")),
                        "field": _cell(r.get("field")),
                        "error": _cell(r.get("error")),
                    }
                    for r in rows.iter_rows(named=True)
                ],
            }
        )
    return out


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _duplicates(data: ReportData) -> dict[str, Any]:
    dups = data.duplicates
    by_match = _counts(dups, "match", ("exact", "case", "whitespace", "pre-cleaned", "possible"))
    conflicts: dict[str, int] = {}
    if "conflicts" in dups.columns and dups.height:
        exploded = (
            dups.select(pl.col("conflicts").fill_null("").str.split(";").alias("f"))
            .explode("f")
            .filter(pl.col("f") != "")
        )
        for field, n in exploded.group_by("f").len().iter_rows():
            conflicts[field] = n
    possible = data.possible_duplicates
    groups = (
        possible.get_column("group_id").n_unique()
        if "group_id" in possible.columns and possible.height
        else 0
    )
    examples = []
    if groups:
        for gid in possible.get_column("group_id").unique(maintain_order=True).head(3):
            keys = possible.filter(pl.col("group_id") == gid).get_column("email_key").to_list()
            examples.append(" = ".join(_cell(k) for k in keys))
    return {
        "merged": dups.height,
        "by_match": [(m, n) for m, n in by_match if n],
        "conflicts": sorted(conflicts.items(), key=lambda kv: (-kv[1], kv[0]))[:8],
        "possible_contacts": possible.height,
        "possible_groups": groups,
        "possible_examples": examples,
    }


def _scores_known(counts: ContactCounts) -> bool:
    return counts.states.filter(pl.col("score").is_not_null()).height > 0


def _figures(data: ReportData) -> list[dict[str, str]]:
    counts, health = data.counts, data.health
    total = counts.get("unique_contacts", health.get("totalContacts"))
    active = health.get("activeContacts")
    figures = [
        ("Unique contacts", _int(total), f"{_int(active)} active" if active is not None else ""),
        ("Rows read", _int(counts.get("input_rows")), f"{_int(counts.get('rejected'))} rejected"),
        ("Duplicates merged", _int(counts.get("duplicates_merged")), "same address"),
        (
            "Unengaged",
            "unknown" if counts.get("unengaged") is None else _int(counts.get("unengaged")),
            "no events given"
            if counts.get("unengaged") is None
            else f"{_share(counts['unengaged'], active or 0)} of active",
        ),
        (
            "Win-back targeted",
            "—" if counts.get("winback_targeted") is None else _int(counts["winback_targeted"]),
            "no --campaign-id" if counts.get("winback_targeted") is None else "in the audience",
        ),
        (
            "Suppress candidates",
            "—"
            if counts.get("suppress_candidates") is None
            else _int(counts["suppress_candidates"]),
            "silent after a win-back"
            if counts.get("suppress_candidates") is not None
            else "no events given",
        ),
    ]
    if counts.get("events_rejected") is not None:
        figures.append(("Events rejected", _int(counts["events_rejected"]), "events_rejects.csv"))
    return [{"label": a, "value": b, "note": c} for a, b, c in figures]


def _context(data: ReportData) -> dict[str, Any]:
    health, contacts, run = data.health, data.contact_counts, data.run
    score = health.get("healthScore")
    band, band_word = _band(score)
    components = _components(health)
    gates = _gates(health)
    gate_class, gate_headline = _gates_headline(gates)
    engagement_known = health.get("engagement_known")
    if engagement_known is None:
        engagement_known = data.events is not None
    rests_on = [c["name"].lower() for c in components if c["known"]]
    unknown_sentence = ""
    if not engagement_known:
        basis = (
            ", ".join(rests_on[:-1]) + " and " + rests_on[-1]
            if len(rests_on) > 1
            else "".join(rests_on) or "the contacts' statuses"
        )
        unknown_sentence = (
            "No events were given: the engagement signal is unknown and the score rests on "
            f"the {basis} alone."
        )
    total = contacts.total
    statuses = _counts(contacts, "status", STATUSES)
    verdicts = _counts(contacts, "verdict", VERDICTS)
    status_reasons = _counts(contacts.where(pl.col("status") != "active"), "status_reason", ())[:6]
    verdict_reasons = _counts(contacts.where(pl.col("verdict") != "valid"), "verdict_reason", ())
    tiers = _counts(contacts, "tier", TIERS)
    engagement_levels = _counts(contacts, "engagement", ("active", "passive", "dormant"))
    scores_known = _scores_known(contacts)

    charts = dict.fromkeys(CHARTS, "")
    if total:
        charts["statuses"] = _hbar_chart("statuses", statuses, STATUS_COLOURS, "Contacts")
        charts["verdicts"] = _hbar_chart("verdicts", verdicts, VERDICT_COLOURS, "Contacts")
    if scores_known:
        charts["tiers"] = _hbar_chart("tiers", tiers, TIER_COLOURS, "Contacts")
        charts["histogram"] = _histogram_chart(contacts.of("score").drop_nulls("value"))
    engagement = None
    if data.events is not None and data.events.height:
        engagement = _engagement_series(data.events)
        if engagement:
            charts["engagement"] = _engagement_chart(*engagement)
    domains = _top_domains(contacts)
    if domains:
        charts["domains"] = _domains_chart(domains)
    if len(data.history) >= 2:
        charts["trend"] = _trend_chart(data.history)

    events_summary = []
    if engagement:
        series = engagement[1]
        events_summary = [(name.lower(), sum(v)) for name, v in series.items()]
    return {
        "run": {
            "run_id": _cell(run.get("run_id")),
            "as_of": _cell(run.get("as_of") or health.get("lastRunAt")),
            "inputs": [
                {
                    "source_file": _cell(i.get("source_file")),
                    "format": _cell(i.get("format")),
                    "preset": _cell(i.get("preset")),
                    "input_rows": _int(i.get("input_rows")),
                    "rejected": _int(i.get("rejected")),
                }
                for i in run.get("inputs") or []
            ],
            "events_files": [_cell(f) for f in run.get("events_files") or []],
        },
        "score": "—" if score is None else int(score),
        "band": band,
        "band_word": band_word,
        "components": components,
        "unknown_sentence": unknown_sentence,
        "engagement_known": engagement_known,
        "notes": [_cell(n) for n in health.get("notes") or []],
        "rates": [
            (_label(k, {}), "unknown" if v is None else _pct(v))
            for k, v in (health.get("rates") or {}).items()
        ],
        "product_line": _product_line(health),
        "gates": gates,
        "gate_class": gate_class,
        "gate_headline": gate_headline,
        "figures": _figures(data),
        "reconciliation": {
            k: _int(data.counts.get(k))
            for k in ("input_rows", "rejected", "duplicates_merged", "unique_contacts")
        },
        "total": _int(total),
        "statuses": [(s, _int(n), _share(n, total)) for s, n in statuses],
        "verdicts": [(v, _int(n), _share(n, total)) for v, n in verdicts],
        "status_reasons": [(r, _int(n), _share(n, total)) for r, n in status_reasons],
        "verdict_reasons": [(r, _int(n), _share(n, total)) for r, n in verdict_reasons],
        "tiers": [(t, _int(n), _share(n, total)) for t, n in tiers],
        "engagement_levels": [(e, _int(n)) for e, n in engagement_levels if n],
        "scores_known": scores_known,
        "events_given": data.events is not None,
        "events_summary": [(k, _int(n)) for k, n in events_summary],
        "engagement_unit": engagement[2] if engagement else "",
        "domains": domains,
        "rejects": _rejects_by_reason(data.rejects),
        "rejected_total": _int(data.rejects.height),
        "duplicates": _duplicates(data),
        "history": [
            {
                "run_id": _cell(h.get("run_id")),
                "as_of": _cell(h.get("as_of")),
                "score": _int(h.get("healthScore")),
                "total": _int(h.get("totalContacts")),
                "active": _int(h.get("activeContacts")),
                "unengaged": _int(h.get("unengagedCount"))
                if h.get("engagement_known", True)
                else "unknown",
                "bounced": _int(h.get("bouncedCount")),
                "complained": _int(h.get("complainedCount")),
            }
            for h in data.history[-10:]
        ],
        "history_runs": len(data.history),
        "charts": charts,
        "colours": {
            "status": STATUS_COLOURS,
            "verdict": VERDICT_COLOURS,
            "tier": TIER_COLOURS,
        },
    }


# --------------------------------------------------------------------------- outputs


def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


def report_html(data: ReportData) -> str:
    """The self-contained report page (see the module docstring)."""
    from markupsafe import Markup

    context = _context(data)
    # The charts are SVG that matplotlib wrote from escaped text; mark them safe only here.
    context["charts"] = {k: Markup(v) if v else "" for k, v in context["charts"].items()}
    return _environment().get_template("report.html.j2").render(**context)


def _md(text: Any) -> str:
    """Text safe inside a Markdown table cell or line: no HTML (`<`, `>` and `&` as
    entities, which Markdown shows as the characters), no emphasis, links or table
    breaks."""
    out = _cell(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for ch in "\\`*_[]|#":
        out = out.replace(ch, "\\" + ch)
    return " ".join(out.split())


def _code(text: Any) -> str:
    """A Markdown code span (codes such as reject reasons read best as they are)."""
    return "`" + " ".join(_cell(text).replace("`", "'").split()) + "`"


def summary_md(data: ReportData) -> str:
    """The key figures as Markdown, for a pull request or a chat message."""
    health, counts, run = data.health, data.counts, data.run
    gates = _gates(health)
    _, headline = _gates_headline(gates)
    score = health.get("healthScore")
    verdicts = _counts(data.contact_counts, "verdict", VERDICTS)
    statuses = _counts(data.contact_counts, "status", STATUSES)
    lines = [
        f"## List hygiene: health {'—' if score is None else score}/100 · {headline}",
        "",
        f"Run {_md(run.get('run_id'))}, as of {_md(run.get('as_of') or health.get('lastRunAt'))}"
        f", {len(run.get('inputs') or [])} contact file(s)"
        f", {len(run.get('events_files') or [])} events file(s).",
        "",
        "| figure | value |",
        "|---|---:|",
        f"| Rows read | {_int(counts.get('input_rows'))} |",
        f"| Rejected | {_int(counts.get('rejected'))} |",
        f"| Duplicates merged | {_int(counts.get('duplicates_merged'))} |",
        f"| Unique contacts | {_int(counts.get('unique_contacts'))} |",
        f"| Statuses | {_md(_join_counts(statuses))} |",
        f"| Verdicts | {_md(_join_counts(verdicts))} |",
        f"| Unengaged | {_unknown_or_int(counts.get('unengaged'))} |",
        f"| Win-back targeted | {_int(counts.get('winback_targeted'))} |",
        f"| Suppress candidates | {_unknown_or_int(counts.get('suppress_candidates'))} |",
    ]
    for name, value in (health.get("rates") or {}).items():
        lines.append(f"| {_md(_label(name, {}))} rate | {_pct(value)} |")
    lines.append(f"| Health score | **{'—' if score is None else score}**/100 |")
    lines += ["", "**Gates**", ""]
    if gates:
        lines += [
            f"- **{g['outcome'].upper()}** {_md(g['name'])}: {_md(g['message'])}" for g in gates
        ]
    else:
        lines.append("- none checked")
    if health.get("engagement_known") is False:
        lines += ["", "No events were given: the engagement signal is unknown."]
    reasons = _rejects_by_reason(data.rejects, examples=0)
    if reasons:
        top = ", ".join(f"{_code(r['reason'])} {_int(r['count'])}" for r in reasons[:5])
        lines += ["", f"Rejects by reason: {top}."]
    lines += ["", "Details: report.html."]
    return "\n".join(lines) + "\n"


def _unknown_or_int(value: Any) -> str:
    return "unknown" if value is None else _int(value)


def summary_table(data: ReportData) -> Table:
    """The short table `run` prints at the end: contacts, rejected, duplicates, verdicts,
    health score and gates. Data values are Text, never rich markup."""
    health, counts = data.health, data.counts
    score = health.get("healthScore")
    band, band_word = _band(score)
    styles = {"good": "green", "fair": "green", "warn": "yellow", "bad": "red", "unknown": ""}
    table = Table(title=Text(f"Run {_cell(data.run.get('run_id'))}"), show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value")
    active = health.get("activeContacts")
    table.add_row(
        "Contacts",
        Text(
            f"{_int(counts.get('unique_contacts'))}"
            + (f" ({_int(active)} active)" if active is not None else "")
        ),
    )
    table.add_row(
        "Rejected",
        Text(f"{_int(counts.get('rejected'))} of {_int(counts.get('input_rows'))} rows"),
    )
    table.add_row("Duplicates", Text(f"{_int(counts.get('duplicates_merged'))} merged"))
    table.add_row("Verdicts", Text(_join_counts(_counts(data.contact_counts, "verdict", VERDICTS))))
    if counts.get("unengaged") is not None:
        table.add_row("Unengaged", Text(_int(counts["unengaged"])))
    table.add_row(
        "Health score",
        Text(f"{'—' if score is None else score}/100 ({band_word})", style=styles[band]),
    )
    gates = _gates(health)
    gate_text = Text()
    for outcome, style in (("block", "bold red"), ("warn", "yellow"), ("pass", "green")):
        n = sum(g["outcome"] == outcome for g in gates)
        if n:
            if gate_text:
                gate_text.append(", ")
            gate_text.append(f"{n} {outcome}", style=style)
    table.add_row("Gates", gate_text or Text("none"))
    return table
