"""The spec's default semantics (sections 3 and 4) in plain, idiomatic pandas.

The rules are those of ``duckdb_semantics.py``, written the way a pandas user
would: read each file keeping the columns needed, ``drop_duplicates`` for exact
duplicates, sort and keep the first row per key for the earliest send and the
final status, an outer ``merge`` with ``indicator`` for the completeness cases.

Usage: python benchmarks/pandas_semantics.py JOB FORM DATA_DIR OUTPUT
JOB is ``deliveries`` (the dataset as Parquet) or ``report`` (figures as JSON).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from common import (
    COLUMNS,
    CSV_TIME,
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
    nearest_rank,
    report_summary,
    source_name,
    table_files,
    write_json,
)


def _read(data: Path, form: str, table: str) -> pd.DataFrame:
    columns = list(COLUMNS[table])
    names = [source_name(column, form) for column in columns]
    frames = []
    for path in table_files(data, form, table):
        if form == "ndjson":
            frame = pd.read_json(path, lines=True, engine="pyarrow")[names]
        elif form == "csv":
            frame = pd.read_csv(path, usecols=names, dtype=str, keep_default_na=False)
        else:
            frame = pd.read_parquet(path, columns=names)
        frames.append(frame)
    df = pd.concat(frames, ignore_index=True).rename(
        columns={"TimeGenerated [UTC]": "TimeGenerated", "_ResourceId": "ResourceId"}
    )
    return _normalise(df, form)


def _normalise(df: pd.DataFrame, form: str) -> pd.DataFrame:
    """Types and blanks as acsmail's canonical tables have them."""
    if form == "csv":
        time = pd.to_datetime(df["TimeGenerated"], format=CSV_TIME, utc=True)
    else:
        time = pd.to_datetime(df["TimeGenerated"], format="ISO8601", utc=True)
    # acsmail keeps microseconds; the seventh digit is dropped, not rounded.
    df["TimeGenerated"] = time.dt.floor("us")
    for column in df.columns:
        if column in NUMBERS:
            df[column] = pd.to_numeric(df[column], errors="coerce")
        elif column == "IsHardBounce":
            folded = df[column].astype(str).str.strip().str.lower()
            df[column] = folded.map(
                {"true": True, "1": True, "yes": True, "false": False, "0": False}
                | {"no": False}
            ).astype("boolean")
        elif column in ("CorrelationId", "RecipientId", "DeliveryStatus"):
            # Read without the padding around them, as acsmail does.
            text = df[column].astype("string").str.strip()
            df[column] = text.mask(text == "")
        elif column != "TimeGenerated":
            text = df[column].astype("string")
            df[column] = text.mask(text.str.strip() == "")
    df["ResourceId"] = df["ResourceId"].str.lower()
    return df.drop_duplicates()


def _final_statuses(status: pd.DataFrame) -> pd.DataFrame:
    terminal = status[
        status["RecipientId"].notna() & status["DeliveryStatus"].isin(TERMINAL)
    ].copy()
    terminal["rank"] = terminal["DeliveryStatus"].map(TIE_RANK)
    order = [
        "TimeGenerated",
        "rank",
        "SmtpStatusCode",
        "EnhancedSmtpStatusCode",
        "FailureMessage",
    ]
    terminal = terminal.sort_values(
        order, ascending=[False, True, True, True, True], na_position="last"
    )
    keys = ["CorrelationId", "RecipientId", "ResourceId"]
    return terminal.drop_duplicates(keys, keep="first").drop(columns="rank")


def _earliest_sends(send: pd.DataFrame) -> pd.DataFrame:
    ordered = send.sort_values("TimeGenerated", kind="stable")
    return ordered.drop_duplicates(["CorrelationId", "ResourceId"], keep="first")


def build(data: Path, form: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The deliveries (pending messages included) and the engagement table."""
    send = _read(data, form, SEND)
    status = _read(data, form, STATUS)
    engagement = _read(data, form, ENGAGEMENT)
    engagement["EngagementType"] = (
        engagement["EngagementType"]
        .str.lower()
        .map({"view": "View", "click": "Click"})
        .fillna(engagement["EngagementType"])
    )

    final = _final_statuses(status).rename(
        columns={
            "TimeGenerated": "FinalStatusTime",
            "DeliveryStatus": "FinalDeliveryStatus",
            "CorrelationId": "MessageId",
        }
    )
    sends = _earliest_sends(send).rename(
        columns={
            "TimeGenerated": "SendTime",
            "CorrelationId": "MessageId",
            "Size": "MessageSize",
        }
    )
    sends = sends.drop(columns=["OperationName", "TrafficSource"])
    final = final.drop(columns=["OperationName"])
    rows = final.merge(
        sends, on=["MessageId", "ResourceId"], how="outer", indicator=True
    )
    return _enrich(rows), engagement


def _enrich(rows: pd.DataFrame) -> pd.DataFrame:
    rows["Completeness"] = np.select(
        [
            rows["_merge"] == "left_only",
            rows["_merge"] == "right_only",
            rows["FinalStatusTime"] < rows["SendTime"],
        ],
        ["no-send-record", "no-final-status", "clock-skew"],
        default="complete",
    )
    rows = rows.drop(columns="_merge")
    counts = [name for name in NUMBERS if name.endswith("Count")]
    rows[counts] = rows[counts].astype("Int64")
    micros = (rows["FinalStatusTime"] - rows["SendTime"]) // pd.Timedelta(
        microseconds=1
    )
    # Whole milliseconds, cut toward zero as acsmail (and the KQL) count them.
    rows["DurationMilliseconds"] = np.trunc(micros / 1000).astype("Int64")
    rows["DurationSeconds"] = (rows["DurationMilliseconds"] / 1000).round(3)
    rows["RecipientDomain"] = (
        rows["RecipientId"].str.extract(r"^[^@]*@(.+)$", expand=False).str.lower()
    )
    size = rows["MessageSize"]
    rows["MessageSizeCategory"] = pd.Series(
        np.select(
            [size < bound for bound, _ in SIZE_CATEGORIES],
            [label for _, label in SIZE_CATEGORIES],
            default=LARGEST,
        ),
        index=rows.index,
    ).where(size.notna())
    rows["BounceType"] = _bounce_type(rows)
    _fill_codes(rows)
    return rows


def _flag(condition: pd.Series) -> np.ndarray:
    """A nullable condition as plain booleans, unknown counting as false."""
    return condition.fillna(False).to_numpy(dtype=bool)


def _bounce_type(rows: pd.DataFrame) -> pd.Series:
    status = rows["FinalDeliveryStatus"]
    hard = rows["IsHardBounce"]
    kind = np.select(
        [
            _flag(status.isna()),
            _flag(status == "Delivered"),
            _flag(hard),
            _flag(~hard),
            _flag(status.isin(["Bounced", "Failed"])),
        ],
        ["", "Not Applicable", "Hard Bounce", "Soft Bounce", "Unknown (not populated)"],
        default="Unknown",
    )
    return pd.Series(kind, index=rows.index).replace("", None)


def _fill_codes(rows: pd.DataFrame) -> None:
    text = rows["FailureMessage"]
    basic = text.str.extract(r"^\s*([2-5][0-9][0-9])(?:[ -]|$)", expand=False)
    enhanced = text.str.extract(
        r"(?:^|[^0-9.])([245]\.[0-9]{1,3}\.[0-9]{1,3})(?:[^0-9.]|$)", expand=False
    )
    rows["SmtpStatusCode"] = rows["SmtpStatusCode"].fillna(basic)
    rows["EnhancedSmtpStatusCode"] = rows["EnhancedSmtpStatusCode"].fillna(enhanced)
    delivered = rows["FinalDeliveryStatus"] == "Delivered"
    for column in ("SmtpStatusCode", "EnhancedSmtpStatusCode"):
        rows[column] = rows[column].mask(
            delivered & rows[column].isna(), NOT_APPLICABLE
        )


def write_deliveries(rows: pd.DataFrame, output: Path) -> None:
    final = rows[rows["Completeness"] != "no-final-status"]
    final = final.sort_values(
        ["SendTime", "FinalStatusTime", "MessageId", "RecipientId"],
        ascending=[False, False, True, True],
        na_position="last",
    )
    final[list(DELIVERIES)].to_parquet(output, index=False)


def _latency(seconds: pd.Series) -> dict[str, float | None]:
    values = np.sort(seconds.dropna().to_numpy(dtype=float)).tolist()
    figures: dict[str, float | None] = {"delivered": len(seconds)}
    for name, fraction in PERCENTILES:
        figures[name] = nearest_rank(values, fraction)
    figures["max"] = values[-1] if values else None
    return figures


def report(rows: pd.DataFrame, engagement: pd.DataFrame) -> dict[str, Any]:
    """The report's figures, computed from the deliveries."""
    completeness = rows["Completeness"]
    final = rows[completeness != "no-final-status"]
    status = final["FinalDeliveryStatus"]
    delivered = rows[
        (rows["FinalDeliveryStatus"] == "Delivered") & (completeness == "complete")
    ]
    overview = {
        "recipients_final": len(final),
        "pending_messages": int((completeness == "no-final-status").sum()),
        "no_send_record": int((completeness == "no-send-record").sum()),
        "clock_skew": int((completeness == "clock-skew").sum()),
    }
    domains = final.assign(
        delivered=status == "Delivered",
        bounced=status == "Bounced",
        failed=status == "Failed",
    ).groupby("RecipientDomain")[["delivered", "bounced", "failed"]]
    per_domain = domains.sum().join(domains.size().rename("total"))
    events = (
        engagement[engagement["RecipientId"].notna()]
        .assign(
            views=lambda e: e["EngagementType"] == "View",
            clicks=lambda e: e["EngagementType"] == "Click",
        )
        .groupby(["CorrelationId", "RecipientId"])[["views", "clicks"]]
        .sum()
        .rename_axis(["MessageId", "RecipientId"])
    )
    opened = (
        final[status == "Delivered"][["MessageId", "RecipientId", "RecipientDomain"]]
        .join(events, on=["MessageId", "RecipientId"])
        .groupby("RecipientDomain")[["views", "clicks"]]
        .sum()
    )
    sections = {
        "latency_per_domain": {
            domain: _latency(group)
            for domain, group in delivered.groupby("RecipientDomain")["DurationSeconds"]
        },
        "bounce_types": final["BounceType"].value_counts().to_dict(),
        "senders": (final["SenderUsername"].fillna("") + "@" + final["SenderDomain"])
        .value_counts()
        .to_dict(),
        "sizes": final.groupby("MessageSizeCategory")["MessageId"].nunique().to_dict(),
        "hours": {
            str(hour): sends
            for hour, sends in final.groupby(final["SendTime"].dt.floor("h"))[
                "MessageId"
            ]
            .nunique()
            .items()
        },
        "engagement": opened[(opened["views"] + opened["clicks"]) > 0].to_dict(),
    }
    summary = report_summary(
        overview=overview,
        statuses=status.value_counts().to_dict(),
        domains={
            domain: [row.total, row.delivered, row.bounced, row.failed]
            for domain, row in per_domain.iterrows()
        },
        latency=_latency(delivered["DurationSeconds"]),
    )
    return {"summary": summary, "sections": sections}


def main() -> None:
    job, form, data, output = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4]
    rows, engagement = build(data, form)
    if job == "deliveries":
        write_deliveries(rows, Path(output))
    else:
        write_json(Path(output), report(rows, engagement))


if __name__ == "__main__":
    main()
