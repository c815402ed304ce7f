"""Limits against hostile input: compression bombs, huge fields, endless lines.

An export is data from elsewhere, and a file may be crafted (or broken) to
exhaust memory. Each limit here turns such a file into a clear error or a
counted rejection instead of a crash:

- a gzip file may inflate to at most ``max(64 MiB, 100 times its compressed
  size)``; past that it is refused as a probable compression bomb. Real log
  exports compress 5 to 20 times, so the cap leaves them ample room. The
  environment variable ``ACSMAIL_MAX_INFLATED_BYTES`` replaces the cap with a
  fixed number of bytes.
- a line of a line-delimited file may be at most 64 MiB
  (``ACSMAIL_MAX_LINE_BYTES``); a longer line is rejected with its number and
  skipped in bounded pieces, never held whole.
- a single value may be at most 64 KiB (``ACSMAIL_MAX_FIELD_BYTES``); a
  record holding a longer one is rejected with the column named.
"""

from __future__ import annotations

import os
import zlib
from typing import IO, Final, Protocol

from acsmail.errors import InputError

__all__ = [
    "INFLATE_FLOOR",
    "INFLATE_RATIO",
    "MAX_FIELD_BYTES",
    "MAX_LINE_BYTES",
    "SPILL_BYTES",
    "LineReader",
    "check_inflated",
    "inflate_cap",
    "max_field_bytes",
    "max_line_bytes",
    "read_line",
    "spill_bytes",
    "too_inflated",
]

INFLATE_RATIO: Final = 100
INFLATE_FLOOR: Final = 64 * 1024 * 1024
MAX_LINE_BYTES: Final = 64 * 1024 * 1024
MAX_FIELD_BYTES: Final = 64 * 1024
#: The typed tables take about a quarter of the JSON Lines they come from (half
#: of CSV): past this much input, they would crowd a laptop's memory.
SPILL_BYTES: Final = 6 * 1024**3
_CHUNK: Final = 1024 * 1024


class LineReader(Protocol):
    """A binary stream read line by line: a file, or a gzip stream."""

    def readline(self, size: int, /) -> bytes:
        """At most ``size`` bytes, up to and including the next newline."""
        ...


def _setting(name: str, default: int) -> int:
    """A positive byte count from the environment, or the default."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        msg = f"{name}: expected a positive number of bytes, got {value!r}"
        raise InputError(msg)
    return number


def inflate_cap(compressed_size: int) -> int:
    """The most bytes a compressed file of this size may inflate to."""
    default = max(INFLATE_FLOOR, INFLATE_RATIO * compressed_size)
    return _setting("ACSMAIL_MAX_INFLATED_BYTES", default)


def max_line_bytes() -> int:
    """The longest line a line-delimited file may hold, in bytes."""
    return _setting("ACSMAIL_MAX_LINE_BYTES", MAX_LINE_BYTES)


def spill_bytes() -> int:
    """Past how many input bytes a report keeps its tables on disk, not in memory."""
    return _setting("ACSMAIL_SPILL_BYTES", SPILL_BYTES)


def max_field_bytes() -> int:
    """The longest single value a record may hold, in bytes."""
    return _setting("ACSMAIL_MAX_FIELD_BYTES", MAX_FIELD_BYTES)


def too_inflated(name: str, cap: int) -> InputError:
    """The error for a compressed file that inflates past ``cap`` bytes."""
    msg = (
        f"{name}: expands past {cap} bytes; refusing to inflate it "
        "(a compression bomb?)"
    )
    return InputError(msg)


def check_inflated(file: IO[bytes], name: str, cap: int) -> None:
    """Inflate gzip members in bounded pieces, raising once past ``cap`` bytes.

    The output is counted and dropped, so memory stays at one piece however
    far the file would expand. A damaged stream ends the count quietly: the
    readers report a cut-off file themselves.

    Raises
    ------
    InputError
        When the file inflates to more than ``cap`` bytes.
    """
    size = 0
    inflater = zlib.decompressobj(wbits=31)
    pending = b""
    while True:
        if not pending:
            pending = file.read(_CHUNK)
            if not pending:
                return
        if inflater.eof:
            # Concatenated gzip members are one stream to gzip(1).
            inflater = zlib.decompressobj(wbits=31)
        try:
            size += len(inflater.decompress(pending, _CHUNK))
        except zlib.error:
            return
        if size > cap:
            raise too_inflated(name, cap)
        pending = inflater.unused_data if inflater.eof else inflater.unconsumed_tail


def read_line(file: LineReader, limit: int) -> tuple[bytes, bool]:
    """The next line, or its first ``limit`` bytes and True when it is longer.

    The rest of an over-long line is read and dropped in bounded pieces, so a
    line of any length costs at most ``limit`` bytes of memory.
    """
    line = file.readline(limit + 1)
    if len(line) <= limit or line.endswith(b"\n"):
        return line, False
    while True:
        rest = file.readline(_CHUNK)
        if not rest or rest.endswith(b"\n"):
            return line[:limit], True
