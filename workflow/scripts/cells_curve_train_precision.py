"""Snakemake: learning-curve stage 2 (SUPN or diag) of one seed from the final stage-1 snapshot, with snapshots."""

from anoloc.experiments.cells.curve import train_precision_curve
from anoloc.jobs import start_job

start_job(snakemake)
train_precision_curve(
    npz=snakemake.input.npz,
    mean_model=snakemake.input.mean,
    likelihood=snakemake.wildcards.precision,
    quirks=snakemake.params.quirks,
    train_cfg=snakemake.params.train,
    curve_cfg=snakemake.params.curve,
    seed=int(snakemake.wildcards.seed),
    outputs=list(snakemake.output.snapshots),
    history=snakemake.output.history,
    checkpoints=snakemake.params.checkpoints,
    tensorboard=snakemake.params.tensorboard,
    device=snakemake.params.device,
    offdiag_bound=snakemake.params.offdiag_bound,
)
