"""Snakemake: five pixel maps + slice scores of every BraTS slice; healthy scores of the HCP validation slices."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from anoloc.experiments.brain import score  # noqa: E402
from anoloc.utils import set_threads, setup_logging  # noqa: E402

setup_logging()
set_threads(snakemake.threads)
score(
    model_path=snakemake.input.model,
    brats_files=snakemake.input.brats,
    hcp_val_files=snakemake.input.hcp_val,
    score_cfg=snakemake.params.score,
    brats_out=snakemake.output.brats,
    hcp_val_out=snakemake.output.hcp_val,
    device=snakemake.params.device,
)
