"""The matrix tables: one evaluator over every method's saved scores (torch-free).

Each source (`anoloc.experiments.matrix.layout.Source`) is read in its own file format — a paper experiment's
score file or a matrix score file — into the same arrays, then evaluated the same way:

- at the dataset's sample level (image, slice, cell): AUROC and AP (`anoloc.metrics`; label 1 = anomalous).
  Brain slices follow table2's rule: healthy = no tumour voxel, anomalous = more than
  `brain.evaluate.diseased_min_voxels`, slices in between left out;
- at the pixel level (datasets with masks), pooled over every pixel of every test image: AUROC and AP (one sort,
  `anoloc.metrics.pooled_curves`), AUPRO (FPR ≤ 0.3, `anoloc.metrics.aupro`) and the best Dice (the exact
  Dice-maximising threshold on the test pixels: an oracle, as table2's `dice_oracle`);
- cost, from the Snakemake benchmark records of the jobs that produced the cell: `fit_seconds` (wall time of the
  training job(s); empty for the kNN methods and baselines, which fit inside their scoring job), `score_seconds`
  (wall time of the scoring job) and `peak_mem_mb` (the largest peak resident memory of those jobs). Jobs that
  score several methods at once (a VAE scores all its maps) give each of them the same cost.

`matrix.csv` has one row per (method, dataset, subset, level, metric, seed); `matrix_summary.csv` one per (method,
dataset, level, metric): the value averaged over the subsets (held-out classes, MVTec categories) per seed, its
mean and standard deviation (ddof 1) over seeds, and a group-bootstrap interval of that mean (`anoloc.stats`: the
dataset's groups — images, patients, cells — are resampled with the same draws for every seed, the replicates
averaged over seeds and subsets); AUPRO and cost have no interval. Cells that cannot run (n/a) are rows with status
`not applicable` and the reason, never zeros.
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import DegenerateDataWarning

from anoloc import stats
from anoloc.calibrate import best_threshold
from anoloc.experiments.brain.tables import slice_sets
from anoloc.experiments.matrix import catalogue
from anoloc.experiments.matrix.layout import Source
from anoloc.io import load_npz, write_csv
from anoloc.metrics import aupro, auroc, average_precision, pooled_curves
from anoloc.utils import AnolocError, PathLike

log = logging.getLogger(__name__)

PIXEL = catalogue.PIXEL
COST = "cost"
NOT_APPLICABLE = "not applicable"  # the status of an n/a cell (not "n/a": pandas would read that as NaN)
SAMPLE_METRICS = ("auroc", "ap")
PIXEL_METRICS = ("auroc", "ap", "aupro", "dice")
COST_METRICS = ("fit_seconds", "score_seconds", "peak_mem_mb")
BOOTSTRAP_METRICS = ("auroc", "ap", "dice")
KEYS = ["method", "dataset", "subset", "level", "metric", "seed"]
COLUMNS = [*KEYS, "value", "kind", "adapter", "n_normal", "n_anomalous"]
SUMMARY_KEYS = ["method", "dataset", "level", "metric"]
SUMMARY_COLUMNS = [
    *SUMMARY_KEYS,
    "status",
    "mean",
    "std",
    "ci_low",
    "ci_high",
    "n_seeds",
    "n_subsets",
    "kind",
    "adapter",
    "note",
]


# -------------------------------------------------------------------------------------------- reading
@functools.lru_cache(maxsize=4)
def _npz(path: str) -> dict[str, np.ndarray]:
    return load_npz(path, "score file")


@functools.lru_cache(maxsize=8)
def _csv(path: str) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"name": str, "backbone": str, "split": str})


def _need(arrays: Mapping[str, Any], key: str, path: str) -> np.ndarray:
    if key not in arrays:
        raise AnolocError(f"{path} has no {key!r}; delete it and rerun the job that writes it")
    return np.asarray(arrays[key])


def read_sample(src: Source, diseased_min_voxels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, scores, groups) of a source at the dataset's sample level (brain: table2's slice selection)."""
    path = src.files[0]
    if src.reader in ("mnist", "cells", "mvtec"):
        df = _csv(path)
        y, s = df["label"].to_numpy(), _need(df, src.image_key, path)
        if src.reader == "mnist":
            g = df["index"].to_numpy()
        elif src.reader == "cells":
            g = (df["split"] + "/" + df["name"]).to_numpy()
        else:
            g = df["name"].to_numpy()
        return y, s, g
    a = _npz(path)
    s = _need(a, src.image_key, path)
    g = a["subject"] if src.reader == "brain" else a["group"]
    if "tumour_voxels" in a:  # brain slices: healthy vs diseased, in-between slices left out
        healthy, diseased = slice_sets(a["tumour_voxels"], diseased_min_voxels)
        keep = healthy | diseased
        return diseased[keep].astype(np.int64), s[keep], g[keep]
    return a["label"], s, g


def read_pixel(src: Source) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(masks (N, H, W), maps (N, H, W), groups (N,)) of a source at the pixel level."""
    if src.reader == "mvtec":
        scores, maps = _csv(src.files[0]), _npz(src.files[1])
        if list(scores["name"]) != [str(n) for n in maps["name"]]:
            raise AnolocError(f"{src.files[1]} and {src.files[0]} list different test images; rerun the scoring job")
        return maps["mask"], maps[src.pixel_key], scores["name"].to_numpy()
    a = _npz(src.files[0])
    if src.reader == "brain":
        return a["label"], _need(a, src.pixel_key, src.files[0]), a["subject"]
    return a["mask"], _need(a, src.pixel_key, src.files[0]), a["group"]


def read_benchmarks(files: Sequence[PathLike]) -> list[dict[str, float]]:
    """Wall seconds (`s`) and peak resident memory (`max_rss`, MB; NaN when not measured) of benchmark records."""
    out = []
    for f in files:
        b = pd.read_csv(f, sep="\t")
        rss = float(b["max_rss"].iloc[-1]) if "max_rss" in b else float("nan")
        rss = rss if rss > 0 else float("nan")  # too short a job to be sampled
        out.append({"s": float(b["s"].iloc[-1]), "max_rss": rss})
    return out


# ------------------------------------------------------------------------------------------ evaluation
def sample_metrics(y: np.ndarray, s: np.ndarray) -> dict[str, float]:
    return {"auroc": auroc(y, s), "ap": average_precision(y, s)}


def pixel_metrics(masks: np.ndarray, maps: np.ndarray, with_aupro: bool = True) -> tuple[dict[str, float], float]:
    """(AUROC, AP, AUPRO, best Dice) pooled over every pixel, and the best Dice's threshold."""
    y, v = np.asarray(masks).ravel().astype(bool), np.asarray(maps).ravel()
    order = np.argsort(v, kind="stable")[::-1]
    curves = pooled_curves(y, v, order)
    thr, dice = best_threshold(y, v, "exact", order=order)
    out = {"auroc": curves["auroc"], "ap": curves["ap"], "aupro": aupro(masks, maps) if with_aupro else float("nan")}
    return {**out, "dice": dice}, thr


def cost_metrics(src: Source) -> dict[str, float]:
    fit, score = read_benchmarks(src.fit), read_benchmarks(src.score)
    rss = [b["max_rss"] for b in fit + score if not np.isnan(b["max_rss"])]
    return {
        "fit_seconds": sum(b["s"] for b in fit) if fit else float("nan"),
        "score_seconds": sum(b["s"] for b in score) if score else float("nan"),
        "peak_mem_mb": max(rss) if rss else float("nan"),
    }


def evaluate(
    source_list: Iterable[Source], evaluate_cfg: Mapping[str, Any]
) -> tuple[pd.DataFrame, dict[tuple[str, ...], Any]]:
    """matrix.csv's rows and, per (method, dataset, subset, level, metric), the per-seed bootstrap statistics."""
    rows, statistics = [], {}
    dmv, with_aupro = int(evaluate_cfg["diseased_min_voxels"]), bool(evaluate_cfg["aupro"])
    for src in sorted(source_list, key=lambda s: (s.files, s.method, s.seed)):
        ds = catalogue.DATASETS[src.dataset]
        base = {"method": src.method, "dataset": src.dataset, "subset": src.subset, "seed": src.seed}
        extra = {"kind": src.kind, "adapter": src.adapter}
        if src.image_key:
            y, s, g = read_sample(src, dmv)
            counts = {"n_normal": int((y == 0).sum()), "n_anomalous": int((y == 1).sum())}
            for metric, value in sample_metrics(y, s).items():
                rows.append({**base, "level": ds.unit, "metric": metric, "value": value, **extra, **counts})
                stat = stats.pooled_statistic(y, s, g, metric=metric)
                statistics.setdefault((src.method, src.dataset, src.subset, ds.unit, metric), []).append(stat)
        if src.pixel_key:
            masks, maps, g = read_pixel(src)
            counts = {"n_normal": int((~masks.astype(bool)).sum()), "n_anomalous": int(masks.astype(bool).sum())}
            values, thr = pixel_metrics(masks, maps, with_aupro)
            for metric, value in values.items():
                if metric == "aupro" and not with_aupro:
                    continue
                rows.append({**base, "level": PIXEL, "metric": metric, "value": value, **extra, **counts})
                if metric in BOOTSTRAP_METRICS:
                    stat = stats.pooled_statistic(
                        masks, maps, g, metric=metric, threshold=thr if metric == "dice" else None
                    )
                    statistics.setdefault((src.method, src.dataset, src.subset, PIXEL, metric), []).append(stat)
        for metric, value in cost_metrics(src).items():
            rows.append(
                {**base, "level": COST, "metric": metric, "value": value, **extra, "n_normal": 0, "n_anomalous": 0}
            )
    if not rows:
        raise AnolocError("matrix: no score files given")
    _npz.cache_clear()
    _csv.cache_clear()
    return _ordered(pd.DataFrame(rows)[COLUMNS], KEYS), statistics


def _ordered(df: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Methods and datasets in catalogue order, levels sample → pixel → cost, metrics in their declared order."""
    rank = {
        "method": {m: i for i, m in enumerate(catalogue.METHODS)},
        "dataset": {d: i for i, d in enumerate(catalogue.DATASETS)},
        "level": {lv: i for i, lv in enumerate(("image", "slice", "cell", PIXEL, COST))},
        "metric": {m: i for i, m in enumerate(dict.fromkeys(PIXEL_METRICS + COST_METRICS))},
    }
    key = df.assign(**{f"_{k}": df[k].map(r) for k, r in rank.items()})
    order = [f"_{k}" if k in rank else k for k in keys]
    return key.sort_values(order, kind="stable").drop(columns=[f"_{k}" for k in rank]).reset_index(drop=True)


# -------------------------------------------------------------------------------------------- summary
def bootstrap_interval(per_subset: Sequence[Sequence[Any]], cfg: Mapping[str, Any]) -> tuple[float, float]:
    """Percentile interval of the mean over subsets of the seed-mean statistic: each subset's groups resampled
    with `cfg["seed"]` (the same draws for every seed of a subset), the replicates averaged over subsets; NaN when
    a resample lacks a class or a subset has fewer than two groups."""
    reps = []
    for seeds in per_subset:
        stat = stats.seed_mean(list(seeds))
        if stat.n_groups < 2:
            return float("nan"), float("nan")
        with warnings.catch_warnings():  # resamples without a positive are NaN: handled below
            warnings.simplefilter("ignore", DegenerateDataWarning)
            res = stats.group_bootstrap(
                stat, n_resamples=int(cfg["n_resamples"]), seed=int(cfg["seed"]), confidence=float(cfg["confidence"])
            )
        reps.append(res.replicates)
    mean = np.mean(reps, axis=0)
    if np.isnan(mean).any():
        return float("nan"), float("nan")
    alpha = (1 - float(cfg["confidence"])) / 2
    lo, hi = np.quantile(mean, [alpha, 1 - alpha])
    return float(lo), float(hi)


def summary(
    runs: pd.DataFrame,
    statistics: Mapping[tuple[str, ...], Sequence[Any]],
    na: Sequence[Mapping[str, str]],
    bootstrap_cfg: Mapping[str, Any],
) -> pd.DataFrame:
    """matrix_summary.csv: per (method, dataset, level, metric) the mean ± std over seeds of the subset mean,
    a bootstrap interval, and the n/a cells with their reasons."""
    rows = []
    for (method, dataset, level, metric), g in runs.groupby(SUMMARY_KEYS, sort=False):
        per_seed = g.groupby("seed")["value"].mean()
        n_subsets = g["subset"].nunique()
        lo = hi = float("nan")
        if metric in BOOTSTRAP_METRICS and level != COST:
            parts = [statistics[(method, dataset, sub, level, metric)] for sub in sorted(g["subset"].unique())]
            lo, hi = bootstrap_interval(parts, bootstrap_cfg)
        rows.append(
            {
                "method": method,
                "dataset": dataset,
                "level": level,
                "metric": metric,
                "status": "ok",
                "mean": float(per_seed.mean()),
                "std": float(per_seed.std(ddof=1)) if len(per_seed) > 1 else float("nan"),
                "ci_low": lo,
                "ci_high": hi,
                "n_seeds": len(per_seed),
                "n_subsets": n_subsets,
                "kind": ",".join(sorted(g["kind"].unique())),
                "adapter": ",".join(dict.fromkeys(g["adapter"])),
                "note": "",
            }
        )
    for cell in na:
        metrics = PIXEL_METRICS if cell["level"] == PIXEL else SAMPLE_METRICS
        for metric in metrics:
            rows.append({**cell, "metric": metric, "status": NOT_APPLICABLE, "note": cell["reason"]})
    out = pd.DataFrame(rows).reindex(columns=SUMMARY_COLUMNS)
    return _ordered(out, SUMMARY_KEYS)


def write_tables(
    source_dicts: Sequence[Mapping[str, Any]],
    na: Sequence[Mapping[str, str]],
    evaluate_cfg: Mapping[str, Any],
    table_path: PathLike,
    summary_path: PathLike,
) -> pd.DataFrame:
    """matrix.csv and matrix_summary.csv from the sources (`Source.as_dict()`, the rule's params)."""
    srcs = [Source.from_dict(d) for d in source_dicts]
    missing = [f for s in srcs for f in (*s.files, *s.fit, *s.score) if not Path(f).exists()]
    if missing:
        raise AnolocError(f"matrix: {len(missing)} input files are missing, e.g. {missing[0]}")
    runs, statistics = evaluate(srcs, evaluate_cfg)
    write_csv(runs, table_path)
    summ = summary(runs, statistics, na, evaluate_cfg["bootstrap"])
    write_csv(summ, summary_path)
    return summ
