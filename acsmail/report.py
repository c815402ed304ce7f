"""The report's sections, each a lazy frame of rows (spec section 5).

Nothing here formats text: each section is a frame whose columns a renderer
lays out as a table, Markdown, JSON or HTML. All sections are built on the same
filtered deliveries and collected together, so the export is read once.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Final

import polars as pl

from acsmail.engagement import per_recipient
from acsmail.keys import key128
from acsmail.readers import ENGINE
from acsmail.schema import SOURCE_FILE, TERMINAL_STATUSES

if TYPE_CHECKING:
    from datetime import datetime

    from acsmail.deliveries import Deliveries
    from acsmail.normalise import Tables
    from acsmail.readers import Inputs

__all__ = [
    "LATENCY_BUCKETS",
    "OVERVIEW",
    "PERCENTILES",
    "SECTIONS",
    "Basis",
    "Filters",
    "absent_section",
    "apply_filters",
    "build_report",
    "deliveries_figures",
    "inputs_per_file",
    "rejected_section",
    "report_basis",
]

PERCENTILES: Final = (("p50", 0.50), ("p90", 0.90), ("p95", 0.95), ("p99", 0.99))
TOP: Final = 20

#: The overview's figures, in the order a reader wants them.
OVERVIEW: Final = (
    "messages",
    "recipients_final",
    "delivered",
    "delivered_share",
    *TERMINAL_STATUSES[1:],
    "pending_messages",
    "no_send_record",
    "clock_skew",
    "duplicate_records",
    "duplicate_sends",
    "ties",
    "rejected",
    "unclassified",
    "unknown_statuses",
    "duplicate_send_records",
    "duplicate_status_records",
    "duplicate_engagement_records",
    "message_level_status_records",
    "non_terminal_status_records",
    "superseded_status_records",
)

SECTIONS: Final = (
    "inputs",
    "absent_columns",
    "rejected",
    "overview",
    "statuses",
    "latency",
    "latency_histogram",
    "domains",
    "failure_categories",
    "failure_reasons",
    "bounce_types",
    "senders",
    "sizes",
    "hours",
    "hourly_outcomes",
    "mail_servers",
    "engagement",
    "engagement_senders",
)
#: The latency histogram's buckets: from (inclusive) and to (exclusive) seconds.
#: The edges follow how people speak of waiting, and widen as the wait grows.
LATENCY_BUCKETS: Final = (
    (0.0, 1.0, "0-1 s"),
    (1.0, 2.0, "1-2 s"),
    (2.0, 3.0, "2-3 s"),
    (3.0, 5.0, "3-5 s"),
    (5.0, 10.0, "5-10 s"),
    (10.0, 20.0, "10-20 s"),
    (20.0, 30.0, "20-30 s"),
    (30.0, 60.0, "30-60 s"),
    (60.0, 120.0, "1-2 min"),
    (120.0, 300.0, "2-5 min"),
    (300.0, 600.0, "5-10 min"),
    (600.0, 1800.0, "10-30 min"),
    (1800.0, 3600.0, "30-60 min"),
    (3600.0, 7200.0, "1-2 h"),
    (7200.0, 21600.0, "2-6 h"),
    (21600.0, 86400.0, "6-24 h"),
    (86400.0, None, "1 day or more"),
)
#: Column names of the final statuses in per-hour outcomes.
_STATUS_COLUMNS: Final = {
    "Delivered": "delivered",
    "Bounced": "bounced",
    "Failed": "failed",
    "Suppressed": "suppressed",
    "Quarantined": "quarantined",
    "FilteredSpam": "filtered_spam",
}
#: How much of a reply the failure categories quote as an example.
_EXAMPLE_LENGTH: Final = 160
_SIZE_ORDER: Final = (
    "Tiny (<100KB)",
    "Small (100KB-1MB)",
    "Medium (1-5MB)",
    "Large (5-10MB)",
    "Very Large (>10MB)",
)
#: The size row of recipients whose message has no size: no send record,
#: or one without its size.
_NO_SIZE: Final = "Unknown (no size logged)"


@dataclass(frozen=True)
class Filters:
    """Row filters shared by every command; empty tuples filter nothing."""

    since: datetime | None = None
    until: datetime | None = None
    recipient_domains: tuple[str, ...] = ()
    senders: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    message_ids: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return any(
            (
                self.since,
                self.until,
                self.recipient_domains,
                self.senders,
                self.statuses,
                self.message_ids,
            )
        )


def apply_filters(rows: pl.LazyFrame, filters: Filters) -> pl.LazyFrame:
    """Keep the deliveries rows that pass every filter.

    A row's time is its send time, or its final status time when the send is
    not in the export. Domains, senders, statuses and message ids match
    case-insensitively; a sender is a whole address or a domain.
    """
    when = pl.coalesce("SendTime", "FinalStatusTime")
    conditions: list[pl.Expr] = []
    if filters.since is not None:
        conditions.append(when >= filters.since)
    if filters.until is not None:
        conditions.append(when < filters.until)
    if filters.recipient_domains:
        domains = [d.lower() for d in filters.recipient_domains]
        conditions.append(pl.col("RecipientDomain").is_in(domains))
    if filters.senders:
        wanted = [s.lower() for s in filters.senders]
        domain = pl.col("SenderDomain").str.to_lowercase()
        address = pl.concat_str(
            pl.col("SenderUsername").str.to_lowercase(), pl.lit("@"), domain
        )
        conditions.append(address.is_in(wanted) | domain.is_in(wanted))
    if filters.statuses:
        wanted = [s.lower() for s in filters.statuses]
        conditions.append(
            pl.col("FinalDeliveryStatus").str.to_lowercase().is_in(wanted)
        )
    if filters.message_ids:
        # A message id, or an InternetMessageId with or without its angle
        # brackets, which keeps every row of the message it names.
        wanted = [m.strip().lower() for m in filters.message_ids]
        bare = [m.removeprefix("<").removesuffix(">") for m in wanted]
        internet = pl.col("InternetMessageId").str.to_lowercase().str.strip_chars("<>")
        conditions.append(
            pl.col("MessageId").str.to_lowercase().is_in(wanted)
            | internet.is_in(bare).fill_null(False).any().over("MessageId")
        )
    if not conditions:
        return rows
    return rows.filter(pl.all_horizontal(conditions))


def nearest_rank(expr: pl.Expr, fraction: float, *, ordered: bool = False) -> pl.Expr:
    """The nearest-rank percentile: the value at rank ceil(p * n) of the sorted data.

    ``ordered`` says the values come sorted already, as they do in the
    groups of rows sorted by them (a group keeps the order of its rows).
    """
    values = expr.drop_nulls()
    rank = (values.len() * fraction).ceil().cast(pl.Int64) - 1
    if not ordered:
        values = values.sort()
    return values.get(rank.clip(lower_bound=0), null_on_oob=True)


def distinct_count(*columns: str) -> pl.Expr:
    """How many distinct values the columns hold together, counted by hashes.

    Each row's values are counted as one integer (``key128``): half the
    time of counting text.
    """
    return key128(*(pl.col(column) for column in columns)).n_unique()


def _sends() -> pl.Expr:
    """How many sends the rows come from, pending ones too.

    A send is a message's earliest send record from one resource: a message
    sent from two resources is two sends, at two times. Rows without a send
    count once per message.
    """
    return distinct_count("MessageId", "SendTime").cast(pl.UInt32)


def _recipients() -> pl.Expr:
    """How many of the rows are recipients with a final status."""
    return (pl.col("Completeness") != "no-final-status").sum().cast(pl.UInt32)


def _latency_aggs(seconds: pl.Expr) -> list[pl.Expr]:
    """Latency figures of values sorted beforehand."""
    return [
        pl.len().alias("delivered"),
        *(
            nearest_rank(seconds, p, ordered=True).alias(name)
            for name, p in PERCENTILES
        ),
        seconds.max().alias("max"),
    ]


def _share(part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    return pl.when(whole > 0).then((part / whole).round(4))


def _status_is(status: str) -> pl.Expr:
    return (pl.col("FinalDeliveryStatus") == status).sum()


def _final(rows: pl.LazyFrame) -> pl.LazyFrame:
    return rows.filter(pl.col("Completeness") != "no-final-status")


def _latency(rows: pl.LazyFrame) -> pl.LazyFrame:
    seconds = pl.col("DurationSeconds")
    # Sorted once, rather than within each domain for each percentile.
    delivered = (
        rows.filter(
            (pl.col("FinalDeliveryStatus") == "Delivered")
            & (pl.col("Completeness") == "complete")
        )
        .select("RecipientDomain", "DurationSeconds")
        .sort(seconds, nulls_last=True)
    )
    overall = delivered.select(
        pl.lit("(all)").alias("scope"), *_latency_aggs(seconds)
    ).with_columns(pl.col("delivered").cast(pl.UInt32))
    per_domain = (
        delivered.group_by(pl.col("RecipientDomain").alias("scope"))
        .agg(_latency_aggs(seconds))
        .sort(["delivered", "scope"], descending=[True, False])
        .with_columns(pl.col("delivered").cast(pl.UInt32))
    )
    return pl.concat([overall, per_domain], how="vertical_relaxed")


def _latency_histogram(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Delivered mail per latency bucket, from the first non-empty to the last."""
    seconds = pl.col("DurationSeconds")
    delivered = rows.filter(
        (pl.col("FinalDeliveryStatus") == "Delivered")
        & (pl.col("Completeness") == "complete")
    )
    # A row's bucket is the number of upper edges it has reached.
    edges = [low for low, _, _ in LATENCY_BUCKETS[1:]]
    bucket = pl.sum_horizontal([seconds >= edge for edge in edges]).cast(pl.Int32)
    counted = delivered.group_by(bucket.alias("_bucket")).agg(
        pl.len().cast(pl.Int64).alias("delivered")
    )
    buckets = pl.LazyFrame(
        {
            "_bucket": list(range(len(LATENCY_BUCKETS))),
            "bucket": [label for _, _, label in LATENCY_BUCKETS],
            "from_seconds": [low for low, _, _ in LATENCY_BUCKETS],
            "to_seconds": [high for _, high, _ in LATENCY_BUCKETS],
        },
        schema={
            "_bucket": pl.Int32,
            "bucket": pl.String,
            "from_seconds": pl.Float64,
            "to_seconds": pl.Float64,
        },
    )
    filled = pl.col("_bucket").filter(pl.col("delivered") > 0)
    return (
        buckets.join(counted, on="_bucket", how="left", maintain_order="left")
        .with_columns(pl.col("delivered").fill_null(0))
        .filter(pl.col("_bucket").is_between(filled.min(), filled.max()))
        .with_columns(
            _share(pl.col("delivered"), pl.col("delivered").sum()).alias("share")
        )
        .drop("_bucket")
    )


def _domains(rows: pl.LazyFrame) -> pl.LazyFrame:
    total = pl.len()
    return (
        _final(rows)
        .group_by(pl.col("RecipientDomain").alias("domain"))
        .agg(
            total.alias("total"),
            _status_is("Delivered").alias("delivered"),
            _status_is("Bounced").alias("bounced"),
            _status_is("Failed").alias("failed"),
            pl.col("FinalDeliveryStatus")
            .is_in(["Suppressed", "Quarantined", "FilteredSpam"])
            .sum()
            .alias("other"),
        )
        .with_columns(
            _share(pl.col("delivered"), pl.col("total")).alias("success_rate")
        )
        .sort(["total", "domain"], descending=[True, False])
    )


def _statuses(rows: pl.LazyFrame) -> pl.LazyFrame:
    final = _final(rows)
    counted = final.group_by(pl.col("FinalDeliveryStatus").alias("status")).agg(
        pl.len().alias("recipients")
    )
    total = pl.col("recipients").sum()
    return counted.with_columns(
        _share(pl.col("recipients"), total).alias("share")
    ).sort(["recipients", "status"], descending=[True, False])


def _failure_reasons(rows: pl.LazyFrame) -> pl.LazyFrame:
    # In the dataset's order, so that each reason's example is the same on
    # every run: the rows themselves come unordered.
    failed = (
        _final(rows)
        .filter(pl.col("FinalDeliveryStatus") != "Delivered")
        .sort(
            ["SendTime", "FinalStatusTime", "MessageId", "RecipientId"],
            descending=[True, True, False, False],
            nulls_last=True,
        )
    )
    keys = ["FailureCategory", "SmtpStatusCode", "EnhancedSmtpStatusCode"]
    explanation = pl.coalesce(
        pl.when(pl.col("EnhancedSmtpStatusCode").is_not_null()).then(
            pl.col("EnhancedSmtpStatusCodeDetails")
        ),
        pl.col("SmtpStatusCodeDetails"),
    )
    return (
        failed.group_by(keys)
        .agg(
            pl.len().alias("count"),
            explanation.first().alias("explanation"),
            pl.col("Retryable").first().alias("retryable"),
        )
        .rename(
            {
                "FailureCategory": "category",
                "SmtpStatusCode": "smtp_code",
                "EnhancedSmtpStatusCode": "enhanced_code",
            }
        )
        .sort(
            ["count", "category", "smtp_code", "enhanced_code"],
            descending=[True, False, False, False],
            nulls_last=True,
        )
        .head(TOP)
        .select(
            "category",
            "smtp_code",
            "enhanced_code",
            "explanation",
            "retryable",
            "count",
        )
    )


def _failure_categories(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Failed recipients per failure category, with the reply heard most often."""
    failed = _final(rows).filter(pl.col("FinalDeliveryStatus") != "Delivered")
    reply = pl.col("FailureMessage").drop_nulls().mode().sort().first()
    shortened = (
        pl.when(pl.col("example_reply").str.len_chars() > _EXAMPLE_LENGTH)
        .then(pl.col("example_reply").str.slice(0, _EXAMPLE_LENGTH - 1) + "\u2026")
        .otherwise(pl.col("example_reply"))
    )
    return (
        failed.group_by(pl.col("FailureCategory").alias("category"))
        .agg(
            pl.len().alias("recipients"),
            pl.col("Retryable").sum().alias("retryable_recipients"),
            reply.alias("example_reply"),
        )
        .with_columns(
            _share(pl.col("recipients"), pl.col("recipients").sum()).alias("share"),
            shortened.alias("example_reply"),
        )
        .sort(["recipients", "category"], descending=[True, False], nulls_last=True)
        .select(
            "category", "recipients", "share", "retryable_recipients", "example_reply"
        )
    )


def _bounce_types(rows: pl.LazyFrame) -> pl.LazyFrame:
    return (
        _final(rows)
        .group_by(pl.col("BounceType").alias("bounce_type"))
        .agg(pl.len().alias("recipients"))
        .sort(["recipients", "bounce_type"], descending=[True, False])
    )


def _sender() -> pl.Expr:
    return pl.concat_str(
        pl.col("SenderUsername").fill_null(""), pl.lit("@"), pl.col("SenderDomain")
    )


def _by_sender(rows: pl.LazyFrame, sums: list[pl.Expr]) -> pl.LazyFrame:
    """``sums`` per sender address, of figures that add up.

    The rows are grouped by the address's two columns first, and the few
    groups then by the address: building the address of every row would
    cost several times as much. Two pairs of columns can make one address
    (a missing user name reads as an empty one), hence the second step.
    """
    names = [sum_.meta.output_name() for sum_ in sums]
    return (
        rows.group_by("SenderUsername", "SenderDomain")
        .agg(sums)
        .group_by(_sender().alias("sender"))
        .agg(pl.col(names).sum())
    )


def _senders(rows: pl.LazyFrame) -> pl.LazyFrame:
    counts = [
        pl.len().alias("total"),
        _status_is("Delivered").alias("delivered"),
        _status_is("Bounced").alias("bounced"),
        _status_is("Failed").alias("failed"),
    ]
    return (
        _by_sender(_final(rows), counts)
        .with_columns(_share(pl.col("bounced"), pl.col("total")).alias("bounce_rate"))
        .sort(["total", "sender"], descending=[True, False], nulls_last=True)
    )


def _sizes(rows: pl.LazyFrame) -> pl.LazyFrame:
    order = pl.col("size_category").replace_strict(
        {label: rank for rank, label in enumerate(_SIZE_ORDER)},
        default=len(_SIZE_ORDER),
        return_dtype=pl.Int32,
    )
    return (
        rows.group_by(
            pl.col("MessageSizeCategory").fill_null(_NO_SIZE).alias("size_category")
        )
        .agg(
            _sends().alias("messages"),
            _recipients().alias("recipients"),
            _share(_status_is("Delivered"), _recipients()).alias("delivered_share"),
        )
        .sort(order)
    )


def _hours(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Per hour of sending: sends (pending ones too), and their final statuses."""
    sent = rows.filter(pl.col("SendTime").is_not_null())
    delivered = (pl.col("FinalDeliveryStatus") == "Delivered") & (
        pl.col("Completeness") == "complete"
    )
    seconds = pl.col("DurationSeconds").filter(delivered)
    # The mean of whole milliseconds is exact, so it does not depend on the
    # order the rows come in (a mean of fractional seconds can differ in its
    # last digit between two orders of the same rows).
    milliseconds = pl.col("DurationMilliseconds").filter(delivered)
    return (
        sent.group_by(pl.col("SendTime").dt.truncate("1h").alias("hour"))
        .agg(
            _sends().alias("sends"),
            _recipients().alias("recipients"),
            _share(_status_is("Delivered"), _recipients()).alias("delivered_share"),
            (milliseconds.mean() / 1000).round(3).alias("mean_latency"),
            nearest_rank(seconds, 0.95).alias("p95_latency"),
        )
        .sort("hour")
    )


def _hourly_outcomes(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Final statuses per hour of sending (of the final status, with no send)."""
    hour = pl.coalesce("SendTime", "FinalStatusTime").dt.truncate("1h")
    counts = [
        _status_is(status).cast(pl.Int64).alias(name)
        for status, name in _STATUS_COLUMNS.items()
    ]
    return (
        _final(rows)
        .group_by(hour.alias("hour"))
        .agg(pl.len().cast(pl.Int64).alias("recipients"), *counts)
        .with_columns(
            _share(pl.col("delivered"), pl.col("recipients")).alias("delivered_share")
        )
        .sort("hour")
    )


def _mail_servers(rows: pl.LazyFrame) -> pl.LazyFrame:
    failed = _final(rows).filter(
        (pl.col("FinalDeliveryStatus") != "Delivered")
        & pl.col("RecipientMailServerHostName").is_not_null()
    )
    return (
        failed.group_by(pl.col("RecipientMailServerHostName").alias("mail_server"))
        .agg(
            pl.len().alias("failures"),
            pl.col("FailureCategory")
            .drop_nulls()
            .mode()
            .sort()
            .first()
            .alias("top_category"),
        )
        .sort(["failures", "mail_server"], descending=[True, False])
        .head(TOP)
    )


def _engagement(
    delivered: pl.LazyFrame, counts: pl.LazyFrame, name: str
) -> pl.LazyFrame:
    """Open and click rates of delivered mail, per ``domain`` or ``sender``.

    The section is empty when the export has no engagement records at all:
    tracking is off by default, and rates of zero would then mislead.
    """
    recorded = counts.select(pl.col("engagement_records").alias("_records"))
    sums = [
        pl.len().cast(pl.Int64).alias("delivered"),
        (pl.col("views") > 0).sum().cast(pl.Int64).alias("viewed"),
        (pl.col("clicks") > 0).sum().cast(pl.Int64).alias("clicked"),
        pl.col("views").sum(),
        pl.col("clicks").sum(),
        pl.col("proxy_views").sum(),
    ]
    if name == "sender":
        grouped = _by_sender(delivered, sums)
    else:
        grouped = delivered.group_by(pl.col("RecipientDomain").alias(name)).agg(sums)
    return (
        grouped.with_columns(
            _share(pl.col("viewed"), pl.col("delivered")).alias("view_rate"),
            _share(pl.col("clicked"), pl.col("delivered")).alias("click_rate"),
        )
        .join(recorded, how="cross")
        .filter(pl.col("_records") > 0)
        .sort(["delivered", name], descending=[True, False], nulls_last=True)
        .select(
            name,
            "delivered",
            "viewed",
            "view_rate",
            "clicked",
            "click_rate",
            "views",
            "clicks",
            "proxy_views",
        )
    )


def inputs_per_file(inputs: Inputs, tables: Tables) -> pl.LazyFrame:
    """Per file: its form, records per table, rejected, unclassified, time span."""
    # Each table is summed up on its own, and only the small sums are joined.
    tables_by_name = {
        "send": tables.send,
        "status": tables.status,
        "engagement": tables.engagement,
    }
    sums = pl.concat(
        [
            lf.group_by(SOURCE_FILE).agg(
                *(
                    (pl.len() if table == name else pl.lit(0))
                    .cast(pl.Int64)
                    .alias(name)
                    for name in tables_by_name
                ),
                pl.col("TimeGenerated").min().alias("first"),
                pl.col("TimeGenerated").max().alias("last"),
            )
            for table, lf in tables_by_name.items()
        ]
    )
    per_file = sums.group_by(pl.col(SOURCE_FILE).cast(pl.String).alias("file")).agg(
        pl.col(*tables_by_name).sum(),
        pl.col("first").min(),
        pl.col("last").max(),
    )
    rejected = tables.rejected.group_by("file").agg(pl.len().alias("rejected"))
    unclassified = tables.unclassified.group_by("file").agg(
        pl.len().alias("unclassified")
    )
    forms = pl.LazyFrame(
        {
            "file": [source.name for source in inputs.sources],
            "format": [source.form for source in inputs.sources],
        },
        schema={"file": pl.String, "format": pl.String},
    )
    counts = ["send", "status", "engagement", "rejected", "unclassified"]
    return (
        forms.join(per_file, on="file", how="left", maintain_order="left")
        .join(rejected, on="file", how="left", maintain_order="left")
        .join(unclassified, on="file", how="left", maintain_order="left")
        .with_columns(pl.col(counts).fill_null(0).cast(pl.Int64))
        .select("file", "format", *counts, "first", "last")
    )


def absent_section(tables: Tables) -> pl.LazyFrame:
    """Columns no file carried, for the tables that have records at all.

    A resource column that only some files lack gets a row of its own, since
    it changes how records meet their message.
    """
    names = {
        "sendmail": "send",
        "statusupdate": "status",
        "userengagement": "engagement",
    }
    frames = {
        "send": tables.send,
        "status": tables.status,
        "engagement": tables.engagement,
    }
    listed = pl.LazyFrame(
        {
            "table": [names.get(key, key) for key in tables.absent],
            "absent_columns": [", ".join(cols) for cols in tables.absent.values()],
        }
    )
    present = pl.concat(
        [
            lf.select(pl.lit(name).alias("table"), pl.len())
            for name, lf in frames.items()
        ]
    )
    absent = (
        listed.join(present, on="table", how="inner", maintain_order="left")
        .filter((pl.col("absent_columns") != "") & (pl.col("len") > 0))
        .drop("len")
    )
    if not tables.by_message:
        return absent
    partly = pl.LazyFrame(
        {
            "table": ["some files"],
            "absent_columns": [
                "ResourceId (records are matched to their message by "
                "CorrelationId alone)"
            ],
        }
    )
    return pl.concat([absent, partly])


def _overview(
    rows: pl.LazyFrame, counts: pl.LazyFrame, filters: Filters
) -> pl.LazyFrame:
    final = _final(rows)
    completeness = pl.col("Completeness")
    if filters.active:
        messages = rows.select(distinct_count("MessageId").alias("messages"))
    else:
        messages = counts.select("messages")
    figures = rows.select(
        (completeness != "no-final-status").sum().alias("recipients_final"),
        (pl.col("FinalDeliveryStatus") == "Delivered").sum().alias("delivered"),
        (completeness == "no-final-status").sum().alias("pending_messages"),
        (completeness == "no-send-record").sum().alias("no_send_record"),
        (completeness == "clock-skew").sum().alias("clock_skew"),
    ).with_columns(
        _share(pl.col("delivered"), pl.col("recipients_final")).alias("delivered_share")
    )
    per_status = final.select(
        *(_status_is(status).alias(status) for status in TERMINAL_STATUSES)
    )
    counts = counts.select(
        "duplicate_send_records",
        "duplicate_status_records",
        "duplicate_engagement_records",
        "duplicate_sends",
        "ties",
        "message_level_status_records",
        "non_terminal_status_records",
        "superseded_status_records",
        "unknown_statuses",
        "rejected",
        "unclassified",
    )
    parts = [messages, figures, per_status, counts]
    overview = pl.concat(parts, how="horizontal").with_columns(
        (
            pl.col("duplicate_send_records")
            + pl.col("duplicate_status_records")
            + pl.col("duplicate_engagement_records")
        ).alias("duplicate_records")
    )
    return overview.select(OVERVIEW)


@dataclass(frozen=True)
class Basis:
    """What every section is computed from: the deliveries and a few table figures.

    A report builds it from the tables; ``convert`` saves it beside them, so a
    report on a converted export starts here.

    Attributes
    ----------
    rows
        The deliveries, pending messages included.
    delivered
        The delivered rows' views and clicks (``per_recipient``).
    counts
        One row: the deliveries' counts, and ``messages``, the distinct
        message ids of the send and status tables.
    inputs
        Per input file, as ``inputs_per_file``.
    absent
        Columns no file carried, per table.
    rejected
        The first rejected records: file, line and reason.
    """

    rows: pl.LazyFrame
    delivered: pl.LazyFrame
    counts: pl.LazyFrame
    inputs: pl.LazyFrame
    absent: pl.LazyFrame
    rejected: pl.LazyFrame

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The names of the frames, in order."""
        return tuple(field.name for field in fields(cls))

    def frames(self) -> dict[str, pl.LazyFrame]:
        """The frames by name, for saving; ``Basis(**frames)`` rebuilds it."""
        return {name: getattr(self, name) for name in self.names()}

    def collected(self) -> Basis:
        """The same frames read into memory, once for all the sections.

        Several sections read the counts and the engagement figures; left
        lazy, parts of them would be computed again for each.
        """
        frames = pl.collect_all(list(self.frames().values()), engine=ENGINE)
        return Basis(*(frame.lazy() for frame in frames))


def report_basis(inputs: Inputs, tables: Tables, deliveries: Deliveries) -> Basis:
    """Gather what the report needs of the files, the tables and the deliveries.

    Parameters
    ----------
    inputs
        The prepared files (for their names and forms).
    tables
        The canonical tables.
    deliveries
        The deliveries built with pending messages included, with counts.
    """
    rows, delivered, counts = deliveries_figures(tables, deliveries)
    return Basis(
        rows=rows,
        delivered=delivered,
        counts=counts,
        inputs=inputs_per_file(inputs, tables),
        absent=absent_section(tables),
        rejected=rejected_section(tables.rejected),
    )


def deliveries_figures(
    tables: Tables, deliveries: Deliveries
) -> tuple[pl.LazyFrame, pl.LazyFrame, pl.LazyFrame]:
    """The parts of a basis that follow the messages: rows, delivered, counts.

    Each depends only on the records of the messages it covers, so for a
    share of the messages it is that share's part of the whole (the counts
    add up).

    Raises
    ------
    ValueError
        When the deliveries have no counts (the reference query's mode).
    """
    if deliveries.counts is None:
        msg = "the report needs the counts of the default mode's deliveries"
        raise ValueError(msg)
    ids = pl.concat(
        [tables.send.select("CorrelationId"), tables.status.select("CorrelationId")]
    )
    messages = ids.select(distinct_count("CorrelationId").cast(pl.Int64))
    counts = pl.concat(
        [deliveries.counts, messages.rename({"CorrelationId": "messages"})],
        how="horizontal",
    )
    delivered = deliveries.rows.filter(pl.col("FinalDeliveryStatus") == "Delivered")
    if deliveries.engagement is None:
        engagement = per_recipient(delivered, tables.engagement)
    else:
        engagement = per_recipient(delivered, deliveries.engagement, merged=True)
    return deliveries.rows, engagement, counts


def rejected_section(rejected: pl.LazyFrame) -> pl.LazyFrame:
    """The first rejected records, by file and line, for the report."""
    return rejected.select("file", "line", "reason").sort("file", "line").head(TOP)


def build_report(basis: Basis, filters: Filters) -> dict[str, pl.LazyFrame]:
    """Build every section of the report as a lazy frame.

    Parameters
    ----------
    basis
        The deliveries and figures of the tables (``report_basis``).
    filters
        Row filters applied before any figure is computed.

    Returns
    -------
    dict of str to LazyFrame
        The sections, in the order of ``SECTIONS``.
    """
    rows = apply_filters(basis.rows, filters)
    delivered = apply_filters(basis.delivered, replace(filters, message_ids=()))
    if filters.message_ids:
        # The delivered rows lack the InternetMessageId that may name their
        # message: they keep the messages that the filtered rows kept.
        kept = rows.select("MessageId").unique()
        delivered = delivered.join(kept, on="MessageId", how="semi")
    # Both engagement sections start from it: computed once. (The cache sits
    # here rather than in the basis: a plan that is a cache of a plan holding
    # caches of its own fails to collect alone in this Polars.)
    delivered = delivered.cache()
    sections = {
        "inputs": basis.inputs,
        "absent_columns": basis.absent,
        "rejected": basis.rejected,
        "overview": _overview(rows, basis.counts, filters),
        "statuses": _statuses(rows),
        "latency": _latency(rows),
        "latency_histogram": _latency_histogram(rows),
        "domains": _domains(rows),
        "failure_categories": _failure_categories(rows),
        "failure_reasons": _failure_reasons(rows),
        "bounce_types": _bounce_types(rows),
        "senders": _senders(rows),
        "sizes": _sizes(rows),
        "hours": _hours(rows),
        "hourly_outcomes": _hourly_outcomes(rows),
        "mail_servers": _mail_servers(rows),
        "engagement": _engagement(delivered, basis.counts, "domain"),
        "engagement_senders": _engagement(delivered, basis.counts, "sender"),
    }
    return {name: sections[name] for name in SECTIONS}
