"""Snakemake: fig4_curve — cell-level AUROC against optimiser steps per stage, from table4_curve."""

import pandas as pd

from anoloc.jobs import start_job
from anoloc.plots import save_figure
from anoloc.plots.curve import fig4_curve

start_job(snakemake)
save_figure(fig4_curve(pd.read_csv(snakemake.input.table)), snakemake.output.png, snakemake.output.pdf)
