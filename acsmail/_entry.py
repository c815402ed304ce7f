"""The ``acsmail`` command: settles how Polars keeps freed memory, then runs.

Polars' allocator hands memory it no longer uses back to the system half a
second after it is freed. A report frees and takes back gigabytes a few
seconds apart, part after part, and every page taken back costs the kernel a
fault to map it again. Kept for five seconds, the pages are mostly used
again: on 1M messages the kernel's share of the run fell by about half, and
the peak memory rose by about 2% (see ``benchmarks/README.md``).

The allocator reads its settings once, when Polars is first loaded, so they
are set here, before anything imports Polars, and only when the user has set
none of their own.
"""

from __future__ import annotations

import os
import sys
from typing import Final

#: The environment variable that Polars' allocator (jemalloc) reads.
ALLOCATOR_SETTINGS: Final = "_RJEM_MALLOC_CONF"
#: Freed pages wait 5 s before they go back to the system, and then go at
#: once (``muzzy_decay_ms:0``) rather than lingering half-returned.
KEEP_FREED_PAGES: Final = "background_thread:true,dirty_decay_ms:5000,muzzy_decay_ms:0"


def main() -> None:
    """Run the command line."""
    if "polars" not in sys.modules:
        os.environ.setdefault(ALLOCATOR_SETTINGS, KEEP_FREED_PAGES)
    # Imported here, after the setting: the command line imports Polars.
    from acsmail.cli import cli

    cli(prog_name="acsmail")
