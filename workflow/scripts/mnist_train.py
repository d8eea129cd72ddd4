"""Snakemake: train one FC VAE (dataset × held-out class × run) and save model.pt + history.csv."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from anoloc.experiments.mnist import train  # noqa: E402
from anoloc.models import history_frame  # noqa: E402
from anoloc.runs import parse_run_id  # noqa: E402
from anoloc.tables import write_csv  # noqa: E402
from anoloc.utils import set_threads, setup_logging  # noqa: E402

setup_logging()
set_threads(snakemake.threads)
train(
    npz=snakemake.input.npz,
    held_out=int(snakemake.wildcards.held_out),
    run=parse_run_id(snakemake.wildcards.mnist_run),
    model_cfg=snakemake.params.model,
    train_cfg=snakemake.params.train,
    model_out=snakemake.output.model,
    run_dir=snakemake.params.run_dir,
    tensorboard_dir=snakemake.params.tensorboard_dir,
    device=snakemake.params.device,
)
write_csv(history_frame(snakemake.output.model), snakemake.output.history)
