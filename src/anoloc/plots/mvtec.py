"""fig6: MVTec(-like) test images with the SPADE / PaDiM / PatchCore anomaly maps and ground-truth outlines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from anoloc.plots import MAP_CMAP, figure_style
from anoloc.scores.names import METHOD_LABELS
from anoloc.utils import PathLike

OUTLINE = "#ff3b30"


def load_examples(paths: Sequence[PathLike]) -> list[dict[str, Any]]:
    """Read the example files written by the scoring jobs (one per class × method)."""
    out = []
    for p in paths:
        with np.load(p, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        for k in ("class_name", "method", "backbone"):
            d[k] = str(d[k])
        out.append(d)
    return out


def fig6(examples: Sequence[Mapping[str, Any]], methods: Sequence[str]) -> plt.Figure:
    """Columns: anomalous test images (grouped by class); rows: the input, then one anomaly map per method.

    Ground-truth defects are outlined in red. Each map is scaled per class and method from the 1st to the
    99.9th percentile of all that method's test maps of the class; the number is the image score.
    """
    figure_style()
    by_key = {(e["class_name"], e["method"]): e for e in examples}
    classes = list(dict.fromkeys(e["class_name"] for e in examples))
    columns = [(c, j) for c in classes for j in range(len(by_key[(c, methods[0])]["names"]))]
    if not columns:
        raise ValueError("fig6: no examples to show")
    nrows, ncols = 1 + len(methods), len(columns)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.75 * ncols, 1.8 * nrows), squeeze=False)
    for col, (cls, j) in enumerate(columns):
        first = by_key[(cls, methods[0])]
        img, mask = first["images"][j], first["masks"][j]
        axes[0, col].imshow(img, cmap="gray" if img.ndim == 2 else None)
        axes[0, col].set_title(f"{cls}\n{first['names'][j]}", fontsize=8)
        for row, m in enumerate(methods, start=1):
            e = by_key[(cls, m)]
            if list(e["names"]) != list(first["names"]):
                raise ValueError(f"fig6: {cls}/{m} shows other images than {cls}/{methods[0]}")
            axes[row, col].imshow(e["maps"][j], cmap=MAP_CMAP, vmin=float(e["vmin"]), vmax=float(e["vmax"]))
            label = f"{float(e['scores'][j]):.3g}"
            axes[row, col].text(
                0.03, 0.97, label, transform=axes[row, col].transAxes, fontsize=7, color="white", va="top"
            )
        for row in range(nrows):
            ax = axes[row, col]
            if mask.any():
                ax.contour(mask.astype(float), levels=[0.5], colors=OUTLINE, linewidths=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
    for row, label in enumerate(["input", *[METHOD_LABELS.get(m, m) for m in methods]]):
        axes[row, 0].set_ylabel(label)
    backbone = examples[0]["backbone"]
    fig.suptitle(f"Anomaly maps (backbone {backbone}); red: ground-truth defect", fontsize=10)
    fig.tight_layout()
    return fig
