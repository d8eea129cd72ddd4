"""Snakemake: one kNN method or baseline fitted and scored on one matrix dataset subset → matrix score file (.npz)."""

from anoloc.experiments.matrix.steps import score
from anoloc.io import save_npz
from anoloc.jobs import start_job

start_job(snakemake)
arrays = score(
    files=dict(snakemake.input.items()),
    subset=snakemake.wildcards.subset,
    seed=int(snakemake.wildcards.seed),
    section=snakemake.params.section,
    weights=snakemake.input.weights[0] if snakemake.input.weights else None,
    device=snakemake.params.device,
)
save_npz(snakemake.output.scores, arrays)
