"""Snakemake: the brain's conv VAE trained on one matrix dataset subset's normal images → model.pt + history.csv."""

from anoloc.experiments.matrix.steps import train_vae
from anoloc.jobs import start_job
from anoloc.models import RunFiles

start_job(snakemake)
train_vae(
    files=dict(snakemake.input.items()),
    subset=snakemake.wildcards.subset,
    seed=int(snakemake.wildcards.seed),
    section=snakemake.params.section,
    run_files=RunFiles(
        snakemake.output.model, snakemake.output.history, snakemake.params.checkpoints, snakemake.params.tensorboard
    ),
    device=snakemake.params.device,
)
