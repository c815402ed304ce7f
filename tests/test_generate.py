"""The synthetic export generator: determinism, the forms' shapes, quirk rates."""

from __future__ import annotations

import csv
import json
import math
import re
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest

from acsmail.errors import AcsmailError
from acsmail.generate import FORMS, Quirks, generate

if TYPE_CHECKING:
    from pathlib import Path

MESSAGES = 400
ISO_7 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")
PORTAL_TIME = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}, \d{1,2}:\d\d:\d\d\.\d{3} [AP]M$")
TERMINAL = [
    "Delivered",
    "Failed",
    "Bounced",
    "Suppressed",
    "Quarantined",
    "FilteredSpam",
]


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """Each form of the same small export, written once for the module."""
    root = tmp_path_factory.mktemp("exports")
    return {
        form: generate(root / form, messages=MESSAGES, seed=3, form=form, hours=1)
        for form in FORMS
    }


def _lines(files: list[Path], part: str) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in files
        if part in str(path)
        for line in path.read_text().splitlines()
    ]


def test_generate_same_seed_same_bytes(tmp_path: Path) -> None:
    def written(folder: str, seed: int) -> dict[str, bytes]:
        root = tmp_path / folder
        files = generate(root, messages=240, seed=seed, chunk_size=80, hours=1)
        return {str(path.relative_to(root)): path.read_bytes() for path in files}

    first, again, other = written("a", 11), written("b", 11), written("c", 12)

    assert first == again
    assert first != other


def test_generate_records_do_not_depend_on_form(
    exports: dict[str, list[Path]],
) -> None:
    from_json_lines = {
        row["CorrelationId"] for row in _lines(exports["ndjson"], "send")
    }
    [send_csv] = [path for path in exports["csv"] if "SendMail" in path.name]
    with send_csv.open(encoding="utf-8-sig", newline="") as handle:
        from_csv = {row["CorrelationId"] for row in csv.DictReader(handle)}

    assert from_json_lines == from_csv


def test_generate_ndjson_rows_are_log_analytics_objects(
    exports: dict[str, list[Path]],
) -> None:
    files = exports["ndjson"]
    send, status = _lines(files, "sendmail"), _lines(files, "statusupdate")

    assert all(path.name.startswith("PT05M") for path in files)
    assert all(
        re.search(r"/y=\d{4}/m=\d\d/d=\d\d/h=\d\d/m=\d\d/PT05M", str(p)) for p in files
    )
    for row in send + status:
        assert {"TimeGenerated", "CorrelationId", "_ResourceId", "Type"} <= set(row)
        assert ISO_7.match(str(row["TimeGenerated"]))
    assert all(isinstance(row["Size"], float) for row in send)
    assert all(isinstance(row["UniqueRecipientsCount"], int) for row in send)
    assert {row["Type"] for row in status} == {"ACSEmailStatusUpdateOperational"}
    message_level = [row for row in status if row["RecipientId"] == ""]
    assert {row["DeliveryStatus"] for row in message_level} >= {"", "OutForDelivery"}


def test_generate_csv_has_portal_headers_and_times(
    exports: dict[str, list[Path]],
) -> None:
    [status_csv] = [p for p in exports["csv"] if "StatusUpdate" in p.name]
    raw = status_csv.read_bytes()
    with status_csv.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))

    assert raw.startswith(b"\xef\xbb\xbfTenantId,")
    assert "TimeGenerated [UTC]" in rows[0]
    assert all(PORTAL_TIME.match(row["TimeGenerated [UTC]"]) for row in rows)
    assert {row["IsHardBounce"] for row in rows} <= {
        "True",
        "False",
        "true",
        "false",
        "",
    }
    # Gmail's multi-line replies keep their line breaks inside quoted fields.
    assert any("\n" in row["FailureMessage"] for row in rows)


def test_generate_json_is_az_cli_output(exports: dict[str, list[Path]]) -> None:
    rows = [row for path in exports["json"] for row in json.loads(path.read_text())]

    assert all(isinstance(value, str) for row in rows for value in row.values())
    assert {row["TableName"] for row in rows} == {"PrimaryResult"}
    status = [row for row in rows if row["Type"] == "ACSEmailStatusUpdateOperational"]
    assert {row["Size"] for row in status} == {"None"}
    assert {row["Type"] for row in rows} == {
        "ACSEmailSendMailOperational",
        "ACSEmailStatusUpdateOperational",
        "ACSEmailUserEngagementOperational",
    }


def test_generate_archive_records_have_properties(
    exports: dict[str, list[Path]],
) -> None:
    files = exports["archive"]
    records = _lines(files, "insights-logs-")
    status = [r for r in records if r["category"] == "EmailStatusUpdateOperational"]

    assert all(
        re.search(
            r"insights-logs-email\w+operational/resourceId=/SUBSCRIPTIONS/[^a-z]+/"
            r"y=\d{4}/m=\d\d/d=\d\d/h=\d\d/m=00/PT1H\.json$",
            str(path),
        )
        for path in files
    )
    for record in records:
        assert set(record) == {
            "time",
            "resourceId",
            "operationName",
            "operationVersion",
            "category",
            "correlationId",
            "location",
            "properties",
        }
        assert record["resourceId"] == str(record["resourceId"]).upper()
        assert isinstance(record["properties"], dict)
    message_level = [
        r["properties"] for r in status if "RecipientId" not in r["properties"]
    ]
    assert message_level
    assert {p["IsHardBounce"] for p in message_level} <= {True, False, None}


def test_generate_api_is_a_query_response(exports: dict[str, list[Path]]) -> None:
    for path in exports["api"]:
        [table] = json.loads(path.read_text())["tables"]
        names = [column["name"] for column in table["columns"]]

        assert table["name"] == "PrimaryResult"
        assert all(len(row) == len(names) for row in table["rows"])
        types = {column["name"]: column["type"] for column in table["columns"]}
        assert types["TimeGenerated"] == "datetime"
        assert types["Size"] == "real"


def test_generate_parquet_has_one_typed_file_per_table(
    exports: dict[str, list[Path]],
) -> None:
    files = exports["parquet"]
    schemas = {path.stem: pl.read_parquet_schema(path) for path in files}

    assert sorted(schemas) == [
        "ACSEmailSendMailOperational",
        "ACSEmailStatusUpdateOperational",
        "ACSEmailUserEngagementOperational",
    ]
    for schema in schemas.values():
        assert schema["TimeGenerated"] == pl.Datetime("ns", "UTC")


def _tolerance(expected: float, share: float) -> float:
    """Four binomial standard deviations, plus a little for tiny counts."""
    return 4 * math.sqrt(expected * (1 - share)) + 2


def test_generate_honours_quirk_rates(tmp_path: Path) -> None:
    messages = 2000
    quirks = Quirks(
        pending_rate=0.05,
        no_send_rate=0.04,
        clock_skew_rate=0.03,
        duplicate_send_rate=0.05,
        duplicate_rate=0.02,
    )
    files = generate(tmp_path, messages=messages, seed=5, quirks=quirks, hours=1)
    send = pl.read_ndjson([p for p in files if "sendmail" in str(p)])
    status = pl.read_ndjson([p for p in files if "statusupdate" in str(p)])
    final = status.filter(
        (pl.col("RecipientId") != "") & pl.col("DeliveryStatus").is_in(TERMINAL)
    )
    sends = set(send["CorrelationId"])
    finals = set(final["CorrelationId"])
    first_send = send.group_by("CorrelationId").agg(pl.col("TimeGenerated").min())
    earliest_final = final.group_by("CorrelationId").agg(
        pl.col("TimeGenerated").min().alias("final")
    )
    skewed = first_send.join(earliest_final, on="CorrelationId").filter(
        pl.col("final") < pl.col("TimeGenerated")
    )
    resent = send.unique().group_by("CorrelationId").len().filter(pl.col("len") > 1)
    copies = sum(frame.height - frame.unique().height for frame in (send, status))
    records = send.unique().height + status.unique().height

    observed_and_expected = [
        (len(sends - finals), messages * quirks.pending_rate, quirks.pending_rate),
        (len(finals - sends), messages * quirks.no_send_rate, quirks.no_send_rate),
        (skewed.height, messages * quirks.clock_skew_rate, quirks.clock_skew_rate),
        (
            resent.height,
            messages * (1 - quirks.no_send_rate) * quirks.duplicate_send_rate,
            quirks.duplicate_send_rate,
        ),
        (copies, records * quirks.duplicate_rate, quirks.duplicate_rate),
    ]
    for observed, expected, share in observed_and_expected:
        assert abs(observed - expected) <= _tolerance(expected, share)
    # Every message leaves a trace in one table or the other.
    assert len(sends | set(status["CorrelationId"])) == messages


def test_generate_statuses_sizes_and_replies_look_real(tmp_path: Path) -> None:
    files = generate(tmp_path, messages=2000, seed=8, hours=1)
    send = pl.read_ndjson([p for p in files if "sendmail" in str(p)])
    status = pl.read_ndjson([p for p in files if "statusupdate" in str(p)])
    final = status.filter(pl.col("DeliveryStatus").is_in(TERMINAL))
    bands = {sum(size >= bound for bound in (0.1, 1, 5, 10)) for size in send["Size"]}

    assert 0.90 <= (final["DeliveryStatus"] == "Delivered").mean() <= 0.96  # type: ignore[operator]
    assert bands == {0, 1, 2, 3, 4}
    messages = final["FailureMessage"].to_list()
    assert any(m.startswith("421-4.7.28") for m in messages)
    assert any(m.startswith("550 5.7.708 Service unavailable") for m in messages)
    codes = final["SmtpStatusCode"]
    assert any(m and not code for m, code in zip(messages, codes, strict=True))
    hosts = set(final["RecipientMailServerHostName"])
    assert "gmail-smtp-in.l.google.com" in hosts
    assert any(host.endswith(".mail.protection.outlook.com") for host in hosts)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"form": "xml"}, "unknown form"),
        ({"messages": 0}, "at least 1"),
        ({"resources": 9}, "resources must be"),
    ],
)
def test_generate_rejects_bad_arguments(
    tmp_path: Path, arguments: dict[str, object], message: str
) -> None:
    options: dict[str, object] = {"messages": 10} | arguments

    with pytest.raises(AcsmailError, match=message):
        generate(tmp_path / "out", **options)  # type: ignore[arg-type]


def test_generate_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "old.json").write_text("{}")

    with pytest.raises(AcsmailError, match="must be empty"):
        generate(tmp_path, messages=10)


def test_generate_rejects_impossible_quirks() -> None:
    with pytest.raises(AcsmailError, match="sum to at most 1"):
        Quirks(pending_rate=0.6, no_send_rate=0.6)
