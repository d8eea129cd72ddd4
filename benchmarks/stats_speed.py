"""Speed (and binning error) of the claims-ledger statistics at realistic sizes, on simulated scores.

Prints one table row per computation:
- the paired grouped bootstrap of pooled pixel AUROC, AP and Dice (brain-like: `--groups` patients × `--pixels`
  pixels each, ~2 % positives), split into building the per-group counts and the resampling itself;
- the binning error of the pooled pixel AUROC / AP at `--levels` levels against the exact value
  (`anoloc.metrics.pooled_curves`), with the bound the bootstrap reports;
- the sample-level paired bootstrap and DeLong for a FashionMNIST-sized test set (`--samples` images).

Usage: nice -n 10 python benchmarks/stats_speed.py [--groups 300] [--pixels 100000] [--resamples 2000]
       [--levels 4096] [--samples 10000] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from anoloc import metrics, stats


def simulate_pixels(n_groups: int, n_pixels: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(labels (G, P), score_a, score_b (float32), group per row): ~2 % positives, per-group offsets."""
    rng = np.random.default_rng(seed)
    prevalence = rng.beta(1.0, 49.0, size=(n_groups, 1))
    y = rng.random((n_groups, n_pixels), dtype=np.float32) < prevalence
    offset = rng.normal(scale=0.3, size=(n_groups, 1)).astype(np.float32)
    common = rng.standard_normal((n_groups, n_pixels), dtype=np.float32) + offset
    a = common + 1.6 * y + 0.5 * rng.standard_normal((n_groups, n_pixels), dtype=np.float32)
    b = common + 1.3 * y + 0.5 * rng.standard_normal((n_groups, n_pixels), dtype=np.float32)
    return y, a, b, np.arange(n_groups)


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def row(name: str, seconds: float, note: str) -> None:
    print(f"{name:58s} {seconds:8.2f}  {note}")


def interval(r) -> str:
    return f"diff {r.estimate:+.4f} [{r.ci_low:+.4f}, {r.ci_high:+.4f}]"


def pixel_rows(args: argparse.Namespace) -> None:
    y, a, b, groups = simulate_pixels(args.groups, args.pixels, args.seed)
    print(f"pixels: {args.groups} groups × {args.pixels} = {y.size:.3g} pixels, {y.mean():.2%} positive; ", end="")
    print(f"{args.resamples} resamples, {args.levels} levels\n")
    print(f"{'computation':58s} {'seconds':>8s}  note")
    order = np.argsort(a.ravel(), kind="stable")[::-1]
    for metric in ("auroc", "ap"):
        kw = {"metric": metric, "max_levels": args.levels}
        sa, t_a = timed(stats.pooled_statistic, y, a, groups, **kw)
        sb, t_b = timed(stats.pooled_statistic, y, b, groups, **kw)
        res, t_boot = timed(stats.group_bootstrap, stats.Difference(sa, sb), n_resamples=args.resamples, seed=args.seed)
        row(f"pixel {metric}: per-group counts, two scores", t_a + t_b, f"{sa.counts.n_levels} levels")
        row(f"pixel {metric}: paired bootstrap", t_boot, interval(res))
        curves, t_exact = timed(metrics.pooled_curves, y.ravel(), a.ravel(), order)
        err = abs(float(sa(np.ones((1, args.groups)))[0]) - curves[metric])
        row(
            f"pixel {metric}: exact value, one score (curve, presorted)",
            t_exact,
            f"|binned − exact| = {err:.2e} (bound {sa.approx_bound:.2e})",
        )
    da, t_a = timed(stats.dice_statistic, y, a, groups, 1.5)
    db, t_b = timed(stats.dice_statistic, y, b, groups, 1.3)
    res, t_boot = timed(stats.group_bootstrap, stats.Difference(da, db), n_resamples=args.resamples, seed=args.seed)
    row("pixel dice: per-group counts, two scores", t_a + t_b, "exact")
    row("pixel dice: paired bootstrap", t_boot, interval(res))


def sample_rows(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed)
    y = rng.random(args.samples) < 0.1
    common = rng.normal(size=args.samples)
    a, b = common + 1.5 * y + rng.normal(size=args.samples), common + 1.2 * y + rng.normal(size=args.samples)
    res, t = timed(stats.paired_bootstrap, y, a, b, n_resamples=args.resamples, seed=args.seed)
    row(f"samples: paired AUROC bootstrap, {args.samples} samples (exact)", t, interval(res))
    dl, t = timed(stats.delong_paired, y, a, b)
    row(f"samples: DeLong paired, {args.samples} samples", t, interval(dl))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--groups", type=int, default=300)
    ap.add_argument("--pixels", type=int, default=100_000)
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--levels", type=int, default=4096)
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    pixel_rows(args)
    sample_rows(args)


if __name__ == "__main__":
    main()
