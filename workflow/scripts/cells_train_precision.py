"""Snakemake: stage 2 of one seed — the SUPN or diag precision decoder on the frozen stage-1 encoder and mean."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from anoloc.experiments.cells import train_precision  # noqa: E402
from anoloc.models import history_frame  # noqa: E402
from anoloc.tables import write_csv  # noqa: E402
from anoloc.utils import set_threads, setup_logging  # noqa: E402

setup_logging()
set_threads(snakemake.threads)
train_precision(
    npz=snakemake.input.npz,
    mean_model=snakemake.input.mean,
    likelihood=snakemake.wildcards.cell_precision,
    quirks=snakemake.params.quirks,
    train_cfg=snakemake.params.train,
    seed=int(snakemake.wildcards.cell_seed),
    model_out=snakemake.output.model,
    run_dir=snakemake.params.run_dir,
    tensorboard_dir=snakemake.params.tensorboard_dir,
    device=snakemake.params.device,
)
write_csv(history_frame(snakemake.output.model), snakemake.output.history)
