"""Snakemake: cell scores of one learning-curve snapshot (model × inference × step × seed) → CSV."""

from anoloc.experiments.cells.curve import score_snapshot
from anoloc.io import write_csv
from anoloc.jobs import start_job

start_job(snakemake)
scores = score_snapshot(
    snapshot=snakemake.input.snapshot,
    npz=snakemake.input.npz,
    cell_model=snakemake.wildcards.model,
    inference=snakemake.wildcards.inference,
    score_cfg=snakemake.params.score,
    quirks=snakemake.params.quirks,
    seed=int(snakemake.wildcards.seed),
    device=snakemake.params.device,
)
write_csv(scores, snakemake.output.scores, float_format="%.9g")
