"""One input file: how to scan it fast, and how to read it record by record.

Every reader offers two ways into a file. The fast way is a lazy Polars scan that
fails as a whole on the first malformed record; the careful way reads the file in
Python, keeps every good record and turns each bad one into a counted rejection
with its line. acsmail scans fast and falls back to the careful way only for the
files whose scan failed, so a clean export pays nothing for the safety net.

Files of one form that a single scan can read together (the blobs of a storage
tree, with the same layout and datetime format) share a ``Batch``: one scan
over all of them costs a fraction of thousands of scans of one file each.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from acsmail.errors import InputError
from acsmail.readers._limits import max_field_bytes
from acsmail.readers._times import (
    TimeFormat,
    detect_time_format,
    parse_time,
    retry_time,
    unparsed_reason,
)
from acsmail.schema import SOURCE_FILE, SOURCE_LINE, TABLES, TIME
from acsmail.schema import canonical_name as _canonical_name

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Iterable, Sequence
    from pathlib import Path

    import numpy as np

    from acsmail.readers._times import DateOrder

#: Said of a file whose day/month order its dates cannot settle.
AMBIGUOUS_DATES: Final = (
    "dates could be month/day or day/month; read as month/day "
    "(use --date-order dmy if that is wrong)"
)

__all__ = [
    "BASE_SCHEMA",
    "JSON_DECODER",
    "REJECTS_SCHEMA",
    "Batch",
    "Careful",
    "Source",
    "canonical_name",
    "column_map",
    "empty_records",
    "failing_when",
    "finish",
    "name_files",
    "refuse_deliveries",
    "rejects_frame",
    "sample_time_format",
]

HINT: Final = "_hint"
REJECT: Final = "_reject"
#: The file path column of a scan over several files, before it becomes a name.
PATH: Final = "_path"
#: The parsed datetime, while the text it came from is still needed.
_PARSED: Final = "_parsed_time"


def _first_of_each_key(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object's members; of a key given twice, the first value."""
    members = dict(pairs)
    if len(members) < len(pairs):
        members = {}
        for key, value in pairs:
            members.setdefault(key, value)
    return members


#: Decodes JSON as Polars' scans read it where the two could part: a key
#: given twice in one object keeps its first value, where Python's decoder
#: keeps the last. A file then reads the same by either way into it.
JSON_DECODER: Final = json.JSONDecoder(object_pairs_hook=_first_of_each_key)

#: Columns of the deliveries dataset that no log table has.
_DELIVERIES_MARKERS: Final = frozenset({"MessageId", "FinalDeliveryStatus"})


def refuse_deliveries(name: str, columns: Iterable[str]) -> None:
    """Stop at a deliveries dataset that acsmail wrote, which is no log export.

    Read as one, its rows would all be rejected for want of a CorrelationId.

    Raises
    ------
    InputError
        When the columns are the dataset's.
    """
    if set(columns) >= _DELIVERIES_MARKERS:
        msg = (
            f"{name}: this is a deliveries dataset written by acsmail, not a "
            "log export; pass the exports it was built from"
        )
        raise InputError(msg)


REJECTS_SCHEMA: Final = {
    "file": pl.String(),
    "line": pl.Int64(),
    "reason": pl.String(),
    "record": pl.String(),
}
#: Columns every reader's frame carries besides the canonical text columns.
BASE_SCHEMA: Final = {
    "TimeGenerated": TIME,
    SOURCE_LINE: pl.Int64(),
    REJECT: pl.String(),
    SOURCE_FILE: pl.Categorical(),
    HINT: pl.String(),
}
_FLOAT_COLUMNS: Final = frozenset(
    name
    for table in TABLES
    for name, dtype in table.schema.items()
    if dtype == pl.Float64
)
_DIGIT: Final = re.compile(r"\d")

#: The canonical name of a source spelling; a storage tree repeats a handful
#: of spellings millions of times, so the answers are kept.
canonical_name = lru_cache(maxsize=4096)(_canonical_name)


@dataclass
class Careful:
    """What a record-by-record read kept, rejected, and wants the user to know."""

    records: pl.DataFrame
    rejects: pl.DataFrame
    warnings: list[str] = field(default_factory=list)


@dataclass(eq=False)
class Batch:
    """Files that one scan can read together.

    Parameters
    ----------
    key
        Equal for exactly the files one scan can read: form, layout, column
        spellings, datetime format, folder hint.
    scan
        Builds the finished frame of several such files at once.
    """

    key: Hashable
    scan: Callable[[Sequence[Source]], pl.LazyFrame]


@dataclass
class Source:
    """One file of an export and what was learnt of it before reading it whole.

    Parameters
    ----------
    path
        The bytes to read (the user's file, or a spooled copy of it).
    form
        The export form, e.g. ``csv`` or ``ndjson``; ``.gz`` is appended for a
        compressed file.
    columns
        Canonical names of the columns the file carries.
    fast
        Builds the lazy scan of the whole file.
    careful
        Reads the file record by record, rejecting what cannot be parsed.
    hint
        The table key that the file's folder names suggest, if any.
    warnings
        What the reader wants the user to know about this file.
    display
        The name the user knows the file by, when it differs from ``path``.
    batch
        How to scan this file together with others like it, if possible.
    columns_from_data
        True for JSON records, whose keys come and go from record to record:
        ``columns`` then lists the keys seen in the file's first records.
    raw_text
        Looks up the original text of records by their line.
    content
        The whole file, kept from sniffing a small file so that a batch
        scan need not read it again.
    lines
        The numbers of the file's lines that hold a record, for the scans
        that number records by position (see ``line_of``).
    numbered_by_position
        True when the fast scan numbers this file's records 1, 2, 3 rather
        than by their lines: every CSV file (a quoted field may hold
        newlines), and a JSON Lines file scanned from disk (a blank line
        holds no record).
    widen
        Switches a fast scan that reads only some fields (one table's) to
        one that reads them all; None when the scan reads them all already.
    table
        The key of the table every record of the file belongs to, while a
        scan that fails on any other record (a narrowed one) is in force.
    dates
        How the file writes its datetimes, as its sample showed.
    by_message
        True for a table that ``convert`` wrote from files some of which
        had no resource column: its records meet their messages by
        CorrelationId alone, as they did then.
    """

    path: Path
    form: str
    columns: frozenset[str]
    fast: Callable[[], pl.LazyFrame]
    careful: Callable[[], Careful]
    hint: str | None = None
    warnings: list[str] = field(default_factory=list)
    display: str | None = None
    batch: Batch | None = None
    columns_from_data: bool = False
    raw_text: Callable[[set[int]], dict[int, str]] | None = None
    content: bytes | None = None
    lines: Callable[[], np.ndarray] | None = None
    numbered_by_position: bool = False
    widen: Callable[[], None] | None = None
    table: str | None = None
    dates: TimeFormat | None = None
    by_message: bool = False
    _careful: Careful | None = None
    _line_map: np.ndarray | None = None

    @property
    def name(self) -> str:
        """The file's name as the user gave it."""
        return self.display if self.display is not None else str(self.path)

    @property
    def read_carefully(self) -> bool:
        """Whether the fast scan failed and the careful read took over."""
        return self._careful is not None

    def use_careful(self) -> None:
        """Switch this file to the record-by-record read.

        Raises
        ------
        InputError
            When the file cannot be read at all.
        """
        if self._careful is not None:
            return
        # Read record by record, the file may hold records of any table.
        self.table = None
        try:
            self._careful = self.careful()
        except OSError as error:
            msg = f"{self.name}: could not read the file ({error.strerror or error})"
            raise InputError(msg) from error
        self.warnings.extend(self._careful.warnings)

    def lazy(self) -> pl.LazyFrame:
        """The file's records, by whichever way is in force."""
        if self._careful is not None:
            return self._careful.records.lazy()
        return self.fast()

    def line_of(self, positions: np.ndarray) -> np.ndarray:
        """The lines of the records at these positions in the file (from 1).

        Where the fast scan numbered the records by position, positions and
        lines part after a blank line (JSON Lines) or a field that holds
        newlines (CSV). The file's lines are counted once, on the first call,
        which costs a pass over its bytes. Other records already carry their
        line.
        """
        if not self.numbered_by_position or self.read_carefully or self.lines is None:
            return positions
        # Imported here: the commands that read no lines start faster.
        import numpy as np

        if self._line_map is None:
            self._line_map = self.lines()
        found = self._line_map
        if found.size == 0:
            return positions
        inside = (positions >= 1) & (positions <= found.size)
        return np.where(inside, found[np.clip(positions, 1, found.size) - 1], positions)

    def rejects(self) -> pl.DataFrame:
        """Records the careful read rejected (empty on the fast way)."""
        if self._careful is not None:
            return self._careful.rejects
        return pl.DataFrame(schema=REJECTS_SCHEMA)


def rejects_frame(file: str, rows: Sequence[tuple[int, str, str]]) -> pl.DataFrame:
    """Build the rejects of one file from (line, reason, record text) triples."""
    return pl.DataFrame(
        {
            "file": [file] * len(rows),
            "line": [line for line, _, _ in rows],
            "reason": [reason for _, reason, _ in rows],
            "record": [text for _, _, text in rows],
        },
        schema=REJECTS_SCHEMA,
    )


def empty_records(file: str) -> pl.LazyFrame:
    """The frame of a file that holds no record."""
    return pl.LazyFrame(schema=BASE_SCHEMA).with_columns(
        pl.lit(file, pl.Categorical).alias(SOURCE_FILE)
    )


def column_map(names: Sequence[str]) -> dict[str, str]:
    """Map source column names to canonical ones; the first spelling wins."""
    mapping: dict[str, str] = {}
    for name in names:
        canonical = canonical_name(name)
        if canonical is not None and canonical not in mapping.values():
            mapping[name] = canonical
    return mapping


def sample_time_format(
    values: pl.Series | Sequence[str | None],
    *,
    date_order: DateOrder | None,
    source: str,
) -> tuple[TimeFormat, list[str]]:
    """Detect the datetime format of a sample and say when it is a guess."""
    texts = [v for v in values if isinstance(v, str) and v.strip()]
    shapes = _iso_shapes(texts)
    if shapes is None:
        sample = pl.Series(texts, dtype=pl.String)
        time_format = detect_time_format(sample, date_order=date_order)
    else:
        time_format = _format_of_shapes(shapes, date_order)
    warnings = []
    if time_format.ambiguous:
        warnings.append(f"{source}: {AMBIGUOUS_DATES}")
    return time_format, warnings


def _iso_shapes(texts: Sequence[str]) -> frozenset[str] | None:
    """The digit-blind shapes of ISO datetimes; None for any other text.

    Every ISO value of one shape parses with the same format, so the files of
    a storage tree, whose samples share their shapes, share one detection.
    Locale dates are left out: whether a day exceeds 12 decides their format,
    and shapes hide it.
    """
    shapes = frozenset(_DIGIT.sub("0", text.strip()) for text in texts)
    if all(shape.startswith("0000-00-00") for shape in shapes):
        return shapes
    return None


@lru_cache(maxsize=256)
def _format_of_shapes(
    shapes: frozenset[str], date_order: DateOrder | None
) -> TimeFormat:
    # All ones make a valid datetime of every shape: 1111-11-11T11:11:11.
    examples = pl.Series(
        [shape.replace("0", "1") for shape in sorted(shapes)], dtype=pl.String
    )
    return detect_time_format(examples, date_order=date_order)


def failing_when(line: pl.Expr, odd: pl.Expr) -> pl.Expr:
    """The line numbers, or a failed scan where ``odd`` holds for a record.

    A scan that assumed something of a file's records from its first ones
    fails this way on a record that proves it wrong, and the file is then
    read in a way that assumes nothing. The check rides on the line number,
    which every plan reads.
    """
    failed = pl.when(odd).then(pl.lit("does not fit"))
    return (line + failed.cast(pl.Int64, strict=True).fill_null(0)).alias(SOURCE_LINE)


def name_files(lf: pl.LazyFrame, members: Sequence[Source]) -> pl.LazyFrame:
    """Turn the path column of a scan over several files into their names."""
    names = {str(member.path): member.name for member in members}
    return lf.with_columns(
        pl.col(PATH)
        .replace_strict(names, return_dtype=pl.String)
        .cast(pl.Categorical)
        .alias(SOURCE_FILE)
    ).drop(PATH)


def finish(
    lf: pl.LazyFrame,
    *,
    mapping: dict[str, str],
    time_format: TimeFormat,
    file: str | None,
    hint: str | None,
    null_text: str | None = None,
    decimal_comma: bool = False,
    typed_time: pl.Expr | None = None,
    others: Sequence[str] = (),
) -> pl.LazyFrame:
    """Rename a file's columns to canonical names and type its datetimes.

    Every other value stays text: the normalising step casts it and rejects
    what does not cast.

    Parameters
    ----------
    lf
        The scan, with ``_line`` set and, when ``file`` is None, ``_file``.
    mapping
        Source column names to canonical names.
    time_format
        How ``TimeGenerated`` is written.
    file
        The file's name, or None when the scan covers several files.
    hint
        The table key the folders suggest.
    null_text
        A text that stands for null (``None`` in the az CLI's output).
    decimal_comma
        Whether decimals may be written with a comma (``0,026``).
    typed_time
        The datetime itself, when the source stores it typed (Parquet).
    others
        Columns of the file that no table uses (a CSV's ``TenantId``). Their
        values are held to the field limit too, which makes the scan read
        every field: Polars finds a record with too many fields only when
        it reads them all.
    """
    columns = []
    for source_name, canonical in mapping.items():
        if canonical == "TimeGenerated" and typed_time is not None:
            columns.append(typed_time.alias(canonical))
            continue
        expr = pl.col(source_name).cast(pl.String)
        if null_text is not None:
            expr = pl.when(expr == null_text).then(None).otherwise(expr)
        if decimal_comma and canonical in _FLOAT_COLUMNS:
            expr = expr.str.replace(",", ".", literal=True)
        columns.append(expr.alias(canonical))

    # Literal columns go into the one select: Polars stops sharing a scan
    # between plans at a node that only adds literals.
    provenance = [pl.col(SOURCE_LINE)]
    # One file name repeats on every record: as a category it is stored once.
    provenance.append(
        pl.col(SOURCE_FILE).cast(pl.Categorical)
        if file is None
        else pl.lit(file, pl.Categorical).alias(SOURCE_FILE)
    )
    provenance.append(pl.lit(hint, pl.String).alias(HINT))
    if typed_time is not None:
        provenance.append(pl.lit(None, pl.String).alias(REJECT))
    elif "TimeGenerated" not in mapping.values():
        provenance.append(pl.lit(None, TIME).alias("TimeGenerated"))
        provenance.append(pl.lit(None, pl.String).alias(REJECT))
    unused = {f"_other_{n}": name for n, name in enumerate(others)}
    lf = lf.select(
        *columns,
        *provenance,
        *(pl.col(name).alias(alias) for alias, name in unused.items()),
    )
    lengths = [
        (name, pl.col(name).str.len_bytes())
        for name in mapping.values()
        if not (name == "TimeGenerated" and typed_time is not None)
    ]
    lengths += [(name, pl.col(alias).str.len_bytes()) for alias, name in unused.items()]
    too_long = _too_long(lengths)
    if typed_time is None and "TimeGenerated" in mapping.values():
        # Parsed into a column of its own first: written inline, the parse
        # would run twice, once for the value and once for the reason.
        raw = pl.col("TimeGenerated")
        # The retry reads the parsed column in a step of its own: a Python
        # function, or the parse repeated inside one expression, would cost
        # a fifth of the scan.
        lf = lf.with_columns(parse_time(raw, time_format).alias(_PARSED))
        lf = lf.with_columns(
            retry_time(raw, pl.col(_PARSED), time_format).alias(_PARSED)
        )
        bad = (
            raw.is_not_null()
            & pl.col(_PARSED).is_null()
            & (raw.str.strip_chars() != "")
        )
        return lf.with_columns(
            pl.coalesce(
                too_long,
                pl.when(bad).then(pl.format(unparsed_reason(time_format), raw)),
            ).alias(REJECT),
            pl.col(_PARSED).alias("TimeGenerated"),
        ).drop(_PARSED, *unused)
    lf = lf.with_columns(pl.coalesce(too_long, pl.col(REJECT)).alias(REJECT))
    return lf.drop(*unused)


def _too_long(lengths: Sequence[tuple[str, pl.Expr]]) -> pl.Expr:
    """Why a record is rejected for a value past the field limit, else null.

    ``lengths`` pairs each name to tell the user with the length in bytes of
    its value. A single value of megabytes is no log field but a broken or
    hostile export; the record is rejected, naming the column, rather than
    carried through every table and report.
    """
    limit = max_field_bytes()
    reasons = [
        pl.when(length > limit).then(pl.lit(f"{name}: field longer than {limit} bytes"))
        for name, length in lengths
    ]
    if not reasons:
        return pl.lit(None, pl.String)
    # Asked first whether any value is too long, so that the reasons are
    # built only for the records that have one.
    any_long = pl.any_horizontal(length > limit for _, length in lengths)
    return pl.when(any_long).then(pl.coalesce(reasons))
