"""Snakemake: stage 1 of one seed — encoder + mean decoder (fixed-variance NLL + KL), restarts on mean collapse."""

from anoloc.experiments.cells.steps import train_mean
from anoloc.jobs import start_job
from anoloc.models import RunFiles

start_job(snakemake)
train_mean(
    npz=snakemake.input.npz,
    model_cfg=snakemake.params.model,
    quirks=snakemake.params.quirks,
    train_cfg=snakemake.params.train,
    seed=int(snakemake.wildcards.seed),
    files=RunFiles(
        snakemake.output.model, snakemake.output.history, snakemake.params.checkpoints, snakemake.params.tensorboard
    ),
    device=snakemake.params.device,
)
