"""The small exception hierarchy every acsmail error belongs to."""

from __future__ import annotations

__all__ = ["AcsmailError", "InputError", "RejectedRecordError", "first_line"]


class AcsmailError(Exception):
    """Base of every error acsmail raises on purpose."""


class InputError(AcsmailError):
    """A file cannot be read as an export at all."""


class RejectedRecordError(InputError):
    """A record was rejected while ``--strict`` asked for no rejections."""


def first_line(error: BaseException) -> str:
    """The first line of an error's message, for quoting it in one of ours."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
