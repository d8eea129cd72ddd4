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


_LABEL_BOX = {"facecolor": "white", "alpha": 0.85, "lw": 0, "pad": 1}


def _sample_flags(panels: Mapping[str, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(singular, repaired) per cell: from `supn_singular` / `supn_repaired` (`sample_checked`) if present,
    else a sample that is not finite everywhere counts as singular."""
    sample = np.asarray(panels["supn_sample"]).reshape(n, -1)
    singular = np.asarray(panels.get("supn_singular", ~np.isfinite(sample).all(1)), dtype=bool)
    repaired = np.asarray(panels.get("supn_repaired", np.zeros(n, dtype=bool)), dtype=bool)
    return singular, repaired


def fig4_maps(panels: Mapping[str, np.ndarray], map_quantile: float = 0.99) -> plt.Figure:
    """One row per cell; image columns (input, mean, sample) share the gray scale [−1, 1], each map column one
    viridis scale (0 to the `map_quantile` quantile of that map type over the shown cells). The cell mask is
    outlined; a sample far outside the image range (ill-conditioned precision) is labelled with its spread.

    SUPN samples of a numerically singular precision (`supn_singular`, or a non-finite sample) are drawn as a
    hatched panel marked "singular precision"; samples of the diagonally-dominant projection drawn instead
    (`supn_repaired`) are marked "ρ̄-projected"."""
    figure_style()
    n = len(panels["label"])
    fig, axes = plt.subplots(
        n, len(FIG4_COLUMNS), figsize=(1.75 * len(FIG4_COLUMNS), 1.75 * n + 0.9), squeeze=False, layout="constrained"
    )
    singular, repaired = _sample_flags(panels, n)
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
            elif key == "supn_sample" and singular[i] and not repaired[i]:  # NaN sample, drawn mid-gray
                ax.add_patch(plt.Rectangle((0, 0), 1, 1, transform=ax.transAxes, fill=False, hatch="///",
                                           edgecolor="tab:red", lw=0))  # fmt: skip
                ax.text(0.5, 0.5, "singular\nprecision", transform=ax.transAxes, ha="center", va="center",
                        fontsize=7, color="tab:red", bbox=_LABEL_BOX)  # fmt: skip
            elif key == "supn_sample" and repaired[i]:
                ax.text(0.03, 0.04, "ρ̄-projected", transform=ax.transAxes, fontsize=6.5, color="tab:red",
                        bbox=_LABEL_BOX)  # fmt: skip
            elif key == "supn_sample":  # an ill-conditioned precision gives samples far outside the image range
                spread = float(np.nanmax(np.abs(data[i] - panels["mean"][i])))
                if not np.isfinite(spread) or spread > 2:
                    ax.text(0.03, 0.04, f"max |x − μ| = {spread:.1g}", transform=ax.transAxes, fontsize=6.5,
                            color="tab:red", bbox=_LABEL_BOX)  # fmt: skip
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


CONDITIONING_PANELS = (
    ("diag_min", "min exp(ℓ) (log10)", None),
    ("ratio_max", "max ρ_p = Σ|w|/exp(ℓ) (log10)", 0.0),
    ("solve_growth", "sampler growth (log10)", None),
    ("sigma_min_rel", "σ_min(Lᵀ) / max exp(ℓ) (log10)", None),
)


def supn_conditioning(
    diagnostics: pd.DataFrame,
    by: str = "model",
    trajectory: pd.DataFrame | None = None,
    max_growth: float = 1e12,
    floor: float = 1e-300,
) -> plt.Figure:
    """Conditioning of the learned precisions, one row of panels per figure: per-crop distributions (box plots,
    grouped by the column `by`) of the columns of `anoloc.models.supn_diagnostics.conditioning_frame` in a
    `diagnostics` table (e.g. table4_supn_diagnostics.csv), on log10 axes; the dashed lines mark ρ = 1 (diagonal
    dominance) and the singular threshold `max_growth`. With a `trajectory` (columns variant, step, ratio_max,
    log10_growth, val_nll), a second row plots those against the stage-2 step. Zeros and overflows are clipped
    to [`floor`, 1/`floor`] for display; a zero ratio (no off-diagonals, e.g. diag) is left out."""
    figure_style()
    rows = 1 if trajectory is None else 2
    fig, axes = plt.subplots(rows, 4, figsize=(13, 3.3 * rows), squeeze=False, layout="constrained")
    d = diagnostics.reset_index(drop=True)
    d[by] = d[by].astype(str)
    order = list(dict.fromkeys(d[by]))
    for ax, (col, title, ref) in zip(axes[0], CONDITIONING_PANELS, strict=True):
        if col not in d or d[col].isna().all():
            ax.set_visible(False)
            continue
        raw = d[col].astype(float)
        if col == "ratio_max":  # a precision without off-diagonals (diag) has no ratio: not drawn, not at log10 0
            raw = raw.where(raw > 0)
        values = np.log10(np.clip(raw, floor, 1 / floor))
        sns.boxplot(x=d[by], y=values, order=order, hue=d[by], hue_order=order, legend=False, ax=ax, fliersize=2)
        if ref is not None:
            ax.axhline(ref, color="0.3", lw=0.8, ls="--")
        if col == "solve_growth":
            ax.axhline(np.log10(max_growth), color="tab:red", lw=0.8, ls="--")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.tick_params(axis="x", labelrotation=40, labelsize=7)
        for lab in ax.get_xticklabels():
            lab.set_horizontalalignment("right")
    if trajectory is not None:
        t = trajectory.copy()
        for ax, (col, title) in zip(
            axes[1],
            (
                ("ratio_max", "median over crops of max ρ_p"),
                ("log10_growth", "median log10 sampler growth"),
                ("val_nll", "held-out NLL (nats / pixel)"),
                ("frac_singular", "fraction of crops singular"),
            ),
            strict=True,
        ):
            if col not in t:
                ax.set_visible(False)
                continue
            sns.lineplot(data=t, x="step", y=col, hue="variant", ax=ax, legend=ax is axes[1, -1], marker=".")
            if col == "ratio_max":
                ax.axhline(1.0, color="0.3", lw=0.8, ls="--")
            if col == "log10_growth":
                ax.axhline(np.log10(max_growth), color="tab:red", lw=0.8, ls="--")
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("stage-2 step")
            ax.set_ylabel("")
        if axes[1, -1].get_legend() is not None:
            sns.move_legend(axes[1, -1], "upper left", bbox_to_anchor=(1.02, 1), fontsize=7, title="")
    fig.suptitle("SUPN precision Λ = L Lᵀ: conditioning of the factor Lᵀ per crop (z = μ_z)", fontsize=10)
    return fig
