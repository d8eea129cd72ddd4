"""Wall time and peak memory of the offline demo (`snakemake --cores 2` on config/config.yaml).

    python benchmarks/demo_budget.py [--cores 2] [--only mnist] [--original] [--keep]

Copies the tracked files of this checkout into a fresh temporary folder, runs the demo there (so no
previous result is reused; downloads from the package index are repeated) and prints tables: wall
time and peak resident memory of the whole process tree (Snakemake + every job, sampled every 0.2 s);
per experiment its jobs, the span from its first job's start to its last job's end, the summed job
time and the job-start overhead (a fresh Python importing what the experiment's scripts import, times
its jobs); the slowest rules. Budgets: whole demo ≤ 10 min and ≤ 4 GB on 2 cores; the four original
experiments (`--original`: mnist, brain, cells, mvtec; claims and matrix off) ≤ 4 min
(`--only <experiment>` runs one experiment alone).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ("mnist", "brain", "cells", "mvtec")
OPTIONAL = ("claims", "matrix")  # built on the four original experiments
# what a job of each experiment imports before it works (its scripts' heaviest module)
JOB_IMPORTS = {
    "mnist": "anoloc.experiments.mnist.steps",
    "brain": "anoloc.experiments.brain.steps",
    "cells": "anoloc.experiments.cells.steps",
    "mvtec": "anoloc.experiments.mvtec.steps",
    "claims": "anoloc.experiments.claims.tables",
    "matrix": "anoloc.experiments.matrix.steps",
}


def copy_checkout(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()  # fmt: skip
    for f in files:
        src = ROOT / f
        if src.is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f)


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def run_demo(work: Path, cores: int, enabled: set[str] | None) -> tuple[float, int, int]:
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(cores)]
    if enabled is not None:
        cfg = yaml.safe_load((work / "config" / "config.yaml").read_text())
        overlay = {e: {"enabled": e in enabled} for e in (*EXPERIMENTS, *OPTIONAL) if e in cfg}
        (work / "only.yaml").write_text(yaml.safe_dump(overlay))
        cmd += ["--configfile", "only.yaml"]
    t0 = time.perf_counter()
    log = work / "demo.log"  # a file, not a pipe: Snakemake's log of a whole demo overflows a pipe buffer
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=work, stdout=fh, stderr=subprocess.STDOUT)
        ps, peak = psutil.Process(proc.pid), 0
        while proc.poll() is None:
            peak = max(peak, tree_rss(ps))
            time.sleep(0.2)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(log.read_text(errors="replace")[-4000:], file=sys.stderr)
    return wall, peak, proc.returncode


def job_times(log: Path) -> list[tuple[str, float, float]]:
    """(rule, start, end) of every finished job, from the timestamps of Snakemake's log (1 s resolution)."""
    stamp, starts, rules, out = None, {}, {}, []
    rule = None
    for line in log.read_text(errors="replace").splitlines():
        if m := re.fullmatch(r"\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]", line.strip()):
            stamp = time.mktime(time.strptime(m[1], "%a %b %d %H:%M:%S %Y"))
        elif m := re.match(r"(?:local)?rule (\w+):", line):
            rule = m[1]
        elif (m := re.match(r"\s+jobid: (\d+)", line)) and rule is not None:
            starts[m[1]], rules[m[1]] = stamp, rule
            rule = None
        elif (m := re.match(r"Finished jobid: (\d+)", line)) and m[1] in starts:
            out.append((rules[m[1]], starts[m[1]], stamp))
    return out


def import_seconds(module: str, repeats: int = 2) -> float:
    """Wall time of a fresh Python importing `module` (the best of `repeats`): a job's start-up cost."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import anoloc.jobs, {module}"], cwd=ROOT, check=True)
        best = min(best, time.perf_counter() - t0)
    return best


def per_experiment(jobs: list[tuple[str, float, float]]) -> list[tuple[str, int, float, float, float]]:
    """(experiment, jobs, span s, summed job s, start-up overhead s) per experiment of the run."""
    rows = []
    for exp in (*EXPERIMENTS, *OPTIONAL):
        mine = [(s, e) for rule, s, e in jobs if rule.startswith(f"{exp}_")]
        if not mine:
            continue
        span = max(e for _, e in mine) - min(s for s, _ in mine)
        overhead = len(mine) * import_seconds(JOB_IMPORTS[exp])
        rows.append((exp, len(mine), span, sum(e - s for s, e in mine), overhead))
    return rows


def slowest_rules(work: Path, n: int = 8) -> list[tuple[str, float, float]]:
    by_rule: dict[str, list[float]] = {}
    for tsv in (work / "results" / "benchmarks").rglob("*.tsv"):
        with open(tsv) as fh:
            row = next(csv.DictReader(fh, delimiter="\t"))
        by_rule.setdefault(tsv.relative_to(work / "results" / "benchmarks").parts[0], []).append(float(row["s"]))
    rows = [(rule, sum(t), max(t)) for rule, t in by_rule.items()]
    return sorted(rows, key=lambda r: -r[1])[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--only", choices=(*EXPERIMENTS, *OPTIONAL), help="run a single experiment of the demo")
    ap.add_argument("--original", action="store_true", help="the four original experiments only (claims, matrix off)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary working copy")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="anoloc-demo-"))
    try:
        copy_checkout(work)
        enabled = {args.only} if args.only else set(EXPERIMENTS) if args.original else None
        wall, peak, rc = run_demo(work, args.cores, enabled)
        label = args.only or ("the four original experiments" if args.original else "whole demo")
        jobs = job_times(work / "demo.log")
        print("| run | cores | jobs | wall | peak RSS (process tree) | exit |\n|---|---|---|---|---|---|")
        print(
            f"| {label} | {args.cores} | {len(jobs)} | {wall / 60:.2f} min ({wall:.0f} s) | {peak / 2**30:.2f} GiB "
            f"| {rc} |"
        )
        print("\n| experiment | jobs | span s | summed job s | job start-up s (jobs × import) |")
        print("|---|---:|---:|---:|---:|")
        for exp, n, span, total, overhead in per_experiment(jobs):
            print(f"| {exp} | {n} | {span:.0f} | {total:.0f} | {overhead:.0f} |")
        print("\n| rule (benchmarked jobs) | total s | slowest job s |\n|---|---:|---:|")
        for rule, total, worst in slowest_rules(work):
            print(f"| {rule} | {total:.1f} | {worst:.1f} |")
        if args.keep:
            print(f"\nworking copy kept at {work}")
        sys.exit(rc)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
