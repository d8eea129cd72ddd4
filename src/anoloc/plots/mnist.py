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

SCORE_LABELS = {k: _ALL_LABELS[k] for k in SAMPLE_SCORES}
PARAM_LABELS = {"z": "latent size z", "log_c": "log c", "scaling": "scaling factor s"}


def _at_defaults(t1: pd.DataFrame, defaults: Mapping[str, float]) -> pd.DataFrame:
    mask = (t1["z"] == defaults["z"]) & (t1["log_c"] == defaults["log_c"]) & (t1["scaling"] == defaults["scaling"])
    return t1[mask]


def fig1_per_class(t1: pd.DataFrame, defaults: Mapping[str, float]) -> plt.Figure:
    """AUROC per held-out class at the default hyperparameters; one bar per score, ± std over seeds."""
    figure_style()
    d = _at_defaults(t1, defaults).copy()
    d["Score"] = d["score"].map(SCORE_LABELS)
    datasets = sorted(d["dataset"].unique())
    fig, axes = plt.subplots(len(datasets), 1, figsize=(9, 3.2 * len(datasets)), squeeze=False)
    for ax, ds in zip(axes[:, 0], datasets, strict=True):
        sub = d[d["dataset"] == ds].copy()
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
        ax.set_ylabel("AUROC")
        ax.set_title(
            f"{ds}: train on 9 classes, detect the held-out one "
            f"(z={defaults['z']}, log c={defaults['log_c']:g}, s={defaults['scaling']})"
        )
        ax.tick_params(axis="x", labelrotation=30 if ds != "mnist" else 0)
        ax.legend(title=None, ncols=3, loc="lower right")
    fig.tight_layout()
    return fig


def fig1_sweep(t1: pd.DataFrame, defaults: Mapping[str, float], sweep: Mapping[str, list]) -> plt.Figure:
    """AUROC against each swept hyperparameter (others at their defaults), mean ± std over classes and seeds."""
    figure_style()
    params = [p for p in PARAM_LABELS if sweep.get(p)]
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
                marker="o",
                errorbar="sd",
                ax=ax,
            )
            if p == "z":
                ax.set_xscale("log")
            ax.axvline(defaults[p], color="0.5", lw=0.8, ls=":")
            ax.set_xlabel(PARAM_LABELS[p])
            ax.set_ylabel("AUROC" if j == 0 else "")
            ax.set_title(f"{ds} (classes {sorted(sub['held_out_class'].unique())})", fontsize=9)
            if (i, j) != (0, 0) and ax.get_legend() is not None:
                ax.get_legend().remove()
    fig.tight_layout()
    return fig
