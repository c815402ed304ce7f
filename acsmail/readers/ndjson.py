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

import gzip
import json
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from acsmail.errors import InputError
from acsmail.readers._files import (
    GZIP_MAGIC,
    WHOLE_BYTES,
    InputFile,
    is_gzip,
    iter_lines,
    polars_path,
    read_all,
)
from acsmail.readers._limits import max_line_bytes
from acsmail.readers._shape import Shape
from acsmail.readers._source import (
    JSON_DECODER,
    PATH,
    Batch,
    Careful,
    Source,
    finish,
    name_files,
    refuse_deliveries,
    rejects_frame,
    sample_time_format,
)
from acsmail.schema import SOURCE_FILE, SOURCE_LINE

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from pathlib import Path

    import numpy as np

    from acsmail.readers._times import DateOrder, TimeFormat

__all__ = [
    "file_lines",
    "open_ndjson",
    "record_lines",
    "scan_lines_together",
    "sniff_records",
]

_LONG_LINE_BYTES: Final = 16 * 1024 * 1024
#: Above this many bytes in one batch, the files are scanned from disk.
_JOIN_LIMIT: Final = 256 * 1024 * 1024
_BOM: Final = b"\xef\xbb\xbf"
_CUT_GZIP: Final = "the compressed file is cut off here; the rest of it is lost"
#: The start of an over-long line kept as its rejected text.
_SHOWN_BYTES: Final = 4096
#: Bytes per step when numbering the lines of a file read from disk.
_STEP_BYTES: Final = 4 * 1024 * 1024
_NEWLINE: Final = ord("\n")
#: What Polars skips as a blank line: nothing but these bytes before its end.
_BLANK: Final = b" \t\r"


def sniff_records(file: InputFile) -> list[Any]:
    """Decode the first few whole lines of a file; undecodable lines are skipped."""
    head = file.head.removeprefix(_BOM)
    wanted = file.sample
    pieces = head.split(b"\n", wanted * 2)
    if len(pieces) > wanted * 2 and sum(1 for p in pieces if p.strip()) <= wanted:
        pieces = head.split(b"\n")  # blank lines took up the first splits
    # The last piece is the rest of the head, whole only when the head is
    # the whole file.
    lines = [line for line in (pieces if file.whole else pieces[:-1]) if line.strip()]
    if not lines:
        # Blank lines, or one line longer than the head: read on.
        lines = _first_filled_line(file.path)
    decoded = []
    for line in lines:
        try:
            decoded.append(JSON_DECODER.decode(line.decode()))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            continue
        if len(decoded) == wanted:
            break
    return decoded


def _first_filled_line(path: Path) -> list[bytes]:
    """The first line of a file that is not blank, within the first bytes."""
    seen = 0
    try:
        for number, (raw, long) in enumerate(iter_lines(path), start=1):
            if long or seen > _LONG_LINE_BYTES:
                break
            if raw.strip():
                return [raw.removeprefix(_BOM) if number == 1 else raw]
            seen += len(raw)
    except EOFError:
        pass
    return []


def open_ndjson(file: InputFile, *, date_order: DateOrder | None) -> Source:
    """Prepare a JSON Lines export for reading.

    Raises
    ------
    InputError
        When no line of the file's start is a JSON object with ACS Email fields.
    """
    records = [r for r in sniff_records(file) if isinstance(r, dict)]
    if records:
        refuse_deliveries(file.name, records[0])
    shape = Shape.of(records)
    if not shape.seen:
        msg = f"{file.name}: line 1: expected JSON objects with ACS Email log fields"
        raise InputError(msg)
    times = [shape.first_value(record, "TimeGenerated") for record in records]
    time_format, warnings = sample_time_format(
        times, date_order=date_order, source=file.name
    )
    source = _source(file, shape, time_format, shape.narrowed(records))
    source.warnings.extend(warnings)
    source.dates = time_format
    return source


def _source(
    file: InputFile, shape: Shape, time_format: TimeFormat, narrow: Shape | None
) -> Source:
    def scanner(used: Shape) -> Callable[[Sequence[Source]], pl.LazyFrame]:
        mapping = {name: name for name in used.canonical}
        schema = used.schema()

        def scan(members: Sequence[Source]) -> pl.LazyFrame:
            lf = scan_lines_together(
                members, lambda target: pl.scan_ndjson(target, schema=schema), schema
            )
            return finish(
                used.flatten(lf, SOURCE_LINE, SOURCE_FILE),
                mapping=mapping,
                time_format=time_format,
                file=None,
                hint=file.hint,
            )

        return scan

    def batch(used: Shape) -> Batch:
        key = ("ndjson", file.compressed, used.key, time_format.format, file.hint)
        return Batch(key, scanner(used))

    def careful() -> Careful:
        frame, rejects = _read_carefully(file, shape)
        lf = finish(
            frame.lazy(),
            mapping={name: name for name in shape.canonical},
            time_format=time_format,
            file=file.name,
            hint=file.hint,
        )
        return Careful(lf.collect(), rejects_frame(file.name, rejects))

    current = batch(narrow or shape)

    def widen() -> None:
        nonlocal current
        current = batch(shape)
        if source.batch is not None:  # still scanned with others like it
            source.batch = current
        source.widen = None
        source.table = None

    source = Source(
        file.path,
        "ndjson.gz" if file.compressed else "ndjson",
        shape.seen,
        lambda: current.scan([source]),
        careful,
        file.hint,
        display=file.name,
        batch=current,
        columns_from_data=True,
        raw_text=lambda lines: raw_lines(file.path, lines),
        lines=lambda: file_lines(file.path),
        widen=widen if narrow is not None else None,
        table=narrow.table_key if narrow is not None else None,
    )
    return source


def scan_lines_together(
    members: Sequence[Source],
    read: Callable[[str | bytes], pl.LazyFrame],
    schema: dict[str, pl.DataType],
) -> pl.LazyFrame:
    """Scan line-delimited files as one, with each record's file and line.

    Small plain files, and compressed ones, are joined in memory and parsed
    once, which is several times faster than a scan of many sources; their
    lines are counted in memory (see ``record_lines``). Plain files past a
    size, and every file beyond a limit on the joined bytes, are scanned
    from disk: a count would cost another pass over their bytes, so their
    records are numbered by position, and ``Source.line_of`` turns a
    position into its line where one is shown.

    Raises
    ------
    polars.exceptions.ComputeError
        When a compressed file is cut off or damaged: only the careful read
        can keep what came before the damage and count what was lost.

    Returns
    -------
    LazyFrame
        The records with ``_file`` (the user's name) and ``_line``.
    """
    joined: list[bytes] = []
    numbered: list[tuple[str, np.ndarray]] = []
    apart: list[Source] = []
    size = 0
    for member in members:
        data = _joinable(member, room=size < _JOIN_LIMIT)
        member.numbered_by_position = data is None
        if data is None:
            apart.append(member)
            continue
        joined.append(data)
        numbered.append((member.name, record_lines([data])))
        size += len(data)

    frames = []
    if joined:
        # Where Polars reads other lines than were counted, the lengths
        # differ and the scan fails, which sends the files to the careful
        # read.
        records = read(b"".join(joined))
        lines = _lines_frame(numbered)
        frames.append(pl.concat([records, lines], how="horizontal"))
    if apart:
        lf = pl.scan_ndjson(
            [polars_path(member.path) for member in apart],
            schema=schema,
            include_file_paths=PATH,
        )
        position = pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(PATH)
        frames.append(name_files(lf.with_columns(position.alias(SOURCE_LINE)), apart))
    return pl.concat(frames, how="diagonal_relaxed")


def file_lines(path: Path) -> np.ndarray:
    """The numbers of a file's lines that hold something (``record_lines``)."""
    return record_lines(_steps(path))


def record_lines(pieces: Iterable[bytes]) -> np.ndarray:
    """The numbers of the lines that hold something, of bytes given in pieces.

    Polars gives no row for a blank line (nothing but spaces, tabs and
    carriage returns), so the rows of a scan are numbered by these, not
    1, 2, 3: after a blank line every record would be named on the line
    before its own. A last line without a newline counts when it holds
    something.
    """
    # Imported here: the commands that read no lines start faster.
    import numpy as np

    blank_codes = np.frombuffer(_BLANK, dtype=np.uint8)
    numbers: list[np.ndarray] = []
    done = 0  # lines finished in earlier pieces
    blank_so_far = True  # the unfinished line holds only blank bytes yet
    for piece in pieces:
        codes = np.frombuffer(piece, dtype=np.uint8)
        if codes.size == 0:
            continue
        ends = np.flatnonzero(codes == _NEWLINE)
        starts = np.concatenate(([0], ends + 1))
        stops = np.concatenate((ends, [codes.size]))
        # A line can be blank only if it starts blank: almost every line of a
        # real export starts with "{" and needs no closer look.
        first = codes[np.minimum(starts, codes.size - 1)]
        maybe = np.flatnonzero(
            np.isin(first, blank_codes) | (first == _NEWLINE) | (starts == stops)
        )
        blank = np.zeros(starts.size, dtype=bool)
        for index in maybe.tolist():
            line = codes[starts[index] : stops[index]]
            blank[index] = np.isin(line, blank_codes).all()
        # The first line goes on from the previous piece.
        blank[0] &= blank_so_far
        finished = ends.size
        line_numbers = np.arange(done + 1, done + finished + 1, dtype=np.int64)
        numbers.append(line_numbers[~blank[:finished]])
        done += finished
        # The piece's last line goes on into the next piece.
        blank_so_far = bool(blank[finished])
    if not blank_so_far:
        numbers.append(np.array([done + 1], dtype=np.int64))
    return np.concatenate(numbers) if numbers else np.empty(0, dtype=np.int64)


def _lines_frame(numbered: Sequence[tuple[str, np.ndarray]]) -> pl.LazyFrame:
    """File name and line of every record, files in the order of the scan."""
    import numpy as np

    kept = [(name, lines) for name, lines in numbered if lines.size]
    names = pl.DataFrame(
        {
            SOURCE_FILE: [name for name, _ in kept],
            "_n": [lines.size for _, lines in kept],
        },
        schema={SOURCE_FILE: pl.Categorical(), "_n": pl.Int64()},
    ).select(pl.col(SOURCE_FILE).repeat_by("_n").explode())
    lines = np.concatenate([lines for _, lines in kept] or [np.empty(0, np.int64)])
    return names.with_columns(pl.Series(SOURCE_LINE, lines, pl.Int64)).lazy()


def _steps(path: Path) -> Iterator[bytes]:
    """A file's bytes, decompressed, a bounded piece at a time."""
    with gzip.open(path, "rb") if is_gzip(path) else path.open("rb") as file:
        while piece := file.read(_STEP_BYTES):
            yield piece


def _joinable(source: Source, *, room: bool) -> bytes | None:
    """A file's bytes for the joined scan, ending in a newline; None: scan it apart.

    While the joined bytes have room, a compressed file is inflated here
    (Polars would inflate it whole anyway), and a plain file is read when it
    is small or starts with a byte-order mark, which Polars cannot read
    past. Beyond the room, files are scanned from disk.

    Raises
    ------
    polars.exceptions.ComputeError
        When a compressed file is cut off or damaged.
    """
    if not room:
        return None
    data = source.content
    if data is None:
        with source.path.open("rb") as file:
            start = file.read(len(_BOM))
        if start.startswith(GZIP_MAGIC):
            data, cut_off = read_all(source.path)
            if cut_off:
                msg = f"{source.name}: the compressed file is cut off or damaged"
                raise pl.exceptions.ComputeError(msg)
        elif start == _BOM or source.path.stat().st_size <= WHOLE_BYTES:
            # Polars cannot read past a byte-order mark: such a file is
            # read here, whatever its size, and joined without it.
            data = source.path.read_bytes()
        else:
            return None
    # Polars reads no byte-order mark; it takes no line, so it can go. Blank
    # lines at the end hold no record: dropped, they cost nothing.
    data = data.removeprefix(_BOM).rstrip(b" \t\r\n")
    return data + b"\n" if data else b""


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
        record = JSON_DECODER.decode(raw.rstrip(b"\r\n").decode())
    except RecursionError:
        return None, "nested too deeply to read"
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        why = _within_line(error)
        if not raw.endswith(b"\n"):
            return None, f"the last line is cut off ({why})"
        return None, f"not valid JSON ({why})"
    if not isinstance(record, dict):
        return None, "expected a JSON object"
    return record, None


def _within_line(error: json.JSONDecodeError | UnicodeDecodeError) -> str:
    """The decoder's complaint, placed by character within the line.

    The decoder's own "line 1 column 30" would read like a line of the file.
    """
    if isinstance(error, UnicodeDecodeError):
        return f"not UTF-8 at byte {error.start + 1} of the line"
    return f"{error.msg.removesuffix(' at')} at character {error.pos + 1}"


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
