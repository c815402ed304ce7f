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
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import polars as pl

from acsmail.readers.detect import SKIPPED_NAMES, named_paths
from acsmail.report import Basis
from acsmail.schema import BY_MESSAGE, ENGAGEMENT, SEND, STATUS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from acsmail.normalise import Tables

__all__ = [
    "BASIS_FOLDER",
    "Saved",
    "check_target",
    "conversion_plans",
    "discard_tables",
    "publish_tables",
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
    """Lazy sinks that write each table beside where ``publish_tables`` puts it.

    The tables are written under hidden names first, so that a run that fails
    (``--strict``, a damaged file) leaves an earlier conversion as it was.

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
    # Records of files without a resource column have none in the tables
    # either; the mark lets a later read match them as this one did.
    metadata = {BY_MESSAGE: "true"} if tables.by_message else None
    plans = []
    for table, lf in zip(
        _TABLES, (tables.send, tables.status, tables.engagement), strict=True
    ):
        data = lf.select(*table.schema, pl.lit(table.name).alias("Type"))
        path = _partial(directory, table.name)
        plans.append(data.sink_parquet(path, metadata=metadata, lazy=True))
    return plans


def _partial(directory: Path, name: str) -> Path:
    return directory / f".{name}.parquet.partial"


def check_target(directory: Path, inputs: Sequence[str]) -> str | None:
    """Why ``convert`` should not write into ``directory``, or None.

    It writes into an empty or new folder, or over its own earlier output;
    never into a folder it reads, where the next read would take its tables
    as input too, nor over a folder that holds an input.
    """
    target = directory.resolve()
    for given, folder in named_paths(inputs):
        if folder in (target, *target.parents) and folder.is_dir():
            return (
                f"the output folder {directory} is inside the input folder "
                f"{given}: reading that folder again would read the tables too"
            )
        if folder.is_relative_to(target):
            return (
                f"the input {given} is inside the output folder {directory}, "
                "whose tables convert replaces"
            )
    if not directory.is_dir():
        return None
    ours = {f"{table.name}.parquet" for table in _TABLES}
    others = sorted(
        entry.name
        for entry in directory.iterdir()
        if not entry.name.startswith(".")
        and entry.name not in ours
        and entry.name not in SKIPPED_NAMES
    )
    if others:
        named = ", ".join(others[:3]) + (", …" if len(others) > 3 else "")
        return (
            f"the output folder {directory} holds other files ({named}); "
            "convert writes into an empty folder or over its own earlier output"
        )
    return None


def publish_tables(directory: Path) -> None:
    """Put the tables of a finished conversion under their names."""
    # The old report basis describes the old tables: it goes first.
    (directory / BASIS_FOLDER / _MANIFEST).unlink(missing_ok=True)
    for table in _TABLES:
        _partial(directory, table.name).replace(directory / f"{table.name}.parquet")


def discard_tables(directory: Path) -> None:
    """Remove what a failed conversion wrote."""
    for table in _TABLES:
        _partial(directory, table.name).unlink(missing_ok=True)


def _stamps(directory: Path) -> dict[str, list[int]]:
    """Size and modification time of every file an export read or report sees.

    That is every file of the folder that the walk over inputs reads, and
    every file of the saved basis but its manifest.
    """
    stamps = {}
    for root, folders, names in os.walk(directory):
        here = Path(root)
        folders[:] = [
            name
            for name in folders
            if not name.startswith(".") or (here == directory and name == BASIS_FOLDER)
        ]
        for name in names:
            in_basis = here == directory / BASIS_FOLDER
            if name == _MANIFEST and in_basis:
                continue
            if not in_basis and (name.startswith(".") or name in SKIPPED_NAMES):
                continue
            path = here / name
            try:
                stat = path.stat()
            except OSError:
                continue
            stamps[path.relative_to(directory).as_posix()] = [
                stat.st_size,
                stat.st_mtime_ns,
            ]
    return stamps


def save_basis(
    frames: dict[str, pl.DataFrame],
    sections: dict[str, pl.DataFrame],
    directory: Path,
    warnings: Sequence[str] = (),
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
    warnings
        What reading the export warned of, to be told again by each report.
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
        "files": _stamps(directory),
        "sections": list(sections),
        "warnings": list(warnings),
    }
    (folder / _MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


@dataclass(frozen=True)
class Saved:
    """What convert saved for reports.

    That is the basis, the unfiltered sections, and what reading the export
    warned of.
    """

    basis: Basis
    sections: dict[str, pl.LazyFrame]
    warnings: tuple[str, ...]


def _texts(value: object) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


def saved_report(paths: Sequence[str]) -> tuple[Saved | None, str | None]:
    """What convert saved for reports, if a converted export is the only input.

    Returns
    -------
    tuple
        The saved basis and sections, or None when there are none to use; and
        a warning when they are there but cannot be used.
    """
    if len(paths) != 1:
        return None, None
    directory = Path(paths[0])
    folder = directory / BASIS_FOLDER
    try:
        text = (folder / _MANIFEST).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None, None
    try:
        manifest = json.loads(text)
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("layout") != _LAYOUT:
        return None, f"{paths[0]}: the saved report is unreadable; reading the tables"
    sections, warnings = (
        _texts(manifest.get("sections")),
        _texts(manifest.get("warnings")),
    )
    if sections is None or warnings is None:
        return None, f"{paths[0]}: the saved report is unreadable; reading the tables"
    if manifest.get("files") != _stamps(directory):
        warning = (
            f"{paths[0]}: files in the folder were added, changed or copied "
            "without their times since convert saved its report, so it is not "
            "used; run convert again to save a new one"
        )
        return None, warning
    frames = {name: folder / f"{name}.parquet" for name in Basis.names()}
    basis = Basis(**{name: _scan(path) for name, path in frames.items()})
    shown = {name: _scan(folder / f"{_SECTION}{name}.parquet") for name in sections}
    return Saved(basis, shown, tuple(warnings)), None


def _scan(path: Path) -> pl.LazyFrame:
    return pl.scan_parquet(path, glob=False, hive_partitioning=False)
