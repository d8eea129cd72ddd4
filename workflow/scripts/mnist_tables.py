"""Snakemake: AUROC / AP of every score CSV → results/tables/table1.csv and table1_summary.csv."""

from anoloc.experiments.mnist.tables import write_tables
from anoloc.jobs import start_job

start_job(snakemake)
write_tables(snakemake.input.scores, snakemake.output.table, snakemake.output.summary)
