"""Snakemake: table2 (pixel and slice metrics, oracle Dice) and table3 (+ summary: calibrated thresholds)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from anoloc.brain_paths import seeds_of  # noqa: E402
from anoloc.experiments.brain import write_tables  # noqa: E402
from anoloc.utils import setup_logging  # noqa: E402

setup_logging()
write_tables(
    brats_scores=snakemake.input.brats,
    hcp_val_scores=snakemake.input.hcp_val,
    seeds=seeds_of(snakemake.input.brats),
    eval_cfg=snakemake.params.evaluate,
    table2_path=snakemake.output.table2,
    table3_path=snakemake.output.table3,
    summary_path=snakemake.output.summary,
)
