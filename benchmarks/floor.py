"""The floor: parse the export with bare Polars and nothing else.

It reads each table's files (knowing from the export's layout which table is
where, which acsmail cannot assume), parses the columns the report uses into
their types, and keeps them all in memory at once, as a report needs them.
Whatever a real implementation does beyond this is the cost of its semantics.

Usage: python benchmarks/floor.py FORM DATA_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
from common import COLUMNS, CSV_TIME, NUMBERS, TABLES, source_name, table_files


def _scan(data: Path, form: str, table: str) -> pl.LazyFrame:
    files = table_files(data, form, table)
    columns = COLUMNS[table]
    if form == "parquet":
        return pl.scan_parquet(files).select(columns)
    names = [source_name(column, form) for column in columns]
    if form == "ndjson":
        schema = {name: pl.String for name in names}
        for name, kind in NUMBERS.items():
            if name in schema:
                schema[name] = pl.Float64 if kind == "float" else pl.Int64
        lf = pl.scan_ndjson(files, schema=schema)
        time = pl.col("TimeGenerated").str.to_datetime(
            "%Y-%m-%dT%H:%M:%S%.fZ", time_unit="us", time_zone="UTC"
        )
    else:
        lf = pl.scan_csv(files, infer_schema=False).select(names)
        lf = lf.rename({"TimeGenerated [UTC]": "TimeGenerated"}).with_columns(
            pl.col(name).cast(pl.Float64 if kind == "float" else pl.Int64)
            for name, kind in NUMBERS.items()
            if name in columns
        )
        time = pl.col("TimeGenerated").str.to_datetime(
            CSV_TIME.replace(".%f", "%.f"), time_unit="us", time_zone="UTC"
        )
    return lf.with_columns(time)


def main() -> None:
    form, data = sys.argv[1], Path(sys.argv[2])
    frames = pl.collect_all([_scan(data, form, table) for table in TABLES])
    for table, df in zip(TABLES, frames, strict=True):
        print(f"{table}: {df.height} rows, {df.estimated_size() / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
