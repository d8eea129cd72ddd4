"""Snakemake: write the offline MVTec-format stand-in (textures + synthetic defects) as a .tar.xz."""

from anoloc.data.mvtec import generate
from anoloc.jobs import start_job

start_job(snakemake)
generate(snakemake.output.archive, snakemake.params.dataset)
