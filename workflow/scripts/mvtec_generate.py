"""Snakemake: write the offline MVTec-format stand-in (textures + synthetic defects) as a .tar.xz."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from anoloc.experiments.mvtec import generate  # noqa: E402
from anoloc.utils import setup_logging  # noqa: E402

setup_logging()
generate(snakemake.output.archive, snakemake.params.dataset)
