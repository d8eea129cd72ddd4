"""Snakemake: download torchvision ImageNet weights into resources/weights/ (checked; no network later)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from anoloc.features import fetch_weights  # noqa: E402
from anoloc.utils import setup_logging  # noqa: E402

setup_logging()
fetch_weights(snakemake.params.url, snakemake.output.weights, sha256=snakemake.params.sha256)
