"""Snakemake: the FL cells from the configured source (path / download / synthetic) → resources/cells/cells.npz."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from anoloc.data.cells import prepare  # noqa: E402
from anoloc.utils import setup_logging  # noqa: E402

setup_logging()
prepare(snakemake.params.data, cache_dir=snakemake.params.cache_dir, out_npz=snakemake.output.npz)
