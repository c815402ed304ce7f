"""``acsmail inspect``: what each file holds, counted by hand from the fixtures.

The counts per file come from ``fixtures/forms/README.md``: 7 sends, 11 status
updates and 1 view in every form, split over files as each form splits them.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from acsmail.cli import cli
from acsmail.inspect import SECTIONS, inspect
from acsmail.readers import scan

FIXTURES = Path(__file__).parent.parent / "fixtures"
FORMS_DIR = FIXTURES / "forms"
BAD = FIXTURES / "bad"
ARCHIVE_TAIL = (
    "resourceId=/SUBSCRIPTIONS/11111111-2222-3333-4444-555555555555/RESOURCEGROUPS"
    "/RG-FORMS/PROVIDERS/MICROSOFT.COMMUNICATION/COMMUNICATIONSERVICES/ACS-FORMS"
    "/y=2026/m=02/d=10/h=16/m=00/PT1H.json"
)
SEND_BLOBS = "insights-logs-emailsendmailoperational"
STATUS_BLOBS = "insights-logs-emailstatusupdateoperational"
ENGAGEMENT_BLOBS = "insights-logs-emailuserengagementoperational"
NO_CONTEXT = "engagement: EngagementContext"

# (file under the form's folder, format, send, status, engagement, absent)
PER_FILE: dict[str, list[tuple[str, str, int, int, int, str]]] = {
    "portal-csv": [
        ("ACSEmailSendMailOperational.csv", "csv", 7, 0, 0, ""),
        ("ACSEmailStatusUpdateOperational.csv", "csv", 0, 11, 0, ""),
        ("ACSEmailUserEngagementOperational.csv", "csv", 0, 0, 1, ""),
    ],
    "union-csv": [("union.csv", "csv", 7, 11, 1, "")],
    "az-json": [("query.json", "json-array", 7, 11, 1, "")],
    "query-api": [("response.json", "query-api", 7, 11, 1, "")],
    "archive": [
        (f"{SEND_BLOBS}/{ARCHIVE_TAIL}", "ndjson", 7, 0, 0, ""),
        (f"{STATUS_BLOBS}/{ARCHIVE_TAIL}", "ndjson", 0, 11, 0, ""),
        (f"{ENGAGEMENT_BLOBS}/{ARCHIVE_TAIL}", "ndjson", 0, 0, 1, NO_CONTEXT),
    ],
    "records": [
        ("eventhub-batches.json", "records", 0, 11, 1, NO_CONTEXT),
        ("sends-pretty.json", "records", 7, 0, 0, ""),
    ],
    "parquet": [
        ("ACSEmailSendMailOperational.parquet", "parquet", 7, 0, 0, ""),
        ("ACSEmailStatusUpdateOperational.parquet", "parquet", 0, 11, 0, ""),
        ("ACSEmailUserEngagementOperational.parquet", "parquet", 0, 0, 1, ""),
    ],
    "gzip": [
        ("engagement.parquet.gz", "parquet.gz", 0, 0, 1, ""),
        ("sends-archive.json.gz", "ndjson.gz", 7, 0, 0, ""),
        ("statuses.csv.gz", "csv.gz", 0, 11, 0, ""),
    ],
}  # fmt: skip
# Data export files rows by the five minutes of their TimeGenerated.
DATA_EXPORT_SENDS = {"00": 2, "05": 1, "10": 1, "15": 1, "20": 1, "30": 1}
DATA_EXPORT_STATUSES = {"00": 5, "05": 1, "10": 1, "15": 1, "20": 1, "25": 1, "30": 1}


def _inspect(*args: str) -> Any:
    result = CliRunner().invoke(cli, ["inspect", *args, "-f", "json", "-q"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("form", sorted(PER_FILE))
def test_inspect_counts_records_per_file_and_table(form: str) -> None:
    folder = FORMS_DIR / form

    found = _inspect(str(folder))["inputs"]

    rows = [
        (
            str(Path(f["file"]).relative_to(folder)),
            f["format"],
            f["send"],
            f["status"],
            f["engagement"],
            f["absent_columns"],
        )
        for f in found
    ]
    assert rows == PER_FILE[form]
    assert {(f["rejected"], f["unclassified"]) for f in found} == {(0, 0)}


def test_inspect_data_export_blobs_by_five_minutes() -> None:
    found = _inspect(str(FORMS_DIR / "data-export"))["inputs"]

    sends = {_minute(f["file"]): f["send"] for f in found if "sendmail" in f["file"]}
    statuses = {
        _minute(f["file"]): f["status"] for f in found if "statusupdate" in f["file"]
    }
    views = [f["engagement"] for f in found if "engagement" in f["file"]]
    assert sends == DATA_EXPORT_SENDS
    assert statuses == DATA_EXPORT_STATUSES
    assert views == [1]
    assert {f["format"] for f in found} == {"ndjson"}


def _minute(file: str) -> str:
    return Path(file).parent.name.removeprefix("m=")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _utc(clock: str) -> datetime:
    return datetime.fromisoformat(f"2026-02-10T{clock}+00:00")


def test_inspect_time_span_covers_every_table() -> None:
    (found,) = _inspect(str(FORMS_DIR / "union-csv"))["inputs"]

    assert (_at(found["first"]), _at(found["last"])) == (
        _utc("16:00:01.100"),
        _utc("16:30:03"),
    )


def test_inspect_time_span_per_file() -> None:
    found = _inspect(str(FORMS_DIR / "portal-csv"))["inputs"]

    assert [(_at(f["first"]), _at(f["last"])) for f in found] == [
        (_utc("16:00:01.100"), _utc("16:30:00")),
        (_utc("16:00:02"), _utc("16:30:03")),
        (_utc("16:20:00"), _utc("16:20:00")),
    ]


def test_inspect_many_files_in_one_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD)

    document = _inspect(
        "bad-size.csv", "unclassified.json", "older-export.csv", "header-only.csv"
    )

    rows = [
        (f["file"], f["send"], f["status"], f["rejected"], f["unclassified"])
        for f in document["inputs"]
    ]
    assert rows == [
        ("bad-size.csv", 1, 0, 1, 0),
        ("unclassified.json", 0, 0, 0, 2),
        ("older-export.csv", 0, 2, 0, 0),
        ("header-only.csv", 0, 0, 0, 0),
    ]
    assert document["inputs"][2]["absent_columns"] == (
        "status: FailureReason, FailureMessage, RecipientMailServerHostName, "
        "InternetMessageId"
    )
    assert document["rejected"] == [
        {
            "file": "bad-size.csv",
            "line": 2,
            "reason": "Size: expected a number of at least 0, got 'abc'",
        }
    ]


def test_inspect_table_output_has_one_row_per_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(FORMS_DIR / "portal-csv")

    result = CliRunner().invoke(cli, ["inspect", ".", "-q"])

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Inputs"
    assert lines[2].split()[:3] == ["file", "format", "send"]
    assert [line.split()[:5] for line in lines[4:7]] == [
        ["ACSEmailSendMailOperational.csv", "csv", "7", "0", "0"],
        ["ACSEmailStatusUpdateOperational.csv", "csv", "0", "11", "0"],
        ["ACSEmailUserEngagementOperational.csv", "csv", "0", "0", "1"],
    ]


def test_inspect_writes_to_the_output_file(tmp_path: Path) -> None:
    target = tmp_path / "inputs.json"

    result = CliRunner().invoke(
        cli,
        [
            "inspect",
            str(FORMS_DIR / "union-csv"),
            "-q",
            "-f",
            "json",
            "-o",
            str(target),
        ],
    )

    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert [f["send"] for f in json.loads(target.read_text())["inputs"]] == [7]


def test_inspect_warnings_go_to_stderr_only() -> None:
    result = CliRunner().invoke(
        cli, ["inspect", str(BAD / "partial-error.json"), "-f", "json"]
    )

    assert result.exit_code == 0
    assert "partial results" in result.stderr
    assert "partial results" not in result.stdout


def test_inspect_library_returns_sections_in_order() -> None:
    found = inspect(scan([str(FORMS_DIR / "query-api")]))

    sections = found.sections()

    assert tuple(sections) == SECTIONS
    assert found.files.select("send", "status", "engagement").row(0) == (7, 11, 1)
    assert found.rejected.height == 0
