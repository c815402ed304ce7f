"""The Log Analytics portal's CSV export ("Export to CSV", all or displayed columns).

The portal writes a UTF-8 byte-order mark, quotes fields holding commas, quotes or
newlines, and appends `` [UTC]`` to datetime headers. After a round trip through
Excel the file may start with a ``sep=;`` line and use semicolons.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Final

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
    from collections.abc import Callable
    from pathlib import Path

    from acsmail.readers._times import DateOrder

__all__ = ["open_csv"]

_DELIMITERS: Final = (",", ";", "\t", "|")
_SAMPLE_ROWS: Final = 2000


def _layout(head: str) -> tuple[str, int]:
    """Return the delimiter and the number of lines before the header."""
    first = head.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    if first.lower().startswith("sep=") and len(first) >= 5:
        return first[4], 1
    counts = {delimiter: first.count(delimiter) for delimiter in _DELIMITERS}
    return max(counts, key=lambda delimiter: counts[delimiter]), 0


def _header(head: str, delimiter: str, skip: int) -> list[str]:
    lines = head.lstrip("\ufeff").splitlines()[skip:]
    rows = csv.reader(io.StringIO("\n".join(lines[:1])), delimiter=delimiter)
    return next(rows, [])


def open_csv(
    path: Path, head: str, *, hint: str | None, date_order: DateOrder | None
) -> Source:
    """Prepare a portal CSV export for reading.

    Parameters
    ----------
    path
        The file.
    head
        Its first bytes, decoded.
    hint
        The table key its folder names suggest.
    date_order
        The day/month order to use when the data cannot tell.

    Raises
    ------
    InputError
        When the header names no column of an ACS Email table.
    """
    delimiter, skip = _layout(head)
    header = _header(head, delimiter, skip)
    mapping = column_map(header)
    if not mapping:
        msg = (
            f"{path}: line {skip + 1}: expected a CSV header naming ACS Email log "
            f"columns (TimeGenerated, CorrelationId, …), found {header[:5]!r}"
        )
        raise InputError(msg)

    def scan() -> pl.LazyFrame:
        lf = pl.scan_csv(
            path,
            separator=delimiter,
            skip_rows=skip,
            infer_schema=False,
            quote_char='"',
            encoding="utf8",
        )
        # The row index counts records; without embedded newlines it is the line.
        return lf.with_row_index(SOURCE_LINE, offset=skip + 2).with_columns(
            pl.col(SOURCE_LINE).cast(pl.Int64)
        )

    sample = _time_sample(scan, mapping)
    time_format, warnings = sample_time_format(
        sample, date_order=date_order, source=str(path)
    )

    def fast() -> pl.LazyFrame:
        return finish(
            scan(),
            mapping=mapping,
            time_format=time_format,
            file=str(path),
            hint=hint,
        )

    def careful() -> Careful:
        frame, rejects = _read_carefully(path, delimiter, skip)
        lf = finish(
            frame.lazy(),
            mapping=mapping,
            time_format=time_format,
            file=str(path),
            hint=hint,
        )
        return Careful(lf.collect(), rejects_frame(str(path), rejects))

    source = Source(path, "csv", frozenset(mapping.values()), fast, careful, hint)
    source.warnings.extend(warnings)
    return source


def _time_sample(
    scan: Callable[[], pl.LazyFrame], mapping: dict[str, str]
) -> pl.Series:
    time_column = next(
        (name for name, canonical in mapping.items() if canonical == "TimeGenerated"),
        None,
    )
    if time_column is None:
        return pl.Series([], dtype=pl.String)
    try:
        frame = scan().select(time_column).head(_SAMPLE_ROWS).collect()
    except pl.exceptions.PolarsError:
        return pl.Series([], dtype=pl.String)
    return frame.to_series().cast(pl.String)


def _read_carefully(
    path: Path, delimiter: str, skip: int
) -> tuple[pl.DataFrame, list[tuple[int, str, str]]]:
    """Read every record in Python, rejecting those with the wrong field count."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        msg = (
            f"{path}: byte {error.start}: expected UTF-8 text (re-export the file "
            "as UTF-8, or convert it with iconv)"
        )
        raise InputError(msg) from error

    lines = io.StringIO(text)
    for _ in range(skip):
        lines.readline()
    reader = csv.reader(lines, delimiter=delimiter)
    header = next(reader, [])
    columns: dict[str, list[str]] = {name: [] for name in header}
    lines_of_records: list[int] = []
    rejects: list[tuple[int, str, str]] = []
    previous_end = reader.line_num
    for row in reader:
        start = skip + previous_end + 1
        previous_end = reader.line_num
        if not row:
            continue
        if len(row) != len(header):
            reason = f"expected {len(header)} fields, found {len(row)}"
            rejects.append((start, reason, delimiter.join(row)))
            continue
        for name, value in zip(header, row, strict=True):
            columns[name].append(value)
        lines_of_records.append(start)
    frame = pl.DataFrame(columns, schema=dict.fromkeys(header, pl.String))
    frame = frame.with_columns(pl.Series(SOURCE_LINE, lines_of_records, pl.Int64))
    return frame, rejects
