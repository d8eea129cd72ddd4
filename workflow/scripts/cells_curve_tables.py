"""Snakemake: AUROC / AP of every learning-curve snapshot score → table4_curve.csv."""

from anoloc.experiments.cells.curve_tables import write_table4_curve
from anoloc.jobs import start_job

log = start_job(snakemake)
table = write_table4_curve(snakemake.input.scores, snakemake.output.table)
log.info("table4_curve:\n%s", table.to_string(index=False))
