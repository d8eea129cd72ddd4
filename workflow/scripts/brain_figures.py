"""Snakemake: fig2 (example slices with every score map) and fig3 (pixel ROC / PR curves) of the first seed."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from anoloc.experiments.brain import load_scores  # noqa: E402
from anoloc.plots import save_figure  # noqa: E402
from anoloc.plots.brain import fig2_examples, fig3_curves  # noqa: E402
from anoloc.utils import setup_logging  # noqa: E402

setup_logging()
scores = load_scores(snakemake.input.brats)
n = int(snakemake.params.figures["n_examples"])
save_figure(
    fig2_examples(scores, n=n, clip=float(snakemake.params.clip)), snakemake.output.fig2_png, snakemake.output.fig2_pdf
)
save_figure(fig3_curves(scores), snakemake.output.fig3_png, snakemake.output.fig3_pdf)
