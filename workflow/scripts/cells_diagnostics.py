"""Snakemake: table4_supn_diagnostics (+ summary) and fig4_conditioning from the per-(variant, seed) CSVs."""

from anoloc.experiments.cells.tables import write_diagnostics
from anoloc.jobs import start_job
from anoloc.plots import save_figure
from anoloc.plots.cells import supn_conditioning

start_job(snakemake)
table = write_diagnostics(snakemake.input.diagnostics, snakemake.output.table, snakemake.output.summary)
table["precision"] = table["model"] + " (" + table["variant"] + ")"
save_figure(supn_conditioning(table, by="precision"), snakemake.output.png, snakemake.output.pdf)
