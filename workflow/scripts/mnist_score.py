"""Snakemake: per-test-image KL / Rec / ELBO scores of one trained FC VAE → CSV."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from anoloc.experiments.mnist import score  # noqa: E402
from anoloc.tables import write_csv  # noqa: E402
from anoloc.utils import set_threads, setup_logging  # noqa: E402

setup_logging()
set_threads(snakemake.threads)
scores = score(
    model_path=snakemake.input.model,
    npz=snakemake.input.npz,
    held_out=int(snakemake.wildcards.held_out),
    n_samples=int(snakemake.params.score["n_samples"]),
    batch_size=int(snakemake.params.score.get("batch_size", 2048)),
    device=snakemake.params.device,
)
write_csv(scores, snakemake.output.scores)
