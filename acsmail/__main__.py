"""Run the command line as ``python -m acsmail``."""

from __future__ import annotations

from acsmail.cli import cli

cli(prog_name="acsmail")
