"""One input file: how to scan it fast, and how to read it record by record.

Every reader offers two ways into a file. The fast way is a lazy Polars scan that
fails as a whole on the first malformed record; the careful way reads the file in
Python, keeps every good record and turns each bad one into a counted rejection
with its line. acsmail scans fast and falls back to the careful way only for the
files whose scan failed, so a clean export pays nothing for the safety net.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import polars as pl

from acsmail.readers._times import TimeFormat, detect_time_format, parse_time
from acsmail.schema import SOURCE_FILE, SOURCE_LINE, canonical_name

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from acsmail.readers._times import DateOrder

__all__ = ["REJECTS_SCHEMA", "Careful", "Source", "finish", "rejects_frame"]

HINT: Final = "_hint"
REJECT: Final = "_reject"
TEXT_REJECT_LIMIT: Final = 500
AMBIGUOUS_DATES: Final = (
    "dates could be month/day or day/month; read as month/day "
    "(use --date-order dmy if that is wrong)"
)

REJECTS_SCHEMA: Final = {
    "file": pl.String(),
    "line": pl.Int64(),
    "reason": pl.String(),
    "record": pl.String(),
}


@dataclass
class Careful:
    """What a record-by-record read kept and what it rejected."""

    records: pl.DataFrame
    rejects: pl.DataFrame


@dataclass
class Source:
    """One file of an export and what was learnt of it before reading it whole.

    Parameters
    ----------
    path
        The file.
    form
        The export form, e.g. ``csv`` or ``ndjson``.
    columns
        Canonical names of the columns the file carries.
    fast
        Builds the lazy scan of the whole file.
    careful
        Reads the file record by record, rejecting what cannot be parsed.
    hint
        The table key that the file's folder names suggest, if any.
    """

    path: Path
    form: str
    columns: frozenset[str]
    fast: Callable[[], pl.LazyFrame]
    careful: Callable[[], Careful]
    hint: str | None = None
    warnings: list[str] = field(default_factory=list)
    _careful: Careful | None = None

    @property
    def name(self) -> str:
        """The file's name as the user gave it."""
        return str(self.path)

    @property
    def read_carefully(self) -> bool:
        """Whether the fast scan failed and the careful read took over."""
        return self._careful is not None

    def use_careful(self) -> None:
        """Switch this file to the record-by-record read."""
        if self._careful is None:
            self._careful = self.careful()

    def lazy(self) -> pl.LazyFrame:
        """The file's records, by whichever way is in force."""
        if self._careful is not None:
            return self._careful.records.lazy()
        return self.fast()

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
            "record": [text[:TEXT_REJECT_LIMIT] for _, _, text in rows],
        },
        schema=REJECTS_SCHEMA,
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
    values: pl.Series, *, date_order: DateOrder | None, source: str
) -> tuple[TimeFormat, list[str]]:
    """Detect the datetime format of a sample and say when it is a guess."""
    time_format = detect_time_format(values, date_order=date_order)
    warnings = []
    if time_format.ambiguous:
        warnings.append(f"{source}: {AMBIGUOUS_DATES}")
    return time_format, warnings


def finish(
    lf: pl.LazyFrame,
    *,
    mapping: dict[str, str],
    time_format: TimeFormat,
    file: str,
    hint: str | None,
    null_text: str | None = None,
) -> pl.LazyFrame:
    """Rename a file's columns to canonical names and type its datetimes.

    Every other value stays text: the normalising step casts it and rejects
    what does not cast. The first column loses a stray byte-order mark, which
    some exports repeat at the start of the first data row.
    """
    first = next(iter(mapping), None)
    columns = []
    for source_name, canonical in mapping.items():
        expr = pl.col(source_name).cast(pl.String)
        if source_name == first:
            expr = expr.str.strip_chars_start("\ufeff")
        if null_text is not None:
            expr = pl.when(expr == null_text).then(None).otherwise(expr)
        columns.append(expr.alias(canonical))

    lf = lf.select(*columns, pl.col(SOURCE_LINE))
    if "TimeGenerated" in mapping.values():
        raw = pl.col("TimeGenerated")
        parsed = parse_time(raw, time_format)
        bad = raw.is_not_null() & (raw.str.strip_chars() != "") & parsed.is_null()
        lf = lf.with_columns(
            pl.when(bad)
            .then(pl.format("TimeGenerated: expected a datetime, got '{}'", raw))
            .alias(REJECT),
            parsed.alias("TimeGenerated"),
        )
    else:
        lf = lf.with_columns(pl.lit(None, pl.String).alias(REJECT))
    return lf.with_columns(
        pl.lit(file).alias(SOURCE_FILE),
        pl.lit(hint, pl.String).alias(HINT),
    )
