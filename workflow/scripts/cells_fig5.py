"""Snakemake: fig5 — cell-level AUROC / AUPRC per method (mean ± std over seeds) from table4_runs.csv."""

import logging
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd  # noqa: E402

from anoloc.plots import save_figure  # noqa: E402
from anoloc.plots.cells import fig5_bars  # noqa: E402
from anoloc.utils import setup_logging  # noqa: E402

setup_logging()
logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting chatter
runs = pd.read_csv(snakemake.input.runs)
save_figure(fig5_bars(runs), snakemake.output.png, snakemake.output.pdf)
