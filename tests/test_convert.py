"""`acsmail convert` and `acsmail generate` from the command line."""

from __future__ import annotations

import json
import os
import shutil
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


def _report(*args: str) -> tuple[dict[str, list[dict[str, object]]], str]:
    result = CliRunner().invoke(cli, ["report", *args, "-f", "json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def _final(document: dict[str, list[dict[str, object]]]) -> int:
    return int(str(document["overview"][0]["recipients_final"]))


def _files(document: dict[str, list[dict[str, object]]]) -> list[object]:
    return [row["file"] for row in document["inputs"]]


def test_a_report_on_the_converted_folder_starts_from_the_saved_basis(
    tmp_path: Path,
) -> None:
    out = tmp_path / "tables"
    CliRunner().invoke(cli, ["convert", str(SAMPLE), "-o", str(out), "-q"])
    assert (out / ".acsmail" / "basis.json").is_file()
    saved, _ = _report(str(out))
    # The saved basis remembers the files convert read: the sample's four CSV
    # files, not the three Parquet tables it wrote.
    assert _files(saved) == sorted(str(path) for path in SAMPLE.glob("*.csv"))
    direct, _ = _report(str(SAMPLE))
    assert saved == direct
    # Filters apply to the saved rows as they would to rows built afresh.
    filtered = ["--recipient-domain", "gmail.com", "--status", "Bounced"]
    narrowed = _report(str(out), *filtered)[0]
    assert narrowed == _report(str(SAMPLE), *filtered)[0]
    assert 0 < _final(narrowed) < _final(saved)


def test_a_changed_file_of_the_saved_basis_is_noticed(tmp_path: Path) -> None:
    out = tmp_path / "tables"
    CliRunner().invoke(cli, ["convert", str(SAMPLE), "-o", str(out), "-q"])
    rows = out / ".acsmail" / "rows.parquet"
    pl.read_parquet(rows).clear().write_parquet(rows)
    document, warnings = _report(str(out), "--status", "Delivered")
    assert "not used" in warnings
    # Read from the tables instead: the same figures as the export itself.
    assert _final(document) == _final(_report(str(SAMPLE), "--status", "Delivered")[0])
    assert len(_files(document)) == 3


def test_a_missing_part_of_the_basis_is_not_used(tmp_path: Path) -> None:
    out = tmp_path / "tables"
    CliRunner().invoke(cli, ["convert", str(SAMPLE), "-o", str(out), "-q"])
    (out / ".acsmail" / "section-latency.parquet").unlink()
    document, warnings = _report(str(out))
    assert "not used" in warnings
    assert len(_files(document)) == 3


def test_changed_tables_make_the_saved_basis_stale(tmp_path: Path) -> None:
    out = tmp_path / "tables"
    CliRunner().invoke(cli, ["convert", str(SAMPLE), "-o", str(out), "-q"])
    table = out / "ACSEmailSendMailOperational.parquet"
    stat = table.stat()
    os.utime(table, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    document, warnings = _report(str(out))
    assert "not used" in warnings
    # Read from the tables: the inputs are the three Parquet files.
    assert len(_files(document)) == 3
    assert all(str(name).endswith(".parquet") for name in _files(document))


def test_options_that_need_the_records_read_the_tables(tmp_path: Path) -> None:
    out = tmp_path / "tables"
    CliRunner().invoke(cli, ["convert", str(SAMPLE), "-o", str(out), "-q"])
    for option in ("--strict", "--redact"):
        document, _ = _report(str(out), option)
        assert len(_files(document)) == 3, option


def test_other_commands_do_not_read_the_saved_basis_as_an_export(
    tmp_path: Path,
) -> None:
    out = tmp_path / "tables"
    CliRunner().invoke(cli, ["convert", str(SAMPLE), "-o", str(out), "-q"])
    for command in (["deliveries", "-f", "ndjson"], ["inspect", "-f", "json"]):
        converted = CliRunner().invoke(cli, [command[0], str(out), *command[1:]])
        assert converted.exit_code == 0, converted.stderr
    rows = CliRunner().invoke(cli, ["deliveries", str(out), "-f", "ndjson", "-q"])
    original = CliRunner().invoke(cli, ["deliveries", str(SAMPLE), "-f", "ndjson"])
    assert rows.stdout.count("\n") == original.stdout.count("\n")


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


def _convert(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["convert", *args])
    return result.exit_code, result.stderr


def test_a_file_added_to_the_folder_sets_the_saved_report_aside(
    tmp_path: Path,
) -> None:
    out = tmp_path / "tables"
    _convert(str(SAMPLE), "-o", str(out), "-q")
    extra = out / "more.csv"
    extra.write_bytes((SAMPLE / "ACSEmailSendMailOperational.csv").read_bytes())
    document, warnings = _report(str(out))
    assert "not used" in warnings
    assert str(extra) in _files(document)


def test_convert_refuses_folders_it_would_read_or_that_hold_other_files(
    tmp_path: Path,
) -> None:
    export = tmp_path / "export"
    export.mkdir()
    for path in SAMPLE.glob("*.csv"):
        (export / path.name).write_bytes(path.read_bytes())
    code, message = _convert(str(export), "-o", str(export / "converted"))
    assert code == 2
    assert "inside the input folder" in message
    code, message = _convert(str(export), "-o", str(export))
    assert code == 2
    # A pattern that matches the folder reads it just the same.
    code, message = _convert(str(tmp_path / "exp*"), "-o", str(export / "out"))
    assert code == 2
    assert "inside the input folder" in message
    other = tmp_path / "other"
    other.mkdir()
    (other / "README.txt").write_text("notes\n")
    code, message = _convert(str(export), "-o", str(other))
    assert code == 2
    assert "holds other files (README.txt); convert writes" in message
    for name in ("a.txt", "b.txt", "c.txt"):
        (other / name).write_text("more\n")
    code, message = _convert(str(export), "-o", str(other))
    assert "holds other files (README.txt, a.txt, b.txt, …)" in message
    assert _convert(str(export), "-o", "")[0] == 2
    # Over its own earlier output it may write again.
    converted = tmp_path / "converted"
    assert _convert(str(export), "-o", str(converted), "-q")[0] == 0
    assert _convert(str(export), "-o", str(converted), "-q")[0] == 0


def test_convert_neither_replaces_nor_writes_into_its_inputs(tmp_path: Path) -> None:
    converted = tmp_path / "converted"
    assert _convert(str(SAMPLE), "-o", str(converted), "-q")[0] == 0
    before = {path.name: path.read_bytes() for path in converted.glob("*.parquet")}
    # A table of an earlier conversion, converted into its own folder, would
    # leave that folder with one table: refused, and the folder as it was.
    table = min(converted.glob("*.parquet"))
    code, told = _convert(str(table), "-o", str(converted))
    assert code == 2
    assert "is inside the output folder" in told
    after = {path.name: path.read_bytes() for path in converted.glob("*.parquet")}
    assert after == before
    # The rejects file may not replace an input nor go into an input folder
    # (a copy of the sample, which a failure here would damage).
    sample = tmp_path / "sample"
    shutil.copytree(SAMPLE, sample)
    send = sample / "ACSEmailSendMailOperational.csv"
    sent = send.read_bytes()
    for rejects in [send, sample / "rejects.csv"]:
        out = tmp_path / "again"
        code, _ = _convert(str(sample), "-o", str(out), "--rejects", str(rejects))
        assert code == 2
        assert not out.exists()
    assert send.read_bytes() == sent
    assert not (sample / "rejects.csv").exists()


def test_a_failed_conversion_writes_no_tables(tmp_path: Path) -> None:
    bad = Path(__file__).parent.parent / "fixtures" / "bad" / "bad-json-line.json"
    out = tmp_path / "new" / "tables"
    code, _ = _convert(str(bad), "-o", str(out), "--strict", "-q")
    assert code == 1
    # Not even the folders it made for its output are left.
    assert not (tmp_path / "new").exists()
    # An earlier conversion into the folder is left as it was.
    _convert(str(SAMPLE), "-o", str(out), "-q")
    before = _report(str(out))[0]
    assert _convert(str(bad), "-o", str(out), "--strict", "-q")[0] == 1
    document, warnings = _report(str(out))
    assert document == before
    assert "not used" not in warnings


def test_what_convert_warned_of_is_told_by_each_report(tmp_path: Path) -> None:
    ambiguous = (
        Path(__file__).parent.parent / "fixtures" / "bad" / "ambiguous-dates.csv"
    )
    out = tmp_path / "tables"
    _convert(str(ambiguous), "-o", str(out), "-q")
    _, warnings = _report(str(out))
    assert "when converted" in warnings
    assert "month/day or day/month" in warnings


def test_each_report_tells_what_convert_left_out(tmp_path: Path) -> None:
    # Line 2 of bad-json-line.json is not JSON; both records of
    # unclassified.json name no table. Convert warns of both, and so does
    # each report on what it wrote, with the first file and line of each.
    bad = Path(__file__).parent.parent / "fixtures" / "bad"
    out = tmp_path / "tables"
    code, told = _convert(
        str(bad / "bad-json-line.json"), str(bad / "unclassified.json"), "-o", str(out)
    )
    assert code == 0
    assert "1 record(s) rejected (first: " in told
    _, warnings = _report(str(out))
    assert "when converted: 1 record(s) rejected (first: " in warnings
    assert "bad-json-line.json: line 2: " in warnings
    assert "when converted: 2 record(s) match no table" in warnings
    assert "unclassified.json: line 1); convert --rejects lists them" in warnings


def test_an_unreadable_manifest_is_not_used(tmp_path: Path) -> None:
    out = tmp_path / "tables"
    _convert(str(SAMPLE), "-o", str(out), "-q")
    manifest = out / ".acsmail" / "basis.json"
    content = json.loads(manifest.read_text())
    content["sections"] = None
    manifest.write_text(json.dumps(content))
    document, warnings = _report(str(out))
    assert "unreadable" in warnings
    assert len(_files(document)) == 3


def test_reading_the_tables_says_what_they_leave_out(tmp_path: Path) -> None:
    bad = Path(__file__).parent.parent / "fixtures" / "bad" / "bad-json-line.json"
    out = tmp_path / "tables"
    _convert(str(bad), "-o", str(out), "-q")
    saved, _ = _report(str(out))
    assert saved["overview"][0]["rejected"] == 1
    redacted, warnings = _report(str(out), "--redact")
    assert redacted["overview"][0]["rejected"] == 0
    assert "leave out the records convert rejected" in warnings


def test_date_order_is_for_convert_not_for_a_report_on_its_output(
    tmp_path: Path,
) -> None:
    out = tmp_path / "tables"
    _convert(str(SAMPLE), "-o", str(out), "-q")
    _, warnings = _report(str(out), "--date-order", "dmy")
    assert "--date-order does nothing on a converted export" in warnings


def test_what_file_managers_leave_behind_does_not_set_the_report_aside(
    tmp_path: Path,
) -> None:
    out = tmp_path / "tables"
    _convert(str(SAMPLE), "-o", str(out), "-q")
    (out / "Thumbs.db").write_bytes(b"\x00")
    document, warnings = _report(str(out))
    assert "not used" not in warnings
    assert _files(document) == sorted(str(path) for path in SAMPLE.glob("*.csv"))


def test_tables_converted_from_files_without_a_resource_still_meet_by_message(
    tmp_path: Path,
) -> None:
    # The status file has no _ResourceId: read directly, its status meets
    # the send by CorrelationId. The converted tables hold a null resource
    # for it, and must be read the same way.
    exports = tmp_path / "exports"
    exports.mkdir()
    send = {"TimeGenerated": "2026-03-04T10:00:00Z", "OperationName": "SendMail",
            "CorrelationId": "m1", "Size": 0.01, "UniqueRecipientsCount": 1,
            "_ResourceId": "/subscriptions/x/acs1"}  # fmt: skip
    status = {"TimeGenerated": "2026-03-04T10:00:02Z", "CorrelationId": "m1",
              "OperationName": "DeliveryStatusUpdate", "RecipientId": "a@x.com",
              "DeliveryStatus": "Delivered"}  # fmt: skip
    (exports / "send.json").write_text(json.dumps(send) + "\n")
    (exports / "status.json").write_text(json.dumps(status) + "\n")
    converted = tmp_path / "converted"
    result = CliRunner().invoke(cli, ["convert", str(exports), "-o", str(converted)])
    assert result.exit_code == 0, result.stderr
    rows = CliRunner().invoke(cli, ["deliveries", str(converted), "-f", "json"])
    assert rows.exit_code == 0, rows.stderr
    (row,) = json.loads(rows.stdout)
    assert (row["Completeness"], row["DurationMilliseconds"]) == ("complete", 2000)
    assert "records are matched to their message by CorrelationId alone" in (
        rows.stderr
    )
