"""Snakemake: load one (Fashion)MNIST dataset from its configured source into resources/mnist/<dataset>.npz."""

from anoloc.data.mnist import prepare
from anoloc.jobs import start_job

start_job(snakemake)
prepare(
    dataset=snakemake.wildcards.dataset,
    source_cfg=snakemake.params.source,
    cache_dir=snakemake.params.cache_dir,
    out_npz=snakemake.output.npz,
)
