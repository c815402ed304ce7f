"""The command line's contract: help, formats, exit codes, errors without tracebacks."""

from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner

from acsmail.cli import cli

COMMANDS = sorted(cli.commands)  # type: ignore[attr-defined]

SEND = {
    "TimeGenerated": "2026-02-10T10:00:00Z",
    "CorrelationId": "0f6d3c1e-0000-4000-8000-000000000001",
    "OperationName": "SendMail",
    "Size": 0.02,
    "UniqueRecipientsCount": 1,
    "_ResourceId": "/subscriptions/s/providers/x/acs",
}
STATUS = {
    "TimeGenerated": "2026-02-10T10:00:03Z",
    "CorrelationId": "0f6d3c1e-0000-4000-8000-000000000001",
    "OperationName": "DeliveryStatusUpdate",
    "RecipientId": "someone@example.com",
    "DeliveryStatus": "Delivered",
    "_ResourceId": "/subscriptions/s/providers/x/acs",
}


@pytest.fixture
def export(tmp_path: Path) -> Path:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(SEND) + "\n" + json.dumps(STATUS) + "\n")
    return path


@pytest.mark.parametrize("command", COMMANDS)
def test_cli_every_command_accepts_help(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout
    assert "-h, --help" in result.stdout


def test_cli_python_m_acsmail_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "acsmail", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    assert "report" in done.stdout
    assert "deliveries" in done.stdout


@pytest.mark.parametrize(
    ("command", "form"),
    [
        ("report", "table"),
        ("report", "markdown"),
        ("report", "json"),
        ("deliveries", "csv"),
        ("deliveries", "ndjson"),
        ("deliveries", "json"),
    ],
)
def test_cli_format_to_stdout(command: str, form: str, export: Path) -> None:
    result = CliRunner().invoke(cli, [command, str(export), "-f", form, "-o", "-"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip()
    assert result.stderr == ""


def test_report_json_is_one_object_of_sections(export: Path) -> None:
    result = CliRunner().invoke(cli, ["report", str(export), "-f", "json"])
    document = json.loads(result.stdout)
    assert document["overview"][0]["recipients_final"] == 1
    assert document["overview"][0]["delivered"] == 1
    assert document["domains"] == [
        {
            "domain": "example.com",
            "total": 1,
            "delivered": 1,
            "bounced": 0,
            "failed": 0,
            "other": 0,
            "success_rate": 1.0,
        }
    ]


def test_deliveries_parquet_output_round_trips(export: Path, tmp_path: Path) -> None:
    import polars as pl

    out = tmp_path / "deliveries.parquet"
    result = CliRunner().invoke(
        cli, ["deliveries", str(export), "-f", "parquet", "-o", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    df = pl.read_parquet(out)
    assert df["DurationMilliseconds"].to_list() == [3000]


def test_deliveries_missing_path_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    result = CliRunner().invoke(cli, ["deliveries", str(missing)])
    assert result.exit_code == 1
    assert f"Error: {missing}: no such file or directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_deliveries_not_an_export_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("shopping list\neggs\nmilk\n")
    result = CliRunner().invoke(cli, ["deliveries", str(path)])
    assert result.exit_code == 1
    assert f"Error: {path}: line 1: expected a CSV header" in result.stderr
    assert result.stdout == ""


def test_deliveries_bad_record_is_counted_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(SEND) + "\n{broken\n" + json.dumps(STATUS) + "\n")
    result = CliRunner().invoke(cli, ["deliveries", str(path)])
    assert result.exit_code == 0, result.stderr
    assert (
        f"1 record(s) rejected (first: {path}: line 2: not valid JSON" in result.stderr
    )
    assert result.stdout.count("\n") == 2  # header and the one delivery


def test_deliveries_strict_stops_at_first_rejection(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(SEND) + "\n{broken\n")
    result = CliRunner().invoke(cli, ["deliveries", "--strict", str(path)])
    assert result.exit_code == 1
    assert f"Error: {path}: line 2: not valid JSON" in result.stderr


_NO_TABLE = {"TimeGenerated": "2026-02-10T10:00:05Z", "CorrelationId": "m9"}


@pytest.mark.parametrize(
    ("sends", "spill"),
    [(1, False), (6000, False), (1, True)],
    ids=["joined", "scanned by position", "tables on disk"],
)
def test_report_lists_records_that_match_no_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sends: int, spill: bool
) -> None:
    if spill:
        monkeypatch.setenv("ACSMAIL_SPILL_BYTES", "1")
    # The record that names no table and fills no table's own field comes
    # after a blank line: it is on line sends + 2. With 6,000 sends the file
    # is past 1 MiB and scanned from disk, numbered by position.
    path = tmp_path / "export.json"
    lines = [
        json.dumps({**SEND, "CorrelationId": f"0f6d3c1e-{n:04d}"}) for n in range(sends)
    ]
    path.write_text("\n".join([*lines, "", json.dumps(_NO_TABLE)]) + "\n")
    assert (path.stat().st_size > 1024 * 1024) == (sends > 1)
    rejects = tmp_path / "rejects.csv"
    result = CliRunner().invoke(
        cli, ["report", str(path), "--rejects", str(rejects), "-f", "json"]
    )
    assert result.exit_code == 0, result.stderr
    line = sends + 2
    assert (
        f"1 record(s) match no table and are left out (first: {path}: line {line})"
        in result.stderr
    )
    assert "rejected" not in result.stderr
    (row,) = pl.read_csv(rejects).to_dicts()
    assert row["file"] == str(path)
    assert row["line"] == line
    assert row["reason"].startswith("matches no table")
    assert json.loads(row["record"]) == _NO_TABLE
    report = json.loads(result.stdout)
    assert report["overview"][0]["unclassified"] == 1
    assert report["overview"][0]["rejected"] == 0
    assert report["rejected"] == []

    strict = CliRunner().invoke(cli, ["report", str(path), "--strict"])
    assert strict.exit_code == 1
    assert f"Error: {path}: line {line}: matches no table" in strict.stderr


def test_deliveries_rejects_file_holds_the_record(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps({**SEND, "Size": "lots"}) + "\n")
    rejects = tmp_path / "rejects.csv"
    result = CliRunner().invoke(
        cli, ["deliveries", str(path), "--rejects", str(rejects)]
    )
    assert result.exit_code == 0
    text = rejects.read_text()
    assert "Size: expected a number of at least 0, got 'lots'" in text
    assert f"{path},1," in text


def test_deliveries_kql_with_pending_is_a_usage_error(export: Path) -> None:
    result = CliRunner().invoke(
        cli, ["deliveries", str(export), "--kql-compatible", "--include-pending"]
    )
    assert result.exit_code == 2
    assert "--include-pending cannot be combined with --kql-compatible" in result.stderr


def test_report_since_rejects_a_bad_date(export: Path) -> None:
    result = CliRunner().invoke(cli, ["report", str(export), "--since", "yesterday"])
    assert result.exit_code == 2
    assert "expected an ISO date or datetime" in result.stderr


@pytest.mark.parametrize(
    ("option", "value", "kept"),
    [
        ("--since", "2026-02-10T10:00:00Z", 1),
        ("--since", "2026-02-10T10:00:01", 0),
        ("--until", "2026-02-10T10:00:01", 1),
        ("--until", "2026-02-10", 0),
        ("--recipient-domain", "EXAMPLE.com", 1),
        ("--recipient-domain", "gmail.com", 0),
        ("--status", "delivered", 1),
        ("--status", "Bounced", 0),
        ("--message-id", "0F6D3C1E-0000-4000-8000-000000000001", 1),
        ("--message-id", "other", 0),
    ],
)
def test_deliveries_filters(option: str, value: str, kept: int, export: Path) -> None:
    result = CliRunner().invoke(
        cli, ["deliveries", str(export), option, value, "-f", "ndjson"]
    )
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == kept


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--status", "Bouncd"], "--status 'Bouncd' is no final status"),
        (
            ["--since", "2026-03-01", "--until", "2026-02-01"],
            "--since is later than --until",
        ),
    ],
)
@pytest.mark.parametrize("command", ["report", "deliveries"])
def test_filters_that_keep_nothing_are_usage_errors(
    command: str, args: list[str], message: str, export: Path
) -> None:
    result = CliRunner().invoke(cli, [command, str(export), *args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_explain_json_has_one_object_per_input() -> None:
    result = CliRunner().invoke(
        cli, ["explain", "-f", "json", "5.1.1", "452 4.2.2 full"]
    )
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["input"] for row in rows] == ["5.1.1", "452 4.2.2 full"]
    assert set(rows[0]) == {
        "input",
        "smtp_code",
        "enhanced_code",
        "provider",
        "explanation",
        "category",
        "retryable",
        "classified_by",
    }
    # 5.1.1: the mailbox does not exist; 452 4.2.2: full for now, try later.
    assert (rows[0]["category"], rows[0]["retryable"]) == ("bad-mailbox", False)
    assert (rows[1]["category"], rows[1]["retryable"]) == ("mailbox-full", True)


def test_explain_reads_replies_from_stdin() -> None:
    result = CliRunner().invoke(
        cli,
        ["explain", "-f", "json"],
        input="550 5.1.1 no such user\n\n421 4.7.0 later\n",
    )
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(row["smtp_code"], row["enhanced_code"]) for row in rows] == [
        ("550", "5.1.1"),
        ("421", "4.7.0"),
    ]


def test_explain_without_input_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["explain"], input="")
    assert result.exit_code == 2
    assert "give codes or replies" in result.stderr


def test_explain_a_blank_argument_is_a_usage_error() -> None:
    # An empty shell variable among the arguments is named, not skipped.
    result = CliRunner().invoke(cli, ["explain", "550", " "])
    assert result.exit_code == 2
    assert "argument 2 is blank" in result.stderr


def test_deliveries_one_bad_time_rejects_only_its_record(tmp_path: Path) -> None:
    header = '"TimeGenerated [UTC]",CorrelationId,OperationName,Size'
    rows = [f'"2/10/2026, 4:0{i}:00.000 PM",m{i},SendMail,0.1' for i in range(5)]
    rows[2] = '"not a date",m2,SendMail,0.1'
    # Two exports joined end to end repeat the header line.
    path = tmp_path / "send.csv"
    path.write_text("\n".join([header, *rows[:3], header, *rows[3:]]) + "\n")
    result = CliRunner().invoke(cli, ["report", str(path), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    inputs = json.loads(result.stdout)["inputs"][0]
    assert (inputs["send"], inputs["rejected"]) == (4, 2)


def test_report_output_into_a_missing_folder_is_a_usage_error(
    export: Path, tmp_path: Path
) -> None:
    target = tmp_path / "missing" / "report.txt"
    result = CliRunner().invoke(cli, ["report", str(export), "-o", str(target)])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_deliveries_rejects_file_is_redacted_and_formula_safe(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    bad = {**STATUS, "RecipientId": "=evil@example.com", "IsHardBounce": "maybe"}
    path.write_text(json.dumps(SEND) + "\n" + json.dumps(bad) + "\n")
    rejects = tmp_path / "rejects.csv"
    result = CliRunner().invoke(
        cli, ["deliveries", str(path), "--rejects", str(rejects), "--redact", "-q"]
    )
    assert result.exit_code == 0, result.stderr
    text = rejects.read_text()
    assert "IsHardBounce: expected true or false" in text
    assert "=evil@" not in text


@pytest.mark.parametrize(
    ("command", "name", "start"),
    [
        ("deliveries", "out.parquet", b"PAR1"),
        ("deliveries", "out.jsonl", b'{"MessageId"'),
        ("deliveries", "out.csv", b"MessageId,"),
        ("report", "out.html", b"<!DOCTYPE html>"),
        ("report", "out.htm", b"<!DOCTYPE html>"),
        ("report", "out.json", b"{"),
        ("report", "out.md", b"## Inputs"),
        ("report", "out.markdown", b"## Inputs"),
    ],
)
def test_cli_output_suffix_picks_the_format(
    command: str, name: str, start: bytes, export: Path, tmp_path: Path
) -> None:
    out = tmp_path / name
    result = CliRunner().invoke(cli, [command, str(export), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes().startswith(start)


def test_deliveries_gz_suffix_writes_gzip(export: Path, tmp_path: Path) -> None:
    plain, packed = tmp_path / "out.csv", tmp_path / "out.csv.gz"
    for out in (plain, packed):
        result = CliRunner().invoke(cli, ["deliveries", str(export), "-o", str(out)])
        assert result.exit_code == 0, result.stderr
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()
    assert plain.read_bytes().startswith(b"MessageId,")


@pytest.mark.parametrize(
    ("command", "name", "start"),
    [
        ("inspect", "out.json", "{"),
        ("inspect", "out.md", "## Inputs"),
        ("trace", "out.json", "{"),
        ("explain", "out.json", "["),
    ],
)
def test_other_commands_take_the_format_from_the_suffix(
    command: str, name: str, start: str, export: Path, tmp_path: Path
) -> None:
    out = tmp_path / name
    args = {
        "inspect": [str(export)],
        "trace": ["0F6D3C1E-0000-4000-8000-000000000001", str(export)],
        "explain": ["550"],
    }[command]
    result = CliRunner().invoke(cli, [command, *args, "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert out.read_text(encoding="utf-8").startswith(start)


@pytest.mark.parametrize(
    ("command", "name"),
    [("report", "out.csv"), ("report", "out.csv.gz"), ("deliveries", "out.html")],
)
def test_output_suffix_of_a_format_the_command_lacks_is_a_usage_error(
    command: str, name: str, export: Path, tmp_path: Path
) -> None:
    out = tmp_path / name
    result = CliRunner().invoke(cli, [command, str(export), "-o", str(out)])
    assert result.exit_code == 2
    assert "this command cannot write" in result.stderr
    assert not out.exists()


def test_output_into_a_pipe_writes_into_it(tmp_path: Path) -> None:
    # A pipe (or a device such as /dev/null) must be written into, not
    # replaced by a regular file renamed over it.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    result = CliRunner().invoke(cli, ["explain", "550", "-f", "json", "-o", str(fifo)])
    reader.join(timeout=30)
    assert result.exit_code == 0, result.stderr
    assert json.loads(received[0])[0]["smtp_code"] == "550"
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_deliveries_no_classify_leaves_only_the_verdicts_empty(export: Path) -> None:
    def rows(*args: str) -> dict[str, object]:
        result = CliRunner().invoke(
            cli, ["deliveries", str(export), "-f", "ndjson", *args]
        )
        assert result.exit_code == 0, result.stderr
        row: dict[str, object] = json.loads(result.stdout.splitlines()[0])
        return row

    full, bare = rows(), rows("--no-classify")
    verdicts = {
        "SmtpStatusCodeDetails",
        "EnhancedSmtpStatusCodeDetails",
        "FailureCategory",
        "Retryable",
        "ClassifiedBy",
    }
    assert list(bare) == list(full)
    assert all(bare[name] is None for name in verdicts)
    assert {k: v for k, v in bare.items() if k not in verdicts} == {
        k: v for k, v in full.items() if k not in verdicts
    }


def test_rejected_records_are_told_in_file_and_line_order(tmp_path: Path) -> None:
    # Lines 2 and 3 fail to cast after reading; line 4 is no JSON, which the
    # record-by-record read finds first.
    good = {
        "TimeGenerated": "2026-02-10T10:00:05Z",
        "CorrelationId": "m1",
        "RecipientId": "a@x.example",
        "DeliveryStatus": "Delivered",
        "Type": "ACSEmailStatusUpdateOperational",
    }
    bad = {**good, "IsHardBounce": "maybe"}
    lines = [json.dumps(good), json.dumps(bad), json.dumps(bad), "{not json"]
    export = tmp_path / "export.json"
    export.write_text("\n".join(lines) + "\n")
    rejects = tmp_path / "rejects.csv"
    result = CliRunner().invoke(
        cli, ["report", str(export), "--rejects", str(rejects), "-f", "json"]
    )
    assert result.exit_code == 0, result.stderr
    assert "first: " + str(export) + ": line 2:" in result.stderr
    assert pl.read_csv(rejects)["line"].to_list() == [2, 3, 4]


_SETTING_SEEN = """
import os, sys
sys.argv = ["acsmail", "--version"]
from acsmail._entry import main
try:
    main()
except SystemExit:
    pass
print(os.environ.get("_RJEM_MALLOC_CONF"), "polars" in sys.modules)
"""


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "background_thread:true,dirty_decay_ms:5000,muzzy_decay_ms:0"),
        ("dirty_decay_ms:0", "dirty_decay_ms:0"),
    ],
    ids=["unset", "the user's own"],
)
def test_command_sets_the_allocator_before_polars_loads(
    given: str | None, expected: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    if given is not None:
        env["_RJEM_MALLOC_CONF"] = given
    done = subprocess.run(
        [sys.executable, "-c", _SETTING_SEEN],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    # The command loaded Polars after the setting. Polars puts its own
    # defaults in front; the allocator takes the last value of each option.
    setting, loaded = done.stdout.split("\n")[-2].rsplit(" ", 1)
    assert loaded == "True"
    assert setting.endswith(expected)


def _report_of(tmp_path: Path, records: list[dict[str, object]]) -> dict[str, Any]:
    """The JSON report on the records, written as JSON Lines."""
    path = tmp_path / "export.json"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    result = CliRunner().invoke(cli, ["report", str(path), "-f", "json", "-q"])
    assert result.exit_code == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_report_sizes_name_the_row_of_messages_without_a_size(tmp_path: Path) -> None:
    # s1 (0.05 MB, Tiny) has two recipients, one delivered; s2 (7 MB, Large)
    # one, delivered, and s5 (8 MB, Large) is still pending: two messages,
    # one recipient with a final status. m3's status has no send, and s4's
    # send no size: both land in the row of unknown size, one of their two
    # recipients delivered.
    def send(message: str, **fields: object) -> dict[str, object]:
        record = {"TimeGenerated": "2026-02-10T10:00:00Z", "CorrelationId": message}
        record |= {"OperationName": "SendMail", "UniqueRecipientsCount": 1}
        return {**record, **fields}

    def status(message: str, recipient: str, state: str) -> dict[str, object]:
        return {"TimeGenerated": "2026-02-10T10:00:05Z", "CorrelationId": message,
                "OperationName": "DeliveryStatusUpdate", "RecipientId": recipient,
                "DeliveryStatus": state}  # fmt: skip

    records = [
        send("s1", Size=0.05),
        send("s2", Size=7.0),
        send("s4"),
        send("s5", Size=8.0),
        status("s1", "a@x.example", "Delivered"),
        status("s1", "b@x.example", "Bounced"),
        status("s2", "c@x.example", "Delivered"),
        status("m3", "d@x.example", "Delivered"),
        status("s4", "e@x.example", "Failed"),
    ]
    sizes = _report_of(tmp_path, records)["sizes"]
    assert [tuple(row.values()) for row in sizes] == [
        ("Tiny (<100KB)", 1, 2, 0.5),
        ("Large (5-10MB)", 2, 1, 1.0),
        ("Unknown (no size logged)", 2, 2, 0.5),
    ]


def test_report_hours_count_every_send(tmp_path: Path) -> None:
    # m1 is sent from two resources, at 10:00 and 10:20, each send delivered
    # to its one recipient 2 s and 4 s later; m2, sent at 10:30, is pending;
    # m3, sent at 11:05, bounced for one recipient and reached the other 3 s
    # after. The 10:00 hour has three sends, two recipients with a final
    # status, both delivered: mean latency 3 s, and p95 the 2nd of 2 values.
    other = SEND["_ResourceId"] + "-b"

    def send(message: str, at: str, **fields: object) -> dict[str, object]:
        return {**SEND, "CorrelationId": message, "TimeGenerated": at, **fields}

    def status(
        message: str, at: str, recipient: str, state: str, **fields: object
    ) -> dict[str, object]:
        record = {"CorrelationId": message, "TimeGenerated": at}
        record |= {"RecipientId": recipient, "DeliveryStatus": state}
        return {**STATUS, **record, **fields}

    records = [
        send("m1", "2026-02-10T10:00:00Z"),
        status("m1", "2026-02-10T10:00:02Z", "a@x.example", "Delivered"),
        send("m1", "2026-02-10T10:20:00Z", _ResourceId=other),
        status(
            "m1", "2026-02-10T10:20:04Z", "b@x.example", "Delivered", _ResourceId=other
        ),
        send("m2", "2026-02-10T10:30:00Z"),
        send("m3", "2026-02-10T11:05:00Z"),
        status("m3", "2026-02-10T11:05:01Z", "c@x.example", "Bounced"),
        status("m3", "2026-02-10T11:05:03Z", "d@x.example", "Delivered"),
    ]
    hours = _report_of(tmp_path, records)["hours"]
    assert [tuple(row.values()) for row in hours] == [
        ("2026-02-10T10:00:00Z", 3, 2, 1.0, 3.0, 4.0),
        ("2026-02-10T11:00:00Z", 1, 2, 0.5, 3.0, 3.0),
    ]


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".ndjson", ".json"])
def test_a_deliveries_dataset_given_as_input_is_refused(
    export: Path, tmp_path: Path, suffix: str
) -> None:
    # Read as an export, every row of it would be rejected for want of a
    # CorrelationId; the error says what it is instead.
    written = tmp_path / f"deliveries{suffix}"
    result = CliRunner().invoke(cli, ["deliveries", str(export), "-o", str(written)])
    assert result.exit_code == 0, result.stderr
    report = CliRunner().invoke(cli, ["report", str(written)])
    assert report.exit_code == 1
    assert report.stderr == (
        f"Error: {written}: this is a deliveries dataset written by acsmail, not "
        "a log export; pass the exports it was built from\n"
    )


@pytest.mark.parametrize(
    "value",
    [
        "f7667a44-95fa-4377-855a-5c964672a108",
        "<F7667A44-95FA-4377-855A-5C964672A108@azurecomm.net>",
        "f7667a44-95fa-4377-855a-5c964672a108@AZURECOMM.NET",
    ],
)
def test_the_message_id_filter_takes_an_internet_message_id(value: str) -> None:
    # The sample's m03 (fixtures/sample/build.py) has three recipients, and
    # its statuses carry the InternetMessageId <its id@azurecomm.net>.
    sample = Path(__file__).parent.parent / "fixtures" / "sample" / "csv"
    result = CliRunner().invoke(
        cli, ["deliveries", str(sample), "--message-id", value, "-f", "json", "-q"]
    )
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert sorted(row["RecipientId"] for row in rows) == [
        "carol@yahoo.com",
        "dave@gmail.com",
        "erin@contoso.com",
    ]


@pytest.mark.parametrize("command", ["report", "deliveries"])
def test_filters_that_match_nothing_say_so(command: str, export: Path) -> None:
    # The export's one delivery is to example.com: gmail.com keeps nothing,
    # and the user is told, not left with an empty result; -q silences it.
    told = "the filters keep no delivery of this export"
    empty = CliRunner().invoke(
        cli, [command, str(export), "--recipient-domain", "gmail.com"]
    )
    assert empty.exit_code == 0, empty.stderr
    assert told in empty.stderr
    kept = CliRunner().invoke(
        cli, [command, str(export), "--recipient-domain", "example.com"]
    )
    assert told not in kept.stderr
    quiet = CliRunner().invoke(
        cli, [command, str(export), "--recipient-domain", "gmail.com", "-q"]
    )
    assert quiet.stderr == ""


@pytest.mark.parametrize("form", ["table", "markdown", "html"])
def test_filtered_overview_says_which_counts_are_the_exports(
    form: str, export: Path
) -> None:
    # Duplicates, ties and the other record counts are made before there is
    # a delivery to filter; under a filter the overview says they are the
    # whole export's, and without one it says nothing of the kind.
    said = "are of the whole export"
    filtered = CliRunner().invoke(
        cli, ["report", str(export), "-f", form, "--recipient-domain", "example.com"]
    )
    assert filtered.exit_code == 0, filtered.stderr
    assert filtered.stdout.count(said) == 1
    whole = CliRunner().invoke(cli, ["report", str(export), "-f", form])
    assert said not in whole.stdout


def test_report_message_id_filter_keeps_that_message_everywhere(
    tmp_path: Path,
) -> None:
    # Two delivered messages, each viewed once. The second is named by the
    # InternetMessageId of its status; either way of naming a message keeps
    # its one delivery in the overview and its one view in engagement.
    second = "0f6d3c1e-0000-4000-8000-000000000002"
    records = [
        SEND,
        STATUS,
        {**SEND, "CorrelationId": second},
        {
            **STATUS,
            "CorrelationId": second,
            "RecipientId": "other@contoso.com",
            "InternetMessageId": "<Second@Mail.Example>",
        },
    ]
    viewed = [
        (SEND["CorrelationId"], STATUS["RecipientId"]),
        (second, "other@contoso.com"),
    ]
    for message, recipient in viewed:
        records.append(
            {
                "TimeGenerated": "2026-02-10T10:05:00Z",
                "CorrelationId": message,
                "OperationName": "UserEngagementUpdate",
                "RecipientId": recipient,
                "EngagementType": "View",
                "_ResourceId": SEND["_ResourceId"],
            }
        )
    path = tmp_path / "export.json"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    for named in [second.upper(), "<second@mail.example>", "second@mail.example"]:
        result = CliRunner().invoke(
            cli, ["report", str(path), "--message-id", named, "-f", "json"]
        )
        assert result.exit_code == 0, result.stderr
        report = json.loads(result.stdout)
        overview = report["overview"][0]
        assert (overview["messages"], overview["delivered"]) == (1, 1)
        assert [
            (row["domain"], row["delivered"], row["views"])
            for row in report["engagement"]
        ] == [("contoso.com", 1, 1)]


@pytest.mark.parametrize("command", ["report", "deliveries", "inspect"])
def test_output_over_an_input_is_refused(command: str, export: Path) -> None:
    before = export.read_bytes()
    result = CliRunner().invoke(cli, [command, str(export), "-o", str(export)])
    assert result.exit_code == 2
    assert "is one of the inputs" in result.stderr
    assert export.read_bytes() == before


def test_outputs_are_checked_against_what_a_pattern_matches(export: Path) -> None:
    # The pattern reads export.json: writing over it is refused as when it
    # is named; so is one file named for both outputs.
    pattern = str(export.parent / "*.json")
    over = CliRunner().invoke(cli, ["deliveries", pattern, "-o", str(export)])
    assert over.exit_code == 2
    assert "is one of the inputs" in over.stderr
    twice = export.parent.parent / "out.csv"
    args = ["deliveries", str(export), "-o", str(twice), "--rejects", str(twice)]
    both = CliRunner().invoke(cli, args)
    assert both.exit_code == 2
    assert "named for two outputs" in both.stderr
    assert not twice.exists()


@pytest.mark.parametrize("command", ["report", "deliveries", "inspect"])
def test_standard_output_for_both_outputs_is_refused(
    command: str, export: Path
) -> None:
    # -o defaults to standard output; the rejects named there too would
    # be written into the same stream.
    result = CliRunner().invoke(cli, [command, str(export), "--rejects", "-"])
    assert result.exit_code == 2
    assert "-o and --rejects both go to standard output" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("rejects", ["/dev/stdout", "same"])
def test_rejects_where_standard_output_goes_are_refused(
    rejects: str, export: Path, tmp_path: Path
) -> None:
    # /dev/stdout is standard output by another name, and so is the file
    # the shell sends standard output to (--rejects o.csv > o.csv).
    target = tmp_path / "o.csv"
    named = str(target) if rejects == "same" else rejects
    command = [sys.executable, "-m", "acsmail", "deliveries", str(export)]
    with target.open("wb") as stdout:
        result = subprocess.run(
            [*command, "--rejects", named],
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    assert result.returncode == 2
    assert "-o and --rejects both go to standard output" in result.stderr
    assert target.read_bytes() == b""


def test_output_over_the_file_stdin_reads_is_refused(export: Path) -> None:
    before = export.read_bytes()
    with export.open("rb") as stdin:
        result = subprocess.run(
            [sys.executable, "-m", "acsmail", "deliveries", "-", "-o", str(export)],
            stdin=stdin,
            capture_output=True,
            check=False,
        )
    assert result.returncode == 2
    assert b"is the file standard input reads" in result.stderr
    assert export.read_bytes() == before


def test_trace_of_a_blank_id_is_a_usage_error(export: Path) -> None:
    result = CliRunner().invoke(cli, ["trace", " ", str(export)])
    assert result.exit_code == 2
    assert "ID is blank" in result.stderr


@pytest.mark.parametrize("option", ["-o", "--rejects"])
def test_output_inside_an_input_folder_is_refused(option: str, export: Path) -> None:
    # The next run on the folder would take the file for part of the export.
    inside = export.parent / "out.csv"
    result = CliRunner().invoke(
        cli, ["deliveries", str(export.parent), option, str(inside)]
    )
    assert result.exit_code == 2
    assert "is inside the input folder" in result.stderr
    assert not inside.exists()


@pytest.mark.parametrize("command", ["report", "deliveries"])
def test_statuses_of_no_known_kind_are_told(command: str, tmp_path: Path) -> None:
    # Three records of 'Deliverd', one of them an exact copy of another, one
    # of 'Sent' and one of 41 x's: four after merging the copy, in three
    # kinds, the more frequent first (then in order), each shown up to its
    # 40th character. The known 'Delivered' is not among them.
    def status(second: int, delivery: str) -> str:
        record = STATUS | {
            "TimeGenerated": f"2026-02-10T10:00:0{second}Z",
            "DeliveryStatus": delivery,
        }
        return json.dumps(record) + "\n"

    path = tmp_path / "export.json"
    path.write_text(
        json.dumps(SEND)
        + "\n"
        + status(1, "Deliverd")
        + status(1, "Deliverd")
        + status(2, "Deliverd")
        + status(3, "Sent")
        + status(4, "Delivered")
        + status(5, "x" * 41)
    )
    result = CliRunner().invoke(cli, [command, str(path), "-f", "json"])
    assert result.exit_code == 0, result.output
    told = "acsmail: 4 status record(s) name a DeliveryStatus acsmail does not know"
    warnings = [line for line in result.stderr.splitlines() if told in line]
    if command == "deliveries":
        assert warnings == [
            f"{told} ('Deliverd', 'Sent', '{'x' * 40}…'): kept as written, "
            "none counts as a final status"
        ]
    else:
        assert warnings == [f"{told}: kept as written, none counts as a final status"]
    quiet = CliRunner().invoke(cli, [command, str(path), "-f", "json", "-q"])
    assert quiet.stderr == ""


def test_an_output_that_cannot_be_written_is_named_as_given(
    export: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The write goes to a temporary file beside the output; when the folder
    # refuses it, the error names the output, not the temporary file.
    def refused(*args: Any, **kwargs: Any) -> Any:
        hidden = str(Path(kwargs["dir"]) / ".report.md.xyz.part")
        raise PermissionError(13, "Permission denied", hidden)

    monkeypatch.setattr("acsmail.cli.tempfile.NamedTemporaryFile", refused)
    target = export.parent / "report.md"
    result = CliRunner().invoke(cli, ["report", str(export), "-q", "-o", str(target)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {target}: could not write the output: Permission denied\n"
    )


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("option", ["-o", "--rejects"])
def test_a_full_device_is_named_in_the_error(option: str, tmp_path: Path) -> None:
    # bad-size.csv has a rejected record, so --rejects writes too.
    bad = Path(__file__).parent.parent / "fixtures" / "bad" / "bad-size.csv"
    args = ["deliveries", str(bad), "-q", option, "/dev/full"]
    if option == "--rejects":
        args += ["-o", str(tmp_path / "d.csv")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    # Polars, which writes the CSV, adds the error's number.
    assert result.stderr.startswith(
        "Error: /dev/full: could not write the output: No space left on device"
    )


def test_a_write_that_fails_leaves_the_old_output_and_no_part(
    export: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The disk fills after some bytes are written: the earlier output stays
    # as it was, and no temporary file is left beside it.
    def half_then_full(rows: Any, form: str, out: Any, **kwargs: Any) -> None:
        out.write(b"Message")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("acsmail.cli.write_dataset", half_then_full)
    folder = export.parent / "out"
    folder.mkdir()
    target = folder / "d.csv"
    target.write_text("earlier\n")
    result = CliRunner().invoke(
        cli, ["deliveries", str(export), "-q", "-o", str(target)]
    )
    assert result.exit_code == 1
    assert "could not write the output: No space left on device" in result.stderr
    assert target.read_text() == "earlier\n"
    assert sorted(path.name for path in folder.iterdir()) == ["d.csv"]
