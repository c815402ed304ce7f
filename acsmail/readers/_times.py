"""Recognise how an export writes its datetimes, and parse them as UTC."""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING, Final, Literal

import polars as pl

from acsmail.schema import TIME

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "DateOrder",
    "TimeFormat",
    "detect_time_format",
    "iso_retry",
    "parse_time",
    "retry_time",
    "unparsed_reason",
]

DateOrder = Literal["mdy", "dmy"]

_ISO: Final = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f",
)
# Browser-locale text, as the portal writes it: "2/10/2026, 4:00:00.123 PM".
_LOCALE: Final = (
    "{d}/{m}/%Y, %I:%M:%S%.f %p",
    "{d}/{m}/%Y, %H:%M:%S%.f",
    "{d}/{m}/%Y %I:%M:%S%.f %p",
    "{d}/{m}/%Y %H:%M:%S%.f",
    "{d}.{m}.%Y, %H:%M:%S%.f",
    "{d}.{m}.%Y %H:%M:%S%.f",
    # Excel in locales with a decimal comma writes milliseconds after a comma.
    "{d}.{m}.%Y %H:%M:%S,%3f",
    "{d}/{m}/%Y %H:%M:%S,%3f",
)
#: ``2026-02-10T01:45:00``: an ISO datetime up to its seconds.
_SECONDS_CHARS: Final = 19
#: What may follow the seconds, a zone's ``Z`` aside, for the quick parse.
_FRACTION: Final = r"^(\.[0-9]{1,9})?$"
_NUMERIC_DATE: Final = re.compile(r"^\s*(\d{1,2})[/.](\d{1,2})[/.](\d{4})")
_DOTTED_DATE: Final = r"^\s*\d{1,2}\.\d{1,2}\.\d{4}"


class TimeFormat:
    """The datetime format found in one file's sample, and how sure we are.

    Parameters
    ----------
    format
        A chrono format string, or None when the sample had no datetimes.
    ambiguous
        True when the day and month order could not be told from the data.
    guessed_order
        For dates with day and month, the order acsmail chose when the user
        did not name one (``mdy`` or ``dmy``).
    """

    def __init__(
        self,
        format: str | None,
        *,
        ambiguous: bool = False,
        guessed_order: DateOrder | None = None,
    ) -> None:
        self.format = format
        self.ambiguous = ambiguous
        self.guessed_order = guessed_order

    @property
    def general(self) -> bool:
        """Whether the times need Polars' general parser, value by value.

        Locale datetimes do, at several times the cost of the quick path
        that ISO 8601 takes (``parse_time``).
        """
        return self.format is not None and self.format not in _ISO

    @property
    def dotted(self) -> bool:
        """Whether dates are written with dots, day first by convention.

        Such dates settle their own order, but say nothing of the order of
        another file's dates written with slashes.
        """
        return self.format is not None and self.format.startswith("%d.%m.")

    def __repr__(self) -> str:
        return f"TimeFormat({self.format!r}, ambiguous={self.ambiguous})"


def _parsed_count(values: pl.Series, fmt: str) -> int:
    parsed = values.str.to_datetime(fmt, time_unit="us", time_zone="UTC", strict=False)
    return parsed.len() - parsed.null_count()


def _date_order_from(values: Sequence[str]) -> DateOrder | None:
    """Tell M/D from D/M by the dates that are real in one order only.

    ``2/14/2026`` is a date only as month/day; ``99/99/2026`` or
    ``13/45/2026`` is none in either order, and says nothing of the file's
    order. Where dates point both ways, most of them win; as many each way
    settle nothing.
    """
    votes = {"mdy": 0, "dmy": 0}
    for value in values:
        match = _NUMERIC_DATE.match(value)
        if match is None:
            continue
        first, second, year = (int(group) for group in match.groups())
        as_mdy = _is_date(year, first, second)
        as_dmy = _is_date(year, second, first)
        if as_mdy != as_dmy:
            votes["mdy" if as_mdy else "dmy"] += 1
    if votes["mdy"] == votes["dmy"]:
        return None
    return "mdy" if votes["mdy"] > votes["dmy"] else "dmy"


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def detect_time_format(
    sample: pl.Series, *, date_order: DateOrder | None = None
) -> TimeFormat:
    """Find the format that parses the most values of a sample.

    The format most of the sample agrees on wins, so one bad value (or a
    header line repeated where two exports were joined) rejects only its own
    record, not the whole file.

    Parameters
    ----------
    sample
        Non-empty datetime texts from the start of a file.
    date_order
        The user's word on day/month order, which wins over the data.

    Returns
    -------
    TimeFormat
        The format, with ``format=None`` when nothing fits.
    """
    values = sample.drop_nulls().str.strip_chars()
    values = values.filter(values != "")
    if values.len() == 0:
        return TimeFormat(None)

    found = _date_order_from(values.to_list())
    if found is None and values.str.contains(_DOTTED_DATE).all():
        # Dates written with dots (10.02.2026) are day first wherever they
        # are used; no locale writes the month first that way.
        found = "dmy"
    order = date_order or found or "mdy"
    locale = _locale_formats(order)
    # RFC 3339 allows a lower-case ``t``; the formats want it upper-case.
    upper = values.str.to_uppercase()
    counts = {fmt: _parsed_count(upper, fmt) for fmt in _ISO}
    counts |= {fmt: _parsed_count(values, fmt) for fmt in locale}
    best = max(counts, key=lambda fmt: counts[fmt])
    if counts[best] == 0:
        return TimeFormat(None)
    if best in _ISO:
        return TimeFormat(best)
    return TimeFormat(
        best,
        ambiguous=date_order is None and found is None,
        guessed_order=None if date_order else order,
    )


def _locale_formats(order: DateOrder) -> list[str]:
    """The browser-locale formats with day and month in the given order."""
    first, second = ("%m", "%d") if order == "mdy" else ("%d", "%m")
    return [template.format(d=first, m=second) for template in _LOCALE]


def unparsed_reason(time_format: TimeFormat) -> str:
    """Why a datetime text is rejected, as a ``pl.format`` template of the text."""
    reason = "TimeGenerated: expected a datetime, got '{}'"
    order = time_format.guessed_order
    if order is None:
        return reason
    read, other = ("month/day", "dmy") if order == "mdy" else ("day/month", "mdy")
    return f"{reason} (dates read as {read}; use --date-order {other} if that is wrong)"


def _parsed(values: pl.Expr, fmt: str) -> pl.Expr:
    return (
        values.str.strip_chars()
        .str.to_datetime(fmt, time_unit="us", time_zone="UTC", strict=False)
        .cast(TIME)
    )


def parse_time(expr: pl.Expr, time_format: TimeFormat) -> pl.Expr:
    """Parse datetime text in the file's format as UTC; null where it fails.

    A value that fails is worth a second try (``retry_time``), which is
    where padded values are stripped: stripping every value first would
    copy the whole column.
    """
    fmt = time_format.format or _ISO[0]
    if fmt not in _ISO:
        return expr.str.to_datetime(
            fmt, time_unit="us", time_zone="UTC", strict=False
        ).cast(TIME)
    return _iso_quickly(expr, fmt)


def _iso_quickly(expr: pl.Expr, fmt: str) -> pl.Expr:
    """ISO 8601 text in the layout of an export, parsed in two pieces.

    Polars parses ``2026-02-10T01:45:00`` ten times faster than the same
    text with a fraction or a zone after it, so the first 19 characters are
    parsed alone, and the fraction is read as digits. A value laid out any
    other way (padded, an offset for a zone, more than nine digits) is null
    here and parsed in full by ``iso_retry``.
    """
    separator = fmt[len("%Y-%m-%d")]
    seconds = (
        expr.str.head(_SECONDS_CHARS)
        .str.to_datetime(
            f"%Y-%m-%d{separator}%H:%M:%S",
            time_unit="us",
            time_zone="UTC",
            strict=False,
        )
        .cast(TIME)
    )
    rest = expr.str.slice(_SECONDS_CHARS)
    zoned = fmt.endswith("%#z")
    fraction = rest.str.strip_suffix("Z") if zoned else rest
    fits = fraction.str.contains(_FRACTION)
    if zoned:
        fits = fits & rest.str.ends_with("Z")
    # Truncated to microseconds, as the full parse does.
    micro = fraction.str.slice(1, 6).str.pad_end(6, "0").cast(pl.Int64, strict=False)
    return pl.when(fits).then(seconds + pl.duration(microseconds=micro))


def retry_time(raw: pl.Expr, parsed: pl.Expr, time_format: TimeFormat) -> pl.Expr:
    """The parsed times, with those still missing tried in other formats.

    ISO 8601 is tried on every file (``iso_retry``). In a file of locale
    dates the other locale formats with the same day/month order are tried
    too: a spreadsheet writes a fraction of a second only where there is one,
    so ``10.02.2026 16:00:01,100`` and ``10.02.2026 16:00:02`` share a file.
    """
    fmt = time_format.format
    siblings: list[str] = []
    for order in ("mdy", "dmy"):
        formats = _locale_formats(order)
        if fmt in formats:
            siblings = [other for other in formats if other != fmt]
    retry = pl.when(parsed.is_null()).then(raw)
    # A padded value failed the file's own format; stripped, it is tried
    # in that format before any other.
    padded = [_parsed(retry, fmt)] if time_format.general and fmt else []
    return pl.coalesce(
        parsed,
        *padded,
        iso_retry(raw, parsed),
        *(_parsed(retry, other) for other in siblings),
    )


def iso_retry(raw: pl.Expr, parsed: pl.Expr) -> pl.Expr:
    """The parsed times, with those still missing read in full as ISO 8601.

    ISO 8601 (``T`` or a space, with or without a zone) is tried on a value
    that failed, since no order of day and month can misread it: a file of
    portal dates may hold a row pasted from elsewhere, and an ISO file a
    value laid out unlike the rest. Only the failed values are given to the
    formats; the rest are null to them, which costs next to nothing. A
    lower-case ``t`` between date and time, which RFC 3339 allows, is read
    here too.
    """
    # Folded after the mask, so that only the failed values are copied.
    retry = pl.when(parsed.is_null()).then(raw).str.to_uppercase()
    return pl.coalesce(parsed, *(_parsed(retry, iso) for iso in _ISO))
