"""The acsmail command line: options in, library calls, output out."""

from __future__ import annotations

import contextlib
import functools
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO, Final

import click
import polars as pl

from acsmail import __version__
from acsmail.deliveries import Options, build_deliveries
from acsmail.errors import AcsmailError, RejectedRecordError
from acsmail.normalise import normalise
from acsmail.readers import Inputs, scan
from acsmail.render import DATASET_FORMATS, REPORT_FORMATS, render_report, write_dataset
from acsmail.report import SECTIONS, Filters, apply_filters, build_report

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

CONTEXT: Final = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class UtcDateTime(click.ParamType):  # type: ignore[type-arg]
    """An ISO 8601 date or datetime, read as UTC unless it names its offset."""

    name = "datetime"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        """Parse the option's text, failing with a usage error."""
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(
                f"expected an ISO date or datetime such as 2026-02-10 or "
                f"2026-02-10T16:00:00Z, got {value!r}",
                param,
                ctx,
            )
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)


def _input_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Options every command that reads exports shares."""
    decorators = [
        click.argument("paths", nargs=-1, required=True),
        click.option(
            "--date-order",
            type=click.Choice(["mdy", "dmy"]),
            help="Day/month order of locale dates when the data cannot tell.",
        ),
        click.option(
            "--rejects",
            "rejects_path",
            type=click.Path(dir_okay=False, writable=True),
            help="Write every rejected record, with file, line and reason, as CSV.",
        ),
        click.option(
            "--strict", is_flag=True, help="Stop at the first rejected record."
        ),
        click.option(
            "-q", "--quiet", is_flag=True, help="Print no warnings or counts."
        ),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def _filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The row filters of spec section 5, shared by every command."""
    decorators = [
        click.option(
            "--since", type=UtcDateTime(), help="Keep mail sent at or after this (UTC)."
        ),
        click.option(
            "--until", type=UtcDateTime(), help="Keep mail sent before this (UTC)."
        ),
        click.option(
            "--recipient-domain",
            "recipient_domains",
            multiple=True,
            help="Keep only this recipient domain (repeatable).",
        ),
        click.option(
            "--sender",
            "senders",
            multiple=True,
            help="Keep only this sender address or domain (repeatable).",
        ),
        click.option(
            "--status",
            "statuses",
            multiple=True,
            help="Keep only this final status, e.g. Bounced (repeatable).",
        ),
        click.option(
            "--message-id",
            "message_ids",
            multiple=True,
            help="Keep only this message id (repeatable).",
        ),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def _filters(options: dict[str, Any]) -> Filters:
    return Filters(
        since=options.pop("since"),
        until=options.pop("until"),
        recipient_domains=options.pop("recipient_domains"),
        senders=options.pop("senders"),
        statuses=options.pop("statuses"),
        message_ids=options.pop("message_ids"),
    )


def _errors_as_click(command: Callable[..., None]) -> Callable[..., None]:
    """Turn library errors into click errors: a message and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except AcsmailError as error:
            raise click.ClickException(str(error)) from error
        except pl.exceptions.PolarsError as error:
            first_line = (
                str(error).strip().splitlines()[0] if str(error).strip() else ""
            )
            msg = f"could not read the input: {first_line}"
            raise click.ClickException(msg) from error

    return wrapper


@contextlib.contextmanager
def _open_output(path: str) -> Iterator[BinaryIO]:
    """Open the output for binary writing; ``-`` is stdout, left open after."""
    if path == "-":
        yield sys.stdout.buffer
        return
    with click.open_file(path, "wb", atomic=True) as out:
        yield out  # type: ignore[misc]


def _warn(message: str, *, quiet: bool) -> None:
    if not quiet:
        click.echo(f"acsmail: {message}", err=True)


def _account_rejects(
    rejects: pl.DataFrame, *, path: str | None, strict: bool, quiet: bool
) -> None:
    """Tell the user what was rejected, and stop when asked to be strict."""
    if rejects.height and strict:
        first = rejects.row(0, named=True)
        msg = f"{first['file']}: line {first['line']}: {first['reason']}"
        raise RejectedRecordError(msg)
    if path is not None:
        rejects.write_csv(path)
    if rejects.height:
        first = rejects.row(0, named=True)
        where = f"first: {first['file']}: line {first['line']}: {first['reason']}"
        _warn(f"{rejects.height} record(s) rejected ({where})", quiet=quiet)


def _read(paths: tuple[str, ...], date_order: str | None, quiet: bool) -> Inputs:
    inputs = scan(paths, date_order=date_order)  # type: ignore[arg-type]
    for warning in inputs.warnings:
        _warn(warning, quiet=quiet)
    return inputs


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="acsmail")
def cli() -> None:
    """Understand ACS Email delivery from exported logs, offline.

    \b
    Example:
      acsmail report fixtures/sample/csv
      acsmail deliveries exports/ -f parquet -o deliveries.parquet
    """


@cli.command(context_settings=CONTEXT)
@_input_options
@_filter_options
@click.option(
    "-f",
    "--format",
    "form",
    type=click.Choice(REPORT_FORMATS),
    default="table",
    show_default=True,
    help="How to print the report.",
)
@click.option(
    "-o", "--output", default="-", show_default=True, help="Where to write it."
)
@_errors_as_click
def report(
    paths: tuple[str, ...],
    form: str,
    output: str,
    date_order: str | None,
    rejects_path: str | None,
    strict: bool,
    quiet: bool,
    **filter_options: Any,
) -> None:
    """Summarise delivery: outcomes, latency, failures, domains, senders

    \b
    Example:
      acsmail report fixtures/sample/csv
      acsmail report exports/ --recipient-domain gmail.com -f markdown -o report.md
    """
    filters = _filters(filter_options)
    inputs = _read(paths, date_order, quiet)

    def plans(current: Inputs) -> list[pl.LazyFrame]:
        tables = normalise(current)
        deliveries = build_deliveries(tables, Options(include_pending=True))
        sections = build_report(current, tables, deliveries, filters)
        return [tables.rejected, *sections.values()]

    rejects, *frames = inputs.collect(plans)
    _account_rejects(rejects, path=rejects_path, strict=strict, quiet=quiet)
    text = render_report(dict(zip(SECTIONS, frames, strict=True)), form)
    with _open_output(output) as out:
        out.write(text.encode())


@cli.command(context_settings=CONTEXT)
@_input_options
@_filter_options
@click.option(
    "-f",
    "--format",
    "form",
    type=click.Choice(DATASET_FORMATS),
    default="csv",
    show_default=True,
    help="The file format of the dataset.",
)
@click.option(
    "-o", "--output", default="-", show_default=True, help="Where to write it."
)
@click.option(
    "--kql-compatible",
    is_flag=True,
    help="Reproduce the reference KQL query exactly: inner join, skewed rows dropped.",
)
@click.option(
    "--include-pending",
    is_flag=True,
    help="Also list messages that have no final status yet.",
)
@_errors_as_click
def deliveries(
    paths: tuple[str, ...],
    form: str,
    output: str,
    kql_compatible: bool,
    include_pending: bool,
    date_order: str | None,
    rejects_path: str | None,
    strict: bool,
    quiet: bool,
    **filter_options: Any,
) -> None:
    """Write one row per recipient's final status, joined to its send

    \b
    Example:
      acsmail deliveries fixtures/sample/csv -o deliveries.csv
      acsmail deliveries exports/ --kql-compatible -f parquet -o kql.parquet
    """
    if kql_compatible and include_pending:
        msg = "--include-pending cannot be combined with --kql-compatible"
        raise click.UsageError(msg)
    filters = _filters(filter_options)
    options = Options(kql_compatible=kql_compatible, include_pending=include_pending)
    inputs = _read(paths, date_order, quiet)

    def plans(current: Inputs) -> list[pl.LazyFrame]:
        tables = normalise(current)
        rows = build_deliveries(tables, options).rows
        return [tables.rejected, apply_filters(rows, filters)]

    rejects, rows = inputs.collect(plans)
    _account_rejects(rejects, path=rejects_path, strict=strict, quiet=quiet)
    with _open_output(output) as out:
        write_dataset(rows, form, out)
