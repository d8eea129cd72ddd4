"""Snakemake: per-test-image KL / Rec / ELBO scores of one trained FC VAE → CSV."""

from anoloc.experiments.mnist.steps import score
from anoloc.io import write_csv
from anoloc.jobs import start_job

start_job(snakemake)
scores = score(
    model_path=snakemake.input.model,
    npz=snakemake.input.npz,
    held_out=int(snakemake.wildcards.held_out),
    n_samples=int(snakemake.params.score["n_samples"]),
    batch_size=int(snakemake.params.score["batch_size"]),
    device=snakemake.params.device,
)
write_csv(scores, snakemake.output.scores)
