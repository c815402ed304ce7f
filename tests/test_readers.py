"""The readers: every export form, the awkward inputs, big trees, stdin.

Expected values come from the fixtures' own descriptions: the sample in
``fixtures/forms/README.md`` (with ``expected-deliveries.csv`` worked out by
hand) and the table of cases in ``fixtures/bad/EXPECTED.md``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import os
import tempfile
import threading
import time
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from acsmail.cli import cli
from acsmail.errors import InputError
from acsmail.exprs import per_distinct
from acsmail.normalise import each_part, normalise, read_tables
from acsmail.readers import scan
from acsmail.readers._files import WHOLE_BYTES
from acsmail.readers._times import _ISO, TimeFormat, iso_retry, parse_time
from acsmail.readers.ndjson import record_lines

FIXTURES = Path(__file__).parent.parent / "fixtures"
FORMS_DIR = FIXTURES / "forms"
BAD = FIXTURES / "bad"
FORMS = (
    "portal-csv",
    "union-csv",
    "az-json",
    "query-api",
    "data-export",
    "archive",
    "records",
    "parquet",
    "gzip",
)
TYPES: dict[str, Any] = {
    "DurationSeconds": pl.Float64,
    "DurationMilliseconds": pl.Int64,
    "MessageSize": pl.Float64,
    "AttachmentsCount": pl.Int64,
    "ToRecipientsCount": pl.Int64,
    "CcRecipientsCount": pl.Int64,
    "BccRecipientsCount": pl.Int64,
    "UniqueRecipientsCount": pl.Int64,
}
TIMES = ("SendTime", "FinalStatusTime")
STATUS_TABLE = "ACSEmailStatusUpdateOperational"
KEYS = ["MessageId", "RecipientId"]


def _cli(*args: str, stdin: bytes | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), input=stdin)


@cache
def _deliveries(form: str) -> pl.DataFrame:
    result = _cli("deliveries", str(FORMS_DIR / form), "-q", "-f", "parquet", "-o", "-")
    assert result.exit_code == 0, result.stderr
    return pl.read_parquet(io.BytesIO(result.stdout_bytes)).sort(KEYS)


def _expected_deliveries() -> pl.DataFrame:
    path = FORMS_DIR / "expected-deliveries.csv"
    header = path.read_text().splitlines()[0].split(",")
    df = pl.read_csv(path, schema={name: TYPES.get(name, pl.String) for name in header})
    times = pl.col(TIMES).str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.fZ", time_unit="us", time_zone="UTC"
    )
    return df.with_columns(times).sort(KEYS)


@pytest.mark.parametrize("form", FORMS)
def test_deliveries_every_form_gives_the_same_table(form: str) -> None:
    rows = _deliveries(form)

    assert_frame_equal(rows, _deliveries("portal-csv"))
    expected = _expected_deliveries()
    assert_frame_equal(rows.select(expected.columns), expected)


# --- the awkward inputs ----------------------------------------------------------


def _expected_cases() -> list[dict[str, str]]:
    lines = (BAD / "EXPECTED.md").read_text().splitlines()
    table = [line for line in lines if line.startswith("| ") and "---" not in line]
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table[1:]]
    return [dict(zip(header, row, strict=True)) for row in rows]


CASES = _expected_cases()


@pytest.mark.parametrize("case", CASES, ids=[case["file"] for case in CASES])
def test_inspect_awkward_input_has_its_expected_outcome(
    case: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(BAD)

    result = _cli("inspect", case["file"], "-f", "json")

    if case["outcome"] == "error":
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: ")
        assert case["message"] in result.stderr
        assert "Traceback" not in result.stderr
        return
    assert result.exit_code == 0, result.stderr
    if case["message"] == "-":
        assert result.stderr == ""
    else:
        assert case["message"] in result.stderr
    files = json.loads(result.stdout)["inputs"]
    counts = ("send", "status", "engagement", "rejected", "unclassified")
    totals = {name: sum(f[name] for f in files) for name in counts}
    assert totals == {name: int(case[name]) for name in counts}


def test_scan_every_awkward_case_is_in_the_table() -> None:
    listed = {case["file"] for case in CASES}
    on_disk = {
        path.relative_to(BAD).parts[0]
        for path in BAD.rglob("*")
        if path.is_file() and path.name not in {"build.py", "EXPECTED.md"}
    }

    assert on_disk == listed


def test_scan_ambiguous_dates_follow_date_order() -> None:
    path = str(BAD / "ambiguous-dates.csv")

    as_mdy = _sends([path])
    as_dmy = _sends([path], date_order="dmy")

    assert as_mdy["TimeGenerated"].dt.strftime("%Y-%m-%d").to_list() == [
        "2026-02-10",
        "2026-03-10",
    ]
    assert as_dmy["TimeGenerated"].dt.strftime("%Y-%m-%d").to_list() == [
        "2026-10-02",
        "2026-10-03",
    ]


def test_scan_ambiguous_dates_warn_unless_date_order_given() -> None:
    path = str(BAD / "ambiguous-dates.csv")

    assert any("month/day or day/month" in w for w in scan([path]).warnings)
    assert scan([path], date_order="dmy").warnings == []


@pytest.mark.parametrize(
    ("date_order", "suggested"),
    [
        (None, " (dates read as month/day; use --date-order dmy if that is wrong)"),
        ("mdy", ""),
    ],
    ids=["guessed", "given"],
)
def test_a_date_that_fails_the_guessed_order_says_how_to_change_it(
    tmp_path: Path, date_order: Any, suggested: str
) -> None:
    # The first dates read either way; the next, 2/13, settles month/day;
    # the last, 13/02, fails it. The user named no order, so the reason says
    # which was taken.
    lines = (BAD / "ambiguous-dates.csv").read_text().splitlines()
    settles = lines[1].replace('"2/10/2026', '"2/13/2026').replace("4b01", "4b08")
    late = lines[1].replace('"2/10/2026', '"13/02/2026').replace("4b01", "4b09")
    lines += [settles, late]
    path = tmp_path / "sends.csv"
    path.write_text("\n".join(lines) + "\n")

    *_, rejected = _tables([str(path)], date_order=date_order, with_rejects=True)

    assert rejected.select("line", "reason").rows() == [
        (
            len(lines),
            "TimeGenerated: expected a datetime, got '13/02/2026, 4:00:01.100 PM'"
            + suggested,
        )
    ]


def test_scan_semicolon_csv_reads_decimal_commas() -> None:
    sends = _sends([str(BAD / "semicolon-decimal-comma.csv")])

    assert sends["Size"].to_list() == [0.026019, 0.5]
    assert sends["TimeGenerated"].dt.strftime("%Y-%m-%d %H:%M:%S%.3f").to_list() == [
        "2026-02-10 16:00:01.100",
        "2026-02-10 16:02:10.200",
    ]


def test_scan_windows_1252_text_is_decoded() -> None:
    status = _tables([str(BAD / "windows-1252.csv")])[1]

    assert status["RecipientId"].to_list() == ["josé@contoso.example"]


def test_scan_second_bom_leaves_the_first_field_whole() -> None:
    status = _tables([str(BAD / "second-bom.csv")])[1]

    assert status["CorrelationId"].to_list() == [
        "0b6e2f3a-1c4d-4e5f-8a9b-0c1d2e3f4b01",
        "0b6e2f3a-1c4d-4e5f-8a9b-0c1d2e3f4b02",
    ]
    assert status["TimeGenerated"].dt.strftime("%H:%M:%S%.3f").to_list() == [
        "16:00:04.350",
        "16:00:05.000",
    ]


def test_scan_quoted_newlines_keep_fields_and_lines() -> None:
    status = _tables([str(BAD / "quoted-newlines.csv")])[1]

    assert status["FailureMessage"].to_list() == [
        '550-5.1.1 The account\n550-5.1.1 "cy" does not exist, sorry\n'
        "550 5.1.1 try again",
        "421, busy",
    ]
    assert status["_line"].to_list() == [2, 5]


def test_scan_crlf_ends_do_not_reach_the_values() -> None:
    status = _tables([str(BAD / "crlf.csv")])[1]

    assert status["FailureMessage"].to_list() == [
        None,
        "550 5.1.1 no such user\r\n(second line of the reply)",
        "421 4.7.0 busy",
    ]


def test_scan_older_export_lacks_late_columns() -> None:
    inputs = scan([str(BAD / "older-export.csv")])

    absent = normalise(inputs).absent["statusupdate"]

    assert set(absent) == {
        "FailureReason",
        "FailureMessage",
        "RecipientMailServerHostName",
        "InternetMessageId",
    }


def test_scan_archive_properties_and_envelope_are_canonical() -> None:
    status = _tables([str(FORMS_DIR / "archive")])[1].sort("TimeGenerated")

    first = status.row(0, named=True)
    assert first["OperationName"] == "DeliveryStatusUpdate"
    assert first["RecipientId"] is None
    assert first["ResourceId"] == (
        "/subscriptions/11111111-2222-3333-4444-555555555555/resourcegroups/"
        "rg-forms/providers/microsoft.communication/communicationservices/acs-forms"
    )
    assert status["IsHardBounce"].to_list() == [
        None, False, None, False, True, False, None, False, None, False, None,
    ]  # fmt: skip


# --- rejects, strictness, stdin, progress ------------------------------------------


def test_deliveries_rejects_file_holds_whole_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(BAD)
    target = tmp_path / "rejects.csv"

    result = _cli(
        "deliveries", "bad-size.csv", "quoted-newlines.csv", "-q", "--rejects",
        str(target), "-o", str(tmp_path / "out.csv"),
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    rejects = pl.read_csv(target).sort("file")
    assert rejects["line"].to_list() == [2, 6]
    assert rejects["record"].to_list() == [
        '"2/10/2026, 4:00:01.100 PM",0b6e2f3a-1c4d-4e5f-8a9b-0c1d2e3f4b01,abc,1,'
        "ACSEmailSendMailOperational",
        '"2/10/2026, 4:06:00.000 PM",0b6e2f3a-1c4d-4e5f-8a9b-0c1d2e3f4b03,'
        "eve@outlook.com,Failed,maybe,,ACSEmailStatusUpdateOperational",
    ]


def test_inspect_rejects_file_holds_unparsed_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(BAD)
    target = tmp_path / "rejects.csv"

    result = _cli("inspect", "bad-json-line.json", "-q", "--rejects", str(target))

    assert result.exit_code == 0, result.stderr
    rejects = pl.read_csv(target)
    assert rejects["record"].to_list() == [
        '{"TimeGenerated": "2026-02-10T16:01:00Z", "CorrelationId": oops}'
    ]


def test_deliveries_strict_turns_a_cut_off_line_into_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(BAD)

    result = _cli("deliveries", "cut-off-blob", "--strict")

    assert result.exit_code == 1
    assert "PT1H.json: line 3: the last line is cut off" in result.stderr
    assert "Traceback" not in result.stderr


def test_inspect_dash_reads_stdin() -> None:
    data = (FORMS_DIR / "union-csv" / "union.csv").read_bytes()

    result = _cli("inspect", "-", "-q", "-f", "json", stdin=data)

    assert result.exit_code == 0, result.stderr
    (found,) = json.loads(result.stdout)["inputs"]
    assert (found["file"], found["format"]) == ("<stdin>", "csv")
    assert (found["send"], found["status"], found["engagement"]) == (7, 11, 1)


def test_inspect_dash_reads_gzip_from_stdin() -> None:
    data = (FORMS_DIR / "gzip" / "statuses.csv.gz").read_bytes()

    result = _cli("inspect", "-", "-q", "-f", "json", stdin=data)

    (found,) = json.loads(result.stdout)["inputs"]
    assert (found["format"], found["status"]) == ("csv.gz", 11)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_inspect_reads_a_named_pipe(tmp_path: Path) -> None:
    # As a shell's <(zcat export.csv.gz) names one: a pipe read once.
    data = (FORMS_DIR / "union-csv" / "union.csv").read_bytes()
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)

    def write() -> None:
        with pipe.open("wb") as out:
            out.write(data)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    result = _cli("inspect", str(pipe), "-q", "-f", "json")
    if writer.is_alive():
        # The pipe was never read: opened here, it lets the writer go.
        os.close(os.open(pipe, os.O_RDONLY | os.O_NONBLOCK))
    writer.join(timeout=10)

    assert result.exit_code == 0, result.stderr
    (found,) = json.loads(result.stdout)["inputs"]
    assert (found["file"], found["format"]) == (str(pipe), "csv")
    assert (found["send"], found["status"], found["engagement"]) == (7, 11, 1)


def test_scan_reports_progress_once_per_file() -> None:
    seen: list[tuple[int, int]] = []

    scan([str(FORMS_DIR / "data-export")], progress=lambda *step: seen.append(step))

    assert seen == [(done, 14) for done in range(1, 15)]


def test_inspect_progress_stays_off_stderr_when_it_is_no_terminal(
    tmp_path: Path,
) -> None:
    _tree(tmp_path, blobs=60)

    result = _cli("inspect", str(tmp_path), "-f", "json")

    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""


def test_a_file_named_twice_in_different_ways_is_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tree(tmp_path / "nd1", blobs=2)
    (blob, _) = sorted((tmp_path / "nd1").rglob("PT1H.json"))
    (tmp_path / "link.json").symlink_to(blob)
    monkeypatch.chdir(tmp_path)

    named = ["nd1", str(tmp_path / "nd1"), "./nd1/../nd1", str(blob), "link.json"]
    inputs = scan(named)

    assert len(inputs.sources) == 2
    (send,) = inputs.collect(lambda current: [normalise(current).send])
    assert send.height == 2 * 3


def test_scan_missing_path_is_an_error() -> None:
    with pytest.raises(InputError, match="no such file or directory"):
        scan(["no/such/export.csv"])


# --- storage trees -------------------------------------------------------------------


def _blob_line(minute: int, correlation: int, size: str = "0.5") -> str:
    record = {
        "time": f"2026-02-10T16:{minute:02d}:00.0000000Z",
        "resourceId": "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/X/ACS",
        "operationName": "SendMail",
        "category": "EmailSendMailOperational",
        "correlationId": f"0b6e2f3a-0000-4000-8000-{correlation:012d}",
        "properties": {"Size": size, "UniqueRecipientsCount": 1},
    }
    return json.dumps(record) + "\n"


def _tree(root: Path, *, blobs: int, broken: dict[int, str] | None = None) -> None:
    """An archive tree of ``blobs`` hourly blobs of three sends each."""
    for blob in range(blobs):
        folder = (
            root / "insights-logs-emailsendmailoperational" / "resourceId=" / "ACS"
            / f"y=2026/m=02/d={blob // 24 + 1:02d}/h={blob % 24:02d}/m=00"
        )  # fmt: skip
        folder.mkdir(parents=True)
        lines = [_blob_line(minute, blob * 3 + minute) for minute in range(3)]
        if broken and blob in broken:
            lines[2] = broken[blob]
        (folder / "PT1H.json").write_text("".join(lines))


def test_blobs_ending_in_blank_lines_are_still_read_together(tmp_path: Path) -> None:
    # Each blob ends with blank lines, as after `echo >> blob`: they hold no
    # record, so the blobs are read in one batch, their lines as written.
    _tree(tmp_path, blobs=6)
    for blob in tmp_path.rglob("PT1H.json"):
        blob.write_text(blob.read_text() + "\n \n")
    inputs = scan([str(tmp_path)])

    def plans(current: Any) -> list[pl.LazyFrame]:
        return [normalise(current).send]

    (send,) = inputs.collect(plans)
    assert send.height == 6 * 3
    lines = send.group_by("_file").agg(pl.col("_line").sort()).get_column("_line")
    assert lines.to_list() == [[1, 2, 3]] * 6
    # No blob was set apart from the batch to be scanned alone.
    assert all(source.batch is not None for source in inputs.sources)


def test_a_line_that_is_not_json_is_placed_within_the_line(tmp_path: Path) -> None:
    # The string opens at character 19; the decoder would say "line 1 column 19",
    # which reads like a line of the file.
    path = tmp_path / "sends.json"
    path.write_text(_send_line(1) + '{"TimeGenerated": "2026-02-1\n' + _send_line(3))

    inputs = scan([str(path)])
    (rejected,) = inputs.collect(lambda current: [normalise(current).rejected])

    assert rejected.select("line", "reason").rows() == [
        (2, "not valid JSON (Unterminated string starting at character 19)")
    ]


def test_record_lines_skips_blank_lines_as_polars_does() -> None:
    # Lines 2 (empty) and 3 (spaces, a tab, a CR) are blank; line 4 starts with
    # spaces but holds a record; line 5 has no newline.
    data = b'{"a":1}\n\n  \t\r\n  {"b":2}\n{"c":3}'

    assert record_lines([data]).tolist() == [1, 4, 5]


def test_record_lines_follows_a_line_across_pieces() -> None:
    # The blank line 2 ("   \r") and the record on line 3 both cross a piece
    # boundary; a piece ends just after the newline of line 4.
    pieces = [b'{"a":1}\n  ', b' \r\n{"b', b'":2}\n{"c":3}\n', b"\n", b'{"d":4}\n']

    assert record_lines(pieces).tolist() == [1, 3, 4, 6]


def test_record_lines_of_nothing_but_blank_lines_is_empty() -> None:
    assert record_lines([b"\n \n\t"]).tolist() == []
    assert record_lines([]).tolist() == []


def _send_line(number: int, size: str = "0.5") -> str:
    record = {
        "TimeGenerated": f"2026-02-10T16:00:{number:02d}.0000000Z",
        "Type": "ACSEmailSendMailOperational",
        "CorrelationId": f"m-{number}",
        "Size": size,
        "UniqueRecipientsCount": 1,
    }
    return json.dumps(record) + "\n"


def _rejects(path: Path) -> list[tuple[int, str]]:
    """Line and Size of each rejected record, its text looked up by its line."""
    inputs = scan([str(path)])
    (rejected,) = inputs.collect(lambda current: [normalise(current).rejected])
    rejected = inputs.with_record_text(rejected)
    return [
        (line, json.loads(text)["Size"])
        for line, text in rejected.select("line", "record").rows()
    ]


def _traced_line(path: Path, message: str) -> int:
    result = _cli("trace", message, str(path), "-q", "-f", "json")
    assert result.exit_code == 0, result.stderr
    (event,) = json.loads(result.stdout)["timeline"]
    return int(event["line"])


@pytest.mark.parametrize("padding", [1, 9000], ids=["small file", "large file"])
def test_blank_lines_inside_a_file_leave_every_record_its_own_line(
    tmp_path: Path, padding: int
) -> None:
    # Lines: 1 a send, 2 blank, 3 blank (spaces), 4 a send, 5 a send whose
    # size does not cast, then `padding` sends from line 6 on. The large file
    # is past the size that is read whole, and is scanned from disk.
    body = _send_line(1) + "\n" + "   \n" + _send_line(4) + _send_line(5, "abc")
    body += "".join(_send_line(6 + n % 50) for n in range(padding))
    path = tmp_path / "sends.json"
    path.write_text(body)
    assert (path.stat().st_size > WHOLE_BYTES) == (padding > 1)

    assert _rejects(path) == [(5, "abc")]
    assert _traced_line(path, "m-4") == 4
    assert _traced_line(path, "m-1") == 1


@pytest.mark.parametrize(
    ("blank", "field"),
    [("\n" * 150, "x"), (" \t\n" * 30_000, "x"), ("\n", "y" * 1_100_000)],
    ids=["150 empty lines", "30,000 lines of spaces", "a line of 1.1 MB"],
)
def test_a_file_starting_with_blank_lines_is_still_json_lines(
    tmp_path: Path, blank: str, field: str
) -> None:
    # The blank lines fill all the sniffed lines, or the whole first 64 KiB,
    # or come before a record longer than 1 MiB (in a field of no table).
    record = json.loads(_send_line(1))
    record["Padding"] = field
    path = tmp_path / "sends.json"
    path.write_text(blank + json.dumps(record) + "\n" + _send_line(2, "abc"))
    first = blank.count("\n") + 1

    assert _rejects(path) == [(first + 1, "abc")]
    assert _traced_line(path, "m-1") == first


def test_blank_lines_inside_a_compressed_file_keep_lines(tmp_path: Path) -> None:
    path = tmp_path / "sends.json.gz"
    body = "\n" + _send_line(2) + " \n" + _send_line(4, "-1") + _send_line(5)
    path.write_bytes(gzip.compress(body.encode()))

    assert _rejects(path) == [(4, "-1")]
    assert _traced_line(path, "m-5") == 5


@pytest.mark.parametrize("compressed", [False, True])
def test_blobs_past_the_joined_bytes_keep_their_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, compressed: bool
) -> None:
    # With room for one blob's bytes, the other two are scanned from disk and
    # numbered by position; the rejection after the blank line is still named
    # on its own line, 4.
    monkeypatch.setattr("acsmail.readers.ndjson._JOIN_LIMIT", 1)
    _tree(tmp_path, blobs=3, broken={2: _blob_line(2, 999, size="abc")})
    for blob in sorted(tmp_path.rglob("PT1H.json")):
        first, rest = blob.read_text().split("\n", 1)
        data = (first + "\n\n" + rest).encode()
        blob.write_bytes(gzip.compress(data) if compressed else data)

    inputs = scan([str(tmp_path)])
    (rejected,) = inputs.collect(lambda current: [normalise(current).rejected])

    assert rejected.select("line", "reason").rows() == [
        (4, "Size: expected a number of at least 0, got 'abc'")
    ]
    assert rejected["file"].item().endswith("h=02/m=00/PT1H.json")
    assert inputs.sources[2].numbered_by_position


def test_blobs_with_blank_lines_or_a_bom_stay_in_their_batch(tmp_path: Path) -> None:
    # Blob by blob: a blank line after the first record, a byte-order mark
    # at the start, both, neither. Each is read in the one batch scan.
    _tree(tmp_path, blobs=4, broken={2: _blob_line(2, 999, size="abc")})
    blobs = sorted(tmp_path.rglob("PT1H.json"))
    for number, blob in enumerate(blobs):
        first, rest = blob.read_text().split("\n", 1)
        text = first + "\n\n" + rest if number in (0, 2) else first + "\n" + rest
        bom = b"\xef\xbb\xbf" if number in (1, 2) else b""
        blob.write_bytes(bom + text.encode())
    inputs = scan([str(tmp_path)])

    def plans(current: Any) -> list[pl.LazyFrame]:
        tables = normalise(current)
        return [tables.send, tables.rejected]

    send, rejected = inputs.collect(plans)

    lines = send.group_by("_file").agg(pl.col("_line").sort()).sort("_file")
    assert lines.get_column("_line").to_list() == [
        [1, 3, 4],
        [1, 2, 3],
        [1, 3],
        [1, 2, 3],
    ]
    assert rejected.select("line", "reason").rows() == [
        (4, "Size: expected a number of at least 0, got 'abc'")
    ]
    assert rejected["file"].item() == send["_file"].unique().sort()[2]
    assert all(source.batch is not None for source in inputs.sources)


def test_scan_tree_keeps_each_blob_and_line(tmp_path: Path) -> None:
    _tree(tmp_path, blobs=40, broken={17: _blob_line(2, 999, size="abc")})

    send, _, _, rejected = _tables([str(tmp_path)], with_rejects=True)

    assert send.height == 40 * 3 - 1
    assert rejected.select("line", "reason").rows() == [
        (3, "Size: expected a number of at least 0, got 'abc'")
    ]
    assert rejected["file"].item().endswith("d=01/h=17/m=00/PT1H.json")
    assert (
        send.group_by("_file")
        .agg(pl.col("_line").sort())
        .get_column("_line")
        .to_list()
        .count([1, 2, 3])
        == 39
    )


def test_scan_tree_finds_the_one_cut_off_blob(tmp_path: Path) -> None:
    _tree(tmp_path, blobs=40, broken={30: _blob_line(2, 999)[:50]})

    send, _, _, rejected = _tables([str(tmp_path)], with_rejects=True)

    assert send.height == 40 * 3 - 1
    assert rejected.height == 1
    assert rejected["file"].item().endswith("d=02/h=06/m=00/PT1H.json")
    assert rejected["line"].item() == 3
    assert rejected["reason"].item().startswith("the last line is cut off")


def test_scan_tree_with_an_empty_blob_still_reads_the_rest(tmp_path: Path) -> None:
    _tree(tmp_path, blobs=3)
    empty = tmp_path / "insights-logs-emailsendmailoperational" / "empty" / "PT1H.json"
    empty.parent.mkdir(parents=True)
    empty.write_bytes(b"")

    inputs = scan([str(tmp_path)])
    send = _tables([str(tmp_path)])[0]

    assert send.height == 9
    assert [w for w in inputs.warnings if "empty" in w] == [
        f"{empty}: the file is empty; no records read from it"
    ]


def test_scan_flat_lines_then_a_nested_record_keeps_its_fields(tmp_path: Path) -> None:
    # The first records keep their fields at the top, as data export writes
    # them; a later one nests them in properties, as diagnostic settings do.
    sends = [
        {
            "TimeGenerated": f"2026-02-10T01:00:{second:02d}Z",
            "CorrelationId": f"m{second}",
            "OperationName": "SendMail",
            "Size": 0.1,
        }
        for second in range(55)
    ]
    nested = {
        "time": "2026-02-10T01:01:00Z",
        "operationName": "DeliveryStatusUpdate",
        "properties": {
            "CorrelationId": "m1",
            "RecipientId": "ann@contoso.com",
            "DeliveryStatus": "Delivered",
        },
    }
    path = tmp_path / "export.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in [*sends, nested]))
    send, status, _ = _tables([str(path)])
    assert send.height == 55
    assert status.select("CorrelationId", "RecipientId", "DeliveryStatus").rows() == [
        ("m1", "ann@contoso.com", "Delivered")
    ]
    assert status.get_column("_line").to_list() == [56]


def _status_rows(count: int) -> list[dict[str, Any]]:
    """Data-export status rows, each naming its table in ``Type``.

    55 of them fill more than the 50 records sampled from a file's start.
    """
    return [
        {
            "TimeGenerated": f"2026-02-10T01:00:{second:02d}Z",
            "CorrelationId": f"m{second}",
            "RecipientId": f"r{second}@contoso.com",
            "DeliveryStatus": "Delivered",
            "Type": "ACSEmailStatusUpdateOperational",
        }
        for second in range(count)
    ]


def test_scan_status_lines_then_a_send_keeps_its_fields(tmp_path: Path) -> None:
    # The first records are all status records, so the scan reads only the
    # status table's fields; a send record further down must still come
    # through whole, with its size and counts.
    send = {
        "TimeGenerated": "2026-02-10T01:01:00Z",
        "CorrelationId": "m1",
        "Size": 2.5,
        "UniqueRecipientsCount": 3,
        "AttachmentsCount": 1,
        "Type": "ACSEmailSendMailOperational",
    }
    path = tmp_path / "export.json"
    rows = [*_status_rows(55), send]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    sends, status, _ = _tables([str(path)])
    assert status.height == 55
    assert sends.select(
        "CorrelationId", "Size", "UniqueRecipientsCount", "AttachmentsCount", "_line"
    ).rows() == [("m1", 2.5, 3, 1, 56)]


def test_scan_status_lines_then_a_record_without_type(tmp_path: Path) -> None:
    # Without a Type, the record's fields decide its table: its engagement
    # type, which a scan of the status fields alone would not read.
    opened = {
        "TimeGenerated": "2026-02-10T01:02:00Z",
        "CorrelationId": "m2",
        "RecipientId": "r2@contoso.com",
        "EngagementType": "view",
        "UserAgent": "Mozilla/5.0",
    }
    path = tmp_path / "export.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in [*_status_rows(55), opened]))
    _, status, engagement = _tables([str(path)])
    assert status.height == 55
    assert engagement.select(
        "CorrelationId", "EngagementType", "UserAgent", "_line"
    ).rows() == [("m2", "View", "Mozilla/5.0", 56)]


def test_status_files_read_together_when_one_holds_a_send(tmp_path: Path) -> None:
    # Four status files scanned as one batch; the third also holds a send.
    # The batch is scanned again with every field, and no file needs the
    # careful read.
    for number in range(4):
        rows = _status_rows(55)
        if number == 2:
            rows.append(
                {
                    "TimeGenerated": "2026-02-10T01:03:00Z",
                    "CorrelationId": "m3",
                    "Size": 0.25,
                    "Type": "ACSEmailSendMailOperational",
                }
            )
        (tmp_path / f"part-{number}.json").write_text(
            "".join(json.dumps(r) + "\n" for r in rows)
        )
    inputs = scan([str(tmp_path)])
    assert len({source.batch.key for source in inputs.sources if source.batch}) == 1
    sends, status, _ = _tables([str(tmp_path)])
    assert status.height == 4 * 55
    assert sends.select("_file", "_line", "Size").rows() == [
        (str(tmp_path / "part-2.json"), 56, 0.25)
    ]
    inputs.collect(lambda current: [normalise(current).send])
    assert not any(source.read_carefully for source in inputs.sources)
    assert all(source.widen is None for source in inputs.sources)


def _read_narrow_then_wide(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The status table and rejections of a file read as its status table's.

    They are checked to equal those of the same file read with every record
    sorted into its table on its own (``Source.widen``).
    """
    inputs = scan([str(path)])
    (source,) = inputs.sources
    assert source.widen is not None
    assert source.table == "statusupdate"

    def plans(current: Any) -> list[pl.LazyFrame]:
        tables = normalise(current)
        return [tables.status, tables.rejected]

    narrow_status, narrow_rejected = inputs.collect(plans)
    source.widen()
    assert source.widen is None
    assert source.table is None
    wide_status, wide_rejected = inputs.collect(plans)
    assert_frame_equal(narrow_status, wide_status)
    assert_frame_equal(narrow_rejected, wide_rejected)
    return narrow_status, narrow_rejected


def test_scan_status_lines_of_one_table_read_as_before(tmp_path: Path) -> None:
    # A file of one table's records reads the same with every field scanned
    # or only that table's: its values, lines and rejections.
    rows = _status_rows(40)
    rows[7]["IsHardBounce"] = "maybe"
    rows[9]["SmtpStatusCode"] = "250"
    path = tmp_path / "export.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    narrow_status, narrow_rejected = _read_narrow_then_wide(path)
    assert narrow_status.height == 39
    assert (
        narrow_status.filter(pl.col("CorrelationId") == "m9").item(0, "SmtpStatusCode")
        == "250"
    )
    assert narrow_rejected.select("line", "reason").rows() == [
        (8, "IsHardBounce: expected true or false, got 'maybe'")
    ]


def test_csv_of_sends_then_a_status_past_the_sample_keeps_both(
    tmp_path: Path,
) -> None:
    # The first megabyte, which is sampled, holds sends alone, so the file
    # is scanned as the send table's; a status record further down fails
    # that scan, and the file is scanned again with each record sorted on
    # its own: nothing rejected, nothing read record by record.
    send = "ACSEmailSendMailOperational"
    rows = [
        f"2026-02-10T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z,m{n},0.5,{send}"
        for n in range(20_000)
    ]
    status = "2026-02-10T02:00:00Z,m1,,ACSEmailStatusUpdateOperational,a@b.example"
    path = tmp_path / "export.csv"
    path.write_text(
        "TimeGenerated,CorrelationId,Size,Type,RecipientId\n"
        + "".join(f"{row},\n" for row in rows)
        + status
        + "\n"
    )
    assert path.stat().st_size > 1024 * 1024
    inputs = scan([str(path)])
    assert inputs.sources[0].table == "sendmail"

    sends, statuses, _, rejected = _tables([str(path)], with_rejects=True)

    assert sends.height == 20_000
    assert statuses.select("CorrelationId", "RecipientId", "_line").rows() == [
        ("m1", "a@b.example", 20_002)
    ]
    assert rejected.height == 0


def test_csv_of_one_table_reads_the_same_scanned_as_that_table(
    tmp_path: Path,
) -> None:
    # Values, lines and rejections are the same whether the records are
    # sorted into tables one by one or taken for the table of their Type.
    status = "ACSEmailStatusUpdateOperational"
    lines = [
        f"2026-02-10T01:00:{n:02d}Z,m{n},r{n}@contoso.com,Delivered,"
        f"{'maybe' if n == 7 else 'false'},{status}\n"
        for n in range(20)
    ]
    path = tmp_path / "status.csv"
    path.write_text(
        "TimeGenerated,CorrelationId,RecipientId,DeliveryStatus,IsHardBounce,Type\n"
        + "".join(lines)
    )
    narrow_status, narrow_rejected = _read_narrow_then_wide(path)
    assert narrow_status.height == 19
    assert narrow_rejected.select("line", "reason").rows() == [
        (9, "IsHardBounce: expected true or false, got 'maybe'")
    ]


def test_read_tables_in_parts_equals_reading_whole(tmp_path: Path) -> None:
    # Three blobs, one cut off in its last line: read one file per part, the
    # tables and the rejection are those of a single read of all three.
    _tree(tmp_path, blobs=3, broken={1: "cut"})
    inputs = scan([str(tmp_path)])

    def plans(current: Any) -> list[pl.LazyFrame]:
        frames = []
        for tables in (normalise(current), read_tables(current, part_bytes=1)):
            frames.append(tables.send.sort("_file", "_line"))
            frames.append(tables.rejected.sort("file", "line"))
        return frames

    assert len(inputs.parts(1)) == 3
    send, rejected, parted_send, parted_rejected = inputs.collect(plans)
    assert send.height == 8
    assert_frame_equal(parted_send, send)
    assert rejected.height == 1
    assert_frame_equal(parted_rejected, rejected)


def test_each_part_keeps_the_order_of_the_parts_and_their_errors() -> None:
    # The first part finishes last; the results still come in part order.
    delays = {"a": 0.2, "b": 0.0, "c": 0.05}

    def read(part: Any) -> str:
        time.sleep(delays[part])
        if part == "c":
            msg = "part c is broken"
            raise ValueError(msg)
        return str(part).upper()

    results = each_part(["a", "b", "c"], read)
    assert next(results) == "A"
    assert next(results) == "B"
    with pytest.raises(ValueError, match="part c is broken"):
        next(results)


def test_each_part_reads_a_heavy_part_with_no_other_in_flight() -> None:
    running: set[str] = set()
    overlaps: list[tuple[str, ...]] = []
    lock = threading.Lock()

    def read(part: str) -> str:
        with lock:
            running.add(part)
            overlaps.append(tuple(sorted(running)))
        time.sleep(0.2)
        with lock:
            running.discard(part)
        return part

    parts = ["a", "b", "BIG", "c", "d"]
    got = list(each_part(parts, read, alone=lambda part: part == "BIG"))
    assert got == parts
    # BIG ran by itself; the light parts around it could pair up.
    assert ("BIG",) in overlaps
    assert not any("BIG" in seen and len(seen) > 1 for seen in overlaps)
    assert ("a", "b") in overlaps


def test_scan_gzip_with_a_damaged_trailer_keeps_its_records(tmp_path: Path) -> None:
    record = {
        "TimeGenerated": "2026-02-10T14:00:00Z",
        "CorrelationId": "a",
        "RecipientId": "ann@contoso.com",
        "DeliveryStatus": "Bounced",
        "Type": "ACSEmailStatusUpdateOperational",
    }
    packed = gzip.compress((json.dumps(record) + "\n").encode() * 3)
    path = tmp_path / "export.json.gz"
    # Zero the CRC-32 of the gzip trailer: every byte of the data is intact.
    path.write_bytes(packed[:-8] + bytes(4) + packed[-4:])

    _, status, _, rejected = _tables([str(path)], with_rejects=True)

    assert status.height == 3
    assert rejected.select("line", "reason").rows() == [
        (4, "the compressed file is cut off here; the rest of it is lost")
    ]


def test_scan_numbers_out_of_range_reject_their_record_only(tmp_path: Path) -> None:
    header = "TimeGenerated,CorrelationId,Size,ToRecipientsCount,Type\n"
    rows = [
        ("a", "0.1", "99999999999999999999"),  # past 64 bits
        ("b", "NaN", "1"),
        ("c", "inf", "1"),
        ("d", "-5", "1"),
        ("e", "0.5", "-1"),
        ("f", "0.5", "2"),  # good
        ("g", "0.5", "9007199254740993"),  # 2**53 + 1, read as a float's 2**53
        ("h", "-0", "9007199254740991"),  # good: zero, and 2**53 - 1 exactly
    ]
    lines = [
        f"2026-02-10T14:00:00Z,{m},{size},{count},ACSEmailSendMailOperational\n"
        for m, size, count in rows
    ]
    path = tmp_path / "sends.csv"
    path.write_text(header + "".join(lines))

    send, _, _, rejected = _tables([str(path)], with_rejects=True)

    assert send.sort("CorrelationId").select(
        "CorrelationId", "Size", "ToRecipientsCount"
    ).rows() == [("f", 0.5, 2), ("h", 0.0, 2**53 - 1)]
    # Not a minus zero, which prints as "-0.0".
    assert math.copysign(1, send.filter(pl.col("CorrelationId") == "h")["Size"][0]) == 1
    # The bound is in the reason: 2**53 + 1 is whole and positive, yet past it.
    count = "ToRecipientsCount: expected a whole number from 0 to 9007199254740991, got"
    size = "Size: expected a number of at least 0, got"
    assert rejected.sort("line").select("line", "reason").rows() == [
        (2, f"{count} '99999999999999999999'"),
        (3, f"{size} 'NaN'"),
        (4, f"{size} 'inf'"),
        (5, f"{size} '-5'"),
        (6, f"{count} '-1'"),
        (8, f"{count} '9007199254740993'"),
    ]


def test_scan_local_time_header_keeps_the_times_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "sends.csv"
    path.write_text(
        '"TimeGenerated [Local Time]",CorrelationId,Size,Type\n'
        '"2026-02-10T15:00:00",m1,0.1,ACSEmailSendMailOperational\n'
    )
    inputs = scan([str(path)])
    (send,) = inputs.collect(lambda current: [normalise(current).send])

    assert send.get_column("TimeGenerated").dt.hour().to_list() == [15]
    assert [w for w in inputs.warnings if "display time zone" in w] == [
        f"{path}: column 'TimeGenerated [Local Time]' holds times in the portal's "
        "display time zone, not UTC; they are read as if UTC, so times and hours "
        "are off by that zone's offset, and so are durations to records from files "
        "in another zone"
    ]


def test_scan_gzip_cut_before_its_first_record_is_a_rejection(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"TimeGenerated": "2026-02-10T14:00:00Z",
                                "CorrelationId": "m1", "OperationName": "SendMail",
                                "Size": 0.1}) + "\n")  # fmt: skip
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(gzip.compress(good.read_bytes())[:10])  # the header alone
    # Cut inside the record: what inflates is the first half of a line.
    long = {"TimeGenerated": "2026-02-10T14:00:01Z", "CorrelationId": "m2",
            "FailureMessage": os.urandom(3000).hex()}  # fmt: skip
    packed = gzip.compress((json.dumps(long) + "\n").encode())
    halved = tmp_path / "halved.json.gz"
    halved.write_bytes(packed[: len(packed) // 2])
    empty = tmp_path / "empty.json.gz"
    empty.write_bytes(gzip.compress(b""))
    inputs = scan([str(tmp_path)])

    send, _, _, rejected = _tables([str(tmp_path)], with_rejects=True)

    assert send.height == 1
    damaged = (
        "the compressed file is cut off or damaged before its first record; "
        "nothing could be read from it"
    )
    assert sorted(rejected.select("file", "line", "reason").rows()) == [
        (str(cut), 1, damaged),
        (str(halved), 1, damaged),
    ]
    assert [w for w in inputs.warnings if "empty" in w] == [
        f"{empty}: the file is empty; no records read from it"
    ]


def test_a_blob_of_no_records_is_empty_and_the_rest_is_read(tmp_path: Path) -> None:
    # An archive blob with an empty list of records, beside one with a send.
    send = {
        "time": "2026-02-10T16:00:00Z",
        "category": "EmailSendMailOperational",
        "correlationId": "m1",
        "properties": {"Size": 0.5},
    }
    (tmp_path / "a.json").write_text(json.dumps({"records": [send]}) + "\n")
    nothing = tmp_path / "b.json"
    nothing.write_text('{"records": []}\n')
    inputs = scan([str(tmp_path)])

    send_table, _, _, rejected = _tables([str(tmp_path)], with_rejects=True)

    assert send_table["CorrelationId"].to_list() == ["m1"]
    assert rejected.height == 0
    assert [w for w in inputs.warnings if "empty" in w] == [
        f"{nothing}: the file is empty; no records read from it"
    ]


@pytest.mark.parametrize("careful", [False, True])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_csv_blank_lines_and_empty_rows_hold_no_record(
    tmp_path: Path, newline: str, *, careful: bool
) -> None:
    # Line 3 is blank, line 4 holds delimiters alone (a spreadsheet's empty
    # row), line 6 too; line 5's size is no number, and keeps its line. A
    # file without its last line end is read record by record, the same.
    send = "ACSEmailSendMailOperational"
    lines = [
        "TimeGenerated,CorrelationId,Size,Type",
        f"2026-02-10T16:00:00Z,m1,0.5,{send}",
        "",
        ",,,",
        f"2026-02-10T16:00:01Z,m2,big,{send}",
        ",,,",
        f"2026-02-10T16:00:02Z,m3,0.5,{send}",
    ]
    path = tmp_path / "sends.csv"
    path.write_bytes((newline.join(lines) + ("" if careful else newline)).encode())
    assert scan([str(path)]).sources[0].read_carefully is careful

    sends, _, _, rejected = _tables([str(path)], with_rejects=True)

    assert sends.select("CorrelationId", "_line").rows() == [("m1", 2), ("m3", 7)]
    assert rejected.select("line", "reason").rows() == [
        (5, "Size: expected a number of at least 0, got 'big'")
    ]
    result = _cli("report", str(path), "--strict", "-q", "-f", "json")
    assert result.exit_code == 1
    assert "line 5" in result.stderr


# --- helpers -------------------------------------------------------------------------


def _tables(
    paths: list[str], *, date_order: Any = None, with_rejects: bool = False
) -> list[pl.DataFrame]:
    inputs = scan(paths, date_order=date_order)

    def plans(current: Any) -> list[pl.LazyFrame]:
        tables = normalise(current)
        frames = [tables.send, tables.status, tables.engagement]
        return [*frames, tables.rejected] if with_rejects else frames

    # A table may number records by position; these are the lines shown.
    return [
        inputs.exact_lines(frame, file="_file", line="_line")
        if "_line" in frame.columns
        else frame
        for frame in inputs.collect(plans)
    ]


def _sends(paths: list[str], *, date_order: Any = None) -> pl.DataFrame:
    return _tables(paths, date_order=date_order)[0].sort("TimeGenerated")


# --- round trips -------------------------------------------------------------------

_FIELD_TEXT = st.text(alphabet='ab ,;"\n\r\té5', max_size=12)


@settings(max_examples=30, deadline=None)
@given(messages=st.lists(_FIELD_TEXT, min_size=1, max_size=6))
def test_scan_csv_round_trips_quoted_text_and_lines(messages: list[str]) -> None:
    out = io.StringIO(newline="")
    writer = csv.writer(out)  # CRLF line ends: a lone CR gets quoted too
    writer.writerow(
        ["TimeGenerated", "CorrelationId", "RecipientId", "FailureMessage", "Type"]
    )
    for message in messages:
        writer.writerow(
            ["2026-02-10T16:00:00Z", "m1", "a@b.example", message, STATUS_TABLE]
        )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "status.csv"
        path.write_text(out.getvalue(), newline="")
        status = _tables([str(path)])[1]

    expected = [None if not m.strip() else m for m in messages]
    assert status["FailureMessage"].to_list() == expected
    assert status["_line"].to_list() == _physical_starts(out.getvalue())


def _physical_starts(text: str) -> list[int]:
    """The line each record after the header starts on, counting only ``\\n``."""
    reader = csv.reader(io.StringIO(text, newline="\n"))
    next(reader)
    starts, end = [], reader.line_num
    for _ in reader:
        starts.append(end + 1)
        end = reader.line_num
    return starts


def _pretty_records(count: int) -> str:
    records = [
        {
            "time": f"2026-02-10T16:{minute:02d}:00.0000000Z",
            "correlationId": f"0b6e2f3a-0000-4000-8000-{minute:012d}",
            "category": "EmailSendMailOperational",
            "properties": {"Size": 0.5, "UniqueRecipientsCount": 1},
        }
        for minute in range(count)
    ]
    return json.dumps({"records": records}, indent=2) + "\n"


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_scan_cut_off_records_document_keeps_whole_records(data: st.DataObject) -> None:
    text = _pretty_records(4)
    first_end = text.index("}\n    }") + len("}\n    }")
    cut = data.draw(st.integers(min_value=first_end, max_value=len(text)))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "records.json"
        path.write_text(text[:cut])
        send, _, _, rejected = _tables([str(path)], with_rejects=True)

    # A record ends where its properties and then itself close.
    whole = text.count("}\n    }", 0, cut)
    complete = not text[cut:].strip()
    assert send.height == whole
    assert rejected.height == (0 if complete else 1)


def test_a_padded_locale_time_is_read_in_the_file_s_format(tmp_path: Path) -> None:
    # The file's format fails on the padding; the retry strips it and tries
    # the same format first. 13/2 settles the day/month order.
    send = "ACSEmailSendMailOperational"
    path = tmp_path / "sends.csv"
    path.write_text(
        "TimeGenerated [UTC],CorrelationId,Size,Type\n"
        f'"13/2/2026, 4:00:01.100 PM",m1,0.1,{send}\n'
        f'" 13/2/2026, 4:00:02.200 PM ",m2,0.1,{send}\n'
    )
    sends = _sends([str(path)])
    assert sends["TimeGenerated"].to_list() == [
        datetime(2026, 2, 13, 16, 0, 1, 100000, tzinfo=UTC),
        datetime(2026, 2, 13, 16, 0, 2, 200000, tzinfo=UTC),
    ]


def test_blank_values_become_null_and_padded_text_is_kept(tmp_path: Path) -> None:
    # Empty and whitespace-only values (a tab, a no-break space, NEL, an
    # ideographic space) are missing values; text after leading whitespace,
    # or starting with a character past ASCII, is a value.
    reasons = [
        "",
        " \t",
        "\u00a0",
        "\u0085",
        "\u3000 ",
        " late",
        "\u00e9t\u00e9",
        "\u65e5",
    ]
    lines = []
    for number, reason in enumerate(reasons):
        record = {
            "TimeGenerated": f"2026-02-10T16:00:0{number}Z",
            "CorrelationId": f"m{number}",
            "RecipientId": "a@b.example",
            "DeliveryStatus": "Failed",
            "FailureReason": reason,
            "Type": STATUS_TABLE,
        }
        lines.append(json.dumps(record) + "\n")
    path = tmp_path / "status.json"
    path.write_text("".join(lines))

    status = _tables([str(path)])[1].sort("CorrelationId")

    expected = [None, None, None, None, None, " late", "\u00e9t\u00e9", "\u65e5"]
    assert status["FailureReason"].to_list() == expected


def test_records_without_a_message_id_are_rejected(tmp_path: Path) -> None:
    # Blank ids (empty, spaces, a no-break space, an ideographic space) and a
    # missing one: each such send names no message and would otherwise pass,
    # together with the others, for one message.
    send = {"Size": 0.1, "Type": "ACSEmailSendMailOperational"}
    ids: list[str | None] = ["m1", "", "  ", "\u00a0", "\u3000", None]
    lines = []
    for number, message in enumerate(ids):
        record: dict[str, object] = {
            **send,
            "TimeGenerated": f"2026-02-10T16:00:0{number}Z",
        }
        if message is not None:
            record["CorrelationId"] = message
        lines.append(json.dumps(record) + "\n")
    path = tmp_path / "sends.json"
    path.write_text("".join(lines))

    sends, _, _, rejected = _tables([str(path)], with_rejects=True)

    assert sends["CorrelationId"].to_list() == ["m1"]
    reason = "CorrelationId: missing (the record names no message)"
    assert sorted(rejected.select("line", "reason").rows()) == [
        (line, reason) for line in range(2, 7)
    ]


def test_an_iso_time_among_portal_dates_is_read(tmp_path: Path) -> None:
    # Portal dates day/month first (13/3 settles it), one row pasted in ISO
    # 8601, and one that is no datetime at all: only that one is rejected.
    # The portal's format is the file's, being the most common.
    path = tmp_path / "mixed.csv"
    path.write_text(
        "TimeGenerated [UTC],CorrelationId,OperationName,Size,UniqueRecipientsCount\n"
        '"13/3/2026, 10:00:00.000",m1,SendMail,0.1,1\n'
        "2026-03-01T10:00:06Z,m2,SendMail,0.1,1\n"
        '"2/3/2026, 09:30:00.000",m3,SendMail,0.1,1\n'
        "garbage,m4,SendMail,0.1,1\n"
    )
    send, _, _, rejected = _tables([str(path)], with_rejects=True)
    times = dict(zip(send["CorrelationId"], send["TimeGenerated"], strict=True))
    assert times == {
        "m1": datetime(2026, 3, 13, 10, tzinfo=UTC),
        "m2": datetime(2026, 3, 1, 10, 0, 6, tzinfo=UTC),
        "m3": datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
    }
    assert rejected["line"].to_list() == [5]
    assert (
        rejected["reason"]
        .item()
        .startswith("TimeGenerated: expected a datetime, got 'garbage'")
    )


def test_a_time_written_with_a_space_among_t_times_is_read(tmp_path: Path) -> None:
    records = [
        {"TimeGenerated": time, "CorrelationId": f"m{n}", "OperationName": "SendMail",
         "Size": 0.1, "UniqueRecipientsCount": 1}
        for n, time in enumerate(
            ["2026-03-01T10:00:05Z", "2026-03-01 10:00:06", "2026-03-01T10:00:07.5Z"]
        )
    ]  # fmt: skip
    path = tmp_path / "export.json"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    (send, _, _) = _tables([str(path)])
    assert sorted(send["TimeGenerated"].to_list()) == [
        datetime(2026, 3, 1, 10, 0, 5, tzinfo=UTC),
        datetime(2026, 3, 1, 10, 0, 6, tzinfo=UTC),
        datetime(2026, 3, 1, 10, 0, 7, 500000, tzinfo=UTC),
    ]


def test_a_lower_case_t_between_date_and_time_is_read(tmp_path: Path) -> None:
    # RFC 3339 lets the "T" and "Z" be lower-case. A file written that way
    # throughout, and one such value among upper-case ones, both parse.
    lower = [
        {"TimeGenerated": time, "CorrelationId": f"m{n}", "OperationName": "SendMail",
         "Size": 0.1, "UniqueRecipientsCount": 1}
        for n, time in enumerate(["2026-03-01t10:00:05z", "2026-03-01t10:00:06.25z"])
    ]  # fmt: skip
    mixed = [
        {**lower[0], "TimeGenerated": "2026-03-01T10:00:07Z", "CorrelationId": "m2"},
        {**lower[0], "TimeGenerated": "2026-03-01t10:00:08Z", "CorrelationId": "m3"},
    ]
    (tmp_path / "lower.json").write_text("".join(json.dumps(r) + "\n" for r in lower))
    (tmp_path / "mixed.json").write_text("".join(json.dumps(r) + "\n" for r in mixed))
    send, _, _, rejected = _tables(
        [str(tmp_path / "lower.json"), str(tmp_path / "mixed.json")], with_rejects=True
    )
    times = dict(zip(send["CorrelationId"], send["TimeGenerated"], strict=True))
    assert times == {
        "m0": datetime(2026, 3, 1, 10, 0, 5, tzinfo=UTC),
        "m1": datetime(2026, 3, 1, 10, 0, 6, 250000, tzinfo=UTC),
        "m2": datetime(2026, 3, 1, 10, 0, 7, tzinfo=UTC),
        "m3": datetime(2026, 3, 1, 10, 0, 8, tzinfo=UTC),
    }
    assert rejected.height == 0


@given(
    st.lists(
        st.one_of(st.none(), st.text(alphabet="aAéÉ \u00a0Delivered", max_size=6)),
        max_size=40,
    )
)
def test_a_change_per_distinct_value_equals_the_change_of_each(
    values: list[str | None],
) -> None:
    # The look-up of each distinct value's answer gives every record what
    # changing its own copy would: nulls, repeats and case included.
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})

    def change(value: pl.Expr) -> pl.Expr:
        return value.str.strip_chars().str.to_lowercase()

    found = frame.select(
        per_distinct("v", change, pl.String()).alias("looked_up"),
        change(pl.col("v")).alias("direct"),
    )
    assert found["looked_up"].to_list() == found["direct"].to_list()


@st.composite
def _iso_like(draw: st.DrawFn, fmt: str) -> str:
    """Datetime texts mostly in an ISO layout, some of them put off it."""
    day = draw(
        st.datetimes(min_value=datetime(1999, 1, 1), max_value=datetime(2040, 1, 1))
    )
    separator = draw(st.sampled_from(["T" if "T" in fmt else " ", "T", " "]))
    digits = st.text(alphabet="0123456789", min_size=1, max_size=12)
    fraction = draw(st.one_of(digits.map(".".__add__), st.just(""), st.just(".")))
    zoned = "Z" if fmt.endswith("%#z") else ""
    zone = draw(st.sampled_from([zoned, zoned, "Z", "", "+00:00", "-05:30"]))
    text = day.strftime(f"%Y-%m-%d{separator}%H:%M:%S") + fraction + zone
    spoilt = draw(
        st.sampled_from(
            [
                text,
                text,
                text,
                text,
                " " + text,
                text + "\u00a0",
                text.replace("-", "-0", 1),  # a month of three digits
                text[:5] + text[6:] if text[5] == "0" else text,  # of one
                text[:17] + "61" + text[19:],  # a second out of range
                text[:19] + ".5a" + zone,
                text.replace("T", "t"),
                text + "Z",
            ]
        )
    )
    return spoilt


@st.composite
def _iso_file(draw: st.DrawFn) -> tuple[str, list[str]]:
    fmt = draw(st.sampled_from(_ISO))
    return fmt, draw(st.lists(_iso_like(fmt), max_size=20))


@given(_iso_file())
def test_the_quick_iso_parse_equals_the_full_one(file: tuple[str, list[str]]) -> None:
    # Parsed in two pieces where the layout allows, else in full: the same
    # times as a full parse in every ISO format, and null where none fits.
    # Either way a lower-case "t" or "z" reads as upper-case.
    fmt, values = file
    frame = pl.DataFrame({"t": values}, schema={"t": pl.String})
    raw = pl.col("t")
    quick = frame.with_columns(parse_time(raw, TimeFormat(fmt)).alias("p")).select(
        iso_retry(raw, pl.col("p")).alias("p")
    )
    full = frame.select(
        pl.coalesce(
            *(
                raw.str.to_uppercase()
                .str.strip_chars()
                .str.to_datetime(iso, time_unit="us", time_zone="UTC", strict=False)
                for iso in _ISO
            )
        ).alias("p")
    )
    # Compared as microseconds: year 0 parses, but is no Python datetime.
    assert quick["p"].to_physical().to_list() == full["p"].to_physical().to_list()


@pytest.mark.parametrize("broken", [False, True])
def test_a_key_given_twice_keeps_its_first_value_either_way(
    tmp_path: Path, broken: bool
) -> None:
    # Polars' scan keeps the first of a repeated key; the careful read, which
    # a line of broken JSON sets off, must read the record the same way.
    record = (
        '{"TimeGenerated": "2026-02-10T10:00:00Z", "CorrelationId": "first", '
        '"CorrelationId": "second", "OperationName": "SendMail", "Size": 0.1}\n'
    )
    path = tmp_path / "export.json"
    path.write_text(record + ("{not json\n" if broken else ""))
    send, _, _, rejected = _tables([str(path)], with_rejects=True)
    assert send["CorrelationId"].to_list() == ["first"]
    assert rejected["line"].to_list() == ([2] if broken else [])


def test_a_json_array_keeps_the_first_value_of_a_repeated_key(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(
        '[{"TimeGenerated": "2026-02-10T10:00:00Z", "CorrelationId": "first", '
        '"OperationName": "SendMail", "Size": "0.1", "Size": "lots"}]'
    )
    send, _, _, rejected = _tables([str(path)], with_rejects=True)
    assert send.select("CorrelationId", "Size").rows() == [("first", 0.1)]
    assert rejected.height == 0


def test_a_json_array_cut_off_keeps_its_whole_rows(tmp_path: Path) -> None:
    # Three rows, one per line after the "[" on line 1; the third breaks off
    # inside its CorrelationId. Rows 1 and 2 are kept; the rest is rejected
    # as row 3, which starts on line 4 of the file.
    path = tmp_path / "export.json"
    path.write_text(
        "[\n"
        '{"TimeGenerated": "2026-02-10T10:00:00Z", "CorrelationId": "m1", '
        '"OperationName": "SendMail", "Size": "0.1"},\n'
        '{"TimeGenerated": "2026-02-10T10:00:01Z", "CorrelationId": "m2", '
        '"OperationName": "SendMail", "Size": "0.2"},\n'
        '{"TimeGenerated": "2026-02-10T10:00:02Z", "CorrelationId": "m'
    )
    send, _, _, rejected = _tables([str(path)], with_rejects=True)
    assert send["CorrelationId"].to_list() == ["m1", "m2"]
    assert rejected.select("line", "reason").rows() == [
        (
            3,
            "the document is cut off here; the rest of the file is lost "
            "(line 4 of the file)",
        )
    ]
    assert rejected["record"].to_list() == [
        '{"TimeGenerated": "2026-02-10T10:00:02Z", "CorrelationId": "m'
    ]


_COLUMNS = (
    '[{"name": "TimeGenerated", "type": "datetime"}, '
    '{"name": "CorrelationId", "type": "string"}, '
    '{"name": "OperationName", "type": "string"}, '
    '{"name": "Size", "type": "real"}]'
)
# Two tables as the API writes them, two rows each; the second table and
# its rows start on lines 2 and 3.
_RESPONSE = (
    '{"tables": [{"name": "PrimaryResult", "columns": ' + _COLUMNS + ', "rows": '
    '[["2026-02-10T10:00:00Z", "m1", "SendMail", 0.1], '
    '["2026-02-10T10:00:01Z", "m2", "SendMail", 0.2]]},\n'
    '{"name": "Second", "columns": ' + _COLUMNS + ', "rows": [\n'
    '["2026-02-10T10:00:02Z", "m3", "SendMail", 0.3], '
    '["2026-02-10T10:00:03Z", "m4", "SendMail", 0.4]]}]}'
)
_CUT = "the document is cut off here; the rest of the file is lost"
_ENDS = "the document is cut off after its last whole record"


@pytest.mark.parametrize(
    ("cut_after", "kept", "reason"),
    [
        # Inside the second table's second row: rows 1 to 3 are whole.
        ('"m4", "Send', ["m1", "m2", "m3"], f"{_CUT} (line 3 of the file)"),
        # Right after the second table's first row.
        ('"m3", "SendMail", 0.3]', ["m1", "m2", "m3"], f"{_ENDS} (line 3 of the file)"),
        # Between the tables, and inside the second one's columns.
        ("]]},", ["m1", "m2"], f"{_ENDS} (line 1 of the file)"),
        ('"Second", "columns": [{"na', ["m1", "m2"], f"{_CUT} (line 2 of the file)"),
        # After every row: only the closing brackets are lost.
        (
            '"m4", "SendMail", 0.4]]',
            ["m1", "m2", "m3", "m4"],
            f"{_ENDS} (line 3 of the file)",
        ),
    ],
)
def test_a_query_response_cut_off_keeps_its_whole_rows(
    tmp_path: Path, cut_after: str, kept: list[str], reason: str
) -> None:
    # What is lost is rejected as the row that would have come next.
    text = _RESPONSE[: _RESPONSE.rindex(cut_after) + len(cut_after)]
    path = tmp_path / "response.json"
    path.write_text(text)
    send, _, _, rejected = _tables([str(path)], with_rejects=True)
    assert send["CorrelationId"].to_list() == kept
    assert rejected.select("line", "reason").rows() == [(len(kept) + 1, reason)]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_a_json_array_cut_inside_a_character_keeps_its_whole_rows(
    tmp_path: Path, encoding: str
) -> None:
    # The second row's reply ends in "ä", and the file is cut one byte into
    # it: two bytes in UTF-8, two in UTF-16 (after its byte-order mark).
    rows = [
        '{"TimeGenerated": "2026-02-10T10:00:00Z", "CorrelationId": "m1", '
        '"OperationName": "SendMail", "Size": "0.1"}',
        '{"TimeGenerated": "2026-02-10T10:00:01Z", "CorrelationId": "m2", '
        '"OperationName": "SendMail", "Size": "0.2", "FailureMessage": "ä',
    ]
    data = ("[\n" + ",\n".join(rows)).encode(encoding)
    path = tmp_path / "export.json"
    path.write_bytes(data[:-1])
    send, _, _, rejected = _tables([str(path)], with_rejects=True)
    assert send["CorrelationId"].to_list() == ["m1"]
    assert rejected.select("line", "reason").rows() == [
        (2, f"{_CUT} (line 3 of the file)")
    ]


def test_a_json_array_cut_after_a_whole_row_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(
        '[{"TimeGenerated": "2026-02-10T10:00:00Z", "CorrelationId": "m1", '
        '"OperationName": "SendMail", "Size": "0.1"}'
    )
    send, _, _, rejected = _tables([str(path)], with_rejects=True)
    assert send["CorrelationId"].to_list() == ["m1"]
    assert rejected.select("line", "reason").rows() == [
        (2, f"{_ENDS} (line 1 of the file)")
    ]


@pytest.mark.parametrize(
    "text",
    [
        '[{"TimeGenerated": "2026-02-10T10:00:00Z", "Correl',
        '{"tables": [{"name": "PrimaryResult", "columns": [{"name": "Ti',
    ],
)
def test_a_document_cut_off_before_its_first_row_is_an_error(
    tmp_path: Path, text: str
) -> None:
    path = tmp_path / "export.json"
    path.write_text(text)
    # The decoder's "starting at" loses its "at": the place comes first.
    complaint = r"export\.json: line 1, column \d+: .*\(Unterminated string starting\)$"
    with pytest.raises(InputError, match=complaint):
        _tables([str(path)])


def test_a_record_of_another_table_is_left_out_not_guessed(tmp_path: Path) -> None:
    # A union export of one workspace: an email status, an SMS delivery
    # report that also fills DeliveryStatus, and an email send whose Type is
    # blank, so its fields decide. The SMS record's Type names a table, not
    # ours, and the category of line 4 none of ours: both match no table.
    status = {
        "TimeGenerated": "2026-02-10T10:00:05Z", "CorrelationId": "m1",
        "Type": "ACSEmailStatusUpdateOperational", "RecipientId": "a@x.example",
        "DeliveryStatus": "Delivered",
    }  # fmt: skip
    sms = {**status, "CorrelationId": "s1", "Type": "ACSSMSIncomingOperations"}
    send = {
        "TimeGenerated": "2026-02-10T10:00:00Z", "CorrelationId": "m1",
        "Type": " ", "Size": 0.1, "UniqueRecipientsCount": 1,
    }  # fmt: skip
    chat = {**status, "CorrelationId": "c1", "Type": None}
    chat["Category"] = "ChatOperational"
    path = tmp_path / "union.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in (status, sms, send, chat)))
    tables = normalise(scan([str(path)]))
    send_table, status_table, unclassified = pl.collect_all(
        [tables.send, tables.status, tables.unclassified]
    )
    assert status_table["CorrelationId"].to_list() == ["m1"]
    assert send_table["CorrelationId"].to_list() == ["m1"]
    assert sorted(unclassified["line"].to_list()) == [2, 4]


@pytest.mark.parametrize("closed_later", [False, True])
def test_an_unclosed_quote_rejects_its_line_not_the_rows_after_it(
    tmp_path: Path, closed_later: bool
) -> None:
    # Row m3's reply opens a quote it never closes. Read on, the quote runs
    # to the end of the file, or to the quote that opens m7's reply; either
    # way the rows between are good records, and only m3's line (5) is bad.
    header = "TimeGenerated,CorrelationId,OperationName,RecipientId,DeliveryStatus,"
    lines = [header + "FailureMessage\n"]
    for n in range(10):
        reply = {3: '"550 unclosed', 7: '"250, fine"' if closed_later else "ok"}
        lines.append(
            f"2026-02-10T10:00:0{n}Z,m{n},DeliveryStatusUpdate,r{n}@x.example,"
            f"Delivered,{reply.get(n, 'ok')}\n"
        )
    path = tmp_path / "status.csv"
    path.write_text("".join(lines))
    _, status, _, rejected = _tables([str(path)], with_rejects=True)
    assert sorted(status["CorrelationId"].to_list()) == [
        f"m{n}" for n in range(10) if n != 3
    ]
    assert rejected["line"].to_list() == [5]
    assert rejected["reason"].item().endswith("; the lines after it are read anew")
    if closed_later:
        m7 = status.filter(pl.col("CorrelationId") == "m7")
        assert m7["FailureMessage"].to_list() == ["250, fine"]


@pytest.mark.parametrize("where", ["middle", "end"])
def test_a_row_with_a_field_too_many_is_rejected_beside_unused_columns(
    tmp_path: Path, where: str
) -> None:
    # The portal's TenantId is a column no table uses; reading only the
    # columns it needs, the scan would not see that row c2 has six fields.
    header = "TenantId,TimeGenerated [UTC],CorrelationId,Size,Type\n"
    send = "ACSEmailSendMailOperational"
    good = f"t,2026-02-10T10:00:00Z,c1,0.1,{send}\n"
    bad = (
        f"t,2026-02-10T10:00:01Z,c2,0.2,extra,{send}\n"
        if where == "middle"
        else f"t,2026-02-10T10:00:01Z,c2,0.2,{send},extra\n"
    )
    path = tmp_path / "sends.csv"
    path.write_text(header + good + bad + good.replace("c1", "c3"))
    send_table, _, _, rejected = _tables([str(path)], with_rejects=True)
    assert sorted(send_table["CorrelationId"].to_list()) == ["c1", "c3"]
    assert rejected.select("line", "reason").rows() == [
        (3, "expected 5 fields, found 6")
    ]
    # The record's text, as the rejects file keeps it, without its line end.
    assert rejected["record"].to_list() == [bad.removesuffix("\n")]


@pytest.mark.parametrize("careful", [False, True])
def test_an_unused_column_is_held_to_the_field_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, careful: bool
) -> None:
    # Read only to count the fields, an unused column still rejects a value
    # past the limit, on the fast scan and on the careful read (which a row
    # of too few fields sets off).
    monkeypatch.setenv("ACSMAIL_MAX_FIELD_BYTES", "24")
    path = tmp_path / "sends.csv"
    path.write_text(
        "TenantId,TimeGenerated,CorrelationId,Size,OperationName\n"
        "t,2026-02-10T10:00:00Z,c1,0.1,SendMail\n"
        f"{'x' * 25},2026-02-10T10:00:01Z,c2,0.2,SendMail\n"
        + ("t,2026-02-10T10:00:02Z\n" if careful else "")
    )
    send, _, _, rejected = _tables([str(path)], with_rejects=True)
    assert send["CorrelationId"].to_list() == ["c1"]
    reasons = dict(rejected.select("line", "reason").iter_rows())
    assert reasons[3] == "TenantId: field longer than 24 bytes"


def test_files_whose_dates_fit_both_orders_follow_the_file_that_settles_it(
    tmp_path: Path,
) -> None:
    # sends.csv has a 13th, so it is day/month; every date in status.csv
    # fits both orders, and is read as the export's other file settles it:
    # 3/2 is 3 February, five seconds after the send.
    header = "TimeGenerated [UTC],CorrelationId,OperationName"
    (tmp_path / "sends.csv").write_text(
        f"{header},Size\n"
        '"13/2/2026, 10:00:00.000",c1,SendMail,0.1\n'
        '"3/2/2026, 10:00:00.000",c2,SendMail,0.1\n'
    )
    (tmp_path / "status.csv").write_text(
        f"{header},RecipientId,DeliveryStatus\n"
        '"3/2/2026, 10:00:05.000",c2,DeliveryStatusUpdate,b@x.example,Delivered\n'
    )
    inputs = scan([str(tmp_path)])
    assert inputs.warnings == [
        f"1 file(s) whose dates fit either order read as day/month, as the dates "
        f"of {tmp_path / 'sends.csv'} settle it (use --date-order to change it)"
    ]
    _, status, _ = _tables([str(tmp_path)])
    assert status["TimeGenerated"].to_list() == [
        datetime(2026, 2, 3, 10, 0, 5, tzinfo=UTC)
    ]


def test_dotted_dates_do_not_settle_another_files_slashes(tmp_path: Path) -> None:
    # 10.02.2026 is day first by convention, which says nothing of how
    # status.csv writes 3/2/2026: that file is read month first, its own
    # default, with the ambiguity warning, not as 3 February.
    (tmp_path / "sends.csv").write_text(
        "TimeGenerated [UTC];CorrelationId;OperationName;Size\n"
        "10.02.2026 10:00:00,100;c1;SendMail;0,1\n"
    )
    (tmp_path / "status.csv").write_text(
        "TimeGenerated [UTC],CorrelationId,OperationName,RecipientId,DeliveryStatus\n"
        '"3/2/2026, 10:00:05.000",c1,DeliveryStatusUpdate,b@x.example,Delivered\n'
    )
    inputs = scan([str(tmp_path)])
    assert inputs.warnings == [
        f"{tmp_path / 'status.csv'}: dates could be month/day or day/month; read "
        "as month/day (use --date-order dmy if that is wrong)"
    ]
    _, status, _ = _tables([str(tmp_path)])
    assert status["TimeGenerated"].to_list() == [
        datetime(2026, 3, 2, 10, 0, 5, tzinfo=UTC)
    ]


def test_files_that_settle_different_date_orders_are_told(tmp_path: Path) -> None:
    header = "TimeGenerated [UTC],CorrelationId,OperationName,Size\n"
    day_first = tmp_path / "a.csv"
    month_first = tmp_path / "b.csv"
    day_first.write_text(header + '"13/2/2026, 10:00:00.000",c1,SendMail,0.1\n')
    month_first.write_text(header + '"2/13/2026, 10:00:00.000",c2,SendMail,0.1\n')
    inputs = scan([str(day_first), str(month_first)])
    assert inputs.warnings == [
        f"files disagree on the day/month order of their dates: {month_first} "
        f"reads month/day, {day_first} day/month; each is read its own way"
    ]
    send = _sends([str(day_first), str(month_first)])
    assert send["TimeGenerated"].to_list() == [
        datetime(2026, 2, 13, 10, tzinfo=UTC),
        datetime(2026, 2, 13, 10, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    ("dates", "read"),
    [
        # 99/99 is no date either way; 2/14 is one as month/day only. The
        # bad record alone is rejected, and the others are read month first.
        (
            ["99/99/2026", "2/14/2026", "2/3/2026"],
            [datetime(2026, 2, 14, tzinfo=UTC), datetime(2026, 2, 3, tzinfo=UTC)],
        ),
        # Two dates are real as day/month only (13/2, 31/1), one as
        # month/day only (2/13, a row pasted from elsewhere): day/month
        # wins, and the pasted row is rejected.
        (
            ["2/13/2026", "13/2/2026", "31/1/2026"],
            [datetime(2026, 2, 13, tzinfo=UTC), datetime(2026, 1, 31, tzinfo=UTC)],
        ),
    ],
)
def test_only_dates_real_in_one_order_settle_it(
    tmp_path: Path, dates: list[str], read: list[datetime]
) -> None:
    path = tmp_path / "sends.csv"
    path.write_text(
        "TimeGenerated [UTC],CorrelationId,OperationName,Size\n"
        + "".join(
            f'"{date}, 00:00:00.000",c{number},SendMail,0.1\n'
            for number, date in enumerate(dates, start=1)
        )
    )
    send, _, _, rejected = _tables([str(path)], with_rejects=True)
    assert send.sort("CorrelationId")["TimeGenerated"].to_list() == read
    assert rejected["line"].to_list() == [2]


def test_locale_times_with_and_without_a_fraction_share_a_file(
    tmp_path: Path,
) -> None:
    # Excel in a decimal-comma locale writes ",100" only where there is a
    # fraction. Whichever way the sample leans, the other rows still parse.
    path = tmp_path / "sends.csv"
    path.write_text(
        "TimeGenerated [UTC];CorrelationId;Size;Type\n"
        "10.02.2026 16:00:01,100;c1;0,5;ACSEmailSendMailOperational\n"
        "10.02.2026 16:00:02;c2;0,5;ACSEmailSendMailOperational\n"
        "10.02.2026 16:00:03,250;c3;0,5;ACSEmailSendMailOperational\n"
    )
    send, _, _, rejected = _tables([str(path)], with_rejects=True)
    assert rejected.height == 0
    assert send.sort("CorrelationId")["TimeGenerated"].to_list() == [
        datetime(2026, 2, 10, 16, 0, 1, 100000, tzinfo=UTC),
        datetime(2026, 2, 10, 16, 0, 2, tzinfo=UTC),
        datetime(2026, 2, 10, 16, 0, 3, 250000, tzinfo=UTC),
    ]


def test_the_az_cli_table_name_of_a_query_result_is_no_other_table(
    tmp_path: Path,
) -> None:
    # az adds "TableName": "PrimaryResult" to every row of a query's output;
    # a projection without Type leaves the fields to tell the table.
    rows = [
        {"TableName": "PrimaryResult", "TimeGenerated": "2026-03-04T10:00:05Z",
         "CorrelationId": "z1", "RecipientId": "a@y.example",
         "DeliveryStatus": "Delivered"},
        {"TableName": "PrimaryResult", "TimeGenerated": "2026-03-04T10:00:00Z",
         "CorrelationId": "z1", "Size": "0.1", "UniqueRecipientsCount": "1"},
    ]  # fmt: skip
    path = tmp_path / "az.json"
    path.write_text(json.dumps(rows))
    send, status, _, rejected = _tables([str(path)], with_rejects=True)
    assert (send.height, status["CorrelationId"].to_list()) == (1, ["z1"])
    assert rejected.height == 0


def test_scan_a_stray_nul_rejects_its_record_not_the_file(tmp_path: Path) -> None:
    # Ten sends, the tenth with a raw NUL inside its id: JSON allows no raw
    # control character in a string, so line 10 is rejected and the other
    # nine are read, and so is the other file. A NUL in the first bytes is
    # binary data, as before.
    def send(n: int) -> str:
        record = {
            "TimeGenerated": f"2026-02-10T10:00:0{n}Z",
            "CorrelationId": f"m{n}",
            "OperationName": "SendMail",
        }
        return json.dumps(record)

    lines = "\n".join(send(n) for n in range(10)) + "\n"
    nul = tmp_path / "nul.json"
    nul.write_bytes(lines.encode().replace(b'"m9"', b'"m\x009"'))
    other = tmp_path / "other.json"
    other.write_text(send(0).replace("m0", "n0") + "\n")
    sends, _, _, rejected = _tables([str(nul), str(other)], with_rejects=True)
    assert sends.height == 10
    assert rejected.select("file", "line").rows() == [(str(nul), 10)]
    assert rejected["reason"][0].startswith("not valid JSON")
    binary = tmp_path / "binary.json"
    binary.write_bytes(lines.encode().replace(b'"m0"', b'"m\x000"'))
    with pytest.raises(InputError, match="found binary data"):
        scan([str(binary)])


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
@pytest.mark.parametrize("form", ["json", "ndjson"])
def test_scan_json_in_utf16_reads_as_in_utf8(
    form: str, encoding: str, tmp_path: Path
) -> None:
    # Windows PowerShell's ">" saves the az CLI's JSON as UTF-16: the same
    # records come out as from the UTF-8 file, with the UTF-16 copy's name.
    sends = {
        "json": FIXTURES / "sample" / "json",
        "ndjson": FIXTURES / "sample" / "ndjson" / "am-acsemailsendmailoperational",
    }
    original = min(path for path in sends[form].rglob("*.json") if path.is_file())
    text = original.read_bytes().decode("utf-8-sig")
    copy = tmp_path / "sends.json"
    bom = "\ufeff" if encoding == "utf-16-be" else ""
    copy.write_bytes((bom + text).encode(encoding))
    (expected,) = _tables([str(original)])[:1]
    (found,) = _tables([str(copy)])[:1]
    assert found.height > 0
    assert_frame_equal(found.drop("_file"), expected.drop("_file"))
    assert found["_file"].cast(pl.String).unique().to_list() == [str(copy)]
