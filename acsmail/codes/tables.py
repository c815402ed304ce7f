"""The code tables: data files beside this module, loaded once and checked.

Every table is a small CSV file in ``data/``, one row per code or rule, each row
naming the source of its fact. The files are read on first use and kept for the
life of the process; the classifier joins them against the delivery rows.

``reply_codes.csv``
    Basic reply codes (RFC 5321 and its extensions), keyed by ``code``.
``enhanced_codes.csv``
    Enhanced status codes. ``X.1.1`` rows hold the registry entry for every
    class; a row such as ``4.7.1`` would override it for one class.
``fallbacks.csv``
    What an unlisted code means from its class (``5xx``, ``5.x.x``) or from its
    class and subject (``X.7.x``).
``provider_rules.csv``
    Meanings that a provider gives a code, or a piece of reply text, that differ
    from (or say more than) the registry. ``enhanced_code`` may be a range
    written ``5.7.700-749``. Provider ``any`` marks rules that hold whoever
    the recipient's provider is: blocklist operators' replies, and codes that
    ACS's own sending side (Exchange Online) reports.
``text_rules.csv``
    Regular expressions on the reply text that name the cause more precisely
    than a code does, in priority order. ``strength`` says what they
    override.
``providers.csv``
    How to recognise a provider from the mail-server host, the reply text or
    the recipient domain.
``statuses.csv``
    What an ACS status that is not a bounce (``Suppressed``, ...) means.

In every table ``retryable`` is the verdict for a permanent (``5``) reply: a
temporary (``4``) reply is always worth retrying, whatever the row says. An
empty ``category`` means the row does not describe a failure (a positive reply).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Final

import polars as pl

from acsmail.errors import AcsmailError

__all__ = [
    "CATEGORIES",
    "CLASSIFIERS",
    "enhanced_codes",
    "fallbacks",
    "provider_rules",
    "provider_signals",
    "reply_codes",
    "statuses",
    "text_rules",
]

CATEGORIES: Final = (
    "bad-mailbox",
    "bad-domain",
    "mailbox-full",
    "message-size",
    "authentication",
    "reputation",
    "content",
    "rate-limit",
    "policy",
    "routing",
    "system",
    "suppressed",
    "spam-filtered",
    "unknown",
)

#: The names ``ClassifiedBy`` can take, strongest rule first.
CLASSIFIERS: Final = (
    "status",
    "provider-rule",
    "text-pattern",
    "enhanced-code",
    "basic-code",
    "class-fallback",
    "acs-is-hard-bounce",
)

_VERDICT: Final = ("code", "explanation", "category", "retryable", "source")
_SIGNALS: Final = ("host", "text", "domain")
_STRENGTHS: Final = ("strong", "weak")
_ENHANCED_RULE: Final = r"^([245])\.(\d{1,3})\.(\d{1,3})(?:-(\d{1,3}))?$"


def _read(name: str, columns: tuple[str, ...]) -> pl.DataFrame:
    """Read one data file as text columns, checking its header and its rows."""
    data = files("acsmail.codes").joinpath("data", name).read_bytes()
    df = pl.read_csv(data, infer_schema=False)
    if tuple(df.columns) != columns:
        msg = f"code table {name}: expected columns {', '.join(columns)}"
        raise AcsmailError(msg)
    df = df.with_columns(pl.all().fill_null("").str.strip_chars())
    if "category" in columns:
        df = _check_verdicts(df, name)
    return df.with_row_index("rule_id")


def _check_verdicts(df: pl.DataFrame, name: str) -> pl.DataFrame:
    """Check ``category`` and ``retryable``; make ``retryable`` a boolean."""
    bad = df.filter(
        (pl.col("category") != "") & ~pl.col("category").is_in(CATEGORIES)
        | ~pl.col("retryable").is_in(["true", "false", ""])
        | (pl.col("explanation") == "")
        | (pl.col("source") == "")
    )
    if bad.height:
        line = bad.with_row_index().row(0)[0] + 2
        msg = f"code table {name}, line {line}: bad category, retryable or source"
        raise AcsmailError(msg)
    return df.with_columns(
        pl.col("category").replace("", None),
        pl.col("retryable").replace_strict(
            {"true": True, "false": False, "": None}, return_dtype=pl.Boolean
        ),
    )


def _check_patterns(df: pl.DataFrame, name: str) -> None:
    """Compile every pattern once, so that a bad one fails here, not mid-run."""
    for line, pattern in enumerate(df["pattern"], start=2):
        if not pattern:
            continue
        try:
            pl.Series([""]).str.contains(f"(?i){pattern}")
        except pl.exceptions.ComputeError as error:
            msg = f"code table {name}, line {line}: bad pattern: {error}"
            raise AcsmailError(msg) from error


@cache
def reply_codes() -> pl.DataFrame:
    """Return the basic reply codes: ``code``, explanation, verdict, source."""
    return _read("reply_codes.csv", _VERDICT)


@cache
def enhanced_codes() -> pl.DataFrame:
    """Return the enhanced status codes, ``X.Y.Z`` for the registry entries."""
    return _read("enhanced_codes.csv", _VERDICT)


@cache
def fallbacks() -> pl.DataFrame:
    """Return the meanings by class (``5xx``, ``5.x.x``) and subject (``X.7.x``)."""
    return _read("fallbacks.csv", _VERDICT)


@cache
def statuses() -> pl.DataFrame:
    """Return the verdicts that an ACS status alone decides."""
    columns = ("status", *_VERDICT[1:])
    return _read("statuses.csv", columns)


@cache
def provider_signals() -> pl.DataFrame:
    """Return the host, text and domain patterns that recognise a provider.

    ``name`` is the provider's name as explanations print it.
    """
    columns = ("provider", "name", "signal", "pattern", "source")
    df = _read("providers.csv", columns)
    if not df["signal"].is_in(_SIGNALS).all() or (df["pattern"] == "").any():
        msg = "code table providers.csv: signal must be host, text or domain"
        raise AcsmailError(msg)
    _check_patterns(df, "providers.csv")
    return df


@cache
def provider_rules() -> pl.DataFrame:
    """Return the provider rules, with ranges split into class, subject, bounds.

    Adds ``enhanced_class`` (String), ``enhanced_subject``, ``detail_low`` and
    ``detail_high`` (Int32), all null when the rule names no enhanced code.
    """
    columns = ("provider", "smtp_code", "enhanced_code", "pattern", *_VERDICT[1:])
    df = _read("provider_rules.csv", columns)
    parts = pl.col("enhanced_code").str.extract_groups(_ENHANCED_RULE)
    df = df.with_columns(
        enhanced_class=parts.struct.field("1"),
        enhanced_subject=parts.struct.field("2").cast(pl.Int32),
        detail_low=parts.struct.field("3").cast(pl.Int32),
        detail_high=pl.coalesce(parts.struct.field("4"), parts.struct.field("3")).cast(
            pl.Int32
        ),
    )
    unparsed = (pl.col("enhanced_code") != "") & pl.col("enhanced_class").is_null()
    no_condition = (
        (pl.col("smtp_code") == "")
        & (pl.col("enhanced_code") == "")
        & (pl.col("pattern") == "")
    )
    bad = df.filter(
        unparsed
        | no_condition
        | (pl.col("provider") == "")
        | pl.col("category").is_null()
        | pl.col("retryable").is_null()
        | ~pl.col("smtp_code").str.contains(r"^(?:[2-5]\d\d)?$")
    )
    if bad.height:
        line = int(bad["rule_id"][0]) + 2
        msg = f"code table provider_rules.csv, line {line}: bad code or condition"
        raise AcsmailError(msg)
    _check_patterns(df, "provider_rules.csv")
    return df


@cache
def text_rules() -> pl.DataFrame:
    """Return the text-pattern rules in priority order.

    A ``strong`` rule overrides any code; a ``weak`` one only a catch-all
    enhanced code (``X.7.1``, ``X.Y.0``), a missing one or a basic code.
    """
    df = _read("text_rules.csv", ("pattern", "strength", *_VERDICT[1:]))
    bad = df.filter(
        pl.col("category").is_null()
        | pl.col("retryable").is_null()
        | (pl.col("pattern") == "")
        | ~pl.col("strength").is_in(_STRENGTHS)
    )
    if bad.height:
        line = int(bad["rule_id"][0]) + 2
        msg = (
            f"code table text_rules.csv, line {line}: bad pattern, strength or verdict"
        )
        raise AcsmailError(msg)
    _check_patterns(df, "text_rules.csv")
    return df
