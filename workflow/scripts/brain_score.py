"""Snakemake: five pixel maps + slice scores of every BraTS slice; healthy scores of the HCP validation slices."""

from anoloc.experiments.brain.steps import score
from anoloc.jobs import start_job

start_job(snakemake)
score(
    model_path=snakemake.input.model,
    brats_files=snakemake.input.brats,
    hcp_val_files=snakemake.input.hcp_val,
    score_cfg=snakemake.params.score,
    brats_out=snakemake.output.brats,
    hcp_val_out=snakemake.output.hcp_val,
    device=snakemake.params.device,
)
