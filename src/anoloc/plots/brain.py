"""Figures of the pixel-wise brain experiment: fig2 (example slices with every score map) and fig3 (pixel
ROC and precision-recall curves per score). Input: the BraTS score file of one run (`anoloc.experiments.brain`)."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

from anoloc.metrics import pooled_curves
from anoloc.plots import MAP_CMAP, figure_style
from anoloc.scores.names import PIXEL_SCORES
from anoloc.scores.names import SCORE_LABELS as _ALL_LABELS

SCORE_LABELS = {k: _ALL_LABELS[k] for k in PIXEL_SCORES}


def example_slices(scores: Mapping[str, np.ndarray], n: int = 4) -> list[int]:
    """Indices of `n` slices with the largest tumour area, at most one per patient (deterministic)."""
    area = scores["label"].reshape(len(scores["label"]), -1).sum(1)
    chosen, seen = [], set()
    for i in np.argsort(-area, kind="stable"):
        if area[i] == 0 or len(chosen) == n:
            break
        subj = str(scores["subject"][i])
        if subj not in seen:
            seen.add(subj)
            chosen.append(int(i))
    return chosen


def fig2_examples(scores: Mapping[str, np.ndarray], n: int = 4, clip: float = 1.5) -> plt.Figure:
    """Rows: example test slices; columns: input, reconstruction, the five score maps; red: tumour outline."""
    figure_style()
    idx = example_slices(scores, n)
    cols = ["image", "reconstruction", *SCORE_LABELS]
    titles = ["Input (T2)", "Reconstruction", *SCORE_LABELS.values()]
    fig, axes = plt.subplots(
        max(len(idx), 1), len(cols), figsize=(1.9 * len(cols), 2.0 * max(len(idx), 1)), squeeze=False
    )
    for r, i in enumerate(idx):
        for c, key in enumerate(cols):
            ax = axes[r, c]
            img = scores[key][i]
            if c < 2:
                ax.imshow(img, cmap="gray", vmin=-clip, vmax=clip)
            else:
                ax.imshow(img, cmap=MAP_CMAP, vmin=float(np.percentile(img, 1)), vmax=float(np.percentile(img, 99.5)))
            ax.contour(scores["label"][i].astype(float), levels=[0.5], colors="red", linewidths=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if r == 0:
                ax.set_title(titles[c], fontsize=9)
            if c == 0:
                ax.set_ylabel(f"{scores['subject'][i]}\nslice {int(scores['slice_index'][i])}", fontsize=7)
    if not idx:
        axes[0, 0].text(0.5, 0.5, "no tumour slice in the test set", ha="center", va="center")
    fig.suptitle("Pixel-wise anomaly maps on BraTS test slices (red: whole-tumour outline)", fontsize=10)
    fig.tight_layout()
    return fig


def _thin(x: np.ndarray, y: np.ndarray, n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    if len(x) <= n:
        return x, y
    keep = np.unique(np.r_[np.linspace(0, len(x) - 1, n).astype(int), len(x) - 1])
    return x[keep], y[keep]


def fig3_curves(scores: Mapping[str, np.ndarray]) -> plt.Figure:
    """Pixel ROC and PR curves of every score, pooled over all test slices (top) and inside the brain (bottom)."""
    figure_style()
    y, mask = scores["label"].ravel(), scores["brain_mask"].ravel()
    fig, axes = plt.subplots(2, 2, figsize=(10, 8.5))
    styles = dict(zip(SCORE_LABELS, ["-", "-", "-", "--", "-"], strict=True))  # Rec-Grad ≈ ELBO-Grad: dash it
    curves = {}
    for key in SCORE_LABELS:
        v = scores[key].ravel()
        order = np.argsort(v, kind="stable")[::-1]  # one sort per score for both regions
        curves[key] = (pooled_curves(y, v, order), pooled_curves(y, v, order[mask[order]]))
    for row, region in enumerate(("whole slice", "brain mask")):
        prevalence = float(np.mean(y if row == 0 else y[mask]))
        ax_roc, ax_pr = axes[row]
        for key, label in SCORE_LABELS.items():
            c = curves[key][row]
            ax_roc.plot(*_thin(c["fpr"], c["tpr"]), lw=1.4, ls=styles[key], label=f"{label} (AUROC {c['auroc']:.3f})")
            ax_pr.plot(*_thin(c["recall"], c["precision"]), lw=1.4, ls=styles[key], label=f"{label} (AP {c['ap']:.3f})")
        ax_roc.plot([0, 1], [0, 1], color="0.5", lw=0.8, ls=":")
        ax_pr.axhline(prevalence, color="0.5", lw=0.8, ls=":")
        ax_roc.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC, {region}")
        ax_pr.set(xlabel="recall", ylabel="precision", title=f"Precision-recall, {region}")
        for ax in (ax_roc, ax_pr):
            ax.set(xlim=(0, 1), ylim=(0, 1.01))
        ax_roc.legend(loc="lower right", fontsize=8)
        ax_pr.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig
