"""How JSON records spell their fields, flat or with a ``properties`` object.

Data-export rows are flat, under Log Analytics names (``TimeGenerated``,
``_ResourceId``). Resource-log records put the common fields at the top in
camelCase (``time``, ``resourceId``) and the table's own fields inside
``properties`` in PascalCase, with ``OperationType`` and ``OperationCategory``
standing for the operation name and category. A ``Shape`` knows the spellings
a file uses and turns either kind of record into canonical columns; when a
field is spelt at the top and inside ``properties``, the top wins, as in the
Log Analytics mapping.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from acsmail.readers._source import canonical_name, failing_when
from acsmail.schema import SIGNAL_COLUMNS, SOURCE_LINE, TABLES, table_named

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ["PROPERTIES", "Shape", "text_of"]

PROPERTIES: Final = "properties"
#: Canonical spellings, always read: a field missing from the first records
#: may still be set further down.
_BASE_NAMES: Final = tuple(
    dict.fromkeys(
        [*(name for table in TABLES for name in table.schema), *SIGNAL_COLUMNS]
    )
)


def text_of(value: Any) -> str | None:
    """Render one JSON value as the text the az CLI would have written."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


@dataclass(frozen=True)
class Shape:
    """The field spellings of one file's records.

    Parameters
    ----------
    top
        Top-level keys read, each mapping to a canonical column.
    nested
        Keys read inside ``properties``.
    seen
        Canonical names of the keys the sampled records actually carry.
    table_type
        For a shape narrowed to one table (``narrowed``): the ``Type`` every
        record must carry, else the scan fails.
    """

    top: tuple[str, ...]
    nested: tuple[str, ...]
    seen: frozenset[str]
    table_type: str | None = None

    @classmethod
    def of(cls, records: Iterable[dict[str, Any]]) -> Shape:
        """Learn the spellings from a sample of records."""
        keys = tuple(
            (
                tuple(record),
                tuple(p) if isinstance(p := record.get(PROPERTIES), dict) else (),
            )
            for record in records
        )
        return _shape_of_keys(keys)

    @property
    def key(self) -> tuple[object, ...]:
        """What two files must share to be scanned as one."""
        return (self.top, self.nested, self.table_type)

    def narrowed(self, records: Sequence[dict[str, Any]]) -> Shape | None:
        """The shape cut down to one table's fields, when the sample names one.

        Every field a scan reads costs a look-up in every record, found or
        not, and a data export repeats one table's keys on every line: a
        status record has no use for a send's nine counts. When each sampled
        record is flat and carries the same ``Type``, which names a table,
        the narrowed shape reads that table's fields and what the sample
        carries. Its scan fails on any record with another ``Type`` (such a
        record could fill fields it does not read), and the file is then
        scanned with the whole shape.
        """
        if not self.flat or not records:
            return None
        types = {self.first_value(record, "Type") for record in records}
        if len(types) != 1:
            return None
        (kind,) = types
        if kind is None or kind != kind.strip():
            return None
        table = table_named(kind)
        if table is None:
            return None
        return _narrowed(self, kind, frozenset(table.schema))

    @cached_property
    def canonical(self) -> list[str]:
        """The canonical columns this shape produces, in a stable order."""
        names = [canonical_name(name) for name in (*self.top, *self.nested)]
        return list(dict.fromkeys(name for name in names if name is not None))

    def struct(self) -> pl.Struct:
        """The Polars type of one record, as ``scan_ndjson`` should read it."""
        return pl.Struct(self.schema())

    @property
    def flat(self) -> bool:
        """Whether the sampled records keep every field at the top level."""
        return not self.nested

    def schema(self) -> dict[str, pl.DataType]:
        """Top-level keys and their types; every value is read as text.

        Flat records read ``properties`` as plain text: parsing it as an
        object of every canonical field, null on every record, would cost more
        than the rest of the record, and only its presence matters (see
        ``flatten``).
        """
        schema: dict[str, pl.DataType] = dict.fromkeys(self.top, pl.String())
        schema[PROPERTIES] = (
            pl.String()
            if self.flat
            else pl.Struct(dict.fromkeys(self.nested, pl.String()))
        )
        return schema

    def flatten(self, lf: pl.LazyFrame, *keep: str) -> pl.LazyFrame:
        """Canonical text columns of scanned records, plus the ``keep`` columns."""
        sources: dict[str, list[pl.Expr]] = {}
        for name in self.top:
            sources.setdefault(_canonical(name), []).append(pl.col(name))
        for name in self.nested:
            field = pl.col(PROPERTIES).struct.field(name)
            sources.setdefault(_canonical(name), []).append(field)
        # A coalesce of one column is no copy, yet in a scan's plan it costs
        # about a tenth of the parse; most columns have one spelling.
        columns = {
            name: exprs[0] if len(exprs) == 1 else pl.coalesce(exprs)
            for name, exprs in sources.items()
        }
        kept = [
            _failing_when_other(pl.col(name), self._wrong_type(columns))
            if self.flat and name == SOURCE_LINE
            else pl.col(name)
            for name in keep
        ]
        return lf.select(*(expr.alias(name) for name, expr in columns.items()), *kept)

    @property
    def table_key(self) -> str | None:
        """The key of the table a narrowed shape is cut down to."""
        table = table_named(self.table_type) if self.table_type else None
        return table.key if table is not None else None

    def _wrong_type(self, columns: dict[str, pl.Expr]) -> pl.Expr | None:
        """For a narrowed shape: true for a record of another ``Type``."""
        if self.table_type is None:
            return None
        return (columns["Type"] != self.table_type).fill_null(True)

    def first_value(self, record: dict[str, Any], canonical: str) -> str | None:
        """One canonical field of a decoded record, as ``flatten`` reads it."""
        top, nested = self._spellings.get(canonical, ((), ()))
        for name in top:
            if record.get(name) is not None:
                return text_of(record[name])
        properties = record.get(PROPERTIES)
        if isinstance(properties, dict):
            for name in nested:
                if properties.get(name) is not None:
                    return text_of(properties[name])
        return None

    @cached_property
    def _spellings(self) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
        """Each canonical column's spellings at the top and in ``properties``."""
        return {
            name: (
                tuple(n for n in self.top if canonical_name(n) == name),
                tuple(n for n in self.nested if canonical_name(n) == name),
            )
            for name in self.canonical
        }

    def flat_record(self, record: dict[str, Any]) -> dict[str, str | None]:
        """One decoded record as canonical text fields, as ``flatten`` reads it."""
        flat: dict[str, str | None] = {}
        properties = record.get(PROPERTIES)
        if isinstance(properties, dict):
            _merge(flat, properties)
        _merge(flat, {k: v for k, v in record.items() if k != PROPERTIES})
        return flat

    def frame(self, records: Sequence[dict[str, str | None]]) -> pl.DataFrame:
        """Flat records as a text frame with every canonical column."""
        names = self.canonical
        return pl.DataFrame(
            [{name: row.get(name) for name in names} for row in records],
            schema=dict.fromkeys(names, pl.String),
        )


@lru_cache(maxsize=256)
def _shape_of_keys(keys: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]) -> Shape:
    top = dict.fromkeys(str(k) for row, _ in keys for k in row if k != PROPERTIES)
    nested = dict.fromkeys(str(k) for _, row in keys for k in row)
    flat = not any(PROPERTIES in row for row, _ in keys)
    return _shape_of(tuple(top), tuple(nested), flat=flat)


@lru_cache(maxsize=256)
def _shape_of(top: tuple[str, ...], nested: tuple[str, ...], *, flat: bool) -> Shape:
    # The blobs of one tree share their keys: one shape serves them all.
    seen = {canonical_name(key) for key in (*top, *nested)}
    # Sorted, so that files whose first records happen to list different
    # keys still share one shape and one scan.
    return Shape(
        top=tuple(sorted(_mapped([*top, *_BASE_NAMES]))),
        nested=() if flat else tuple(sorted(_mapped([*nested, *_BASE_NAMES]))),
        seen=frozenset(name for name in seen if name is not None),
    )


@lru_cache(maxsize=256)
def _narrowed(shape: Shape, kind: str, columns: frozenset[str]) -> Shape:
    # Every record's Type names the table, which no weaker signal overrules:
    # the category and TableName are not read.
    wanted = (columns | shape.seen | {"Type"}) - {"Category", "TableName"}
    top = tuple(name for name in shape.top if _canonical(name) in wanted)
    return Shape(top=top, nested=(), seen=shape.seen, table_type=kind)


def _failing_when_other(line: pl.Expr, wrong_type: pl.Expr | None) -> pl.Expr:
    """The line numbers, or a failed scan if a record does not fit the shape.

    A file whose first records are flat is scanned without reading inside
    ``properties``. Should a later record put its fields there, the scan must
    not lose them quietly: it fails on that record, and the file is read
    record by record instead, which understands both spellings. A narrowed
    shape (``Shape.narrowed``) fails likewise on a record of another
    ``Type``, and the file is scanned again with every field.
    """
    odd = pl.col(PROPERTIES).is_not_null()
    if wrong_type is not None:
        odd = odd | wrong_type
    return failing_when(line, odd)


def _canonical(name: str) -> str:
    canonical = canonical_name(name)
    if canonical is None:  # _mapped keeps only names that map
        msg = f"{name!r} maps to no canonical column"
        raise ValueError(msg)
    return canonical


def _mapped(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for name in names if canonical_name(name)))


def _merge(flat: dict[str, str | None], fields: dict[str, Any]) -> None:
    """Set the canonical fields of ``fields`` over ``flat``, nulls aside."""
    for key, value in fields.items():
        name = canonical_name(str(key))
        if name is None:
            continue
        text = text_of(value)
        if text is not None or name not in flat:
            flat[name] = text
