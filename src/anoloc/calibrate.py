"""Threshold calibration for pixel-wise segmentation by thresholding an anomaly map (vae-kl-grad spec §5.2–§5.3).

Conventions: a pixel is predicted anomalous when `score > threshold`; Dice is the hard Dice pooled over all
given pixels, `(2·TP + eps) / (#predicted + #positive + eps)` with eps = 1e-6, as `anoloc.metrics.dice`.

- `dice_sweep`: Dice at *every* distinct cut of the sorted scores (exact, O(n log n));
- `dice_at_thresholds`: Dice at given thresholds without sorting (one pass, O(n log m));
- `best_threshold`: the Dice-maximising threshold by the exact sweep, a fine quantile grid, or the released
  code's 8-step bisection (`legacy`, bug included, for reproducing the released numbers only);
- `patient_splits`: seeded patient-level 1 : (k−1) splits (the paper's "1/5 of the data for tuning");
- `healthy_threshold`: a percentile of scores on healthy data (needs no annotation at all).

Pure NumPy: no torch, usable from the table rules.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from anoloc.metrics import as_labels_scores, binary_counts
from anoloc.utils import AnolocError, derive_seed

DICE_EPS = 1e-6
THRESHOLD_METHODS = ("exact", "grid", "legacy")


def _dice(tp: np.ndarray, n_pred: np.ndarray, n_pos: int) -> np.ndarray:
    return (2.0 * tp + DICE_EPS) / (n_pred + n_pos + DICE_EPS)


def dice_sweep(labels: ArrayLike, scores: ArrayLike, order: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Dice of `score > t` at every distinct cut, exactly (one sort, or none with a precomputed `order`).

    Returns (thresholds, dice), thresholds descending: the first is max(score) (nothing predicted), then one
    threshold between each pair of consecutive distinct score values (their midpoint), the last just below
    min(score) (everything predicted). `order`: indices of the pixels to use sorted by descending score
    (see `anoloc.metrics.binary_counts`), e.g. a calibration subset taken from one global sort.
    """
    values, tps, fps = binary_counts(labels, scores, order)
    n_pos = int(tps[-1])
    below = np.r_[values[1:], np.nextafter(values[-1], -np.inf)]  # next lower distinct value
    cuts = 0.5 * (values + below)
    # a midpoint can round onto the upper value when the two are adjacent floats; keep the cut strict
    cuts = np.where(cuts < values, cuts, below)
    thresholds = np.r_[values[0], cuts]
    dice = np.r_[_dice(np.zeros(1), np.zeros(1), n_pos), _dice(tps, tps + fps, n_pos)]
    return thresholds, dice


def dice_at_thresholds(labels: ArrayLike, scores: ArrayLike, thresholds: ArrayLike) -> np.ndarray:
    """Dice of `score > t` for each t in `thresholds` (any order), in one pass over the pixels."""
    y, s = as_labels_scores(labels, scores, keep_float=True)
    t = np.asarray(thresholds, dtype=np.float64).ravel()
    order = np.argsort(t, kind="stable")
    t_sorted = t[order]
    # idx = number of thresholds strictly below s → s > t_sorted[j] ⇔ idx > j
    idx = np.searchsorted(t_sorted, s, side="left")
    m = t.size
    pred_counts = np.bincount(idx, minlength=m + 1)
    tp_counts = np.bincount(idx[y], minlength=m + 1)
    n_pred = pred_counts[::-1].cumsum()[::-1][1:]  # #(idx > j) for j = 0..m-1
    tp = tp_counts[::-1].cumsum()[::-1][1:]
    dice_sorted = _dice(tp, n_pred, int(y.sum()))
    out = np.empty(m)
    out[order] = dice_sorted
    return out


def legacy_find_best_val(labels: ArrayLike, scores: ArrayLike, max_steps: int = 8) -> tuple[float, float]:
    """The released code's `find_best_val(..., val_range=(0, max(score)), max_steps=8)`, bug included.

    At each step it evaluates the F1 score (released `f1_score` with its eps placement) at the 25 % and 75 %
    points of the interval and continues in the better half; when the upper point wins it records the
    *lower* point's value and threshold as the running best (spec §5.2). Returns (dice, threshold).
    """
    y, s = as_labels_scores(labels, scores, keep_float=True)
    n_pos = float(y.sum())
    eps = 1e-6

    def f1(th: float) -> float:
        pred = s > th
        tp = float(np.count_nonzero(pred & y))
        precision = tp / (float(pred.sum()) + eps)
        recall = tp / (n_pos + eps)
        return 2 * precision * recall / (precision + recall + eps)

    bottom, top = 0.0, float(s.max())
    best_val, best_point = 0.0, 0.0
    for _ in range(max_steps):
        if bottom == top:
            top = 1.0
        center = bottom + (top - bottom) * 0.5
        q_bottom = bottom + (top - bottom) * 0.25
        q_top = bottom + (top - bottom) * 0.75
        v_bottom, v_top = f1(q_bottom), f1(q_top)
        if v_bottom > v_top:
            if v_bottom > best_val:
                best_val, best_point = v_bottom, q_bottom
            top = center
        else:
            if v_top > best_val:  # the released bookkeeping bug: records the lower point
                best_val, best_point = v_bottom, q_bottom
            bottom = center
    return best_val, best_point


def best_threshold(
    labels: ArrayLike,
    scores: ArrayLike,
    method: str = "exact",
    n_grid: int = 2000,
    order: np.ndarray | None = None,
) -> tuple[float, float]:
    """The threshold maximising pooled Dice; returns (threshold, dice).

    `exact`: sweep over every distinct cut (ties broken towards the higher threshold); `grid`: `n_grid`
    quantiles of the scores (fewer sorts, for very large pixel sets); `legacy`: the released 8-step search
    (spec §5.2, with its bug; its Dice may be lower than the Dice of the threshold it returns).
    `order` (exact only): a precomputed descending order of the pixels to use (see `dice_sweep`); with the
    other methods, pass the selected pixels themselves.
    """
    if method == "exact":
        thresholds, dice = dice_sweep(labels, scores, order)
    elif order is not None:
        raise ValueError("`order` is only supported by method='exact'")
    elif method == "grid":
        _, s = as_labels_scores(labels, scores, keep_float=True)
        thresholds = np.unique(np.quantile(s, np.linspace(0.0, 1.0, int(n_grid))))
        thresholds = np.r_[np.nextafter(thresholds[0], -np.inf), thresholds]
        dice = dice_at_thresholds(labels, scores, thresholds)
    elif method == "legacy":
        d, t = legacy_find_best_val(labels, scores)
        return float(t), float(d)
    else:
        raise ValueError(f"method must be one of {THRESHOLD_METHODS}, got {method!r}")
    i = int(np.argmax(dice))
    return float(thresholds[i]), float(dice[i])


def dice_at(labels: ArrayLike, scores: ArrayLike, threshold: float) -> float:
    """Pooled Dice of `score > threshold`."""
    return float(dice_at_thresholds(labels, scores, [threshold])[0])


def healthy_threshold(healthy_scores: ArrayLike, percentile: float = 99.0) -> float:
    """The `percentile`-th percentile of scores on healthy data: ~(100 − percentile) % false-positive pixels."""
    s = np.asarray(healthy_scores, dtype=np.float64).ravel()
    if s.size == 0:
        raise AnolocError("healthy_threshold: no healthy scores given (is the HCP validation split empty?)")
    return float(np.percentile(s, percentile))


def patient_splits(
    subjects: Sequence[str], n_splits: int, calib_fraction: float = 0.2, seed: int = 0
) -> list[tuple[list[str], list[str]]]:
    """Seeded patient-level (calibration, evaluation) splits of size about 1 : (k − 1), k = round(1/calib_fraction).

    Splits rotate through the k folds of a random permutation (so the first k splits calibrate on disjoint
    patient sets, like k-fold cross-validation); splits k, k+1, … use a fresh permutation.
    """
    subs = sorted(set(subjects))
    k = round(1.0 / calib_fraction)
    if not 0 < calib_fraction < 1 or k < 2:
        raise AnolocError(f"calib_fraction must be in (0, 0.5], got {calib_fraction}")
    if len(subs) < k:
        raise AnolocError(f"patient_splits: {len(subs)} patients cannot be split 1:{k - 1}; need at least {k}")
    out = []
    for i in range(int(n_splits)):
        rng = np.random.default_rng(derive_seed(seed, "patient-splits", i // k))
        folds = np.array_split(rng.permutation(len(subs)), k)
        calib = sorted(subs[j] for j in folds[i % k])
        evaluation = sorted(set(subs) - set(calib))
        out.append((calib, evaluation))
    return out
