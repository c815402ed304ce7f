"""Safe output: formula-proof CSV, and reports that hide who the mail was for."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from acsmail.cli import cli

FIXTURES = Path(__file__).parent.parent / "fixtures"
SAMPLE = FIXTURES / "sample" / "csv"
HOSTILE = FIXTURES / "hostile" / "formulas.json"
ADDRESS = re.compile(r"([A-Za-z0-9._%+\-]+)@([A-Za-z0-9.\-]+\.[A-Za-z]+)")


def _csv_rows(*args: str) -> list[dict[str, str]]:
    result = CliRunner().invoke(cli, ["deliveries", str(HOSTILE), "-q", *args])
    assert result.exit_code == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_deliveries_csv_neutralises_formulas() -> None:
    rows = {row["RecipientDomain"]: row for row in _csv_rows()}
    bounced, failed = rows["example.com"], rows["example.org"]
    # Each value below starts with a formula character in the export.
    assert bounced["RecipientId"] == '\'=HYPERLINK("http://x.invalid","y")@example.com'
    assert bounced["SenderUsername"] == "'=cmd|' /C calc'!A0"
    assert bounced["FailureMessage"].startswith("'=1+2 550 5.1.1")
    assert failed["RecipientId"] == "'+carol@example.org"
    assert failed["FailureMessage"].startswith("'@SUM(1,2)")
    for row in rows.values():
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


def test_deliveries_no_escape_formulas_keeps_values() -> None:
    rows = {row["RecipientDomain"]: row for row in _csv_rows("--no-escape-formulas")}
    assert rows["example.org"]["RecipientId"] == "+carol@example.org"
    assert rows["example.com"]["SenderUsername"] == "=cmd|' /C calc'!A0"


def _sample_addresses() -> tuple[set[str], set[str]]:
    """Local parts of every address in the sample's files, and its senders."""
    locals_, senders = set(), set()
    for path in SAMPLE.glob("*.csv"):
        with path.open(encoding="utf-8-sig", newline="") as file:
            for row in csv.DictReader(file):
                for value in row.values():
                    for local, _ in ADDRESS.findall(value or ""):
                        locals_.add(local.lower())
                if row.get("SenderUsername"):
                    senders.add(row["SenderUsername"].lower())
    return locals_, senders


def _report(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["report", str(SAMPLE), "-q", "-f", "json", *args])
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_report_redact_hides_every_local_part() -> None:
    locals_, senders = _sample_addresses()
    assert {"ben", "cara", "donotreply", "news"} <= locals_ | senders
    for form in ("table", "markdown", "json"):
        result = CliRunner().invoke(
            cli, ["report", str(SAMPLE), "-q", "-f", form, "--redact"]
        )
        text = result.stdout.lower()
        for local in locals_ | senders:
            assert f"{local}@" not in text, (form, local)


def test_report_redact_keeps_per_domain_figures() -> None:
    plain, redacted = _report(), _report("--redact")
    assert redacted["domains"] == plain["domains"]
    assert redacted["latency"] == plain["latency"]
    assert redacted["overview"] == plain["overview"]


def test_deliveries_redact_key_gives_stable_pseudonyms() -> None:
    def recipients(*args: str) -> list[str]:
        result = CliRunner().invoke(
            cli, ["deliveries", str(SAMPLE), "-q", "-f", "ndjson", *args]
        )
        assert result.exit_code == 0, result.stderr
        rows = [json.loads(line) for line in result.stdout.splitlines()]
        return sorted(row["RecipientId"] for row in rows)

    first = recipients("--redact", "--redact-key", "k1")
    assert first == recipients("--redact", "--redact-key", "k1")
    assert first != recipients("--redact", "--redact-key", "k2")
    assert all(re.fullmatch(r"u[0-9a-f]{12}@[a-z0-9.\-]+", r) for r in first)


def test_deliveries_redact_key_without_redact_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["deliveries", str(SAMPLE), "--redact-key", "k"])
    assert result.exit_code == 2
    assert "--redact-key needs --redact" in result.stderr
