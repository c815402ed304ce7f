"""What can be read of a JSON document that breaks off: its whole items.

An export saved while it was still being written, or copied in part, ends
in the middle of a record. The records before the break are whole and are
kept; the rest of the text is one rejection, with the line it starts on.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from acsmail.readers._source import JSON_DECODER

__all__ = [
    "ENDS_EARLY",
    "Broken",
    "broken_reason",
    "cut_off",
    "items_until_broken",
    "skip_space",
]

_SPACE: Final = re.compile(r"\s*")
#: Why the text after the last whole record of a cut document is rejected,
#: when it ends there: records after it may have been lost with the rest.
ENDS_EARLY: Final = "the document is cut off after its last whole record"


class Broken(Exception):
    """The text stops making sense at ``position``."""

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(reason)
        self.position = position
        self.reason = reason


def broken_reason(text: str, error: json.JSONDecodeError) -> str:
    """Why the text could not be read on from where ``error`` stopped it."""
    # A document still being written stops without its closing brackets.
    if not text.rstrip().endswith(("}", "]")):
        return "the document is cut off here; the rest of the file is lost"
    return f"not valid JSON ({error.msg.removesuffix(' at')})"


def skip_space(text: str, position: int) -> int:
    match = _SPACE.match(text, position)
    return match.end() if match else position


def cut_off(text: str, broken: Broken, record: int) -> tuple[int, str, str]:
    """The rejection of the rest of a document from where it broke off.

    ``record`` is the number the first record lost would have had; the
    reason says the line of the file where the reading stopped.
    """
    line = text.count("\n", 0, broken.position) + 1
    reason = f"{broken.reason} (line {line} of the file)"
    return record, reason, text[broken.position :]


def items_until_broken(text: str, position: int) -> tuple[list[Any], int | Broken]:
    """The whole items of the JSON array that opens at ``position``.

    Returns
    -------
    tuple
        The items, and either the position just past the array's ``]`` or,
        where the array breaks off, where and why.
    """
    items: list[Any] = []
    position = skip_space(text, position + 1)
    if text.startswith("]", position):
        return items, position + 1
    while True:
        try:
            item, end = JSON_DECODER.raw_decode(text, position)
        except json.JSONDecodeError as error:
            return items, Broken(position, broken_reason(text, error))
        except RecursionError:
            return items, Broken(position, "nested too deeply to read")
        items.append(item)
        position = skip_space(text, end)
        if text.startswith(",", position):
            position = skip_space(text, position + 1)
        elif text.startswith("]", position):
            return items, position + 1
        elif position < len(text):
            return items, Broken(position, "expected ',' or ']' between records")
        if position == len(text):
            return items, Broken(position, ENDS_EARLY)
