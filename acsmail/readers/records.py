"""Resource logs wrapped as ``{"records": […]}``: old archive blobs, Event Hubs.

Before late 2018 a diagnostic setting wrote each ``PT1H.json`` blob as one JSON
object whose ``records`` array held the hour's records; Event Hubs consumers
still receive (and often save) their batches that way. A file may hold one
such document, pretty-printed or on one line, or one document per line.

Documents on one line each are scanned by Polars, and every record is given
the line of its document. A pretty-printed document is read record by record
in Python, so each record gets the line it starts on; that read also keeps the
whole records of a document that was cut off, and rejects the rest.
"""

from __future__ import annotations

import json
import re
from itertools import islice
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from acsmail.errors import InputError
from acsmail.readers._files import InputFile, json_text
from acsmail.readers._partial import ENDS_EARLY, Broken, broken_reason, skip_space
from acsmail.readers._shape import Shape
from acsmail.readers._source import (
    JSON_DECODER,
    Batch,
    Careful,
    Source,
    finish,
    rejects_frame,
    sample_time_format,
)
from acsmail.readers.ndjson import file_lines, scan_lines_together
from acsmail.schema import SOURCE_FILE, SOURCE_LINE

if TYPE_CHECKING:
    from collections.abc import Generator, Iterator, Sequence

    from acsmail.readers._times import DateOrder, TimeFormat

__all__ = ["holds_no_record", "open_records"]

_RECORDS: Final = "records"
_SAMPLE: Final = 20
_ARRAY_START: Final = re.compile(r'\{\s*"records"\s*:\s*\[')


class _Found:
    """One record of a document, or the reason the rest could not be read."""

    def __init__(
        self, line: int, record: Any, raw: str, reason: str | None = None
    ) -> None:
        self.line = line
        self.record = record
        self.raw = raw
        self.reason = reason


def open_records(file: InputFile, *, date_order: DateOrder | None) -> Source:
    """Prepare a ``{"records": […]}`` file for reading.

    Raises
    ------
    InputError
        When the sampled records carry no ACS Email field.
    """
    one_per_line = _one_document_per_line(file)
    # The walk yields the whole records before the head's cut, however the
    # documents are laid out.
    head = file.head.decode("utf-8", "replace")
    records = [
        found.record
        for found in islice(_walk(head), _SAMPLE)
        if isinstance(found.record, dict)
    ]
    shape = Shape.of(records)
    if not shape.seen:
        msg = (
            f"{file.name}: line 1: expected resource-log records with ACS Email fields"
        )
        raise InputError(msg)
    times = [shape.first_value(record, "TimeGenerated") for record in records]
    time_format, warnings = sample_time_format(
        times, date_order=date_order, source=file.name
    )
    source = _source(file, shape, time_format, one_per_line=one_per_line)
    source.warnings.extend(warnings)
    if not one_per_line:
        source.use_careful()
    source.dates = time_format
    return source


def holds_no_record(file: InputFile) -> bool:
    """Whether the whole file is documents whose record lists are empty.

    An hour in which a resource logged nothing can leave such a blob; like
    an empty file, it should not stop the report on the others.
    """
    head = file.head.decode("utf-8", "replace")
    return file.whole and next(_walk(head), None) is None


def _one_document_per_line(file: InputFile) -> bool:
    """Whether the first document ends on its first line (or fills the head)."""
    head = file.head.lstrip(b"\xef\xbb\xbf \t\r\n")
    first, newline, _ = head.partition(b"\n")
    if not newline:
        return True
    try:
        json.loads(first)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return False
    return True


def _records_of(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, dict) and isinstance(document.get(_RECORDS), list):
        return [r for r in document[_RECORDS] if isinstance(r, dict)]
    return []


def _source(
    file: InputFile, shape: Shape, time_format: TimeFormat, *, one_per_line: bool
) -> Source:
    mapping = {name: name for name in shape.canonical}
    schema: dict[str, pl.DataType] = {_RECORDS: pl.List(shape.struct())}

    def done(lf: pl.LazyFrame, name: str | None, *keep: str) -> pl.LazyFrame:
        lf = (
            lf.filter(pl.col(_RECORDS).list.len() > 0)
            .explode(_RECORDS)
            .select(pl.col(_RECORDS).struct.unnest(), *keep)
        )
        return finish(
            shape.flatten(lf, *keep),
            mapping=mapping,
            time_format=time_format,
            file=name,
            hint=file.hint,
        )

    def read_one(target: str | bytes) -> pl.LazyFrame:
        return pl.scan_ndjson(target, schema=schema)

    def scan(members: Sequence[Source]) -> pl.LazyFrame:
        lf = scan_lines_together(members, read_one, schema)
        return done(lf, None, SOURCE_LINE, SOURCE_FILE)

    def careful() -> Careful:
        kept: list[dict[str, str | None]] = []
        lines: list[int] = []
        rejects: list[tuple[int, str, str]] = []
        for found in _walk(json_text(file)):
            if found.reason is not None:
                rejects.append((found.line, found.reason, found.raw))
            elif not isinstance(found.record, dict):
                rejects.append((found.line, "expected a JSON object", found.raw))
            else:
                kept.append(shape.flat_record(found.record))
                lines.append(found.line)
        frame = shape.frame(kept).with_columns(pl.Series(SOURCE_LINE, lines, pl.Int64))
        lf = finish(
            frame.lazy(),
            mapping=mapping,
            time_format=time_format,
            file=file.name,
            hint=file.hint,
        )
        return Careful(lf.collect(), rejects_frame(file.name, rejects))

    key = ("records", file.compressed, shape.key, time_format.format, file.hint)
    source = Source(
        file.path,
        "records.gz" if file.compressed else "records",
        shape.seen,
        lambda: scan([source]),
        careful,
        file.hint,
        display=file.name,
        batch=Batch(key, scan) if one_per_line else None,
        columns_from_data=True,
        raw_text=lambda wanted: _raw_records(file, wanted),
        lines=lambda: file_lines(file.path),
    )
    return source


def _walk(text: str) -> Iterator[_Found]:
    """Every record of every document in the text, with the line it starts on.

    A document that breaks off yields its whole records, then one rejection
    for the rest of the text.
    """
    counter = _LineCounter(text)
    position = skip_space(text, 0 if not text.startswith("\ufeff") else 1)
    while position < len(text):
        start = _ARRAY_START.match(text, position)
        try:
            if start is None:
                position = yield from _whole_document(text, position, counter)
            else:
                position = yield from _array(text, start.end(), counter)
        except Broken as broken:
            line = counter.line(broken.position)
            yield _Found(line, None, text[broken.position :], broken.reason)
            return
        except RecursionError:
            line = counter.line(position)
            yield _Found(line, None, text[position:], "nested too deeply to read")
            return
        position = skip_space(text, position)


def _array(
    text: str, position: int, counter: _LineCounter
) -> Generator[_Found, None, int]:
    """The records of a ``records`` array, then the end of its document."""
    position = skip_space(text, position)
    if text.startswith("]", position):
        return _end_of_document(text, position + 1)
    while True:
        try:
            record, end = JSON_DECODER.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise Broken(position, broken_reason(text, error)) from error
        yield _Found(counter.line(position), record, text[position:end])
        position = skip_space(text, end)
        if text.startswith(",", position):
            position = skip_space(text, position + 1)
        elif text.startswith("]", position):
            return _end_of_document(text, position + 1)
        elif position == len(text):
            raise Broken(position, ENDS_EARLY)
        else:
            raise Broken(position, "expected ',' or ']' between records")


def _end_of_document(text: str, position: int) -> int:
    position = skip_space(text, position)
    if text.startswith("}", position):
        return position + 1
    # Keys after the array are rare; decoding them as an object of their own
    # settles where the document ends.
    rest = text[position:]
    stripped = rest.lstrip(",")
    try:
        _, end = JSON_DECODER.raw_decode("{" + stripped)
    except json.JSONDecodeError as error:
        raise Broken(position, broken_reason(text, error)) from error
    return position + (len(rest) - len(stripped)) + end - 1


def _whole_document(
    text: str, position: int, counter: _LineCounter
) -> Generator[_Found, None, int]:
    """A document that does not open with ``records``: decode it whole."""
    try:
        document, end = JSON_DECODER.raw_decode(text, position)
    except json.JSONDecodeError as error:
        raise Broken(position, broken_reason(text, error)) from error
    line = counter.line(position)
    if isinstance(document, dict) and _RECORDS in document:
        inner = document[_RECORDS]
        for record in inner if isinstance(inner, list) else [inner]:
            yield _Found(line, record, json.dumps(record))
    else:
        # A pretty-printed record of its own, without the wrapper.
        yield _Found(line, document, text[position:end])
    return end


class _LineCounter:
    """Line numbers of increasing positions, counted once over the text."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._position = 0
        self._line = 1

    def line(self, position: int) -> int:
        if position < self._position:
            return self._line
        self._line += self._text.count("\n", self._position, position)
        self._position = position
        return self._line


def _raw_records(file: InputFile, wanted: set[int]) -> dict[int, str]:
    found: dict[int, list[str]] = {}
    for item in _walk(json_text(file)):
        if item.line in wanted:
            found.setdefault(item.line, []).append(item.raw)
    return {line: "\n".join(texts) for line, texts in found.items()}
