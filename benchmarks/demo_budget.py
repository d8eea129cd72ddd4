"""Wall time and peak memory of the offline demo (`snakemake --cores 2` on config/config.yaml).

    python benchmarks/demo_budget.py [--cores 2] [--only mnist] [--keep]

Copies the tracked files of this checkout into a fresh temporary folder, runs the demo there (so no
previous result is reused; downloads from the package index are repeated) and prints a table: wall
time, peak resident memory of the whole process tree (Snakemake + every job, sampled every 0.2 s) and
the slowest rules. Budgets: whole demo ≤ 10 min and ≤ 4 GB on 2 cores; MNIST ≤ 2 min, brain ≤ 3 min,
cells ≤ 2.5 min, MVTec-like ≤ 2.5 min (`--only <experiment>` runs one experiment alone).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
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


def run_demo(work: Path, cores: int, only: str | None) -> tuple[float, int, int]:
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(cores)]
    if only:
        cfg = yaml.safe_load((work / "config" / "config.yaml").read_text())
        overlay = {e: {"enabled": e == only} for e in EXPERIMENTS if e in cfg}
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
    ap.add_argument("--only", choices=EXPERIMENTS, help="run a single experiment of the demo")
    ap.add_argument("--keep", action="store_true", help="keep the temporary working copy")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="anoloc-demo-"))
    try:
        copy_checkout(work)
        wall, peak, rc = run_demo(work, args.cores, args.only)
        label = args.only or "whole demo"
        print("| run | cores | wall | peak RSS (process tree) | exit |\n|---|---|---|---|---|")
        print(f"| {label} | {args.cores} | {wall / 60:.2f} min ({wall:.0f} s) | {peak / 2**30:.2f} GiB | {rc} |")
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
