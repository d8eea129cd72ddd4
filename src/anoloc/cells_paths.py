"""Paths shared by the cells experiment (SUPN / diag / L2) and the kNN methods evaluated on cells.

Pure Python: imported by the Snakemake rules. Every method scored on the cells writes one CSV per seed
at `CELL_SCORES` with columns `split` (healthy_test | infected), `name` (file name), `label`
(0 healthy, 1 infected), `score` (higher = more anomalous) and `backbone` (empty for the VAEs);
table4 collects them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CELLS_PREPARED = "resources/cells/cells.npz"
CELL_SCORES = "results/scores/cells/{cell_method}/seed{seed}.csv"
KNN_METHODS = ("spade", "padim", "patchcore")


def knn_cell_score_files(config: Mapping[str, Any]) -> list[str]:
    """Score CSVs of the kNN methods on the cells (rows of table4), if the config enables them."""
    mv = config.get("mvtec", {})
    cells = mv.get("cells", {})
    if not (mv.get("enabled") and cells.get("enabled")):
        return []
    return [CELL_SCORES.format(cell_method=m, seed=s) for m in cells["methods"] for s in cells["seeds"]]


# ------------------------------------------------------------------ the SUPN / diag / L2 VAEs (issue 4)
CELL_VAE_MODELS = ("supn", "diag", "l2")
CELL_VARIANTS = ("restoration", "sampled")
CELL_VAE_METHODS = tuple(f"{m}_{v}" for v in CELL_VARIANTS for m in CELL_VAE_MODELS)
CELL_STAGES = ("mean", "supn", "diag")
CELLS_MODEL = "results/cells/models/seed{cell_seed}/{cell_stage}.pt"
CELLS_HISTORY = "results/cells/models/seed{cell_seed}/{cell_stage}_history.csv"
CELLS_RUN_DIR = "results/checkpoints/cells/seed{cell_seed}/{cell_stage}"
CELLS_TENSORBOARD = "results/tensorboard/cells/seed{cell_seed}/{cell_stage}"
# CELL_SCORES with the method split into model and variant, e.g. results/scores/cells/supn_sampled/seed0.csv
CELLS_VAE_SCORES = CELL_SCORES.format(cell_method="{cell_model}_{cell_variant}", seed="{cell_seed}")
CELLS_FIG4_PANELS = "results/cells/fig4_panels.npz"
CELLS_TABLE = "results/tables/table4.csv"
CELLS_TABLE_RUNS = "results/tables/table4_runs.csv"
CELLS_FIGURES = (
    "results/figures/fig4.png",
    "results/figures/fig4.pdf",
    "results/figures/fig5.png",
    "results/figures/fig5.pdf",
)


def cell_stage_of(cell_model: str) -> str:
    """The trained model a scored method uses: L2 is the stage-1 (mean) model with a fixed variance."""
    return "mean" if cell_model == "l2" else cell_model


def vae_cell_score_files(cells_cfg: Mapping[str, Any]) -> list[str]:
    """Score CSVs of the six VAE methods for every configured seed."""
    return [CELL_SCORES.format(cell_method=m, seed=s) for m in CELL_VAE_METHODS for s in cells_cfg["seeds"]]


def table4_inputs(config: Mapping[str, Any]) -> list[str]:
    """Everything table4 collects: the VAE methods and, when enabled, the kNN methods on the cells."""
    return vae_cell_score_files(config["cells"]) + knn_cell_score_files(config)
