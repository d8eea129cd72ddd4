"""Snakemake: the claims figure (effect and interval per ledger row, coloured by verdict) → results/figures/claims.*"""

from pathlib import Path

import pandas as pd

from anoloc.jobs import start_job
from anoloc.plots import save_figure
from anoloc.plots.claims import claims_figure

start_job(snakemake)
out = {Path(f).suffix: f for f in snakemake.output.figures}
save_figure(claims_figure(pd.read_csv(snakemake.input.table)), out[".png"], out[".pdf"])
