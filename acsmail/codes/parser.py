"""Find reply codes, providers and rule patterns in free text, column at a time.

Everything here builds Polars expressions or lazy frames; nothing loops over rows.
The callers run these on the *distinct* reply texts of a log, because the same
reply (often word for word) comes back for many messages.

How a code is found in a reply:

- A basic code followed by an enhanced code (``550 5.1.1``, ``550-5.1.1``,
  ``550 #5.1.0``) is the strongest evidence and wins wherever it is in the text.
  In a multi-line reply every line repeats the codes, so the first pair is the
  one taken and the repeats are ignored.
- Otherwise an enhanced code on its own (``#5.1.0``, ``5.7.708``) and a basic
  code on its own: three digits at the start of the text or after a space,
  quote, bracket, colon, semicolon or ``=``, followed by a space or a hyphen
  (``421 Try again later``, ``smtp;554 ...``, ``response=554 ...``).
- An enhanced code must have a subject of 0 to 7 and must not sit inside a
  longer dotted number, so IP addresses and version numbers are not taken.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import polars as pl

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "BASIC_CODE",
    "ENHANCED_CODE",
    "NOT_APPLICABLE",
    "SCANNED_CHARS",
    "basic_code",
    "enhanced_code",
    "extract_basic_code",
    "extract_enhanced_code",
    "first_match",
    "normalise",
    "scan",
]

#: What the pipeline writes in the code columns of a delivered row with no code.
NOT_APPLICABLE: Final = "<not applicable>"
#: How much of a reply is scanned for codes and phrases. Real replies, even
#: multi-line ones, say what matters in their first lines; scanning costs
#: grow with the text, so a hostile reply is read no further than this.
SCANNED_CHARS: Final = 4096

#: A well-formed code, the whole value (as in the code columns).
BASIC_CODE: Final = r"^[2-5][0-9][0-9]$"
ENHANCED_CODE: Final = r"^[245]\.[0-9]{1,3}\.[0-9]{1,3}$"

# ASCII digit classes: Unicode ``\d`` makes the regex automaton much larger.
_ENHANCED_IN_TEXT: Final = r"[245]\.[0-7]\.[0-9]{1,3}"
_PAIR: Final = (
    rf"(?:^|[^0-9.])([245][0-9][0-9])[\s-]+#?({_ENHANCED_IN_TEXT})(?:[^0-9.]|$)"
)
_ENHANCED_ALONE: Final = rf"(?:^|[^0-9.a-zA-Z])#?({_ENHANCED_IN_TEXT})(?:[^0-9.]|$)"
_BASIC_ALONE: Final = r"(?:^|[\s'\"(\[;:=])([245][0-9][0-9])(?:[\s-]|$)"
_VARYING: Final = (
    r"[^\s<>()\[\]\"':;,@]+@"
    r"|\b[0-9]{1,3}(?:\.[0-9]{1,3}){3}\b"
    r"|\b[0-9]{5,}\b"
    r"|[A-Za-z0-9_-]*[0-9][A-Za-z0-9_-]{7,}"
)


def basic_code(value: pl.Expr) -> pl.Expr:
    """Return the value stripped when it is a well-formed basic code, else null."""
    value = value.str.strip_chars()
    return pl.when(value.str.contains(BASIC_CODE)).then(value)


def enhanced_code(value: pl.Expr) -> pl.Expr:
    """Return the value stripped (``#`` too) when it is an enhanced code, else null."""
    value = value.str.strip_chars().str.strip_prefix("#")
    return pl.when(value.str.contains(ENHANCED_CODE)).then(value)


def extract_basic_code(text: pl.Expr) -> pl.Expr:
    """Return the basic reply code a reply text carries, or null.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"t": ["550-5.1.1 No such user", "421 Try again", "ok"]})
    >>> df.select(extract_basic_code(pl.col("t")))["t"].to_list()
    ['550', '421', None]
    """
    return pl.coalesce(text.str.extract(_PAIR, 1), text.str.extract(_BASIC_ALONE, 1))


def extract_enhanced_code(text: pl.Expr) -> pl.Expr:
    """Return the enhanced status code a reply text carries, or null.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"t": ["#5.1.0 smtp;550 5.1.0", "5.7.708 denied", "1.2.3.4"]})
    >>> df.select(extract_enhanced_code(pl.col("t")))["t"].to_list()
    ['5.1.0', '5.7.708', None]
    """
    return pl.coalesce(text.str.extract(_PAIR, 2), text.str.extract(_ENHANCED_ALONE, 1))


def normalise(text: pl.Expr) -> pl.Expr:
    """Blank out the parts of a reply that differ from message to message.

    Replies carry queue ids, long numbers, IP addresses and the recipient's
    local part (with its ``@``), so nearly every reply is unique; with those
    replaced by ``<x>`` the same few hundred texts remain, and only they need
    parsing. Codes, host names and the words the rules look for are left
    alone.

    Examples
    --------
    >>> import polars as pl
    >>> text = "550 5.1.1 <jo@example.com> no user 4b0aa9c2c3bsi12 - gsmtp"
    >>> pl.select(normalise(pl.lit(text))).item()
    '550 5.1.1 <<x>example.com> no user <x> - gsmtp'
    """
    return text.str.replace_all(_VARYING, "<x>")


def first_match(
    value: pl.Expr, patterns: Sequence[str], results: Sequence[str]
) -> pl.Expr:
    """Return the result of the pattern that matches the value, or null.

    The patterns run as one alternation, so the match that starts leftmost
    wins (the earlier pattern on a tie); they are meant not to overlap, as
    host-name patterns of different providers do not.
    """
    if not patterns:
        return pl.lit(None, pl.String)
    found = value.str.extract_groups(_alternation(patterns))
    return pl.coalesce(
        pl.when(found.struct.field(f"g{i}").is_not_null()).then(pl.lit(result))
        for i, result in enumerate(results)
    )


def _alternation(patterns: Sequence[str]) -> str:
    """Return one case-insensitive regex whose group ``g<i>`` is pattern ``i``."""
    return "(?i)" + "|".join(f"(?P<g{i}>{p})" for i, p in enumerate(patterns))


def _which(found: pl.Expr, count: int) -> pl.Expr:
    """Return the position of the named group that matched (UInt32), or null."""
    return pl.coalesce(
        pl.when(found.struct.field(f"g{i}").is_not_null()).then(pl.lit(i, pl.UInt32))
        for i in range(count)
    )


def scan(
    texts: pl.LazyFrame,
    column: str,
    first: Sequence[tuple[str, Sequence[str]]],
    every: Sequence[tuple[str, Sequence[str]]] = (),
) -> pl.LazyFrame:
    """Find the codes in each text and which patterns of each group it matches.

    Running every pattern over every text would cost one pass of the regex
    engine, and one compilation, per pattern. Instead each group's patterns go
    into one alternation, which finds the matching stretches of each text in
    a single pass; matched again against each distinct stretch (there are few:
    the same words come back in every reply), its named groups tell which
    pattern claimed the stretch. Within a group, a stretch that one pattern
    claims hides any other pattern overlapping it, so each group lists its
    most specific patterns first; and since a stretch is matched out of its
    context, patterns must not use ``^`` or ``$``.

    Parameters
    ----------
    texts
        Frame with the text ``column``; its values should be distinct.
    column
        The text column.
    first
        ``(name, patterns)`` groups for which only the first matching pattern
        counts; patterns are case-insensitive.
    every
        ``(name, patterns)`` groups for which every matching pattern counts.

    Returns
    -------
    pl.LazyFrame
        ``column``, ``smtp`` and ``enhanced`` (the codes found, or null); for
        each ``first`` group the position (UInt32) of the first pattern the
        text matches, or null; for each ``every`` group the positions of all
        the patterns it matches, as numbers joined by commas (String, null for
        none).
    """
    indexed = texts.with_row_index("_i").cache()
    text = pl.col(column)
    pair = text.str.extract_groups(_PAIR)
    result = indexed.select(
        "_i",
        column,
        smtp=pl.coalesce(pair.struct.field("1"), text.str.extract(_BASIC_ALONE, 1)),
        enhanced=pl.coalesce(
            pair.struct.field("2"), text.str.extract(_ENHANCED_ALONE, 1)
        ),
    )
    for name, patterns in first:
        hits = _hits(indexed, column, patterns)
        best = hits.group_by("_i").agg(pl.col("_position").min().alias(name))
        result = result.join(best, on="_i", how="left")
    for name, patterns in every:
        hits = _hits(indexed, column, patterns)
        joined = hits.group_by("_i").agg(
            pl.col("_position").sort().cast(pl.String).str.join(",").alias(name)
        )
        result = result.join(joined, on="_i", how="left")
    return result.drop("_i")


def _hits(indexed: pl.LazyFrame, column: str, patterns: Sequence[str]) -> pl.LazyFrame:
    """Return the ``(_i, _position)`` pairs of texts and the patterns they match."""
    if not patterns:
        return pl.LazyFrame(schema={"_i": pl.UInt32, "_position": pl.UInt32})
    # One regex serves both steps, so it is compiled once per query; on a
    # stretch it found, it names the pattern that claimed the stretch.
    combined = _alternation(patterns)
    found = (
        indexed.select("_i", _found=pl.col(column).str.extract_all(combined))
        .explode("_found")
        .drop_nulls("_found")
        .cache()
    )
    positions = (
        found.select("_found")
        .unique()
        .with_columns(
            _position=_which(
                pl.col("_found").str.extract_groups(combined), len(patterns)
            )
        )
    )
    return found.join(positions, on="_found").select("_i", "_position").unique()
