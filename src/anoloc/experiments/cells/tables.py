"""table4: cell-level detection metrics of every method scored on the cells (torch-free; spec supn-cells §5).

Inputs are the per-seed score CSVs at `anoloc.experiments.cells.layout.SCORES`
(`results/cells/scores/<method>/seed<seed>.csv`, columns split, name, label, score, backbone): the six
VAE methods `<supn|diag|l2>_<sampled|restoration>` and, when enabled, the kNN methods (SPADE, PaDiM,
PatchCore). Metrics: AUROC, trapezoidal AUPRC (the paper's) and AP, per seed, then mean ± std over seeds.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from anoloc.experiments.cells.layout import parse_score_file
from anoloc.io import write_csv
from anoloc.metrics import auprc_trapezoid, auroc, average_precision
from anoloc.scores.names import CELL_INFERENCES, CELL_VAE_MODELS, KNN_METHODS
from anoloc.tables import summarise
from anoloc.utils import AnolocError, PathLike

METRICS = ("auroc", "auprc", "ap")
RUN_COLUMNS = ["model", "variant", "backbone", "seed", *METRICS, "n_healthy", "n_infected"]
# row order of the released evaluation (restoration first), then the kNN methods
MODEL_ORDER = [*CELL_VAE_MODELS, *KNN_METHODS]
VARIANT_ORDER = [*CELL_INFERENCES, ""]


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
    """One row per (model, variant, backbone, seed) with AUROC, AUPRC, AP and the class counts."""
    rows = []
    for path in map(Path, paths):
        model, variant, seed = parse_score_file(path)
        df = _read_scores(path)
        backbones = sorted(set(df["backbone"]) - {""})
        rows.append(
            {"model": model, "variant": variant, "backbone": ",".join(backbones), "seed": seed, **run_metrics(df)}
        )
    if not rows:
        raise AnolocError("table4: no score files given")
    return _ordered(pd.DataFrame(rows)[RUN_COLUMNS], ["seed"])


def _ordered(df: pd.DataFrame, extra: list[str]) -> pd.DataFrame:
    rank_m = {m: i for i, m in enumerate(MODEL_ORDER)}
    rank_v = {v: i for i, v in enumerate(VARIANT_ORDER)}
    key = df.assign(_v=df["variant"].map(rank_v).fillna(len(rank_v)), _m=df["model"].map(rank_m).fillna(len(rank_m)))
    return key.sort_values(["_v", "_m", "model", "backbone", *extra]).drop(columns=["_v", "_m"]).reset_index(drop=True)


def table4(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and std (ddof 1; empty for one seed) over seeds per (model, variant, backbone), plus n_seeds."""
    return _ordered(summarise(runs, ["model", "variant", "backbone"], list(METRICS)), [])


def write_table4(paths: Iterable[PathLike], table_path: PathLike, runs_path: PathLike) -> pd.DataFrame:
    runs = table4_runs(paths)
    write_csv(runs, runs_path)
    summary = table4(runs)
    write_csv(summary, table_path)
    return summary
