"""report.html, summary.md and the terminal table (pipeline/report.py)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import polars as pl
import pytest
from report_data import AS_OF, XSS, XSS_ATTR, report_contacts, report_data
from rich.console import Console

from listhygiene.contact_counts import contact_counts
from listhygiene.report import ReportData, report_html, summary_md, summary_table

ESCAPED_XSS = "&lt;script&gt;alert(1)&lt;/script&gt;"


class _Page(HTMLParser):
    """Every start tag with its attributes, and the text, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


@pytest.fixture(scope="module")
def data() -> ReportData:
    return report_data()


@pytest.fixture(scope="module")
def html(data: ReportData) -> str:
    return report_html(data)


def _hostile(data: ReportData) -> ReportData:
    """The fixture with hostile values everywhere a value from the data can be shown: a
    domain in a chart, a status reason, a run id, a note, a gate message, an events file."""
    contacts = report_contacts().with_columns(
        pl.when(pl.int_range(pl.len()) < 40)
        .then(pl.lit(f"evil@{XSS}.test"))
        .otherwise(pl.col("email_key"))
        .alias("email_key"),
        pl.when(pl.col("status") != "active")
        .then(pl.lit(XSS_ATTR))
        .otherwise(pl.col("status_reason"))
        .alias("status_reason"),
    )
    health = {
        **data.health,
        "notes": [XSS],
        "gates": [{**g, "message": XSS_ATTR} for g in data.health["gates"]],
    }
    run = {**data.run, "run_id": XSS, "events_files": [XSS]}
    return ReportData(
        health=health,
        history=[{**h, "run_id": XSS} for h in data.history],
        contact_counts=contact_counts(contacts, AS_OF, 90),
        rejects=data.rejects,
        duplicates=data.duplicates.with_columns(pl.lit(XSS).alias("conflicts")),
        possible_duplicates=data.possible_duplicates.with_columns(pl.lit(XSS).alias("email_key")),
        events=data.events,
        counts=data.counts,
        run=run,
    )


@pytest.mark.parametrize("hostile", [False, True], ids=["fixture", "hostile-everywhere"])
def test_every_value_from_the_data_is_escaped(data: ReportData, hostile: bool) -> None:
    html = report_html(_hostile(data) if hostile else data)
    # the fixture's first name, reject email and source file name, and a reject error
    assert XSS in data.rejects.get_column("email").to_list()
    assert any(XSS in f for f in data.rejects.get_column("source_file").to_list())
    assert any(XSS_ATTR in e for e in data.rejects.get_column("error").to_list())
    assert XSS not in html
    assert "<img" not in html
    assert "onerror=alert" not in html.replace("onerror=alert(1)&gt;", "")
    assert ESCAPED_XSS in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    page = _parse(html)
    tags = {tag for tag, _ in page.tags}
    assert "script" not in tags and "img" not in tags and "iframe" not in tags
    for _, attrs in page.tags:
        for name, _value in attrs:
            assert not name.startswith("on"), name
    # what the reader sees is the value itself, as text
    assert any(XSS in t for t in page.text)
    assert "<script" not in summary_md(_hostile(data))


def test_no_script_and_no_external_reference(html: str) -> None:
    assert re.search(r"<\s*script", html, re.I) is None
    page = _parse(html)
    for tag, attrs in page.tags:
        for name, value in attrs:
            value = value or ""
            if name in ("src", "href", "xlink:href", "action", "poster", "srcset"):
                assert value.startswith("#"), (tag, name, value)
            assert "://" not in value, (tag, name, value)
            assert (
                "url(" not in value
                or re.fullmatch(r"url\(#[\w.-]+\)", value.strip())
                or (all(u.startswith("url(#") for u in re.findall(r"url\([^)]*\)", value)))
            ), (tag, name, value)
    styles = re.findall(r"<style[^>]*>(.*?)</style>", html, re.S)
    assert styles
    for css in styles:
        assert "@import" not in css and "@font-face" not in css
        assert all(u.startswith("url(#") for u in re.findall(r"url\([^)]*\)", css))
    # the fixture holds no URL, so any http(s) URL would be the page's own reference
    assert "http://" not in html and "https://" not in html
    # and the page forbids fetching anything, should a reference ever slip in
    assert "default-src 'none'" in html


def test_urls_in_the_data_stay_text(data: ReportData) -> None:
    url = "https://tracker.example.com/pixel.png"
    rejects = data.rejects.with_columns(pl.lit(f"see {url} or http://example.org/x").alias("error"))
    html = report_html(
        ReportData(**{**data.__dict__, "rejects": rejects})  # type: ignore[arg-type]
    )
    assert url in html  # shown to the reader, escaped text
    page = _parse(html)
    for _, attrs in page.tags:
        for _, value in attrs:
            assert "://" not in (value or "")


def test_two_renders_are_byte_identical(data: ReportData, html: str) -> None:
    assert report_html(report_data()) == html
    assert summary_md(data) == summary_md(report_data())
    no_events = report_data(events=False, history_runs=1)
    assert report_html(no_events) == report_html(report_data(events=False, history_runs=1))


def test_the_page_shows_the_run_score_and_sections(data: ReportData, html: str) -> None:
    text = " ".join(_parse(html).text)
    health = data.health
    assert f'<span class="number">{health["healthScore"]}</span>' in html
    assert "2026-11-01T00:00:00Z" in text and data.run["run_id"] in text
    for section in (
        "health",
        "gates",
        "figures",
        "statuses",
        "verdicts",
        "tiers",
        "score-histogram",
        "engagement",
        "domains",
        "rejects",
        "duplicates",
        "trend",
        "inputs",
    ):
        assert f'id="{section}"' in html
    assert html.count("<svg") == 7
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "the inline charts share an id"
    for gate in health["gates"]:
        assert gate["message"] in text
    assert "Blocked: 1 of 3 gates block this list" in text or "gates block" in text
    # components: value, weight, points
    assert "Active contacts" in text and "30 %" in text
    # rejects by reason, at most 3 examples each
    assert "domain_empty" in text and text.count("There must be something after the @-sign") == 3
    assert "Every row is accounted for: 218 rows read = 11 rejected + 5 duplicates merged" in text
    assert "example.com" in text and "29.7 %" in text


def test_the_page_without_events_says_engagement_is_unknown() -> None:
    data = report_data(events=False, history_runs=1)
    html = report_html(data)
    text = " ".join(" ".join(_parse(html).text).split())
    assert (
        "No events were given: the engagement signal is unknown and the score rests on "
        "the active contacts, bounce rate and complaint rate alone." in text
    )
    assert "engagement over time is unknown" in text
    assert "No scores" in text
    assert "the trend appears from the second run on" in text
    assert html.count("<svg") == 3


def test_unknown_keys_and_missing_parts_are_tolerated(data: ReportData) -> None:
    health = {
        "healthScore": 100,
        "totalContacts": 0,
        "components": {"future_signal": {"value": 0.5, "weight": 1.0, "score": 1.0}},
        "gates": [{"name": "new_gate", "value": 3, "outcome": "warn", "message": "m"}],
        "something_new": {"a": 1},
    }
    empty = ReportData(
        health=health,
        history=[],
        contact_counts=contact_counts(report_contacts().clear(), AS_OF, 90),
        rejects=data.rejects.clear(),
        duplicates=data.duplicates.clear(),
        possible_duplicates=data.possible_duplicates.clear(),
        events=None,
        counts={},
        run={},
    )
    html = report_html(empty)
    text = " ".join(_parse(html).text)
    assert "Future signal" in text and "New gate" in text
    assert "No row was rejected." in text
    assert summary_md(empty).startswith("## List hygiene: health 100/100")
    Console(width=100, record=True).print(summary_table(empty))


def test_summary_md_has_the_key_figures(data: ReportData) -> None:
    md = summary_md(data)
    health, counts = data.health, data.counts
    assert md.startswith(f"## List hygiene: health {health['healthScore']}/100 · ")
    for label, value in (
        ("Rows read", counts["input_rows"]),
        ("Rejected", counts["rejected"]),
        ("Duplicates merged", counts["duplicates_merged"]),
        ("Unique contacts", counts["unique_contacts"]),
        ("Unengaged", counts["unengaged"]),
        ("Win-back targeted", counts["winback_targeted"]),
        ("Suppress candidates", counts["suppress_candidates"]),
    ):
        assert f"| {label} | {value:,} |" in md
    assert f"| Health score | **{health['healthScore']}**/100 |" in md
    for gate in health["gates"]:
        assert f"**{gate['outcome'].upper()}**" in md
    assert "Verdicts | valid" in md
    assert XSS not in md  # the run id and file names are data: escaped or left out
    no_events = summary_md(report_data(events=False, history_runs=1))
    assert "| Unengaged | unknown |" in no_events
    assert "the engagement signal is unknown" in no_events


def test_summary_table_renders(data: ReportData) -> None:
    console = Console(width=100, record=True, color_system=None)
    console.print(summary_table(data))
    out = console.export_text()
    health, counts = data.health, data.counts
    for figure in ("Contacts", "Rejected", "Duplicates", "Verdicts", "Health score", "Gates"):
        assert figure in out
    assert f"{counts['unique_contacts']:,} ({health['activeContacts']:,} active)" in out
    assert f"{health['healthScore']}/100" in out
    assert "block" in out
    hostile = ReportData(**{**data.__dict__, "run": {**data.run, "run_id": "[bold]x[/bold]"}})  # type: ignore[arg-type]
    console = Console(width=100, record=True, color_system=None)
    console.print(summary_table(hostile))
    assert "[bold]x[/bold]" in console.export_text()  # data is never rich markup


def test_the_chart_period_spans_the_exact_first_and_last_event():
    """Per-day counts (what both engines hand the report) keep the exact first and last
    event: sends daily from 1 Jan 18:00 to 2 Mar 06:00 span 60 days (a daily chart),
    where day-truncated times would span 61 (a weekly one)."""
    from datetime import UTC, datetime, timedelta

    from listhygiene.report import _engagement_series, events_by_day, summed_by_day

    start = datetime(2026, 1, 1, 18, tzinfo=UTC)
    times = [start + timedelta(days=d) for d in range(60)] + [datetime(2026, 3, 2, 6, tzinfo=UTC)]
    events = pl.DataFrame(
        {"event": ["send"] * len(times), "timestamp": times, "machine_open": [None] * len(times)},
        schema={
            "event": pl.String,
            "timestamp": pl.Datetime("us", "UTC"),
            "machine_open": pl.Boolean,
        },
    )
    days = events_by_day(events, None)
    halves = summed_by_day([events_by_day(events[:30], None), events_by_day(events[30:], None)])
    assert halves.equals(days)  # partial counts add up to the whole
    result = _engagement_series(days)
    assert result is not None
    periods, series, unit = result
    assert unit == "day" and len(periods) == 61
    assert sum(series["Sent"]) == len(times)
