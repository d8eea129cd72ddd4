"""Snakemake: fig7 (the matrix as an AUROC heatmap) and fig7_ranks (rank per column, mean rank)."""

import pandas as pd

from anoloc.jobs import start_job
from anoloc.plots import save_figure
from anoloc.plots.matrix import fig7, fig7_ranks

start_job(snakemake)
summary = pd.read_csv(snakemake.input.summary)
save_figure(fig7(summary), snakemake.output.fig7_png, snakemake.output.fig7_pdf)
save_figure(fig7_ranks(summary), snakemake.output.ranks_png, snakemake.output.ranks_pdf)
