"""Snakemake: stage 2 of one seed — the SUPN or diag precision decoder on the frozen stage-1 encoder and mean."""

from anoloc.experiments.cells.steps import train_precision
from anoloc.jobs import start_job
from anoloc.models import RunFiles

start_job(snakemake)
train_precision(
    npz=snakemake.input.npz,
    mean_model=snakemake.input.mean,
    likelihood=snakemake.wildcards.precision,
    quirks=snakemake.params.quirks,
    train_cfg=snakemake.params.train,
    seed=int(snakemake.wildcards.seed),
    files=RunFiles(
        snakemake.output.model, snakemake.output.history, snakemake.params.checkpoints, snakemake.params.tensorboard
    ),
    device=snakemake.params.device,
    offdiag_bound=snakemake.params.offdiag_bound,
)
