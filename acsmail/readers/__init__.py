"""Readers: every export form users hand over, as one lazy frame of text records.

``scan`` finds the files, tells each one's form from its content and prepares a
lazy scan of it. ``Inputs.collect`` runs a plan built on those scans and, if a
file turns out to be malformed, reads that file record by record and runs the
plan again, so bad records become counted rejections instead of a failed run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from acsmail.errors import InputError
from acsmail.readers._source import AMBIGUOUS_DATES, REJECTS_SCHEMA, Source
from acsmail.readers.csv import open_csv
from acsmail.readers.detect import expand_paths, folder_hint, sniff_form
from acsmail.readers.jsonarray import open_json_array
from acsmail.readers.ndjson import open_ndjson

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from pathlib import Path

    from acsmail.readers._times import DateOrder

__all__ = ["Inputs", "Source", "open_source", "scan"]


def open_source(path: Path, *, date_order: DateOrder | None = None) -> Source:
    """Recognise one file's form and prepare it for reading.

    Raises
    ------
    InputError
        When the file is not an export acsmail can read.
    """
    form, head = sniff_form(path)
    hint = folder_hint(path)
    if form == "csv":
        return open_csv(path, head, hint=hint, date_order=date_order)
    if form == "json-array":
        return open_json_array(path, hint=hint, date_order=date_order)
    if form == "ndjson":
        return open_ndjson(path, hint=hint, date_order=date_order)
    msg = f"{path}: {form} files are not supported yet"
    raise InputError(msg)


class Inputs:
    """The files of one run, each prepared for reading.

    Parameters
    ----------
    sources
        One prepared source per file.
    """

    def __init__(self, sources: Sequence[Source]) -> None:
        self.sources = list(sources)

    @property
    def warnings(self) -> list[str]:
        """What the readers want the user to know; one line for ambiguous dates."""
        warnings = [w for source in self.sources for w in source.warnings]
        ambiguous = [w for w in warnings if w.endswith(AMBIGUOUS_DATES)]
        if len(ambiguous) > 1:
            warnings = [w for w in warnings if not w.endswith(AMBIGUOUS_DATES)]
            warnings.append(f"{len(ambiguous)} files: {AMBIGUOUS_DATES}")
        return warnings

    @property
    def columns(self) -> frozenset[str]:
        """Canonical columns carried by at least one file."""
        return frozenset().union(*(source.columns for source in self.sources))

    def records(self) -> pl.LazyFrame:
        """Every record of every file, as text under canonical column names."""
        frames = [source.lazy() for source in self.sources]
        return pl.concat(frames, how="diagonal_relaxed")

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

        When a fast scan fails on malformed content, each file is tried alone;
        those that fail switch to the record-by-record read and the plans are
        built and collected again.
        """
        try:
            return pl.collect_all(build(self))
        except pl.exceptions.PolarsError:
            if not self._fall_back():
                raise
        return pl.collect_all(build(self))

    def _fall_back(self) -> bool:
        switched = False
        for source in self.sources:
            if source.read_carefully:
                continue
            try:
                source.fast().collect()
            except pl.exceptions.PolarsError:
                source.use_careful()
                switched = True
        return switched


def scan(paths: Iterable[str], *, date_order: DateOrder | None = None) -> Inputs:
    """Prepare every file behind the given paths for reading.

    Parameters
    ----------
    paths
        Files, directories (walked recursively) and glob patterns.
    date_order
        ``mdy`` or ``dmy`` for locale dates the data cannot settle.

    Raises
    ------
    InputError
        When a path names nothing or a file is not an export.
    """
    files = expand_paths(paths)
    if not files:
        msg = "no input files: the given paths hold no file"
        raise InputError(msg)
    return Inputs([open_source(path, date_order=date_order) for path in files])
