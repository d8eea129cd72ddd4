"""Snakemake: matrix.csv and matrix_summary.csv from every cell's score files and benchmark records."""

from anoloc.experiments.matrix.tables import write_tables
from anoloc.jobs import start_job

start_job(snakemake)
write_tables(
    source_dicts=snakemake.params.sources,
    na=snakemake.params.na,
    evaluate_cfg=snakemake.params.evaluate,
    table_path=snakemake.output.table,
    summary_path=snakemake.output.summary,
)
