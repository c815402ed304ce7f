"""Save the canonical tables as Parquet, for repeated reports on one export.

Parsing text is most of what a report costs. Written once as typed Parquet, with
each table's name in its ``Type`` column, an export reads back many times faster,
and every command accepts the folder like any other export.

Beside the tables, in a hidden ``.acsmail`` folder that no command reads as an
export, ``convert`` also saves what a report is computed from (``Basis``: the
deliveries and a few figures of the tables) and the sections of the report on
the whole export, with the size and modification time of each table file. A
report on that folder alone, while its tables are unchanged, prints the saved
sections, or with filters computes them from the saved basis, instead of
building the deliveries again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import polars as pl

from acsmail.report import Basis
from acsmail.schema import ENGAGEMENT, SEND, STATUS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from acsmail.normalise import Tables

__all__ = [
    "BASIS_FOLDER",
    "Saved",
    "conversion_plans",
    "forget_basis",
    "save_basis",
    "saved_report",
]

#: The hidden folder, inside a converted export, that holds the report basis.
BASIS_FOLDER: Final = ".acsmail"
_MANIFEST: Final = "basis.json"
_SECTION: Final = "section-"
#: Raised whenever what the basis holds, or how a section is computed,
#: changes, so that what an older version saved is not used.
_LAYOUT: Final = 1
_TABLES: Final = (SEND, STATUS, ENGAGEMENT)


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
    for table, lf in zip(
        _TABLES, (tables.send, tables.status, tables.engagement), strict=True
    ):
        data = lf.select(*table.schema, pl.lit(table.name).alias("Type"))
        plans.append(data.sink_parquet(directory / f"{table.name}.parquet", lazy=True))
    return plans


def _stamps(directory: Path) -> dict[str, list[int]] | None:
    """Size and modification time of each table file, if all of them exist."""
    stamps = {}
    for table in _TABLES:
        try:
            stat = (directory / f"{table.name}.parquet").stat()
        except OSError:
            return None
        stamps[table.name] = [stat.st_size, stat.st_mtime_ns]
    return stamps


def forget_basis(directory: Path) -> None:
    """Remove a saved basis's manifest, before the tables it describes change."""
    (directory / BASIS_FOLDER / _MANIFEST).unlink(missing_ok=True)


def save_basis(
    frames: dict[str, pl.DataFrame],
    sections: dict[str, pl.DataFrame],
    directory: Path,
) -> None:
    """Save a report basis beside the tables just written to ``directory``.

    Parameters
    ----------
    frames
        The collected frames of a ``Basis``, by the names of ``Basis.frames``.
    sections
        The sections of the report on the whole export, with no filter.
    directory
        The folder the tables were written to.
    """
    folder = directory / BASIS_FOLDER
    folder.mkdir(exist_ok=True)
    for name, frame in frames.items():
        frame.write_parquet(folder / f"{name}.parquet")
    for name, frame in sections.items():
        frame.write_parquet(folder / f"{_SECTION}{name}.parquet")
    # The manifest comes last: without it, a half-written basis is not used.
    manifest = {
        "layout": _LAYOUT,
        "tables": _stamps(directory),
        "sections": list(sections),
    }
    (folder / _MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


@dataclass(frozen=True)
class Saved:
    """What convert saved for reports: the basis, and the unfiltered sections."""

    basis: Basis
    sections: dict[str, pl.LazyFrame]


def saved_report(paths: Sequence[str]) -> tuple[Saved | None, str | None]:
    """What convert saved for reports, if a converted export is the only input.

    Returns
    -------
    tuple
        The saved basis and sections, or None when there are none to use; and
        a warning when they are there but out of date.
    """
    if len(paths) != 1:
        return None, None
    directory = Path(paths[0])
    folder = directory / BASIS_FOLDER
    try:
        manifest = json.loads((folder / _MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, None
    current = isinstance(manifest, dict) and manifest.get("layout") == _LAYOUT
    if not current or manifest.get("tables") != _stamps(directory):
        warning = (
            f"{paths[0]}: the tables changed since convert saved its report "
            "basis, so it is not used; run convert again to save a new one"
        )
        return None, warning
    frames = {name: folder / f"{name}.parquet" for name in Basis.__dataclass_fields__}
    sections = {
        str(name): folder / f"{_SECTION}{name}.parquet"
        for name in manifest.get("sections", ())
    }
    if not all(path.is_file() for path in [*frames.values(), *sections.values()]):
        warning = f"{paths[0]}: part of the saved report basis is missing; not used"
        return None, warning
    return Saved(
        Basis(**{name: _scan(path) for name, path in frames.items()}),
        {name: _scan(path) for name, path in sections.items()},
    ), None


def _scan(path: Path) -> pl.LazyFrame:
    return pl.scan_parquet(path, glob=False, hive_partitioning=False)
