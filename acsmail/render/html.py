"""The report as one HTML page that opens offline, with charts where they help.

Everything the page needs is inside it: plotly.js is inlined once, and the
charts' data sits in a JSON block that a short script hands to it. A Content
Security Policy lets only those two scripts run and lets nothing be fetched,
so the page behaves the same on a plane as at a desk.

Text from the logs (addresses, domains, host names, reply texts) is untrusted.
Tables are escaped by the template engine's autoescaping. Chart labels are
escaped before plotly sees them, because plotly reads a subset of HTML in
labels and hover text (``<b>``, ``<br>``, ``<a href>``) and would otherwise
turn a tag from a log into markup; it decodes the entities back for display.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final

import jinja2
from markupsafe import Markup

from acsmail import __version__
from acsmail.render import CONTROL, LABELS, NOTES, TITLES, escape_control

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    import polars as pl

__all__ = ["render_html"]

PAGE_TITLE: Final = "ACS Email delivery report"
#: How many bars a chart of domains or senders shows; the table lists them all.
TOP_BARS: Final = 15
#: Rows a table shows before the rest fold away under a "more rows" toggle.
SHOWN_ROWS: Final = 25

_COLOURS: Final = {
    "delivered": "#2e7d32",
    "bounced": "#c62828",
    "failed": "#ef6c00",
    "suppressed": "#6a1b9a",
    "quarantined": "#795548",
    "filtered_spam": "#ad1457",
    "other": "#757575",
    "share": "#1565c0",
    "views": "#00838f",
    "clicks": "#5d4037",
}
_OUTCOMES: Final = (
    ("delivered", "Delivered"),
    ("bounced", "Bounced"),
    ("failed", "Failed"),
    ("suppressed", "Suppressed"),
    ("quarantined", "Quarantined"),
    ("filtered_spam", "FilteredSpam"),
)
#: Each hour's bar and point span the hour they count, not sit on its start.
_HOURLY: Final = {"xperiod": 3_600_000, "xperiodalignment": "middle"}
_FRACTIONS: Final = ("share", "rate")
_BOOTSTRAP: Final = """
(function () {
  var charts = JSON.parse(document.getElementById("acsmail-charts").textContent);
  var config = {displaylogo: false, responsive: true};
  var drawn = Object.keys(charts).map(function (id) {
    return Plotly.newPlot(id, charts[id].data, charts[id].layout, config);
  });
  Promise.all(drawn).then(function () { window.acsmailChartsDrawn = true; });
})();
"""

_TEMPLATE: Final = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ policy }}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
  body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
         margin: 0 auto; max-width: 1200px; padding: 1rem 2rem; color: #1f2328; }
  h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
  h2 { font-size: 1.2rem; margin-top: 2.2rem; border-bottom: 1px solid #d0d7de;
       padding-bottom: 0.2rem; }
  nav ol { columns: 3; font-size: 0.9rem; padding-left: 1.2rem; }
  .meta { color: #59636e; font-size: 0.85rem; }
  .chart { width: 100%; height: 380px; }
  .wide { overflow-x: auto; }
  table { border-collapse: collapse; font-size: 0.85rem; margin: 0.4rem 0; }
  th, td { border: 1px solid #d0d7de; padding: 0.25rem 0.5rem; text-align: left;
           vertical-align: top; }
  th { background: #f6f8fa; }
  td.number { text-align: right; font-variant-numeric: tabular-nums; }
  td.text { max-width: 40rem; overflow-wrap: anywhere; }
  .note { font-style: italic; color: #59636e; max-width: 50rem; }
  .none { color: #59636e; }
  summary { cursor: pointer; color: #0969da; font-size: 0.9rem; }
</style>
<script>{{ plotly }}</script>
</head>
<body>
{%- macro table(headers, rows) %}
<div class="wide"><table>
<thead><tr>{% for header in headers %}<th>{{ header }}</th>{% endfor %}</tr></thead>
<tbody>
{%- for row in rows %}
<tr>
{%- for cell in row %}<td class="{{ cell.kind }}">{{ cell.text }}</td>{% endfor -%}
</tr>
{%- endfor %}
</tbody>
</table></div>
{%- endmacro %}
<h1>{{ title }}</h1>
<p class="meta">Written by acsmail {{ version }}. Times are UTC.
Everything on this page is in this one file; it needs no network.</p>
<nav><ol>
{%- for section in sections %}
  <li><a href="#{{ section.anchor }}">{{ section.title }}</a></li>
{%- endfor %}
</ol></nav>
{% for section in sections %}
<section id="{{ section.anchor }}">
<h2>{{ section.title }}</h2>
{%- if section.chart %}
<div class="chart" id="{{ section.chart }}"></div>
{%- endif %}
{%- if section.rows %}
{{ table(section.headers, section.rows[:shown]) }}
{%- if section.rows | length > shown %}
<details><summary>{{ section.rows | length - shown }} more rows</summary>
{{ table(section.headers, section.rows[shown:]) }}
</details>
{%- endif %}
{%- else %}
<p class="none">(none)</p>
{%- endif %}
{%- if section.note %}
<p class="note">{{ section.note }}</p>
{%- endif %}
</section>
{% endfor %}
<script type="application/json" id="acsmail-charts">{{ charts }}</script>
<script>{{ bootstrap }}</script>
</body>
</html>
"""


@dataclass(frozen=True)
class _Cell:
    text: str
    kind: str


@dataclass(frozen=True)
class _Section:
    anchor: str
    title: str
    headers: list[str]
    rows: list[list[_Cell]]
    note: str | None
    chart: str | None


def render_html(
    sections: Mapping[str, pl.DataFrame],
    *,
    title: str = PAGE_TITLE,
    notes: Mapping[str, str] = NOTES,
) -> str:
    """Render collected report sections as one self-contained HTML page.

    Parameters
    ----------
    sections
        Section name to collected frame, in the order to show them. Charts are
        drawn for the sections that have one (per-hour outcomes, latency
        distribution, domains, failure categories, sizes, engagement) when
        they have rows; every section is also shown as a table.
    title
        The page's heading.
    notes
        Sentences shown under the sections they name.

    Returns
    -------
    str
        The page. It fetches nothing when opened.
    """
    charts = {
        f"chart-{name}": figure
        for name, df in sections.items()
        if df.height and (figure := _figure(name, df)) is not None
    }
    shown = [
        _section(name, df, f"chart-{name}" in charts, notes.get(name))
        for name, df in sections.items()
    ]
    return _page(title, shown, charts)


def _page(title: str, sections: Sequence[_Section], charts: dict[str, Any]) -> str:
    plotly = _plotly_js()
    # Inside a script element only "</script" could end the block early; the
    # JSON escapes of these three characters keep log text from doing so.
    data = json.dumps(charts, ensure_ascii=False, separators=(",", ":"))
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    environment = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    return environment.from_string(_TEMPLATE).render(
        title=title,
        version=__version__,
        sections=sections,
        shown=SHOWN_ROWS,
        policy=_policy(plotly, _BOOTSTRAP),
        plotly=Markup(plotly),
        charts=Markup(data),
        bootstrap=Markup(_BOOTSTRAP),
    )


def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]

    source: str = get_plotlyjs()
    if "</script" in source.lower():
        msg = "the bundled plotly.js cannot be inlined: it contains '</script'"
        raise RuntimeError(msg)
    return source


def _policy(*scripts: str) -> str:
    """Only the page's own scripts run; nothing is fetched, not even an image."""
    hashes = " ".join(
        "'sha256-"
        + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        + "'"
        for script in scripts
    )
    return (
        "default-src 'none'; "
        f"script-src {hashes}; "
        "style-src 'unsafe-inline'; "
        "img-src data: blob:; font-src data:"
    )


def _section(
    name: str, df: pl.DataFrame, has_chart: bool, note: str | None
) -> _Section:
    if df.height == 1 and name == "overview":
        # The overview is one wide row; it reads better standing up.
        rows = [
            [_Cell(LABELS.get(column, column).strip(), "text"), _cell(column, value)]
            for column, value in df.row(0, named=True).items()
        ]
        headers = ["figure", "value"]
    else:
        headers = [column.replace("_", " ") for column in df.columns]
        rows = [
            [
                _cell(column, value)
                for column, value in zip(df.columns, row, strict=True)
            ]
            for row in df.iter_rows()
        ]
    return _Section(
        anchor=f"section-{name}",
        title=TITLES.get(name, name),
        headers=headers,
        rows=rows,
        note=note,
        chart=f"chart-{name}" if has_chart else None,
    )


def _cell(column: str, value: Any) -> _Cell:
    if value is None:
        return _Cell("", "text")
    if isinstance(value, bool):
        return _Cell("yes" if value else "no", "text")
    if isinstance(value, int):
        return _Cell(f"{value:,}", "number")
    if isinstance(value, float):
        if column.endswith(_FRACTIONS):
            return _Cell(f"{value:.2%}", "number")
        return _Cell(f"{value:,.4f}".rstrip("0").rstrip("."), "number")
    if isinstance(value, datetime):
        return _Cell(value.strftime("%Y-%m-%d %H:%M:%S"), "text")
    if isinstance(value, date):
        return _Cell(value.isoformat(), "text")
    return _Cell(CONTROL.sub(escape_control, str(value)), "text")


def _label(value: Any, *, missing: str = "(none)") -> str:
    """A chart label from a log value, escaped for plotly's HTML-like text."""
    if value is None:
        return missing
    return html.escape(CONTROL.sub(escape_control, str(value)), quote=False)


def _hour(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return None


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title},
        "margin": {"l": 60, "r": 60, "t": 50, "b": 60},
        "legend": {"orientation": "h", "y": -0.2, "traceorder": "normal"},
        "hovermode": "closest",
    }
    layout.update(extra)
    return layout


def _figure(name: str, df: pl.DataFrame) -> dict[str, Any] | None:
    builder = _FIGURES.get(name)
    spec = builder(df) if builder is not None else None
    if spec is None:
        return None
    import plotly.graph_objects as go  # type: ignore[import-untyped]

    # Building through plotly's figure class checks every attribute name.
    figure = go.Figure(spec)
    built: dict[str, Any] = json.loads(figure.to_json())
    return built


def _hourly_outcomes(df: pl.DataFrame) -> dict[str, Any]:
    hours = [_hour(value) for value in df["hour"]]
    bars = [
        {
            "type": "bar",
            "name": label,
            "x": hours,
            "y": df[column].to_list(),
            "marker": {"color": _COLOURS[column]},
            # A bar's width in milliseconds also gives a single hour's chart
            # a sensible span, where plotly would zoom into an instant.
            "width": 3_240_000,
            **_HOURLY,
        }
        for column, label in _OUTCOMES
        if column in df.columns and df[column].sum() > 0
    ]
    share = {
        "type": "scatter",
        "mode": "lines+markers",
        "name": "delivered share",
        "x": hours,
        "y": df["delivered_share"].to_list(),
        "yaxis": "y2",
        "line": {"color": _COLOURS["share"]},
        **_HOURLY,
    }
    return {
        "data": [*bars, share],
        "layout": _layout(
            "Final statuses and delivered share per hour sent",
            barmode="stack",
            xaxis={"title": {"text": "hour sent (UTC)"}, "type": "date"},
            yaxis={"title": {"text": "recipients"}},
            yaxis2={
                "title": {"text": "delivered share"},
                "overlaying": "y",
                "side": "right",
                "range": [0, 1.05],
                "dtick": 0.25,
                "tickformat": ".0%",
            },
        ),
    }


def _latency_histogram(df: pl.DataFrame) -> dict[str, Any]:
    return {
        "data": [
            {
                "type": "bar",
                "name": "delivered",
                "x": [_label(value) for value in df["bucket"]],
                "y": df["delivered"].to_list(),
                "customdata": df["share"].to_list(),
                "hovertemplate": "%{x}: %{y} delivered (%{customdata:.1%})"
                "<extra></extra>",
                "marker": {"color": _COLOURS["delivered"]},
            }
        ],
        "layout": _layout(
            "Time from send to delivery",
            xaxis={"title": {"text": "latency"}, "type": "category"},
            yaxis={"title": {"text": "delivered recipients"}},
            showlegend=False,
        ),
    }


def _domains(df: pl.DataFrame) -> dict[str, Any] | None:
    failing = [
        row
        for row in df.iter_rows(named=True)
        if row["bounced"] + row["failed"] + row["other"] > 0
    ]
    if not failing:
        return None
    failing.sort(key=lambda row: -(row["bounced"] + row["failed"] + row["other"]))
    shown = failing[:TOP_BARS]
    domains = [_label(row["domain"]) for row in shown]
    bars = [
        {
            "type": "bar",
            "orientation": "h",
            "name": label,
            "y": domains,
            "x": [row[column] for row in shown],
            "marker": {"color": _COLOURS[column]},
        }
        for column, label in (
            ("bounced", "bounced"),
            ("failed", "failed"),
            ("other", "suppressed, quarantined or spam"),
        )
    ]
    return {
        "data": bars,
        "layout": _layout(
            "Failures by recipient domain",
            barmode="stack",
            xaxis={"title": {"text": "recipients not delivered"}},
            yaxis={"autorange": "reversed", "type": "category", "automargin": True},
        ),
    }


def _failure_categories(df: pl.DataFrame) -> dict[str, Any]:
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "name": "recipients",
                "y": [_label(value) for value in df["category"]],
                "x": df["recipients"].to_list(),
                "marker": {"color": _COLOURS["bounced"]},
            }
        ],
        "layout": _layout(
            "Failures by category",
            xaxis={"title": {"text": "recipients not delivered"}},
            yaxis={"autorange": "reversed", "type": "category", "automargin": True},
            showlegend=False,
        ),
    }


def _sizes(df: pl.DataFrame) -> dict[str, Any]:
    labels = [
        _label(value, missing="(no send record)") for value in df["size_category"]
    ]
    return {
        "data": [
            {
                "type": "bar",
                "name": "recipients",
                "x": labels,
                "y": df["recipients"].to_list(),
                "marker": {"color": _COLOURS["other"]},
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "delivered share",
                "x": labels,
                "y": df["delivered_share"].to_list(),
                "yaxis": "y2",
                "line": {"color": _COLOURS["share"]},
            },
        ],
        "layout": _layout(
            "Message sizes",
            xaxis={"title": {"text": "size category"}, "type": "category"},
            yaxis={"title": {"text": "recipients"}},
            yaxis2={
                "title": {"text": "delivered share"},
                "overlaying": "y",
                "side": "right",
                "range": [0, 1.05],
                "dtick": 0.25,
                "tickformat": ".0%",
            },
        ),
    }


def _engagement(df: pl.DataFrame) -> dict[str, Any]:
    df = df.head(TOP_BARS)  # the section lists the busiest first
    key = df.columns[0]
    labels = [_label(value) for value in df[key]]
    return {
        "data": [
            {
                "type": "bar",
                "name": f"{column.replace('_', ' ')} (of delivered)",
                "x": labels,
                "y": df[column].to_list(),
                "marker": {"color": colour},
            }
            for column, colour in (
                ("view_rate", _COLOURS["views"]),
                ("click_rate", _COLOURS["clicks"]),
            )
        ],
        "layout": _layout(
            f"Open and click rates of the {df.height} {key}s with the most deliveries "
            "(views are inflated by image proxies)",
            barmode="group",
            xaxis={"type": "category", "automargin": True},
            yaxis={"title": {"text": "share of delivered"}, "tickformat": ".0%"},
        ),
    }


_FIGURES: Final[dict[str, Callable[[pl.DataFrame], dict[str, Any] | None]]] = {
    "hourly_outcomes": _hourly_outcomes,
    "latency_histogram": _latency_histogram,
    "domains": _domains,
    "failure_categories": _failure_categories,
    "sizes": _sizes,
    "engagement": _engagement,
    "engagement_senders": _engagement,
}
