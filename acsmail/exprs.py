"""Expressions that more than one step of the pipeline builds on."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["per_distinct"]


def per_distinct(
    value: pl.Expr | str, change: Callable[[pl.Expr], pl.Expr], dtype: pl.DataType
) -> pl.Expr:
    """``change`` of values that repeat, worked out once for each distinct one.

    Every row then looks its answer up. On a column such as the resource,
    whose handful of values repeat on every record, folding the case of
    each record's copy costs several times the look-up.

    Examples
    --------
    >>> df = pl.DataFrame({"v": ["A", "b", "A"]})
    >>> df.select(per_distinct("v", lambda v: v.str.to_lowercase(), pl.String()))
    shape: (3, 1)
    ┌─────┐
    │ v   │
    │ --- │
    │ str │
    ╞═════╡
    │ a   │
    │ b   │
    │ a   │
    └─────┘
    """
    expr = pl.col(value) if isinstance(value, str) else value
    # In order of first sight, so that both lists line up.
    distinct = expr.unique(maintain_order=True)
    return expr.replace_strict(distinct, change(distinct), return_dtype=dtype)
