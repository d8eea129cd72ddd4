"""Snakemake: fig6 — test images with each method's anomaly map and the ground-truth outline."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from anoloc.plots import save_figure  # noqa: E402
from anoloc.plots.mvtec import fig6, load_examples  # noqa: E402
from anoloc.utils import setup_logging  # noqa: E402

setup_logging()
fig = fig6(load_examples(snakemake.input.examples), snakemake.params.methods)
save_figure(fig, snakemake.output.png, snakemake.output.pdf)
