"""Snakemake: fig6 — test images with each method's anomaly map and the ground-truth outline."""

from anoloc.jobs import start_job
from anoloc.plots import save_figure
from anoloc.plots.mvtec import fig6, load_examples

start_job(snakemake)
save_figure(
    fig6(load_examples(snakemake.input.panels), snakemake.params.methods), snakemake.output.png, snakemake.output.pdf
)
