"""One look for every figure: seaborn theme, colour choices, PNG + PDF output.

Experiment-specific figures live in submodules (`anoloc.plots.mnist`, …) and use `figure_style`
and `save_figure` from here.
"""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import seaborn as sns

from anoloc.utils import PathLike, atomic_path

matplotlib.use("Agg")  # no display needed; also safe after pyplot was imported
logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting is chatty at INFO

PALETTE = "colorblind"
MAP_CMAP = "viridis"


def figure_style() -> None:
    """Apply the project's seaborn theme (call before building a figure)."""
    sns.set_theme(context="paper", style="whitegrid", palette=PALETTE, font_scale=1.1)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 200, "savefig.bbox": "tight", "pdf.fonttype": 42})


def save_figure(fig: plt.Figure, png_path: PathLike, pdf_path: PathLike | None = None) -> None:
    """Save `fig` as PNG and PDF (PDF next to the PNG unless given), atomically, then close it."""
    png_path = Path(png_path)
    pdf_path = Path(pdf_path) if pdf_path is not None else png_path.with_suffix(".pdf")
    for path in (png_path, pdf_path):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=path.suffix.lstrip("."))
    plt.close(fig)
