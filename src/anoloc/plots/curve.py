"""fig4_curve: the cells learning curve — cell-level AUROC against optimiser steps (torch-free)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from anoloc.plots import figure_style
from anoloc.scores.names import CELL_INFERENCES, CELL_VAE_MODELS, METHOD_LABELS


def fig4_curve(table: pd.DataFrame) -> plt.Figure:
    """AUROC vs optimiser steps actually done (log2 axis), one line per model (hue) × inference (style), per code
    variant one panel; the line is the mean over seeds, the band ± 1 std over seeds (none for one seed); chance
    (0.5) dashed. `table`: rows of table4_curve."""
    figure_style()
    d = table.assign(model=table["model"].map(lambda m: METHOD_LABELS.get(m, m)))  # legend: display labels
    hue_order = [METHOD_LABELS.get(m, m) for m in CELL_VAE_MODELS if m in set(table["model"])]
    style_order = [i for i in CELL_INFERENCES if i in set(d["inference"])]
    variants = list(dict.fromkeys(d["variant"]))
    fig, axes = plt.subplots(1, len(variants), figsize=(6.4 * len(variants), 4.2), squeeze=False, sharey=True)
    for ax, variant in zip(axes[0], variants, strict=True):
        sns.lineplot(
            data=d[d["variant"] == variant],
            x="step",
            y="auroc",
            hue="model",
            hue_order=hue_order,
            style="inference",
            style_order=style_order,
            markers=True,
            errorbar="sd",
            ax=ax,
        )
        ax.set_xscale("log", base=2)
        ticks = sorted(set(d.loc[d["variant"] == variant, "step"]))
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.axhline(0.5, color="0.3", lw=0.8, ls="--")
        ax.set_ylim(0, 1)
        ax.set_xlabel("optimiser steps per stage")
        ax.set_ylabel("cell-level AUROC")
        ax.set_title(f"variant {variant}")
        ax.legend(title=None, fontsize="small")
    n_seeds = d.groupby("variant")["seed"].nunique().max()
    fig.suptitle(
        f"Learning curve, healthy vs infected cells (band: ± 1 std over {n_seeds} seeds)"
        if n_seeds > 1
        else "Learning curve, healthy vs infected cells (one seed)"
    )
    fig.tight_layout()
    return fig
