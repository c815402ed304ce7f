"""JSON Lines: one record per line, as a workspace data-export rule writes them.

Data export writes Log Analytics rows (``TimeGenerated``, ``_ResourceId``, …) with
numbers as JSON numbers. Diagnostic-settings archives write resource-log records
instead: camelCase top-level keys and the table's own fields inside
``properties``. Both are read here; keys are matched case-insensitively.
"""

from __future__ import annotations

import json
from itertools import islice
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
from acsmail.readers.jsonarray import text_of
from acsmail.schema import SOURCE_LINE, TABLES

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from acsmail.readers._times import DateOrder

__all__ = ["open_ndjson"]

_SNIFF_LINES: Final = 200
_PROPERTIES: Final = "properties"
_FIELD_NAMES: Final = tuple(
    dict.fromkeys(name for table in TABLES for name in table.schema)
)


def _flatten(record: dict[str, Any]) -> dict[str, str | None]:
    """Lift ``properties`` fields to the top; a top-level key wins a clash."""
    flat: dict[str, str | None] = {}
    properties = record.get(_PROPERTIES)
    if isinstance(properties, dict):
        flat.update({str(k): text_of(v) for k, v in properties.items()})
    flat.update({str(k): text_of(v) for k, v in record.items() if k != _PROPERTIES})
    return flat


def _sniff_keys(path: Path) -> tuple[list[str], list[str]]:
    """Top-level and ``properties`` keys of the first lines that parse."""
    top: dict[str, None] = {}
    nested: dict[str, None] = {}
    with path.open("rb") as lines:
        for line in islice(lines, _SNIFF_LINES):
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if not isinstance(record, dict):
                continue
            top.update(dict.fromkeys(map(str, record)))
            properties = record.get(_PROPERTIES)
            if isinstance(properties, dict):
                nested.update(dict.fromkeys(map(str, properties)))
    return list(top), list(nested)


def open_ndjson(
    path: Path, *, hint: str | None, date_order: DateOrder | None
) -> Source:
    """Prepare a JSON Lines export for reading.

    Raises
    ------
    InputError
        When no line of the file's start is a JSON object with ACS Email fields.
    """
    top, nested = _sniff_keys(path)
    has_properties = _PROPERTIES in top
    # Keys seen in the first lines, plus every canonical name: a field that is
    # null in the first rows may still be set further down.
    top_names = list(dict.fromkeys([k for k in top if k != _PROPERTIES]))
    nested_names = list(dict.fromkeys([*nested, *_FIELD_NAMES]))
    if not has_properties:
        top_names += [n for n in _FIELD_NAMES if n not in top_names]
    schema: dict[str, pl.DataType] = dict.fromkeys(top_names, pl.String())
    if has_properties:
        schema[_PROPERTIES] = pl.Struct(dict.fromkeys(nested_names, pl.String()))

    flat_names = [*nested_names, *top_names] if has_properties else top_names
    mapping = column_map(_prefer_top(flat_names, top_names))
    if not mapping or not (set(top) | set(nested)):
        msg = f"{path}: line 1: expected JSON objects with ACS Email log fields"
        raise InputError(msg)

    def scan() -> pl.LazyFrame:
        lf = pl.scan_ndjson(path, schema=schema)
        if has_properties:
            lf = _lift_properties(lf, nested_names, top_names)
        return lf.with_row_index(SOURCE_LINE, offset=1).with_columns(
            pl.col(SOURCE_LINE).cast(pl.Int64)
        )

    time_format, warnings = sample_time_format(
        _time_sample(scan, mapping), date_order=date_order, source=str(path)
    )

    def fast() -> pl.LazyFrame:
        return finish(
            scan(), mapping=mapping, time_format=time_format, file=str(path), hint=hint
        )

    def careful() -> Careful:
        frame, rejects = _read_carefully(path, list(mapping))
        lf = finish(
            frame.lazy(),
            mapping=mapping,
            time_format=time_format,
            file=str(path),
            hint=hint,
        )
        return Careful(lf.collect(), rejects_frame(str(path), rejects))

    source = Source(path, "ndjson", frozenset(mapping.values()), fast, careful, hint)
    source.warnings.extend(warnings)
    return source


def _prefer_top(flat_names: list[str], top_names: list[str]) -> list[str]:
    """Order names so a top-level key is mapped before a nested one."""
    return [*top_names, *(n for n in flat_names if n not in top_names)]


def _lift_properties(
    lf: pl.LazyFrame, nested_names: list[str], top_names: list[str]
) -> pl.LazyFrame:
    lifted = [
        pl.col(_PROPERTIES).struct.field(name).alias(name)
        for name in nested_names
        if name not in top_names
    ]
    return lf.with_columns(lifted).drop(_PROPERTIES)


def _time_sample(
    scan: Callable[[], pl.LazyFrame], mapping: dict[str, str]
) -> pl.Series:
    column = next((n for n, c in mapping.items() if c == "TimeGenerated"), None)
    if column is None:
        return pl.Series([], dtype=pl.String)
    try:
        return scan().select(column).head(2000).collect().to_series()
    except pl.exceptions.PolarsError:
        return pl.Series([], dtype=pl.String)


def _read_carefully(
    path: Path, names: list[str]
) -> tuple[pl.DataFrame, list[tuple[int, str, str]]]:
    """Parse line by line; keep the objects, reject everything else with its line."""
    kept: list[dict[str, str | None]] = []
    lines_of_records: list[int] = []
    rejects: list[tuple[int, str, str]] = []
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                text = raw.decode("utf-8", "replace").rstrip("\r\n")
                rejects.append((number, f"not valid JSON ({error})", text))
                continue
            if not isinstance(record, dict):
                text = raw.decode("utf-8", "replace").rstrip("\r\n")
                rejects.append((number, "expected a JSON object", text))
                continue
            kept.append(_flatten(record))
            lines_of_records.append(number)
    frame = pl.DataFrame(
        [{name: row.get(name) for name in names} for row in kept],
        schema=dict.fromkeys(names, pl.String),
    )
    frame = frame.with_columns(pl.Series(SOURCE_LINE, lines_of_records, pl.Int64))
    return frame, rejects
