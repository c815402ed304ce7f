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
