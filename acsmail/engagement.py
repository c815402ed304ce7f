"""Views and clicks per message and recipient, joined to the deliveries they follow.

ACS logs a ``View`` when the tracking image of an HTML message is fetched and a
``Click`` when a tracked link is followed. A fetch is not always a person:
Apple Mail Privacy Protection downloads every image of every message on
arrival, and Gmail and Yahoo fetch images through their own proxies, so views
overstate opens. Clicks are the firmer signal. User agents that name a known
proxy are counted apart, as ``proxy_views``; Apple's prefetching does not say
who it is, so no count can take it out.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from acsmail.deliveries import dedupe
from acsmail.keys import key128

__all__ = ["IMAGE_PROXY", "per_recipient"]

#: User-agent text of image proxies that fetch tracking images for a mailbox.
IMAGE_PROXY: Final = r"(?i)GoogleImageProxy|YahooMailProxy"

_KEY: Final = "_key"


def _keyed(lf: pl.LazyFrame, message: str) -> pl.LazyFrame:
    """Each record's message and recipient as one integer (``key128``).

    Message ids are GUIDs and addresses are case-insensitive in practice, so
    neither side's spelling should stop a view from meeting its delivery.
    """
    return lf.with_columns(
        key128(
            pl.col(message).str.to_lowercase(),
            pl.col("RecipientId").str.to_lowercase(),
        ).alias(_KEY)
    )


def per_recipient(
    rows: pl.LazyFrame, engagement: pl.LazyFrame, *, merged: bool = False
) -> pl.LazyFrame:
    """Count the views and clicks of every recipient that has a final status.

    Parameters
    ----------
    rows
        Deliveries rows (default mode); rows with no final status are left out.
    engagement
        The canonical engagement table. Identical records are merged first,
        unless ``merged`` says they already are.

    Returns
    -------
    pl.LazyFrame
        One row per final status: ``MessageId``, ``RecipientId``,
        ``SendTime``, ``FinalStatusTime``, ``RecipientDomain``,
        ``SenderUsername``, ``SenderDomain``,
        ``FinalDeliveryStatus``, then ``views``, ``clicks``, ``proxy_views``
        (zero when there were none), ``first_view`` and ``first_click``.
        Engagement records whose message and recipient have no final status
        are not counted here.
    """
    kind = pl.col("EngagementType")
    view, click = kind == "View", kind == "Click"
    time = pl.col("TimeGenerated")
    # Plain sums and minimums over prepared columns: a group_by runs those in
    # one pass, where a filter inside an aggregation is evaluated per group.
    events = (
        _keyed(
            (engagement if merged else dedupe(engagement)).filter(
                pl.col("RecipientId").is_not_null()
            ),
            "CorrelationId",
        )
        .select(
            _KEY,
            view.alias("views"),
            click.alias("clicks"),
            (view & pl.col("UserAgent").str.contains(IMAGE_PROXY)).alias("proxy_views"),
            pl.when(view).then(time).alias("first_view"),
            pl.when(click).then(time).alias("first_click"),
        )
        .group_by(_KEY)
        .agg(
            pl.col("views", "clicks", "proxy_views").sum(),
            pl.col("first_view", "first_click").min(),
        )
    )
    final = rows.filter(
        (pl.col("Completeness") != "no-final-status")
        & pl.col("RecipientId").is_not_null()
    ).select(
        "MessageId",
        "RecipientId",
        "SendTime",
        "FinalStatusTime",
        "RecipientDomain",
        "SenderUsername",
        "SenderDomain",
        "FinalDeliveryStatus",
    )
    counts = ("views", "clicks", "proxy_views")
    return (
        _keyed(final, "MessageId")
        .join(events, on=_KEY, how="left")
        .with_columns(pl.col(counts).fill_null(0).cast(pl.Int64))
        .drop(_KEY)
    )
