"""Detection and segmentation metrics used by every table: pure functions, arrays in, numbers out.

Ranking metrics come from scikit-learn. Conventions: label 1 = anomalous, higher score = more anomalous.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn import metrics as skm


def _prepare(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).ravel().astype(bool)
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in size: {y.shape} vs {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{np.count_nonzero(~np.isfinite(s))} scores are not finite")
    return y, s


def _both_classes(y: np.ndarray) -> bool:
    return bool(y.any() and not y.all())


def auroc(labels: ArrayLike, scores: ArrayLike) -> float:
    """Area under the ROC curve (NaN when only one class is present)."""
    y, s = _prepare(labels, scores)
    return float(skm.roc_auc_score(y, s)) if _both_classes(y) else float("nan")


def average_precision(labels: ArrayLike, scores: ArrayLike) -> float:
    """Average precision (step-wise area under the PR curve, scikit-learn's definition)."""
    y, s = _prepare(labels, scores)
    return float(skm.average_precision_score(y, s)) if _both_classes(y) else float("nan")


def auprc_trapezoid(labels: ArrayLike, scores: ArrayLike) -> float:
    """Trapezoidal area under the precision–recall curve, `auc(recall, precision)` (the SUPN paper's AUPRC)."""
    y, s = _prepare(labels, scores)
    if not _both_classes(y):
        return float("nan")
    precision, recall, _ = skm.precision_recall_curve(y, s)
    return float(skm.auc(recall, precision))


def detection_metrics(labels: ArrayLike, scores: ArrayLike, trapezoid: bool = False) -> dict[str, float]:
    """AUROC and AP (and the trapezoidal AUPRC if asked) of one score."""
    out = {"auroc": auroc(labels, scores), "ap": average_precision(labels, scores)}
    if trapezoid:
        out["auprc"] = auprc_trapezoid(labels, scores)
    return out


def dice(pred: ArrayLike, target: ArrayLike, eps: float = 1e-6) -> float:
    """Hard Dice 2|P∩T| / (|P| + |T|) of two binary arrays (pooled over all elements)."""
    p = np.asarray(pred).ravel().astype(bool)
    t = np.asarray(target).ravel().astype(bool)
    inter = np.count_nonzero(p & t)
    return float((2 * inter + eps) / (p.sum() + t.sum() + eps))


def roc_curve(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate) of the ROC curve."""
    y, s = _prepare(labels, scores)
    fpr, tpr, _ = skm.roc_curve(y, s)
    return fpr, tpr


def pr_curve(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(recall, precision) of the precision–recall curve."""
    y, s = _prepare(labels, scores)
    precision, recall, _ = skm.precision_recall_curve(y, s)
    return recall, precision
