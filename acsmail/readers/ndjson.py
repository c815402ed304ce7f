"""JSON Lines: one record per line, from data export or diagnostic settings.

A workspace data-export rule writes Log Analytics rows (``TimeGenerated``,
``_ResourceId``, …) with numbers as JSON numbers. A diagnostic setting that
archives to Storage writes resource-log records instead, into ``PT1H.json``
blobs: camelCase top-level keys and the table's own fields inside
``properties``. Both are read here (see ``_shape``).

A storage tree holds thousands of small blobs. Those of one shape are read by
one scan: up to a size limit their bytes are joined in memory and parsed
once, beyond it Polars scans the files as one source. The last line of a blob
that was still being written may be cut off; the careful read counts it as a
rejected record, with its line.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from acsmail.errors import InputError
from acsmail.readers._files import (
    WHOLE_BYTES,
    InputFile,
    iter_lines,
    polars_path,
    read_head,
)
from acsmail.readers._limits import max_line_bytes
from acsmail.readers._shape import Shape
from acsmail.readers._source import (
    PATH,
    Batch,
    Careful,
    Source,
    finish,
    name_files,
    rejects_frame,
    sample_time_format,
)
from acsmail.schema import SOURCE_FILE, SOURCE_LINE

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

    from acsmail.readers._times import DateOrder, TimeFormat

__all__ = ["open_ndjson", "scan_lines_together", "sniff_records"]

_LONG_LINE_BYTES: Final = 16 * 1024 * 1024
#: Above this many bytes in one batch, the files are scanned from disk.
_JOIN_LIMIT: Final = 256 * 1024 * 1024
_BOM: Final = b"\xef\xbb\xbf"
_CUT_GZIP: Final = "the compressed file is cut off here; the rest of it is lost"
#: The start of an over-long line kept as its rejected text.
_SHOWN_BYTES: Final = 4096


def sniff_records(file: InputFile) -> list[Any]:
    """Decode the first few whole lines of a file; undecodable lines are skipped."""
    head = file.head.removeprefix(_BOM)
    whole = file.whole
    wanted = file.sample
    # A few spare splits leave room for blank lines; the last piece is the
    # rest of the head, whole only when the head is the whole file.
    pieces = head.split(b"\n", wanted * 2)
    lines = pieces if whole and len(pieces) <= wanted * 2 else pieces[:-1]
    if not any(line.strip() for line in lines):
        # One line longer than the head: read on until it ends.
        lines = (
            read_head(file.path, _LONG_LINE_BYTES)[0]
            .removeprefix(_BOM)
            .split(b"\n")[:1]
        )
    decoded = []
    for line in lines:
        if not line.strip():
            continue
        try:
            decoded.append(json.loads(line))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            continue
        if len(decoded) == wanted:
            break
    return decoded


def open_ndjson(file: InputFile, *, date_order: DateOrder | None) -> Source:
    """Prepare a JSON Lines export for reading.

    Raises
    ------
    InputError
        When no line of the file's start is a JSON object with ACS Email fields.
    """
    records = [r for r in sniff_records(file) if isinstance(r, dict)]
    shape = Shape.of(records)
    if not shape.seen:
        msg = f"{file.name}: line 1: expected JSON objects with ACS Email log fields"
        raise InputError(msg)
    times = [shape.first_value(record, "TimeGenerated") for record in records]
    time_format, warnings = sample_time_format(
        times, date_order=date_order, source=file.name
    )
    source = _source(file, shape, time_format)
    source.warnings.extend(warnings)
    return source


def _source(file: InputFile, shape: Shape, time_format: TimeFormat) -> Source:
    mapping = {name: name for name in shape.canonical}

    def done(lf: pl.LazyFrame, name: str | None) -> pl.LazyFrame:
        return finish(
            lf, mapping=mapping, time_format=time_format, file=name, hint=file.hint
        )

    def read_one(target: str | bytes) -> pl.LazyFrame:
        return pl.scan_ndjson(target, schema=shape.schema())

    def fast() -> pl.LazyFrame:
        lf = read_one(polars_path(file.path)).with_row_index(SOURCE_LINE, offset=1)
        lf = lf.with_columns(pl.col(SOURCE_LINE).cast(pl.Int64))
        return done(shape.flatten(lf, SOURCE_LINE), file.name)

    def scan(members: Sequence[Source]) -> pl.LazyFrame:
        lf = scan_lines_together(members, read_one, shape.schema())
        return done(shape.flatten(lf, SOURCE_LINE, SOURCE_FILE), None)

    def careful() -> Careful:
        frame, rejects = _read_carefully(file, shape)
        lf = done(frame.lazy(), file.name)
        return Careful(lf.collect(), rejects_frame(file.name, rejects))

    key = ("ndjson", file.compressed, shape.key, time_format.format, file.hint)
    return Source(
        file.path,
        "ndjson.gz" if file.compressed else "ndjson",
        shape.seen,
        fast,
        careful,
        file.hint,
        display=file.name,
        batch=Batch(key, scan),
        columns_from_data=True,
        raw_text=lambda lines: raw_lines(file.path, lines),
    )


def scan_lines_together(
    members: Sequence[Source],
    read: Callable[[str | bytes], pl.LazyFrame],
    schema: dict[str, pl.DataType],
) -> pl.LazyFrame:
    """Scan several line-delimited files as one, numbering lines per file.

    Small plain files are joined in memory and parsed once, which is several
    times faster than a scan of many sources; a line count per file gives each
    record back its file and line. Compressed files and the files beyond a
    size limit are scanned from disk.

    Returns
    -------
    LazyFrame
        The records with ``_file`` (the user's name) and ``_line``.
    """
    joined: list[bytes] = []
    names: list[str] = []
    counts: list[int] = []
    apart: list[Source] = []
    size = 0
    for member in members:
        data = _joinable(member) if size < _JOIN_LIMIT else None
        if data is None:
            apart.append(member)
            continue
        joined.append(data)
        names.append(member.name)
        counts.append(data.count(b"\n"))
        size += len(data)

    frames = []
    if joined:
        lines = pl.LazyFrame(
            {SOURCE_FILE: names, "_n": counts},
            schema={SOURCE_FILE: pl.Categorical(), "_n": pl.Int64()},
        ).select(
            pl.col(SOURCE_FILE).repeat_by("_n").explode(),
            pl.int_ranges(1, pl.col("_n") + 1, dtype=pl.Int64)
            .explode()
            .alias(SOURCE_LINE),
        )
        records = read(b"".join(joined))
        frames.append(pl.concat([records, lines], how="horizontal"))
    if apart:
        lf = pl.scan_ndjson(
            [polars_path(member.path) for member in apart],
            schema=schema,
            include_file_paths=PATH,
        )
        line = pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(PATH)
        frames.append(name_files(lf.with_columns(line.alias(SOURCE_LINE)), apart))
    return pl.concat(frames, how="diagonal_relaxed")


def _joinable(source: Source) -> bytes | None:
    """A plain file's bytes, ending in a newline, if joining keeps its line count."""
    data = source.content
    if data is None:
        if source.path.stat().st_size > WHOLE_BYTES:
            return None
        with source.path.open("rb") as file:
            data = file.read()
    # A blank line inside would make the line count disagree with the rows;
    # Polars then refuses the join and the fallback scans such a file alone.
    # Blank lines at the end hold no record: dropped, they cost nothing.
    if data.startswith((b"\x1f\x8b", _BOM)):
        return None
    data = data.rstrip(b" \t\r\n")
    return data + b"\n" if data else None


def _lines(path: Path) -> Iterator[tuple[int, bytes | None, bool]]:
    """Numbered lines and whether each is too long to read.

    A final ``None`` marks a compressed file cut off there.
    """
    number = 0
    try:
        for number, (raw, long) in enumerate(iter_lines(path), start=1):
            yield number, raw, long
    except EOFError:
        yield number + 1, None, False


def _read_carefully(
    file: InputFile, shape: Shape
) -> tuple[pl.DataFrame, list[tuple[int, str, str]]]:
    """Parse line by line; keep the objects, reject everything else with its line."""
    kept: list[dict[str, str | None]] = []
    lines_of_records: list[int] = []
    rejects: list[tuple[int, str, str]] = []
    for number, raw, long in _lines(file.path):
        if raw is None:
            rejects.append((number, _CUT_GZIP, ""))
            continue
        if long:
            why = f"line longer than {max_line_bytes()} bytes"
            rejects.append((number, why, _text(raw[:_SHOWN_BYTES])))
            continue
        record, reason = _decode_line(raw, first=number == 1)
        if reason is not None:
            rejects.append((number, reason, _text(raw)))
        elif record is not None:
            kept.append(shape.flat_record(record))
            lines_of_records.append(number)
    frame = shape.frame(kept)
    frame = frame.with_columns(pl.Series(SOURCE_LINE, lines_of_records, pl.Int64))
    return frame, rejects


def _decode_line(
    raw: bytes, *, first: bool
) -> tuple[dict[str, Any] | None, str | None]:
    """One line as a JSON object, or why it is not one (None, None when blank)."""
    if first:
        raw = raw.removeprefix(_BOM)
    if not raw.strip():
        return None, None
    try:
        record = json.loads(raw)
    except RecursionError:
        return None, "nested too deeply to read"
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        if not raw.endswith(b"\n"):
            return None, f"the last line is cut off ({error})"
        return None, f"not valid JSON ({error})"
    if not isinstance(record, dict):
        return None, "expected a JSON object"
    return record, None


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").rstrip("\r\n")


def raw_lines(path: Path, wanted: set[int]) -> dict[int, str]:
    """The text of the given lines of a file."""
    found: dict[int, str] = {}
    for number, raw, _ in _lines(path):
        if raw is not None and number in wanted:
            found[number] = _text(raw)
            if len(found) == len(wanted):
                break
    return found
