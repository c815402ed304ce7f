"""Render benchmark results (the dict written to results.json) as Markdown."""

from __future__ import annotations

from typing import Any

_NAMES = {"ndjson": "JSON Lines (data export)", "csv": "portal CSV"}


def _number(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "**NOT met**", None: "not measured"}[met]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _runs(section: dict[str, Any]) -> list[str]:
    ratios = section["ratios"]
    rows = []
    for target, run in section["runs"].items():
        status = "ok" if run["exit_code"] == 0 else f"failed: {run['error'][:80]}"
        rows.append(
            [
                f"`{target}`",
                _number(run["wall_s"]),
                _number(run["cpu_s"]),
                _number(run["peak_rss_mib"], 0),
                _number(ratios.get(f"{target} / floor (time)")),
                _number(ratios.get(f"{target} / floor (CPU)")),
                _number(ratios.get(f"{target} / floor (RSS)")),
                status,
            ]
        )
    header = ["target", "wall s", "CPU s", "peak RSS MiB", "time / floor"]
    return _table([*header, "CPU / floor", "RSS / floor", "status"], rows)


def _goals(listed: list[dict[str, Any]]) -> list[str]:
    rows = [
        [
            item["goal"],
            _number(item["value"], 3),
            _number(item["limit"]),
            _verdict(item["met"]),
        ]
        for item in listed
    ]
    return _table(["goal", "value", "limit", "verdict"], rows) if rows else []


def _checks(checks: dict[str, Any]) -> list[str]:
    lines = []
    for job, found in checks.items():
        figures = found.get("figures", {})
        lines.append(
            f"- **{job}**: acsmail's figures: "
            + ", ".join(f"{k} {v}" for k, v in figures.items())
        )
        for tool in ("duckdb", "pandas"):
            if tool not in found:
                continue
            if found[tool]["equal"]:
                lines.append(f"  - {tool}: same results")
            else:
                lines.append(f"  - {tool}: **MISMATCH**")
                lines += [f"    - `{d}`" for d in found[tool]["differences"]]
    return [*lines, ""]


def _ratios(ratios: dict[str, Any]) -> list[str]:
    rows = [
        [name, _number(value, 3)]
        for name, value in ratios.items()
        if "/ floor" not in name and value is not None
    ]
    return _table(["ratio", "value"], rows) if rows else []


def _convert(converted: dict[str, Any]) -> list[str]:
    if "skipped" in converted:
        return [f"Convert: skipped, {converted['skipped']}.", ""]
    conversion, report = converted["convert"], converted["report"]
    lines = [
        f"`acsmail convert` took {_number(conversion['wall_s'])} s (peak RSS "
        f"{_number(conversion['peak_rss_mib'], 0)} MiB); `acsmail report` on the "
        f"converted tables took {_number(report['wall_s'])} s (peak RSS "
        f"{_number(report['peak_rss_mib'], 0)} MiB).",
    ]
    times = converted.get("report_wall_s")
    if times:
        shown = ", ".join(_number(time) for time in times)
        lines.append(
            f"Each report on the converted export ran {len(times)} times; the "
            f"fastest counts (all runs: {shown} s)."
        )
    filtered = converted.get("filtered_report")
    if filtered:
        lines.append(
            f"With `{converted['filter']}`, which computes the sections from the "
            f"saved deliveries instead of printing the saved ones, it took "
            f"{_number(filtered['wall_s'])} s (peak RSS "
            f"{_number(filtered['peak_rss_mib'], 0)} MiB)."
        )
    same = converted.get("same_as_direct_report")
    if same is not None:
        verdict = "the same as" if same else "**different from**"
        lines.append(
            f"The report on the converted export is {verdict} the report "
            "on the export itself."
        )
    return [" ".join(lines), "", *_goals([converted["goal"]])]


def _extras(section: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    classify = section.get("classify") or {}
    if "skipped" in classify:
        lines += [f"Classification overhead: skipped, {classify['skipped']}.", ""]
    elif classify:
        ratio = _number(classify["with / without (time)"], 3)
        lines += [f"Classification overhead: with / without = {ratio}.", ""]
    if section.get("convert"):
        lines += _convert(section["convert"])
    return lines


def render(results: dict[str, Any]) -> str:
    parameters, machine, versions = (
        results["parameters"],
        results["machine"],
        results["versions"],
    )
    lines = ["# acsmail benchmark results", ""]
    if results["problems"]:
        lines += ["## Problems", ""]
        lines += [f"- **{p}**" for p in results["problems"]] + [""]
    lines += [
        f"{parameters['messages']:,} messages, seed {parameters['seed']}; "
        f"{machine['cpus']} CPUs, {machine['memory_gib']} GiB "
        f"(load average {machine['load_average_at_start']} at the start, "
        f"{machine.get('load_average_at_end', '-')} at the end); "
        + ", ".join(f"{k} {v}" for k, v in versions.items()),
        "",
        "Every target ran as its own process on the same files, read once "
        "beforehand so all find them in the page cache. Peak RSS is the "
        "process's own `ru_maxrss`.",
        "",
    ]
    for form, section in results["forms"].items():
        data = section["data"]
        generated = data.get("generate", {})
        lines += [
            f"## {_NAMES.get(form, form)}",
            "",
            f"{data['files']:,} files, {data['bytes'] / 2**30:.2f} GiB; generated in "
            f"{_number(generated.get('wall_s'))} s with peak RSS "
            f"{_number(generated.get('peak_rss_mib'), 0)} MiB"
            + (" (reused)" if data.get("reused") else "")
            + f"; first read {section['first read of the files (s)']} s.",
            "",
            *_runs(section),
            *_ratios(section["ratios"]),
            *_goals(section["goals"]),
            "Agreement with acsmail:",
            "",
            *_checks(section["checks"]),
        ]
        lines += _extras(section)
    for form, converted in results.get("convert", {}).items():
        lines += [f"## After `acsmail convert` ({form})", "", *_convert(converted)]
    tree = results.get("tree")
    if tree:
        runs = tree["runs"]
        lines += [
            "## Many small files",
            "",
            f"{_number(tree['files'])} archive blobs "
            f"({tree['data']['bytes'] / 2**20:.0f} MiB) against the same records "
            f"in one file: directory {_number(runs['directory']['wall_s'])} s, "
            f"one file {_number(runs['one-file']['wall_s'])} s, ratio "
            f"{_number(tree['directory / one file (time)'], 3)}; same report: "
            f"{tree.get('same report', '-')}.",
            "",
            *_goals([tree["goal"]]),
        ]
    return "\n".join(lines).rstrip() + "\n"
