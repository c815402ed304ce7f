"""``acsmail trace`` on the hand-built sample, against timelines worked out by hand.

Every expected event below was read off the records in
``fixtures/sample/build.py`` (and the per-message notes in
``fixtures/sample/expected/README.md``); the times since the send are the
differences of those timestamps, done by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner

from acsmail.cli import cli
from acsmail.trace import human_duration

SAMPLE = Path(__file__).parent.parent / "fixtures" / "sample"
HOSTILE = Path(__file__).parent.parent / "fixtures" / "hostile" / "ndjson"

M04 = "51adcd4f-c1ca-470f-843e-15c982b12b69"
M17 = "9c330592-d360-4e50-a91d-9ece4be669f5"
M20 = "4d1b3542-ec4c-4e89-be2e-e7e945fa6bb2"
M21 = "33665b93-bdda-4949-aef7-d35bff3f1320"
M22 = "7bce08cc-bab1-4860-a2ff-d419848f5824"
M26 = "94f20292-c70b-4005-9ad4-e0a848856414"
M28 = "1e6c23a5-6fc0-4c5b-a777-d523c651a89d"
GMAIL_MX = "gmail-smtp-in.l.google.com"
OUTLOOK_MX = "outlook-com.olc.protection.outlook.com"


def _trace(identifier: str, *options: str, form: str = "csv") -> dict[str, Any]:
    result = CliRunner().invoke(
        cli, ["trace", identifier, str(SAMPLE / form), "-f", "json", "-q", *options]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def _events(document: dict[str, Any], *keys: str) -> list[tuple[Any, ...]]:
    return [tuple(event[key] for key in keys) for event in document["timeline"]]


@pytest.fixture(scope="module")
def m04() -> dict[str, Any]:
    return _trace(M04.upper())


def test_trace_several_statuses_give_the_hand_worked_timeline(
    m04: dict[str, Any],
) -> None:
    # Send 14:18:20.400; OFD +0.650; Failed (Gmail deferral) +4.400; Delivered
    # 14:33:26.100, that is 15 min 5.700 s after the send.
    assert _events(m04, "time", "after_send", "recipient", "table", "event") == [
        ("2026-02-10T14:18:20.400000Z", "0 s", None, "send", "sent (SendMail)"),
        (
            "2026-02-10T14:18:21.050000Z",
            "+0.65 s",
            None,
            "status",
            "message OutForDelivery",
        ),
        (
            "2026-02-10T14:18:24.800000Z",
            "+4.4 s",
            "frank@gmail.com",
            "status",
            "Failed",
        ),
        (
            "2026-02-10T14:33:26.100000Z",
            "+15 min 5.7 s",
            "frank@gmail.com",
            "status",
            "Delivered",
        ),
    ]
    assert [e["seconds_after_send"] for e in m04["timeline"]] == [
        0.0,
        0.65,
        4.4,
        905.7,
    ]
    assert {e["message_id"] for e in m04["timeline"]} == {M04}


def test_trace_events_say_what_the_record_holds(m04: dict[str, Any]) -> None:
    send, _, failed, delivered = (e["detail"] for e in m04["timeline"])
    assert send == (
        "1.0 MB; to 1, cc 0, bcc 0 (1 unique); 1 attachment(s); "
        "via Email .NET SDK; resource acs-prod"
    )
    # The reply opens with its codes, so they are not said twice.
    assert failed.startswith(
        "Recipient server deferred the message; 421 4.7.28 Our system has detected"
    )
    assert failed.endswith(f"- gsmtp; mail server {GMAIL_MX}")
    assert delivered == f"mail server {GMAIL_MX}"
    assert [e["copies"] for e in m04["timeline"]] == [1, 1, 1, 1]


def test_trace_several_statuses_end_in_the_final_verdict(m04: dict[str, Any]) -> None:
    (frank,) = m04["recipients"]
    assert frank["recipient"] == "frank@gmail.com"
    assert frank["status"] == "Delivered"
    assert frank["verdict"] == f"delivered to {GMAIL_MX} after 15 min 5.7 s"
    assert frank["seconds_after_send"] == 905.7
    assert frank["completeness"] == "complete"
    assert frank["smtp_code"] is None
    assert frank["failure_category"] is None


def test_trace_recipient_address_keeps_only_that_recipient() -> None:
    # m26 went to gus and hana; hana's Failed (451 4.7.500) sits in both status
    # exports, as does the message-level OutForDelivery; her Delivered comes
    # 4 min 18.900 s after the 16:07:45.000 send and only in the second file.
    document = _trace("Hana@Outlook.com")
    assert _events(document, "after_send", "recipient", "event", "copies") == [
        ("0 s", None, "sent (SendMail)", 1),
        ("+0.7 s", None, "message OutForDelivery", 2),
        ("+5.6 s", "hana@outlook.com", "Failed", 2),
        ("+4 min 18.9 s", "hana@outlook.com", "Delivered", 1),
    ]
    (hana,) = document["recipients"]
    assert hana["message_id"] == M26
    assert hana["verdict"] == f"delivered to {OUTLOOK_MX} after 4 min 18.9 s"


def test_trace_message_without_send_record_says_so() -> None:
    # m20: a single Delivered status at 14:00:05.310, its send outside the export.
    document = _trace(M20)
    assert _events(document, "time", "after_send", "recipient", "event") == [
        (
            "2026-02-10T14:00:05.310000Z",
            "no send record",
            "aaron@icloud.com",
            "Delivered",
        )
    ]
    assert document["timeline"][0]["seconds_after_send"] is None
    (aaron,) = document["recipients"]
    assert aaron["verdict"] == (
        "delivered to mx01.mail.icloud.com (no send record, so no duration)"
    )
    assert aaron["completeness"] == "no-send-record"
    assert aaron["after_send"] == "no send record"


def test_trace_internet_message_id_finds_a_bounce_without_send() -> None:
    # m21: Bounced 550 5.1.1 with IsHardBounce True, no send record; found by
    # its InternetMessageId, in another case, from the az JSON form.
    document = _trace(f"<{M21.upper()}@AZURECOMM.NET>", form="json")
    assert _events(document, "time", "after_send", "recipient", "event") == [
        ("2026-02-10T14:01:12.660000Z", "no send record", "beth@gmail.com", "Bounced")
    ]
    (beth,) = document["recipients"]
    assert beth["verdict"] == (
        "bounced permanently: recipient mailbox does not exist (550 5.1.1)"
    )
    assert beth["bounce_type"] == "Hard Bounce"
    assert (beth["smtp_code"], beth["enhanced_code"]) == ("550", "5.1.1")
    assert beth["failure_category"] == "bad-mailbox"
    assert beth["retryable"] is False
    assert beth["enhanced_code_details"]


def test_trace_internet_message_id_without_brackets_is_the_same_message() -> None:
    with_brackets = _trace(f"<{M21}@azurecomm.net>")
    without = _trace(f"{M21}@azurecomm.net")
    assert without == with_brackets


def test_trace_expanded_list_and_clicks_are_in_the_timeline() -> None:
    # m17: sent 15:31:05.125 to team@contoso.com, expanded into walter and
    # wendy; walter clicked at 15:45:00.250, 13 min 55.125 s after the send.
    document = _trace(M17)
    assert _events(document, "after_send", "recipient", "table", "event") == [
        ("0 s", None, "send", "sent (SendMail)"),
        ("+0.575 s", None, "status", "message OutForDelivery"),
        ("+1.175 s", "team@contoso.com", "status", "Expanded"),
        ("+4.755 s", "walter@contoso.com", "status", "Delivered"),
        ("+5.29 s", "wendy@contoso.com", "status", "Delivered"),
        ("+13 min 55.125 s", "walter@contoso.com", "engagement", "Click"),
    ]
    click = document["timeline"][-1]["detail"]
    assert click.startswith("https://www.contoso.com/account/security; user agent ")
    verdicts = {r["recipient"]: r["verdict"] for r in document["recipients"]}
    assert verdicts == {
        "team@contoso.com": (
            "expanded as a distribution list; its members have their own"
        ),
        "walter@contoso.com": (
            "delivered to contoso-com.mail.protection.outlook.com after 4.755 s"
        ),
        "wendy@contoso.com": (
            "delivered to contoso-com.mail.protection.outlook.com after 5.29 s"
        ),
    }


def test_trace_clock_skew_shows_the_status_before_the_send() -> None:
    # m22: OFD 15:47:29.000 and Delivered 15:47:29.250, send 15:47:30.500.
    document = _trace(M22)
    assert _events(document, "after_send", "event") == [
        ("-1.5 s", "message OutForDelivery"),
        ("-1.25 s", "Delivered"),
        ("0 s", "sent (SendMail)"),
    ]
    (chris,) = document["recipients"]
    assert chris["verdict"] == (
        f"delivered to {OUTLOOK_MX}; its status is stamped 1.25 s before the send "
        "(clock skew)"
    )


def test_trace_send_with_no_status_is_in_flight() -> None:
    # m28: a send at 16:26:10.200 and nothing else.
    document = _trace(M28, form="ndjson")
    assert _events(document, "time", "event") == [
        ("2026-02-10T16:26:10.200000Z", "sent (SendMail)")
    ]
    (pending,) = document["recipients"]
    assert pending["recipient"] is None
    assert pending["verdict"] == "still in flight / no final status in the export"


def test_trace_table_prints_times_to_the_millisecond() -> None:
    result = CliRunner().invoke(cli, ["trace", M04, str(SAMPLE / "csv"), "-q"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[:2] == ["Timeline", "========"]
    assert "Final verdict per recipient" in lines
    assert any(
        line.startswith("2026-02-10 14:18:24.800  +4.4 s") and "Failed" in line
        for line in lines
    )
    assert f"delivered to {GMAIL_MX} after 15 min 5.7 s" in result.stdout


def test_trace_unknown_id_is_an_error() -> None:
    result = CliRunner().invoke(
        cli, ["trace", "nobody@example.org", str(SAMPLE / "csv"), "-q"]
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Error: nothing in the export matches 'nobody@example.org' as a message "
        "id, an InternetMessageId or a recipient address\n"
    )


def test_trace_of_a_message_whose_records_were_all_rejected_points_at_them(
    tmp_path: Path,
) -> None:
    # The send's size and the status's IsHardBounce do not cast: nothing of
    # message m-7 reaches the tables, yet both records name it (in another
    # case). A third, good record of another message mentions it nowhere.
    records = [
        {"TimeGenerated": "2026-02-10T10:00:00Z", "CorrelationId": "good-1",
         "OperationName": "SendMail", "Size": 0.1, "UniqueRecipientsCount": 1},
        {"TimeGenerated": "2026-02-10T10:00:01Z", "CorrelationId": "M-7",
         "OperationName": "SendMail", "Size": "lots", "UniqueRecipientsCount": 1},
        {"TimeGenerated": "2026-02-10T10:00:04Z", "CorrelationId": "M-7",
         "OperationName": "DeliveryStatusUpdate", "RecipientId": "x@y.example",
         "DeliveryStatus": "Delivered", "IsHardBounce": "maybe"},
    ]  # fmt: skip
    path = tmp_path / "export.json"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    result = CliRunner().invoke(cli, ["trace", "m-7", str(path), "-q"])
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: nothing in the export matches 'm-7' as a message id, an "
        "InternetMessageId or a recipient address; 2 record(s) left out of the "
        f"tables mention it (first: {path}: line 2: Size: expected a number of "
        "at least 0, got 'lots')\n"
    )
    unrelated = CliRunner().invoke(cli, ["trace", "m-8", str(path), "-q"])
    assert unrelated.stderr.endswith("a recipient address\n")
    # "m" is inside "M-7" and "SendMail", but no record names it whole.
    inside = CliRunner().invoke(cli, ["trace", "m", str(path), "-q"])
    assert inside.stderr.endswith("a recipient address\n")


def test_trace_keeps_control_characters_off_the_terminal() -> None:
    result = CliRunner().invoke(
        cli, ["trace", "y@</script><script>window.pwned=6</script>", str(HOSTILE)]
    )
    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert "try later \\x1b[31mred\\x1b[0m" in result.stdout


def test_trace_durations_read_like_speech() -> None:
    ms = [0, 650, 4330, 5000, 60_000, 905_700, 3_723_000, 90_061_001, -1250]
    got = pl.DataFrame({"ms": ms}).select(human_duration(pl.col("ms")).alias("t"))["t"]
    assert got.to_list() == [
        "0 s",
        "0.65 s",
        "4.33 s",
        "5 s",
        "1 min 0 s",
        "15 min 5.7 s",
        "1 h 2 min 3 s",
        "25 h 1 min 1.001 s",
        "-1.25 s",
    ]


def test_trace_writes_to_the_output_file(tmp_path: Path) -> None:
    out = tmp_path / "trace.json"
    result = CliRunner().invoke(
        cli, ["trace", M20, str(SAMPLE / "csv"), "-f", "json", "-o", str(out), "-q"]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert set(json.loads(out.read_text())) == {"timeline", "recipients"}


def test_trace_warns_of_records_of_the_message_that_were_rejected(
    tmp_path: Path,
) -> None:
    # The send of h1 is read; its Bounced status is rejected for an
    # IsHardBounce of "maybe", so the trace shows a message with no final
    # status and says which record it lacks.
    records = [
        {"TimeGenerated": "2026-02-10T10:00:00Z", "CorrelationId": "h1",
         "OperationName": "SendMail", "Size": 0.1, "UniqueRecipientsCount": 1},
        {"TimeGenerated": "2026-02-10T10:00:03Z", "CorrelationId": "h1",
         "OperationName": "DeliveryStatusUpdate", "RecipientId": "x@y.example",
         "DeliveryStatus": "Bounced", "IsHardBounce": "maybe"},
    ]  # fmt: skip
    path = tmp_path / "export.json"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    result = CliRunner().invoke(cli, ["trace", "h1", str(path)])
    assert result.exit_code == 0, result.stderr
    assert (
        "acsmail: 1 record(s) that mention 'h1' were left out of the tables, so "
        f"the trace lacks them (first: {path}: line 2: IsHardBounce: expected "
        "true or false, got 'maybe')\n"
    ) in result.stderr
    quiet = CliRunner().invoke(cli, ["trace", "h1", str(path), "-q"])
    assert quiet.stderr == ""


def test_trace_says_unknown_for_recipient_counts_a_send_lacks(tmp_path: Path) -> None:
    # s1 carries two of its four counts; s2 carries none, so its detail is
    # the size alone.
    records = [
        {"TimeGenerated": "2026-02-10T10:00:00Z", "CorrelationId": "s1",
         "OperationName": "SendMail", "Size": 0.5, "ToRecipientsCount": 2,
         "UniqueRecipientsCount": 2},
        {"TimeGenerated": "2026-02-10T10:00:01Z", "CorrelationId": "s2",
         "OperationName": "SendMail", "Size": 0.25},
    ]  # fmt: skip
    path = tmp_path / "export.json"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    details = []
    for message in ("s1", "s2"):
        result = CliRunner().invoke(cli, ["trace", message, str(path), "-f", "json"])
        assert result.exit_code == 0, result.stderr
        (send,) = json.loads(result.stdout)["timeline"]
        details.append(send["detail"])
    assert details == ["0.5 MB; to 2, cc ?, bcc ? (2 unique)", "0.25 MB"]
