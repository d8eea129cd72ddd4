"""table2 and table3 of the pixel-wise brain experiment, from the saved score files (torch-free; spec §3.5, §5).

table2: pixel AUROC / AP (pooled over all pixels, and inside the brain mask), the oracle Dice, and slice-level
AUROC / AP; table3: the Dice of a threshold calibrated on 1/5 of the patients, applied to the other 4/5, beside the
oracle on the 4/5 and a threshold from healthy data alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from anoloc.calibrate import best_threshold, dice_at, healthy_threshold, patient_splits
from anoloc.experiments.brain.layout import BrainRun, parse_score_file
from anoloc.io import load_npz, write_csv
from anoloc.metrics import auroc, average_precision, pooled_curves
from anoloc.scores.names import PIXEL_SCORES, SLICE_SCORES
from anoloc.tables import summarise
from anoloc.utils import AnolocError, PathLike


def load_scores(path: PathLike) -> dict[str, np.ndarray]:
    """The arrays of a brain score file (`anoloc.experiments.brain.steps.score`)."""
    return load_npz(path, "brain score file")


def slice_sets(tumour_voxels: np.ndarray, diseased_min_voxels: int) -> tuple[np.ndarray, np.ndarray]:
    """(healthy, diseased) slice masks: healthy = no tumour voxel, diseased = more than `diseased_min_voxels`;
    slices in between belong to neither (spec §3.5)."""
    tv = np.asarray(tumour_voxels)
    return tv == 0, tv > int(diseased_min_voxels)


def _best(y: np.ndarray, v: np.ndarray, order: np.ndarray, sel: np.ndarray | None, method: str, n_grid: int):
    """Best Dice threshold on the pixels `sel` (all if None); the exact sweep reuses the global order."""
    if method == "exact":
        return best_threshold(y, v, "exact", order=order if sel is None else order[sel[order]])
    return best_threshold(y if sel is None else y[sel], v if sel is None else v[sel], method, n_grid)


def _descending(v: np.ndarray) -> np.ndarray:
    return np.argsort(v, kind="stable")[::-1]


def table2_rows(s: Mapping[str, np.ndarray], eval_cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Pixel-level rows (pooled over all slices, and inside the brain mask) and slice-level rows of one run."""
    method, n_grid = str(eval_cfg["threshold_search"]), int(eval_cfg["n_grid"])
    y, mask = s["label"].ravel(), s["brain_mask"].ravel()
    rows = []
    for k in PIXEL_SCORES:
        v = s[k].ravel()
        order = _descending(v)  # one sort per score serves every metric below
        whole, brain = pooled_curves(y, v, order), pooled_curves(y, v, order[mask[order]])
        thr, d = _best(y, v, order, None, method, n_grid)
        _, d_brain = _best(y, v, order, mask, method, n_grid)
        rows.append(
            {
                "level": "pixel",
                "score": k,
                "auroc": whole["auroc"],
                "ap": whole["ap"],
                "auroc_brain": brain["auroc"],
                "ap_brain": brain["ap"],
                "dice_oracle": d,
                "threshold_oracle": thr,
                "dice_oracle_brain": d_brain,
                "n_positive": int(y.sum()),
                "n_negative": int(y.size - y.sum()),
            }
        )
    healthy, diseased = slice_sets(s["tumour_voxels"], int(eval_cfg["diseased_min_voxels"]))
    sel = healthy | diseased
    for k in SLICE_SCORES:
        v = s[f"slice_{k}"][sel]
        rows.append(
            {
                "level": "slice",
                "score": k,
                "auroc": auroc(diseased[sel], v),
                "ap": average_precision(diseased[sel], v),
                "n_positive": int(diseased.sum()),
                "n_negative": int(healthy.sum()),
            }
        )
    return rows


RUN_KEYS = ["variant", "z", "log_c", "width", "seed"]
TABLE2_COLUMNS = [
    *RUN_KEYS,
    "level",
    "score",
    "auroc",
    "ap",
    "auroc_brain",
    "ap_brain",
    "dice_oracle",
    "threshold_oracle",
    "dice_oracle_brain",
    "n_positive",
    "n_negative",
]


def _run_keys(variant: str, run: BrainRun) -> dict[str, Any]:
    return {"variant": variant, **asdict(run)}


def table2(
    score_files: Sequence[tuple[str, BrainRun, PathLike]], evaluate: Mapping[str, Mapping[str, Any]]
) -> pd.DataFrame:
    """One row per (variant, run, seed, level, score); `score_files` are (variant, run, BraTS score file) and
    `evaluate` the `evaluate` section of each variant."""
    rows = [
        {**_run_keys(variant, run), **r}
        for variant, run, path in score_files
        for r in table2_rows(load_scores(path), evaluate[variant])
    ]
    if not rows:
        raise AnolocError("table2: no score files given")
    return pd.DataFrame(rows).reindex(columns=TABLE2_COLUMNS)


def table3_rows(
    s: Mapping[str, np.ndarray], healthy: Mapping[str, np.ndarray], eval_cfg: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Calibration rows of one run: per score and patient split, the threshold maximising Dice on the
    calibration patients (1/5), its Dice on the evaluation patients (4/5), the oracle Dice on the 4/5, and
    the Dice on the 4/5 of the healthy-percentile threshold."""
    method, n_grid = str(eval_cfg["threshold_search"]), int(eval_cfg["n_grid"])
    pct = float(eval_cfg["healthy_percentile"])
    splits = patient_splits(
        list(s["subject"]), int(eval_cfg["n_splits"]), float(eval_cfg["calib_fraction"]), int(eval_cfg["split_seed"])
    )
    pixels_per_slice = int(np.prod(s["label"].shape[1:]))
    y, subj = s["label"].ravel(), s["subject"]
    masks = [
        tuple(np.repeat(np.isin(subj, part), pixels_per_slice) for part in (calib, evaluation))
        for calib, evaluation in splits
    ]
    rows = []
    for k in PIXEL_SCORES:
        v = s[k].ravel()
        order = _descending(v) if method == "exact" else None
        thr_h = healthy_threshold(healthy[f"{k}_brain"], pct)
        for i, ((calib, evaluation), (c, e)) in enumerate(zip(splits, masks, strict=True)):
            thr, d_fit = _best(y, v, order, c, method, n_grid)
            thr_o, d_o = _best(y, v, order, e, method, n_grid)
            ye, ve = y[e], v[e]
            rows.append(
                {
                    "score": k,
                    "split": i,
                    "n_calib_patients": len(calib),
                    "n_eval_patients": len(evaluation),
                    "threshold": thr,
                    "dice_fit": d_fit,
                    "dice_calib": dice_at(ye, ve, thr),
                    "threshold_oracle": thr_o,
                    "dice_oracle": d_o,
                    "threshold_healthy": thr_h,
                    "dice_healthy": dice_at(ye, ve, thr_h),
                }
            )
    return rows


def table3(
    score_files: Sequence[tuple[str, BrainRun, PathLike, PathLike]], evaluate: Mapping[str, Mapping[str, Any]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(table3, summary): `score_files` are (variant, run, BraTS scores, HCP validation scores), `evaluate` the
    `evaluate` section of each variant. The summary: mean and std over splits and seeds per (variant, z, log c,
    width, score)."""
    rows = [
        {**_run_keys(variant, run), **r}
        for variant, run, brats, hcp_val in score_files
        for r in table3_rows(load_scores(brats), load_scores(hcp_val), evaluate[variant])
    ]
    if not rows:
        raise AnolocError("table3: no score files given")
    t3 = pd.DataFrame(rows)
    keys = [k for k in RUN_KEYS if k != "seed"]
    summary = summarise(
        t3, [*keys, "score"], ["dice_calib", "dice_oracle", "dice_healthy", "threshold"], n_name="n_runs"
    )
    order = {k: i for i, k in enumerate(PIXEL_SCORES)}
    summary = summary.sort_values([*keys, "score"], key=lambda c: c.map(order) if c.name == "score" else c)
    return t3, summary.reset_index(drop=True)


def write_tables(
    brats_scores: Sequence[PathLike],
    hcp_val_scores: Sequence[PathLike],
    evaluate: Mapping[str, Mapping[str, Any]],
    table2_path: PathLike,
    table3_path: PathLike,
    summary_path: PathLike,
) -> None:
    """table2, table3 and its summary from the score files of every variant, run and seed (their paths say which);
    `evaluate`: the `evaluate` section of each variant."""
    keys = [parse_score_file(p) for p in brats_scores]
    if keys != [parse_score_file(p) for p in hcp_val_scores]:
        raise AnolocError("brain tables: the BraTS and HCP-validation score files do not pair up run by run")
    write_csv(table2([(*k, p) for k, p in zip(keys, brats_scores, strict=True)], evaluate), table2_path)
    pairs = zip(keys, brats_scores, hcp_val_scores, strict=True)
    t3, summary = table3([(*k, b, h) for k, b, h in pairs], evaluate)
    write_csv(t3, table3_path)
    write_csv(summary, summary_path)
