"""Snakemake: fig2 (example slices with every score map) and fig3 (pixel ROC / PR curves) of the first seed."""

from anoloc.experiments.brain.tables import load_scores
from anoloc.jobs import start_job
from anoloc.plots import save_figure
from anoloc.plots.brain import fig2_examples, fig3_curves

start_job(snakemake)
scores = load_scores(snakemake.input.brats)
fig2 = fig2_examples(scores, n=int(snakemake.params.n_examples), clip=float(snakemake.params.clip))
save_figure(fig2, snakemake.output.fig2_png, snakemake.output.fig2_pdf)
save_figure(fig3_curves(scores), snakemake.output.fig3_png, snakemake.output.fig3_pdf)
