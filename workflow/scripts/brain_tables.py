"""Snakemake: table2 (pixel and slice metrics, oracle Dice) and table3 (+ summary: calibrated thresholds)."""

from anoloc.experiments.brain.tables import write_tables
from anoloc.jobs import start_job

start_job(snakemake)
write_tables(
    brats_scores=snakemake.input.brats,
    hcp_val_scores=snakemake.input.hcp_val,
    evaluate=snakemake.params.evaluate,
    table2_path=snakemake.output.table2,
    table3_path=snakemake.output.table3,
    summary_path=snakemake.output.summary,
)
