"""The deliveries dataset: one row per recipient's final status (spec sections 3-4).

Two modes share every enrichment. ``kql_compatible`` reproduces the reference
query to the letter: an inner join of sends and final statuses on message and
resource, rows whose status predates the send dropped, nothing merged. The
default mode keeps what that query loses: exact duplicates are merged, repeated
sends keep the earliest, a status without its send and a skewed clock stay in
the dataset, each row saying in ``Completeness`` which case it is.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

import polars as pl

from acsmail import codes
from acsmail.exprs import per_distinct
from acsmail.readers import ENGINE
from acsmail.schema import (
    DELIVERIES_COLUMNS,
    DELIVERY_STATUSES,
    EXTRA_COLUMNS,
    SEND,
    SOURCE_FILE,
    SOURCE_LINE,
    STATUS,
    TERMINAL_STATUSES,
)

if TYPE_CHECKING:
    from acsmail.normalise import Tables

__all__ = [
    "COMPLETENESS",
    "NOT_APPLICABLE",
    "Deliveries",
    "Options",
    "build_deliveries",
    "dedupe",
    "unknown_statuses",
]

NOT_APPLICABLE: Final = "<not applicable>"
COMPLETENESS: Final = ("complete", "no-send-record", "no-final-status", "clock-skew")

# When two terminal statuses share the latest instant, the worse one wins, so a
# failure is never hidden behind a simultaneous success.
_TIE_RANK: Final = {
    "Bounced": 0,
    "Failed": 1,
    "Suppressed": 2,
    "Quarantined": 3,
    "FilteredSpam": 4,
    "Delivered": 5,
}
_SIZE_CATEGORIES: Final = (
    (0.1, "Tiny (<100KB)"),
    (1.0, "Small (100KB-1MB)"),
    (5.0, "Medium (1-5MB)"),
    (10.0, "Large (5-10MB)"),
)
_LARGEST: Final = "Very Large (>10MB)"
_PROVENANCE: Final = (SOURCE_FILE, SOURCE_LINE)
_HAS_SEND: Final = "_has_send"
_HAS_STATUS: Final = "_has_status"
_TIED: Final = "_tied"
_SIZE: Final = "_size"
_SHARED: Final = "_shared"
#: The field every copy of a record shares and that few other records do:
#: times are kept to the microsecond, so records at one instant are rare
#: but for copies. Looking for repeats of it alone is several times cheaper
#: than of message and recipient too, and lets only a few more records
#: through to the whole-record comparison.
_CHEAP_FIELD: Final = "TimeGenerated"
_ROW: Final = "_row"
_RANK: Final = "_rank"
_KEY: Final = "_key"

_STATUS_FIELDS: Final = {
    "TimeGenerated": "FinalStatusTime",
    "DeliveryStatus": "FinalDeliveryStatus",
    "SmtpStatusCode": "SmtpStatusCode",
    "EnhancedSmtpStatusCode": "EnhancedSmtpStatusCode",
    "SenderUsername": "SenderUsername",
    "SenderDomain": "SenderDomain",
    "FailureReason": "FailureReason",
    "FailureMessage": "FailureMessage",
    "IsHardBounce": "IsHardBounce",
    "RecipientMailServerHostName": "RecipientMailServerHostName",
    "InternetMessageId": "InternetMessageId",
}
_SEND_FIELDS: Final = {
    "TimeGenerated": "SendTime",
    "Size": "MessageSize",
    "AttachmentsCount": "AttachmentsCount",
    "ToRecipientsCount": "ToRecipientsCount",
    "CcRecipientsCount": "CcRecipientsCount",
    "BccRecipientsCount": "BccRecipientsCount",
    "UniqueRecipientsCount": "UniqueRecipientsCount",
}


@dataclass(frozen=True)
class Options:
    """How to build the dataset.

    Parameters
    ----------
    kql_compatible
        Reproduce the reference query exactly (spec section 3).
    include_pending
        Also list messages with no final status (default mode only).
    classify
        Explain codes and classify failures; off leaves those columns empty
        (for measuring what classification costs).
    ordered
        Sort the rows, newest send first, with resources as text. Figures
        computed from the rows need neither, and sorting a copy of every row
        costs time and memory.
    in_memory
        Collect each step that the rows and the counts share as it is built,
        for tables already in memory: it is then computed once, which a lazy
        cache does not promise across plans.
    """

    kql_compatible: bool = False
    include_pending: bool = False
    classify: bool = True
    ordered: bool = True
    in_memory: bool = False


@dataclass
class Deliveries:
    """The dataset and the counts that account for every status record.

    ``counts`` is one row with a column per count (``duplicate_sends``,
    ``pending_messages``, …), so a caller can collect it together with the
    rows; the reference query's mode has none. ``engagement`` is the
    engagement table with its duplicates merged, as the counts saw it.
    """

    rows: pl.LazyFrame
    counts: pl.LazyFrame | None = None
    engagement: pl.LazyFrame | None = None

    def collected(self) -> Deliveries:
        """The rows and counts read into memory, for plans that use them many times."""
        if self.counts is None:
            return Deliveries(self.rows.collect(engine=ENGINE).lazy())
        rows, counts = pl.collect_all([self.rows, self.counts], engine=ENGINE)
        return Deliveries(rows.lazy(), counts.lazy(), self.engagement)


def _merge_fields(lf: pl.LazyFrame) -> tuple[list[str], bool]:
    """The fields duplicates share (all but provenance); whether the cheap one is."""
    names = lf.collect_schema().names()
    subset = [name for name in names if name not in _PROVENANCE]
    return subset, _CHEAP_FIELD in names


def _repeated(column: str) -> pl.Expr:
    """Whether another record holds the same value in the column.

    Sorted, equal values sit side by side; sorting the column costs half
    what grouping every record by it does, and the values found twice are
    few.
    """
    ordered = pl.col(column).sort()
    twice = ordered.filter(ordered == ordered.shift(1)).unique()
    value = pl.col(column)
    both_missing = value.is_null() & (value.null_count() > 1)
    return value.is_in(twice.implode()).fill_null(False) | both_missing


def dedupe(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Merge records identical in every canonical field, wherever they came from.

    Only records that share their time with another record can be
    duplicates, and only those are compared field by field. The first of
    each set of duplicates is kept; the order of the records is not.
    """
    subset, cheap = _merge_fields(lf)
    if not cheap:
        return lf.unique(subset=subset, keep="first", maintain_order=True)
    marked = lf.with_columns(_repeated(_CHEAP_FIELD).alias(_SHARED)).cache()
    alone = marked.filter(~pl.col(_SHARED))
    shared = marked.filter(pl.col(_SHARED)).unique(
        subset=subset, keep="first", maintain_order=True
    )
    return pl.concat([alone, shared]).drop(_SHARED)


def _merged_in_memory(lf: pl.LazyFrame) -> pl.LazyFrame:
    """``dedupe`` of a table in memory, as a filter over it rather than a copy.

    A copy of every kept record would hold the table twice at the run's
    peak; which records are kept takes one bit each.
    """
    subset, cheap = _merge_fields(lf)
    if not cheap:
        return dedupe(lf).collect(engine=ENGINE).lazy()
    shared = lf.select(_repeated(_CHEAP_FIELD)).collect(engine=ENGINE).to_series()
    first = (
        lf.with_row_index(_ROW)
        .filter(pl.lit(shared))
        .unique(subset=subset, keep="first", maintain_order=True)
        .select(_ROW)
        .collect(engine=ENGINE)
        .to_series()
    )
    kept = (~shared).scatter(first, True)
    return lf.filter(pl.lit(kept))


def _count(lf: pl.LazyFrame, name: str) -> pl.LazyFrame:
    return lf.select(pl.len().cast(pl.Int64).alias(name))


def _difference(a: pl.LazyFrame, b: pl.LazyFrame, name: str) -> pl.LazyFrame:
    joined = _count(a, "a").join(_count(b, "b"), how="cross")
    return joined.select((pl.col("a") - pl.col("b")).alias(name))


def _sharers(keys: list[str]) -> pl.Expr:
    """How many records share a record's keys, or a hash of them: 1 when alone.

    Records with the same keys have the same hash, so a record that shares
    its hash with no other is certainly alone in its group; the few others
    that share a hash by chance are sorted out by their keys. Counting by one
    integer is about twice as fast as counting by the key columns.
    """
    hashed = [pl.col(key).hash(seed) for seed, key in enumerate(keys)]
    return pl.len().over(functools.reduce(operator.xor, hashed))


def _first_of_each(
    lf: pl.LazyFrame, keys: list[str], order: list[str], descending: list[bool]
) -> pl.LazyFrame:
    """The first record of each group under an order.

    ``lf`` carries ``_SIZE``, at least the number of records in each one's
    group and 1 only for a record alone in it (``_sharers``); it is read
    twice, so it should be cached. A record alone in its group wins as it
    is. Of the others only the row numbers are sorted, within each
    group, and the winners fetched by them: sorting every column costs many
    times more.
    """
    alone = lf.filter(pl.col(_SIZE) == 1)
    numbered = lf.filter(pl.col(_SIZE) > 1).with_row_index(_ROW)
    winners = numbered.group_by(keys).agg(
        pl.col(_ROW).sort_by(order, descending=descending, nulls_last=True).first()
    )
    contested = numbered.join(
        winners.drop(keys), on=_ROW, how="inner", maintain_order="left"
    ).drop(_ROW)
    return pl.concat([alone, contested]).drop(_SIZE)


def _final_statuses(status: pl.LazyFrame, *, by_resource: bool) -> pl.LazyFrame:
    """The latest terminal status of each recipient of each message.

    A recipient is one of a message, and of a resource unless records meet
    their message by message id alone (``by_resource`` false). Most
    recipients have one terminal record, which wins as it is. Of the
    others, only the records at their group's latest time can win, and the
    tie-break order is applied to those alone.
    """
    keys = ["CorrelationId", "RecipientId"]
    if by_resource:
        keys.append("ResourceId")
    terminal = status.filter(
        pl.col("RecipientId").is_not_null()
        & pl.col("DeliveryStatus").is_in(TERMINAL_STATUSES)
    )
    sized = terminal.with_columns(_sharers(keys).alias(_SIZE)).cache()
    time = pl.col("TimeGenerated")
    latest = time.max().over(keys)
    # A group whose times are all missing has no latest time: all of it
    # competes, ordered by the tie-break alone.
    contenders = (
        sized.filter(pl.col(_SIZE) > 1)
        .filter((time == latest) | latest.is_null())
        .with_columns(pl.len().over(keys).alias(_SIZE))
    )
    rank = pl.col("DeliveryStatus").replace_strict(_TIE_RANK, return_dtype=pl.Int8)
    order = [_RANK, "SmtpStatusCode", "EnhancedSmtpStatusCode"]
    order += ["FailureMessage", SOURCE_FILE, SOURCE_LINE]
    ranked = contenders.with_columns(
        ((pl.col(_SIZE) > 1) & time.is_not_null()).alias(_TIED),
        rank.alias(_RANK),
    ).cache()
    alone = sized.filter(pl.col(_SIZE) == 1).drop(_SIZE)
    winners = _first_of_each(ranked, keys, order, [False] * len(order))
    return pl.concat(
        [alone.with_columns(pl.lit(False).alias(_TIED)), winners.drop(_RANK)]
    )


def _earliest_sends(send: pl.LazyFrame, keys: list[str]) -> pl.LazyFrame:
    """One send per message: the earliest record."""
    order = ["TimeGenerated", SOURCE_FILE, SOURCE_LINE]
    sized = send.with_columns(_sharers(keys).alias(_SIZE)).cache()
    return _first_of_each(sized, keys, order, [False] * len(order))


def _status_side(final: pl.LazyFrame) -> pl.LazyFrame:
    return final.select(
        pl.col("CorrelationId").alias("MessageId"),
        pl.col("RecipientId"),
        pl.col("ResourceId"),
        *(pl.col(source).alias(target) for source, target in _STATUS_FIELDS.items()),
        pl.col(_TIED),
        pl.lit(True).alias(_HAS_STATUS),
    )


def _send_side(send: pl.LazyFrame) -> pl.LazyFrame:
    return send.select(
        pl.col("CorrelationId").alias("MessageId"),
        pl.col("ResourceId").alias("_SendResourceId"),
        *(pl.col(source).alias(target) for source, target in _SEND_FIELDS.items()),
        pl.lit(True).alias(_HAS_SEND),
    )


def _size_category() -> pl.Expr:
    """The size's category: the number of bounds it reaches picks the label."""
    size = pl.col("MessageSize")
    labels = [label for _, label in _SIZE_CATEGORIES] + [_LARGEST]
    reached = pl.sum_horizontal([size >= bound for bound, _ in _SIZE_CATEGORIES])
    label = reached.cast(pl.UInt8).replace_strict(
        list(range(len(labels))), labels, return_dtype=pl.String
    )
    return pl.when(size.is_not_null()).then(label).alias("MessageSizeCategory")


def _bounce_type() -> pl.Expr:
    status = pl.col("FinalDeliveryStatus")
    hard = pl.col("IsHardBounce")
    return (
        pl.when(status.is_null())
        .then(pl.lit(None, pl.String))
        .when(status == "Delivered")
        .then(pl.lit("Not Applicable"))
        .when(hard)
        .then(pl.lit("Hard Bounce"))
        .when(hard.not_())
        .then(pl.lit("Soft Bounce"))
        .when(status.is_in(["Bounced", "Failed"]))
        .then(pl.lit("Unknown (not populated)"))
        .otherwise(pl.lit("Unknown"))
        .alias("BounceType")
    )


def _recipient_domain() -> pl.Expr:
    """The text after the first ``@`` of the address, lower-cased.

    Null when there is none, or when it holds a line break: what the pattern
    ``^[^@]*@(.+)$`` captures, found by a split at the ``@`` rather than a
    regular expression, which takes twice as long. Domains repeat: each is
    checked and folded once.
    """
    domain = pl.col("RecipientId").str.splitn("@", 2).struct.field("field_1")
    # One chain over the distinct domains, each used once: Polars 2.1 can
    # panic eliminating a subexpression that the check would use twice.
    return per_distinct(
        domain,
        lambda distinct: distinct.str.extract(r"^([^\n]+)$").str.to_lowercase(),
        pl.String(),
    ).alias("RecipientDomain")


def _enrich(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Add the derived columns both modes share (spec section 3, steps 4-9)."""
    duration = (pl.col("FinalStatusTime") - pl.col("SendTime")).dt.total_milliseconds()
    delivered_without_code = pl.col("FinalDeliveryStatus") == "Delivered"
    lf = lf.with_columns(
        duration.alias("DurationMilliseconds"),
        (duration / 1000).round(3).alias("DurationSeconds"),
        _recipient_domain(),
        _size_category(),
        _bounce_type(),
        *(
            pl.when(delivered_without_code & pl.col(code).is_null())
            .then(pl.lit(NOT_APPLICABLE))
            .otherwise(pl.col(code))
            .alias(code)
            for code in ("SmtpStatusCode", "EnhancedSmtpStatusCode")
        ),
    )
    return lf


def _sorted(lf: pl.LazyFrame) -> pl.LazyFrame:
    # Resources are categories inside the pipeline and text in the dataset.
    lf = lf.with_columns(pl.col("ResourceId").cast(pl.String))
    return lf.sort(
        ["SendTime", "FinalStatusTime", "MessageId", "RecipientId"],
        descending=[True, True, False, False],
        nulls_last=True,
    )


def _classify(
    lf: pl.LazyFrame, *, extract_from_text: bool, enabled: bool
) -> pl.LazyFrame:
    if enabled:
        return codes.classify(lf, extract_from_text=extract_from_text)
    return lf.with_columns(
        pl.lit(None, pl.String).alias("SmtpStatusCodeDetails"),
        pl.lit(None, pl.String).alias("EnhancedSmtpStatusCodeDetails"),
        pl.lit(None, pl.String).alias("FailureCategory"),
        pl.lit(None, pl.Boolean).alias("Retryable"),
        pl.lit(None, pl.String).alias("ClassifiedBy"),
    )


def _met(
    final: pl.LazyFrame,
    sends: pl.LazyFrame,
    *,
    by_resource: bool,
    how: Literal["inner", "full"],
) -> pl.LazyFrame:
    """Final statuses beside their sends, by message and resource or by message.

    Matched by message alone, a row's resource is its status's, else its
    send's.
    """
    sends, keys = _keyed_sends(sends, by_resource=by_resource)
    if how == "inner":
        joined = final.join(sends, on=keys, how="inner", nulls_equal=True)
    else:
        # A left join plus the sends no status met: half the time of a full
        # join, which Polars builds at more cost than both together.
        met = final.join(sends, on=keys, how="left", nulls_equal=True)
        unmet = sends.join(final.select(keys), on=keys, how="anti", nulls_equal=True)
        joined = pl.concat([met, unmet], how="diagonal")
    return _resource_of_row(joined, by_resource=by_resource)


def _keyed_sends(
    sends: pl.LazyFrame, *, by_resource: bool
) -> tuple[pl.LazyFrame, list[str]]:
    """The sends, and the columns they meet their final statuses by."""
    if by_resource:
        return sends.rename({"_SendResourceId": "ResourceId"}), [
            "MessageId",
            "ResourceId",
        ]
    return sends, ["MessageId"]


def _resource_of_row(joined: pl.LazyFrame, *, by_resource: bool) -> pl.LazyFrame:
    if by_resource:
        return joined
    return joined.with_columns(
        pl.coalesce("ResourceId", "_SendResourceId").alias("ResourceId")
    )


def _hashed(keys: list[str]) -> pl.Expr:
    """One 64-bit hash of the key columns."""
    hashed = [pl.col(key).hash(seed) for seed, key in enumerate(keys)]
    return functools.reduce(operator.xor, hashed)


def _met_in_memory(
    final: pl.LazyFrame, sends: pl.LazyFrame, *, by_resource: bool
) -> pl.LazyFrame:
    """``_met`` in full, read into memory, by one 64-bit hash of the keys.

    Joining by one integer takes about half the time of joining by the key
    columns. Every pair of a final status and a send that share a hash is
    in the left join; were two different keys to share one, such a pair
    would hold two different keys, and the join is then made again by the
    key columns themselves. So the result is the same either way.
    """
    keyed, keys = _keyed_sends(sends, by_resource=by_resource)
    key = _hashed(keys).alias(_KEY)
    theirs = {name: f"_send_{name}" for name in keys}
    left, right = final.with_columns(key), keyed.with_columns(key)
    met = left.join(right.rename(theirs), on=_KEY, how="left")
    unmet = right.join(left.select(_KEY), on=_KEY, how="anti")
    joined = pl.concat([met, unmet], how="diagonal").collect(engine=ENGINE)
    paired = pl.col(_HAS_SEND) & pl.col(_HAS_STATUS)
    differ = pl.any_horizontal(
        pl.col(name).ne_missing(pl.col(sent)) for name, sent in theirs.items()
    )
    if joined.select((paired & differ).any()).item():
        exact = _met(final, sends, by_resource=by_resource, how="full")
        return exact.collect(engine=ENGINE).lazy()
    lf = joined.lazy().drop(_KEY, *theirs.values())
    return _resource_of_row(lf, by_resource=by_resource)


def _kql(
    send: pl.LazyFrame,
    status: pl.LazyFrame,
    *,
    classify: bool = True,
    by_resource: bool = True,
) -> pl.LazyFrame:
    final = _status_side(_final_statuses(status, by_resource=by_resource))
    joined = _met(final, _send_side(send), by_resource=by_resource, how="inner")
    joined = joined.filter(pl.col("FinalStatusTime") >= pl.col("SendTime"))
    lf = _classify(_enrich(joined), extract_from_text=False, enabled=classify)
    return _sorted(lf.select(DELIVERIES_COLUMNS))


def _completeness() -> pl.Expr:
    return (
        pl.when(pl.col(_HAS_SEND).is_null())
        .then(pl.lit("no-send-record"))
        .when(pl.col(_HAS_STATUS).is_null())
        .then(pl.lit("no-final-status"))
        .when(pl.col("FinalStatusTime") < pl.col("SendTime"))
        .then(pl.lit("clock-skew"))
        .otherwise(pl.lit("complete"))
        .alias("Completeness")
    )


def build_deliveries(tables: Tables, options: Options | None = None) -> Deliveries:
    """Build the deliveries dataset from the canonical tables.

    Parameters
    ----------
    tables
        The normalised send, status and engagement tables.
    options
        The mode; the default mode keeps every record.

    Returns
    -------
    Deliveries
        The lazy dataset and the counts that account for every record.
    """
    options = options or Options()
    # Without a resource on one side, matching by it would match nothing.
    by_resource = not (
        tables.by_message
        or "ResourceId" in tables.absent[SEND.key]
        or "ResourceId" in tables.absent[STATUS.key]
    )
    if options.kql_compatible:
        rows = _kql(
            tables.send,
            tables.status,
            classify=options.classify,
            by_resource=by_resource,
        )
        return Deliveries(rows)

    def shared(lf: pl.LazyFrame) -> pl.LazyFrame:
        # The dataset and its counts start from the same merged records.
        return lf.collect(engine=ENGINE).lazy() if options.in_memory else lf.cache()

    if options.in_memory:
        send = _merged_in_memory(tables.send)
        status = _merged_in_memory(tables.status)
        engagement = _merged_in_memory(tables.engagement)
    else:
        send = shared(dedupe(tables.send))
        status = shared(dedupe(tables.status))
        engagement = dedupe(tables.engagement)
    message = ["CorrelationId", "ResourceId"] if by_resource else ["CorrelationId"]
    earliest = shared(_earliest_sends(send, message))
    final = _status_side(_final_statuses(status, by_resource=by_resource))
    if options.in_memory:
        joined = _met_in_memory(final, _send_side(earliest), by_resource=by_resource)
    else:
        joined = _met(final, _send_side(earliest), by_resource=by_resource, how="full")
    joined = _enrich(joined).with_columns(_completeness())
    rows = shared(_classify(joined, extract_from_text=True, enabled=options.classify))
    counts = _accounting(tables, (send, status, engagement), earliest, rows)
    if not options.include_pending:
        rows = rows.filter(pl.col("Completeness") != "no-final-status")
    rows = rows.select(*DELIVERIES_COLUMNS, *EXTRA_COLUMNS)
    return Deliveries(_sorted(rows) if options.ordered else rows, counts, engagement)


def _accounting(
    tables: Tables,
    merged: tuple[pl.LazyFrame, pl.LazyFrame, pl.LazyFrame],
    earliest: pl.LazyFrame,
    rows: pl.LazyFrame,
) -> pl.LazyFrame:
    """Counts that say where every record went, as one row.

    ``merged`` holds the send, status and engagement tables with their
    duplicates merged.
    """
    send, status, engagement = merged
    recipient_level = pl.col("RecipientId").is_not_null()
    # A blank status names no final outcome: it counts as not final.
    terminal = pl.col("DeliveryStatus").is_in(TERMINAL_STATUSES).fill_null(False)
    known = pl.col("DeliveryStatus").is_in(DELIVERY_STATUSES)
    completeness = pl.col("Completeness")
    final = completeness != "no-final-status"
    cases = {
        "pending_messages": "no-final-status",
        "no_send_record": "no-send-record",
        "clock_skew": "clock-skew",
        "complete": "complete",
    }
    parts = [
        _count(tables.send, "send_records"),
        _count(tables.engagement, "engagement_records"),
        _difference(tables.send, send, "duplicate_send_records"),
        _difference(tables.engagement, engagement, "duplicate_engagement_records"),
        _difference(send, earliest, "duplicate_sends"),
        _count(tables.rejected, "rejected"),
        _count(tables.unclassified, "unclassified"),
        tables.status.select(pl.len().alias("status_records")),
        status.select(
            pl.len().alias("_deduplicated"),
            (~recipient_level).sum().alias("message_level_status_records"),
            (recipient_level & ~terminal).sum().alias("non_terminal_status_records"),
            (recipient_level & terminal).sum().alias("_terminal"),
            (pl.col("DeliveryStatus").is_not_null() & ~known)
            .sum()
            .alias("unknown_statuses"),
        ),
        # One pass over the rows for every figure of them.
        rows.select(
            final.sum().alias("final_statuses"),
            pl.col(_TIED).filter(final).sum().alias("ties"),
            *((completeness == case).sum().alias(name) for name, case in cases.items()),
        ),
    ]
    counts = pl.concat(parts, how="horizontal").with_columns(
        (pl.col("status_records") - pl.col("_deduplicated")).alias(
            "duplicate_status_records"
        ),
        (pl.col("_terminal") - pl.col("final_statuses")).alias(
            "superseded_status_records"
        ),
    )
    return counts.select(pl.exclude("_deduplicated", "_terminal").cast(pl.Int64))


def unknown_statuses(status: pl.LazyFrame, shown: int = 3) -> pl.LazyFrame:
    """Status records whose DeliveryStatus acsmail does not know, as one row.

    The row holds their count, duplicates merged as the overview counts
    them; the number of distinct values among them; and up to ``shown`` of
    those values, the most frequent first. Such a status is kept as written
    (spec section 2) and is never final.
    """
    value = pl.col("DeliveryStatus")
    unknown = dedupe(
        status.filter(value.is_not_null() & ~value.is_in(DELIVERY_STATUSES))
    )
    values = unknown.group_by(value).len()
    values = values.sort("len", "DeliveryStatus", descending=[True, False])
    return values.select(
        pl.col("len").sum().cast(pl.Int64).alias("count"),
        pl.len().cast(pl.Int64).alias("kinds"),
        value.head(shown).implode().alias("values"),
    )
