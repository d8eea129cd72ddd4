"""Snakemake: fig4 (inputs, means, L2 / diag / SUPN maps, a SUPN sample) and fig5 (AUROC / AUPRC per method)."""

import pandas as pd

from anoloc.io import load_npz
from anoloc.jobs import start_job
from anoloc.plots import save_figure
from anoloc.plots.cells import fig4_maps, fig5_bars

start_job(snakemake)
save_figure(fig4_maps(load_npz(snakemake.input.panels)), snakemake.output.fig4_png, snakemake.output.fig4_pdf)
save_figure(fig5_bars(pd.read_csv(snakemake.input.runs)), snakemake.output.fig5_png, snakemake.output.fig5_pdf)
