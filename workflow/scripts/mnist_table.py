"""Snakemake: AUROC / AP of every score CSV → results/tables/table1.csv and table1_summary.csv."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from anoloc.experiments.mnist_tables import score_files_from_paths, table1, write_tables  # noqa: E402
from anoloc.utils import setup_logging  # noqa: E402

setup_logging()
t1 = table1(score_files_from_paths(snakemake.input.scores))
write_tables(t1, snakemake.output.table, snakemake.output.summary)
