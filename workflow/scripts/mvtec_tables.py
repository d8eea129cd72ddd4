"""Snakemake: table5 — image/pixel AUROC (+ AUPRO) per class × method beside the published numbers."""

from anoloc.experiments.mvtec.tables import table5
from anoloc.io import write_csv
from anoloc.jobs import start_job

start_job(snakemake)
write_csv(table5(snakemake.input.metrics, snakemake.input.reference), snakemake.output.table)
