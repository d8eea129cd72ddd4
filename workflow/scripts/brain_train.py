"""Snakemake: train the conv VAE on the HCP training subjects (one seed) → model.pt + history.csv."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from anoloc.experiments.brain import train  # noqa: E402
from anoloc.models import history_frame  # noqa: E402
from anoloc.tables import write_csv  # noqa: E402
from anoloc.utils import set_threads, setup_logging  # noqa: E402

setup_logging()
set_threads(snakemake.threads)
train(
    train_files=snakemake.input.train,
    val_files=snakemake.input.val,
    seed=int(snakemake.wildcards.brain_seed),
    model_cfg=snakemake.params.model,
    train_cfg=snakemake.params.train,
    clip=float(snakemake.params.clip),
    model_out=snakemake.output.model,
    run_dir=snakemake.params.run_dir,
    tensorboard_dir=snakemake.params.tensorboard_dir,
    device=snakemake.params.device,
)
write_csv(history_frame(snakemake.output.model), snakemake.output.history)
