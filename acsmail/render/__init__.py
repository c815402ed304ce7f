"""Writers: the report as aligned tables, Markdown or JSON, and the dataset as files.

Text from the logs reaches these writers untouched and is made safe here, once
per output form: control characters never reach a terminal, and Markdown gets
its markup characters escaped.
"""

from __future__ import annotations

import html
import json
import re
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final

from tabulate import tabulate

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import BinaryIO

    import polars as pl

__all__ = [
    "DATASET_FORMATS",
    "REPORT_FORMATS",
    "TITLES",
    "render_report",
    "write_dataset",
]

REPORT_FORMATS: Final = ("table", "markdown", "json")
DATASET_FORMATS: Final = ("csv", "parquet", "ndjson", "json")
DATETIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%S%.6fZ"

TITLES: Final = {
    "inputs": "Inputs",
    "absent_columns": "Columns absent from the export",
    "rejected": "Rejected records (first 20)",
    "overview": "Overview",
    "statuses": "Final status of each recipient",
    "latency": "Latency of delivered mail (seconds)",
    "domains": "Recipient domains",
    "failure_reasons": "Top failure reasons",
    "bounce_types": "Bounce types",
    "senders": "Bounce rate per sender",
    "sizes": "Message sizes",
    "hours": "Per hour (UTC)",
    "mail_servers": "Recipient mail servers with the most failures",
    "engagement": "Engagement per recipient domain",
}
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _printable(text: str) -> str:
    """Show control characters as escapes, so log text cannot drive a terminal."""
    text = text.replace("\r\n", " ").replace("\n", " ").replace("\t", " ")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _cell(value: Any, *, markdown: bool) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, str):
        text = _printable(value)
        if markdown:
            text = html.escape(text, quote=False).replace("|", "\\|")
            text = re.sub(r"([\\`*_\[\]])", r"\\\1", text)
        return text
    return value


def _rows(df: pl.DataFrame, *, markdown: bool) -> tuple[list[str], list[list[Any]]]:
    if df.columns == [] or df.height == 0:
        return df.columns, []
    if df.height == 1 and "recipients_final" in df.columns:
        # The overview is one wide row; it reads better standing up.
        pairs = [
            [name, _cell(value, markdown=markdown)]
            for name, value in df.row(0, named=True).items()
        ]
        return ["figure", "value"], pairs
    rows = [[_cell(v, markdown=markdown) for v in row] for row in df.iter_rows()]
    return df.columns, rows


def _text(sections: Mapping[str, pl.DataFrame], *, markdown: bool) -> str:
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
    return "\n".join(parts)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def render_report(sections: Mapping[str, pl.DataFrame], form: str) -> str:
    """Render collected report sections as ``table``, ``markdown`` or ``json`` text.

    In JSON the report is one object whose keys are the section names, each a
    list of row objects.
    """
    if form == "json":
        document = {
            name: [{k: _json_value(v) for k, v in row.items()} for row in df.to_dicts()]
            for name, df in sections.items()
        }
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return _text(sections, markdown=form == "markdown")


def write_dataset(df: pl.DataFrame, form: str, out: BinaryIO) -> None:
    """Write the deliveries dataset to a binary stream in the chosen form."""
    if form == "csv":
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
