"""Snakemake: train the conv VAE on the HCP training subjects (one seed) → model.pt + history.csv."""

from anoloc.experiments.brain.layout import parse_run
from anoloc.experiments.brain.steps import train
from anoloc.jobs import start_job
from anoloc.models import RunFiles

start_job(snakemake)
train(
    train_files=snakemake.input.train,
    val_files=snakemake.input.val,
    run=parse_run(snakemake.wildcards.run, snakemake.wildcards.seed),
    model_cfg=snakemake.params.model,
    train_cfg=snakemake.params.train,
    clip=float(snakemake.params.clip),
    files=RunFiles(
        snakemake.output.model, snakemake.output.history, snakemake.params.checkpoints, snakemake.params.tensorboard
    ),
    device=snakemake.params.device,
)
