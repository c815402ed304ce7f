"""``acsmail report -f html``: one offline page whose charts draw and whose log text
stays text.

The browser test opens the page in Debian's Chromium, driven by Playwright for
Python; it never downloads a browser of its own. A missing browser fails the
test (CI installs it), it does not skip it.
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner

from acsmail.cli import cli
from acsmail.render import TITLES
from acsmail.report import SECTIONS

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, ConsoleMessage, Page, Route

SAMPLE = Path(__file__).parent.parent / "fixtures" / "sample" / "csv"
HOSTILE = Path(__file__).parent.parent / "fixtures" / "hostile" / "ndjson"
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = os.environ.get("ACSMAIL_CHROMIUM", "/usr/bin/chromium")
# Flags that keep Chromium from phoning home on its own (updates, sync, field
# trials), so any request the test sees comes from the page.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SAMPLE_CHARTS = {
    "chart-hourly_outcomes",
    "chart-latency_histogram",
    "chart-domains",
    "chart-failure_categories",
    "chart-sizes",
    "chart-engagement",
    "chart-engagement_senders",
}
CHARTS_DRAWN = """
() => Array.from(document.querySelectorAll("div.chart")).map((div) => ({
  id: div.id,
  svg: div.querySelectorAll("svg.main-svg").length,
  traces: (div.data || []).length,
  drawn: div.querySelectorAll("g.trace").length,
  marks: div.querySelectorAll(
    ".barlayer g.point path, .scatterlayer path.js-line, .scatterlayer path.point"
  ).length,
}))
"""


def _html(path: Path, out: Path) -> str:
    result = CliRunner().invoke(
        cli, ["report", str(path), "-f", "html", "-o", str(out), "-q"]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    return out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("html")
    written = {}
    for name, source in (("sample", SAMPLE), ("hostile", HOSTILE)):
        written[name] = folder / f"{name}.html"
        _html(source, written[name])
    return written


@pytest.fixture(scope="module")
def sample_report() -> dict[str, list[dict[str, Any]]]:
    result = CliRunner().invoke(cli, ["report", str(SAMPLE), "-f", "json", "-q"])
    assert result.exit_code == 0, result.stderr
    document: dict[str, list[dict[str, Any]]] = json.loads(result.stdout)
    return document


def test_report_html_is_one_self_contained_file(pages: dict[str, Path]) -> None:
    text = pages["sample"].read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "default-src 'none'" in html.unescape(text)
    assert re.search(r"<script[^>]*\ssrc=", text) is None
    assert "<link" not in text
    assert text.count("* plotly.js v") == 1
    for name in SECTIONS:
        assert f'id="section-{name}"' in text, name
        assert TITLES[name].replace("'", "&#39;") in text, name


def _without_plotly(text: str) -> str:
    """The page less the inlined plotly.js, whose code spells out many tags."""
    start = text.index("<script>")
    return text[:start] + text[text.index("</script>", start) :]


def test_report_html_escapes_log_text(pages: dict[str, Path]) -> None:
    text = _without_plotly(pages["hostile"].read_text(encoding="utf-8"))
    assert "<script>window.pwned" not in text
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in text
    assert "&amp;lt;" not in text  # escaped once, not twice
    # The plotly bundle, the chart data and the bootstrap: nothing else.
    assert text.count("</script>") == 3
    assert "</script><script>window.pwned=6" not in text
    assert "<img" not in text
    assert "<svg" not in text
    assert "\x1b" not in text


def test_report_html_to_stdout() -> None:
    result = CliRunner().invoke(cli, ["report", str(HOSTILE), "-f", "html", "-o", "-"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("<!DOCTYPE html>")
    assert result.stdout.rstrip().endswith("</html>")
    assert result.stderr == ""


def test_report_markdown_still_escapes_after_an_html_report() -> None:
    # Importing render.html once must not shadow the html module render uses.
    for form in ("html", "markdown"):
        result = CliRunner().invoke(cli, ["report", str(HOSTILE), "-f", form])
        assert result.exit_code == 0, result.stderr
    assert "&lt;b&gt;bold&lt;/b&gt;.example" in result.stdout


def test_report_latency_histogram_matches_hand_count(
    sample_report: dict[str, list[dict[str, Any]]],
) -> None:
    # The 32 complete deliveries of expected/README.md, put in buckets by hand:
    # 2.73-2.82 (3), 3.35-4.8 (10), 5.11-9.35 (12), 11.88-14.5 (3), 21.34,
    # 31.5, 258.9 and 905.7; the empty buckets between them are kept.
    got = [(b["bucket"], b["delivered"]) for b in sample_report["latency_histogram"]]
    assert got == [
        ("2-3 s", 3),
        ("3-5 s", 10),
        ("5-10 s", 12),
        ("10-20 s", 3),
        ("20-30 s", 1),
        ("30-60 s", 1),
        ("1-2 min", 0),
        ("2-5 min", 1),
        ("5-10 min", 0),
        ("10-30 min", 1),
    ]
    assert sample_report["latency_histogram"][1]["share"] == 0.3125


def test_report_hourly_outcomes_match_hand_count(
    sample_report: dict[str, list[dict[str, Any]]],
) -> None:
    # By hour of sending; m20 and m21 have no send and count at their status
    # time, 14:00-14:01.
    keys = ("hour", "recipients", "delivered", "bounced", "failed")
    others = ("suppressed", "quarantined", "filtered_spam")
    got = [
        (*(row[k] for k in keys), tuple(row[k] for k in others))
        for row in sample_report["hourly_outcomes"]
    ]
    assert got == [
        ("2026-02-10T14:00:00Z", 14, 7, 3, 4, (0, 0, 0)),
        ("2026-02-10T15:00:00Z", 13, 6, 3, 1, (1, 1, 1)),
        ("2026-02-10T16:00:00Z", 11, 10, 1, 0, (0, 0, 0)),
        ("2026-02-10T17:00:00Z", 11, 11, 0, 0, (0, 0, 0)),
    ]


def test_report_failure_categories_cover_every_failure(
    sample_report: dict[str, list[dict[str, Any]]],
) -> None:
    categories = sample_report["failure_categories"]
    # 49 final statuses, 34 of them Delivered.
    assert sum(row["recipients"] for row in categories) == 15
    assert all(len(row["example_reply"] or "") <= 160 for row in categories)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "Playwright for Python is not installed: pip install playwright "
            "(and no `playwright install`: the test drives Debian's chromium)"
        )
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: apt-get install -y chromium, or point "
            "ACSMAIL_CHROMIUM at one"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS
        )
        yield launched
        launched.close()


def _open(browser: Browser, path: Path) -> tuple[Page, list[str], list[str]]:
    """Open a page; return it, every URL it asked for, and its console errors.

    Requests for anything but the page itself and data:/blob: URLs are
    refused, so a page that tries to reach the network shows it in the list
    and cannot draw from what it would have fetched.
    """
    url = path.resolve().as_uri()
    requested: list[str] = []
    problems: list[str] = []

    def guard(route: Route) -> None:
        requested.append(route.request.url)
        if _leaves(route.request.url, url):
            route.abort()
        else:
            route.continue_()

    def complain(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            problems.append(message.text)

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route("**/*", guard)
    page = context.new_page()
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", complain)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(url)
    page.wait_for_function("window.acsmailChartsDrawn === true", timeout=30_000)
    return page, requested, problems


def _leaves(requested: str, page: str) -> bool:
    return requested != page and not requested.startswith(("data:", "blob:"))


def _outside(requested: list[str], path: Path) -> list[str]:
    page = path.resolve().as_uri()
    assert page in requested  # the recording saw the page load at least
    return [url for url in requested if _leaves(url, page)]


@pytest.mark.slow
def test_report_html_draws_every_chart_offline(
    browser: Browser, pages: dict[str, Path]
) -> None:
    page, requested, problems = _open(browser, pages["sample"])
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-sample.png"), full_page=True)

    charts = page.evaluate(CHARTS_DRAWN)
    assert {chart["id"] for chart in charts} == SAMPLE_CHARTS
    for chart in charts:
        assert chart["svg"] > 0, chart
        assert chart["traces"] > 0, chart
        assert chart["drawn"] >= chart["traces"], chart
        assert chart["marks"] > 0, chart
    assert _outside(requested, pages["sample"]) == []
    assert problems == []
    assert "image proxies inflate views" in page.inner_text("body")


@pytest.mark.slow
def test_report_html_shows_markup_from_the_logs_as_text(
    browser: Browser, pages: dict[str, Path]
) -> None:
    page, requested, problems = _open(browser, pages["hostile"])
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-hostile.png"), full_page=True)

    assert page.evaluate("typeof window.pwned") == "undefined"
    body = page.inner_text("body")
    assert "550 5.7.1 <script>window.pwned=1</script> rejected" in body
    assert '<img src=x onerror="window.pwned=2">@evil.example' in body
    assert '"><svg onload="window.pwned=4">' in body
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.evaluate("document.querySelectorAll('script').length") == 3

    ticks = page.evaluate(
        "Array.from(document.querySelectorAll('#chart-domains .ytick text'))"
        ".map((t) => t.textContent)"
    )
    assert set(ticks) == {
        "<b>bold</b>.example",
        "</script><script>window.pwned=6</script>",
    }
    page.evaluate(
        "Plotly.Fx.hover('chart-domains', [{curveNumber: 0, pointNumber: 1}])"
    )
    hover = page.evaluate(
        "Array.from(document.querySelectorAll('#chart-domains .hoverlayer text'))"
        ".map((t) => t.textContent)"
    )
    assert "(1, <b>bold</b>.example)" in hover
    assert _outside(requested, pages["hostile"]) == []
    assert problems == []
