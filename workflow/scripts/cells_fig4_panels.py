"""Snakemake: the arrays of fig4 (inputs, means, L2 / diag / SUPN maps, a SUPN sample) of the first seed → .npz."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np  # noqa: E402

from anoloc.experiments.cells import fig4_panels  # noqa: E402
from anoloc.utils import atomic_path, set_threads, setup_logging  # noqa: E402

setup_logging()
set_threads(snakemake.threads)
panels = fig4_panels(
    npz=snakemake.input.npz,
    mean_model=snakemake.input.mean,
    diag_model=snakemake.input.diag,
    supn_model=snakemake.input.supn,
    quirks=snakemake.params.quirks,
    n_healthy=int(snakemake.params.figures["n_healthy"]),
    n_infected=int(snakemake.params.figures["n_infected"]),
    seed=int(snakemake.params.seed),
)
with atomic_path(snakemake.output.panels, suffix=".npz") as tmp:
    np.savez_compressed(tmp, **panels)
