"""Snakemake: download torchvision ImageNet weights into resources/weights/ (checked; no network later)."""

from anoloc.data.weights import fetch_weights
from anoloc.jobs import start_job

start_job(snakemake)
fetch_weights(snakemake.params.url, snakemake.output.weights, sha256=snakemake.params.sha256)
