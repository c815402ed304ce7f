"""Parquet: Log Analytics export jobs, and tables saved by other tools.

Parquet keeps its types: ``TimeGenerated`` arrives as a datetime (with or
without a time zone, in any unit) and is taken as it is; numbers and booleans
become text like every other source's, for the normalising step to cast. The
deliveries dataset that acsmail itself writes is no log export, and is refused
with a word on what to pass instead.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final

import polars as pl

from acsmail.errors import InputError, first_line
from acsmail.readers._files import InputFile, read_all
from acsmail.readers._source import (
    PATH,
    Batch,
    Careful,
    Source,
    column_map,
    finish,
    name_files,
    refuse_deliveries,
    rejects_frame,
    sample_time_format,
)
from acsmail.schema import BY_MESSAGE, SOURCE_LINE, TIME

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from acsmail.readers._files import Spool
    from acsmail.readers._times import DateOrder

__all__ = ["open_parquet"]

_SAMPLE_ROWS: Final = 2000


def _scan(paths: list[Path], *, several: bool) -> pl.LazyFrame:
    return pl.scan_parquet(
        paths,
        glob=False,
        hive_partitioning=False,
        include_file_paths=PATH if several else None,
    )


def _typed_time(name: str, dtype: pl.DataType) -> pl.Expr | None:
    """The datetime column as UTC microseconds, if the file stores it typed."""
    column = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return column.dt.replace_time_zone("UTC").cast(TIME)
        return column.dt.convert_time_zone("UTC").cast(TIME)
    if dtype == pl.Date:
        return column.cast(pl.Datetime("us")).dt.replace_time_zone("UTC").cast(TIME)
    return None


def open_parquet(
    file: InputFile, *, spool: Spool, date_order: DateOrder | None
) -> Source:
    """Prepare a Parquet file for reading.

    Raises
    ------
    InputError
        When the file is damaged, is an acsmail deliveries dataset, or has no
        ACS Email column.
    """
    if file.compressed:
        # Polars does not read compressed Parquet files; inflate a copy.
        path = spool.new_file(".parquet")
        path.write_bytes(read_all(file.path)[0])
        file = InputFile(path, file.name, file.hint, file.head, file.size, True)
    try:
        schema = _scan([file.path], several=False).collect_schema()
    except pl.exceptions.PolarsError as error:
        msg = f"{file.name}: not a readable Parquet file ({first_line(error)})"
        raise InputError(msg) from error
    refuse_deliveries(file.name, schema.names())
    mapping = column_map(schema.names())
    if not mapping:
        msg = (
            f"{file.name}: expected ACS Email log columns (TimeGenerated, "
            f"CorrelationId, …), found {schema.names()[:5]!r}"
        )
        raise InputError(msg)

    time_name = next((n for n, c in mapping.items() if c == "TimeGenerated"), None)
    typed = _typed_time(time_name, schema[time_name]) if time_name else None
    sample: list[str | None] = []
    if time_name and typed is None:
        lf = _scan([file.path], several=False).select(pl.col(time_name).cast(pl.String))
        sample = lf.head(_SAMPLE_ROWS).collect().to_series().to_list()
    time_format, warnings = sample_time_format(
        sample, date_order=date_order, source=file.name
    )

    def scan(members: Sequence[Source]) -> pl.LazyFrame:
        lf = _scan([member.path for member in members], several=True)
        line = pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(PATH)
        lf = name_files(lf.with_columns(line.alias(SOURCE_LINE)), members)
        return finish(
            lf,
            mapping=mapping,
            time_format=time_format,
            file=None,
            hint=file.hint,
            typed_time=typed,
        )

    def fast() -> pl.LazyFrame:
        lf = _scan([file.path], several=False).with_row_index(SOURCE_LINE, offset=1)
        lf = lf.with_columns(pl.col(SOURCE_LINE).cast(pl.Int64))
        return finish(
            lf,
            mapping=mapping,
            time_format=time_format,
            file=file.name,
            hint=file.hint,
            typed_time=typed,
        )

    def careful() -> Careful:
        # Parquet has no record to skip: a damaged file is damaged as a whole.
        try:
            records = fast().collect()
        except pl.exceptions.PolarsError as error:
            msg = f"{file.name}: the Parquet file is damaged ({first_line(error)})"
            raise InputError(msg) from error
        return Careful(records, rejects_frame(file.name, []))

    key = ("parquet", tuple((n, str(t)) for n, t in schema.items()), file.hint)
    source = Source(
        file.path,
        "parquet.gz" if file.compressed else "parquet",
        frozenset(mapping.values()),
        fast,
        careful,
        file.hint,
        display=file.name,
        batch=Batch(key, scan),
        raw_text=lambda wanted: _raw_rows(file.path, wanted),
    )
    source.warnings.extend(warnings)
    source.dates = time_format
    source.by_message = pl.read_parquet_metadata(file.path).get(BY_MESSAGE) == "true"
    return source


def _raw_rows(path: Path, wanted: set[int]) -> dict[int, str]:
    lf = _scan([path], several=False).with_row_index("_row", offset=1)
    rows = lf.filter(pl.col("_row").is_in(sorted(wanted))).collect().to_dicts()
    return {int(row.pop("_row")): json.dumps(row, default=str) for row in rows}
