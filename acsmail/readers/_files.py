"""The bytes behind one input: where they are, what the user calls them, how to open.

A reader never opens a file with ``open`` directly: a file may be gzip-compressed,
may be standard input spooled to disk, or may be a cleaned copy of a CSV that
could not be read as it was. ``InputFile`` carries the path to read and the name
to show, and the helpers here decompress transparently, keeping what came before
the cut when a compressed file ends early.
"""

from __future__ import annotations

import gzip
import shutil
import sys
import tempfile
import weakref
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from acsmail.errors import InputError
from acsmail.readers._limits import (
    LineReader,
    inflate_cap,
    max_line_bytes,
    read_line,
    too_inflated,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "GZIP_MAGIC",
    "HEAD_BYTES",
    "STDIN",
    "WHOLE_BYTES",
    "InputFile",
    "Spool",
    "iter_lines",
    "json_text",
    "polars_path",
    "read_all",
]

GZIP_MAGIC: Final = b"\x1f\x8b"
HEAD_BYTES: Final = 64 * 1024
#: Files up to this size are read whole when first opened, so that a batch
#: of small blobs is read from disk once.
WHOLE_BYTES: Final = 1024 * 1024
STDIN: Final = "<stdin>"
_CHUNK: Final = 1024 * 1024
#: Compressed bytes per step when inflating around damage: one, so that only
#: the damaged byte and what follows it are lost.
_SALVAGE_STEP: Final = 1
_GLOB_CHARS: Final = str.maketrans({"[": "[[]", "*": "[*]", "?": "[?]"})


@dataclass
class InputFile:
    """One file to read and what its first bytes said.

    Parameters
    ----------
    path
        The bytes to read: the user's file, or a spooled copy of it.
    name
        The file as the user knows it, used in every message and count.
    hint
        The table key its folder names suggest.
    head
        Its first bytes, decompressed.
    size
        Its size on disk, in bytes.
    compressed
        Whether the user's file is gzip-compressed.
    whole
        Whether ``head`` holds the whole (decompressed) file.
    sample
        How many records to decode to learn the file's keys: a few when it is
        one of thousands of blobs that share their keys, more otherwise.
    """

    path: Path
    name: str
    hint: str | None
    head: bytes
    size: int
    compressed: bool = False
    whole: bool = False
    sample: int = 50


class Spool:
    """A private temporary folder for stdin and for cleaned or inflated copies.

    The folder is made on first use and removed when its owner is collected
    or the process ends, whichever comes first.
    """

    def __init__(self) -> None:
        self._folder: Path | None = None
        self._count = 0

    def new_file(self, suffix: str = "") -> Path:
        """A fresh path inside the spool folder."""
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="acsmail-"))
        self._count += 1
        return self._folder / f"{self._count:06d}{suffix}"

    def tie_to(self, owner: object) -> None:
        """Remove the folder once ``owner`` is gone."""
        if self._folder is not None:
            weakref.finalize(owner, shutil.rmtree, self._folder, ignore_errors=True)

    def remove(self) -> None:
        """Remove the folder now, with whatever it holds."""
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def stdin(self) -> Path:
        """Copy standard input to a file, so it can be sniffed and scanned."""
        return self.copy(sys.stdin.buffer)

    def copy(self, stream: IO[bytes]) -> Path:
        """Copy a stream (standard input, a pipe) to a file of the spool."""
        path = self.new_file(".stream")
        with path.open("wb") as out:
            shutil.copyfileobj(stream, out, _CHUNK)
        return path


def is_gzip(path: Path) -> bool:
    """Whether a file starts with the gzip magic bytes."""
    with path.open("rb") as file:
        return file.read(2) == GZIP_MAGIC


def read_head(path: Path, limit: int = HEAD_BYTES) -> tuple[bytes, bool]:
    """The first decompressed bytes of a file, and whether it is gzip."""
    with path.open("rb") as file:
        start = file.read(limit)
        if not start.startswith(GZIP_MAGIC):
            return start, False
        file.seek(0)
        return _inflate(file, limit)[0], True


def read_all(path: Path) -> tuple[bytes, bool]:
    """A whole file, decompressed; True when a compressed file was cut off.

    Raises
    ------
    InputError
        When a compressed file inflates past its cap (see ``_limits``).
    """
    with path.open("rb") as file:
        if file.read(2) != GZIP_MAGIC:
            file.seek(0)
            return file.read(), False
        file.seek(0)
        cap = inflate_cap(path.stat().st_size)
        data, cut_off = _inflate(file, cap + 1)
        if len(data) > cap:
            raise too_inflated(str(path), cap)
        return data, cut_off


def _inflate(file: IO[bytes], limit: int) -> tuple[bytes, bool]:
    """Decompress gzip members up to ``limit`` bytes, keeping a cut-off tail.

    The stdlib reader raises at a premature end and loses what it had
    buffered; reading with zlib directly keeps every byte that arrived. Each
    step inflates a bounded piece, so a small chunk of a compression bomb
    cannot expand past the limit in memory.
    """
    parts: list[bytes] = []
    size = 0
    inflater = zlib.decompressobj(wbits=31)
    pending = b""
    while size < limit:
        if not pending:
            pending = file.read(_CHUNK)
            if not pending:
                return b"".join(parts), not inflater.eof
        if inflater.eof:
            # Concatenated gzip members are one stream to gzip(1); read them all.
            inflater = zlib.decompressobj(wbits=31)
        saved = inflater.copy()
        try:
            data = inflater.decompress(pending, min(_CHUNK, limit - size))
        except zlib.error:
            # Damage (a bad checksum, a flipped byte) loses the whole piece
            # that held it; inflated again in small steps from the state
            # before it, the bytes ahead of the damage are kept.
            parts.append(_salvage(saved, pending, limit - size))
            return b"".join(parts), True
        parts.append(data)
        size += len(data)
        pending = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
    return b"".join(parts)[:limit], False


def _salvage(inflater: Any, data: bytes, limit: int) -> bytes:
    """What ``data`` inflates to before the first damaged byte."""
    kept: list[bytes] = []
    size = 0
    for start in range(0, len(data), _SALVAGE_STEP):
        try:
            piece = inflater.decompress(
                data[start : start + _SALVAGE_STEP], limit - size
            )
        except zlib.error:
            break
        kept.append(piece)
        size += len(piece)
        if size >= limit or inflater.eof:
            break
    return b"".join(kept)


def json_text(file: InputFile) -> str:
    """A whole JSON document as text.

    Raises
    ------
    InputError
        When the bytes are not UTF-8, naming the first byte that is not.
    """
    data, _ = read_all(file.path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        if error.reason == "unexpected end of data":
            # Cut off inside a character: the document is cut off there,
            # which its reader tells as such.
            return data[: error.start].decode("utf-8-sig")
        msg = f"{file.name}: byte {error.start}: expected UTF-8 JSON text"
        raise InputError(msg) from error


def iter_lines(path: Path) -> Iterator[tuple[bytes, bool]]:
    """The lines of a file, decompressed, in order, each with whether it is long.

    A line longer than the line limit (see ``_limits``) comes as its first
    bytes and True; the rest of it is skipped in bounded pieces.

    Raises
    ------
    EOFError
        After the last complete line, when a compressed file was cut off.
    """
    limit = max_line_bytes()
    if not is_gzip(path):
        with path.open("rb") as file:
            yield from _bounded_lines(file, limit)
        return
    with gzip.open(path, "rb") as file:
        try:
            yield from _bounded_lines(file, limit)
        except (EOFError, gzip.BadGzipFile, zlib.error) as error:
            msg = "the compressed file ends before its end marker"
            raise EOFError(msg) from error


def _bounded_lines(file: LineReader, limit: int) -> Iterator[tuple[bytes, bool]]:
    while True:
        line, long = read_line(file, limit)
        if not line:
            return
        yield line, long


def polars_path(path: Path) -> str:
    """The path as ``scan_ndjson`` expects it: glob characters taken literally."""
    return str(path).translate(_GLOB_CHARS)
