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
