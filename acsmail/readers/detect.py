"""Find the files behind the user's paths and tell each file's form from its bytes."""

from __future__ import annotations

import glob
import re
from pathlib import Path
from typing import TYPE_CHECKING, Final

from acsmail.errors import InputError
from acsmail.schema import table_named

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = ["expand_paths", "folder_hint", "sniff_form"]

_HEAD_BYTES: Final = 64 * 1024
_GLOB_CHARS: Final = re.compile(r"[*?\[]")
_SKIPPED_NAMES: Final = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
_FOLDER: Final = re.compile(r"^(?:insights-logs-|am-)(?P<name>.+)$", re.IGNORECASE)


def expand_paths(paths: Iterable[str]) -> list[Path]:
    """Turn files, directories (walked recursively) and glob patterns into files.

    Raises
    ------
    InputError
        When a path names nothing, or a pattern matches nothing.
    """
    files: list[Path] = []
    for text in paths:
        files.extend(_expand_one(text))
    return list(dict.fromkeys(files))


def _expand_one(text: str) -> Iterator[Path]:
    path = Path(text)
    if path.is_dir():
        yield from sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and p.name not in _SKIPPED_NAMES
            and not p.name.startswith(".")
        )
    elif path.is_file():
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


def folder_hint(path: Path) -> str | None:
    """The table key named by a storage export folder on the path, if any.

    Examples
    --------
    >>> folder_hint(Path("insights-logs-emailsendmailoperational/y=2026/PT1H.json"))
    'sendmail'
    >>> folder_hint(Path("am-acsemailstatusupdateoperational/PT05M.json"))
    'statusupdate'
    """
    for part in reversed(path.parts[:-1]):
        match = _FOLDER.match(part)
        if match is None:
            continue
        table = table_named(match.group("name"))
        if table is not None:
            return table.key
    return None


def sniff_form(path: Path) -> tuple[str, str]:
    """Tell a file's export form from its first bytes.

    Returns
    -------
    tuple of str
        The form (``csv``, ``json-array``, ``json-document`` or ``ndjson``) and
        the first bytes decoded.

    Raises
    ------
    InputError
        When the file is empty, binary, or looks like no export at all.
    """
    with path.open("rb") as file:
        head_bytes = file.read(_HEAD_BYTES)
    if not head_bytes.strip():
        msg = f"{path}: the file is empty"
        raise InputError(msg)
    if head_bytes.startswith(b"PAR1"):
        return "parquet", ""
    if head_bytes.startswith(b"\x1f\x8b"):
        return "gzip", ""
    head = head_bytes.decode("utf-8", errors="replace")
    if "\x00" in head:
        msg = f"{path}: expected text (CSV or JSON), found binary data"
        raise InputError(msg)
    start = head.lstrip("\ufeff \t\r\n")
    if start.startswith("["):
        return "json-array", head
    if start.startswith("{"):
        first_line = start.split("\n", 1)[0].strip()
        if first_line.endswith("}") and not _wraps_document(first_line):
            return "ndjson", head
        return "json-document", head
    return "csv", head


def _wraps_document(line: str) -> bool:
    """Whether a one-line JSON value is a wrapper around rows, not a row."""
    return line.startswith(('{"tables"', '{"records"', '{ "tables"', '{ "records"'))
