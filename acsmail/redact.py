"""Pseudonymise the personal parts of an export before anything is built on it.

The local part of every address (``alice`` in ``alice@contoso.com``) becomes a
keyed hash, so one recipient keeps one stable pseudonym across a run, or across
runs given the same key, while domains stay readable and per-domain analysis
still works. Addresses inside free text (FailureMessage, InternetMessageId,
click URLs) are scrubbed the same way.

Hashing uses HMAC-SHA256 from the standard library. It runs once per distinct
value of a column, never once per row, and stays inside the lazy plan.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import replace
from typing import TYPE_CHECKING, Final

import polars as pl

if TYPE_CHECKING:
    from collections.abc import Callable

    from acsmail.normalise import Tables

__all__ = ["Redactor", "new_key"]

# Generous on purpose: a local part may hold any of RFC 5322's atom characters
# and, as RFC 6531 allows, any letter or digit of any script; InternetMessageIds
# use the same shape. It never starts with a quote or a dot, so
# 'alice@contoso.com' quoted in a message keeps its quotes and gets alice's
# pseudonym. A domain is a dotted name in any script, or an address literal.
# A local part has at most 64 characters (RFC 5321): the bound also keeps a
# long run of word characters from being rescanned from every position. "/",
# "?", "&" and "=", allowed but rare in mailboxes, are left out so that an
# address in a link's query (unsubscribe?email=ann@x.com) leaves the link.
_ADDRESS: Final = re.compile(
    r"(?P<local>[\w!#$%*+^`{|}~\-][\w!#$%'*+^`{|}~.\-]{0,63})"
    r"@(?P<domain>[\w\-]+(?:\.[\w\-]+)+|\[(?:IPv6:)?[0-9A-Fa-f:.]+\])"
)
_DIGEST_CHARS: Final = 12
_ADDRESS_COLUMNS: Final = ("RecipientId",)
_LOCAL_COLUMNS: Final = ("SenderUsername",)
_TEXT_COLUMNS: Final = (
    "FailureMessage",
    "FailureReason",
    "InternetMessageId",
    "EngagementContext",
    "UserAgent",
)
#: How each column that may hold personal data is changed; ``record`` and
#: ``reason`` are the text and the reason of a rejected record.
_PLANS: Final = {
    **dict.fromkeys(_ADDRESS_COLUMNS, "address"),
    **dict.fromkeys(_LOCAL_COLUMNS, "local"),
    **dict.fromkeys((*_TEXT_COLUMNS, "reason"), "text"),
    "record": "record",
}
#: A sender's user name inside a rejected JSON record: no address shape gives
#: it away, so its key does.
_SENDER_FIELD: Final = re.compile(
    r'("(?:properties\.)?[Ss]enderUsername"\s*:\s*")((?:[^"\\]|\\.)*)(")'
)


def new_key() -> bytes:
    """A random key for one run, when the user gives none."""
    return secrets.token_bytes(32)


class Redactor:
    """Replace local parts of addresses with a keyed hash.

    Parameters
    ----------
    key
        The HMAC key; the same key gives the same pseudonyms.

    Examples
    --------
    >>> redactor = Redactor(b"k")
    >>> redactor.local("alice") == redactor.local("ALICE")
    True
    >>> redactor.address("alice@Contoso.com").endswith("@contoso.com")
    True
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    def local(self, local: str) -> str:
        """The pseudonym of one local part (case-insensitive, as mailboxes are)."""
        digest = hmac.new(self._key, local.lower().encode(), hashlib.sha256)
        return "u" + digest.hexdigest()[:_DIGEST_CHARS]

    def address(self, address: str) -> str:
        """An address with its local part hashed and its domain lower-cased."""
        local, at, domain = address.rpartition("@")
        if not at:
            return self.local(address)
        return f"{self.local(local)}@{domain.lower()}"

    def text(self, text: str) -> str:
        """Free text with every address in it pseudonymised.

        Examples
        --------
        >>> redactor = Redactor(b"k")
        >>> alice = redactor.address("alice@contoso.com")
        >>> redactor.text("got 'Alice@Contoso.com'") == f"got '{alice}'"
        True
        """
        if "@" not in text:
            return text
        return _ADDRESS.sub(
            lambda m: f"{self.local(m['local'])}@{m['domain'].lower()}", text
        )

    def value(self, column: str, value: str) -> str:
        """One value as :meth:`frame` writes it in ``column``.

        This is how a value the user holds, such as a recipient address, is
        matched against pseudonymised tables.

        Examples
        --------
        >>> redactor = Redactor(b"k")
        >>> redactor.value("RecipientId", "Ben@x.org") == redactor.address("ben@x.org")
        True
        >>> redactor.value("CorrelationId", "4d1b3542")
        '4d1b3542'
        """
        how = _PLANS.get(column)
        return value if how is None else self._change(how)(value)

    def record(self, text: str) -> str:
        """A rejected record's text: its addresses and, in JSON, its sender's name.

        Examples
        --------
        >>> redactor = Redactor(b"k")
        >>> text = redactor.record('{"SenderUsername": "ops", "Size": "x"}')
        >>> text == '{"SenderUsername": "' + redactor.local("ops") + '", "Size": "x"}'
        True
        """
        text = _SENDER_FIELD.sub(
            lambda m: f"{m[1]}{self.local(m[2])}{m[3]}" if m[2] else m[0], text
        )
        return self.text(text)

    def _change(self, how: str) -> Callable[[str], str]:
        changes = {
            "address": self.address,
            "local": self.local,
            "text": self.text,
            "record": self.record,
        }
        return changes[how]

    def _series(self, series: pl.Series, how: str) -> pl.Series:
        change = self._change(how)
        distinct = series.drop_nulls().unique()
        mapping = {value: change(value) for value in distinct.to_list()}
        return series.replace_strict(mapping, default=None, return_dtype=pl.String)

    def expr(self, column: str, how: str) -> pl.Expr:
        """A lazy expression that pseudonymises one text column."""
        return (
            pl.col(column)
            .map_batches(lambda s: self._series(s, how), return_dtype=pl.String)
            .alias(column)
        )

    def frame(self, lf: pl.LazyFrame) -> pl.LazyFrame:
        """Pseudonymise whichever personal columns a frame has."""
        names = set(lf.collect_schema().names())
        changes = [
            self.expr(column, how) for column, how in _PLANS.items() if column in names
        ]
        return lf.with_columns(changes) if changes else lf

    def tables(self, tables: Tables) -> Tables:
        """Every canonical table of a run, pseudonymised."""
        return replace(
            tables,
            send=self.frame(tables.send),
            status=self.frame(tables.status),
            engagement=self.frame(tables.engagement),
            rejected=self.frame(tables.rejected),
        )
