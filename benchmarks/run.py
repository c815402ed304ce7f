"""Benchmark acsmail against a parsing floor, DuckDB and pandas on the same files.

One command generates the export (or reuses it when the same parameters made
it before), then runs every target as its own process on the same files,
measuring wall time, CPU time and peak resident memory, checks that acsmail,
DuckDB and pandas agree on the results, and writes the figures and ratios to
``results.json`` and ``results.md``.

Usage:
    python benchmarks/run.py [--messages 1000000] [--forms ndjson,csv]
                             [--out benchmarks/results] [--tree]

See benchmarks/README.md for the targets and what each measures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

HERE: Final = Path(__file__).resolve().parent
ROOT: Final = HERE.parent
PYTHON: Final = sys.executable
# The acsmail of the environment that runs the benchmark, not another on PATH.
_BESIDE: Final = Path(PYTHON).parent / "acsmail"
ACSMAIL: Final = (
    str(_BESIDE) if _BESIDE.exists() else shutil.which("acsmail") or "acsmail"
)

#: The forms every target reads (``common.table_files``).
FORMS: Final = ("ndjson", "csv", "parquet")
TARGETS: Final = (
    "floor",
    "acsmail-deliveries",
    "acsmail-report",
    "duckdb-deliveries",
    "duckdb-report",
    "pandas-deliveries",
    "pandas-report",
)
# Hooks for switches acsmail may grow; each measurement is skipped, saying
# why, until ``--help`` of the command shows the switch.
NO_CLASSIFY_FLAG: Final = "--no-classify"
CONVERT_COMMAND: Final = ("convert", "{inputs}", "-o", "{output}")
#: The filter of the second report on the converted export.
CONVERTED_FILTER: Final = ("--recipient-domain", "gmail.com")
TREE_FILES: Final = 2000


# Machine paths never reach the results: each known prefix is shown by name.
_SHOWN: list[tuple[str, str]] = [(ACSMAIL, "acsmail"), (PYTHON, "python")]


def shown(text: str) -> str:
    for prefix, name in _SHOWN:
        text = text.replace(prefix, name)
    return text.replace(str(ROOT) + os.sep, "")


@dataclass
class Run:
    """One measured process."""

    command: list[str]
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mib: float = 0.0
    exit_code: int = 0
    log: str = ""
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


# A run is stopped when it holds more memory than this: the machine is shared.
_LIMITS = {"rss_bytes": 16 * 2**30}


def _rss_bytes(pid: int) -> int:
    try:
        pages = Path(f"/proc/{pid}/statm").read_text().split()[1]
    except (OSError, IndexError):
        return 0
    return int(pages) * os.sysconf("SC_PAGE_SIZE")


def measure(
    command: list[str], log: Path, timeout: float, env: dict[str, str] | None = None
) -> Run:
    """Run a command as a child process; time it and read its peak RSS.

    ``os.wait4`` returns the resource usage of that one child, so its
    ``ru_maxrss`` is the child's own peak, unaffected by other runs. A child
    that runs past ``timeout`` or over the memory limit is killed.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    run = Run(command=[shown(part) for part in command], log=shown(str(log)))
    start = time.perf_counter()
    with log.open("wb") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                run.error = f"killed after {timeout:.0f} s"
            elif _rss_bytes(child.pid) > _LIMITS["rss_bytes"]:
                run.error = f"killed above {_LIMITS['rss_bytes'] / 2**30:.0f} GiB RSS"
            if run.error:
                child.kill()
                pid, status, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.02)
    child.returncode = os.waitstatus_to_exitcode(status)
    run.wall_s = round(time.perf_counter() - start, 3)
    run.cpu_s = round(usage.ru_utime + usage.ru_stime, 3)
    run.peak_rss_mib = round(usage.ru_maxrss / 1024, 1)  # Linux reports KiB
    run.exit_code = child.returncode
    if run.exit_code and not run.error:
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        run.error = shown(" | ".join(tail) or f"exit code {run.exit_code}")
    return run


# --------------------------------------------------------------------------
# Data: generated once per parameters, then reused.
# --------------------------------------------------------------------------


def _generator_digest() -> str:
    source = (ROOT / "acsmail" / "generate.py").read_bytes()
    return hashlib.sha256(source).hexdigest()[:16]


def _tree_size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def dataset(
    root: Path, form: str, messages: int, seed: int, hours: float, timeout: float
) -> tuple[Path, dict[str, Any]]:
    """The generated export for these parameters, made now or found from before."""
    name = f"{form}-{messages}-seed{seed}-h{hours:g}"
    folder, stamp = root / name, root / f"{name}.json"
    wanted = {
        "form": form,
        "messages": messages,
        "seed": seed,
        "hours": hours,
        "generator": _generator_digest(),
    }
    if stamp.exists() and folder.exists():
        known = json.loads(stamp.read_text())
        if {key: known.get(key) for key in wanted} == wanted:
            return folder, known | {"reused": True}
    if folder.exists():
        shutil.rmtree(folder)
    script = (
        "import sys; from pathlib import Path; from acsmail.generate import generate; "
        f"generate(Path(sys.argv[1]), messages={messages}, seed={seed}, "
        f"form={form!r}, hours={hours})"
    )
    print(f"generating {messages:,} messages as {form} ...", file=sys.stderr)
    # The checkout's generator, whether or not acsmail is installed.
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = os.environ | {"PYTHONPATH": path}
    log = root / f"{name}.log"
    run = measure([PYTHON, "-c", script, str(folder)], log, timeout, env)
    if not run.ok:
        msg = f"generation failed: {run.error}"
        raise SystemExit(msg)
    files, size = _tree_size(folder)
    info = wanted | {
        "files": files,
        "bytes": size,
        "generate": asdict(run),
        "messages_per_s": round(messages / max(run.wall_s, 1e-9)),
    }
    stamp.write_text(json.dumps(info, indent=1) + "\n")
    return folder, info | {"reused": False}


def warm(folder: Path) -> float:
    """Read every file once so each target finds them in the page cache."""
    start = time.perf_counter()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        with path.open("rb") as handle:
            while handle.read(16 << 20):
                pass
    return round(time.perf_counter() - start, 3)


# --------------------------------------------------------------------------
# Targets and the summaries their outputs are compared on.
# --------------------------------------------------------------------------


def command(target: str, form: str, data: Path, output: Path) -> list[str]:
    tool, _, job = target.partition("-")
    if tool == "floor":
        return [PYTHON, str(HERE / "floor.py"), form, str(data)]
    if tool == "acsmail":
        form_flag = "parquet" if job == "deliveries" else "json"
        return [ACSMAIL, job, str(data), "-f", form_flag, "-o", str(output)]
    script = HERE / f"{tool}_semantics.py"
    return [PYTHON, str(script), job, form, str(data), str(output)]


def output_of(target: str, work: Path) -> Path:
    suffix = ".parquet" if target.endswith("deliveries") else ".json"
    return work / f"{target}{suffix}"


def deliveries_summary(path: Path) -> dict[str, Any]:
    """What every deliveries dataset must agree on."""
    import polars as pl

    columns = [
        "Completeness",
        "FinalDeliveryStatus",
        "RecipientDomain",
        "DurationMilliseconds",
    ]
    df = pl.read_parquet(path, columns=columns)

    def counts(column: str) -> dict[str, int]:
        grouped = df.group_by(column).len()
        return {str(k): int(v) for k, v in grouped.iter_rows()}

    return {
        "rows": df.height,
        "completeness": dict(sorted(counts("Completeness").items())),
        "statuses": dict(sorted(counts("FinalDeliveryStatus").items())),
        "domains": dict(sorted(counts("RecipientDomain").items())),
        "duration_ms_sum": int(df["DurationMilliseconds"].sum()),
    }


def acsmail_report_summary(path: Path) -> dict[str, Any]:
    """acsmail's report JSON, reduced to the figures the others compute."""
    sys.path.insert(0, str(HERE))
    from common import report_summary

    report = json.loads(path.read_text())
    overview = report["overview"][0]
    overall = next(row for row in report["latency"] if row["scope"] == "(all)")
    names = ("recipients_final", "pending_messages", "no_send_record", "clock_skew")
    return report_summary(
        overview={name: overview[name] for name in names},
        statuses={row["status"]: row["recipients"] for row in report["statuses"]},
        domains={
            row["domain"]: [
                row["total"],
                row["delivered"],
                row["bounced"],
                row["failed"],
            ]
            for row in report["domains"]
        },
        latency={
            name: overall[name]
            for name in ("delivered", "p50", "p90", "p95", "p99", "max")
        },
    )


def summary_of(target: str, output: Path) -> dict[str, Any]:
    if target.endswith("deliveries"):
        return deliveries_summary(output)
    if target.startswith("acsmail"):
        return acsmail_report_summary(output)
    summary: dict[str, Any] = json.loads(output.read_text())["summary"]
    return summary


def differences(expected: Any, actual: Any, where: str = "") -> list[str]:
    """Human-readable differences between two summaries (a few per dict)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found: list[str] = []
        keys = sorted(set(expected) | set(actual), key=str)
        bad = [k for k in keys if expected.get(k) != actual.get(k)]
        for key in bad[:5]:
            found += differences(expected.get(key), actual.get(key), f"{where}/{key}")
        if len(bad) > 5:
            found.append(f"{where}: {len(bad) - 5} more keys differ")
        return found
    if expected != actual:
        return [f"{where or '/'}: acsmail {expected!r}, this {actual!r}"]
    return []


def compare(runs: dict[str, Run], work: Path) -> dict[str, Any]:
    """Check DuckDB and pandas against acsmail, job by job."""
    checks: dict[str, Any] = {}
    for job in ("deliveries", "report"):
        reference = f"acsmail-{job}"
        if reference not in runs or not runs[reference].ok:
            continue
        expected = summary_of(reference, output_of(reference, work))
        checks[job] = {"acsmail": _digest(expected)}
        for tool in ("duckdb", "pandas"):
            target = f"{tool}-{job}"
            if target not in runs or not runs[target].ok:
                continue
            actual = summary_of(target, output_of(target, work))
            found = differences(expected, actual)
            checks[job][tool] = {"equal": not found, "differences": found}
            for line in found:
                print(f"MISMATCH {target}: {line}", file=sys.stderr)
        checks[job]["figures"] = {
            key: value for key, value in expected.items() if key != "domains"
        }
        checks[job]["figures"]["domains"] = len(expected.get("domains", {}))
    return checks


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# --------------------------------------------------------------------------
# Ratios and goals.
# --------------------------------------------------------------------------


def _ratio(a: Run | None, b: Run | None, attribute: str) -> float | None:
    if a is None or b is None or not (a.ok and b.ok):
        return None
    denominator = getattr(b, attribute)
    return round(getattr(a, attribute) / denominator, 3) if denominator else None


def ratios(runs: dict[str, Run]) -> dict[str, float | None]:
    """Each target against the floor, and acsmail against DuckDB and pandas.

    CPU-time ratios stand beside the wall-time ones: on a busy machine they
    say more about the work done than the clock does.
    """
    floor = runs.get("floor")
    found: dict[str, float | None] = {}
    for target, run in runs.items():
        if target != "floor":
            found[f"{target} / floor (time)"] = _ratio(run, floor, "wall_s")
            found[f"{target} / floor (CPU)"] = _ratio(run, floor, "cpu_s")
            found[f"{target} / floor (RSS)"] = _ratio(run, floor, "peak_rss_mib")
    for job in ("report", "deliveries"):
        acsmail, duck = runs.get(f"acsmail-{job}"), runs.get(f"duckdb-{job}")
        pandas = runs.get(f"pandas-{job}")
        for label, attribute in (("time", "wall_s"), ("CPU", "cpu_s")):
            found[f"acsmail / DuckDB {job} ({label})"] = _ratio(
                acsmail, duck, attribute
            )
            found[f"pandas / acsmail {job} ({label})"] = _ratio(
                pandas, acsmail, attribute
            )
        found[f"acsmail / DuckDB {job} (RSS)"] = _ratio(acsmail, duck, "peak_rss_mib")
        found[f"acsmail / pandas {job} (RSS)"] = _ratio(acsmail, pandas, "peak_rss_mib")
    return found


def goals(
    form: str, messages: int, found: dict[str, float | None], runs: dict[str, Run]
) -> list[dict[str, Any]]:
    """The issue's targets for this form, met or not (None: not measured)."""

    def check(name: str, key: str, limit: float, *, at_least: bool = False) -> None:
        value = found.get(key)
        met = (
            None if value is None else (value >= limit if at_least else value <= limit)
        )
        listed.append({"goal": name, "value": value, "limit": limit, "met": met})

    listed: list[dict[str, Any]] = []
    scale = "" if messages == 1_000_000 else f" (measured on {_messages(messages)})"
    if form == "ndjson":
        check(
            f"report within 1.3x the floor{scale}", "acsmail-report / floor (time)", 1.3
        )
        check(
            f"report faster than DuckDB{scale}", "acsmail / DuckDB report (time)", 1.0
        )
        check(
            f"report >= 10x faster than pandas{scale}",
            "pandas / acsmail report (time)",
            10.0,
            at_least=True,
        )
        check(
            f"report peak RSS <= DuckDB's{scale}", "acsmail / DuckDB report (RSS)", 1.0
        )
    if form == "csv":
        check(
            f"report within 1.3x the floor{scale}", "acsmail-report / floor (time)", 1.3
        )
        check(f"report <= 0.8x DuckDB{scale}", "acsmail / DuckDB report (time)", 0.8)
    report = runs.get("acsmail-report")
    if messages >= 10_000_000 and report is not None:
        rss_gib = report.peak_rss_mib / 1024 if report.ok else None
        listed.append(
            {
                "goal": f"report completes with peak RSS under 8 GiB{scale}",
                "value": rss_gib,
                "limit": 8.0,
                "met": None if rss_gib is None else rss_gib < 8.0,
            }
        )
    return listed


# --------------------------------------------------------------------------
# The extra measurements: many small files, classification, convert.
# --------------------------------------------------------------------------


def _has_switch(arguments: list[str], switch: str | None = None) -> bool:
    try:
        shown = subprocess.run(
            [ACSMAIL, *arguments, "--help"], capture_output=True, text=True, check=False
        )
    except OSError:
        return False
    return shown.returncode == 0 and (switch is None or switch in shown.stdout)


def tree_benchmark(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """A directory of ~2,000 small archive blobs against the same records in one."""
    resources = 3
    # Three categories per resource and hour; late statuses and opens add
    # a sparse tail of hours, so aim a little under the wanted count.
    hours = max(1.0, TREE_FILES / (3 * resources) - 4)
    tree, info = dataset(
        args.data, "archive", args.tree_messages, args.seed, hours, args.timeout
    )
    one = args.data / f"{tree.name}-one"
    if not one.exists():
        one.mkdir(parents=True)
        with (one / "PT1H.json").open("wb") as out:
            for path in sorted(p for p in tree.rglob("*.json")):
                out.write(path.read_bytes())
    work = args.out / "work" / "tree"
    warm(tree)
    warm(one)
    runs = {}
    for label, source in (("directory", tree), ("one-file", one)):
        out = work / f"report-{label}.json"
        cmd = [ACSMAIL, "report", str(source), "-f", "json", "-o", str(out)]
        runs[label] = measure(cmd, work / f"{label}.log", args.timeout)
    section: dict[str, Any] = {
        "data": info,
        "files": info.get("files"),
        "runs": {name: asdict(run) for name, run in runs.items()},
        "directory / one file (time)": _ratio(
            runs["directory"], runs["one-file"], "wall_s"
        ),
    }
    if all(run.ok for run in runs.values()):
        a = acsmail_report_summary(work / "report-directory.json")
        b = acsmail_report_summary(work / "report-one-file.json")
        section["same report"] = a == b
    ratio = section["directory / one file (time)"]
    section["goal"] = {
        "goal": "a directory of 2,000 small files within 2x one file",
        "value": ratio,
        "limit": 2.0,
        "met": None if ratio is None else ratio <= 2.0,
    }
    results["tree"] = section


def classify_benchmark(
    form: str, data: Path, work: Path, args: argparse.Namespace, runs: dict[str, Run]
) -> dict[str, Any]:
    if not _has_switch(["deliveries"], NO_CLASSIFY_FLAG):
        return {
            "skipped": f"acsmail deliveries has no {NO_CLASSIFY_FLAG} switch yet; "
            f"set NO_CLASSIFY_FLAG in benchmarks/run.py once it has one"
        }
    out = work / "acsmail-deliveries-noclassify.parquet"
    cmd = [*command("acsmail-deliveries", form, data, out), NO_CLASSIFY_FLAG]
    bare = measure(cmd, work / "acsmail-deliveries-noclassify.log", args.timeout)
    full = runs.get("acsmail-deliveries")
    return {
        "without": asdict(bare),
        "with / without (time)": _ratio(full, bare, "wall_s"),
    }


#: Runs of a report on the converted export, of which the fastest counts: a
#: command of about a second varies by half of that between runs on a VM.
SHORT_RUNS: Final = 5


def _fastest(command: list[str], log: Path, timeout: float) -> tuple[Run, list[float]]:
    """The fastest of ``SHORT_RUNS`` runs of a short command, and every time."""
    runs = [measure(command, log, timeout) for _ in range(SHORT_RUNS)]
    times = [run.wall_s for run in runs]
    good = [run for run in runs if run.ok]
    return (min(good, key=lambda run: run.wall_s) if good else runs[-1]), times


def _messages(count: int) -> str:
    return "1M messages" if count == 1_000_000 else f"{count:,} messages"


def convert_benchmark(
    data: Path, work: Path, args: argparse.Namespace
) -> dict[str, Any]:
    if not _has_switch(["convert"]):
        return {
            "skipped": "acsmail has no convert command yet; CONVERT_COMMAND in "
            "benchmarks/run.py says how it will be called"
        }
    converted = work / "converted"
    if converted.exists():
        shutil.rmtree(converted)
    arguments = [part.format(inputs=data, output=converted) for part in CONVERT_COMMAND]
    conversion = measure([ACSMAIL, *arguments], work / "convert.log", args.timeout)
    out = work / "report-converted.json"
    cmd = [ACSMAIL, "report", str(converted), "-f", "json", "-o", str(out)]
    report, report_times = _fastest(cmd, work / "report-converted.log", args.timeout)
    # A filter makes the report compute its sections from the saved rows
    # rather than print the saved ones: measured too.
    filtered_out = work / "report-converted-filtered.json"
    filtered, filtered_times = _fastest(
        [*cmd[:-1], str(filtered_out), *CONVERTED_FILTER],
        work / "report-converted-filtered.log",
        args.timeout,
    )
    direct = output_of("acsmail-report", work)
    same = None
    if report.ok and direct.exists():
        same = json.loads(out.read_text()) == json.loads(direct.read_text())
    return {
        "convert": asdict(conversion),
        "report": asdict(report),
        "report_wall_s": report_times,
        "filtered_report": asdict(filtered),
        "filtered_report_wall_s": filtered_times,
        "filter": " ".join(CONVERTED_FILTER),
        "same_as_direct_report": same,
        "goal": {
            "goal": "report on the converted export under 1 s "
            f"({_messages(args.messages)})",
            "value": report.wall_s if report.ok else None,
            "limit": 1.0,
            "met": report.ok and report.wall_s < 1.0 if conversion.ok else None,
        },
    }


# --------------------------------------------------------------------------
# The whole run.
# --------------------------------------------------------------------------


def bench_form(form: str, args: argparse.Namespace) -> dict[str, Any]:
    data, info = dataset(
        args.data, form, args.messages, args.seed, args.hours, args.timeout
    )
    work = args.out / "work" / form
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"{form}: {info['files']} files, {info['bytes'] / 2**30:.2f} GiB",
        file=sys.stderr,
    )
    cold_read = warm(data)
    runs: dict[str, Run] = {}
    all_runs: dict[str, list[dict[str, Any]]] = {}
    # With repeats, each round runs every target once: a machine that
    # drifts faster or slower over the run then favours no target.
    for attempt in range(args.repeat):
        for target in args.targets:
            output = output_of(target, work)
            output.unlink(missing_ok=True)
            run = measure(
                command(target, form, data, output),
                work / f"{target}-{attempt}.log",
                args.timeout,
            )
            all_runs.setdefault(target, []).append(asdict(run))
            shown = f"{run.wall_s:8.2f} s {run.peak_rss_mib:8.0f} MiB"
            print(f"  {target:20} {shown} {run.error}", file=sys.stderr)
            best = runs.get(target)
            if best is None or (run.ok and (not best.ok or run.wall_s < best.wall_s)):
                runs[target] = run
    found = ratios(runs)
    return {
        "data": info,
        "first read of the files (s)": cold_read,
        "runs": {target: asdict(run) for target, run in runs.items()},
        "all_runs": all_runs,
        "ratios": found,
        "goals": goals(form, args.messages, found, runs),
        "checks": compare(runs, work),
        "classify": {}
        if args.no_extras
        else classify_benchmark(form, data, work, args, runs),
        "convert": convert_benchmark(data, work, args)
        if form == args.forms[0] and not args.no_extras
        else {},
    }


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in ("polars", "duckdb", "pandas", "pyarrow", "numpy"):
        try:
            module = __import__(name)
            found[name] = str(module.__version__)
        except ImportError:
            found[name] = "absent"
    acsmail = subprocess.run(
        [ACSMAIL, "--version"], capture_output=True, text=True, check=False
    )
    found["acsmail"] = (
        acsmail.stdout.strip().removeprefix("acsmail, version ") or "absent"
    )
    return found


def _machine() -> dict[str, Any]:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(memory / 2**30, 1),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--forms", default="ndjson,csv")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=7200.0)
    parser.add_argument(
        "--max-rss-gib",
        type=float,
        default=16.0,
        help="kill a run whose memory grows past this (the machine may be shared)",
    )
    parser.add_argument(
        "--tree", action="store_true", help="also time 2,000 small archive blobs"
    )
    parser.add_argument("--tree-messages", type=int, default=100_000)
    parser.add_argument(
        "--no-extras",
        action="store_true",
        help="measure the targets only: no classification, convert or tree run",
    )
    parser.add_argument(
        "--tree-only",
        action="store_true",
        help="run the --tree measurement alone, updating earlier results",
    )
    parser.add_argument(
        "--convert-only",
        action="store_true",
        help="run the convert measurement alone (first form), updating earlier results",
    )
    args = parser.parse_args(argv)
    args.forms = [form for form in args.forms.split(",") if form]
    unknown_forms = set(args.forms) - set(FORMS)
    if unknown_forms or not args.forms:
        named = ", ".join(sorted(unknown_forms)) or "nothing"
        parser.error(f"--forms takes {', '.join(FORMS)}, not {named}")
    args.targets = [target for target in args.targets.split(",") if target]
    unknown = set(args.targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    args.out, args.data = args.out.resolve(), args.data.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    _SHOWN[:0] = [(str(args.data), "<data>"), (str(args.out), "<out>")]
    _LIMITS["rss_bytes"] = int(args.max_rss_gib * 2**30)
    partial = args.tree_only or args.convert_only
    results = _earlier(args) if partial else None
    if results is None:
        results = {
            "parameters": {
                "messages": args.messages,
                "forms": args.forms,
                "seed": args.seed,
                "hours": args.hours,
                "repeat": args.repeat,
                "targets": args.targets,
            },
            "machine": _machine(),
            "versions": _versions(),
            "forms": {},
        }
    if not partial:
        for form in args.forms:
            results["forms"][form] = bench_form(form, args)
    if args.tree or args.tree_only:
        tree_benchmark(args, results)
    if args.convert_only:
        form = args.forms[0]
        data, _ = dataset(
            args.data, form, args.messages, args.seed, args.hours, args.timeout
        )
        warm(data)
        work = args.out / "work" / form
        converted = convert_benchmark(data, work, args)
        if form in results["forms"]:
            results["forms"][form]["convert"] = converted
        else:
            results.setdefault("convert", {})[form] = converted
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    problems = _problems(results)
    results["problems"] = problems
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    sys.path.insert(0, str(HERE))
    from report_md import render

    (args.out / "results.md").write_text(render(results))
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    print(f"wrote {args.out / 'results.md'}", file=sys.stderr)
    return 1 if problems else 0


def _earlier(args: argparse.Namespace) -> dict[str, Any] | None:
    """Results of an earlier full run with the same parameters, to update."""
    path = args.out / "results.json"
    if not path.exists():
        return None
    earlier: dict[str, Any] = json.loads(path.read_text())
    same = all(
        earlier["parameters"].get(key) == getattr(args, key)
        for key in ("messages", "seed", "hours")
    )
    return earlier if same else None


def _problems(results: dict[str, Any]) -> list[str]:
    """Failed runs and disagreeing outputs: what must not pass unnoticed."""
    found = []
    for form, section in results["forms"].items():
        for target, run in section["runs"].items():
            if run["exit_code"]:
                found.append(f"{form} {target} failed: {run['error']}")
        for job, checks in section["checks"].items():
            for tool in ("duckdb", "pandas"):
                if tool in checks and not checks[tool]["equal"]:
                    found.append(f"{form} {tool}-{job} disagrees with acsmail")
    tree = results.get("tree", {})
    for label, run in tree.get("runs", {}).items():
        if run["exit_code"]:
            found.append(f"tree {label} failed: {run['error']}")
    if tree.get("same report") is False:
        found.append("tree: the directory and the one file give different reports")
    return found


if __name__ == "__main__":
    sys.exit(main())
