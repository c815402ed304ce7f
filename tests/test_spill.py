"""Reports with the tables spilled to disk agree with reports in memory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from acsmail.cli import cli
from acsmail.generate import generate

FIXTURES = Path(__file__).parent.parent / "fixtures"


def _report(monkeypatch: pytest.MonkeyPatch, *args: str, spill: bool) -> object:
    if spill:
        # Any input is then past the limit.
        monkeypatch.setenv("ACSMAIL_SPILL_BYTES", "1")
    else:
        monkeypatch.delenv("ACSMAIL_SPILL_BYTES", raising=False)
    result = CliRunner().invoke(cli, ["report", *args, "-q", "-f", "json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Enough messages for every one of the sixteen shares to hold many, with
    # the generator's duplicates, missing sends and skewed clocks among them.
    folder = tmp_path_factory.mktemp("generated")
    generate(folder, messages=3000, seed=11, form="ndjson")
    return folder


def test_a_spilled_report_equals_the_report_in_memory(
    export: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_memory = _report(monkeypatch, str(export), spill=False)
    assert _report(monkeypatch, str(export), spill=True) == in_memory


def test_filters_and_redaction_work_the_same_when_spilled(
    export: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = [str(export), "--status", "Bounced", "--redact", "--redact-key", "k"]
    in_memory = _report(monkeypatch, *args, spill=False)
    assert _report(monkeypatch, *args, spill=True) == in_memory


def test_rejected_records_are_counted_the_same_when_spilled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The sample's CSV files and two files with records that are rejected.
    paths = [
        str(FIXTURES / "sample" / "csv"),
        str(FIXTURES / "bad" / "bad-size.csv"),
        str(FIXTURES / "bad" / "bad-json-line.json"),
    ]
    in_memory = _report(monkeypatch, *paths, spill=False)
    spilled = _report(monkeypatch, *paths, spill=True)
    assert spilled == in_memory
    assert isinstance(spilled, dict)
    # One record of each bad file (fixtures/bad/EXPECTED.md), named by line.
    assert spilled["overview"][0]["rejected"] == 2
    assert sorted(row["line"] for row in spilled["rejected"]) == [2, 2]


@pytest.mark.parametrize("spill", [False, True])
def test_a_column_is_absent_only_if_no_record_fills_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spill: bool
) -> None:
    # One JSON Lines file of the tables one after another: its first 60
    # records are sends, so the engagement keys appear only after them.
    send = {
        "TimeGenerated": "2026-02-10T10:00:00Z",
        "OperationName": "SendMail",
        "Size": 0.02,
    }
    view = {
        "TimeGenerated": "2026-02-10T10:05:00Z",
        "CorrelationId": "m0",
        "OperationName": "UserEngagement",
        "RecipientId": "a@example.com",
        "EngagementType": "View",
        "UserAgent": "Mozilla/5.0",
    }
    records = [{**send, "CorrelationId": f"m{n}"} for n in range(60)] + [view]
    path = tmp_path / "export.json"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))

    report = _report(monkeypatch, str(path), spill=spill)

    # The sends carry no resource and no counts; the view no context and no
    # InternetMessageId. EngagementType and UserAgent are filled.
    assert report["absent_columns"] == [  # type: ignore[index]
        {
            "table": "send",
            "absent_columns": "ResourceId, AttachmentsCount, ToRecipientsCount, "
            "CcRecipientsCount, BccRecipientsCount, UniqueRecipientsCount, "
            "TrafficSource",
        },
        {
            "table": "engagement",
            "absent_columns": "ResourceId, EngagementContext, InternetMessageId",
        },
    ]
