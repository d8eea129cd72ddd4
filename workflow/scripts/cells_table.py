"""Snakemake: AUROC / trapezoidal AUPRC / AP of every cell score CSV → table4.csv (mean ± std) and table4_runs.csv."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from anoloc.experiments.cells_table import write_table4  # noqa: E402
from anoloc.utils import setup_logging  # noqa: E402

log = setup_logging()
summary = write_table4(snakemake.input.scores, snakemake.output.table, snakemake.output.runs)
log.info("table4:\n%s", summary.to_string(index=False))
