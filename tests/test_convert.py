"""`acsmail convert` and `acsmail generate` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from click.testing import CliRunner

from acsmail.cli import cli

SAMPLE = Path(__file__).parent.parent / "fixtures" / "sample" / "csv"


def test_convert_writes_one_parquet_table_each(tmp_path: Path) -> None:
    out = tmp_path / "tables"
    result = CliRunner().invoke(cli, ["convert", str(SAMPLE), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.stderr
    send = pl.read_parquet(out / "ACSEmailSendMailOperational.parquet")
    status = pl.read_parquet(out / "ACSEmailStatusUpdateOperational.parquet")
    engagement = pl.read_parquet(out / "ACSEmailUserEngagementOperational.parquet")
    # Every record of the sample's CSV files, duplicates included (44/106/8).
    assert (send.height, status.height, engagement.height) == (44, 106, 8)
    assert send.schema["TimeGenerated"] == pl.Datetime("us", "UTC")
    assert status.schema["IsHardBounce"] == pl.Boolean


def test_convert_then_report_gives_the_same_figures(tmp_path: Path) -> None:
    out = tmp_path / "tables"
    CliRunner().invoke(cli, ["convert", str(SAMPLE), "-o", str(out), "-q"])

    def sections(path: Path) -> dict[str, object]:
        result = CliRunner().invoke(cli, ["report", str(path), "-q", "-f", "json"])
        assert result.exit_code == 0, result.stderr
        document: dict[str, object] = json.loads(result.stdout)
        document.pop("inputs")
        return document

    assert sections(out) == sections(SAMPLE)


def test_generate_writes_a_readable_export(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    result = CliRunner().invoke(
        cli, ["generate", "--messages", "50", "--format", "csv", "-o", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    assert "wrote" in result.stderr
    report = CliRunner().invoke(cli, ["report", str(out), "-q", "-f", "json"])
    assert report.exit_code == 0, report.stderr
    overview = json.loads(report.stdout)["overview"][0]
    assert overview["rejected"] == 0
    assert overview["recipients_final"] > 0
