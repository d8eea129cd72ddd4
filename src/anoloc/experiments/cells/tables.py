"""table4: cell-level detection metrics of every method scored on the cells (torch-free; spec supn-cells §5).

Inputs are the per-seed score CSVs at `anoloc.experiments.cells.layout.SCORES`
(`results/cells/scores/<method>/seed<seed>.csv`, columns split, name, label, score, backbone): the six
VAE methods `<supn|diag|l2>_<sampled|restoration>` and, when enabled, the kNN methods (SPADE, PaDiM,
PatchCore). Metrics: AUROC, trapezoidal AUPRC (the paper's) and AP, per seed, then mean ± std over seeds.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from anoloc import paths
from anoloc.experiments.cells.layout import DIAGNOSTICS, parse_score_file
from anoloc.io import write_csv
from anoloc.metrics import auprc_trapezoid, auroc, average_precision
from anoloc.scores.names import CELL_INFERENCES, CELL_VAE_MODELS, KNN_METHODS
from anoloc.tables import summarise
from anoloc.utils import AnolocError, PathLike
from anoloc.variants import VARIANTS

METRICS = ("auroc", "auprc", "ap")
KEYS = ["variant", "model", "inference", "backbone"]
RUN_COLUMNS = [*KEYS, "seed", *METRICS, "n_healthy", "n_infected"]
# rows: code variant, then the released evaluation's order (restoration first, then sampled), then the kNN methods
MODEL_ORDER = [*CELL_VAE_MODELS, *KNN_METHODS]
INFERENCE_ORDER = [*CELL_INFERENCES, ""]


def run_metrics(df: pd.DataFrame) -> dict[str, float]:
    """AUROC, trapezoidal AUPRC and AP of one score file (label 1 = infected)."""
    y, s = df["label"].to_numpy(), df["score"].to_numpy()
    return {
        "auroc": auroc(y, s),
        "auprc": auprc_trapezoid(y, s),
        "ap": average_precision(y, s),
        "n_healthy": int((y == 0).sum()),
        "n_infected": int((y == 1).sum()),
    }


def _read_scores(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, dtype={"backbone": str, "name": str})
    missing = {"split", "name", "label", "score", "backbone"} - set(df.columns)
    if missing:
        raise AnolocError(f"{path}: missing columns {sorted(missing)} (see anoloc.experiments.cells.layout)")
    return df.assign(backbone=df["backbone"].fillna(""))


def table4_runs(paths: Iterable[PathLike]) -> pd.DataFrame:
    """One row per (variant, model, inference, backbone, seed) with AUROC, AUPRC, AP and the class counts."""
    rows = []
    for path in map(Path, paths):
        variant, model, inference, seed = parse_score_file(path)
        df = _read_scores(path)
        backbones = sorted(set(df["backbone"]) - {""})
        rows.append(
            {
                "variant": variant,
                "model": model,
                "inference": inference,
                "backbone": ",".join(backbones),
                "seed": seed,
                **run_metrics(df),
            }
        )
    if not rows:
        raise AnolocError("table4: no score files given")
    return _ordered(pd.DataFrame(rows)[RUN_COLUMNS], ["seed"])


def _ordered(df: pd.DataFrame, extra: list[str]) -> pd.DataFrame:
    ranks = {
        "variant": {v: i for i, v in enumerate(VARIANTS)},
        "inference": {v: i for i, v in enumerate(INFERENCE_ORDER)},
        "model": {m: i for i, m in enumerate(MODEL_ORDER)},
    }
    key = df.assign(**{f"_{k}": df[k].map(r).fillna(len(r)) for k, r in ranks.items()})
    order = ["_variant", "_inference", "_model", "model", "backbone", *extra]
    return key.sort_values(order).drop(columns=[f"_{k}" for k in ranks]).reset_index(drop=True)


def table4(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and std (ddof 1; empty for one seed) over seeds per (variant, model, inference, backbone), plus n_seeds."""
    return _ordered(summarise(runs, KEYS, list(METRICS)), [])


def write_table4(paths: Iterable[PathLike], table_path: PathLike, runs_path: PathLike) -> pd.DataFrame:
    """table4 (mean ± std over seeds) and table4_runs (one row per seed) from the score files."""
    runs = table4_runs(paths)
    write_csv(runs, runs_path)
    summary = table4(runs)
    write_csv(summary, table_path)
    return summary


# ------------------------------------------------------------------------------ precision diagnostics
DIAGNOSTICS_SUMMARY_COLUMNS = [
    "variant", "seed", "model", "n_cells", "frac_singular", "diag_min", "diag_max", "ratio_median", "ratio_max",
    "frac_rows_not_dominant", "log10_growth_median", "sigma_min_rel_median", "n_sigma_min",
]  # fmt: skip


def diagnostics_table(files: Iterable[PathLike]) -> pd.DataFrame:
    """table4_supn_diagnostics: the per-(variant, seed) diagnostics CSVs (`steps.diagnose`) stacked, with the
    variant and seed of each file as columns in front."""
    frames = []
    for f in files:
        v = paths.parse(DIAGNOSTICS, f)
        frames.append(pd.read_csv(f).assign(variant=v["variant"], seed=int(v["seed"])))
    if not frames:
        raise AnolocError("table4_supn_diagnostics: no diagnostics files (cells.variants / cells.seeds empty?)")
    t = pd.concat(frames, ignore_index=True)
    front = ["variant", "seed", "model", "split", "name", "label"]
    return t[front + [c for c in t.columns if c not in front]]


def diagnostics_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (variant, seed, model): the fraction of test cells whose Lᵀ is numerically singular, the range
    of exp(ℓ) over all cells, medians over cells of the per-cell median / max row ratio ρ, of the fraction of
    non-dominant rows, of log10 solve growth and of σ_min(Lᵀ)/max exp(ℓ) (over the cells where it was estimated)."""
    rows = []
    for (variant, seed, model), g in table.groupby(["variant", "seed", "model"], sort=False):
        growth = g["solve_growth"].astype(float)
        rows.append(
            {
                "variant": variant,
                "seed": int(seed),
                "model": model,
                "n_cells": len(g),
                "frac_singular": float(g["singular"].astype(bool).mean()),
                "diag_min": float(g["diag_min"].min()),
                "diag_max": float(g["diag_max"].max()),
                "ratio_median": float(g["ratio_median"].median()),
                "ratio_max": float(g["ratio_max"].median()),
                "frac_rows_not_dominant": float(g["frac_rows_not_dominant"].median()),
                "log10_growth_median": float(np.log10(growth.clip(lower=1e-300)).median()),
                "sigma_min_rel_median": float(g["sigma_min_rel"].median()),
                "n_sigma_min": int(g["sigma_min_rel"].notna().sum()),
            }
        )
    return pd.DataFrame(rows, columns=DIAGNOSTICS_SUMMARY_COLUMNS)


def write_diagnostics(files: Iterable[PathLike], table_csv: PathLike, summary_csv: PathLike) -> pd.DataFrame:
    """Write table4_supn_diagnostics and its summary; return the per-cell table."""
    t = diagnostics_table(files)
    write_csv(t, table_csv)
    write_csv(diagnostics_summary(t), summary_csv)
    return t
