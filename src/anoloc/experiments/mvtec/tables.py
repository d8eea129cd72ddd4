"""table5 of the MVTec experiment: image / pixel AUROC (+ AUPRO) per class and method beside the published
numbers, from the metrics files of the scoring jobs (torch-free)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from anoloc.data import mvtec as mvtec_data
from anoloc.scores.names import KNN_METHODS
from anoloc.utils import AnolocError, PathLike

TABLE5_COLUMNS = [
    "class",
    "method",
    "backbone",
    "image_auroc",
    "pixel_auroc",
    "aupro",
    "ref_image_auroc_paper",
    "ref_image_auroc_repo",
    "ref_pixel_auroc_paper",
    "ref_pixel_auroc_repo",
    "ref_aupro_paper",
    "n_train",
    "n_test_good",
    "n_test_anomalous",
    "fit_seconds",
    "predict_seconds",
]


def load_reference(path: PathLike) -> pd.DataFrame:
    """Published numbers (percent in the file) as fractions, one row per (class, method)."""
    ref = pd.read_csv(path, comment="#")
    value_cols = [c for c in ref.columns if c not in ("class", "method")]
    ref[value_cols] = ref[value_cols].astype(float) / 100.0
    return ref.rename(columns={c: f"ref_{c}" for c in value_cols})


def table5(metrics_files: Sequence[PathLike], reference: PathLike) -> pd.DataFrame:
    """One row per (class, method) plus an `average` row per method (mean over its classes), with the
    published reference numbers of the real MVTec classes (empty for the offline stand-in's classes; the
    reference average is given only when all 15 MVTec classes were run)."""
    rows = [json.loads(Path(f).read_text()) for f in metrics_files]
    if not rows:
        raise AnolocError("table5: no metrics files given")
    df = pd.DataFrame(rows)
    metric_cols = ["image_auroc", "pixel_auroc", "aupro", "fit_seconds", "predict_seconds"]
    how = {c: "mean" for c in metric_cols} | {"backbone": "first", "class": "nunique"}
    how |= {c: "sum" for c in ("n_train", "n_test_good", "n_test_anomalous")}
    avg = df.groupby("method", sort=False).agg(how)
    all_real = {str(c) for c in df["class"]} >= set(mvtec_data.MVTEC_CLASSES)
    avg = avg.rename(columns={"class": "n_classes"}).reset_index()
    avg["class"] = "average" if all_real else "average (" + avg["n_classes"].astype(str) + " classes)"
    df = pd.concat([df, avg.drop(columns="n_classes")], ignore_index=True)
    ref = load_reference(reference)
    out = df.merge(ref, on=["class", "method"], how="left")
    order = {m: i for i, m in enumerate(KNN_METHODS)}
    out["_avg"] = out["class"].str.startswith("average")
    out["_m"] = out["method"].map(order)
    out = out.sort_values(["_avg", "class", "_m"]).drop(columns=["_avg", "_m"])
    return out[TABLE5_COLUMNS].reset_index(drop=True)
