"""Snakemake: the FL cells from the configured source (path / download / synthetic) → resources/cells/cells.npz."""

from anoloc.data.cells import prepare
from anoloc.jobs import start_job

start_job(snakemake)
prepare(snakemake.params.data, cache_dir=snakemake.params.cache_dir, out_npz=snakemake.output.npz)
