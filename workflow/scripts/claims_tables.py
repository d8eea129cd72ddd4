"""Snakemake: the claims ledger from the saved score files and tables → results/tables/claims.csv."""

from anoloc.experiments.claims.layout import INPUT_KEYS
from anoloc.experiments.claims.tables import write_table
from anoloc.jobs import start_job

start_job(snakemake)
files = {k: list(snakemake.input.get(k, [])) for k in INPUT_KEYS}
write_table(files, snakemake.params.context, snakemake.params.claims, snakemake.output.table)
