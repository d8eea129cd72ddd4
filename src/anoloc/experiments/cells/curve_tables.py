"""table4_curve: cell-level AUROC and AP of every learning-curve snapshot (torch-free; `cells.curve`).

Inputs are the curve score CSVs (`curve_layout.SCORES`: the cells score columns split, name, label, score, backbone
plus stage, step_requested, step, epoch). One row per (variant, seed, model, inference, step_requested):

| column | meaning |
|---|---|
| variant, seed | code variant and training seed of the curve run |
| model, inference | supn / diag / l2 × sampled / restoration (as table4) |
| stage | the trained stage scored: mean (L2), supn, diag |
| step_requested | the step count asked for (`cells.curve.steps`) |
| step, epoch | optimiser steps actually done (epoch · steps per epoch ≥ step_requested) and the epoch of the snapshot |
| auroc, ap | AUROC and average precision, infected (1) vs healthy (0) |
| n_healthy, n_infected | test cells of each class |
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from anoloc.experiments.cells.curve_layout import parse_score_file
from anoloc.io import write_csv
from anoloc.metrics import auroc, average_precision
from anoloc.scores.names import CELL_INFERENCES, CELL_VAE_MODELS
from anoloc.utils import AnolocError, PathLike

COLUMNS = [
    "variant",
    "seed",
    "model",
    "inference",
    "stage",
    "step_requested",
    "step",
    "epoch",
    "auroc",
    "ap",
    "n_healthy",
    "n_infected",
]
SNAPSHOT_COLUMNS = ("stage", "step_requested", "step", "epoch")


def _curve_row(path: Path) -> dict[str, object]:
    df = pd.read_csv(path, dtype={"name": str, "backbone": str, "stage": str})
    missing = {"label", "score", *SNAPSHOT_COLUMNS} - set(df.columns)
    if missing:
        raise AnolocError(f"{path}: missing columns {sorted(missing)} (a learning-curve score file; rerun its job)")
    row: dict[str, object] = parse_score_file(path)
    for col in SNAPSHOT_COLUMNS:
        values = df[col].unique()
        if len(values) != 1:
            raise AnolocError(f"{path}: column {col} must hold one value, got {list(values)}")
        row[col] = values[0] if col == "stage" else int(values[0])
    if row["step_requested"] != parse_score_file(path)["step_requested"]:
        raise AnolocError(f"{path}: step_requested {row['step_requested']} does not match the file name")
    y, s = df["label"].to_numpy(), df["score"].to_numpy()
    row |= {
        "auroc": auroc(y, s),
        "ap": average_precision(y, s),
        "n_healthy": int((y == 0).sum()),
        "n_infected": int((y == 1).sum()),
    }
    return row


def table4_curve(paths: Iterable[PathLike]) -> pd.DataFrame:
    """One row per curve score file, ordered by variant, seed, model, inference, step."""
    rows = [_curve_row(Path(p)) for p in paths]
    if not rows:
        raise AnolocError("table4_curve: no score files given")
    df = pd.DataFrame(rows)[COLUMNS]
    rank = {
        "model": {m: i for i, m in enumerate(CELL_VAE_MODELS)},
        "inference": {v: i for i, v in enumerate(CELL_INFERENCES)},
    }
    key = df.assign(**{f"_{k}": df[k].map(r) for k, r in rank.items()})
    key = key.sort_values(["variant", "seed", "_model", "_inference", "step_requested"])
    return key.drop(columns=[f"_{k}" for k in rank]).reset_index(drop=True)


def write_table4_curve(paths: Iterable[PathLike], table_path: PathLike) -> pd.DataFrame:
    """Write table4_curve.csv from the curve score files; returns the table."""
    table = table4_curve(paths)
    write_csv(table, table_path)
    return table
