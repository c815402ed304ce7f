"""Explain SMTP reply codes and decide why a delivery failed and whether to retry.

:func:`classify` adds explanations and a verdict to delivery rows;
:func:`explain` does the same for a list of replies or bare codes. Both run the
same machinery: the code tables in ``data/`` (one row per code or rule, each
with its source) joined against the distinct replies of the input, and
vectorised regular expressions over the distinct reply texts.

Which rule decides
------------------
``FailureCategory`` and ``ClassifiedBy`` come from the first of these that has
something to say (a rule whose category is ``unknown`` says nothing):

1. ``status`` -- ACS's own status, when it is ``Suppressed`` (``suppressed``:
   ACS never sent the message), ``Quarantined`` or ``FilteredSpam``
   (``spam-filtered``). What happened to *this* message is then certain,
   whatever code is attached.
2. ``provider-rule`` -- a meaning the recipient's provider gives a code or a
   reply text (Gmail's 4.7.23 is a missing PTR record, not the registry's SPF
   failure; Microsoft's 5.2.2 with "submission quota" is a rate limit). A rule
   that names a text pattern beats one that names only a code, and the
   provider's own rules beat those that hold for anyone (blocklist replies,
   codes from ACS's Exchange Online sending side). The provider comes from the
   mail-server host, else from the reply text, else (only when there is no
   host) from a consumer recipient domain such as gmail.com.
3. ``text-pattern`` (strong) -- wording that names the cause more precisely
   than any code can: rate and quota limits (a 5.1.1 whose text says the
   sender reached too many recipients this hour is a rate limit), a full
   mailbox, a message too large, blocklists, greylisting, SPF/DKIM/DMARC and
   reverse DNS.
4. ``enhanced-code`` -- the enhanced status code (a class-specific row first,
   then the registry's ``X.Y.Z`` entry), unless it is a catch-all: ``X.Y.0``
   ("other") or ``X.7.1``, which servers send for every kind of refusal.
5. ``text-pattern`` (weak) -- wording that helps only when the codes say
   little ("user unknown", "relay access denied", "spam", "policy").
6. ``enhanced-code`` -- a catch-all enhanced code, when no weak pattern
   matched.
7. ``class-fallback`` -- an enhanced code the registry does not list still has
   a subject (``5.7.708`` elsewhere than Microsoft is security or policy),
   which says more than most basic codes do.
8. ``basic-code`` -- the basic reply code.
9. ``class-fallback`` -- only the class of a code is known: the category is
   ``unknown`` and the class says whether to retry.
10. ``acs-is-hard-bounce`` -- nothing but ACS's ``IsHardBounce``: category
    ``unknown``, retryable when it is false.
11. ``status`` -- nothing at all: category ``unknown``, ``Retryable`` null.

Delivered and pending rows (status null) get no verdict: all three are null.

Retrying
--------
``Retryable`` says whether sending the same message to the same address later
may work:

- A temporary class (``4``) is always retryable; the server said so itself.
- Otherwise the deciding rule says. Its ``retryable`` is the verdict for a
  permanent reply, because a few permanent replies name conditions that clear
  on their own (a full mailbox, a per-hour limit).
- The class is the basic code's when there is one, else the enhanced code's.
  When the two disagree (``550 4.4.7``) both are explained, and the basic class
  decides, because the basic code is what the sending side acts on: after a
  550 ACS stops trying, whatever the enhanced code suggests.
- ACS's ``IsHardBounce = true`` turns a "retryable" that comes from the code
  tables alone into "not retryable" (``ClassifiedBy`` then reads
  ``acs-is-hard-bounce``; the category stays). It does not overrule a
  temporary class, nor a provider or text rule that says the condition
  clears: those are more specific than ACS's flag.

Speed
-----
Rows are reduced to their distinct keys with one 64-bit hash (two different
keys sharing a hash is vanishingly unlikely); the texts of those keys are
normalised (queue ids, addresses and numbers blanked out), so that only the
few distinct reply shapes are scanned with regular expressions.
"""

from __future__ import annotations

import functools
import operator
from functools import partial
from typing import TYPE_CHECKING, Final

import polars as pl

from acsmail.codes import engine
from acsmail.codes.tables import CATEGORIES, CLASSIFIERS

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["CATEGORIES", "CLASSIFIERS", "classify", "explain"]

_DETAILS: Final = {
    "SmtpStatusCode": "SmtpStatusCodeDetails",
    "EnhancedSmtpStatusCode": "EnhancedSmtpStatusCodeDetails",
}
_VERDICTS: Final = ("FailureCategory", "Retryable", "ClassifiedBy")


def classify(lf: pl.LazyFrame, *, extract_from_text: bool = True) -> pl.LazyFrame:
    """Explain the codes of delivery rows and classify their failures.

    Parameters
    ----------
    lf
        Delivery rows with the columns ``FinalDeliveryStatus``,
        ``SmtpStatusCode``, ``EnhancedSmtpStatusCode``, ``FailureReason``,
        ``FailureMessage``, ``RecipientMailServerHostName``,
        ``RecipientDomain`` (all String) and ``IsHardBounce`` (Boolean).
    extract_from_text
        Fill an empty code column from the code found in ``FailureMessage``.
        The KQL-compatible mode turns this off.

    Returns
    -------
    pl.LazyFrame
        The same rows in the same order with the same columns, plus
        ``SmtpStatusCodeDetails`` and ``EnhancedSmtpStatusCodeDetails`` (each
        right after its code column) and ``FailureCategory``, ``Retryable`` and
        ``ClassifiedBy`` at the end.

    Examples
    --------
    >>> import polars as pl
    >>> lf = pl.LazyFrame(
    ...     {
    ...         "FinalDeliveryStatus": ["Bounced"],
    ...         "SmtpStatusCode": [None],
    ...         "EnhancedSmtpStatusCode": [None],
    ...         "FailureReason": [None],
    ...         "FailureMessage": ["550 5.1.1 The email account does not exist"],
    ...         "RecipientMailServerHostName": ["mx.example.com"],
    ...         "RecipientDomain": ["example.com"],
    ...         "IsHardBounce": [True],
    ...     }
    ... )
    >>> df = classify(lf).collect()
    >>> df.select("SmtpStatusCode", "EnhancedSmtpStatusCode", "FailureCategory").row(0)
    ('550', '5.1.1', 'bad-mailbox')
    """
    columns = lf.collect_schema().names()
    keys = _keys(extract_from_text=extract_from_text)
    # One 64-bit hash stands for the seven key columns: joining a million rows
    # on it is several times cheaper than on the columns themselves.
    hashed = lf.with_columns(
        _key_hash(extract_from_text=extract_from_text).alias("_k_hash")
    ).cache()
    distinct = hashed.filter(pl.col("_k_hash").is_first_distinct()).select(
        "_k_hash", *keys
    )
    verdicts = distinct.map_batches(
        partial(_resolve_batch, extract_from_text=extract_from_text),
        schema={"_k_hash": pl.UInt64(), **engine.OUTPUT_SCHEMA},
    ).cache()
    # Only the verdicts are put in the rows' order, beside the rows: joined
    # onto the rows, every column of every row would be copied again.
    found = (
        hashed.select("_k_hash")
        .join(verdicts, on="_k_hash", how="left", maintain_order="left")
        .drop("_k_hash")
    )
    joined = pl.concat([hashed, found], how="horizontal")
    return joined.select(_output_columns(columns))


def _resolve_batch(df: pl.DataFrame, *, extract_from_text: bool) -> pl.DataFrame:
    """Resolve the distinct keys, which arrive as one frame.

    Resolving takes many small joins and aggregations over few rows; as a
    query of its own on the in-memory engine they cost a fraction of what
    they cost inside the caller's (possibly streaming) query.
    """
    resolved = engine.resolve(df.lazy(), extract_from_text=extract_from_text)
    return resolved.select("_k_hash", *engine.OUTPUTS).collect(engine="in-memory")


def _keys(*, extract_from_text: bool) -> list[pl.Expr]:
    """Return the key columns: only what can change the verdict of a row."""
    return _key_parts(
        lambda _, column, dtype: pl.col(column).cast(dtype),
        lambda _, dtype: pl.lit(None, dtype),
        extract_from_text=extract_from_text,
    )


def _key_hash(*, extract_from_text: bool) -> pl.Expr:
    """One 64-bit hash of the key columns, without computing them.

    Each part hashes the input column it takes its value from, with a seed of
    its own, and the choices between columns are made between the hashes:
    the keys' text is built only for the distinct rows. Two different keys
    share a hash with a chance of about one in 10**9 for 100,000 of them.
    """
    parts = _key_parts(
        lambda seed, column, dtype: pl.col(column).cast(dtype).hash(seed),
        lambda seed, dtype: pl.lit(None, dtype).hash(seed),
        extract_from_text=extract_from_text,
    )
    return functools.reduce(operator.xor, parts)


def _key_parts(
    value: Callable[[int, str, pl.DataType], pl.Expr],
    missing: Callable[[int, pl.DataType], pl.Expr],
    *,
    extract_from_text: bool,
) -> list[pl.Expr]:
    """The key columns, each the ``value`` of an input column or ``missing``.

    Both get the key's position among the keys; ``value`` also the input
    column to take and ``missing`` the type of the key left empty.
    """
    text, flag = pl.String(), pl.Boolean()
    status = pl.col("FinalDeliveryStatus").cast(text)
    failed = status.is_not_null() & (status != "Delivered")
    message = value(3, "FailureMessage", text)
    reply = pl.when(pl.col("FailureMessage").is_null())
    # A delivered row's text matters only as the source of a missing code.
    otherwise = message if extract_from_text else missing(3, text)
    host_missing = pl.col("RecipientMailServerHostName").is_null()
    return [
        value(0, "FinalDeliveryStatus", text).alias("_k_status"),
        value(1, "SmtpStatusCode", text).alias("_k_smtp"),
        value(2, "EnhancedSmtpStatusCode", text).alias("_k_enhanced"),
        pl.when(failed)
        .then(reply.then(value(3, "FailureReason", text)).otherwise(message))
        .otherwise(otherwise)
        .alias("_k_text"),
        pl.when(failed)
        .then(value(4, "RecipientMailServerHostName", text))
        .otherwise(missing(4, text))
        .alias("_k_host"),
        pl.when(failed & host_missing)
        .then(value(5, "RecipientDomain", text))
        .otherwise(missing(5, text))
        .alias("_k_domain"),
        pl.when(failed)
        .then(value(6, "IsHardBounce", flag))
        .otherwise(missing(6, flag))
        .alias("_k_hard"),
    ]


def _output_columns(columns: Sequence[str]) -> list[pl.Expr]:
    """Return the input columns, codes filled, each code followed by its details."""
    selected: list[pl.Expr] = []
    for name in columns:
        if name in _VERDICTS or name in _DETAILS.values():
            continue
        if name == "SmtpStatusCode":
            selected.append(pl.col("_o_smtp").alias(name))
        elif name == "EnhancedSmtpStatusCode":
            selected.append(pl.col("_o_enhanced").alias(name))
        else:
            selected.append(pl.col(name))
        if name in _DETAILS:
            details = (
                "_o_smtp_details" if name == "SmtpStatusCode" else "_o_enhanced_details"
            )
            selected.append(pl.col(details).alias(_DETAILS[name]))
    return [
        *selected,
        pl.col("_o_category").alias("FailureCategory"),
        pl.col("_o_retryable").alias("Retryable"),
        pl.col("_o_classified_by").alias("ClassifiedBy"),
    ]


_SUCCESS_TEXT: Final = (
    "Success: the receiving server accepted the message; the code reports no failure."
)


def explain(replies: Sequence[str], *, host: str | None = None) -> pl.DataFrame:
    """Explain replies or bare codes, one row per input, in input order.

    Parameters
    ----------
    replies
        Whole replies (``550 5.1.1 ... gsmtp``) or bare codes (``5.7.1``,
        ``550``).
    host
        The mail-server host that sent the replies, to recognise the provider.

    Returns
    -------
    pl.DataFrame
        Columns ``input``, ``smtp_code``, ``enhanced_code``, ``provider``,
        ``explanation``, ``category``, ``retryable`` and ``classified_by``.
        Each input is treated as the reply of a failed delivery, unless its
        codes report success (``250``, ``2.0.0``): such a row says so, with
        no category and nothing to retry.

    Examples
    --------
    >>> row = explain(["421 4.7.23 no PTR"], host="mx.google.com").row(0, named=True)
    >>> row["provider"], row["category"], row["retryable"]
    ('google', 'authentication', True)
    """
    keys = pl.LazyFrame(
        {"input": list(replies)}, schema={"input": pl.String}
    ).with_row_index("_row")
    keys = keys.with_columns(
        _k_status=pl.lit("Failed"),
        _k_smtp=pl.lit(None, pl.String),
        _k_enhanced=pl.lit(None, pl.String),
        _k_text=pl.col("input"),
        _k_host=pl.lit(host, pl.String),
        _k_domain=pl.lit(None, pl.String),
        _k_hard=pl.lit(None, pl.Boolean),
    )
    resolved = engine.resolve(keys, extract_from_text=True)
    # A success code, with no code of another class beside it.
    codes = [pl.col("smtp_code"), pl.col("enhanced_code")]
    success = pl.any_horizontal(code.str.starts_with("2") for code in codes) & (
        pl.all_horizontal(code.is_null() | code.str.starts_with("2") for code in codes)
    )
    return (
        resolved.sort("_row")
        .select(
            "input",
            smtp_code="_o_smtp",
            enhanced_code="_o_enhanced",
            provider="_o_provider",
            explanation="_o_explanation",
            category="_o_category",
            retryable="_o_retryable",
            classified_by="_o_classified_by",
        )
        .with_columns(
            pl.when(success).then(pl.lit(None)).otherwise(pl.col(name)).alias(name)
            for name in ("category", "retryable")
        )
        .with_columns(
            explanation=pl.when(success)
            .then(pl.lit(_SUCCESS_TEXT))
            .otherwise("explanation"),
            classified_by=pl.when(success)
            .then(pl.lit("success-code"))
            .otherwise("classified_by"),
        )
        .collect(engine="in-memory")
    )
