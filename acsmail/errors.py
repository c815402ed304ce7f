"""The small exception hierarchy every acsmail error belongs to."""

from __future__ import annotations

__all__ = ["AcsmailError", "InputError", "RejectedRecordError"]


class AcsmailError(Exception):
    """Base of every error acsmail raises on purpose."""


class InputError(AcsmailError):
    """A file cannot be read as an export at all."""


class RejectedRecordError(InputError):
    """A record was rejected while ``--strict`` asked for no rejections."""
