"""The canonical tables: column names, their types, and how sources spell them.

Every reader produces, for each record, the columns below under these names and
with these types; everything after the readers relies on nothing else.
"""

from __future__ import annotations

import re
from typing import Final

import polars as pl

__all__ = [
    "BY_MESSAGE",
    "DELIVERIES_COLUMNS",
    "DELIVERY_STATUSES",
    "ENGAGEMENT",
    "ENGAGEMENT_TYPES",
    "EXTRA_COLUMNS",
    "GENERATED_FORMS",
    "MESSAGE_LEVEL_STATUSES",
    "NULLABLE_LATE_COLUMNS",
    "SEND",
    "SIGNAL_COLUMNS",
    "STATUS",
    "TABLES",
    "TERMINAL_STATUSES",
    "TIME",
    "Table",
    "canonical_name",
    "local_time_column",
    "table_named",
]

TIME: Final = pl.Datetime("us", "UTC")

#: Internal columns every reader adds: where the record came from.
#: The export forms that ``acsmail generate`` writes. They are named here, not
#: in the generator, so that the command line need not load the generator
#: (and numpy with it) to offer them.
GENERATED_FORMS: Final = ("ndjson", "csv", "json", "archive", "api", "parquet")

SOURCE_FILE: Final = "_file"
SOURCE_LINE: Final = "_line"


class Table:
    """One ACS Email log table and the canonical schema of its rows.

    Parameters
    ----------
    name
        The Log Analytics table name, e.g. ``ACSEmailSendMailOperational``.
    category
        The diagnostic-settings category, e.g. ``EmailSendMailOperational``.
    operations
        Operation names that belong to the table.
    schema
        Canonical column names and types, in output order.
    """

    def __init__(
        self,
        name: str,
        category: str,
        operations: tuple[str, ...],
        schema: dict[str, pl.DataType],
    ) -> None:
        self.name = name
        self.category = category
        self.operations = operations
        self.schema = schema
        self.key = category.removeprefix("Email").removesuffix("Operational").lower()

    def __repr__(self) -> str:
        return f"Table({self.name!r})"


_COMMON: dict[str, pl.DataType] = {
    "TimeGenerated": TIME,
    "CorrelationId": pl.String(),
    "ResourceId": pl.String(),
    "OperationName": pl.String(),
}

SEND: Final = Table(
    "ACSEmailSendMailOperational",
    "EmailSendMailOperational",
    ("SendMail",),
    {
        **_COMMON,
        "Size": pl.Float64(),
        "AttachmentsCount": pl.Int64(),
        "ToRecipientsCount": pl.Int64(),
        "CcRecipientsCount": pl.Int64(),
        "BccRecipientsCount": pl.Int64(),
        "UniqueRecipientsCount": pl.Int64(),
        "TrafficSource": pl.String(),
    },
)

STATUS: Final = Table(
    "ACSEmailStatusUpdateOperational",
    "EmailStatusUpdateOperational",
    ("DeliveryStatusUpdate", "GetMessageStatus"),
    {
        **_COMMON,
        "RecipientId": pl.String(),
        "DeliveryStatus": pl.String(),
        "SmtpStatusCode": pl.String(),
        "EnhancedSmtpStatusCode": pl.String(),
        "SenderUsername": pl.String(),
        "SenderDomain": pl.String(),
        "FailureReason": pl.String(),
        "FailureMessage": pl.String(),
        "IsHardBounce": pl.Boolean(),
        "RecipientMailServerHostName": pl.String(),
        "InternetMessageId": pl.String(),
    },
)

ENGAGEMENT: Final = Table(
    "ACSEmailUserEngagementOperational",
    "EmailUserEngagementOperational",
    ("UserEngagementUpdate",),
    {
        **_COMMON,
        "RecipientId": pl.String(),
        "EngagementType": pl.String(),
        "EngagementContext": pl.String(),
        "UserAgent": pl.String(),
        "InternetMessageId": pl.String(),
    },
)

TABLES: Final = (SEND, STATUS, ENGAGEMENT)

#: Columns that older exports lack; a missing one becomes a null column.
NULLABLE_LATE_COLUMNS: Final = frozenset(
    {
        "FailureReason",
        "FailureMessage",
        "TrafficSource",
        "RecipientMailServerHostName",
        "InternetMessageId",
        "IsHardBounce",
        "SmtpStatusCode",
        "EnhancedSmtpStatusCode",
        "SenderUsername",
        "SenderDomain",
        "ResourceId",
        "EngagementContext",
        "UserAgent",
        "OperationName",
    }
)

TERMINAL_STATUSES: Final = (
    "Delivered",
    "Failed",
    "Bounced",
    "Suppressed",
    "Quarantined",
    "FilteredSpam",
)
MESSAGE_LEVEL_STATUSES: Final = ("OutForDelivery", "Queued", "Dropped")
DELIVERY_STATUSES: Final = (*TERMINAL_STATUSES, "Expanded", *MESSAGE_LEVEL_STATUSES)
ENGAGEMENT_TYPES: Final = ("View", "Click")

#: The deliveries dataset of the reference query, in its order (spec section 3).
DELIVERIES_COLUMNS: Final = (
    "MessageId",
    "InternetMessageId",
    "RecipientId",
    "RecipientDomain",
    "SenderUsername",
    "SenderDomain",
    "FinalDeliveryStatus",
    "BounceType",
    "SendTime",
    "FinalStatusTime",
    "DurationSeconds",
    "DurationMilliseconds",
    "MessageSize",
    "MessageSizeCategory",
    "AttachmentsCount",
    "ToRecipientsCount",
    "CcRecipientsCount",
    "BccRecipientsCount",
    "UniqueRecipientsCount",
    "SmtpStatusCode",
    "SmtpStatusCodeDetails",
    "EnhancedSmtpStatusCode",
    "EnhancedSmtpStatusCodeDetails",
    "FailureReason",
    "FailureMessage",
    "RecipientMailServerHostName",
    "ResourceId",
)

#: What the default mode adds after the reference columns (spec section 4).
EXTRA_COLUMNS: Final = ("Completeness", "FailureCategory", "Retryable", "ClassifiedBy")


def table_named(text: str) -> Table | None:
    """Return the table a table name, category or operation names, if any.

    Examples
    --------
    >>> table_named("acsemailsendmailoperational")
    Table('ACSEmailSendMailOperational')
    >>> table_named("EmailStatusUpdateOperational")
    Table('ACSEmailStatusUpdateOperational')
    """
    folded = text.strip().lower()
    for table in TABLES:
        names = (table.name, table.category, *table.operations)
        if folded in {name.lower() for name in names}:
            return table
    return None


#: Source spellings that are not simply the canonical name in another case.
_ALIASES: Final = {
    "time": "TimeGenerated",
    "timegenerated": "TimeGenerated",
    "_resourceid": "ResourceId",
    "resourceid": "ResourceId",
    "correlationid": "CorrelationId",
    "operationtype": "OperationName",
    "category": "Category",
    "operationcategory": "Category",
    "type": "Type",
    "tablename": "TableName",
}

#: Columns read only to tell which table a record belongs to.
SIGNAL_COLUMNS: Final = ("Type", "TableName", "Category")
#: The key a table that ``convert`` wrote carries in its Parquet metadata
#: when its records met their messages by CorrelationId alone (some input
#: files had no resource column).
BY_MESSAGE: Final = "acsmail.matched_by_message"

_CANONICAL: Final = {
    name.lower(): name for table in TABLES for name in table.schema
} | _ALIASES


#: The portal writes the time zone of a datetime column after its name.
_ZONE: Final = re.compile(r"\s*\[[^\]]*\]\s*$")


def local_time_column(column: str) -> bool:
    """Whether a column's name says its times are not UTC (the portal's local view).

    Examples
    --------
    >>> local_time_column("TimeGenerated [Local Time]")
    True
    >>> local_time_column("TimeGenerated [UTC]")
    False
    """
    zone = _ZONE.search(column.strip().strip('"'))
    return zone is not None and zone.group().strip(" []").upper() != "UTC"


def canonical_name(column: str) -> str | None:
    """Return the canonical name of a source column, or None when acsmail ignores it.

    Names match case-insensitively once a time zone suffix (`` [UTC]``,
    `` [Local Time]``), a ``properties.`` prefix and a byte-order mark are
    stripped.

    Examples
    --------
    >>> canonical_name("TimeGenerated [UTC]")
    'TimeGenerated'
    >>> canonical_name("_ResourceId")
    'ResourceId'
    >>> canonical_name("TenantId") is None
    True
    """
    name = column.strip().lstrip("\ufeff").strip().strip('"')
    name = _ZONE.sub("", name)
    name = name.removeprefix("properties.").removeprefix("properties_")
    return _CANONICAL.get(name.lower())
