"""Snakemake: AUROC / trapezoidal AUPRC / AP of every cell score CSV → table4.csv (mean ± std) and table4_runs.csv."""

from anoloc.experiments.cells.tables import write_table4
from anoloc.jobs import start_job

log = start_job(snakemake)
summary = write_table4(snakemake.input.scores, snakemake.output.table, snakemake.output.runs)
log.info("table4:\n%s", summary.to_string(index=False))
