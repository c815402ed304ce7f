"""One 128-bit integer standing for the values of several columns.

Grouping, joining and counting by one integer take about half the time they
take by text. The integer is made of two 64-bit hashes of different seeds, so
two different sets of values share it only if they share both hashes: for a
million values, a chance of about one in 10**26. Hashes are stable within one
process, which is as long as a key lives.
"""

from __future__ import annotations

import functools
import operator

import polars as pl

__all__ = ["key128"]


def key128(*values: pl.Expr) -> pl.Expr:
    """The values of each row as one 128-bit integer."""

    def hashed(seed: int) -> pl.Expr:
        parts = [value.hash(seed + 2 * n) for n, value in enumerate(values)]
        return functools.reduce(operator.xor, parts).cast(pl.Int128)

    return hashed(1) * 2**64 + hashed(2)
