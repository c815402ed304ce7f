"""Nothing is lost: every record read is accounted for, whatever the input."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acsmail.deliveries import Options, build_deliveries
from acsmail.normalise import normalise
from acsmail.readers import scan

MESSAGES = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(4)]
RECIPIENTS = ["a@x.com", "b@y.org", "c@z.net"]
STATUSES = [
    "Delivered",
    "Failed",
    "Bounced",
    "Suppressed",
    "Expanded",
    "OutForDelivery",
    "Queued",
    "Mystery",
    # A status left blank, or not given at all, is still a record to count.
    "",
    None,
]


def _time(second: int) -> str:
    return f"2026-02-10T10:{second // 60:02d}:{second % 60:02d}.000Z"


sends = st.builds(
    lambda mid, second, size: {
        "TimeGenerated": _time(second),
        "CorrelationId": mid,
        "OperationName": "SendMail",
        "Size": size,
        "UniqueRecipientsCount": 1,
    },
    st.sampled_from(MESSAGES),
    st.integers(0, 600),
    st.floats(0, 20, allow_nan=False),
)
statuses = st.builds(
    lambda mid, second, who, status: {
        "TimeGenerated": _time(second),
        "CorrelationId": mid,
        "OperationName": "DeliveryStatusUpdate",
        "RecipientId": who,
        "DeliveryStatus": status,
    },
    st.sampled_from(MESSAGES),
    st.integers(0, 600),
    st.sampled_from([*RECIPIENTS, None]),
    st.sampled_from(STATUSES),
)
junk = st.sampled_from(
    ["{broken", "[1, 2]", '{"Size": "lots", "OperationName": "SendMail"}']
)
lines = st.lists(
    st.one_of(
        sends.map(json.dumps),
        statuses.map(json.dumps),
        junk,
    ),
    max_size=25,
).flatmap(
    # Repeat some lines, as overlapping exports and retries do.
    lambda base: (
        st.lists(st.sampled_from(base), max_size=5).map(lambda extra: base + extra)
        if base
        else st.just(base)
    )
)


def _collect(path: Path) -> tuple[dict[str, int], pl.DataFrame, pl.DataFrame]:
    inputs = scan([str(path)])

    def plans(current: Any) -> list[pl.LazyFrame]:
        tables = normalise(current)
        built = build_deliveries(tables, Options(include_pending=True))
        assert built.counts is not None
        return [built.rows, tables.rejected, built.counts]

    rows, rejected, counts = inputs.collect(plans)
    figures = counts.row(0, named=True)
    return figures, rows, rejected


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(lines)
def test_accounting_every_record_is_somewhere(text_lines: list[str]) -> None:
    # A first line that is a record keeps the file recognisable as JSON Lines.
    first = {"TimeGenerated": _time(0), "CorrelationId": MESSAGES[0], "Size": 0.1}
    text_lines = [json.dumps({**first, "OperationName": "SendMail"}), *text_lines]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.json"
        path.write_text("\n".join(text_lines) + "\n")
        figures, rows, rejected = _collect(path)

    read = figures["send_records"] + figures["status_records"]
    read += (
        figures["engagement_records"] + figures["rejected"] + figures["unclassified"]
    )
    assert read == len(text_lines)

    assert figures["status_records"] == (
        figures["duplicate_status_records"]
        + figures["message_level_status_records"]
        + figures["non_terminal_status_records"]
        + figures["superseded_status_records"]
        + figures["final_statuses"]
    )
    final = rows.filter(pl.col("Completeness") != "no-final-status")
    assert final.height == figures["final_statuses"]
    assert final.height == (
        figures["complete"] + figures["no_send_record"] + figures["clock_skew"]
    )

    earliest_sends = figures["send_records"] - figures["duplicate_send_records"]
    earliest_sends -= figures["duplicate_sends"]
    with_status = final.filter(pl.col("SendTime").is_not_null())["MessageId"].n_unique()
    assert earliest_sends == figures["pending_messages"] + with_status
    assert rejected.height == figures["rejected"]


def test_accounting_counts_blank_statuses_as_not_final(tmp_path: Path) -> None:
    # One send and four statuses of its recipient: Delivered, an empty status,
    # none at all, and one no table of statuses knows. Delivered is final;
    # the other three are not, and only "Weird" is an unknown status.
    send = {
        "TimeGenerated": _time(0),
        "CorrelationId": MESSAGES[0],
        "OperationName": "SendMail",
        "Size": 1.0,
        "UniqueRecipientsCount": 1,
    }
    statuses = [
        {
            "TimeGenerated": _time(second),
            "CorrelationId": MESSAGES[0],
            "OperationName": "DeliveryStatusUpdate",
            "RecipientId": RECIPIENTS[0],
            "DeliveryStatus": status,
        }
        for second, status in ((5, "Delivered"), (6, ""), (7, None), (8, "Weird"))
    ]
    path = tmp_path / "export.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in [send, *statuses]))
    tables = normalise(scan([str(path)]))
    counts = build_deliveries(tables, Options(include_pending=True)).counts
    assert counts is not None
    figures = counts.collect().row(0, named=True)
    assert figures["status_records"] == 4
    assert figures["final_statuses"] == 1
    assert figures["non_terminal_status_records"] == 3
    assert figures["unknown_statuses"] == 1
    assert figures["message_level_status_records"] == 0
    assert figures["duplicate_status_records"] == 0
    assert figures["superseded_status_records"] == 0
