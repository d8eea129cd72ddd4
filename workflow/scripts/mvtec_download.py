"""Snakemake: download the official MVTec AD archive (checked against the configured SHA-256)."""

from anoloc.data.mvtec import download
from anoloc.jobs import start_job

start_job(snakemake)
download(snakemake.output.archive, snakemake.params.dataset)
