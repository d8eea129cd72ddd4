"""Snakemake: safely extract the MVTec-format archive, validate the configured classes, write layout.json."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from anoloc.experiments.mvtec import extract  # noqa: E402
from anoloc.utils import setup_logging  # noqa: E402

setup_logging()
extract(snakemake.input.archive, snakemake.output.data, snakemake.output.layout, snakemake.params.classes)
