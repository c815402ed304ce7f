"""The Log Analytics query API's response, as saved from the REST API or SDKs.

The response is one JSON document: ``{"tables": [{"name", "columns": [{"name",
"type"}], "rows": [[…], …]}]}``, rows being positional arrays of typed JSON
values. A query that ran into a limit still answers with status 200 and adds an
``error`` object (code ``PartialError``): the rows it holds are kept, and the
user is told that the result is incomplete. A response with an error and no
tables is an error of its own.

Each table's name becomes the ``TableName`` of its rows, as the az CLI does; a
``union`` query's rows still say their table in ``Type``. A rejected row's line
is its position among all the response's rows, counted from 1.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from acsmail.errors import InputError
from acsmail.readers._files import json_text
from acsmail.readers._partial import (
    ENDS_EARLY,
    Broken,
    cut_off,
    items_until_broken,
    skip_space,
)
from acsmail.readers._shape import text_of
from acsmail.readers._source import (
    JSON_DECODER,
    Careful,
    Source,
    column_map,
    finish,
    rejects_frame,
    sample_time_format,
)
from acsmail.readers.jsonarray import parse_document
from acsmail.schema import SOURCE_LINE

if TYPE_CHECKING:
    from acsmail.readers._files import InputFile
    from acsmail.readers._times import DateOrder

__all__ = ["open_query_api"]

_SAMPLE_ROWS: Final = 2000
_TABLE_NAME: Final = "TableName"
#: The start of a response, up to the ``[`` of its tables.
_TABLES_START: Final = re.compile(r'\s*\{\s*"tables"\s*:\s*\[')
#: A table as the API writes it, up to its columns: name first, then columns.
_TABLE_HEAD: Final = re.compile(
    r'\{\s*"name"\s*:\s*("(?:[^"\\]|\\.)*")\s*,\s*"columns"\s*:\s*'
)
_ROWS_START: Final = re.compile(r'\s*,\s*"rows"\s*:\s*(?=\[)')


def _load(file: InputFile) -> tuple[dict[str, Any], tuple[int, str, str] | None]:
    """The response, and the rejection of a part that is cut off.

    A response that breaks off inside a table's rows keeps the tables and
    rows before the break, as the API writes them (name, columns, rows);
    the rest is rejected as the row that would have come next.
    """
    expected = "a Log Analytics query response"
    text = json_text(file)
    try:
        document = parse_document(text, file.name, expected)
    except InputError:
        salvaged = _salvaged(text)
        if salvaged is None:
            raise
        return salvaged
    if not isinstance(document, dict):
        msg = f"{file.name}: line 1: expected a Log Analytics query response object"
        raise InputError(msg)
    return document, None


def _salvaged(text: str) -> tuple[dict[str, Any], tuple[int, str, str]] | None:
    """The whole tables and rows of a response that breaks off.

    Where it breaks (inside a table's rows, between tables, in what follows
    them) the text from there on is rejected as the row that would have
    come next. A response with no whole row is no export: None.
    """
    start = _TABLES_START.match(text)
    if start is None:
        return None
    tables, stop = items_until_broken(text, start.end() - 1)
    if not isinstance(stop, Broken):
        # The tables are whole; the break is in what follows them.
        stop = Broken(skip_space(text, stop), ENDS_EARLY)
    else:
        partial = _partial_table(text, stop.position)
        if partial is not None:
            table, stop = partial
            tables.append(table)
    if not all(isinstance(table, dict) for table in tables):
        return None
    rows = sum(len(table.get("rows") or []) for table in tables)
    if not rows:
        return None
    return {"tables": tables}, cut_off(text, stop, rows + 1)


def _partial_table(text: str, position: int) -> tuple[dict[str, Any], Broken] | None:
    """A table cut off after its columns: its whole rows, and where it broke."""
    head = _TABLE_HEAD.match(text, position)
    if head is None:
        return None
    try:
        name = json.loads(head.group(1))
        columns, end = JSON_DECODER.raw_decode(text, head.end())
    except (json.JSONDecodeError, RecursionError):
        return None
    rows_start = _ROWS_START.match(text, end)
    if rows_start is None:
        return None
    rows, broken = items_until_broken(text, rows_start.end())
    if not isinstance(broken, Broken):
        # The rows are whole; the table breaks after them.
        broken = Broken(skip_space(text, broken), ENDS_EARLY)
    return {"name": name, "columns": columns, "rows": rows}, broken


def _error_text(error: Any) -> str:
    """The code and message of an API error object, and of its innermost cause."""
    if not isinstance(error, dict):
        return str(error)
    parts = [str(error.get("code", "error")), str(error.get("message", "")).strip()]
    inner = error.get("innererror") or error.get("details")
    if isinstance(inner, list) and inner:
        inner = inner[0]
    if isinstance(inner, dict) and inner.get("message"):
        parts.append(str(inner["message"]).strip())
    return ": ".join(part for part in parts if part)


def _as_text(name: str, values: list[Any]) -> pl.Series:
    """A column's JSON values as text; only nested or mixed values go one by one."""
    try:
        series = pl.Series(name, values, strict=False)
    except (pl.exceptions.PolarsError, TypeError, ValueError):
        series = None
    if series is None or series.dtype.is_nested() or series.dtype == pl.Object:
        return pl.Series(name, [text_of(value) for value in values], pl.String)
    return series.cast(pl.String)


def _table_frame(
    table: Any, first_position: int, file: str
) -> tuple[pl.DataFrame, list[tuple[int, str, str]]]:
    """One result table as text columns; rows of the wrong length are rejected."""
    if not isinstance(table, dict):
        msg = f"{file}: expected each entry of 'tables' to be an object"
        raise InputError(msg)
    columns = [
        str(column.get("name")) if isinstance(column, dict) else str(column)
        for column in table.get("columns") or []
    ]
    kept: list[list[Any]] = []
    positions: list[int] = []
    rejects: list[tuple[int, str, str]] = []
    for offset, row in enumerate(table.get("rows") or []):
        position = first_position + offset
        if not isinstance(row, list) or len(row) != len(columns):
            found = f"{len(row)}" if isinstance(row, list) else "no list of values"
            reason = f"expected a row of {len(columns)} values, found {found}"
            rejects.append((position, reason, json.dumps(row)))
            continue
        kept.append(row)
        positions.append(position)
    values = [
        _as_text(name, [row[i] for row in kept]) for i, name in enumerate(columns)
    ]
    frame = pl.DataFrame(values, schema=dict.fromkeys(columns, pl.String))
    frame = frame.with_columns(
        pl.lit(str(table.get("name", "")), pl.String).alias(_TABLE_NAME),
        pl.Series(SOURCE_LINE, positions, pl.Int64),
    )
    return frame, rejects


def open_query_api(file: InputFile, *, date_order: DateOrder | None) -> Source:
    """Prepare a query API response for reading.

    The response is parsed here, once: it is one JSON value, and the API caps
    its size (500,000 rows, 64 MB).

    Raises
    ------
    InputError
        When the document is not a query response, or the query failed.
    """
    document, rest = _load(file)
    tables = document.get("tables")
    error = document.get("error")
    if not isinstance(tables, list):
        if error is not None:
            why = _error_text(error)
            msg = f"{file.name}: the query failed and returned no rows ({why})"
        else:
            msg = f"{file.name}: line 1: expected a 'tables' list in the query response"
        raise InputError(msg)

    frames = []
    rejects: list[tuple[int, str, str]] = []
    position = 1
    for table in tables:
        frame, rejected = _table_frame(table, position, file.name)
        position += frame.height + len(rejected)
        frames.append(frame)
        rejects += rejected
    if rest is not None:
        rejects.append(rest)
    frame = (
        pl.concat(frames, how="diagonal_relaxed")
        if frames
        else pl.DataFrame(schema={SOURCE_LINE: pl.Int64})
    )

    mapping = column_map([name for name in frame.columns if name != SOURCE_LINE])
    declared = {c for n, c in mapping.items() if n != _TABLE_NAME}
    if not declared and frame.height:
        msg = (
            f"{file.name}: record 1: expected ACS Email log columns, "
            f"found {frame.columns[:5]!r}"
        )
        raise InputError(msg)
    time_column = next((n for n, c in mapping.items() if c == "TimeGenerated"), None)
    sample = (
        frame.get_column(time_column).head(_SAMPLE_ROWS).to_list()
        if time_column
        else []
    )
    time_format, warnings = sample_time_format(
        sample, date_order=date_order, source=file.name
    )
    if error is not None:
        warnings.append(
            f"{file.name}: the query returned partial results ({_error_text(error)}); "
            "the rows it did return are read"
        )
    records = finish(
        frame.lazy(),
        mapping=mapping,
        time_format=time_format,
        file=file.name,
        hint=file.hint,
    ).collect()
    loaded = Careful(records, rejects_frame(file.name, rejects))

    source = Source(
        file.path,
        "query-api.gz" if file.compressed else "query-api",
        frozenset(declared),
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
    """Each wanted row as a JSON object of its column names and values."""
    found: dict[int, str] = {}
    position = 1
    for table in _load(file)[0].get("tables") or []:
        columns = [
            c.get("name") if isinstance(c, dict) else c for c in table["columns"]
        ]
        for row in table.get("rows") or []:
            if position in wanted:
                if isinstance(row, list) and len(row) == len(columns):
                    found[position] = json.dumps(dict(zip(columns, row, strict=True)))
                else:
                    found[position] = json.dumps(row)
            position += 1
    return found
