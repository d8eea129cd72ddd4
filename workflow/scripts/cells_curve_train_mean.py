"""Snakemake: learning-curve stage 1 of one seed — one run of max(steps) steps, a snapshot at each step count."""

from anoloc.experiments.cells.curve import train_mean_curve
from anoloc.jobs import start_job

start_job(snakemake)
train_mean_curve(
    npz=snakemake.input.npz,
    model_cfg=snakemake.params.model,
    quirks=snakemake.params.quirks,
    train_cfg=snakemake.params.train,
    curve_cfg=snakemake.params.curve,
    seed=int(snakemake.wildcards.seed),
    outputs=list(snakemake.output.snapshots),
    history=snakemake.output.history,
    checkpoints=snakemake.params.checkpoints,
    tensorboard=snakemake.params.tensorboard,
    device=snakemake.params.device,
)
