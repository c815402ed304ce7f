"""Find the files behind the user's paths and tell each file's form from its bytes."""

from __future__ import annotations

import glob
import os
import re
import stat
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Final

from acsmail.errors import InputError
from acsmail.schema import table_named

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = [
    "FORMS",
    "SKIPPED_NAMES",
    "expand_paths",
    "folder_hint",
    "is_stream",
    "named_paths",
    "sniff_form",
]

#: Every form ``sniff_form`` can name, before ``.gz`` is added for compression.
FORMS: Final = (
    "csv",
    "json-array",
    "query-api",
    "records",
    "ndjson",
    "parquet",
    "empty",
)
STDIN_PATH: Final = "-"

_GLOB_CHARS: Final = re.compile(r"[*?\[]")
#: Files a folder walk passes over: what file managers leave behind.
SKIPPED_NAMES: Final = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
_FOLDERS: Final = re.compile(
    r"(?:^|[/\\])(?:insights-logs-|am-)([^/\\]+)", re.IGNORECASE
)
_FIRST_KEY: Final = re.compile(rb'^\{\s*"(?P<key>[^"\\]{1,64})"\s*:')
#: Binary data (an archive, an image, a database) has a NUL in its first bytes.
_BINARY_START: Final = 512
_UTF8_BOM: Final = b"\xef\xbb\xbf"
_WRAPPERS: Final = {"tables": "query-api", "error": "query-api", "records": "records"}


def expand_paths(paths: Iterable[str]) -> list[Path]:
    """Turn files, directories (walked recursively) and glob patterns into files.

    ``-`` stands for standard input and is passed through as ``Path("-")``,
    as is a pipe named by a path (``<(zcat export.json.gz)``; see
    ``is_stream``).
    Hidden files and the litter of desktop file managers are skipped inside
    directories; a file named explicitly is always read.

    Raises
    ------
    InputError
        When a path names nothing, or a pattern matches nothing.
    """
    # A file named twice, however it was written (``nd1`` and ``$PWD/nd1``,
    # a folder and a file inside it, a link to it), is read once.
    files: dict[object, Path] = {}
    for text in paths:
        for path in _expand_one(text):
            files.setdefault(_identity(path), path)
    return list(files.values())


def named_paths(paths: Iterable[str]) -> list[tuple[str, Path]]:
    """Each input as given, beside each path it names, resolved.

    A path names itself; a pattern, what it matches, as ``expand_paths``
    takes it (folders are not walked). Standard input is left out.
    """
    named = []
    for text in paths:
        if text == STDIN_PATH:
            continue
        path = Path(text)
        if not path.exists() and _GLOB_CHARS.search(text):
            found = glob.glob(text, recursive=True)
            named += [(text, Path(match).resolve()) for match in found]
        else:
            named.append((text, path.resolve()))
    return named


def _identity(path: Path) -> object:
    """What is the same for two names of one file: its device and inode."""
    if path == Path(STDIN_PATH):
        return STDIN_PATH
    try:
        found = path.stat()
    except OSError:
        return os.path.abspath(path)  # noqa: PTH100 (the name, as written)
    return (found.st_dev, found.st_ino)


def _expand_one(text: str) -> Iterator[Path]:
    if text == STDIN_PATH:
        yield Path(STDIN_PATH)
        return
    path = Path(text)
    if path.is_dir():
        yield from _walk(path)
    elif path.is_file() or is_stream(path):
        yield path
    elif _GLOB_CHARS.search(text):
        matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
        if not matches:
            msg = f"{text}: the pattern matches no file"
            raise InputError(msg)
        for match in matches:
            yield from _expand_one(str(match))
    else:
        msg = f"{text}: no such file or directory"
        raise InputError(msg)


def is_stream(path: Path) -> bool:
    """Whether a path names a pipe, which can be read only once, from the start.

    A shell's process substitution (``<(zcat export.json.gz)``) names one
    as ``/dev/fd/63``, and ``mkfifo`` makes one.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode)


def _walk(folder: Path) -> list[Path]:
    """Every file under a folder, sorted.

    ``os.walk`` is several times faster than ``Path.rglob`` on storage trees
    of thousands of small blobs.
    """
    found: list[str] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = [name for name in dirs if not name.startswith(".")]
        found.extend(
            os.path.join(root, name)  # noqa: PTH118 (see the docstring)
            for name in names
            if name not in SKIPPED_NAMES and not name.startswith(".")
        )
    return [Path(name) for name in sorted(found)]


def folder_hint(path: Path) -> str | None:
    """The table key named by a storage export folder on the path, if any.

    Examples
    --------
    >>> folder_hint(Path("insights-logs-emailsendmailoperational/y=2026/PT1H.json"))
    'sendmail'
    >>> folder_hint(Path("am-acsemailstatusupdateoperational/PT05M.json"))
    'statusupdate'
    """
    # A storage tree puts every blob in a folder of its own, so the folder
    # names are found in the path's text rather than part by part.
    for name in reversed(_FOLDERS.findall(os.path.dirname(path))):  # noqa: PTH120
        key = _table_key(name)
        if key is not None:
            return key
    return None


@lru_cache(maxsize=256)
def _table_key(name: str) -> str | None:
    table = table_named(name)
    return table.key if table is not None else None


def sniff_form(head: bytes, *, name: str) -> str:
    """Tell a file's export form from its first (decompressed) bytes.

    Parameters
    ----------
    head
        The first bytes of the file, after any gzip decompression.
    name
        The file's name, for messages.

    Returns
    -------
    str
        One of ``FORMS``.

    Raises
    ------
    InputError
        When the file holds binary data that is no export acsmail reads.

    Examples
    --------
    >>> sniff_form(b'{"tables":[{"name":"PrimaryResult"', name="q.json")
    'query-api'
    >>> sniff_form(b'{"time":"2026-02-10T16:00:00Z","category":"x"}\\n', name="PT1H")
    'ndjson'
    """
    if head.startswith(b"PAR1"):
        return "parquet"
    text = head.removeprefix(_UTF8_BOM).lstrip(b" \t\r\n")
    if not text:
        return "empty"
    # A stray NUL inside a record of a text export is that record's problem;
    # binary data has NULs from its start.
    if b"\x00" in text[:_BINARY_START]:
        msg = f"{name}: expected text (CSV or JSON) or Parquet, found binary data"
        raise InputError(msg)
    if text.startswith(b"["):
        return "json-array"
    if text.startswith(b"{"):
        return _json_object_form(text)
    return "csv"


def _json_object_form(text: bytes) -> str:
    """Tell a wrapping document from JSON Lines of records by its first key.

    A lone ``{`` on the first line is a pretty-printed document; the records
    reader takes it whether it wraps records or is one record itself.
    """
    match = _FIRST_KEY.match(text)
    key = match.group("key").decode("utf-8", "replace").lower() if match else ""
    if key in _WRAPPERS:
        return _WRAPPERS[key]
    if text.split(b"\n", 1)[0].strip() == b"{":
        return "records"
    return "ndjson"
