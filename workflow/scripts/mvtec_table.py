"""Snakemake: table5 — image/pixel AUROC (+ AUPRO) per class × method beside the published numbers."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from anoloc.experiments.mvtec import table5  # noqa: E402
from anoloc.tables import write_csv  # noqa: E402
from anoloc.utils import setup_logging  # noqa: E402

setup_logging()
write_csv(table5(snakemake.input.metrics, snakemake.input.reference), snakemake.output.table)
