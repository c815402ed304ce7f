"""What the benchmark targets share: where each table's files are, which columns
they read, the spec's constants, and the summary every target's output is
reduced to so the outputs can be compared.

Each target runs in its own process and imports only this module and its own
engine, so nothing here imports acsmail.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any, Final

from acsmail.schema import DELIVERIES_COLUMNS

if TYPE_CHECKING:
    from pathlib import Path

SEND: Final = "ACSEmailSendMailOperational"
STATUS: Final = "ACSEmailStatusUpdateOperational"
ENGAGEMENT: Final = "ACSEmailUserEngagementOperational"
TABLES: Final = (SEND, STATUS, ENGAGEMENT)

# The canonical columns of each table (acsmail/schema.py) under their Log
# Analytics names; exact duplicates are judged on these, as acsmail does.
COLUMNS: Final = {
    SEND: (
        "TimeGenerated",
        "CorrelationId",
        "_ResourceId",
        "OperationName",
        "Size",
        "AttachmentsCount",
        "ToRecipientsCount",
        "CcRecipientsCount",
        "BccRecipientsCount",
        "UniqueRecipientsCount",
        "TrafficSource",
    ),
    STATUS: (
        "TimeGenerated",
        "CorrelationId",
        "_ResourceId",
        "OperationName",
        "RecipientId",
        "DeliveryStatus",
        "SmtpStatusCode",
        "EnhancedSmtpStatusCode",
        "SenderUsername",
        "SenderDomain",
        "FailureReason",
        "FailureMessage",
        "IsHardBounce",
        "RecipientMailServerHostName",
        "InternetMessageId",
    ),
    ENGAGEMENT: (
        "TimeGenerated",
        "CorrelationId",
        "_ResourceId",
        "OperationName",
        "RecipientId",
        "EngagementType",
        "EngagementContext",
        "UserAgent",
        "InternetMessageId",
    ),
}
NUMBERS: Final = {
    "Size": "float",
    "AttachmentsCount": "int",
    "ToRecipientsCount": "int",
    "CcRecipientsCount": "int",
    "BccRecipientsCount": "int",
    "UniqueRecipientsCount": "int",
}

TERMINAL: Final = (
    "Delivered",
    "Failed",
    "Bounced",
    "Suppressed",
    "Quarantined",
    "FilteredSpam",
)
# acsmail breaks a tie for the latest status in favour of the worse outcome.
TIE_RANK: Final = {
    "Bounced": 0,
    "Failed": 1,
    "Suppressed": 2,
    "Quarantined": 3,
    "FilteredSpam": 4,
    "Delivered": 5,
}
SIZE_CATEGORIES: Final = (
    (0.1, "Tiny (<100KB)"),
    (1.0, "Small (100KB-1MB)"),
    (5.0, "Medium (1-5MB)"),
    (10.0, "Large (5-10MB)"),
)
LARGEST: Final = "Very Large (>10MB)"
NOT_APPLICABLE: Final = "<not applicable>"
PERCENTILES: Final = (("p50", 0.50), ("p90", 0.90), ("p95", 0.95), ("p99", 0.99))

#: The portal writes datetimes as browser-locale text (US order here).
CSV_TIME: Final = "%m/%d/%Y, %I:%M:%S.%f %p"

#: The deliveries columns the DuckDB and pandas versions produce: acsmail's,
#: less the code explanations and failure categories, which need its tables.
DELIVERIES: Final = (
    *(column for column in DELIVERIES_COLUMNS if not column.endswith("Details")),
    "Completeness",
)


def source_name(column: str, form: str) -> str:
    """How a form's files name a Log Analytics column."""
    if form == "csv" and column == "TimeGenerated":
        return "TimeGenerated [UTC]"
    return column


def table_files(data: Path, form: str, table: str) -> list[Path]:
    """The files of one table in a generated export of the given form."""
    if form == "ndjson":
        return sorted((data / f"am-{table.lower()}").rglob("*.json"))
    if form == "csv":
        return [data / f"{table}.csv"]
    if form == "parquet":
        return [data / f"{table}.parquet"]
    msg = f"the benchmark targets read ndjson, csv or parquet, not {form}"
    raise SystemExit(msg)


def nearest_rank(sorted_values: list[float], fraction: float) -> float | None:
    """The value at rank ceil(p * n) of sorted data, as acsmail's report takes it."""
    if not sorted_values:
        return None
    rank = max(math.ceil(len(sorted_values) * fraction) - 1, 0)
    return sorted_values[rank]


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=1, sort_keys=True, default=str) + "\n")


def report_summary(
    *,
    overview: dict[str, int],
    statuses: dict[str, int],
    domains: dict[str, list[int]],
    latency: dict[str, float | None],
) -> dict[str, Any]:
    """The figures of a report that every implementation must agree on.

    ``overview`` holds recipients_final, pending_messages, no_send_record and
    clock_skew; ``domains`` maps a domain to [total, delivered, bounced, failed];
    ``latency`` holds delivered, p50, p90, p95, p99 and max in seconds.
    """
    rounded = {
        name: None if value is None else round(float(value), 3)
        for name, value in latency.items()
    }
    rounded["delivered"] = int(latency["delivered"] or 0)
    return {
        "overview": {name: int(value) for name, value in overview.items()},
        "statuses": {name: int(value) for name, value in sorted(statuses.items())},
        "domains": {
            str(name): [int(v) for v in values]
            for name, values in sorted(domains.items(), key=lambda kv: str(kv[0]))
        },
        "latency": rounded,
    }
