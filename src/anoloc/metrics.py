"""Detection and segmentation metrics used by every table: pure functions, arrays in, numbers out.

Ranking metrics come from scikit-learn. Conventions: label 1 = anomalous, higher score = more anomalous.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn import metrics as skm


def as_labels_scores(labels: ArrayLike, scores: ArrayLike, keep_float: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(boolean labels, scores) as flat arrays of the same size, every score finite, at least one element.

    Scores become float64 unless `keep_float` keeps an existing floating dtype (float32 pixel maps stay half the
    size). Every metric, calibration and statistic of the project checks its inputs here.
    """
    y = np.asarray(labels).ravel().astype(bool)
    s = np.asarray(scores).ravel()
    if not (keep_float and np.issubdtype(s.dtype, np.floating)):
        s = s.astype(np.float64)
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in size: {y.shape} vs {s.shape}")
    if s.size == 0:
        raise ValueError("no scores given")
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{np.count_nonzero(~np.isfinite(s))} scores are not finite")
    return y, s


def _both_classes(y: np.ndarray) -> bool:
    return bool(y.any() and not y.all())


def auroc(labels: ArrayLike, scores: ArrayLike) -> float:
    """Area under the ROC curve (NaN when only one class is present)."""
    y, s = as_labels_scores(labels, scores)
    return float(skm.roc_auc_score(y, s)) if _both_classes(y) else float("nan")


def average_precision(labels: ArrayLike, scores: ArrayLike) -> float:
    """Average precision (step-wise area under the PR curve, scikit-learn's definition)."""
    y, s = as_labels_scores(labels, scores)
    return float(skm.average_precision_score(y, s)) if _both_classes(y) else float("nan")


def auprc_trapezoid(labels: ArrayLike, scores: ArrayLike) -> float:
    """Trapezoidal area under the precision–recall curve, `auc(recall, precision)` (the SUPN paper's AUPRC)."""
    y, s = as_labels_scores(labels, scores)
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
    y, s = as_labels_scores(labels, scores)
    fpr, tpr, _ = skm.roc_curve(y, s)
    return fpr, tpr


def pr_curve(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(recall, precision) of the precision–recall curve."""
    y, s = as_labels_scores(labels, scores)
    precision, recall, _ = skm.precision_recall_curve(y, s)
    return recall, precision


def pro_curve(masks: ArrayLike, maps: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rate, per-region overlap) at every distinct threshold of the anomaly maps.

    PRO(t) is the mean, over all connected ground-truth regions (8-connectivity, per image), of the fraction
    of the region's pixels with score ≥ t; FPR(t) is the fraction of all normal pixels (mask 0, over every
    image) with score ≥ t (Bergmann et al., IJCV 2021, the MVTec AD evaluation). Both start at (0, 0).
    """
    from scipy import ndimage

    m = np.asarray(masks).astype(bool)
    s = np.asarray(maps, dtype=np.float64)
    if m.shape != s.shape:
        raise ValueError(f"masks and maps differ in shape: {m.shape} vs {s.shape}")
    if m.ndim == 2:
        m, s = m[None], s[None]
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{np.count_nonzero(~np.isfinite(s))} map values are not finite")
    region = np.zeros(m.shape, dtype=np.int64)
    n_regions = 0
    for i in range(m.shape[0]):
        lab, n = ndimage.label(m[i], structure=np.ones((3, 3), dtype=bool))
        region[i] = np.where(lab > 0, lab + n_regions, 0)
        n_regions += n
    n_ok = int(np.count_nonzero(~m))
    if n_regions == 0 or n_ok == 0:
        return np.array([0.0]), np.array([np.nan])
    region, s = region.ravel(), s.ravel()
    sizes = np.bincount(region, minlength=n_regions + 1).astype(np.float64)
    pro_w = np.where(region > 0, 1.0 / (sizes[region] * n_regions), 0.0)
    fpr_w = (region == 0) / n_ok
    order = np.argsort(-s, kind="mergesort")
    s_sorted = s[order]
    last = np.r_[np.nonzero(np.diff(s_sorted))[0], s_sorted.size - 1]  # last pixel of each distinct score
    fpr = np.r_[0.0, np.cumsum(fpr_w[order])[last]]
    pro = np.r_[0.0, np.cumsum(pro_w[order])[last]]
    return np.minimum(fpr, 1.0), np.minimum(pro, 1.0)


def aupro(masks: ArrayLike, maps: ArrayLike, fpr_limit: float = 0.3) -> float:
    """Area under the PRO curve for FPR in [0, fpr_limit], divided by fpr_limit (MVTec AD's AUPRO; 1 is best).

    The curve is linearly interpolated at `fpr_limit`. NaN when there is no anomalous or no normal pixel.
    """
    fpr, pro = pro_curve(masks, maps)
    if np.isnan(pro).any():
        return float("nan")
    keep = fpr <= fpr_limit
    x, y = fpr[keep], pro[keep]
    if x[-1] < fpr_limit and keep.sum() < fpr.size:
        j = int(np.argmax(~keep))  # first point beyond the limit
        y_lim = pro[j - 1] + (pro[j] - pro[j - 1]) * (fpr_limit - fpr[j - 1]) / (fpr[j] - fpr[j - 1])
        x, y = np.r_[x, fpr_limit], np.r_[y, y_lim]
    return float(np.trapezoid(y, x) / fpr_limit)


# --------------------------------------------------------- pooled metrics over very large pixel sets
def binary_counts(
    labels: ArrayLike, scores: ArrayLike, order: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative (true, false) positive counts of `score >= t` at every distinct score t, t descending.

    One stable sort (scikit-learn's `_binary_clf_curve` without weights). `order` may be given: indices of the
    elements to use, already sorted by descending score (e.g. a subset of a precomputed global order, which
    saves re-sorting when many subsets of one huge pixel vector are evaluated).
    """
    y, s = as_labels_scores(labels, scores)
    if order is None:
        order = np.argsort(s, kind="stable")[::-1]
    s_sorted = s[order]
    if s_sorted.size == 0:
        raise ValueError("no elements selected")
    last = np.r_[np.flatnonzero(np.diff(s_sorted)), s_sorted.size - 1]
    tps = np.cumsum(y[order], dtype=np.int64)[last]
    fps = last + 1 - tps
    return s_sorted[last], tps, fps


def pooled_curves(
    labels: ArrayLike, scores: ArrayLike, order: np.ndarray | None = None
) -> dict[str, np.ndarray | float]:
    """ROC and precision–recall curves plus AUROC and AP from one sort (for millions of pooled pixels).

    Identical to `auroc` / `average_precision` (scikit-learn's definitions: trapezoidal ROC area, step-wise
    AP = Σ (R_n − R_{n−1}) P_n); NaN when only one class is present. Keys: fpr, tpr, recall, precision,
    thresholds (descending), auroc, ap.
    """
    thresholds, tps, fps = binary_counts(labels, scores, order)
    n_pos, n_neg = int(tps[-1]), int(fps[-1])
    out: dict[str, np.ndarray | float] = {"thresholds": thresholds}
    if n_pos == 0 or n_neg == 0:
        return {
            **out,
            "fpr": np.array([]),
            "tpr": np.array([]),
            "recall": np.array([]),
            "precision": np.array([]),
            "auroc": float("nan"),
            "ap": float("nan"),
        }
    fpr, tpr = np.r_[0.0, fps / n_neg], np.r_[0.0, tps / n_pos]
    precision, recall = tps / (tps + fps), tps / n_pos
    out.update(
        fpr=fpr,
        tpr=tpr,
        recall=np.r_[0.0, recall],
        precision=np.r_[1.0, precision],
        auroc=float(np.trapezoid(tpr, fpr)),
        ap=float(np.sum(np.diff(np.r_[0.0, recall]) * precision)),
    )
    return out
