"""Snakemake: safely extract the MVTec-format archive, validate the configured classes, write layout.json."""

from anoloc.data.mvtec import extract
from anoloc.jobs import start_job

start_job(snakemake)
extract(
    snakemake.input.archive,
    snakemake.output.data,
    snakemake.output.layout,
    snakemake.params.classes,
    sha256=snakemake.params.sha256,
)
