"""Readers: every export form users hand over, as one lazy frame of text records.

``scan`` finds the files, tells each one's form from its content and prepares a
lazy scan of it. Files that one scan can read together (the blobs of a storage
tree) are read together. ``Inputs.collect`` runs a plan built on those scans
and, if a file turns out to be malformed, finds it, reads it record by record
and runs the plan again, so bad records become counted rejections instead of a
failed run.
"""

from __future__ import annotations

import codecs
import functools
import os
from typing import TYPE_CHECKING, Final

import polars as pl

from acsmail.errors import InputError
from acsmail.readers._files import (
    HEAD_BYTES,
    STDIN,
    WHOLE_BYTES,
    InputFile,
    Spool,
    read_all,
    read_head,
)
from acsmail.readers._limits import check_inflated, inflate_cap
from acsmail.readers._source import (
    AMBIGUOUS_DATES,
    BASE_SCHEMA,
    REJECTS_SCHEMA,
    Careful,
    Source,
    empty_records,
    rejects_frame,
)
from acsmail.readers.csv import from_utf16, open_csv
from acsmail.readers.detect import (
    STDIN_PATH,
    expand_paths,
    folder_hint,
    is_stream,
    sniff_form,
)
from acsmail.readers.jsonarray import open_json_array
from acsmail.readers.ndjson import open_ndjson
from acsmail.readers.parquet import open_parquet
from acsmail.readers.queryapi import open_query_api
from acsmail.readers.records import holds_no_record, open_records
from acsmail.schema import SOURCE_FILE

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Iterable, Sequence
    from pathlib import Path

    from acsmail.readers._times import DateOrder

__all__ = [
    "ENGINE",
    "PART_BYTES",
    "REJECTS_SCHEMA",
    "Inputs",
    "Source",
    "open_source",
    "scan",
]

# Polars reports malformed content as its own errors, and a compressed file
# that ends early as an OSError.
_SCAN_ERRORS = (pl.exceptions.PolarsError, OSError)
_DAMAGED_GZIP: Final = (
    "the compressed file is cut off or damaged before its first record; "
    "nothing could be read from it"
)
_LINE_FORMS: Final = frozenset({"ndjson", "records"})
#: Bytes of small files kept from sniffing for the scan, at most.
_KEPT_BYTES: Final = 256 * 1024 * 1024
#: Beyond this many files, each is sniffed lightly: the blobs of a tree share
#: their keys, and the keys seen are the union over all of them.
_MANY_FILES: Final = 100
_SAMPLE_RECORDS: Final = 50
_FEW_RECORDS: Final = 2
#: How plans are collected. On this work (whole tables, joins, group-bys over
#: data held in memory) Polars' in-memory engine measures faster than its
#: streaming engine, and holds less at its peak.
ENGINE: Final = "in-memory"
#: Input bytes per part when the tables are read part by part.
PART_BYTES: Final = 256 * 1024 * 1024
#: What a compressed file is taken to inflate to, for sizing parts.
_INFLATION: Final = 8


def open_source(
    path: Path,
    *,
    date_order: DateOrder | None = None,
    name: str | None = None,
    spool: Spool | None = None,
    keep: bool = False,
    many: bool = False,
) -> Source:
    """Recognise one file's form and prepare it for reading.

    Parameters
    ----------
    path
        The file.
    date_order
        ``mdy`` or ``dmy`` for locale dates the data cannot settle.
    name
        What to call the file in messages, if not its path.
    spool
        Where to keep converted copies; a private one when None.
    keep
        Read a small file whole, and keep the bytes of JSON Lines for the
        batch scan, so that they are read from disk once.
    many
        The file is one of very many: learn its keys from fewer records.

    Raises
    ------
    InputError
        When the file is not an export acsmail can read.
    """
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError as error:
        # Polars takes paths as UTF-8 text; such a name would fail inside it.
        shown = os.fsencode(path).decode("utf-8", "backslashreplace")
        msg = f"{shown}: the file name is not valid UTF-8; rename the file to read it"
        raise InputError(msg) from error
    own = spool is None
    spool = spool or Spool()
    try:
        size = path.stat().st_size
        limit = WHOLE_BYTES if keep and size <= WHOLE_BYTES else HEAD_BYTES
        head, compressed = read_head(path, limit)
        whole = len(head) < limit if compressed else len(head) == size
        if compressed and not whole:
            # Polars inflates a compressed file whole before scanning it; a
            # bomb must be stopped here, counting in bounded pieces.
            with path.open("rb") as stream:
                check_inflated(stream, name or str(path), inflate_cap(size))
    except OSError as error:
        msg = f"{name or path}: could not read the file ({error.strerror or error})"
        raise InputError(msg) from error
    file = InputFile(
        path,
        name or str(path),
        folder_hint(path),
        head,
        size,
        compressed,
        whole,
        sample=_FEW_RECORDS if many else _SAMPLE_RECORDS,
    )
    source = _open(file, spool, date_order)
    joins = source.batch is not None and source.form in _LINE_FORMS
    if keep and whole and joins and not compressed:
        source.content = head
    # The readers are done with the head; thousands of them would add up.
    file.head = b""
    if own:
        spool.tie_to(source)
    return source


def _open(file: InputFile, spool: Spool, date_order: DateOrder | None) -> Source:
    if file.head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        file = from_utf16(file, spool)
    form = sniff_form(file.head, name=file.name)
    if form == "csv":
        return open_csv(file, spool=spool, date_order=date_order)
    if form == "ndjson":
        try:
            return open_ndjson(file, date_order=date_order)
        except InputError:
            # Cut off inside its first record, a compressed file has no whole
            # line to show what it is: it is damaged, not of another kind.
            if file.compressed and read_all(file.path)[1]:
                return _empty(file)
            raise
    if form == "records":
        if holds_no_record(file):
            return _empty(file)
        return open_records(file, date_order=date_order)
    if form == "json-array":
        return open_json_array(file, date_order=date_order)
    if form == "query-api":
        return open_query_api(file, date_order=date_order)
    if form == "parquet":
        return open_parquet(file, spool=spool, date_order=date_order)
    return _empty(file)


def _empty(file: InputFile) -> Source:
    """A file with nothing in it: zero records and a word to the user.

    A storage tree often holds an empty blob (an hour with no mail), and one
    such file should not stop the report on all the others. A compressed file
    that gives nothing because it is cut off or damaged before its first
    record is not empty: that counts as one rejection.
    """
    records = empty_records(file.name)
    damaged = file.compressed and read_all(file.path)[1]
    rejects = [(1, _DAMAGED_GZIP, "")] if damaged else []
    source = Source(
        file.path,
        "empty",
        frozenset(),
        fast=lambda: records,
        careful=lambda: Careful(records.collect(), rejects_frame(file.name, rejects)),
        hint=file.hint,
        display=file.name,
    )
    if damaged:
        source.use_careful()
    else:
        source.warnings.append(
            f"{file.name}: the file is empty; no records read from it"
        )
    return source


class Inputs:
    """The files of one run, each prepared for reading.

    Parameters
    ----------
    sources
        One prepared source per file.
    """

    def __init__(self, sources: Sequence[Source]) -> None:
        self.sources = list(sources)
        self._told: set[str] = set()
        #: The files found to lack a resource and to hold sends or statuses
        #: (``scan`` looks), or None to judge by the columns alone.
        self.lacking: list[Source] | None = None

    @property
    def warnings(self) -> list[str]:
        """What the readers want the user to know; one line for ambiguous dates."""
        warnings = [w for source in self.sources for w in source.warnings]
        ambiguous = [w for w in warnings if w.endswith(AMBIGUOUS_DATES)]
        if len(ambiguous) > 1:
            warnings = [w for w in warnings if not w.endswith(AMBIGUOUS_DATES)]
            warnings.append(f"{len(ambiguous)} files: {AMBIGUOUS_DATES}")
        return warnings

    def new_warnings(self) -> list[str]:
        """The warnings not returned by an earlier call.

        A careful read, which only starts while collecting, may find more to
        say (a file cut off, or not UTF-8 after its first bytes); this tells
        them once each.
        """
        fresh = [warning for warning in self.warnings if warning not in self._told]
        self._told.update(fresh)
        return fresh

    def lacking_resource(self) -> list[Source]:
        """The files without a resource column, where other files have one.

        Their records carry no resource, so none of them would match a record
        of the other files by message and resource. A file with no columns at
        all (an empty blob) has no records to match, nor has one whose records
        are all of other tables (engagement, or an SMS table's), once ``scan``
        has read the files to see.
        """
        if self.lacking is not None:
            return self.lacking
        filled = [source for source in self.sources if source.columns]
        lacking = [source for source in filled if "ResourceId" not in source.columns]
        return lacking if len(lacking) < len(filled) else []

    @property
    def by_message(self) -> bool:
        """Whether records meet their messages by CorrelationId alone.

        So they do where some files lack a resource column
        (``lacking_resource``), and in tables converted from such files.
        """
        converted = any(source.by_message for source in self.sources)
        return converted or bool(self.lacking_resource())

    @property
    def general_times(self) -> bool:
        """Whether some file writes datetimes that take the general parser."""
        return any(s.dates is not None and s.dates.general for s in self.sources)

    @property
    def columns(self) -> frozenset[str]:
        """Canonical columns carried by at least one file."""
        return frozenset().union(*(source.columns for source in self.sources))

    def records(self) -> pl.LazyFrame:
        """Every record of every file, as text under canonical column names."""
        frames = [self._frame(members) for members in self._batches()]
        if not frames:
            return pl.LazyFrame(schema=BASE_SCHEMA)
        return pl.concat(frames, how="diagonal_relaxed")

    def weight(self) -> int:
        """About how many bytes reading every file puts in memory."""
        return sum(_weight(source) for source in self.sources)

    def parts(self, limit: int = PART_BYTES) -> list[Inputs]:
        """The files in runs of about ``limit`` input bytes each, in order.

        Reading one part at a time holds one part's raw text records in
        memory, and one part's mapped file bytes, instead of the whole
        export's; what is kept of each part is its typed tables. A file larger
        than the limit is a part of its own.
        """
        parts: list[Inputs] = []
        current: list[Source] = []
        size = 0
        for source in self.sources:
            weight = _weight(source)
            if current and size + weight > limit:
                parts.append(Inputs(current))
                current, size = [], 0
            current.append(source)
            size += weight
        if current:
            parts.append(Inputs(current))
        return parts

    def rejects(self) -> pl.LazyFrame:
        """Records that the careful reads rejected, with file, line and reason."""
        frames = [source.rejects() for source in self.sources]
        rejected = [frame for frame in frames if frame.height]
        if not rejected:
            return pl.LazyFrame(schema=REJECTS_SCHEMA)
        return pl.concat(rejected).lazy()

    def collect(
        self, build: Callable[[Inputs], Sequence[pl.LazyFrame]]
    ) -> list[pl.DataFrame]:
        """Build plans on these inputs and collect them together.

        When a fast scan fails on malformed content, the files that fail are
        found (halving batches until one file fails alone); those switch to
        the record-by-record read and the plans are built and collected again.
        """
        try:
            return pl.collect_all(build(self), engine=ENGINE)
        except _SCAN_ERRORS:
            if not self._fall_back():
                raise
        return pl.collect_all(build(self), engine=ENGINE)

    def exact_lines(
        self, frame: pl.DataFrame, *, file: str = "file", line: str = "line"
    ) -> pl.DataFrame:
        """The frame with every line number a line of its file.

        The fast scan of a CSV file, and of a JSON Lines file read from disk,
        numbers its records by position, which orders them as their lines
        do at a fraction of the cost of counting lines. Rows shown to the
        user by line (rejected records, a trace) pass through here, which
        counts the lines of those files alone.
        """
        shown = {str(name) for name in frame.get_column(file).unique().to_list()}
        numbered = [
            source
            for source in self.sources
            if source.numbered_by_position and source.name in shown
        ]
        if not numbered or frame.height == 0:
            return frame
        names = frame.get_column(file).cast(pl.String)
        values = frame.get_column(line)
        lines = values.fill_null(0).to_numpy().copy()
        for source in numbered:
            rows = (names == source.name).fill_null(False).to_numpy()
            lines[rows] = source.line_of(lines[rows])
        fixed = pl.Series(line, lines, pl.Int64)
        return frame.with_columns(
            pl.when(pl.col(line).is_null()).then(None).otherwise(fixed).alias(line)
        )

    def with_record_text(self, rejects: pl.DataFrame) -> pl.DataFrame:
        """Fill in the original text of rejected records that lack it.

        Records rejected after reading (a value that does not cast) carry only
        their file and line; their text is looked up in the files again, which
        costs a read of each file that had such a rejection.
        """
        missing = rejects.filter(pl.col("record").is_null())
        if missing.height == 0:
            return rejects
        by_name = {source.name: source for source in self.sources}
        found: dict[tuple[str, int], str] = {}
        for (name,), part in missing.group_by("file"):
            source = by_name.get(str(name))
            if source is None or source.raw_text is None:
                continue
            lines = {int(line) for line in part.get_column("line").drop_nulls()}
            for line, text in source.raw_text(lines).items():
                found[(str(name), line)] = text
        texts = pl.DataFrame(
            {
                "file": [name for name, _ in found],
                "line": [line for _, line in found],
                "_text": list(found.values()),
            },
            schema={"file": pl.String, "line": pl.Int64, "_text": pl.String},
        )
        return (
            rejects.join(texts, on=["file", "line"], how="left", maintain_order="left")
            .with_columns(pl.coalesce("record", "_text").alias("record"))
            .drop("_text")
        )

    def _batches(self) -> list[list[Source]]:
        """The sources, grouped into the scans that read them."""
        groups: dict[Hashable, list[Source]] = {}
        for position, source in enumerate(self.sources):
            key: Hashable = (
                ("alone", position)
                if source.batch is None or source.read_carefully
                else source.batch.key
            )
            groups.setdefault(key, []).append(source)
        return list(groups.values())

    @staticmethod
    def _frame(members: Sequence[Source]) -> pl.LazyFrame:
        first = members[0]
        if len(members) == 1 or first.batch is None:
            return first.lazy()
        return first.batch.scan(members)

    def _fall_back(self) -> bool:
        switched = False
        for members in self._batches():
            switched |= _isolate(members, split=False)
        return switched


def _weight(source: Source) -> int:
    """About how many bytes reading a file puts in memory."""
    try:
        size = source.path.stat().st_size
    except OSError:
        return 0
    return size * _INFLATION if source.form.endswith(".gz") else size


def _isolate(members: Sequence[Source], *, split: bool) -> bool:
    """Switch the files that fail to scan to the careful read; say if any did.

    A file that scans alone but not with its batch (its bytes do not join
    cleanly) leaves the batch and is scanned alone. Files scanned for some
    of their fields (``Source.widen``) are first scanned again for all of
    them, and read carefully only if that fails too.
    """
    first = members[0]
    alone = len(members) == 1
    if alone and first.read_carefully:
        return False
    try:
        (first.fast() if alone else Inputs._frame(members)).collect()
    except _SCAN_ERRORS:
        widen = [member.widen for member in members if member.widen is not None]
        if widen:
            for switch in widen:
                switch()
            _isolate(members, split=split)
            return True
        if alone:
            first.use_careful()
            return True
        half = len(members) // 2
        before = _isolate(members[:half], split=True)
        after = _isolate(members[half:], split=True)
        return before or after
    if alone and split:
        first.batch = None
        return True
    return False


def _one_date_order(
    sources: list[Source], opened: Sequence[functools.partial[Source]]
) -> list[Source]:
    """The files, with those whose dates fit either order read in the export's.

    Files of one export share the locale they were written in. Where some
    files' dates settle the day/month order (a day past 12) and others' fit
    both, the others are opened again in the order the first settled. Dates
    written with dots settle only their own file. Files that settle
    different orders are read each their own way, and the user is told.
    """
    settled: dict[DateOrder, str] = {}
    for source in sources:
        dates = source.dates
        if (
            dates is not None
            and dates.guessed_order
            and not dates.ambiguous
            and not dates.dotted
        ):
            settled.setdefault(dates.guessed_order, source.name)
    if len(settled) != 1:
        if len(settled) == 2:
            sources[0].warnings.append(
                f"files disagree on the day/month order of their dates: "
                f"{settled['mdy']} reads month/day, {settled['dmy']} day/month; "
                "each is read its own way"
            )
        return sources
    ((order, witness),) = settled.items()
    reopened = list(sources)
    again = [n for n, s in enumerate(sources) if s.dates and s.dates.ambiguous]
    for n in again:
        reopened[n] = opened[n](date_order=order)
    if again:
        read = "day/month" if order == "dmy" else "month/day"
        reopened[again[0]].warnings.append(
            f"{len(again)} file(s) whose dates fit either order read as {read}, "
            f"as the dates of {witness} settle it (use --date-order to change it)"
        )
    return reopened


def scan(
    paths: Iterable[str],
    *,
    date_order: DateOrder | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Inputs:
    """Prepare every file behind the given paths for reading.

    Parameters
    ----------
    paths
        Files, directories (walked recursively), glob patterns, and ``-`` for
        standard input.
    date_order
        ``mdy`` or ``dmy`` for locale dates the data cannot settle.
    progress
        Told ``(done, total)`` after each file is prepared, for a progress bar.

    Raises
    ------
    InputError
        When a path names nothing or a file is not an export.
    """
    files = expand_paths(paths)
    if not files:
        msg = "no input files: the given paths hold no file"
        raise InputError(msg)
    spool = Spool()
    sources: list[Source] = []
    kept = 0
    opened: list[functools.partial[Source]] = []
    try:
        for done, path in enumerate(files, start=1):
            copied, name = _copied(path, spool)
            opened.append(
                functools.partial(
                    open_source,
                    copied,
                    name=name,
                    spool=spool,
                    keep=kept < _KEPT_BYTES,
                    many=len(files) > _MANY_FILES,
                )
            )
            source = opened[-1](date_order=date_order)
            kept += len(source.content or b"")
            sources.append(source)
            if progress is not None:
                progress(done, len(files))
        if date_order is None:
            sources = _one_date_order(sources, opened)
    except BaseException:
        spool.remove()
        raise
    inputs = Inputs(sources)
    spool.tie_to(inputs)
    converted = [source for source in sources if source.by_message]
    if converted:
        converted[0].warnings.append(
            f"{converted[0].name}: converted from files some of which had no "
            "ResourceId column; records are matched to their message by "
            "CorrelationId alone, as they were then"
        )
    inputs.lacking = lacking = _holding_messages(inputs.lacking_resource())
    if lacking:
        others = f" and {len(lacking) - 1} other file(s)" if len(lacking) > 1 else ""
        lacking[0].warnings.append(
            f"{lacking[0].name}{others}: no ResourceId column, where other files "
            "have one; records are matched to their message by CorrelationId "
            "alone, not by CorrelationId and resource"
        )
    return inputs


def _copied(path: Path, spool: Spool) -> tuple[Path, str | None]:
    """The file to read for a path, and its name when that is not the path.

    Standard input and pipes can be read only once: each is copied to a
    file of the spool first, and keeps the name the user gave it.
    """
    if str(path) == STDIN_PATH:
        return spool.stdin(), STDIN
    if is_stream(path):
        with path.open("rb") as stream:
            return spool.copy(stream), str(path)
    return path, None


def _holding_messages(sources: list[Source]) -> list[Source]:
    """Those of the files that hold send or status records.

    Only those records are matched to their message: a file of engagement
    records, or of another table's, changes nothing by lacking a resource.
    The files are read to see (where there are any, they are few).
    """
    from acsmail.normalise import normalise  # which reads through this module

    if not sources:
        return []

    def files_of(current: Inputs) -> list[pl.LazyFrame]:
        tables = normalise(current)
        named = [lf.select(SOURCE_FILE) for lf in (tables.send, tables.status)]
        return [pl.concat(named).unique()]

    (found,) = Inputs(sources).collect(files_of)
    names = {str(name) for name in found.get_column(SOURCE_FILE).to_list()}
    return [source for source in sources if source.name in names]
