"""The shipped sample export against the results worked out by hand beside it.

``fixtures/sample/expected/`` holds the deliveries tables and report figures
computed by hand from the records in ``fixtures/sample/build.py``; its README
shows the working for every row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner
from polars.testing import assert_frame_equal

from acsmail.cli import cli

SAMPLE = Path(__file__).parent.parent / "fixtures" / "sample"
EXPECTED = SAMPLE / "expected"
FORMS = ("csv", "json", "ndjson")

# Explanation texts and the rule that decided are tested with the code tables.
UNCHECKED = ("SmtpStatusCodeDetails", "EnhancedSmtpStatusCodeDetails", "ClassifiedBy")
TYPES: dict[str, Any] = {
    "DurationSeconds": pl.Float64,
    "DurationMilliseconds": pl.Int64,
    "MessageSize": pl.Float64,
    "AttachmentsCount": pl.Int64,
    "ToRecipientsCount": pl.Int64,
    "CcRecipientsCount": pl.Int64,
    "BccRecipientsCount": pl.Int64,
    "UniqueRecipientsCount": pl.Int64,
    "Retryable": pl.Boolean,
}
TIMES = ("SendTime", "FinalStatusTime")


def _expected(name: str) -> pl.DataFrame:
    path = EXPECTED / name
    header = path.read_text().splitlines()[0].split(",")
    schema = {column: TYPES.get(column, pl.String) for column in header}
    df = pl.read_csv(path, schema=schema)
    return df.with_columns(
        pl.col(TIMES).str.to_datetime(
            "%Y-%m-%dT%H:%M:%S%.fZ", time_unit="us", time_zone="UTC"
        )
    )


def _deliveries(form: str, *options: str) -> pl.DataFrame:
    result = CliRunner().invoke(
        cli, ["deliveries", str(SAMPLE / form), "-f", "parquet", "-o", "-", *options]
    )
    assert result.exit_code == 0, result.stderr
    import io

    return pl.read_parquet(io.BytesIO(result.stdout_bytes))


def _comparable(df: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    return df.select(columns).sort(columns, nulls_last=True)


@pytest.mark.parametrize(
    ("form", "options", "expected"),
    [
        (form, options, expected)
        for form in FORMS
        for options, expected in (
            ((), ("deliveries.csv",)),
            (("--include-pending",), ("deliveries.csv", "deliveries-pending.csv")),
            (("--kql-compatible",), ("deliveries-kql.csv",)),
        )
    ],
)
def test_deliveries_sample_matches_hand_worked_table(
    form: str, options: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    want = pl.concat([_expected(name) for name in expected])
    got = _deliveries(form, *options)
    assert [c for c in got.columns if c not in UNCHECKED] == want.columns
    assert_frame_equal(_comparable(got, want.columns), _comparable(want, want.columns))


def test_deliveries_kql_mode_has_exactly_the_reference_columns() -> None:
    got = _deliveries("csv", "--kql-compatible")
    assert len(got.columns) == 27
    assert got.columns[:3] == ["MessageId", "InternetMessageId", "RecipientId"]
    assert got.columns[-1] == "ResourceId"


def test_deliveries_sample_is_sorted_newest_send_first() -> None:
    got = _deliveries("csv")
    sent = got["SendTime"].drop_nulls()
    assert sent.to_list() == sorted(sent.to_list(), reverse=True)
    # Rows with no send record come last.
    assert got["SendTime"].tail(2).to_list() == [None, None]


@pytest.fixture(scope="module")
def report() -> dict[str, list[dict[str, Any]]]:
    result = CliRunner().invoke(cli, ["report", str(SAMPLE / "csv"), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    document: dict[str, list[dict[str, Any]]] = json.loads(result.stdout)
    return document


@pytest.fixture(scope="module")
def figures() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EXPECTED / "report.json").read_text())
    return document


def test_report_overview_matches_hand_count(
    report: dict[str, list[dict[str, Any]]], figures: dict[str, Any]
) -> None:
    overview = report["overview"][0]
    for name in (
        "messages",
        "recipients_final",
        "delivered_share",
        "pending_messages",
        "no_send_record",
        "clock_skew",
        "duplicate_records",
        "duplicate_sends",
    ):
        assert overview[name] == figures[name], name
    for status, count in figures["statuses"].items():
        assert overview[status if status != "Delivered" else "delivered"] == count
    assert overview["rejected"] == 0
    assert overview["unclassified"] == 0


def test_report_latency_matches_hand_count(
    report: dict[str, list[dict[str, Any]]], figures: dict[str, Any]
) -> None:
    overall = report["latency"][0]
    assert overall["scope"] == "(all)"
    assert {k: overall[k] for k in figures["latency_seconds"]} == figures[
        "latency_seconds"
    ]


def test_report_domains_match_hand_count(
    report: dict[str, list[dict[str, Any]]], figures: dict[str, Any]
) -> None:
    keys = ("domain", "total", "delivered", "bounced", "failed", "success_rate")
    got = [{k: row[k] for k in keys} for row in report["domains"]]
    assert got == figures["domains"]


def test_report_inputs_count_every_record(
    report: dict[str, list[dict[str, Any]]], figures: dict[str, Any]
) -> None:
    totals = {
        table: sum(row[table] for row in report["inputs"])
        for table in ("send", "status", "engagement")
    }
    assert totals == figures["records"]
    assert {row["format"] for row in report["inputs"]} == {"csv"}


def test_report_statuses_add_up(
    report: dict[str, list[dict[str, Any]]], figures: dict[str, Any]
) -> None:
    got = {row["status"]: row["recipients"] for row in report["statuses"]}
    assert got == figures["statuses"]
    assert (
        sum(row["recipients"] for row in report["bounce_types"])
        == figures["recipients_final"]
    )


@pytest.mark.parametrize("form", ["table", "markdown"])
def test_report_prints_every_section(form: str) -> None:
    from acsmail.render import TITLES

    result = CliRunner().invoke(cli, ["report", str(SAMPLE / "csv"), "-f", form])
    assert result.exit_code == 0, result.stderr
    for title in TITLES.values():
        assert title in result.stdout, title
