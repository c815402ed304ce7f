"""Views and clicks joined to deliveries, and the report's open and click rates.

The sample's eight engagement records (``fixtures/sample/build.py``): alice (m01)
one View by Gmail's image proxy; carol (m03) View, Click, View; walter (m17) one
Click; eli (m24) one View written twice; ian (m27) one View by Gmail's proxy.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest
from click.testing import CliRunner

from acsmail.cli import cli
from acsmail.deliveries import Options, build_deliveries
from acsmail.engagement import per_recipient
from acsmail.normalise import normalise, read_tables
from acsmail.readers import scan
from acsmail.report import report_basis

if TYPE_CHECKING:
    from acsmail.readers import Inputs

SAMPLE = Path(__file__).parent.parent / "fixtures" / "sample" / "csv"
CAUTION = "image proxies inflate views"
SEND = {
    "TimeGenerated": "2026-02-10T10:00:00Z",
    "CorrelationId": "0f6d3c1e-0000-4000-8000-000000000001",
    "OperationName": "SendMail",
    "Size": 0.02,
    "UniqueRecipientsCount": 1,
}
STATUS = {
    "TimeGenerated": "2026-02-10T10:00:03Z",
    "CorrelationId": "0f6d3c1e-0000-4000-8000-000000000001",
    "OperationName": "DeliveryStatusUpdate",
    "RecipientId": "someone@example.com",
    "DeliveryStatus": "Delivered",
}


@pytest.fixture(scope="module")
def report() -> dict[str, list[dict[str, Any]]]:
    result = CliRunner().invoke(cli, ["report", str(SAMPLE), "-f", "json", "-q"])
    assert result.exit_code == 0, result.stderr
    document: dict[str, list[dict[str, Any]]] = json.loads(result.stdout)
    return document


def test_report_engagement_per_domain_matches_hand_count(
    report: dict[str, list[dict[str, Any]]],
) -> None:
    # Delivered per domain as in expected/README.md; yahoo's views are carol's
    # two and eli's one (his duplicate merged); both gmail views are proxied.
    keys = ("domain", "delivered", "viewed", "clicked", "views", "clicks")
    got = [
        (*(row[k] for k in keys), row["proxy_views"]) for row in report["engagement"]
    ]
    assert got == [
        ("gmail.com", 11, 2, 0, 2, 0, 2),
        ("contoso.com", 7, 0, 1, 0, 1, 0),
        ("outlook.com", 7, 0, 0, 0, 0, 0),
        ("yahoo.com", 6, 2, 1, 3, 1, 0),
        ("icloud.com", 3, 0, 0, 0, 0, 0),
    ]
    rates = {
        row["domain"]: (row["view_rate"], row["click_rate"])
        for row in report["engagement"]
    }
    assert rates["gmail.com"] == (0.1818, 0.0)  # 2/11
    assert rates["contoso.com"] == (0.0, 0.1429)  # 1/7
    assert rates["yahoo.com"] == (0.3333, 0.1667)  # 2/6, 1/6


def test_report_engagement_per_sender_matches_hand_count(
    report: dict[str, list[dict[str, Any]]],
) -> None:
    # 17 deliveries each. acs-prod: alice and ian viewed (by proxy), walter
    # clicked. acs-marketing: carol and eli viewed, carol clicked.
    keys = ("sender", "delivered", "viewed", "view_rate", "clicked", "click_rate")
    got = [tuple(row[k] for k in keys) for row in report["engagement_senders"]]
    assert got == [
        ("donotreply@notify.contoso.com", 17, 2, 0.1176, 1, 0.0588),
        ("news@mail.fabrikam.com", 17, 2, 0.1176, 1, 0.0588),
    ]
    assert [row["views"] for row in report["engagement_senders"]] == [2, 3]


@pytest.mark.parametrize("form", ["table", "markdown"])
def test_report_engagement_carries_the_proxy_caution(form: str) -> None:
    result = CliRunner().invoke(cli, ["report", str(SAMPLE), "-f", form, "-q"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count(CAUTION) == 2
    after_domains = result.stdout.split("Engagement per recipient domain", 1)[1]
    assert after_domains.index(CAUTION) < after_domains.index("Engagement per sender")


def test_report_engagement_is_empty_without_engagement_records(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(SEND) + "\n" + json.dumps(STATUS) + "\n")
    result = CliRunner().invoke(cli, ["report", str(path), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["engagement"] == []
    assert document["engagement_senders"] == []


def _per_recipient(inputs: Inputs) -> list[pl.LazyFrame]:
    tables = normalise(inputs)
    rows = build_deliveries(tables, Options(include_pending=True)).rows
    return [per_recipient(rows, tables.engagement)]


def test_engagement_per_recipient_joins_views_and_clicks_to_deliveries() -> None:
    inputs = scan([str(SAMPLE)])
    (df,) = inputs.collect(_per_recipient)
    assert df.height == 49  # one row per final status
    assert df["views"].sum() == 5  # six View records, one a duplicate
    assert df["clicks"].sum() == 2

    def row(recipient: str) -> dict[str, Any]:
        return df.filter(pl.col("RecipientId") == recipient).row(0, named=True)

    carol = row("carol@yahoo.com")
    assert (carol["views"], carol["clicks"], carol["proxy_views"]) == (2, 1, 0)
    assert carol["first_view"] == datetime(2026, 2, 10, 14, 30, 11, 200000, UTC)
    assert carol["first_click"] == datetime(2026, 2, 10, 14, 30, 40, 515000, UTC)
    assert (row("eli@yahoo.com")["views"], row("eli@yahoo.com")["clicks"]) == (1, 0)
    assert row("alice@gmail.com")["proxy_views"] == 1
    frank = row("frank@gmail.com")
    assert (frank["views"], frank["clicks"], frank["first_view"]) == (0, 0, None)


def test_the_report_basis_engagement_collects_on_its_own() -> None:
    # A library caller may collect one frame of the basis alone; the plan
    # must not rely on being collected together with the sections.
    inputs = scan([str(SAMPLE)])
    tables = read_tables(inputs)
    deliveries = build_deliveries(
        tables, Options(include_pending=True, ordered=False, in_memory=True)
    )
    basis = report_basis(inputs, tables, deliveries.collected())
    df = basis.delivered.collect()
    engaged = df.filter((pl.col("views") + pl.col("clicks")) > 0)
    got = {
        row["RecipientId"]: (row["views"], row["clicks"])
        for row in engaged.iter_rows(named=True)
    }
    # The five engaged recipients of the module docstring; all were delivered.
    assert got == {
        "alice@gmail.com": (1, 0),
        "carol@yahoo.com": (2, 1),
        "walter@contoso.com": (0, 1),
        "eli@yahoo.com": (1, 0),
        "ian@gmail.com": (1, 0),
    }


def test_engagement_meets_its_delivery_whatever_the_case(tmp_path: Path) -> None:
    # The view spells the message id in capitals and the address in mixed
    # case; the click, in another message's id, meets nothing.
    view = {
        "TimeGenerated": "2026-02-10T10:05:00Z",
        "CorrelationId": "0F6D3C1E-0000-4000-8000-000000000001",
        "OperationName": "UserEngagement",
        "RecipientId": "SomeOne@Example.COM",
        "EngagementType": "View",
    }
    click = {
        **view,
        "CorrelationId": "0f6d3c1e-0000-4000-8000-000000000002",
        "RecipientId": "someone@example.com",
        "EngagementType": "Click",
    }
    path = tmp_path / "export.json"
    records = (SEND, STATUS, view, click)
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    (df,) = scan([str(path)]).collect(_per_recipient)
    assert df.select("RecipientId", "views", "clicks").rows() == [
        ("someone@example.com", 1, 0)
    ]
    assert df["first_view"].item() == datetime(2026, 2, 10, 10, 5, tzinfo=UTC)
