"""Sort each record into its table and cast it to that table's canonical schema.

A record's table is decided per record, from the strongest signal it carries: a
``Type``/``TableName`` value naming the table, then its category, its operation
name, the export folder it was found in, and last which fields it fills. A value
that does not cast (a size of ``abc``) rejects the record with a reason, never
the run.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeVar

import polars as pl

from acsmail.exprs import per_distinct
from acsmail.readers import ENGINE, PART_BYTES
from acsmail.readers._source import HINT, REJECT, REJECTS_SCHEMA
from acsmail.schema import (
    DELIVERY_STATUSES,
    ENGAGEMENT,
    ENGAGEMENT_TYPES,
    SEND,
    SIGNAL_COLUMNS,
    SOURCE_FILE,
    SOURCE_LINE,
    STATUS,
    TABLES,
    TIME,
    Table,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from acsmail.readers import Inputs

_P = TypeVar("_P")
_T = TypeVar("_T")

__all__ = [
    "NO_TABLE",
    "TABLE",
    "UNCLASSIFIED_SCHEMA",
    "Tables",
    "absent_columns",
    "each_part",
    "filled",
    "heavy",
    "normalise",
    "read_tables",
    "still_absent",
]

TABLE: Final = "_table"

_NAMES_OF_TABLES: Final = {
    name.lower(): table.key
    for table in TABLES
    for name in (table.name, table.category, *table.operations)
}
#: Where a 64-bit float stops holding every whole number: from it on, the
#: text of a count may have been rounded in the reading, so it is no count.
_LARGEST_COUNT: Final = 2**53
#: Parts read at once. Some steps of a part's read keep one core busy and
#: leave the other idle; a second part in flight fills it, for the memory of
#: one more part's raw text.
_PARTS_AT_ONCE: Final = 2
_NO_MESSAGE_ID: Final = "CorrelationId: missing (the record names no message)"
_NO_TIME: Final = "TimeGenerated: missing (the record has no time)"
#: Why a record that matches no table is left out, where records are listed.
NO_TABLE: Final = (
    "matches no table: its Type or category names another table, or none of "
    "them, its TableName, operation name or export folder names one, and it "
    "fills no field that only one table has"
)
#: A table signal that names no email table: the record is of another one.
_ANOTHER_TABLE: Final = "_another"
#: The signal columns that hold nothing but a table's name or category.
_TABLE_NAMES: Final = ("Type", "Category")
#: File and line of each record that matches no table.
UNCLASSIFIED_SCHEMA: Final = {"file": pl.String(), "line": pl.Int64()}
_TRUE: Final = ("true", "1", "yes")
_FALSE: Final = ("false", "0", "no")


@dataclass
class Tables:
    """The canonical tables of one run, and what did not make it into them.

    ``rejected`` has columns file, line, reason, record; ``unclassified`` has
    file and line of records that belong to no table. ``by_message`` is set
    when records match their messages by message id alone
    (``Inputs.by_message``).
    """

    send: pl.LazyFrame
    status: pl.LazyFrame
    engagement: pl.LazyFrame
    rejected: pl.LazyFrame
    unclassified: pl.LazyFrame
    absent: dict[str, tuple[str, ...]]
    by_message: bool = False

    def collected(self) -> Tables:
        """The same tables read into memory, for plans that use them many times.

        A report computes a score of figures from one set of tables; collected
        once, the files are parsed once and every figure starts from memory.
        """
        frames = pl.collect_all(
            [
                self.send,
                self.status,
                self.engagement,
                self.rejected,
                self.unclassified,
            ],
            engine=ENGINE,
        )
        send, status, engagement, rejected, unclassified = (
            frame.lazy() for frame in frames
        )
        return Tables(
            send,
            status,
            engagement,
            rejected,
            unclassified,
            self.absent,
            self.by_message,
        )

    def left_out(self) -> pl.LazyFrame:
        """Every record kept out of the tables: file, line, reason, record.

        These are the rejected records and those that match no table (with
        ``NO_TABLE`` as their reason), as the rejects file lists them.
        """
        unplaced = self.unclassified.select(
            "file",
            "line",
            pl.lit(NO_TABLE).alias("reason"),
            pl.lit(None, pl.String).alias("record"),
        )
        return pl.concat([self.rejected, unplaced])


def _signal(column: str, *, names_a_table: bool) -> pl.Expr:
    """The table a column's value names, where it names one of ours.

    In a column whose values are always table names (``names_a_table``:
    ``Type``, ``Category``), a value that names none of ours (an SMS or chat
    table of the same workspace) marks its record as another table's. Other
    values are no such sign, and the weaker signals then decide: an
    operation name unknown to acsmail, or the ``TableName`` of an az CLI
    export, which names the query's result (``PrimaryResult``), not a table.
    """
    # A missing value names nothing, not another table.
    names = pl.Series([*_NAMES_OF_TABLES, None], dtype=pl.String)
    tables = pl.Series([*_NAMES_OF_TABLES.values(), None], dtype=pl.String)
    other = _ANOTHER_TABLE if names_a_table else None
    return per_distinct(
        column,
        lambda value: (
            value.str.strip_chars()
            .str.to_lowercase()
            .replace_strict(names, tables, default=other, return_dtype=pl.String)
        ),
        pl.String(),
    )


def _blank_as_null(column: str) -> pl.Expr:
    """The column with its empty and whitespace-only values made null.

    Only a value that starts with whitespace can be blank, and whitespace
    sorts low among ASCII characters (below ``!``) or among the others
    (from U+0085, the first one past ASCII), so two comparisons against
    the start of each value find the few to look at. Stripping every value
    would copy every text of the table once more.
    """
    value = pl.col(column)
    maybe = (value < "!") | (value >= "\u0085")
    rest = pl.when(maybe).then(value).str.strip_chars_start()
    return pl.when(rest.str.len_bytes() == 0).then(None).otherwise(value).alias(column)


def _by_content() -> pl.Expr:
    """Guess a record's table from the fields only that table fills."""
    return (
        pl.when(pl.col("EngagementType").is_not_null())
        .then(pl.lit(ENGAGEMENT.key))
        .when(
            pl.col("DeliveryStatus").is_not_null() | pl.col("RecipientId").is_not_null()
        )
        .then(pl.lit(STATUS.key))
        .when(
            pl.col("Size").is_not_null() | pl.col("UniqueRecipientsCount").is_not_null()
        )
        .then(pl.lit(SEND.key))
    )


def _table_of_record() -> pl.Expr:
    signals = [
        _signal(column, names_a_table=column in _TABLE_NAMES)
        for column in (*SIGNAL_COLUMNS, "OperationName")
    ]
    table = pl.coalesce(*signals, pl.col(HINT), _by_content())
    return table.replace(_ANOTHER_TABLE, None).alias(TABLE)


def _table_of_records(inputs: Inputs) -> pl.Expr:
    """Each record's table; known beforehand when every file's scan checks it.

    A narrowed scan (``Source.table``) fails on any record of another table,
    so while every file is scanned that way, and for one table, there is
    nothing to look up.
    """
    known = {source.table for source in inputs.sources}
    if len(known) == 1 and None not in known:
        return pl.lit(known.pop(), pl.String).alias(TABLE)
    return _table_of_record()


def _canonical_spelling(column: str, spellings: tuple[str, ...]) -> pl.Expr:
    """A known value in its canonical spelling, whatever its case and padding."""
    lookup = {spelling.lower(): spelling for spelling in spellings}

    def spelt(value: pl.Expr) -> pl.Expr:
        value = value.str.strip_chars()
        return value.str.to_lowercase().replace_strict(
            lookup, default=value, return_dtype=pl.String
        )

    return per_distinct(column, spelt, pl.String()).alias(column)


def _expected(dtype: pl.DataType) -> str | None:
    """What a text must be to cast to the type; None for columns kept as text."""
    if dtype == TIME or dtype == pl.String:
        return None
    if dtype == pl.Boolean:
        return "true or false"
    if dtype == pl.Int64:
        return f"a whole number from 0 to {_LARGEST_COUNT - 1}"
    return "a number of at least 0"


def _parsed(column: str, dtype: pl.DataType) -> pl.Expr:
    """The first step of a cast: the text read as a number, or folded."""
    if dtype == pl.Boolean:
        return per_distinct(
            column,
            lambda value: value.str.strip_chars().str.to_lowercase(),
            pl.String(),
        )
    return (
        pl.col(column)
        .str.strip_chars()
        .cast(pl.Float64 if dtype == pl.Int64 else dtype, strict=False)
    )


def _checked(parsed: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """The second step: the parsed value where it is one the column allows."""
    if dtype == pl.Boolean:
        return (
            pl.when(parsed.is_in(_TRUE))
            .then(True)
            .when(parsed.is_in(_FALSE))
            .then(False)
        )
    if dtype == pl.Int64:
        # Sizes and counts: whole, not negative, and below the float's limit
        # (a value past 64 bits would fail the cast of the whole column, not
        # one record).
        whole = (parsed == parsed.floor()) & parsed.is_between(
            0, _LARGEST_COUNT, closed="left"
        )
        return pl.when(whole).then(parsed).cast(pl.Int64)
    # A minus zero is zero: shown as "-0.0" it would look like a negative.
    return pl.when(parsed.is_finite() & (parsed >= 0)).then(parsed.abs())


def _text_of(column: str) -> str:
    return f"_text_{column}"


def _table_frame(records: pl.LazyFrame, table: Table) -> pl.LazyFrame:
    """The records of one table, cast, with a reason on each rejected record.

    Each cast runs in steps over columns of their own: the text is parsed
    once, the parsed value checked once, and the reason reads both. Written
    as one expression, Polars would parse the text again for every use.
    """
    cast = {
        column: dtype
        for column, dtype in table.schema.items()
        if _expected(dtype) is not None
    }
    lf = records.filter(pl.col(TABLE) == table.key).select(
        *(
            _parsed(column, cast[column]).alias(column)
            if column in cast
            else pl.col(column)
            for column in table.schema
        ),
        *(pl.col(column).alias(_text_of(column)) for column in cast),
        pl.col(REJECT),
        pl.col(SOURCE_FILE),
        pl.col(SOURCE_LINE),
    )
    lf = lf.with_columns(
        _checked(pl.col(column), dtype).alias(column) for column, dtype in cast.items()
    )
    reasons = [
        pl.when(pl.col(_text_of(column)).is_not_null() & pl.col(column).is_null()).then(
            pl.format(
                f"{column}: expected {_expected(dtype)}, got '{{}}'",
                pl.col(_text_of(column)),
            )
        )
        for column, dtype in cast.items()
    ]
    # Without its message id a record cannot be joined to its message; kept,
    # all such records would pass for one message. Without its time it can
    # be neither ordered among its message's records nor timed.
    reasons.append(
        pl.when(pl.col("CorrelationId").is_null()).then(pl.lit(_NO_MESSAGE_ID))
    )
    reasons.append(pl.when(pl.col("TimeGenerated").is_null()).then(pl.lit(_NO_TIME)))
    lf = lf.with_columns(pl.coalesce(pl.col(REJECT), *reasons).alias(REJECT)).drop(
        [_text_of(column) for column in cast]
    )
    if "DeliveryStatus" in table.schema:
        lf = lf.with_columns(_canonical_spelling("DeliveryStatus", DELIVERY_STATUSES))
    if "EngagementType" in table.schema:
        lf = lf.with_columns(_canonical_spelling("EngagementType", ENGAGEMENT_TYPES))
    # Padding from a spreadsheet (a space, a no-break space) would make a
    # second message, recipient or domain that prints the same.
    lf = lf.with_columns(
        pl.col(name).str.strip_chars()
        for name in ("CorrelationId", "RecipientId")
        if name in table.schema
    )
    # A few resources repeat on every record: as categories they are stored
    # once, and compare as fast as numbers in joins. Case and padding do not
    # make another resource.
    resource = per_distinct(
        "ResourceId",
        lambda value: value.str.strip_chars().str.to_lowercase(),
        pl.String(),
    )
    return lf.with_columns(resource.cast(pl.Categorical))


def absent_columns(inputs: Inputs) -> dict[str, tuple[str, ...]]:
    """Per table, the canonical columns that no file carries.

    A JSON file carries the keys of its first records (``Source.columns``);
    ``still_absent`` checks those against every record read.
    """
    return {
        table.key: tuple(c for c in table.schema if c not in inputs.columns)
        for table in TABLES
    }


def still_absent(
    absent: dict[str, tuple[str, ...]], filled: dict[str, set[str]]
) -> dict[str, tuple[str, ...]]:
    """The absent columns, less those some record of the table fills.

    JSON records carry only the keys they have values for, so a key missing
    from a file's first records may be set further down: a file that
    concatenates the tables holds no engagement record among its first.
    ``filled`` gives each table's columns that hold a value (``filled``).
    """
    return {
        key: tuple(c for c in columns if c not in filled.get(key, set()))
        for key, columns in absent.items()
    }


def filled(frames: Iterable[pl.DataFrame]) -> set[str]:
    """The columns that hold a value in some row of some frame."""
    return {
        name
        for frame in frames
        for name in frame.columns
        if frame[name].null_count() < frame.height
    }


def normalise(inputs: Inputs, records: pl.LazyFrame | None = None) -> Tables:
    """Split the records of a run into the three canonical tables.

    Parameters
    ----------
    inputs
        The prepared files.
    records
        Their records (``Inputs.records``), when they are read already.

    Returns
    -------
    Tables
        Lazy frames of the good records of each table, of the rejected
        records, and of the records that belong to no table.
    """
    columns = [name for table in TABLES for name in table.schema] + [*SIGNAL_COLUMNS]
    if records is None:
        records = inputs.records()
    present = set(records.collect_schema().names())
    blanks = [
        pl.lit(None, pl.String).alias(name)
        for name in dict.fromkeys(columns)
        if name not in present
    ]
    text = [
        _blank_as_null(name)
        for name in present
        if name in columns and name != "TimeGenerated"
    ]
    records = records.with_columns(*blanks).with_columns(*text)
    # Every table and count is built on these records; the cache makes Polars
    # read, parse and classify the files once for all of them.
    records = records.with_columns(_table_of_records(inputs)).cache()

    # Cached too: the good records and the rejected ones are two filters of
    # one cast.
    frames = {table.key: _table_frame(records, table).cache() for table in TABLES}
    good = {
        key: lf.filter(pl.col(REJECT).is_null()).drop(REJECT)
        for key, lf in frames.items()
    }
    rejected = pl.concat(
        [
            inputs.rejects(),
            *(
                lf.filter(pl.col(REJECT).is_not_null()).select(
                    pl.col(SOURCE_FILE).cast(pl.String).alias("file"),
                    pl.col(SOURCE_LINE).alias("line"),
                    pl.col(REJECT).alias("reason"),
                    pl.lit(None, pl.String).alias("record"),
                )
                for lf in frames.values()
            ),
        ]
    )
    unclassified = records.filter(pl.col(TABLE).is_null()).select(
        pl.col(SOURCE_FILE).cast(pl.String).alias("file"),
        pl.col(SOURCE_LINE).alias("line"),
    )
    # The records left out, shown by file and line, get the lines of the
    # files scanned by position; the rest of the run only orders records by
    # them, which a position does as well.
    rejected = rejected.map_batches(inputs.exact_lines, schema=REJECTS_SCHEMA)
    unclassified = unclassified.map_batches(
        inputs.exact_lines, schema=UNCLASSIFIED_SCHEMA
    )
    absent = absent_columns(inputs)
    return Tables(
        send=good[SEND.key],
        status=good[STATUS.key],
        engagement=good[ENGAGEMENT.key],
        rejected=rejected,
        unclassified=unclassified,
        absent=absent,
        by_message=inputs.by_message,
    )


def each_part(
    parts: Sequence[_P],
    read: Callable[[_P], _T],
    *,
    alone: Callable[[_P], bool] = lambda _: False,
) -> Iterator[_T]:
    """``read`` of every part, in order, with two parts in flight at a time.

    Polars lets go of the interpreter while it collects, so two threads keep
    both cores at work; the results still come one by one, in order. A part
    for which ``alone`` is true (one large file) is read with no other in
    flight, so that memory never holds two such parts' raw text.
    """
    with ThreadPoolExecutor(max_workers=_PARTS_AT_ONCE) as pool:
        pending: deque[tuple[Future[_T], bool]] = deque()
        for part in parts:
            solo = alone(part)
            while pending and (solo or pending[0][1] or len(pending) == _PARTS_AT_ONCE):
                yield pending.popleft()[0].result()
            pending.append((pool.submit(read, part), solo))
        while pending:
            yield pending.popleft()[0].result()


def heavy(part: Inputs, limit: int = PART_BYTES) -> bool:
    """Whether a part weighs more than the part size: a file past it, alone."""
    return part.weight() > limit


def _part_tables(part: Inputs) -> Tables:
    """The tables of one part, in memory.

    The in-memory engine parses a column of datetimes on one core. Where
    the times are locale text, whose general parser costs several times the
    quick ISO path, the streaming engine reads the records first, parsing
    them on every core.
    """
    if not part.general_times:
        return normalise(part).collected()
    records = part.records().collect(engine="streaming").rechunk()
    return normalise(part, records.lazy()).collected()


def read_tables(inputs: Inputs, part_bytes: int | None = None) -> Tables:
    """Normalise the files and read the tables into memory, part by part.

    The records of each part (see ``Inputs.parts``) are read, sorted and cast,
    and only their tables are kept, so memory holds the typed tables of the
    whole export but the raw text of only two parts at a time (``each_part``).

    Parameters
    ----------
    inputs
        The prepared files.
    part_bytes
        Input bytes per part, if not the default.

    Returns
    -------
    Tables
        The tables of every file, as lazy frames over memory.
    """
    limit = PART_BYTES if part_bytes is None else part_bytes
    pieces = list(
        each_part(
            inputs.parts(limit),
            _part_tables,
            alone=lambda part: heavy(part, limit),
        )
    )

    def kept(name: str) -> list[pl.DataFrame]:
        return [getattr(piece, name).collect() for piece in pieces]

    frames = {SEND.key: kept("send"), STATUS.key: kept("status")}
    frames[ENGAGEMENT.key] = kept("engagement")

    def joined(frames: list[pl.DataFrame]) -> pl.LazyFrame:
        return pl.concat(frames, rechunk=False).lazy()

    return Tables(
        send=joined(frames[SEND.key]),
        status=joined(frames[STATUS.key]),
        engagement=joined(frames[ENGAGEMENT.key]),
        rejected=joined(kept("rejected")),
        unclassified=joined(kept("unclassified")),
        absent=still_absent(
            absent_columns(inputs),
            {key: filled(table) for key, table in frames.items()},
        ),
        by_message=inputs.by_message,
    )
