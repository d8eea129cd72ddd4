"""Snakemake: load one (Fashion)MNIST dataset from its configured source into resources/mnist/<dataset>.npz."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from anoloc.experiments.mnist import prepare  # noqa: E402
from anoloc.utils import setup_logging  # noqa: E402

setup_logging()
prepare(
    dataset=snakemake.wildcards.dataset,
    source_cfg=snakemake.params.source,
    cache_dir=snakemake.params.cache_dir,
    out_npz=snakemake.output.npz,
)
