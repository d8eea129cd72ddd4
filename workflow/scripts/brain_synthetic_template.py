"""Snakemake: the MNI152 tissue template of the synthetic brain cohort (from nilearn's bundled files, offline)."""

from anoloc.experiments.brain.steps import make_template
from anoloc.jobs import start_job

start_job(snakemake)
make_template(snakemake.output.npz, smooth_mm=float(snakemake.params.smooth_mm))
