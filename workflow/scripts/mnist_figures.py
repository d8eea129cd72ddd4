"""Snakemake: fig1 (AUROC per held-out class) and, when the config sweeps, fig1_sweep."""

from pathlib import Path

import pandas as pd

from anoloc.jobs import start_job
from anoloc.plots import save_figure
from anoloc.plots.mnist import fig1_per_class, fig1_sweep

start_job(snakemake)
t1 = pd.read_csv(snakemake.input.table)
defaults, sweep = snakemake.params.defaults, snakemake.params.sweep
out = {Path(f).name: f for f in snakemake.output.figures}
save_figure(fig1_per_class(t1, defaults), out["fig1.png"], out["fig1.pdf"])
if "fig1_sweep.png" in out:
    fig = fig1_sweep(t1, defaults, sweep, snakemake.params.sweep_classes)
    save_figure(fig, out["fig1_sweep.png"], out["fig1_sweep.pdf"])
