"""Snakemake: the MNI152 tissue template of the synthetic brain cohort (from nilearn's bundled files, offline)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from anoloc.experiments.brain import make_template  # noqa: E402
from anoloc.utils import setup_logging  # noqa: E402

setup_logging()
make_template(snakemake.output.npz, smooth_mm=float(snakemake.params.smooth_mm))
