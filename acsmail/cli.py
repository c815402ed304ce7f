"""The acsmail command line: options in, library calls, output out."""

from __future__ import annotations

import contextlib
import errno
import functools
import gzip
import json
import os
import re
import stat
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final, cast

import click
import polars as pl

from acsmail import __version__, codes
from acsmail.convert import (
    check_target,
    conversion_plans,
    discard_tables,
    publish_tables,
    save_basis,
    saved_report,
)
from acsmail.deliveries import Options, build_deliveries, unknown_statuses
from acsmail.errors import AcsmailError, RejectedRecordError, first_line
from acsmail.inspect import inspect
from acsmail.normalise import NO_TABLE, Tables, normalise, read_tables
from acsmail.readers import ENGINE, Inputs, scan
from acsmail.readers.detect import named_paths
from acsmail.redact import Redactor, new_key
from acsmail.render import (
    DATASET_FORMATS,
    REPORT_FORMATS,
    for_terminal,
    neutralise_formulas,
    printable,
    render_report,
    write_dataset,
)
from acsmail.report import (
    SECTIONS,
    Basis,
    Filters,
    apply_filters,
    build_report,
    report_basis,
)
from acsmail.schema import GENERATED_FORMS, TERMINAL_STATUSES
from acsmail.spill import needs_spill, spilled_basis
from acsmail.trace import SECTIONS as TRACE_SECTIONS
from acsmail.trace import for_reading, trace

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

CONTEXT: Final = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
#: From this many files on, preparing them shows a progress bar on a terminal.
PROGRESS_FILES: Final = 50


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
            help="Read locale dates as month/day or day/month, whatever the data "
            "suggests [default: from the data, else month/day].",
        ),
        click.option(
            "--rejects",
            "rejects_path",
            type=click.Path(dir_okay=False, writable=True),
            help="Write every record left out (rejected, or matching no table), "
            "with file, line and reason, as CSV.",
        ),
        click.option(
            "--strict",
            is_flag=True,
            help="Stop at the first record left out (rejected, or matching no table).",
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
            help="Keep only this message, by its id or InternetMessageId (repeatable).",
        ),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def _privacy_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--redact`` and ``--redact-key`` for commands that print log data."""
    decorators = [
        click.option(
            "--redact",
            is_flag=True,
            help="Replace the local part of every address with a keyed hash.",
        ),
        click.option(
            "--redact-key",
            metavar="TEXT",
            help="Key for --redact, for pseudonyms that stay the same across runs "
            "(default: a random key per run).",
        ),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def _redactor(options: dict[str, Any]) -> Redactor | None:
    redact, key = options.pop("redact"), options.pop("redact_key")
    if key is not None and not redact:
        msg = "--redact-key needs --redact"
        raise click.UsageError(msg)
    if not redact:
        return None
    return Redactor(key.encode() if key is not None else new_key())


def _tables(
    current: Inputs, redactor: Redactor | None, *, in_memory: bool = False
) -> Tables:
    """The tables of a run, pseudonymised if asked; read into memory if asked."""
    if not in_memory:
        tables = normalise(current)
        return redactor.tables(tables) if redactor is not None else tables
    tables = read_tables(current)
    return redactor.tables(tables).collected() if redactor is not None else tables


def _filters(options: dict[str, Any]) -> Filters:
    """The row filters; a filter that can keep nothing is a usage error."""
    filters = Filters(
        since=options.pop("since"),
        until=options.pop("until"),
        recipient_domains=options.pop("recipient_domains"),
        senders=options.pop("senders"),
        statuses=options.pop("statuses"),
        message_ids=options.pop("message_ids"),
    )
    known = {status.lower() for status in TERMINAL_STATUSES}
    unknown = [status for status in filters.statuses if status.lower() not in known]
    if unknown:
        msg = (
            f"--status {unknown[0]!r} is no final status; expected one of "
            f"{', '.join(TERMINAL_STATUSES)}"
        )
        raise click.UsageError(msg)
    if filters.since and filters.until and filters.since > filters.until:
        msg = "--since is later than --until, so no row could be kept"
        raise click.UsageError(msg)
    return filters


def _errors_as_click(command: Callable[..., None]) -> Callable[..., None]:
    """Turn library errors into click errors: a message and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except AcsmailError as error:
            raise click.ClickException(printable(str(error))) from error
        except BrokenPipeError:
            # The reader of stdout went away (``| head``): stop quietly.
            _silence_stdout()
        except pl.exceptions.PolarsError as error:
            msg = f"could not read the input: {first_line(error)}"
            raise click.ClickException(printable(msg)) from error
        except OSError as error:
            if error.errno == errno.EPIPE or "Broken pipe" in str(error):
                _silence_stdout()
                return
            where = f"{error.filename}: " if error.filename else ""
            msg = f"{where}{error.strerror or error}"
            raise click.ClickException(printable(msg)) from error

    return wrapper


def _silence_stdout() -> None:
    """Point stdout at nothing, so the interpreter's final flush cannot fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


@contextlib.contextmanager
def _open_output(path: str) -> Iterator[BinaryIO]:
    """Open the output for binary writing; ``-`` is stdout, left open after."""
    where = "standard output" if path == "-" else path
    try:
        with _opened(path) as out:
            yield out
    except pl.exceptions.PolarsError as error:
        # Polars reports a failed write (a full disk, a closed pipe) as its
        # own error; it is about the output, not the input.
        if isinstance(error.__context__, BrokenPipeError):
            raise error.__context__ from error
        lines = str(error).strip().splitlines()
        msg = f"{where}: could not write the output: {lines[0] if lines else error}"
        raise click.ClickException(printable(msg)) from error
    except BrokenPipeError:
        raise
    except OSError as error:
        # A full disk or a device that takes nothing (/dev/full).
        msg = f"{where}: could not write the output: {error.strerror or error}"
        raise click.ClickException(printable(msg)) from error


def _outputs_apart(paths: tuple[str, ...], *outputs: str | None) -> None:
    """Refuse an output that is an input file or lies inside an input folder.

    Written over an input (the file standard input reads among them) it would
    replace the export; written into an input folder, the next run on that
    folder would read it as part of the export. Two outputs may not name one
    file either: one would replace the other.
    """
    read = named_paths(paths)
    # Standard input may come from a file (``- < export.json``).
    redirected = _stdin_file() if "-" in paths else None
    if sum(output == "-" or _is_stdout(output) for output in outputs) > 1:
        msg = (
            "-o and --rejects both go to standard output, which would mix them "
            "in one stream; name another file for one of them"
        )
        raise click.UsageError(msg)
    written: dict[Path, str] = {}
    for output in outputs:
        if output is None or output == "-":
            continue
        target = Path(output).resolve()
        # A device (/dev/null) takes both; a file would keep the last.
        if target in written and (target.is_file() or not target.exists()):
            msg = f"{output}: named for two outputs; the second would replace the first"
            raise click.UsageError(msg)
        written[target] = output
        if (
            redirected is not None
            and target.exists()
            and os.path.samestat(redirected, target.stat())
        ):
            msg = (
                f"{output}: is the file standard input reads, which writing it "
                "would replace"
            )
            raise click.UsageError(msg)
        for given, source in read:
            if target == source or (
                target.exists() and source.exists() and target.samefile(source)
            ):
                msg = f"{output}: is one of the inputs, which writing it would replace"
                raise click.UsageError(msg)
            if source.is_dir() and target.is_relative_to(source):
                msg = (
                    f"{output}: is inside the input folder {given}, where the next "
                    "run would read it as part of the export"
                )
                raise click.UsageError(msg)


def _is_stdout(output: str | None) -> bool:
    """Whether a named output is where standard output goes already.

    ``/dev/stdout``, or the file the shell sent standard output to.
    """
    if output is None or output == "-":
        return False
    try:
        return os.path.samestat(Path(output).stat(), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError):  # no such file, or no real standard output
        return False


def _stdin_file() -> os.stat_result | None:
    """The regular file that standard input reads, if it reads one."""
    try:
        found = os.fstat(sys.stdin.fileno())
    except (OSError, ValueError):  # not a real file descriptor (tests, IDEs)
        return None
    return found if stat.S_ISREG(found.st_mode) else None


def _to_terminal(path: str) -> bool:
    """Whether the output goes to a screen, where log text must be escaped."""
    return path == "-" and sys.stdout.isatty()


@contextlib.contextmanager
def _opened(path: str) -> Iterator[BinaryIO]:
    if path == "-":
        yield sys.stdout.buffer
        return
    target = Path(path)
    if target.is_dir():
        msg = f"{path}: is a directory; expected a file name for the output"
        raise click.UsageError(msg)
    if not target.parent.is_dir():
        msg = f"{path}: the folder {target.parent} does not exist"
        raise click.UsageError(msg)
    if target.exists() and not target.is_file():
        # A device or a pipe (/dev/null, a FIFO, /dev/fd/N) is written into;
        # the atomic write below would rename a regular file over it.
        with target.open("wb") as out:
            yield out
        return
    if target.exists() and not os.access(target, os.W_OK):
        msg = f"{path}: could not write the output: the file is read-only"
        raise click.ClickException(printable(msg))
    with _atomically(target, path) as out:
        yield out


@contextlib.contextmanager
def _atomically(target: Path, path: str) -> Iterator[BinaryIO]:
    """Write a temporary file beside the target, renamed over it when done.

    A write that fails (a full disk, an interrupt) leaves the target as it
    was and removes the temporary file.
    """
    try:
        part = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed below)
            dir=target.parent, prefix=f".{target.name}.", suffix=".part", delete=False
        )
    except OSError as error:
        # The error names the temporary file; the user named the output.
        msg = f"{path}: could not write the output: {error.strerror or error}"
        raise click.ClickException(printable(msg)) from error
    written = Path(part.name)
    try:
        with part:
            yield cast("BinaryIO", part)
        # A new file gets the usual permissions, not the temporary file's.
        mode = target.stat().st_mode if target.exists() else 0o666 & ~_umask()
        written.chmod(stat.S_IMODE(mode))
        written.replace(target)
    except BaseException:
        written.unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


#: How a report (and convert, which saves what a report starts from) builds
#: its deliveries: pending messages in, rows unsorted, shared steps in memory.
_REPORT_OPTIONS: Final = Options(include_pending=True, ordered=False, in_memory=True)
_REPORT_SUFFIXES: Final = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".json": "json",
    ".html": "html",
    ".htm": "html",
}
_JSON_SUFFIX: Final = {".json": "json"}
_DATASET_SUFFIXES: Final = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "json",
}


def _form_of(output: str, suffixes: dict[str, str], default: str) -> str:
    """The format an output file's name asks for, when ``-f`` is not given.

    A name whose suffix is a format this command cannot write (a report to
    ``.csv``, a dataset to ``.html``) is a usage error rather than a file
    that does not hold what its name says.
    """
    suffix = Path(output).suffix.lower()
    if suffix in suffixes:
        return suffixes[suffix]
    if suffix in _KNOWN_SUFFIXES:
        known = ", ".join(sorted(suffixes))
        msg = (
            f"-o {output}: this command cannot write {suffix} files; name the "
            f"output with one of {known}, or choose the format with -f"
        )
        raise click.UsageError(msg)
    return default


_KNOWN_SUFFIXES: Final = frozenset(
    [*_REPORT_SUFFIXES, *_DATASET_SUFFIXES, ".gz", ".xlsx", ".tsv"]
)


_TEXT_FORMATS: Final = ("table", "json")


def _output_options(
    choices: Sequence[str],
    suffixes: dict[str, str],
    default: str,
    what: str,
    *,
    compressible: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``-f`` and ``-o``; without ``-f`` the format comes from the -o suffix.

    With ``compressible``, a ``.gz`` after the suffix is looked through.
    """

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def wrapper(*args: Any, form: str | None, output: str, **kwargs: Any) -> Any:
            named = output.removesuffix(".gz") if compressible else output
            form = form or _form_of(named, suffixes, default)
            return command(*args, form=form, output=output, **kwargs)

        with_output = click.option(
            "-o", "--output", default="-", show_default=True, help="Where to write it."
        )(wrapper)
        return click.option(
            "-f",
            "--format",
            "form",
            type=click.Choice(choices),
            default=None,
            help=f"{what} [default: from the -o suffix, else {default}].",
        )(with_output)

    return decorate


#: Said when the filters leave no row, so that an empty result is not
#: taken for an export without deliveries.
_KEPT_NOTHING: Final = (
    "the filters keep no delivery of this export (--until is exclusive; "
    "--message-id and --recipient-domain must match whole values)"
)

#: Printed under a filtered report's overview: the counts of records are
#: made before any delivery exists to filter, so they stay the export's.
_FILTERED_OVERVIEW: Final = (
    "The filters apply to the figures from messages to clock skew. The counts "
    "after them, from duplicate records merged on, are of the whole export."
)


#: Characters of a value from the logs that a warning quotes.
_SHOWN: Final = 40


def _warn_of_unknown_statuses(
    count: int, values: Sequence[str] = (), kinds: int = 0, *, quiet: bool
) -> None:
    """Say that some statuses are of no known kind, and so none is final.

    ``values`` are some of them, of ``kinds`` distinct ones in all
    (``unknown_statuses``).
    """
    if count == 0:
        return
    # A value is a field of the logs, which may be long: the start says enough.
    named = ", ".join(
        repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "…")
        for value in values
    )
    if named:
        named = f" ({named}{', …' if kinds > len(values) else ''})"
    _warn(
        f"{count} status record(s) name a DeliveryStatus acsmail does not "
        f"know{named}: kept as written, none counts as a final status",
        quiet=quiet,
    )


def _warn(message: str, *, quiet: bool) -> None:
    # Warnings quote log values and file names: neither may drive the terminal.
    if not quiet:
        click.echo(f"acsmail: {printable(message)}", err=True)


def _account_rejects(
    rejects: pl.DataFrame,
    *,
    path: str | None,
    strict: bool,
    quiet: bool,
    inputs: Inputs | None = None,
    redactor: Redactor | None = None,
    told: list[str] | None = None,
) -> None:
    """Tell the user what was left out, and stop when asked to be strict.

    ``rejects`` holds the rejected records and those that match no table
    (``Tables.left_out``). With ``inputs``, warnings found while collecting
    are told too, and the rejects file gets the original text of every
    record, including those rejected after reading. What is told of the
    records left out is added to ``told``, if given.
    """
    # In file and line order, as the report lists them: the first told is the
    # first in its file, however the reads found them.
    rejects = rejects.sort("file", "line", maintain_order=True)
    if rejects.height and strict:
        first = rejects.row(0, named=True)
        msg = f"{first['file']}: line {first['line']}: {first['reason']}"
        raise RejectedRecordError(msg)
    if inputs is not None:
        for warning in inputs.new_warnings():
            _warn(warning, quiet=quiet)
    if path is not None:
        whole = rejects
        if inputs is not None:
            whole = inputs.with_record_text(rejects)
        if redactor is not None and inputs is not None:
            # The rejects came redacted with the tables; only the record text
            # looked up just now is raw, and hashing a pseudonym again would
            # give it a second, different one.
            looked_up = pl.lit(rejects.get_column("record").is_null())
            fresh = redactor.expr("record", "record")
            whole = whole.with_columns(
                pl.when(looked_up)
                .then(fresh)
                .otherwise(pl.col("record"))
                .alias("record")
            )
        if _to_terminal(path):
            whole = for_terminal(whole)
        with _open_output(path) as out:
            neutralise_formulas(whole).write_csv(out)
    for warning in _left_out(rejects):
        _warn(warning, quiet=quiet)
    if told is not None:
        # Told again from a converted export, where only convert lists them.
        told.extend(_left_out(rejects, "convert --rejects"))


def _left_out(rejects: pl.DataFrame, lister: str = "--rejects") -> list[str]:
    """What to tell of the rejected records and those that match no table.

    ``lister`` is the option that lists the latter.
    """
    warnings = []
    unplaced = rejects.get_column("reason") == NO_TABLE
    rejected = rejects.filter(~unplaced)
    if rejected.height:
        first = rejected.row(0, named=True)
        where = f"first: {first['file']}: line {first['line']}: {first['reason']}"
        warnings.append(f"{rejected.height} record(s) rejected ({where})")
    if unplaced.any():
        first = rejects.filter(unplaced).row(0, named=True)
        where = f"first: {first['file']}: line {first['line']}"
        warnings.append(
            f"{unplaced.sum()} record(s) match no table and are left out ({where}); "
            f"{lister} lists them"
        )
    return warnings


def _collect(
    inputs: Inputs,
    plans: Callable[[Inputs], Sequence[pl.LazyFrame]],
    *,
    rejects_path: str | None,
    strict: bool,
    quiet: bool,
    redactor: Redactor | None = None,
    told: list[str] | None = None,
) -> list[pl.DataFrame]:
    """Collect plans that start with the rejected records, and account for them.

    Returns
    -------
    list of DataFrame
        The frames after the rejected records.
    """
    rejects, *frames = inputs.collect(plans)
    _account_rejects(
        rejects,
        path=rejects_path,
        strict=strict,
        quiet=quiet,
        inputs=inputs,
        redactor=redactor,
        told=told,
    )
    return frames


def _read(paths: tuple[str, ...], date_order: str | None, quiet: bool) -> Inputs:
    with _progress(quiet=quiet) as progress:
        inputs = scan(paths, date_order=date_order, progress=progress)  # type: ignore[arg-type]
    for warning in inputs.new_warnings():
        _warn(warning, quiet=quiet)
    return inputs


@contextlib.contextmanager
def _progress(*, quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr for preparing many files, shown on a terminal only."""
    with contextlib.ExitStack() as stack:
        bar: Any = None

        def advance(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                if quiet or total < PROGRESS_FILES or not sys.stderr.isatty():
                    return
                bar = stack.enter_context(
                    click.progressbar(
                        length=total, label="Preparing files", file=sys.stderr
                    )
                )
                bar.update(done - 1)
            bar.update(1)

        yield advance


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="acsmail")
def cli() -> None:
    """Understand ACS Email delivery from exported logs, offline.

    \b
    Example:
      acsmail report fixtures/sample/csv
      acsmail deliveries exports/ -f parquet -o deliveries.parquet
    """


def _basis(current: Inputs, redactor: Redactor | None) -> tuple[Tables, Basis]:
    """The tables of the files, and the report basis built from them in memory."""
    tables = _tables(current, redactor, in_memory=True)
    deliveries = build_deliveries(tables, _REPORT_OPTIONS).collected()
    return tables, report_basis(current, tables, deliveries).collected()


def _spilled_report(
    current: Inputs, redactor: Redactor | None, filters: Filters
) -> list[pl.LazyFrame]:
    """The rejected records and the sections, with the tables kept on disk."""
    with tempfile.TemporaryDirectory(prefix="acsmail-") as folder:
        basis, rejected = spilled_basis(
            current, Path(folder), _REPORT_OPTIONS, redactor
        )
        sections = build_report(basis, filters)
        # One at a time: together they would hold most columns of every row.
        frames = [sections[name].collect(engine=ENGINE) for name in SECTIONS]
    return [rejected.lazy(), *(frame.lazy() for frame in frames)]


def _saved_frames(
    paths: tuple[str, ...],
    filters: Filters,
    *,
    records_needed: bool,
    date_order: str | None,
    quiet: bool,
) -> list[pl.DataFrame] | None:
    """The sections from what convert saved, or None to read the files."""
    saved, warning = saved_report(paths)
    if warning is not None:
        _warn(warning, quiet=quiet)
    if saved is None:
        return None
    if records_needed:
        # Pseudonyms, the rejects file and --strict need the records, and the
        # tables do not hold those convert rejected or could not place.
        counts = saved.basis.counts.select("rejected", "unclassified").collect()
        if sum(counts.row(0)):
            _warn(
                f"{paths[0]}: --redact, --rejects and --strict read the tables, "
                "which leave out the records convert rejected or could not "
                "classify; the figures count none of them",
                quiet=quiet,
            )
        return None
    for told in saved.warnings:
        _warn(f"{paths[0]}: when converted: {told}", quiet=quiet)
    if date_order is not None:
        _warn(
            f"{paths[0]}: --date-order does nothing on a converted export, whose "
            "times are already read; give it to convert",
            quiet=quiet,
        )
    whole = not filters.active and set(saved.sections) == set(SECTIONS)
    plans = saved.sections if whole else build_report(saved.basis, filters)
    try:
        return pl.collect_all([plans[name] for name in SECTIONS], engine=ENGINE)
    except pl.exceptions.PolarsError as error:
        _warn(
            f"{paths[0]}: the saved report could not be read ({first_line(error)}); "
            "reading the tables",
            quiet=quiet,
        )
        return None


def _report_frames(
    inputs: Inputs,
    redactor: Redactor | None,
    filters: Filters,
    *,
    rejects_path: str | None,
    strict: bool,
    quiet: bool,
) -> list[pl.DataFrame]:
    """Every section of the report, computed from the files."""

    def plans(current: Inputs) -> list[pl.LazyFrame]:
        if needs_spill(current):
            return _spilled_report(current, redactor, filters)
        tables, basis = _basis(current, redactor)
        return [tables.left_out(), *build_report(basis, filters).values()]

    return _collect(
        inputs,
        plans,
        rejects_path=rejects_path,
        strict=strict,
        quiet=quiet,
        redactor=redactor,
    )


@cli.command(context_settings=CONTEXT)
@_input_options
@_filter_options
@_privacy_options
@_output_options(REPORT_FORMATS, _REPORT_SUFFIXES, "table", "How to print the report")
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
    _outputs_apart(paths, output, rejects_path)
    filters = _filters(filter_options)
    redactor = _redactor(filter_options)
    frames = _saved_frames(
        paths,
        filters,
        records_needed=bool(redactor or rejects_path or strict),
        date_order=date_order,
        quiet=quiet,
    )
    if frames is None:
        frames = _report_frames(
            _read(paths, date_order, quiet),
            redactor,
            filters,
            rejects_path=rejects_path,
            strict=strict,
            quiet=quiet,
        )
    sections = dict(zip(SECTIONS, frames, strict=True))
    overview = sections["overview"]
    _warn_of_unknown_statuses(overview["unknown_statuses"].item(), quiet=quiet)
    if (
        filters.active
        and not overview.select(
            pl.col("recipients_final") + pl.col("pending_messages")
        ).item()
    ):
        _warn(_KEPT_NOTHING, quiet=quiet)
    notes = {"overview": _FILTERED_OVERVIEW} if filters.active else None
    text = render_report(sections, form, notes)
    with _open_output(output) as out:
        out.write(text.encode())


@cli.command(context_settings=CONTEXT)
@_input_options
@_filter_options
@_privacy_options
@_output_options(
    DATASET_FORMATS,
    _DATASET_SUFFIXES,
    "csv",
    "The file format of the dataset",
    compressible=True,
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
@click.option(
    "--no-classify",
    is_flag=True,
    help=(
        "Leave code explanations and failure categories empty, and missing "
        "codes unread from the reply text (faster)."
    ),
)
@click.option(
    "--no-escape-formulas",
    is_flag=True,
    help="Leave CSV cells starting with = + - @ as they are (for machine readers).",
)
@_errors_as_click
def deliveries(
    paths: tuple[str, ...],
    form: str,
    output: str,
    kql_compatible: bool,
    include_pending: bool,
    no_classify: bool,
    no_escape_formulas: bool,
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
    _outputs_apart(paths, output, rejects_path)
    if kql_compatible and include_pending:
        msg = "--include-pending cannot be combined with --kql-compatible"
        raise click.UsageError(msg)
    filters = _filters(filter_options)
    redactor = _redactor(filter_options)
    # The tables are read into memory: duplicates are merged as a mask over
    # them rather than as a copy.
    options = Options(
        kql_compatible=kql_compatible,
        include_pending=include_pending,
        classify=not no_classify,
        in_memory=True,
    )
    inputs = _read(paths, date_order, quiet)

    def plans(current: Inputs) -> list[pl.LazyFrame]:
        tables = _tables(current, redactor, in_memory=True)
        rows = build_deliveries(tables, options).rows
        unknown = unknown_statuses(tables.status)
        return [tables.left_out(), apply_filters(rows, filters), unknown]

    rows, unknown = _collect(
        inputs,
        plans,
        rejects_path=rejects_path,
        strict=strict,
        quiet=quiet,
        redactor=redactor,
    )
    count, kinds, values = unknown.row(0)
    _warn_of_unknown_statuses(count, values, kinds, quiet=quiet)
    if filters.active and rows.height == 0:
        _warn(_KEPT_NOTHING, quiet=quiet)
    if _to_terminal(output):
        rows = for_terminal(rows)
    with _open_output(output) as out:
        if not output.endswith(".gz"):
            write_dataset(rows, form, out, escape_formulas=not no_escape_formulas)
            return
        with gzip.GzipFile(fileobj=out, mode="wb") as packed:
            # A GzipFile is a binary stream, though typeshed does not say so.
            stream = cast("BinaryIO", packed)
            write_dataset(rows, form, stream, escape_formulas=not no_escape_formulas)


@cli.command("inspect", context_settings=CONTEXT)
@_input_options
@_privacy_options
@_output_options(REPORT_FORMATS, _REPORT_SUFFIXES, "table", "How to print the findings")
@_errors_as_click
def inspect_command(
    paths: tuple[str, ...],
    form: str,
    output: str,
    date_order: str | None,
    rejects_path: str | None,
    strict: bool,
    quiet: bool,
    **privacy_options: Any,
) -> None:
    """Say what each input file holds: format, records per table, time span

    \b
    Example:
      acsmail inspect fixtures/sample/ndjson
      acsmail inspect exports/ -f json -o inputs.json
    """
    _outputs_apart(paths, output, rejects_path)
    redactor = _redactor(privacy_options)
    inputs = _read(paths, date_order, quiet)
    found = inspect(inputs, redactor)
    _account_rejects(
        found.rejected,
        path=rejects_path,
        strict=strict,
        quiet=quiet,
        inputs=inputs,
        redactor=redactor,
    )
    text = render_report(found.sections(), form)
    with _open_output(output) as out:
        out.write(text.encode())


#: What ids and addresses are made of, for telling where one ends.
_ID_CHARS: Final = r"\w@.+%-"


def _mentions(
    inputs: Inputs, left_out: pl.DataFrame, identifier: str
) -> tuple[int, str] | None:
    """How many records left out of the tables mention the id, and the first.

    Their records are in the export though the trace leaves them out (a
    message whose every record was rejected matches nothing at all), so the
    user is told where to look. None when no such record mentions it.
    """
    if left_out.height == 0:
        return None
    texts = inputs.with_record_text(left_out).sort("file", "line")
    # The id whole, not inside a longer one: "m-7" is no mention of "m".
    whole = f"(?i)(?:^|[^{_ID_CHARS}]){re.escape(identifier)}(?:$|[^{_ID_CHARS}])"
    found = texts.filter(pl.col("record").str.contains(whole))
    if found.height == 0:
        return None
    first = found.row(0, named=True)
    return found.height, f"{first['file']}: line {first['line']}: {first['reason']}"


@cli.command("trace", context_settings=CONTEXT)
@click.argument("identifier", metavar="ID")
@_input_options
@_privacy_options
@_output_options(_TEXT_FORMATS, _JSON_SUFFIX, "table", "How to print the trace")
@_errors_as_click
def trace_command(
    identifier: str,
    paths: tuple[str, ...],
    form: str,
    output: str,
    date_order: str | None,
    rejects_path: str | None,
    strict: bool,
    quiet: bool,
    **privacy_options: Any,
) -> None:
    """Show what happened to one email: every record in order, and the verdict

    ID is a message id, an InternetMessageId or a recipient address. With
    --redact and --redact-key, it may also be an address's pseudonym.

    \b
    Example:
      acsmail trace 51adcd4f-c1ca-470f-843e-15c982b12b69 fixtures/sample/csv
      acsmail trace frank@gmail.com exports/ -f json -o frank.json
    """
    if not identifier.strip():
        msg = "ID is blank: expected a message id, an InternetMessageId or an address"
        raise click.UsageError(msg)
    _outputs_apart(paths, output, rejects_path)
    redactor = _redactor(privacy_options)
    inputs = _read(paths, date_order, quiet)

    def plans(current: Inputs) -> list[pl.LazyFrame]:
        tables = _tables(current, redactor)
        deliveries = build_deliveries(tables, Options(include_pending=True))
        found = trace(tables, deliveries, identifier, redactor)
        return [tables.left_out(), found.timeline, found.recipients]

    left_out, timeline, recipients = inputs.collect(plans)
    _account_rejects(
        left_out,
        path=rejects_path,
        strict=strict,
        quiet=quiet,
        inputs=inputs,
        redactor=redactor,
    )
    timeline = inputs.exact_lines(timeline)
    # A redacted run prints no real address, not even the one asked for, and
    # so does not quote the records that mention it.
    mentions = None if redactor is not None else _mentions(inputs, left_out, identifier)
    if timeline.height == 0:
        shown = identifier if redactor is None else redactor.text(identifier)
        msg = (
            f"nothing in the export matches {shown!r} as a message id, "
            "an InternetMessageId or a recipient address"
        )
        if mentions:
            count, first = mentions
            msg += (
                f"; {count} record(s) left out of the tables mention it "
                f"(first: {first})"
            )
        raise AcsmailError(msg)
    if mentions:
        count, first = mentions
        _warn(
            f"{count} record(s) that mention {identifier!r} were left out of the "
            f"tables, so the trace lacks them (first: {first})",
            quiet=quiet,
        )
    if form == "json":
        sections = dict(zip(TRACE_SECTIONS, (timeline, recipients), strict=True))
    else:
        sections = for_reading(timeline, recipients)
    with _open_output(output) as out:
        out.write(render_report(sections, form).encode())


@cli.command(context_settings=CONTEXT)
@click.argument("replies", nargs=-1)
@click.option(
    "--host", help="The recipient's mail-server host, to pick provider rules."
)
@_output_options(_TEXT_FORMATS, _JSON_SUFFIX, "table", "How to print the explanations")
@_errors_as_click
def explain(replies: tuple[str, ...], host: str | None, form: str, output: str) -> None:
    """Explain SMTP codes or whole server replies, and say whether to retry

    With no argument, reads one reply per line from stdin.

    \b
    Example:
      acsmail explain 5.7.1 550
      acsmail explain "421 4.7.28 unusual rate" --host gmail-smtp-in.l.google.com
      acsmail explain -f json < replies.txt
    """
    blank = [n for n, reply in enumerate(replies, 1) if not reply.strip()]
    if blank:
        # An empty shell variable, most likely; dropped, it would leave the
        # explanations one short with nothing said.
        msg = f"argument {blank[0]} is blank: expected an SMTP code or reply"
        raise click.UsageError(msg)
    texts = list(replies) or [line.rstrip("\r\n") for line in sys.stdin if line.strip()]
    # Bytes that are not UTF-8 reach Python as lone surrogates; show them as
    # replacement characters rather than fail to print them.
    texts = [
        t.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        for t in texts
        if t.strip()
    ]
    if not texts:
        msg = "give codes or replies as arguments, or one reply per line on stdin"
        raise click.UsageError(msg)
    df = codes.explain(texts, host=host)
    if form == "json":
        text = json.dumps(df.to_dicts(), indent=2, ensure_ascii=False) + "\n"
    else:
        text = render_report({"explanations": df}, "table")
    with _open_output(output) as out:
        out.write(text.encode())


@cli.command(context_settings=CONTEXT)
@_input_options
@click.option(
    "-o",
    "--output",
    "directory",
    required=True,
    type=click.Path(file_okay=False, writable=True),
    help="Folder to write the Parquet tables into (created if missing).",
)
@_errors_as_click
def convert(
    paths: tuple[str, ...],
    directory: str,
    date_order: str | None,
    rejects_path: str | None,
    strict: bool,
    quiet: bool,
) -> None:
    """Save an export as typed Parquet tables that every command reads fast

    \b
    Example:
      acsmail convert exports/ -o exports.parquet/
      acsmail report exports.parquet/
    """
    if not directory.strip():
        msg = "-o needs the name of a folder"
        raise click.UsageError(msg)
    _outputs_apart(paths, rejects_path)
    target = Path(directory)
    refusal = check_target(target, paths)
    if refusal is not None:
        raise click.UsageError(refusal)
    created = [folder for folder in (target, *target.parents) if not folder.exists()]
    target.mkdir(parents=True, exist_ok=True)

    def plans(current: Inputs) -> list[pl.LazyFrame]:
        tables, basis = _basis(current, None)
        sinks = conversion_plans(tables, target)
        return [tables.left_out(), *basis.frames().values(), *sinks]

    # What it tells of the records left out, the saved report tells again.
    left_out: list[str] = []
    try:
        inputs = _read(paths, date_order, quiet)
        frames = _collect(
            inputs,
            plans,
            rejects_path=rejects_path,
            strict=strict,
            quiet=quiet,
            told=left_out,
        )
        saved = dict(zip(Basis.names(), frames, strict=False))
        basis = Basis(**{name: frame.lazy() for name, frame in saved.items()})
        sections = build_report(basis, Filters())
        report = pl.collect_all([sections[name] for name in SECTIONS], engine=ENGINE)
    except BaseException:
        # Nothing of a failed run stays: no tables, and no folder it made.
        discard_tables(target)
        for folder in created:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    publish_tables(target)
    sections_saved = dict(zip(SECTIONS, report, strict=True))
    save_basis(saved, sections_saved, target, [*inputs.warnings, *left_out])


@cli.command(context_settings=CONTEXT)
@click.option(
    "--messages",
    type=click.IntRange(min=1),
    required=True,
    help="How many messages to send.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Random seed (0 or more).",
)
@click.option(
    "--format",
    "form",
    type=click.Choice(GENERATED_FORMS),
    default="ndjson",
    show_default=True,
    help="The export form to write.",
)
@click.option(
    "-o",
    "--output",
    "directory",
    default="generated",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder to write into; must be empty or new.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@_errors_as_click
def generate(messages: int, seed: int, form: str, directory: str, quiet: bool) -> None:
    """Write a realistic synthetic ACS Email export, the same for the same seed

    \b
    Example:
      acsmail generate --messages 10000 -o sample/
      acsmail generate --messages 1000000 --format csv --seed 7 -o big/
    """
    # Loaded here: the generator and numpy weigh on every other command's start.
    from acsmail.generate import generate as generate_export

    files = generate_export(Path(directory), messages=messages, seed=seed, form=form)
    _warn(f"wrote {len(files)} file(s) under {directory}", quiet=quiet)
