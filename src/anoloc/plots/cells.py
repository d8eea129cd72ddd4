"""Figures of the cells experiment: fig4 (inputs, means, L2 / diag / SUPN Mahalanobis maps, a SUPN sample)
and fig5 (cell-level AUROC / AUPRC per method, mean ± std over seeds). Torch-free."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from anoloc.plots import MAP_CMAP, figure_style
from anoloc.scores.names import METHOD_LABELS

FIG4_COLUMNS = (
    ("input", "input"),
    ("mean", "mean μ"),
    ("l2_map", "L2 map"),
    ("diag_map", "diag map"),
    ("supn_map", "SUPN map"),
    ("supn_sample", "SUPN sample"),
)


def method_label(model: str, inference: str, backbone: str = "") -> str:
    """E.g. 'SUPN (Restoration)', 'Diag', 'PatchCore [wide_resnet50_2]'."""
    label = METHOD_LABELS.get(model, model)
    if inference == "restoration":
        label += " (Restoration)"
    elif inference and inference != "sampled":
        label += f" ({inference})"
    return f"{label} [{backbone}]" if backbone else label


def fig4_maps(panels: Mapping[str, np.ndarray], map_quantile: float = 0.99) -> plt.Figure:
    """One row per cell; image columns (input, mean, sample) share the gray scale [−1, 1], each map column one
    viridis scale (0 to the `map_quantile` quantile of that map type over the shown cells). The cell mask is
    outlined; a sample far outside the image range (ill-conditioned precision) is labelled with its spread."""
    figure_style()
    n = len(panels["label"])
    fig, axes = plt.subplots(
        n, len(FIG4_COLUMNS), figsize=(1.75 * len(FIG4_COLUMNS), 1.75 * n + 0.9), squeeze=False, layout="constrained"
    )
    for j, (key, title) in enumerate(FIG4_COLUMNS):
        data = np.asarray(panels[key])
        is_map = key.endswith("_map")
        if is_map:
            finite = data[np.isfinite(data)]
            kw = {"cmap": MAP_CMAP, "vmin": 0.0, "vmax": max(float(np.quantile(finite, map_quantile)), 1e-12)}
        else:
            kw = {"cmap": "gray", "vmin": -1.0, "vmax": 1.0}
        for i in range(n):
            ax = axes[i, j]
            shown = np.clip(np.nan_to_num(data[i], posinf=kw["vmax"], neginf=kw["vmin"]), kw["vmin"], kw["vmax"])
            im = ax.imshow(shown, interpolation="nearest", **kw)
            if key == "input":
                ax.contour(panels["mask"][i], levels=[0.5], colors="tab:orange", linewidths=0.6)
                kind = "infected" if int(panels["label"][i]) == 1 else "healthy"
                ax.set_ylabel(f"{kind}\n{panels['name'][i]}", fontsize=8)
            elif key == "supn_sample":  # an ill-conditioned precision gives samples far outside the image range
                spread = float(np.nanmax(np.abs(data[i] - panels["mean"][i])))
                if not np.isfinite(spread) or spread > 2:
                    ax.text(0.03, 0.04, f"max |x − μ| = {spread:.1g}", transform=ax.transAxes, fontsize=6.5,
                            color="tab:red", bbox={"facecolor": "white", "alpha": 0.8, "lw": 0, "pad": 1})  # fmt: skip
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if i == 0:
                ax.set_title(title, fontsize=9)
        if is_map:
            cb = fig.colorbar(im, ax=axes[-1, j], orientation="horizontal", fraction=0.08, pad=0.04, aspect=12)
            cb.ax.tick_params(labelsize=7)
    fig.suptitle("Cells at z = μ_z: squared whitened residuals (Lᵀ(x − μ))², per-map-type colour scale", fontsize=9)
    return fig


def fig5_bars(runs: pd.DataFrame) -> plt.Figure:
    """AUROC and trapezoidal AUPRC per method (bars = mean over seeds, error bars = std; colour = code variant),
    chance levels dashed."""
    figure_style()
    d = runs.copy()
    d["backbone"] = d["backbone"].fillna("").astype(str)
    d["inference"] = d["inference"].fillna("").astype(str)
    d["method"] = [method_label(m, v, b) for m, v, b in zip(d["model"], d["inference"], d["backbone"], strict=True)]
    order = list(dict.fromkeys(d["method"]))
    variants = list(dict.fromkeys(d["variant"]))
    long = d.melt(
        id_vars=["method", "variant", "seed"], value_vars=["auroc", "auprc"], var_name="metric", value_name="value"
    )
    chance = {"auroc": 0.5, "auprc": float((d["n_infected"] / (d["n_infected"] + d["n_healthy"])).mean())}
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 1.1 * len(order) + 3), 3.8), sharey=True)
    for ax, (metric, title) in zip(axes, (("auroc", "AUROC"), ("auprc", "AUPRC (trapezoidal)")), strict=True):
        sns.barplot(
            data=long[long["metric"] == metric],
            x="method",
            y="value",
            order=order,
            hue="variant",
            hue_order=variants,
            errorbar="sd",
            capsize=0.2,
            legend=ax is axes[0],
            ax=ax,
        )
        ax.axhline(chance[metric], color="0.3", lw=0.8, ls="--")
        ax.set_ylim(0, 1)
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.set_title(title)
        ax.tick_params(axis="x", labelrotation=40)
        for lab in ax.get_xticklabels():
            lab.set_horizontalalignment("right")
    n_seeds = d.groupby("method")["seed"].nunique()
    fig.suptitle(
        f"Cell-level detection, healthy vs infected (error bars: std over {n_seeds.min()}–{n_seeds.max()} seeds)"
        if n_seeds.max() > 1
        else "Cell-level detection, healthy vs infected (one seed)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig
