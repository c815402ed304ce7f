"""A JSON array of row objects, as ``az monitor log-analytics query`` prints it.

The CLI turns every value into text with Python's ``str``: numbers arrive as
``"0.026019"``, booleans as ``"True"``, nulls as ``"None"``, and each row gains a
``TableName`` key holding the query's result name (usually ``PrimaryResult``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from acsmail.errors import InputError
from acsmail.readers._source import (
    Careful,
    Source,
    column_map,
    finish,
    rejects_frame,
    sample_time_format,
)
from acsmail.schema import SOURCE_LINE

if TYPE_CHECKING:
    from pathlib import Path

    from acsmail.readers._times import DateOrder

__all__ = ["open_json_array", "text_of"]

_NULL_TEXT: Final = "None"


def text_of(value: Any) -> str | None:
    """Render one JSON value as the text the CLI would have written."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _load(path: Path) -> list[Any]:
    try:
        document = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        msg = f"{path}: byte {error.start}: expected UTF-8 JSON text"
        raise InputError(msg) from error
    except json.JSONDecodeError as error:
        msg = (
            f"{path}: line {error.lineno}, column {error.colno}: "
            f"expected a JSON array of row objects ({error.msg})"
        )
        raise InputError(msg) from error
    if not isinstance(document, list):
        msg = f"{path}: line 1: expected a JSON array of row objects"
        raise InputError(msg)
    return document


def rows_to_frame(
    path: Path, rows: list[Any]
) -> tuple[pl.DataFrame, list[tuple[int, str, str]]]:
    """Turn decoded row objects into a text frame; non-objects are rejected.

    The line of a rejected row is its 1-based position in the array, since a
    pretty-printed array spreads one row over many lines.
    """
    kept: list[dict[str, str | None]] = []
    positions: list[int] = []
    rejects: list[tuple[int, str, str]] = []
    for position, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            reason = f"record {position}: expected a JSON object"
            rejects.append((position, reason, json.dumps(row)[:500]))
            continue
        kept.append({str(key): text_of(value) for key, value in row.items()})
        positions.append(position)
    names = list(dict.fromkeys(key for row in kept for key in row))
    frame = pl.DataFrame(kept, schema=dict.fromkeys(names, pl.String))
    frame = frame.with_columns(pl.Series(SOURCE_LINE, positions, pl.Int64))
    return frame, rejects


def _read(path: Path) -> tuple[pl.DataFrame, list[tuple[int, str, str]]]:
    """Parse with Polars; only an awkward document goes through Python."""
    try:
        frame = pl.read_json(path, infer_schema_length=None)
        frame = frame.select(pl.all().cast(pl.String))
    except (pl.exceptions.PolarsError, ValueError):
        return rows_to_frame(path, _load(path))
    frame = frame.with_row_index(SOURCE_LINE, offset=1)
    return frame.with_columns(pl.col(SOURCE_LINE).cast(pl.Int64)), []


def open_json_array(
    path: Path, *, hint: str | None, date_order: DateOrder | None
) -> Source:
    """Prepare a JSON array export for reading.

    The document is parsed once here: an array is a single JSON value, so it
    cannot be scanned in pieces, and the CLI caps its size anyway.

    Raises
    ------
    InputError
        When the file is not a JSON array, or names no ACS Email column.
    """
    frame, rejects = _read(path)
    mapping = column_map([name for name in frame.columns if name != SOURCE_LINE])
    if not mapping and frame.height:
        found = frame.columns[:5]
        msg = f"{path}: record 1: expected ACS Email log columns, found {found!r}"
        raise InputError(msg)
    time_column = next((n for n, c in mapping.items() if c == "TimeGenerated"), None)
    sample = (
        frame.get_column(time_column).head(2000)
        if time_column
        else pl.Series([], dtype=pl.String)
    )
    sample = sample.filter(sample != _NULL_TEXT)
    time_format, warnings = sample_time_format(
        sample, date_order=date_order, source=str(path)
    )
    records = finish(
        frame.lazy(),
        mapping=mapping,
        time_format=time_format,
        file=str(path),
        hint=hint,
        null_text=_NULL_TEXT,
    ).collect()
    loaded = Careful(records, rejects_frame(str(path), rejects))

    source = Source(
        path,
        "json-array",
        frozenset(mapping.values()),
        fast=records.lazy,
        careful=lambda: loaded,
        hint=hint,
    )
    source.warnings.extend(warnings)
    if rejects:
        source.use_careful()
    return source
