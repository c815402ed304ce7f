"""The report's JSON form: one object of sections, one row to a line."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import polars as pl

from acsmail.render import for_terminal, printable, render_report


def test_json_report_is_one_object_of_row_lists() -> None:
    sections = {
        "hours": pl.DataFrame(
            {
                "hour": [
                    datetime(2026, 2, 10, 7, tzinfo=UTC),
                    datetime(2026, 2, 10, 8, 0, 0, 150000, tzinfo=UTC),
                ],
                "day": [date(2026, 2, 10), None],
                "share": [0.5, float("nan")],
                "sent": pl.Series([3, None], dtype=pl.UInt32),
            }
        ),
        "empty": pl.DataFrame(schema={"reason": pl.String}),
    }
    text = render_report(sections, "json")
    assert json.loads(text) == {
        "hours": [
            {
                "hour": "2026-02-10T07:00:00Z",
                "day": "2026-02-10",
                "share": 0.5,
                "sent": 3,
            },
            # Six digits of fraction, as Python's isoformat writes them; NaN,
            # which JSON cannot hold, is null.
            {
                "hour": "2026-02-10T08:00:00.150000Z",
                "day": None,
                "share": None,
                "sent": None,
            },
        ],
        "empty": [],
    }
    # A row to a line: the opening brace, "hours", its two rows, the close of
    # its list, "empty" and the closing brace.
    assert text.count("\n") == 7


def test_json_report_keeps_a_line_separator_inside_its_row() -> None:
    # U+2028 and the other breaks str.splitlines cuts at are text within a row;
    # control characters come out escaped.
    reply = "550 5.1.1 no such user\u2028\x85\x1b[31m\u202eexe.pdf"
    text = render_report({"failure_reasons": pl.DataFrame({"reply": [reply]})}, "json")
    assert json.loads(text) == {"failure_reasons": [{"reply": reply}]}
    # Written as escapes, the controls and the right-to-left override mean
    # the same to a JSON reader and nothing to a terminal.
    for raw in ("\x1b", "\x85", "\u202e"):
        assert raw not in text
    assert "\\u0085\\u001b[31m\\u202eexe.pdf" in text


# Marks that show nothing, or reorder what is around them: a left-to-right
# mark, a zero-width space, a byte-order mark, an Arabic letter mark and a
# tag character, which lies past U+FFFF.
_UNSEEN = "a\u200eb\u200bc\ufeffd\u061ce\U000e0041f"


def test_invisible_marks_are_shown_as_escapes() -> None:
    assert printable(_UNSEEN) == "a\\u200eb\\u200bc\\ufeffd\\u061ce\\U000e0041f"
    shown = for_terminal(pl.DataFrame({"reply": [_UNSEEN, "plain"]}))
    assert shown["reply"].to_list() == [printable(_UNSEEN), "plain"]


def test_json_report_escapes_invisible_marks() -> None:
    text = render_report(
        {"failure_reasons": pl.DataFrame({"reply": [_UNSEEN]})}, "json"
    )
    assert json.loads(text) == {"failure_reasons": [{"reply": _UNSEEN}]}
    # A character past U+FFFF is written as its two UTF-16 halves.
    assert "a\\u200eb\\u200bc\\ufeffd\\u061ce\\udb40\\udc41f" in text


def test_hourly_outcomes_say_where_a_status_without_a_send_counts() -> None:
    note = "A final status with no send record counts in the hour of the status."
    sections = {
        "hourly_outcomes": pl.DataFrame(
            {
                "hour": [datetime(2026, 2, 10, 7, tzinfo=UTC)],
                "recipients": [2],
                "delivered": [1],
                "delivered_share": [0.5],
            }
        )
    }
    for form in ("table", "markdown", "html"):
        text = render_report(sections, form)
        title = text.index("Final statuses per hour sent (UTC)")
        assert text.index(note) > title, form
    assert note not in render_report(sections, "json")
