"""A JSON array of row objects, as ``az monitor log-analytics query`` prints it.

The CLI turns every value into text with Python's ``str``: numbers arrive as
``"0.026019"``, booleans as ``"True"``, nulls as ``"None"``, and each row gains a
``TableName`` key holding the query's result name (usually ``PrimaryResult``).
An array of resource-log records (with ``properties``) is read as well.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from acsmail.errors import InputError
from acsmail.readers._files import InputFile, json_text
from acsmail.readers._partial import Broken, cut_off, items_until_broken, skip_space
from acsmail.readers._shape import PROPERTIES, text_of
from acsmail.readers._source import (
    JSON_DECODER,
    Careful,
    Source,
    column_map,
    finish,
    refuse_deliveries,
    rejects_frame,
    sample_time_format,
)
from acsmail.schema import SOURCE_LINE

if TYPE_CHECKING:
    from acsmail.readers._times import DateOrder

__all__ = [
    "load_document",
    "open_json_array",
    "parse_document",
    "rows_to_frame",
    "text_of",
]

_NULL_TEXT: Final = "None"
_SAMPLE_ROWS: Final = 2000


def load_document(file: InputFile, expected: str) -> Any:
    """Parse a file that is one JSON document, failing with a file-level error.

    ``expected`` names what the document should be, for the message.
    """
    return parse_document(json_text(file), file.name, expected)


def parse_document(text: str, name: str, expected: str) -> Any:
    """``load_document`` of text read already."""
    try:
        return JSON_DECODER.decode(text)
    except RecursionError as error:
        msg = f"{name}: nested too deeply to read; expected {expected}"
        raise InputError(msg) from error
    except json.JSONDecodeError as error:
        msg = (
            f"{name}: line {error.lineno}, column {error.colno}: "
            f"expected {expected} ({error.msg.removesuffix(' at')})"
        )
        raise InputError(msg) from error


def _load(file: InputFile) -> tuple[list[Any], tuple[int, str, str] | None]:
    """The rows of the array, and the rejection of a part that is cut off.

    An array that breaks off keeps its whole rows; the rest is rejected as
    the record that would have come next. A document that yields no whole
    row is no export at all, and that is an error of the file.
    """
    expected = "a JSON array of row objects"
    text = json_text(file)
    try:
        document = parse_document(text, file.name, expected)
    except InputError:
        start = skip_space(text, 0)
        if not text.startswith("[", start):
            raise
        rows, end = items_until_broken(text, start)
        if not rows or not isinstance(end, Broken):
            raise
        return rows, cut_off(text, end, len(rows) + 1)
    if not isinstance(document, list):
        msg = f"{file.name}: line 1: expected {expected}"
        raise InputError(msg)
    return document, None


def _flat(row: dict[str, Any]) -> dict[str, str | None]:
    """A row's fields as text; ``properties`` fields are lifted, the top wins."""
    flat: dict[str, str | None] = {}
    properties = row.get(PROPERTIES)
    if isinstance(properties, dict):
        flat.update({str(k): text_of(v) for k, v in properties.items()})
    flat.update({str(k): text_of(v) for k, v in row.items() if k != PROPERTIES})
    return flat


def rows_to_frame(
    rows: list[Any],
) -> tuple[pl.DataFrame, list[tuple[int, str, str]]]:
    """Turn decoded row objects into a text frame; non-objects are rejected.

    The line of a row is its 1-based position in the array, since a
    pretty-printed array spreads one row over many lines.
    """
    kept: list[dict[str, str | None]] = []
    positions: list[int] = []
    rejects: list[tuple[int, str, str]] = []
    for position, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            reason = f"record {position}: expected a JSON object"
            rejects.append((position, reason, json.dumps(row)))
            continue
        kept.append(_flat(row))
        positions.append(position)
    names = list(dict.fromkeys(key for row in kept for key in row))
    frame = pl.DataFrame(kept, schema=dict.fromkeys(names, pl.String))
    frame = frame.with_columns(pl.Series(SOURCE_LINE, positions, pl.Int64))
    return frame, rejects


def _read(file: InputFile) -> tuple[pl.DataFrame, list[tuple[int, str, str]]]:
    """Parse with Polars; only an awkward document goes through Python."""
    try:
        frame = pl.read_json(file.path, infer_schema_length=None)
        frame = frame.select(pl.all().cast(pl.String))
    except (pl.exceptions.PolarsError, ValueError):
        rows, rest = _load(file)
        frame, rejects = rows_to_frame(rows)
        return frame, [*rejects, rest] if rest is not None else rejects
    frame = frame.with_row_index(SOURCE_LINE, offset=1)
    return frame.with_columns(pl.col(SOURCE_LINE).cast(pl.Int64)), []


def open_json_array(file: InputFile, *, date_order: DateOrder | None) -> Source:
    """Prepare a JSON array export for reading.

    The document is parsed once here: an array is a single JSON value, so it
    cannot be scanned in pieces, and the CLI caps its size anyway.

    Raises
    ------
    InputError
        When the file is not a JSON array, or names no ACS Email column.
    """
    frame, rejects = _read(file)
    refuse_deliveries(file.name, frame.columns)
    mapping = column_map([name for name in frame.columns if name != SOURCE_LINE])
    if not mapping and frame.height:
        found = frame.columns[:5]
        msg = f"{file.name}: record 1: expected ACS Email log columns, found {found!r}"
        raise InputError(msg)
    time_column = next((n for n, c in mapping.items() if c == "TimeGenerated"), None)
    sample = (
        frame.get_column(time_column).head(_SAMPLE_ROWS).to_list()
        if time_column
        else []
    )
    time_format, warnings = sample_time_format(
        [value for value in sample if value != _NULL_TEXT],
        date_order=date_order,
        source=file.name,
    )
    records = finish(
        frame.lazy(),
        mapping=mapping,
        time_format=time_format,
        file=file.name,
        hint=file.hint,
        null_text=_NULL_TEXT,
    ).collect()
    loaded = Careful(records, rejects_frame(file.name, rejects))

    source = Source(
        file.path,
        "json-array.gz" if file.compressed else "json-array",
        frozenset(mapping.values()),
        fast=records.lazy,
        careful=lambda: loaded,
        hint=file.hint,
        display=file.name,
        raw_text=lambda wanted: _raw_rows(file, wanted),
    )
    source.warnings.extend(warnings)
    if rejects:
        source.use_careful()
    source.dates = time_format
    return source


def _raw_rows(file: InputFile, wanted: set[int]) -> dict[int, str]:
    rows, _ = _load(file)
    return {
        position: json.dumps(rows[position - 1], ensure_ascii=False)
        for position in wanted
        if 0 < position <= len(rows)
    }
