"""What acsmail makes of each input file, before any analysis (``acsmail inspect``).

For every file: the form it was recognised as, how many records went to each
table, the time span they cover, the columns its tables lack, and how many of
its records were rejected or belong to no table. Everything is computed in one
collect over all files.

A column is absent from a file when the file does not carry it: a CSV,
Parquet or query response declares its columns, so its header decides; JSON
records carry only the keys they have values for, so there a column is absent
when no record of the file has it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import polars as pl

from acsmail.normalise import NO_TABLE, normalise
from acsmail.report import inputs_per_file
from acsmail.schema import ENGAGEMENT, SEND, SOURCE_FILE, STATUS, TABLES

if TYPE_CHECKING:
    from acsmail.readers import Inputs
    from acsmail.redact import Redactor

__all__ = ["SECTIONS", "Inspection", "inspect", "inspection_plans"]

#: The sections of the inspection, in the order they are printed.
SECTIONS: Final = ("inputs", "rejected")
#: Rejected records listed by line; the per-file counts cover all of them.
SHOWN_REJECTS: Final = 20
_TABLE_LABELS: Final = {
    SEND.key: "send",
    STATUS.key: "status",
    ENGAGEMENT.key: "engagement",
}


@dataclass
class Inspection:
    """The inspection of one set of inputs.

    Attributes
    ----------
    files
        One row per file: file, format, the record counts per table,
        rejected, unclassified, first, last, absent_columns.
    rejected
        Every record left out of the tables: file, line, reason, record (its
        text, when the reader kept it). Those that match no table have
        ``NO_TABLE`` as their reason.
    """

    files: pl.DataFrame
    rejected: pl.DataFrame

    def sections(self) -> dict[str, pl.DataFrame]:
        """The inspection as report sections, ready for ``render_report``."""
        shown = (
            self.rejected.filter(pl.col("reason") != NO_TABLE)
            .select("file", "line", "reason")
            .head(SHOWN_REJECTS)
        )
        return {"inputs": self.files, "rejected": shown}


def inspection_plans(
    inputs: Inputs, redactor: Redactor | None = None
) -> list[pl.LazyFrame]:
    """The lazy frames an inspection collects: counts, columns seen, rejects.

    The rejects are the only frame that holds values from the records (a value
    that did not cast is quoted in its reason), so they are what ``redactor``
    pseudonymises.
    """
    tables = normalise(inputs)
    left_out = tables.left_out()
    if redactor is not None:
        left_out = redactor.frame(left_out)
    return [inputs_per_file(inputs, tables), _present(inputs), left_out]


def inspect(inputs: Inputs, redactor: Redactor | None = None) -> Inspection:
    """Read every file once and say what was found in each.

    Parameters
    ----------
    inputs
        The prepared files.
    redactor
        Pseudonymises the addresses in the rejected records, when given.

    Returns
    -------
    Inspection
        Per-file findings and the rejected records.

    Examples
    --------
    >>> from acsmail.readers import scan
    >>> found = inspect(scan(["fixtures/forms/portal-csv"]))  # doctest: +SKIP
    >>> found.files.get_column("format").unique().to_list()  # doctest: +SKIP
    ['csv']
    """
    per_file, present, rejected = inputs.collect(
        functools.partial(inspection_plans, redactor=redactor)
    )
    absent = _absent_columns(inputs, per_file, present)
    files = per_file.with_columns(pl.Series("absent_columns", absent, pl.String))
    return Inspection(files=files, rejected=rejected.sort("file", "line"))


def _present(inputs: Inputs) -> pl.LazyFrame:
    """Per file, whether any record fills each canonical column."""
    records = inputs.records()
    carried = set(records.collect_schema().names())
    names = [
        name
        for name in dict.fromkeys(n for table in TABLES for n in table.schema)
        if name in carried
    ]
    return records.group_by(pl.col(SOURCE_FILE).cast(pl.String).alias("file")).agg(
        pl.col(name).is_not_null().any() for name in names
    )


def _absent_columns(
    inputs: Inputs, per_file: pl.DataFrame, present: pl.DataFrame
) -> list[str]:
    """Per file, the columns each of its tables lacks, e.g. ``status: A, B``."""
    filled = {
        str(row.pop("file")): {name for name, value in row.items() if value}
        for row in present.iter_rows(named=True)
    }
    absent = []
    for source, row in zip(inputs.sources, per_file.iter_rows(named=True), strict=True):
        carried = (
            filled.get(source.name, set())
            if source.columns_from_data
            else source.columns
        )
        parts = []
        for table in TABLES:
            label = _TABLE_LABELS[table.key]
            missing = [name for name in table.schema if name not in carried]
            if row[label] and missing:
                parts.append(f"{label}: {', '.join(missing)}")
        absent.append("; ".join(parts))
    return absent
