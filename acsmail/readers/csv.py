"""The Log Analytics portal's CSV export ("Export to CSV", all or displayed columns).

The portal writes a UTF-8 byte-order mark, quotes fields holding commas, quotes or
newlines, and appends `` [UTC]`` to datetime headers. After a round trip through
Excel the file may start with a ``sep=;`` line, use semicolons and write
decimals with a comma (``0,026019``): in the locales where Excel picks ``;``,
the comma is the decimal mark, so a semicolon file's numbers are read that way.
Excel may also save the file as Windows-1252 ("ANSI") or UTF-16 ("Unicode
text"); such a file is converted to UTF-8 first, with a warning for the former
since the guess could be wrong.

Line numbers are physical lines of the file: a field holding newlines moves
every later record down, and the scan counts those newlines to keep up.
"""

from __future__ import annotations

import codecs
import csv
import io
from typing import TYPE_CHECKING, Final

import polars as pl

from acsmail.errors import InputError
from acsmail.readers._files import InputFile, read_all, read_head
from acsmail.readers._source import (
    PATH,
    Batch,
    Careful,
    Source,
    column_map,
    failing_when,
    finish,
    name_files,
    refuse_deliveries,
    rejects_frame,
    sample_time_format,
)
from acsmail.schema import SOURCE_LINE, local_time_column, table_named

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

    import numpy as np

    from acsmail.readers._files import Spool
    from acsmail.readers._times import DateOrder, TimeFormat

__all__ = ["open_csv"]

_DELIMITERS: Final = (",", ";", "\t", "|")
_SAMPLE_BYTES: Final = 1024 * 1024
_BOM: Final = "\ufeff"
# Windows-1252 leaves five bytes undefined; anything else decodes.
_FALLBACK_ENCODING: Final = "cp1252"


class _Layout:
    """How one CSV file is laid out: delimiter, preamble, header."""

    def __init__(self, delimiter: str, skip: int, header: list[str]) -> None:
        self.delimiter = delimiter
        self.skip = skip
        self.header = header

    @property
    def first_record_line(self) -> int:
        return self.skip + 2


def _layout(text: str) -> tuple[str, int]:
    """Return the delimiter and the number of lines before the header."""
    first = text.lstrip(_BOM).split("\n", 1)[0].rstrip("\r")
    if first.lower().startswith("sep=") and len(first) >= 5:
        return first[4], 1
    counts = {delimiter: first.count(delimiter) for delimiter in _DELIMITERS}
    return max(counts, key=lambda delimiter: counts[delimiter]), 0


def _header(text: str, delimiter: str, skip: int) -> list[str]:
    lines = text.lstrip(_BOM).split("\n", skip + 1)[skip:]
    rows = csv.reader(io.StringIO(lines[0] if lines else ""), delimiter=delimiter)
    try:
        names = [name.lstrip(_BOM) for name in next(rows, [])]
    except csv.Error:
        # A header Python cannot split (a lone carriage return in it) names
        # no column; the caller reports the file as no ACS Email CSV.
        return []
    # Polars needs unique names; a repeated header gets a numbered twin.
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return unique


def open_csv(file: InputFile, *, spool: Spool, date_order: DateOrder | None) -> Source:
    """Prepare a portal CSV export for reading.

    Parameters
    ----------
    file
        The file and its first bytes.
    spool
        Where a converted copy goes when the file is not UTF-8 as it stands.
    date_order
        The day/month order to use when the data cannot tell.

    Raises
    ------
    InputError
        When the header names no column of an ACS Email table, or the file's
        encoding cannot be told.
    """
    file, warnings = _as_utf8(file, spool)
    text = _sample(file)
    delimiter, skip = _layout(text)
    layout = _Layout(delimiter, skip, _header(text, delimiter, skip))
    refuse_deliveries(file.name, layout.header)
    mapping = column_map(layout.header)
    if not mapping:
        found = layout.header[:5]
        msg = (
            f"{file.name}: line {skip + 1}: expected a CSV header naming ACS Email "
            f"log columns (TimeGenerated, CorrelationId, …), found {found!r}"
        )
        raise InputError(msg)
    if _second_bom(text, skip):
        data = _without_second_bom(read_all(file.path)[0], skip)
        file = _rewritten(file, spool, data)
        text = _sample(file)
    time_format, time_warnings = sample_time_format(
        _column_sample(text, layout, mapping, "TimeGenerated"),
        date_order=date_order,
        source=file.name,
    )
    warnings += time_warnings
    local = [name for name in mapping if local_time_column(name)]
    if local:
        warnings.append(
            f"{file.name}: column {local[0]!r} holds times in the portal's display "
            "time zone, not UTC; they are read as if UTC, so times and hours are "
            "off by that zone's offset, and so are durations to records from "
            "files in another zone"
        )
    kind = _one_type(_column_sample(text, layout, mapping, "Type"))
    source = _source(file, layout, mapping, time_format, kind)
    source.warnings.extend(warnings)
    file.head = b""
    if not _ends_with_newline(file):
        # A last record without its line end may have been cut off; only the
        # careful read counts its fields.
        source.use_careful()
    source.dates = time_format
    return source


def _sample(file: InputFile) -> str:
    """The start of the file as text, enough to sample its datetimes."""
    head = file.head
    if file.size > len(head):
        head = read_head(file.path, _SAMPLE_BYTES)[0]
    return head.decode("utf-8", "replace")


def _one_type(types: list[str]) -> str | None:
    """The ``Type`` that every sampled record names, when it names a table."""
    kinds = set(types)
    if len(kinds) != 1:
        return None
    (kind,) = kinds
    return kind if kind == kind.strip() and table_named(kind) else None


def _source(
    file: InputFile,
    layout: _Layout,
    mapping: dict[str, str],
    time_format: TimeFormat,
    kind: str | None,
) -> Source:
    """The source of a CSV file; ``kind`` is the one ``Type`` its sample names.

    A file whose sampled records all name one table's ``Type`` is scanned
    as that table's: its records need no sorting into tables, and the scan
    fails on a record of another ``Type`` (or none), after which the file
    is scanned again with every record sorted on its own (``widen``).
    """
    decimal_comma = layout.delimiter == ";"
    others = [name for name in layout.header if name not in mapping]
    type_column = next((n for n, c in mapping.items() if c == "Type"), None)

    def checked(lf: pl.LazyFrame) -> pl.LazyFrame:
        if kind is None or type_column is None:
            return lf
        other = (pl.col(type_column) != kind).fill_null(True)
        return lf.with_columns(failing_when(pl.col(SOURCE_LINE), other))

    def scan(members: Sequence[Source]) -> pl.LazyFrame:
        lf = checked(_scan([member.path for member in members], layout, several=True))
        return finish(
            name_files(lf, members),
            mapping=mapping,
            time_format=time_format,
            file=None,
            hint=file.hint,
            decimal_comma=decimal_comma,
            others=others,
        )

    def fast() -> pl.LazyFrame:
        return finish(
            checked(_scan([file.path], layout, several=False)),
            mapping=mapping,
            time_format=time_format,
            file=file.name,
            hint=file.hint,
            decimal_comma=decimal_comma,
            others=others,
        )

    def careful() -> Careful:
        frame, rejects, warnings = _read_carefully(file, layout)
        lf = finish(
            frame.lazy(),
            mapping=mapping,
            time_format=time_format,
            file=file.name,
            hint=file.hint,
            decimal_comma=decimal_comma,
            others=others,
        )
        return Careful(lf.collect(), rejects_frame(file.name, rejects), warnings)

    def batch() -> Batch:
        key = (
            "csv",
            layout.delimiter,
            layout.skip,
            tuple(layout.header),
            time_format.format,
            file.hint,
            kind,
        )
        return Batch(key, scan)

    def widen() -> None:
        nonlocal kind
        kind = None
        if source.batch is not None:  # still scanned with others like it
            source.batch = batch()
        source.widen = None
        source.table = None

    narrowed = table_named(kind) if kind is not None and type_column else None
    form = "csv.gz" if file.compressed else "csv"
    source = Source(
        file.path,
        form,
        frozenset(mapping.values()),
        fast,
        careful,
        file.hint,
        display=file.name,
        batch=batch(),
        raw_text=lambda lines: _raw_records(file, layout, lines),
        lines=lambda: _file_lines(file.path, layout),
        numbered_by_position=True,
        widen=widen if narrowed is not None else None,
        table=narrowed.key if narrowed is not None else None,
    )
    return source


def _scan(paths: list[Path], layout: _Layout, *, several: bool) -> pl.LazyFrame:
    """The records of the files, each numbered by its position in its file.

    The line a record starts on is the position plus the newlines that the
    records before it hold inside quoted fields; counting those in every
    field of every record costs more than a fifth of the scan, so it is left
    to ``_file_lines`` for the records that are shown.
    """
    lf = _read(paths, layout, several=several)
    if several:
        position = pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(PATH)
        lf = lf.with_columns(position.alias(SOURCE_LINE))
    else:
        # A row index streams; a range as long as the frame waits for all of it.
        lf = lf.with_row_index(SOURCE_LINE, offset=1)
        lf = lf.with_columns(pl.col(SOURCE_LINE).cast(pl.Int64))
    # Polars reads a blank line as a row of nulls; it holds no record, and
    # neither does a line of delimiters alone (Excel's empty row).
    empty = pl.all_horizontal(pl.col(name).is_null() for name in layout.header)
    return lf.filter(~empty)


def _read(paths: list[Path], layout: _Layout, *, several: bool) -> pl.LazyFrame:
    """The files' records as text, the columns no table uses too.

    Those are read only to be checked (``finish``), and as text, which
    costs less to read than categories.
    """
    schema: dict[str, pl.DataType] = dict.fromkeys(layout.header, pl.String())
    return pl.scan_csv(
        paths,
        separator=layout.delimiter,
        skip_rows=layout.skip,
        schema=schema,
        quote_char='"',
        encoding="utf8",
        glob=False,
        include_file_paths=PATH if several else None,
    )


def _file_lines(path: Path, layout: _Layout) -> np.ndarray:
    """The line each record of a file starts on, by the record's position."""
    # A record starts one line after the previous one, plus the newlines that
    # the previous records hold inside quoted fields.
    held = pl.sum_horizontal(
        pl.col(name).str.count_matches("\n", literal=True).fill_null(0)
        for name in layout.header
    )
    line = pl.int_range(pl.len(), dtype=pl.Int64) + held.cum_sum() - held
    lines = _read([path], layout, several=False).select(
        (line + layout.first_record_line).alias(SOURCE_LINE)
    )
    return lines.collect(engine="in-memory").to_series().to_numpy()


def _column_sample(
    text: str, layout: _Layout, mapping: dict[str, str], canonical: str
) -> list[str]:
    """The values of one canonical column in the records of the sample."""
    names = [name for name, known in mapping.items() if known == canonical]
    if not names:
        return []
    position = layout.header.index(names[0])
    # The sample may end inside a record; only lines before the last are whole.
    whole = text.lstrip(_BOM).rsplit("\n", 1)[0]
    values = []
    for _, _, row in _records(whole, layout):
        if isinstance(row, list) and len(row) > position:
            values.append(row[position])
    return values


def from_utf16(file: InputFile, spool: Spool) -> InputFile:
    """A UTF-8 copy of a file written in UTF-16, for the reader of its form.

    Excel saves "Unicode text" so, and Windows PowerShell's ``>`` writes the
    az CLI's JSON so.
    """
    data, _ = read_all(file.path)
    try:
        text = data.decode("utf-16")
    except UnicodeDecodeError as error:
        if error.reason != "truncated data":
            msg = (
                f"{file.name}: byte {error.start}: expected UTF-16 text after "
                "the UTF-16 byte-order mark"
            )
            raise InputError(msg) from error
        # Cut off inside a character: what came before it is read.
        text = data[: error.start].decode("utf-16")
    return _rewritten(file, spool, text.encode())


def _as_utf8(file: InputFile, spool: Spool) -> tuple[InputFile, list[str]]:
    """Convert a Windows-1252 file to UTF-8, so Polars can scan it."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(file.head, final=False)
    except UnicodeDecodeError:
        data, _ = read_all(file.path)
        text, warning = _decode(data, file.name)
        return _rewritten(file, spool, text.encode()), [warning]
    return file, []


def _decode(data: bytes, name: str) -> tuple[str, str]:
    """Decode text that is not UTF-8, saying where UTF-8 failed."""
    try:
        return data.decode("utf-8-sig"), ""
    except UnicodeDecodeError as error:
        where = f"byte {error.start} (0x{data[error.start]:02x})"
    try:
        text = data.decode(_FALLBACK_ENCODING)
    except UnicodeDecodeError as error:
        msg = (
            f"{name}: byte {error.start}: expected UTF-8 or Windows-1252 text "
            "(re-export the file as UTF-8, or convert it with iconv)"
        )
        raise InputError(msg) from error
    warning = (
        f"{name}: not UTF-8 at {where}; read as Windows-1252, as Excel saves it "
        "(re-export as UTF-8 if characters look wrong)"
    )
    return text.removeprefix(_BOM), warning


def _rewritten(file: InputFile, spool: Spool, data: bytes) -> InputFile:
    """The data in a plain file of the spool, named as the file it came from."""
    path = spool.new_file(".txt")
    path.write_bytes(data)
    return InputFile(
        path,
        file.name,
        file.hint,
        data[: len(file.head)],
        len(data),
        compressed=file.compressed,
        whole=len(data) <= len(file.head),
    )


def _second_bom(text: str, skip: int) -> bool:
    lines = text.lstrip(_BOM).split("\n", skip + 2)
    return len(lines) > skip + 1 and lines[skip + 1].startswith(_BOM)


def _without_second_bom(data: bytes, skip: int) -> bytes:
    """Drop the byte-order mark some exports repeat at the first data row.

    Before a quoted field it would hide the opening quote, and the comma
    inside the quotes would then split the field.
    """
    start = data.startswith(codecs.BOM_UTF8) * len(codecs.BOM_UTF8)
    position = start
    for _ in range(skip + 1):
        position = data.index(b"\n", position) + 1
    return data[:position] + data[position:].removeprefix(codecs.BOM_UTF8)


def _ends_with_newline(file: InputFile) -> bool:
    if file.compressed or file.size == 0:
        return True
    with file.path.open("rb") as handle:
        handle.seek(-1, 2)
        return handle.read(1) == b"\n"


def _text(file: InputFile) -> tuple[str, list[str], bool]:
    """The whole file as text, what to tell the user, and whether it is cut off."""
    data, cut_off = read_all(file.path)
    text, warning = _decode(data, file.name)
    warnings = [warning] if warning else []
    if cut_off:
        warnings.append(
            f"{file.name}: the compressed file is cut off; read what came before"
        )
    return text, warnings, cut_off


def _records(text: str, layout: _Layout) -> Iterator[tuple[int, int, list[str] | str]]:
    """Each record after the header: first line, last line, fields.

    A record that Python's reader cannot parse, or that has the wrong number
    of fields, comes as the reason. When such a record spans several lines,
    a quote that never closed (or closed on a later row) has most likely
    swallowed the rows after it: only its first line is rejected, and the
    reading starts again on the next one, so those rows are read for what
    they are.
    """
    lines = io.StringIO(text.lstrip(_BOM)).readlines()
    width = len(layout.header)
    # Lines are numbered from 1; ``position`` is the index of the next one.
    position = layout.skip + 1
    while position < len(lines):
        restart = position
        reader = csv.reader(
            (lines[n] for n in range(restart, len(lines))),
            delimiter=layout.delimiter,
            strict=True,
        )
        while True:
            start = position + 1
            try:
                row: list[str] | str = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                row = f"not valid CSV ({error})"
            end = restart + reader.line_num
            position = end
            if isinstance(row, list) and len(row) != width and row:
                row = f"expected {width} fields, found {len(row)}"
            if isinstance(row, str) and end > start:
                yield start, start, f"{row}; the lines after it are read anew"
                position = start
                break
            if row:
                yield start, end, row


def _read_carefully(
    file: InputFile, layout: _Layout
) -> tuple[pl.DataFrame, list[tuple[int, str, str]], list[str]]:
    """Read every record in Python, rejecting those with the wrong field count."""
    text, warnings, cut_off = _text(file)
    physical = io.StringIO(text.lstrip(_BOM)).readlines()
    header = layout.header
    columns: dict[str, list[str]] = {name: [] for name in header}
    lines_of_records: list[int] = []
    rejects: list[tuple[int, str, str]] = []
    for start, end, row in _records(text, layout):
        if isinstance(row, str):
            reason = row
            if cut_off and end >= len(physical):
                reason = f"cut off with the compressed file ({reason})"
            text_of_record = "".join(physical[start - 1 : end])
            text_of_record = text_of_record.removesuffix("\n").removesuffix("\r")
            rejects.append((start, reason, text_of_record))
            continue
        if not any(row):
            continue  # delimiters alone, as the fast scan reads them
        for name, value in zip(header, row, strict=True):
            columns[name].append(value)
        lines_of_records.append(start)
    frame = pl.DataFrame(columns, schema=dict.fromkeys(header, pl.String))
    frame = frame.with_columns(pl.Series(SOURCE_LINE, lines_of_records, pl.Int64))
    return frame, rejects, warnings


def _raw_records(file: InputFile, layout: _Layout, wanted: set[int]) -> dict[int, str]:
    """The original text of the records that start on the given lines."""
    text, _, _ = _text(file)
    physical = io.StringIO(text.lstrip(_BOM)).readlines()
    return {
        start: "".join(physical[start - 1 : end]).rstrip("\r\n")
        for start, end, _ in _records(text, layout)
        if start in wanted
    }
