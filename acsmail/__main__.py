"""Run the command line as ``python -m acsmail``."""

from __future__ import annotations

from acsmail._entry import main

main()
