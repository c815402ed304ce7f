"""What happened to one email: every record about it, in order, and a verdict.

:func:`trace` finds a message by its id (the ``CorrelationId``), by its
``InternetMessageId`` (with or without the angle brackets), or every message to
one recipient address, all case-insensitively. It returns two lazy frames: the
timeline of every record about it in the three tables (the send, the
message-level and recipient-level statuses, the views and clicks), and the
final verdict per recipient in plain words, taken from the deliveries dataset
so it says what the report and the dataset say.

A trace by recipient address keeps the message-level records of the messages
it finds (they concern every recipient) but drops the records of the other
recipients of those messages.

On tables pseudonymised by a :class:`~acsmail.redact.Redactor`, the id may be
the real value or its pseudonym: each column is searched for the id as given
and as the redactor writes it there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import polars as pl

from acsmail.deliveries import NOT_APPLICABLE
from acsmail.engagement import IMAGE_PROXY
from acsmail.schema import SOURCE_FILE, SOURCE_LINE, TERMINAL_STATUSES

if TYPE_CHECKING:
    from acsmail.deliveries import Deliveries
    from acsmail.normalise import Tables
    from acsmail.redact import Redactor

__all__ = [
    "RECIPIENT_COLUMNS",
    "SECTIONS",
    "TIMELINE_COLUMNS",
    "TITLES",
    "Trace",
    "for_reading",
    "human_duration",
    "trace",
]

#: The two parts of a trace, as JSON keys and in the order they print.
SECTIONS: Final = ("timeline", "recipients")
TITLES: Final = {
    "timeline": "Timeline",
    "recipients": "Final verdict per recipient",
}
TIMELINE_COLUMNS: Final = (
    "time",
    "after_send",
    "seconds_after_send",
    "message_id",
    "recipient",
    "table",
    "event",
    "detail",
    "copies",
    "file",
    "line",
)
RECIPIENT_COLUMNS: Final = (
    "message_id",
    "recipient",
    "status",
    "verdict",
    "final_status_time",
    "after_send",
    "seconds_after_send",
    "completeness",
    "bounce_type",
    "smtp_code",
    "smtp_code_details",
    "enhanced_code",
    "enhanced_code_details",
    "failure_category",
    "retryable",
    "classified_by",
    "failure_reason",
    "mail_server",
)
#: What the table form leaves out: numbers the text already says, and
#: provenance that is long to print (the JSON form keeps all of it).
_READING: Final = {
    "timeline": ("time", "after_send", "message_id", "recipient", "event", "detail"),
    "recipients": (
        "message_id",
        "recipient",
        "verdict",
        "failure_category",
        "retryable",
        "explanation",
    ),
}

_MESSAGE: Final = "_message"
_ONLY: Final = "_only"
_SENT: Final = "_sent"
_TABLE_ORDER: Final = {"send": 0, "status": 1, "engagement": 2}
# How ACS's final statuses read in a sentence.
_STATUS_WORDS: Final = {
    "Bounced": "bounced",
    "Failed": "failed",
    "Suppressed": "suppressed by ACS, so not sent",
    "Quarantined": "quarantined by the recipient's mail system",
    "FilteredSpam": "rejected as spam",
}
_PENDING: Final = "still in flight / no final status in the export"


@dataclass
class Trace:
    """The lazy timeline and verdicts of a trace; collect them together."""

    timeline: pl.LazyFrame
    recipients: pl.LazyFrame


def _folded(column: str) -> pl.Expr:
    return pl.col(column).str.strip_chars().str.to_lowercase()


def _bare_id(column: str) -> pl.Expr:
    return _folded(column).str.strip_chars("<>")


def _spellings(column: str, values: list[str], redactor: Redactor | None) -> list[str]:
    """The values to look for in a column: as given, and as pseudonymised."""
    if redactor is None:
        return values
    return [*values, *(redactor.value(column, value) for value in values)]


def _matches(
    tables: Tables, identifier: str, redactor: Redactor | None
) -> pl.LazyFrame:
    """Messages the id names, each with the one recipient to keep (or all)."""
    folded = identifier.strip().lower()
    # Message ids are pasted with or without the brackets of a mail header.
    bare = folded.strip("<>").strip()
    message_ids = _spellings("CorrelationId", [bare], redactor)
    internet_ids = _spellings("InternetMessageId", [bare], redactor)
    recipients = _spellings("RecipientId", [folded, bare], redactor)
    by_message = [
        lf.filter(_folded("CorrelationId").is_in(message_ids))
        for lf in (tables.send, tables.status, tables.engagement)
    ] + [
        lf.filter(_bare_id("InternetMessageId").is_in(internet_ids))
        for lf in (tables.status, tables.engagement)
    ]
    by_recipient = [
        lf.filter(_folded("RecipientId").is_in(recipients))
        for lf in (tables.status, tables.engagement)
    ]
    found = pl.concat(
        [
            *(
                lf.select(_folded("CorrelationId").alias(_MESSAGE)).with_columns(
                    pl.lit(None, pl.String).alias(_ONLY)
                )
                for lf in by_message
            ),
            *(
                lf.select(
                    _folded("CorrelationId").alias(_MESSAGE),
                    _folded("RecipientId").alias(_ONLY),
                )
                for lf in by_recipient
            ),
        ]
    )
    # A message named by its id keeps every recipient: a null sorts first.
    return found.group_by(_MESSAGE).agg(pl.col(_ONLY).sort().first())


def _of_matches(
    lf: pl.LazyFrame, matches: pl.LazyFrame, id_column: str
) -> pl.LazyFrame:
    """The records of the matched messages, less other recipients' records."""
    found = lf.with_columns(_folded(id_column).alias(_MESSAGE)).join(
        matches, on=_MESSAGE, how="inner"
    )
    if "RecipientId" not in lf.collect_schema().names():
        return found
    recipient = _folded("RecipientId")
    return found.filter(
        pl.col(_ONLY).is_null() | recipient.is_null() | (recipient == pl.col(_ONLY))
    )


def _distinct(lf: pl.LazyFrame) -> pl.LazyFrame:
    """One row per distinct record, saying how many copies the export holds."""
    provenance = (SOURCE_FILE, SOURCE_LINE)
    fields = [name for name in lf.collect_schema().names() if name not in provenance]
    order = [SOURCE_FILE, SOURCE_LINE]
    return lf.group_by(fields).agg(
        pl.col(SOURCE_FILE).sort_by(order).first(),
        pl.col(SOURCE_LINE).sort_by(order).first(),
        pl.len().cast(pl.Int64).alias("copies"),
    )


def _pieces(*pieces: pl.Expr) -> pl.Expr:
    """Join the pieces that are there with semicolons."""
    return pl.concat_str(list(pieces), separator="; ", ignore_nulls=True)


def _when_present(column: str, template: str) -> pl.Expr:
    return pl.when(pl.col(column).is_not_null()).then(
        pl.format(template, pl.col(column))
    )


def _code(column: str) -> pl.Expr:
    return pl.when(pl.col(column) != NOT_APPLICABLE).then(pl.col(column))


def _codes() -> pl.Expr:
    """``550 5.1.1``: the codes a record carries, without the placeholders."""
    return pl.concat_str(
        [_code("SmtpStatusCode"), _code("EnhancedSmtpStatusCode")],
        separator=" ",
        ignore_nulls=True,
    ).replace("", None)


def _send_events(send: pl.LazyFrame) -> pl.LazyFrame:
    resource = pl.col("ResourceId").cast(pl.String).str.extract(r"([^/]+)/*$")
    names = (
        "ToRecipientsCount",
        "CcRecipientsCount",
        "BccRecipientsCount",
        "UniqueRecipientsCount",
    )
    # A count the record lacks is unknown, not none; with all four missing
    # the record says nothing of its recipients.
    known = pl.any_horizontal(pl.col(name).is_not_null() for name in names)
    counts = pl.when(known).then(
        pl.format(
            "to {}, cc {}, bcc {} ({} unique)",
            *(pl.col(name).cast(pl.String).fill_null("?") for name in names),
        )
    )
    return send.select(
        "TimeGenerated",
        _MESSAGE,
        pl.col("CorrelationId").alias("message_id"),
        pl.lit(None, pl.String).alias("recipient"),
        pl.lit("send").alias("table"),
        pl.lit("sent (SendMail)").alias("event"),
        _pieces(
            _when_present("Size", "{} MB"),
            counts,
            _when_present("AttachmentsCount", "{} attachment(s)"),
            _when_present("TrafficSource", "via {}"),
            pl.when(resource.is_not_null()).then(pl.format("resource {}", resource)),
        ).alias("detail"),
        "copies",
        SOURCE_FILE,
        SOURCE_LINE,
    )


def _status_events(status: pl.LazyFrame) -> pl.LazyFrame:
    message_level = pl.col("RecipientId").is_null()
    state = pl.col("DeliveryStatus").fill_null("(blank status)")
    operation = pl.col("OperationName")
    return status.select(
        "TimeGenerated",
        _MESSAGE,
        pl.col("CorrelationId").alias("message_id"),
        pl.col("RecipientId").alias("recipient"),
        pl.lit("status").alias("table"),
        pl.when(message_level)
        .then(pl.format("message {}", state))
        .otherwise(state)
        .alias("event"),
        _pieces(
            # Most replies open with their codes; say them only when not.
            pl.when(
                ~pl.col("FailureMessage")
                .str.contains(_codes(), literal=True)
                .fill_null(False)
            ).then(_codes()),
            pl.col("FailureReason"),
            pl.col("FailureMessage"),
            _when_present("RecipientMailServerHostName", "mail server {}"),
            pl.when(operation != "DeliveryStatusUpdate").then(
                pl.format("operation {}", operation)
            ),
        ).alias("detail"),
        "copies",
        SOURCE_FILE,
        SOURCE_LINE,
    )


def _engagement_events(engagement: pl.LazyFrame) -> pl.LazyFrame:
    proxy = pl.col("UserAgent").str.contains(IMAGE_PROXY)
    return engagement.select(
        "TimeGenerated",
        _MESSAGE,
        pl.col("CorrelationId").alias("message_id"),
        pl.col("RecipientId").alias("recipient"),
        pl.lit("engagement").alias("table"),
        pl.col("EngagementType").fill_null("(blank engagement)").alias("event"),
        _pieces(
            pl.col("EngagementContext"),
            _when_present("UserAgent", "user agent {}"),
            pl.when(proxy).then(
                pl.lit("fetched by an image proxy, not necessarily opened by a person")
            ),
        ).alias("detail"),
        "copies",
        SOURCE_FILE,
        SOURCE_LINE,
    )


def human_duration(milliseconds: pl.Expr) -> pl.Expr:
    """Say a duration the way a person would: ``4.33 s``, ``15 min 5.7 s``.

    Examples
    --------
    >>> df = pl.DataFrame({"ms": [4330, 905700, 3_723_000, -1250, 0]})
    >>> df.select(human_duration(pl.col("ms")).alias("text"))["text"].to_list()
    ['4.33 s', '15 min 5.7 s', '1 h 2 min 3 s', '-1.25 s', '0 s']
    """
    size = milliseconds.abs()
    hours = size // 3_600_000
    minutes = size % 3_600_000 // 60_000
    within = size % 60_000
    seconds = (
        pl.format("{}.{}", within // 1000, (within % 1000).cast(pl.String).str.zfill(3))
        .str.strip_chars_end("0")
        .str.strip_chars_end(".")
    )
    text = (
        pl.when(hours > 0)
        .then(pl.format("{} h {} min {} s", hours, minutes, seconds))
        .when(minutes > 0)
        .then(pl.format("{} min {} s", minutes, seconds))
        .otherwise(pl.format("{} s", seconds))
    )
    return pl.when(milliseconds < 0).then(pl.lit("-") + text).otherwise(text)


def _after_send(milliseconds: pl.Expr) -> pl.Expr:
    text = human_duration(milliseconds)
    return (
        pl.when(milliseconds.is_null())
        .then(pl.lit("no send record"))
        .when(milliseconds > 0)
        .then(pl.lit("+") + text)
        .otherwise(text)
    )


def _timeline(
    send: pl.LazyFrame, status: pl.LazyFrame, engagement: pl.LazyFrame
) -> pl.LazyFrame:
    events = pl.concat(
        [_send_events(send), _status_events(status), _engagement_events(engagement)]
    )
    sent = send.group_by(_MESSAGE).agg(pl.col("TimeGenerated").min().alias(_SENT))
    since = (pl.col("TimeGenerated") - pl.col(_SENT)).dt.total_milliseconds()
    order = pl.col("table").replace_strict(_TABLE_ORDER, return_dtype=pl.Int8)
    return (
        events.join(sent, on=_MESSAGE, how="left")
        .with_columns(
            pl.col("TimeGenerated").alias("time"),
            _after_send(since).alias("after_send"),
            (since / 1000).alias("seconds_after_send"),
            pl.col(SOURCE_FILE).cast(pl.String).alias("file"),
            pl.col(SOURCE_LINE).alias("line"),
        )
        .sort(
            [pl.col("time"), order, pl.col("recipient"), pl.col("file"), "line"],
            nulls_last=False,
        )
        .select(TIMELINE_COLUMNS)
    )


def _reason() -> pl.Expr:
    """ACS's short reason, or the code's explanation, as a clause."""
    explanation = pl.coalesce(
        pl.when(pl.col("EnhancedSmtpStatusCode") != NOT_APPLICABLE).then(
            pl.col("EnhancedSmtpStatusCodeDetails")
        ),
        pl.col("SmtpStatusCodeDetails"),
    )
    # The code tables open with the class ("Permanent failure: ..."), which
    # the verdict already says in its own words.
    explained = explanation.str.replace(r"^[^:]*failure[^:]*:\s*", "")
    # Without a code the explanation says only that there was none.
    explained = pl.when(_codes().is_not_null()).then(explained.str.strip_chars(". "))
    reason = pl.coalesce(pl.col("FailureReason"), explained)
    return pl.concat_str(reason.str.slice(0, 1).str.to_lowercase(), reason.str.slice(1))


def _verdict() -> pl.Expr:
    status = pl.col("FinalDeliveryStatus")
    completeness = pl.col("Completeness")
    milliseconds = pl.col("DurationMilliseconds")
    host = pl.col("RecipientMailServerHostName")
    delivered = pl.concat_str(
        pl.lit("delivered"),
        pl.when(host.is_not_null()).then(pl.format(" to {}", host)),
        pl.when(completeness == "no-send-record").then(
            pl.lit(" (no send record, so no duration)")
        ),
        pl.when(completeness == "clock-skew").then(
            pl.format(
                "; its status is stamped {} before the send (clock skew)",
                human_duration(-milliseconds),
            )
        ),
        pl.when(completeness == "complete").then(
            pl.format(" after {}", human_duration(milliseconds))
        ),
        ignore_nulls=True,
    )
    retryable = pl.col("Retryable")
    permanence = (
        pl.when(~status.is_in(["Bounced", "Failed"]))
        .then(None)
        .when(retryable)
        .then(pl.lit(" temporarily"))
        .when(~retryable)
        .then(pl.lit(" permanently"))
    )
    words = status.replace_strict(_STATUS_WORDS, default=status, return_dtype=pl.String)
    undelivered = pl.concat_str(
        words,
        permanence,
        pl.format(": {}", _reason()),
        pl.format(" ({})", _codes()),
        ignore_nulls=True,
    )
    return (
        pl.when(status.is_null())
        .then(pl.lit(_PENDING))
        .when(status == "Delivered")
        .then(delivered)
        .otherwise(undelivered)
    )


def _final_verdicts(rows: pl.LazyFrame) -> pl.LazyFrame:
    return rows.select(
        _MESSAGE,
        pl.col("MessageId").alias("message_id"),
        pl.col("RecipientId").alias("recipient"),
        pl.col("FinalDeliveryStatus").alias("status"),
        _verdict().alias("verdict"),
        pl.col("FinalStatusTime").alias("final_status_time"),
        pl.when(pl.col("Completeness") != "no-final-status")
        .then(_after_send(pl.col("DurationMilliseconds")))
        .alias("after_send"),
        pl.col("DurationSeconds").alias("seconds_after_send"),
        pl.col("Completeness").alias("completeness"),
        pl.col("BounceType").alias("bounce_type"),
        _code("SmtpStatusCode").alias("smtp_code"),
        pl.col("SmtpStatusCodeDetails").alias("smtp_code_details"),
        _code("EnhancedSmtpStatusCode").alias("enhanced_code"),
        pl.col("EnhancedSmtpStatusCodeDetails").alias("enhanced_code_details"),
        pl.col("FailureCategory").alias("failure_category"),
        pl.col("Retryable").alias("retryable"),
        pl.col("ClassifiedBy").alias("classified_by"),
        pl.col("FailureReason").alias("failure_reason"),
        pl.col("RecipientMailServerHostName").alias("mail_server"),
    )


def _unfinished(status: pl.LazyFrame) -> pl.LazyFrame:
    """Recipients whose statuses never became final (a list that was expanded)."""
    recipient_level = status.filter(pl.col("RecipientId").is_not_null())
    latest = pl.col("DeliveryStatus").sort_by("TimeGenerated").last()
    key = _folded("RecipientId").alias("_recipient")
    per_recipient = recipient_level.group_by(_MESSAGE, key).agg(
        pl.col("CorrelationId").first().alias("message_id"),
        pl.col("RecipientId").first().alias("recipient"),
        latest.alias("_latest"),
        pl.col("DeliveryStatus").is_in(TERMINAL_STATUSES).any().alias("_final"),
    )
    verdict = (
        pl.when(pl.col("_latest") == "Expanded")
        .then(pl.lit("expanded as a distribution list; its members have their own"))
        .otherwise(pl.format("no final status (latest: {})", pl.col("_latest")))
    )
    return per_recipient.filter(~pl.col("_final")).select(
        _MESSAGE,
        "message_id",
        "recipient",
        pl.col("_latest").alias("status"),
        verdict.alias("verdict"),
        pl.lit("no-final-status").alias("completeness"),
    )


def trace(
    tables: Tables,
    deliveries: Deliveries,
    identifier: str,
    redactor: Redactor | None = None,
) -> Trace:
    """Find every record about one message or recipient, and its final verdicts.

    Parameters
    ----------
    tables
        The canonical tables.
    deliveries
        The deliveries built from them with pending messages included.
    identifier
        A message id, an InternetMessageId (angle brackets optional) or a
        recipient address; case does not matter.
    redactor
        The redactor the tables were pseudonymised with, if they were. The
        identifier is then found by its real value or by its pseudonym.

    Returns
    -------
    Trace
        ``timeline``: one row per distinct record, oldest first, with the time
        since the message's earliest send and how many copies the export held.
        ``recipients``: one row per recipient with a verdict in plain words and
        the explanation of its codes. Both are empty when nothing matches.
    """
    matches = _matches(tables, identifier, redactor)
    send = _distinct(_of_matches(tables.send, matches, "CorrelationId"))
    status = _distinct(_of_matches(tables.status, matches, "CorrelationId"))
    engagement = _distinct(_of_matches(tables.engagement, matches, "CorrelationId"))
    timeline = _timeline(send, status, engagement)

    rows = _of_matches(deliveries.rows, matches, "MessageId")
    verdicts = pl.concat(
        [_final_verdicts(rows), _unfinished(status)], how="diagonal_relaxed"
    )
    first_seen = timeline.group_by(_folded("message_id").alias(_MESSAGE)).agg(
        pl.col("time").min().alias("_first")
    )
    recipients = (
        verdicts.join(first_seen, on=_MESSAGE, how="left")
        .sort(["_first", _MESSAGE, "recipient"], nulls_last=True)
        .select(RECIPIENT_COLUMNS)
    )
    return Trace(timeline=timeline, recipients=recipients)


def _explanation() -> pl.Expr:
    """The explanation of the most specific code of an undelivered recipient."""
    return (
        pl.when(pl.col("status").is_not_null() & (pl.col("status") != "Delivered"))
        .then(
            pl.coalesce(
                pl.when(pl.col("enhanced_code").is_not_null()).then(
                    pl.col("enhanced_code_details")
                ),
                pl.when(pl.col("smtp_code").is_not_null()).then(
                    pl.col("smtp_code_details")
                ),
            )
        )
        .alias("explanation")
    )


def for_reading(
    timeline: pl.DataFrame, recipients: pl.DataFrame
) -> dict[str, pl.DataFrame]:
    """The collected trace as a person reads it in a terminal.

    Times keep their milliseconds (statuses of one message are often less
    than a second apart); the long provenance and the numbers the text already
    says are left out, and the sections are keyed by their titles.
    """
    readable = timeline.with_columns(
        pl.col("time").dt.to_string("%Y-%m-%d %H:%M:%S%.3f"),
        pl.when(pl.col("copies") > 1)
        .then(pl.format("{} ({} copies in the export)", "detail", "copies"))
        .otherwise(pl.col("detail"))
        .alias("detail"),
    )
    return {
        TITLES["timeline"]: readable.select(_READING["timeline"]),
        TITLES["recipients"]: recipients.with_columns(_explanation()).select(
            _READING["recipients"]
        ),
    }
