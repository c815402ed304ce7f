"""Reports on exports larger than memory.

A report holds the typed tables of an export in memory: about a gigabyte per
million messages. Past a size of input (``ACSMAIL_SPILL_BYTES``), it keeps
them on disk instead. Each part of the files is read and typed as usual, and
its tables are written out in shares by message: the message id, case folded,
decides the share, so every record of a message, and every spelling of its id
that a join matches, lands in the same one. The deliveries are then built one
share at a time and written out too, and the sections are computed from those
files one by one. Every figure the deliveries give is a sum over messages, so
the shares add up to what a run in memory reports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import polars as pl

from acsmail.deliveries import build_deliveries
from acsmail.normalise import (
    UNCLASSIFIED_SCHEMA,
    Tables,
    absent_columns,
    each_part,
    filled,
    heavy,
    normalise,
    still_absent,
)
from acsmail.readers import ENGINE, REJECTS_SCHEMA
from acsmail.readers._limits import spill_bytes
from acsmail.report import (
    Basis,
    absent_section,
    deliveries_figures,
    inputs_per_file,
    rejected_section,
)
from acsmail.schema import ENGAGEMENT, SEND, STATUS

if TYPE_CHECKING:
    from pathlib import Path

    from acsmail.deliveries import Options
    from acsmail.readers import Inputs
    from acsmail.redact import Redactor

__all__ = ["SHARES", "needs_spill", "spilled_basis"]

#: How many shares the messages are split into: each share's tables and
#: deliveries are what memory holds at one time.
SHARES: Final = 16
_TABLES: Final = ("send", "status", "engagement")
#: The table key of each of them.
_KEYS: Final = {"send": SEND.key, "status": STATUS.key, "engagement": ENGAGEMENT.key}
_SHARE: Final = "_share"


def needs_spill(inputs: Inputs) -> bool:
    """Whether the files are too large for their tables to stay in memory."""
    return inputs.weight() > spill_bytes()


def _share(shares: int) -> pl.Expr:
    key = pl.col("CorrelationId").str.to_lowercase().hash()
    return (key % shares).alias(_SHARE)


def _scan(paths: list[Path], schema: pl.Schema | None = None) -> pl.LazyFrame:
    """The spilled files as one frame; with no file, an empty frame of ``schema``."""
    if not paths and schema is not None:
        return pl.LazyFrame(schema=schema)
    return pl.scan_parquet(paths, glob=False, hive_partitioning=False)


def spilled_basis(
    inputs: Inputs,
    folder: Path,
    options: Options,
    redactor: Redactor | None = None,
    shares: int = SHARES,
) -> tuple[Basis, pl.DataFrame]:
    """Build the report's basis with the tables and deliveries on disk.

    Parameters
    ----------
    inputs
        The prepared files.
    folder
        An empty folder for the spilled files; the basis reads from it, so it
        must outlive the sections computed from the basis.
    options
        How to build the deliveries (pending messages included).
    redactor
        Pseudonymises each part's tables before they are written, if given.
    shares
        How many shares to split the messages into.

    Returns
    -------
    tuple
        The basis, and every record left out of the tables (file, line,
        reason, record): see ``Tables.left_out``.
    """
    files, rejected, unclassified = [], [], []
    schemas: dict[str, pl.Schema] = {}
    written: dict[tuple[str, int], list[Path]] = {}
    carried: dict[str, set[str]] = {}

    def read(part: Inputs) -> Tables:
        tables = normalise(part)
        if redactor is not None:
            tables = redactor.tables(tables)
        return tables.collected()

    parts = inputs.parts()
    for number, (part, tables) in enumerate(
        zip(parts, each_part(parts, read, alone=heavy), strict=True)
    ):
        files.append(inputs_per_file(part, tables).collect(engine=ENGINE))
        rejected.append(tables.rejected.collect())
        unclassified.append(tables.unclassified.collect())
        for name in _TABLES:
            frame = getattr(tables, name).collect()
            schemas.setdefault(name, frame.schema)
            carried.setdefault(_KEYS[name], set()).update(filled([frame]))
            pieces = frame.with_columns(_share(shares)).partition_by(
                _SHARE, as_dict=True, include_key=False
            )
            for (share,), piece in pieces.items():
                path = folder / f"{name}-{share}-{number}.parquet"
                piece.write_parquet(path)
                written.setdefault((name, int(share)), []).append(path)

    absent = still_absent(absent_columns(inputs), carried)
    by_message = inputs.by_message
    none_rejected = pl.LazyFrame(schema=REJECTS_SCHEMA)
    none_unclassified = pl.LazyFrame(schema=UNCLASSIFIED_SCHEMA)

    def table(name: str, share: int) -> pl.LazyFrame:
        return _scan(written.get((name, share), []), schemas[name])

    outputs: dict[str, list[Path]] = {"rows": [], "delivered": []}
    counts = []
    for share in range(shares):
        share_tables = Tables(
            send=table("send", share),
            status=table("status", share),
            engagement=table("engagement", share),
            rejected=none_rejected,
            unclassified=none_unclassified,
            absent=absent,
            by_message=by_message,
        ).collected()
        deliveries = build_deliveries(share_tables, options).collected()
        rows, delivered, share_counts = pl.collect_all(
            deliveries_figures(share_tables, deliveries), engine=ENGINE
        )
        for name, frame in (("rows", rows), ("delivered", delivered)):
            path = folder / f"{name}-{share}.parquet"
            frame.write_parquet(path)
            outputs[name].append(path)
        counts.append(share_counts)

    every_rejected = pl.concat(rejected)
    every_unclassified = pl.concat(unclassified)
    total = (
        pl.concat(counts)
        .sum()
        .with_columns(
            pl.lit(every_rejected.height, pl.Int64).alias("rejected"),
            pl.lit(every_unclassified.height, pl.Int64).alias("unclassified"),
        )
    )
    whole = Tables(
        send=_whole(written, "send", schemas),
        status=_whole(written, "status", schemas),
        engagement=_whole(written, "engagement", schemas),
        rejected=every_rejected.lazy(),
        unclassified=every_unclassified.lazy(),
        absent=absent,
        by_message=by_message,
    )
    basis = Basis(
        rows=_scan(outputs["rows"]),
        delivered=_scan(outputs["delivered"]),
        counts=total.lazy(),
        inputs=pl.concat(files).lazy(),
        absent=absent_section(whole),
        rejected=rejected_section(every_rejected.lazy()),
    )
    return basis, whole.left_out().collect()


def _whole(
    written: dict[tuple[str, int], list[Path]],
    name: str,
    schemas: dict[str, pl.Schema],
) -> pl.LazyFrame:
    paths = [
        path for (table, _), found in written.items() if table == name for path in found
    ]
    return _scan(paths, schemas[name])
