#!/usr/bin/env python
"""Assemble ``benchmarks/RESULTS.md`` from the scripts' result files.

    .venv/bin/python benchmarks/_report.py [--results-dir DIR] [--output FILE]

Reads every ``<script>.json`` in ``benchmarks/results/`` (see ``_common.py`` for the format)
and writes one table: each figure, its value, the target and whether it was met, and the
command that produced it. A script that did not finish is listed as such. The "## Notes"
section of an existing RESULTS.md (written by hand: what was profiled and fixed) is kept.
Exits 1 if a script did not finish, so that ``make bench`` fails.
"""

import argparse
import json
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
NOTES = "## Notes"


def cell(value):
    return str(value).replace("|", "\\|").replace("\n", " ")


def shown(value):
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"
    return str(value)


def verdict(met):
    return {True: "yes", False: "**no**", None: "–"}[met]


def build(results):
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`benchmarks/_report.py`) from `benchmarks/results/*.json`; "
        "see docs/benchmarks.md. Each figure comes from one run of the "
        "command beside it on this machine (2 cores, shared with other work).",
        "",
    ]
    table = [
        "| Benchmark | Figure | Value | Target | Met | Detail | Command |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    runs = ["## Runs", ""]
    unfinished = []
    for data in results:
        state = "finished" if data.get("finished") else "**did not finish**"
        seconds = f" in {data['seconds']:.0f} s" if data.get("seconds") else ""
        runs.append(f"- `{data['script']}`: {data.get('database', '?')}, started "
                    f"{data.get('started_at', '?')}, {state}{seconds}.")
        if not data.get("finished"):
            unfinished.append(data["script"])
            table.append(f"| {data['script']} | **did not finish** (see `make bench` output) "
                         f"| | | **no** | | `{cell(data.get('command', ''))}` |")
        for f in data.get("figures", []):
            table.append(
                f"| {data['script']} | {cell(f['name'])} "
                f"| {cell(shown(f['value']))} {cell(f['unit'])} "
                f"| {cell(f.get('target') or '–')} | {verdict(f.get('met'))} "
                f"| {cell(f.get('detail') or '')} | `{cell(f.get('command'))}` |"
            )
    return lines + table + [""] + runs + [""], unfinished


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results-dir", default=BENCH_DIR / "results", type=Path)
    p.add_argument("--output", default=BENCH_DIR / "RESULTS.md", type=Path)
    args = p.parse_args()
    results = []
    for path in sorted(args.results_dir.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except ValueError:
            continue
        if isinstance(data, dict) and "figures" in data and "script" in data:
            results.append(data)
    lines, unfinished = build(results)
    missed = [f"{d['script']}: {f['name']}" for d in results for f in d["figures"]
              if f.get("met") is False]
    summary = [
        "## Summary",
        "",
        f"{sum(len(d['figures']) for d in results)} figures from {len(results)} scripts; "
        f"{sum(1 for d in results for f in d['figures'] if f.get('met') is not None)} with a "
        f"target, {len(missed)} missed" + (": " + "; ".join(missed) if missed else "") + ".",
        "",
    ]
    notes = []
    if args.output.exists():
        text = args.output.read_text()
        if NOTES in text:
            notes = text[text.index(NOTES):].rstrip("\n").splitlines() + [""]
    args.output.write_text("\n".join(lines[:4] + summary + lines[4:] + notes))
    print(f"{args.output}: {len(results)} scripts, {len(missed)} targets missed"
          + (f", unfinished: {', '.join(unfinished)}" if unfinished else ""))
    return 1 if unfinished else 0


if __name__ == "__main__":
    sys.exit(main())
