"""Safe output: formula-proof CSV, and reports that hide who the mail was for."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import re
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from acsmail.cli import cli, inspect_command, trace_command
from acsmail.redact import Redactor

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


# The pseudonyms below are worked out here from the scheme the README states
# (HMAC-SHA256 of the lower-cased local part, 12 hex digits after a "u", the
# domain lower-cased), not read from acsmail's output.
KEY = "trace-key"
M_CAROL = "f7667a44-95fa-4377-855a-5c964672a108"  # to dave, carol and erin
M_YVONNE = "c024f9df-3626-42c7-907f-4d58fc7aa87a"


def _pseudonym(address: str, key: str = KEY) -> str:
    local, _, domain = address.rpartition("@")
    digest = hmac.new(key.encode(), local.lower().encode(), hashlib.sha256)
    return f"u{digest.hexdigest()[:12]}@{domain.lower()}"


def _forms(command: click.Command) -> list[str]:
    """Every output form a command's ``-f`` offers."""
    (option,) = (param for param in command.params if param.name == "form")
    assert isinstance(option.type, click.Choice)
    return [str(choice) for choice in option.type.choices]


def _run(*args: str, exit_code: int = 0) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == exit_code, result.output
    return result


def _trace_json(identifier: str, *args: str, path: Path = SAMPLE) -> dict[str, Any]:
    result = _run("trace", identifier, str(path), "-q", "-f", "json", *args)
    document: dict[str, Any] = json.loads(result.stdout)
    return document


# Each holds an address in its log text as well as in RecipientId: heidi's and
# yvonne's replies name them, olivia's names the sender news@mail.fabrikam.com.
# Listed with the domains the trace shows and the people it must not name.
TRACED = [
    ("heidi@fourthcoffee.com", {"fourthcoffee.com"}, {"heidi"}),
    ("Yvonne@Outlook.com", {"outlook.com"}, {"yvonne"}),
    ("olivia@contoso.com", {"contoso.com"}, {"olivia", "news"}),
    ("carol@yahoo.com", {"yahoo.com"}, {"carol"}),
    (M_CAROL, {"gmail.com", "yahoo.com", "contoso.com"}, {"dave", "carol", "erin"}),
]


@pytest.mark.parametrize("form", _forms(trace_command))
@pytest.mark.parametrize(("identifier", "domains", "people"), TRACED)
def test_trace_redact_hides_every_local_part(
    identifier: str, domains: set[str], people: set[str], form: str
) -> None:
    locals_, senders = _sample_addresses()
    result = _run("trace", identifier, str(SAMPLE), "-f", form, "--redact")
    for domain in domains:
        assert re.search(rf"u[0-9a-f]{{12}}@{re.escape(domain)}", result.stdout)
    text = (result.stdout + result.stderr).lower()
    for local in locals_ | senders:
        assert f"{local}@" not in text, local
    # Not even without their domain.
    for person in people:
        assert re.search(rf"\b{person}\b", text) is None, person


def test_trace_redact_keeps_every_record_and_verdict() -> None:
    # yvonne's message: the send, the message-level OutForDelivery, then a
    # Delivered and a Bounced stamped at the same instant; the worse one,
    # Bounced, is final. Redacting changes the addresses and nothing else.
    plain = _trace_json("yvonne@outlook.com")
    redacted = _trace_json("yvonne@outlook.com", "--redact", "--redact-key", KEY)
    events = ["sent (SendMail)", "message OutForDelivery", "Delivered", "Bounced"]
    for document in (plain, redacted):
        assert [e["event"] for e in document["timeline"]] == events
        assert [r["status"] for r in document["recipients"]] == ["Bounced"]
    yvonne = _pseudonym("yvonne@outlook.com")
    assert [e["recipient"] for e in redacted["timeline"]] == [None, None, *[yvonne] * 2]
    assert [r["recipient"] for r in redacted["recipients"]] == [yvonne]
    for part in ("timeline", "recipients"):
        for before, after in zip(plain[part], redacted[part], strict=True):
            kept = {k: v for k, v in before.items() if k not in {"recipient", "detail"}}
            assert kept == {k: after[k] for k in kept}


def test_trace_redact_of_a_message_keeps_each_recipient() -> None:
    plain = _trace_json(M_CAROL)
    redacted = _trace_json(M_CAROL, "--redact", "--redact-key", KEY)
    assert len(redacted["timeline"]) == len(plain["timeline"])
    assert [r["status"] for r in redacted["recipients"]] == [
        r["status"] for r in plain["recipients"]
    ]
    assert sorted(r["recipient"] for r in redacted["recipients"]) == sorted(
        _pseudonym(a) for a in ("dave@gmail.com", "carol@yahoo.com", "erin@contoso.com")
    )


@pytest.mark.parametrize(
    "address", ["heidi@fourthcoffee.com", "yvonne@outlook.com", "carol@yahoo.com"]
)
def test_trace_pseudonym_finds_what_the_address_finds(address: str) -> None:
    by_address = _trace_json(address, "--redact", "--redact-key", KEY)
    # Case does not matter, as for any id.
    pseudonym = _pseudonym(address).upper()
    by_pseudonym = _trace_json(pseudonym, "--redact", "--redact-key", KEY)
    assert by_pseudonym == by_address
    assert {r["recipient"] for r in by_address["recipients"]} == {_pseudonym(address)}


def test_trace_pseudonym_printed_by_the_report_can_be_traced() -> None:
    # heidi's reply quotes her address, so the report's top failure reasons
    # print its pseudonym; someone holding that report and the key can trace it.
    heidi = _pseudonym("heidi@fourthcoffee.com")
    assert heidi in json.dumps(_report("--redact", "--redact-key", KEY))
    document = _trace_json(heidi, "--redact", "--redact-key", KEY)
    assert {e["message_id"] for e in document["timeline"]} == {
        "6214b0da-7f4f-468f-9e8a-e6a4f85b7ac9"
    }
    assert [r["status"] for r in document["recipients"]] == ["Failed"]


def test_trace_pseudonym_under_another_key_finds_nothing() -> None:
    pseudonym = _pseudonym("yvonne@outlook.com", "other-key")
    result = _run(
        *("trace", pseudonym, str(SAMPLE), "-q", "--redact", "--redact-key", KEY),
        exit_code=1,
    )
    assert "nothing in the export matches" in result.stderr
    assert result.stdout == ""


def test_trace_redact_error_does_not_repeat_the_address() -> None:
    result = _run(
        *("trace", "nobody@contoso.com", str(SAMPLE), "-q"),
        *("--redact", "--redact-key", KEY),
        exit_code=1,
    )
    assert "nobody" not in result.stderr
    assert _pseudonym("nobody@contoso.com") in result.stderr


def test_trace_redact_finds_an_internet_message_id() -> None:
    # The InternetMessageId's own local part (the message GUID) is hashed in
    # the output, yet the real header value still finds the message.
    document = _trace_json(f"<{M_YVONNE}@azurecomm.net>", "--redact")
    assert {e["message_id"] for e in document["timeline"]} == {M_YVONNE}
    assert len(document["timeline"]) == 4
    assert f"{M_YVONNE}@" not in json.dumps(document)


def test_trace_redact_hashes_an_address_the_text_pattern_cannot_read() -> None:
    # formulas.json: a RecipientId whose local part is a spreadsheet formula.
    address = '=HYPERLINK("http://x.invalid","y")@example.com'
    document = _trace_json(address, "--redact", "--redact-key", KEY, path=HOSTILE)
    assert [r["recipient"] for r in document["recipients"]] == [_pseudonym(address)]
    assert "hyperlink" not in json.dumps(document).lower()


def test_trace_redact_key_without_redact_is_a_usage_error() -> None:
    result = _run("trace", M_CAROL, str(SAMPLE), "--redact-key", "k", exit_code=2)
    assert "--redact-key needs --redact" in result.stderr


# A status export in which two records do not cast, and each rejection quotes
# an address: one shifted into IsHardBounce, one into TimeGenerated.
REJECTING = (
    "TimeGenerated,CorrelationId,OperationName,RecipientId,DeliveryStatus,"
    "IsHardBounce,Type\n"
    "2026-02-10T14:00:00Z,11111111-0000-4000-8000-000000000001,"
    "DeliveryStatusUpdate,anna@contoso.com,Delivered,False,"
    "ACSEmailStatusUpdateOperational\n"
    "2026-02-10T14:00:01Z,11111111-0000-4000-8000-000000000002,"
    "DeliveryStatusUpdate,bert@fabrikam.com,Bounced,bert@fabrikam.com,"
    "ACSEmailStatusUpdateOperational\n"
    "Claire.Dupont@Example.org,11111111-0000-4000-8000-000000000003,"
    "DeliveryStatusUpdate,claire.dupont@example.org,Bounced,True,"
    "ACSEmailStatusUpdateOperational\n"
)
REJECTING_LOCALS = ("anna", "bert", "claire.dupont")


@pytest.fixture
def rejecting(tmp_path: Path) -> Path:
    path = tmp_path / "status.csv"
    path.write_text(REJECTING, encoding="utf-8")
    return path


def test_inspect_without_redact_quotes_the_rejected_values(rejecting: Path) -> None:
    result = _run("inspect", str(rejecting), "-q", "-f", "json")
    assert [r["reason"] for r in json.loads(result.stdout)["rejected"]] == [
        "IsHardBounce: expected true or false, got 'bert@fabrikam.com'",
        "TimeGenerated: expected a datetime, got 'Claire.Dupont@Example.org'",
    ]


def test_inspect_redact_pseudonymises_the_rejected_values(rejecting: Path) -> None:
    result = _run(
        "inspect", str(rejecting), "-f", "json", "--redact", "--redact-key", KEY
    )
    bert = _pseudonym("bert@fabrikam.com")
    claire = _pseudonym("Claire.Dupont@Example.org")
    assert [r["reason"] for r in json.loads(result.stdout)["rejected"]] == [
        f"IsHardBounce: expected true or false, got '{bert}'",
        f"TimeGenerated: expected a datetime, got '{claire}'",
    ]
    # The warning names the first rejection, pseudonymised as well.
    assert f"got '{bert}'" in result.stderr


@pytest.mark.parametrize("form", _forms(inspect_command))
def test_inspect_redact_hides_every_local_part(
    rejecting: Path, tmp_path: Path, form: str
) -> None:
    rejects = tmp_path / "rejects.csv"
    result = _run(
        "inspect", str(rejecting), "-f", form, "--redact", "--rejects", str(rejects)
    )
    written = rejects.read_text(encoding="utf-8").lower()
    assert written.count("@fabrikam.com") == 3  # the reason and the record's two
    for text in (result.stdout.lower(), result.stderr.lower(), written):
        for local in REJECTING_LOCALS:
            assert re.search(rf"\b{re.escape(local)}\b", text) is None, (form, local)


def test_inspect_redact_key_without_redact_is_a_usage_error(rejecting: Path) -> None:
    result = _run("inspect", str(rejecting), "--redact-key", "k", exit_code=2)
    assert "--redact-key needs --redact" in result.stderr


@pytest.mark.parametrize("command", ["report", "deliveries", "inspect"])
def test_rejects_file_uses_the_same_pseudonyms_as_the_output(
    rejecting: Path, tmp_path: Path, command: str
) -> None:
    rejects = tmp_path / "rejects.csv"
    args = [command, str(rejecting), "--redact", "--redact-key", KEY]
    _run(*args, "-q", "--rejects", str(rejects), "-o", str(tmp_path / "out"))
    with rejects.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    bert = _pseudonym("bert@fabrikam.com")
    claire = _pseudonym("Claire.Dupont@Example.org")
    # Each address is hashed once: in the reason and in the record's text alike.
    assert [row["reason"] for row in rows] == [
        f"IsHardBounce: expected true or false, got '{bert}'",
        f"TimeGenerated: expected a datetime, got '{claire}'",
    ]
    assert rows[0]["record"] == (
        f"2026-02-10T14:00:01Z,11111111-0000-4000-8000-000000000002,"
        f"DeliveryStatusUpdate,{bert},Bounced,{bert},ACSEmailStatusUpdateOperational"
    )
    assert rows[1]["record"].startswith(f"{claire},")
    assert rows[1]["record"].count(claire) == 2


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("user jörgsecret@example.de unknown", "jörgsecret@example.de"),
        ("<secreteve@bücher.example>: no such user", "secreteve@bücher.example"),
        ("550 <secretivy@[192.168.0.1]> rejected", "secretivy@[192.168.0.1]"),
        ("to secretjo@[IPv6:2001:db8::1] failed", "secretjo@[IPv6:2001:db8::1]"),
        ("https://contoso.com/unsub?e=josé@example.com&x=1", "josé@example.com"),
    ],
)
def test_redact_text_finds_international_addresses(text: str, address: str) -> None:
    redactor = Redactor(KEY.encode())
    redacted = redactor.text(text)
    local, _, domain = address.rpartition("@")
    # The same pseudonym as the address column gets, and nothing of the local part.
    assert redacted == text.replace(address, _pseudonym(address))
    assert local not in redacted
    assert domain.lower() in redacted


def test_rejects_file_hides_the_sender_of_a_rejected_json_record(
    tmp_path: Path,
) -> None:
    record = {
        "TimeGenerated": "not a time",
        "CorrelationId": "m1",
        "SenderUsername": "secretsender",
        "RecipientId": "ann@contoso.com",
        "DeliveryStatus": "Delivered",
        "Type": "ACSEmailStatusUpdateOperational",
    }
    path = tmp_path / "status.json"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    rejects = tmp_path / "rejects.csv"
    _run("report", str(path), "-q", "--redact", "--redact-key", KEY,
         "--rejects", str(rejects), "-o", str(tmp_path / "out.json"))  # fmt: skip
    written = rejects.read_text(encoding="utf-8")
    sender = _pseudonym("secretsender@x").split("@")[0]
    assert "secretsender" not in written
    assert f'""SenderUsername"": ""{sender}""' in written
    assert _pseudonym("ann@contoso.com") in written
