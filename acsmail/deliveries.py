"""The deliveries dataset: one row per recipient's final status (spec sections 3-4).

Two modes share every enrichment. ``kql_compatible`` reproduces the reference
query to the letter: an inner join of sends and final statuses on message and
resource, rows whose status predates the send dropped, nothing merged. The
default mode keeps what that query loses: exact duplicates are merged, repeated
sends keep the earliest, a status without its send and a skewed clock stay in
the dataset, each row saying in ``Completeness`` which case it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import polars as pl

from acsmail import codes
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
_SEND_RECORDS: Final = "_send_records"

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
    """

    kql_compatible: bool = False
    include_pending: bool = False
    classify: bool = True


@dataclass
class Deliveries:
    """The dataset and the lazy frames that account for every status record.

    ``counts`` maps a name (``duplicate_records``, ``pending_messages``, …) to
    a one-row frame holding that count, so a caller can collect them together
    with the rows.
    """

    rows: pl.LazyFrame
    counts: dict[str, pl.LazyFrame] = field(default_factory=dict)


def dedupe(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Merge records identical in every canonical field, wherever they came from."""
    names = lf.collect_schema().names()
    subset = [name for name in names if name not in _PROVENANCE]
    return lf.unique(subset=subset, keep="first")


def _count(lf: pl.LazyFrame, name: str) -> pl.LazyFrame:
    return lf.select(pl.len().cast(pl.Int64).alias(name))


def _difference(a: pl.LazyFrame, b: pl.LazyFrame, name: str) -> pl.LazyFrame:
    joined = _count(a, "a").join(_count(b, "b"), how="cross")
    return joined.select((pl.col("a") - pl.col("b")).alias(name))


def _final_statuses(status: pl.LazyFrame) -> pl.LazyFrame:
    """The latest terminal status of each recipient of each message."""
    keys = ["CorrelationId", "RecipientId", "ResourceId"]
    terminal = status.filter(
        pl.col("RecipientId").is_not_null()
        & pl.col("DeliveryStatus").is_in(TERMINAL_STATUSES)
    ).with_columns(
        pl.col("DeliveryStatus")
        .replace_strict(_TIE_RANK, return_dtype=pl.Int8)
        .alias("_rank")
    )
    order = ["TimeGenerated", "_rank", "SmtpStatusCode", "EnhancedSmtpStatusCode"]
    order += ["FailureMessage", SOURCE_FILE, SOURCE_LINE]
    latest = pl.col("TimeGenerated").max()
    return (
        terminal.group_by(keys)
        .agg(
            pl.all()
            .sort_by(
                order,
                descending=[True, False, False, False, False, False, False],
                nulls_last=True,
            )
            .first(),
            ((pl.col("TimeGenerated") == latest).sum() > 1).alias(_TIED),
        )
        .drop("_rank")
    )


def _earliest_sends(send: pl.LazyFrame, keys: list[str]) -> pl.LazyFrame:
    """One send per message: the earliest record, and how many there were."""
    order = ["TimeGenerated", SOURCE_FILE, SOURCE_LINE]
    return send.group_by(keys).agg(
        pl.all().sort_by(order, nulls_last=True).first(),
        pl.len().alias(_SEND_RECORDS),
    )


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
    size = pl.col("MessageSize")
    expr: pl.Expr = pl.lit(_LARGEST)
    for bound, label in reversed(_SIZE_CATEGORIES):
        expr = pl.when(size < bound).then(pl.lit(label)).otherwise(expr)
    return pl.when(size.is_not_null()).then(expr).alias("MessageSizeCategory")


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


def _enrich(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Add the derived columns both modes share (spec section 3, steps 4-9)."""
    duration = (pl.col("FinalStatusTime") - pl.col("SendTime")).dt.total_milliseconds()
    delivered_without_code = pl.col("FinalDeliveryStatus") == "Delivered"
    lf = lf.with_columns(
        duration.alias("DurationMilliseconds"),
        (duration / 1000).round(3).alias("DurationSeconds"),
        pl.col("RecipientId")
        .str.extract(r"^[^@]*@(.+)$")
        .str.to_lowercase()
        .alias("RecipientDomain"),
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


def _kql(
    send: pl.LazyFrame, status: pl.LazyFrame, *, classify: bool = True
) -> pl.LazyFrame:
    final = _status_side(_final_statuses(status))
    sends = _send_side(send).rename({"_SendResourceId": "ResourceId"})
    joined = final.join(
        sends, on=["MessageId", "ResourceId"], how="inner", nulls_equal=True
    )
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
    if options.kql_compatible:
        return Deliveries(_kql(tables.send, tables.status, classify=options.classify))

    by_resource = not (
        "ResourceId" in tables.absent[SEND.key]
        or "ResourceId" in tables.absent[STATUS.key]
    )
    keys = ["MessageId", "ResourceId"] if by_resource else ["MessageId"]
    send = dedupe(tables.send)
    status = dedupe(tables.status)
    earliest = _earliest_sends(send, ["CorrelationId", "ResourceId"])
    final = _status_side(_final_statuses(status))
    sends = _send_side(earliest)
    if by_resource:
        sends = sends.rename({"_SendResourceId": "ResourceId"})

    joined = final.join(sends, on=keys, how="full", coalesce=True, nulls_equal=True)
    if not by_resource:
        joined = joined.with_columns(
            pl.coalesce("ResourceId", "_SendResourceId").alias("ResourceId")
        )
    joined = _enrich(joined).with_columns(_completeness())
    rows = _classify(joined, extract_from_text=True, enabled=options.classify)
    counts = _accounting(tables, send, status, earliest, rows)
    if not options.include_pending:
        rows = rows.filter(pl.col("Completeness") != "no-final-status")
    return Deliveries(_sorted(rows.select(*DELIVERIES_COLUMNS, *EXTRA_COLUMNS)), counts)


def _accounting(
    tables: Tables,
    send: pl.LazyFrame,
    status: pl.LazyFrame,
    earliest: pl.LazyFrame,
    rows: pl.LazyFrame,
) -> dict[str, pl.LazyFrame]:
    """Counts that say where every record went."""
    recipient_level = pl.col("RecipientId").is_not_null()
    terminal = pl.col("DeliveryStatus").is_in(TERMINAL_STATUSES)
    by_case = rows.group_by("Completeness").agg(pl.len().cast(pl.Int64).alias("n"))

    def case(name: str) -> pl.LazyFrame:
        return by_case.select(
            pl.col("n").filter(pl.col("Completeness") == name).sum().alias(name)
        )

    final = rows.filter(pl.col("Completeness") != "no-final-status")
    return {
        "send_records": _count(tables.send, "send_records"),
        "status_records": _count(tables.status, "status_records"),
        "engagement_records": _count(tables.engagement, "engagement_records"),
        "duplicate_send_records": _difference(
            tables.send, send, "duplicate_send_records"
        ),
        "duplicate_status_records": _difference(
            tables.status, status, "duplicate_status_records"
        ),
        "duplicate_engagement_records": _difference(
            tables.engagement, dedupe(tables.engagement), "duplicate_engagement_records"
        ),
        "duplicate_sends": _difference(send, earliest, "duplicate_sends"),
        "message_level_status_records": _count(
            status.filter(~recipient_level), "message_level_status_records"
        ),
        "non_terminal_status_records": _count(
            status.filter(recipient_level & ~terminal), "non_terminal_status_records"
        ),
        "superseded_status_records": _difference(
            status.filter(recipient_level & terminal),
            final,
            "superseded_status_records",
        ),
        "final_statuses": _count(final, "final_statuses"),
        "unknown_statuses": _count(
            status.filter(
                pl.col("DeliveryStatus").is_not_null()
                & ~pl.col("DeliveryStatus").is_in(DELIVERY_STATUSES)
            ),
            "unknown_statuses",
        ),
        "ties": final.select(pl.col(_TIED).sum().cast(pl.Int64).alias("ties")),
        "pending_messages": case("no-final-status").rename(
            {"no-final-status": "pending_messages"}
        ),
        "no_send_record": case("no-send-record").rename(
            {"no-send-record": "no_send_record"}
        ),
        "clock_skew": case("clock-skew").rename({"clock-skew": "clock_skew"}),
        "complete": case("complete"),
        "rejected": _count(tables.rejected, "rejected"),
        "unclassified": _count(tables.unclassified, "unclassified"),
    }
