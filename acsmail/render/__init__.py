"""Writers: the report as aligned tables, Markdown or JSON, and the dataset as files.

Text from the logs reaches these writers untouched and is made safe here, once
per output form: control characters never reach a terminal, and Markdown gets
its markup characters escaped.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

# Not ``import html``: importing the sibling module render.html rebinds that
# name in this package's namespace.
from html import escape as escape_html
from typing import TYPE_CHECKING, Any, Final

import polars as pl
from tabulate import tabulate

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import BinaryIO


__all__ = [
    "CONTROL",
    "DATASET_FORMATS",
    "LABELS",
    "NOTES",
    "REPORT_FORMATS",
    "TITLES",
    "escape_control",
    "for_terminal",
    "neutralise_formulas",
    "printable",
    "render_report",
    "write_dataset",
]

REPORT_FORMATS: Final = ("table", "markdown", "json", "html")
DATASET_FORMATS: Final = ("csv", "parquet", "ndjson", "json")
DATETIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%S%.6fZ"

TITLES: Final = {
    "inputs": "Inputs",
    "absent_columns": "Columns absent from the export",
    "rejected": "Rejected records (first 20)",
    "overview": "Overview",
    "statuses": "Final status of each recipient",
    "latency": "Latency of delivered mail (seconds)",
    "latency_histogram": "Latency distribution of delivered mail",
    "domains": "Recipient domains",
    "failure_categories": "Failures by category",
    "failure_reasons": "Top failure reasons",
    "bounce_types": "Bounce types",
    "senders": "Bounce rate per sender",
    "sizes": "Message sizes",
    "hours": "Per hour (UTC)",
    "hourly_outcomes": "Final statuses per hour sent (UTC)",
    "mail_servers": "Recipient mail servers with the most failures",
    "engagement": "Engagement per recipient domain",
    "engagement_senders": "Engagement per sender",
}
_PROXY_CAUTION: Final = (
    "Caution: image proxies inflate views. Apple Mail Privacy Protection and "
    "Gmail's image proxy fetch the tracking image without anyone opening the "
    "message; proxy_views counts the fetches whose user agent names a proxy. "
    "Clicks are the firmer signal."
)
#: A sentence printed under a section, for what its figures cannot say.
NOTES: Final = {
    "hourly_outcomes": (
        "A final status with no send record counts in the hour of the status."
    ),
    "engagement": _PROXY_CAUTION,
    "engagement_senders": _PROXY_CAUTION,
}
LABELS: Final = {
    "messages": "messages",
    "recipients_final": "recipients with a final status",
    "delivered": "delivered",
    "delivered_share": "delivered share",
    "pending_messages": "messages with no final status (pending)",
    "no_send_record": "final statuses with no send record",
    "clock_skew": "final statuses stamped before the send (clock skew)",
    "duplicate_records": "duplicate records merged",
    "duplicate_sends": "repeated send records (earliest kept)",
    "ties": "ties for the latest status (worse status kept)",
    "rejected": "rejected records",
    "unclassified": "records of no ACS Email table",
    "unknown_statuses": "status records with an unknown DeliveryStatus",
    "duplicate_send_records": "duplicates among send records",
    "duplicate_status_records": "duplicates among status records",
    "duplicate_engagement_records": "duplicates among engagement records",
    "message_level_status_records": "message-level status records",
    "non_terminal_status_records": (
        "recipient status records not final (Expanded, blank, …)"
    ),
    "superseded_status_records": "earlier statuses replaced by a later one",
}
#: Characters that show nothing of their own, or move other text, and are
#: written out wherever log text meets a reader: invisible, they hide what
#: a server wrote.
_UNSEEN: Final = (
    r"\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069"
    r"\ufeff\U000e0000-\U000e007f"
)
#: Characters that log text must not carry raw to a screen: C0 and C1
#: controls (a terminal runs escape sequences), and the marks that make text
#: display in an order other than its own (the bidirectional overrides,
#: isolates and marks) or hide in it (zero-width characters, tags).
CONTROL: Final = re.compile(rf"[\x00-\x08\x0b-\x1f\x7f-\x9f{_UNSEEN}]")


#: The ``CONTROL`` characters that JSON writers leave unescaped.
_RAW_IN_JSON: Final = re.compile(rf"[\x7f-\x9f{_UNSEEN}]")


def escape_control(match: re.Match[str]) -> str:
    """The escape shown for one ``CONTROL`` character: ``\\x1b``, ``\\u202e``."""
    code = ord(match.group())
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _json_escape(match: re.Match[str]) -> str:
    """One character as JSON's escape: past U+FFFF, as a surrogate pair."""
    code = ord(match.group())
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def printable(text: str) -> str:
    """Show control characters as escapes, so log text cannot drive a terminal.

    Examples
    --------
    >>> print(printable("550 " + chr(27) + "]52;c;aGk=" + chr(7) + " no"))
    550 \\x1b]52;c;aGk=\\x07 no
    >>> print(printable("invoice" + chr(0x202E) + "fdp.exe"))
    invoice\\u202efdp.exe
    """
    text = text.replace("\r\n", " ").replace("\n", " ").replace("\t", " ")
    return CONTROL.sub(escape_control, text)


def for_terminal(df: pl.DataFrame) -> pl.DataFrame:
    """Text cells with their control characters escaped, for a screen.

    Line breaks and tabs stay: in CSV they sit inside quoted fields, and
    they move no cursor but their own. Every other ``CONTROL`` character is
    shown as its escape.
    """
    pattern = CONTROL.pattern
    text = [name for name, dtype in df.schema.items() if dtype == pl.String]

    def escaped(values: pl.Series) -> pl.Series:
        rows = values.str.contains(pattern).fill_null(False).arg_true()
        if rows.len() == 0:
            return values
        fixed = [CONTROL.sub(escape_control, value) for value in values.gather(rows)]
        return values.scatter(rows, fixed)

    return df.with_columns(
        pl.col(name).map_batches(escaped, return_dtype=pl.String) for name in text
    )


def _cell(value: Any, *, markdown: bool) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, str):
        text = printable(value)
        if markdown:
            text = escape_html(text, quote=False).replace("|", "\\|")
            text = re.sub(r"([\\`*_\[\]])", r"\\\1", text)
        return text
    return value


def _rows(df: pl.DataFrame, *, markdown: bool) -> tuple[list[str], list[list[Any]]]:
    if df.columns == [] or df.height == 0:
        return df.columns, []
    if df.height == 1 and "recipients_final" in df.columns:
        # The overview is one wide row; it reads better standing up.
        pairs = [
            [LABELS.get(name, name), _cell(value, markdown=markdown)]
            for name, value in df.row(0, named=True).items()
        ]
        return ["figure", "value"], pairs
    rows = [[_cell(v, markdown=markdown) for v in row] for row in df.iter_rows()]
    return df.columns, rows


def _text(
    sections: Mapping[str, pl.DataFrame],
    notes: Mapping[str, str],
    *,
    markdown: bool,
) -> str:
    parts = []
    for name, df in sections.items():
        headers, rows = _rows(df, markdown=markdown)
        title = TITLES.get(name, name)
        if markdown:
            parts.append(f"## {title}\n")
        else:
            parts.append(f"{title}\n{'=' * len(title)}")
        if not rows:
            parts.append("(none)\n")
            continue
        table = tabulate(
            rows,
            headers=headers,
            tablefmt="github" if markdown else "simple",
            floatfmt="g",
            disable_numparse=True,
        )
        parts.append(table + "\n")
        if name in notes:
            parts.append(f"> {notes[name]}\n" if markdown else f"{notes[name]}\n")
    return "\n".join(parts)


def _iso_time(name: str, dtype: pl.Datetime) -> pl.Expr:
    """A datetime column as ISO 8601 text, fractions only where there are any."""
    zone = "Z" if dtype.time_zone is not None else ""
    column = pl.col(name)
    if dtype.time_zone is not None:
        column = column.dt.convert_time_zone("UTC")
    whole = column.dt.to_string(f"%Y-%m-%dT%H:%M:%S{zone}")
    fraction = column.dt.to_string(f"%Y-%m-%dT%H:%M:%S%.6f{zone}")
    return pl.when(column.dt.microsecond() == 0).then(whole).otherwise(fraction)


def _json_rows(df: pl.DataFrame) -> list[str]:
    """Each row of ``df`` as one line of compact JSON (NaN written as null)."""
    times = {
        name: _iso_time(name, dtype)
        for name, dtype in df.schema.items()
        if isinstance(dtype, pl.Datetime)
    }
    # Split on newlines alone: JSON escapes them inside strings, but not the
    # other line breaks that str.splitlines would cut at, such as U+2028.
    text = df.with_columns(**times).write_ndjson()
    return text.split("\n")[:-1]


def _json(sections: Mapping[str, pl.DataFrame]) -> str:
    # One row to a line, as Polars writes them: as easy to read as an indented
    # document, and fast on the tens of thousands of rows of a large report.
    parts = []
    for name, df in sections.items():
        rows = _json_rows(df)
        body = "[\n    " + ",\n    ".join(rows) + "\n  ]" if rows else "[]"
        parts.append(f"  {json.dumps(name)}: {body}")
    text = "{\n" + ",\n".join(parts) + "\n}\n"
    # JSON may carry DEL, the C1 controls and the invisible marks raw;
    # written as \u escapes they mean the same and show nothing odd.
    return _RAW_IN_JSON.sub(_json_escape, text)


def render_report(
    sections: Mapping[str, pl.DataFrame],
    form: str,
    notes: Mapping[str, str] | None = None,
) -> str:
    """Render collected report sections as table, Markdown, JSON or HTML text.

    In JSON the report is one object whose keys are the section names, each a
    list of row objects. HTML is one self-contained page with charts. The
    ``notes`` are sentences printed under the sections they name, besides
    those of ``NOTES``; JSON carries none.
    """
    shown = {**NOTES, **(notes or {})}
    if form == "html":
        from acsmail.render.html import render_html

        return render_html(sections, notes=shown)
    if form == "json":
        return _json(sections)
    return _text(sections, shown, markdown=form == "markdown")


def neutralise_formulas(df: pl.DataFrame) -> pl.DataFrame:
    """Prefix text cells a spreadsheet would run as a formula with a quote.

    A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
    is read as a formula by Excel and LibreOffice; FailureMessage and the
    addresses come from remote servers and senders, so they are not trusted.
    """
    risky = r"^[=+\-@\t\r]"
    text = [name for name, dtype in df.schema.items() if dtype == pl.String]
    return df.with_columns(
        pl.when(pl.col(name).str.contains(risky))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name in text
    )


def write_dataset(
    df: pl.DataFrame, form: str, out: BinaryIO, *, escape_formulas: bool = True
) -> None:
    """Write the deliveries dataset to a binary stream in the chosen form.

    CSV is the form people open in a spreadsheet, so only there are formula-like
    cells neutralised (unless ``escape_formulas`` is False).
    """
    if form == "csv":
        if escape_formulas:
            df = neutralise_formulas(df)
        df.write_csv(out, datetime_format=DATETIME_FORMAT)
    elif form == "parquet":
        df.write_parquet(out)
    elif form == "ndjson":
        df.write_ndjson(out)
    elif form == "json":
        out.write(df.write_json().encode())
    else:
        msg = f"unknown dataset format {form!r}"
        raise ValueError(msg)
