"""Figures of the sample-wise experiment: fig1 (AUROC per held-out class) and the hyperparameter sweep."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from anoloc.data.mnist import CLASS_NAMES
from anoloc.plots import figure_style
from anoloc.scores.names import SAMPLE_SCORES
from anoloc.scores.names import SCORE_LABELS as _ALL_LABELS
from anoloc.variants import VARIANTS

SCORE_LABELS = {k: _ALL_LABELS[k] for k in SAMPLE_SCORES}
PARAM_LABELS = {"z": "latent size z", "log_c": "log c", "scaling": "scaling factor s"}


def _at_defaults(t1: pd.DataFrame, defaults: Mapping[str, float]) -> pd.DataFrame:
    mask = (t1["z"] == defaults["z"]) & (t1["log_c"] == defaults["log_c"]) & (t1["scaling"] == defaults["scaling"])
    return t1[mask]


def _variants(t1: pd.DataFrame) -> list[str]:
    return [v for v in VARIANTS if v in set(t1["variant"])]


def fig1_per_class(t1: pd.DataFrame, defaults: Mapping[str, float]) -> plt.Figure:
    """AUROC per held-out class at the default hyperparameters; one bar per score, ± std over seeds; one row per
    dataset, one column per code variant."""
    figure_style()
    d = _at_defaults(t1, defaults).copy()
    d["Score"] = d["score"].map(SCORE_LABELS)
    datasets, variants = sorted(d["dataset"].unique()), _variants(d)
    fig, axes = plt.subplots(
        len(datasets), len(variants), figsize=(8 * len(variants), 3.2 * len(datasets)), squeeze=False, sharey=True
    )
    for i, ds in enumerate(datasets):
        for j, variant in enumerate(variants):
            ax = axes[i, j]
            sub = d[(d["dataset"] == ds) & (d["variant"] == variant)].copy()
            labels = {k: (str(k) if ds == "mnist" else f"{k}: {name}") for k, name in enumerate(CLASS_NAMES[ds])}
            sub["held-out class"] = sub["held_out_class"].map(labels)
            order = [labels[k] for k in sorted(sub["held_out_class"].unique())]
            sns.barplot(
                data=sub,
                x="held-out class",
                y="auroc",
                hue="Score",
                hue_order=list(SCORE_LABELS.values()),
                order=order,
                errorbar="sd",
                ax=ax,
            )
            ax.axhline(0.5, color="0.3", lw=0.8, ls="--")
            ax.set_ylim(0, 1)
            ax.set_ylabel("AUROC" if j == 0 else "")
            ax.set_title(
                f"{ds}, {variant} code: detect the held-out class "
                f"(z={int(defaults['z'])}, log c={float(defaults['log_c']):g}, s={int(defaults['scaling'])})",
                fontsize=10,
            )
            ax.tick_params(axis="x", labelrotation=30 if ds != "mnist" else 0)
            ax.legend(title=None, ncols=3, loc="lower right")
    fig.tight_layout()
    return fig


def fig1_sweep(
    t1: pd.DataFrame, defaults: Mapping[str, float], sweep: Mapping[str, list], sweep_classes: list[int]
) -> plt.Figure:
    """AUROC against each swept hyperparameter (others at their defaults), mean ± std over the swept classes and
    seeds — every point, the default one included, over the same classes; line style = code variant."""
    figure_style()
    params = [p for p in PARAM_LABELS if sweep.get(p)]
    t1 = t1[t1["held_out_class"].isin(sweep_classes)]
    datasets = sorted(t1["dataset"].unique())
    fig, axes = plt.subplots(
        len(datasets), len(params), figsize=(4.2 * len(params), 3.3 * len(datasets)), squeeze=False, sharey=True
    )
    for i, ds in enumerate(datasets):
        for j, p in enumerate(params):
            others = [q for q in PARAM_LABELS if q != p]
            mask = (t1["dataset"] == ds) & t1[p].isin([*sweep[p], defaults[p]])
            for q in others:
                mask &= t1[q] == defaults[q]
            sub = t1[mask].copy()
            sub["Score"] = sub["score"].map(SCORE_LABELS)
            ax = axes[i, j]
            sns.lineplot(
                data=sub,
                x=p,
                y="auroc",
                hue="Score",
                hue_order=list(SCORE_LABELS.values()),
                style="variant",
                style_order=_variants(sub),
                marker="o",
                errorbar="sd",
                ax=ax,
            )
            if p == "z":
                ax.set_xscale("log")
            ax.axvline(defaults[p], color="0.5", lw=0.8, ls=":")
            ax.set_xlabel(PARAM_LABELS[p])
            ax.set_ylabel("AUROC" if j == 0 else "")
            classes = ", ".join(str(int(c)) for c in sorted(sub["held_out_class"].unique()))
            ax.set_title(f"{ds} (held-out classes {classes})", fontsize=9)
            if (i, j) != (0, 0) and ax.get_legend() is not None:
                ax.get_legend().remove()
    fig.tight_layout()
    return fig
