"""Snakemake: download the official MVTec AD archive (checked against the configured SHA-256)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from anoloc.experiments.mvtec import download  # noqa: E402
from anoloc.utils import setup_logging  # noqa: E402

setup_logging()
download(snakemake.output.archive, snakemake.params.dataset)
