"""Save the canonical tables as Parquet, for repeated reports on one export.

Parsing text is most of what a report costs. Written once as typed Parquet, with
each table's name in its ``Type`` column, an export reads back many times faster,
and every command accepts the folder like any other export.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from acsmail.schema import ENGAGEMENT, SEND, STATUS

if TYPE_CHECKING:
    from pathlib import Path

    from acsmail.normalise import Tables

__all__ = ["conversion_plans"]


def conversion_plans(tables: Tables, directory: Path) -> list[pl.LazyFrame]:
    """Lazy sinks that write each table to ``directory/<table name>.parquet``.

    Parameters
    ----------
    tables
        The normalised tables; rejected records are not written.
    directory
        An existing folder.

    Returns
    -------
    list of LazyFrame
        One sink per table, to be collected together.
    """
    plans = []
    for table, lf in (
        (SEND, tables.send),
        (STATUS, tables.status),
        (ENGAGEMENT, tables.engagement),
    ):
        data = lf.select(*table.schema, pl.lit(table.name).alias("Type"))
        plans.append(data.sink_parquet(directory / f"{table.name}.parquet", lazy=True))
    return plans
