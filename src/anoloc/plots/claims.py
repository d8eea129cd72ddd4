"""The claims figure: one row per ledger row (claim × dataset × variant), the effect with its 95 % interval, coloured
by verdict; one panel per kind of effect (torch-free).

Panels: "most cases" claims (fraction of cells won; the dashed line is the majority ½), directional claims
(difference A − B; the line is 0) and tolerance claims (measured − reference; the shaded band is ± the tolerance).
A row without an interval shows its point estimate only; a `not measured` row shows the words at the reference line.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from anoloc.experiments.claims.tables import CLAIMS
from anoloc.plots import figure_style
from anoloc.verdicts import INCONCLUSIVE, NOT_MEASURED, NOT_REPRODUCED, REPRODUCED

VERDICT_COLOURS = {  # Okabe–Ito (colour-blind safe)
    REPRODUCED: "#009E73",
    NOT_REPRODUCED: "#D55E00",
    INCONCLUSIVE: "#E69F00",
    NOT_MEASURED: "#999999",
}
PANELS = (
    ("most_cases", "fraction of cells won (dashed: majority ½)"),
    ("directional", "difference A − B (dashed: 0)"),
    ("within_tolerance", "measured − reference (band: ± tolerance)"),
)


def row_label(row: pd.Series) -> str:
    """E.g. 'BraTS: Rec alone is outperformed … [brats, corrected]'."""
    claim = CLAIMS.get(str(row["claim_id"]))
    title = claim.title if claim is not None else str(row["claim_id"])
    return f"{title}  [{row['dataset']}, {row['variant']}]"


def _panel(ax: plt.Axes, rows: pd.DataFrame, xlabel: str) -> None:
    y = np.arange(len(rows))[::-1]
    for yi, (_, r) in zip(y, rows.iterrows(), strict=True):
        colour = VERDICT_COLOURS.get(r["verdict"], "black")
        ref = float(r["reference"]) if not pd.isna(r["reference"]) else 0.0
        tol = float(r["tolerance"]) if not pd.isna(r["tolerance"]) else math.nan
        if not math.isnan(tol):
            ax.fill_between([ref - tol, ref + tol], yi - 0.4, yi + 0.4, color="0.85", lw=0, zorder=0)
        ax.plot([ref, ref], [yi - 0.45, yi + 0.45], color="0.4", ls="--", lw=0.8, zorder=1)
        if pd.isna(r["effect"]):
            ax.text(ref, yi, f"  {r['verdict']}", va="center", ha="left", fontsize=7, color=colour, style="italic")
            continue
        lo, hi = r["ci_low"], r["ci_high"]
        if not (pd.isna(lo) or pd.isna(hi)):
            ax.plot([lo, hi], [yi, yi], color=colour, lw=2.2, solid_capstyle="butt", zorder=2)
        ax.plot([r["effect"]], [yi], "o", color=colour, ms=5, zorder=3)
    ax.set_yticks(y, [row_label(r) for _, r in rows.iterrows()], fontsize=7)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    ax.grid(axis="y", visible=False)


def claims_figure(ledger: pd.DataFrame) -> plt.Figure:
    """The figure of the ledger (`results/tables/claims.csv`): panels by verdict rule, rows in ledger order."""
    figure_style()
    panels = [(rule, label, ledger[ledger["rule"] == rule]) for rule, label in PANELS]
    panels = [p for p in panels if len(p[2])]
    if not panels:
        raise ValueError("the claims ledger has no rows")
    heights = [len(p[2]) + 1.5 for p in panels]
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(9.5, 0.24 * sum(heights) + 1.0), height_ratios=heights, layout="constrained",
        squeeze=False,
    )  # fmt: skip
    for ax, (_, label, rows) in zip(axes[:, 0], panels, strict=True):
        _panel(ax, rows, label)
    handles = [Line2D([], [], color=c, marker="o", lw=2, label=v) for v, c in VERDICT_COLOURS.items()]
    fig.legend(handles=handles, loc="outside upper center", ncols=4, fontsize=8, frameon=False)
    return fig
