"""Hostile input: compression bombs, huge fields, endless lines, deep nesting.

Each limit of ``acsmail.readers._limits`` is met by a generated file that
crosses it; the outcome (an error naming the file, or a counted rejection
naming the line) is worked out from how the file was built. Property tests
feed arbitrary bytes to the readers and arbitrary text to the code parser.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pty
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acsmail.cli import cli
from acsmail.codes import explain
from acsmail.codes import parser as code_parser
from acsmail.errors import InputError
from acsmail.normalise import normalise
from acsmail.readers import scan
from acsmail.readers._files import read_all
from acsmail.readers._limits import (
    INFLATE_FLOOR,
    MAX_FIELD_BYTES,
    inflate_cap,
    read_line,
)

MIB = 1024 * 1024
STATUS_TABLE = "ACSEmailStatusUpdateOperational"
CSV_HEADER = "TimeGenerated,CorrelationId,RecipientId,FailureMessage,Type\n"


def _cli(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def _tables(paths: list[str]) -> list[pl.DataFrame]:
    """The send, status, engagement and rejected tables of the given files."""
    inputs = scan(paths)

    def plans(current: Any) -> list[pl.LazyFrame]:
        tables = normalise(current)
        return [tables.send, tables.status, tables.engagement, tables.rejected]

    return inputs.collect(plans)


def _status_line(recipient: str, message: str = "ok") -> str:
    record = {
        "TimeGenerated": "2026-02-10T16:00:00Z",
        "CorrelationId": "m1",
        "RecipientId": recipient,
        "FailureMessage": message,
        "Type": STATUS_TABLE,
    }
    return json.dumps(record) + "\n"


def _csv_row(recipient: str, message: str = "ok") -> str:
    return f'2026-02-10T16:00:00Z,m1,{recipient},"{message}",{STATUS_TABLE}\n'


def _bomb(path: Path, prefix: bytes, inflated: int) -> None:
    """Gzip ``prefix`` then zeros up to ``inflated`` bytes, written in chunks."""
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(prefix)
        zeros = bytes(MIB)
        left = inflated - len(prefix)
        while left > 0:
            out.write(zeros[: min(left, MIB)])
            left -= MIB


# --- compression bombs ---------------------------------------------------------------


def test_limits_inflate_cap_is_the_floor_or_a_hundred_times_the_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ACSMAIL_MAX_INFLATED_BYTES", raising=False)

    assert inflate_cap(1000) == INFLATE_FLOOR == 64 * MIB
    assert inflate_cap(10 * MIB) == 1000 * MIB

    monkeypatch.setenv("ACSMAIL_MAX_INFLATED_BYTES", "5000")
    assert inflate_cap(10 * MIB) == 5000


def test_limits_bad_inflate_setting_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACSMAIL_MAX_INFLATED_BYTES", "lots")

    with pytest.raises(InputError, match="expected a positive number of bytes"):
        inflate_cap(1)


def test_scan_zero_bomb_is_refused_by_the_default_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACSMAIL_MAX_INFLATED_BYTES", raising=False)
    path = tmp_path / "bomb.csv.gz"
    _bomb(path, b"", 200 * MIB)

    cap = max(64 * MIB, 100 * path.stat().st_size)

    with pytest.raises(InputError) as caught:
        scan([str(path)])

    assert cap < 200 * MIB
    assert str(caught.value) == (
        f"{path}: expands past {cap} bytes; refusing to inflate it "
        "(a compression bomb?)"
    )


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("bomb.csv.gz", CSV_HEADER.encode() + _csv_row("a@b.example").encode()),
        ("bomb.json.gz", _status_line("a@b.example").encode()),
        ("bomb-array.json.gz", b'[{"TimeGenerated": "2026-02-10T16:00:00Z", "x": "'),
    ],
)
def test_inspect_bomb_exits_1_naming_the_file(
    name: str, prefix: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACSMAIL_MAX_INFLATED_BYTES", str(4 * MIB))
    path = tmp_path / name
    _bomb(path, prefix, 32 * MIB)

    result = _cli("inspect", str(path), "-f", "json")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: {path}: expands past {4 * MIB} bytes; refusing to inflate it "
        "(a compression bomb?)\n"
    )


def test_scan_bomb_is_refused_within_bounded_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACSMAIL_MAX_INFLATED_BYTES", str(8 * MIB))
    path = tmp_path / "bomb.json.gz"
    _bomb(path, _status_line("a@b.example").encode(), 96 * MIB)

    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="compression bomb"):
            scan([str(path)])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 16 * MIB


def test_read_all_stops_at_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACSMAIL_MAX_INFLATED_BYTES", str(MIB))
    path = tmp_path / "big.gz"
    _bomb(path, b"", 3 * MIB)

    with pytest.raises(InputError, match=r"expands past 1048576 bytes"):
        read_all(path)


def test_read_all_keeps_every_member_of_a_file_within_the_cap(
    tmp_path: Path,
) -> None:
    path = tmp_path / "two.gz"
    path.write_bytes(gzip.compress(b"one\n") + gzip.compress(b"two\n"))

    assert read_all(path) == (b"one\ntwo\n", False)


# --- one huge field ------------------------------------------------------------------


def _huge_field_file(tmp_path: Path, form: str) -> Path:
    huge = "x" * (50 * MIB)
    if form == "csv":
        path = tmp_path / "status.csv"
        rows = [_csv_row("a@b.example"), _csv_row("c@d.example", huge)]
        path.write_text(CSV_HEADER + "".join(rows) + _csv_row("e@f.example"))
    else:
        path = tmp_path / "status.json"
        lines = [_status_line(r) for r in ("a@b.example", "e@f.example")]
        lines.insert(1, _status_line("c@d.example", huge))
        path.write_text("".join(lines))
    return path


@pytest.mark.parametrize("form", ["csv", "ndjson"])
def test_scan_50_mb_field_rejects_its_record_and_keeps_the_rest(
    form: str, tmp_path: Path
) -> None:
    path = _huge_field_file(tmp_path, form)

    _, status, _, rejected = _tables([str(path)])

    assert status["RecipientId"].to_list() == ["a@b.example", "e@f.example"]
    line = 3 if form == "csv" else 2
    assert rejected.select("line", "reason").rows() == [
        (line, f"FailureMessage: field longer than {MAX_FIELD_BYTES} bytes")
    ]


# --- very long lines -----------------------------------------------------------------


def test_read_line_cuts_a_long_line_and_skips_its_rest() -> None:
    stream = io.BytesIO(b"a" * 100 + b"\n" + b"b\n" + b"c" * 20)

    assert read_line(stream, 10) == (b"a" * 10, True)
    assert read_line(stream, 10) == (b"b\n", False)
    assert read_line(stream, 10) == (b"c" * 10, True)
    assert read_line(stream, 10) == (b"", False)


def test_read_line_keeps_a_line_of_exactly_the_limit() -> None:
    stream = io.BytesIO(b"abc\nde")

    assert read_line(stream, 3) == (b"abc\n", False)
    assert read_line(stream, 3) == (b"de", False)


@pytest.mark.parametrize("compressed", [False, True])
def test_scan_long_line_is_rejected_with_its_number(
    compressed: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = 8 * MIB
    monkeypatch.setenv("ACSMAIL_MAX_LINE_BYTES", str(limit))
    # An unterminated string: the fast scan fails and the careful read runs.
    long_line = '{"TimeGenerated": "2026-02-10T16:00:00Z", "FailureMessage": "'
    long_line += "y" * (20 * MIB) + "\n"
    text = _status_line("a@b.example") + long_line + _status_line("e@f.example")
    path = tmp_path / ("status.json.gz" if compressed else "status.json")
    data = text.encode()
    path.write_bytes(gzip.compress(data, compresslevel=1) if compressed else data)

    _, status, _, rejected = _tables([str(path)])
    # The careful read alone, which never holds the 20 MiB line whole (the
    # fast scan before it inflates a compressed file whole, as Polars would).
    (source,) = scan([str(path)]).sources
    tracemalloc.start()
    try:
        source.use_careful()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert status["RecipientId"].to_list() == ["a@b.example", "e@f.example"]
    assert rejected.select("line", "reason").rows() == [
        (2, f"line longer than {limit} bytes")
    ]
    assert rejected["record"].item().startswith('{"TimeGenerated"')
    assert source.rejects().select("line").item() == 2
    assert peak < 18 * MIB


# --- deep nesting --------------------------------------------------------------------

DEPTH = 100_000


def test_scan_deeply_nested_json_line_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    lines = [_status_line("a@b.example"), "[" * DEPTH + "\n"]
    path.write_text("".join(lines) + _status_line("e@f.example"))

    _, status, _, rejected = _tables([str(path)])

    assert status["RecipientId"].to_list() == ["a@b.example", "e@f.example"]
    assert rejected.select("line", "reason").rows() == [
        (2, "nested too deeply to read")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "[" * DEPTH,
        '[{"TimeGenerated": "2026-02-10T16:00:00Z", "x": ' + "[" * DEPTH,
        '[{"TimeGenerated": "2026-02-10T16:00:00Z", "x": '
        + "[" * DEPTH
        + "]" * DEPTH
        + "}]",
        '{"tables": [{"name": "PrimaryResult", "rows": ' + "[" * DEPTH,
        '{"records": [' + "[" * DEPTH,
        '{"records": [{"time": "2026-02-10T16:00:00Z", "x": ' + "{" * DEPTH,
    ],
    ids=["array", "array-row", "array-closed", "query-api", "records", "record"],
)
def test_inspect_deeply_nested_document_is_an_error_or_a_rejection(
    text: str, tmp_path: Path
) -> None:
    path = tmp_path / "deep.json"
    path.write_text(text)

    result = _cli("inspect", str(path), "-f", "json")

    assert "Traceback" not in result.stderr
    assert "RecursionError" not in result.stderr
    if result.exit_code == 1:
        assert result.stderr.startswith(f"Error: {path}: ")
    else:
        assert result.exit_code == 0, result.stderr
        files = json.loads(result.stdout)["inputs"]
        assert sum(f["rejected"] for f in files) >= 1


# --- arbitrary input -----------------------------------------------------------------

_STARTS = st.sampled_from(
    [
        b"",
        CSV_HEADER.encode(),
        b"sep=;\n" + CSV_HEADER.replace(",", ";").encode(),
        _status_line("a@b.example").encode(),
        b"[",
        b'[{"TimeGenerated": "2026-02-10T16:00:00Z", ',
        b'{"records": [',
        b'{"tables": [{"name": "PrimaryResult", "columns": ',
        b"\xef\xbb\xbf",
        b"\xff\xfe",
        b"PAR1",
    ]
)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    start=_STARTS,
    rest=st.binary(max_size=400),
    compress=st.booleans(),
    cut=st.integers(min_value=0, max_value=8),
)
def test_scan_arbitrary_bytes_give_records_or_an_input_error(
    start: bytes, rest: bytes, compress: bool, cut: int
) -> None:
    data = start + rest
    if compress:
        data = gzip.compress(data)
        data = data[: len(data) - cut] if cut else data
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export"
        path.write_bytes(data)
        try:
            tables = _tables([str(path)])
        except InputError:
            return

    assert len(tables) == 4


@settings(max_examples=50, deadline=None)
@given(texts=st.lists(st.text(max_size=200), min_size=1, max_size=8))
def test_explain_arbitrary_text_never_raises(texts: list[str]) -> None:
    df = explain(texts)

    assert df["input"].to_list() == texts


@settings(max_examples=50, deadline=None)
@given(texts=st.lists(st.text(max_size=200), min_size=1, max_size=8))
def test_parser_arbitrary_text_never_raises(texts: list[str]) -> None:
    text = pl.col("text")

    df = pl.DataFrame({"text": texts}).select(
        code_parser.extract_basic_code(text).alias("smtp"),
        code_parser.extract_enhanced_code(text).alias("enhanced"),
        code_parser.normalise(text).alias("normalised"),
    )

    assert df.height == len(texts)


def test_warnings_and_errors_quote_hostile_values_escaped(tmp_path: Path) -> None:
    # An OSC 52 sequence (writes the clipboard), a bell and a single-byte CSI
    # in a value that does not cast: the warning and the --strict error quote it.
    hostile = "\x1b]52;c;aGk=\x07\x9b2J"
    record = {
        "TimeGenerated": "2026-02-10T14:00:00Z",
        "CorrelationId": "m1",
        "OperationName": "SendMail",
        "Size": hostile,
    }
    path = tmp_path / "export.json"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    shown = "\\x1b]52;c;aGk=\\x07\\x9b2J"

    warned = _cli("inspect", str(path), "-f", "json")
    stopped = _cli("inspect", str(path), "--strict")

    assert f"got '{shown}'" in warned.stderr
    assert stopped.exit_code == 1
    assert stopped.stderr == (
        f"Error: {path}: line 1: Size: expected a number of at least 0, got '{shown}'\n"
    )
    for text in (warned.stderr, stopped.stderr):
        assert not any(char in text for char in "\x1b\x07\x9b")


def test_a_file_name_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    # The byte 0xff, as the file system holds it, in a name Python carries.
    path = tmp_path / os.fsdecode(b"\xffexport.json")
    path.write_text('{"TimeGenerated": "2026-02-10T14:00:00Z", "Size": 1}\n')

    result = _cli("inspect", str(tmp_path))

    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {tmp_path}/\\xffexport.json: the file name is not valid UTF-8; "
        "rename the file to read it\n"
    )


def _on_a_terminal(*args: str) -> str:
    """What a command prints to a real terminal (a pseudo-terminal here)."""
    leader, follower = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "acsmail", *args],
        stdout=follower,
        stderr=subprocess.DEVNULL,
    ) as child:
        os.close(follower)
        shown = bytearray()
        while True:
            try:
                piece = os.read(leader, 65536)
            except OSError:  # the terminal closes when the command ends
                break
            if not piece:
                break
            shown += piece
        child.wait()
    os.close(leader)
    return shown.decode()


def test_dataset_and_rejects_on_a_terminal_show_control_characters_escaped(
    tmp_path: Path,
) -> None:
    # A bounce whose reply carries a colour escape and a right-to-left
    # override, and a record rejected for a size that is a title-setting
    # escape: on a screen each is shown as its escape, never sent raw.
    records = [
        {"TimeGenerated": "2026-02-10T10:00:00Z", "CorrelationId": "m1",
         "OperationName": "SendMail", "Size": 0.1, "UniqueRecipientsCount": 1},
        {"TimeGenerated": "2026-02-10T10:00:03Z", "CorrelationId": "m1",
         "OperationName": "DeliveryStatusUpdate", "RecipientId": "x@y.example",
         "DeliveryStatus": "Failed", "FailureMessage": "550 \x1b[31mred\u202e"},
        {"TimeGenerated": "2026-02-10T10:00:04Z", "CorrelationId": "m2",
         "OperationName": "SendMail", "Size": "\x1b]0;pwned\x07"},
    ]  # fmt: skip
    path = tmp_path / "export.json"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))

    dataset = _on_a_terminal("deliveries", str(path), "-q")
    assert "550 \\x1b[31mred\\u202e" in dataset
    rejects = _on_a_terminal(
        "deliveries", str(path), "-q", "--rejects", "-", "-o", str(tmp_path / "d.csv")
    )
    assert "got '\\x1b]0;pwned\\x07'" in rejects
    for shown in (dataset, rejects):
        assert "\x1b" not in shown
        assert "\x07" not in shown
        assert "\u202e" not in shown


def test_dataset_written_to_a_file_keeps_the_text_as_it_was(tmp_path: Path) -> None:
    # Escaping is for screens: a file or a pipe gets the server's bytes.
    record = {
        "TimeGenerated": "2026-02-10T10:00:03Z",
        "CorrelationId": "m1",
        "OperationName": "DeliveryStatusUpdate",
        "RecipientId": "x@y.example",
        "DeliveryStatus": "Failed",
        "FailureMessage": "550 \x1b[31mred",
    }
    path = tmp_path / "export.json"
    path.write_text(json.dumps(record) + "\n")
    result = _cli("deliveries", str(path), "-q", "--include-pending")
    assert result.exit_code == 0, result.stderr
    assert "550 \x1b[31mred" in result.stdout
