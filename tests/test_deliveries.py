"""The deliveries pipeline on tiny hand-made exports, one rule at a time."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import example, given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from acsmail import deliveries
from acsmail.cli import cli
from acsmail.deliveries import (
    Options,
    _recipient_domain,
    build_deliveries,
    dedupe,
    unknown_statuses,
)
from acsmail.normalise import normalise
from acsmail.readers import scan

if TYPE_CHECKING:
    from pathlib import Path

RESOURCE = (
    "/subscriptions/s/resourcegroups/rg/providers"
    "/microsoft.communication/communicationservices/acs"
)


def _send(mid: str, at: str, size: float = 0.05, **extra: Any) -> dict[str, Any]:
    return {
        "TimeGenerated": at,
        "CorrelationId": mid,
        "OperationName": "SendMail",
        "Size": size,
        "ToRecipientsCount": 1,
        "UniqueRecipientsCount": 1,
        "_ResourceId": RESOURCE,
        "Type": "ACSEmailSendMailOperational",
        **extra,
    }


def _status(
    mid: str, at: str, who: str | None, status: str, **extra: Any
) -> dict[str, Any]:
    return {
        "TimeGenerated": at,
        "CorrelationId": mid,
        "OperationName": "DeliveryStatusUpdate",
        "RecipientId": who,
        "DeliveryStatus": status,
        "SenderUsername": "noreply",
        "SenderDomain": "contoso.com",
        "_ResourceId": RESOURCE,
        "Type": "ACSEmailStatusUpdateOperational",
        **extra,
    }


def _rows(
    tmp_path: Path, records: list[dict[str, Any]], options: Options | None = None
) -> pl.DataFrame:
    path = tmp_path / "export.json"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    inputs = scan([str(path)])
    (rows,) = inputs.collect(
        lambda current: [build_deliveries(normalise(current), options).rows]
    )
    return rows


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_deliveries_latest_terminal_status_wins(tmp_path: Path) -> None:
    rows = _rows(
        tmp_path,
        [
            _send("m1", "2026-02-10T10:00:00.000Z"),
            _status("m1", "2026-02-10T10:00:01.000Z", None, "OutForDelivery"),
            _status("m1", "2026-02-10T10:00:02.000Z", "a@x.com", "Failed"),
            _status("m1", "2026-02-10T10:00:09.250Z", "a@x.com", "Delivered"),
        ],
    )
    assert rows.select("FinalDeliveryStatus", "DurationMilliseconds").rows() == [
        ("Delivered", 9250)
    ]
    assert rows["DurationSeconds"].to_list() == [9.25]
    assert rows["Completeness"].to_list() == ["complete"]


def test_deliveries_tie_goes_to_the_worse_status(tmp_path: Path) -> None:
    rows = _rows(
        tmp_path,
        [
            _send("m1", "2026-02-10T10:00:00Z"),
            _status("m1", "2026-02-10T10:00:05Z", "a@x.com", "Delivered"),
            _status("m1", "2026-02-10T10:00:05Z", "a@x.com", "Bounced"),
        ],
    )
    assert rows["FinalDeliveryStatus"].to_list() == ["Bounced"]


def test_deliveries_keeps_status_without_send(tmp_path: Path) -> None:
    rows = _rows(
        tmp_path, [_status("m9", "2026-02-10T10:00:05Z", "b@Y.org", "Bounced")]
    )
    row = rows.row(0, named=True)
    assert row["Completeness"] == "no-send-record"
    assert row["SendTime"] is None
    assert row["DurationMilliseconds"] is None
    assert row["MessageSizeCategory"] is None
    assert row["RecipientDomain"] == "y.org"


def test_deliveries_kql_drops_what_the_reference_query_drops(tmp_path: Path) -> None:
    records = [
        _send("m1", "2026-02-10T10:00:10Z"),
        _status("m1", "2026-02-10T10:00:05Z", "a@x.com", "Delivered"),  # skewed
        _status("m9", "2026-02-10T10:00:05Z", "b@y.org", "Delivered"),  # no send
        _send("m2", "2026-02-10T11:00:00Z"),
        _status("m2", "2026-02-10T11:00:03Z", "c@z.net", "Delivered"),
    ]
    default = _rows(tmp_path, records)
    kql = _rows(tmp_path, records, Options(kql_compatible=True))
    assert sorted(default["Completeness"].to_list()) == [
        "clock-skew",
        "complete",
        "no-send-record",
    ]
    assert kql["MessageId"].to_list() == ["m2"]
    assert kql.columns[-1] == "ResourceId"
    assert len(kql.columns) == 27
    skewed = default.filter(pl.col("Completeness") == "clock-skew")
    assert skewed["DurationMilliseconds"].to_list() == [-5000]


def test_deliveries_merges_duplicates_and_keeps_earliest_send(tmp_path: Path) -> None:
    first = _send("m1", "2026-02-10T10:00:00Z")
    records = [
        first,
        first,
        _send("m1", "2026-02-10T10:00:04Z"),
        _status("m1", "2026-02-10T10:00:06Z", "a@x.com", "Delivered"),
    ]
    default = _rows(tmp_path, records)
    kql = _rows(tmp_path, records, Options(kql_compatible=True))
    assert default["DurationMilliseconds"].to_list() == [6000]
    # The reference query joins every send record: three rows, two identical.
    assert sorted(kql["DurationMilliseconds"].to_list()) == [2000, 6000, 6000]


def test_deliveries_lists_pending_messages_on_request(tmp_path: Path) -> None:
    records = [
        _send("m1", "2026-02-10T10:00:00Z"),
        _status("m1", "2026-02-10T10:00:01Z", None, "OutForDelivery"),
        _status("m1", "2026-02-10T10:00:02Z", "list@x.com", "Expanded"),
    ]
    assert _rows(tmp_path, records).height == 0
    pending = _rows(tmp_path, records, Options(include_pending=True))
    assert pending.select("MessageId", "RecipientId", "Completeness").rows() == [
        ("m1", None, "no-final-status")
    ]


def test_deliveries_resource_ids_compare_case_insensitively(tmp_path: Path) -> None:
    rows = _rows(
        tmp_path,
        [
            _send("m1", "2026-02-10T10:00:00Z", _ResourceId=RESOURCE.upper()),
            _status("m1", "2026-02-10T10:00:02Z", "a@x.com", "Delivered"),
        ],
    )
    assert rows.select("Completeness", "ResourceId").rows() == [("complete", RESOURCE)]


def test_deliveries_resource_ids_ignore_padding(tmp_path: Path) -> None:
    # A spreadsheet's stray spaces, or a no-break space, around the resource
    # of a send must not part it from its status.
    rows = _rows(
        tmp_path,
        [
            _send("m1", "2026-02-10T10:00:00Z", _ResourceId=f" {RESOURCE}\u00a0 "),
            _status("m1", "2026-02-10T10:00:02Z", "a@x.com", "Delivered"),
        ],
    )
    assert rows.select("Completeness", "ResourceId").rows() == [("complete", RESOURCE)]


def test_deliveries_join_on_message_alone_without_resource_ids(tmp_path: Path) -> None:
    send = _send("m1", "2026-02-10T10:00:00Z")
    status = _status("m1", "2026-02-10T10:00:02Z", "a@x.com", "Delivered")
    del send["_ResourceId"], status["_ResourceId"]
    (tmp_path / "send.json").write_text(json.dumps(send) + "\n")
    (tmp_path / "status.json").write_text(json.dumps(status) + "\n")
    inputs = scan([str(tmp_path)])
    (rows,) = inputs.collect(lambda c: [build_deliveries(normalise(c)).rows])
    assert rows.select("Completeness", "DurationMilliseconds").rows() == [
        ("complete", 2000)
    ]


def test_deliveries_a_send_file_without_resources_still_meets_its_statuses(
    tmp_path: Path,
) -> None:
    # The sends were exported without the _ResourceId column, the statuses
    # with it: matched by message and resource, m1 would be two rows, one
    # without a send and one without a status. m2's status has no send.
    header = "TimeGenerated,CorrelationId,OperationName,Size,UniqueRecipientsCount\n"
    (tmp_path / "sends.csv").write_text(
        header + "2026-02-10T10:00:00Z,m1,SendMail,0.1,1\n"
    )
    statuses = [
        _status("m1", "2026-02-10T10:00:02Z", "a@x.com", "Delivered"),
        _status("m2", "2026-02-10T10:00:03Z", "b@x.com", "Delivered"),
    ]
    (tmp_path / "status.json").write_text(
        "".join(json.dumps(status) + "\n" for status in statuses)
    )
    inputs = scan([str(tmp_path)])
    assert [w for w in inputs.warnings if "ResourceId" in w] == [
        f"{tmp_path / 'sends.csv'}: no ResourceId column, where other files have "
        "one; records are matched to their message by CorrelationId alone, not "
        "by CorrelationId and resource"
    ]
    options = Options(include_pending=True)
    (rows,) = inputs.collect(lambda c: [build_deliveries(normalise(c), options).rows])
    assert rows.sort("MessageId").select(
        "MessageId", "Completeness", "DurationMilliseconds", "ResourceId"
    ).rows() == [
        ("m1", "complete", 2000, RESOURCE),
        ("m2", "no-send-record", None, RESOURCE),
    ]
    # The reference query's inner join keeps m1 only.
    kql = Options(kql_compatible=True)
    (rows,) = inputs.collect(lambda c: [build_deliveries(normalise(c), kql).rows])
    assert rows.select("MessageId", "ResourceId").rows() == [("m1", RESOURCE)]
    # The report reads its tables part by part, into memory, the same way,
    # and says, quiet too, why records met by message alone.
    result = CliRunner().invoke(cli, ["report", str(tmp_path), "-f", "json", "-q"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    overview = report["overview"][0]
    assert (overview["no_send_record"], overview["pending_messages"]) == (1, 0)
    assert report["absent_columns"][-1] == {
        "table": "some files",
        "absent_columns": "ResourceId (records are matched to their message by "
        "CorrelationId alone)",
    }


def test_deliveries_a_file_of_no_sends_or_statuses_keeps_matching_by_resource(
    tmp_path: Path,
) -> None:
    # m1 was sent from two resources, 0 and 30 s past ten, and each send has
    # its status 2 s later. Beside them lie a file of SMS records and one of
    # engagement records, neither with a resource column: nothing there is
    # matched to a message, so the sends still meet their statuses by
    # message and resource, and no warning says otherwise.
    other = RESOURCE + "-b"
    records = [
        _send("m1", "2026-02-10T10:00:00Z"),
        _status("m1", "2026-02-10T10:00:02Z", "a@x.com", "Delivered"),
        _send("m1", "2026-02-10T10:00:30Z", _ResourceId=other),
        _status("m1", "2026-02-10T10:00:32Z", "b@x.com", "Bounced", _ResourceId=other),
    ]
    (tmp_path / "email.json").write_text(
        "".join(json.dumps(record) + "\n" for record in records)
    )
    sms = {"TimeGenerated": "2026-02-10T10:00:00Z", "Type": "SmsOperational"}
    (tmp_path / "sms.json").write_text(json.dumps({**sms, "CorrelationId": "m1"}))
    view = {
        "TimeGenerated": "2026-02-10T10:05:00Z",
        "CorrelationId": "m1",
        "OperationName": "UserEngagementUpdate",
        "RecipientId": "a@x.com",
        "EngagementType": "View",
    }
    (tmp_path / "views.json").write_text(json.dumps(view))
    inputs = scan([str(tmp_path)])
    assert not [w for w in inputs.warnings if "ResourceId" in w]
    (rows,) = inputs.collect(lambda c: [build_deliveries(normalise(c)).rows])
    assert rows.sort("RecipientId").select(
        "RecipientId", "DurationMilliseconds", "ResourceId"
    ).rows() == [("a@x.com", 2000, RESOURCE), ("b@x.com", 2000, other)]


def test_deliveries_by_message_alone_a_recipient_has_one_final_status(
    tmp_path: Path,
) -> None:
    # The Failed status carries the send's resource, the later Delivered one
    # comes from a file without the column: one recipient of one message,
    # whose final status is Delivered, 5 s after the send.
    send = _send("m1", "2026-02-10T10:00:00Z")
    failed = _status("m1", "2026-02-10T10:00:01Z", "a@x.com", "Failed")
    delivered = _status("m1", "2026-02-10T10:00:05Z", "a@x.com", "Delivered")
    del delivered["_ResourceId"]
    for name, record in (("send", send), ("st1", failed), ("st2", delivered)):
        (tmp_path / f"{name}.json").write_text(json.dumps(record) + "\n")
    inputs = scan([str(tmp_path)])
    (deliveries,) = inputs.collect(
        lambda c: [build_deliveries(normalise(c)).collected().rows]
    )
    assert deliveries.select(
        "RecipientId", "FinalDeliveryStatus", "DurationMilliseconds", "ResourceId"
    ).rows() == [("a@x.com", "Delivered", 5000, RESOURCE)]
    counts = inputs.collect(lambda c: [build_deliveries(normalise(c)).counts])[0]
    assert counts.select("superseded_status_records", "final_statuses").row(0) == (
        1,
        1,
    )


@pytest.mark.parametrize(
    ("size", "category"),
    [
        (0.0999, "Tiny (<100KB)"),
        (0.1, "Small (100KB-1MB)"),
        (1.0, "Medium (1-5MB)"),
        (5.0, "Large (5-10MB)"),
        (9.99, "Large (5-10MB)"),
        (10.0, "Very Large (>10MB)"),
    ],
)
def test_deliveries_size_category_bounds(
    tmp_path: Path, size: float, category: str
) -> None:
    rows = _rows(
        tmp_path,
        [
            _send("m1", "2026-02-10T10:00:00Z", size=size),
            _status("m1", "2026-02-10T10:00:02Z", "a@x.com", "Delivered"),
        ],
    )
    assert rows["MessageSizeCategory"].to_list() == [category]


@pytest.mark.parametrize(
    ("status", "hard", "bounce_type"),
    [
        ("Delivered", None, "Not Applicable"),
        ("Bounced", "True", "Hard Bounce"),
        ("Bounced", "true", "Hard Bounce"),
        ("Failed", "False", "Soft Bounce"),
        ("Bounced", None, "Unknown (not populated)"),
        ("Failed", "", "Unknown (not populated)"),
        ("Quarantined", None, "Unknown"),
    ],
)
def test_deliveries_bounce_type(
    tmp_path: Path, status: str, hard: str | None, bounce_type: str
) -> None:
    rows = _rows(
        tmp_path,
        [
            _send("m1", "2026-02-10T10:00:00Z"),
            _status("m1", "2026-02-10T10:00:02Z", "a@x.com", status, IsHardBounce=hard),
        ],
    )
    assert rows["BounceType"].to_list() == [bounce_type]


def test_deliveries_delivered_without_code_reads_not_applicable(tmp_path: Path) -> None:
    rows = _rows(
        tmp_path,
        [
            _send("m1", "2026-02-10T10:00:00Z"),
            _status("m1", "2026-02-10T10:00:02Z", "a@x.com", "delivered"),
        ],
    )
    assert rows.select(
        "FinalDeliveryStatus", "SmtpStatusCode", "EnhancedSmtpStatusCode"
    ).rows() == [("Delivered", "<not applicable>", "<not applicable>")]


def test_deliveries_duration_keeps_microseconds_until_rounding(tmp_path: Path) -> None:
    rows = _rows(
        tmp_path,
        [
            _send("m1", "2026-02-10T10:00:00.0000010Z"),
            _status("m1", "2026-02-10T10:00:01.2345678Z", "a@x.com", "Delivered"),
        ],
    )
    # 1.2345670 s apart: 1234 whole milliseconds, 1.234 seconds.
    assert rows.select("DurationMilliseconds", "DurationSeconds").rows() == [
        (1234, 1.234)
    ]
    assert rows["SendTime"].to_list() == [_at("2026-02-10T10:00:00.000001")]


def _built(
    tmp_path: Path, records: list[dict[str, Any]], *, in_memory: bool
) -> tuple[pl.DataFrame, dict[str, int]]:
    path = tmp_path / "export.json"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    options = Options(include_pending=True, in_memory=in_memory)

    def plans(current: Any) -> list[pl.LazyFrame]:
        tables = normalise(current).collected() if in_memory else normalise(current)
        built = build_deliveries(tables, options)
        assert built.counts is not None
        return [built.rows, built.counts]

    rows, counts = scan([str(path)]).collect(plans)
    return rows, counts.row(0, named=True)


@pytest.mark.parametrize("in_memory", [False, True])
def test_deliveries_merge_duplicates_the_same_either_way(
    tmp_path: Path, *, in_memory: bool
) -> None:
    delivered = _status("m1", "2026-02-10T10:00:06Z", "a@x.com", "Delivered")
    bounced = _status("m2", "2026-02-10T10:00:07Z", "b@x.com", "Bounced")
    # Same message, recipient, time and status as `delivered`, another reply:
    # not a duplicate, though it shares every field the first grouping uses.
    near = {**delivered, "FailureMessage": "250 2.0.0 OK"}
    # Another message's status at the same instant: not a duplicate either;
    # m2's later bounce supersedes it.
    same_instant = _status("m2", "2026-02-10T10:00:06Z", "b@x.com", "Failed")
    records = [
        _send("m1", "2026-02-10T10:00:00Z"),
        _send("m1", "2026-02-10T10:00:00Z"),
        _send("m2", "2026-02-10T10:00:01Z"),
        delivered,
        delivered,
        delivered,
        near,
        same_instant,
        bounced,
    ]
    rows, counts = _built(tmp_path, records, in_memory=in_memory)
    assert counts["duplicate_send_records"] == 1
    assert counts["duplicate_status_records"] == 2
    # `delivered` and `near` tie at m1's latest instant; m2's bounce is later
    # than its failure.
    assert counts["ties"] == 1
    assert counts["superseded_status_records"] == 2
    assert sorted(rows["FinalDeliveryStatus"].to_list()) == ["Bounced", "Delivered"]


@pytest.mark.parametrize("by_resource", [True, False])
def test_deliveries_in_memory_survive_keys_that_share_a_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, by_resource: bool
) -> None:
    # In memory, statuses meet their sends by a hash of the keys. With every
    # key given the same hash, the rows must still be those of the join by
    # the keys themselves: m1 sent from two resources, m2 never answered,
    # m3's status without its send.
    other = RESOURCE + "-other"
    records = [
        _send("m1", "2026-02-10T10:00:00Z"),
        _send("m1", "2026-02-10T10:00:01Z", _ResourceId=other),
        _send("m2", "2026-02-10T10:00:02Z"),
        _status("m1", "2026-02-10T10:00:05Z", "a@x.com", "Delivered"),
        _status("m1", "2026-02-10T10:00:06Z", "b@x.com", "Bounced", _ResourceId=other),
        _status("m3", "2026-02-10T10:00:07Z", "c@x.com", "Failed"),
    ]
    if not by_resource:
        records = [{k: v for k, v in r.items() if k != "_ResourceId"} for r in records]
    (tmp_path / "keys").mkdir()
    (tmp_path / "hash").mkdir()
    expected, _ = _built(tmp_path / "keys", records, in_memory=False)
    monkeypatch.setattr(deliveries, "_hashed", lambda keys: pl.lit(7, pl.UInt64))
    rows, _ = _built(tmp_path / "hash", records, in_memory=True)
    order = ["MessageId", "RecipientId", "ResourceId"]
    assert_frame_equal(
        rows.sort(order, nulls_last=True), expected.sort(order, nulls_last=True)
    )
    assert rows.height == 4


def test_dedupe_compares_only_records_that_share_a_time() -> None:
    # Times far apart, equal ones, and missing ones: the copies of m1 at t1
    # and of m3 without a time merge; m2 shares t1 but no other field.
    t1 = datetime(2026, 2, 10, 10, tzinfo=UTC)
    late = datetime(2262, 4, 11, tzinfo=UTC)
    lf = pl.LazyFrame(
        {
            "TimeGenerated": [t1, late, t1, None, t1, None, None],
            "CorrelationId": ["m1", "m9", "m1", "m3", "m2", "m3", "m4"],
            "_file": ["a", "a", "b", "a", "a", "b", "b"],
            "_line": [1, 2, 1, 3, 4, 2, 3],
        }
    )
    kept = dedupe(lf).collect().sort("CorrelationId")
    assert kept["CorrelationId"].to_list() == ["m1", "m2", "m3", "m4", "m9"]


@pytest.mark.parametrize("in_memory", [False, True])
def test_deliveries_records_without_a_time_are_rejected(
    tmp_path: Path, *, in_memory: bool
) -> None:
    # A record with no time can be neither ordered among its message's
    # records nor timed: it is rejected with its line, as one without a
    # message id is. m1's statuses (lines 4, 5) both lack one, so m1 has no
    # final status; m2 keeps its timed Delivered over the timeless Failed
    # (line 7); m3's send (line 3) is gone, so its status has no send.
    records = [
        _send("m1", "2026-02-10T10:00:00Z"),
        _send("m2", "2026-02-10T10:00:00Z"),
        _send("m3", ""),
        _status("m1", "", "a@x.com", "Delivered"),
        _status("m1", "", "a@x.com", "Bounced"),
        _status("m2", "2026-02-10T10:00:05Z", "b@x.com", "Delivered"),
        _status("m2", "", "b@x.com", "Failed"),
        _status("m3", "2026-02-10T10:00:05Z", "c@x.com", "Delivered"),
    ]
    rows, counts = _built(tmp_path, records, in_memory=in_memory)
    final = dict(rows.select("MessageId", "Completeness").rows())
    assert final == {
        "m1": "no-final-status",
        "m2": "complete",
        "m3": "no-send-record",
    }
    assert counts["rejected"] == 4
    rejected = normalise(scan([str(tmp_path / "export.json")])).rejected.collect()
    assert sorted(rejected.select("line", "reason").rows()) == [
        (line, "TimeGenerated: missing (the record has no time)")
        for line in (3, 4, 5, 7)
    ]


def test_padding_around_statuses_flags_and_recipients_is_not_a_value(
    tmp_path: Path,
) -> None:
    # As a spreadsheet leaves them: a space before the status, after the flag,
    # a no-break space after the address. m1's padded bounce is the later
    # status of the same recipient as its delivery; m2's flag still reads;
    # m3's send and status name one message.
    records = [
        _send("m1", "2026-02-10T10:00:00Z"),
        _send("m2", "2026-02-10T10:00:00Z"),
        _status("m1", "2026-02-10T10:00:05Z", "a@x.com", "Delivered"),
        _status("m1", "2026-02-10T10:00:09Z", "a@x.com\u00a0", " bounced "),
        _status(
            "m2", "2026-02-10T10:00:05Z", " b@y.com", "Failed", IsHardBounce="True "
        ),
        _send(" m3", "2026-02-10T10:00:00Z"),
        _status("m3\u00a0", "2026-02-10T10:00:05Z", "c@z.com", "Delivered"),
    ]

    rows = _rows(tmp_path, records).sort("MessageId")

    assert rows.select(
        "MessageId",
        "RecipientId",
        "RecipientDomain",
        "FinalDeliveryStatus",
        "BounceType",
    ).rows() == [
        ("m1", "a@x.com", "x.com", "Bounced", "Unknown (not populated)"),
        ("m2", "b@y.com", "y.com", "Failed", "Hard Bounce"),
        ("m3", "c@z.com", "z.com", "Delivered", "Not Applicable"),
    ]


@pytest.mark.parametrize(
    ("address", "domain"),
    [
        ("Frank@Gmail.COM", "gmail.com"),
        ("no-at-sign", None),
        ("@bare.example", "bare.example"),
        ("trailing@", None),
        ("a@b@c.example", "b@c.example"),
        ("a@line\nbreak.example", None),
        ("line\nbreak@ok.example", "ok.example"),
        ("a@carriage\rreturn", "carriage\rreturn"),
        (None, None),
    ],
)
def test_recipient_domain_is_the_text_after_the_first_at(
    address: str | None, domain: str | None
) -> None:
    frame = pl.DataFrame({"RecipientId": [address]}, schema={"RecipientId": pl.String})
    assert frame.select(_recipient_domain()).item() == domain


@given(st.lists(st.text(alphabet="aB@.\n\r \u00c9", max_size=8), max_size=30))
# Every distinct domain null but one, which holds line breaks: a check that
# used the distinct domains twice made Polars 2.1 panic here.
@example(["\naBBa\u00c9a\n", "@\n\n\u00c9\r\u00c9\u00c9B", ""])
def test_recipient_domain_matches_the_pattern_it_replaces(addresses: list[str]) -> None:
    # What the spec's pattern captures: the text after the first "@", which a
    # regular expression's "." ends at a line break.
    frame = pl.DataFrame({"RecipientId": addresses}, schema={"RecipientId": pl.String})
    pattern = pl.col("RecipientId").str.extract(r"^[^@]*@(.+)$").str.to_lowercase()
    found = frame.select(_recipient_domain(), pattern.alias("pattern"))
    assert found["RecipientDomain"].to_list() == found["pattern"].to_list()


def test_unknown_statuses_count_merge_copies_and_name_the_most_frequent() -> None:
    # 'Sent' twice (one a copy), 'Held' twice apart, 'Odd' once; the known
    # 'Delivered' and a blank are no such status. After the copy is merged:
    # 4 records of 3 kinds, and the one shown is 'Held' (2), ahead of
    # 'Sent' (1 once merged).
    status = pl.LazyFrame(
        {
            "TimeGenerated": [1, 1, 2, 3, 4, 5, 6],
            "CorrelationId": ["m"] * 7,
            "DeliveryStatus": [
                "Sent",
                "Sent",
                "Held",
                "Held",
                "Odd",
                "Delivered",
                None,
            ],
        }
    )
    row = unknown_statuses(status, shown=1).collect()
    assert row.row(0) == (4, 3, ["Held"])
