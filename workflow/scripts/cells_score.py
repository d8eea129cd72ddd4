"""Snakemake: cell scores of one VAE method (supn / diag / l2 × sampled / restoration) and seed → CSV."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from anoloc.experiments.cells import score  # noqa: E402
from anoloc.tables import write_csv  # noqa: E402
from anoloc.utils import set_threads, setup_logging  # noqa: E402

setup_logging()
set_threads(snakemake.threads)
scores = score(
    model_path=snakemake.input.model,
    npz=snakemake.input.npz,
    cell_model=snakemake.wildcards.cell_model,
    variant=snakemake.wildcards.cell_variant,
    score_cfg=snakemake.params.score,
    quirks=snakemake.params.quirks,
    seed=int(snakemake.wildcards.cell_seed),
    device=snakemake.params.device,
)
write_csv(scores, snakemake.output.scores, float_format="%.9g")
