"""Snakemake: cell scores of one VAE method (supn / diag / l2 × sampled / restoration) and seed → CSV."""

from anoloc.experiments.cells.steps import score
from anoloc.io import write_csv
from anoloc.jobs import start_job

start_job(snakemake)
scores = score(
    model_path=snakemake.input.model,
    npz=snakemake.input.npz,
    cell_model=snakemake.wildcards.model,
    inference=snakemake.wildcards.inference,
    score_cfg=snakemake.params.score,
    quirks=snakemake.params.quirks,
    seed=int(snakemake.wildcards.seed),
    device=snakemake.params.device,
)
write_csv(scores, snakemake.output.scores, float_format="%.9g")
