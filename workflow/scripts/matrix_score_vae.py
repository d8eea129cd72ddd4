"""Snakemake: the matrix's conv VAE scores (KL / Rec / ELBO, and the five maps where masks exist) → score file."""

from anoloc.experiments.matrix.steps import score_vae
from anoloc.io import save_npz
from anoloc.jobs import start_job

start_job(snakemake)
arrays = score_vae(
    model_path=snakemake.input.model,
    files=dict(snakemake.input.items()),
    subset=snakemake.wildcards.subset,
    section=snakemake.params.section,
    device=snakemake.params.device,
)
save_npz(snakemake.output.scores, arrays)
