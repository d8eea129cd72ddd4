"""Snakemake: train one FC VAE (dataset × held-out class × run × seed) → model.pt + history.csv."""

from anoloc.experiments.mnist.layout import parse_run
from anoloc.experiments.mnist.steps import train
from anoloc.jobs import start_job
from anoloc.models import RunFiles

start_job(snakemake)
train(
    npz=snakemake.input.npz,
    held_out=int(snakemake.wildcards.held_out),
    run=parse_run(snakemake.wildcards.run, snakemake.wildcards.seed),
    model_cfg=snakemake.params.model,
    train_cfg=snakemake.params.train,
    files=RunFiles(
        snakemake.output.model, snakemake.output.history, snakemake.params.checkpoints, snakemake.params.tensorboard
    ),
    device=snakemake.params.device,
)
