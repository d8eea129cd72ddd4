"""Snakemake: one kNN method (one seed) on the prepared cells → results/cells/scores/corrected/<method>/seed<s>.csv."""

from anoloc.experiments.cells.steps import score_knn
from anoloc.io import write_csv
from anoloc.jobs import start_job

start_job(snakemake)
scores = score_knn(
    npz=snakemake.input.npz,
    knn=snakemake.params.knn,
    seed=int(snakemake.wildcards.seed),
    n_train=int(snakemake.params.n_train),
    weights=snakemake.input.weights[0] if snakemake.input.weights else None,
    device=snakemake.params.device,
)
write_csv(scores, snakemake.output.scores)
