"""fig7: the method × dataset matrix as an AUROC heatmap, and fig7_ranks: each method's rank per column and its
mean rank. Both read `results/tables/matrix_summary.csv` (torch-free)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from anoloc.experiments.matrix import catalogue
from anoloc.experiments.matrix.tables import NOT_APPLICABLE
from anoloc.plots import figure_style
from anoloc.scores.names import DATASET_LABELS, matrix_label

NA_COLOUR = "#d9d9d9"


def auroc_grid(summary: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(AUROC means, n/a mask): rows = methods, columns = '<dataset> (<level>)', in catalogue order; a cell
    that is neither computed nor n/a (not configured) is left out (NaN, not n/a)."""
    s = summary[summary["metric"] == "auroc"].copy()
    s["column"] = [f"{DATASET_LABELS[d]} ({lv})" for d, lv in zip(s["dataset"], s["level"], strict=True)]
    cols = list(dict.fromkeys(s["column"]))
    rows = [m for m in catalogue.METHODS if m in set(s["method"])]
    values = s.pivot_table(index="method", columns="column", values="mean", aggfunc="first", dropna=False)
    values = values.reindex(index=rows, columns=cols)
    na = s.assign(na=s["status"] == NOT_APPLICABLE)
    na = na.pivot_table(index="method", columns="column", values="na", aggfunc="first")
    na = na.reindex(index=rows, columns=cols).fillna(False).astype(bool)
    return values, na


def ranks(values: pd.DataFrame) -> pd.DataFrame:
    """Rank of each method per column (1 = highest AUROC, ties share their mean rank; NaN where not run), plus
    `mean rank` over the columns where the method ran; rows sorted by mean rank."""
    r = values.rank(axis=0, ascending=False, method="average")
    r["mean rank"] = r.mean(axis=1, skipna=True)
    return r.sort_values("mean rank", kind="stable")


def _heatmap(
    ax: plt.Axes, data: pd.DataFrame, na: pd.DataFrame, cmap: str, vmin: float, vmax: float, fmt: str, labels=None
):
    arr = data.to_numpy(dtype=float)
    masked = np.ma.masked_invalid(arr)
    cm = plt.get_cmap(cmap).with_extremes(bad="white")
    im = ax.imshow(masked, cmap=cm, vmin=vmin, vmax=vmax, aspect="auto")
    for (i, j), v in np.ndenumerate(arr):
        if na.iloc[i, j]:
            ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=NA_COLOUR, edgecolor="white", hatch="//"))
            ax.text(j, i, "n/a", ha="center", va="center", fontsize=7, color="#555555")
        elif np.isfinite(v):
            norm = (v - vmin) / (vmax - vmin)
            colour = "white" if (norm < 0.45 if cmap != "viridis_r" else norm > 0.55) else "black"
            ax.text(j, i, format(v, fmt), ha="center", va="center", fontsize=7, color=colour)
    ax.set_xticks(range(arr.shape[1]), data.columns, rotation=35, ha="right")
    ax.set_yticks(range(arr.shape[0]), labels or [matrix_label(m) for m in data.index])
    ax.grid(False)
    return im


def fig7(summary: pd.DataFrame) -> plt.Figure:
    """Heatmap of the mean AUROC over seeds (and subsets) per method (rows) and dataset · level (columns)."""
    figure_style()
    values, na = auroc_grid(summary)
    fig, ax = plt.subplots(figsize=(1.1 * values.shape[1] + 3.0, 0.32 * values.shape[0] + 1.6))
    im = _heatmap(ax, values, na, "viridis", 0.5, 1.0, ".2f")
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="AUROC (colours clipped at 0.5)")
    ax.set_title("Every method on every dataset: AUROC (mean over seeds and subsets)")
    return fig


def fig7_ranks(summary: pd.DataFrame) -> plt.Figure:
    """Each method's AUROC rank per dataset · level column (1 = best) and its mean rank, best first."""
    figure_style()
    values, na = auroc_grid(summary)
    r = ranks(values)
    na_r = na.reindex(index=r.index).assign(**{"mean rank": False})
    fig, ax = plt.subplots(figsize=(1.1 * r.shape[1] + 3.0, 0.32 * r.shape[0] + 1.6))
    counts = values.notna().sum(axis=1)
    labels = [f"{matrix_label(m)} ({counts[m]})" for m in r.index]
    im = _heatmap(ax, r, na_r, "viridis_r", 1.0, max(2.0, float(np.nanmax(r.to_numpy()))), ".1f", labels)
    ax.axvline(r.shape[1] - 1.5, color="black", lw=1.2)
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="rank (1 = highest AUROC)")
    ax.set_title("Rank per column and mean rank over the (n) columns where the method ran")
    return fig
