"""acsmail: understand Azure Communication Services Email delivery from exported logs.

The library follows the data one way: ``readers.scan`` finds and prepares the
files, ``normalise`` sorts records into the canonical tables,
``build_deliveries`` joins them into one row per recipient's final status, and
``build_report`` summarises that dataset. Every step takes and returns Polars
lazy frames; nothing is read until a command collects.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("acsmail")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
