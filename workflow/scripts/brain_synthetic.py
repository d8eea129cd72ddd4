"""Snakemake: the synthetic brain cohort — the MNI152 tissue template and every HCP-/BraTS-like subject as NIfTI."""

from anoloc.data.brain.prepare import generate_cohort
from anoloc.jobs import start_job

start_job(snakemake)
generate_cohort(
    template_out=snakemake.output.template,
    smooth_mm=float(snakemake.params.smooth_mm),
    synthetic_cfg=snakemake.params.synthetic,
    hcp=snakemake.params.hcp,
    brats=snakemake.params.brats,
)
