"""Snakemake: one kNN method (one seed) on the prepared cells → results/scores/cells/<method>/seed<seed>.csv."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from anoloc.experiments.mvtec import score_cells  # noqa: E402
from anoloc.tables import write_csv  # noqa: E402
from anoloc.utils import set_threads, setup_logging  # noqa: E402

setup_logging()
set_threads(snakemake.threads)
scores = score_cells(
    prepared=snakemake.input.cells,
    method=snakemake.wildcards.cell_method,
    cfg=snakemake.params.mvtec,
    seed=int(snakemake.wildcards.seed),
    n_train=int(snakemake.params.n_train),
    weights=snakemake.input.weights[0] if snakemake.input.weights else None,
    device=snakemake.params.device,
)
write_csv(scores, snakemake.output.scores)
