"""The spec's default semantics (sections 3 and 4) in DuckDB SQL.

Same files, same rules as acsmail's default mode: exact duplicates merged, the
earliest of several sends kept, the final status being the latest terminal
recipient-level status per (message, recipient, resource) with acsmail's
tie-break, a full outer join that says in ``Completeness`` which case each row
is, durations, domains, size categories and bounce types. What it leaves out:
acsmail's code explanations and failure categories, which need its code tables
(a plain regular expression fills missing codes from the reply text instead).

Usage: python benchmarks/duckdb_semantics.py JOB FORM DATA_DIR OUTPUT
JOB is ``deliveries`` (the dataset as Parquet) or ``report`` (figures as JSON).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import duckdb
from common import (
    COLUMNS,
    DELIVERIES,
    ENGAGEMENT,
    LARGEST,
    NOT_APPLICABLE,
    NUMBERS,
    PERCENTILES,
    SEND,
    SIZE_CATEGORIES,
    STATUS,
    TERMINAL,
    TIE_RANK,
    report_summary,
    source_name,
    table_files,
    write_json,
)

_TYPES = {"float": "DOUBLE", "int": "BIGINT"}


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _reader(data: Path, form: str, table: str) -> str:
    files = "[" + ", ".join(_quoted(str(p)) for p in table_files(data, form, table))
    files += "]"
    if form == "ndjson":
        columns = ", ".join(
            f"{_quoted(c)}: {_quoted(_TYPES.get(NUMBERS.get(c, ''), 'VARCHAR'))}"
            for c in COLUMNS[table]
        )
        return f"read_json({files}, format='newline_delimited', columns={{{columns}}})"
    if form == "csv":
        return f"read_csv({files}, header=true, all_varchar=true)"
    return f"read_parquet({files})"


def _time(form: str) -> str:
    if form == "csv":
        column = _identifier(source_name("TimeGenerated", form))
        return f"strptime({column}, '%m/%d/%Y, %I:%M:%S.%g %p')"
    return "CAST(TimeGenerated AS TIMESTAMP)"


#: Read without the padding around them, as acsmail does.
_TRIMMED = ("CorrelationId", "RecipientId", "DeliveryStatus")


def _canonical(data: Path, form: str, table: str) -> str:
    """SELECT DISTINCT of one table's canonical columns, blanks as NULL."""
    values = [f"{_time(form)} AS TimeGenerated"]
    for column in COLUMNS[table][1:]:
        name = _identifier(column)
        target = "ResourceId" if column == "_ResourceId" else column
        if column in NUMBERS:
            value = f"TRY_CAST({name} AS {_TYPES[NUMBERS[column]]})"
        elif column == "IsHardBounce":
            folded = f"lower(trim({name}))"
            value = (
                f"CASE WHEN {folded} IN ('true', '1', 'yes') THEN true "
                f"WHEN {folded} IN ('false', '0', 'no') THEN false END"
            )
        elif column in _TRIMMED:
            value = f"NULLIF(trim({name}), '')"
        else:
            value = f"CASE WHEN trim({name}) = '' THEN NULL ELSE {name} END"
            if column == "_ResourceId":
                value = f"lower({value})"
        values.append(f"{value} AS {target}")
    if table == ENGAGEMENT:
        values = [v for v in values if not v.endswith(" AS EngagementType")]
        values.append(
            "CASE lower(EngagementType) WHEN 'view' THEN 'View' "
            "WHEN 'click' THEN 'Click' ELSE NULLIF(trim(EngagementType), '') "
            "END AS EngagementType"
        )
    return f"SELECT DISTINCT {', '.join(values)} FROM {_reader(data, form, table)}"


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(_quoted(v) for v in values) + ")"


def build(con: duckdb.DuckDBPyConnection, data: Path, form: str) -> None:
    """Create the temporary table ``deliveries`` (pending messages included)."""
    con.execute("SET TimeZone = 'UTC'")
    for name, table in (("send", SEND), ("status", STATUS), ("engagement", ENGAGEMENT)):
        con.execute(f"CREATE TEMP TABLE {name} AS {_canonical(data, form, table)}")
    rank = " ".join(f"WHEN {_quoted(s)} THEN {r}" for s, r in TIE_RANK.items())
    con.execute(
        f"""
        CREATE TEMP TABLE final AS
        SELECT * FROM status
        WHERE RecipientId IS NOT NULL AND DeliveryStatus IN {_in(TERMINAL)}
        QUALIFY row_number() OVER (
            PARTITION BY CorrelationId, RecipientId, ResourceId
            ORDER BY TimeGenerated DESC, CASE DeliveryStatus {rank} END,
                SmtpStatusCode NULLS LAST, EnhancedSmtpStatusCode NULLS LAST,
                FailureMessage NULLS LAST
        ) = 1
        """
    )
    con.execute(
        """
        CREATE TEMP TABLE first_send AS
        SELECT * FROM send
        QUALIFY row_number() OVER (
            PARTITION BY CorrelationId, ResourceId ORDER BY TimeGenerated
        ) = 1
        """
    )
    con.execute(f"CREATE TEMP TABLE deliveries AS {_deliveries_sql()}")


def _deliveries_sql() -> str:
    size = "CASE WHEN MessageSize IS NULL THEN NULL"
    for bound, label in SIZE_CATEGORIES:
        size += f" WHEN MessageSize < {bound} THEN {_quoted(label)}"
    size += f" ELSE {_quoted(LARGEST)} END"
    enhanced = r"(?:^|[^0-9.])([245]\.[0-9]{1,3}\.[0-9]{1,3})(?:[^0-9.]|$)"
    return f"""
    WITH joined AS (
        SELECT
            coalesce(f.CorrelationId, s.CorrelationId) AS MessageId,
            f.InternetMessageId, f.RecipientId, f.SenderUsername, f.SenderDomain,
            f.DeliveryStatus AS FinalDeliveryStatus, f.IsHardBounce,
            s.TimeGenerated AS SendTime, f.TimeGenerated AS FinalStatusTime,
            s.Size AS MessageSize, s.AttachmentsCount, s.ToRecipientsCount,
            s.CcRecipientsCount, s.BccRecipientsCount, s.UniqueRecipientsCount,
            coalesce(f.SmtpStatusCode, NULLIF(regexp_extract(
                f.FailureMessage, '^\\s*([2-5][0-9][0-9])(?:[ -]|$)', 1), ''))
                AS SmtpStatusCode,
            coalesce(f.EnhancedSmtpStatusCode, NULLIF(regexp_extract(
                f.FailureMessage, '{enhanced}', 1), '')) AS EnhancedSmtpStatusCode,
            f.FailureReason, f.FailureMessage, f.RecipientMailServerHostName,
            coalesce(f.ResourceId, s.ResourceId) AS ResourceId,
            CASE
                WHEN s.CorrelationId IS NULL THEN 'no-send-record'
                WHEN f.CorrelationId IS NULL THEN 'no-final-status'
                WHEN f.TimeGenerated < s.TimeGenerated THEN 'clock-skew'
                ELSE 'complete'
            END AS Completeness
        FROM final AS f
        FULL OUTER JOIN first_send AS s
            ON f.CorrelationId = s.CorrelationId
            AND f.ResourceId IS NOT DISTINCT FROM s.ResourceId
    ),
    timed AS (
        SELECT *,
            (epoch_us(FinalStatusTime) - epoch_us(SendTime)) // 1000
                AS DurationMilliseconds
        FROM joined
    )
    SELECT * REPLACE (
            CASE WHEN FinalDeliveryStatus = 'Delivered' AND SmtpStatusCode IS NULL
                THEN {_quoted(NOT_APPLICABLE)} ELSE SmtpStatusCode END
                AS SmtpStatusCode,
            CASE WHEN FinalDeliveryStatus = 'Delivered'
                AND EnhancedSmtpStatusCode IS NULL
                THEN {_quoted(NOT_APPLICABLE)} ELSE EnhancedSmtpStatusCode END
                AS EnhancedSmtpStatusCode
        ),
        round(DurationMilliseconds / 1000, 3) AS DurationSeconds,
        lower(NULLIF(regexp_extract(RecipientId, '^[^@]*@(.+)$', 1), ''))
            AS RecipientDomain,
        {size} AS MessageSizeCategory,
        CASE
            WHEN FinalDeliveryStatus IS NULL THEN NULL
            WHEN FinalDeliveryStatus = 'Delivered' THEN 'Not Applicable'
            WHEN IsHardBounce THEN 'Hard Bounce'
            WHEN NOT IsHardBounce THEN 'Soft Bounce'
            WHEN FinalDeliveryStatus IN ('Bounced', 'Failed')
                THEN 'Unknown (not populated)'
            ELSE 'Unknown'
        END AS BounceType
    FROM timed
    """


def write_deliveries(con: duckdb.DuckDBPyConnection, output: Path) -> None:
    columns = ", ".join(DELIVERIES)
    con.execute(
        f"""
        COPY (
            SELECT {columns} FROM deliveries
            WHERE Completeness <> 'no-final-status'
            ORDER BY SendTime DESC NULLS LAST, FinalStatusTime DESC NULLS LAST,
                MessageId, RecipientId
        ) TO {_quoted(str(output))} (FORMAT parquet)
        """
    )


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _latency_columns() -> str:
    seconds = "list_sort(list(DurationSeconds))"
    parts = ["count(*) AS delivered"]
    for name, fraction in PERCENTILES:
        rank = f"greatest(1, ceil(count(*) * {fraction}))::BIGINT"
        parts.append(f"{seconds}[{rank}] AS {name}")
    parts.append("max(DurationSeconds) AS max")
    return ", ".join(parts)


def report(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The report's figures, computed from ``deliveries``."""
    final = "FROM deliveries WHERE Completeness <> 'no-final-status'"
    delivered = (
        "FROM deliveries WHERE FinalDeliveryStatus = 'Delivered' "
        "AND Completeness = 'complete'"
    )
    overview = _rows(
        con,
        """
        SELECT
            count(*) FILTER (Completeness <> 'no-final-status') AS recipients_final,
            count(*) FILTER (Completeness = 'no-final-status') AS pending_messages,
            count(*) FILTER (Completeness = 'no-send-record') AS no_send_record,
            count(*) FILTER (Completeness = 'clock-skew') AS clock_skew
        FROM deliveries
        """,
    )[0]
    statuses = _rows(
        con, f"SELECT FinalDeliveryStatus AS s, count(*) AS n {final} GROUP BY 1"
    )
    domains = _rows(
        con,
        f"""
        SELECT RecipientDomain AS d, count(*) AS total,
            count(*) FILTER (FinalDeliveryStatus = 'Delivered') AS delivered,
            count(*) FILTER (FinalDeliveryStatus = 'Bounced') AS bounced,
            count(*) FILTER (FinalDeliveryStatus = 'Failed') AS failed
        {final} GROUP BY 1
        """,
    )
    latency = _rows(con, f"SELECT {_latency_columns()} {delivered}")[0]
    sections = {
        "latency_per_domain": _rows(
            con,
            f"SELECT RecipientDomain AS scope, {_latency_columns()} {delivered} "
            "GROUP BY 1 ORDER BY delivered DESC, scope",
        ),
        "bounce_types": _rows(
            con, f"SELECT BounceType, count(*) AS n {final} GROUP BY 1 ORDER BY 2 DESC"
        ),
        "senders": _rows(
            con,
            f"""
            SELECT coalesce(SenderUsername, '') || '@' || SenderDomain AS sender,
                count(*) AS total,
                count(*) FILTER (FinalDeliveryStatus = 'Bounced') AS bounced
            {final} GROUP BY 1 ORDER BY total DESC, sender
            """,
        ),
        "sizes": _rows(
            con,
            f"SELECT MessageSizeCategory, count(DISTINCT MessageId) AS messages, "
            f"count(*) AS recipients {final} GROUP BY 1",
        ),
        "hours": _rows(
            con,
            f"""
            SELECT date_trunc('hour', SendTime) AS hour,
                count(DISTINCT MessageId) AS sends, count(*) AS recipients,
                avg(DurationSeconds) FILTER (
                    FinalDeliveryStatus = 'Delivered' AND Completeness = 'complete'
                ) AS mean_latency
            {final} AND SendTime IS NOT NULL GROUP BY 1 ORDER BY 1
            """,
        ),
        "engagement": _rows(
            con,
            f"""
            WITH events AS (
                SELECT CorrelationId AS MessageId, RecipientId,
                    count(*) FILTER (EngagementType = 'View') AS views,
                    count(*) FILTER (EngagementType = 'Click') AS clicks
                FROM engagement WHERE RecipientId IS NOT NULL GROUP BY 1, 2
            )
            SELECT d.RecipientDomain AS domain, count(*) AS delivered,
                sum(views) AS views, sum(clicks) AS clicks
            FROM (SELECT MessageId, RecipientId, RecipientDomain {final}
                  AND FinalDeliveryStatus = 'Delivered') AS d
            LEFT JOIN events USING (MessageId, RecipientId)
            GROUP BY 1 HAVING sum(views) + sum(clicks) > 0 ORDER BY views DESC
            """,
        ),
    }
    summary = report_summary(
        overview=overview,
        statuses={row["s"]: row["n"] for row in statuses},
        domains={
            row["d"]: [row["total"], row["delivered"], row["bounced"], row["failed"]]
            for row in domains
        },
        latency=latency,
    )
    return {"summary": summary, "sections": sections}


def main() -> None:
    job, form, data, output = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4]
    con = duckdb.connect()
    build(con, data, form)
    if job == "deliveries":
        write_deliveries(con, Path(output))
    else:
        write_json(Path(output), report(con))


if __name__ == "__main__":
    main()
