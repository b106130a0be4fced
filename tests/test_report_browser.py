"""report.html as a person sees it: headless Chromium (Debian's, installed by
tests/setup_browser.sh) opens the file, and the page must render its charts, show the
figures of health.json, request nothing from the network and log no console error.

Playwright only drives /usr/bin/chromium (`executable_path`); `playwright install` is
never run. A full-page screenshot goes to the test's tmp folder, and also to the path in
$LISTHYGIENE_SCREENSHOT when that is set (e.g. `out/report-screenshot.png`)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api
from report_data import report_data

from listhygiene.report import ReportData, report_html

CHROMIUM = Path("/usr/bin/chromium")
# Without these Chromium reaches out to Google (updates, sync, field trials, QUIC probes).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-default-browser-check",
    "--metrics-recording-only",
]

pytestmark = pytest.mark.slow


def _open(data: ReportData, tmp_path: Path, name: str) -> dict[str, Any]:
    """Render `data`, open it in Chromium and return what the page did and showed."""
    if not CHROMIUM.exists():  # a failure, not a skip: the browser check must run
        pytest.fail("No /usr/bin/chromium: run `sh tests/setup_browser.sh` (make test does).")
    page_file = tmp_path / f"{name}.html"
    page_file.write_text(report_html(data), encoding="utf-8")
    requests: list[str] = []
    errors: list[str] = []
    shot = tmp_path / f"{name}.png"
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / f"profile-{name}"),  # a fresh --user-data-dir
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
            offline=True,
        )
        try:
            page = context.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on(
                "console",
                lambda m: (
                    errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None
                ),
            )
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
            page.goto(page_file.as_uri(), wait_until="load")
            charts = page.eval_on_selector_all(
                "svg.chart",
                """els => els.map(e => {
                    const r = e.getBoundingClientRect();
                    return {label: e.dataset.chart, name: e.getAttribute('aria-label'), width: r.width,
                            height: r.height, shapes: e.querySelectorAll('path, rect, line, polyline').length,
                            texts: e.querySelectorAll('text').length};
                })""",
            )
            text = page.inner_text("body")
            score = page.inner_text("#health-score")
            scripts = page.eval_on_selector_all("script", "els => els.length")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            page.screenshot(path=str(shot), full_page=True)
        finally:
            context.close()
    target = os.environ.get("LISTHYGIENE_SCREENSHOT")
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, f"{target[:-4]}-{name}.png" if name != "events" else target)
    return {
        "requests": requests,
        "errors": errors,
        "charts": charts,
        "text": text,
        "score": score,
        "scripts": scripts,
        "overflow": overflow,
        "screenshot": shot,
    }


def _assert_clean(seen: dict[str, Any], page: str) -> None:
    foreign = [u for u in seen["requests"] if not u.startswith(("file:", "data:"))]
    assert foreign == [], f"{page} made network requests: {foreign}"
    assert seen["errors"] == []
    assert seen["scripts"] == 0
    assert seen["overflow"] <= 0, "the page is wider than the window"
    assert seen["screenshot"].stat().st_size > 20_000


def test_report_renders_charts_and_health_figures(tmp_path: Path) -> None:
    data = report_data()
    seen = _open(data, tmp_path, "events")
    _assert_clean(seen, "report.html")
    labels = {c["label"] for c in seen["charts"]}
    assert labels == {
        "statuses",
        "verdicts",
        "tiers",
        "score-histogram",
        "engagement-over-time",
        "top-domains",
        "health-trend",
    }
    for chart in seen["charts"]:
        assert chart["width"] > 200 and chart["height"] > 80, chart
        assert chart["shapes"] > 5 and chart["texts"] > 3, chart
        assert chart["name"] and chart["name"] != chart["label"], chart
    health = data.health
    assert seen["score"].split()[0] == str(health["healthScore"])
    assert f"{health['totalContacts']:,}" in seen["text"]
    assert f"{health['activeContacts']:,} active" in seen["text"]
    for gate in health["gates"]:
        assert gate["message"] in seen["text"]
    # the malicious names are shown as text, never run
    assert "<script>alert(1)</script>" in seen["text"]


def test_report_without_events_says_engagement_is_unknown(tmp_path: Path) -> None:
    data = report_data(events=False, history_runs=1)
    seen = _open(data, tmp_path, "no-events")
    _assert_clean(seen, "report.html without events")
    assert {c["label"] for c in seen["charts"]} == {"statuses", "verdicts", "top-domains"}
    for chart in seen["charts"]:
        assert chart["width"] > 200 and chart["height"] > 80, chart
    assert "No events were given: the engagement signal is unknown" in seen["text"]
    assert seen["score"].split()[0] == str(data.health["healthScore"])
    assert "the trend appears from the second run on" in seen["text"]
